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
#include "base/fs.h"
#include "base/str.h"
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

/* --- engine tests: a private "host" namespace, containers are child
 * processes in namespaces of their own --- */

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "network/net_int.h"
#include "network/network.h"
#include "network/portspec.h"
#include "store/store.h"

/* A process in a new network namespace, waiting to be killed. */
static pid_t spawn_netns_proc(int *nsfd)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char c;
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	*nsfd = open(path, O_RDONLY | O_CLOEXEC);
	return pid;
}

static void kill_proc(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int open_engine(berth_store **s, berth_config **cfg, net_ctx *nc)
{
	const char *tmp = test_tmpdir();
	_cleanup_free_ char *root = xasprintf("%s/root", tmp);
	_cleanup_free_ char *run = xasprintf("%s/run", tmp);
	const char *doc = "{\"bridge\": \"tdef0\", \"default-subnet\": \"10.250.0.0/24\","
	                  " \"dns\": [\"127.0.0.1:1\"]}";
	if (berth_config_parse(doc, strlen(doc), "t", cfg, NULL) < 0)
		return -1;
	if (store_open(root, run, s, NULL) < 0)
		return -1;
	memset(nc, 0, sizeof(*nc));
	nc->store = *s;
	nc->cfg = *cfg;
	return network_init(nc, NULL);
}

/* In namespace nsfd: is addr configured on ifname? */
static bool ns_has_addr(int nsfd, const char *ip)
{
	nl_sock *nl = NULL;
	if (nl_open(nsfd, &nl, NULL) < 0)
		return false;
	net_addr want, *v = NULL;
	size_t n = 0;
	bool found = false;
	if (net_addr_parse(ip, &want, NULL) == 0 &&
	    nl_addr_list(nl, want.family, &v, &n, NULL) == 0)
		for (size_t i = 0; i < n; i++)
			found |= net_addr_eq(&v[i], &want);
	free(v);
	nl_close(nl);
	return found;
}

/* Listen on port in namespace nsfd; returns the socket. */
static int ns_listen(int nsfd, int port)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r == 0)
		r = listen(fd, 8);
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	if (r < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connect to ip:port from here; on success the listener accepts and we
 * return the peer address the server saw. */
static int tcp_roundtrip(const char *ip, int port, int lfd, char peer[NET_ADDR_STRLEN])
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, ip, &sa.sin_addr);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	_cleanup_close_ int a = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
	if (a < 0)
		return -1;
	inet_ntop(AF_INET, &from.sin_addr, peer, NET_ADDR_STRLEN);
	return 0;
}

static void lo_up(void)
{
	nl_sock *nl = NULL;
	if (nl_open(-1, &nl, NULL) == 0) {
		int lo = nl_link_index(nl, "lo", NULL);
		nl_link_set_up(nl, lo, NULL);
		nl_close(nl);
	}
}

