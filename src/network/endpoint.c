/* Containers on networks: membership, address leases (IPAM), veths into
 * the container's namespace, published ports, /etc/hosts and
 * /etc/resolv.conf. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "network/net_int.h"

typedef struct ep_row {
	char *net_id;
	char *ctr_name;
	char *endpoint_id;
	char **aliases;
	char *req4, *req6;
	char *ip4, *ip6, *mac, *veth, *ifname;
	long owner;
	int seq;
} ep_row;

static void ep_free(ep_row *e)
{
	free(e->net_id);
	free(e->ctr_name);
	free(e->endpoint_id);
	strv_free(e->aliases);
	free(e->req4);
	free(e->req6);
	free(e->ip4);
	free(e->ip6);
	free(e->mac);
	free(e->veth);
	free(e->ifname);
}

static void ep_list_free(ep_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ep_free(&v[i]);
	free(v);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? xstrdup(s) : NULL;
}

#define EP_COLS                                                                              \
	"network_id, container_name, endpoint_id, aliases, req_ipv4, req_ipv6, ipv4, ipv6, " \
	"mac, veth, ifname, owner_pid, seq"

static int load_eps(net_ctx *nc, const char *ctr_id, const char *only_net, ep_row **out, size_t *n,
                    berth_error **err)
{
	*out = NULL;
	*n = 0;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store,
	                  "SELECT " EP_COLS " FROM network_endpoints WHERE container_id = ?1"
	                  " AND (?2 IS NULL OR network_id = ?2) ORDER BY seq",
	                  err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
	if (only_net)
		sqlite3_bind_text(st, 2, only_net, -1, SQLITE_STATIC);
	ep_row *v = NULL;
	size_t cnt = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = xreallocarray(v, cnt + 1, sizeof(*v));
		ep_row *e = &v[cnt++];
		memset(e, 0, sizeof(*e));
		e->net_id = col_dup(st, 0);
		e->ctr_name = col_dup(st, 1);
		e->endpoint_id = col_dup(st, 2);
		const char *al = (const char *)sqlite3_column_text(st, 3);
		_cleanup_json_ json_t *aj = al ? json_loads(al, 0, NULL) : NULL;
		if (json_is_array(aj)) {
			size_t i;
			json_t *s;
			json_array_foreach (aj, i, s) {
				if (json_is_string(s))
					e->aliases = strv_append(e->aliases, json_string_value(s));
			}
		}
		e->req4 = col_dup(st, 4);
		e->req6 = col_dup(st, 5);
		e->ip4 = col_dup(st, 6);
		e->ip6 = col_dup(st, 7);
		e->mac = col_dup(st, 8);
		e->veth = col_dup(st, 9);
		e->ifname = col_dup(st, 10);
		e->owner = sqlite3_column_type(st, 11) == SQLITE_NULL
		               ? 0
		               : (long)sqlite3_column_int64(st, 11);
		e->seq = sqlite3_column_int(st, 12);
	}
	*out = v;
	*n = cnt;
	return 0;
}

static bool is_special_mode(const char *mode)
{
	return mode && (!strcmp(mode, "host") || !strcmp(mode, "none") ||
	                str_has_prefix(mode, "container:"));
}

static const char *mode_network(const char *mode)
{
	if (mode == NULL || !*mode || !strcmp(mode, "default"))
		return NET_DEFAULT_NAME;
	return mode;
}

/* Insert a membership row (inside a transaction). */
static int add_member(net_ctx *nc, const network *n, const char *ctr_id, const char *ctr_name,
                      char **aliases, const char *ip4, const char *ip6, berth_error **err)
{
	if (n->predefined)
		return berth_err(err, BERTH_E_CONFLICT,
		                 "container cannot be disconnected from host network or connected "
		                 "to host network");
	if (n->is_default && aliases && aliases[0])
		return berth_err(err, BERTH_E_INVALID,
		                 "network-scoped alias is supported only for containers in user "
		                 "defined networks");
	if ((ip4 || ip6) && n->is_default)
		return berth_err(err, BERTH_E_INVALID,
		                 "user specified IP address is supported on user defined networks "
		                 "only");
	if (ip4) {
		net_addr a;
		if (net_addr_parse(ip4, &a, err) < 0)
			return -1;
		if (!net_prefix_contains(&n->v4.subnet, &a))
			return berth_err(err, BERTH_E_INVALID,
			                 "no configured subnet contains IP address %s", ip4);
	}
	if (ip6) {
		net_addr a;
		if (net_addr_parse(ip6, &a, err) < 0)
			return -1;
		if (!n->v6.subnet.addr.family || !net_prefix_contains(&n->v6.subnet, &a))
			return berth_err(err, BERTH_E_INVALID,
			                 "no configured subnet contains IP address %s", ip6);
	}
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "INSERT INTO network_endpoints (network_id, container_id, container_name,"
	    " endpoint_id, seq, aliases, req_ipv4, req_ipv6) VALUES (?1, ?2, ?3, ?4,"
	    " (SELECT coalesce(max(seq), 0) + 1 FROM network_endpoints WHERE container_id = ?2),"
	    " ?5, ?6, ?7)",
	    err);
	if (st == NULL)
		return -1;
	char eid[65];
	net_random_id(eid);
	_cleanup_json_ json_t *aj = json_from_strv(aliases);
	_cleanup_free_ char *as = json_dump_compact(aj);
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ctr_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ctr_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, eid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, as, -1, SQLITE_STATIC);
	if (ip4)
		sqlite3_bind_text(st, 6, ip4, -1, SQLITE_STATIC);
	if (ip6)
		sqlite3_bind_text(st, 7, ip6, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		return berth_err(err, BERTH_E_CONFLICT,
		                 "endpoint with name %s already exists in network %s", ctr_name,
		                 n->name);
	if (rc != SQLITE_DONE)
		return store_sql_err(nc->store, err, "adding endpoint");
	return 0;
}

static int validate_ports(const net_ctr_config *cfg, berth_error **err)
{
	for (size_t i = 0; i < cfg->nports; i++) {
		const port_binding *b = &cfg->ports[i];
		if (b->host_ip[0]) {
			net_addr a;
			if (net_addr_parse(b->host_ip, &a, err) < 0)
				return -1;
		}
	}
	return 0;
}

