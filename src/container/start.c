/* Starting a container.
 *
 * berth forks once; the child (still berth code) makes itself a
 * child subreaper in its own session and mount namespace, mounts the
 * overlay root there (so no mount is ever left in the host's namespace),
 * writes /etc/hostname, hosts and resolv.conf, builds the OCI config,
 * creates the container with the in-process runtime (the init is its
 * child; networks are attached by a thread while the init sets itself
 * up), starts it, and finally execs berth-monitor,
 * which inherits the init as its child together with the stdio fds. The
 * original berth process learns "ok PID" or "err CODE MESSAGE" over a
 * socket and never waits for the container. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/sock.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "container/jsonlog.h"
#include "container/proto.h"
#include "runtime/cgroup.h"

void ctr_rt_ctx(berth_store *s, rt_ctx *ctx)
{
	static __thread char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s/runtime", store_runroot(s));
	memset(ctx, 0, sizeof(*ctx));
	ctx->state_root = buf;
	ctx->log_fd = -1;
}

char *ctr_find_helper(const ctr_env *env, const char *which)
{
	const char *given = NULL;
	if (env && !strcmp(which, "berth-monitor"))
		given = env->monitor_exe;
	else if (env && !strcmp(which, "berth-init"))
		given = env->init_exe;
	if (given && *given)
		return xstrdup(given);
	const char *envvar =
	    !strcmp(which, "berth-monitor") ? getenv("BERTH_MONITOR") : getenv("BERTH_INIT");
	if (envvar && *envvar)
		return xstrdup(envvar);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = 0;
		const char *cands[] = {"", "/src/monitor", "/../libexec/berth"};
		for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
			char *p = xasprintf("%s%s/%s", exe, cands[i], which);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	const char *sys[] = {"/usr/libexec/berth", "/usr/local/libexec/berth"};
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++) {
		char *p = xasprintf("%s/%s", sys[i], which);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static char *self_exe(const ctr_env *env)
{
	if (env && env->berth_exe && env->berth_exe[0] == '/')
		return xstrdup(env->berth_exe);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup("berth");
	exe[n] = 0;
	return xstrdup(exe);
}

/* ---- /etc files ---- */

