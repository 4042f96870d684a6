#include "network/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "network/lo6proxy.h"
#include "network/net_int.h"

/* --- messages --- */

int dns_parse_query(const uint8_t *msg, size_t len, dns_query *q)
{
	memset(q, 0, sizeof(*q));
	if (len < 12)
		return -1;
	q->id = (uint16_t)(msg[0] << 8 | msg[1]);
	q->flags = (uint16_t)(msg[2] << 8 | msg[3]);
	uint16_t qd = (uint16_t)(msg[4] << 8 | msg[5]);
	if (q->flags & 0x8000 || qd != 1)
		return -1;
	size_t off = 12, nl = 0;
	for (;;) {
		if (off >= len)
			return -1;
		uint8_t l = msg[off++];
		if (l == 0)
			break;
		if (l & 0xc0)
			return -1; /* no compression in a question we parse */
		if (off + l > len || nl + l + 1 >= sizeof(q->name))
			return -1;
		if (nl)
			q->name[nl++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			char c = (char)msg[off + i];
			if (c == 0 || c == '.')
				return -1;
			q->name[nl++] = (char)tolower((unsigned char)c);
		}
		off += l;
	}
	q->name[nl] = 0;
	if (off + 4 > len)
		return -1;
	q->qtype = (uint16_t)(msg[off] << 8 | msg[off + 1]);
	q->qclass = (uint16_t)(msg[off + 2] << 8 | msg[off + 3]);
	q->qlen = off + 4;
	return 0;
}

size_t dns_build_reply(const uint8_t *msg, const dns_query *q, const net_addr *addrs, size_t n,
                       int rcode, uint8_t *out, size_t cap)
{
	if (q->qlen > cap)
		return 0;
	memcpy(out, msg, q->qlen);
	/* QR, opcode as asked, AA, RD as asked, RA */
	uint16_t flags = (uint16_t)(0x8000 | (q->flags & 0x7800) | 0x0400 | (q->flags & 0x0100) |
	                            0x0080 | (rcode & 0xf));
	out[2] = (uint8_t)(flags >> 8);
	out[3] = (uint8_t)flags;
	out[4] = 0;
	out[5] = 1;
	memset(out + 6, 0, 6);
	size_t off = q->qlen;
	uint16_t an = 0;
	for (size_t i = 0; i < n && rcode == DNS_RCODE_OK; i++) {
		int fam = q->qtype == DNS_TYPE_A      ? AF_INET
		          : q->qtype == DNS_TYPE_AAAA ? AF_INET6
		                                      : 0;
		if (addrs[i].family != fam)
			continue;
		size_t dl = fam == AF_INET ? 4 : 16;
		if (off + 12 + dl > cap)
			break;
		uint8_t *p = out + off;
		p[0] = 0xc0; /* pointer to the question's name */
		p[1] = 12;
		p[2] = (uint8_t)(q->qtype >> 8);
		p[3] = (uint8_t)q->qtype;
		p[4] = 0;
		p[5] = 1; /* IN */
		uint32_t ttl = 600;
		p[6] = (uint8_t)(ttl >> 24);
		p[7] = (uint8_t)(ttl >> 16);
		p[8] = (uint8_t)(ttl >> 8);
		p[9] = (uint8_t)ttl;
		p[10] = 0;
		p[11] = (uint8_t)dl;
		memcpy(p + 12, addrs[i].b, dl);
		off += 12 + dl;
		an++;
	}
	out[6] = (uint8_t)(an >> 8);
	out[7] = (uint8_t)an;
	return off;
}

/* --- the server process --- */

static char *lock_path(net_ctx *nc, const char *net_id)
{
	return xasprintf("%s/network/dns-%.12s.lock", store_runroot(nc->store), net_id);
}