int network_ctr_create(net_ctx *nc, const net_ctr *c, berth_error **err)
{
	const net_ctr_config *cfg = c->cfg;
	if (network_init(nc, err) < 0)
		return -1;
	if (validate_ports(cfg, err) < 0)
		return -1;
	const char *mode = cfg->mode;
	if (is_special_mode(mode)) {
		if (!strcmp(mode, "host") || str_has_prefix(mode, "container:")) {
			if (cfg->nports || cfg->publish_all)
				log_msg(LOG_LVL_DEBUG, "published ports are discarded with %s",
				        mode);
			if (str_has_prefix(mode, "container:") &&
			    (cfg->mac || (cfg->dns && cfg->dns[0]) ||
			     (cfg->extra_hosts && cfg->extra_hosts[0])))
				return berth_err(
				    err, BERTH_E_INVALID,
				    "conflicting options: dns, mac-address and add-host "
				    "cannot be set with the container network mode");
		}
		return 0;
	}
	_cleanup_network_ network *n = NULL;
	if (network_get(nc, mode_network(mode), &n, err) < 0)
		return -1;
	bool outer = store_in_tx(nc->store);
	_cleanup_tx_ berth_store *tx = NULL;
	if (!outer) {
		if (store_tx_begin(nc->store, err) < 0)
			return -1;
		tx = nc->store;
	}
	if (add_member(nc, n, c->id, c->name, cfg->aliases, cfg->ipv4, cfg->ipv6, err) < 0)
		return -1;
	if (!outer)
		return store_tx_commit(nc->store, err);
	return 0;
}

/* --- IPAM --- */

