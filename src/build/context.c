/* The build context: walked once, filtered by .dockerignore, sorted by
 * path; file contents are hashed only when a COPY/ADD names them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sched.h>
#include <stdatomic.h>
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

/* The walk reads directories first (getdents' d_type says which entries
 * are directories) and leaves the lstat of every other entry for later,
 * when two threads share them: with a thousand files the stats are most
 * of the time of an unchanged rebuild. */
#define MAX_HELD_DIRS 256
#define PAR_STAT_MIN 256

struct walker {
	ctx_entry *v;
	size_t n, cap;
	int *pfd; /* per entry: the directory fd to lstat its name in, -1 when done */
	const dockerignore *di;
	int held[MAX_HELD_DIRS]; /* open directories entries refer to */
	size_t n_held;
};

static ctx_entry *add_entry(struct walker *w, const char *path, const struct stat *st,
                            const char *link, int pfd)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 256;
		w->v = xreallocarray(w->v, w->cap, sizeof(*w->v));
		w->pfd = xreallocarray(w->pfd, w->cap, sizeof(*w->pfd));
	}
	w->pfd[w->n] = pfd;
	ctx_entry *e = &w->v[w->n++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	if (st)
		e->st = *st;
	e->link = link ? xstrdup(link) : NULL;
	return e;
}

/* lstat (and readlink) an entry whose stat was left for later. */
static int stat_entry(ctx_entry *e, int pfd)
{
	const char *sl = strrchr(e->path, '/');
	const char *name = sl ? sl + 1 : e->path;
	if (fstatat(pfd, name, &e->st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISLNK(e->st.st_mode)) {
		char target[4096];
		ssize_t l = readlinkat(pfd, name, target, sizeof(target) - 1);
		if (l < 0)
			return -errno;
		target[l] = 0;
		e->link = xstrdup(target);
	}
	return 0;
}

/* Entries are claimed one at a time by the calling thread and one helper:
 * on a busy machine the helper may not run at all, and the caller then
 * does everything itself instead of waiting for it (the helper is
 * detached; the last one out frees the shared state). */
struct stat_share {
	struct walker *w;
	atomic_size_t next, done;
	atomic_int err; /* -errno of the first failure */
	atomic_size_t err_at;
	atomic_int refs;
};

static void stat_share_put(struct stat_share *sh)
{
	if (atomic_fetch_sub(&sh->refs, 1) == 1)
		free(sh);
}

static void stat_work(struct stat_share *sh, size_t n)
{
	for (;;) {
		size_t i = atomic_fetch_add(&sh->next, 1);
		if (i >= n)
			break;
		if (sh->w->pfd[i] >= 0 && atomic_load(&sh->err) == 0) {
			int e = stat_entry(&sh->w->v[i], sh->w->pfd[i]);
			int zero = 0;
			if (e && atomic_compare_exchange_strong(&sh->err, &zero, e))
				atomic_store(&sh->err_at, i);
		}
		atomic_fetch_add(&sh->done, 1);
	}
}

struct stat_helper {
	struct stat_share *sh;
	size_t n;
};

static void *stat_helper_main(void *p)
{
	struct stat_helper h = *(struct stat_helper *)p;
	free(p);
	stat_work(h.sh, h.n);
	stat_share_put(h.sh);
	return NULL;
}

static int stat_pending(struct walker *w, berth_error **err)
{
	struct stat_share *sh = xcalloc(1, sizeof(*sh));
	sh->w = w;
	atomic_init(&sh->refs, 1);
	size_t n = w->n;
	if (n >= PAR_STAT_MIN) {
		struct stat_helper *h = xmalloc(sizeof(*h));
		h->sh = sh;
		h->n = n;
		pthread_attr_t a;
		pthread_t t;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		atomic_fetch_add(&sh->refs, 1);
		if (pthread_create(&t, &a, stat_helper_main, h) != 0) {
			atomic_fetch_sub(&sh->refs, 1);
			free(h);
		}
		pthread_attr_destroy(&a);
	}
	stat_work(sh, n);
	/* every entry is claimed: wait for one the helper may be inside */
	while (atomic_load(&sh->done) < n)
		sched_yield();
	int e = atomic_load(&sh->err);
	size_t at = atomic_load(&sh->err_at);
	stat_share_put(sh);
	if (e)
		return berth_err_sys(err, -e, "reading the build context: %s", w->v[at].path);
	return 0;
}

static int walk(struct walker *w, int dfd, const char *rel, berth_error **err)
{
	int fd = openat(dfd, rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "reading the build context: %s", rel ? rel : ".");
	/* entries of this directory are stat'ed later through a second fd
	 * (the DIR's goes away with it), when there are not too many */
	int keep = -1;
	if (w->n_held < MAX_HELD_DIRS) {
		keep = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (keep >= 0)
			w->held[w->n_held++] = keep;
	}
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
		bool excluded = w->di && dockerignore_excluded(w->di, path);
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && keep >= 0) {
			if (!excluded)
				add_entry(w, path, NULL, NULL, keep);
			continue;
		}
		struct stat st;
		/* relative to the directory itself: one path component to walk */
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "reading the build context: %s", path);
		if (S_ISDIR(st.st_mode)) {
			if (excluded && !dockerignore_has_exceptions(w->di))
				continue;
			size_t at = w->n;
			add_entry(w, path, &st, NULL, -1);
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
		ctx_entry *e = add_entry(w, path, &st, NULL, -1);
		if (S_ISLNK(st.st_mode) && stat_entry(e, fd) < 0)
			return berth_err_sys(err, errno, "reading the build context: %s", path);
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
	int rc = walk(&w, fd, NULL, err);
	if (rc == 0)
		rc = stat_pending(&w, err);
	for (size_t i = 0; i < w.n_held; i++)
		close(w.held[i]);
	free(w.pfd);
	if (rc < 0) {
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

/* The cache of content hashes: one file per context directory,
 * <root>/build-files/<sha256 of its path>, the records of the context's
 * hashed files sorted by path (native byte order: it never leaves this
 * machine). Any doubt (bad magic, short or unordered records) throws it
 * away and the files are hashed again. */
#define HC_DIR "build-files"
#define HC_MAGIC "BBHASH01"

struct hc_rec {
	int64_t dev, ino, size, mtime_ns, ctime_ns, mode, recorded_ns;
	unsigned char hash[32];
};

static char *hc_name(build_context *c)
{
	char d[DIGEST_STR_LEN + 1];
	sha256_digest(c->abs, strlen(c->abs), d);
	return xasprintf(HC_DIR "/%s", digest_hex(d));
}

static bool hex_to_bin(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = hex[2 * i + (size_t)k];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else
				return false;
		}
		out[i] = (unsigned char)v;
	}
	return true;
}

