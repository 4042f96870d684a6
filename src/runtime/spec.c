/* runtime-spec config.json -> rt_spec, checking every field up front so
 * that the child only executes a prepared plan. Fields this host cannot
 * honour are refused here with an error naming the field. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "base/fnv.h"
#include "runtime/internal.h"
#if __has_include("runtime/seccomp.h")
#include "runtime/seccomp.h"
#define HAVE_RT_SECCOMP 1
#endif

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif

static const struct {
	const char *name;
	enum rt_ns_kind kind;
} ns_names[] = {
    /* sorted */
    {"cgroup", RT_NS_CGROUP}, {"ipc", RT_NS_IPC},   {"mount", RT_NS_MOUNT}, {"network", RT_NS_NET},
    {"pid", RT_NS_PID},       {"time", RT_NS_TIME}, {"user", RT_NS_USER},   {"uts", RT_NS_UTS},
};

enum mopt_kind { MO_SET, MO_CLEAR, MO_PROP, MO_ATTR_SET, MO_ATTR_CLR, MO_BIND, MO_REJECT };

struct mount_opt {
	const char *name;
	enum mopt_kind kind;
	unsigned long flag;
};

/* Sorted by name (strcmp). */
static const struct mount_opt mount_opts[] = {
    {"async", MO_CLEAR, MS_SYNCHRONOUS},
    {"atime", MO_CLEAR, MS_NOATIME},
    {"bind", MO_BIND, 0},
    {"defaults", MO_SET, 0},
    {"dev", MO_CLEAR, MS_NODEV},
    {"diratime", MO_CLEAR, MS_NODIRATIME},
    {"dirsync", MO_SET, MS_DIRSYNC},
    {"exec", MO_CLEAR, MS_NOEXEC},
    {"idmap", MO_REJECT, 0},
    {"iversion", MO_SET, MS_I_VERSION},
    {"lazytime", MO_SET, MS_LAZYTIME},
    {"loud", MO_CLEAR, MS_SILENT},
    {"mand", MO_SET, MS_MANDLOCK},
    {"noatime", MO_SET, MS_NOATIME},
    {"nodev", MO_SET, MS_NODEV},
    {"nodiratime", MO_SET, MS_NODIRATIME},
    {"noexec", MO_SET, MS_NOEXEC},
    {"noiversion", MO_CLEAR, MS_I_VERSION},
    {"nolazytime", MO_CLEAR, MS_LAZYTIME},
    {"nomand", MO_CLEAR, MS_MANDLOCK},
    {"norelatime", MO_CLEAR, MS_RELATIME},
    {"nostrictatime", MO_CLEAR, MS_STRICTATIME},
    {"nosuid", MO_SET, MS_NOSUID},
    {"nosymfollow", MO_SET, MS_NOSYMFOLLOW},
    {"private", MO_PROP, MS_PRIVATE},
    {"rbind", MO_BIND, MS_REC},
    {"rdev", MO_ATTR_CLR, MOUNT_ATTR_NODEV},
    {"rexec", MO_ATTR_CLR, MOUNT_ATTR_NOEXEC},
    {"ridmap", MO_REJECT, 0},
    {"relatime", MO_SET, MS_RELATIME},
    {"remount", MO_SET, MS_REMOUNT},
    {"rnodev", MO_ATTR_SET, MOUNT_ATTR_NODEV},
    {"rnoexec", MO_ATTR_SET, MOUNT_ATTR_NOEXEC},
    {"rnosuid", MO_ATTR_SET, MOUNT_ATTR_NOSUID},
    {"rnosymfollow", MO_ATTR_SET, MOUNT_ATTR_NOSYMFOLLOW},
    {"ro", MO_SET, MS_RDONLY},
    {"rprivate", MO_PROP, MS_PRIVATE | MS_REC},
    {"rro", MO_ATTR_SET, MOUNT_ATTR_RDONLY},
    {"rrw", MO_ATTR_CLR, MOUNT_ATTR_RDONLY},
    {"rshared", MO_PROP, MS_SHARED | MS_REC},
    {"rslave", MO_PROP, MS_SLAVE | MS_REC},
    {"rsuid", MO_ATTR_CLR, MOUNT_ATTR_NOSUID},
    {"rsymfollow", MO_ATTR_CLR, MOUNT_ATTR_NOSYMFOLLOW},
    {"runbindable", MO_PROP, MS_UNBINDABLE | MS_REC},
    {"rw", MO_CLEAR, MS_RDONLY},
    {"shared", MO_PROP, MS_SHARED},
    {"silent", MO_SET, MS_SILENT},
    {"slave", MO_PROP, MS_SLAVE},
    {"strictatime", MO_SET, MS_STRICTATIME},
    {"suid", MO_CLEAR, MS_NOSUID},
    {"symfollow", MO_CLEAR, MS_NOSYMFOLLOW},
    {"sync", MO_SET, MS_SYNCHRONOUS},
    {"unbindable", MO_PROP, MS_UNBINDABLE},
};

static int cmp_mount_opt(const void *k, const void *e)
{
	return strcmp(k, ((const struct mount_opt *)e)->name);
}

static const struct mount_opt *find_mount_opt(const char *name)
{
	return bsearch(name, mount_opts, ARRAY_SIZE(mount_opts), sizeof(mount_opts[0]),
	               cmp_mount_opt);
}

static int ns_kind(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_names); i++)
		if (!strcmp(ns_names[i].name, name))
			return (int)ns_names[i].kind;
	return -1;
}

