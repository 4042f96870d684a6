/* The build context: walked once, filtered by .dockerignore, sorted by
 * path; file contents are hashed only when a COPY/ADD names them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/build_int.h"
#include "image/layer.h"

struct walker {
	ctx_entry *v;
	size_t n, cap;
	const dockerignore *di;
};

static void add_entry(struct walker *w, const char *path, const struct stat *st, const char *link)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->v = xreallocarray(w->v, w->cap, sizeof(*w->v));
	}
	ctx_entry *e = &w->v[w->n++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->st = *st;
	e->link = link ? xstrdup(link) : NULL;
}

/* Returns the number of entries added below (and including) rel. */
static int walk(struct walker *w, int dfd, const char *rel, berth_error **err)
{
	int fd = openat(dfd, rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "reading the build context: %s", rel ? rel : ".");
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return berth_err_sys(err, errno, "reading the build context");
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *path =
		    rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		struct stat st;
		/* relative to the directory itself: one path component to walk */
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "reading the build context: %s", path);
		bool excluded = w->di && dockerignore_excluded(w->di, path);
		if (S_ISDIR(st.st_mode)) {
			if (excluded && !dockerignore_has_exceptions(w->di))
				continue;
			size_t at = w->n;
			add_entry(w, path, &st, NULL);
			size_t before = w->n;
			if (walk(w, dfd, path, err) < 0)
				return -1;
			if (excluded && w->n == before) {
				/* nothing re-included below: drop the directory */
				free(w->v[at].path);
				w->n = at;
			}
			continue;
		}
		if (excluded)
			continue;
		char target[4096];
		const char *link = NULL;
		if (S_ISLNK(st.st_mode)) {
			ssize_t l = readlinkat(fd, de->d_name, target, sizeof(target) - 1);
			if (l < 0)
				return berth_err_sys(err, errno, "reading the build context: %s",
				                     path);
			target[l] = 0;
			link = target;
		}
		add_entry(w, path, &st, link);
	}
	if (errno)
		return berth_err_sys(err, errno, "reading the build context");
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const ctx_entry *)a)->path, ((const ctx_entry *)b)->path);
}

int context_open_dir(const char *dir, const dockerignore *di, build_context **out,
                     berth_error **err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "unable to prepare context: path \"%s\"", dir);
	struct walker w = {.di = di};
	if (walk(&w, fd, NULL, err) < 0) {
		for (size_t i = 0; i < w.n; i++) {
			free(w.v[i].path);
			free(w.v[i].link);
		}
		free(w.v);
		return -1;
	}
	qsort(w.v, w.n, sizeof(*w.v), cmp_entry);
	build_context *c = xcalloc(1, sizeof(*c));
	c->dir = xstrdup(dir);
	c->dirfd = steal_fd(fd);
	c->v = w.v;
	c->n = w.n;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	return 0;
}

int context_extract_tar(berth_store *s, int fd, char **dir, char **staged_name, berth_error **err)
{
	const char *sp = NULL;
	if (store_staging(s, &sp, err) < 0)
		return -1;
	_cleanup_free_ char *name = store_staging_name(s, "context");
	_cleanup_free_ char *path = xasprintf("%s/%s", sp, name);
	layer_apply_result res;
	if (layer_apply_path(fd, path, NULL, &res, err) < 0)
		return berth_err_prefix(err, "reading the build context from stdin");
	*dir = steal_ptr(path);
	*staged_name = steal_ptr(name);
	return 0;
}

void context_free(berth_store *s, build_context *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].path);
		free(c->v[i].link);
	}
	free(c->v);
	if (c->dirfd >= 0)
		close(c->dirfd);
	if (c->extracted && s) {
		int sfd = store_staging(s, NULL, NULL);
		if (sfd >= 0)
			rm_rf_at(sfd, c->extracted, NULL);
	}
	free(c->extracted);
	free(c->dir);
	free(c->abs);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* First index whose path is >= key. */
