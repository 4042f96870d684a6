/* Network records, their bridges and tables: create, list, inspect,
 * remove, prune, the default network, and reclaiming leftovers. */
#include "network/network.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/digest.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "base/fnv.h"
#include "network/net_int.h"

static const store_migration migrations[] = {
    {"CREATE TABLE networks ("
     " id TEXT PRIMARY KEY,"
     " name TEXT NOT NULL UNIQUE,"
     " bridge TEXT NOT NULL UNIQUE,"
     " created TEXT NOT NULL,"
     " spec TEXT NOT NULL);"
     "CREATE TABLE network_endpoints ("
     " network_id TEXT NOT NULL REFERENCES networks(id),"
     " container_id TEXT NOT NULL,"
     " container_name TEXT NOT NULL,"
     " endpoint_id TEXT NOT NULL,"
     " seq INTEGER NOT NULL,"
     " aliases TEXT NOT NULL DEFAULT '[]',"
     " req_ipv4 TEXT, req_ipv6 TEXT,"
     " ipv4 TEXT, ipv6 TEXT, mac TEXT, veth TEXT, ifname TEXT,"
     " owner_pid INTEGER, owner_start INTEGER,"
     " PRIMARY KEY (network_id, container_id),"
     " UNIQUE (network_id, ipv4), UNIQUE (network_id, ipv6));"
     "CREATE INDEX network_endpoints_ctr ON network_endpoints(container_id);"
     "CREATE TABLE network_ports ("
     " proto TEXT NOT NULL, host_ip TEXT NOT NULL, host_port INTEGER NOT NULL,"
     " container_id TEXT NOT NULL, network_id TEXT NOT NULL,"
     " ctr_ip TEXT NOT NULL, ctr_port INTEGER NOT NULL,"
     " PRIMARY KEY (proto, host_ip, host_port, ctr_ip));"
     "CREATE INDEX network_ports_ctr ON network_ports(container_id);"},
    /* Fewer pages a container start and stop write (each is a WAL frame,
     * and every 64 frames a writer pays a checkpoint with two fsyncs): the
     * rows live in their primary key (by container, then network: what
     * most queries ask), and the address indexes hold addresses only, so
     * a start on an IPv4-only network writes two pages, not five. */
    {"CREATE TABLE network_endpoints_new ("
     " network_id TEXT NOT NULL REFERENCES networks(id),"
     " container_id TEXT NOT NULL,"
     " container_name TEXT NOT NULL,"
     " endpoint_id TEXT NOT NULL,"
     " seq INTEGER NOT NULL,"
     " aliases TEXT NOT NULL DEFAULT '[]',"
     " req_ipv4 TEXT, req_ipv6 TEXT,"
     " ipv4 TEXT, ipv6 TEXT, mac TEXT, veth TEXT, ifname TEXT,"
     " owner_pid INTEGER, owner_start INTEGER,"
     " PRIMARY KEY (container_id, network_id)) WITHOUT ROWID;"
     "INSERT INTO network_endpoints_new SELECT network_id, container_id, container_name,"
     " endpoint_id, seq, aliases, req_ipv4, req_ipv6, ipv4, ipv6, mac, veth, ifname,"
     " owner_pid, owner_start FROM network_endpoints;"
     "DROP TABLE network_endpoints;"
     "ALTER TABLE network_endpoints_new RENAME TO network_endpoints;"
     "CREATE UNIQUE INDEX network_endpoints_ip4 ON network_endpoints(network_id, ipv4)"
     " WHERE ipv4 IS NOT NULL;"
     "CREATE UNIQUE INDEX network_endpoints_ip6 ON network_endpoints(network_id, ipv6)"
     " WHERE ipv6 IS NOT NULL;"},
};

int network_init(net_ctx *nc, berth_error **err)
{
	if (nc->schema_ok)
		return 0;
	if (store_migrate(nc->store, "networks", migrations, ARRAY_SIZE(migrations), err) < 0)
		return -1;
	nc->schema_ok = true;
	return 0;
}

void network_free(network *n)
{
	if (n == NULL)
		return;
	free(n->id);
	free(n->name);
	free(n->driver);
	free(n->bridge);
	free(n->created);
	json_decref(n->labels);
	json_decref(n->options);
	free(n);
}

void network_list_free(network **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		network_free(v[i]);
	free(v);
}

void net_random_id(char out[65])
{
	uint8_t b[32];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* FNV-1a over "ctr/net": a name needs no cryptographic hash, and
 * SHA-256 would initialise OpenSSL (about a millisecond) on every start. */
void net_veth_name(const char *ctr_id, const char *net_id, char out[16])
{
	uint64_t h = FNV1A64_INIT;
	const char *parts[] = {ctr_id, "/", net_id};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		h = fnv1a64_update(h, parts[i], strlen(parts[i]));
	snprintf(out, 16, "vb%011llx", (unsigned long long)(h >> 20));
}

int net_lock(net_ctx *nc, berth_error **err)
{
	const char *rr = store_runroot(nc->store);
	if (mkdir_p(rr, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *p = xasprintf("%s/network.lock", rr);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening %s", p);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			return berth_err_sys(err, e, "locking %s", p);
		}
	}
	return fd;
}

void net_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

long long net_proc_start_time(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_file(path, &data, &len, NULL) < 0)
		return -1;
	/* field 22, counted after the ")" that ends the command name */
	char *p = strrchr(data, ')');
	if (p == NULL)
		return -1;
	int field = 2;
	for (; *p; p++) {
		if (*p == ' ') {
			field++;
			if (field == 22)
				return strtoll(p + 1, NULL, 10);
		}
	}
	return -1;
}

bool net_owner_alive(long pid, long long start)
{
	if (pid <= 0)
		return false;
	long long now = net_proc_start_time((pid_t)pid);
	return now >= 0 && now == start;
}

/* --- records --- */

