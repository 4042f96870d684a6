#include "network/nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#define BERTH_LAZY_NFTABLES
#include "base/lazylib.h"
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"

char *nft_table_name(const char *net_id)
{
	return xasprintf("berth_%.12s", net_id);
}

static const char *proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static void add_elements(strbuf *sb, const nft_net_spec *s, const char *map, int family,
                         bool specific)
{
	bool first = true;
	for (size_t i = 0; i < s->nmaps; i++) {
		const nft_port_map *m = &s->maps[i];
		if (m->ctr_ip.family != family)
			continue;
		if (specific != (m->host_ip.family != 0))
			continue;
		if (specific && m->host_ip.family != family)
			continue;
		char hip[NET_ADDR_STRLEN], cip[NET_ADDR_STRLEN];
		net_addr_format(&m->ctr_ip, cip);
		if (first)
			sb_printf(sb, "add element inet %s %s { ", s->table, map);
		else
			sb_append(sb, ", ");
		first = false;
		if (specific) {
			net_addr_format(&m->host_ip, hip);
			sb_printf(sb, "%s . ", hip);
		}
		sb_printf(sb, "%s . %u : %s . %u", proto_name(m->proto), m->host_port, cip,
		          m->ctr_port);
	}
	if (!first)
		sb_append(sb, " }\n");
}

char *nft_net_script(const nft_net_spec *s)
{
	strbuf sb;
	sb_init(&sb);
	const char *t = s->table, *br = s->bridge;
	char sub4[NET_PREFIX_STRLEN] = "", sub6[NET_PREFIX_STRLEN] = "";
	if (s->subnet4.addr.family)
		net_prefix_format(&s->subnet4, sub4);
	if (s->subnet6.addr.family)
		net_prefix_format(&s->subnet6, sub6);

	/* "add" then "delete" makes the delete succeed whether or not the
	 * table existed; the whole script is one transaction. */
	sb_printf(&sb, "add table inet %s\ndelete table inet %s\n", t, t);
	sb_printf(&sb, "table inet %s {\n", t);
	sb_append(&sb,
	          "\tmap pm4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . "
	          "inet_service; }\n"
	          "\tmap pmany4 { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
	          "\tmap pm6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . "
	          "inet_service; }\n"
	          "\tmap pmany6 { type inet_proto . inet_service : ipv6_addr . inet_service; }\n");
	sb_append(&sb, "\tchain ports {\n"
	               "\t\tdnat ip to ip daddr . meta l4proto . th dport map @pm4\n"
	               "\t\tdnat ip to meta l4proto . th dport map @pmany4\n"
	               "\t\tdnat ip6 to ip6 daddr . meta l4proto . th dport map @pm6\n"
	               "\t\tdnat ip6 to meta l4proto . th dport map @pmany6\n"
	               "\t}\n");
	sb_append(&sb, "\tchain prerouting {\n"
	               "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
	               "\t\tfib daddr type local jump ports\n"
	               "\t}\n");
	/* ::1 is left to the relay of lo6proxy.c: the kernel cannot NAT it */
	sb_append(&sb, "\tchain output {\n"
	               "\t\ttype nat hook output priority -100; policy accept;\n"
	               "\t\tip6 daddr ::1 return\n"
	               "\t\tfib daddr type local jump ports\n"
	               "\t}\n");
	sb_append(&sb, "\tchain postrouting {\n"
	               "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	if (s->masquerade && !s->internal) {
		if (*sub4)
			sb_printf(&sb, "\t\tip saddr %s oifname != \"%s\" masquerade\n", sub4, br);
		if (*sub6)
			sb_printf(&sb, "\t\tip6 saddr %s oifname != \"%s\" masquerade\n", sub6, br);
	}
	/* The host's loopback to a published port (route_localnet on the
	 * bridge), and hairpin: a container to a port published by its own
	 * network, so that replies come back the way they went. */
	sb_printf(&sb, "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", br);
	if (*sub4)
		sb_printf(&sb, "\t\toifname \"%s\" ct status dnat ip saddr %s masquerade\n", br,
		          sub4);
	if (*sub6)
		sb_printf(&sb, "\t\toifname \"%s\" ct status dnat ip6 saddr %s masquerade\n", br,
		          sub6);
	sb_append(&sb, "\t}\n");
	sb_append(&sb, "\tchain forward {\n"
	               "\t\ttype filter hook forward priority filter; policy accept;\n");
	if (s->internal) {
		sb_printf(&sb, "\t\tiifname \"%s\" oifname != \"%s\" drop\n", br, br);
		sb_printf(&sb, "\t\toifname \"%s\" iifname != \"%s\" drop\n", br, br);
	}
	/* Isolation: nothing from another berth bridge enters this one,
	 * except connections to its published ports. */
	sb_printf(&sb,
	          "\t\toifname \"%s\" iifname != \"%s\" iifgroup %u ct status & dnat == 0 drop\n",
	          br, br, BERTH_BRIDGE_GROUP);
	sb_append(&sb, "\t}\n}\n");
	add_elements(&sb, s, "pm4", AF_INET, true);
	add_elements(&sb, s, "pmany4", AF_INET, false);
	add_elements(&sb, s, "pm6", AF_INET6, true);
	add_elements(&sb, s, "pmany6", AF_INET6, false);
	return sb_steal(&sb);
}

