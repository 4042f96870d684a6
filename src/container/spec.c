/* From a container record to an OCI runtime config: Docker's defaults
 * (rt_default_spec) with the image config and the user's flags on top. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"

/* Every capability the kernel knows, sorted by name (for --privileged and
 * --cap-add ALL). */
const char *const ctr_all_caps[41] = {
    "CAP_AUDIT_CONTROL",   "CAP_AUDIT_READ",   "CAP_AUDIT_WRITE",
    "CAP_BLOCK_SUSPEND",   "CAP_BPF",          "CAP_CHECKPOINT_RESTORE",
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",          "CAP_FSETID",       "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",       "CAP_KILL",         "CAP_LEASE",
    "CAP_LINUX_IMMUTABLE", "CAP_MAC_ADMIN",    "CAP_MAC_OVERRIDE",
    "CAP_MKNOD",           "CAP_NET_ADMIN",    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",   "CAP_NET_RAW",      "CAP_PERFMON",
    "CAP_SETFCAP",         "CAP_SETGID",       "CAP_SETPCAP",
    "CAP_SETUID",          "CAP_SYSLOG",       "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",        "CAP_SYS_CHROOT",   "CAP_SYS_MODULE",
    "CAP_SYS_NICE",        "CAP_SYS_PACCT",    "CAP_SYS_PTRACE",
    "CAP_SYS_RAWIO",       "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",  "CAP_WAKE_ALARM",
};

/* Their numbers, in the same (name) order. */
static const int cap_numbers[41] = {
    30, 37, 29, 36, 39, 40, 0, 1,  2,  3,  4,  14, 15, 5,  28, 9,  33, 32, 27, 12, 10,
    11, 13, 38, 31, 6,  8,  7, 34, 21, 22, 18, 16, 23, 20, 19, 17, 24, 25, 26, 35,
};

