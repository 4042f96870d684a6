/* Unit tests of src/network: pure logic, and netlink/nftables inside
 * private network namespaces (each test runs in its own child process,
 * which unshares its network namespace: nothing touches the host). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/json.h"
#include "base/xalloc.h"
#include "network/addr.h"
#include "network/netlink.h"
#include "network/nft.h"
#include "test.h"

/* Enter a fresh network namespace; returns an fd to it. */
static int private_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		return -1;
	return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

TEST(net_addr_parse_format)
{
	net_addr a;
	CHECK(net_addr_parse("10.1.2.3", &a, NULL) == 0);
	CHECK_INT_EQ(a.family, AF_INET);
	_cleanup_free_ char *s = net_addr_str(&a);
	CHECK_STR_EQ(s, "10.1.2.3");
	CHECK(net_addr_parse("fd00::1", &a, NULL) == 0);
	CHECK_INT_EQ(a.family, AF_INET6);
	berth_error *e = NULL;
	CHECK(net_addr_parse("10.1.2", &a, &e) < 0);
	CHECK(e && strstr(e->msg, "invalid IP address"));
	berth_error_free(e);
}

TEST(net_prefix_math)
{
	net_prefix p;
	net_addr host;
	CHECK(net_prefix_parse("10.1.2.77/24", &p, &host, NULL) == 0);
	_cleanup_free_ char *s = net_prefix_str(&p);
	CHECK_STR_EQ(s, "10.1.2.0/24");
	CHECK_INT_EQ(net_prefix_size(&p), 256);
	net_addr a;
	CHECK(net_prefix_nth(&p, 2, &a));
	_cleanup_free_ char *s2 = net_addr_str(&a);
	CHECK_STR_EQ(s2, "10.1.2.2");
	CHECK(!net_prefix_nth(&p, 256, &a));
	CHECK_INT_EQ(net_prefix_offset(&p, &host), 77);
	CHECK(net_prefix_contains(&p, &host));
	net_prefix q;
	CHECK(net_prefix_parse("10.1.0.0/16", &q, NULL, NULL) == 0);
	CHECK(net_prefix_overlaps(&p, &q));
	CHECK(net_prefix_parse("10.2.0.0/16", &q, NULL, NULL) == 0);
	CHECK(!net_prefix_overlaps(&p, &q));
	net_prefix_last(&p, &a);
	_cleanup_free_ char *s3 = net_addr_str(&a);
	CHECK_STR_EQ(s3, "10.1.2.255");
	/* carry across bytes, and IPv6 */
	CHECK(net_prefix_parse("10.1.0.0/16", &q, NULL, NULL) == 0);
	CHECK(net_prefix_nth(&q, 258, &a));
	_cleanup_free_ char *s4 = net_addr_str(&a);
	CHECK_STR_EQ(s4, "10.1.1.2");
	CHECK(net_prefix_parse("fd12:3456::/64", &q, NULL, NULL) == 0);
	CHECK(net_prefix_nth(&q, 0x10002, &a));
	_cleanup_free_ char *s5 = net_addr_str(&a);
	CHECK_STR_EQ(s5, "fd12:3456::1:2");
	CHECK_INT_EQ(net_prefix_offset(&q, &a), 0x10002);
	CHECK(net_prefix_parse("10.1.0.0/33", &q, NULL, NULL) < 0);
	CHECK(net_prefix_parse("10.1.0.0", &q, NULL, NULL) < 0);
	CHECK(net_prefix_parse("10.1.0.0/", &q, NULL, NULL) < 0);
	CHECK(net_prefix_parse("x/8", &q, NULL, NULL) < 0);
}

TEST(net_mac)
{
	uint8_t mac[6];
	CHECK(net_mac_parse("02:42:AC:11:00:02", mac, NULL) == 0);
	char buf[18];
	net_mac_format(mac, buf);
	CHECK_STR_EQ(buf, "02:42:ac:11:00:02");
	CHECK(net_mac_parse("02:42:ac:11:00", mac, NULL) < 0);
	CHECK(net_mac_parse("02:42:ac:11:00:zz", mac, NULL) < 0);
	net_addr a;
	CHECK(net_addr_parse("172.17.0.2", &a, NULL) == 0);
	net_mac_from_ip(&a, mac);
	net_mac_format(mac, buf);
	CHECK_STR_EQ(buf, "02:42:ac:11:00:02");
}

