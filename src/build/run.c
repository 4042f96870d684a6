/* RUN steps: a container on the step's overlay root, through the
 * in-process runtime (rt_create/rt_start on an in-memory config built from
 * rt_default_spec). A forked helper owns the container: the builder may be
 * multi-threaded (parallel stages), and the runtime's clone must start from
 * a single-threaded process. The helper dies with the builder
 * (PR_SET_PDEATHSIG); a container it leaves behind is removed by the next
 * build (build_reap_orphans). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/build_int.h"
#include "runtime/runtime.h"

static json_t *mount_obj(const char *dest, const char *type, const char *src, const char *opts)
{
	json_t *o = json_pack("{s:s,s:s,s:s}", "destination", dest, "type", type, "source", src);
	json_t *ov = json_array();
	_cleanup_strv_ char **v = str_split(opts, ',');
	for (char **p = v; p && *p; p++)
		json_array_append_new(ov, json_string(*p));
	json_object_set_new(o, "options", ov);
	return o;
}

/* Record the components of dest missing from the root (to remove the
 * mount points the runtime creates from the layer afterwards). */
static void note_missing(int rootfd, const char *dest, char ***created)
{
	_cleanup_free_ char *clean = path_clean_rel(dest);
	if (!strcmp(clean, "."))
		return;
	_cleanup_strv_ char **parts = str_split(clean, '/');
	strbuf sb;
	sb_init(&sb);
	for (char **p = parts; *p; p++) {
		if (sb.len)
			sb_appendc(&sb, '/');
		sb_append(&sb, *p);
		_cleanup_close_ int fd = open_in_root(rootfd, sb.buf, O_PATH | O_CLOEXEC, 0, NULL);
		if (fd < 0) {
			if (!strv_contains(*created, sb.buf))
				*created = strv_append(*created, sb.buf);
		}
	}
	sb_free(&sb);
}

static json_t *make_spec(const char *rootfs, const run_spec *r, int rootfd, char ***created)
{
	json_t *spec = rt_default_spec(false);
	json_t *proc = json_object_get(spec, "process");
	json_object_set_new(proc, "args", json_from_strv(r->args));
	json_object_set_new(proc, "env", json_from_strv(r->env));
	json_object_set_new(proc, "cwd", json_string(r->cwd && *r->cwd ? r->cwd : "/"));
	json_t *user = json_pack("{s:I,s:I}", "uid", (json_int_t)r->uid, "gid", (json_int_t)r->gid);
	if (r->n_groups) {
		json_t *ag = json_array();
		for (size_t i = 0; i < r->n_groups; i++)
			json_array_append_new(ag, json_integer(r->groups[i]));
		json_object_set_new(user, "additionalGids", ag);
	}
	json_object_set_new(proc, "user", user);
	json_object_set_new(json_object_get(spec, "root"), "path", json_string(rootfs));
	json_object_set_new(json_object_get(spec, "root"), "readonly", json_false());
	json_object_set_new(spec, "hostname", json_string("buildkitsandbox"));
	json_t *lnx = json_object_get(spec, "linux");
	_cleanup_free_ char *cg = xasprintf("/berth-build/%s", r->id);
	json_object_set_new(lnx, "cgroupsPath", json_string(cg));
	bool host_net =
	    !r->network || !strcmp(r->network, "default") || !strcmp(r->network, "host");
	if (host_net) {
		json_t *nss = json_object_get(lnx, "namespaces");
		for (size_t i = 0; i < json_array_size(nss); i++)
			if (str_eq(json_get_str(json_array_get(nss, i), "type"), "network")) {
				json_array_remove(nss, i);
				break;
			}
	}
	json_t *mounts = json_object_get(spec, "mounts");
	size_t i;
	json_t *m;
	json_array_foreach (mounts, i, m)
		note_missing(rootfd, json_get_str(m, "destination"), created);
	if (host_net) {
		static const char *const etc[] = {"/etc/resolv.conf", "/etc/hosts"};
		for (size_t k = 0; k < ARRAY_SIZE(etc); k++) {
			struct stat st;
			if (stat(etc[k], &st) < 0)
				continue;
			note_missing(rootfd, etc[k], created);
			json_array_append_new(mounts,
			                      mount_obj(etc[k], "bind", etc[k], "rbind,ro"));
		}
	}
	for (size_t k = 0; k < r->n_mounts; k++) {
		const run_mount *rm = &r->mounts[k];
		note_missing(rootfd, rm->target, created);
		if (!strcmp(rm->type, "tmpfs"))
			json_array_append_new(mounts, mount_obj(rm->target, "tmpfs", "tmpfs",
			                                        "nosuid,nodev,mode=755"));
		else
			json_array_append_new(mounts,
			                      mount_obj(rm->target, "bind", rm->source,
			                                rm->readonly ? "rbind,ro" : "rbind,rw"));
	}
	return spec;
}