bool ctr_cap_available(size_t i)
{
	/* what this process may hand out: its own bounding set (here, e.g.,
	 * CAP_SYS_RESOURCE may be missing) */
	return i < 41 && prctl(PR_CAPBSET_READ, cap_numbers[i], 0, 0, 0) == 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "net_admin" / "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; NULL if unknown. */
static const char *cap_canon(const char *name)
{
	char buf[64];
	const char *n = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
	snprintf(buf, sizeof(buf), "CAP_%s", n);
	for (char *p = buf; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	const char *key = buf;
	const char *const *hit =
	    bsearch(&key, ctr_all_caps, ARRAY_SIZE(ctr_all_caps), sizeof(ctr_all_caps[0]), cmp_str);
	return hit ? *hit : NULL;
}

static json_t *caps_array(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static int apply_caps(json_t *proc, json_t *host, bool privileged, berth_error **err)
{
	json_t *caps = json_object_get(proc, "capabilities");
	_cleanup_strv_ char **set = NULL;
	if (privileged) {
		for (size_t i = 0; i < ARRAY_SIZE(ctr_all_caps); i++)
			if (ctr_cap_available(i))
				set = strv_append(set, ctr_all_caps[i]);
	} else {
		set = json_get_strv(caps, "bounding");
		size_t i;
		json_t *v;
		json_array_foreach (json_object_get(host, "CapDrop"), i, v) {
			const char *n = json_string_value(v);
			if (n && !strcasecmp(n, "ALL")) {
				strv_free(set);
				set = NULL;
				continue;
			}
			const char *c = n ? cap_canon(n) : NULL;
			if (c == NULL)
				return berth_err(err, BERTH_E_INVALID, "unknown capability: \"%s\"",
				                 n ? n : "");
			_cleanup_strv_ char **keep = NULL;
			for (size_t k = 0; set && set[k]; k++)
				if (strcmp(set[k], c))
					keep = strv_append(keep, set[k]);
			strv_free(set);
			set = steal_ptr(keep);
		}
		json_array_foreach (json_object_get(host, "CapAdd"), i, v) {
			const char *n = json_string_value(v);
			if (n && !strcasecmp(n, "ALL")) {
				for (size_t k = 0; k < ARRAY_SIZE(ctr_all_caps); k++)
					if (ctr_cap_available(k) &&
					    !strv_contains(set, ctr_all_caps[k]))
						set = strv_append(set, ctr_all_caps[k]);
				continue;
			}
			const char *c = n ? cap_canon(n) : NULL;
			if (c == NULL)
				return berth_err(err, BERTH_E_INVALID, "unknown capability: \"%s\"",
				                 n ? n : "");
			if (!strv_contains(set, c))
				set = strv_append(set, c);
		}
	}
	json_t *nc = json_object();
	json_object_set_new(nc, "bounding", caps_array(set));
	json_object_set_new(nc, "effective", caps_array(set));
	json_object_set_new(nc, "permitted", caps_array(set));
	json_object_set_new(proc, "capabilities", nc);
	return 0;
}

/* Look a user or group up in the container's /etc/passwd or /etc/group. */
static bool lookup_db(int rootfd, const char *file, const char *key, bool by_id, char ***fields)
{
	_cleanup_close_ int fd = open_in_root(rootfd, file, O_RDONLY | O_CLOEXEC, 0, NULL);
	if (fd < 0)
		return false;
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (f == NULL)
		return false;
	fd = -1;
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char **fl = str_split(line, ':');
		if (strv_len(fl) >= 3 && !strcmp(by_id ? fl[2] : fl[0], key)) {
			*fields = fl;
			return true;
		}
		strv_free(fl);
	}
	return false;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* User "name|uid[:group|gid]" -> process.user and HOME. */
int ctr_apply_user(json_t *proc, int rootfd, const char *user, json_t *group_add, char **home,
                   berth_error **err)
{
	_cleanup_free_ char *u = xstrdup(user && *user ? user : "0");
	char *g = strchr(u, ':');
	if (g)
		*g++ = 0;
	long uid = 0, gid = -1;
	_cleanup_free_ char *uname = NULL;
	_cleanup_strv_ char **pw = NULL;
	if (all_digits(u)) {
		uid = strtol(u, NULL, 10);
		if (lookup_db(rootfd, "/etc/passwd", u, true, &pw)) {
			uname = xstrdup(pw[0]);
			if (strv_len(pw) >= 4)
				gid = strtol(pw[3], NULL, 10);
		}
	} else {
		if (!lookup_db(rootfd, "/etc/passwd", u, false, &pw))
			return berth_err(
			    err, BERTH_E_INVALID,
			    "unable to find user %s: no matching entries in passwd file", u);
		uname = xstrdup(pw[0]);
		uid = strtol(pw[2], NULL, 10);
		if (strv_len(pw) >= 4)
			gid = strtol(pw[3], NULL, 10);
	}
	if (pw && strv_len(pw) >= 6)
		*home = xstrdup(pw[5]);
	else
		*home = xstrdup(uid == 0 ? "/root" : "/");
	if (g && *g) {
		if (all_digits(g)) {
			gid = strtol(g, NULL, 10);
		} else {
			_cleanup_strv_ char **gr = NULL;
			if (!lookup_db(rootfd, "/etc/group", g, false, &gr))
				return berth_err(
				    err, BERTH_E_INVALID,
				    "unable to find group %s: no matching entries in group "
				    "file",
				    g);
			gid = strtol(gr[2], NULL, 10);
		}
	}
	if (gid < 0)
		gid = 0;
	json_t *juser = json_object();
	json_object_set_new(juser, "uid", json_integer(uid));
	json_object_set_new(juser, "gid", json_integer(gid));
	json_t *extra = json_array();
	/* the primary group too, as Docker's `id` shows it; then the user's
	 * supplementary groups from /etc/group, then --group-add */
	json_array_append_new(extra, json_integer(gid));
	if (uname && !(g && *g)) {
		_cleanup_close_ int fd =
		    open_in_root(rootfd, "/etc/group", O_RDONLY | O_CLOEXEC, 0, NULL);
		_cleanup_fclose_ FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
		if (f) {
			fd = -1;
			char line[1024];
			while (fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\n")] = 0;
				_cleanup_strv_ char **fl = str_split(line, ':');
				if (strv_len(fl) < 4)
					continue;
				_cleanup_strv_ char **members = str_split(fl[3], ',');
				long gg = strtol(fl[2], NULL, 10);
				if (strv_contains(members, uname) && gg != gid)
					json_array_append_new(extra, json_integer(gg));
			}
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach (group_add, i, v) {
		const char *ga = json_string_value(v);
		if (ga == NULL)
			continue;
		long gg;
		if (all_digits(ga)) {
			gg = strtol(ga, NULL, 10);
		} else {
			_cleanup_strv_ char **gr = NULL;
			if (!lookup_db(rootfd, "/etc/group", ga, false, &gr))
				return berth_err(
				    err, BERTH_E_INVALID,
				    "Unable to find group %s: no matching entries in group "
				    "file",
				    ga);
			gg = strtol(gr[2], NULL, 10);
		}
		json_array_append_new(extra, json_integer(gg));
	}
	if (json_array_size(extra))
		json_object_set_new(juser, "additionalGids", extra);
	else
		json_decref(extra);
	json_object_set_new(proc, "user", juser);
	return 0;
}

static const struct {
	const char *name;
	const char *rlimit;
} ulimits[] = {
    {"as", "RLIMIT_AS"},
    {"core", "RLIMIT_CORE"},
    {"cpu", "RLIMIT_CPU"},
    {"data", "RLIMIT_DATA"},
    {"fsize", "RLIMIT_FSIZE"},
    {"locks", "RLIMIT_LOCKS"},
    {"memlock", "RLIMIT_MEMLOCK"},
    {"msgqueue", "RLIMIT_MSGQUEUE"},
    {"nice", "RLIMIT_NICE"},
    {"nofile", "RLIMIT_NOFILE"},
    {"nproc", "RLIMIT_NPROC"},
    {"rss", "RLIMIT_RSS"},
    {"rtprio", "RLIMIT_RTPRIO"},
    {"rttime", "RLIMIT_RTTIME"},
    {"sigpending", "RLIMIT_SIGPENDING"},
    {"stack", "RLIMIT_STACK"},
};

static int apply_ulimits(json_t *proc, json_t *list, berth_error **err)
{
	if (!json_is_array(list) || json_array_size(list) == 0)
		return 0;
	json_t *rl = json_object_get(proc, "rlimits");
	if (!json_is_array(rl)) {
		rl = json_array();
		json_object_set_new(proc, "rlimits", rl);
	}
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		const char *name = json_get_str(v, "Name");
		const char *type = NULL;
		for (size_t k = 0; name && k < ARRAY_SIZE(ulimits); k++)
			if (!strcmp(ulimits[k].name, name))
				type = ulimits[k].rlimit;
		if (type == NULL)
			return berth_err(err, BERTH_E_INVALID, "invalid ulimit type: %s",
			                 name ? name : "");
		size_t j;
		json_t *e;
		json_array_foreach (rl, j, e) {
			if (str_eq(json_get_str(e, "type"), type)) {
				json_array_remove(rl, j);
				break;
			}
		}
		json_array_append_new(rl, json_pack("{s:s,s:I,s:I}", "type", type, "soft",
		                                    (json_int_t)json_get_int(v, "Soft", 0), "hard",
		                                    (json_int_t)json_get_int(v, "Hard", 0)));
	}
	return 0;
}

static void remove_mount(json_t *mounts, const char *dest)
{
	for (size_t i = 0; i < json_array_size(mounts); i++) {
		if (str_eq(json_get_str(json_array_get(mounts, i), "destination"), dest)) {
			json_array_remove(mounts, i);
			i--;
		}
	}
}

static void add_mount(json_t *mounts, const char *dest, const char *type, const char *source,
                      json_t *options)
{
	remove_mount(mounts, dest);
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:s,s:o}", "destination", dest, "type",
	                                        type, "source", source, "options", options));
}

static json_t *split_opts(const char *s)
{
	json_t *a = json_array();
	_cleanup_strv_ char **v = str_split(s ? s : "", ',');
	for (size_t i = 0; v && v[i]; i++)
		if (*v[i])
			json_array_append_new(a, json_string(v[i]));
	return a;
}

static bool opts_have(json_t *opts, const char *o)
{
	size_t i;
	json_t *v;
	json_array_foreach (opts, i, v) {
		if (str_eq(json_string_value(v), o))
			return true;
	}
	return false;
}

static int apply_mounts(berth_store *s, ctr_record *r, json_t *spec, json_t *host,
                        berth_error **err)
{
	json_t *mounts = json_object_get(spec, "mounts");
	if (!json_is_array(mounts)) {
		mounts = json_array();
		json_object_set_new(spec, "mounts", mounts);
	}
	bool ro = json_get_bool(host, "ReadonlyRootfs", false);
	_cleanup_free_ char *dir = container_dir(s, r->id);
	static const char *const etc[] = {"hostname", "hosts", "resolv.conf"};
	for (size_t i = 0; i < ARRAY_SIZE(etc); i++) {
		_cleanup_free_ char *src = xasprintf("%s/%s", dir, etc[i]);
		_cleanup_free_ char *dst = xasprintf("/etc/%s", etc[i]);
		add_mount(mounts, dst, "bind", src,
		          json_pack("[s,s,s]", "rbind", "rprivate", ro ? "ro" : "rw"));
	}
	int64_t shm = json_get_int(host, "ShmSize", 0);
	if (shm > 0) {
		_cleanup_free_ char *o = xasprintf("size=%lldk", (long long)(shm / 1024));
		add_mount(mounts, "/dev/shm", "tmpfs", "shm",
		          json_pack("[s,s,s,s,s]", "nosuid", "noexec", "nodev", "mode=1777", o));
	}
	/* --tmpfs DEST[:OPTS] */
	const char *k;
	json_t *v;
	json_object_foreach (json_object_get(host, "Tmpfs"), k, v) {
		json_t *o = split_opts(json_string_value(v));
		if (!opts_have(o, "exec") && !opts_have(o, "noexec"))
			json_array_append_new(o, json_string("noexec"));
		json_array_append_new(o, json_string("nosuid"));
		json_array_append_new(o, json_string("nodev"));
		add_mount(mounts, k, "tmpfs", "tmpfs", o);
	}
	/* binds, volumes, --mount tmpfs: resolved at create time */
	size_t i;
	json_array_foreach (json_object_get(r->config, "Mounts"), i, v) {
		const char *type = json_get_str(v, "Type");
		const char *dst = json_get_str(v, "Destination");
		if (dst == NULL)
			continue;
		if (str_eq(type, "tmpfs")) {
			json_t *o = json_array();
			int64_t size = json_get_int(v, "TmpfsSize", 0);
			if (size > 0)
				json_array_append_new(o,
				                      json_sprintf("size=%lld", (long long)size));
			int64_t mode = json_get_int(v, "TmpfsMode", 0);
			if (mode > 0)
				json_array_append_new(o,
				                      json_sprintf("mode=%llo", (long long)mode));
			json_array_append_new(o, json_string("nosuid"));
			json_array_append_new(o, json_string("nodev"));
			if (!json_get_bool(v, "RW", true))
				json_array_append_new(o, json_string("ro"));
			add_mount(mounts, dst, "tmpfs", "tmpfs", o);
			continue;
		}
		const char *src = json_get_str(v, "Source");
		if (src == NULL)
			continue;
		const char *prop = json_get_str(v, "Propagation");
		json_t *o = json_array();
		json_array_append_new(o, json_string("rbind"));
		json_array_append_new(o, json_string(prop && *prop ? prop : "rprivate"));
		json_array_append_new(o, json_string(json_get_bool(v, "RW", true) ? "rw" : "ro"));
		add_mount(mounts, dst, "bind", src, o);
	}
	return 0;
}

static int apply_namespaces(berth_store *s, json_t *linux_, json_t *host, berth_error **err)
{
	json_t *ns = json_object_get(linux_, "namespaces");
	if (!json_is_array(ns))
		return 0;
	const char *net = json_get_str(host, "NetworkMode");
	const char *ipc = json_get_str(host, "IpcMode");
	const char *pid = json_get_str(host, "PidMode");
	const char *uts = json_get_str(host, "UTSMode");
	_cleanup_free_ char *netpath = NULL;
	if (net && str_has_prefix(net, "container:")) {
		_cleanup_ctr_record_ ctr_record *o = NULL;
		if (container_lookup(s, net + 10, false, &o, err) < 0)
			return -1;
		if (strcmp(container_status(o), "running") && strcmp(container_status(o), "paused"))
			return berth_err(err, BERTH_E_CONFLICT,
			                 "cannot join network of a non running "
			                 "container: %s",
			                 o->id);
		netpath = xasprintf("/proc/%d/ns/net", o->st.pid);
	}
	for (size_t i = 0; i < json_array_size(ns); i++) {
		json_t *e = json_array_get(ns, i);
		const char *t = json_get_str(e, "type");
		bool drop = (str_eq(t, "network") && str_eq(net, "host")) ||
		            (str_eq(t, "ipc") && str_eq(ipc, "host")) ||
		            (str_eq(t, "pid") && str_eq(pid, "host")) ||
		            (str_eq(t, "uts") && str_eq(uts, "host"));
		if (drop) {
			json_array_remove(ns, i--);
			continue;
		}
		if (str_eq(t, "network") && netpath)
			json_object_set_new(e, "path", json_string(netpath));
	}
	return 0;
}

static json_t *obj_child(json_t *o, const char *key)
{
	json_t *c = json_object_get(o, key);
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(o, key, c);
	}
	return c;
}