static json_t *ipam_json(const net_ipam *c)
{
	json_t *o = json_object();
	if (c->subnet.addr.family) {
		json_object_set_new(o, "Subnet", json_string_nocheck(""));
		char b[NET_PREFIX_STRLEN];
		net_prefix_format(&c->subnet, b);
		json_object_set_new(o, "Subnet", json_string(b));
		if (c->range.addr.family) {
			net_prefix_format(&c->range, b);
			json_object_set_new(o, "IPRange", json_string(b));
		}
		char a[NET_ADDR_STRLEN];
		net_addr_format(&c->gateway, a);
		json_object_set_new(o, "Gateway", json_string(a));
	}
	return o;
}

static int ipam_from_json(const json_t *o, net_ipam *c, berth_error **err)
{
	memset(c, 0, sizeof(*c));
	const char *s = json_get_str(o, "Subnet");
	if (s == NULL)
		return 0;
	if (net_prefix_parse(s, &c->subnet, NULL, err) < 0)
		return -1;
	const char *g = json_get_str(o, "Gateway");
	if (g && net_addr_parse(g, &c->gateway, err) < 0)
		return -1;
	const char *r = json_get_str(o, "IPRange");
	if (r && net_prefix_parse(r, &c->range, NULL, err) < 0)
		return -1;
	return 0;
}

static char *spec_json(const network *n)
{
	_cleanup_json_ json_t *o = json_object();
	json_object_set_new(o, "driver", json_string(n->driver));
	json_object_set_new(o, "internal", json_boolean(n->internal));
	json_object_set_new(o, "ipv6", json_boolean(n->ipv6));
	json_object_set_new(o, "default", json_boolean(n->is_default));
	json_object_set_new(o, "mtu", json_integer(n->mtu));
	json_object_set_new(o, "v4", ipam_json(&n->v4));
	json_object_set_new(o, "v6", ipam_json(&n->v6));
	json_object_set(o, "labels", n->labels);
	json_object_set(o, "options", n->options);
	return json_dump_compact(o);
}

static network *row_network(sqlite3_stmt *st, berth_error **err)
{
	network *n = xcalloc(1, sizeof(*n));
	n->id = xstrdup((const char *)sqlite3_column_text(st, 0));
	n->name = xstrdup((const char *)sqlite3_column_text(st, 1));
	n->bridge = xstrdup((const char *)sqlite3_column_text(st, 2));
	n->created = xstrdup((const char *)sqlite3_column_text(st, 3));
	const char *spec = (const char *)sqlite3_column_text(st, 4);
	_cleanup_json_ json_t *o = json_parse_buf(spec, strlen(spec), "network record", err);
	if (o == NULL) {
		network_free(n);
		return NULL;
	}
	const char *d = json_get_str(o, "driver");
	n->driver = xstrdup(d ? d : "bridge");
	n->internal = json_get_bool(o, "internal", false);
	n->ipv6 = json_get_bool(o, "ipv6", false);
	n->is_default = json_get_bool(o, "default", false);
	n->mtu = (int)json_get_int(o, "mtu", 0);
	if (ipam_from_json(json_object_get(o, "v4"), &n->v4, err) < 0 ||
	    ipam_from_json(json_object_get(o, "v6"), &n->v6, err) < 0) {
		network_free(n);
		return NULL;
	}
	n->labels = json_object_get(o, "labels");
	n->labels = n->labels ? json_incref(n->labels) : json_object();
	n->options = json_object_get(o, "options");
	n->options = n->options ? json_incref(n->options) : json_object();
	return n;
}

/* "host" and "none", listed and inspected as Docker does; their ids are
 * derived from the root so they stay the same. */
static network *predefined_network(net_ctx *nc, const char *name)
{
	network *n = xcalloc(1, sizeof(*n));
	_cleanup_free_ char *k = xasprintf("%s/%s", store_root(nc->store), name);
	char d[DIGEST_STR_LEN + 1];
	sha256_digest(k, strlen(k), d);
	n->id = xstrdup(d + 7);
	n->name = xstrdup(name);
	n->driver = xstrdup(!strcmp(name, "host") ? "host" : "null");
	n->bridge = xstrdup("");
	n->created = xstrdup("0001-01-01T00:00:00Z");
	n->predefined = true;
	n->labels = json_object();
	n->options = json_object();
	return n;
}

#define NET_COLS "id, name, bridge, created, spec"

int net_load(net_ctx *nc, const char *id, network **out, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store, "SELECT " NET_COLS " FROM networks WHERE id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return berth_err(err, BERTH_E_NOTFOUND, "network %s not found", id);
	if (rc != SQLITE_ROW)
		return store_sql_err(nc->store, err, "reading network");
	*out = row_network(st, err);
	return *out ? 0 : -1;
}

int network_list(net_ctx *nc, network ***out, size_t *n, berth_error **err)
{
	*out = NULL;
	*n = 0;
	if (network_init(nc, err) < 0 || network_ensure_default(nc, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store, "SELECT " NET_COLS " FROM networks ORDER BY name", err);
	if (st == NULL)
		return -1;
	network **v = NULL;
	size_t cnt = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		network *x = row_network(st, err);
		if (x == NULL) {
			network_list_free(v, cnt);
			return -1;
		}
		v = xreallocarray(v, cnt + 1, sizeof(*v));
		v[cnt++] = x;
	}
	if (rc != SQLITE_DONE) {
		network_list_free(v, cnt);
		return store_sql_err(nc->store, err, "listing networks");
	}
	const char *pre[] = {"host", "none"};
	for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
		v = xreallocarray(v, cnt + 1, sizeof(*v));
		v[cnt++] = predefined_network(nc, pre[i]);
	}
	/* by name, as Docker lists them */
	for (size_t i = 1; i < cnt; i++)
		for (size_t j = i; j > 0 && strcmp(v[j - 1]->name, v[j]->name) > 0; j--) {
			network *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	*n = cnt;
	return 0;
}