/* The helper: create, start and wait for the container; report
 * "X<code>" or "E<message>" on status_fd. */
static void helper_main(const char *rootfs, json_t *spec, const run_spec *r, int out_fd,
                        int status_fd)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	rt_ctx ctx = {.state_root = r->state_root, .log_fd = -1};
	rt_create_opts o;
	rt_create_opts_init(&o);
	o.config = spec;
	o.bundle = rootfs;
	o.stdio_fds[0] = devnull;
	o.stdio_fds[1] = out_fd;
	o.stdio_fds[2] = out_fd;
	/* a helper gone before the start takes the init with it: the init
	 * holds the output pipe the build reads to its end */
	o.die_with_parent = true;
	berth_error *e = NULL;
	pid_t pid;
	if (rt_create(&ctx, r->id, &o, &pid, &e) < 0 || rt_start(&ctx, r->id, &e) < 0) {
		_cleanup_free_ char *msg = xasprintf("E%s", e ? e->msg : "cannot start");
		rt_delete(&ctx, r->id, true, NULL);
		if (write_all(status_fd, msg, strlen(msg)) < 0)
			_exit(125);
		_exit(0);
	}
	close(out_fd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	rt_delete(&ctx, r->id, true, NULL);
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "X%d", code);
	if (write_all(status_fd, buf, (size_t)n) < 0)
		_exit(125);
	_exit(0);
}

int build_run_process(const char *rootfs, const run_spec *r, int *exit_code, char ***created,
                      char **tail, berth_error **err)
{
	*tail = NULL;
	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return berth_err_sys(err, errno, "opening %s", rootfs);
	_cleanup_json_ json_t *spec = make_spec(rootfs, r, rootfd, created);
	int out[2], status[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "pipe");
	if (pipe2(status, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return berth_err_sys(err, errno, "pipe");
	}
	pid_t h = fork();
	if (h < 0) {
		int e = errno;
		close(out[0]);
		close(out[1]);
		close(status[0]);
		close(status[1]);
		return berth_err_sys(err, e, "fork");
	}
	if (h == 0) {
		close(out[0]);
		close(status[0]);
		helper_main(rootfs, spec, r, out[1], status[1]);
	}
	close(out[1]);
	close(status[1]);
	/* relay output lines; keep the last ones for the error message */
	strbuf line;
	sb_init(&line);
	char *last[8] = {0};
	size_t nlast = 0;
	char buf[8192];
	for (;;) {
		ssize_t n = read(out[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t k = 0; k < n; k++) {
			if (buf[k] != '\n') {
				sb_appendc(&line, buf[k]);
				continue;
			}
			char *l = sb_steal(&line);
			if (r->line)
				r->line(r->line_ud, l);
			free(last[nlast % ARRAY_SIZE(last)]);
			last[nlast++ % ARRAY_SIZE(last)] = l;
		}
	}
	if (line.len) {
		char *l = sb_steal(&line);
		if (r->line)
			r->line(r->line_ud, l);
		free(last[nlast % ARRAY_SIZE(last)]);
		last[nlast++ % ARRAY_SIZE(last)] = l;
	}
	sb_free(&line);
	close(out[0]);
	char sbuf[4096];
	size_t got = 0;
	for (;;) {
		ssize_t n = read(status[0], sbuf + got, sizeof(sbuf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got >= sizeof(sbuf) - 1)
			break;
	}
	sbuf[got] = 0;
	close(status[0]);
	int hst;
	while (waitpid(h, &hst, 0) < 0 && errno == EINTR)
		;
	strbuf t;
	sb_init(&t);
	size_t from = nlast > ARRAY_SIZE(last) ? nlast - ARRAY_SIZE(last) : 0;
	for (size_t k = from; k < nlast; k++)
		sb_printf(&t, "%s\n", last[k % ARRAY_SIZE(last)]);
	for (size_t k = 0; k < ARRAY_SIZE(last); k++)
		free(last[k]);
	*tail = sb_steal(&t);
	if (sbuf[0] == 'X') {
		*exit_code = atoi(sbuf + 1);
		return 0;
	}
	if (sbuf[0] == 'E')
		return berth_err(err, BERTH_E_GENERIC, "%s", sbuf + 1);
	return berth_err(err, BERTH_E_GENERIC, "the build container's helper died");
}

void build_reap_orphans(const char *state_root)
{
	_cleanup_closedir_ DIR *d = opendir(state_root);
	if (d == NULL)
		return;
	struct dirent *de;
	rt_ctx ctx = {.state_root = state_root, .log_fd = -1};
	while ((de = readdir(d)) != NULL) {
		/* ids are "b<builder pid>-<n>" */
		if (de->d_name[0] != 'b')
			continue;
		char *end = NULL;
		long pid = strtol(de->d_name + 1, &end, 10);
		if (pid <= 0 || end == NULL || *end != '-')
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		rt_delete(&ctx, de->d_name, true, NULL);
	}
}