static int used_addr(net_ctx *nc, const char *net_id, const char *col, const char *ip, bool *used,
                     berth_error **err)
{
	_cleanup_free_ char *sql =
	    xasprintf("SELECT 1 FROM network_endpoints WHERE network_id = ?1 AND %s = ?2", col);
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(nc->store, sql, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, net_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	*used = sqlite3_step(st) == SQLITE_ROW;
	return 0;
}

/* Lowest free address of the range (inside the transaction). */
static int ipam_alloc(net_ctx *nc, const network *n, const net_ipam *c, const char *col,
                      const char *req, net_addr *out, berth_error **err)
{
	if (req) {
		if (net_addr_parse(req, out, err) < 0)
			return -1;
		if (net_addr_eq(out, &c->gateway))
			return berth_err(err, BERTH_E_CONFLICT, "Address already in use: %s", req);
		bool used;
		char s[NET_ADDR_STRLEN];
		net_addr_format(out, s);
		if (used_addr(nc, n->id, col, s, &used, err) < 0)
			return -1;
		if (used)
			return berth_err(err, BERTH_E_CONFLICT, "Address already in use: %s", req);
		return 0;
	}
	/* all addresses in use, into a bitmap over the range */
	const net_prefix *r = c->range.addr.family ? &c->range : &c->subnet;
	uint64_t size = net_prefix_size(r);
	if (size > (1u << 20))
		size = 1u << 20; /* a million addresses is plenty for one host */
	_cleanup_free_ uint8_t *bits = xcalloc((size_t)(size / 8 + 1), 1);
	_cleanup_free_ char *sql = xasprintf(
	    "SELECT %s FROM network_endpoints WHERE network_id = ?1 AND %s IS NOT NULL", col, col);
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(nc->store, sql, err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		net_addr a;
		if (net_addr_parse((const char *)sqlite3_column_text(st, 0), &a, NULL) < 0)
			continue;
		if (!net_prefix_contains(r, &a))
			continue;
		uint64_t off = net_prefix_offset(r, &a);
		if (off < size)
			bits[off / 8] |= (uint8_t)(1u << (off % 8));
	}
	net_addr last;
	net_prefix_last(&c->subnet, &last);
	for (uint64_t i = 0; i < size; i++) {
		if (bits[i / 8] & (1u << (i % 8)))
			continue;
		net_addr a;
		if (!net_prefix_nth(r, i, &a))
			break;
		if (net_addr_eq(&a, &c->subnet.addr) || net_addr_eq(&a, &c->gateway))
			continue;
		if (a.family == AF_INET && net_addr_eq(&a, &last))
			continue;
		*out = a;
		return 0;
	}
	_cleanup_free_ char *rs = net_prefix_str(r);
	return berth_err(err, BERTH_E_CONFLICT, "no available IPv%d addresses on network %s (%s)",
	                 c->subnet.addr.family == AF_INET ? 4 : 6, n->name, rs);
}

/* --- published ports --- */

/* Can we bind ip:port/proto on the host right now? */
static bool host_port_free(int proto, const char *ip, uint16_t port)
{
	net_addr a = {0};
	int family = AF_INET;
	if (*ip) {
		if (net_addr_parse(ip, &a, NULL) < 0)
			return false;
		family = a.family;
	}
	_cleanup_close_ int fd =
	    socket(family, (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (*ip)
			memcpy(&sin->sin_addr, a.b, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a.b, 16);
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		return false;
	if (proto != IPPROTO_UDP && listen(fd, 1) < 0)
		return false;
	return true;
}

/* Is the port taken by a container of this store? (same proto and port,
 * and the same address or either one the wildcard) */
static int port_taken_db(net_ctx *nc, int proto, const char *ip, uint16_t port, bool *taken,
                         berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store,
	                  "SELECT 1 FROM network_ports WHERE proto = ?1 AND host_port = ?2"
	                  " AND (host_ip = ?3 OR host_ip = '' OR ?3 = '')",
	                  err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, port_proto_name(proto), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, port);
	sqlite3_bind_text(st, 3, ip, -1, SQLITE_STATIC);
	*taken = sqlite3_step(st) == SQLITE_ROW;
	return 0;
}

static void ephemeral_range(unsigned *lo, unsigned *hi)
{
	*lo = 32768;
	*hi = 60999;
	_cleanup_free_ char *d = NULL;
	size_t len;
	if (read_file("/proc/sys/net/ipv4/ip_local_port_range", &d, &len, NULL) == 0) {
		unsigned a, b;
		if (sscanf(d, "%u %u", &a, &b) == 2 && a > 0 && b >= a && b < 65536) {
			*lo = a;
			*hi = b;
		}
	}
}

static int pick_host_port(net_ctx *nc, const port_binding *b, uint16_t *out, berth_error **err)
{
	unsigned lo, hi;
	if (b->host_port && b->host_port_end > b->host_port) {
		lo = b->host_port;
		hi = b->host_port_end;
	} else if (b->host_port) {
		bool taken;
		if (port_taken_db(nc, b->proto, b->host_ip, b->host_port, &taken, err) < 0)
			return -1;
		if (taken || !host_port_free(b->proto, b->host_ip, b->host_port))
			return berth_err(
			    err, BERTH_E_CONFLICT,
			    "driver failed programming external connectivity: Bind for "
			    "%s:%u failed: port is already allocated",
			    b->host_ip[0] ? b->host_ip : "0.0.0.0", b->host_port);
		*out = b->host_port;
		return 0;
	} else {
		ephemeral_range(&lo, &hi);
	}
	unsigned span = hi - lo + 1, start;
	if (getrandom(&start, sizeof(start), 0) != (ssize_t)sizeof(start))
		start = (unsigned)getpid();
	for (unsigned i = 0; i < span; i++) {
		uint16_t p = (uint16_t)(lo + (start + i) % span);
		bool taken;
		if (port_taken_db(nc, b->proto, b->host_ip, p, &taken, err) < 0)
			return -1;
		if (!taken && host_port_free(b->proto, b->host_ip, p)) {
			*out = p;
			return 0;
		}
	}
	return berth_err(err, BERTH_E_CONFLICT,
	                 "driver failed programming external connectivity: no free host port "
	                 "in %u-%u",
	                 lo, hi);
}

static int insert_port(net_ctx *nc, const char *ctr_id, const char *net_id, int proto,
                       const char *host_ip, uint16_t host_port, const char *ctr_ip,
                       uint16_t ctr_port, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "INSERT INTO network_ports (proto, host_ip, host_port, container_id, network_id,"
	    " ctr_ip, ctr_port) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	    err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, port_proto_name(proto), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, host_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, host_port);
	sqlite3_bind_text(st, 4, ctr_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, net_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, ctr_ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, ctr_port);
	if (sqlite3_step(st) != SQLITE_DONE)
		return berth_err(err, BERTH_E_CONFLICT,
		                 "Bind for %s:%u failed: port is already allocated",
		                 *host_ip ? host_ip : "0.0.0.0", host_port);
	return 0;
}

/* Bind every published port of the container (inside the transaction). */
static int publish_ports(net_ctx *nc, const char *ctr_id, const network *n,
                         const net_ctr_config *cfg, const char *ip4, const char *ip6,
                         berth_error **err)
{
	port_binding *all = NULL;
	size_t na = 0;
	for (size_t i = 0; i < cfg->nports; i++) {
		all = xreallocarray(all, na + 1, sizeof(*all));
		all[na++] = cfg->ports[i];
	}
	if (cfg->publish_all) {
		for (char **e = cfg->expose; e && *e; e++) {
			uint16_t a, b;
			int proto;
			if (port_range_parse(*e, &a, &b, &proto, NULL) < 0)
				continue;
			bool have = false;
			for (size_t i = 0; i < na; i++)
				have |= all[i].ctr_port == a && all[i].proto == proto;
			if (have)
				continue;
			all = xreallocarray(all, na + 1, sizeof(*all));
			memset(&all[na], 0, sizeof(all[na]));
			all[na].proto = proto;
			all[na].ctr_port = a;
			na++;
		}
	}
	int r = 0;
	for (size_t i = 0; i < na && r == 0; i++) {
		port_binding *b = &all[i];
		uint16_t hp = 0;
		if (pick_host_port(nc, b, &hp, err) < 0) {
			r = -1;
			break;
		}
		bool v6host = strchr(b->host_ip, ':') != NULL;
		if (!v6host && ip4)
			r = insert_port(nc, ctr_id, n->id, b->proto, b->host_ip, hp, ip4,
			                b->ctr_port, err);
		if (r == 0 && ip6 && (v6host || !b->host_ip[0]))
			r = insert_port(nc, ctr_id, n->id, b->proto, v6host ? b->host_ip : "", hp,
			                ip6, b->ctr_port, err);
	}
	free(all);
	return r;
}

/* --- /etc/hosts and /etc/resolv.conf --- */

/* Write in place (not rename): the file may already be bind-mounted. */
static int write_in_place(const char *dir, const char *name, const char *data, berth_error **err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd =
	    open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening %s", p);
	if (write_all(fd, data, strlen(data)) < 0)
		return berth_err_sys(err, errno, "writing %s", p);
	return 0;
}

char **net_host_nameservers(const berth_config *cfg, bool with_ports)
{
	char **out = NULL;
	if (cfg && cfg->dns && cfg->dns[0]) {
		for (char **d = cfg->dns; *d; d++) {
			net_addr a;
			if (net_addr_parse(*d, &a, NULL) == 0 || with_ports)
				out = strv_append(out, *d);
		}
		return out;
	}
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (read_file("/etc/resolv.conf", &data, &len, NULL) < 0)
		return NULL;
	_cleanup_strv_ char **lines = str_split(data, '\n');
	for (char **l = lines; l && *l; l++) {
		char ns[64];
		if (sscanf(*l, " nameserver %63s", ns) == 1)
			out = strv_append(out, ns);
	}
	return out;
}

static bool is_loopback_ns(const char *s)
{
	return str_has_prefix(s, "127.") || !strcmp(s, "::1");
}

static char *resolv_conf(net_ctx *nc, const net_ctr_config *cfg, const char *embedded)
{
	strbuf sb;
	sb_init(&sb);
	_cleanup_free_ char *host = NULL;
	size_t len;
	read_file("/etc/resolv.conf", &host, &len, NULL);
	_cleanup_strv_ char **lines = host ? str_split(host, '\n') : NULL;
	if (embedded) {
		sb_printf(&sb, "nameserver %s\n", embedded);
	} else if (cfg->dns && cfg->dns[0]) {
		for (char **d = cfg->dns; *d; d++)
			sb_printf(&sb, "nameserver %s\n", *d);
	} else {
		_cleanup_strv_ char **ns = net_host_nameservers(nc->cfg, false);
		int k = 0;
		for (char **d = ns; d && *d; d++) {
			if (is_loopback_ns(*d))
				continue;
			sb_printf(&sb, "nameserver %s\n", *d);
			k++;
		}
		if (k == 0) /* Docker's fallback when the host has only local resolvers */
			sb_append(&sb, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	}
	if (cfg->dns_search && cfg->dns_search[0]) {
		_cleanup_free_ char *s = strv_join(cfg->dns_search, " ");
		if (strcmp(s, ".") != 0)
			sb_printf(&sb, "search %s\n", s);
	} else {
		for (char **l = lines; l && *l; l++)
			if (str_has_prefix(*l, "search ") || str_has_prefix(*l, "domain "))
				sb_printf(&sb, "%s\n", *l);
	}
	if (cfg->dns_options && cfg->dns_options[0]) {
		_cleanup_free_ char *s = strv_join(cfg->dns_options, " ");
		sb_printf(&sb, "options %s\n", s);
	} else if (embedded) {
		sb_append(&sb, "options ndots:0\n");
	} else {
		for (char **l = lines; l && *l; l++)
			if (str_has_prefix(*l, "options "))
				sb_printf(&sb, "%s\n", *l);
	}
	return sb_steal(&sb);
}

static char *hosts_file(const net_ctr *c, const net_ctr_config *cfg, const char *gw, char **own_ips)
{
	strbuf sb;
	sb_init(&sb);
	sb_append(&sb, "127.0.0.1\tlocalhost\n"
	               "::1\tlocalhost ip6-localhost ip6-loopback\n"
	               "fe00::0\tip6-localnet\n"
	               "ff00::0\tip6-mcastprefix\n"
	               "ff02::1\tip6-allnodes\n"
	               "ff02::2\tip6-allrouters\n");
	for (char **h = cfg->extra_hosts; h && *h; h++) {
		const char *colon = strchr(*h, ':');
		if (colon == NULL)
			continue;
		const char *ip = colon + 1;
		if (!strcmp(ip, "host-gateway"))
			ip = gw ? gw : "127.0.0.1";
		sb_printf(&sb, "%s\t%.*s\n", ip, (int)(colon - *h), *h);
	}
	_cleanup_free_ char *hn = c->hostname ? xstrdup(c->hostname) : xasprintf("%.12s", c->id);
	for (char **ip = own_ips; ip && *ip; ip++) {
		if (c->domainname && *c->domainname)
			sb_printf(&sb, "%s\t%s.%s %s\n", *ip, hn, c->domainname, hn);
		else
			sb_printf(&sb, "%s\t%s\n", *ip, hn);
	}
	return sb_steal(&sb);
}

/* The default bridge's gateway (for host-gateway), if known. */
static char *default_gateway(net_ctx *nc)
{
	_cleanup_network_ network *d = NULL;
	if (network_get(nc, NET_DEFAULT_NAME, &d, NULL) < 0)
		return NULL;
	return net_addr_str(&d->v4.gateway);
}

/* --- plumbing one endpoint --- */

static int in_netns(int nsfd, int (*fn)(void *), void *arg)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return -1;
	int r = fn(arg);
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	return r;
}

/* The container's side of an endpoint, set up in one visit to its network
 * namespace: a netlink socket there, and IPv6 on the new interface (still
 * down) as the network has it. As Docker does, an interface on a network
 * without IPv6 has IPv6 disabled (no link-local address, no DAD, MLD or
 * router solicitations: less work for the kernel at link up and at
 * teardown); on an IPv6 network its address skips DAD (IPAM made it
 * unique). Loopback keeps ::1. */
struct ctr_side {
	const char *ifname;
	bool v6;
	nl_sock *nl;
	berth_error *err;
};

static int ctr_side_open(void *arg)
{
	struct ctr_side *c = arg;
	_cleanup_free_ char *p =
	    xasprintf("ipv6/conf/%s/%s", c->ifname, c->v6 ? "accept_dad" : "disable_ipv6");
	berth_error *se = NULL;
	if (net_sysctl_set(p, c->v6 ? "0" : "1", &se) < 0) {
		/* a host without IPv6 has no such file: nothing to disable */
		log_debug("%s", se->msg);
		berth_error_free(se);
	}
	return nl_open(-1, &c->nl, &c->err);
}

/* One endpoint in four netlink round trips: the veth pair created with
 * the host's end enslaved and the peer made in the container's namespace
 * (a leftover of an earlier run is deleted only when the name clashes);
 * the host's end up (IPv6 off first); the peer's index; then addresses,
 * loopback and routes in one batch from a socket in the container's
 * namespace. No waiting for link events. */
static int plumb(net_ctx *nc, nl_sock *nl, const network *n, const ep_row *e, int netns_fd,
                 bool primary, bool hairpin, berth_error **err)
{
	int br;
	if (net_ensure_bridge(nc, nl, n, &br, err) < 0)
		return -1;
	uint8_t mac[6];
	if (net_mac_parse(e->mac, mac, err) < 0)
		return -1;
	struct nl_veth_opts vo = {.name = e->veth,
	                          .master = br,
	                          .mtu = n->mtu,
	                          .peer_name = e->ifname,
	                          .peer_netns_fd = netns_fd,
	                          .peer_mac = mac};
	/* the host's end comes up only once IPv6 is off on it: a bridge port
	 * needs no address of its own, and a link-local address with its
	 * DAD, MLD reports and router solicitations is work for the kernel
	 * at every start and stop (one more round trip, ~2 ms less in
	 * bench/net.sh's paired extra here) */
	berth_error *ve = NULL;
	if (nl_veth_create(nl, &vo, &ve) < 0) {
		if (ve->sys_errno != EEXIST) {
			if (err && *err == NULL)
				*err = ve;
			else
				berth_error_free(ve);
			return -1;
		}
		berth_error_free(ve);
		nl_link_del(nl, e->veth, NULL); /* a leftover of an earlier run */
		if (nl_veth_create(nl, &vo, err) < 0)
			return -1;
	}
	{
		_cleanup_free_ char *p = xasprintf("ipv6/conf/%s/disable_ipv6", e->veth);
		net_sysctl_set(p, "1", NULL); /* no such file: a host without IPv6 */
		if (nl_link_set_up_by_name(nl, e->veth, err) < 0)
			return -1;
	}
	/* hairpin: a container may reach its own published ports (only a
	 * container with published ports needs it) */
	if (hairpin) {
		_cleanup_free_ char *hp =
		    xasprintf("/sys/class/net/%s/brport/hairpin_mode", e->veth);
		_cleanup_close_ int hfd = open(hp, O_WRONLY | O_CLOEXEC);
		if (hfd >= 0 && write(hfd, "1", 1) < 0)
			log_debug("hairpin mode on %s: %s", e->veth, strerror(errno));
	}
	struct ctr_side cs = {.ifname = e->ifname, .v6 = e->ip6 != NULL};
	int sr = in_netns(netns_fd, ctr_side_open, &cs);
	_cleanup_nl_ nl_sock *cnl = cs.nl;
	if (sr < 0) {
		if (cs.err == NULL)
			return berth_err_sys(err, errno,
			                     "entering the container's network namespace");
		if (err && *err == NULL)
			*err = cs.err;
		else
			berth_error_free(cs.err);
		return -1;
	}
	int ci = nl_link_index(cnl, e->ifname, err);
	if (ci <= 0)
		return berth_err(err, BERTH_E_IO, "%s missing in the container", e->ifname);
	net_addr addrs[2], gw4, gw6;
	int plens[2];
	size_t na = 0;
	if (e->ip4) {
		if (net_addr_parse(e->ip4, &addrs[na], err) < 0)
			return -1;
		plens[na++] = n->v4.subnet.len;
	}
	if (e->ip6) {
		if (net_addr_parse(e->ip6, &addrs[na], err) < 0)
			return -1;
		plens[na++] = n->v6.subnet.len;
	}
	struct nl_ifconf ic = {
	    .ifindex = ci, .addrs = addrs, .plens = plens, .naddrs = na, .up = true, .lo_up = true};
	if (primary && !n->internal) {
		if (e->ip4) {
			gw4 = n->v4.gateway;
			ic.gw4 = &gw4;
		}
		if (e->ip6) {
			gw6 = n->v6.gateway;
			ic.gw6 = &gw6;
		}
	}
	return nl_if_configure(cnl, &ic, err);
}

/* Lease addresses for one endpoint (own transaction), then plumb it. */
/* In the same transaction, if given: the membership row of a container
 * not recorded at create (insert) and the rows of removed containers
 * (forget_orphans). */
struct attach_extra {
	const network *net; /* e's network, already loaded; NULL: load it */
	const net_ctr *insert;
	bool forget_orphans;
};

static int attach_one(net_ctx *nc, nl_sock *nl, const char *ctr_id, ep_row *e, int netns_fd,
                      pid_t owner, bool primary, const net_ctr_config *cfg, const char *mac_req,
                      int ifidx, bool *ports_changed, const struct attach_extra *x,
                      berth_error **err)
{
	_cleanup_network_ network *loaded = NULL;
	const network *n = x ? x->net : NULL;
	if (n == NULL) {
		if (net_load(nc, e->net_id, &loaded, err) < 0)
			return -1;
		n = loaded;
	}
	long long start = net_proc_start_time(owner);
	if (start < 0)
		return berth_err(err, BERTH_E_GENERIC, "container process %d is gone", (int)owner);
	{
		_cleanup_tx_ berth_store *tx = NULL;
		if (store_tx_begin(nc->store, err) < 0)
			return -1;
		tx = nc->store;
		if (x && x->forget_orphans && net_forget_orphans(nc, err) < 0)
			return -1;
		if (x && x->insert &&
		    add_member(nc, n, ctr_id, x->insert->name, e->aliases, e->req4, e->req6, err) <
		        0)
			return -1;
		net_addr a4 = {0}, a6 = {0};
		if (n->v4.subnet.addr.family &&
		    ipam_alloc(nc, n, &n->v4, "ipv4", e->req4, &a4, err) < 0)
			return berth_err_prefix(err, "network %s", n->name);
		if (n->v6.subnet.addr.family &&
		    ipam_alloc(nc, n, &n->v6, "ipv6", e->req6, &a6, err) < 0)
			return berth_err_prefix(err, "network %s", n->name);
		free(e->ip4);
		free(e->ip6);
		e->ip4 = a4.family ? net_addr_str(&a4) : NULL;
		e->ip6 = a6.family ? net_addr_str(&a6) : NULL;
		uint8_t mac[6];
		if (mac_req && primary) {
			if (net_mac_parse(mac_req, mac, err) < 0)
				return -1;
		} else if (a4.family) {
			net_mac_from_ip(&a4, mac);
		} else {
			if (getrandom(mac, 6, 0) != 6)
				return berth_err_sys(err, errno, "getrandom");
			mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
		}
		char ms[18];
		net_mac_format(mac, ms);
		free(e->mac);
		e->mac = xstrdup(ms);
		char vn[16];
		net_veth_name(ctr_id, n->id, vn);
		free(e->veth);
		e->veth = xstrdup(vn);
		free(e->ifname);
		e->ifname = xasprintf("eth%d", ifidx);
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    nc->store,
		    "UPDATE network_endpoints SET ipv4 = ?3, ipv6 = ?4, mac = ?5, veth = ?6,"
		    " ifname = ?7, owner_pid = ?8, owner_start = ?9"
		    " WHERE network_id = ?1 AND container_id = ?2",
		    err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ctr_id, -1, SQLITE_STATIC);
		if (e->ip4)
			sqlite3_bind_text(st, 3, e->ip4, -1, SQLITE_STATIC);
		if (e->ip6)
			sqlite3_bind_text(st, 4, e->ip6, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->mac, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, e->veth, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, e->ifname, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, owner);
		sqlite3_bind_int64(st, 9, start);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_CONSTRAINT)
			return berth_err(err, BERTH_E_CONFLICT, "Address already in use");
		if (rc != SQLITE_DONE)
			return store_sql_err(nc->store, err, "leasing address");
		if (primary && cfg && (cfg->nports || cfg->publish_all)) {
			if (publish_ports(nc, ctr_id, n, cfg, e->ip4, e->ip6, err) < 0)
				return -1;
			*ports_changed = true;
		}
		if (store_tx_commit(nc->store, err) < 0)
			return -1;
	}
	e->owner = owner;
	bool hairpin = primary && cfg && (cfg->nports || cfg->publish_all);
	if (plumb(nc, nl, n, e, netns_fd, primary, hairpin, err) < 0)
		return berth_err_prefix(err, "network %s", n->name);
	if (*ports_changed && net_sync_rules(nc, n, err) < 0)
		return -1;
	if (!n->is_default && net_dns_ensure(nc, n, err) < 0)
		return -1;
	return 0;
}