static void nft_ctx_freep(struct nft_ctx **c)
{
	if (*c)
		nft_ctx_free(*c);
}

static int run_capture_flags(const char *script, unsigned flags, char **out, berth_error **err)
{
	__attribute__((cleanup(nft_ctx_freep))) struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (ctx == NULL)
		return berth_err(err, BERTH_E_GENERIC, "nftables: cannot create a context");
	nft_ctx_buffer_error(ctx);
	if (flags)
		nft_ctx_output_set_flags(ctx, flags);
	if (out)
		nft_ctx_buffer_output(ctx);
	if (nft_run_cmd_from_buffer(ctx, script) != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		_cleanup_free_ char *msg = xstrdup(e && *e ? e : "failed");
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = 0;
		/* keep the first line: the error itself */
		char *nl = strchr(msg, '\n');
		if (nl)
			*nl = 0;
		return berth_err(err, BERTH_E_GENERIC, "nftables: %s", msg);
	}
	if (out) {
		const char *o = nft_ctx_get_output_buffer(ctx);
		*out = xstrdup(o ? o : "");
	}
	return 0;
}

static int run_capture(const char *script, char **out, berth_error **err)
{
	return run_capture_flags(script, 0, out, err);
}

int nft_run(const char *script, berth_error **err)
{
	return run_capture(script, NULL, err);
}

int nft_table_delete(const char *table, berth_error **err)
{
	_cleanup_free_ char *s =
	    xasprintf("add table inet %s\ndelete table inet %s\n", table, table);
	return nft_run(s, err);
}

int nft_table_exists(const char *table, berth_error **err)
{
	_cleanup_free_ char *out = NULL;
	if (run_capture("list tables inet", &out, err) < 0)
		return -1;
	_cleanup_free_ char *want = xasprintf("table inet %s\n", table);
	return strstr(out, want) != NULL;
}

/* Handles of our rules ("comment \"berth:BRIDGE\"") in an nft listing
 * made with handles. */
static size_t our_handles(const char *listing, const char *tag, unsigned long *h, size_t max)
{
	size_t n = 0;
	_cleanup_strv_ char **lines = str_split(listing, '\n');
	for (char **l = lines; l && *l && n < max; l++) {
		if (strstr(*l, tag) == NULL)
			continue;
		const char *hp = strstr(*l, "# handle ");
		if (hp)
			h[n++] = strtoul(hp + strlen("# handle "), NULL, 10);
	}
	return n;
}

int nft_foreign_forward(const char *bridge, bool present, berth_error **err)
{
	static const char *const families[] = {"ip", "ip6"};
	_cleanup_free_ char *tag = xasprintf("comment \"berth:%s\"", bridge);
	strbuf sb;
	sb_init(&sb);
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		const char *fam = families[f];
		_cleanup_free_ char *fwd = NULL, *user = NULL;
		_cleanup_free_ char *lf = xasprintf("list chain %s filter FORWARD", fam);
		if (run_capture_flags(lf, NFT_CTX_OUTPUT_HANDLE, &fwd, NULL) < 0)
			continue; /* no such table or chain: nobody drops forwarded traffic there */
		_cleanup_free_ char *lu = xasprintf("list chain %s filter DOCKER-USER", fam);
		if (run_capture_flags(lu, NFT_CTX_OUTPUT_HANDLE, &user, NULL) < 0)
			user = NULL;
		unsigned long hf[8], hu[8];
		size_t nf = our_handles(fwd, tag, hf, ARRAY_SIZE(hf));
		size_t nu = user ? our_handles(user, tag, hu, ARRAY_SIZE(hu)) : 0;
		bool drops = strstr(fwd, "policy drop;") != NULL;
		if (present && drops) {
			if (nf + nu >= 2)
				continue; /* already there (docker keeps DOCKER-USER across restarts) */
			/* Docker's place for other rules is DOCKER-USER, which its
			 * FORWARD chain jumps to first */
			const char *chain = user ? "DOCKER-USER" : "FORWARD";
			/* only expressions iptables-nft can read back (meta
			 * iifname/oifname, counter, comment, accept): its own
			 * iptables -S/-C must keep working on this table */
			sb_printf(&sb,
			          "insert rule %s filter %s oifname \"%s\" counter accept comment "
			          "\"berth:%s\"\n"
			          "insert rule %s filter %s iifname \"%s\" counter accept comment "
			          "\"berth:%s\"\n",
			          fam, chain, bridge, bridge, fam, chain, bridge, bridge);
		} else if (!present) {
			for (size_t i = 0; i < nf; i++)
				sb_printf(&sb, "delete rule %s filter FORWARD handle %lu\n", fam,
				          hf[i]);
			for (size_t i = 0; i < nu; i++)
				sb_printf(&sb, "delete rule %s filter DOCKER-USER handle %lu\n",
				          fam, hu[i]);
		}
	}
	_cleanup_free_ char *script = sb_steal(&sb);
	if (*script == 0)
		return 0;
	return nft_run(script, err);
}

