/* Glue between the runtime and the cgroup module (cgroup.h). */
#include <errno.h>
#include <time.h>
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/rt_cgroup.h"
#include "runtime/cgroup.h"

/* Work made ahead of a start (runtime.h, rt_prep). */
struct rt_prep {
	pthread_t thread, net_thread;
	bool running, net_running;
	char *cgroups_path, *id;
	bool want_netns;
	int netns_fd;
	cgroup_handle *cg; /* cgroup_premake's, or NULL once rt_cg_create took it */
	/* the host's hierarchies (rt_cg_host_layout) */
	bool layout_read, layout_v2_only;
	char **layout;
};

static bool prep_matches(const rt_prep *p, const rt_spec *s, const char *id)
{
	return p && p->cg && !p->running && str_eq(p->id, id) &&
	       str_eq(p->cgroups_path, s->cgroups_path);
}

static json_t *dev_rule(const char *type, long long major, long long minor, const char *access)
{
	json_t *r = json_pack("{s:b,s:s,s:s}", "allow", 1, "type", type, "access", access);
	if (major >= 0)
		json_object_set_new(r, "major", json_integer(major));
	if (minor >= 0)
		json_object_set_new(r, "minor", json_integer(minor));
	return r;
}

/* linux.resources with the devices every container gets (and those in
 * linux.devices) allowed after the config's own device rules, as runc. */
