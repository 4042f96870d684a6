/* berth-monitor: the per-container supervisor. libc only (built with musl
 * when available) so that one monitor costs well under 300 KiB of RSS.
 *
 * berth forks a child that creates and starts the container and then execs
 * this program, so the container's init is our child; we are also a child
 * subreaper, so an init started later by a restart helper is reparented to
 * us. We hold the container's stdio (pipes or a pty master), write the
 * json-file log, serve attach/stop/kill/wait on a unix socket, reap the
 * container and record its exit in containers/<id>/state, apply the restart
 * policy with Docker's backoff, trigger health checks, and finally run the
 * post-exit cleanup (or let the attached `berth run` do it). Everything that
 * needs the store is done by exec'ing `berth container __…` helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "container/jsonlog.h"
#include "container/proto.h"
#include "container/statefile.h"

#define MAX_CLIENTS 64
#define CLIENT_INBUF (MON_FRAME_HDR + 65536)
#define OUTQ_HIGH (1u << 20)
#define DRAIN_TIMEOUT_NS (2LL * 1000000000)
#define BACKOFF_MIN_NS (100LL * 1000000)
#define BACKOFF_MAX_NS (60LL * 1000000000)
#define BACKOFF_RESET_NS (10LL * 1000000000)

enum client_kind { CL_NEW, CL_ATTACH, CL_WAIT, CL_STOP, CL_DONE };

struct client {
	int fd;
	enum client_kind kind;
	bool in, out, err, cleanup;
	char *inbuf;
	size_t inlen;
	char *outq;
	size_t outlen, outcap;
	bool close_after_flush;
};

enum restart_kind { RS_NO, RS_ALWAYS, RS_ON_FAILURE, RS_UNLESS_STOPPED };

#define MAX_CGROUP_DIRS 32

struct mon {
	const char *id;
	const char *berth, *root, *runroot;
	const char *dir, *rundir;
	int dirfd, rundirfd, lock_fd;
	int state_fd; /* holds the OFD lock on the state file in place */
	pid_t pid;
	int in_fd, out_fd, err_fd;
	bool tty, has_stdin;
	int listen_fd, sig_fd, status_fd;
	struct client clients[MAX_CLIENTS];
	int nclients;
	bool log_enabled;
	struct jsonlog log;
	struct ctr_state st;
	enum restart_kind restart;
	int max_retries;
	bool rm;
	const char *oom_file;
	long long oom_base;
	int64_t health_interval_ns, health_next_ns;
	pid_t health_pid;
	bool exited; /* init reaped, waiting for stdio to drain */
	int64_t exited_at_ns;
	int exit_code;
	int64_t kill_deadline_ns; /* stop: SIGKILL at this time */
	int64_t restart_at_ns; /* waiting to restart */
	int64_t backoff_ns;
	bool cleaned_by_client;
	/* The init's network namespace (networked containers): held until
	 * our clients are gone, so that the kernel's teardown of its veth
	 * (unregistering both ends, RCU grace periods, under the rtnl lock)
	 * runs after an attached `run --rm` has returned, not during its
	 * clean-up. -1: none. */
	int netns_fd, mntns_fd;
	/* the container's cgroup directories and runtime state directory,
	 * removed once it is gone for good */
	const char *cgroup_dirs[MAX_CGROUP_DIRS];
	int ncgroup_dirs;
	bool cgroup_dirs_dropped; /* more than we keep: leave it all to rt_delete */
	const char *runtime_dir;
};

