/* Control groups: host detection, path rules, creation, membership,
 * freezing, signalling, statistics and removal. The per-version resource
 * writers live in cgroup_v1.c and cgroup_v2.c, the v2 device filter in
 * cgroup_bpf.c. */
#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/cgroup_internal.h"

/* ---- file helpers ---- */

int cg_write(int dfd, const char *file, const char *val, const char *field, berth_error **err)
{
	_cleanup_close_ int fd = -1;
	return cg_write_keep(dfd, file, &fd, val, field, err);
}

int cg_write_keep(int dfd, const char *file, int *fdp, const char *val, const char *field,
                  berth_error **err)
{
	if (*fdp < 0)
		*fdp = openat(dfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	int fd = *fdp;
	if (fd < 0) {
		if (errno == ENOENT)
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "%s: not supported by this host's cgroups (no %s)", field,
			                 file);
		return berth_err_sys(err, errno, "%s: opening %s", field, file);
	}
	size_t len = strlen(val);
	ssize_t w;
	do {
		w = write(fd, val, len);
	} while (w < 0 && errno == EINTR);
	if (w < 0)
		return berth_err_sys(err, errno, "%s: writing \"%s\" to %s", field, val, file);
	if ((size_t)w != len)
		return berth_err(err, BERTH_E_IO, "%s: short write to %s", field, file);
	return 0;
}

int cg_writef(int dfd, const char *file, const char *field, berth_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *v = xvasprintf(fmt, ap);
	va_end(ap);
	return cg_write(dfd, file, v, field, err);
}

int cg_read(int dfd, const char *file, char **out, berth_error **err)
{
	size_t len = 0;
	return read_file_at(dfd, file, out, &len, err);
}

bool cg_exists(int dfd, const char *file)
{
	return faccessat(dfd, file, F_OK, 0) == 0;
}

uint64_t cg_read_u64(int dfd, const char *file)
{
	_cleanup_free_ char *s = NULL;
	berth_error *e = NULL;
	if (cg_read(dfd, file, &s, &e) < 0) {
		berth_error_free(e);
		return 0;
	}
	if (str_has_prefix(s, "max"))
		return UINT64_MAX;
	return strtoull(s, NULL, 10);
}

uint64_t cg_read_keyed(int dfd, const char *file, const char *key)
{
	_cleanup_free_ char *s = NULL;
	berth_error *e = NULL;
	if (cg_read(dfd, file, &s, &e) < 0) {
		berth_error_free(e);
		return 0;
	}
	size_t kl = strlen(key);
	for (char *line = s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			return strtoull(line + kl + 1, NULL, 10);
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

bool cg_jint(const json_t *o, const char *k, int64_t *v)
{
	json_t *x = o ? json_object_get(o, k) : NULL;
	if (!x || !json_is_integer(x))
		return false;
	*v = json_integer_value(x);
	return true;
}

int cg_jcheck_int(const json_t *o, const char *k, const char *field, berth_error **err)
{
	json_t *x = json_object_get(o, k);
	if (x && !json_is_null(x) && !json_is_integer(x))
		return berth_err(err, BERTH_E_INVALID, "%s.%s: expected an integer", field, k);
	return 0;
}

/* ---- host detection ---- */

void cg_layout_clear(struct cg_layout *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->h[i].mountpoint);
		free(l->h[i].root);
		strv_free(l->h[i].ctrls);
		free(l->h[i].own);
	}
	free(l->h);
	strv_free(l->known);
	*l = (struct cg_layout){0};
}

static void cg_layout_clearp(struct cg_layout *l)
{
	cg_layout_clear(l);
}
#define _cleanup_layout_ __attribute__((cleanup(cg_layout_clearp)))

/* Iterate over lines, NUL-terminating each in place. */
static char *next_line(char **cursor)
{
	char *line = *cursor;
	if (line == NULL || *line == '\0')
		return NULL;
	char *nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = NULL;
	}
	return line;
}

int cg_parse_proc_cgroups(const char *buf, struct cg_layout *l, berth_error **err)
{
	_cleanup_free_ char *copy = xstrdup(buf);
	char *cur = copy, *line;
	while ((line = next_line(&cur))) {
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char name[64];
		unsigned hier, num, enabled;
		if (sscanf(line, "%63s %u %u %u", name, &hier, &num, &enabled) != 4)
			return berth_err(err, BERTH_E_CORRUPT, "/proc/cgroups: bad line \"%s\"",
			                 line);
		if (enabled && !strv_contains(l->known, name))
			l->known = strv_append(l->known, name);
	}
	return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static bool layout_has_dev(const struct cg_layout *l, unsigned maj, unsigned min)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->h[i].dev_major == maj && l->h[i].dev_minor == min)
			return true;
	return false;
}