TEST(network_engine_attach_publish_release)
{
	CHECK(private_netns() >= 0);
	lo_up();
	berth_store *s = NULL;
	berth_config *cfg = NULL;
	net_ctx nc;
	CHECK(open_engine(&s, &cfg, &nc) == 0);
	berth_error *e = NULL;
	net_create_opts o = {.name = "n1", .subnet = "10.250.1.0/24"};
	network *n1 = NULL;
	if (network_create(&nc, &o, &n1, &e) < 0) {
		test_failed(__FILE__, __LINE__, "create: %s", e->msg);
		return;
	}
	/* overlapping subnet refused */
	net_create_opts o2 = {.name = "n2", .subnet = "10.250.1.128/25"};
	CHECK(network_create(&nc, &o2, NULL, &e) < 0);
	CHECK(e && strstr(e->msg, "overlaps"));
	berth_error_clear(&e);

	int ns1, ns2;
	pid_t p1 = spawn_netns_proc(&ns1), p2 = spawn_netns_proc(&ns2);
	CHECK(p1 > 0 && p2 > 0);
	net_ctr_config c1cfg, c2cfg;
	net_ctr_config_init(&c1cfg);
	net_ctr_config_init(&c2cfg);
	CHECK(net_ctr_config_flag(&c1cfg, "network", "n1", &e) == 1);
	CHECK(net_ctr_config_flag(&c1cfg, "publish", "127.0.0.1:18080:80", &e) == 1);
	CHECK(net_ctr_config_flag(&c1cfg, "publish", "80", &e) == 1); /* random host port */
	CHECK(net_ctr_config_flag(&c1cfg, "network-alias", "web", &e) == 1);
	CHECK(net_ctr_config_flag(&c2cfg, "network", "n1", &e) == 1);
	CHECK(net_ctr_config_flag(&c2cfg, "ip", "10.250.1.77", &e) == 1);
	CHECK(net_ctr_config_flag(&c2cfg, "publish", "127.0.0.1:18080:80", &e) == 1);
	const char *id1 = "1111111111111111111111111111111111111111111111111111111111111111";
	const char *id2 = "2222222222222222222222222222222222222222222222222222222222222222";
	net_ctr c1 = {.id = id1, .name = "c1", .cfg = &c1cfg};
	net_ctr c2 = {.id = id2, .name = "c2", .cfg = &c2cfg};
	CHECK(network_ctr_create(&nc, &c1, &e) == 0);
	CHECK(network_ctr_create(&nc, &c2, &e) == 0);
	const char *etc = test_tmpdir();
	net_start st1 = {.netns_fd = ns1, .owner = p1, .etc_dir = etc};
	json_t *set = NULL;
	if (network_ctr_start(&nc, &c1, &st1, &set, &e) < 0) {
		test_failed(__FILE__, __LINE__, "start: %s", e->msg);
		return;
	}
	CHECK(ns_has_addr(ns1, "10.250.1.2"));
	json_t *ep = json_object_get(json_object_get(set, "Networks"), "n1");
	CHECK_STR_EQ(json_get_str(ep, "IPAddress"), "10.250.1.2");
	CHECK_STR_EQ(json_get_str(ep, "MacAddress"), "02:42:0a:fa:01:02");
	json_t *p80 = json_object_get(json_object_get(set, "Ports"), "80/tcp");
	CHECK(json_array_size(p80) == 2);
	int random_port = 0;
	for (size_t i = 0; i < 2; i++) {
		json_t *b = json_array_get(p80, i);
		if (!strcmp(json_get_str(b, "HostIp"), "0.0.0.0"))
			random_port = atoi(json_get_str(b, "HostPort"));
	}
	CHECK(random_port >= 1024);
	json_decref(set);
	/* hosts and resolv.conf as Docker writes them for a user network */
	_cleanup_free_ char *hosts = NULL, *resolv = NULL;
	size_t len;
	_cleanup_free_ char *hp = xasprintf("%s/hosts", etc),
	                    *rp = xasprintf("%s/resolv.conf", etc);
	CHECK(read_file(hp, &hosts, &len, NULL) == 0);
	CHECK(strstr(hosts, "127.0.0.1\tlocalhost\n"));
	CHECK(strstr(hosts, "10.250.1.2\t111111111111\n"));
	CHECK(read_file(rp, &resolv, &len, NULL) == 0);
	CHECK(strstr(resolv, "nameserver 10.250.1.1\n"));

	/* the same host port for c2: a clear error, nothing left behind */
	net_start st2 = {.netns_fd = ns2, .owner = p2};
	CHECK(network_ctr_start(&nc, &c2, &st2, NULL, &e) < 0);
	CHECK(e && strstr(e->msg, "port is already allocated"));
	berth_error_clear(&e);
	CHECK(!ns_has_addr(ns2, "10.250.1.77"));
	net_ctr_config_clear(&c2cfg);
	net_ctr_config_init(&c2cfg);
	CHECK(net_ctr_config_flag(&c2cfg, "network", "n1", &e) == 1);
	CHECK(network_ctr_start(&nc, &c2, &st2, NULL, &e) == 0);
	CHECK(ns_has_addr(ns2, "10.250.1.77")); /* the --ip recorded at create */

	/* published port from the host's loopback reaches c1 */
	int l1 = ns_listen(ns1, 80);
	CHECK(l1 >= 0);
	char peer[NET_ADDR_STRLEN];
	CHECK(tcp_roundtrip("127.0.0.1", 18080, l1, peer) == 0);
	/* c2 reaches c1 directly on the network, its source kept */
	{
		_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		CHECK(setns(ns2, CLONE_NEWNET) == 0);
		int r = tcp_roundtrip("10.250.1.2", 80, l1, peer);
		CHECK(setns(self, CLONE_NEWNET) == 0);
		CHECK(r == 0);
		CHECK_STR_EQ(peer, "10.250.1.77");
	}
	/* and from the host through the gateway address, source kept */
	CHECK(tcp_roundtrip("10.250.1.1", random_port, l1, peer) == 0);
	CHECK_STR_EQ(peer, "10.250.1.1");
	/* the 127.0.0.1 binding is not on the other addresses */
	CHECK(tcp_roundtrip("10.250.1.1", 18080, l1, peer) < 0);

	/* stop releases the lease, the veth and the rule */
	char veth[16];
	net_veth_name(id1, n1->id, veth);
	nl_sock *nl = NULL;
	CHECK(nl_open(-1, &nl, &e) == 0);
	nl_link_info li;
	CHECK(nl_link_get(nl, veth, &li, &e) == 1);
	CHECK(network_ctr_stop(&nc, id1, &e) == 0);
	CHECK(nl_link_get(nl, veth, &li, &e) == 0);
	CHECK(tcp_roundtrip("127.0.0.1", 18080, l1, peer) < 0);
	close(l1);
	set = network_ctr_settings(&nc, id1, &e);
	CHECK(json_object_size(json_object_get(set, "Ports")) == 0);
	json_decref(set);

	/* kill -9 of c2's process: the next call reclaims its lease */
	kill_proc(p2);
	CHECK(network_reclaim(&nc, &e) == 0);
	CHECK_INT_EQ(network_count_members(&nc, n1->id, true, &e), 0);
	/* a network with members cannot be removed; after rm it can */
	CHECK(network_remove(&nc, "n1", &e) < 0);
	berth_error_clear(&e);
	CHECK(network_ctr_remove(&nc, id1, &e) == 0);
	CHECK(network_ctr_remove(&nc, id2, &e) == 0);
	CHECK(network_remove(&nc, "n1", &e) == 0);
	CHECK(nl_link_get(nl, n1->bridge, &li, &e) == 0);
	_cleanup_free_ char *table = nft_table_name(n1->id);
	CHECK(nft_table_exists(table, &e) == 0);
	kill_proc(p1);
	nl_close(nl);
	network_free(n1);
	net_ctr_config_clear(&c1cfg);
	net_ctr_config_clear(&c2cfg);
	store_close(s);
	berth_config_free(cfg);
	berth_error_free(e);
}