static int write_etc(net_ctx *nc, const net_ctr *c, const net_ctr_config *cfg, const char *dir,
                     ep_row *eps, size_t neps, const network *first, berth_error **err)
{
	if (dir == NULL)
		return 0;
	_cleanup_strv_ char **ips = NULL;
	const char *embedded = NULL;
	_cleanup_free_ char *embedded_s = NULL;
	for (size_t i = 0; i < neps; i++) {
		if (eps[i].ip4)
			ips = strv_append(ips, eps[i].ip4);
		if (eps[i].ip6)
			ips = strv_append(ips, eps[i].ip6);
	}
	_cleanup_network_ network *loaded = NULL;
	if (neps > 0 && first == NULL) {
		if (net_load(nc, eps[0].net_id, &loaded, err) < 0)
			return -1;
		first = loaded;
	}
	if (first && !first->is_default) {
		embedded_s = net_addr_str(&first->v4.gateway);
		embedded = embedded_s;
	}
	_cleanup_free_ char *gw =
	    first && first->is_default ? net_addr_str(&first->v4.gateway) : default_gateway(nc);
	_cleanup_free_ char *hosts = hosts_file(c, cfg, gw, ips);
	_cleanup_free_ char *resolv = resolv_conf(nc, cfg, embedded);
	if (write_in_place(dir, "hosts", hosts, err) < 0 ||
	    write_in_place(dir, "resolv.conf", resolv, err) < 0)
		return -1;
	return 0;
}

