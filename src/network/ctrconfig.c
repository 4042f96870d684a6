/* A container's network configuration: the run flags, and their JSON form
 * kept in the container record. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "network/network.h"

void net_ctr_config_init(net_ctr_config *c)
{
	memset(c, 0, sizeof(*c));
}

void net_ctr_config_clear(net_ctr_config *c)
{
	free(c->mode);
	strv_free(c->aliases);
	free(c->ipv4);
	free(c->ipv6);
	free(c->mac);
	strv_free(c->dns);
	strv_free(c->dns_search);
	strv_free(c->dns_options);
	strv_free(c->extra_hosts);
	free(c->ports);
	strv_free(c->expose);
	memset(c, 0, sizeof(*c));
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

static int add_expose(net_ctr_config *c, const char *v, berth_error **err)
{
	uint16_t a, b;
	int proto;
	if (port_range_parse(v, &a, &b, &proto, err) < 0)
		return -1;
	for (unsigned p = a; p <= b; p++) {
		_cleanup_free_ char *s = xasprintf("%u/%s", p, port_proto_name(proto));
		if (!strv_contains(c->expose, s))
			c->expose = strv_append(c->expose, s);
	}
	return 0;
}

static int check_extra_host(const char *v, berth_error **err)
{
	const char *colon = strchr(v, ':');
	if (colon == NULL || colon == v)
		return berth_err(err, BERTH_E_INVALID, "bad format for add-host: \"%s\"", v);
	if (!strcmp(colon + 1, "host-gateway"))
		return 0;
	net_addr a;
	if (net_addr_parse(colon + 1, &a, NULL) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid IP address in add-host: \"%s\"",
		                 colon + 1);
	return 0;
}

int net_ctr_config_flag(net_ctr_config *c, const char *flag, const char *value, berth_error **err)
{
	if (!strcmp(flag, "network") || !strcmp(flag, "net")) {
		set_str(&c->mode, value);
	} else if (!strcmp(flag, "ip")) {
		net_addr a;
		if (net_addr_parse(value, &a, NULL) < 0 || a.family != AF_INET)
			return berth_err(err, BERTH_E_INVALID, "invalid IPv4 address: %s", value);
		set_str(&c->ipv4, value);
	} else if (!strcmp(flag, "ip6")) {
		net_addr a;
		if (net_addr_parse(value, &a, NULL) < 0 || a.family != AF_INET6)
			return berth_err(err, BERTH_E_INVALID, "invalid IPv6 address: %s", value);
		set_str(&c->ipv6, value);
	} else if (!strcmp(flag, "network-alias") || !strcmp(flag, "net-alias")) {
		c->aliases = strv_append(c->aliases, value);
	} else if (!strcmp(flag, "mac-address")) {
		uint8_t mac[6];
		if (net_mac_parse(value, mac, NULL) < 0)
			return berth_err(err, BERTH_E_INVALID, "%s is not a valid mac address",
			                 value);
		set_str(&c->mac, value);
	} else if (!strcmp(flag, "add-host")) {
		if (check_extra_host(value, err) < 0)
			return -1;
		c->extra_hosts = strv_append(c->extra_hosts, value);
	} else if (!strcmp(flag, "dns")) {
		net_addr a;
		if (net_addr_parse(value, &a, NULL) < 0)
			return berth_err(err, BERTH_E_INVALID, "%s is not an ip address", value);
		c->dns = strv_append(c->dns, value);
	} else if (!strcmp(flag, "dns-search")) {
		c->dns_search = strv_append(c->dns_search, value);
	} else if (!strcmp(flag, "dns-option") || !strcmp(flag, "dns-opt")) {
		c->dns_options = strv_append(c->dns_options, value);
	} else if (!strcmp(flag, "publish")) {
		port_binding *b = NULL;
		size_t n = 0;
		if (port_spec_parse(value, &b, &n, err) < 0)
			return -1;
		c->ports = xreallocarray(c->ports, c->nports + n, sizeof(*b));
		memcpy(c->ports + c->nports, b, n * sizeof(*b));
		c->nports += n;
		free(b);
	} else if (!strcmp(flag, "publish-all")) {
		c->publish_all = true;
	} else if (!strcmp(flag, "expose")) {
		if (add_expose(c, value, err) < 0)
			return -1;
	} else {
		return 0;
	}
	return 1;
}

int net_ctr_config_add_exposed(net_ctr_config *c, const json_t *exposed, berth_error **err)
{
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)exposed, k, v) {
		if (add_expose(c, k, err) < 0)
			return -1;
	}
	return 0;
}

static void put_strv(json_t *o, const char *key, char **v)
{
	json_object_set_new(o, key, v ? json_from_strv(v) : json_array());
}

json_t *net_ctr_config_to_json(const net_ctr_config *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "NetworkMode", json_string(c->mode ? c->mode : "default"));
	put_strv(o, "Aliases", c->aliases);
	json_object_set_new(o, "IPv4Address", json_string(c->ipv4 ? c->ipv4 : ""));
	json_object_set_new(o, "IPv6Address", json_string(c->ipv6 ? c->ipv6 : ""));
	json_object_set_new(o, "MacAddress", json_string(c->mac ? c->mac : ""));
	put_strv(o, "Dns", c->dns);
	put_strv(o, "DnsSearch", c->dns_search);
	put_strv(o, "DnsOptions", c->dns_options);
	put_strv(o, "ExtraHosts", c->extra_hosts);
	json_t *pb = json_object();
	for (size_t i = 0; i < c->nports; i++) {
		const port_binding *b = &c->ports[i];
		_cleanup_free_ char *key =
		    xasprintf("%u/%s", b->ctr_port, port_proto_name(b->proto));
		json_t *arr = json_object_get(pb, key);
		if (arr == NULL) {
			arr = json_array();
			json_object_set_new(pb, key, arr);
		}
		_cleanup_free_ char *hp = b->host_port_end > b->host_port
		                              ? xasprintf("%u-%u", b->host_port, b->host_port_end)
		                          : b->host_port ? xasprintf("%u", b->host_port)
		                                         : xstrdup("");
		json_array_append_new(arr,
		                      json_pack("{s:s,s:s}", "HostIp", b->host_ip, "HostPort", hp));
	}
	json_object_set_new(o, "PortBindings", pb);
	json_object_set_new(o, "PublishAllPorts", json_boolean(c->publish_all));
	json_t *ex = json_object();
	for (char **e = c->expose; e && *e; e++)
		json_object_set_new(ex, *e, json_object());
	json_object_set_new(o, "ExposedPorts", ex);
	return o;
}

static char **get_strv_or_null(const json_t *j, const char *key)
{
	char **v = json_get_strv(j, key);
	if (v && !v[0]) {
		free(v);
		return NULL;
	}
	return v;
}

static char *get_nonempty(const json_t *j, const char *key)
{
	const char *s = json_get_str(j, key);
	return s && *s ? xstrdup(s) : NULL;
}

int net_ctr_config_from_json(const json_t *j, net_ctr_config *c, berth_error **err)
{
	net_ctr_config_init(c);
	if (!json_is_object(j))
		return 0;
	c->mode = get_nonempty(j, "NetworkMode");
	c->aliases = get_strv_or_null(j, "Aliases");
	c->ipv4 = get_nonempty(j, "IPv4Address");
	c->ipv6 = get_nonempty(j, "IPv6Address");
	c->mac = get_nonempty(j, "MacAddress");
	c->dns = get_strv_or_null(j, "Dns");
	c->dns_search = get_strv_or_null(j, "DnsSearch");
	c->dns_options = get_strv_or_null(j, "DnsOptions");
	c->extra_hosts = get_strv_or_null(j, "ExtraHosts");
	c->publish_all = json_get_bool(j, "PublishAllPorts", false);
	const char *key;
	json_t *arr;
	json_object_foreach (json_object_get(j, "PortBindings"), key, arr) {
		size_t i;
		json_t *b;
		json_array_foreach (arr, i, b) {
			const char *hip = json_get_str(b, "HostIp");
			const char *hp = json_get_str(b, "HostPort");
			_cleanup_free_ char *spec = NULL;
			if (hip && strchr(hip, ':'))
				spec = xasprintf("[%s]:%s:%s", hip, hp ? hp : "", key);
			else if (hip && *hip)
				spec = xasprintf("%s:%s:%s", hip, hp ? hp : "", key);
			else if (hp && *hp)
				spec = xasprintf("%s:%s", hp, key);
			else
				spec = xstrdup(key);
			if (net_ctr_config_flag(c, "publish", spec, err) < 0) {
				net_ctr_config_clear(c);
				return -1;
			}
		}
	}
	if (net_ctr_config_add_exposed(c, json_object_get(j, "ExposedPorts"), err) < 0) {
		net_ctr_config_clear(c);
		return -1;
	}
	return 0;
}

/* --- Docker's ContainerCreate shape --- */