static void apply_resources(json_t *linux_, json_t *host)
{
	json_t *res = obj_child(linux_, "resources");
	int64_t mem = json_get_int(host, "Memory", 0);
	int64_t swap = json_get_int(host, "MemorySwap", 0);
	int64_t resv = json_get_int(host, "MemoryReservation", 0);
	if (mem > 0 || resv > 0 || swap != 0) {
		json_t *m = obj_child(res, "memory");
		if (mem > 0) {
			json_object_set_new(m, "limit", json_integer(mem));
			/* Docker: no --memory-swap means as much swap as memory */
			if (swap == 0)
				json_object_set_new(m, "swap", json_integer(2 * mem));
		}
		if (swap != 0)
			json_object_set_new(m, "swap", json_integer(swap));
		if (resv > 0)
			json_object_set_new(m, "reservation", json_integer(resv));
	}
	int64_t shares = json_get_int(host, "CpuShares", 0);
	int64_t nano = json_get_int(host, "NanoCpus", 0);
	int64_t quota = json_get_int(host, "CpuQuota", 0);
	int64_t period = json_get_int(host, "CpuPeriod", 0);
	const char *cpuset = json_get_str(host, "CpusetCpus");
	if (shares > 0 || nano > 0 || quota > 0 || (cpuset && *cpuset)) {
		json_t *c = obj_child(res, "cpu");
		if (shares > 0)
			json_object_set_new(c, "shares", json_integer(shares));
		if (nano > 0) {
			json_object_set_new(c, "period", json_integer(100000));
			json_object_set_new(c, "quota", json_integer(nano / 10000));
		} else if (quota > 0) {
			json_object_set_new(c, "quota", json_integer(quota));
			json_object_set_new(c, "period",
			                    json_integer(period > 0 ? period : 100000));
		}
		if (cpuset && *cpuset)
			json_object_set_new(c, "cpus", json_string(cpuset));
	}
	json_t *pl = json_object_get(host, "PidsLimit");
	if (json_is_integer(pl) && json_integer_value(pl) != 0)
		json_object_set_new(
		    obj_child(res, "pids"), "limit",
		    json_integer(json_integer_value(pl) < 0 ? -1 : json_integer_value(pl)));
}