int cg_parse_mountinfo(const char *buf, struct cg_layout *l, berth_error **err)
{
	_cleanup_free_ char *copy = xstrdup(buf);
	char *cur = copy, *line;
	while ((line = next_line(&cur))) {
		_cleanup_strv_ char **f = str_split(line, ' ');
		size_t nf = strv_len(f), sep = 0;
		for (size_t i = 6; i < nf; i++)
			if (strcmp(f[i], "-") == 0) {
				sep = i;
				break;
			}
		if (sep == 0 || sep + 3 >= nf)
			continue;
		const char *fstype = f[sep + 1], *super = f[sep + 3];
		bool v2 = strcmp(fstype, "cgroup2") == 0;
		if (!v2 && strcmp(fstype, "cgroup") != 0)
			continue;
		unsigned maj, min;
		if (sscanf(f[2], "%u:%u", &maj, &min) != 2)
			return berth_err(err, BERTH_E_CORRUPT, "mountinfo: bad device \"%s\"",
			                 f[2]);
		if (layout_has_dev(l, maj, min))
			continue; /* the same hierarchy mounted again */
		char **ctrls = NULL;
		if (!v2) {
			_cleanup_strv_ char **opts = str_split(super, ',');
			for (char **o = opts; o && *o; o++)
				if (str_has_prefix(*o, "name=") || strv_contains(l->known, *o))
					ctrls = strv_append(ctrls, *o);
			if (ctrls == NULL)
				continue;
		}
		l->h = xreallocarray(l->h, l->n + 1, sizeof(*l->h));
		l->h[l->n++] = (struct cg_hier){
		    .mountpoint = unescape_octal(f[4]),
		    .root = unescape_octal(f[3]),
		    .ctrls = ctrls,
		    .dev_major = maj,
		    .dev_minor = min,
		    .v2 = v2,
		};
	}
	return 0;
}

static struct cg_hier *hier_with(struct cg_layout *l, const char *ctrl, bool v2)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->h[i].v2 == v2 && (v2 || strv_contains(l->h[i].ctrls, ctrl)))
			return &l->h[i];
	return NULL;
}

int cg_parse_proc_self_cgroup(const char *buf, struct cg_layout *l, berth_error **err)
{
	_cleanup_free_ char *copy = xstrdup(buf);
	char *cur = copy, *line;
	while ((line = next_line(&cur))) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			return berth_err(err, BERTH_E_CORRUPT, "/proc/self/cgroup: bad line \"%s\"",
			                 line);
		*c2 = '\0';
		const char *ctrls = c1 + 1, *path = c2 + 1;
		struct cg_hier *h = NULL;
		if (*ctrls == '\0') {
			h = hier_with(l, NULL, true);
		} else {
			_cleanup_strv_ char **cs = str_split(ctrls, ',');
			for (char **c = cs; c && *c && h == NULL; c++)
				h = hier_with(l, *c, false);
		}
		if (h && h->own == NULL)
			h->own = xstrdup(path);
	}
	return 0;
}

static void layout_finish(struct cg_layout *l)
{
	bool v1ctrl = false, v2 = false;
	for (size_t i = 0; i < l->n; i++) {
		if (l->h[i].v2)
			v2 = true;
		for (char **c = l->h[i].ctrls; !l->h[i].v2 && c && *c; c++)
			if (!str_has_prefix(*c, "name="))
				v1ctrl = true;
		if (l->h[i].own == NULL)
			l->h[i].own = xstrdup("/");
	}
	l->unified = v2 && !v1ctrl;
}

int cg_detect(struct cg_layout *l, berth_error **err)
{
	_cleanup_free_ char *cgroups = NULL, *mountinfo = NULL, *self = NULL;
	if (read_file("/proc/cgroups", &cgroups, NULL, err) < 0 ||
	    read_file("/proc/self/mountinfo", &mountinfo, NULL, err) < 0 ||
	    read_file("/proc/self/cgroup", &self, NULL, err) < 0)
		return berth_err_prefix(err, "detecting cgroups");
	if (cg_parse_proc_cgroups(cgroups, l, err) < 0 ||
	    cg_parse_mountinfo(mountinfo, l, err) < 0 ||
	    cg_parse_proc_self_cgroup(self, l, err) < 0)
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		if (!l->h[i].v2)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/cgroup.controllers", l->h[i].mountpoint);
		_cleanup_free_ char *s = NULL;
		berth_error *e = NULL;
		if (read_file(p, &s, NULL, &e) == 0) {
			_cleanup_strv_ char **w = str_split(s, ' ');
			for (char **c = w; c && *c; c++) {
				char *nl = strchr(*c, '\n');
				if (nl)
					*nl = '\0';
				if (**c)
					l->h[i].ctrls = strv_append(l->h[i].ctrls, *c);
			}
		}
		berth_error_free(e);
	}
	layout_finish(l);
	if (l->n == 0)
		return berth_err(err, BERTH_E_UNSUPPORTED, "no cgroup hierarchy is mounted");
	return 0;
}

/* ---- path rules ---- */

/* Clean a cgroupsPath: collapse "//" and ".", refuse "..". Keeps a leading
 * "/" when absolute. */
static int clean_path(const char *p, char **out, berth_error **err)
{
	_cleanup_strv_ char **parts = str_split(p, '/');
	_cleanup_sb_ strbuf sb = {0};
	if (p[0] == '/')
		sb_append(&sb, "/");
	bool first = true;
	for (char **c = parts; c && *c; c++) {
		if (**c == '\0' || strcmp(*c, ".") == 0)
			continue;
		if (strcmp(*c, "..") == 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.cgroupsPath \"%s\": \"..\" is not allowed", p);
		if (!first)
			sb_append(&sb, "/");
		sb_append(&sb, *c);
		first = false;
	}
	if (first && p[0] != '/')
		return berth_err(err, BERTH_E_INVALID, "linux.cgroupsPath \"%s\" is empty", p);
	*out = sb_steal(&sb);
	return 0;
}

static char *join_path(const char *a, const char *b)
{
	size_t al = strlen(a);
	while (al > 0 && a[al - 1] == '/')
		al--;
	while (*b == '/')
		b++;
	if (*b == '\0')
		return al ? xstrndup(a, al) : xstrdup("/");
	return xasprintf("%.*s/%s", (int)al, a, b);
}

