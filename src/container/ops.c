/* Lifecycle operations on existing containers: talking to the monitor
 * (stop, kill, wait, attach), removal and post-exit cleanup, pause. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/sock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "container/proto.h"
#include "runtime/cgroup.h"
#include "volume/volume.h"

int container_monitor_connect(berth_store *s, const char *id, const char *request,
                              berth_error **err)
{
	_cleanup_free_ char *rundir = container_rundir(s, id);
	_cleanup_close_ int dfd = open(rundir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err(err, BERTH_E_CONFLICT, "container %s is not running", id);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_err_sys(err, errno, "socket");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd, MON_SOCK_NAME);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return berth_err(err, BERTH_E_CONFLICT, "container %s is not running", id);
	_cleanup_free_ char *line = xasprintf("%s\n", request);
	/* a monitor that exits right after accepting must not kill us */
	if (send_all(fd, line, strlen(line)) < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			return berth_err(err, BERTH_E_CONFLICT, "container %s is not running", id);
		return berth_err_sys(err, errno, "talking to the container monitor");
	}
	return steal_fd(fd);
}

/* Read one reply line. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = 0;
	return (int)len;
}

static bool is_running(const ctr_record *r)
{
	const char *st = container_status(r);
	return !strcmp(st, "running") || !strcmp(st, "paused") || !strcmp(st, "restarting");
}

static int stop_signal(ctr_record *r)
{
	const char *ss = json_get_str(json_object_get(r->config, "Config"), "StopSignal");
	if (ss && *ss) {
		int sig = rt_parse_signal(ss);
		if (sig > 0)
			return sig;
	}
	return SIGTERM;
}

/* Wait (bounded) until the monitor is gone, then reload the state. The
 * monitor records "exited" and answers its clients before its __cleanup
 * helper deletes the runtime state and detaches the network: the state file
 * says "exited" while that still runs, so wait for its lock, not for the
 * status. */
static void wait_monitor_gone(berth_store *s, ctr_record *r, int ms)
{
	_cleanup_free_ char *lock = xasprintf("containers/%s/%s", r->id, CTR_MONITOR_LOCK);
	ctr_lock_wait_free_at(store_rootfd(s), lock, ms);
	container_load_state(s, r);
}

int container_stop(berth_store *s, ctr_record *r, int timeout, berth_error **err)
{
	if (!is_running(r))
		return 0;
	if (r->config == NULL) {
		ctr_record *full = NULL;
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		r->config = steal_ptr(full->config);
		ctr_record_free(full);
	}
	if (timeout < 0) {
		json_t *st = json_object_get(json_object_get(r->config, "Config"), "StopTimeout");
		timeout = json_is_integer(st) ? (int)json_integer_value(st) : 10;
	}
	if (r->paused)
		container_pause(s, r, false, NULL);
	_cleanup_free_ char *req = xasprintf("stop %d %d", stop_signal(r), timeout);
	_cleanup_close_ int fd = container_monitor_connect(s, r->id, req, NULL);
	if (fd < 0) {
		container_load_state(s, r);
		if (!is_running(r))
			return 0;
		return berth_err(err, BERTH_E_GENERIC, "cannot reach the monitor of %s", r->id);
	}
	char line[64];
	read_line(fd, line, sizeof(line));
	wait_monitor_gone(s, r, 5000);
	container_load_state(s, r);
	return 0;
}

int container_kill(berth_store *s, ctr_record *r, int sig, berth_error **err)
{
	if (!is_running(r) || !strcmp(container_status(r), "restarting"))
		return berth_err(err, BERTH_E_CONFLICT,
		                 "Cannot kill container: %s: Container %s is not running", r->name,
		                 r->id);
	_cleanup_free_ char *req = xasprintf("kill %d", sig);
	_cleanup_close_ int fd = container_monitor_connect(s, r->id, req, err);
	if (fd < 0)
		return -1;
	char line[256];
	read_line(fd, line, sizeof(line));
	if (str_has_prefix(line, "ok"))
		return 0;
	return berth_err(err, BERTH_E_CONFLICT, "Cannot kill container: %s: %s", r->name,
	                 str_has_prefix(line, "err ") ? line + 4 : "no answer from the monitor");
}