static void set_strv_key(json_t *o, const char *key, char **v)
{
	if (v && v[0])
		json_object_set_new(o, key, json_from_strv(v));
}

int net_ctr_config_apply_docker(const net_ctr_config *c, json_t *body)
{
	json_t *h = json_object_get(body, "HostConfig");
	if (!json_is_object(h)) {
		h = json_object();
		json_object_set_new(body, "HostConfig", h);
	}
	_cleanup_json_ json_t *flat = net_ctr_config_to_json(c);
	if (c->mode)
		json_object_set_new(h, "NetworkMode", json_string(c->mode));
	json_object_set(h, "PortBindings", json_object_get(flat, "PortBindings"));
	json_object_set_new(h, "PublishAllPorts", json_boolean(c->publish_all));
	set_strv_key(h, "Dns", c->dns);
	set_strv_key(h, "DnsSearch", c->dns_search);
	set_strv_key(h, "DnsOptions", c->dns_options);
	set_strv_key(h, "ExtraHosts", c->extra_hosts);
	if (c->expose && c->expose[0]) {
		json_t *ex = json_object_get(body, "ExposedPorts");
		if (!json_is_object(ex)) {
			ex = json_object();
			json_object_set_new(body, "ExposedPorts", ex);
		}
		json_object_update(ex, json_object_get(flat, "ExposedPorts"));
	}
	/* -p implies EXPOSE, as in Docker */
	for (size_t i = 0; i < c->nports; i++) {
		json_t *ex = json_object_get(body, "ExposedPorts");
		if (!json_is_object(ex)) {
			ex = json_object();
			json_object_set_new(body, "ExposedPorts", ex);
		}
		_cleanup_free_ char *k =
		    xasprintf("%u/%s", c->ports[i].ctr_port, port_proto_name(c->ports[i].proto));
		json_object_set_new(ex, k, json_object());
	}
	if (c->mac)
		json_object_set_new(body, "MacAddress", json_string(c->mac));
	if ((c->aliases && c->aliases[0]) || c->ipv4 || c->ipv6 || c->mac) {
		const char *net = c->mode ? c->mode : "bridge";
		json_t *ep = json_object();
		if (c->mac)
			json_object_set_new(ep, "MacAddress", json_string(c->mac));
		if (c->aliases && c->aliases[0])
			json_object_set_new(ep, "Aliases", json_from_strv(c->aliases));
		if (c->ipv4 || c->ipv6)
			json_object_set_new(ep, "IPAMConfig",
			                    json_pack("{s:s,s:s}", "IPv4Address",
			                              c->ipv4 ? c->ipv4 : "", "IPv6Address",
			                              c->ipv6 ? c->ipv6 : ""));
		json_object_set_new(body, "NetworkingConfig",
		                    json_pack("{s:{s:o}}", "EndpointsConfig", net, ep));
	}
	return 0;
}