TEST(config_parse)
{
	const char *doc = "{\"bridge\": \"bx0\", \"default-subnet\": \"10.9.0.0/16\", "
	                  "\"insecure-registries\": [\"localhost:5000\"], \"mtu\": 1400, "
	                  "\"other\": 1}";
	berth_config *c = NULL;
	CHECK(berth_config_parse(doc, strlen(doc), "t", &c, NULL) == 0);
	CHECK_STR_EQ(c->bridge, "bx0");
	CHECK_STR_EQ(c->default_subnet, "10.9.0.0/16");
	CHECK_STR_EQ(c->insecure_registries[0], "localhost:5000");
	CHECK(c->insecure_registries[1] == NULL);
	CHECK(c->registry_mirrors == NULL);
	CHECK_INT_EQ(c->mtu, 1400);
	CHECK(json_get_int(c->raw, "other", 0) == 1);
	berth_config_free(c);
	berth_error *e = NULL;
	CHECK(berth_config_parse("{\"bridge\": 3}", 13, "t", &c, &e) < 0);
	CHECK(e && strstr(e->msg, "\"bridge\" must be a string"));
	berth_error_free(e);
	e = NULL;
	CHECK(berth_config_parse("[1]", 3, "t", &c, &e) < 0);
	berth_error_free(e);
	e = NULL;
	CHECK(berth_config_load("/nonexistent/berth.json", &c, &e) < 0);
	berth_error_free(e);
}

/* Bridge, veth into a second namespace, addresses, routes; then a TCP
 * connection across to prove the plumbing carries traffic. */
TEST(netlink_bridge_veth_traffic)
{
	int host = private_netns();
	CHECK(host >= 0);
	int ctr = private_netns();
	CHECK(ctr >= 0);
	CHECK(setns(host, CLONE_NEWNET) == 0);

	berth_error *e = NULL;
	nl_sock *nl = NULL, *cnl = NULL;
	CHECK(nl_open(-1, &nl, &e) == 0);
	CHECK(nl_open(ctr, &cnl, &e) == 0);
	uint8_t bmac[6] = {0x02, 0x42, 0, 0, 0, 1};
	struct nl_bridge_opts bo = {.mtu = 1400, .mac = bmac, .group = BERTH_BRIDGE_GROUP};
	CHECK(nl_bridge_create(nl, "tbr0", &bo, &e) == 0);
	CHECK(nl_bridge_create(nl, "tbr0", &bo, &e) < 0); /* exclusive */
	CHECK(e && e->sys_errno == EEXIST);
	berth_error_clear(&e);
	nl_link_info bi;
	CHECK(nl_link_get(nl, "tbr0", &bi, &e) == 1);
	CHECK_STR_EQ(bi.kind, "bridge");
	CHECK_INT_EQ(bi.mtu, 1400);
	CHECK_INT_EQ(bi.group, BERTH_BRIDGE_GROUP);
	CHECK(memcmp(bi.mac, bmac, 6) == 0);
	CHECK(nl_link_get(nl, "nosuch0", &bi, &e) == 0);

	net_addr gw, ip;
	net_prefix sub;
	CHECK(net_prefix_parse("10.250.7.0/24", &sub, NULL, NULL) == 0);
	CHECK(net_prefix_nth(&sub, 1, &gw));
	CHECK(net_prefix_nth(&sub, 2, &ip));
	CHECK(nl_addr_add(nl, bi.index, &gw, 24, &e) == 0);
	CHECK(nl_link_set_up(nl, bi.index, &e) == 0);

	uint8_t cmac[6];
	net_mac_from_ip(&ip, cmac);
	struct nl_veth_opts vo = {.name = "tveth0",
	                          .master = bi.index,
	                          .mtu = 1400,
	                          .peer_name = "eth0",
	                          .peer_netns_fd = ctr,
	                          .peer_mac = cmac};
	CHECK(nl_veth_create(nl, &vo, &e) == 0);
	nl_link_info vi;
	CHECK(nl_link_get(nl, "tveth0", &vi, &e) == 1);
	CHECK_INT_EQ(vi.master, bi.index);
	CHECK_STR_EQ(vi.kind, "veth");
	CHECK(nl_link_set_up(nl, vi.index, &e) == 0);
	/* the peer is in the other namespace only */
	CHECK(nl_link_get(nl, "eth0", &vi, &e) == 0);
	nl_link_info ci;
	CHECK(nl_link_get(cnl, "eth0", &ci, &e) == 1);
	CHECK(memcmp(ci.mac, cmac, 6) == 0);
	CHECK_INT_EQ(ci.mtu, 1400);
	CHECK(nl_addr_add(cnl, ci.index, &ip, 24, &e) == 0);
	CHECK(nl_link_set_up(cnl, ci.index, &e) == 0);
	int lo = nl_link_index(cnl, "lo", &e);
	CHECK(lo > 0);
	CHECK(nl_link_set_up(cnl, lo, &e) == 0);
	CHECK(nl_route_add(cnl, NULL, &gw, ci.index, &e) == 0);

	net_prefix *dsts = NULL;
	size_t nd = 0;
	CHECK(nl_route_dsts(cnl, AF_INET, &dsts, &nd, &e) == 0);
	bool have_default = false, have_sub = false;
	for (size_t i = 0; i < nd; i++) {
		if (dsts[i].len == 0)
			have_default = true;
		if (dsts[i].len == 24 && net_addr_eq(&dsts[i].addr, &sub.addr))
			have_sub = true;
	}
	free(dsts);
	CHECK(have_default && have_sub);
	net_addr *addrs = NULL;
	size_t na = 0;
	CHECK(nl_addr_list(cnl, AF_INET, &addrs, &na, &e) == 0);
	bool have_ip = false;
	for (size_t i = 0; i < na; i++)
		have_ip |= net_addr_eq(&addrs[i], &ip);
	free(addrs);
	CHECK(have_ip);

	/* a listener in the container namespace, a client in the host one */
	CHECK(setns(ctr, CLONE_NEWNET) == 0);
	_cleanup_close_ int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(setns(host, CLONE_NEWNET) == 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8080)};
	memcpy(&sa.sin_addr, ip.b, 4);
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(ls, 1) == 0);
	_cleanup_close_ int cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	_cleanup_close_ int as = accept(ls, NULL, NULL);
	CHECK(as >= 0);
	CHECK(write(cs, "hi", 2) == 2);
	char buf[2];
	CHECK(read(as, buf, 2) == 2 && buf[0] == 'h');

	CHECK(nl_link_del(nl, "tveth0", &e) == 0);
	CHECK(nl_link_get(cnl, "eth0", &ci, &e) == 0); /* the pair goes together */
	CHECK(nl_link_del(nl, "tveth0", &e) == 0); /* missing is fine */
	CHECK(nl_link_del(nl, "tbr0", &e) == 0);
	nl_close(nl);
	nl_close(cnl);
	close(host);
	close(ctr);
	berth_error_free(e);
}