static int copy_etc(const char *from_dir, const char *to_dir, berth_error **err)
{
	const char *names[] = {"hosts", "resolv.conf"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", from_dir, names[i]);
		_cleanup_free_ char *data = NULL;
		size_t len;
		if (read_file(p, &data, &len, err) < 0)
			return -1;
		if (write_in_place(to_dir, names[i], data, err) < 0)
			return -1;
	}
	return 0;
}

static int host_etc(const char *to_dir, berth_error **err)
{
	const char *names[] = {"hosts", "resolv.conf"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *p = xasprintf("/etc/%s", names[i]);
		_cleanup_free_ char *data = NULL;
		size_t len;
		if (read_file(p, &data, &len, NULL) < 0)
			data = xstrdup("");
		if (write_in_place(to_dir, names[i], data, err) < 0)
			return -1;
	}
	return 0;
}

int network_ctr_start(net_ctx *nc, const net_ctr *c, const net_start *s, json_t **settings,
                      berth_error **err)
{
	if (settings)
		*settings = NULL;
	const net_ctr_config *cfg = c->cfg;
	const char *mode = cfg->mode;
	if (is_special_mode(mode)) {
		if (network_reclaim(nc, err) < 0)
			return -1;
		if (s->etc_dir) {
			if (!strcmp(mode, "host")) {
				if (host_etc(s->etc_dir, err) < 0)
					return -1;
			} else if (str_has_prefix(mode, "container:") && s->joined_etc_dir) {
				if (copy_etc(s->joined_etc_dir, s->etc_dir, err) < 0)
					return -1;
			} else if (write_etc(nc, c, cfg, s->etc_dir, NULL, 0, NULL, err) < 0) {
				return -1;
			}
		}
		if (settings)
			*settings = network_ctr_settings(nc, c->id, NULL);
		return 0;
	}
	/* leases of dead owners now; rows of removed containers in the lease
	 * transaction below (no write transaction of its own) */
	if (net_reclaim(nc, true, err) < 0)
		return -1;
	if (validate_ports(cfg, err) < 0)
		return -1;
	ep_row *eps = NULL;
	size_t neps = 0;
	if (load_eps(nc, c->id, NULL, &eps, &neps, err) < 0)
		return -1;
	/* a container's first start records its membership in the same
	 * transaction as its lease */
	_cleanup_network_ network *first = NULL;
	struct attach_extra x0 = {.forget_orphans = true};
	if (neps == 0) {
		if (network_get(nc, mode_network(mode), &first, err) < 0)
			return -1;
		eps = xcalloc(1, sizeof(*eps));
		neps = 1;
		eps[0].net_id = xstrdup(first->id);
		eps[0].aliases = strv_dup(cfg->aliases);
		eps[0].req4 = cfg->ipv4 ? xstrdup(cfg->ipv4) : NULL;
		eps[0].req6 = cfg->ipv6 ? xstrdup(cfg->ipv6) : NULL;
		x0.net = first;
		x0.insert = c;
	}
	int r = 0;
	{
		_cleanup_close_ int lock = net_lock(nc, err);
		if (lock < 0) {
			ep_list_free(eps, neps);
			return -1;
		}
		_cleanup_nl_ nl_sock *nl = NULL;
		r = nl_open(-1, &nl, err);
		for (size_t i = 0; i < neps && r == 0; i++) {
			bool changed = false;
			r = attach_one(nc, nl, c->id, &eps[i], s->netns_fd, s->owner, i == 0, cfg,
			               cfg->mac, (int)i, &changed, i == 0 ? &x0 : NULL, err);
		}
	}
	if (r == 0)
		r = write_etc(nc, c, cfg, s->etc_dir, eps, neps, first, err);
	ep_list_free(eps, neps);
	if (r < 0) {
		network_ctr_stop(nc, c->id, NULL);
		return -1;
	}
	if (settings)
		*settings = network_ctr_settings(nc, c->id, NULL);
	return 0;
}