static int apply_devices(json_t *linux_, json_t *host, bool privileged, berth_error **err)
{
	json_t *res = obj_child(linux_, "resources");
	json_t *rules = json_object_get(res, "devices");
	if (!json_is_array(rules)) {
		rules = json_array();
		json_object_set_new(res, "devices", rules);
	}
	if (privileged) {
		json_array_clear(rules);
		json_array_append_new(rules, json_pack("{s:b,s:s}", "allow", 1, "access", "rwm"));
	}
	json_t *devs = json_object_get(linux_, "devices");
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(host, "Devices"), i, v) {
		const char *on_host = json_get_str(v, "PathOnHost");
		const char *in_ctr = json_get_str(v, "PathInContainer");
		const char *perms = json_get_str(v, "CgroupPermissions");
		struct stat st;
		if (on_host == NULL || stat(on_host, &st) < 0)
			return berth_err_sys(err, errno,
			                     "error gathering device information while "
			                     "adding custom device \"%s\"",
			                     on_host ? on_host : "");
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return berth_err(err, BERTH_E_INVALID, "%s is not a device", on_host);
		const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
		if (!json_is_array(devs)) {
			devs = json_array();
			json_object_set_new(linux_, "devices", devs);
		}
		json_array_append_new(devs,
		                      json_pack("{s:s,s:s,s:I,s:I,s:i,s:i,s:i}", "path",
		                                in_ctr && *in_ctr ? in_ctr : on_host, "type", type,
		                                "major", (json_int_t)major(st.st_rdev), "minor",
		                                (json_int_t)minor(st.st_rdev), "fileMode",
		                                st.st_mode & 07777, "uid", 0, "gid", 0));
		json_array_append_new(rules, json_pack("{s:b,s:s,s:I,s:I,s:s}", "allow", 1, "type",
		                                       type, "major", (json_int_t)major(st.st_rdev),
		                                       "minor", (json_int_t)minor(st.st_rdev),
		                                       "access", perms && *perms ? perms : "rwm"));
	}
	return 0;
}

