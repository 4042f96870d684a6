/* nftables through libnftables. Each berth network owns one table,
 * "inet berth_<12 hex of the network id>", holding its NAT, isolation and
 * published-port rules; berth only ever replaces or deletes its own
 * tables, never anything else in the ruleset. */
#ifndef BERTH_NETWORK_NFT_H
#define BERTH_NETWORK_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "network/addr.h"

/* Netdev group of every berth bridge; the isolation rules match on it. */
#define BERTH_BRIDGE_GROUP 0xbe27

typedef struct nft_port_map {
	int proto; /* IPPROTO_TCP / IPPROTO_UDP */
	net_addr host_ip; /* family 0: every host address */
	uint16_t host_port;
	net_addr ctr_ip;
	uint16_t ctr_port;
} nft_port_map;

typedef struct nft_net_spec {
	const char *table;
	const char *bridge;
	net_prefix subnet4; /* family 0: none */
	net_prefix subnet6;
	bool internal;
	bool masquerade;
	const nft_port_map *maps;
	size_t nmaps;
} nft_net_spec;

/* The nft script that atomically replaces the network's table. */
char *nft_net_script(const nft_net_spec *s);
/* The table name for a network id. */
char *nft_table_name(const char *net_id);
/* Run an nft script in one transaction (all or nothing). */
int nft_run(const char *script, berth_error **err);
/* Delete a table of ours; missing is fine. */
int nft_table_delete(const char *table, berth_error **err);
/* Coexistence with other firewalls: a filter FORWARD chain with a drop
 * policy in table ip or ip6 filter (docker's iptables-nft sets it) drops
 * what berth's own accept lets through (a drop in any base chain wins).
 * present: make sure that chain (or docker's DOCKER-USER, if there)
 * accepts traffic from and to the bridge, with two rules tagged
 * "berth:BRIDGE" that iptables-nft can read; !present: remove them. Only
 * ever inserts or deletes those rules. */
int nft_foreign_forward(const char *bridge, bool present, berth_error **err);
/* The same, cheaply on every start: if the ruleset generation differs
 * from the one recorded in the file stamp (one nfnetlink round trip),
 * look for a drop policy in ip/ip6 filter FORWARD (one more each) and
 * only then run nft_foreign_forward; records the generation after. So a
 * docker started after the bridge was made is noticed by the next
 * container start. < 0: could not check. */
int nft_foreign_check(const char *bridge, const char *stamp);
/* 1 exists, 0 missing, < 0 error. */
int nft_table_exists(const char *table, berth_error **err);

#endif