int network_get(net_ctx *nc, const char *ref, network **out, berth_error **err)
{
	*out = NULL;
	if (network_init(nc, err) < 0 || network_ensure_default(nc, err) < 0)
		return -1;
	/* exact name or id first, then a unique id prefix (as Docker) */
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store, "SELECT " NET_COLS " FROM networks WHERE name = ?1 OR id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = row_network(st, err);
		return *out ? 0 : -1;
	}
	const char *pre[] = {"host", "none"};
	for (size_t i = 0; i < ARRAY_SIZE(pre); i++) {
		network *p = predefined_network(nc, pre[i]);
		if (!strcmp(ref, pre[i]) || (strlen(ref) >= 3 && str_has_prefix(p->id, ref))) {
			*out = p;
			return 0;
		}
		network_free(p);
	}
	bool hex = *ref != 0;
	for (const char *p = ref; *p; p++)
		hex &= isxdigit((unsigned char)*p) && !isupper((unsigned char)*p);
	if (hex) {
		_cleanup_stmt_ sqlite3_stmt *q = store_prepare(
		    nc->store, "SELECT " NET_COLS " FROM networks WHERE substr(id, 1, ?2) = ?1",
		    err);
		if (q == NULL)
			return -1;
		sqlite3_bind_text(q, 1, ref, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, (int)strlen(ref));
		if (sqlite3_step(q) == SQLITE_ROW) {
			network *x = row_network(q, err);
			if (x == NULL)
				return -1;
			if (sqlite3_step(q) == SQLITE_ROW) {
				network_free(x);
				return berth_err(
				    err, BERTH_E_INVALID,
				    "network %s is ambiguous (2 matches found based on "
				    "ID prefix)",
				    ref);
			}
			*out = x;
			return 0;
		}
	}
	return berth_err(err, BERTH_E_NOTFOUND, "network %s not found", ref);
}

static int insert_network(net_ctx *nc, const network *n, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store, "INSERT INTO networks (" NET_COLS ") VALUES (?1, ?2, ?3, ?4, ?5)", err);
	if (st == NULL)
		return -1;
	_cleanup_free_ char *spec = spec_json(n);
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, n->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, n->bridge, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, n->created, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, spec, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT) {
		const char *msg = sqlite3_errmsg(store_db(nc->store));
		if (strstr(msg, "bridge"))
			return berth_err(err, BERTH_E_CONFLICT,
			                 "bridge name %s is already used by another network",
			                 n->bridge);
		return berth_err(err, BERTH_E_CONFLICT, "network with name %s already exists",
		                 n->name);
	}
	if (rc != SQLITE_DONE)
		return store_sql_err(nc->store, err, "saving network");
	return 0;
}

/* --- address space --- */

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= IFNAMSIZ)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return true;
}

static bool valid_net_name(const char *s)
{
	if (!isalnum((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return false;
	return strlen(s) <= 128;
}

/* Does p overlap a route of the host (other than via our own bridge) or
 * another network of this store? Fills a description of the clash. */
static int subnet_clash(net_ctx *nc, nl_sock *nl, const net_prefix *p, const char *own_bridge,
                        char **what, berth_error **err)
{
	*what = NULL;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store, "SELECT " NET_COLS " FROM networks", err);
	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		_cleanup_network_ network *o = row_network(st, err);
		if (o == NULL)
			return -1;
		if (own_bridge && !strcmp(o->bridge, own_bridge))
			continue;
		const net_prefix *q = p->addr.family == AF_INET ? &o->v4.subnet : &o->v6.subnet;
		if (q->addr.family && net_prefix_overlaps(p, q)) {
			*what = xasprintf("network %s", o->name);
			return 1;
		}
	}
	net_prefix *dsts = NULL;
	size_t nd = 0;
	if (nl_route_dsts(nl, p->addr.family, &dsts, &nd, err) < 0)
		return -1;
	int own = own_bridge ? nl_link_index(nl, own_bridge, NULL) : 0;
	(void)own;
	int r = 0;
	for (size_t i = 0; i < nd && !r; i++) {
		if (dsts[i].len == 0)
			continue; /* the default route overlaps everything */
		if (p->addr.family == AF_INET6 && dsts[i].addr.b[0] == 0xfe &&
		    (dsts[i].addr.b[1] & 0xc0) == 0x80)
			continue; /* link-local */
		if (net_prefix_overlaps(p, &dsts[i])) {
			/* a route of our own bridge (re-creating after a crash) */
			if (own_bridge) {
				nl_link_info li;
				if (nl_link_get(nl, own_bridge, &li, NULL) == 1) {
					net_addr *addrs = NULL;
					size_t na = 0;
					bool mine = false;
					if (nl_addr_list(nl, p->addr.family, &addrs, &na, NULL) ==
					    0) {
						for (size_t k = 0; k < na; k++)
							mine |= net_prefix_contains(p, &addrs[k]);
					}
					free(addrs);
					if (mine)
						continue;
				}
			}
			_cleanup_free_ char *d = net_prefix_str(&dsts[i]);
			*what = xasprintf("the host's route to %s", d);
			r = 1;
		}
	}
	free(dsts);
	return r;
}

/* Pick a free /24 from the pools (config "default-address-pools", else
 * 10.78.0.0/15). */
static int pick_subnet(net_ctx *nc, nl_sock *nl, net_prefix *out, berth_error **err)
{
	static char *const def_pools[] = {"10.78.0.0/15", NULL};
	char *const *pools =
	    nc->cfg && nc->cfg->default_address_pools ? nc->cfg->default_address_pools : def_pools;
	for (char *const *pp = pools; *pp; pp++) {
		net_prefix pool;
		if (net_prefix_parse(*pp, &pool, NULL, err) < 0)
			return berth_err_prefix(err, "default-address-pools");
		if (pool.addr.family != AF_INET || pool.len > 24)
			continue;
		uint64_t count = (uint64_t)1 << (24 - pool.len);
		for (uint64_t i = 0; i < count; i++) {
			net_prefix c = {.len = 24};
			if (!net_prefix_nth(&pool, i * 256, &c.addr))
				break;
			_cleanup_free_ char *what = NULL;
			int r = subnet_clash(nc, nl, &c, NULL, &what, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				*out = c;
				return 0;
			}
		}
	}
	return berth_err(err, BERTH_E_CONFLICT,
	                 "could not find an available, non-overlapping IPv4 address pool among "
	                 "the defaults to assign to the network");
}

static int fill_ipam(net_ipam *c, const char *subnet, const char *gateway, const char *range,
                     berth_error **err)
{
	if (net_prefix_parse(subnet, &c->subnet, NULL, err) < 0)
		return -1;
	int max = c->subnet.addr.family == AF_INET ? 30 : 126;
	if (c->subnet.len > max)
		return berth_err(err, BERTH_E_INVALID, "subnet %s is too small", subnet);
	if (gateway) {
		if (net_addr_parse(gateway, &c->gateway, err) < 0)
			return -1;
		if (!net_prefix_contains(&c->subnet, &c->gateway))
			return berth_err(err, BERTH_E_INVALID, "no matching subnet for gateway %s",
			                 gateway);
	} else {
		net_prefix_nth(&c->subnet, 1, &c->gateway);
	}
	if (range) {
		if (net_prefix_parse(range, &c->range, NULL, err) < 0)
			return -1;
		if (c->range.addr.family != c->subnet.addr.family || c->range.len < c->subnet.len ||
		    !net_prefix_contains(&c->subnet, &c->range.addr))
			return berth_err(err, BERTH_E_INVALID, "no matching subnet for range %s",
			                 range);
	}
	return 0;
}

static void now_rfc3339(char **out)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*out = time_rfc3339nano(&ts);
}