static char *resolv_conf_content(json_t *host)
{
	json_t *dns = json_object_get(host, "Dns");
	json_t *search = json_object_get(host, "DnsSearch");
	json_t *opts = json_object_get(host, "DnsOptions");
	strbuf sb;
	sb_init(&sb);
	_cleanup_free_ char *hostconf = NULL;
	size_t len = 0;
	if (read_file("/etc/resolv.conf", &hostconf, &len, NULL) < 0)
		hostconf = xstrdup("");
	bool host_net = str_eq(json_get_str(host, "NetworkMode"), "host");
	if (host_net && json_array_size(dns) == 0) {
		sb_append(&sb, hostconf);
		return sb_steal(&sb);
	}
	/* Docker: the host's file minus localhost nameservers; Google's DNS
	 * when none is left. */
	int kept = 0;
	_cleanup_strv_ char **lines = str_split(hostconf, '\n');
	for (size_t i = 0; lines && lines[i]; i++) {
		const char *l = lines[i];
		if (str_has_prefix(l, "nameserver")) {
			if (json_array_size(dns))
				continue;
			const char *a = l + 10;
			while (*a == ' ' || *a == '\t')
				a++;
			if (str_has_prefix(a, "127.") || !strcmp(a, "::1"))
				continue;
			kept++;
		} else if ((str_has_prefix(l, "search") && json_array_size(search)) ||
		           (str_has_prefix(l, "options") && json_array_size(opts))) {
			continue;
		}
		if (*l) {
			sb_append(&sb, l);
			sb_appendc(&sb, '\n');
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach (dns, i, v) {
		sb_printf(&sb, "nameserver %s\n", json_string_value(v));
		kept++;
	}
	if (kept == 0 && !str_eq(json_get_str(host, "NetworkMode"), "none"))
		sb_append(&sb, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	if (json_array_size(search)) {
		_cleanup_strv_ char **sv = json_get_strv(host, "DnsSearch");
		_cleanup_free_ char *j = strv_join(sv, " ");
		sb_printf(&sb, "search %s\n", j);
	}
	if (json_array_size(opts)) {
		_cleanup_strv_ char **ov = json_get_strv(host, "DnsOptions");
		_cleanup_free_ char *j = strv_join(ov, " ");
		sb_printf(&sb, "options %s\n", j);
	}
	if (sb.buf == NULL)
		return xstrdup("");
	return sb_steal(&sb);
}

/* Does the network module write hosts and resolv.conf at start (in place,
 * while the init sets up)? Everything but --network host|none. */
static bool network_writes_etc(json_t *host)
{
	const char *nm = json_get_str(host, "NetworkMode");
	return !str_eq(nm, "host") && !str_eq(nm, "none");
}

/* An existing file is left as it is (it is rewritten in place). */
static int touch_file(const char *path, berth_error **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating %s", path);
	close(fd);
	return 0;
}

int ctr_write_etc_files(berth_store *s, ctr_record *r, berth_error **err)
{
	json_t *cfg = json_object_get(r->config, "Config");
	json_t *host = json_object_get(r->config, "HostConfig");
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *p2 = xasprintf("%s/hosts", dir);
	_cleanup_free_ char *p3 = xasprintf("%s/resolv.conf", dir);
	const char *hostname = json_get_str(cfg, "Hostname");
	char hn[300];
	if (str_eq(json_get_str(host, "UTSMode"), "host") ||
	    str_eq(json_get_str(host, "NetworkMode"), "host"))
		gethostname(hn, sizeof(hn) - 1);
	else
		snprintf(hn, sizeof(hn), "%s", hostname ? hostname : "");
	_cleanup_free_ char *hn_text = xasprintf("%s\n", hn);
	_cleanup_free_ char *p1 = xasprintf("%s/hostname", dir);
	/* in place (write_file): the files are the sources of the container's
	 * bind mounts, and nobody reads them while they are written */
	if (write_file(p1, hn_text, strlen(hn_text), 0644, err) < 0)
		return -1;
	/* the network module writes these two (container_network_attach):
	 * only make sure they exist to be bind-mounted */
	if (network_writes_etc(host))
		return touch_file(p2, err) < 0 ? -1 : touch_file(p3, err);
	strbuf sb;
	sb_init(&sb);
	if (str_eq(json_get_str(host, "NetworkMode"), "host")) {
		_cleanup_free_ char *h = NULL;
		size_t len;
		if (read_file("/etc/hosts", &h, &len, NULL) == 0)
			sb_append(&sb, h);
	} else {
		sb_append(&sb, "127.0.0.1\tlocalhost\n"
		               "::1\tlocalhost ip6-localhost ip6-loopback\n"
		               "fe00::0\tip6-localnet\n"
		               "ff00::0\tip6-mcastprefix\n"
		               "ff02::1\tip6-allnodes\n"
		               "ff02::2\tip6-allrouters\n");
	}
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(host, "ExtraHosts"), i, v) {
		/* "name:ip" */
		const char *e = json_string_value(v);
		const char *colon = e ? strchr(e, ':') : NULL;
		if (colon)
			sb_printf(&sb, "%s\t%.*s\n", colon + 1, (int)(colon - e), e);
	}
	const char *ip = json_get_str(r->config, "IPAddress");
	if (ip && *ip)
		sb_printf(&sb, "%s\t%s\n", ip, hn);
	_cleanup_free_ char *hosts = sb_steal(&sb);
	if (write_file(p2, hosts, strlen(hosts), 0644, err) < 0)
		return -1;
	_cleanup_free_ char *rc = resolv_conf_content(host);
	return write_file(p3, rc, strlen(rc), 0644, err);
}

/* ---- the start child ---- */

static void report(int fd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(int fd, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	_cleanup_free_ char *line = xasprintf("err %d %s", code, msg);
	if (write_all(fd, line, strlen(line)) < 0)
		(void)0;
}

static int mount_rootfs(berth_store *s, ctr_record *r, const char *dir, berth_error **err)
{
	const char *lower = json_get_str(r->config, "LowerDir");
	_cleanup_free_ char *empty = NULL;
	if (lower == NULL || !*lower) {
		empty = xasprintf("%s/empty", dir);
		mkdir(empty, 0755);
		lower = empty;
	}
	json_t *idm = json_object_get(r->config, "IdMappings");
	if (idm)
		return ctr_userns_mount_rootfs(dir, lower, idm, err);
	_cleanup_free_ char *opts =
	    xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir);
	_cleanup_free_ char *merged = xasprintf("%s/merged", dir);
	if (strlen(opts) >= 4096)
		return berth_err(err, BERTH_E_UNSUPPORTED, "too many image layers for overlayfs");
	int mr = mount("overlay", merged, "overlay", 0, opts);
	if (mr < 0)
		return berth_err_sys(err, errno, "mounting the container's root filesystem");
	(void)s;
	return 0;
}

static int oom_file_for(const char *id, char **out)
{
	*out = NULL;
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	_cleanup_free_ char *path = ctr_cgroups_path(id);
	if (cgroup_open(path, id, &h, NULL) < 0)
		return -1;
	const char *mem = cgroup_controller_dir(h, "memory");
	if (mem) {
		*out = xasprintf("%s/%s", mem,
		                 cgroup_is_v2(h) ? "memory.events" : "memory.oom_control");
		return 0;
	}
	const char *v2 = cgroup_controller_dir(h, "");
	if (v2)
		*out = xasprintf("%s/memory.events", v2);
	return 0;
}

static int recv_fd(int sock)
{
	char b[64];
	int fd = -1;
	return recv_with_fd(sock, b, sizeof(b), &fd, NULL) < 0 ? -1 : fd;
}

/* The start child's work made ahead (rt_prep): child_fail undoes it. */
static rt_prep *start_prep;

/* A start begun before its record is committed (container_start_begin):
 * the read end of the client's word, 'g' once the record is committed.
 * The child sets the container up meanwhile and waits for the word before
 * anything that needs the record: the network attach (its database rows
 * refer to it) and the start of the process. */
static int start_gate = -1;
static int gate_said = -1; /* -1: not read yet, 0: no, 1: go */

/* A start process forked ahead that guessed its record (container_guess)
 * starts the container from the guess while the client opens the store and
 * makes the record. At the gate it takes the client's record (and the
 * status, attach and gate fds with it): the same record, and the start
 * goes on; another, or a failure before, and guess_fallback undoes the
 * guess and starts over from the client's record. */
static struct {
	bool on;
	int sock; /* the early socket the record comes on */
	bool resolved, match;
	int status_fd, attach_fd;
	ctr_start_opts opts; /* the client's */
	json_t *msg; /* the client's record message */
	berth_store *s;
	ctr_record *r; /* the guessed record */
} guess = {.sock = -1, .status_fd = -1, .attach_fd = -1};

static int early_recv(int sock, int fds[3], json_t **out);

/* The attach options of the client's record message j (early_hand). */
static ctr_start_opts early_opts(json_t *j)
{
	return (ctr_start_opts){.attach = json_get_bool(j, "attach", false),
	                        .attach_stdin = json_get_bool(j, "stdin", false),
	                        .attach_stdout = json_get_bool(j, "stdout", false),
	                        .attach_stderr = json_get_bool(j, "stderr", false),
	                        .cleanup_by_client = json_get_bool(j, "cleanup", false)};
}

/* Take the client's record: true when it is the guessed one. */
static bool guess_resolve(void)
{
	if (guess.resolved)
		return guess.match;
	int fds[3];
	json_t *j = NULL;
	if (early_recv(guess.sock, fds, &j) < 0)
		return false; /* the client ended: guess_fallback undoes */
	guess.resolved = true;
	guess.msg = j;
	guess.status_fd = fds[0];
	guess.attach_fd = fds[1];
	start_gate = fds[2];
	guess.opts = early_opts(j);
	guess.match = str_eq(json_get_str(j, "id"), guess.r->id) &&
	              str_eq(json_get_str(j, "image_id"), guess.r->image_id) &&
	              str_eq(json_get_str(j, "image"), guess.r->image) &&
	              json_equal(json_object_get(j, "config"), guess.r->config) &&
	              /* (the guess starts with no helper paths of a caller's) */
	              !json_get_str(j, "berth_exe") && !json_get_str(j, "monitor_exe") &&
	              !json_get_str(j, "init_exe");
	return guess.match;
}

static bool gate_go(void)
{
	if (guess.on && !guess_resolve())
		return false;
	if (gate_said >= 0 || start_gate < 0)
		return gate_said != 0;
	char b = 0;
	ssize_t n;
	do
		n = read(start_gate, &b, 1);
	while (n < 0 && errno == EINTR);
	close(start_gate);
	start_gate = -1;
	/* end-of-file: the client died, its record most likely not committed
	 * (or just so: the container is then left created, never started) */
	gate_said = n == 1 && b == 'g';
	return gate_said;
}

/* The network attach runs in a thread from the moment the init exists in
 * its new network namespace (rt_create's `created` callback) until
 * rt_create returns: the veth, leases and addresses (a few ms, mostly
 * waiting for the kernel's rtnl lock) overlap the init's own set-up. The
 * database connection (db, or one the job opens: the start child forked
 * from a process with one open must not use that) is the job's alone
 * meanwhile: rt_create does not touch it. */
struct net_job {
	berth_store *s; /* paths only */
	berth_store *db; /* a usable connection, or NULL */
	ctr_record *r;
	pid_t pid;
	pthread_t th;
	bool started;
	int rc;
	berth_error *err;
	/* process.json, written once the init exists (while it sets itself
	 * up): read only by exec and health checks of the running container */
	const char *ppath, *ptext;
	bool written;
	berth_error *write_err;
};

static void net_job_write(struct net_job *j)
{
	if (j->ppath && !j->written)
		write_file(j->ppath, j->ptext, strlen(j->ptext), 0644, &j->write_err);
	j->written = true;
}

static int net_job_attach(struct net_job *j, pid_t pid, berth_error **err)
{
	const char *nm = json_get_str(json_object_get(j->r->config, "HostConfig"), "NetworkMode");
	bool db = !str_eq(nm, "none") && !str_eq(nm, "host");
	if (db && !gate_go())
		return berth_err(err, BERTH_E_GENERIC, "container %s was not created", j->r->id);
	/* like the start child's own connection, this one ends with its exec */
	if (db && j->db == NULL &&
	    store_open(store_root(j->s), store_runroot(j->s), &j->db, err) < 0)
		return -1;
	return container_network_attach(db ? j->db : j->s, j->r->id, j->r->config, pid, err);
}

static void *net_job_main(void *arg)
{
	struct net_job *j = arg;
	j->rc = net_job_attach(j, j->pid, &j->err);
	return NULL;
}

static void net_job_start(pid_t init, void *arg)
{
	struct net_job *j = arg;
	net_job_write(j);
	if (j->write_err)
		return; /* net_job_finish reports it */
	j->pid = init;
	/* without a thread, the attach happens after rt_create */
	j->started = pthread_create(&j->th, NULL, net_job_main, j) == 0;
}

/* Wait for the thread; its result (or, when it never ran, the attach done
 * now). */
static int net_job_finish(struct net_job *j, pid_t pid, berth_error **err)
{
	/* (rt_create of a user namespace calls no created callback) */
	net_job_write(j);
	if (j->write_err) {
		if (err && *err == NULL)
			*err = steal_ptr(j->write_err);
		berth_error_free(steal_ptr(j->write_err));
		return -1;
	}
	if (!j->started)
		return net_job_attach(j, pid, err);
	pthread_join(j->th, NULL);
	j->started = false;
	if (j->rc < 0) {
		if (err && *err == NULL)
			*err = j->err;
		else
			berth_error_free(j->err);
		j->err = NULL;
		return -1;
	}
	return 0;
}

/* Create the container process (init waiting to be started). stdio: the
 * container's ends; with a tty, *master receives the pty master. */
static int create_process(berth_store *s, berth_store *db, const ctr_env *env, ctr_record *r,
                          const char *dir, const char *rundir, const int stdio[3], int *master,
                          pid_t *pid, char ***cgroup_dirs, rt_prep *prep, berth_error **err)
{
	_cleanup_free_ char *merged = xasprintf("%s/merged", dir);
	if (ctr_write_etc_files(s, r, err) < 0)
		return -1;
	json_t *idm = json_object_get(r->config, "IdMappings");
	if (idm && ctr_userns_own_etc_files(dir, idm, err) < 0)
		return -1;
	_cleanup_json_ json_t *spec = ctr_build_spec(s, env, r, merged, err);
	if (spec == NULL)
		return -1;
	/* exec and health checks start from this process template (written
	 * by net_job_start) */
	_cleanup_free_ char *ptext = json_dump_compact(json_object_get(spec, "process"));
	_cleanup_free_ char *ppath = xasprintf("%s/process.json", dir);
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	rt_create_opts o;
	rt_create_opts_init(&o);
	o.bundle = dir;
	o.config = spec;
	bool tty = json_get_bool(json_object_get(r->config, "Config"), "Tty", false);
	_cleanup_close_ int rundirfd = -1, lsock = -1;
	_cleanup_free_ char *cpath = NULL;
	if (tty) {
		rundirfd = open(rundir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cpath = xasprintf("/proc/self/fd/%d/console.sock", rundirfd);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cpath);
		unlinkat(rundirfd, "console.sock", 0);
		if (rundirfd < 0 || lsock < 0 ||
		    bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lsock, 1) < 0)
			return berth_err_sys(err, errno, "console socket");
		o.console_socket = cpath;
	} else {
		for (int i = 0; i < 3; i++)
			o.stdio_fds[i] = stdio[i];
	}
	struct net_job nj = {.s = s, .db = db, .r = r, .ppath = ppath, .ptext = ptext};
	o.created = net_job_start;
	o.created_arg = &nj;
	o.cgroup_dirs = cgroup_dirs;
	o.die_with_parent = true;
	o.prep = prep;
	_cleanup_free_ char *spare_rt = xasprintf("%s/%s", dir, CTR_SPARE_RTDIR);
	o.spare_state_dir = spare_rt;
	rt_delete(&ctx, r->id, true, NULL);
	if (rt_create(&ctx, r->id, &o, pid, err) < 0) {
		/* the init is gone: release what the thread attached */
		if (nj.started && net_job_finish(&nj, 0, NULL) == 0)
			container_network_detach(s, r->id, r->config, NULL);
		return -1;
	}
	if (tty) {
		_cleanup_close_ int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		*master = c >= 0 ? recv_fd(c) : -1;
		unlinkat(rundirfd, "console.sock", 0);
		if (*master < 0) {
			rt_delete(&ctx, r->id, true, NULL);
			if (nj.started && net_job_finish(&nj, 0, NULL) == 0)
				container_network_detach(s, r->id, r->config, NULL);
			return berth_err(err, BERTH_E_GENERIC, "receiving the container's pty");
		}
	}
	if (net_job_finish(&nj, *pid, err) < 0) {
		rt_delete(&ctx, r->id, true, NULL);
		return -1;
	}
	return 0;
}

static void health_reset(berth_store *s, ctr_record *r)
{
	json_t *hc = json_object_get(json_object_get(r->config, "Config"), "Healthcheck");
	json_t *test = json_object_get(hc, "Test");
	_cleanup_free_ char *p = xasprintf("%s/containers/%s/health.json", store_root(s), r->id);
	if (!json_is_array(test) || json_array_size(test) == 0 ||
	    str_eq(json_string_value(json_array_get(test, 0)), "NONE")) {
		unlink(p);
		return;
	}
	const char *txt = "{\"Status\":\"starting\",\"FailingStreak\":0,\"Log\":[]}";
	atomic_write(p, txt, strlen(txt), 0644, false, NULL);
}

static int64_t health_interval(ctr_record *r)
{
	json_t *hc = json_object_get(json_object_get(r->config, "Config"), "Healthcheck");
	json_t *test = json_object_get(hc, "Test");
	if (!json_is_array(test) || json_array_size(test) == 0 ||
	    str_eq(json_string_value(json_array_get(test, 0)), "NONE"))
		return 0;
	int64_t iv = json_get_int(hc, "Interval", 0);
	return iv > 0 ? iv : 30LL * 1000000000;
}

/* Report err to the parent and end the child. (A function, not a goto: a
 * jump past cleanup-attributed declarations is an error for clang.) */
static void __attribute__((noreturn)) guess_fallback(void);

static void __attribute__((noreturn)) child_fail(int status_fd, const berth_error *err)
{
	if (guess.on && !(guess.resolved && guess.match))
		guess_fallback();
	if (guess.on)
		status_fd = guess.status_fd;
	rt_prep_free(start_prep);
	report(status_fd, err ? err->code : BERTH_E_GENERIC, "%s", err ? err->msg : "failed");
	_exit(1);
}

/* The start process's first steps, before it knows the container. */
static void child_setup(void)
{
	setsid();
	prctl(PR_SET_NAME, "berth-start");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* early: forked ahead (container_fork_early), child_setup and the private
 * mount namespace are done */
static void child_start(berth_store *s, const ctr_env *env, ctr_record *r, const ctr_start_opts *o,
                        int status_fd, int client_fd, bool early)
{
	start_prep = o->prep;
	berth_error *err = NULL;
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *rundir = container_rundir(s, r->id);
	if (!early)
		child_setup();
	/* The parent's SQLite connection must not be used after fork: open our
	 * own when something here needs the database (container:); the
	 * network attach opens one of its own (net_job). */
	const char *nm = json_get_str(json_object_get(r->config, "HostConfig"), "NetworkMode");
	berth_store *own = NULL;
	if (nm && str_has_prefix(nm, "container:")) {
		if (store_open(store_root(s), store_runroot(s), &own, &err) < 0)
			child_fail(status_fd, err);
		s = own;
	}
	if (!early &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)) {
		report(status_fd, BERTH_E_IO, "private mount namespace: %s", strerror(errno));
		_exit(1);
	}
	json_t *idm = json_object_get(r->config, "IdMappings");
	/* the container's network namespace, made while we mount and write
	 * (a thread: after the unshare above, which needs a single one) */
	rt_prep_netns_begin(start_prep);
	if (idm && ctr_userns_prepare(s, r, idm, &err) < 0)
		child_fail(status_fd, err);
	if (mount_rootfs(s, r, dir, &err) < 0)
		child_fail(status_fd, err);
	_cleanup_free_ char *merged = xasprintf("%s/merged", dir);
	if (ctr_init_volumes(s, json_object_get(r->config, "Mounts"), merged, &err) < 0)
		child_fail(status_fd, err);
	json_t *cfg = json_object_get(r->config, "Config");
	bool tty = json_get_bool(cfg, "Tty", false);
	bool open_stdin = json_get_bool(cfg, "OpenStdin", false);
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	if (!tty) {
		if ((open_stdin && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
		    pipe2(errp, O_CLOEXEC) < 0) {
			berth_err_sys(&err, errno, "pipe");
			child_fail(status_fd, err);
		}
		if (!open_stdin)
			in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	int stdio[3] = {in[0], out[1], errp[1]};
	int master = -1;
	pid_t pid = 0;
	/* the log's attributes (log-opt labels/env): a bad env-regex fails here */
	_cleanup_free_ char *log_attrs = NULL;
	if (container_log_attrs(r->config, &log_attrs, &err) < 0)
		child_fail(status_fd, err);
	_cleanup_strv_ char **cgdirs = NULL;
	if (create_process(s, own, env, r, dir, rundir, stdio, &master, &pid, &cgdirs, start_prep,
	                   &err) < 0)
		child_fail(status_fd, err);
	rt_prep_free(steal_ptr(start_prep));
	if (!tty) {
		close(in[0]);
		close(out[1]);
		close(errp[1]);
	}
	health_reset(s, r);
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	/* a cgroup OOM kill needs a memory limit; skip the cgroup lookup
	 * (a second detection pass) when there is none */
	_cleanup_free_ char *oom = NULL;
	if (json_get_int(json_object_get(r->config, "HostConfig"), "Memory", 0) > 0)
		oom_file_for(r->id, &oom);
	/* the monitor holds the init's network namespace (with its veths)
	 * until its clients are gone: the kernel tears the veths down after
	 * an attached `run --rm` returned, not during its clean-up */
	int netns = -1;
	if (!str_eq(nm, "none") && !str_eq(nm, "host") &&
	    !str_has_prefix(nm ? nm : "", "container:")) {
		_cleanup_free_ char *np = xasprintf("/proc/%d/ns/net", (int)pid);
		netns = open(np, O_RDONLY | O_CLOEXEC);
	}
	/* and its mount namespace, when nothing of the host is mounted in it
	 * (no volume, no bind, no device of a user namespace): the kernel's
	 * teardown of the container's mounts, most of the work of its exit,
	 * then follows the return of an attached run instead of delaying the
	 * report of the exit */
	int mntns = -1;
	if (json_array_size(json_object_get(r->config, "Mounts")) == 0 && idm == NULL) {
		_cleanup_free_ char *mp = xasprintf("/proc/%d/ns/mnt", (int)pid);
		mntns = open(mp, O_RDONLY | O_CLOEXEC);
	}
	/* the monitor waits for the process to be executed (exec_fd at EOF)
	 * before it reports the start, while it sets itself up */
	int exec_fd = -1;
	if (!gate_go()) {
		rt_delete(&ctx, r->id, true, NULL);
		berth_err(&err, BERTH_E_GENERIC, "container %s was not created", r->id);
		child_fail(status_fd, err);
	}
	if (guess.on) {
		/* the guess was right: the client's fds and options from here */
		status_fd = guess.status_fd;
		client_fd = guess.attach_fd;
		guess.opts.prep = NULL;
		o = &guess.opts;
	}
	if (rt_start_nowait(&ctx, r->id, &exec_fd, &err) < 0) {
		rt_delete(&ctx, r->id, true, NULL);
		child_fail(status_fd, err);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);

	/* exec the monitor */
	_cleanup_free_ char *mon = ctr_find_helper(env, "berth-monitor");
	_cleanup_free_ char *exe = self_exe(env);
	if (mon == NULL) {
		kill(pid, SIGKILL);
		berth_err(&err, BERTH_E_NOTFOUND, "berth-monitor not found");
		child_fail(status_fd, err);
	}
	json_t *host = json_object_get(r->config, "HostConfig");
	json_t *rp = json_object_get(host, "RestartPolicy");
	const char *rpn = json_get_str(rp, "Name");
	_cleanup_free_ char *restart = NULL;
	if (str_eq(rpn, "on-failure"))
		restart = xasprintf("on-failure:%lld", json_get_int(rp, "MaximumRetryCount", 0));
	else
		restart = xstrdup(rpn && *rpn ? rpn : "no");
	json_t *lc = json_object_get(host, "LogConfig");
	json_t *lopts = json_object_get(lc, "Config");
	int64_t max_size = JSONLOG_DEFAULT_MAX_SIZE;
	long long max_file = JSONLOG_DEFAULT_MAX_FILE;
	const char *ms = json_get_str(lopts, "max-size");
	if (ms && parse_size(ms, &max_size, NULL) < 0)
		max_size = JSONLOG_DEFAULT_MAX_SIZE;
	const char *mf = json_get_str(lopts, "max-file");
	if (mf)
		max_file = strtoll(mf, NULL, 10);
	bool nolog = str_eq(json_get_str(lc, "Type"), "none");

	char **argv = NULL;
#define ARG(...) argv = strv_append(argv, __VA_ARGS__)
#define ARGF(...)                                  \
	do {                                       \
		char *_a = xasprintf(__VA_ARGS__); \
		argv = strv_append(argv, _a);      \
		free(_a);                          \
	} while (0)
	ARG("berth-monitor");
	ARG("--id");
	ARG(r->id);
	ARG("--dir");
	ARG(dir);
	ARG("--rundir");
	ARG(rundir);
	ARGF("--pid=%d", (int)pid);
	ARGF("--status-fd=%d", status_fd);
	ARG("--berth");
	ARG(exe);
	ARG("--root");
	ARG(store_root(s));
	ARG("--runroot");
	ARG(store_runroot(s));
	ARG("--restart");
	ARG(restart);
	ARGF("--started=%lld", (long long)ts.tv_sec * 1000000000 + ts.tv_nsec);
	ARGF("--restart-count=%d", r->st.restart_count);
	ARGF("--log-max-size=%lld", (long long)max_size);
	ARGF("--log-max-file=%lld", max_file);
	if (nolog)
		ARG("--no-log");
	if (log_attrs && !nolog)
		ARGF("--log-attrs=%s", log_attrs);
	if (json_get_bool(host, "AutoRemove", false))
		ARG("--rm");
	if (oom)
		ARGF("--oom-file=%s", oom);
	if (netns >= 0)
		ARGF("--netns-fd=%d", netns);
	if (mntns >= 0)
		ARGF("--mntns-fd=%d", mntns);
	if (exec_fd >= 0)
		ARGF("--exec-fd=%d", exec_fd);
	/* once the container is gone for good, the monitor removes its cgroup
	 * and runtime state itself, before it reports the exit (rt_delete
	 * then finds nothing to do; berth's specs have no OCI hooks) */
	for (char **d = cgdirs; d && *d; d++)
		ARGF("--cgroup-dir=%s", *d);
	if (cgdirs)
		ARGF("--runtime-dir=%s/%s", ctx.state_root, r->id);
	int64_t hi = health_interval(r);
	if (hi > 0)
		ARGF("--health-interval=%lld", (long long)hi);
	int tty_in = -1;
	if (tty) {
		ARG("--tty");
		ARGF("--stdout-fd=%d", master);
		if (open_stdin) {
			tty_in = dup(master);
			ARGF("--stdin-fd=%d", tty_in);
		}
	} else {
		if (open_stdin)
			ARGF("--stdin-fd=%d", in[1]);
		ARGF("--stdout-fd=%d", out[0]);
		ARGF("--stderr-fd=%d", errp[0]);
	}
	if (client_fd >= 0) {
		ARGF("--client-fd=%d", client_fd);
		strbuf fl;
		sb_init(&fl);
		sb_append(&fl, "x");
		if (o->attach_stdin)
			sb_append(&fl, ",stdin");
		if (o->attach_stdout)
			sb_append(&fl, ",stdout");
		if (o->attach_stderr)
			sb_append(&fl, ",stderr");
		if (o->cleanup_by_client)
			sb_append(&fl, ",cleanup");
		ARG("--client-flags");
		ARG(fl.buf);
		sb_free(&fl);
	}
#undef ARG
#undef ARGF
	int keep[] = {status_fd, client_fd, master,  in[1], out[0],
	              errp[0],   tty_in,    exec_fd, netns, mntns};
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (keep[i] >= 0)
			fcntl(keep[i], F_SETFD, 0);
	/* the monitor's own messages go to monitor.log in the container dir,
	 * which it creates with the first one */
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	execv(mon, argv);
	report(status_fd, BERTH_E_IO, "executing %s: %s", mon, strerror(errno));
	kill(pid, SIGKILL);
	_exit(1);
}

/* A start between its fork and the start process's report. */
struct ctr_start_pending {
	int status; /* our end of the status socket */
	int attach; /* our end of the attach socketpair, or -1 */
	int gate; /* the write end of the child's gate, or -1 */
};

static void pending_free(ctr_start_pending *p)
{
	if (p == NULL)
		return;
	if (p->status >= 0)
		close(p->status);
	if (p->attach >= 0)
		close(p->attach);
	if (p->gate >= 0)
		close(p->gate);
	free(p);
}

/* The container's run directory (its attach socket): a spare container
 * directory brings one (berth-monitor's recycle), else it is made. */
static int make_rundir(berth_store *s, const char *id, berth_error **err)
{
	_cleanup_free_ char *rundir = container_rundir(s, id);
	_cleanup_free_ char *kept =
	    xasprintf("%s/containers/%s/%s", store_root(s), id, CTR_SPARE_RUNDIR);
	if (rename(kept, rundir) < 0 && mkdir_p(rundir, 0700, err) < 0)
		return -1;
	return 0;
}

/* A start process forked ahead (container_fork_early). */
struct ctr_early {
	pid_t pid;
	int sock; /* ours: the record goes over it, or end-of-file */
	bool handed;
	bool word_read; /* its first word: the image it guessed, or "-" */
	char guessed[DIGEST_STR_LEN + 1];
};

/* What goes to it: this header with the fds (status, then attach and gate
 * when the flags say so), then len bytes of JSON. */
struct early_hdr {
	uint32_t len;
	uint8_t attach, gate;
};

static int early_hand(ctr_early *e, const ctr_env *env, const ctr_record *r,
                      const ctr_start_opts *o, int status_fd, int attach_fd, int gate_fd)
{
	if (e->handed)
		return -1;
	_cleanup_json_ json_t *j = json_pack(
	    "{s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:O, s:b, s:b, s:b, s:b, s:b, s:s?, s:s?, s:s?}",
	    "id", r->id, "name", r->name, "image", r->image, "image_id", r->image_id, "command",
	    r->command, "created", (json_int_t)r->created_ns, "config", r->config, "attach",
	    o->attach, "stdin", o->attach_stdin, "stdout", o->attach_stdout, "stderr",
	    o->attach_stderr, "cleanup", o->cleanup_by_client, "berth_exe",
	    env ? env->berth_exe : NULL, "monitor_exe", env ? env->monitor_exe : NULL, "init_exe",
	    env ? env->init_exe : NULL);
	_cleanup_free_ char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (body == NULL)
		return -1;
	struct early_hdr h = {
	    .len = (uint32_t)strlen(body), .attach = attach_fd >= 0, .gate = gate_fd >= 0};
	int fds[3], n = 0;
	fds[n++] = status_fd;
	if (attach_fd >= 0)
		fds[n++] = attach_fd;
	if (gate_fd >= 0)
		fds[n++] = gate_fd;
	/* one buffer, sent without SIGPIPE: the header, then the JSON */
	_cleanup_free_ char *msg = xmalloc(sizeof(h) + h.len);
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), body, h.len);
	if (send_with_fds(e->sock, msg, sizeof(h) + h.len, fds, (size_t)n) < 0) {
		/* it is gone (killed), or gets a short record and ends: fork
		 * instead (a directory it made for its guess may be gone too,
		 * and the start then fails) */
		close(e->sock);
		e->sock = -1;
		return -1;
	}
	e->handed = true;
	return 0;
}

/* The early start process waiting for its record: 0 with it, -1 when the
 * client ended instead (or sent something short). */
static int early_recv(int sock, int fds[3], json_t **out)
{
	*out = NULL;
	fds[0] = fds[1] = fds[2] = -1;
	struct early_hdr h = {0};
	int got[3] = {-1, -1, -1};
	size_t ngot = 0;
	ssize_t n = recv_with_fds(sock, &h, sizeof(h), got, 3, &ngot, NULL);
	bool ok = n == (ssize_t)sizeof(h) && ngot == 1u + h.attach + h.gate && h.len < (64u << 20);
	_cleanup_free_ char *body = ok ? xmalloc((size_t)h.len + 1) : NULL;
	for (size_t got_len = 0; ok && got_len < h.len;) {
		ssize_t r = read(sock, body + got_len, h.len - got_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			ok = false;
		else
			got_len += (size_t)r;
	}
	json_t *j = ok ? json_loadb(body, h.len, 0, NULL) : NULL;
	if (j == NULL) {
		for (size_t i = 0; i < ngot; i++)
			close(got[i]);
		return -1;
	}
	int i = 0;
	fds[0] = got[i++];
	if (h.attach)
		fds[1] = got[i++];
	if (h.gate)
		fds[2] = got[i++];
	*out = j;
	return 0;
}

static char *early_str(json_t *j, const char *key)
{
	const char *v = json_get_str(j, key);
	return v ? xstrdup(v) : NULL;
}

/* Start the container of the client's record message j (early_recv), in a
 * start process forked ahead. */
static void __attribute__((noreturn))
early_start(berth_store *s, json_t *j, rt_prep *prep, int status_fd, int attach_fd)
{
	ctr_record r = {0};
	snprintf(r.id, sizeof(r.id), "%s", json_get_str(j, "id"));
	r.name = early_str(j, "name");
	r.image = early_str(j, "image");
	r.image_id = early_str(j, "image_id");
	r.command = early_str(j, "command");
	r.created_ns = json_get_int(j, "created", 0);
	r.config = json_incref(json_object_get(j, "config"));
	container_load_state(s, &r);
	ctr_env env = {.berth_exe = json_get_str(j, "berth_exe"),
	               .monitor_exe = json_get_str(j, "monitor_exe"),
	               .init_exe = json_get_str(j, "init_exe")};
	ctr_start_opts o = early_opts(j);
	o.prep = prep;
	child_start(s, &env, &r, &o, status_fd, attach_fd, true);
	_exit(1);
}

/* The guess was wrong (another image, a record with volumes...) or failed
 * (the guessed image's layers are gone): undo what it made and start over
 * from the client's record in a fresh child; or, when the client ended
 * before it sent one, remove everything. */
static void __attribute__((noreturn)) guess_fallback(void)
{
	guess.on = false;
	rt_prep_free(steal_ptr(start_prep));
	rt_ctx ctx;
	ctr_rt_ctx(guess.s, &ctx);
	rt_kill(&ctx, guess.r->id, SIGKILL, true, NULL);
	rt_delete(&ctx, guess.r->id, true, NULL);
	_cleanup_free_ char *dir = container_dir(guess.s, guess.r->id);
	_cleanup_free_ char *merged = xasprintf("%s/merged", dir);
	umount2(merged, MNT_DETACH);
	if (!guess.resolved) {
		int fds[3];
		if (early_recv(guess.sock, fds, &guess.msg) < 0) {
			_cleanup_free_ char *rundir = container_rundir(guess.s, guess.r->id);
			rm_rf(rundir, NULL);
			rm_rf(dir, NULL);
			_exit(0);
		}
		guess.resolved = true;
		guess.status_fd = fds[0];
		guess.attach_fd = fds[1];
		start_gate = fds[2];
	}
	close(guess.sock);
	pid_t p = fork();
	if (p == 0)
		early_start(guess.s, guess.msg, NULL, guess.status_fd, guess.attach_fd);
	if (p < 0)
		report(guess.status_fd, BERTH_E_IO, "fork: %s", strerror(errno));
	_exit(p < 0);
}

/* The early start process: set up what needs no record; guess the record
 * and start from the guess (container_guess, `guess` above), or wait for
 * the record. End-of-file instead: the client failed or was killed, undo
 * and end. Its first word to the client: the image it guessed, or "-". */
static void __attribute__((noreturn)) early_main(int sock, const char *root, const char *runroot,
                                                 json_t *body, const char *id, bool netns)
{
	child_setup();
	int ns_err = 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		ns_err = errno;
	/* the runtime's costly parts, while the client opens the store
	 * (threads: after the unshare, which needs a single one) */
	_cleanup_free_ char *cg = ctr_cgroups_path(id);
	rt_prep *prep = rt_prep_begin(cg, id, netns);
	if (ns_err == 0)
		rt_prep_netns_begin(prep);
	berth_store *s = NULL;
	berth_error *err = NULL;
	if (store_open_lazy(root, runroot, &s, &err) < 0)
		berth_error_free(steal_ptr(err));
	/* the guess: the container's directory and run directory made */
	json_t *pre = NULL;
	char image_id[DIGEST_STR_LEN + 1] = "";
	bool guessed = ns_err == 0 && s && container_guess(s, body, id, &pre, image_id) == 0;
	_cleanup_free_ char *rundir = s ? container_rundir(s, id) : NULL;
	if (guessed) {
		if (make_rundir(s, id, &err) < 0) {
			berth_error_free(steal_ptr(err));
			_cleanup_free_ char *dir = container_dir(s, id);
			rm_rf(dir, NULL);
			guessed = false;
		}
	}
	char word[DIGEST_STR_LEN + 2];
	snprintf(word, sizeof(word), "%s\n", guessed ? image_id : "-");
	/* (no SIGPIPE: a client already gone is seen by the receive below) */
	if (send(sock, word, strlen(word), MSG_NOSIGNAL) != (ssize_t)strlen(word) && guessed) {
		_cleanup_free_ char *dir = container_dir(s, id);
		rm_rf(rundir, NULL);
		rm_rf(dir, NULL);
		guessed = false;
	}
	if (guessed) {
		ctr_record r = {.image = xstrdup(json_get_str(body, "Image")),
		                .image_id = xstrdup(image_id),
		                .config = pre};
		memcpy(r.id, id, sizeof(r.id));
		container_load_state(s, &r);
		static const ctr_env none;
		ctr_start_opts o = {.prep = prep};
		guess.on = true;
		guess.sock = sock;
		guess.s = s;
		guess.r = &r;
		child_start(s, &none, &r, &o, -1, -1, true);
		_exit(1);
	}
	int fds[3];
	json_t *j = NULL;
	if (early_recv(sock, fds, &j) < 0) {
		rt_prep_free(prep);
		_exit(0);
	}
	close(sock);
	if (ns_err) {
		rt_prep_free(prep);
		report(fds[0], BERTH_E_IO, "private mount namespace: %s", strerror(ns_err));
		_exit(1);
	}
	/* a root made since (the first command on it) */
	if (s == NULL && store_open_lazy(root, runroot, &s, &err) < 0) {
		rt_prep_free(prep);
		report(fds[0], err->code, "%s", err->msg);
		_exit(1);
	}
	start_gate = fds[2];
	early_start(s, j, prep, fds[0], fds[1]);
}

const char *container_early_guessed(ctr_early *e)
{
	if (!e->word_read) {
		e->word_read = true;
		char buf[DIGEST_STR_LEN + 2];
		size_t n = 0;
		/* one line: the guessed image ID, or "-" */
		while (n < sizeof(buf)) {
			ssize_t r = read(e->sock, buf + n, 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0 || buf[n] == '\n')
				break;
			n++;
		}
		if (n == DIGEST_STR_LEN && n < sizeof(buf)) {
			memcpy(e->guessed, buf, n);
			e->guessed[n] = 0;
		}
	}
	return e->guessed[0] ? e->guessed : NULL;
}

ctr_early *container_fork_early(const char *root, const char *runroot, json_t *body,
                                char id[CTR_ID_LEN + 1])
{
	ctr_random_id(id);
	const char *nm = json_get_str(json_object_get(body, "HostConfig"), "NetworkMode");
	bool netns = !str_eq(nm, "host") && !str_has_prefix(nm ? nm : "", "container:");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	pid_t p = fork();
	if (p < 0) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (p == 0) {
		close(sv[0]);
		early_main(sv[1], root, runroot, body, id, netns);
	}
	close(sv[1]);
	ctr_early *e = xcalloc(1, sizeof(*e));
	e->pid = p;
	e->sock = sv[0];
	return e;
}

void container_early_free(ctr_early *e)
{
	if (e == NULL)
		return;
	if (e->sock >= 0)
		close(e->sock);
	/* not handed: it undoes its work made ahead as it sees end-of-file;
	 * wait for that, so nothing of it outlives the command */
	if (!e->handed)
		while (waitpid(e->pid, NULL, 0) < 0 && errno == EINTR)
			;
	free(e);
}

/* Checks, then the fork of the start process. gated: it waits for a word
 * on a gate before it needs the record (container_start_begin). */
static int start_fork(berth_store *s, const ctr_env *env, ctr_record *r, const ctr_start_opts *o,
                      bool gated, ctr_start_pending **out, bool *forked, berth_error **err)
{
	*out = NULL;
	const char *status = container_status(r);
	if (!strcmp(status, "running") || !strcmp(status, "paused") ||
	    !strcmp(status, "restarting"))
		return berth_err(err, BERTH_E_CONFLICT, "container %s is already running", r->id);
	{
		/* The last run's monitor records the exit and answers `wait` before
		 * its __cleanup helper deletes the runtime state and detaches the
		 * network: a start before it is gone would have the new container
		 * torn down by it. */
		_cleanup_free_ char *lock = xasprintf("containers/%s/%s", r->id, CTR_MONITOR_LOCK);
		if (!ctr_lock_wait_free_at(store_rootfd(s), lock, 10000))
			return berth_err(err, BERTH_E_CONFLICT,
			                 "container %s is still stopping (its monitor is "
			                 "cleaning up)",
			                 r->id);
	}
	if (r->config == NULL) {
		ctr_record *full = NULL;
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		r->config = steal_ptr(full->config);
		ctr_record_free(full);
	}
	if (!strcmp(status, "dead") && r->st.pid > 0) {
		/* an orphaned init from a dead monitor: make sure it is gone */
		rt_ctx ctx;
		ctr_rt_ctx(s, &ctx);
		rt_kill(&ctx, r->id, SIGKILL, true, NULL);
		rt_delete(&ctx, r->id, true, NULL);
	}
	/* (a start process forked ahead that guessed the record made it) */
	bool made = o && o->early && container_early_guessed(o->early);
	if (!made && make_rundir(s, r->id, err) < 0)
		return -1;
	int sp[2], cp[2] = {-1, -1}, gp[2] = {-1, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return berth_err_sys(err, errno, "socketpair");
	if ((o && o->attach && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp) < 0) ||
	    (gated && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gp) < 0)) {
		int e = errno;
		int fds[] = {sp[0], sp[1], cp[0], cp[1]};
		for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return berth_err_sys(err, e, "socketpair");
	}
	pid_t p;
	if (o && o->early && early_hand(o->early, env, r, o, sp[1], cp[1], gp[0]) == 0) {
		p = o->early->pid; /* as after the fork, in the parent */
	} else {
		/* the child must find the work made ahead done (it has no thread) */
		if (o)
			rt_prep_wait(o->prep);
		p = fork();
	}
	if (p < 0) {
		int e = errno;
		int fds[] = {sp[0], sp[1], cp[0], cp[1], gp[0], gp[1]};
		for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return berth_err_sys(err, e, "fork");
	}
	*forked = true;
	if (p == 0) {
		close(sp[0]);
		if (cp[0] >= 0)
			close(cp[0]);
		if (gp[1] >= 0)
			close(gp[1]);
		start_gate = gp[0];
		/* One fork, not two: the child becomes the monitor, which outlives
		 * us (reparented to init or the nearest subreaper when we exit);
		 * until then it is our child, and reaped when we are gone. */
		static const ctr_start_opts none = {0};
		child_start(s, env, r, o ? o : &none, sp[1], cp[1], false);
		_exit(1);
	}
	close(sp[1]);
	if (cp[1] >= 0)
		close(cp[1]);
	if (gp[0] >= 0)
		close(gp[0]);
	ctr_start_pending *pend = xcalloc(1, sizeof(*pend));
	pend->status = sp[0];
	pend->attach = cp[0];
	pend->gate = gp[1];
	*out = pend;
	return 0;
}

/* The start process's report: "ok PID" or "err CODE MESSAGE". */
static int start_wait(berth_store *s, ctr_record *r, const ctr_start_opts *o, ctr_start_pending *p,
                      int *attach_fd, berth_error **err)
{
	char buf[4096];
	read_upto(p->status, buf, sizeof(buf));
	int pid = 0, code = 0;
	if (sscanf(buf, "ok %d", &pid) == 1 && pid > 0) {
		if (!(o && o->db_state_set))
			container_set_db_state(s, r->id, "running", NULL);
		container_load_state(s, r);
		if (attach_fd) {
			*attach_fd = p->attach;
			p->attach = -1;
		}
		return 0;
	}
	int off = 0;
	if (sscanf(buf, "err %d %n", &code, &off) >= 1 && off > 0)
		return berth_err(err, code, "%s", buf + off);
	return berth_err(err, BERTH_E_GENERIC, "starting container %s: the start process died",
	                 r->id);
}

/* the start process took the work made ahead over (and undid it if it
 * failed); not forked: undo it here */
static void prep_handed(const ctr_start_opts *o, bool forked)
{
	if (o && o->prep) {
		if (forked)
			rt_prep_disown(o->prep);
		else
			rt_prep_free(o->prep);
	}
}

int container_start(berth_store *s, const ctr_env *env, ctr_record *r, const ctr_start_opts *o,
                    int *attach_fd, berth_error **err)
{
	if (attach_fd)
		*attach_fd = -1;
	bool forked = false;
	ctr_start_pending *p = NULL;
	int rc = start_fork(s, env, r, o, false, &p, &forked, err);
	prep_handed(o, forked);
	if (rc == 0)
		rc = start_wait(s, r, o, p, attach_fd, err);
	pending_free(p);
	return rc;
}

int container_start_begin(berth_store *s, const ctr_env *env, ctr_record *r,
                          const ctr_start_opts *o, ctr_start_pending **out, berth_error **err)
{
	bool forked = false;
	int rc = start_fork(s, env, r, o, true, out, &forked, err);
	prep_handed(o, forked);
	return rc;
}

int container_start_finish(berth_store *s, ctr_record *r, const ctr_start_opts *o,
                           ctr_start_pending *p, bool go, int *attach_fd, berth_error **err)
{
	if (attach_fd)
		*attach_fd = -1;
	if (p == NULL)
		return berth_err(err, BERTH_E_GENERIC, "container %s: no start begun", r->id);
	/* a failed send is the child's end-of-file: it stops as for "no" (a
	 * socket, not a pipe: a child already gone is no SIGPIPE for us) */
	if (send(p->gate, go ? "g" : "n", 1, MSG_NOSIGNAL) < 0)
		(void)0;
	close(p->gate);
	p->gate = -1;
	int rc;
	if (go)
		rc = start_wait(s, r, o, p, attach_fd, err);
	else {
		/* it undoes its work and reports: wait for that */
		char buf[4096];
		read_upto(p->status, buf, sizeof(buf));
		rc = 0;
	}
	pending_free(p);
	return rc;
}

int container_restart_for_monitor(berth_store *s, const ctr_env *env, ctr_record *r,
                                  berth_error **err)
{
	/* run by the monitor, in its mount namespace (the overlay is still
	 * mounted there); fds 0-2 are the new stdio, fd 3 the answer */
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *rundir = container_rundir(s, r->id);
	int stdio[3] = {0, 1, 2};
	int master = -1;
	pid_t pid = 0;
	if (create_process(s, s, env, r, dir, rundir, stdio, &master, &pid, NULL, NULL, err) < 0)
		return -1;
	health_reset(s, r);
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	if (rt_start(&ctx, r->id, err) < 0) {
		rt_delete(&ctx, r->id, true, NULL);
		return -1;
	}
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "ok %d\n", (int)pid);
	/* with a terminal the new pty master goes along (fd 3 is a socket) */
	if (send_with_fd(3, msg, (size_t)n, master) < 0 &&
	    (master >= 0 || write_all(3, msg, (size_t)n) < 0))
		return berth_err_sys(err, errno, "answering the monitor");
	if (master >= 0)
		close(master);
	return 0;
}