/* --- a cheap check per start: has any ruleset changed since the last
 * look? (nfnetlink, no libnftables) --- */

struct nfq {
	uint32_t gen;
	bool have_gen;
	uint32_t policy;
	bool have_policy;
};

static int nfq_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nfq *q = data;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		int t = mnl_attr_get_type(a);
		if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWGEN && t == NFTA_GEN_ID &&
		    mnl_attr_get_payload_len(a) == 4) {
			q->gen = ntohl(mnl_attr_get_u32(a));
			q->have_gen = true;
		}
		if ((nlh->nlmsg_type & 0xff) == NFT_MSG_NEWCHAIN && t == NFTA_CHAIN_POLICY &&
		    mnl_attr_get_payload_len(a) == 4) {
			q->policy = ntohl(mnl_attr_get_u32(a));
			q->have_policy = true;
		}
	}
	return MNL_CB_OK;
}

/* One request, its answer into q. < 0: error (errno set). */
static int nf_ask(struct mnl_socket *nl, unsigned *seq, uint8_t msg, uint8_t family,
                  const char *table, const char *chain, struct nfq *q)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++*seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	if (table)
		mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	if (chain)
		mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	char rb[8192];
	unsigned portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, rb, sizeof(rb));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		int r = mnl_cb_run(rb, (size_t)n, *seq, portid, nfq_cb, q);
		if (r < 0)
			return -1;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

/* The ruleset generation, or -1. */
static long long nf_generation(struct mnl_socket *nl, unsigned *seq)
{
	struct nfq q = {0};
	if (nf_ask(nl, seq, NFT_MSG_GETGEN, AF_UNSPEC, NULL, NULL, &q) < 0 || !q.have_gen)
		return -1;
	return q.gen;
}

int nft_foreign_check(const char *bridge, const char *stamp)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (nl == NULL)
		return -1;
	int rc = -1;
	unsigned seq = (unsigned)time(NULL);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	long long gen = nf_generation(nl, &seq);
	if (gen < 0)
		goto out;
	char old[32] = "";
	int fd = open(stamp, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, old, sizeof(old) - 1);
		old[n > 0 ? n : 0] = 0;
		close(fd);
	}
	if (*old && strtoll(old, NULL, 10) == gen) {
		rc = 0; /* nothing changed since the last look */
		goto out;
	}
	bool drops = false;
	static const uint8_t fams[] = {NFPROTO_IPV4, NFPROTO_IPV6};
	for (size_t i = 0; i < ARRAY_SIZE(fams); i++) {
		struct nfq q = {0};
		if (nf_ask(nl, &seq, NFT_MSG_GETCHAIN, fams[i], "filter", "FORWARD", &q) == 0 &&
		    q.have_policy && q.policy == NF_DROP)
			drops = true;
	}
	if (drops && nft_foreign_forward(bridge, true, NULL) < 0)
		goto out;
	gen = nf_generation(nl, &seq);
	if (gen >= 0) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.%d", stamp, (int)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			char g[32];
			int len = snprintf(g, sizeof(g), "%lld\n", gen);
			bool ok = write(fd, g, (size_t)len) == len;
			close(fd);
			if (!ok || rename(tmp, stamp) < 0)
				unlink(tmp);
		}
	}
	rc = 0;
out:
	mnl_socket_close(nl);
	return rc;
}