/* Docker's seccomp profile format -> the OCI one (names/action/args). */
static json_t *seccomp_from_profile(json_t *p)
{
	if (json_is_array(json_object_get(p, "syscalls")) && json_get_str(p, "defaultAction") &&
	    !json_object_get(p, "archMap"))
		return json_incref(p);
	json_t *o = json_object();
	json_object_set(o, "defaultAction", json_object_get(p, "defaultAction"));
	if (json_object_get(p, "defaultErrnoRet"))
		json_object_set(o, "defaultErrnoRet", json_object_get(p, "defaultErrnoRet"));
	json_t *arches = json_array();
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(p, "archMap"), i, v) {
		json_array_append(arches, json_object_get(v, "architecture"));
		json_array_extend(arches, json_object_get(v, "subArchitectures"));
	}
	if (json_array_size(arches) == 0)
		json_array_extend(arches, json_object_get(p, "architectures"));
	json_object_set_new(o, "architectures", arches);
	json_t *sys = json_array();
	json_array_foreach (json_object_get(p, "syscalls"), i, v) {
		json_t *inc = json_object_get(v, "includes");
		/* rules that only apply with a capability or arch are left out */
		if (json_object_size(inc) > 0)
			continue;
		json_t *e = json_object();
		json_object_set(e, "names", json_object_get(v, "names"));
		json_object_set(e, "action", json_object_get(v, "action"));
		if (json_object_get(v, "args"))
			json_object_set(e, "args", json_object_get(v, "args"));
		if (json_object_get(v, "errnoRet"))
			json_object_set(e, "errnoRet", json_object_get(v, "errnoRet"));
		json_array_append_new(sys, e);
	}
	json_object_set_new(o, "syscalls", sys);
	return o;
}