int net_ctr_config_from_docker(const json_t *record, net_ctr_config *c, berth_error **err)
{
	net_ctr_config_init(c);
	const json_t *h = json_object_get(record, "HostConfig");
	const json_t *cf = json_object_get(record, "Config");
	_cleanup_json_ json_t *flat = json_object();
	const char *keys[] = {"NetworkMode", "PortBindings", "PublishAllPorts", "Dns",
	                      "DnsSearch",   "DnsOptions",   "ExtraHosts"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(h, keys[i]);
		if (v)
			json_object_set(flat, keys[i], v);
	}
	if (json_object_get(cf, "ExposedPorts"))
		json_object_set(flat, "ExposedPorts", json_object_get(cf, "ExposedPorts"));
	const char *mac = json_get_str(cf, "MacAddress");
	if (mac == NULL)
		mac = json_get_str(record, "MacAddress");
	if (mac)
		json_object_set_new(flat, "MacAddress", json_string(mac));
	const char *mode = json_get_str(h, "NetworkMode");
	json_t *eps =
	    json_object_get(json_object_get(record, "NetworkingConfig"), "EndpointsConfig");
	json_t *ep = json_object_get(eps, mode && *mode ? mode : "bridge");
	if (ep == NULL && json_object_size(eps) == 1) {
		void *it = json_object_iter(eps);
		ep = json_object_iter_value(it);
	}
	if (ep) {
		if (mac == NULL && json_get_str(ep, "MacAddress"))
			json_object_set(flat, "MacAddress", json_object_get(ep, "MacAddress"));
		if (json_object_get(ep, "Aliases"))
			json_object_set(flat, "Aliases", json_object_get(ep, "Aliases"));
		json_t *ipam = json_object_get(ep, "IPAMConfig");
		if (json_get_str(ipam, "IPv4Address"))
			json_object_set(flat, "IPv4Address", json_object_get(ipam, "IPv4Address"));
		if (json_get_str(ipam, "IPv6Address"))
			json_object_set(flat, "IPv6Address", json_object_get(ipam, "IPv6Address"));
	}
	if (net_ctr_config_from_json(flat, c, err) < 0)
		return -1;
	if (c->mode && !strcmp(c->mode, "default")) {
		free(c->mode);
		c->mode = xstrdup("bridge");
	}
	return 0;
}

