#include "network/portspec.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "network/addr.h"

const char *port_proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static int parse_port(const char *s, size_t n, uint16_t *out)
{
	if (n == 0 || n > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "80" or "80-90" (n bytes of s). */
static int parse_range(const char *s, size_t n, uint16_t *a, uint16_t *b)
{
	const char *dash = memchr(s, '-', n);
	if (dash == NULL) {
		if (parse_port(s, n, a) < 0)
			return -1;
		*b = *a;
		return 0;
	}
	if (parse_port(s, (size_t)(dash - s), a) < 0 ||
	    parse_port(dash + 1, n - (size_t)(dash - s) - 1, b) < 0 || *b < *a)
		return -1;
	return 0;
}

static int parse_proto(const char *p, int *proto)
{
	if (p == NULL || !strcmp(p, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(p, "udp"))
		*proto = IPPROTO_UDP;
	else
		return -1;
	return 0;
}

int port_range_parse(const char *s, uint16_t *start, uint16_t *end, int *proto, berth_error **err)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (parse_range(s, n, start, end) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid port: %s", s);
	if (parse_proto(slash ? slash + 1 : NULL, proto) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid proto: %s", slash + 1);
	return 0;
}

int port_spec_parse(const char *spec, port_binding **out, size_t *n, berth_error **err)
{
	*out = NULL;
	*n = 0;
	if (spec == NULL || !*spec)
		return berth_err(err, BERTH_E_INVALID, "invalid port specification: \"\"");
	_cleanup_free_ char *s = xstrdup(spec);
	int proto = IPPROTO_TCP;
	char *slash = strrchr(s, '/');
	if (slash) {
		*slash = 0;
		if (parse_proto(slash + 1, &proto) < 0)
			return berth_err(err, BERTH_E_INVALID, "invalid proto: %s", slash + 1);
	}
	char ip[NET_ADDR_STRLEN] = "";
	char *rest = s;
	if (s[0] == '[') {
		char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(ip))
			return berth_err(err, BERTH_E_INVALID, "invalid port specification: \"%s\"",
			                 spec);
		memcpy(ip, s + 1, (size_t)(close - s - 1));
		ip[close - s - 1] = 0;
		rest = close + 2;
	}
	/* split the rest on ':' into at most 3 fields */
	char *fields[3] = {0};
	int nf = 0;
	char *p = rest;
	for (;;) {
		if (nf == 3)
			return berth_err(err, BERTH_E_INVALID, "invalid port specification: \"%s\"",
			                 spec);
		fields[nf++] = p;
		char *c = strchr(p, ':');
		if (c == NULL)
			break;
		*c = 0;
		p = c + 1;
	}
	const char *hostport = NULL, *ctrport = NULL;
	if (ip[0]) {
		if (nf != 2)
			return berth_err(err, BERTH_E_INVALID, "invalid port specification: \"%s\"",
			                 spec);
		hostport = fields[0];
		ctrport = fields[1];
	} else if (nf == 3) {
		if (strlen(fields[0]) >= sizeof(ip))
			return berth_err(err, BERTH_E_INVALID, "invalid IP address: %s", fields[0]);
		memcpy(ip, fields[0], strlen(fields[0]) + 1);
		hostport = fields[1];
		ctrport = fields[2];
	} else if (nf == 2) {
		hostport = fields[0];
		ctrport = fields[1];
	} else {
		ctrport = fields[0];
	}
	if (ip[0]) {
		net_addr a;
		if (net_addr_parse(ip, &a, NULL) < 0)
			return berth_err(err, BERTH_E_INVALID, "invalid IP address: %s", ip);
		net_addr_format(&a, ip);
	}
	uint16_t c0, c1, h0 = 0, h1 = 0;
	if (parse_range(ctrport, strlen(ctrport), &c0, &c1) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid containerPort: %s", ctrport);
	if (hostport && *hostport && parse_range(hostport, strlen(hostport), &h0, &h1) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid hostPort: %s", hostport);
	size_t count = (size_t)(c1 - c0) + 1;
	bool host_any_in_range = false;
	if (h0 && (size_t)(h1 - h0) + 1 != count) {
		if (count == 1)
			host_any_in_range = true;
		else
			return berth_err(
			    err, BERTH_E_INVALID,
			    "invalid ranges specified for container and host Ports: %s "
			    "and %s",
			    ctrport, hostport);
	}
	port_binding *v = xcalloc(count, sizeof(*v));
	for (size_t i = 0; i < count; i++) {
		v[i].proto = proto;
		memcpy(v[i].host_ip, ip, sizeof(ip));
		v[i].ctr_port = (uint16_t)(c0 + i);
		if (host_any_in_range) {
			v[i].host_port = h0;
			v[i].host_port_end = h1;
		} else if (h0) {
			v[i].host_port = (uint16_t)(h0 + i);
		}
	}
	*out = v;
	*n = count;
	return 0;
}