int container_wait(berth_store *s, ctr_record *r, int *exit_code, berth_error **err)
{
	*exit_code = r->st.exit_code;
	if (!is_running(r))
		return 0;
	_cleanup_close_ int fd = container_monitor_connect(s, r->id, "wait", NULL);
	if (fd >= 0) {
		char line[64];
		if (read_line(fd, line, sizeof(line)) > 0 &&
		    sscanf(line, "exit %d", exit_code) == 1)
			return 0;
	}
	/* monitor gone in between: the state file has the answer */
	wait_monitor_gone(s, r, 2000);
	container_load_state(s, r);
	*exit_code = r->st.exit_code;
	(void)err;
	return 0;
}

/* Ask the monitor to record a pause in the state file: 1 done, 0 the
 * monitor is of an older berth (it does not know the request), -1 no
 * monitor answered. */
static int record_pause(berth_store *s, const char *id, bool pause)
{
	_cleanup_close_ int fd =
	    container_monitor_connect(s, id, pause ? "paused 1" : "paused 0", NULL);
	if (fd < 0)
		return -1;
	char line[64];
	if (read_line(fd, line, sizeof(line)) <= 0)
		return -1;
	if (str_has_prefix(line, "ok"))
		return 1;
	return !strcmp(line, "err unknown request") ? 0 : -1;
}

int container_pause(berth_store *s, ctr_record *r, bool pause, berth_error **err)
{
	const char *st = container_status(r);
	if (pause && strcmp(st, "running"))
		return berth_err(err, BERTH_E_CONFLICT,
		                 !strcmp(st, "paused") ? "Container %s is already paused"
		                                       : "Container %s is not running",
		                 r->id);
	if (!pause && strcmp(st, "paused"))
		return berth_err(err, BERTH_E_CONFLICT, "Container %s is not paused", r->id);
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	_cleanup_free_ char *marker = xasprintf("%s/containers/%s/paused", store_root(s), r->id);
	if (pause) {
		if (rt_pause(&ctx, r->id, err) < 0)
			return -1;
		int rec = record_pause(s, r->id, true);
		if (rec < 0) {
			rt_resume(&ctx, r->id, NULL);
			return berth_err(err, BERTH_E_GENERIC,
			                 "Cannot pause container %s: its monitor does not answer",
			                 r->id);
		}
		if (rec == 0) {
			int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			if (fd >= 0)
				close(fd);
		}
	} else {
		if (rt_resume(&ctx, r->id, err) < 0)
			return -1;
		record_pause(s, r->id, false);
		unlink(marker);
	}
	r->paused = pause;
	r->st.paused = pause;
	return 0;
}

/* The container's cgroup (spec.c puts it at /berth/<id> in every
 * hierarchy), for when rt_delete could not remove it: its runtime state is
 * gone (a start that died between making the cgroup and recording it, or
 * whose record was removed first) or a process stayed in it. Whatever is
 * still in it is killed, then the cgroup removed. */
static void reclaim_cgroup(const char *id)
{
	/* rt_delete also fails when the cgroup is already gone with the
	 * runtime state (the usual case): a few failed lookups where the
	 * hierarchies are mounted settle that without cgroup_open's host
	 * layout detection */
	static const char *const roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified",
	                                    "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"};
	bool seen = false;
	for (size_t i = 0; i < ARRAY_SIZE(roots) && !seen; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/berth/%s", roots[i], id);
		seen = access(p, F_OK) == 0;
	}
	if (!seen)
		return;
	_cleanup_free_ char *path = ctr_cgroups_path(id);
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	if (cgroup_open(path, id, &h, NULL) < 0)
		return; /* none left */
	berth_error *e = NULL;
	cgroup_kill_all(h, SIGKILL, &e);
	berth_error_clear(&e);
	cgroup_destroy(h, &e);
	berth_error_free(e);
}

/* rt_delete, and the cgroup by its known path when that failed. */
static void delete_runtime(berth_store *s, const char *id)
{
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	berth_error *e = NULL;
	if (rt_delete(&ctx, id, true, &e) < 0)
		reclaim_cgroup(id);
	berth_error_free(e);
}

int container_cleanup_orphan(berth_store *s, const char *id)
{
	if (strlen(id) != CTR_ID_LEN || strspn(id, "0123456789abcdef") != CTR_ID_LEN)
		return -1;
	delete_runtime(s, id);
	_cleanup_free_ char *dir = container_dir(s, id);
	_cleanup_free_ char *trash = xasprintf("%s/containers/.trash-%s", store_root(s), id);
	/* the monitor (our caller) unmounts and removes it as it exits */
	if (rename(dir, trash) < 0 && errno != ENOENT)
		rm_rf(dir, NULL);
	_cleanup_free_ char *rundir = container_rundir(s, id);
	rm_rf(rundir, NULL);
	return 0;
}

