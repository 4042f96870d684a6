#include "network/netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"

#define NL_RECV_SIZE 32768

struct nl_sock {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
};

static int open_sock(nl_sock *nl, berth_error **err)
{
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL)
		return berth_err_sys(err, errno, "netlink socket");
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		return berth_err_sys(err, errno, "netlink bind");
	int one = 1;
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	return 0;
}

int nl_open(int netns_fd, nl_sock **out, berth_error **err)
{
	nl_sock *nl = xcalloc(1, sizeof(*nl));
	*out = NULL;
	if (netns_fd < 0) {
		if (open_sock(nl, err) < 0) {
			nl_close(nl);
			return -1;
		}
		*out = nl;
		return 0;
	}
	/* A netlink socket stays in the namespace it was created in: enter
	 * the target namespace (this thread only), create it, come back. */
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		nl_close(nl);
		return berth_err_sys(err, errno, "open /proc/thread-self/ns/net");
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0) {
		nl_close(nl);
		return berth_err_sys(err, errno, "entering network namespace");
	}
	int r = open_sock(nl, err);
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* cannot continue in the wrong namespace */
	if (r < 0) {
		nl_close(nl);
		return -1;
	}
	*out = nl;
	return 0;
}

void nl_close(nl_sock *nl)
{
	if (nl == NULL)
		return;
	if (nl->sock)
		mnl_socket_close(nl->sock);
	free(nl);
}

/* Send one request and read until its ACK or the end of a dump. */
static int nl_talk(nl_sock *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what,
                   berth_error **err)
{
	nlh->nlmsg_seq = ++nl->seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return berth_err_sys(err, errno, "%s: netlink send", what);
	_cleanup_free_ char *buf = xmalloc(NL_RECV_SIZE);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, buf, NL_RECV_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "%s: netlink receive", what);
		}
		int r = mnl_cb_run(buf, (size_t)n, nl->seq, nl->portid, cb, data);
		if (r < 0) {
			int e = errno;
			return berth_err_sys(err, e, "%s", what);
		}
		if (r == MNL_CB_STOP)
			return 0;
	}
}

static struct nlmsghdr *msg_start(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

struct link_cb {
	nl_link_info *v;
	size_t n, cap;
	const char *want; /* filter by name */
};

static void parse_linkinfo(const struct nlattr *li, nl_link_info *info)
{
	const struct nlattr *a;
	mnl_attr_for_each_nested(a, li)
	{
		if (mnl_attr_get_type(a) == IFLA_INFO_KIND) {
			const char *k = mnl_attr_get_str(a);
			snprintf(info->kind, sizeof(info->kind), "%s", k);
		}
	}
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_cb *c = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	nl_link_info info = {0};
	info.index = ifm->ifi_index;
	info.flags = ifm->ifi_flags;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*ifm))
	{
		switch (mnl_attr_get_type(a)) {
		case IFLA_IFNAME:
			snprintf(info.name, sizeof(info.name), "%s", mnl_attr_get_str(a));
			break;
		case IFLA_MASTER: info.master = (int)mnl_attr_get_u32(a); break;
		case IFLA_MTU: info.mtu = (int)mnl_attr_get_u32(a); break;
		case IFLA_GROUP: info.group = mnl_attr_get_u32(a); break;
		case IFLA_ADDRESS:
			if (mnl_attr_get_payload_len(a) == 6)
				memcpy(info.mac, mnl_attr_get_payload(a), 6);
			break;
		case IFLA_LINKINFO: parse_linkinfo(a, &info); break;
		}
	}
	if (c->want && strcmp(c->want, info.name) != 0)
		return MNL_CB_OK;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n++] = info;
	return MNL_CB_OK;
}