static char *abs_in_bundle(const char *bundle, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s/%s", bundle, p);
}

static int want_obj(json_t *v, const char *field, berth_error **err)
{
	if (v && !json_is_object(v))
		return berth_err(err, BERTH_E_INVALID, "%s: expected an object", field);
	return 0;
}

static int want_arr(json_t *v, const char *field, berth_error **err)
{
	if (v && !json_is_array(v))
		return berth_err(err, BERTH_E_INVALID, "%s: expected an array", field);
	return 0;
}

static int get_u32(json_t *o, const char *key, const char *field, bool required, uint32_t *out,
                   berth_error **err)
{
	json_t *v = json_object_get(o, key);
	if (v == NULL) {
		if (required)
			return berth_err(err, BERTH_E_INVALID, "%s.%s: missing", field, key);
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return berth_err(err, BERTH_E_INVALID, "%s.%s: expected a 32-bit unsigned integer",
		                 field, key);
	*out = (uint32_t)json_integer_value(v);
	return 1;
}

static int get_strv(json_t *o, const char *key, const char *field, char ***out, berth_error **err)
{
	json_t *a = json_object_get(o, key);
	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return berth_err(err, BERTH_E_INVALID, "%s.%s: expected an array of strings", field,
		                 key);
	size_t i;
	json_t *s;
	json_array_foreach (a, i, s) {
		if (!json_is_string(s))
			return berth_err(err, BERTH_E_INVALID, "%s.%s[%zu]: expected a string",
			                 field, key, i);
	}
	*out = json_get_strv(o, key);
	return 0;
}

static int parse_caps(json_t *c, bool host, uint64_t out[5], berth_error **err)
{
	static const char *const sets[5] = {"effective", "bounding", "inheritable", "permitted",
	                                    "ambient"};
	int last = rt_cap_last();
	for (int i = 0; i < 5; i++) {
		out[i] = 0;
		json_t *a = json_object_get(c, sets[i]);
		if (a == NULL)
			continue;
		if (!json_is_array(a))
			return berth_err(err, BERTH_E_INVALID,
			                 "process.capabilities.%s: expected an array", sets[i]);
		size_t k;
		json_t *s;
		json_array_foreach (a, k, s) {
			const char *name = json_string_value(s);
			int cap = name ? rt_cap_from_name(name) : -1;
			if (cap < 0)
				return berth_err(err, BERTH_E_INVALID,
				                 "process.capabilities.%s: unknown capability %s",
				                 sets[i], name ? name : "(not a string)");
			if (cap > last && host)
				return berth_err(err, BERTH_E_UNSUPPORTED,
				                 "process.capabilities.%s: %s is not supported by "
				                 "this kernel",
				                 sets[i], name);
			out[i] |= 1ULL << cap;
		}
	}
	return 0;
}

static int parse_rlimits(json_t *a, rt_process *p, berth_error **err)
{
	if (want_arr(a, "process.rlimits", err) < 0)
		return -1;
	size_t n = json_array_size(a);
	p->rlimits = xcalloc(n + 1, sizeof(rt_rlimit));
	size_t i;
	json_t *r;
	json_array_foreach (a, i, r) {
		const char *type = json_get_str(r, "type");
		int res = type ? rt_rlimit_from_name(type) : -1;
		if (res < 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "process.rlimits[%zu]: unknown type %s", i,
			                 type ? type : "(missing)");
		for (size_t k = 0; k < p->nrlimits; k++)
			if (p->rlimits[k].resource == res)
				return berth_err(err, BERTH_E_INVALID,
				                 "process.rlimits: %s given twice", type);
		json_t *soft = json_object_get(r, "soft"), *hard = json_object_get(r, "hard");
		if (!json_is_integer(soft) || !json_is_integer(hard))
			return berth_err(err, BERTH_E_INVALID,
			                 "process.rlimits[%zu]: soft and hard must be integers", i);
		rt_rlimit *l = &p->rlimits[p->nrlimits++];
		l->resource = res;
		l->name = xstrdup(type);
		l->soft = (uint64_t)json_integer_value(soft);
		l->hard = (uint64_t)json_integer_value(hard);
		if (l->soft > l->hard)
			return berth_err(
			    err, BERTH_E_INVALID,
			    "process.rlimits: %s soft limit %llu exceeds hard limit %llu", type,
			    (unsigned long long)l->soft, (unsigned long long)l->hard);
	}
	return 0;
}

#ifdef HAVE_RT_SECCOMP
/* Compiled filters are cached under a hash of their JSON (the file holds
 * the JSON too, compared byte for byte on use): compiling Docker's profile
 * with libseccomp costs more than starting a container. No libcrypto here:
 * `berth runtime` keeps its start-up small. */
struct bpf_cache_hdr {
	char magic[8];
	uint32_t flags;
	uint32_t len; /* instructions */
	uint32_t json_len;
	uint32_t pad;
};

static struct sock_fprog *cache_load(const char *path, const char *json, unsigned *flags)
{
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	berth_error *e = NULL;
	if (read_file(path, &data, &n, &e) < 0) {
		berth_error_free(e);
		return NULL;
	}
	struct bpf_cache_hdr h;
	size_t jl = strlen(json);
	if (n < sizeof(h))
		return NULL;
	memcpy(&h, data, sizeof(h));
	if (memcmp(h.magic, "BERTHBPF", 8) || h.len == 0 || h.len > BPF_MAXINSNS ||
	    h.json_len != jl)
		return NULL;
	size_t bytes = h.len * sizeof(struct sock_filter);
	if (n != sizeof(h) + jl + bytes || memcmp(data + sizeof(h), json, jl) != 0)
		return NULL;
	struct sock_fprog *prog = xmalloc(sizeof(*prog) + bytes);
	prog->len = (unsigned short)h.len;
	prog->filter = (struct sock_filter *)(prog + 1);
	memcpy(prog->filter, data + sizeof(h) + jl, bytes);
	*flags = h.flags;
	return prog;
}

static void cache_store(const char *dir, const char *path, const char *json,
                        const struct sock_fprog *prog, unsigned flags)
{
	berth_error *e = NULL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST && mkdir_p(dir, 0700, &e) < 0) {
		berth_error_free(e);
		return;
	}
	size_t jl = strlen(json), bytes = prog->len * sizeof(struct sock_filter);
	struct bpf_cache_hdr h = {.flags = flags, .len = prog->len, .json_len = (uint32_t)jl};
	memcpy(h.magic, "BERTHBPF", 8);
	_cleanup_free_ char *buf = xmalloc(sizeof(h) + jl + bytes);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), json, jl);
	memcpy(buf + sizeof(h) + jl, prog->filter, bytes);
	if (atomic_write(path, buf, sizeof(h) + jl + bytes, 0600, false, &e) < 0)
		berth_error_free(e);
}
#endif