static int release_one(net_ctx *nc, nl_sock *nl, const char *ctr_id, const ep_row *e,
                       bool owner_alive, berth_error **err)
{
	/* A dead container's namespace takes its veth pair with it (deleting
	 * it here would only wait for the kernel's RCU grace period); a
	 * leftover is swept when the bridge is used next. */
	if (e->veth && owner_alive)
		nl_link_del(nl, e->veth, NULL);
	bool had_ports = false;
	{
		_cleanup_tx_ berth_store *tx = NULL;
		if (store_tx_begin(nc->store, err) < 0)
			return -1;
		tx = nc->store;
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    nc->store,
		    "UPDATE network_endpoints SET ipv4 = NULL, ipv6 = NULL, mac = NULL,"
		    " veth = NULL, ifname = NULL, owner_pid = NULL, owner_start = NULL"
		    " WHERE network_id = ?1 AND container_id = ?2",
		    err);
		_cleanup_stmt_ sqlite3_stmt *dp = store_prepare(
		    nc->store,
		    "DELETE FROM network_ports WHERE container_id = ?1 AND network_id = ?2", err);
		if (st == NULL || dp == NULL)
			return -1;
		sqlite3_bind_text(st, 1, e->net_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ctr_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(dp, 1, ctr_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(dp, 2, e->net_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_step(dp) != SQLITE_DONE)
			return store_sql_err(nc->store, err, "releasing lease");
		had_ports = sqlite3_changes(store_db(nc->store)) > 0;
		if (store_tx_commit(nc->store, err) < 0)
			return -1;
	}
	if (had_ports) {
		_cleanup_network_ network *n = NULL;
		if (net_load(nc, e->net_id, &n, err) < 0)
			return -1;
		if (net_sync_rules(nc, n, err) < 0)
			return -1;
	}
	return 0;
}

static bool owners_alive(net_ctx *nc, const char *ctr_id, const ep_row *e)
{
	if (e->owner == 0)
		return false;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT owner_start FROM network_endpoints WHERE network_id = ?1 AND container_id = ?2",
	    NULL);
	if (st == NULL)
		return true;
	sqlite3_bind_text(st, 1, e->net_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ctr_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return true;
	return net_owner_alive(e->owner, sqlite3_column_int64(st, 0));
}

int network_ctr_stop(net_ctx *nc, const char *ctr_id, berth_error **err)
{
	if (network_init(nc, err) < 0)
		return -1;
	ep_row *eps = NULL;
	size_t neps = 0;
	if (load_eps(nc, ctr_id, NULL, &eps, &neps, err) < 0)
		return -1;
	bool any = false;
	for (size_t i = 0; i < neps; i++)
		any |= eps[i].owner != 0 || eps[i].veth != NULL;
	if (!any) {
		ep_list_free(eps, neps);
		return 0;
	}
	_cleanup_close_ int lock = net_lock(nc, err);
	if (lock < 0) {
		ep_list_free(eps, neps);
		return -1;
	}
	/* a netlink socket only if a veth must go (the usual stop after the
	 * container exited has none: its namespace took the pair along) */
	_cleanup_nl_ nl_sock *nl = NULL;
	int r = 0;
	for (size_t i = 0; i < neps && r == 0; i++) {
		bool alive = owners_alive(nc, ctr_id, &eps[i]);
		if (alive && nl == NULL)
			r = nl_open(-1, &nl, err);
		if (r == 0)
			r = release_one(nc, nl, ctr_id, &eps[i], alive, err);
	}
	ep_list_free(eps, neps);
	return r;
}

int network_ctr_forget(net_ctx *nc, const char *ctr_id, berth_error **err)
{
	if (network_init(nc, err) < 0)
		return -1;
	ep_row *eps = NULL;
	size_t neps = 0;
	if (load_eps(nc, ctr_id, NULL, &eps, &neps, err) < 0)
		return -1;
	bool stop = false;
	for (size_t i = 0; i < neps && !stop; i++) {
		if (eps[i].owner == 0)
			continue;
		_cleanup_network_ network *n = NULL;
		/* a user network's DNS answers from the leases: release them */
		stop = net_load(nc, eps[i].net_id, &n, NULL) < 0 || !n->is_default ||
		       owners_alive(nc, ctr_id, &eps[i]);
	}
	ep_list_free(eps, neps);
	if (!stop) {
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    nc->store, "SELECT 1 FROM network_ports WHERE container_id = ?1 LIMIT 1", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
		stop = sqlite3_step(st) == SQLITE_ROW;
	}
	return stop ? network_ctr_stop(nc, ctr_id, err) : 0;
}

int network_ctr_remove(net_ctx *nc, const char *ctr_id, berth_error **err)
{
	if (network_ctr_stop(nc, ctr_id, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store, "DELETE FROM network_endpoints WHERE container_id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(nc->store, err, "removing endpoints");
	return 0;
}

json_t *network_ctr_settings(net_ctx *nc, const char *ctr_id, berth_error **err)
{
	if (network_init(nc, err) < 0)
		return NULL;
	ep_row *eps = NULL;
	size_t neps = 0;
	if (load_eps(nc, ctr_id, NULL, &eps, &neps, err) < 0)
		return NULL;
	json_t *o = json_object();
	json_t *nets = json_object();
	json_object_set_new(o, "Bridge", json_string(""));
	json_object_set_new(o, "SandboxID", json_string(""));
	json_object_set_new(o, "HairpinMode", json_false());
	json_object_set_new(o, "LinkLocalIPv6Address", json_string(""));
	json_object_set_new(o, "LinkLocalIPv6PrefixLen", json_integer(0));
	json_t *ports = json_object();
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store,
	                  "SELECT proto, host_ip, host_port, ctr_port FROM network_ports"
	                  " WHERE container_id = ?1 ORDER BY ctr_port, proto, host_ip",
	                  NULL);
	if (st) {
		sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			_cleanup_free_ char *key =
			    xasprintf("%d/%s", sqlite3_column_int(st, 3),
			              (const char *)sqlite3_column_text(st, 0));
			json_t *arr = json_object_get(ports, key);
			if (arr == NULL) {
				arr = json_array();
				json_object_set_new(ports, key, arr);
			}
			const char *hip = (const char *)sqlite3_column_text(st, 1);
			_cleanup_free_ char *hp = xasprintf("%d", sqlite3_column_int(st, 2));
			json_array_append_new(arr,
			                      json_pack("{s:s,s:s}", "HostIp",
			                                *hip ? hip : "0.0.0.0", "HostPort", hp));
		}
	}
	json_object_set_new(o, "Ports", ports);
	json_object_set_new(o, "SandboxKey", json_string(""));
	json_object_set_new(o, "SecondaryIPAddresses", json_null());
	json_object_set_new(o, "SecondaryIPv6Addresses", json_null());
	const char *top[] = {"EndpointID", "Gateway",     "GlobalIPv6Address",
	                     "IPAddress",  "IPv6Gateway", "MacAddress"};
	for (size_t i = 0; i < ARRAY_SIZE(top); i++)
		json_object_set_new(o, top[i], json_string(""));
	json_object_set_new(o, "GlobalIPv6PrefixLen", json_integer(0));
	json_object_set_new(o, "IPPrefixLen", json_integer(0));
	for (size_t i = 0; i < neps; i++) {
		ep_row *e = &eps[i];
		_cleanup_network_ network *n = NULL;
		if (net_load(nc, e->net_id, &n, NULL) < 0)
			continue;
		bool up = e->owner != 0;
		_cleanup_free_ char *gw4 =
		    up && e->ip4 ? net_addr_str(&n->v4.gateway) : xstrdup("");
		_cleanup_free_ char *gw6 =
		    up && e->ip6 ? net_addr_str(&n->v6.gateway) : xstrdup("");
		json_t *ipam = json_null();
		if (e->req4 || e->req6)
			ipam = json_pack("{s:s,s:s}", "IPv4Address", e->req4 ? e->req4 : "",
			                 "IPv6Address", e->req6 ? e->req6 : "");
		json_t *aliases = n->is_default ? json_null() : json_from_strv(e->aliases);
		if (!n->is_default && up)
			json_array_append_new(aliases, json_sprintf("%.12s", ctr_id));
		json_t *ne = json_pack("{s:o,s:n,s:o,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:s,s:n}",
		                       "IPAMConfig", ipam, "Links", "Aliases", aliases, "NetworkID",
		                       n->id, "EndpointID", up ? e->endpoint_id : "", "Gateway",
		                       gw4, "IPAddress", up && e->ip4 ? e->ip4 : "", "IPPrefixLen",
		                       up && e->ip4 ? n->v4.subnet.len : 0, "IPv6Gateway", gw6,
		                       "GlobalIPv6Address", up && e->ip6 ? e->ip6 : "",
		                       "GlobalIPv6PrefixLen", up && e->ip6 ? n->v6.subnet.len : 0,
		                       "MacAddress", up && e->mac ? e->mac : "", "DriverOpts");
		if (n->is_default && up) {
			json_object_set_new(o, "EndpointID", json_string(e->endpoint_id));
			json_object_set_new(o, "Gateway", json_string(gw4));
			json_object_set_new(o, "IPAddress", json_string(e->ip4 ? e->ip4 : ""));
			json_object_set_new(o, "IPPrefixLen", json_integer(n->v4.subnet.len));
			json_object_set_new(o, "MacAddress", json_string(e->mac ? e->mac : ""));
		}
		json_object_set_new(nets, n->name, ne);
	}
	json_object_set_new(o, "Networks", nets);
	ep_list_free(eps, neps);
	return o;
}

int network_connect(net_ctx *nc, const char *net_ref, const char *ctr_id, const char *ctr_name,
                    const net_connect_opts *o, berth_error **err)
{
	if (network_reclaim(nc, err) < 0)
		return -1;
	_cleanup_network_ network *n = NULL;
	if (network_get(nc, net_ref, &n, err) < 0)
		return -1;
	{
		_cleanup_tx_ berth_store *tx = NULL;
		if (store_tx_begin(nc->store, err) < 0)
			return -1;
		tx = nc->store;
		if (add_member(nc, n, ctr_id, ctr_name, o->aliases, o->ipv4, o->ipv6, err) < 0)
			return -1;
		if (store_tx_commit(nc->store, err) < 0)
			return -1;
	}
	if (o->netns_fd < 0)
		return 0;
	ep_row *eps = NULL;
	size_t neps = 0;
	if (load_eps(nc, ctr_id, NULL, &eps, &neps, err) < 0)
		return -1;
	int r = 0;
	size_t mine = 0;
	for (size_t i = 0; i < neps; i++)
		if (!strcmp(eps[i].net_id, n->id))
			mine = i;
	{
		_cleanup_close_ int lock = net_lock(nc, err);
		_cleanup_nl_ nl_sock *nl = NULL;
		r = lock < 0 ? -1 : nl_open(-1, &nl, err);
		/* the next free ethN in the container */
		int ifidx = 0;
		for (bool clash = true; clash && r == 0; ifidx++) {
			clash = false;
			for (size_t i = 0; i < neps; i++) {
				_cleanup_free_ char *nm = xasprintf("eth%d", ifidx);
				if (eps[i].ifname && !strcmp(eps[i].ifname, nm))
					clash = true;
			}
			if (!clash)
				break;
		}
		bool changed = false;
		net_ctr_config none;
		net_ctr_config_init(&none);
		bool primary = true;
		for (size_t i = 0; i < neps; i++)
			if (i != mine && eps[i].owner)
				primary = false;
		if (r == 0)
			r = attach_one(nc, nl, ctr_id, &eps[mine], o->netns_fd, o->owner, primary,
			               &none, NULL, ifidx, &changed, NULL, err);
	}
	if (r < 0) {
		/* undo: leave the container as it was */
		_cleanup_nl_ nl_sock *nl = NULL;
		if (nl_open(-1, &nl, NULL) == 0)
			release_one(nc, nl, ctr_id, &eps[mine], true, NULL);
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    nc->store,
		    "DELETE FROM network_endpoints WHERE container_id = ?1 AND network_id = ?2",
		    NULL);
		if (st) {
			sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, n->id, -1, SQLITE_STATIC);
			sqlite3_step(st);
		}
	} else if (o->etc_dir) {
		ep_list_free(eps, neps);
		eps = NULL;
		neps = 0;
		net_ctr_config none;
		net_ctr_config_init(&none);
		net_ctr c = {.id = ctr_id, .name = ctr_name, .hostname = o->hostname, .cfg = &none};
		if (load_eps(nc, ctr_id, NULL, &eps, &neps, err) == 0) {
			/* only the hosts file changes; resolv.conf stays */
			_cleanup_strv_ char **ips = NULL;
			for (size_t i = 0; i < neps; i++) {
				if (eps[i].ip4)
					ips = strv_append(ips, eps[i].ip4);
				if (eps[i].ip6)
					ips = strv_append(ips, eps[i].ip6);
			}
			_cleanup_free_ char *hosts = hosts_file(&c, &none, NULL, ips);
			write_in_place(o->etc_dir, "hosts", hosts, NULL);
		}
	}
	ep_list_free(eps, neps);
	return r;
}