int nl_link_list(nl_sock *nl, nl_link_info **out, size_t *n, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETLINK, NLM_F_DUMP);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	struct link_cb c = {0};
	if (nl_talk(nl, nlh, link_cb, &c, "listing links", err) < 0) {
		free(c.v);
		return -1;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

int nl_link_get(nl_sock *nl, const char *name, nl_link_info *out, berth_error **err)
{
	if (strlen(name) >= IFNAMSIZ)
		return 0;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	struct link_cb c = {.want = name};
	berth_error *e = NULL;
	if (nl_talk(nl, nlh, link_cb, &c, "looking up link", &e) < 0) {
		free(c.v);
		if (e->sys_errno == ENODEV) {
			berth_error_free(e);
			return 0;
		}
		if (err && *err == NULL)
			*err = e;
		else
			berth_error_free(e);
		return -1;
	}
	int found = c.n > 0;
	if (found)
		*out = c.v[0];
	free(c.v);
	return found;
}

int nl_link_index(nl_sock *nl, const char *name, berth_error **err)
{
	nl_link_info info;
	int r = nl_link_get(nl, name, &info, err);
	if (r <= 0)
		return r;
	return info.index;
}

int nl_bridge_create(nl_sock *nl, const char *name, const struct nl_bridge_opts *o,
                     berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (o->mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)o->mtu);
	if (o->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, o->mac);
	if (o->group)
		mnl_attr_put_u32(nlh, IFLA_GROUP, o->group);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, li);
	if (nl_talk(nl, nlh, NULL, NULL, "creating bridge", err) < 0)
		return berth_err_prefix(err, "%s", name);
	return 0;
}

static struct nlmsghdr *put_veth(char *buf, const struct nl_veth_opts *o, bool up)
{
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	if (up) {
		ifm->ifi_flags = IFF_UP;
		ifm->ifi_change = IFF_UP;
	}
	mnl_attr_put_strz(nlh, IFLA_IFNAME, o->name);
	if (o->mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)o->mtu);
	if (o->master > 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)o->master);
	struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	struct ifinfomsg *pifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifm));
	memset(pifm, 0, sizeof(*pifm));
	pifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, o->peer_name);
	if (o->mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)o->mtu);
	if (o->peer_mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, o->peer_mac);
	if (o->peer_netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)o->peer_netns_fd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, li);
	return nlh;
}

int nl_veth_create(nl_sock *nl, const struct nl_veth_opts *o, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_veth(buf, o, false);
	if (nl_talk(nl, nlh, NULL, NULL, "creating veth", err) < 0)
		return berth_err_prefix(err, "%s", o->name);
	return 0;
}

int nl_veth_create_up(nl_sock *nl, const struct nl_veth_opts *o, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_veth(buf, o, true);
	if (nl_talk(nl, nlh, NULL, NULL, "creating veth", err) < 0)
		return berth_err_prefix(err, "%s", o->name);
	return 0;
}

/* ifindex, or (0) name, names the link */
static int link_change(nl_sock *nl, int ifindex, const char *name, unsigned flags, unsigned change,
                       int mtu, const char *what, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = flags;
	ifm->ifi_change = change;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	return nl_talk(nl, nlh, NULL, NULL, what, err);
}

int nl_link_set_up(nl_sock *nl, int ifindex, berth_error **err)
{
	return link_change(nl, ifindex, NULL, IFF_UP, IFF_UP, 0, "setting link up", err);
}

int nl_link_set_up_by_name(nl_sock *nl, const char *name, berth_error **err)
{
	if (link_change(nl, 0, name, IFF_UP, IFF_UP, 0, "setting link up", err) < 0)
		return berth_err_prefix(err, "%s", name);
	return 0;
}

int nl_link_set_down(nl_sock *nl, int ifindex, berth_error **err)
{
	return link_change(nl, ifindex, NULL, 0, IFF_UP, 0, "setting link down", err);
}

int nl_link_set_mtu(nl_sock *nl, int ifindex, int mtu, berth_error **err)
{
	return link_change(nl, ifindex, NULL, 0, 0, mtu, "setting MTU", err);
}

int nl_link_del(nl_sock *nl, const char *name, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_DELLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	berth_error *e = NULL;
	if (nl_talk(nl, nlh, NULL, NULL, "deleting link", &e) < 0) {
		if (e->sys_errno == ENODEV || e->sys_errno == ENOENT) {
			berth_error_free(e);
			return 0;
		}
		if (err && *err == NULL)
			*err = e;
		else
			berth_error_free(e);
		return berth_err_prefix(err, "%s", name);
	}
	return 0;
}