static int parse_seccomp(json_t *sc, rt_process *p, berth_error **err)
{
	if (sc == NULL || json_is_null(sc))
		return 0;
	if (want_obj(sc, "linux.seccomp", err) < 0)
		return -1;
#ifdef HAVE_RT_SECCOMP
	struct sock_fprog *prog = NULL;
	unsigned flags = 0;
	_cleanup_free_ char *json = NULL, *cpath = NULL;
	if (p->cache_dir) {
		json = json_dumps(sc, JSON_COMPACT | JSON_SORT_KEYS);
		if (json)
			cpath = xasprintf("%s/%016llx", p->cache_dir,
			                  (unsigned long long)fnv1a64(json, strlen(json)));
	}
	if (cpath && (prog = cache_load(cpath, json, &flags)) != NULL) {
		p->seccomp = prog;
		p->seccomp_flags = flags;
		return 0;
	}
	if (seccomp_compile(sc, &prog, &flags, err) < 0)
		return berth_err_prefix(err, "linux.seccomp");
	if (cpath)
		cache_store(p->cache_dir, cpath, json, prog, flags);
	p->seccomp = prog;
	p->seccomp_flags = flags;
	return 0;
#else
	if (!p->host_checks)
		return 0;
	return berth_err(err, BERTH_E_UNSUPPORTED,
	                 "linux.seccomp: this build of berth has no seccomp support");
#endif
}

void rt_process_clear(rt_process *p)
{
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->groups);
	for (size_t i = 0; i < p->nrlimits; i++)
		free(p->rlimits[i].name);
	free(p->rlimits);
	free(p->seccomp); /* one allocation (seccomp.h) */
	free(p->exe);
	memset(p, 0, sizeof(*p));
}