static void bin_to_digest(const unsigned char *in, char out[DIGEST_STR_LEN + 1])
{
	static const char x[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = x[in[i] >> 4];
		out[8 + 2 * i] = x[in[i] & 15];
	}
	out[DIGEST_STR_LEN] = 0;
}

void context_load_hashes(build_context *c, berth_store *s)
{
	if (c->abs == NULL || c->n == 0)
		return;
	_cleanup_free_ char *name = hc_name(c);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_file_at(store_rootfd(s), name, &data, &len, NULL) < 0)
		return;
	if (len < 8 || memcmp(data, HC_MAGIC, 8))
		return;
	size_t off = 8, i = 0;
	while (off < len) {
		uint16_t plen;
		struct hc_rec r;
		if (len - off < sizeof(plen))
			return;
		memcpy(&plen, data + off, sizeof(plen));
		off += sizeof(plen);
		if (len - off < (size_t)plen + sizeof(r))
			return;
		const char *path = data + off;
		off += plen;
		memcpy(&r, data + off, sizeof(r));
		off += sizeof(r);
		/* both sorted: move forward to the record's path */
		while (i < c->n && strncmp(c->v[i].path, path, plen) < 0)
			i++;
		if (i >= c->n)
			return;
		ctx_entry *e = &c->v[i];
		if (strncmp(e->path, path, plen) || e->path[plen])
			continue;
		if (!S_ISREG(e->st.st_mode) || (int64_t)e->st.st_dev != r.dev ||
		    (int64_t)e->st.st_ino != r.ino || (int64_t)e->st.st_size != r.size ||
		    ns_of(&e->st.st_mtim) != r.mtime_ns || ns_of(&e->st.st_ctim) != r.ctime_ns ||
		    (int64_t)e->st.st_mode != r.mode ||
		    ns_of(&e->st.st_ctim) + RACY_NS > r.recorded_ns)
			continue;
		bin_to_digest(r.hash, e->hash);
		e->recorded = r.recorded_ns;
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
	strbuf sb;
	sb_init(&sb);
	sb_appendn(&sb, HC_MAGIC, 8);
	for (size_t i = 0; i < c->n; i++) {
		ctx_entry *e = &c->v[i];
		size_t plen = strlen(e->path);
		if (!S_ISREG(e->st.st_mode) || !e->hash[0] || plen > UINT16_MAX)
			continue;
		struct hc_rec r = {
		    .dev = (int64_t)e->st.st_dev,
		    .ino = (int64_t)e->st.st_ino,
		    .size = (int64_t)e->st.st_size,
		    .mtime_ns = ns_of(&e->st.st_mtim),
		    .ctime_ns = ns_of(&e->st.st_ctim),
		    .mode = (int64_t)e->st.st_mode,
		    .recorded_ns = e->fresh ? ns_of(&now) : e->recorded,
		};
		if (!hex_to_bin(e->hash + 7, r.hash, 32))
			continue;
		uint16_t l16 = (uint16_t)plen;
		sb_appendn(&sb, (const char *)&l16, sizeof(l16));
		sb_appendn(&sb, e->path, plen);
		sb_appendn(&sb, (const char *)&r, sizeof(r));
	}
	int rfd = store_rootfd(s);
	mkdirat(rfd, HC_DIR, 0700);
	_cleanup_free_ char *name = hc_name(c);
	/* not durable: a lost or torn file only means hashing again */
	atomic_write_at(rfd, name, sb.buf, sb.len, 0600, false, NULL);
	sb_free(&sb);
}