/* 50 containers started at once get 50 distinct addresses. */
TEST(network_engine_parallel_ipam)
{
	CHECK(private_netns() >= 0);
	berth_store *s = NULL;
	berth_config *cfg = NULL;
	net_ctx nc;
	CHECK(open_engine(&s, &cfg, &nc) == 0);
	berth_error *e = NULL;
	CHECK(network_ensure_default(&nc, &e) == 0);
	store_close(s);
	berth_config_free(cfg);
	cfg = NULL;
	enum { N = 50 };
	pid_t kids[N], owners[N];
	int pipes[N][2];
	for (int i = 0; i < N; i++) {
		int nsfd;
		owners[i] = spawn_netns_proc(&nsfd);
		CHECK(owners[i] > 0);
		CHECK(pipe(pipes[i]) == 0);
		kids[i] = fork();
		if (kids[i] == 0) {
			berth_store *cs = NULL;
			net_ctx cnc;
			berth_config *ccfg = NULL;
			char rb[1];
			if (read(pipes[i][0], rb, 1) != 1) /* start together */
				_exit(3);
			if (open_engine(&cs, &ccfg, &cnc) < 0)
				_exit(2);
			char id[65];
			snprintf(id, sizeof(id), "%064d", i + 1);
			char name[16];
			snprintf(name, sizeof(name), "c%d", i);
			net_ctr_config cc;
			net_ctr_config_init(&cc);
			net_ctr c = {.id = id, .name = name, .cfg = &cc};
			net_start st = {.netns_fd = nsfd, .owner = owners[i]};
			berth_error *ce = NULL;
			if (network_ctr_start(&cnc, &c, &st, NULL, &ce) < 0) {
				fprintf(stderr, "start %d: %s\n", i, ce->msg);
				_exit(1);
			}
			_exit(0);
		}
		close(nsfd);
	}
	for (int i = 0; i < N; i++)
		CHECK(write(pipes[i][1], "g", 1) == 1);
	int failed = 0;
	for (int i = 0; i < N; i++) {
		int status;
		waitpid(kids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	CHECK_INT_EQ(failed, 0);
	CHECK(open_engine(&s, &cfg, &nc) == 0);
	sqlite3_stmt *st = NULL;
	CHECK(sqlite3_prepare_v2(store_db(s),
	                         "SELECT count(DISTINCT ipv4), count(*) FROM network_endpoints"
	                         " WHERE ipv4 IS NOT NULL",
	                         -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_INT_EQ(sqlite3_column_int(st, 0), N);
	CHECK_INT_EQ(sqlite3_column_int(st, 1), N);
	sqlite3_finalize(st);
	/* and the kernel agrees: N veths on the bridge */
	nl_sock *nl = NULL;
	CHECK(nl_open(-1, &nl, &e) == 0);
	nl_link_info *links = NULL;
	size_t nlinks = 0;
	CHECK(nl_link_list(nl, &links, &nlinks, &e) == 0);
	int br = nl_link_index(nl, "tdef0", &e);
	int ports = 0;
	for (size_t i = 0; i < nlinks; i++)
		ports += links[i].master == br;
	free(links);
	CHECK_INT_EQ(ports, N);
	for (int i = 0; i < N; i++)
		kill_proc(owners[i]);
	/* all owners dead: everything is reclaimed */
	CHECK(network_reclaim(&nc, &e) == 0);
	CHECK(nl_link_list(nl, &links, &nlinks, &e) == 0);
	ports = 0;
	for (size_t i = 0; i < nlinks; i++)
		ports += links[i].master == br;
	free(links);
	CHECK_INT_EQ(ports, 0);
	nl_close(nl);
	store_close(s);
	berth_config_free(cfg);
}

TEST(portspec_parse)
{
	port_binding *b = NULL;
	size_t n = 0;
	CHECK(port_spec_parse("8080:80", &b, &n, NULL) == 0);
	CHECK(n == 1 && b[0].host_port == 8080 && b[0].ctr_port == 80 && !b[0].host_ip[0] &&
	      b[0].proto == IPPROTO_TCP);
	free(b);
	CHECK(port_spec_parse("127.0.0.1:8080:80/udp", &b, &n, NULL) == 0);
	CHECK(n == 1 && b[0].proto == IPPROTO_UDP);
	CHECK_STR_EQ(b[0].host_ip, "127.0.0.1");
	free(b);
	CHECK(port_spec_parse("127.0.0.1::80", &b, &n, NULL) == 0);
	CHECK(n == 1 && b[0].host_port == 0);
	free(b);
	CHECK(port_spec_parse("[::1]:8080:80", &b, &n, NULL) == 0);
	CHECK_STR_EQ(b[0].host_ip, "::1");
	free(b);
	CHECK(port_spec_parse("8000-8002:9000-9002", &b, &n, NULL) == 0);
	CHECK(n == 3 && b[2].host_port == 8002 && b[2].ctr_port == 9002);
	free(b);
	CHECK(port_spec_parse("8000-8010:80", &b, &n, NULL) == 0);
	CHECK(n == 1 && b[0].host_port == 8000 && b[0].host_port_end == 8010);
	free(b);
	CHECK(port_spec_parse("80", &b, &n, NULL) == 0);
	CHECK(n == 1 && b[0].host_port == 0 && b[0].ctr_port == 80);
	free(b);
	berth_error *e = NULL;
	CHECK(port_spec_parse("8000-8002:80-81", &b, &n, &e) < 0);
	berth_error_clear(&e);
	CHECK(port_spec_parse("80/sctpx", &b, &n, &e) < 0);
	berth_error_clear(&e);
	CHECK(port_spec_parse("1.2.3:80:80", &b, &n, &e) < 0);
	berth_error_clear(&e);
	CHECK(port_spec_parse("70000", &b, &n, &e) < 0);
	berth_error_clear(&e);
	CHECK(port_spec_parse("a:b:c:d", &b, &n, &e) < 0);
	berth_error_clear(&e);
	CHECK(port_spec_parse("", &b, &n, &e) < 0);
	berth_error_free(e);
}

TEST(ctr_config_json_roundtrip)
{
	net_ctr_config c;
	net_ctr_config_init(&c);
	CHECK(net_ctr_config_flag(&c, "publish", "127.0.0.1:8080:80", NULL) == 1);
	CHECK(net_ctr_config_flag(&c, "publish", "53/udp", NULL) == 1);
	CHECK(net_ctr_config_flag(&c, "expose", "9000-9001", NULL) == 1);
	CHECK(net_ctr_config_flag(&c, "add-host", "db:10.0.0.5", NULL) == 1);
	CHECK(net_ctr_config_flag(&c, "add-host", "gw:host-gateway", NULL) == 1);
	CHECK(net_ctr_config_flag(&c, "add-host", "bad", NULL) < 0);
	CHECK(net_ctr_config_flag(&c, "dns", "not-ip", NULL) < 0);
	CHECK(net_ctr_config_flag(&c, "mac-address", "02:42:ac:11:00:09", NULL) == 1);
	CHECK(net_ctr_config_flag(&c, "volume", "/x", NULL) == 0);
	json_t *j = net_ctr_config_to_json(&c);
	json_t *pb = json_object_get(j, "PortBindings");
	CHECK_STR_EQ(json_get_str(json_array_get(json_object_get(pb, "80/tcp"), 0), "HostIp"),
	             "127.0.0.1");
	CHECK_STR_EQ(json_get_str(json_array_get(json_object_get(pb, "80/tcp"), 0), "HostPort"),
	             "8080");
	CHECK(json_object_get(json_object_get(j, "ExposedPorts"), "9001/tcp") != NULL);
	net_ctr_config d;
	CHECK(net_ctr_config_from_json(j, &d, NULL) == 0);
	CHECK_INT_EQ(d.nports, 2);
	CHECK_STR_EQ(d.extra_hosts[1], "gw:host-gateway");
	CHECK_STR_EQ(d.mac, "02:42:ac:11:00:09");
	CHECK(strv_len(d.expose) == 2);
	json_decref(j);
	net_ctr_config_clear(&c);
	net_ctr_config_clear(&d);
}

#include "network/dns.h"

/* Ask the DNS server at server:53 for name/type; returns the rcode and
 * fills the first answer's address. */
static int dns_ask(const char *server, const char *name, int type, net_addr *ans, int *nans)
{
	uint8_t q[512] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	size_t off = 12;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[off++] = (uint8_t)l;
		memcpy(q + off, p, l);
		off += l;
		p += l + (dot ? 1 : 0);
	}
	q[off++] = 0;
	q[off++] = 0;
	q[off++] = (uint8_t)type;
	q[off++] = 0;
	q[off++] = 1;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, server, &sa.sin_addr);
	struct timeval tv = {.tv_sec = 3};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, q, off, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	uint8_t r[512];
	ssize_t n = recv(fd, r, sizeof(r), 0);
	if (n < 12 || r[0] != 0x12 || r[1] != 0x34 || !(r[2] & 0x80))
		return -1;
	*nans = r[6] << 8 | r[7];
	if (*nans > 0 && (size_t)n >= off + 12) {
		size_t dl = r[off + 11];
		ans->family = dl == 4 ? AF_INET : AF_INET6;
		memcpy(ans->b, r + off + 12, dl);
	}
	return r[3] & 0xf;
}

TEST(dns_server_names_aliases_forwarding)
{
	CHECK(private_netns() >= 0);
	lo_up();
	berth_store *s = NULL;
	berth_config *cfg = NULL;
	net_ctx nc;
	CHECK(open_engine(&s, &cfg, &nc) == 0);
	berth_error *e = NULL;
	net_create_opts o = {.name = "dn", .subnet = "10.250.3.0/24"};
	network *n = NULL;
	CHECK(network_create(&nc, &o, &n, &e) == 0);
	int ns1;
	pid_t p1 = spawn_netns_proc(&ns1);
	net_ctr_config cc;
	net_ctr_config_init(&cc);
	CHECK(net_ctr_config_flag(&cc, "network", "dn", &e) == 1);
	CHECK(net_ctr_config_flag(&cc, "network-alias", "Web", &e) == 1);
	const char *id1 = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
	net_ctr c1 = {.id = id1, .name = "first", .cfg = &cc};
	net_start st = {.netns_fd = ns1, .owner = p1};
	CHECK(network_ctr_start(&nc, &c1, &st, NULL, &e) == 0);

	int ready[2];
	CHECK(pipe(ready) == 0);
	pid_t srv = fork();
	if (srv == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		berth_store *s2 = NULL;
		berth_config *cfg2 = NULL;
		net_ctx nc2;
		if (open_engine(&s2, &cfg2, &nc2) < 0)
			_exit(2);
		_exit(network_dns_serve(&nc2, n->id, ready[1], NULL) < 0 ? 1 : 0);
	}
	close(ready[1]);
	char c;
	CHECK(read(ready[0], &c, 1) == 1);
	close(ready[0]);

	net_addr a;
	int na = 0;
	CHECK_INT_EQ(dns_ask("10.250.3.1", "first", DNS_TYPE_A, &a, &na), DNS_RCODE_OK);
	CHECK_INT_EQ(na, 1);
	_cleanup_free_ char *s1 = net_addr_str(&a);
	CHECK_STR_EQ(s1, "10.250.3.2");
	CHECK_INT_EQ(dns_ask("10.250.3.1", "WEB", DNS_TYPE_A, &a, &na), DNS_RCODE_OK);
	CHECK_INT_EQ(na, 1);
	CHECK_INT_EQ(dns_ask("10.250.3.1", "abcdef012345", DNS_TYPE_A, &a, &na), DNS_RCODE_OK);
	CHECK_INT_EQ(na, 1);
	/* AAAA of a v4-only container: found, no answers */
	CHECK_INT_EQ(dns_ask("10.250.3.1", "first", DNS_TYPE_AAAA, &a, &na), DNS_RCODE_OK);
	CHECK_INT_EQ(na, 0);
	CHECK_INT_EQ(dns_ask("10.250.3.1", "nosuch", DNS_TYPE_A, &a, &na), DNS_RCODE_NXDOMAIN);
	/* other names go to the configured resolver (127.0.0.1:1, nobody):
	 * a quick SERVFAIL, not a hang */
	CHECK_INT_EQ(dns_ask("10.250.3.1", "example.invalid", DNS_TYPE_A, &a, &na),
	             DNS_RCODE_SERVFAIL);
	/* a container started now resolves at once */
	int ns2;
	pid_t p2 = spawn_netns_proc(&ns2);
	const char *id2 = "bbcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
	net_ctr_config c2cfg;
	net_ctr_config_init(&c2cfg);
	CHECK(net_ctr_config_flag(&c2cfg, "network", "dn", &e) == 1);
	net_ctr c2 = {.id = id2, .name = "second", .cfg = &c2cfg};
	net_start st2 = {.netns_fd = ns2, .owner = p2};
	CHECK(network_ctr_start(&nc, &c2, &st2, NULL, &e) == 0);
	CHECK_INT_EQ(dns_ask("10.250.3.1", "second", DNS_TYPE_A, &a, &na), DNS_RCODE_OK);
	_cleanup_free_ char *s2 = net_addr_str(&a);
	CHECK_STR_EQ(s2, "10.250.3.3");
	/* stopped: gone from DNS */
	CHECK(network_ctr_stop(&nc, id2, &e) == 0);
	CHECK_INT_EQ(dns_ask("10.250.3.1", "second", DNS_TYPE_A, &a, &na), DNS_RCODE_NXDOMAIN);
	/* removing the network ends the server */
	CHECK(network_ctr_remove(&nc, id1, &e) == 0);
	CHECK(network_ctr_remove(&nc, id2, &e) == 0);
	CHECK(network_remove(&nc, "dn", &e) == 0);
	int status = 0;
	for (int i = 0; i < 40 && waitpid(srv, &status, WNOHANG) == 0; i++)
		usleep(100000);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	kill_proc(p1);
	kill_proc(p2);
	network_free(n);
	net_ctr_config_clear(&cc);
	net_ctr_config_clear(&c2cfg);
	store_close(s);
	berth_config_free(cfg);
}

TEST(dns_parse_and_reply)
{
	/* a query for "a.b" type A */
	const uint8_t q[] = {0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'A', 1, 'b', 0, 0, 1, 0, 1};
	dns_query dq;
	CHECK(dns_parse_query(q, sizeof(q), &dq) == 0);
	CHECK_STR_EQ(dq.name, "a.b");
	CHECK_INT_EQ(dq.qtype, DNS_TYPE_A);
	net_addr a;
	CHECK(net_addr_parse("10.0.0.9", &a, NULL) == 0);
	uint8_t out[512];
	size_t n = dns_build_reply(q, &dq, &a, 1, DNS_RCODE_OK, out, sizeof(out));
	CHECK_INT_EQ(n, sizeof(q) + 16);
	CHECK(out[2] & 0x80);
	CHECK_INT_EQ(out[7], 1);
	CHECK(memcmp(out + n - 4, a.b, 4) == 0);
	/* truncated / compressed / two questions: refused */
	CHECK(dns_parse_query(q, 15, &dq) < 0);
	uint8_t bad[sizeof(q)];
	memcpy(bad, q, sizeof(q));
	bad[12] = 0xc0;
	CHECK(dns_parse_query(bad, sizeof(bad), &dq) < 0);
	memcpy(bad, q, sizeof(q));
	bad[5] = 2;
	CHECK(dns_parse_query(bad, sizeof(bad), &dq) < 0);
}