int rt_process_parse(json_t *j, json_t *linux_seccomp, bool host, const char *cache_dir,
                     rt_process *p, berth_error **err)
{
	memset(p, 0, sizeof(*p));
	p->host_checks = host;
	p->cache_dir = cache_dir;
	if (!json_is_object(j))
		return berth_err(err, BERTH_E_INVALID, "process: expected an object");
	p->terminal = json_get_bool(j, "terminal", false);
	json_t *cs = json_object_get(j, "consoleSize");
	if (cs) {
		uint32_t h = 0, w = 0;
		if (get_u32(cs, "height", "process.consoleSize", true, &h, err) < 0 ||
		    get_u32(cs, "width", "process.consoleSize", true, &w, err) < 0)
			return -1;
		p->rows = (unsigned short)h;
		p->cols = (unsigned short)w;
	}
	if (get_strv(j, "args", "process", &p->args, err) < 0 ||
	    get_strv(j, "env", "process", &p->env, err) < 0)
		return -1;
	if (p->args == NULL || p->args[0] == NULL)
		return berth_err(err, BERTH_E_INVALID, "process.args: must not be empty");
	if (json_object_get(j, "commandLine"))
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "process.commandLine: only for Windows containers");
	const char *cwd = json_get_str(j, "cwd");
	if (cwd == NULL)
		return berth_err(err, BERTH_E_INVALID, "process.cwd: missing");
	if (cwd[0] != '/')
		return berth_err(err, BERTH_E_INVALID, "process.cwd: %s is not an absolute path",
		                 cwd);
	p->cwd = xstrdup(cwd);
	if (p->env == NULL)
		p->env = xcalloc(1, sizeof(char *));
	json_t *u = json_object_get(j, "user");
	if (u) {
		if (want_obj(u, "process.user", err) < 0)
			return -1;
		uint32_t v = 0;
		if (get_u32(u, "uid", "process.user", true, &v, err) < 0)
			return -1;
		p->uid = v;
		if (get_u32(u, "gid", "process.user", true, &v, err) < 0)
			return -1;
		p->gid = v;
		int r = get_u32(u, "umask", "process.user", false, &v, err);
		if (r < 0)
			return -1;
		if (r > 0) {
			p->has_umask = true;
			p->umask = (mode_t)(v & 0777);
		}
		json_t *g = json_object_get(u, "additionalGids");
		if (want_arr(g, "process.user.additionalGids", err) < 0)
			return -1;
		if (g) {
			p->groups = xcalloc(json_array_size(g) + 1, sizeof(gid_t));
			size_t i;
			json_t *x;
			json_array_foreach (g, i, x) {
				if (!json_is_integer(x) || json_integer_value(x) < 0)
					return berth_err(
					    err, BERTH_E_INVALID,
					    "process.user.additionalGids[%zu]: expected "
					    "an integer",
					    i);
				p->groups[p->ngroups++] = (gid_t)json_integer_value(x);
			}
		}
		if (json_get_str(u, "username"))
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "process.user.username: only for Windows containers");
	}
	json_t *c = json_object_get(j, "capabilities");
	if (c) {
		if (want_obj(c, "process.capabilities", err) < 0 ||
		    parse_caps(c, host, p->caps, err) < 0)
			return -1;
		p->set_caps = true;
	}
	p->no_new_privs = json_get_bool(j, "noNewPrivileges", false);
	json_t *oom = json_object_get(j, "oomScoreAdj");
	if (oom) {
		if (!json_is_integer(oom) || json_integer_value(oom) < -1000 ||
		    json_integer_value(oom) > 1000)
			return berth_err(err, BERTH_E_INVALID,
			                 "process.oomScoreAdj: expected an integer in -1000..1000");
		p->has_oom = true;
		p->oom_score_adj = (int)json_integer_value(oom);
	}
	json_t *rl = json_object_get(j, "rlimits");
	if (rl && parse_rlimits(rl, p, err) < 0)
		return -1;
	const char *aa = json_get_str(j, "apparmorProfile");
	if (aa && *aa && host) {
		if (access("/sys/kernel/security/apparmor", F_OK) != 0)
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "process.apparmorProfile: AppArmor is not enabled on "
			                 "this host");
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "process.apparmorProfile: not supported by berth yet");
	}
	const char *se = json_get_str(j, "selinuxLabel");
	if (se && *se && host)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "process.selinuxLabel: SELinux is not enabled on this host");
	json_t *io = json_object_get(j, "ioPriority");
	if (io) {
		static const char *const classes[] = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
		                                      "IOPRIO_CLASS_IDLE"};
		const char *cl = json_get_str(io, "class");
		int k = -1;
		for (int i = 0; cl && i < 3; i++)
			if (!strcmp(cl, classes[i]))
				k = i + 1;
		if (k < 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "process.ioPriority.class: unknown class %s",
			                 cl ? cl : "(missing)");
		long long prio = json_get_int(io, "priority", 0);
		if (prio < 0 || prio > 7)
			return berth_err(err, BERTH_E_INVALID,
			                 "process.ioPriority.priority: expected 0..7");
		p->has_io_priority = true;
		p->io_priority = (k << 13) | (int)prio;
	}
	json_t *sch = json_object_get(j, "scheduler");
	if (sch) {
		static const char *const pol[] = {"SCHED_OTHER",   "SCHED_FIFO", "SCHED_RR",
		                                  "SCHED_BATCH",   "SCHED_ISO",  "SCHED_IDLE",
		                                  "SCHED_DEADLINE"};
		const char *ps = json_get_str(sch, "policy");
		int k = -1;
		for (int i = 0; ps && i < 7; i++)
			if (!strcmp(ps, pol[i]))
				k = i;
		if (k < 0 || k == 4 || k == 6)
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "process.scheduler.policy: %s is not supported",
			                 ps ? ps : "(missing)");
		if (json_object_get(sch, "flags") || json_object_get(sch, "runtime") ||
		    json_object_get(sch, "deadline") || json_object_get(sch, "period"))
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "process.scheduler: flags/runtime/deadline/period are "
			                 "only for SCHED_DEADLINE, which berth does not support");
		p->has_scheduler = true;
		p->sched_policy = k;
		p->sched_priority = (int)json_get_int(sch, "priority", 0);
		p->sched_nice = json_get_int(sch, "nice", 0);
	}
	if (json_object_get(j, "execCPUAffinity"))
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "process.execCPUAffinity: not supported by berth");
	if (parse_seccomp(linux_seccomp, p, err) < 0)
		return -1;
	return 0;
}

static void hook_clear(rt_hook *h)
{
	free(h->path);
	strv_free(h->args);
	strv_free(h->env);
}

void rt_hooks_clear(rt_hooks *h)
{
	for (int k = 0; k < RT_HOOK_COUNT; k++) {
		for (size_t i = 0; i < h->n[k]; i++)
			hook_clear(&h->v[k][i]);
		free(h->v[k]);
	}
	memset(h, 0, sizeof(*h));
}

static const char *const hook_names[RT_HOOK_COUNT] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};