static json_t *kv_object(char **kv, berth_error **err)
{
	json_t *o = json_object();
	for (; kv && *kv; kv++) {
		const char *eq = strchr(*kv, '=');
		_cleanup_free_ char *k = eq ? xstrndup(*kv, (size_t)(eq - *kv)) : xstrdup(*kv);
		json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
	}
	return o;
}

/* runroot/network/rules-<id>: this network's nftables table was made
 * (since the host booted: runroot is a tmpfs as a rule, and both go with a
 * reboot). */
static char *rules_mark(net_ctx *nc, const network *n)
{
	return xasprintf("%s/network/rules-%.12s", store_runroot(nc->store), n->id);
}

static int create_plumbing(net_ctx *nc, const network *n, berth_error **err)
{
	_cleanup_nl_ nl_sock *nl = NULL;
	if (nl_open(-1, &nl, err) < 0)
		return -1;
	int idx;
	int r = net_ensure_bridge(nc, nl, n, &idx, err);
	if (r < 0)
		return -1;
	return r == 1 ? 0 : net_sync_rules(nc, n, err);
}

static int remove_plumbing(net_ctx *nc, const network *n, berth_error **err)
{
	net_dns_stop(nc, n);
	_cleanup_free_ char *t = nft_table_name(n->id);
	if (nft_table_delete(t, err) < 0)
		return -1;
	_cleanup_free_ char *mark = rules_mark(nc, n);
	unlink(mark);
	nft_foreign_forward(n->bridge, false, NULL);
	_cleanup_nl_ nl_sock *nl = NULL;
	if (nl_open(-1, &nl, err) < 0)
		return -1;
	return nl_link_del(nl, n->bridge, err);
}

