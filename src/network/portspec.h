/* Published-port specs as Docker's -p takes them:
 *   [ip:][hostPort[-end]:]containerPort[-end][/tcp|/udp]
 * with an IPv6 ip in brackets ("[::1]:8080:80"). Ranges expand into one
 * binding per port; a host range with a single container port means "any
 * free port of the range". */
#ifndef BERTH_NETWORK_PORTSPEC_H
#define BERTH_NETWORK_PORTSPEC_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

typedef struct port_binding {
	int proto; /* IPPROTO_TCP or IPPROTO_UDP */
	char host_ip[46]; /* "" for every address */
	uint16_t host_port; /* 0: a random free port */
	uint16_t host_port_end; /* > host_port: any free port in [host_port, end] */
	uint16_t ctr_port;
} port_binding;

int port_spec_parse(const char *spec, port_binding **out, size_t *n, berth_error **err);
/* "80", "80/udp", "8000-8010/tcp" (EXPOSE and --expose). */
int port_range_parse(const char *s, uint16_t *start, uint16_t *end, int *proto, berth_error **err);
const char *port_proto_name(int proto);

#endif