int rt_hooks_parse(json_t *hooks, rt_hooks *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	if (hooks == NULL)
		return 0;
	if (want_obj(hooks, "hooks", err) < 0)
		return -1;
	for (int k = 0; k < RT_HOOK_COUNT; k++) {
		json_t *a = json_object_get(hooks, hook_names[k]);
		if (a == NULL)
			continue;
		if (!json_is_array(a))
			return berth_err(err, BERTH_E_INVALID, "hooks.%s: expected an array",
			                 hook_names[k]);
		out->v[k] = xcalloc(json_array_size(a) + 1, sizeof(rt_hook));
		size_t i;
		json_t *h;
		json_array_foreach (a, i, h) {
			rt_hook *x = &out->v[k][out->n[k]++];
			const char *path = json_get_str(h, "path");
			if (path == NULL || path[0] != '/')
				return berth_err(err, BERTH_E_INVALID,
				                 "hooks.%s[%zu].path: must be an absolute path",
				                 hook_names[k], i);
			x->path = xstrdup(path);
			if (get_strv(h, "args", "hooks", &x->args, err) < 0 ||
			    get_strv(h, "env", "hooks", &x->env, err) < 0)
				return -1;
			if (x->args == NULL || x->args[0] == NULL) {
				strv_free(x->args);
				x->args = strv_append(NULL, path);
			}
			if (x->env == NULL)
				x->env = xcalloc(1, sizeof(char *));
			json_t *t = json_object_get(h, "timeout");
			if (t) {
				if (!json_is_integer(t) || json_integer_value(t) < 1)
					return berth_err(
					    err, BERTH_E_INVALID,
					    "hooks.%s[%zu].timeout: must be a positive "
					    "integer",
					    hook_names[k], i);
				x->timeout = (int)json_integer_value(t);
			}
		}
	}
	return 0;
}

static int parse_namespaces(json_t *a, rt_spec *s, berth_error **err)
{
	if (want_arr(a, "linux.namespaces", err) < 0)
		return -1;
	size_t i;
	json_t *n;
	json_array_foreach (a, i, n) {
		const char *type = json_get_str(n, "type");
		int k = type ? ns_kind(type) : -1;
		if (k < 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.namespaces[%zu]: unknown type %s", i,
			                 type ? type : "(missing)");
		if (s->ns[k].enabled)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.namespaces: %s is listed twice", type);
		s->ns[k].enabled = true;
		const char *path = json_get_str(n, "path");
		if (path && *path) {
			if (path[0] != '/')
				return berth_err(err, BERTH_E_INVALID,
				                 "linux.namespaces[%zu].path: must be absolute", i);
			if (s->host && access(path, F_OK) != 0)
				return berth_err_sys(err, errno, "linux.namespaces[%zu].path %s", i,
				                     path);
			s->ns[k].path = xstrdup(path);
		}
	}
	static const char *const files[RT_NS_COUNT] = {"user", "mnt", "pid",    "net",
	                                               "ipc",  "uts", "cgroup", "time"};
	for (int k = 0; k < RT_NS_COUNT; k++) {
		if (!s->ns[k].enabled || s->ns[k].path || !s->host)
			continue;
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/ns/%s", files[k]);
		if (access(p, F_OK) != 0)
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "linux.namespaces: this kernel has no %s namespaces",
			                 files[k]);
	}
	return 0;
}

static int parse_idmaps(json_t *a, const char *field, rt_idmap_text *out, berth_error **err)
{
	if (a == NULL)
		return 0;
	if (want_arr(a, field, err) < 0)
		return -1;
	_cleanup_sb_ strbuf sb;
	sb_init(&sb);
	size_t i;
	json_t *m;
	json_array_foreach (a, i, m) {
		uint32_t c = 0, h = 0, n = 0;
		if (get_u32(m, "containerID", field, true, &c, err) < 0 ||
		    get_u32(m, "hostID", field, true, &h, err) < 0 ||
		    get_u32(m, "size", field, true, &n, err) < 0)
			return -1;
		sb_printf(&sb, "%u %u %u\n", c, h, n);
	}
	out->len = sb.len;
	out->text = sb_steal(&sb);
	return 0;
}

static int parse_mount_options(json_t *opts, rt_mount *m, strbuf *data, size_t idx,
                               berth_error **err)
{
	size_t i;
	json_t *o;
	json_array_foreach (opts, i, o) {
		const char *name = json_string_value(o);
		if (name == NULL)
			return berth_err(err, BERTH_E_INVALID,
			                 "mounts[%zu].options[%zu]: not a string", idx, i);
		const struct mount_opt *mo = find_mount_opt(name);
		if (mo == NULL) {
			if (!strcmp(name, "tmpcopyup") || !strncmp(name, "copy-symlink", 12))
				return berth_err(err, BERTH_E_UNSUPPORTED,
				                 "mounts[%zu]: option %s is not supported", idx,
				                 name);
			if (data->len)
				sb_appendc(data, ',');
			sb_append(data, name);
			continue;
		}
		switch (mo->kind) {
		case MO_SET: m->flags |= mo->flag; break;
		case MO_CLEAR: m->flags &= ~mo->flag; break;
		case MO_PROP: m->propagation = mo->flag; break;
		case MO_ATTR_SET:
			m->attr_set |= mo->flag;
			m->attr_clr &= ~mo->flag;
			break;
		case MO_ATTR_CLR:
			m->attr_clr |= mo->flag;
			m->attr_set &= ~mo->flag;
			break;
		case MO_BIND:
			m->bind = true;
			if (mo->flag & MS_REC)
				m->recursive = true;
			break;
		case MO_REJECT:
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "mounts[%zu]: option %s (idmapped mounts) is not "
			                 "supported by berth",
			                 idx, name);
		}
	}
	return 0;
}