/* The path inside the hierarchy and the directory on disk for one
 * hierarchy, by runc's rules. */
static void resolve_in(const struct cg_hier *hi, const char *clean, char **cgpath, char **fs)
{
	_cleanup_free_ char *inner = NULL;
	if (clean[0] == '/')
		inner = xstrdup(clean);
	else
		inner = join_path(hi->own, clean);
	const char *below = inner;
	if (clean[0] != '/' && strcmp(hi->root, "/") != 0 && str_has_prefix(inner, hi->root) &&
	    (inner[strlen(hi->root)] == '/' || inner[strlen(hi->root)] == '\0'))
		below = inner + strlen(hi->root);
	*fs = join_path(hi->mountpoint, below);
	*cgpath = steal_ptr(inner);
}

static bool hier_selected(const struct cg_layout *l, const struct cg_hier *hi)
{
	/* v2 host: only the unified hierarchy; v1/hybrid: every v1 hierarchy
	 * plus the cgroup2 one (for controllers bound there, cgroup.kill). */
	return l->unified ? hi->v2 : true;
}

static void dir_clear(struct cg_dir *d)
{
	strv_free(d->ctrls);
	free(d->fs);
	free(d->mountpoint);
	if (d->dfd >= 0)
		close(d->dfd);
	if (d->tasks_fd >= 0)
		close(d->tasks_fd);
}

void cgroup_handle_free(cgroup_handle *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		dir_clear(&h->d[i]);
	free(h->d);
	free(h->path);
	free(h);
}

static void read_v2_ctrls(struct cg_dir *d)
{
	strv_free(d->ctrls);
	d->ctrls = NULL;
	_cleanup_free_ char *s = NULL;
	berth_error *e = NULL;
	if (cg_read(d->dfd, "cgroup.controllers", &s, &e) < 0) {
		berth_error_free(e);
		return;
	}
	char *save = NULL;
	for (char *tok = strtok_r(s, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		d->ctrls = strv_append(d->ctrls, tok);
}

/* Key of a hierarchy in the per-hierarchy form of cgroup_path(): its
 * first controller, "" for cgroup2. */
static const char *hier_key(const struct cg_hier *hi)
{
	return hi->v2 ? "" : hi->ctrls[0];
}

/* "@key=/path;key=/path": the in-hierarchy path for hierarchy hi, or NULL. */
static char *encoded_lookup(const char *enc, const struct cg_hier *hi)
{
	_cleanup_strv_ char **ents = str_split(enc + 1, ';');
	/* keys may hold '=' themselves ("name=systemd"): match "key=/" */
	const char *key = hier_key(hi);
	size_t klen = strlen(key);
	for (char **e = ents; e && *e; e++) {
		if (strncmp(*e, key, klen) == 0 && (*e)[klen] == '=' && (*e)[klen + 1] == '/')
			return xstrdup(*e + klen + 1);
	}
	return NULL;
}

static int build_handle(const char *cgroups_path, const char *id, cgroup_handle **out,
                        berth_error **err)
{
	_cleanup_layout_ struct cg_layout l = {0};
	if (cg_detect(&l, err) < 0)
		return -1;
	_cleanup_free_ char *given = NULL, *clean = NULL;
	if (cgroups_path == NULL || *cgroups_path == '\0') {
		if (id == NULL || *id == '\0' || strchr(id, '/') || strcmp(id, "..") == 0 ||
		    strcmp(id, ".") == 0)
			return berth_err(err, BERTH_E_INVALID, "invalid container id for cgroup");
		given = xasprintf("/berth/%s", id);
		cgroups_path = given;
	}
	bool encoded = cgroups_path[0] == '@';
	if (!encoded && clean_path(cgroups_path, &clean, err) < 0)
		return -1;
	if (!encoded && strcmp(clean, "/") == 0)
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.cgroupsPath \"%s\": the root cgroup cannot be used",
		                 cgroups_path);
	_cleanup_cgroup_ cgroup_handle *h = xcalloc(1, sizeof(*h));
	h->v2host = l.unified;
	_cleanup_sb_ strbuf enc = {0};
	sb_append(&enc, "@");
	char *main_path = NULL;
	bool uniform = true;
	for (size_t i = 0; i < l.n; i++) {
		if (!hier_selected(&l, &l.h[i]))
			continue;
		_cleanup_free_ char *cgpath = NULL, *fs = NULL;
		if (encoded) {
			_cleanup_free_ char *raw = encoded_lookup(cgroups_path, &l.h[i]);
			if (raw == NULL)
				continue;
			if (clean_path(raw, &cgpath, err) < 0)
				return -1;
			fs = join_path(l.h[i].mountpoint, cgpath);
		} else {
			resolve_in(&l.h[i], clean, &cgpath, &fs);
		}
		sb_printf(&enc, "%s%s=%s", enc.len > 1 ? ";" : "", hier_key(&l.h[i]), cgpath);
		h->d = xreallocarray(h->d, h->n + 1, sizeof(*h->d));
		h->d[h->n++] = (struct cg_dir){
		    .ctrls = strv_dup(l.h[i].ctrls),
		    .fs = steal_ptr(fs),
		    .mountpoint = xstrdup(l.h[i].mountpoint),
		    .dfd = -1,
		    .tasks_fd = -1,
		    .v2 = l.h[i].v2,
		};
		if (main_path == NULL)
			main_path = xstrdup(cgpath);
		else if (strcmp(main_path, cgpath) != 0)
			uniform = false;
	}
	if (h->n == 0) {
		free(main_path);
		return berth_err(err, BERTH_E_NOTFOUND,
		                 "cgroup path \"%s\" names no hierarchy here", cgroups_path);
	}
	/* One path for all hierarchies reads as itself; otherwise (a
	 * relative path below differing own cgroups) the per-hierarchy form. */
	if (uniform) {
		h->path = main_path;
	} else {
		free(main_path);
		h->path = sb_steal(&enc);
	}
	*out = steal_ptr(h);
	return 0;
}

static int open_dirs(cgroup_handle *h, berth_error **err)
{
	for (size_t i = 0; i < h->n; i++) {
		if (h->d[i].dfd >= 0)
			continue;
		h->d[i].dfd = open(h->d[i].fs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (h->d[i].dfd < 0)
			return berth_err_sys(err, errno, "opening cgroup %s", h->d[i].fs);
		if (h->d[i].v2)
			read_v2_ctrls(&h->d[i]);
	}
	return 0;
}

struct cg_dir *cg_find(cgroup_handle *h, const char *c)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < h->n; i++)
			if (h->d[i].v2 == (pass == 1) && strv_contains(h->d[i].ctrls, c))
				return &h->d[i];
	return NULL;
}