static struct nlmsghdr *put_addr(char *buf, int ifindex, const net_addr *a, int prefixlen)
{
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->family;
	ifa->ifa_prefixlen = (uint8_t)prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)ifindex;
	int nb = net_addr_bytes(a);
	mnl_attr_put(nlh, IFA_LOCAL, (size_t)nb, a->b);
	mnl_attr_put(nlh, IFA_ADDRESS, (size_t)nb, a->b);
	if (a->family == AF_INET && prefixlen < 31) {
		net_prefix p = {.addr = *a, .len = prefixlen};
		net_addr bc;
		net_prefix_last(&p, &bc);
		mnl_attr_put(nlh, IFA_BROADCAST, 4, bc.b);
	}
	if (a->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return nlh;
}

int nl_addr_add(nl_sock *nl, int ifindex, const net_addr *a, int prefixlen, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_addr(buf, ifindex, a, prefixlen);
	if (nl_talk(nl, nlh, NULL, NULL, "adding address", err) < 0) {
		char s[NET_ADDR_STRLEN];
		net_addr_format(a, s);
		return berth_err_prefix(err, "%s/%d", s, prefixlen);
	}
	return 0;
}

static struct nlmsghdr *put_route(char *buf, int family, const net_prefix *dst, const net_addr *gw,
                                  int ifindex)
{
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	rtm->rtm_dst_len = (uint8_t)(dst ? dst->len : 0);
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (dst && dst->len > 0)
		mnl_attr_put(nlh, RTA_DST, (size_t)net_addr_bytes(&dst->addr), dst->addr.b);
	if (gw)
		mnl_attr_put(nlh, RTA_GATEWAY, (size_t)net_addr_bytes(gw), gw->b);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nlh;
}

int nl_route_add(nl_sock *nl, const net_prefix *dst, const net_addr *gw, int ifindex,
                 berth_error **err)
{
	int family;
	if (dst)
		family = dst->addr.family;
	else if (gw)
		family = gw->family;
	else
		return berth_err(err, BERTH_E_INVALID, "a default route needs a gateway");
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = put_route(buf, family, dst, gw, ifindex);
	return nl_talk(nl, nlh, NULL, NULL, "adding route", err);
}

/* Send n requests laid out back to back in buf with one sendto, then
 * read every ACK; the first failure (by request order) is the error. */
static int nl_talk_batch(nl_sock *nl, char *buf, size_t len, const char *const *what, size_t n,
                         berth_error **err)
{
	unsigned first = nl->seq + 1;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
		h->nlmsg_seq = ++nl->seq;
		h->nlmsg_flags |= NLM_F_ACK;
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	if (mnl_socket_sendto(nl->sock, buf, len) < 0)
		return berth_err_sys(err, errno, "%s: netlink send", what[0]);
	_cleanup_free_ char *rb = xmalloc(NL_RECV_SIZE);
	size_t acked = 0;
	int fail_errno = 0;
	size_t fail_at = n;
	while (acked < n) {
		ssize_t got = mnl_socket_recvfrom(nl->sock, rb, NL_RECV_SIZE);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "%s: netlink receive", what[0]);
		}
		int left = (int)got;
		for (struct nlmsghdr *h = (struct nlmsghdr *)rb; mnl_nlmsg_ok(h, left);
		     h = mnl_nlmsg_next(h, &left)) {
			if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < first ||
			    h->nlmsg_seq >= first + n)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			size_t idx = h->nlmsg_seq - first;
			acked++;
			if (e->error != 0 && idx < fail_at) {
				fail_at = idx;
				fail_errno = -e->error;
			}
		}
	}
	if (fail_at < n)
		return berth_err_sys(err, fail_errno, "%s", what[fail_at]);
	return 0;
}