static int parse_mounts(json_t *a, rt_spec *s, berth_error **err)
{
	if (want_arr(a, "mounts", err) < 0)
		return -1;
	s->mounts = xcalloc(json_array_size(a) + 1, sizeof(rt_mount));
	size_t i;
	json_t *j;
	json_array_foreach (a, i, j) {
		rt_mount *m = &s->mounts[s->nmounts++];
		const char *dest = json_get_str(j, "destination");
		if (dest == NULL || !*dest)
			return berth_err(err, BERTH_E_INVALID, "mounts[%zu].destination: missing",
			                 i);
		m->dest = dest[0] == '/' ? xstrdup(dest) : xasprintf("/%s", dest);
		const char *type = json_get_str(j, "type");
		const char *src = json_get_str(j, "source");
		json_t *opts = json_object_get(j, "options");
		if (want_arr(opts, "mounts.options", err) < 0)
			return -1;
		_cleanup_sb_ strbuf data;
		sb_init(&data);
		if (opts && parse_mount_options(opts, m, &data, i, err) < 0)
			return -1;
		if (json_object_get(j, "uidMappings") || json_object_get(j, "gidMappings"))
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "mounts[%zu]: uidMappings/gidMappings (idmapped mounts) "
			                 "are not supported by berth",
			                 i);
		if (type && !strcmp(type, "bind"))
			m->bind = true;
		if (m->bind) {
			if (src == NULL)
				return berth_err(err, BERTH_E_INVALID,
				                 "mounts[%zu].source: missing for a bind mount", i);
			m->source = abs_in_bundle(s->bundle, src);
			struct stat st;
			if (s->host && stat(m->source, &st) < 0)
				return berth_err_sys(err, errno, "mounts[%zu]: bind source %s", i,
				                     m->source);
			m->src_is_dir = s->host ? S_ISDIR(st.st_mode) : true;
		} else {
			if (type == NULL || !*type)
				return berth_err(err, BERTH_E_INVALID, "mounts[%zu].type: missing",
				                 i);
			m->type = xstrdup(type);
			m->source = xstrdup(src ? src : type);
			m->src_is_dir = true;
		}
		if (data.len)
			m->data = sb_steal(&data);
	}
	return 0;
}

static int parse_devices(json_t *a, rt_spec *s, berth_error **err)
{
	if (want_arr(a, "linux.devices", err) < 0)
		return -1;
	s->devices = xcalloc(json_array_size(a) + 1, sizeof(rt_device));
	size_t i;
	json_t *j;
	json_array_foreach (a, i, j) {
		rt_device *d = &s->devices[s->ndevices++];
		const char *path = json_get_str(j, "path");
		const char *type = json_get_str(j, "type");
		if (path == NULL || path[0] != '/')
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.devices[%zu].path: must be absolute", i);
		if (type == NULL || strlen(type) != 1 || !strchr("cbup", type[0]))
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.devices[%zu].type: must be c, b, u or p", i);
		d->path = xstrdup(path);
		d->type = type[0];
		d->major = json_get_int(j, "major", -1);
		d->minor = json_get_int(j, "minor", -1);
		if (d->type != 'p' && (d->major < 0 || d->minor < 0))
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.devices[%zu]: major and minor are required", i);
		d->mode = (mode_t)json_get_int(j, "fileMode", 0666);
		d->uid = (uid_t)json_get_int(j, "uid", 0);
		d->gid = (gid_t)json_get_int(j, "gid", 0);
	}
	return 0;
}

static int parse_sysctl(json_t *o, rt_spec *s, berth_error **err)
{
	if (want_obj(o, "linux.sysctl", err) < 0)
		return -1;
	s->sysctl = xcalloc(json_object_size(o) + 1, sizeof(rt_kv));
	const char *k;
	json_t *v;
	json_object_foreach (o, k, v) {
		if (!json_is_string(v))
			return berth_err(err, BERTH_E_INVALID, "linux.sysctl.%s: expected a string",
			                 k);
		if (strstr(k, "..") || k[0] == '/' || k[0] == '.')
			return berth_err(err, BERTH_E_INVALID, "linux.sysctl: invalid key %s", k);
		/* Only namespaced sysctls, and only with their namespace. */
		bool net = str_has_prefix(k, "net.");
		bool ipc = str_has_prefix(k, "kernel.msg") || str_has_prefix(k, "kernel.sem") ||
		           str_has_prefix(k, "kernel.shm") || str_has_prefix(k, "fs.mqueue.");
		bool uts = !strcmp(k, "kernel.hostname") || !strcmp(k, "kernel.domainname");
		if (net && !s->ns[RT_NS_NET].enabled)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.sysctl: %s needs a network namespace", k);
		if (ipc && !s->ns[RT_NS_IPC].enabled)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.sysctl: %s needs an ipc namespace", k);
		if (uts && !s->ns[RT_NS_UTS].enabled)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.sysctl: %s needs a uts namespace", k);
		if (!net && !ipc && !uts)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.sysctl: %s is not namespaced; the container "
			                 "cannot set it",
			                 k);
		rt_kv *kv = &s->sysctl[s->nsysctl++];
		kv->key = xstrdup(k);
		for (char *c = kv->key; *c; c++)
			if (*c == '.')
				*c = '/';
		kv->value = xstrdup(json_string_value(v));
	}
	return 0;
}

static int parse_personality(json_t *p, rt_spec *s, berth_error **err)
{
	const char *d = json_get_str(p, "domain");
	if (d == NULL)
		return berth_err(err, BERTH_E_INVALID, "linux.personality.domain: missing");
	if (!strcmp(d, "LINUX"))
		s->personality = PER_LINUX;
	else if (!strcmp(d, "LINUX32"))
		s->personality = PER_LINUX32;
	else
		return berth_err(err, BERTH_E_INVALID, "linux.personality.domain: unknown %s", d);
	json_t *f = json_object_get(p, "flags");
	if (f && json_array_size(f) > 0)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "linux.personality.flags: not supported");
	s->has_personality = true;
	return 0;
}