static int remove_container(berth_store *s, ctr_record *r, bool force, bool volumes, bool runtime,
                            berth_error **err);

/* runtime: delete the runtime state and cgroup too (else the monitor does) */
static int cleanup(berth_store *s, ctr_record *r, bool rm, bool runtime, berth_error **err)
{
	/* no reclaim_cgroup here: a restart may already be making a cgroup of
	 * the same name (rm, below, reclaims) */
	if (runtime) {
		rt_ctx ctx;
		ctr_rt_ctx(s, &ctx);
		rt_delete(&ctx, r->id, true, NULL);
	}
	if (r->config && !rm) /* container_remove does it */
		container_network_detach(s, r->id, r->config, NULL);
	_cleanup_free_ char *marker = xasprintf("%s/containers/%s/paused", store_root(s), r->id);
	unlink(marker);
	if (rm)
		return remove_container(s, r, true, true, runtime, err);
	container_set_db_state(s, r->id, "exited", NULL);
	return 0;
}

int container_cleanup(berth_store *s, ctr_record *r, bool rm, berth_error **err)
{
	return cleanup(s, r, rm, true, err);
}

int container_cleanup_attached(berth_store *s, ctr_record *r, bool rm, int sock, berth_error **err)
{
	/* the monitor removes the cgroup and runtime state meanwhile */
	int rc = cleanup(s, r, rm, false, err);
	container_ack_cleanup(sock);
	/* and closes once it did (and got the answer), MON_GONE first if the
	 * cgroup is gone (its runtime state goes after) */
	struct pollfd p = {.fd = sock, .events = POLLIN};
	unsigned char buf[256];
	size_t have = 0;
	bool gone = false;
	while (poll(&p, 1, 10000) > 0) {
		ssize_t n = read(sock, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		while (have >= MON_FRAME_HDR && mon_frame_len(buf) <= have - MON_FRAME_HDR) {
			size_t len = MON_FRAME_HDR + mon_frame_len(buf);
			gone |= buf[0] == MON_GONE;
			memmove(buf, buf + len, have - len);
			have -= len;
		}
		if (have == sizeof(buf))
			have = 0; /* a frame we do not read */
	}
	/* left behind (a monitor of an older berth, a busy cgroup): here */
	if (!gone) {
		rt_ctx ctx;
		ctr_rt_ctx(s, &ctx);
		_cleanup_free_ char *state = xasprintf("%s/%s", ctx.state_root, r->id);
		if (access(state, F_OK) == 0)
			delete_runtime(s, r->id);
		if (rm) {
			_cleanup_free_ char *rundir = container_rundir(s, r->id);
			rm_rf(rundir, NULL);
		}
	}
	return rc;
}

int container_remove(berth_store *s, ctr_record *r, bool force, bool volumes, berth_error **err)
{
	return remove_container(s, r, force, volumes, true, err);
}

static int remove_container(berth_store *s, ctr_record *r, bool force, bool volumes, bool runtime,
                            berth_error **err)
{
	container_load_state(s, r);
	if (is_running(r)) {
		if (!force)
			return berth_err(err, BERTH_E_CONFLICT,
			                 "You cannot remove a %s container %s. Stop the container "
			                 "before attempting removal or force remove",
			                 container_status(r), r->id);
		if (r->paused)
			container_pause(s, r, false, NULL);
		_cleanup_close_ int fd = container_monitor_connect(s, r->id, "stop 9 0", NULL);
		if (fd >= 0) {
			char line[64];
			read_line(fd, line, sizeof(line));
		}
	}
	if (!strcmp(container_status(r), "dead") && r->st.pid > 0) {
		rt_ctx ctx;
		ctr_rt_ctx(s, &ctx);
		rt_kill(&ctx, r->id, SIGKILL, true, NULL);
	}
	if (runtime)
		delete_runtime(s, r->id);
	if (r->config)
		container_network_forget(s, r->id, r->config, NULL);

	/* the record (and its volume links) in one transaction */
	_cleanup_strv_ char **anon = NULL;
	{
		_cleanup_tx_ berth_store *tx = NULL;
		if (store_tx_begin(s, err) < 0)
			return -1;
		tx = s;
		if (volumes) {
			_cleanup_stmt_ sqlite3_stmt *q = store_prepare(
			    s,
			    "SELECT volume FROM container_volumes WHERE container_id = ?1 AND "
			    "anonymous"
			    " AND NOT EXISTS (SELECT 1 FROM container_volumes o WHERE o.volume ="
			    " container_volumes.volume AND o.container_id != ?1)",
			    err);
			if (q == NULL)
				return -1;
			sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
			while (sqlite3_step(q) == SQLITE_ROW)
				anon = strv_append(anon, (const char *)sqlite3_column_text(q, 0));
		}
		_cleanup_stmt_ sqlite3_stmt *d1 =
		    store_prepare(s, "DELETE FROM container_volumes WHERE container_id = ?1", err);
		_cleanup_stmt_ sqlite3_stmt *d2 =
		    store_prepare(s, "DELETE FROM containers WHERE id = ?1", err);
		if (d1 == NULL || d2 == NULL)
			return -1;
		sqlite3_bind_text(d1, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(d2, 1, r->id, -1, SQLITE_STATIC);
		if (sqlite3_step(d1) != SQLITE_DONE || sqlite3_step(d2) != SQLITE_DONE)
			return store_sql_err(s, err, "removing container");
		if (store_tx_commit(s, err) < 0)
			return -1;
		tx = NULL;
	}
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *rundir = container_rundir(s, r->id);
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && ctr_monitor_alive_at(dfd)) {
		/* The monitor (an attached run's, finishing) still has the overlay
		 * mounted in its namespace: removing the mount point now would make
		 * the kernel detach that mount first, which is slow. Move the
		 * directory aside: the monitor unmounts and removes it as it exits
		 * (after releasing its lock; if it is gone by the time the
		 * directory moved, it may not have seen it: remove it here). */
		_cleanup_free_ char *trash =
		    xasprintf("%s/containers/.trash-%s", store_root(s), r->id);
		if (rename(dir, trash) == 0) {
			bool alive = ctr_monitor_alive_at(dfd);
			if (!alive)
				rm_rf(trash, NULL);
			/* an attached run's monitor, which waits for our answer,
			 * removes the run directory (its socket's) with the trash */
			if (!alive || runtime)
				rm_rf(rundir, NULL);
		} else {
			rm_rf(dir, NULL);
			rm_rf(rundir, NULL);
		}
	} else {
		rm_rf(dir, NULL);
		rm_rf(rundir, NULL);
	}
	for (size_t i = 0; anon && anon[i]; i++)
		volume_remove(s, anon[i], false, NULL);
	return 0;
}

/* ---- attach relay ---- */

static int send_frame(int sock, int type, const void *data, size_t n)
{
	unsigned char hdr[MON_FRAME_HDR];
	mon_frame_header(hdr, type, (uint32_t)n);
	if (send_all(sock, hdr, sizeof(hdr)) < 0)
		return -1;
	if (n && send_all(sock, data, n) < 0)
		return -1;
	return 0;
}

void container_ack_cleanup(int sock)
{
	send_frame(sock, MON_CLEANED, NULL, 0);
}

static void send_winsize(int sock, int fd)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		char b[32];
		int n = snprintf(b, sizeof(b), "%u %u", ws.ws_row, ws.ws_col);
		send_frame(sock, MON_RESIZE, b, (size_t)n);
	}
}