struct cg_dir *cg_v2dir(cgroup_handle *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->d[i].v2)
			return &h->d[i];
	return NULL;
}

int cg_handle_v2_dir(const char *dir, cgroup_handle **out, berth_error **err)
{
	cgroup_handle *h = xcalloc(1, sizeof(*h));
	h->v2host = true;
	h->path = xstrdup("/");
	h->d = xcalloc(1, sizeof(*h->d));
	h->n = 1;
	h->d[0] = (struct cg_dir){
	    .fs = xstrdup(dir), .mountpoint = xstrdup(dir), .dfd = -1, .tasks_fd = -1, .v2 = true};
	if (open_dirs(h, err) < 0) {
		cgroup_handle_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

/* Enable the controllers the parent offers in its subtree, one at a time
 * so that one refusal does not block the rest: all of them on a v2 host (as
 * runc does), only those in want on a hybrid host (want NULL: all). A
 * controller enabled on cgroup2 cannot be mounted as v1 while any cgroup
 * uses it, so hybrid hosts get only what a container asked for. */
static void v2_enable_subtree(int pfd, char *const *want, bool all)
{
	_cleanup_free_ char *avail = NULL, *on = NULL;
	berth_error *e = NULL;
	if (cg_read(pfd, "cgroup.controllers", &avail, &e) < 0 ||
	    cg_read(pfd, "cgroup.subtree_control", &on, &e) < 0) {
		berth_error_free(e);
		return;
	}
	_cleanup_strv_ char **have = NULL;
	char *save = NULL;
	for (char *t = strtok_r(on, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		have = strv_append(have, t);
	for (char *t = strtok_r(avail, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		if (strv_contains(have, t) || (!all && !strv_contains(want, t)))
			continue;
		if (cg_writef(pfd, "cgroup.subtree_control", "cgroup.subtree_control", &e, "+%s",
		              t) < 0)
			log_debug("cgroup: enabling %s: %s", t, e->msg);
		berth_error_clear(&e);
	}
}

/* Directories created by this call, deepest last, for rollback. */
struct created {
	char **paths;
};

static void rollback(struct created *c)
{
	for (size_t i = strv_len(c->paths); i > 0; i--)
		if (rmdir(c->paths[i - 1]) < 0)
			log_debug("cgroup rollback: rmdir %s: %s", c->paths[i - 1],
			          strerror(errno));
	strv_free(c->paths);
	c->paths = NULL;
}

/* cpuset.cpus and cpuset.mems of a new v1 cpuset cgroup, from its parent */
static int cpuset_fill(struct cg_dir *d, berth_error **err)
{
	_cleanup_free_ char *parent = xstrdup(d->fs);
	*strrchr(parent, '/') = '\0';
	_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int lfd = open(d->fs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || lfd < 0)
		return berth_err_sys(err, errno, "opening cgroup %s", d->fs);
	if (cg_v1_cpuset_init(lfd, pfd, err) < 0)
		return berth_err_prefix(err, "cgroup %s", d->fs);
	return 0;
}

static int make_dir(struct cg_dir *d, struct created *c, char *const *want, bool all,
                    berth_error **err)
{
	bool cpuset = !d->v2 && strv_contains(d->ctrls, "cpuset");
	if (d->premade) {
		/* cgroup_premake made the leaf (cpuset filled in), below parents
		 * that existed */
		c->paths = strv_append(c->paths, d->fs);
		return 0;
	}
	const char *rel = d->fs + strlen(d->mountpoint);
	_cleanup_close_ int cur = open(d->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return berth_err_sys(err, errno, "opening %s", d->mountpoint);
	_cleanup_strv_ char **parts = str_split(rel, '/');
	_cleanup_sb_ strbuf sofar = {0};
	sb_append(&sofar, d->mountpoint);
	for (char **p = parts; p && *p; p++) {
		if (**p == '\0')
			continue;
		sb_printf(&sofar, "/%s", *p);
		if (d->v2)
			v2_enable_subtree(cur, want, all);
		bool made = false;
		if (mkdirat(cur, *p, 0755) == 0) {
			made = true;
			c->paths = strv_append(c->paths, sofar.buf);
		} else if (errno != EEXIST) {
			return berth_err_sys(err, errno, "creating cgroup %s", sofar.buf);
		}
		int next = openat(cur, *p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (next < 0)
			return berth_err_sys(err, errno, "opening cgroup %s", sofar.buf);
		if (cpuset && (made || p[1] == NULL) && cg_v1_cpuset_init(next, cur, err) < 0) {
			close(next);
			return berth_err_prefix(err, "cgroup %s", sofar.buf);
		}
		close(cur);
		cur = next;
	}
	return 0;
}

/* On a hybrid host: the cgroup2 controllers resources need because no v1
 * hierarchy has them (hugetlb here), and those named by unified keys. */
static char **v2_wanted(cgroup_handle *h, json_t *res)
{
	static const char *const groups[][2] = {{"hugepageLimits", "hugetlb"},
	                                        {"rdma", "rdma"},
	                                        {"memory", "memory"},
	                                        {"pids", "pids"},
	                                        {"cpu", "cpu"},
	                                        {"cpu", "cpuset"},
	                                        {"blockIO", "io"}};
	char **want = NULL;
	if (h->v2host || !json_is_object(res))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		json_t *v = json_object_get(res, groups[i][0]);
		const char *v1name = strcmp(groups[i][1], "io") == 0 ? "blkio" : groups[i][1];
		struct cg_dir *d = cg_find(h, v1name);
		if (v == NULL || json_is_null(v) || (d && !d->v2))
			continue;
		if ((json_is_array(v) && json_array_size(v)) ||
		    (json_is_object(v) && json_object_size(v)))
			want = strv_append(want, groups[i][1]);
	}
	const char *key;
	json_t *v;
	json_object_foreach (json_object_get(res, "unified"), key, v) {
		_cleanup_free_ char *ctrl = xstrndup(key, strcspn(key, "."));
		if (!strv_contains(want, ctrl))
			want = strv_append(want, ctrl);
	}
	return want;
}

int cgroup_enter(cgroup_handle *h, pid_t pid, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	for (size_t i = 0; i < h->n; i++)
		if (cg_writef(h->d[i].dfd, "cgroup.procs", "cgroup.procs", err, "%d", (int)pid) < 0)
			return berth_err_prefix(err, "moving pid %d into cgroup %s", (int)pid,
			                        h->d[i].fs);
	return 0;
}

int cgroup_join_fds(cgroup_handle *h, int **fds, size_t *n, int *v2dir, berth_error **err)
{
	*fds = NULL;
	*n = 0;
	*v2dir = -1;
	if (open_dirs(h, err) < 0)
		return -1;
	/* one slot more, for cgroup_join_procs_fallback */
	int *v = xcalloc(h->n + 1, sizeof(*v));
	size_t k = 0;
	int e = 0;
	const char *what = NULL;
	for (size_t i = 0; i < h->n && !e; i++) {
		if (h->d[i].v2) {
			if (*v2dir >= 0)
				continue;
			*v2dir = openat(h->d[i].dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (*v2dir < 0) {
				e = errno;
				what = h->d[i].fs;
			}
			continue;
		}
		v[k] = h->d[i].tasks_fd >= 0 ? steal_fd(h->d[i].tasks_fd)
		                             : openat(h->d[i].dfd, "tasks", O_WRONLY | O_CLOEXEC);
		h->d[i].tasks_fd = -1;
		if (v[k] < 0) {
			e = errno;
			what = h->d[i].fs;
			continue;
		}
		k++;
	}
	if (e) {
		for (size_t i = 0; i < k; i++)
			close(v[i]);
		free(v);
		if (*v2dir >= 0)
			close(*v2dir);
		*v2dir = -1;
		return berth_err_sys(err, e, "opening cgroup %s to join it", what);
	}
	*fds = v;
	*n = k;
	return 0;
}

int cgroup_join_procs_fallback(int v2dir, int *fds, size_t *n, berth_error **err)
{
	int fd = openat(v2dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening cgroup.procs to join the cgroup");
	fds[(*n)++] = fd;
	return 0;
}

char **cgroup_dirs(const cgroup_handle *h)
{
	char **v = NULL;
	for (size_t i = 0; i < h->n; i++)
		v = strv_append(v, h->d[i].fs);
	return v;
}

int cgroup_premake(const char *cgroups_path, const char *id, cgroup_handle **out, berth_error **err)
{
	cgroup_handle *h = NULL;
	if (build_handle(cgroups_path, id, &h, err) < 0)
		return -1;
	for (size_t i = 0; i < h->n; i++) {
		if (h->d[i].v2)
			continue;
		if (mkdir(h->d[i].fs, 0755) == 0) {
			h->d[i].premade = true;
			/* what cgroup_join_fds opens, opened here too */
			h->d[i].dfd = open(h->d[i].fs, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (h->d[i].dfd >= 0)
				h->d[i].tasks_fd =
				    openat(h->d[i].dfd, "tasks", O_WRONLY | O_CLOEXEC);
			/* cpuset: no task can join before cpus and mems are set */
			if (strv_contains(h->d[i].ctrls, "cpuset") &&
			    cpuset_fill(&h->d[i], err) < 0) {
				for (size_t k = 0; k <= i; k++)
					if (h->d[k].premade)
						rmdir(h->d[k].fs);
				cgroup_handle_free(h);
				return -1;
			}
			continue;
		}
		/* a missing parent: cgroup_create_premade makes the whole path */
		if (errno == ENOENT)
			continue;
		berth_err_sys(err, errno, "creating cgroup %s", h->d[i].fs);
		for (size_t k = 0; k < i; k++)
			if (h->d[k].premade)
				rmdir(h->d[k].fs);
		cgroup_handle_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

/* Make every directory (those premade are ours), apply resources, move
 * pid in; on failure remove what is ours. */
static int create_in(cgroup_handle *h, json_t *resources, bool apply, pid_t pid, berth_error **err)
{
	struct created c = {0};
	_cleanup_strv_ char **want = v2_wanted(h, resources);
	for (size_t i = 0; i < h->n; i++)
		if (make_dir(&h->d[i], &c, want, h->v2host, err) < 0)
			goto fail;
	if (open_dirs(h, err) < 0)
		goto fail;
	if (apply && resources && !json_is_null(resources) && cg_apply(h, resources, err) < 0)
		goto fail;
	if (pid > 0 && cgroup_enter(h, pid, err) < 0)
		goto fail;
	strv_free(c.paths);
	return 0;
fail:
	rollback(&c);
	for (size_t i = 0; i < h->n; i++)
		h->d[i].premade = false;
	return -1;
}

int cgroup_create(const char *cgroups_path, const char *id, json_t *resources, pid_t pid,
                  cgroup_handle **out, berth_error **err)
{
	cgroup_handle *h = NULL;
	if (build_handle(cgroups_path, id, &h, err) < 0)
		return -1;
	if (create_in(h, resources, true, pid, err) < 0) {
		cgroup_handle_free(h);
		return -1;
	}
	*out = h;
	return 0;
}

int cgroup_create_premade(cgroup_handle *h, json_t *resources, berth_error **err)
{
	return create_in(h, resources, true, 0, err);
}

int cgroup_open(const char *cgroups_path, const char *id, cgroup_handle **out, berth_error **err)
{
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	if (build_handle(cgroups_path, id, &h, err) < 0)
		return -1;
	bool any = false;
	for (size_t i = 0; i < h->n; i++) {
		h->d[i].dfd = open(h->d[i].fs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (h->d[i].dfd >= 0) {
			any = true;
			if (h->d[i].v2)
				read_v2_ctrls(&h->d[i]);
		}
	}
	if (!any)
		return berth_err(err, BERTH_E_NOTFOUND, "cgroup %s does not exist", h->path);
	/* A hierarchy mounted after creation has no dir: drop it. */
	size_t k = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->d[i].dfd >= 0)
			h->d[k++] = h->d[i];
		else
			dir_clear(&h->d[i]);
	}
	h->n = k;
	*out = steal_ptr(h);
	return 0;
}

int cgroup_update(cgroup_handle *h, json_t *resources, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	if (resources == NULL || json_is_null(resources))
		return 0;
	return cg_apply(h, resources, err);
}

/* ---- freezing ---- */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool v2_frozen(int dfd)
{
	return cg_read_keyed(dfd, "cgroup.events", "frozen") == 1;
}

int cgroup_get_state(cgroup_handle *h, bool *frozen, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	struct cg_dir *d = h->v2host ? NULL : cg_find(h, "freezer");
	if (d) {
		_cleanup_free_ char *s = NULL;
		if (cg_read(d->dfd, "freezer.state", &s, err) < 0)
			return -1;
		*frozen = str_has_prefix(s, "FROZEN");
		return 0;
	}
	d = cg_v2dir(h);
	if (d && cg_exists(d->dfd, "cgroup.freeze")) {
		*frozen = v2_frozen(d->dfd);
		return 0;
	}
	return berth_err(err, BERTH_E_UNSUPPORTED, "no cgroup freezer on this host");
}

int cgroup_freeze(cgroup_handle *h, bool frozen, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	struct cg_dir *d = h->v2host ? NULL : cg_find(h, "freezer");
	const int timeout_ms = 10000;
	if (d) {
		const char *want = frozen ? "FROZEN" : "THAWED";
		for (int waited = 0;; waited++) {
			/* Writing FROZEN again nudges tasks that were mid-fork. */
			if (cg_write(d->dfd, "freezer.state", want, "freezer.state", err) < 0)
				return -1;
			_cleanup_free_ char *s = NULL;
			if (cg_read(d->dfd, "freezer.state", &s, err) < 0)
				return -1;
			if (str_has_prefix(s, want))
				return 0;
			if (waited * 1 >= timeout_ms) {
				if (frozen)
					cg_write(d->dfd, "freezer.state", "THAWED", "freezer.state",
					         NULL);
				return berth_err(err, BERTH_E_IO,
				                 "cgroup %s: timed out waiting for %s", h->path,
				                 want);
			}
			sleep_ms(1);
		}
	}
	d = cg_v2dir(h);
	if (d == NULL || !cg_exists(d->dfd, "cgroup.freeze"))
		return berth_err(err, BERTH_E_UNSUPPORTED, "no cgroup freezer on this host");
	if (cg_write(d->dfd, "cgroup.freeze", frozen ? "1" : "0", "cgroup.freeze", err) < 0)
		return -1;
	for (int waited = 0; v2_frozen(d->dfd) != frozen; waited++) {
		if (waited >= timeout_ms) {
			if (frozen)
				cg_write(d->dfd, "cgroup.freeze", "0", "cgroup.freeze", NULL);
			return berth_err(err, BERTH_E_IO, "cgroup %s: timed out waiting for %s",
			                 h->path, frozen ? "frozen" : "thawed");
		}
		sleep_ms(1);
	}
	return 0;
}

/* ---- processes ---- */

static void collect_pids(int dfd, pid_t **pids, size_t *n, int depth)
{
	_cleanup_free_ char *s = NULL;
	berth_error *e = NULL;
	if (cg_read(dfd, "cgroup.procs", &s, &e) == 0) {
		char *save = NULL;
		for (char *t = strtok_r(s, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
			pid_t p = (pid_t)strtol(t, NULL, 10);
			if (p <= 0)
				continue;
			bool dup = false;
			for (size_t i = 0; i < *n && !dup; i++)
				dup = (*pids)[i] == p;
			if (dup)
				continue;
			*pids = xreallocarray(*pids, *n + 1, sizeof(**pids));
			(*pids)[(*n)++] = p;
		}
	}
	berth_error_free(e);
	if (depth > 64)
		return;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	_cleanup_closedir_ DIR *dir = fdopendir(fd);
	if (dir == NULL) {
		close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(dir))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_close_ int sub =
		    openat(dirfd(dir), de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub >= 0)
			collect_pids(sub, pids, n, depth + 1);
	}
}

static struct cg_dir *procs_dir(cgroup_handle *h)
{
	if (h->v2host)
		return cg_v2dir(h);
	static const char *const pref[] = {"pids", "freezer", "memory", "cpu", "devices"};
	for (size_t i = 0; i < ARRAY_SIZE(pref); i++) {
		struct cg_dir *d = cg_find(h, pref[i]);
		if (d && !d->v2)
			return d;
	}
	return h->n ? &h->d[0] : NULL;
}

int cgroup_pids(cgroup_handle *h, pid_t **pids, size_t *n, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	*pids = NULL;
	*n = 0;
	struct cg_dir *d = procs_dir(h);
	if (d == NULL)
		return berth_err(err, BERTH_E_NOTFOUND, "cgroup %s has no hierarchy", h->path);
	collect_pids(d->dfd, pids, n, 0);
	return 0;
}

int cgroup_kill_all(cgroup_handle *h, int sig, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	struct cg_dir *v2 = cg_v2dir(h);
	if (sig == SIGKILL && v2 && cg_exists(v2->dfd, "cgroup.kill"))
		return cg_write(v2->dfd, "cgroup.kill", "1", "cgroup.kill", err);
	/* Freeze so that nothing forks past the walk; signals are delivered
	 * on thaw. Without a freezer, repeat until no new pid shows up. */
	berth_error *ferr = NULL;
	bool froze = cgroup_freeze(h, true, &ferr) == 0;
	if (!froze) {
		log_debug("cgroup kill: not freezing: %s", ferr ? ferr->msg : "?");
		berth_error_free(ferr);
	}
	int rc = 0;
	pid_t *seen = NULL;
	size_t nseen = 0;
	for (int round = 0; round < (froze ? 1 : 5); round++) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		if (cgroup_pids(h, &pids, &n, err) < 0) {
			rc = -1;
			break;
		}
		size_t fresh = 0;
		for (size_t i = 0; i < n; i++) {
			bool old = false;
			for (size_t j = 0; j < nseen && !old; j++)
				old = seen[j] == pids[i];
			if (old)
				continue;
			fresh++;
			if (kill(pids[i], sig) < 0 && errno != ESRCH) {
				rc = berth_err_sys(err, errno, "signalling pid %d", (int)pids[i]);
				break;
			}
			seen = xreallocarray(seen, nseen + 1, sizeof(*seen));
			seen[nseen++] = pids[i];
		}
		if (rc < 0 || fresh == 0)
			break;
	}
	free(seen);
	if (froze && cgroup_freeze(h, false, rc < 0 ? NULL : err) < 0)
		rc = -1;
	return rc;
}

/* ---- statistics ---- */

static void blkio_v1_totals(int dfd, uint64_t *rd, uint64_t *wr)
{
	static const char *const files[] = {"blkio.throttle.io_service_bytes_recursive",
	                                    "blkio.throttle.io_service_bytes"};
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		_cleanup_free_ char *s = NULL;
		berth_error *e = NULL;
		if (cg_read(dfd, files[f], &s, &e) < 0) {
			berth_error_free(e);
			continue;
		}
		char *save = NULL;
		for (char *t = strtok_r(s, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
			char dev[64], op[32];
			unsigned long long v;
			if (sscanf(t, "%63s %31s %llu", dev, op, &v) != 3)
				continue;
			if (strcmp(op, "Read") == 0)
				*rd += v;
			else if (strcmp(op, "Write") == 0)
				*wr += v;
		}
		return;
	}
}

static void io_v2_totals(int dfd, uint64_t *rd, uint64_t *wr)
{
	_cleanup_free_ char *s = NULL;
	berth_error *e = NULL;
	if (cg_read(dfd, "io.stat", &s, &e) < 0) {
		berth_error_free(e);
		return;
	}
	char *save = NULL;
	for (char *t = strtok_r(s, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
		if (str_has_prefix(t, "rbytes="))
			*rd += strtoull(t + 7, NULL, 10);
		else if (str_has_prefix(t, "wbytes="))
			*wr += strtoull(t + 7, NULL, 10);
	}
}

int cgroup_stats_read(cgroup_handle *h, cgroup_stats *st, berth_error **err)
{
	if (open_dirs(h, err) < 0)
		return -1;
	*st = (cgroup_stats){0};
	struct cg_dir *d = cg_find(h, "memory");
	if (d && !d->v2) {
		st->mem_usage = cg_read_u64(d->dfd, "memory.usage_in_bytes");
		st->mem_limit = cg_read_u64(d->dfd, "memory.limit_in_bytes");
		st->mem_max_usage = cg_read_u64(d->dfd, "memory.max_usage_in_bytes");
		st->mem_cache = cg_read_keyed(d->dfd, "memory.stat", "total_cache");
		st->oom_kill_count = cg_read_keyed(d->dfd, "memory.oom_control", "oom_kill");
	} else if (d) {
		st->mem_usage = cg_read_u64(d->dfd, "memory.current");
		st->mem_limit = cg_read_u64(d->dfd, "memory.max");
		st->mem_max_usage = cg_read_u64(d->dfd, "memory.peak");
		st->mem_cache = cg_read_keyed(d->dfd, "memory.stat", "file");
		st->oom_kill_count = cg_read_keyed(d->dfd, "memory.events", "oom_kill");
	}
	st->oom_killed = st->oom_kill_count > 0;
	d = cg_find(h, "cpuacct");
	if (d && !d->v2) {
		st->cpu_usage_ns = cg_read_u64(d->dfd, "cpuacct.usage");
		if (cg_exists(d->dfd, "cpuacct.usage_user")) {
			st->cpu_user_ns = cg_read_u64(d->dfd, "cpuacct.usage_user");
			st->cpu_system_ns = cg_read_u64(d->dfd, "cpuacct.usage_sys");
		} else {
			long hz = sysconf(_SC_CLK_TCK);
			uint64_t tick = hz > 0 ? 1000000000ULL / (uint64_t)hz : 10000000ULL;
			st->cpu_user_ns = cg_read_keyed(d->dfd, "cpuacct.stat", "user") * tick;
			st->cpu_system_ns = cg_read_keyed(d->dfd, "cpuacct.stat", "system") * tick;
		}
	} else if ((d = cg_v2dir(h)) != NULL) {
		/* cpu.stat's usage is there even without the cpu controller. */
		st->cpu_usage_ns = cg_read_keyed(d->dfd, "cpu.stat", "usage_usec") * 1000;
		st->cpu_user_ns = cg_read_keyed(d->dfd, "cpu.stat", "user_usec") * 1000;
		st->cpu_system_ns = cg_read_keyed(d->dfd, "cpu.stat", "system_usec") * 1000;
	}
	d = cg_find(h, "pids");
	if (d) {
		st->pids_current = cg_read_u64(d->dfd, "pids.current");
		st->pids_limit = cg_read_u64(d->dfd, "pids.max");
	}
	d = cg_find(h, "blkio");
	if (d && !d->v2)
		blkio_v1_totals(d->dfd, &st->blk_read, &st->blk_write);
	else if ((d = cg_find(h, "io")) != NULL)
		io_v2_totals(d->dfd, &st->blk_read, &st->blk_write);
	return 0;
}

/* ---- removal ---- */

static int rmdir_tree(int parent, const char *name, int depth)
{
	/* nearly always a leaf: no need to list its (many) files first */
	if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	_cleanup_close_ int fd =
	    openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (depth < 64) {
		int dup_fd = dup(fd);
		if (dup_fd < 0)
			return -errno;
		_cleanup_closedir_ DIR *dir = fdopendir(dup_fd);
		if (dir == NULL) {
			close(dup_fd);
			return -errno;
		}
		struct dirent *de;
		while ((de = readdir(dir)))
			if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0) {
				int r = rmdir_tree(fd, de->d_name, depth + 1);
				if (r < 0)
					return r;
			}
	}
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int cgroup_destroy(cgroup_handle *h, berth_error **err)
{
	int rc = 0;
	for (size_t i = 0; i < h->n; i++) {
		if (h->d[i].dfd >= 0) {
			close(h->d[i].dfd);
			h->d[i].dfd = -1;
		}
		_cleanup_free_ char *parent = xstrdup(h->d[i].fs);
		char *slash = strrchr(parent, '/');
		if (slash == NULL || slash == parent)
			continue;
		*slash = '\0';
		_cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0) {
			if (errno == ENOENT)
				continue;
			rc = berth_err_sys(err, errno, "removing cgroup %s", h->d[i].fs);
			continue;
		}
		int r = 0;
		/* Exiting processes leave the cgroup a moment after they die. */
		for (int tries = 0; tries < 500; tries++) {
			r = rmdir_tree(pfd, slash + 1, 0);
			if (r != -EBUSY)
				break;
			sleep_ms(tries < 50 ? 2 : 10);
		}
		if (r < 0)
			rc = berth_err_sys(err, -r, "removing cgroup %s", h->d[i].fs);
	}
	return rc;
}

const char *cgroup_path(const cgroup_handle *h)
{
	return h->path;
}

bool cgroup_is_v2(const cgroup_handle *h)
{
	return h->v2host;
}

const char *cgroup_controller_dir(const cgroup_handle *h, const char *controller)
{
	for (size_t i = 0; i < h->n; i++) {
		if (controller[0] == '\0'
		        ? h->d[i].v2
		        : (!h->d[i].v2 && strv_contains(h->d[i].ctrls, controller)))
			return h->d[i].fs;
	}
	if (h->v2host && controller[0] != '\0')
		return h->n ? h->d[0].fs : NULL;
	return NULL;
}
