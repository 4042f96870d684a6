/* berth networks: the default "bridge" network and user-defined bridge
 * networks (records and address leases in the store, a Linux bridge and
 * an nftables table each), and the endpoints that attach containers.
 *
 * Container lifecycle hooks (called by src/container):
 *   create: network_ctr_create()  validates the config, records membership
 *   start:  network_ctr_start()   leases addresses, plumbs veths into the
 *                                 container's netns, publishes ports,
 *                                 writes hosts/resolv.conf
 *   stop:   network_ctr_stop()    releases all of that (idempotent)
 *   rm:     network_ctr_remove()  stop + forget membership
 *           network_ctr_forget()  the same, deferred when nothing is live
 * Leftovers of a killed berth (leases whose owner died, veths with no
 * lease, stale rules) are reclaimed by network_reclaim(), which every
 * entry point that touches a network runs first. */
#ifndef BERTH_NETWORK_NETWORK_H
#define BERTH_NETWORK_NETWORK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/config.h"
#include "base/error.h"
#include "network/addr.h"
#include "network/portspec.h"
#include "store/store.h"

#define NET_DEFAULT_NAME "bridge"
#define NET_DEFAULT_BRIDGE "berth0"

typedef struct net_ipam {
	net_prefix subnet; /* family 0: none */
	net_addr gateway;
	net_prefix range; /* family 0: the whole subnet */
} net_ipam;

typedef struct network {
	char *id; /* 64 hex */
	char *name;
	char *driver; /* "bridge" */
	char *bridge; /* Linux bridge name */
	char *created; /* RFC 3339 */
	bool internal;
	bool ipv6;
	bool is_default; /* the "bridge" network: no DNS */
	bool predefined; /* "host" and "none": listed, never stored */
	int mtu; /* 0: default */
	net_ipam v4, v6;
	json_t *labels; /* object of strings */
	json_t *options; /* object of strings (-o) */
} network;

void network_free(network *n);
static inline void network_freep(network **n)
{
	network_free(*n);
}
#define _cleanup_network_ __attribute__((cleanup(network_freep)))

/* The context every call needs. */
typedef struct net_ctx {
	berth_store *store;
	const berth_config *cfg; /* may be NULL */
	const char *argv0; /* the berth binary, runs the DNS server; NULL: no DNS */
	bool schema_ok; /* set by network_init (start zeroed) */
} net_ctx;

/* Schema of the "networks" module; idempotent. */
int network_init(net_ctx *nc, berth_error **err);

typedef struct net_create_opts {
	const char *name;
	const char *driver; /* NULL: bridge */
	const char *subnet, *gateway, *ip_range; /* IPv4 (or v6 if given so) */
	const char *subnet6, *gateway6, *ip_range6;
	bool ipv6;
	bool internal;
	char **labels; /* "k=v" */
	char **options; /* "k=v" */
} net_create_opts;

/* Create the record, the bridge and the table. */
int network_create(net_ctx *nc, const net_create_opts *o, network **out, berth_error **err);
/* Find by full name, full id or unique id prefix. NOTFOUND if none. */
int network_get(net_ctx *nc, const char *ref, network **out, berth_error **err);
int network_list(net_ctx *nc, network ***out, size_t *n, berth_error **err);
void network_list_free(network **v, size_t n);
/* Refuses the predefined networks and networks with containers. */
int network_remove(net_ctx *nc, const char *ref, berth_error **err);
/* Removes user networks without containers; names of removed ones. */
int network_prune(net_ctx *nc, char ***removed, berth_error **err);
/* Docker's network inspect JSON. */
json_t *network_inspect_json(net_ctx *nc, const network *n, berth_error **err);
/* Ensure the default network's record exists (not its bridge). */
int network_ensure_default(net_ctx *nc, berth_error **err);
/* Number of containers attached (members, running or not). */
int network_count_members(net_ctx *nc, const char *net_id, bool running_only, berth_error **err);

/* Reclaim leftovers of killed processes on every network of this store. */
int network_reclaim(net_ctx *nc, berth_error **err);

/* --- containers --- */

/* What a container asks of the network (the run flags; Docker's
 * HostConfig/NetworkingConfig fields in one object, see
 * net_ctr_config_to_json). */
typedef struct net_ctr_config {
	char *mode; /* "bridge" (default), "host", "none", "container:X", a network */
	char **aliases;
	char *ipv4, *ipv6, *mac;
	char **dns, **dns_search, **dns_options;
	char **extra_hosts; /* "host:ip" or "host:host-gateway" */
	port_binding *ports;
	size_t nports;
	bool publish_all;
	char **expose; /* "80/tcp" */
} net_ctr_config;