static int apply_security(json_t *spec, json_t *proc, json_t *linux_, json_t *host, bool privileged,
                          berth_error **err)
{
	if (privileged) {
		json_object_del(linux_, "maskedPaths");
		json_object_del(linux_, "readonlyPaths");
		json_object_del(linux_, "seccomp");
		/* /sys read-write */
		json_t *mounts = json_object_get(spec, "mounts");
		size_t i;
		json_t *m;
		json_array_foreach (mounts, i, m) {
			if (str_eq(json_get_str(m, "destination"), "/sys") ||
			    str_eq(json_get_str(m, "destination"), "/sys/fs/cgroup")) {
				json_t *o = json_object_get(m, "options");
				for (size_t k = 0; k < json_array_size(o); k++)
					if (str_eq(json_string_value(json_array_get(o, k)), "ro"))
						json_array_set_new(o, k, json_string("rw"));
			}
		}
	}
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(host, "SecurityOpt"), i, v) {
		const char *o = json_string_value(v);
		if (o == NULL)
			continue;
		if (!strcmp(o, "no-new-privileges") || !strcmp(o, "no-new-privileges:true") ||
		    !strcmp(o, "no-new-privileges=true")) {
			json_object_set_new(proc, "noNewPrivileges", json_true());
		} else if (!strcmp(o, "no-new-privileges:false") ||
		           !strcmp(o, "no-new-privileges=false")) {
			json_object_set_new(proc, "noNewPrivileges", json_false());
		} else if (!strcmp(o, "seccomp=unconfined") || !strcmp(o, "seccomp:unconfined")) {
			json_object_del(linux_, "seccomp");
		} else if (str_has_prefix(o, "seccomp=") || str_has_prefix(o, "seccomp:")) {
			/* the CLI inlines the profile's JSON, as Docker's does */
			_cleanup_json_ json_t *p = json_loads(o + 8, 0, NULL);
			if (!json_is_object(p))
				return berth_err(err, BERTH_E_INVALID,
				                 "Decoding seccomp profile failed: invalid JSON");
			json_object_set_new(linux_, "seccomp", seccomp_from_profile(p));
		} else if (str_has_prefix(o, "apparmor") || str_has_prefix(o, "label")) {
			/* no LSM here */
		} else {
			return berth_err(err, BERTH_E_INVALID, "invalid --security-opt: \"%s\"", o);
		}
	}
	return 0;
}

