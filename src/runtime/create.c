/* rt_create and rt_start: the parent's side of starting a container. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/internal.h"
#include "runtime/rt_cgroup.h"

void rt_create_opts_init(rt_create_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stdio_fds[0] = o->stdio_fds[1] = o->stdio_fds[2] = -1;
}

void rt_exec_opts_init(rt_exec_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stdio_fds[0] = o->stdio_fds[1] = o->stdio_fds[2] = -1;
}

/* crun gives the process HOME from the container's /etc/passwd when the
 * config does not set it. */
void rt_process_set_home(rt_process *p, int rootfd)
{
	for (char **e = p->env; e && *e; e++)
		if (str_has_prefix(*e, "HOME="))
			return;
	_cleanup_free_ char *home = NULL;
	berth_error *err = NULL;
	_cleanup_close_ int fd =
	    rootfd >= 0 ? open_in_root(rootfd, "/etc/passwd", O_RDONLY, 0, &err) : -1;
	berth_error_free(err);
	err = NULL;
	_cleanup_fclose_ FILE *f = fd >= 0 ? fdopen(steal_fd(fd), "r") : NULL;
	char *line = NULL;
	size_t cap = 0;
	while (f && !home && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = 0;
		_cleanup_strv_ char **fl = str_split(line, ':');
		if (strv_len(fl) >= 7 && fl[2][0] && strtoul(fl[2], NULL, 10) == p->uid)
			home = xstrdup(fl[5]);
	}
	free(line);
	if (home == NULL || !*home)
		return; /* as crun: no entry, no HOME */
	_cleanup_free_ char *kv = xasprintf("HOME=%s", home);
	p->env = strv_append(p->env, kv);
}

static int write_idmap(pid_t pid, const char *file, const rt_idmap_text *m, berth_error **err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, m->text, m->len) != (ssize_t)m->len)
		return berth_err_sys(err, errno, "writing %s (linux.%s)", file,
		                     file[0] == 'u' ? "uidMappings" : "gidMappings");
	return 0;
}

static int write_maps(const rt_spec *s, pid_t pid, berth_error **err)
{
	if (write_idmap(pid, "uid_map", &s->uid_map, err) < 0 ||
	    write_idmap(pid, "gid_map", &s->gid_map, err) < 0)
		return -1;
	return 0;
}

static char *now_rfc3339(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return time_rfc3339nano(&ts);
}

static char *hook_state(const rt_spec *s, const char *id, const char *status, pid_t pid)
{
	_cleanup_json_ json_t *j = json_object();
	json_object_set_new(j, "ociVersion", json_string(RT_OCI_VERSION));
	json_object_set_new(j, "id", json_string(id));
	json_object_set_new(j, "status", json_string(status));
	json_object_set_new(j, "pid", json_integer(pid));
	json_object_set_new(j, "bundle", json_string(s->bundle));
	json_object_set_new(j, "annotations",
	                    s->annotations ? json_incref(s->annotations) : json_object());
	return json_dump_compact(j);
}

/* The parent's half of the conversation until the init reports READY. */
struct create_run {
	const rt_ctx *ctx;
	const rt_spec *spec;
	const rt_create_opts *o;
	const char *id;
	const char *bundle;
	const char *dir; /* the state directory */
	json_t *config;
	int sock;
	pid_t child; /* what we cloned */
	pid_t init; /* the container's init */
	bool two_stage;
	char *cgroup_path;
	bool cgroup_made;
	bool reused_dir; /* the state directory came from o->spare_state_dir */
};

static int save_created(const struct create_run *r, berth_error **err);

static int child_error(struct create_run *r, const rt_msg *m, berth_error **err)
{
	int code = BERTH_E_GENERIC;
	if (m->value == 127)
		code = BERTH_E_CMD_NOT_FOUND;
	else if (m->value == 126)
		code = BERTH_E_CANNOT_INVOKE;
	(void)r;
	if (m->err && code == BERTH_E_GENERIC) {
		berth_err_sys(err, m->err, "%s", m->text);
		return -1;
	}
	return berth_err(err, code, "%s", m->text);
}