void net_ctr_config_init(net_ctr_config *c);
void net_ctr_config_clear(net_ctr_config *c);
/* Apply one run/create flag (long name without dashes: "network",
 * "net", "ip", "ip6", "network-alias", "net-alias", "mac-address",
 * "add-host", "dns", "dns-search", "dns-option", "publish" (-p), "expose",
 * "publish-all" (-P, value ignored)). Returns 1 if the flag was one of
 * these, 0 if not ours, < 0 on a bad value. */
int net_ctr_config_flag(net_ctr_config *c, const char *flag, const char *value, berth_error **err);
/* Add the image's ExposedPorts (config object like {"80/tcp":{}}). */
int net_ctr_config_add_exposed(net_ctr_config *c, const json_t *exposed, berth_error **err);
/* To and from JSON: {"NetworkMode", "Aliases", "IPv4Address",
 * "IPv6Address", "MacAddress", "Dns", "DnsSearch", "DnsOptions",
 * "ExtraHosts", "PortBindings" (Docker's map), "PublishAllPorts",
 * "ExposedPorts"}. */
json_t *net_ctr_config_to_json(const net_ctr_config *c);
int net_ctr_config_from_json(const json_t *j, net_ctr_config *c, berth_error **err);
/* Write the config into Docker's ContainerCreate body: HostConfig's
 * NetworkMode, PortBindings, PublishAllPorts, Dns, DnsSearch, DnsOptions,
 * ExtraHosts; ExposedPorts (also for each -p), MacAddress, and
 * NetworkingConfig.EndpointsConfig (aliases, --ip, --ip6). */
int net_ctr_config_apply_docker(const net_ctr_config *c, json_t *body);
/* Read it back from a container record {"Config", "HostConfig",
 * "NetworkingConfig"} (or a ContainerCreate body with HostConfig). */
int net_ctr_config_from_docker(const json_t *record, net_ctr_config *c, berth_error **err);
/* For the run/create command line: turn "x-publish" (array of -p specs),
 * "x-aliases", "x-ip", "x-ip6", "x-mac" of a ContainerCreate body into
 * Docker's fields (validated; the x- keys are removed), and check
 * HostConfig's Dns and ExtraHosts. */
int net_create_body_fixup(json_t *body, berth_error **err);

typedef struct net_ctr {
	const char *id;
	const char *name; /* without a leading '/' */
	const char *hostname; /* NULL: the first 12 hex of the id */
	const char *domainname; /* may be NULL */
	const net_ctr_config *cfg;
} net_ctr;

/* At create: validates (network exists, --ip within the subnet, ports)
 * and records membership. Call inside the caller's transaction if any. */
int network_ctr_create(net_ctx *nc, const net_ctr *c, berth_error **err);

typedef struct net_start {
	int netns_fd; /* the container's network namespace */
	pid_t owner; /* the container's init pid (its leases live as long) */
	const char *etc_dir; /* where to write "hosts" and "resolv.conf"; may be NULL */
	/* For --network container:X: X's id (its hosts/resolv.conf are copied). */
	const char *joined_etc_dir;
} net_start;

/* At start. *settings (may be NULL): Docker's NetworkSettings object. */
/* Bring up "lo" in the network namespace netns_fd (--network none gets a
 * working loopback, as Docker gives it). */
int network_loopback_up(int netns_fd, berth_error **err);

int network_ctr_start(net_ctx *nc, const net_ctr *c, const net_start *s, json_t **settings,
                      berth_error **err);
/* At stop (and on failed starts): releases leases, veths, published ports. */
int network_ctr_stop(net_ctx *nc, const char *ctr_id, berth_error **err);
/* At rm: stop + forget membership. */
int network_ctr_remove(net_ctx *nc, const char *ctr_id, berth_error **err);
/* At rm, before the container's record goes (run --rm's exit): stop, but
 * when the container is dead, on the default bridge only (no DNS answers
 * from its leases) and publishes no ports, nothing is written now: the
 * dead container's namespace took its veths along, and the rows of a
 * removed container (and so its addresses) are dropped by the next lease
 * transaction or network_reclaim. Saves a transaction at every exit. */
int network_ctr_forget(net_ctx *nc, const char *ctr_id, berth_error **err);
/* Docker's NetworkSettings of a container now (running or not). */
json_t *network_ctr_settings(net_ctx *nc, const char *ctr_id, berth_error **err);
/* ps's PORTS column: "0.0.0.0:8080->80/tcp, ..." ("" if none). */
char *network_ctr_ports_text(net_ctx *nc, const char *ctr_id);

typedef struct net_connect_opts {
	char **aliases;
	const char *ipv4, *ipv6;
	/* running containers: */
	int netns_fd; /* < 0: the container is not running */
	pid_t owner;
	const char *etc_dir;
	const char *hostname;
} net_connect_opts;
int network_connect(net_ctx *nc, const char *net_ref, const char *ctr_id, const char *ctr_name,
                    const net_connect_opts *o, berth_error **err);
int network_disconnect(net_ctx *nc, const char *net_ref, const char *ctr_id, bool force,
                       berth_error **err);

#endif