char *ctr_cgroups_path(const char *id)
{
	return xasprintf("/berth/%s", id);
}

json_t *ctr_build_spec(berth_store *s, const ctr_env *env, ctr_record *r, const char *rootfs,
                       berth_error **err)
{
	json_t *cfg = json_object_get(r->config, "Config");
	json_t *host = json_object_get(r->config, "HostConfig");
	json_t *spec = rt_default_spec(false);
	_cleanup_json_ json_t *guard = spec;
	if (spec == NULL) {
		berth_err(err, BERTH_E_GENERIC, "no default runtime spec");
		return NULL;
	}
	bool privileged = json_get_bool(host, "Privileged", false);
	json_t *proc = obj_child(spec, "process");
	json_t *linux_ = obj_child(spec, "linux");

	/* args */
	json_t *args = json_array();
	if (json_get_bool(host, "Init", false)) {
		json_array_append_new(args, json_string("/sbin/docker-init"));
		json_array_append_new(args, json_string("--"));
	}
	json_array_append(args, json_object_get(r->config, "Path"));
	json_array_extend(args, json_object_get(r->config, "Args"));
	json_object_set_new(proc, "args", args);
	bool tty = json_get_bool(cfg, "Tty", false);
	json_object_set_new(proc, "terminal", json_boolean(tty));
	const char *wd = json_get_str(cfg, "WorkingDir");
	json_object_set_new(proc, "cwd", json_string(wd && *wd ? wd : "/"));

	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		berth_err_sys(err, errno, "opening %s", rootfs);
		return NULL;
	}
	if (wd && *wd) {
		/* Docker creates a missing working directory */
		_cleanup_close_ int wfd = mkdir_in_root(rootfd, wd, 0755, NULL);
	}
	_cleanup_free_ char *home = NULL;
	if (ctr_apply_user(proc, rootfd, json_get_str(cfg, "User"),
	                   json_object_get(host, "GroupAdd"), &home, err) < 0)
		return NULL;

	/* env: PATH etc. from Config, then HOSTNAME, TERM, HOME as Docker adds them */
	json_t *envv = json_array();
	json_array_extend(envv, json_object_get(cfg, "Env"));
	bool has_home = false, has_term = false;
	size_t i;
	json_t *v;
	json_array_foreach (envv, i, v) {
		has_home |= str_has_prefix(json_string_value(v), "HOME=");
		has_term |= str_has_prefix(json_string_value(v), "TERM=");
	}
	const char *hostname = json_get_str(cfg, "Hostname");
	json_array_insert_new(envv, 1, json_sprintf("HOSTNAME=%s", hostname ? hostname : ""));
	if (tty && !has_term)
		json_array_append_new(envv, json_string("TERM=xterm"));
	if (!has_home)
		json_array_append_new(envv, json_sprintf("HOME=%s", home));
	json_object_set_new(proc, "env", envv);

	if (apply_caps(proc, host, privileged, err) < 0)
		return NULL;
	if (apply_ulimits(proc, json_object_get(host, "Ulimits"), err) < 0)
		return NULL;
	json_object_set_new(proc, "oomScoreAdj",
	                    json_integer(json_get_int(host, "OomScoreAdj", 0)));
	if (json_get_int(host, "OomScoreAdj", 0) == 0)
		json_object_del(proc, "oomScoreAdj");

	json_t *root = obj_child(spec, "root");
	json_object_set_new(root, "path", json_string(rootfs));
	json_object_set_new(root, "readonly",
	                    json_boolean(json_get_bool(host, "ReadonlyRootfs", false)));
	if (!str_eq(json_get_str(host, "UTSMode"), "host"))
		json_object_set_new(spec, "hostname", json_string(hostname ? hostname : ""));
	else
		json_object_del(spec, "hostname");
	const char *dn = json_get_str(cfg, "Domainname");
	if (dn && *dn)
		json_object_set_new(spec, "domainname", json_string(dn));

	if (apply_mounts(s, r, spec, host, err) < 0)
		return NULL;
	if (json_get_bool(host, "Init", false)) {
		_cleanup_free_ char *init = ctr_find_helper(env, "berth-init");
		if (init == NULL) {
			berth_err(err, BERTH_E_NOTFOUND, "berth-init not found (needed by --init)");
			return NULL;
		}
		add_mount(json_object_get(spec, "mounts"), "/sbin/docker-init", "bind", init,
		          json_pack("[s,s,s]", "bind", "ro", "rprivate"));
	}
	if (apply_namespaces(s, linux_, host, err) < 0)
		return NULL;
	json_t *idm = json_object_get(r->config, "IdMappings");
	if (idm) {
		/* userns-remap: a user namespace of its own, created with the others */
		json_array_append_new(json_object_get(linux_, "namespaces"),
		                      json_pack("{s:s}", "type", "user"));
		json_object_set(linux_, "uidMappings", json_object_get(idm, "uidMappings"));
		json_object_set(linux_, "gidMappings", json_object_get(idm, "gidMappings"));
	}
	apply_resources(linux_, host);
	if (apply_devices(linux_, host, privileged, err) < 0)
		return NULL;
	if (apply_security(spec, proc, linux_, host, privileged, err) < 0)
		return NULL;
	_cleanup_free_ char *cg = ctr_cgroups_path(r->id);
	json_object_set_new(linux_, "cgroupsPath", json_string(cg));
	return steal_ptr(guard);
}