int net_create_body_fixup(json_t *body, berth_error **err)
{
	net_ctr_config c;
	net_ctr_config_init(&c);
	json_t *h = json_object_get(body, "HostConfig");
	const char *mode = json_get_str(h, "NetworkMode");
	if (mode && *mode)
		c.mode = xstrdup(mode);
	size_t i;
	json_t *v;
	int r = 0;
	json_array_foreach (json_object_get(body, "x-publish"), i, v) {
		if (r >= 0 && json_is_string(v))
			r = net_ctr_config_flag(&c, "publish", json_string_value(v), err);
	}
	json_array_foreach (json_object_get(body, "x-aliases"), i, v) {
		if (r >= 0 && json_is_string(v))
			r = net_ctr_config_flag(&c, "network-alias", json_string_value(v), err);
	}
	static const char *const single[][2] = {
	    {"x-ip", "ip"}, {"x-ip6", "ip6"}, {"x-mac", "mac-address"}};
	for (size_t k = 0; k < ARRAY_SIZE(single) && r >= 0; k++) {
		const char *s = json_get_str(body, single[k][0]);
		if (s)
			r = net_ctr_config_flag(&c, single[k][1], s, err);
	}
	/* values the CLI passed through unchecked */
	json_array_foreach (json_object_get(h, "Dns"), i, v) {
		if (r >= 0 && json_is_string(v))
			r = net_ctr_config_flag(&c, "dns", json_string_value(v), err);
	}
	json_array_foreach (json_object_get(h, "ExtraHosts"), i, v) {
		if (r >= 0 && json_is_string(v))
			r = net_ctr_config_flag(&c, "add-host", json_string_value(v), err);
	}
	if (r < 0) {
		net_ctr_config_clear(&c);
		return -1;
	}
	if (c.nports) {
		if (!json_is_object(h)) {
			h = json_object();
			json_object_set_new(body, "HostConfig", h);
		}
		_cleanup_json_ json_t *flat = net_ctr_config_to_json(&c);
		json_t *pb = json_object_get(h, "PortBindings");
		if (!json_is_object(pb)) {
			pb = json_object();
			json_object_set_new(h, "PortBindings", pb);
		}
		const char *k;
		json_t *arr;
		json_object_foreach (json_object_get(flat, "PortBindings"), k, arr) {
			json_t *have = json_object_get(pb, k);
			if (json_is_array(have))
				json_array_extend(have, arr);
			else
				json_object_set(pb, k, arr);
		}
		json_t *ex = json_object_get(body, "ExposedPorts");
		if (!json_is_object(ex)) {
			ex = json_object();
			json_object_set_new(body, "ExposedPorts", ex);
		}
		json_object_foreach (json_object_get(flat, "PortBindings"), k, arr) {
			json_object_set_new(ex, k, json_object());
		}
	}
	if (c.mac)
		json_object_set_new(body, "MacAddress", json_string(c.mac));
	if ((c.aliases && c.aliases[0]) || c.ipv4 || c.ipv6 || c.mac) {
		const char *net = c.mode ? c.mode : "bridge";
		json_t *ep = json_object();
		if (c.mac)
			json_object_set_new(ep, "MacAddress", json_string(c.mac));
		if (c.aliases && c.aliases[0])
			json_object_set_new(ep, "Aliases", json_from_strv(c.aliases));
		if (c.ipv4 || c.ipv6)
			json_object_set_new(ep, "IPAMConfig",
			                    json_pack("{s:s,s:s}", "IPv4Address",
			                              c.ipv4 ? c.ipv4 : "", "IPv6Address",
			                              c.ipv6 ? c.ipv6 : ""));
		json_object_set_new(body, "NetworkingConfig",
		                    json_pack("{s:{s:o}}", "EndpointsConfig", net, ep));
	}
	const char *drop[] = {"x-publish", "x-aliases", "x-ip", "x-ip6", "x-mac"};
	for (size_t k = 0; k < ARRAY_SIZE(drop); k++)
		json_object_del(body, drop[k]);
	net_ctr_config_clear(&c);
	return 0;
}