static int parse_time_offsets(json_t *o, rt_spec *s, berth_error **err)
{
	if (want_obj(o, "linux.timeOffsets", err) < 0)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach (o, k, v) {
		int64_t secs = json_get_int(v, "secs", 0);
		uint32_t ns = (uint32_t)json_get_int(v, "nanosecs", 0);
		if (!strcmp(k, "monotonic")) {
			s->mono_secs = secs;
			s->mono_nsecs = ns;
		} else if (!strcmp(k, "boottime")) {
			s->boot_secs = secs;
			s->boot_nsecs = ns;
		} else
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.timeOffsets: unknown clock %s", k);
	}
	s->has_time_offsets = true;
	if (!s->ns[RT_NS_TIME].enabled || s->ns[RT_NS_TIME].path)
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.timeOffsets: needs a new time namespace");
	return 0;
}

static unsigned long parse_propagation(const char *p)
{
	const struct mount_opt *mo = p ? find_mount_opt(p) : NULL;
	return (mo && mo->kind == MO_PROP) ? mo->flag : 0;
}

/* Shape checks of linux.resources that hold whatever the host is; the
 * cgroup code checks values against the host when it applies them. */
static int check_resources(json_t *r, berth_error **err)
{
	if (r == NULL)
		return 0;
	json_t *hp = json_object_get(r, "hugepageLimits");
	if (want_arr(hp, "linux.resources.hugepageLimits", err) < 0)
		return -1;
	size_t i;
	json_t *h;
	json_array_foreach (hp, i, h) {
		const char *ps = json_get_str(h, "pageSize");
		size_t n = ps ? strlen(ps) : 0;
		bool ok = n >= 3 && ps[0] >= '1' && ps[0] <= '9' && ps[n - 1] == 'B' &&
		          strchr("KMG", ps[n - 2]) != NULL;
		for (size_t k = 1; ok && k + 2 < n; k++)
			ok = ps[k] >= '0' && ps[k] <= '9';
		if (!ok)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.resources.hugepageLimits[%zu].pageSize: %s is not "
			                 "like 2MB",
			                 i, ps ? ps : "(missing)");
		if (!json_is_integer(json_object_get(h, "limit")))
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.resources.hugepageLimits[%zu].limit: expected an "
			                 "integer",
			                 i);
	}
	json_t *rdma = json_object_get(r, "rdma");
	if (want_obj(rdma, "linux.resources.rdma", err) < 0)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach (rdma, k, v) {
		uint32_t x;
		if (get_u32(v, "hcaHandles", "linux.resources.rdma", false, &x, err) < 0 ||
		    get_u32(v, "hcaObjects", "linux.resources.rdma", false, &x, err) < 0)
			return -1;
	}
	static const char *const objs[] = {"memory", "cpu", "pids", "blockIO", "network"};
	for (size_t o = 0; o < ARRAY_SIZE(objs); o++) {
		_cleanup_free_ char *f = xasprintf("linux.resources.%s", objs[o]);
		if (want_obj(json_object_get(r, objs[o]), f, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_linux(json_t *l, rt_spec *s, berth_error **err)
{
	if (l == NULL)
		return 0;
	if (want_obj(l, "linux", err) < 0)
		return -1;
	if (parse_namespaces(json_object_get(l, "namespaces"), s, err) < 0)
		return -1;
	json_t *um = json_object_get(l, "uidMappings"), *gm = json_object_get(l, "gidMappings");
	if (parse_idmaps(um, "linux.uidMappings", &s->uid_map, err) < 0 ||
	    parse_idmaps(gm, "linux.gidMappings", &s->gid_map, err) < 0)
		return -1;
	if ((s->uid_map.len || s->gid_map.len) &&
	    (!s->ns[RT_NS_USER].enabled || s->ns[RT_NS_USER].path))
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.uidMappings: mappings need a new user namespace");
	if (s->ns[RT_NS_USER].enabled && !s->ns[RT_NS_USER].path &&
	    (!s->uid_map.len || !s->gid_map.len))
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.uidMappings/gidMappings: a new user namespace needs "
		                 "both");
	json_t *d = json_object_get(l, "devices");
	if (d && parse_devices(d, s, err) < 0)
		return -1;
	if (get_strv(l, "maskedPaths", "linux", &s->masked, err) < 0 ||
	    get_strv(l, "readonlyPaths", "linux", &s->readonly, err) < 0)
		return -1;
	json_t *sc = json_object_get(l, "sysctl");
	if (sc && parse_sysctl(sc, s, err) < 0)
		return -1;
	const char *rp = json_get_str(l, "rootfsPropagation");
	if (rp && *rp) {
		s->rootfs_propagation = parse_propagation(rp);
		if (s->rootfs_propagation == 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.rootfsPropagation: unknown value %s", rp);
	}
	json_t *p = json_object_get(l, "personality");
	if (p && parse_personality(p, s, err) < 0)
		return -1;
	const char *cp = json_get_str(l, "cgroupsPath");
	if (cp && *cp) {
		if (strchr(cp, ':') && cp[0] != '/')
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "linux.cgroupsPath: %s looks like a systemd slice; "
			                 "systemd cgroups are not supported",
			                 cp);
		s->cgroups_path = xstrdup(cp);
	}
	s->resources = json_object_get(l, "resources");
	if (want_obj(s->resources, "linux.resources", err) < 0 ||
	    check_resources(s->resources, err) < 0)
		return -1;
	json_t *to = json_object_get(l, "timeOffsets");
	if (to && parse_time_offsets(to, s, err) < 0)
		return -1;
	const char *ml = json_get_str(l, "mountLabel");
	if (ml && *ml && s->host)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "linux.mountLabel: SELinux is not enabled on this host");
	json_t *ir = json_object_get(l, "intelRdt");
	if (ir && s->host)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "linux.intelRdt: resctrl is not available on this host");
	json_t *nd = json_object_get(l, "netDevices");
	if (nd) {
		if (want_obj(nd, "linux.netDevices", err) < 0)
			return -1;
		const char *k;
		json_t *v;
		json_object_foreach (nd, k, v) {
			json_t *nm = json_object_get(v, "name");
			if (!json_is_object(v) || (nm && !json_is_string(nm)))
				return berth_err(err, BERTH_E_INVALID,
				                 "linux.netDevices.%s: name must be a string", k);
		}
		if (s->host && json_object_size(nd) > 0)
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "linux.netDevices: moving network devices into the "
			                 "container is not supported by berth");
	}
	return 0;
}