TEST(nft_script_and_apply)
{
	CHECK(private_netns() >= 0);
	nft_port_map maps[3] = {0};
	maps[0].proto = IPPROTO_TCP;
	maps[0].host_port = 8080;
	maps[0].ctr_port = 80;
	CHECK(net_addr_parse("10.250.8.2", &maps[0].ctr_ip, NULL) == 0);
	maps[1] = maps[0];
	maps[1].proto = IPPROTO_UDP;
	CHECK(net_addr_parse("127.0.0.1", &maps[1].host_ip, NULL) == 0);
	maps[1].host_port = 5353;
	maps[1].ctr_port = 53;
	maps[2] = maps[0];
	maps[2].host_port = 8081;
	nft_net_spec s = {.table = "berth_test1", .bridge = "tbr1", .masquerade = true};
	CHECK(net_prefix_parse("10.250.8.0/24", &s.subnet4, NULL, NULL) == 0);
	s.maps = maps;
	s.nmaps = 3;
	_cleanup_free_ char *script = nft_net_script(&s);
	CHECK(strstr(script, "ip saddr 10.250.8.0/24 oifname != \"tbr1\" masquerade"));
	CHECK(strstr(script, "add element inet berth_test1 pmany4 { tcp . 8080 : 10.250.8.2 . 80, "
	                     "tcp . 8081 : 10.250.8.2 . 80 }"));
	CHECK(strstr(script, "127.0.0.1 . udp . 5353 : 10.250.8.2 . 53"));
	berth_error *e = NULL;
	CHECK(nft_table_exists("berth_test1", &e) == 0);
	if (nft_run(script, &e) < 0) {
		test_failed(__FILE__, __LINE__, "nft: %s", e->msg);
		return;
	}
	CHECK(nft_table_exists("berth_test1", &e) == 1);
	/* a foreign table is left alone by our replace and delete */
	CHECK(nft_run("add table inet other\nadd chain inet other c\n", &e) == 0);
	s.nmaps = 1;
	s.internal = true;
	_cleanup_free_ char *again = nft_net_script(&s);
	CHECK(strstr(again, "iifname \"tbr1\" oifname != \"tbr1\" drop"));
	CHECK(strstr(again, "masquerade\n") && !strstr(again, "oifname != \"tbr1\" masquerade"));
	CHECK(nft_run(again, &e) == 0);
	CHECK(nft_table_delete("berth_test1", &e) == 0);
	CHECK(nft_table_exists("berth_test1", &e) == 0);
	CHECK(nft_table_delete("berth_test1", &e) == 0);
	CHECK(nft_table_exists("other", &e) == 1);
	berth_error_free(e);
}