int network_create(net_ctx *nc, const net_create_opts *o, network **out, berth_error **err)
{
	if (out)
		*out = NULL;
	if (network_init(nc, err) < 0)
		return -1;
	if (o->name == NULL || !valid_net_name(o->name))
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid network name \"%s\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
		                 "allowed",
		                 o->name ? o->name : "");
	if (o->driver && strcmp(o->driver, "bridge") != 0)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "plugin \"%s\" not found: berth supports the bridge driver",
		                 o->driver);
	if (!strcmp(o->name, "host") || !strcmp(o->name, "none") ||
	    !strcmp(o->name, NET_DEFAULT_NAME))
		return berth_err(err, BERTH_E_CONFLICT,
		                 "%s is a pre-defined network and cannot be created", o->name);
	_cleanup_network_ network *n = xcalloc(1, sizeof(*n));
	char id[65];
	net_random_id(id);
	n->id = xstrdup(id);
	n->name = xstrdup(o->name);
	n->driver = xstrdup("bridge");
	n->internal = o->internal;
	n->ipv6 = o->ipv6;
	now_rfc3339(&n->created);
	n->labels = kv_object(o->labels, err);
	n->options = kv_object(o->options, err);
	const char *brname = json_get_str(n->options, "com.docker.network.bridge.name");
	n->bridge = brname ? xstrdup(brname) : xasprintf("br-%.12s", id);
	if (!valid_ifname(n->bridge))
		return berth_err(err, BERTH_E_INVALID, "invalid bridge name: %s", n->bridge);
	const char *mtu = json_get_str(n->options, "com.docker.network.driver.mtu");
	if (mtu) {
		char *end;
		long v = strtol(mtu, &end, 10);
		if (*end || v < 68 || v > 65535)
			return berth_err(err, BERTH_E_INVALID, "invalid MTU: %s", mtu);
		n->mtu = (int)v;
	} else if (nc->cfg && nc->cfg->mtu) {
		n->mtu = nc->cfg->mtu;
	}
	/* --subnet may be given twice (v4 and v6): sort them by family */
	const char *s4 = o->subnet, *g4 = o->gateway, *r4 = o->ip_range;
	const char *s6 = o->subnet6, *g6 = o->gateway6, *r6 = o->ip_range6;
	if (s4 && strchr(s4, ':') && s6 == NULL) {
		s6 = s4, g6 = g4, r6 = r4;
		s4 = g4 = r4 = NULL;
	}
	if ((g4 || r4) && !s4)
		return berth_err(err, BERTH_E_INVALID,
		                 "--gateway and --ip-range need the --subnet they belong to");
	if (s6 && !o->ipv6)
		return berth_err(err, BERTH_E_INVALID,
		                 "an IPv6 subnet needs --ipv6 (EnableIPv6) on the network");
	if (o->ipv6 && !s6)
		return berth_err(err, BERTH_E_INVALID,
		                 "--ipv6 needs an IPv6 --subnet (berth has no default IPv6 pool)");

	_cleanup_close_ int lock = net_lock(nc, err);
	if (lock < 0)
		return -1;
	_cleanup_nl_ nl_sock *nl = NULL;
	if (nl_open(-1, &nl, err) < 0)
		return -1;
	nl_link_info li;
	int exists = nl_link_get(nl, n->bridge, &li, err);
	if (exists < 0)
		return -1;
	if (exists)
		return berth_err(err, BERTH_E_CONFLICT,
		                 "a link named %s already exists on the host", n->bridge);
	if (s4) {
		if (fill_ipam(&n->v4, s4, g4, r4, err) < 0)
			return -1;
		if (n->v4.subnet.addr.family != AF_INET)
			return berth_err(err, BERTH_E_INVALID, "invalid IPv4 subnet: %s", s4);
	} else if (pick_subnet(nc, nl, &n->v4.subnet, err) < 0) {
		return -1;
	} else {
		net_prefix_nth(&n->v4.subnet, 1, &n->v4.gateway);
	}
	if (s6) {
		if (fill_ipam(&n->v6, s6, g6, r6, err) < 0)
			return -1;
		if (n->v6.subnet.addr.family != AF_INET6)
			return berth_err(err, BERTH_E_INVALID, "invalid IPv6 subnet: %s", s6);
	}
	for (int f = 0; f < 2; f++) {
		const net_prefix *p = f ? &n->v6.subnet : &n->v4.subnet;
		if (!p->addr.family)
			continue;
		_cleanup_free_ char *what = NULL;
		int r = subnet_clash(nc, nl, p, NULL, &what, err);
		if (r < 0)
			return -1;
		if (r) {
			_cleanup_free_ char *ps = net_prefix_str(p);
			return berth_err(err, BERTH_E_CONFLICT,
			                 "Pool overlaps with other one on this address space: %s "
			                 "overlaps with %s",
			                 ps, what);
		}
	}
	{
		_cleanup_tx_ berth_store *tx = NULL;
		if (store_tx_begin(nc->store, err) < 0)
			return -1;
		tx = nc->store;
		if (insert_network(nc, n, err) < 0)
			return -1;
		if (store_tx_commit(nc->store, err) < 0)
			return -1;
	}
	if (create_plumbing(nc, n, err) < 0) {
		/* leave nothing behind: the record and whatever was made */
		remove_plumbing(nc, n, NULL);
		_cleanup_stmt_ sqlite3_stmt *st =
		    store_prepare(nc->store, "DELETE FROM networks WHERE id = ?1", NULL);
		if (st) {
			sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
			sqlite3_step(st);
		}
		return -1;
	}
	if (out)
		*out = steal_ptr(n);
	return 0;
}

/* The default network's record. Its bridge is made on first use. */
int network_ensure_default(net_ctx *nc, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store, "SELECT 1 FROM networks WHERE name = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, NET_DEFAULT_NAME, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		return 0;
	_cleanup_network_ network *n = xcalloc(1, sizeof(*n));
	char id[65];
	net_random_id(id);
	n->id = xstrdup(id);
	n->name = xstrdup(NET_DEFAULT_NAME);
	n->driver = xstrdup("bridge");
	n->is_default = true;
	now_rfc3339(&n->created);
	n->bridge = xstrdup(nc->cfg && nc->cfg->bridge ? nc->cfg->bridge : NET_DEFAULT_BRIDGE);
	if (!valid_ifname(n->bridge))
		return berth_err(err, BERTH_E_INVALID, "config: invalid bridge name: %s",
		                 n->bridge);
	n->mtu = nc->cfg ? nc->cfg->mtu : 0;
	n->labels = json_object();
	n->options = json_pack("{s:s,s:s,s:s,s:s}", "com.docker.network.bridge.default_bridge",
	                       "true", "com.docker.network.bridge.enable_ip_masquerade", "true",
	                       "com.docker.network.bridge.name", n->bridge,
	                       "com.docker.network.driver.mtu", "1500");
	_cleanup_nl_ nl_sock *nl = NULL;
	if (nl_open(-1, &nl, err) < 0)
		return -1;
	if (nc->cfg && nc->cfg->default_subnet) {
		net_addr host;
		if (net_prefix_parse(nc->cfg->default_subnet, &n->v4.subnet, &host, err) < 0)
			return berth_err_prefix(err, "config \"default-subnet\"");
		if (n->v4.subnet.addr.family != AF_INET || n->v4.subnet.len > 30)
			return berth_err(
			    err, BERTH_E_INVALID,
			    "config \"default-subnet\": %s is not a usable IPv4 subnet",
			    nc->cfg->default_subnet);
		/* "10.77.0.1/16" names the gateway as docker's "bip" does */
		if (net_addr_eq(&host, &n->v4.subnet.addr))
			net_prefix_nth(&n->v4.subnet, 1, &n->v4.gateway);
		else
			n->v4.gateway = host;
		_cleanup_free_ char *what = NULL;
		int r = subnet_clash(nc, nl, &n->v4.subnet, n->bridge, &what, err);
		if (r < 0)
			return -1;
		if (r)
			return berth_err(err, BERTH_E_CONFLICT,
			                 "config \"default-subnet\" %s overlaps with %s",
			                 nc->cfg->default_subnet, what);
	} else {
		/* 10.77.0.0/16, clear of docker's 172.17.0.0/16 and podman's
		 * 10.88.0.0/16; the next free /16 if the host routes it. */
		bool found = false;
		for (int i = 77; i < 88 && !found; i++) {
			net_prefix c = {.len = 16};
			_cleanup_free_ char *s = xasprintf("10.%d.0.0/16", i);
			net_prefix_parse(s, &c, NULL, NULL);
			_cleanup_free_ char *what = NULL;
			int r = subnet_clash(nc, nl, &c, n->bridge, &what, err);
			if (r < 0)
				return -1;
			if (r == 0) {
				n->v4.subnet = c;
				found = true;
			}
		}
		if (!found)
			return berth_err(err, BERTH_E_CONFLICT,
			                 "no free subnet for the default bridge: set "
			                 "\"default-subnet\" in %s",
			                 BERTH_CONFIG_DEFAULT_PATH);
		net_prefix_nth(&n->v4.subnet, 1, &n->v4.gateway);
	}
	_cleanup_tx_ berth_store *tx = NULL;
	bool outer = store_in_tx(nc->store);
	if (!outer) {
		if (store_tx_begin(nc->store, err) < 0)
			return -1;
		tx = nc->store;
	}
	/* re-check inside the transaction: another berth may have won */
	_cleanup_stmt_ sqlite3_stmt *again =
	    store_prepare(nc->store, "SELECT 1 FROM networks WHERE name = ?1", err);
	if (again == NULL)
		return -1;
	sqlite3_bind_text(again, 1, NET_DEFAULT_NAME, -1, SQLITE_STATIC);
	if (sqlite3_step(again) == SQLITE_ROW)
		return 0;
	if (insert_network(nc, n, err) < 0)
		return -1;
	if (!outer)
		return store_tx_commit(nc->store, err);
	return 0;
}