static int go(struct create_run *r, berth_error **err)
{
	if (rt_msg_send(r->sock, RT_MSG_GO, 0, 0, NULL) < 0)
		return berth_err_sys(err, errno, "talking to the container init");
	/* the init sets up its root filesystem now (a few ms, much of it
	 * waiting for the kernel): save the state meanwhile */
	return save_created(r, err);
}

static int converse(struct create_run *r, berth_error **err)
{
	const rt_spec *s = r->spec;
	if (!r->two_stage) {
		/* the child waits for its id mappings only (it joined its cgroup
		 * itself) */
		if (s->ns[RT_NS_USER].enabled &&
		    (write_maps(s, r->init, err) < 0 || go(r, err) < 0))
			return -1;
		if (!s->ns[RT_NS_USER].enabled && save_created(r, err) < 0)
			return -1;
	}
	for (;;) {
		rt_msg m;
		int fd = -1;
		if (rt_msg_recv(r->sock, &m, &fd) < 0) {
			if (errno)
				return berth_err_sys(err, errno, "reading from the container init");
			return berth_err(err, BERTH_E_GENERIC,
			                 "the container init exited during set-up");
		}
		switch (m.type) {
		case RT_MSG_ERROR: return child_error(r, &m, err);
		case RT_MSG_USERNS:
			if (write_maps(s, r->child, err) < 0)
				return -1;
			rt_msg_send(r->sock, RT_MSG_ACK, 0, 0, NULL);
			break;
		case RT_MSG_PID: {
			r->init = m.value;
			int st;
			waitpid(r->child, &st, 0);
			r->child = 0;
			if (go(r, err) < 0)
				return -1;
			break;
		}
		case RT_MSG_HOOKS: {
			_cleanup_free_ char *state = hook_state(s, r->id, "creating", r->init);
			if (rt_hooks_run(s->hooks.v[RT_HOOK_PRESTART], s->hooks.n[RT_HOOK_PRESTART],
			                 "prestart", state, err) < 0 ||
			    rt_hooks_run(s->hooks.v[RT_HOOK_CREATE_RUNTIME],
			                 s->hooks.n[RT_HOOK_CREATE_RUNTIME], "createRuntime", state,
			                 err) < 0)
				return -1;
			rt_msg_send(r->sock, RT_MSG_ACK, 0, 0, NULL);
			if (s->hooks.n[RT_HOOK_CREATE_CONTAINER] ||
			    s->hooks.n[RT_HOOK_START_CONTAINER]) {
				if (send(r->sock, state, strlen(state), MSG_NOSIGNAL) < 0)
					return berth_err_sys(err, errno, "sending the state");
			}
			break;
		}
		case RT_MSG_CONSOLE: {
			_cleanup_close_ int master = fd;
			fd = -1;
			if (master < 0)
				return berth_err(err, BERTH_E_GENERIC, "no pty from the container");
			if (rt_console_send(r->o->console_socket, master, err) < 0)
				return -1;
			rt_msg_send(r->sock, RT_MSG_ACK, 0, 0, NULL);
			break;
		}
		case RT_MSG_READY: return 0;
		default:
			return berth_err(err, BERTH_E_GENERIC, "protocol error (message %d)",
			                 m.type);
		}
		if (fd >= 0)
			close(fd);
	}
}

static void kill_and_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static int save_created(const struct create_run *r, berth_error **err)
{
	const rt_ctx *ctx = r->ctx;
	const char *id = r->id, *bundle = r->bundle, *dir = r->dir;
	const rt_spec *s = r->spec;
	json_t *config = r->config;
	_cleanup_free_ char *rootfs_abs = realpath(s->rootfs, NULL);
	rt_state_rec rec = {.id = (char *)id,
	                    .bundle = (char *)bundle,
	                    .rootfs = rootfs_abs ? rootfs_abs : s->rootfs,
	                    .pid = r->init,
	                    .start_time = rt_proc_start_time(r->init),
	                    .annotations = s->annotations,
	                    .cgroup_path = r->cgroup_path,
	                    .has_userns = s->ns[RT_NS_USER].enabled};
	_cleanup_free_ char *created = now_rfc3339();
	rec.created = created;
	_cleanup_json_ json_t *hooks = json_object();
	json_t *jh = json_object_get(config, "hooks");
	if (json_object_get(jh, "poststart"))
		json_object_set(hooks, "poststart", json_object_get(jh, "poststart"));
	if (json_object_get(jh, "poststop"))
		json_object_set(hooks, "poststop", json_object_get(jh, "poststop"));
	rec.hooks = json_object_size(hooks) ? hooks : NULL;
	_cleanup_free_ char *cfgcopy = xasprintf("%s/config.json", dir);
	_cleanup_free_ char *cfgtext = json_dump_compact(config);
	if ((r->reused_dir
	         ? write_file(cfgcopy, cfgtext, strlen(cfgtext), 0600, err)
	         : atomic_write(cfgcopy, cfgtext, strlen(cfgtext), 0600, false, err)) < 0 ||
	    rt_state_write(ctx, &rec, r->reused_dir, err) < 0)
		return -1;
	return 0;
}