static json_t *with_default_devices(const rt_spec *s)
{
	json_t *res = s->resources;
	json_t *devs = json_object_get(res, "devices");
	if (!json_is_array(devs))
		return json_incref(res);
	json_t *copy = json_deep_copy(res);
	json_t *d = json_object_get(copy, "devices");
	static const struct {
		const char *type;
		long long major, minor;
		const char *access;
	} defaults[] = {
	    {"c", -1, -1, "m"},    {"b", -1, -1, "m"}, {"c", 1, 3, "rwm"},    {"c", 1, 5, "rwm"},
	    {"c", 1, 7, "rwm"},    {"c", 5, 0, "rwm"}, {"c", 1, 9, "rwm"},    {"c", 1, 8, "rwm"},
	    {"c", 136, -1, "rwm"}, {"c", 5, 2, "rwm"}, {"c", 10, 200, "rwm"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		json_array_append_new(d, dev_rule(defaults[i].type, defaults[i].major,
		                                  defaults[i].minor, defaults[i].access));
	for (size_t i = 0; i < s->ndevices; i++) {
		char t[2] = {s->devices[i].type == 'u' ? 'c' : s->devices[i].type, 0};
		if (t[0] == 'p')
			continue;
		json_array_append_new(d,
		                      dev_rule(t, s->devices[i].major, s->devices[i].minor, "rwm"));
	}
	return copy;
}

int rt_cg_create(const rt_spec *s, const char *id, rt_prep *prep, char **path, char ***dirs,
                 rt_cg_join *j, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	_cleanup_json_ json_t *res = with_default_devices(s);
	/* all before the child joins, the devices rules above all (it makes
	 * /dev's nodes) */
	if (prep_matches(prep, s, id)) {
		/* ours now, whatever happens: a failure removes them */
		h = steal_ptr(prep->cg);
		if (cgroup_create_premade(h, res, err) < 0)
			return -1;
	} else if (cgroup_create(s->cgroups_path, id, res, 0, &h, err) < 0) {
		return -1;
	}
	if (cgroup_join_fds(h, &j->fds, &j->n, &j->v2dir, err) < 0) {
		_cleanup_error_ berth_error *e2 = NULL;
		cgroup_destroy(h, &e2);
		return -1;
	}
	*path = xstrdup(cgroup_path(h));
	if (dirs)
		*dirs = cgroup_dirs(h);
	return 0;
}

static int open_rec(const rt_state_rec *rec, cgroup_handle **h, berth_error **err)
{
	if (rec->cgroup_path == NULL)
		return berth_err(err, BERTH_E_NOTFOUND, "container %s has no cgroup", rec->id);
	return cgroup_open(rec->cgroup_path, rec->id, h, err);
}

int rt_cg_join_open(const rt_state_rec *rec, rt_cg_join *j, bool *frozen, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	if (open_rec(rec, &h, err) < 0)
		return -1;
	if (frozen) {
		_cleanup_error_ berth_error *e = NULL;
		if (cgroup_get_state(h, frozen, &e) < 0)
			*frozen = false;
	}
	return cgroup_join_fds(h, &j->fds, &j->n, &j->v2dir, err);
}

void rt_cg_join_close(rt_cg_join *j)
{
	for (size_t i = 0; i < j->n; i++)
		close(j->fds[i]);
	free(j->fds);
	j->fds = NULL;
	j->n = 0;
	if (j->v2dir >= 0)
		close(j->v2dir);
	j->v2dir = -1;
}

long rt_cg_clone(unsigned long flags, rt_cg_join *j, berth_error **err)
{
	if (j->v2dir >= 0) {
		struct clone_args ca;
		memset(&ca, 0, sizeof(ca));
		ca.flags = flags | CLONE_INTO_CGROUP;
		ca.exit_signal = SIGCHLD;
		ca.cgroup = (uint64_t)j->v2dir;
		long c = syscall(SYS_clone3, &ca, sizeof(ca));
		if (c >= 0)
			return c;
		/* a kernel before 5.7 (no clone3 or no CLONE_INTO_CGROUP): the
		 * child joins through cgroup.procs */
		if (errno != ENOSYS && errno != EINVAL && errno != E2BIG)
			return berth_err_sys(err, errno, "clone");
		if (cgroup_join_procs_fallback(j->v2dir, j->fds, &j->n, err) < 0)
			return -1;
		close(j->v2dir);
		j->v2dir = -1;
	}
	long c = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
	if (c < 0)
		return berth_err_sys(err, errno, "clone");
	return c;
}

int rt_cg_freeze(const rt_state_rec *rec, bool frozen, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	if (open_rec(rec, &h, err) < 0)
		return -1;
	return cgroup_freeze(h, frozen, err);
}

bool rt_cgroup_is_frozen(const rt_state_rec *rec)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	bool frozen = false;
	if (rec->cgroup_path == NULL || open_rec(rec, &h, &e) < 0)
		return false;
	if (cgroup_get_state(h, &frozen, &e) < 0)
		return false;
	return frozen;
}

int rt_cg_kill_all(const rt_state_rec *rec, int sig, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	if (open_rec(rec, &h, err) < 0)
		return -1;
	return cgroup_kill_all(h, sig, err);
}

int rt_cg_pids(const rt_state_rec *rec, pid_t **pids, size_t *n, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	if (open_rec(rec, &h, err) < 0)
		return -1;
	return cgroup_pids(h, pids, n, err);
}

int rt_cg_destroy(const char *path, const char *id, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	berth_error *e = NULL;
	if (path == NULL)
		return 0;
	if (cgroup_open(path, id, &h, &e) < 0) {
		int code = e->code;
		if (code == BERTH_E_NOTFOUND) {
			berth_error_free(e);
			return 0;
		}
		if (err && *err == NULL)
			*err = e;
		else
			berth_error_free(e);
		return -1;
	}
	return cgroup_destroy(h, err);
}

/* The host's cgroup hierarchies from /proc/self/mountinfo: v1 ones by
 * their directory under /sys/fs/cgroup, and the cgroup2 one. */
/* The hierarchies from the mount table: *v2_only, or *list (strv). */
static int host_layout(bool *v2_only, char ***list_out, berth_error **err)
{
	*list_out = NULL;
	_cleanup_free_ char *mi = NULL;
	if (read_file("/proc/self/mountinfo", &mi, NULL, err) < 0)
		return -1;
	bool v1 = false, v2 = false;
	char *save = NULL;
	char **list = NULL;
	for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		char fstype[32] = "", source[64] = "", super[256] = "";
		if (sscanf(dash + 3, "%31s %63s %255s", fstype, source, super) < 2)
			continue;
		char root[256], mp[512];
		if (sscanf(line, "%*d %*d %*s %255s %511s", root, mp) != 2)
			continue;
		if (!str_has_prefix(mp, "/sys/fs/cgroup/"))
			continue;
		const char *name = mp + strlen("/sys/fs/cgroup/");
		if (strchr(name, '/'))
			continue;
		if (!strcmp(fstype, "cgroup2")) {
			v2 = true;
			_cleanup_free_ char *e = xasprintf("%s\tcgroup2", name);
			list = strv_append(list, e);
		} else if (!strcmp(fstype, "cgroup")) {
			v1 = true;
			/* keep only the controller / name= options */
			_cleanup_sb_ strbuf o;
			sb_init(&o);
			char *s2 = NULL;
			for (char *opt = strtok_r(super, ",", &s2); opt;
			     opt = strtok_r(NULL, ",", &s2)) {
				if (!strcmp(opt, "rw") || !strcmp(opt, "ro") ||
				    str_has_prefix(opt, "release_agent") ||
				    !strcmp(opt, "clone_children") || !strcmp(opt, "noprefix") ||
				    !strcmp(opt, "xattr"))
					continue;
				if (o.len)
					sb_appendc(&o, ',');
				sb_append(&o, opt);
			}
			_cleanup_free_ char *e = xasprintf("%s\t%s", name, o.buf ? o.buf : "");
			list = strv_append(list, e);
		}
	}
	/* neither: cgroup2 mounted on /sys/fs/cgroup itself */
	*v2_only = !v1 && !v2;
	if (*v2_only)
		strv_free(list);
	else
		*list_out = list;
	return 0;
}

