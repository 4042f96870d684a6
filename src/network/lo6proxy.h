/* A relay from the host's [::1] to the published TCP ports of a network's
 * IPv6 containers (the kernel cannot NAT ::1 off the loopback device; see
 * lo6proxy.c). Driven by the poll loop of the network's DNS server. */
#ifndef BERTH_NETWORK_LO6PROXY_H
#define BERTH_NETWORK_LO6PROXY_H

#include <poll.h>
#include <stddef.h>

#include "network/network.h"

#define LO6_MAX_LISTEN 64
#define LO6_MAX_CONN 64
#define LO6_MAX_FDS (LO6_MAX_LISTEN + 2 * LO6_MAX_CONN)

typedef struct lo6_proxy lo6_proxy;

lo6_proxy *lo6_proxy_new(void);
void lo6_proxy_free(lo6_proxy *p);
/* Listen on [::1]:PORT for every published TCP port of the network that
 * has an IPv6 container address and an IPv6 wildcard or ::1 host address;
 * stop listening on ports no longer published. */
void lo6_proxy_refresh(lo6_proxy *p, net_ctx *nc, const char *net_id);
/* The descriptors to poll (at most max, give LO6_MAX_FDS), then the
 * results of that poll. */
size_t lo6_proxy_pollfds(lo6_proxy *p, struct pollfd *out, size_t max);
void lo6_proxy_handle(lo6_proxy *p, net_ctx *nc, const char *net_id, const struct pollfd *pf,
                      size_t n);

#endif