int rt_create(const rt_ctx *ctx, const char *id, const rt_create_opts *o, pid_t *pid,
              berth_error **err)
{
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, id, &dir, err) < 0)
		return -1;
	const char *bundle = o->bundle && *o->bundle ? o->bundle : ".";
	_cleanup_json_ json_t *config = NULL;
	if (o->config)
		config = json_incref(o->config);
	else {
		_cleanup_free_ char *cfg = xasprintf("%s/config.json", bundle);
		config = json_parse_file(cfg, err);
		if (config == NULL)
			return -1;
	}
	if (o->cgroup_dirs)
		*o->cgroup_dirs = NULL;
	_cleanup_spec_ rt_spec *s = NULL;
	const char *root = ctx->state_root ? ctx->state_root : RT_DEFAULT_STATE_ROOT;
	_cleanup_free_ char *cache = xasprintf("%s/.seccomp-cache", root);
	if (rt_spec_parse(config, bundle, true, cache, &s, err) < 0)
		return -1;
	if (s->proc.args == NULL)
		return berth_err(err, BERTH_E_INVALID, "process: missing in config.json");
	if (s->proc.terminal && o->console_socket == NULL)
		return berth_err(err, BERTH_E_INVALID,
		                 "process.terminal is true: a --console-socket is required");
	struct stat st;
	if (stat(s->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return berth_err_sys(err, errno ? errno : ENOTDIR, "root.path %s", s->rootfs);
	{
		_cleanup_close_ int rootfd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		rt_process_set_home(&s->proc, rootfd);
	}
	/* the work made ahead is taken only once done (a start process forked
	 * ahead may still have its threads running) */
	rt_prep_wait(o->prep);
	for (size_t i = 0; i < s->nmounts; i++)
		if (s->mounts[i].type && !strcmp(s->mounts[i].type, "cgroup")) {
			if (rt_cg_host_layout(s, o->prep, err) < 0)
				return -1;
			break;
		}
	if (mkdir(root, 0711) < 0 && errno != EEXIST && mkdir_p(root, 0711, err) < 0)
		return -1;
	/* a spare state directory (emptied, of a removed container) saves the
	 * inodes of the directory and its two files */
	bool reused = o->spare_state_dir && rename(o->spare_state_dir, dir) == 0;
	if (!reused && mkdir(dir, 0711) < 0) {
		if (errno == EEXIST)
			return berth_err(err, BERTH_E_CONFLICT, "container with id exists: %s", id);
		return berth_err_sys(err, errno, "creating %s", dir);
	}
	_cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
	int sv[2] = {-1, -1};
	_cleanup_close_ int fifo_fd = -1;
	struct create_run r = {.reused_dir = reused,
	                       .ctx = ctx,
	                       .spec = s,
	                       .o = o,
	                       .id = id,
	                       .bundle = bundle,
	                       .dir = dir,
	                       .config = config};
	int ret = -1;
	rt_cg_join join = {.v2dir = -1};
	int own_net = -1;
	/* a used fifo kept in the state directory (fifo_done) is a new one's
	 * inode: no pipe outlives its last close */
	_cleanup_free_ char *used = xasprintf("%s/%s", dir, RT_USED_FIFO);
	if (rename(used, fifo) < 0 && (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0)) {
		berth_err_sys(err, errno, "creating %s", fifo);
		goto fail;
	}
	fifo_fd = open(fifo, O_PATH | O_CLOEXEC);
	if (fifo_fd < 0) {
		berth_err_sys(err, errno, "opening %s", fifo);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		berth_err_sys(err, errno, "socketpair");
		goto fail;
	}
	/* the cgroup first: the child joins it by itself as it starts */
	if (rt_cg_create(s, id, o->prep, &r.cgroup_path, o->cgroup_dirs, &join, err) < 0)
		goto fail;
	r.cgroup_made = true;
	bool two_stage = false;
	for (int k = 0; k < RT_NS_COUNT; k++)
		if (s->ns[k].enabled && s->ns[k].path)
			two_stage = true;
	unsigned long flags = 0;
	if (!two_stage) {
		static const struct {
			int k;
			unsigned long f;
		} m[] = {{RT_NS_USER, CLONE_NEWUSER}, {RT_NS_MOUNT, CLONE_NEWNS},
		         {RT_NS_PID, CLONE_NEWPID},   {RT_NS_NET, CLONE_NEWNET},
		         {RT_NS_IPC, CLONE_NEWIPC},   {RT_NS_UTS, CLONE_NEWUTS}};
		for (size_t i = 0; i < ARRAY_SIZE(m); i++)
			if (s->ns[m[i].k].enabled)
				flags |= m[i].f;
	}
	/* a network namespace made ahead: the child starts in it (we enter it
	 * for the clone and leave it again) */
	int netns = rt_prep_netns(o->prep);
	if (netns >= 0 && (flags & CLONE_NEWNET) && !(flags & CLONE_NEWUSER)) {
		own_net = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (own_net < 0 || setns(netns, CLONE_NEWNET) < 0) {
			berth_err_sys(err, errno, "entering the container's network namespace");
			goto fail;
		}
		flags &= ~(unsigned long)CLONE_NEWNET;
	}
	rt_child_args a = {.spec = s,
	                   .proc = &s->proc,
	                   .sock = sv[1],
	                   .fifo_fd = fifo_fd,
	                   .preserve_fds = o->preserve_fds,
	                   .no_pivot = o->no_pivot,
	                   .no_new_keyring = o->no_new_keyring,
	                   .console = s->proc.terminal,
	                   .two_stage = two_stage,
	                   .die_with_parent = o->die_with_parent && !two_stage,
	                   .clone_flags = flags,
	                   .id = id,
	                   .join_pidfd = -1};
	memcpy(a.stdio_fds, o->stdio_fds, sizeof(a.stdio_fds));
	long c = rt_cg_clone(flags, &join, err);
	if (c == 0) {
		a.cg_fds = join.fds;
		a.n_cg_fds = join.n;
		close(sv[0]);
		rt_child_main(&a);
	}
	if (own_net >= 0 && setns(own_net, CLONE_NEWNET) < 0) {
		/* never seen; the network attach must not run in there */
		berth_err_sys(err, errno, "leaving the container's network namespace");
		if (c > 0)
			kill_and_reap((pid_t)c);
		goto fail;
	}
	if (c < 0)
		goto fail;
	rt_cg_join_close(&join);
	close(sv[1]);
	sv[1] = -1;
	r.sock = sv[0];
	r.child = (pid_t)c;
	r.two_stage = two_stage;
	if (!two_stage) {
		r.init = r.child;
		if (o->created)
			o->created(r.init, o->created_arg);
	}
	if (converse(&r, err) < 0)
		goto fail_child;
	if (o->pid_file) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)r.init);
		if (atomic_write(o->pid_file, buf, (size_t)n, 0644, false, err) < 0)
			goto fail_child;
	}
	if (pid)
		*pid = r.init;
	ret = 0;
	goto out;