static int64_t now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xalloc(size_t n)
{
	void *p = calloc(1, n);
	if (p == NULL) {
		fputs("berth-monitor: out of memory\n", stderr);
		abort();
	}
	return p;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void set_cloexec(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Our own messages (and those of the helpers we run) go to monitor.log in
 * the container directory, created with the first one: most containers
 * never have any, and each file made and removed costs the run path. */
static void open_errlog(const struct mon *m)
{
	static bool done;
	if (done || m->dirfd < 0)
		return;
	int fd = openat(m->dirfd, "monitor.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	dup2(fd, 2);
	close(fd);
	done = true;
}

static void save_state(struct mon *m)
{
	m->st.monitor_pid = (int)getpid();
	int r = ctr_state_write_locked_at(m->dirfd, &m->st, &m->state_fd);
	if (r < 0)
		open_errlog(m);
	fprintf(stderr, "berth-monitor %s: writing state: %s\n", m->id, strerror(-r));
}

static long long read_oom_count(const char *path)
{
	if (path == NULL || !*path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[1024];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *p = strstr(buf, "oom_kill ");
	if (p == NULL)
		return 0;
	return strtoll(p + 9, NULL, 10);
}

/* ---- clients ---------------------------------------------------------- */

static void client_close(struct mon *m, int i)
{
	struct client *c = &m->clients[i];
	if (c->fd >= 0)
		close(c->fd);
	free(c->inbuf);
	free(c->outq);
	m->clients[i] = m->clients[m->nclients - 1];
	m->nclients--;
}

static struct client *client_add(struct mon *m, int fd)
{
	if (m->nclients >= MAX_CLIENTS) {
		close(fd);
		return NULL;
	}
	set_nonblock(fd);
	set_cloexec(fd);
	struct client *c = &m->clients[m->nclients++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->kind = CL_NEW;
	c->inbuf = xalloc(CLIENT_INBUF);
	return c;
}

static void client_queue(struct client *c, const void *data, size_t n)
{
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		char *q = realloc(c->outq, cap);
		if (q == NULL)
			abort();
		c->outq = q;
		c->outcap = cap;
	}
	memcpy(c->outq + c->outlen, data, n);
	c->outlen += n;
}

static void client_queue_frame(struct client *c, int type, const void *data, size_t n)
{
	unsigned char hdr[MON_FRAME_HDR];
	mon_frame_header(hdr, type, (uint32_t)n);
	client_queue(c, hdr, sizeof(hdr));
	if (n)
		client_queue(c, data, n);
}

/* Returns false if the client is gone. */
static bool client_flush(struct client *c)
{
	while (c->outlen > 0) {
		ssize_t w = send(c->fd, c->outq, c->outlen, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return true;
		if (w <= 0)
			return false;
		memmove(c->outq, c->outq + w, c->outlen - (size_t)w);
		c->outlen -= (size_t)w;
	}
	return !c->close_after_flush;
}

static void client_reply(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void client_reply(struct client *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		client_queue(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static int parse_restart(struct mon *m, const char *s)
{
	m->max_retries = 0;
	if (s == NULL || !*s || !strcmp(s, "no")) {
		m->restart = RS_NO;
	} else if (!strcmp(s, "always")) {
		m->restart = RS_ALWAYS;
	} else if (!strcmp(s, "unless-stopped")) {
		m->restart = RS_UNLESS_STOPPED;
	} else if (!strncmp(s, "on-failure", 10) && (s[10] == 0 || s[10] == ':')) {
		m->restart = RS_ON_FAILURE;
		if (s[10] == ':')
			m->max_retries = atoi(s + 11);
	} else {
		return -1;
	}
	return 0;
}

static void finish(struct mon *m) __attribute__((noreturn));

static void do_kill(struct mon *m, int sig)
{
	if (m->pid > 0 && !m->exited)
		kill(m->pid, sig);
}

static void handle_request(struct mon *m, struct client *c, char *line)
{
	char *sp = strchr(line, ' ');
	char *arg = sp ? sp + 1 : "";
	if (sp)
		*sp = 0;
	if (!strcmp(line, "attach")) {
		c->kind = CL_ATTACH;
		char *save = NULL;
		for (char *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!strcmp(t, "stdin"))
				c->in = m->in_fd >= 0;
			else if (!strcmp(t, "stdout"))
				c->out = true;
			else if (!strcmp(t, "stderr"))
				c->err = true;
			else if (!strcmp(t, "cleanup"))
				c->cleanup = true;
		}
	} else if (!strcmp(line, "wait")) {
		c->kind = CL_WAIT;
	} else if (!strcmp(line, "stop")) {
		int sig = SIGTERM, secs = 10;
		sscanf(arg, "%d %d", &sig, &secs);
		c->kind = CL_STOP;
		m->st.manual_stop = true;
		if (m->restart_at_ns) {
			/* waiting to restart: stay stopped */
			m->restart_at_ns = 0;
			memcpy(m->st.status, "exited", sizeof("exited"));
			save_state(m);
			finish(m);
		}
		save_state(m);
		do_kill(m, sig);
		int64_t dl = now_mono() + (int64_t)(secs < 0 ? 0 : secs) * 1000000000;
		if (m->kill_deadline_ns == 0 || dl < m->kill_deadline_ns)
			m->kill_deadline_ns = dl;
		if (secs <= 0)
			do_kill(m, SIGKILL);
	} else if (!strcmp(line, "kill")) {
		int sig = atoi(arg);
		if (sig <= 0 || sig >= 65) {
			client_reply(c, "err invalid signal\n");
		} else if (m->exited || m->pid <= 0) {
			client_reply(c, "err container is not running\n");
		} else if (kill(m->pid, sig) < 0) {
			client_reply(c, "err %s\n", strerror(errno));
		} else {
			if (sig == SIGKILL)
				m->st.manual_stop = true;
			client_reply(c, "ok\n");
		}
		c->close_after_flush = true;
		c->kind = CL_DONE;
	} else if (!strcmp(line, "paused")) {
		/* berth pause/unpause froze or thawed the cgroup: record it */
		m->st.paused = atoi(arg) != 0 && !m->exited;
		save_state(m);
		client_reply(c, "ok\n");
		c->close_after_flush = true;
		c->kind = CL_DONE;
	} else if (!strcmp(line, "restart")) {
		if (parse_restart(m, arg) < 0)
			client_reply(c, "err invalid restart policy\n");
		else
			client_reply(c, "ok\n");
		c->close_after_flush = true;
		c->kind = CL_DONE;
	} else {
		client_reply(c, "err unknown request\n");
		c->close_after_flush = true;
		c->kind = CL_DONE;
	}
}

static void resize_tty(struct mon *m, const char *payload, size_t n)
{
	char buf[64];
	if (!m->tty || m->out_fd < 0 || n >= sizeof(buf))
		return;
	memcpy(buf, payload, n);
	buf[n] = 0;
	unsigned rows = 0, cols = 0;
	if (sscanf(buf, "%u %u", &rows, &cols) == 2) {
		struct winsize ws = {.ws_row = (unsigned short)rows,
		                     .ws_col = (unsigned short)cols};
		ioctl(m->out_fd, TIOCSWINSZ, &ws);
	}
}

static void write_stdin(struct mon *m, const char *p, size_t n)
{
	int fd = m->in_fd;
	while (fd >= 0 && n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (poll(&pfd, 1, 1000) <= 0)
				return; /* the container does not read its stdin */
			continue;
		}
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void close_stdin(struct mon *m)
{
	if (m->in_fd >= 0 && !m->tty) {
		close(m->in_fd);
		m->in_fd = -1;
	} else if (m->tty && m->out_fd >= 0) {
		/* a pty has no half-close: send EOF (^D) */
		char eof = 4;
		write_stdin(m, &eof, 1);
	}
}

/* Process what a client sent; returns false when it should be dropped. */
static bool client_input(struct mon *m, struct client *c)
{
	bool eof = false;
	for (;;) {
		ssize_t r = recv(c->fd, c->inbuf + c->inlen, CLIENT_INBUF - c->inlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			eof = true;
			break;
		}
		c->inlen += (size_t)r;
		if (c->inlen == CLIENT_INBUF)
			break;
	}
	size_t off = 0;
	while (off < c->inlen) {
		if (c->kind == CL_NEW) {
			char *nl = memchr(c->inbuf + off, '\n', c->inlen - off);
			if (nl == NULL) {
				if (c->inlen - off > 1024)
					return false;
				break;
			}
			*nl = 0;
			handle_request(m, c, c->inbuf + off);
			off = (size_t)(nl - c->inbuf) + 1;
			continue;
		}
		if (c->kind != CL_ATTACH) {
			off = c->inlen; /* ignore anything else */
			break;
		}
		if (c->inlen - off < MON_FRAME_HDR)
			break;
		const unsigned char *h = (const unsigned char *)c->inbuf + off;
		uint32_t len = mon_frame_len(h);
		if (len > CLIENT_INBUF - MON_FRAME_HDR)
			return false;
		if (c->inlen - off < MON_FRAME_HDR + len)
			break;
		const char *payload = c->inbuf + off + MON_FRAME_HDR;
		switch (h[0]) {
		case MON_STDIN:
			if (!c->in)
				break;
			if (len == 0)
				close_stdin(m);
			else
				write_stdin(m, payload, len);
			break;
		case MON_RESIZE: resize_tty(m, payload, len); break;
		case MON_CLEANED:
			if (c->cleanup)
				m->cleaned_by_client = true;
			break;
		case MON_SIGNAL: {
			char b[16];
			if (len < sizeof(b)) {
				memcpy(b, payload, len);
				b[len] = 0;
				int sig = atoi(b);
				if (sig > 0 && sig < 65)
					do_kill(m, sig);
			}
			break;
		}
		default: break;
		}
		off += MON_FRAME_HDR + len;
	}
	memmove(c->inbuf, c->inbuf + off, c->inlen - off);
	c->inlen -= off;
	/* a client going away (detach, or killed) leaves stdin open: only an
	 * explicit empty STDIN frame (the client's own EOF) closes it */
	if (eof)
		return false;
	return true;
}

/* ---- container output ------------------------------------------------- */

static void broadcast(struct mon *m, int type, const char *buf, size_t n)
{
	for (int i = 0; i < m->nclients; i++) {
		struct client *c = &m->clients[i];
		if (c->kind != CL_ATTACH)
			continue;
		if ((type == MON_STDOUT && !c->out) || (type == MON_STDERR && !c->err))
			continue;
		client_queue_frame(c, type, buf, n);
	}
}

static bool clients_backlogged(struct mon *m)
{
	for (int i = 0; i < m->nclients; i++)
		if (m->clients[i].outlen > OUTQ_HIGH)
			return true;
	return false;
}

/* Returns false at EOF. */
static bool read_output(struct mon *m, int *fdp, int type)
{
	char buf[32768];
	ssize_t n = read(*fdp, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		/* EOF, or EIO from a pty master whose slave is closed */
		if (*fdp != m->in_fd)
			close(*fdp);
		else
			m->in_fd = -1;
		*fdp = -1;
		return false;
	}
	if (m->log_enabled)
		jsonlog_write(&m->log, type == MON_STDERR ? JSONLOG_STDERR : JSONLOG_STDOUT, buf,
		              (size_t)n);
	broadcast(m, type, buf, (size_t)n);
	return true;
}

/* ---- helpers (berth itself, for everything that needs the store) ------ */

/* Run `berth --root R --runroot RR container VERB ID [extra]`. stdio_fds may
 * be NULL (then /dev/null); status_fd becomes fd 3 in the helper. */
static pid_t spawn_helper(struct mon *m, const char *verb, const char *extra,
                          const int stdio_fds[3], int status_fd)
{
	pid_t p = fork();
	if (p != 0)
		return p;
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	int devnull = open("/dev/null", O_RDWR);
	int fds[4];
	for (int i = 0; i < 3; i++)
		fds[i] = stdio_fds && stdio_fds[i] >= 0 ? stdio_fds[i] : devnull;
	if (stdio_fds == NULL) {
		open_errlog(m);
		fds[2] = 2; /* keep our stderr for error messages */
	}
	fds[3] = status_fd;
	/* move out of the way of 0..3 first */
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0 && fds[i] <= 3)
			fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 10);
	for (int i = 0; i < 4; i++) {
		if (fds[i] >= 0)
			dup2(fds[i], i);
		else
			close(i);
	}
	char *argv[12];
	int a = 0;
	argv[a++] = (char *)m->berth;
	argv[a++] = "--root";
	argv[a++] = (char *)m->root;
	argv[a++] = "--runroot";
	argv[a++] = (char *)m->runroot;
	argv[a++] = "container";
	argv[a++] = (char *)verb;
	if (extra)
		argv[a++] = (char *)extra;
	argv[a++] = (char *)m->id;
	argv[a] = NULL;
	execv(m->berth, argv);
	_exit(127);
}

static int wait_helper(pid_t p)
{
	int status;
	while (waitpid(p, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Ask berth to start the container again; we keep the stdio. With a
 * terminal, the helper passes the new pty master back (SCM_RIGHTS). */
static int restart_container(struct mon *m)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, st[2] = {-1, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) < 0)
		return -errno;
	if (!m->tty) {
		if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
			return -errno;
		if (m->has_stdin && pipe2(in, O_CLOEXEC) < 0)
			return -errno;
	}
	int fds[3] = {in[0], out[1], err[1]};
	pid_t h = spawn_helper(m, "__restart", NULL, fds, st[1]);
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (err[1] >= 0)
		close(err[1]);
	close(st[1]);
	char buf[512];
	size_t len = 0;
	int passed = -1;
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = buf + len, .iov_len = sizeof(buf) - 1 - len};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = u.b,
		                    .msg_controllen = sizeof(u.b)};
		ssize_t r = recvmsg(st[0], &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS && passed < 0)
			memcpy(&passed, CMSG_DATA(c), sizeof(int));
		len += (size_t)r;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = 0;
	close(st[0]);
	int rc = h > 0 ? wait_helper(h) : -1;
	int pid = 0;
	if (rc != 0 || sscanf(buf, "ok %d", &pid) != 1 || pid <= 0 || (m->tty && passed < 0)) {
		if (in[1] >= 0)
			close(in[1]);
		if (out[0] >= 0)
			close(out[0]);
		if (err[0] >= 0)
			close(err[0]);
		if (passed >= 0)
			close(passed);
		char *nl = strchr(buf, '\n');
		if (nl)
			*nl = 0;
		buf[sizeof(m->st.error) - 16] = 0;
		snprintf(m->st.error, sizeof(m->st.error), "restarting: %.200s",
		         len ? buf : "the restart helper failed");
		return -1;
	}
	if (m->in_fd >= 0)
		close(m->in_fd);
	if (m->tty) {
		if (m->out_fd >= 0)
			close(m->out_fd);
		m->out_fd = passed;
		m->in_fd = m->has_stdin ? fcntl(passed, F_DUPFD_CLOEXEC, 3) : -1;
		m->err_fd = -1;
	} else {
		m->in_fd = in[1];
		m->out_fd = out[0];
		m->err_fd = err[0];
	}
	if (m->in_fd >= 0)
		set_nonblock(m->in_fd);
	set_nonblock(m->out_fd);
	if (m->err_fd >= 0)
		set_nonblock(m->err_fd);
	m->pid = pid;
	return 0;
}

/* ---- exit handling ---------------------------------------------------- */

static bool should_restart(struct mon *m)
{
	if (m->st.manual_stop)
		return false;
	switch (m->restart) {
	case RS_ALWAYS:
	case RS_UNLESS_STOPPED: return true;
	case RS_ON_FAILURE:
		if (m->exit_code == 0)
			return false;
		return m->max_retries <= 0 || m->st.restart_count < m->max_retries;
	default: return false;
	}
}

static void notify_exit(struct mon *m)
{
	char code[16];
	int n = snprintf(code, sizeof(code), "%d", m->exit_code);
	for (int i = 0; i < m->nclients; i++) {
		struct client *c = &m->clients[i];
		if (c->kind == CL_ATTACH) {
			client_queue_frame(c, MON_EXIT, code, (size_t)n);
		} else if (c->kind == CL_WAIT || c->kind == CL_STOP) {
			client_reply(c, "exit %d\n", m->exit_code);
			c->close_after_flush = true;
		}
	}
}

/* Flush client queues and wait for a cleanup client's answer. */
static void final_flush(struct mon *m)
{
	int64_t deadline = now_mono() + 10LL * 1000000000;
	bool waiting_cleanup = false;
	for (int i = 0; i < m->nclients; i++)
		if (m->clients[i].kind == CL_ATTACH && m->clients[i].cleanup)
			waiting_cleanup = true;
	while (m->nclients > 0) {
		struct pollfd pfds[MAX_CLIENTS];
		int n = 0;
		for (int i = 0; i < m->nclients; i++) {
			struct client *c = &m->clients[i];
			if (c->outlen == 0 && !(c->kind == CL_ATTACH && c->cleanup) &&
			    !m->cleaned_by_client) {
				client_close(m, i--);
				continue;
			}
			if (c->outlen == 0 && (c->close_after_flush || m->cleaned_by_client ||
			                       !(c->kind == CL_ATTACH && c->cleanup))) {
				client_close(m, i--);
				continue;
			}
			pfds[n].fd = c->fd;
			pfds[n].events = POLLIN | (c->outlen ? POLLOUT : 0);
			n++;
		}
		if (n == 0)
			break;
		/* a cleanup client may take as long as it needs; others get 10 s */
		int timeout = -1;
		if (!waiting_cleanup) {
			int64_t left = deadline - now_mono();
			if (left <= 0)
				break;
			timeout = (int)(left / 1000000) + 1;
		}
		if (poll(pfds, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < m->nclients; i++) {
			struct client *c = &m->clients[i];
			bool ok = client_flush(c) || c->outlen == 0;
			if (ok && c->kind == CL_ATTACH)
				ok = client_input(m, c);
			if (!ok || (c->outlen == 0 && c->close_after_flush))
				client_close(m, i--);
		}
	}
	while (m->nclients > 0)
		client_close(m, 0);
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* A client that removed the container while we lived (an attached
 * `run --rm`, `rm -f`) moved its directory aside to containers/.trash-<id>
 * instead of removing it: our mount namespace still has the overlay
 * mounted there, and removing a mount point another namespace uses makes
 * the kernel detach that mount first (slow). Unmount it here and remove the
 * directory, after our client has gone. Call with the lock released: a
 * client that moves the directory aside after that sees us gone and
 * removes it itself. */
/* Has a client moved our directory aside (removed the container)? trash
 * gets where to. */
static bool in_trash(struct mon *m, char trash[PATH_MAX])
{
	const char *slash = strrchr(m->dir, '/');
	if (slash == NULL || snprintf(trash, PATH_MAX, "%.*s/.trash-%s", (int)(slash - m->dir),
	                              m->dir, m->id) >= PATH_MAX)
		return false;
	struct stat a, b;
	/* only our own directory, moved there */
	return stat(trash, &a) == 0 && fstat(m->dirfd, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* What a spare container directory keeps (CTR_SPARES_DIR in proto.h):
 * the inodes a new container would otherwise create. */
static bool spare_keeps(const char *name)
{
	static const char *const keep[] = {"upper",          "work",          "merged",
	                                   "hostname",       "hosts",         "resolv.conf",
	                                   "process.json",   "monitor.lock",  CTR_SPARE_LOG,
	                                   CTR_SPARE_RUNDIR, CTR_SPARE_RTDIR, CTR_SPARE_STATE};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (!strcmp(name, keep[i]))
			return true;
	return false;
}

/* Overwrite a small file with newlines, its length kept (no block freed). */
static bool blank_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	char nl[1024];
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (off_t)sizeof(nl);
	if (ok && st.st_size > 0) {
		memset(nl, '\n', (size_t)st.st_size);
		ok = pwrite(fd, nl, (size_t)st.st_size, 0) == (ssize_t)st.st_size;
	}
	close(fd);
	return ok;
}

static int rm_below(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (f->level == 0)
		return 0; /* the directory itself stays */
	return rm_entry(path, st, type, f);
}

/* Keep the removed container's directory as a spare for the next one
 * (at most CTR_SPARES_MAX): on ext4 without a journal every inode created
 * scans past each one freed in the last minute, and a run makes ten of
 * them here. Emptied: upper/ (the container's writes), everything but
 * spare_keeps; the log truncated under a neutral name. Not for a container
 * of a user namespace (its upper belongs to the mapped root). */
static bool recycle(struct mon *m, const char *trash)
{
	char spares[PATH_MAX], path[PATH_MAX], to[PATH_MAX];
	const char *slash = strrchr(m->dir, '/');
	if (slash == NULL || snprintf(spares, sizeof(spares), "%.*s/%s", (int)(slash - m->dir),
	                              m->dir, CTR_SPARES_DIR) >= (int)sizeof(spares))
		return false;
	struct stat st;
	if (snprintf(path, sizeof(path), "%s/upper", trash) >= (int)sizeof(path) ||
	    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || st.st_gid != 0)
		return false;
	if (mkdir(spares, 0700) < 0 && errno != EEXIST)
		return false;
	DIR *d = opendir(spares);
	if (d == NULL)
		return false;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	if (n >= CTR_SPARES_MAX)
		return false;
	if (nftw(path, rm_below, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return false;
	/* the run directory goes back to the run root empty */
	if (snprintf(path, sizeof(path), "%s/%s", trash, CTR_SPARE_RUNDIR) >= (int)sizeof(path) ||
	    (access(path, F_OK) == 0 &&
	     nftw(path, rm_below, 4, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0))
		return false;
	/* the runtime's state directory: its two files only, emptied */
	if (snprintf(path, sizeof(path), "%s/%s", trash, CTR_SPARE_RTDIR) >= (int)sizeof(path))
		return false;
	DIR *rd = opendir(path);
	if (rd != NULL) {
		bool clean = true;
		for (struct dirent *e; clean && (e = readdir(rd));)
			clean = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			        !strcmp(e->d_name, "config.json") ||
			        !strcmp(e->d_name, "state.json") ||
			        !strcmp(e->d_name, "exec.fifo.used");
		closedir(rd);
		if (!clean && nftw(path, rm_entry, 4, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
			return false;
	}
	/* the overlay makes work/work again at each mount anyway */
	if (snprintf(path, sizeof(path), "%s/work", trash) >= (int)sizeof(path) ||
	    nftw(path, rm_below, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
		return false;
	d = opendir(trash);
	if (d == NULL)
		return false;
	bool ok = true;
	char log[80];
	snprintf(log, sizeof(log), "%s-json.log", m->id);
	for (struct dirent *e; ok && (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || spare_keeps(e->d_name))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", trash, e->d_name) >= (int)sizeof(path))
			ok = false;
		else if (!strcmp(e->d_name, log))
			ok = truncate(path, 0) == 0 &&
			     snprintf(to, sizeof(to), "%s/%s", trash, CTR_SPARE_LOG) <
			         (int)sizeof(to) &&
			     rename(path, to) == 0;
		else if (!strcmp(e->d_name, CTR_STATE_FILE))
			/* its inode for the next monitor's first write (we closed
			 * it: its lock is gone), blanked: no data of ours stays */
			ok = blank_file(path) &&
			     snprintf(to, sizeof(to), "%s/%s", trash, CTR_SPARE_STATE) <
			         (int)sizeof(to) &&
			     rename(path, to) == 0;
		else
			ok = nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0;
	}
	closedir(d);
	if (!ok || snprintf(to, sizeof(to), "%s/%s", spares, m->id) >= (int)sizeof(to))
		return false;
	return rename(trash, to) == 0;
}

static void remove_trash(struct mon *m)
{
	char trash[PATH_MAX], merged[PATH_MAX + 8];
	if (!in_trash(m, trash))
		return;
	if (snprintf(merged, sizeof(merged), "%s/merged", trash) < (int)sizeof(merged))
		umount2(merged, MNT_DETACH);
	if (chdir("/") < 0)
		(void)0;
	if (!recycle(m, trash))
		nftw(trash, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The container's network and mount namespaces we hold (start.c says
 * why): their teardown starts as we let them go. */
static void release_netns(struct mon *m)
{
	if (m->netns_fd >= 0)
		close(m->netns_fd);
	m->netns_fd = -1;
	if (m->mntns_fd >= 0)
		close(m->mntns_fd);
	m->mntns_fd = -1;
}

/* The container is gone for good: remove its cgroup and its runtime
 * state (what berth's rt_delete would), so that the berth process that
 * cleans up after us finds nothing left to do there. Best effort: a
 * cgroup that is still busy (processes outside the container's pid
 * namespace, sub-cgroups) is left, and with it the runtime state, to
 * rt_delete, which kills and retries. */
static bool remove_cgroup(struct mon *m)
{
	if (m->cgroup_dirs_dropped || m->ncgroup_dirs == 0)
		return false;
	bool all = true;
	for (int i = 0; i < m->ncgroup_dirs; i++)
		if (rmdir(m->cgroup_dirs[i]) < 0 && errno != ENOENT)
			all = false;
	return all;
}

static bool in_trash(struct mon *m, char trash[PATH_MAX]);

static void remove_runtime_dir(struct mon *m)
{
	if (m->runtime_dir == NULL)
		return;
	/* a removed container's goes with its directory, for the next one
	 * (recycle): its two files kept for their inodes and blocks (the
	 * next start writes over them before anyone knows its name) */
	char trash[PATH_MAX], keep[PATH_MAX];
	if (in_trash(m, trash) &&
	    snprintf(keep, sizeof(keep), "%s/%s", trash, CTR_SPARE_RTDIR) < (int)sizeof(keep) &&
	    rename(m->runtime_dir, keep) == 0)
		return;
	nftw(m->runtime_dir, rm_entry, 4, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* An attached client that removed the container left our run directory
 * (the attach socket's) to us: gone before we release our lock, so that
 * a new start (it waits for that lock) finds nothing of ours there. */
static void remove_rundir(struct mon *m)
{
	char trash[PATH_MAX], keep[PATH_MAX];
	if (m->rundir == NULL || !in_trash(m, trash))
		return;
	/* kept with the directory for the next container (recycle), when
	 * both are on one filesystem */
	if (snprintf(keep, sizeof(keep), "%s/%s", trash, CTR_SPARE_RUNDIR) < (int)sizeof(keep) &&
	    rename(m->rundir, keep) == 0)
		return;
	nftw(m->rundir, rm_entry, 4, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void finish(struct mon *m)
{
	if (m->listen_fd >= 0) {
		close(m->listen_fd);
		m->listen_fd = -1;
		unlinkat(m->rundirfd, MON_SOCK_NAME, 0);
	}
	notify_exit(m);
	/* the exit goes out at once: an attached `run --rm` removes the
	 * record while we remove the cgroup, and waits for us to close (with
	 * MON_GONE first if the cgroup is gone) before it returns */
	for (int i = 0; i < m->nclients; i++)
		client_flush(&m->clients[i]);
	bool gone = remove_cgroup(m);
	for (int i = 0; gone && i < m->nclients; i++)
		if (m->clients[i].kind == CL_ATTACH)
			client_queue_frame(&m->clients[i], MON_GONE, NULL, 0);
	final_flush(m);
	/* the rest of the runtime state once nobody waits for us (rt_delete
	 * kills and retries what a busy cgroup left) */
	if (gone)
		remove_runtime_dir(m);
	if (!m->cleaned_by_client) {
		pid_t h = spawn_helper(m, "__cleanup", m->rm ? "--rm" : NULL, NULL, -1);
		if (h > 0)
			wait_helper(h);
	}
	release_netns(m);
	if (m->log_enabled)
		jsonlog_close(&m->log);
	remove_rundir(m);
	close(m->lock_fd);
	if (m->state_fd >= 0)
		close(m->state_fd);
	remove_trash(m);
	_exit(0);
}

static void on_init_exit(struct mon *m, int status)
{
	m->exited = true;
	m->exited_at_ns = now_mono();
	if (WIFEXITED(status))
		m->exit_code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		m->exit_code = 128 + WTERMSIG(status);
	else
		m->exit_code = 255;
	m->kill_deadline_ns = 0;
}

/* Called once the init is reaped and its output drained. */
static void after_exit(struct mon *m)
{
	if (m->log_enabled)
		jsonlog_flush(&m->log);
	long long oom = read_oom_count(m->oom_file);
	m->st.oom_killed = oom > m->oom_base;
	m->oom_base = oom;
	m->st.exit_code = m->exit_code;
	m->st.finished_ns = now_real();
	m->st.pid = 0;
	m->st.paused = false;
	if (should_restart(m)) {
		/* the next start makes a veth of the same name */
		release_netns(m);
		int64_t ran = m->st.finished_ns - m->st.started_ns;
		if (ran >= BACKOFF_RESET_NS)
			m->backoff_ns = 0;
		m->backoff_ns = m->backoff_ns == 0 ? BACKOFF_MIN_NS : m->backoff_ns * 2;
		if (m->backoff_ns > BACKOFF_MAX_NS)
			m->backoff_ns = BACKOFF_MAX_NS;
		memcpy(m->st.status, "restarting", sizeof("restarting"));
		save_state(m);
		m->restart_at_ns = now_mono() + m->backoff_ns;
		return;
	}
	memcpy(m->st.status, "exited", sizeof("exited"));
	save_state(m);
	finish(m);
}

static void do_restart(struct mon *m)
{
	m->restart_at_ns = 0;
	if (restart_container(m) < 0) {
		memcpy(m->st.status, "exited", sizeof("exited"));
		save_state(m);
		finish(m);
	}
	m->exited = false;
	m->st.restart_count++;
	m->st.started_ns = now_real();
	m->st.pid = m->pid;
	m->st.oom_killed = false;
	memcpy(m->st.status, "running", sizeof("running"));
	m->st.error[0] = 0;
	save_state(m);
	if (m->health_interval_ns > 0)
		m->health_next_ns = now_mono() + m->health_interval_ns;
}

static void reap(struct mon *m)
{
	for (;;) {
		int status;
		pid_t p = waitpid(-1, &status, WNOHANG);
		if (p <= 0)
			return;
		if (p == m->pid && !m->exited)
			on_init_exit(m, status);
		else if (p == m->health_pid)
			m->health_pid = 0;
	}
}

/* ---- main ------------------------------------------------------------- */

static int open_listen(struct mon *m)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* bind through /proc/self/fd so that long runroot paths fit sun_path */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", m->rundirfd,
	         MON_SOCK_NAME);
	unlinkat(m->rundirfd, MON_SOCK_NAME, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	fchmodat(m->rundirfd, MON_SOCK_NAME, 0600, 0);
	return fd;
}

/* exec_fd is the read end of the runtime's exec.fifo, opened before the
 * init opened its write end: the init writes one byte there once its
 * set-up is done (after its seccomp filter) and keeps the write end until
 * its execve. So: the byte, then end-of-file, once the container's process
 * is executed. An end-of-file before the byte only says that no writer came
 * yet; the init dying before it is seen on a pidfd (or, without pidfds, by
 * looking every few milliseconds). */
static bool init_gone(pid_t pid)
{
	siginfo_t si = {0};
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid;
}

static void wait_executed(int fd, pid_t pid)
{
	if (fd < 0)
		return;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int64_t deadline = now_mono() + 30LL * 1000000000;
	bool got = false;
	for (;;) {
		char b[16];
		ssize_t n = read(fd, b, sizeof(b));
		if (n > 0) {
			got = true;
			continue;
		}
		if ((n == 0 && got) || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		int64_t left = deadline - now_mono();
		if (left <= 0)
			break;
		struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
		                       {.fd = pidfd, .events = POLLIN}};
		/* no writer yet reads as end-of-file without blocking: wait
		 * on poll, which does not report it */
		int ms = (int)(left / 1000000) + 1;
		if (pidfd < 0 && ms > 5)
			ms = 5;
		if (poll(pf, pidfd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN)
			continue;
		/* a writer that left without its byte: the init died */
		if ((pf[0].revents & POLLHUP) || (pidfd >= 0 && (pf[1].revents & POLLIN)) ||
		    (pidfd < 0 && init_gone(pid))) {
			if (got)
				continue;
			/* gone: a byte it wrote first is still to be read */
			while (read(fd, b, sizeof(b)) > 0)
				;
			break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	close(fd);
}

static void usage_exit(void)
{
	fputs("usage: berth-monitor --id ID --dir DIR --rundir DIR --pid PID [options]\n"
	      "berth-monitor is started by berth; it is not meant to be run by hand.\n",
	      stderr);
	exit(125);
}

/* The running container's attach socket and state. */
static void set_up_running(struct mon *m)
{
	m->listen_fd = open_listen(m);
	if (m->listen_fd < 0) {
		open_errlog(m);
		fprintf(stderr, "berth-monitor: attach socket: %s\n", strerror(-m->listen_fd));
	}
	save_state(m);
}

/* Keep the store's SQLite WAL index (berth.db-shm) alive while we live, as
 * an open SQLite connection does: a shared lock on its "dead man switch"
 * byte. The first connection of a process opening the database finds none
 * and truncates the index, rebuilding it from the whole WAL, on every berth
 * command otherwise (the index is valid as long as one holder remains;
 * SQLite checks it and recovers a damaged one under its own locks). Best
 * effort; held until we exit. */
static void hold_db_index(struct mon *m)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s/berth.db-shm", m->root) >= (int)sizeof(p))
		return;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	/* SQLite's unix VFS: the DMS byte follows the 8 lock bytes at 120 */
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1};
	if (fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		close(fd);
		fd = -1;
	}
	(void)fd; /* closed as we exit */
}

int main(int argc, char **argv)
{
	static struct mon mon;
	struct mon *m = &mon;
	m->dirfd = m->rundirfd = m->state_fd = -1;
	m->in_fd = m->out_fd = m->err_fd = -1;
	m->netns_fd = m->mntns_fd = -1;
	m->listen_fd = m->sig_fd = m->status_fd = -1;
	m->log_enabled = true;
	int client_fd = -1, lock_fd = -1, exec_fd = -1;
	const char *client_flags = "stdout,stderr", *dir = NULL, *rundir = NULL;
	const char *restart = NULL;
	int64_t log_max_size = JSONLOG_DEFAULT_MAX_SIZE;
	int log_max_file = JSONLOG_DEFAULT_MAX_FILE;
	int64_t started_ns = 0;
	const char *log_attrs = NULL;

	enum {
		O_ID = 256,
		O_DIR,
		O_RUNDIR,
		O_PID,
		O_STDIN,
		O_STDOUT,
		O_STDERR,
		O_TTY,
		O_CLIENT,
		O_CLIENT_FLAGS,
		O_LOCK,
		O_STATUS,
		O_LOGSIZE,
		O_LOGFILE,
		O_NOLOG,
		O_RESTART,
		O_RM,
		O_BERTH,
		O_ROOT,
		O_RUNROOT,
		O_OOM,
		O_HEALTH,
		O_STARTED,
		O_RESTARTS,
		O_LOGATTRS,
		O_NETNS,
		O_MNTNS,
		O_EXECFD,
		O_CGDIR,
		O_RTDIR,
	};
	static const struct option opts[] = {
	    {"id", required_argument, NULL, O_ID},
	    {"dir", required_argument, NULL, O_DIR},
	    {"rundir", required_argument, NULL, O_RUNDIR},
	    {"pid", required_argument, NULL, O_PID},
	    {"stdin-fd", required_argument, NULL, O_STDIN},
	    {"stdout-fd", required_argument, NULL, O_STDOUT},
	    {"stderr-fd", required_argument, NULL, O_STDERR},
	    {"tty", no_argument, NULL, O_TTY},
	    {"client-fd", required_argument, NULL, O_CLIENT},
	    {"client-flags", required_argument, NULL, O_CLIENT_FLAGS},
	    {"lock-fd", required_argument, NULL, O_LOCK},
	    {"status-fd", required_argument, NULL, O_STATUS},
	    {"log-max-size", required_argument, NULL, O_LOGSIZE},
	    {"log-max-file", required_argument, NULL, O_LOGFILE},
	    {"no-log", no_argument, NULL, O_NOLOG},
	    {"restart", required_argument, NULL, O_RESTART},
	    {"rm", no_argument, NULL, O_RM},
	    {"berth", required_argument, NULL, O_BERTH},
	    {"root", required_argument, NULL, O_ROOT},
	    {"runroot", required_argument, NULL, O_RUNROOT},
	    {"oom-file", required_argument, NULL, O_OOM},
	    {"health-interval", required_argument, NULL, O_HEALTH},
	    {"started", required_argument, NULL, O_STARTED},
	    {"restart-count", required_argument, NULL, O_RESTARTS},
	    {"log-attrs", required_argument, NULL, O_LOGATTRS},
	    {"netns-fd", required_argument, NULL, O_NETNS},
	    {"mntns-fd", required_argument, NULL, O_MNTNS},
	    {"exec-fd", required_argument, NULL, O_EXECFD},
	    {"cgroup-dir", required_argument, NULL, O_CGDIR},
	    {"runtime-dir", required_argument, NULL, O_RTDIR},
	    {NULL, 0, NULL, 0},
	};
	int restart_count = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_ID: m->id = optarg; break;
		case O_DIR: dir = optarg; break;
		case O_RUNDIR: rundir = optarg; break;
		case O_PID: m->pid = atoi(optarg); break;
		case O_STDIN: m->in_fd = atoi(optarg); break;
		case O_STDOUT: m->out_fd = atoi(optarg); break;
		case O_STDERR: m->err_fd = atoi(optarg); break;
		case O_TTY: m->tty = true; break;
		case O_CLIENT: client_fd = atoi(optarg); break;
		case O_CLIENT_FLAGS: client_flags = optarg; break;
		case O_LOCK: lock_fd = atoi(optarg); break;
		case O_STATUS: m->status_fd = atoi(optarg); break;
		case O_LOGSIZE: log_max_size = strtoll(optarg, NULL, 10); break;
		case O_LOGFILE: log_max_file = atoi(optarg); break;
		case O_NOLOG: m->log_enabled = false; break;
		case O_RESTART: restart = optarg; break;
		case O_RM: m->rm = true; break;
		case O_BERTH: m->berth = optarg; break;
		case O_ROOT: m->root = optarg; break;
		case O_RUNROOT: m->runroot = optarg; break;
		case O_OOM: m->oom_file = optarg; break;
		case O_HEALTH: m->health_interval_ns = strtoll(optarg, NULL, 10); break;
		case O_STARTED: started_ns = strtoll(optarg, NULL, 10); break;
		case O_RESTARTS: restart_count = atoi(optarg); break;
		case O_LOGATTRS: log_attrs = optarg; break;
		case O_NETNS: m->netns_fd = atoi(optarg); break;
		case O_MNTNS: m->mntns_fd = atoi(optarg); break;
		case O_EXECFD: exec_fd = atoi(optarg); break;
		case O_CGDIR:
			if (m->ncgroup_dirs < MAX_CGROUP_DIRS)
				m->cgroup_dirs[m->ncgroup_dirs++] = optarg;
			else
				m->cgroup_dirs_dropped = true;
			break;
		case O_RTDIR: m->runtime_dir = optarg; break;
		default: usage_exit();
		}
	}
	if (m->id == NULL || dir == NULL || rundir == NULL || m->pid <= 0 || m->berth == NULL ||
	    m->root == NULL || m->runroot == NULL || parse_restart(m, restart) < 0)
		usage_exit();

	/* Our fds must not leak into helpers; the lock fd stays with us only. */
	set_cloexec(lock_fd);
	set_cloexec(m->in_fd);
	set_cloexec(m->out_fd);
	set_cloexec(m->err_fd);
	set_cloexec(m->status_fd);
	set_cloexec(m->netns_fd);
	set_cloexec(m->mntns_fd);
	set_cloexec(exec_fd);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	prctl(PR_SET_NAME, "berth-monitor");

	m->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	m->rundir = rundir;
	m->rundirfd = open(rundir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd < 0 || m->rundirfd < 0) {
		fprintf(stderr, "berth-monitor: %s: %s\n", dir, strerror(errno));
		return 125;
	}
	/* Hold an OFD read lock on monitor.lock for as long as we live: berth
	 * tells a live monitor from a dead one by it, without pid reuse races. */
	if (lock_fd < 0) {
		lock_fd = openat(m->dirfd, CTR_MONITOR_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		if (lock_fd < 0 || fcntl(lock_fd, F_OFD_SETLK, &fl) < 0) {
			open_errlog(m);
			fprintf(stderr, "berth-monitor: locking %s: %s\n", CTR_MONITOR_LOCK,
			        strerror(errno));
			return 125;
		}
	}
	m->lock_fd = lock_fd;
	m->dir = dir;
	hold_db_index(m);
	/* chdir so that nothing of ours pins another directory */
	if (fchdir(m->dirfd) < 0)
		(void)0;

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	m->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (m->log_enabled) {
		char name[160];
		snprintf(name, sizeof(name), "%s-json.log", m->id);
		int r = jsonlog_open(&m->log, m->dirfd, name, log_max_size, log_max_file);
		if (r < 0) {
			open_errlog(m);
			fprintf(stderr, "berth-monitor: opening log: %s\n", strerror(-r));
			m->log_enabled = false;
		}
		/* the JSON object's text, made by berth (container_log_attrs) */
		if (log_attrs != NULL && strlen(log_attrs) <= JSONLOG_ATTRS_MAX)
			m->log.attrs = log_attrs;
	}
	m->has_stdin = m->in_fd >= 0;
	if (m->in_fd >= 0)
		set_nonblock(m->in_fd);
	if (m->out_fd >= 0)
		set_nonblock(m->out_fd);
	if (m->err_fd >= 0)
		set_nonblock(m->err_fd);

	m->oom_base = read_oom_count(m->oom_file);
	ctr_state_read_at(m->dirfd, &m->st);
	memcpy(m->st.status, "running", sizeof("running"));
	m->st.pid = m->pid;
	m->st.started_ns = started_ns ? started_ns : now_real();
	m->st.exit_code = 0;
	m->st.oom_killed = false;
	m->st.manual_stop = false;
	m->st.restart_count = restart_count;
	m->st.paused = false;
	m->st.health = m->health_interval_ns > 0;
	m->st.error[0] = 0;
	/* A detached start returns at our "ok": the container's state and
	 * socket are in place by then. An attached one relays until the exit:
	 * "ok" first, and for a container that is gone already (a quick
	 * command) no socket nor "running" state at all, only its exit. */
	bool attached = client_fd >= 0;
	if (!attached)
		set_up_running(m);
	if (attached) {
		struct client *cl = client_add(m, client_fd);
		if (cl) {
			char req[128];
			snprintf(req, sizeof(req), "attach %s", client_flags);
			handle_request(m, cl, req);
		}
	}
	/* the start is reported once the container's process is executed */
	wait_executed(exec_fd, m->pid);
	if (m->status_fd >= 0) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "ok %d\n", m->pid);
		if (write(m->status_fd, msg, (size_t)n) < 0)
			(void)0;
		close(m->status_fd);
		m->status_fd = -1;
	}
	if (attached) {
		reap(m);
		if (!m->exited)
			set_up_running(m);
	}
	if (m->health_interval_ns > 0)
		m->health_next_ns = now_mono() + m->health_interval_ns;
	/* stdio now belongs to the log and clients only */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		close(devnull);
	}

	/* The init may already have exited before the signalfd existed. */
	reap(m);
	for (;;) {
		struct pollfd pfds[MAX_CLIENTS + 5];
		int idx_client[MAX_CLIENTS + 5];
		int n = 0;
		int i_sig = -1, i_out = -1, i_err = -1, i_listen = -1;
		bool backlog = clients_backlogged(m);
		pfds[n] = (struct pollfd){.fd = m->sig_fd, .events = POLLIN};
		i_sig = n++;
		if (m->out_fd >= 0 && !backlog) {
			pfds[n] = (struct pollfd){.fd = m->out_fd, .events = POLLIN};
			i_out = n++;
		}
		if (m->err_fd >= 0 && !backlog) {
			pfds[n] = (struct pollfd){.fd = m->err_fd, .events = POLLIN};
			i_err = n++;
		}
		if (m->listen_fd >= 0) {
			pfds[n] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
			i_listen = n++;
		}
		int first_client = n;
		for (int i = 0; i < m->nclients; i++) {
			struct client *cl = &m->clients[i];
			pfds[n] = (struct pollfd){.fd = cl->fd,
			                          .events = POLLIN | (cl->outlen ? POLLOUT : 0)};
			idx_client[n] = i;
			n++;
		}
		/* timers */
		int64_t now = now_mono(), next = -1;
		if (m->kill_deadline_ns && !m->exited)
			next = m->kill_deadline_ns;
		if (m->restart_at_ns && (next < 0 || m->restart_at_ns < next))
			next = m->restart_at_ns;
		if (m->health_next_ns && !m->exited && !m->restart_at_ns &&
		    (next < 0 || m->health_next_ns < next))
			next = m->health_next_ns;
		if (m->exited) {
			int64_t dl = m->exited_at_ns + DRAIN_TIMEOUT_NS;
			if (next < 0 || dl < next)
				next = dl;
		}
		int timeout = -1;
		if (next >= 0)
			timeout = next <= now ? 0 : (int)((next - now) / 1000000) + 1;
		int r = poll(pfds, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR)
			return 125;
		if (r > 0) {
			if (pfds[i_sig].revents) {
				struct signalfd_siginfo si;
				while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si))
					;
				reap(m);
			}
			if (i_out >= 0 && pfds[i_out].revents)
				read_output(m, &m->out_fd, MON_STDOUT);
			if (i_err >= 0 && pfds[i_err].revents)
				read_output(m, &m->err_fd, MON_STDERR);
			if (i_listen >= 0 && (pfds[i_listen].revents & POLLIN)) {
				int cfd =
				    accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				if (cfd >= 0)
					client_add(m, cfd);
			}
			/* iterate clients from the end: closing swaps in the last one */
			for (int k = n - 1; k >= first_client; k--) {
				int i = idx_client[k];
				if (i >= m->nclients || !pfds[k].revents)
					continue;
				struct client *cl = &m->clients[i];
				bool ok = true;
				if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR))
					ok = client_input(m, cl);
				if (ok)
					ok = client_flush(cl) || cl->outlen > 0;
				if (!ok || (cl->close_after_flush && cl->outlen == 0))
					client_close(m, i);
			}
		}
		/* push out freshly queued output */
		for (int i = 0; i < m->nclients; i++) {
			struct client *cl = &m->clients[i];
			if (cl->outlen && !client_flush(cl) && cl->outlen == 0)
				client_close(m, i--);
			else if (cl->close_after_flush && cl->outlen == 0)
				client_close(m, i--);
		}
		now = now_mono();
		if (m->kill_deadline_ns && !m->exited && now >= m->kill_deadline_ns) {
			do_kill(m, SIGKILL);
			m->kill_deadline_ns = 0;
		}
		if (m->exited && !m->restart_at_ns &&
		    ((m->out_fd < 0 && m->err_fd < 0) ||
		     now >= m->exited_at_ns + DRAIN_TIMEOUT_NS)) {
			/* drain whatever is left without blocking */
			while (m->out_fd >= 0 && read_output(m, &m->out_fd, MON_STDOUT) &&
			       now_mono() < m->exited_at_ns + DRAIN_TIMEOUT_NS)
				if (poll(&(struct pollfd){.fd = m->out_fd, .events = POLLIN}, 1,
				         0) <= 0)
					break;
			if (m->out_fd >= 0) {
				close(m->out_fd);
				m->out_fd = -1;
			}
			if (m->err_fd >= 0) {
				close(m->err_fd);
				m->err_fd = -1;
			}
			m->exited = false; /* handled */
			m->pid = 0;
			after_exit(m);
			continue;
		}
		if (m->restart_at_ns && now >= m->restart_at_ns)
			do_restart(m);
		if (m->health_next_ns && !m->exited && !m->restart_at_ns &&
		    now >= m->health_next_ns) {
			if (m->health_pid == 0)
				m->health_pid = spawn_helper(m, "__health", NULL, NULL, -1);
			m->health_next_ns = now + m->health_interval_ns;
		}
	}
}