static size_t lower_bound(build_context *c, const char *key)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(c->v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void context_children(build_context *c, size_t root, size_t *first, size_t *end)
{
	if (root == SIZE_MAX) {
		*first = 0;
		*end = c->n;
		return;
	}
	const char *p = c->v[root].path;
	_cleanup_free_ char *lo = xasprintf("%s/", p);
	_cleanup_free_ char *hi = xasprintf("%s0", p); /* '0' follows '/' */
	*first = lower_bound(c, lo);
	*end = lower_bound(c, hi);
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Clean a source argument: relative to the context root, ".." clamped. */
static char *clean_src(const char *src)
{
	_cleanup_free_ char *c = path_clean_rel(src);
	char *p = c;
	while (!strcmp(p, "..") || str_has_prefix(p, "../"))
		p += p[2] ? 3 : 2;
	return xstrdup(*p ? p : ".");
}

int context_match(build_context *c, const char *src, size_t **roots, size_t *n, berth_error **err)
{
	_cleanup_free_ char *p = clean_src(src);
	_cleanup_free_ size_t *v = NULL;
	size_t k = 0;
	if (!strcmp(p, ".")) {
		v = xmalloc(sizeof(size_t));
		v[k++] = SIZE_MAX;
	} else if (has_glob(p)) {
		for (size_t i = 0; i < c->n; i++) {
			if (fnmatch(p, c->v[i].path, FNM_PATHNAME) != 0)
				continue;
			v = xreallocarray(v, k + 1, sizeof(size_t));
			v[k++] = i;
		}
		if (k == 0)
			return berth_err(err, BERTH_E_NOTFOUND,
			                 "lstat %s: no source files were specified", src);
	} else {
		size_t i = lower_bound(c, p);
		if (i >= c->n || strcmp(c->v[i].path, p) != 0)
			return berth_err(err, BERTH_E_NOTFOUND,
			                 "file not found in build context or excluded by "
			                 ".dockerignore: stat %s: file does not exist",
			                 p);
		v = xmalloc(sizeof(size_t));
		v[k++] = i;
	}
	*roots = steal_ptr(v);
	*n = k;
	return 0;
}

int context_hash(build_context *c, size_t i, berth_error **err)
{
	ctx_entry *e = &c->v[i];
	pthread_mutex_lock(&c->lock);
	bool done = e->hash[0] != 0;
	pthread_mutex_unlock(&c->lock);
	if (done || !S_ISREG(e->st.st_mode))
		return 0;
	_cleanup_close_ int fd = openat(c->dirfd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "reading %s", e->path);
	char h[DIGEST_STR_LEN + 1];
	if (sha256_fd(fd, h, err) < 0)
		return -1;
	pthread_mutex_lock(&c->lock);
	memcpy(e->hash, h, sizeof(h));
	e->fresh = true;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* A file changed within this window before it was hashed may change again
 * without its timestamps moving (coarse clocks): such hashes are not kept. */
#define RACY_NS 50000000

void context_load_hashes(build_context *c, berth_store *s)
{
	if (c->abs == NULL || c->n == 0)
		return;
	_cleanup_free_ char *lo = xasprintf("%s/", c->abs);
	_cleanup_free_ char *hi = xasprintf("%s0", c->abs);
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT path, dev, ino, size, mtime_ns, ctime_ns, mode, hash, recorded_ns"
	                  " FROM build_files WHERE path >= ?1 AND path < ?2",
	                  NULL);
	if (st == NULL)
		return;
	sqlite3_bind_text(st, 1, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hi, -1, SQLITE_STATIC);
	size_t plen = strlen(lo);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(st, 0);
		const char *h = (const char *)sqlite3_column_text(st, 7);
		if (p == NULL || h == NULL || strlen(p) <= plen || strlen(h) != DIGEST_STR_LEN)
			continue;
		size_t i = lower_bound(c, p + plen);
		if (i >= c->n || strcmp(c->v[i].path, p + plen))
			continue;
		ctx_entry *e = &c->v[i];
		if (!S_ISREG(e->st.st_mode) ||
		    (int64_t)e->st.st_dev != sqlite3_column_int64(st, 1) ||
		    (int64_t)e->st.st_ino != sqlite3_column_int64(st, 2) ||
		    (int64_t)e->st.st_size != sqlite3_column_int64(st, 3) ||
		    ns_of(&e->st.st_mtim) != sqlite3_column_int64(st, 4) ||
		    ns_of(&e->st.st_ctim) != sqlite3_column_int64(st, 5) ||
		    (int64_t)e->st.st_mode != sqlite3_column_int64(st, 6) ||
		    ns_of(&e->st.st_ctim) + RACY_NS > sqlite3_column_int64(st, 8))
			continue;
		memcpy(e->hash, h, DIGEST_STR_LEN + 1);
	}
}

void context_save_hashes(build_context *c, berth_store *s)
{
	if (c->abs == NULL)
		return;
	bool any = false;
	for (size_t i = 0; i < c->n && !any; i++)
		any = c->v[i].fresh;
	if (!any)
		return;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (store_tx_begin(s, NULL) < 0)
		return;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT OR REPLACE INTO build_files(path, dev, ino, size, mtime_ns, ctime_ns, mode,"
	    " hash, recorded_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	    NULL);
	for (size_t i = 0; st && i < c->n; i++) {
		ctx_entry *e = &c->v[i];
		if (!e->fresh)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", c->abs, e->path);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, p, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)e->st.st_dev);
		sqlite3_bind_int64(st, 3, (int64_t)e->st.st_ino);
		sqlite3_bind_int64(st, 4, (int64_t)e->st.st_size);
		sqlite3_bind_int64(st, 5, ns_of(&e->st.st_mtim));
		sqlite3_bind_int64(st, 6, ns_of(&e->st.st_ctim));
		sqlite3_bind_int64(st, 7, (int64_t)e->st.st_mode);
		sqlite3_bind_text(st, 8, e->hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 9, ns_of(&now));
		if (sqlite3_step(st) != SQLITE_DONE)
			break;
	}
	if (store_tx_commit(s, NULL) < 0)
		store_tx_rollback(s);
}