fail_child:
	if (r.two_stage && r.child > 0)
		kill_and_reap(r.child);
	kill_and_reap(r.init);
fail:
	if (o->cgroup_dirs) {
		strv_free(*o->cgroup_dirs);
		*o->cgroup_dirs = NULL;
	}
	if (r.cgroup_made) {
		_cleanup_error_ berth_error *e2 = NULL;
		rt_cg_destroy(r.cgroup_path, id, &e2);
	}
	{
		_cleanup_error_ berth_error *e2 = NULL;
		rm_rf(dir, &e2);
	}
out:
	rt_cg_join_close(&join);
	if (own_net >= 0)
		close(own_net);
	free(r.cgroup_path);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return ret;
}

/* Started: exec.fifo goes (its absence says so), kept under another name
 * for the state directory's next container (a spare directory's). */
static void fifo_done(const char *dir, const char *fifo)
{
	_cleanup_free_ char *used = xasprintf("%s/%s", dir, RT_USED_FIFO);
	if (rename(fifo, used) < 0)
		unlink(fifo);
}

static int start_impl(const rt_ctx *ctx, const char *id, int *exec_fd, berth_error **err)
{
	if (exec_fd)
		*exec_fd = -1;
	_cleanup_rec_ rt_state_rec rec = {0};
	if (rt_state_load(ctx, id, &rec, err) < 0)
		return -1;
	const char *status = rt_state_status(ctx, &rec);
	if (strcmp(status, "created") != 0) {
		if (!strcmp(status, "stopped"))
			return berth_err(err, BERTH_E_CONFLICT,
			                 "cannot start a container that has stopped");
		return berth_err(err, BERTH_E_CONFLICT, "cannot start an already %s container",
		                 status);
	}
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, id, &dir, err) < 0)
		return -1;
	_cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
	_cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return berth_err(err, BERTH_E_CONFLICT,
			                 "cannot start an already running container");
		return berth_err_sys(err, errno, "opening %s", fifo);
	}
	/* the init opens the write side, writes one byte and goes on to execve */
	bool poststart = rec.hooks && json_object_get(rec.hooks, "poststart");
	if (exec_fd && !poststart) {
		/* our read end lets the init go on: the caller waits for its
		 * byte and end-of-file (meanwhile the init loads its seccomp
		 * filter). The init opens the fifo by its own descriptor. */
		fifo_done(dir, fifo);
		*exec_fd = steal_fd(fd);
		return 0;
	}
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, rec.pid, 0);
	char b;
	bool got = false;
	for (;;) {
		ssize_t n = read(fd, &b, 1);
		if (n == 1) {
			got = true;
			continue;
		}
		if (n == 0 && got)
			break; /* the init has executed the process (or died trying) */
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return berth_err_sys(err, errno, "reading %s", fifo);
		struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
		                       {.fd = pidfd, .events = POLLIN}};
		int pr = poll(pf, pidfd >= 0 ? 2 : 1, n == 0 ? 10 : -1);
		if (pr < 0 && errno != EINTR)
			return berth_err_sys(err, errno, "poll");
		if (pf[0].revents & POLLIN)
			continue;
		if (pidfd >= 0 && (pf[1].revents & POLLIN) && !got && read(fd, &b, 1) == 1)
			got = true;
		if (got && pidfd >= 0 && (pf[1].revents & POLLIN))
			break; /* it ran and exited already */
		if (pidfd >= 0 && (pf[1].revents & POLLIN))
			return berth_err(err, BERTH_E_GENERIC,
			                 "the container init exited before start");
	}
	fifo_done(dir, fifo);
	if (rec.hooks && json_object_get(rec.hooks, "poststart")) {
		rt_hooks h;
		berth_error *e = NULL;
		if (rt_hooks_parse(rec.hooks, &h, &e) == 0) {
			json_t *st = rt_state_json(&rec, "running");
			char *txt = json_dump_compact(st);
			json_decref(st);
			if (rt_hooks_run(h.v[RT_HOOK_POSTSTART], h.n[RT_HOOK_POSTSTART],
			                 "poststart", txt, &e) < 0)
				log_warn("%s", e->msg);
			free(txt);
		}
		berth_error_free(e);
		rt_hooks_clear(&h);
	}
	return 0;
}

int rt_start(const rt_ctx *ctx, const char *id, berth_error **err)
{
	return start_impl(ctx, id, NULL, err);
}

int rt_start_nowait(const rt_ctx *ctx, const char *id, int *exec_fd, berth_error **err)
{
	return start_impl(ctx, id, exec_fd, err);
}