int rt_cg_host_layout(rt_spec *s, const rt_prep *p, berth_error **err)
{
	/* read ahead by the work made ahead (the same mounts: its mount
	 * namespace is ours or the one ours was copied from) */
	if (p && !p->running && p->layout_read) {
		s->cgroup_v2_only = p->layout_v2_only;
		s->cgroup_v1 = strv_dup(p->layout);
		return 0;
	}
	char **list = NULL;
	if (host_layout(&s->cgroup_v2_only, &list, err) < 0)
		return -1;
	s->cgroup_v1 = list;
	return 0;
}

/* ---- work made ahead of a start (runtime.h, rt_prep) ---- */

int rt_prep_netns(const rt_prep *p)
{
	return p && !p->running && !p->net_running ? p->netns_fd : -1;
}

static void *prep_net_main(void *arg)
{
	rt_prep *p = arg;
	/* unshare in this thread only: the namespace outlives it by the fd */
	if (unshare(CLONE_NEWNET) == 0)
		p->netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	return NULL;
}

static void *prep_main(void *arg)
{
	rt_prep *p = arg;
	berth_error *e = NULL;
	if (cgroup_premake(p->cgroups_path, p->id, &p->cg, &e) < 0)
		p->cg = NULL;
	berth_error_free(e);
	e = NULL;
	p->layout_read = host_layout(&p->layout_v2_only, &p->layout, &e) == 0;
	berth_error_free(e);
	return NULL;
}

rt_prep *rt_prep_begin(const char *cgroups_path, const char *id, bool netns)
{
	rt_prep *p = xcalloc(1, sizeof(*p));
	p->cgroups_path = xstrdup(cgroups_path);
	p->id = xstrdup(id);
	p->want_netns = netns;
	p->netns_fd = -1;
	/* best effort: without the thread, the runtime does it all itself */
	p->running = pthread_create(&p->thread, NULL, prep_main, p) == 0;
	return p;
}

void rt_prep_netns_begin(rt_prep *p)
{
	if (p && p->want_netns && !p->net_running && p->netns_fd < 0)
		p->net_running = pthread_create(&p->net_thread, NULL, prep_net_main, p) == 0;
}

void rt_prep_wait(rt_prep *p)
{
	if (p && p->running) {
		pthread_join(p->thread, NULL);
		p->running = false;
	}
	if (p && p->net_running) {
		pthread_join(p->net_thread, NULL);
		p->net_running = false;
	}
}

static void prep_release(rt_prep *p, bool destroy)
{
	if (p == NULL)
		return;
	rt_prep_wait(p);
	if (p->cg && destroy) {
		_cleanup_error_ berth_error *e = NULL;
		cgroup_destroy(p->cg, &e);
	}
	cgroup_handle_free(p->cg);
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	strv_free(p->layout);
	free(p->cgroups_path);
	free(p->id);
	free(p);
}

void rt_prep_free(rt_prep *p)
{
	prep_release(p, true);
}

void rt_prep_disown(rt_prep *p)
{
	prep_release(p, false);
}

void rt_cg_sweep_orphans(const char *parent, int min_age_s,
                         bool (*known)(const char *id, void *arg), void *arg)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (cgroup_open(parent, NULL, &h, &e) < 0)
		return;
	/* the names, from the first directory (they are alike in all) */
	_cleanup_strv_ char **dirs = cgroup_dirs(h);
	const char *first = dirs ? dirs[0] : NULL;
	_cleanup_closedir_ DIR *d = first ? opendir(first) : NULL;
	if (d == NULL)
		return;
	time_t now = time(NULL);
	for (struct dirent *de; (de = readdir(d));) {
		const char *id = de->d_name;
		if (strlen(id) != 64 || strspn(id, "0123456789abcdef") != 64)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", first, id);
		_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", p);
		struct stat st, ps;
		/* not one just made ahead for a start, not one in use */
		if (stat(p, &st) < 0 || now - st.st_mtime < min_age_s || stat(procs, &ps) < 0 ||
		    (known && known(id, arg)))
			continue;
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		_cleanup_error_ berth_error *re = NULL;
		if (read_file(procs, &text, &len, &re) < 0 || len != 0)
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", parent, id);
		_cleanup_error_ berth_error *de2 = NULL;
		rt_cg_destroy(path, id, &de2);
	}
}