int network_disconnect(net_ctx *nc, const char *net_ref, const char *ctr_id, bool force,
                       berth_error **err)
{
	if (network_reclaim(nc, err) < 0)
		return -1;
	_cleanup_network_ network *n = NULL;
	if (network_get(nc, net_ref, &n, err) < 0)
		return -1;
	ep_row *eps = NULL;
	size_t neps = 0;
	if (load_eps(nc, ctr_id, n->id, &eps, &neps, err) < 0)
		return -1;
	if (neps == 0) {
		ep_list_free(eps, neps);
		if (force)
			return 0;
		return berth_err(err, BERTH_E_NOTFOUND,
		                 "container %.12s is not connected to network %s", ctr_id, n->name);
	}
	int r = 0;
	{
		_cleanup_close_ int lock = net_lock(nc, err);
		_cleanup_nl_ nl_sock *nl = NULL;
		r = lock < 0 ? -1 : nl_open(-1, &nl, err);
		if (r == 0)
			r = release_one(nc, nl, ctr_id, &eps[0], true, err);
	}
	ep_list_free(eps, neps);
	if (r < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store, "DELETE FROM network_endpoints WHERE container_id = ?1 AND network_id = ?2",
	    err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, n->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(nc->store, err, "removing endpoint");
	return 0;
}

char *network_ctr_ports_text(net_ctx *nc, const char *ctr_id)
{
	strbuf sb;
	sb_init(&sb);
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT DISTINCT proto, host_ip, host_port, ctr_port, instr(ctr_ip, ':') > 0"
	    " FROM network_ports WHERE container_id = ?1 ORDER BY ctr_port, proto, host_ip",
	    NULL);
	if (st) {
		sqlite3_bind_text(st, 1, ctr_id, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *hip = (const char *)sqlite3_column_text(st, 1);
			bool v6 = sqlite3_column_int(st, 4);
			if (sb.len)
				sb_append(&sb, ", ");
			if (!*hip)
				hip = v6 ? "::" : "0.0.0.0";
			if (strchr(hip, ':'))
				sb_printf(&sb, "%s%s:%d->%d/%s", strcmp(hip, "::") ? "[" : "",
				          strcmp(hip, "::") ? hip : "::", sqlite3_column_int(st, 2),
				          sqlite3_column_int(st, 3),
				          (const char *)sqlite3_column_text(st, 0));
			else
				sb_printf(&sb, "%s:%d->%d/%s", hip, sqlite3_column_int(st, 2),
				          sqlite3_column_int(st, 3),
				          (const char *)sqlite3_column_text(st, 0));
		}
	}
	return sb_steal(&sb);
}

int network_loopback_up(int netns_fd, berth_error **err)
{
	_cleanup_nl_ nl_sock *nl = NULL;
	if (nl_open(netns_fd, &nl, err) < 0)
		return -1;
	int lo = nl_link_index(nl, "lo", err);
	if (lo <= 0)
		return berth_err(err, BERTH_E_IO, "no loopback device in the container");
	return nl_link_set_up(nl, lo, err);
}
