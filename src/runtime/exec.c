/* rt_exec: a new process in a running container's namespaces and cgroup,
 * with the container's seccomp filter. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "runtime/internal.h"
#include "runtime/rt_cgroup.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static json_t *load_config(const rt_ctx *ctx, const char *id, berth_error **err)
{
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, id, &dir, err) < 0)
		return NULL;
	_cleanup_free_ char *p = xasprintf("%s/config.json", dir);
	return json_parse_file(p, err);
}

int rt_exec_default_process(const rt_ctx *ctx, const char *id, json_t **process, berth_error **err)
{
	_cleanup_json_ json_t *cfg = load_config(ctx, id, err);
	if (cfg == NULL)
		return -1;
	json_t *p = json_object_get(cfg, "process");
	if (!json_is_object(p))
		return berth_err(err, BERTH_E_INVALID, "container %s has no process", id);
	*process = json_deep_copy(p);
	return 0;
}

static int ns_flags_to_join(pid_t pid)
{
	static const struct {
		const char *name;
		int flag;
	} ns[] = {{"user", CLONE_NEWUSER},     {"mnt", CLONE_NEWNS},   {"pid", CLONE_NEWPID},
	          {"net", CLONE_NEWNET},       {"ipc", CLONE_NEWIPC},  {"uts", CLONE_NEWUTS},
	          {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME}};
	int flags = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		char a[64], b[64];
		struct stat sa, sb;
		snprintf(a, sizeof(a), "/proc/self/ns/%s", ns[i].name);
		snprintf(b, sizeof(b), "/proc/%d/ns/%s", (int)pid, ns[i].name);
		if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
			continue;
		if (sa.st_ino != sb.st_ino || sa.st_dev != sb.st_dev)
			flags |= ns[i].flag;
	}
	return flags;
}

int rt_exec(const rt_ctx *ctx, const char *id, json_t *process, const rt_exec_opts *o, pid_t *pid,
            berth_error **err)
{
	rt_state_rec rec;
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	int ret = -1;
	rt_process proc;
	memset(&proc, 0, sizeof(proc));
	_cleanup_json_ json_t *cfg = NULL;
	_cleanup_free_ char *cache = NULL;
	int sv[2] = {-1, -1};
	int pidfd = -1;
	rt_cg_join join = {.v2dir = -1};
	pid_t child = 0, target = 0;
	/* rt_state_status without its freezer lookup: the cgroup is opened
	 * once, below, for that and for joining it */
	const char *status = rt_state_status_unfrozen(ctx, &rec);
	bool frozen = false;
	if (!strcmp(status, "running") && rec.cgroup_path &&
	    rt_cg_join_open(&rec, &join, &frozen, err) < 0) {
		berth_err_prefix(err, "joining the cgroup of container %s", id);
		goto out;
	}
	if (frozen)
		status = "paused";
	if (strcmp(status, "running") != 0 && strcmp(status, "created") != 0) {
		berth_err(err, BERTH_E_CONFLICT, "cannot exec in a %s container", status);
		goto out;
	}
	cfg = load_config(ctx, id, err);
	if (cfg == NULL)
		goto out;
	json_t *sc = json_object_get(json_object_get(cfg, "linux"), "seccomp");
	cache = xasprintf("%s/.seccomp-cache",
	                  ctx->state_root ? ctx->state_root : RT_DEFAULT_STATE_ROOT);
	if (rt_process_parse(process, sc, true, cache, &proc, err) < 0)
		goto out;
	{
		char rp[64];
		snprintf(rp, sizeof(rp), "/proc/%d/root", (int)rec.pid);
		int rootfd = open(rp, O_PATH | O_DIRECTORY | O_CLOEXEC);
		rt_process_set_home(&proc, rootfd);
		if (rootfd >= 0)
			close(rootfd);
	}
	if (proc.terminal && o->console_socket == NULL) {
		berth_err(err, BERTH_E_INVALID,
		          "process.terminal is true: a --console-socket is required");
		goto out;
	}
	pidfd = (int)syscall(SYS_pidfd_open, rec.pid, 0);
	if (pidfd < 0 || rt_proc_start_time(rec.pid) != rec.start_time) {
		berth_err(err, BERTH_E_CONFLICT, "container %s is not running", id);
		goto out;
	}
	if (rec.cgroup_path && join.fds == NULL && join.v2dir < 0 &&
	    rt_cg_join_open(&rec, &join, NULL, err) < 0) {
		berth_err_prefix(err, "joining the cgroup of container %s", id);
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		berth_err_sys(err, errno, "socketpair");
		goto out;
	}
	rt_child_args a = {.proc = &proc,
	                   .sock = sv[1],
	                   .fifo_fd = -1,
	                   .preserve_fds = o->preserve_fds,
	                   .console = proc.terminal,
	                   .exec = true,
	                   .join_pidfd = pidfd,
	                   .join_flags = ns_flags_to_join(rec.pid),
	                   .id = id};
	memcpy(a.stdio_fds, o->stdio_fds, sizeof(a.stdio_fds));
	bool joins = rec.cgroup_path != NULL;
	long c = rt_cg_clone(0, &join, err);
	if (c < 0)
		goto out;
	if (c == 0) {
		a.cg_fds = join.fds;
		a.n_cg_fds = join.n;
		a.in_cgroup = joins;
		close(sv[0]);
		rt_child_main(&a);
	}
	child = (pid_t)c;
	close(sv[1]);
	sv[1] = -1;
	for (;;) {
		rt_msg m;
		int fd = -1;
		if (rt_msg_recv(sv[0], &m, &fd) < 0) {
			if (errno) {
				berth_err_sys(err, errno, "reading from the exec process");
				goto fail;
			}
			if (target == 0) {
				berth_err(err, BERTH_E_GENERIC,
				          "the exec process died during set-up");
				goto fail;
			}
			break; /* EOF after GO: execve closed the socket */
		}
		if (m.type == RT_MSG_ERROR) {
			int code = m.value == 127   ? BERTH_E_CMD_NOT_FOUND
			           : m.value == 126 ? BERTH_E_CANNOT_INVOKE
			                            : BERTH_E_GENERIC;
			if (code == BERTH_E_GENERIC && m.err)
				berth_err_sys(err, m.err, "%s", m.text);
			else
				berth_err(err, code, "%s", m.text);
			goto fail;
		} else if (m.type == RT_MSG_PID) {
			target = m.value;
			waitpid(child, NULL, 0);
			child = 0;
			/* it is in the cgroup already (joined before forking) */
			if (!joins)
				rt_msg_send(sv[0], RT_MSG_GO, 0, 0, NULL);
		} else if (m.type == RT_MSG_CONSOLE) {
			int r = rt_console_send(o->console_socket, fd, err);
			close(fd);
			if (r < 0)
				goto fail;
			rt_msg_send(sv[0], RT_MSG_ACK, 0, 0, NULL);
		} else {
			if (fd >= 0)
				close(fd);
			berth_err(err, BERTH_E_GENERIC, "protocol error (message %d)", m.type);
			goto fail;
		}
	}
	if (o->pid_file) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)target);
		if (atomic_write(o->pid_file, buf, (size_t)n, 0644, false, err) < 0)
			goto fail;
	}
	if (pid)
		*pid = target;
	ret = 0;
	goto out;
fail:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (target > 0) {
		kill(target, SIGKILL);
		waitpid(target, NULL, 0);
	}
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (pidfd >= 0)
		close(pidfd);
	rt_cg_join_close(&join);
	rt_process_clear(&proc);
	rt_state_rec_clear(&rec);
	return ret;
}
