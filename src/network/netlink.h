/* rtnetlink through libmnl: the links, addresses and routes berth makes
 * for bridges and containers. A socket may be opened inside another
 * network namespace (a container's) and then works there. */
#ifndef BERTH_NETWORK_NETLINK_H
#define BERTH_NETWORK_NETLINK_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "network/addr.h"

typedef struct nl_sock nl_sock;

/* netns_fd < 0: the caller's network namespace. */
int nl_open(int netns_fd, nl_sock **out, berth_error **err);
void nl_close(nl_sock *nl);
static inline void nl_closep(nl_sock **nl)
{
	nl_close(*nl);
}
#define _cleanup_nl_ __attribute__((cleanup(nl_closep)))

/* > 0: the index; 0: no such link; < 0: error. */
int nl_link_index(nl_sock *nl, const char *name, berth_error **err);

struct nl_bridge_opts {
	int mtu; /* 0: kernel default */
	const uint8_t *mac; /* NULL: kernel's */
	uint32_t group; /* netdev group, 0: none */
};
int nl_bridge_create(nl_sock *nl, const char *name, const struct nl_bridge_opts *o,
                     berth_error **err);

struct nl_veth_opts {
	const char *name; /* host side */
	int master; /* bridge index for the host side, 0: none */
	int mtu;
	const char *peer_name; /* in the peer namespace */
	int peer_netns_fd; /* < 0: same namespace */
	const uint8_t *peer_mac; /* NULL: random */
};
int nl_veth_create(nl_sock *nl, const struct nl_veth_opts *o, berth_error **err);

/* Create a veth pair in one request: the host side enslaved to
 * o->master and up, the peer moved into o->peer_netns_fd and named (the
 * kernel cannot bring a peer up before the pair exists: nl_if_configure).
 * EEXIST (a leftover of an earlier run) is reported as is. */
int nl_veth_create_up(nl_sock *nl, const struct nl_veth_opts *o, berth_error **err);

/* Everything a container's interface needs, sent as one batch of
 * requests (one round trip): link up, addresses, loopback up, default
 * routes. */
struct nl_ifconf {
	int ifindex;
	bool up;
	const net_addr *addrs; /* naddrs addresses with prefix lengths plens */
	const int *plens;
	size_t naddrs;
	bool lo_up; /* ifindex 1, the loopback of every namespace */
	const net_addr *gw4, *gw6; /* default routes, NULL: none */
};
int nl_if_configure(nl_sock *nl, const struct nl_ifconf *c, berth_error **err);

int nl_link_set_up(nl_sock *nl, int ifindex, berth_error **err);
int nl_link_set_up_by_name(nl_sock *nl, const char *name, berth_error **err);
int nl_link_set_down(nl_sock *nl, int ifindex, berth_error **err);
int nl_link_set_mtu(nl_sock *nl, int ifindex, int mtu, berth_error **err);
/* Delete by name; a missing link is not an error. */
int nl_link_del(nl_sock *nl, const char *name, berth_error **err);

int nl_addr_add(nl_sock *nl, int ifindex, const net_addr *a, int prefixlen, berth_error **err);
/* dst NULL: default route. gw may be NULL (device route). */
int nl_route_add(nl_sock *nl, const net_prefix *dst, const net_addr *gw, int ifindex,
                 berth_error **err);

typedef struct nl_link_info {
	int index;
	int master;
	unsigned flags;
	int mtu;
	uint32_t group;
	char name[IFNAMSIZ];
	char kind[16];
	uint8_t mac[6];
} nl_link_info;
int nl_link_list(nl_sock *nl, nl_link_info **out, size_t *n, berth_error **err);
/* Link info by name: 1 found, 0 missing, < 0 error. */
int nl_link_get(nl_sock *nl, const char *name, nl_link_info *out, berth_error **err);

/* Destination prefixes of all routes of a family (main table and others,
 * local/broadcast excluded). */
int nl_route_dsts(nl_sock *nl, int family, net_prefix **out, size_t *n, berth_error **err);
/* Addresses configured on links of a family. */
int nl_addr_list(nl_sock *nl, int family, net_addr **out, size_t *n, berth_error **err);

/* Write a sysctl under /proc/sys/net (path relative, e.g.
 * "ipv4/conf/berth0/route_localnet") in the caller's namespace. */
int net_sysctl_set(const char *path, const char *value, berth_error **err);

#endif