int network_count_members(net_ctx *nc, const char *net_id, bool running_only, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    running_only
	        ? "SELECT count(*) FROM network_endpoints WHERE network_id = ?1 AND owner_pid "
	          "IS NOT NULL"
	        : "SELECT count(*) FROM network_endpoints WHERE network_id = ?1",
	    err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, net_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_sql_err(nc->store, err, "counting endpoints");
	return sqlite3_column_int(st, 0);
}

static int remove_locked(net_ctx *nc, const network *n, berth_error **err)
{
	int members = network_count_members(nc, n->id, false, err);
	if (members < 0)
		return -1;
	if (members > 0)
		return berth_err(err, BERTH_E_CONFLICT,
		                 "error while removing network: network %s id %s has active "
		                 "endpoints",
		                 n->name, n->id);
	if (remove_plumbing(nc, n, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store, "DELETE FROM networks WHERE id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(nc->store, err, "removing network");
	return 0;
}

int network_remove(net_ctx *nc, const char *ref, berth_error **err)
{
	if (network_reclaim(nc, err) < 0)
		return -1;
	_cleanup_network_ network *n = NULL;
	if (network_get(nc, ref, &n, err) < 0)
		return -1;
	if (n->is_default || n->predefined)
		return berth_err(err, BERTH_E_PERM,
		                 "%s is a pre-defined network and cannot be removed", n->name);
	_cleanup_close_ int lock = net_lock(nc, err);
	if (lock < 0)
		return -1;
	return remove_locked(nc, n, err);
}

int network_prune(net_ctx *nc, char ***removed, berth_error **err)
{
	*removed = NULL;
	if (network_reclaim(nc, err) < 0)
		return -1;
	network **v = NULL;
	size_t cnt = 0;
	if (network_list(nc, &v, &cnt, err) < 0)
		return -1;
	_cleanup_close_ int lock = net_lock(nc, err);
	if (lock < 0) {
		network_list_free(v, cnt);
		return -1;
	}
	char **out = xcalloc(1, sizeof(char *));
	int r = 0;
	for (size_t i = 0; i < cnt && r == 0; i++) {
		if (v[i]->is_default || v[i]->predefined)
			continue;
		int m = network_count_members(nc, v[i]->id, false, err);
		if (m < 0) {
			r = -1;
			break;
		}
		if (m > 0)
			continue;
		if (remove_locked(nc, v[i], err) < 0) {
			r = -1;
			break;
		}
		out = strv_append(out, v[i]->name);
	}
	network_list_free(v, cnt);
	*removed = out;
	return r;
}

/* --- plumbing --- */

static int enable_forwarding(bool v6, berth_error **err)
{
	_cleanup_free_ char *cur = NULL;
	size_t len;
	if (read_file("/proc/sys/net/ipv4/ip_forward", &cur, &len, NULL) < 0 || cur[0] != '1') {
		if (net_sysctl_set("ipv4/ip_forward", "1", err) < 0)
			return -1;
	}
	if (v6) {
		_cleanup_free_ char *c6 = NULL;
		if (read_file("/proc/sys/net/ipv6/conf/all/forwarding", &c6, &len, NULL) < 0 ||
		    c6[0] != '1') {
			if (net_sysctl_set("ipv6/conf/all/forwarding", "1", err) < 0)
				return -1;
		}
	}
	return 0;
}

int net_ensure_bridge(net_ctx *nc, nl_sock *nl, const network *n, int *ifindex, berth_error **err)
{
	nl_link_info li;
	int r = nl_link_get(nl, n->bridge, &li, err);
	if (r < 0)
		return -1;
	if (r == 1 && strcmp(li.kind, "bridge") != 0)
		return berth_err(err, BERTH_E_CONFLICT, "%s exists on the host and is not a bridge",
		                 n->bridge);
	if (r == 0) {
		uint8_t mac[6];
		if (getrandom(mac, sizeof(mac), 0) != (ssize_t)sizeof(mac))
			return berth_err_sys(err, errno, "getrandom");
		mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
		struct nl_bridge_opts bo = {.mtu = n->mtu, .mac = mac, .group = BERTH_BRIDGE_GROUP};
		berth_error *e = NULL;
		if (nl_bridge_create(nl, n->bridge, &bo, &e) < 0) {
			/* another berth made it first: fine */
			if (e->sys_errno != EEXIST) {
				if (err && *err == NULL)
					*err = e;
				else
					berth_error_free(e);
				return -1;
			}
			berth_error_free(e);
		}
		if (nl_link_get(nl, n->bridge, &li, err) != 1)
			return berth_err(err, BERTH_E_IO, "bridge %s vanished", n->bridge);
		if (n->v6.subnet.addr.family) {
			_cleanup_free_ char *p = xasprintf("ipv6/conf/%s/accept_dad", n->bridge);
			net_sysctl_set(p, "0", NULL);
		}
		if (n->v4.subnet.addr.family &&
		    nl_addr_add(nl, li.index, &n->v4.gateway, n->v4.subnet.len, err) < 0)
			return -1;
		if (n->v6.subnet.addr.family &&
		    nl_addr_add(nl, li.index, &n->v6.gateway, n->v6.subnet.len, err) < 0)
			return -1;
		/* the host's 127.0.0.1 may reach published ports (DNAT to here) */
		_cleanup_free_ char *rl = xasprintf("ipv4/conf/%s/route_localnet", n->bridge);
		if (net_sysctl_set(rl, "1", err) < 0)
			return -1;
		if (nl_link_set_up(nl, li.index, err) < 0)
			return -1;
	}
	if (!n->internal && enable_forwarding(n->v6.subnet.addr.family != 0, err) < 0)
		return -1;
	*ifindex = li.index;
	if (r == 1) {
		/* a bridge of the same name another root made (the default
		 * berth0 is every root's): this network's table is made once */
		_cleanup_free_ char *mark = rules_mark(nc, n);
		if (access(mark, F_OK) < 0 && net_sync_rules(nc, n, err) < 0)
			return -1;
		/* a firewall that appeared since (docker started later) */
		_cleanup_free_ char *stamp =
		    xasprintf("%s/network-fwd-%s.gen", store_runroot(nc->store), n->bridge);
		if (nft_foreign_check(n->bridge, stamp) < 0)
			log_debug("network %s: cannot check other firewalls' FORWARD chains",
			          n->name);
	}
	if (r == 0) {
		/* a new bridge gets its table (masquerade, isolation) at once;
		 * later starts touch nftables only when ports change */
		if (net_sync_rules(nc, n, err) < 0)
			return -1;
		return 1;
	}
	return 0;
}

int net_sync_rules(net_ctx *nc, const network *n, berth_error **err)
{
	_cleanup_free_ char *table = nft_table_name(n->id);
	nft_net_spec s = {.table = table,
	                  .bridge = n->bridge,
	                  .subnet4 = n->v4.subnet,
	                  .subnet6 = n->v6.subnet,
	                  .internal = n->internal,
	                  .masquerade = true};
	const char *mq = json_get_str(n->options, "com.docker.network.bridge.enable_ip_masquerade");
	if (mq && !strcmp(mq, "false"))
		s.masquerade = false;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store,
	                  "SELECT proto, host_ip, host_port, ctr_ip, ctr_port FROM network_ports"
	                  " WHERE network_id = ?1 ORDER BY host_port",
	                  err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	_cleanup_free_ nft_port_map *maps = NULL;
	size_t nm = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		nft_port_map m = {0};
		m.proto = !strcmp((const char *)sqlite3_column_text(st, 0), "udp") ? IPPROTO_UDP
		                                                                   : IPPROTO_TCP;
		const char *hip = (const char *)sqlite3_column_text(st, 1);
		if (*hip && net_addr_parse(hip, &m.host_ip, err) < 0)
			return -1;
		m.host_port = (uint16_t)sqlite3_column_int(st, 2);
		if (net_addr_parse((const char *)sqlite3_column_text(st, 3), &m.ctr_ip, err) < 0)
			return -1;
		m.ctr_port = (uint16_t)sqlite3_column_int(st, 4);
		maps = xreallocarray(maps, nm + 1, sizeof(*maps));
		maps[nm++] = m;
	}
	s.maps = maps;
	s.nmaps = nm;
	_cleanup_free_ char *script = nft_net_script(&s);
	if (nft_run(script, err) < 0)
		return berth_err_prefix(err, "network %s", n->name);
	/* the mark that this network's table is in place (net_ensure_bridge) */
	_cleanup_free_ char *mark = rules_mark(nc, n);
	_cleanup_free_ char *dir = xasprintf("%s/network", store_runroot(nc->store));
	mkdir(dir, 0700);
	int mfd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (mfd >= 0)
		close(mfd);
	berth_error *fe = NULL;
	if (nft_foreign_forward(n->bridge, true, &fe) < 0) {
		log_warn("network %s: accepting its traffic in other firewalls' FORWARD chains: %s",
		         n->name, fe->msg);
		berth_error_free(fe);
	}
	return 0;
}

int net_sweep_bridge(net_ctx *nc, nl_sock *nl, const network *n, berth_error **err)
{
	nl_link_info br;
	int r = nl_link_get(nl, n->bridge, &br, err);
	if (r <= 0)
		return r;
	nl_link_info *links = NULL;
	size_t nl_n = 0;
	if (nl_link_list(nl, &links, &nl_n, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT 1 FROM network_endpoints WHERE network_id = ?1 AND veth = ?2 AND owner_pid "
	    "IS NOT NULL",
	    err);
	if (st == NULL) {
		free(links);
		return -1;
	}
	for (size_t i = 0; i < nl_n; i++) {
		if (links[i].master != br.index || strcmp(links[i].kind, "veth") != 0 ||
		    !str_has_prefix(links[i].name, "vb"))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, links[i].name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			continue;
		nl_link_del(nl, links[i].name, NULL);
	}
	free(links);
	return 0;
}

int network_reclaim(net_ctx *nc, berth_error **err)
{
	return net_reclaim(nc, false, err);
}

int net_reclaim(net_ctx *nc, bool skip_orphans, berth_error **err)
{
	if (network_init(nc, err) < 0)
		return -1;
	/* cheap check first: any lease whose owner is gone? (of a container
	 * that still exists: the rows of removed ones are forgotten below or
	 * in the next lease transaction, see network_ctr_forget) */
	bool ctrs = store_table_exists(nc->store, "containers");
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    ctrs ? "SELECT container_id, owner_pid, owner_start FROM network_endpoints"
	           " WHERE owner_pid IS NOT NULL AND container_id IN (SELECT id FROM containers)"
	         : "SELECT container_id, owner_pid, owner_start FROM network_endpoints"
	           " WHERE owner_pid IS NOT NULL",
	    err);
	if (st == NULL)
		return -1;
	char **dead = NULL;
	while (sqlite3_step(st) == SQLITE_ROW) {
		long pid = (long)sqlite3_column_int64(st, 1);
		long long start = sqlite3_column_int64(st, 2);
		if (!net_owner_alive(pid, start)) {
			const char *c = (const char *)sqlite3_column_text(st, 0);
			if (!strv_contains(dead, c))
				dead = strv_append(dead, c);
		}
	}
	int r = 0;
	for (char **d = dead; d && *d && r == 0; d++)
		r = network_ctr_stop(nc, *d, err);
	if (dead && r == 0) {
		/* veths whose lease is gone (their namespace may be held) */
		network **v = NULL;
		size_t cnt = 0;
		_cleanup_nl_ nl_sock *nl = NULL;
		if (nl_open(-1, &nl, NULL) == 0 && network_list(nc, &v, &cnt, NULL) == 0) {
			_cleanup_close_ int lock = net_lock(nc, NULL);
			for (size_t i = 0; i < cnt; i++)
				if (!v[i]->predefined)
					net_sweep_bridge(nc, nl, v[i], NULL);
		}
		network_list_free(v, cnt);
	}
	strv_free(dead);
	if (r < 0)
		return -1;
	/* members whose container record is gone (removed, or a crash in
	 * the middle of a removal): a container is removed only once dead,
	 * and its leases were released at stop or left for here by
	 * network_ctr_forget. A container start does this inside its lease
	 * transaction instead (net_forget_orphans). */
	if (skip_orphans)
		return 0;
	return net_forget_orphans(nc, err);
}

int net_forget_orphans(net_ctx *nc, berth_error **err)
{
	if (!store_table_exists(nc->store, "containers"))
		return 0;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(nc->store,
	                  "DELETE FROM network_endpoints"
	                  " WHERE container_id NOT IN (SELECT id FROM containers)",
	                  err);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(nc->store, err, "forgetting removed containers");
	return 0;
}

/* --- inspect --- */

json_t *network_inspect_json(net_ctx *nc, const network *n, berth_error **err)
{
	json_t *o = json_object();
	json_object_set_new(o, "Name", json_string(n->name));
	json_object_set_new(o, "Id", json_string(n->id));
	json_object_set_new(o, "Created", json_string(n->created));
	json_object_set_new(o, "Scope", json_string("local"));
	json_object_set_new(o, "Driver", json_string(n->driver));
	json_object_set_new(o, "EnableIPv6", json_boolean(n->ipv6));
	json_t *cfgs = json_array();
	if (n->v4.subnet.addr.family)
		json_array_append_new(cfgs, ipam_json(&n->v4));
	if (n->v6.subnet.addr.family)
		json_array_append_new(cfgs, ipam_json(&n->v6));
	json_object_set_new(
	    o, "IPAM", json_pack("{s:s,s:n,s:o}", "Driver", "default", "Options", "Config", cfgs));
	json_object_set_new(o, "Internal", json_boolean(n->internal));
	json_object_set_new(o, "Attachable", json_false());
	json_object_set_new(o, "Ingress", json_false());
	json_object_set_new(o, "ConfigFrom", json_pack("{s:s}", "Network", ""));
	json_object_set_new(o, "ConfigOnly", json_false());
	json_t *ctrs = json_object();
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT container_id, container_name, endpoint_id, mac, ipv4, ipv6 FROM "
	    "network_endpoints WHERE network_id = ?1 AND owner_pid IS NOT NULL ORDER BY seq",
	    err);
	if (st == NULL) {
		json_decref(o);
		json_decref(ctrs);
		return NULL;
	}
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *ip4 = (const char *)sqlite3_column_text(st, 4);
		const char *ip6 = (const char *)sqlite3_column_text(st, 5);
		const char *mac = (const char *)sqlite3_column_text(st, 3);
		_cleanup_free_ char *a4 =
		    ip4 ? xasprintf("%s/%d", ip4, n->v4.subnet.len) : xstrdup("");
		_cleanup_free_ char *a6 =
		    ip6 ? xasprintf("%s/%d", ip6, n->v6.subnet.len) : xstrdup("");
		json_object_set_new(
		    ctrs, (const char *)sqlite3_column_text(st, 0),
		    json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name",
		              (const char *)sqlite3_column_text(st, 1), "EndpointID",
		              (const char *)sqlite3_column_text(st, 2), "MacAddress",
		              mac ? mac : "", "IPv4Address", a4, "IPv6Address", a6));
	}
	json_object_set_new(o, "Containers", ctrs);
	json_object_set(o, "Options", n->options);
	json_object_set(o, "Labels", n->labels);
	return o;
}