int net_dns_ensure(net_ctx *nc, const network *n, berth_error **err)
{
	if (nc->argv0 == NULL)
		return 0; /* a library user without the berth binary: no DNS */
	_cleanup_free_ char *dir = xasprintf("%s/network", store_runroot(nc->store));
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *lp = lock_path(nc, n->id);
	_cleanup_close_ int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return berth_err_sys(err, errno, "opening %s", lp);
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0)
		return 0; /* held by the running server */
	flock(lfd, LOCK_UN);
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "pipe");
	const char *exe = nc->argv0 && strchr(nc->argv0, '/') ? nc->argv0 : "/proc/self/exe";
	_cleanup_free_ char *abs_exe = realpath(exe, NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return berth_err_sys(err, errno, "fork");
	}
	if (pid == 0) {
		/* child: detach, then exec the server in a grandchild */
		setsid();
		if (fork() != 0)
			_exit(0);
		close(pfd[0]);
		if (dup2(pfd[1], 3) < 0)
			_exit(1);
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		char *argv[12];
		int a = 0;
		argv[a++] = "berth";
		argv[a++] = "--root";
		argv[a++] = (char *)store_root(nc->store);
		argv[a++] = "--runroot";
		argv[a++] = (char *)store_runroot(nc->store);
		if (nc->cfg && nc->cfg->path) {
			argv[a++] = "--config";
			argv[a++] = nc->cfg->path;
		}
		argv[a++] = "network";
		argv[a++] = "dns-serve";
		argv[a++] = n->id;
		argv[a] = NULL;
		execv(abs_exe ? abs_exe : exe, argv);
		_exit(127);
	}
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	/* wait until the server has bound its socket (or died: EOF). Not a
	 * short timeout: on a loaded machine exec and start-up can take
	 * seconds, and a container started before it cannot resolve names. */
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	char c;
	int ok = poll(&p, 1, 10000) == 1 && read(pfd[0], &c, 1) == 1;
	close(pfd[0]);
	if (!ok)
		log_warn("the DNS server of network %s did not start", n->name);
	return 0;
}

void net_dns_stop(net_ctx *nc, const network *n)
{
	/* the server notices the network's removal itself; nudge it by
	 * removing its lock file (it polls every second) */
	_cleanup_free_ char *lp = lock_path(nc, n->id);
	unlink(lp);
}

typedef struct pending {
	int fd; /* socket to the upstream, -1 if free */
	int sock; /* our listening socket to reply on */
	struct sockaddr_storage client;
	socklen_t clen;
	uint8_t query[512];
	size_t qlen;
	int upstream; /* index tried now */
	int64_t deadline;
} pending;

#define MAX_PENDING 64
#define FORWARD_TIMEOUT_MS 1000

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_upstream(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	unsigned port = 53;
	memset(ss, 0, sizeof(*ss));
	const char *colon = strrchr(s, ':');
	net_addr a;
	if (net_addr_parse(s, &a, NULL) < 0) {
		if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
			return -1;
		const char *h = s;
		size_t hl = (size_t)(colon - s);
		if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
			h++;
			hl -= 2;
		}
		memcpy(host, h, hl);
		host[hl] = 0;
		port = (unsigned)atoi(colon + 1);
		if (net_addr_parse(host, &a, NULL) < 0 || port == 0 || port > 65535)
			return -1;
	}
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a.b, 4);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a.b, 16);
		*len = sizeof(*sin6);
	}
	return 0;
}

/* Names on this network and on every other network the asking container
 * (known by its source address here) is attached to, as Docker's
 * embedded DNS answers; this network's addresses first. */
static int lookup(net_ctx *nc, const network *n, const char *name, const char *client,
                  net_addr *out, size_t cap, size_t *nout)
{
	*nout = 0;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT ipv4, ipv6 FROM network_endpoints e WHERE owner_pid IS NOT NULL"
	    " AND (network_id = ?1 OR network_id IN (SELECT o.network_id FROM"
	    "  network_endpoints o WHERE o.owner_pid IS NOT NULL AND o.container_id ="
	    "  (SELECT c.container_id FROM network_endpoints c WHERE c.network_id = ?1"
	    "   AND (c.ipv4 = ?3 OR c.ipv6 = ?3))))"
	    " AND (lower(container_name) = ?2"
	    " OR substr(container_id, 1, 12) = ?2"
	    " OR EXISTS (SELECT 1 FROM json_each(e.aliases) WHERE lower(value) = ?2))"
	    " ORDER BY network_id != ?1, seq",
	    NULL);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, client, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && *nout + 2 <= cap) {
		for (int c = 0; c < 2; c++) {
			const char *ip = (const char *)sqlite3_column_text(st, c);
			if (ip && net_addr_parse(ip, &out[*nout], NULL) == 0)
				(*nout)++;
		}
	}
	return 0;
}

/* A reverse name inside one of the network's subnets? */
static bool reverse_of_ours(const network *n, const char *name)
{
	if (!str_has_suffix(name, ".in-addr.arpa") || !n->v4.subnet.addr.family)
		return str_has_suffix(name, ".ip6.arpa") && n->v6.subnet.addr.family;
	unsigned o[4];
	if (sscanf(name, "%u.%u.%u.%u.in-addr.arpa", &o[3], &o[2], &o[1], &o[0]) != 4)
		return false;
	net_addr a = {.family = AF_INET};
	for (int i = 0; i < 4; i++)
		a.b[i] = (uint8_t)o[i];
	return net_prefix_contains(&n->v4.subnet, &a);
}

