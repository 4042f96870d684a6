/* IP addresses and prefixes (IPv4 and IPv6) as plain values: parsing,
 * formatting and the arithmetic IPAM needs. No system state. */
#ifndef BERTH_NETWORK_ADDR_H
#define BERTH_NETWORK_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/error.h"

typedef struct net_addr {
	int family; /* AF_INET or AF_INET6; 0 = unset */
	uint8_t b[16]; /* network byte order; IPv4 uses b[0..3] */
} net_addr;

typedef struct net_prefix {
	net_addr addr; /* the network address (host bits zero) */
	int len;
} net_prefix;

#define NET_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define NET_PREFIX_STRLEN (NET_ADDR_STRLEN + 4)

static inline int net_addr_bytes(const net_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

/* "10.1.2.3" / "fd00::1" */
int net_addr_parse(const char *s, net_addr *out, berth_error **err);
/* "10.1.0.0/16"; host bits set is an error unless allow_host_bits
 * (then they are kept in *host if non-NULL and cleared in out). */
int net_prefix_parse(const char *s, net_prefix *out, net_addr *host, berth_error **err);
void net_addr_format(const net_addr *a, char buf[NET_ADDR_STRLEN]);
void net_prefix_format(const net_prefix *p, char buf[NET_PREFIX_STRLEN]);
/* Allocated copies, for convenience. */
char *net_addr_str(const net_addr *a);
char *net_prefix_str(const net_prefix *p);

bool net_addr_eq(const net_addr *a, const net_addr *b);
int net_addr_cmp(const net_addr *a, const net_addr *b);
bool net_prefix_contains(const net_prefix *p, const net_addr *a);
bool net_prefix_overlaps(const net_prefix *a, const net_prefix *b);
/* Address at offset n (from the network address) inside the prefix;
 * n counts from 0. Returns false when n is beyond the prefix. */
bool net_prefix_nth(const net_prefix *p, uint64_t n, net_addr *out);
/* Offset of a inside p (a must be inside). */
uint64_t net_prefix_offset(const net_prefix *p, const net_addr *a);
/* Number of addresses in the prefix, saturated at UINT64_MAX. */
uint64_t net_prefix_size(const net_prefix *p);
/* The broadcast (last) address of an IPv4 prefix. */
void net_prefix_last(const net_prefix *p, net_addr *out);

/* MAC addresses: "02:42:ac:11:00:02". */
int net_mac_parse(const char *s, uint8_t mac[6], berth_error **err);
void net_mac_format(const uint8_t mac[6], char buf[18]);
/* Docker's derived MAC for an IPv4 address: 02:42:a.b.c.d. */
void net_mac_from_ip(const net_addr *a, uint8_t mac[6]);

#endif