static struct nlmsghdr *put_link_up(char *buf, int ifindex)
{
	struct nlmsghdr *h = msg_start(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(h, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = ifindex;
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	return h;
}

int nl_if_configure(nl_sock *nl, const struct nl_ifconf *c, berth_error **err)
{
	enum { MAXMSG = 8, MSGSZ = 256 };
	char buf[MAXMSG * MSGSZ];
	const char *what[MAXMSG];
	size_t off = 0, n = 0;
	if (c->up) {
		struct nlmsghdr *h = put_link_up(buf + off, c->ifindex);
		off += NLMSG_ALIGN(h->nlmsg_len);
		what[n++] = "setting link up";
	}
	for (size_t i = 0; i < c->naddrs && n < MAXMSG - 4; i++) {
		struct nlmsghdr *h = put_addr(buf + off, c->ifindex, &c->addrs[i], c->plens[i]);
		off += NLMSG_ALIGN(h->nlmsg_len);
		what[n++] = "adding address";
	}
	if (c->lo_up) {
		struct nlmsghdr *h = put_link_up(buf + off, 1);
		off += NLMSG_ALIGN(h->nlmsg_len);
		what[n++] = "setting lo up";
	}
	if (c->gw4) {
		struct nlmsghdr *h = put_route(buf + off, AF_INET, NULL, c->gw4, c->ifindex);
		off += NLMSG_ALIGN(h->nlmsg_len);
		what[n++] = "default route";
	}
	if (c->gw6) {
		struct nlmsghdr *h = put_route(buf + off, AF_INET6, NULL, c->gw6, c->ifindex);
		off += NLMSG_ALIGN(h->nlmsg_len);
		what[n++] = "default IPv6 route";
	}
	if (n == 0)
		return 0;
	return nl_talk_batch(nl, buf, off, what, n, err);
}

struct prefix_cb {
	net_prefix *v;
	size_t n, cap;
	int family;
};

static void push_prefix(struct prefix_cb *c, const net_prefix *p)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n++] = *p;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct prefix_cb *c = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	if (rtm->rtm_family != c->family || rtm->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	net_prefix p = {.addr = {.family = c->family}, .len = rtm->rtm_dst_len};
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*rtm))
	{
		if (mnl_attr_get_type(a) == RTA_DST &&
		    mnl_attr_get_payload_len(a) == (uint16_t)net_addr_bytes(&p.addr))
			memcpy(p.addr.b, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
	}
	push_prefix(c, &p);
	return MNL_CB_OK;
}

int nl_route_dsts(nl_sock *nl, int family, net_prefix **out, size_t *n, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETROUTE, NLM_F_DUMP);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	struct prefix_cb c = {.family = family};
	if (nl_talk(nl, nlh, route_cb, &c, "listing routes", err) < 0) {
		free(c.v);
		return -1;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct prefix_cb *c = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	if (ifa->ifa_family != c->family)
		return MNL_CB_OK;
	net_prefix p = {.addr = {.family = c->family}, .len = ifa->ifa_prefixlen};
	bool have = false;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		int t = mnl_attr_get_type(a);
		if ((t == IFA_LOCAL || (t == IFA_ADDRESS && !have)) &&
		    mnl_attr_get_payload_len(a) == (uint16_t)net_addr_bytes(&p.addr)) {
			memcpy(p.addr.b, mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
			have = true;
		}
	}
	if (have)
		push_prefix(c, &p);
	return MNL_CB_OK;
}

int nl_addr_list(nl_sock *nl, int family, net_addr **out, size_t *n, berth_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETADDR, NLM_F_DUMP);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)family;
	struct prefix_cb c = {.family = family};
	if (nl_talk(nl, nlh, addr_cb, &c, "listing addresses", err) < 0) {
		free(c.v);
		return -1;
	}
	net_addr *v = xcalloc(c.n + 1, sizeof(*v));
	for (size_t i = 0; i < c.n; i++)
		v[i] = c.v[i].addr;
	free(c.v);
	*out = v;
	*n = c.n;
	return 0;
}

int net_sysctl_set(const char *path, const char *value, berth_error **err)
{
	_cleanup_free_ char *full = xasprintf("/proc/sys/net/%s", path);
	_cleanup_close_ int fd = open(full, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "open %s", full);
	if (write_all(fd, value, strlen(value)) < 0)
		return berth_err_sys(err, errno, "write %s", full);
	return 0;
}