static int bind_udp(const net_addr *a)
{
	int fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		memcpy(&sin->sin_addr, a->b, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(53);
		memcpy(&sin6->sin6_addr, a->b, 16);
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void forward_start(pending *p, char **ups, int start)
{
	for (int i = start; ups && ups[i]; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (parse_upstream(ups[i], &ss, &len) < 0)
			continue;
		int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 ||
		    send(fd, p->query, p->qlen, 0) < 0) {
			close(fd);
			continue;
		}
		if (p->fd >= 0)
			close(p->fd);
		p->fd = fd;
		p->upstream = i;
		p->deadline = now_ms() + FORWARD_TIMEOUT_MS;
		return;
	}
	/* nobody to ask: SERVFAIL */
	dns_query q;
	if (dns_parse_query(p->query, p->qlen, &q) == 0) {
		uint8_t out[512];
		size_t n =
		    dns_build_reply(p->query, &q, NULL, 0, DNS_RCODE_SERVFAIL, out, sizeof(out));
		if (n)
			sendto(p->sock, out, n, 0, (struct sockaddr *)&p->client, p->clen);
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

int network_dns_serve(net_ctx *nc, const char *net_id, int ready_fd, berth_error **err)
{
	_cleanup_network_ network *n = NULL;
	if (network_init(nc, err) < 0 || net_load(nc, net_id, &n, err) < 0)
		return -1;
	_cleanup_free_ char *dir = xasprintf("%s/network", store_runroot(nc->store));
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *lp = lock_path(nc, n->id);
	_cleanup_close_ int lfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return berth_err_sys(err, errno, "opening %s", lp);
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		if (ready_fd >= 0 && write(ready_fd, "1", 1) < 0)
			return 0;
		return 0; /* another server runs */
	}
	signal(SIGPIPE, SIG_IGN);
	int socks[2] = {-1, -1};
	int ns = 0;
	if (n->v4.subnet.addr.family && (socks[ns] = bind_udp(&n->v4.gateway)) >= 0)
		ns++;
	if (n->v6.subnet.addr.family && (socks[ns] = bind_udp(&n->v6.gateway)) >= 0)
		ns++;
	if (ns == 0)
		return berth_err_sys(err, errno, "binding the DNS socket of network %s", n->name);
	if (ready_fd >= 0) {
		if (write(ready_fd, "1", 1) < 0)
			log_debug("ready pipe: %s", strerror(errno));
		close(ready_fd);
	}
	char **ups = n->internal ? NULL : net_host_nameservers(nc->cfg, true);
	/* [::1] to the published ports of IPv6 containers */
	lo6_proxy *px = n->v6.subnet.addr.family ? lo6_proxy_new() : NULL;
	if (px)
		lo6_proxy_refresh(px, nc, net_id);
	int64_t last_px = now_ms();
	/* never forward to ourselves */
	pending pend[MAX_PENDING];
	for (int i = 0; i < MAX_PENDING; i++)
		pend[i].fd = -1;
	int64_t last_check = now_ms(), idle_since = now_ms();
	for (;;) {
		struct pollfd pfd[2 + MAX_PENDING + LO6_MAX_FDS];
		int np = 0;
		for (int i = 0; i < ns; i++)
			pfd[np++] = (struct pollfd){.fd = socks[i], .events = POLLIN};
		int map[MAX_PENDING];
		for (int i = 0; i < MAX_PENDING; i++) {
			if (pend[i].fd >= 0) {
				map[np - ns] = i;
				pfd[np++] = (struct pollfd){.fd = pend[i].fd, .events = POLLIN};
			}
		}
		int pxs = np;
		size_t pxn = px ? lo6_proxy_pollfds(px, pfd + np, LO6_MAX_FDS) : 0;
		np += (int)pxn;
		int r = poll(pfd, (nfds_t)np, 200);
		if (r < 0 && errno != EINTR)
			break;
		for (int i = 0; i < ns && r > 0; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			uint8_t buf[512];
			struct sockaddr_storage cl;
			socklen_t cl_len = sizeof(cl);
			ssize_t got = recvfrom(socks[i], buf, sizeof(buf), 0,
			                       (struct sockaddr *)&cl, &cl_len);
			if (got <= 0)
				continue;
			dns_query q;
			uint8_t out[512];
			size_t olen = 0;
			if (dns_parse_query(buf, (size_t)got, &q) < 0) {
				if (got >= 12) {
					memcpy(out, buf, 12);
					out[2] = 0x80;
					out[3] = DNS_RCODE_FORMERR;
					memset(out + 4, 0, 8);
					olen = 12;
				}
			} else {
				net_addr addrs[16];
				size_t na = 0;
				char client[NET_ADDR_STRLEN] = "";
				if (cl.ss_family == AF_INET)
					inet_ntop(AF_INET, &((struct sockaddr_in *)&cl)->sin_addr,
					          client, sizeof(client));
				else
					inet_ntop(AF_INET6,
					          &((struct sockaddr_in6 *)&cl)->sin6_addr, client,
					          sizeof(client));
				lookup(nc, n, q.name, client, addrs, 16, &na);
				if (na > 0 && q.qclass == 1)
					olen = dns_build_reply(buf, &q, addrs, na, DNS_RCODE_OK,
					                       out, sizeof(out));
				else if (reverse_of_ours(n, q.name) || ups == NULL || !ups[0])
					olen = dns_build_reply(buf, &q, NULL, 0, DNS_RCODE_NXDOMAIN,
					                       out, sizeof(out));
				else if (!strchr(q.name, '.') && q.qtype != DNS_TYPE_PTR)
					/* a single label that is not ours: not found (as
					 * Docker, without asking the world) */
					olen = dns_build_reply(buf, &q, NULL, 0, DNS_RCODE_NXDOMAIN,
					                       out, sizeof(out));
				else {
					int slot = -1;
					for (int k = 0; k < MAX_PENDING && slot < 0; k++)
						if (pend[k].fd < 0)
							slot = k;
					if (slot < 0) {
						olen = dns_build_reply(buf, &q, NULL, 0,
						                       DNS_RCODE_SERVFAIL, out,
						                       sizeof(out));
					} else {
						pending *p = &pend[slot];
						p->sock = socks[i];
						p->client = cl;
						p->clen = cl_len;
						memcpy(p->query, buf, (size_t)got);
						p->qlen = (size_t)got;
						forward_start(p, ups, 0);
					}
				}
			}
			if (olen)
				sendto(socks[i], out, olen, 0, (struct sockaddr *)&cl, cl_len);
		}
		for (int j = ns; j < pxs && r > 0; j++) {
			if (!(pfd[j].revents & (POLLIN | POLLERR)))
				continue;
			pending *p = &pend[map[j - ns]];
			uint8_t buf[4096];
			ssize_t got = recv(p->fd, buf, sizeof(buf), 0);
			if (got > 0) {
				sendto(p->sock, buf, (size_t)got, 0, (struct sockaddr *)&p->client,
				       p->clen);
				close(p->fd);
				p->fd = -1;
			} else {
				forward_start(p, ups, p->upstream + 1);
			}
		}
		if (px && r > 0)
			lo6_proxy_handle(px, nc, net_id, pfd + pxs, pxn);
		int64_t now = now_ms();
		if (px && now - last_px >= 200) {
			last_px = now;
			lo6_proxy_refresh(px, nc, net_id);
		}
		for (int k = 0; k < MAX_PENDING; k++)
			if (pend[k].fd >= 0 && now >= pend[k].deadline)
				forward_start(&pend[k], ups, pend[k].upstream + 1);
		if (now - last_check >= 1000) {
			last_check = now;
			struct stat stl, stf;
			/* removed network (lock file unlinked or replaced) */
			if (stat(lp, &stl) < 0 || fstat(lfd, &stf) < 0 || stl.st_ino != stf.st_ino)
				break;
			_cleanup_network_ network *again = NULL;
			if (net_load(nc, net_id, &again, NULL) < 0)
				break;
			int m = network_count_members(nc, net_id, true, NULL);
			if (m > 0)
				idle_since = now;
			else if (now - idle_since > 30000)
				break;
		}
	}
	strv_free(ups);
	lo6_proxy_free(px);
	for (int i = 0; i < ns; i++)
		close(socks[i]);
	for (int k = 0; k < MAX_PENDING; k++)
		if (pend[k].fd >= 0)
			close(pend[k].fd);
	/* unlink only our own lock file, while still holding it */
	struct stat stl, stf;
	if (stat(lp, &stl) == 0 && fstat(lfd, &stf) == 0 && stl.st_ino == stf.st_ino)
		unlink(lp);
	return 0;
}
