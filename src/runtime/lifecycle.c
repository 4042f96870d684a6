/* state, kill, delete, pause, resume, list, ps. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/internal.h"
#include "runtime/rt_cgroup.h"

int rt_state(const rt_ctx *ctx, const char *id, json_t **state, berth_error **err)
{
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	*state = rt_state_json(&rec, rt_state_status(ctx, &rec));
	return 0;
}

/* A pidfd for the container's init, or -1 if it is gone. */
static int init_pidfd(const rt_state_rec *rec)
{
	if (rec->pid <= 0)
		return -1;
	int fd = (int)syscall(SYS_pidfd_open, rec->pid, 0);
	if (fd < 0)
		return -1;
	if (rt_proc_start_time(rec->pid) != rec->start_time) {
		close(fd);
		return -1;
	}
	return fd;
}

int rt_kill(const rt_ctx *ctx, const char *id, int sig, bool all, berth_error **err)
{
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	if (sig <= 0 || sig >= NSIG)
		return berth_err(err, BERTH_E_INVALID, "invalid signal %d", sig);
	const char *status = rt_state_status(ctx, &rec);
	if (!strcmp(status, "stopped") && !all)
		return berth_err(err, BERTH_E_CONFLICT, "container not running");
	if (all)
		return rt_cg_kill_all(&rec, sig, err);
	_cleanup_close_ int pfd = init_pidfd(&rec);
	if (pfd < 0)
		return berth_err(err, BERTH_E_CONFLICT, "container not running");
	if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0 && errno != ESRCH)
		return berth_err_sys(err, errno, "sending signal %d to the container", sig);
	return 0;
}

/* Wait until the init is gone (reaping it if it is our child). */
static void wait_gone(const rt_state_rec *rec, int pfd)
{
	if (pfd < 0)
		return;
	struct pollfd pf = {.fd = pfd, .events = POLLIN};
	for (int i = 0; i < 100; i++) {
		if (poll(&pf, 1, 100) > 0)
			break;
	}
	waitpid(rec->pid, NULL, WNOHANG);
}

int rt_delete(const rt_ctx *ctx, const char *id, bool force, berth_error **err)
{
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	const char *status = rt_state_status(ctx, &rec);
	if (!force && (!strcmp(status, "running") || !strcmp(status, "paused")))
		return berth_err(err, BERTH_E_CONFLICT,
		                 "cannot delete container %s that is not stopped: %s", id, status);
	if (strcmp(status, "stopped") != 0) {
		_cleanup_close_ int pfd = init_pidfd(&rec);
		_cleanup_error_ berth_error *e = NULL;
		if (rec.cgroup_path)
			rt_cg_kill_all(&rec, SIGKILL, &e);
		if (pfd >= 0)
			syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
		if (!strcmp(status, "paused")) {
			berth_error_clear(&e);
			rt_cg_freeze(&rec, false, &e);
		}
		wait_gone(&rec, pfd);
	} else if (rec.pid > 0) {
		waitpid(rec.pid, NULL, WNOHANG);
	}
	if (rec.hooks && json_object_get(rec.hooks, "poststop")) {
		rt_hooks h;
		berth_error *e = NULL;
		if (rt_hooks_parse(rec.hooks, &h, &e) == 0) {
			json_t *st = rt_state_json(&rec, "stopped");
			_cleanup_free_ char *txt = json_dump_compact(st);
			json_decref(st);
			if (rt_hooks_run(h.v[RT_HOOK_POSTSTOP], h.n[RT_HOOK_POSTSTOP], "poststop",
			                 txt, &e) < 0)
				log_warn("%s", e->msg);
		}
		berth_error_free(e);
		rt_hooks_clear(&h);
	}
	if (rt_cg_destroy(rec.cgroup_path, id, err) < 0)
		return berth_err_prefix(err, "removing the cgroup of %s", id);
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, id, &dir, err) < 0)
		return -1;
	return rm_rf(dir, err);
}

int rt_pause(const rt_ctx *ctx, const char *id, berth_error **err)
{
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	const char *status = rt_state_status(ctx, &rec);
	if (strcmp(status, "running") != 0)
		return berth_err(err, BERTH_E_CONFLICT, "container not running (%s)", status);
	return rt_cg_freeze(&rec, true, err);
}

int rt_resume(const rt_ctx *ctx, const char *id, berth_error **err)
{
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	const char *status = rt_state_status(ctx, &rec);
	if (strcmp(status, "paused") != 0)
		return berth_err(err, BERTH_E_CONFLICT, "container not paused (%s)", status);
	return rt_cg_freeze(&rec, false, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rt_list(const rt_ctx *ctx, json_t **states, berth_error **err)
{
	const char *root = ctx->state_root ? ctx->state_root : RT_DEFAULT_STATE_ROOT;
	*states = json_array();
	_cleanup_closedir_ DIR *d = opendir(root);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "reading %s", root);
	}
	_cleanup_strv_ char **ids = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && rt_valid_id(de->d_name))
			ids = strv_append(ids, de->d_name);
	if (ids)
		qsort(ids, strv_len(ids), sizeof(char *), cmp_str);
	for (char **id = ids; id && *id; id++) {
		_cleanup_rec_ rt_state_rec rec = {0};
		_cleanup_error_ berth_error *e = NULL;
		if (rt_state_load(ctx, *id, &rec, &e) < 0)
			continue;
		json_array_append_new(*states, rt_state_json(&rec, rt_state_status(ctx, &rec)));
	}
	return 0;
}

int rt_pids(const rt_ctx *ctx, const char *id, pid_t **pids, size_t *n, berth_error **err)
{
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	if (!strcmp(rt_state_status(ctx, &rec), "stopped")) {
		*pids = xcalloc(1, sizeof(pid_t));
		*n = 0;
		return 0;
	}
	return rt_cg_pids(&rec, pids, n, err);
}
