/* The host's [::1] to published TCP ports of a network's IPv6 containers.
 *
 * IPv4's 127.0.0.1 reaches a published port in the kernel (DNAT, and
 * route_localnet on the bridge). IPv6 has no route_localnet: a reply
 * un-NATed to ::1 arrives on the bridge and the kernel drops it (RFC 4291
 * forbids ::1 off the loopback device). So, as Docker's userland proxy
 * does, a small relay listens on [::1]:PORT and connects to the
 * container. It runs in the network's DNS server process (one per
 * network, alive while the network has containers). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "network/lo6proxy.h"
#include "network/net_int.h"

#define LO6_BUF 65536

typedef struct lo6_listener {
	uint16_t port;
	int fd;
	bool seen;
} lo6_listener;

/* One direction of a relayed connection: bytes read from `from` wait in
 * buf until written to `to`. */
typedef struct lo6_dir {
	char *buf;
	size_t len, off;
	bool eof; /* from has shut down its sending side */
} lo6_dir;

typedef struct lo6_conn {
	int fd[2]; /* 0: the client on ::1, 1: the container */
	bool connecting;
	lo6_dir dir[2]; /* dir[i]: from fd[i] to fd[1 - i] */
} lo6_conn;

struct lo6_proxy {
	lo6_listener l[LO6_MAX_LISTEN];
	size_t nl;
	lo6_conn c[LO6_MAX_CONN];
	size_t nc;
};

lo6_proxy *lo6_proxy_new(void)
{
	return xcalloc(1, sizeof(lo6_proxy));
}

static void conn_close(lo6_conn *c)
{
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] >= 0)
			close(c->fd[i]);
		free(c->dir[i].buf);
	}
}

void lo6_proxy_free(lo6_proxy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nl; i++)
		close(p->l[i].fd);
	for (size_t i = 0; i < p->nc; i++)
		conn_close(&p->c[i]);
	free(p);
}

static int listen_lo6(uint16_t port)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in6 sa = {
	    .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void lo6_proxy_refresh(lo6_proxy *p, net_ctx *nc, const char *net_id)
{
	for (size_t i = 0; i < p->nl; i++)
		p->l[i].seen = false;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT DISTINCT host_port FROM network_ports WHERE network_id = ?1"
	    " AND proto = 'tcp' AND instr(ctr_ip, ':') > 0 AND host_ip IN ('', '::', '::1')",
	    NULL);
	if (st == NULL)
		return;
	sqlite3_bind_text(st, 1, net_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint16_t port = (uint16_t)sqlite3_column_int(st, 0);
		bool have = false;
		for (size_t i = 0; i < p->nl && !have; i++) {
			if (p->l[i].port == port) {
				p->l[i].seen = true;
				have = true;
			}
		}
		if (have || p->nl == LO6_MAX_LISTEN)
			continue;
		int fd = listen_lo6(port);
		if (fd >= 0)
			p->l[p->nl++] = (lo6_listener){.port = port, .fd = fd, .seen = true};
	}
	for (size_t i = 0; i < p->nl;) {
		if (p->l[i].seen) {
			i++;
			continue;
		}
		close(p->l[i].fd);
		p->l[i] = p->l[--p->nl];
	}
}

/* The container behind a published port now: its v6 address and port. */
static int target_of(net_ctx *nc, const char *net_id, uint16_t port, struct sockaddr_in6 *out)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    nc->store,
	    "SELECT ctr_ip, ctr_port FROM network_ports WHERE network_id = ?1 AND proto = 'tcp'"
	    " AND host_port = ?2 AND instr(ctr_ip, ':') > 0 AND host_ip IN ('', '::', '::1')"
	    " LIMIT 1",
	    NULL);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, net_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, port);
	if (sqlite3_step(st) != SQLITE_ROW)
		return -1;
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = htons((uint16_t)sqlite3_column_int(st, 1));
	const char *ip = (const char *)sqlite3_column_text(st, 0);
	return ip && inet_pton(AF_INET6, ip, &out->sin6_addr) == 1 ? 0 : -1;
}

static void accept_one(lo6_proxy *p, net_ctx *nc, const char *net_id, lo6_listener *l)
{
	int cfd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	struct sockaddr_in6 to;
	int sfd = -1;
	if (p->nc < LO6_MAX_CONN && target_of(nc, net_id, l->port, &to) == 0)
		sfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sfd < 0 ||
	    (connect(sfd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS)) {
		if (sfd >= 0)
			close(sfd);
		close(cfd);
		return;
	}
	lo6_conn *c = &p->c[p->nc++];
	memset(c, 0, sizeof(*c));
	c->fd[0] = cfd;
	c->fd[1] = sfd;
	c->connecting = true;
	c->dir[0].buf = xmalloc(LO6_BUF);
	c->dir[1].buf = xmalloc(LO6_BUF);
}

size_t lo6_proxy_pollfds(lo6_proxy *p, struct pollfd *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < p->nl && n < max; i++)
		out[n++] = (struct pollfd){.fd = p->l[i].fd, .events = POLLIN};
	for (size_t i = 0; i < p->nc && n + 2 <= max; i++) {
		lo6_conn *c = &p->c[i];
		for (int k = 0; k < 2; k++) {
			short ev = 0;
			if (c->connecting) {
				ev = k == 1 ? POLLOUT : 0;
			} else {
				/* read side k when its buffer is empty; write side k
				 * when the other direction has bytes for it */
				if (!c->dir[k].eof && c->dir[k].len == 0)
					ev |= POLLIN;
				if (c->dir[1 - k].len > c->dir[1 - k].off)
					ev |= POLLOUT;
			}
			out[n++] = (struct pollfd){.fd = c->fd[k], .events = ev};
		}
	}
	return n;
}

/* Move bytes; false when the connection is over. */
static bool conn_step(lo6_conn *c, const struct pollfd *pf)
{
	if (c->connecting) {
		if (!(pf[1].revents & (POLLOUT | POLLERR | POLLHUP)))
			return true;
		int e = 0;
		socklen_t el = sizeof(e);
		if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0)
			return false;
		c->connecting = false;
		return true;
	}
	for (int k = 0; k < 2; k++) {
		lo6_dir *d = &c->dir[k];
		if ((pf[k].revents & (POLLIN | POLLHUP | POLLERR)) && !d->eof && d->len == 0) {
			ssize_t r = read(c->fd[k], d->buf, LO6_BUF);
			if (r > 0) {
				d->len = (size_t)r;
				d->off = 0;
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				d->eof = true;
				shutdown(c->fd[1 - k], SHUT_WR);
			}
		}
		if (d->len > d->off) {
			ssize_t w = write(c->fd[1 - k], d->buf + d->off, d->len - d->off);
			if (w > 0)
				d->off += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				return false;
			if (d->off == d->len)
				d->len = d->off = 0;
		}
	}
	return !(c->dir[0].eof && c->dir[1].eof && c->dir[0].len == 0 && c->dir[1].len == 0);
}

void lo6_proxy_handle(lo6_proxy *p, net_ctx *nc, const char *net_id, const struct pollfd *pf,
                      size_t n)
{
	size_t nl = p->nl < n ? p->nl : n;
	size_t ncs = (n - nl) / 2; /* connections polled (new ones come after) */
	for (size_t i = ncs; i-- > 0;) {
		if (!conn_step(&p->c[i], pf + nl + 2 * i)) {
			conn_close(&p->c[i]);
			p->c[i] = p->c[--p->nc];
		}
	}
	for (size_t i = 0; i < nl; i++)
		if (pf[i].revents & POLLIN)
			accept_one(p, nc, net_id, &p->l[i]);
}