int container_relay(int sock, const ctr_relay_opts *o, int *exit_code, bool *detached,
                    berth_error **err)
{
	*detached = false;
	*exit_code = -1;
	unsigned char keys[16];
	int nkeys = 0;
	if (o->tty || o->detach_keys) {
		nkeys = ctr_parse_detach_keys(o->detach_keys ? o->detach_keys : "ctrl-p,ctrl-q",
		                              keys, sizeof(keys));
		if (nkeys < 0)
			return berth_err(err, BERTH_E_INVALID, "invalid detach keys (%s) provided",
			                 o->detach_keys);
	}
	sigset_t mask, old;
	sigemptyset(&mask);
	if (o->sig_proxy && !o->tty) {
		int proxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
		for (size_t i = 0; i < ARRAY_SIZE(proxied); i++)
			sigaddset(&mask, proxied[i]);
	}
	if (o->tty)
		sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, &old);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (o->tty && o->in_fd >= 0 && isatty(o->in_fd))
		send_winsize(sock, o->in_fd);
	else if (o->tty && o->out_fd >= 0 && isatty(o->out_fd))
		send_winsize(sock, o->out_fd);
	int in_fd = o->in_fd;
	unsigned char hdr[MON_FRAME_HDR];
	size_t hdr_len = 0;
	size_t matched = 0;
	int ret = 0;
	char *buf = xmalloc(65536);
	for (;;) {
		struct pollfd p[3];
		int n = 0, i_sock, i_in = -1, i_sig = -1;
		p[n] = (struct pollfd){.fd = sock, .events = POLLIN};
		i_sock = n++;
		if (in_fd >= 0) {
			p[n] = (struct pollfd){.fd = in_fd, .events = POLLIN};
			i_in = n++;
		}
		if (sfd >= 0) {
			p[n] = (struct pollfd){.fd = sfd, .events = POLLIN};
			i_sig = n++;
		}
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = berth_err_sys(err, errno, "poll");
			break;
		}
		if (i_sig >= 0 && p[i_sig].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					send_winsize(sock, o->in_fd >= 0 ? o->in_fd : o->out_fd);
				} else {
					char b[16];
					int l = snprintf(b, sizeof(b), "%u", si.ssi_signo);
					send_frame(sock, MON_SIGNAL, b, (size_t)l);
				}
			}
		}
		if (i_in >= 0 && p[i_in].revents) {
			ssize_t r = read(in_fd, buf, 32768);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				send_frame(sock, MON_STDIN, NULL, 0);
				in_fd = -1;
			} else {
				/* detach keys: hold back a matching prefix */
				size_t start = 0;
				for (ssize_t k = 0; nkeys > 0 && k < r; k++) {
					if ((unsigned char)buf[k] == keys[matched]) {
						matched++;
						if ((int)matched == nkeys) {
							*detached = true;
							goto out;
						}
					} else {
						matched = (unsigned char)buf[k] == keys[0] ? 1 : 0;
					}
				}
				size_t send_n = (size_t)r - (matched <= (size_t)r ? matched : 0);
				if (send_n > start &&
				    send_frame(sock, MON_STDIN, buf + start, send_n - start) < 0)
					in_fd = -1;
			}
		}
		if (p[i_sock].revents) {
			/* one frame at a time */
			ssize_t r = read(sock, hdr + hdr_len, MON_FRAME_HDR - hdr_len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				ret = berth_err(err, BERTH_E_GENERIC,
				                "the container monitor went away");
				break;
			}
			hdr_len += (size_t)r;
			if (hdr_len < MON_FRAME_HDR)
				continue;
			hdr_len = 0;
			uint32_t len = mon_frame_len(hdr);
			if (len > MON_FRAME_MAX) {
				ret = berth_err(err, BERTH_E_CORRUPT, "bad frame from the monitor");
				break;
			}
			char *payload = len > 65536 ? xmalloc(len + 1) : buf;
			size_t got = 0;
			while (got < len) {
				ssize_t m = read(sock, payload + got, len - got);
				if (m < 0 && errno == EINTR)
					continue;
				if (m <= 0)
					break;
				got += (size_t)m;
			}
			if (hdr[0] == MON_STDOUT && o->out_fd >= 0)
				write_all(o->out_fd, payload, got);
			else if (hdr[0] == MON_STDERR && o->err_fd >= 0)
				write_all(o->err_fd, payload, got);
			else if (hdr[0] == MON_EXIT) {
				payload[got] = 0;
				*exit_code = atoi(payload);
				if (payload != buf)
					free(payload);
				break;
			}
			if (payload != buf)
				free(payload);
			if (got < len) {
				ret = berth_err(err, BERTH_E_GENERIC,
				                "the container monitor went away");
				break;
			}
		}
	}
out:
	free(buf);
	if (sfd >= 0) {
		/* deliver nothing late: drop pending proxied signals */
		struct signalfd_siginfo si;
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

void container_set_exit_error(berth_store *s, ctr_record *r, const berth_error *e)
{
	/* run records a container as running before it starts */
	container_set_db_state(s, r->id, "created", NULL);
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || ctr_monitor_alive_at(dfd))
		return;
	struct ctr_state st;
	ctr_state_read_at(dfd, &st);
	memcpy(st.status, "created", sizeof("created"));
	st.pid = 0;
	st.exit_code = e == NULL                          ? 128
	               : e->code == BERTH_E_CMD_NOT_FOUND ? 127
	               : e->code == BERTH_E_CANNOT_INVOKE ? 126
	                                                  : 128;
	snprintf(st.error, sizeof(st.error), "%s", e ? e->msg : "start failed");
	ctr_state_write_at(dfd, &st);
}
