#include "network/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

int net_addr_parse(const char *s, net_addr *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL || !*s)
		return berth_err(err, BERTH_E_INVALID, "invalid IP address: empty");
	if (inet_pton(AF_INET, s, out->b) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->b) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return berth_err(err, BERTH_E_INVALID, "invalid IP address: %s", s);
}

static void mask_host_bits(net_addr *a, int len)
{
	int n = net_addr_bytes(a);
	for (int i = 0; i < n; i++) {
		int bits = len - i * 8;
		if (bits >= 8)
			continue;
		if (bits <= 0)
			a->b[i] = 0;
		else
			a->b[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

int net_prefix_parse(const char *s, net_prefix *out, net_addr *host, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	const char *slash = s ? strchr(s, '/') : NULL;
	if (slash == NULL || slash == s)
		return berth_err(err, BERTH_E_INVALID, "invalid CIDR address: %s", s ? s : "");
	char ip[NET_ADDR_STRLEN];
	size_t n = (size_t)(slash - s);
	if (n >= sizeof(ip))
		return berth_err(err, BERTH_E_INVALID, "invalid CIDR address: %s", s);
	memcpy(ip, s, n);
	ip[n] = 0;
	if (net_addr_parse(ip, &out->addr, NULL) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid CIDR address: %s", s);
	const char *l = slash + 1;
	int len = 0, max = out->addr.family == AF_INET ? 32 : 128;
	if (!*l || strlen(l) > 3)
		return berth_err(err, BERTH_E_INVALID, "invalid CIDR address: %s", s);
	for (; *l; l++) {
		if (*l < '0' || *l > '9')
			return berth_err(err, BERTH_E_INVALID, "invalid CIDR address: %s", s);
		len = len * 10 + (*l - '0');
	}
	if (len > max)
		return berth_err(err, BERTH_E_INVALID, "invalid CIDR address: %s", s);
	out->len = len;
	if (host)
		*host = out->addr;
	mask_host_bits(&out->addr, len);
	return 0;
}

void net_addr_format(const net_addr *a, char buf[NET_ADDR_STRLEN])
{
	if (a->family != AF_INET && a->family != AF_INET6) {
		buf[0] = 0;
		return;
	}
	inet_ntop(a->family, a->b, buf, NET_ADDR_STRLEN);
}

void net_prefix_format(const net_prefix *p, char buf[NET_PREFIX_STRLEN])
{
	char ip[NET_ADDR_STRLEN];
	net_addr_format(&p->addr, ip);
	snprintf(buf, NET_PREFIX_STRLEN, "%s/%d", ip, p->len);
}

char *net_addr_str(const net_addr *a)
{
	char buf[NET_ADDR_STRLEN];
	net_addr_format(a, buf);
	return xstrdup(buf);
}

char *net_prefix_str(const net_prefix *p)
{
	char buf[NET_PREFIX_STRLEN];
	net_prefix_format(p, buf);
	return xstrdup(buf);
}

bool net_addr_eq(const net_addr *a, const net_addr *b)
{
	return net_addr_cmp(a, b) == 0;
}

int net_addr_cmp(const net_addr *a, const net_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, (size_t)net_addr_bytes(a));
}

bool net_prefix_contains(const net_prefix *p, const net_addr *a)
{
	if (p->addr.family != a->family)
		return false;
	net_addr m = *a;
	mask_host_bits(&m, p->len);
	return net_addr_eq(&m, &p->addr);
}

bool net_prefix_overlaps(const net_prefix *a, const net_prefix *b)
{
	if (a->addr.family != b->addr.family)
		return false;
	return net_prefix_contains(a, &b->addr) || net_prefix_contains(b, &a->addr);
}

uint64_t net_prefix_size(const net_prefix *p)
{
	int host = (p->addr.family == AF_INET ? 32 : 128) - p->len;
	if (host >= 64)
		return UINT64_MAX;
	return (uint64_t)1 << host;
}

bool net_prefix_nth(const net_prefix *p, uint64_t n, net_addr *out)
{
	if (n >= net_prefix_size(p) && net_prefix_size(p) != UINT64_MAX)
		return false;
	*out = p->addr;
	int nb = net_addr_bytes(out);
	unsigned carry = 0;
	for (int i = nb - 1; i >= 0; i--) {
		unsigned v = out->b[i] + (unsigned)(n & 0xff) + carry;
		out->b[i] = (uint8_t)v;
		carry = v >> 8;
		n >>= 8;
	}
	return true;
}

uint64_t net_prefix_offset(const net_prefix *p, const net_addr *a)
{
	int nb = net_addr_bytes(a);
	uint64_t v = 0;
	int start = nb > 8 ? nb - 8 : 0;
	for (int i = start; i < nb; i++)
		v = (v << 8) | a->b[i];
	uint64_t base = 0;
	for (int i = start; i < nb; i++)
		base = (base << 8) | p->addr.b[i];
	return v - base;
}

void net_prefix_last(const net_prefix *p, net_addr *out)
{
	*out = p->addr;
	int nb = net_addr_bytes(out);
	for (int i = 0; i < nb; i++) {
		int bits = p->len - i * 8;
		if (bits >= 8)
			continue;
		if (bits <= 0)
			out->b[i] = 0xff;
		else
			out->b[i] |= (uint8_t)(0xff >> bits);
	}
}

int net_mac_parse(const char *s, uint8_t mac[6], berth_error **err)
{
	if (s == NULL || strlen(s) != 17)
		return berth_err(err, BERTH_E_INVALID, "invalid MAC address: %s", s ? s : "");
	for (int i = 0; i < 6; i++) {
		int hi = str_hexval(s[i * 3]), lo = str_hexval(s[i * 3 + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-'))
			return berth_err(err, BERTH_E_INVALID, "invalid MAC address: %s", s);
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void net_mac_format(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
	         mac[5]);
}

void net_mac_from_ip(const net_addr *a, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0x42;
	int nb = net_addr_bytes(a);
	memcpy(mac + 2, a->b + nb - 4, 4);
}
