/* The embedded DNS server of user-defined networks: answers A/AAAA for
 * container names, network aliases and short ids on its network, and
 * forwards other names to the host's resolvers with short timeouts.
 * One small process per network (berth network dns-serve), listening on
 * the bridge's gateway address, port 53; it exits when the network goes
 * away or has had no containers for a while. */
#ifndef BERTH_NETWORK_DNS_H
#define BERTH_NETWORK_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "network/addr.h"
#include "network/network.h"

#define DNS_TYPE_A 1
#define DNS_TYPE_PTR 12
#define DNS_TYPE_AAAA 28
#define DNS_RCODE_OK 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4

typedef struct dns_query {
	uint16_t id;
	uint16_t flags;
	uint16_t qtype, qclass;
	char name[256]; /* lower case, no trailing dot */
	size_t qlen; /* bytes of header + question */
} dns_query;

/* Parse a query with exactly one question. 0 ok, -1 malformed. */
int dns_parse_query(const uint8_t *msg, size_t len, dns_query *q);
/* Build a reply to q (msg is the query) with the addresses of the
 * matching family as answers. Returns its length, 0 if cap is too small. */
size_t dns_build_reply(const uint8_t *msg, const dns_query *q, const net_addr *addrs, size_t n,
                       int rcode, uint8_t *out, size_t cap);

/* Run the server of a network (does not return until it exits). ready_fd
 * (or -1) gets one byte once the socket is bound. */
int network_dns_serve(net_ctx *nc, const char *net_id, int ready_fd, berth_error **err);

#endif
