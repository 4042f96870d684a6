/* Internals shared by the files of src/network. */
#ifndef BERTH_NETWORK_NET_INT_H
#define BERTH_NETWORK_NET_INT_H

#include "network/network.h"
#include "network/netlink.h"
#include "network/nft.h"

/* flock on <runroot>/network.lock: serialises every change of networks,
 * leases, links and tables of this store. */
int net_lock(net_ctx *nc, berth_error **err);
void net_unlock(int fd);
static inline void net_unlockp(int *fd)
{
	net_unlock(*fd);
}
#define _cleanup_netlock_ __attribute__((cleanup(net_unlockp)))

/* 64 random hex digits. */
void net_random_id(char out[65]);
/* Record <-> row. */
int net_load(net_ctx *nc, const char *id, network **out, berth_error **err);
/* The bridge, its addresses and sysctls (created if missing, with its
 * nftables table): 1 created, 0 existed, < 0 error. */
int net_ensure_bridge(net_ctx *nc, nl_sock *nl, const network *n, int *ifindex, berth_error **err);
/* Rebuild the network's nftables table from its running endpoints. */
int net_sync_rules(net_ctx *nc, const network *n, berth_error **err);
/* Is the process (pid, start time) still alive? */
bool net_owner_alive(long pid, long long start);
long long net_proc_start_time(pid_t pid);
/* network_reclaim; skip_orphans: leave the membership rows of removed
 * containers to net_forget_orphans (called in a transaction). */
int net_reclaim(net_ctx *nc, bool skip_orphans, berth_error **err);
int net_forget_orphans(net_ctx *nc, berth_error **err);
/* Remove leftover host-side veths on n's bridge that no lease owns. */
int net_sweep_bridge(net_ctx *nc, nl_sock *nl, const network *n, berth_error **err);
/* The embedded DNS server of a user network. */
int net_dns_ensure(net_ctx *nc, const network *n, berth_error **err);
void net_dns_stop(net_ctx *nc, const network *n);
/* Host resolvers (from the config's "dns" or /etc/resolv.conf). */
char **net_host_nameservers(const berth_config *cfg, bool with_ports);

/* Host-side veth name of a (container, network) pair: deterministic, so
 * a leftover can be found and removed. */
void net_veth_name(const char *ctr_id, const char *net_id, char out[16]);

#endif