void rt_spec_free(rt_spec *s)
{
	if (s == NULL)
		return;
	json_decref(s->json);
	free(s->bundle);
	free(s->rootfs);
	free(s->hostname);
	free(s->domainname);
	rt_process_clear(&s->proc);
	for (int k = 0; k < RT_NS_COUNT; k++)
		free(s->ns[k].path);
	free(s->uid_map.text);
	free(s->gid_map.text);
	for (size_t i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].dest);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
	}
	free(s->mounts);
	for (size_t i = 0; i < s->ndevices; i++)
		free(s->devices[i].path);
	free(s->devices);
	strv_free(s->masked);
	strv_free(s->readonly);
	for (size_t i = 0; i < s->nsysctl; i++) {
		free(s->sysctl[i].key);
		free(s->sysctl[i].value);
	}
	free(s->sysctl);
	free(s->cgroups_path);
	strv_free(s->cgroup_v1);
	rt_hooks_clear(&s->hooks);
	free(s);
}

int rt_spec_parse(json_t *config, const char *bundle, bool host, const char *cache_dir,
                  rt_spec **out, berth_error **err)
{
	if (!json_is_object(config))
		return berth_err(err, BERTH_E_INVALID, "config: expected a JSON object");
	rt_spec *s = xcalloc(1, sizeof(*s));
	_cleanup_spec_ rt_spec *guard = s;
	s->json = json_incref(config);
	s->host = host;
	s->bundle = xstrdup(bundle ? bundle : ".");
	const char *ver = json_get_str(config, "ociVersion");
	if (ver == NULL)
		return berth_err(err, BERTH_E_INVALID, "ociVersion: missing");
	if (host && (ver[0] != '1' || ver[1] != '.'))
		return berth_err(err, BERTH_E_UNSUPPORTED, "ociVersion: %s is not supported", ver);
	json_t *root = json_object_get(config, "root");
	const char *rp = json_get_str(root, "path");
	if (rp == NULL || !*rp)
		return berth_err(err, BERTH_E_INVALID, "root.path: missing");
	s->rootfs = abs_in_bundle(s->bundle, rp);
	s->root_readonly = json_get_bool(root, "readonly", false);
	if (json_object_get(config, "windows") || json_object_get(config, "solaris") ||
	    json_object_get(config, "vm") || json_object_get(config, "zos"))
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "config: only Linux containers are supported");
	const char *hn = json_get_str(config, "hostname");
	const char *dn = json_get_str(config, "domainname");
	s->hostname = hn ? xstrdup(hn) : NULL;
	s->domainname = dn ? xstrdup(dn) : NULL;
	s->annotations = json_object_get(config, "annotations");
	if (want_obj(s->annotations, "annotations", err) < 0)
		return -1;
	json_t *l = json_object_get(config, "linux");
	if (parse_linux(l, s, err) < 0)
		return -1;
	if ((hn && *hn) && !s->ns[RT_NS_UTS].enabled)
		return berth_err(err, BERTH_E_INVALID,
		                 "hostname: setting the hostname needs a uts namespace");
	if ((dn && *dn) && !s->ns[RT_NS_UTS].enabled)
		return berth_err(err, BERTH_E_INVALID,
		                 "domainname: setting the domainname needs a uts namespace");
	json_t *m = json_object_get(config, "mounts");
	if (m && parse_mounts(m, s, err) < 0)
		return -1;
	if (rt_hooks_parse(json_object_get(config, "hooks"), &s->hooks, err) < 0)
		return -1;
	json_t *p = json_object_get(config, "process");
	if (p &&
	    rt_process_parse(p, json_object_get(l, "seccomp"), host, cache_dir, &s->proc, err) < 0)
		return -1;
	if (p == NULL) {
		if (json_object_get(l, "seccomp"))
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.seccomp: needs a process to apply it to");
	}
	*out = steal_ptr(guard);
	return 0;
}

int rt_validate_config(json_t *config, const char *bundle, berth_error **err)
{
	_cleanup_spec_ rt_spec *s = NULL;
	return rt_spec_parse(config, bundle, false, NULL, &s, err);
}
