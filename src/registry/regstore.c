#include "registry/regstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "registry/proto.h"

int regstore_open(const char *root, bool create, regstore *rs, berth_error **err)
{
	rs->rootfd = -1;
	rs->root = NULL;
	if (create && mkdir_p(root, 0755, err) < 0)
		return -1;
	_cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening registry root %s", root);
	static const char *const dirs[] = {"blobs", "blobs/sha256", "uploads", "repos"};
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (mkdirat(fd, dirs[i], 0755) < 0 && errno != EEXIST)
			return berth_err_sys(err, errno, "creating %s/%s", root, dirs[i]);
	}
	rs->rootfd = steal_fd(fd);
	rs->root = xstrdup(root);
	return 0;
}

void regstore_close(regstore *rs)
{
	if (rs->rootfd >= 0)
		close(rs->rootfd);
	rs->rootfd = -1;
	free(rs->root);
	rs->root = NULL;
}

static char *random_id(void)
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		got += (size_t)r;
	}
	/* 8-4-4-4-12, as distribution's upload ids look */
	return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
	                 b[12], b[13], b[14], b[15]);
}

static char *blob_path(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

static int ensure_dir(regstore *rs, const char *path, berth_error **err)
{
	int fd = mkdir_in_root(rs->rootfd, path, 0755, err);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Write a small file by rename; unique temp names, so threads may race. */
static int write_atomic(regstore *rs, const char *path, const void *data, size_t len,
                        berth_error **err)
{
	_cleanup_free_ char *id = random_id();
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%s", path, id);
	_cleanup_close_ int fd =
	    openat(rs->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating %s", path);
	if (write_all(fd, data, len) < 0 || fdatasync(fd) < 0) {
		int e = errno;
		unlinkat(rs->rootfd, tmp, 0);
		return berth_err_sys(err, e, "writing %s", path);
	}
	if (renameat(rs->rootfd, tmp, rs->rootfd, path) < 0) {
		int e = errno;
		unlinkat(rs->rootfd, tmp, 0);
		return berth_err_sys(err, e, "renaming into %s", path);
	}
	return 0;
}

int regstore_blob_open(regstore *rs, const char *digest, int *fd, uint64_t *size, berth_error **err)
{
	_cleanup_free_ char *p = blob_path(digest);
	int f = openat(rs->rootfd, p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0) {
		if (errno == ENOENT)
			return berth_err(err, BERTH_E_NOTFOUND, "blob unknown: %s", digest);
		return berth_err_sys(err, errno, "opening blob %s", digest);
	}
	struct stat st;
	if (fstat(f, &st) < 0) {
		int e = errno;
		close(f);
		return berth_err_sys(err, e, "stat blob %s", digest);
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

static bool exists_at(regstore *rs, const char *path)
{
	return faccessat(rs->rootfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

bool regstore_blob_exists(regstore *rs, const char *digest)
{
	_cleanup_free_ char *p = blob_path(digest);
	return exists_at(rs, p);
}

bool regstore_repo_has_blob(regstore *rs, const char *name, const char *digest)
{
	_cleanup_free_ char *l = xasprintf("repos/%s/_blobs/%s", name, digest_hex(digest));
	_cleanup_free_ char *m = xasprintf("repos/%s/_manifests/%s", name, digest_hex(digest));
	return (exists_at(rs, l) || exists_at(rs, m)) && regstore_blob_exists(rs, digest);
}

bool regstore_manifest_exists(regstore *rs, const char *name, const char *digest)
{
	_cleanup_free_ char *m = xasprintf("repos/%s/_manifests/%s", name, digest_hex(digest));
	return exists_at(rs, m) && regstore_blob_exists(rs, digest);
}

int regstore_link_blob(regstore *rs, const char *name, const char *digest, berth_error **err)
{
	_cleanup_free_ char *dir = xasprintf("repos/%s/_blobs", name);
	if (ensure_dir(rs, dir, err) < 0)
		return -1;
	_cleanup_free_ char *l = xasprintf("%s/%s", dir, digest_hex(digest));
	int fd = openat(rs->rootfd, l, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return berth_err_sys(err, errno, "linking %s into %s", digest, name);
	close(fd);
	return 0;
}

int regstore_unlink_blob(regstore *rs, const char *name, const char *digest, berth_error **err)
{
	_cleanup_free_ char *l = xasprintf("repos/%s/_blobs/%s", name, digest_hex(digest));
	if (unlinkat(rs->rootfd, l, 0) < 0) {
		if (errno == ENOENT)
			return berth_err(err, BERTH_E_NOTFOUND, "blob unknown to repository");
		return berth_err_sys(err, errno, "unlinking %s", digest);
	}
	return 0;
}

static int read_small(regstore *rs, const char *path, char **out, berth_error **err)
{
	size_t n = 0;
	char *s = NULL;
	if (read_file_at(rs->rootfd, path, &s, &n, err) < 0)
		return -1;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
	*out = s;
	return 0;
}

int regstore_manifest_get(regstore *rs, const char *name, const char *ref, char **digest,
                          char **media_type, berth_error **err)
{
	_cleanup_free_ char *d = NULL;
	if (digest_valid(ref)) {
		d = xstrdup(ref);
	} else {
		_cleanup_free_ char *t = xasprintf("repos/%s/_tags/%s", name, ref);
		_cleanup_error_ berth_error *e = NULL;
		if (read_small(rs, t, &d, &e) < 0 || !digest_valid(d))
			return berth_err(err, BERTH_E_NOTFOUND, "manifest unknown: %s", ref);
	}
	_cleanup_free_ char *m = xasprintf("repos/%s/_manifests/%s", name, digest_hex(d));
	_cleanup_free_ char *mt = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (read_small(rs, m, &mt, &e) < 0 || !regstore_blob_exists(rs, d))
		return berth_err(err, BERTH_E_NOTFOUND, "manifest unknown: %s", ref);
	*digest = steal_ptr(d);
	if (media_type)
		*media_type = steal_ptr(mt);
	return 0;
}

int regstore_manifest_put(regstore *rs, const char *name, const char *tag, const char *digest,
                          const char *media_type, const void *data, size_t len, const char *subject,
                          berth_error **err)
{
	_cleanup_free_ char *bp = blob_path(digest);
	if (!exists_at(rs, bp) && write_atomic(rs, bp, data, len, err) < 0)
		return -1;
	_cleanup_free_ char *mdir = xasprintf("repos/%s/_manifests", name);
	if (ensure_dir(rs, mdir, err) < 0)
		return -1;
	_cleanup_free_ char *m = xasprintf("%s/%s", mdir, digest_hex(digest));
	if (write_atomic(rs, m, media_type, strlen(media_type), err) < 0)
		return -1;
	if (subject) {
		_cleanup_free_ char *rdir =
		    xasprintf("repos/%s/_referrers/%s", name, digest_hex(subject));
		if (ensure_dir(rs, rdir, err) < 0)
			return -1;
		_cleanup_free_ char *r = xasprintf("%s/%s", rdir, digest_hex(digest));
		int fd = openat(rs->rootfd, r, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return berth_err_sys(err, errno, "recording referrer");
		close(fd);
	}
	if (tag) {
		_cleanup_free_ char *tdir = xasprintf("repos/%s/_tags", name);
		if (ensure_dir(rs, tdir, err) < 0)
			return -1;
		_cleanup_free_ char *t = xasprintf("%s/%s", tdir, tag);
		if (write_atomic(rs, t, digest, strlen(digest), err) < 0)
			return -1;
	}
	return 0;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular entries of a directory (no dot files, no temp files), sorted. */
static int list_dir(regstore *rs, const char *path, char ***out, berth_error **err)
{
	int fd = openat(rs->rootfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			*out = xcalloc(1, sizeof(char *));
			return 0;
		}
		return berth_err_sys(err, errno, "reading %s", path);
	}
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return berth_err_sys(err, errno, "reading %s", path);
	}
	char **v = xcalloc(1, sizeof(char *));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-"))
			continue;
		v = strv_append(v, de->d_name);
	}
	qsort(v, strv_len(v), sizeof(char *), cmp_strp);
	*out = v;
	return 0;
}

int regstore_manifest_delete(regstore *rs, const char *name, const char *ref, berth_error **err)
{
	if (!digest_valid(ref)) {
		_cleanup_free_ char *t = xasprintf("repos/%s/_tags/%s", name, ref);
		if (unlinkat(rs->rootfd, t, 0) < 0) {
			if (errno == ENOENT)
				return berth_err(err, BERTH_E_NOTFOUND, "manifest unknown: %s",
				                 ref);
			return berth_err_sys(err, errno, "deleting tag %s", ref);
		}
		return 0;
	}
	_cleanup_free_ char *m = xasprintf("repos/%s/_manifests/%s", name, digest_hex(ref));
	if (unlinkat(rs->rootfd, m, 0) < 0) {
		if (errno == ENOENT)
			return berth_err(err, BERTH_E_NOTFOUND, "manifest unknown: %s", ref);
		return berth_err_sys(err, errno, "deleting manifest %s", ref);
	}
	_cleanup_free_ char *tdir = xasprintf("repos/%s/_tags", name);
	_cleanup_strv_ char **tags = NULL;
	if (list_dir(rs, tdir, &tags, err) < 0)
		return -1;
	for (char **t = tags; *t; t++) {
		_cleanup_free_ char *tp = xasprintf("%s/%s", tdir, *t);
		_cleanup_free_ char *d = NULL;
		_cleanup_error_ berth_error *e = NULL;
		if (read_small(rs, tp, &d, &e) == 0 && !strcmp(d, ref))
			unlinkat(rs->rootfd, tp, 0);
	}
	_cleanup_free_ char *rdir = xasprintf("repos/%s/_referrers", name);
	_cleanup_strv_ char **subjects = NULL;
	if (list_dir(rs, rdir, &subjects, err) < 0)
		return -1;
	for (char **s = subjects; *s; s++) {
		_cleanup_free_ char *rp = xasprintf("%s/%s/%s", rdir, *s, digest_hex(ref));
		unlinkat(rs->rootfd, rp, 0);
	}
	return 0;
}

bool regstore_repo_exists(regstore *rs, const char *name)
{
	_cleanup_free_ char *a = xasprintf("repos/%s/_manifests", name);
	_cleanup_free_ char *b = xasprintf("repos/%s/_blobs", name);
	return exists_at(rs, a) || exists_at(rs, b);
}

int regstore_tags(regstore *rs, const char *name, char ***tags, berth_error **err)
{
	if (!regstore_repo_exists(rs, name))
		return berth_err(err, BERTH_E_NOTFOUND, "repository name not known to registry");
	_cleanup_free_ char *tdir = xasprintf("repos/%s/_tags", name);
	return list_dir(rs, tdir, tags, err);
}

static int walk_repos(regstore *rs, const char *rel, char ***acc, int depth, berth_error **err)
{
	if (depth > 64)
		return 0;
	_cleanup_free_ char *path = rel ? xasprintf("repos/%s", rel) : xstrdup("repos");
	_cleanup_strv_ char **ents = NULL;
	if (list_dir(rs, path, &ents, err) < 0)
		return -1;
	bool is_repo = false;
	for (char **e = ents; *e; e++) {
		if (**e == '_') {
			if (!strcmp(*e, "_manifests") || !strcmp(*e, "_blobs"))
				is_repo = true;
			continue;
		}
		_cleanup_free_ char *child = rel ? xasprintf("%s/%s", rel, *e) : xstrdup(*e);
		_cleanup_free_ char *cp = xasprintf("repos/%s", child);
		struct stat st;
		if (fstatat(rs->rootfd, cp, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (walk_repos(rs, child, acc, depth + 1, err) < 0)
			return -1;
	}
	if (is_repo && rel)
		*acc = strv_append(*acc, rel);
	return 0;
}

int regstore_catalog(regstore *rs, char ***repos, berth_error **err)
{
	char **v = xcalloc(1, sizeof(char *));
	if (walk_repos(rs, NULL, &v, 0, err) < 0) {
		strv_free(v);
		return -1;
	}
	qsort(v, strv_len(v), sizeof(char *), cmp_strp);
	*repos = v;
	return 0;
}

static json_t *read_manifest_json(regstore *rs, const char *digest, uint64_t *size)
{
	_cleanup_free_ char *bp = blob_path(digest);
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	_cleanup_error_ berth_error *e = NULL;
	if (read_file_at(rs->rootfd, bp, &data, &n, &e) < 0)
		return NULL;
	if (size)
		*size = n;
	return json_loadb(data, n, 0, NULL);
}

int regstore_referrers(regstore *rs, const char *name, const char *digest,
                       const char *artifact_type, json_t **out, berth_error **err)
{
	_cleanup_free_ char *rdir = xasprintf("repos/%s/_referrers/%s", name, digest_hex(digest));
	_cleanup_strv_ char **ents = NULL;
	if (list_dir(rs, rdir, &ents, err) < 0)
		return -1;
	json_t *arr = json_array();
	for (char **e = ents; *e; e++) {
		_cleanup_free_ char *d = xasprintf("sha256:%s", *e);
		if (!digest_valid(d))
			continue;
		_cleanup_free_ char *mdig = NULL, *mt = NULL;
		_cleanup_error_ berth_error *e2 = NULL;
		if (regstore_manifest_get(rs, name, d, &mdig, &mt, &e2) < 0)
			continue;
		uint64_t size = 0;
		_cleanup_json_ json_t *m = read_manifest_json(rs, d, &size);
		if (!m)
			continue;
		const char *at = json_get_str(m, "artifactType");
		if (!at) {
			json_t *cfg = json_object_get(m, "config");
			at = cfg ? json_get_str(cfg, "mediaType") : NULL;
		}
		if (artifact_type && !str_eq(at, artifact_type))
			continue;
		json_t *desc = json_object();
		json_object_set_new(desc, "mediaType", json_string(mt));
		json_object_set_new(desc, "digest", json_string(d));
		json_object_set_new(desc, "size", json_integer((json_int_t)size));
		if (at)
			json_object_set_new(desc, "artifactType", json_string(at));
		json_t *ann = json_object_get(m, "annotations");
		if (json_is_object(ann))
			json_object_set(desc, "annotations", ann);
		json_array_append_new(arr, desc);
	}
	*out = arr;
	return 0;
}

int regstore_upload_create(regstore *rs, const char *name, char **uuid, berth_error **err)
{
	_cleanup_free_ char *id = random_id();
	_cleanup_free_ char *dir = xasprintf("uploads/%s", id);
	if (mkdirat(rs->rootfd, dir, 0755) < 0)
		return berth_err_sys(err, errno, "creating upload");
	_cleanup_free_ char *repo = xasprintf("%s/repo", dir);
	_cleanup_free_ char *data = xasprintf("%s/data", dir);
	int fd = openat(rs->rootfd, data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write_atomic(rs, repo, name, strlen(name), err) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		rm_rf_at(rs->rootfd, dir, NULL);
		return berth_err_sys(err, e, "creating upload");
	}
	close(fd);
	*uuid = steal_ptr(id);
	return 0;
}

int regstore_upload_open(regstore *rs, const char *name, const char *uuid, int *fd, uint64_t *size,
                         berth_error **err)
{
	_cleanup_free_ char *repo = xasprintf("uploads/%s/repo", uuid);
	_cleanup_free_ char *owner = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (read_small(rs, repo, &owner, &e) < 0 || strcmp(owner, name) != 0)
		return berth_err(err, BERTH_E_NOTFOUND, "blob upload unknown to registry");
	_cleanup_free_ char *data = xasprintf("uploads/%s/data", uuid);
	int f = openat(rs->rootfd, data, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0)
		return berth_err(err, BERTH_E_NOTFOUND, "blob upload unknown to registry");
	struct stat st;
	if (fstat(f, &st) < 0) {
		int e2 = errno;
		close(f);
		return berth_err_sys(err, e2, "stat upload");
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 0;
}

int regstore_upload_commit(regstore *rs, const char *name, const char *uuid, const char *digest,
                           berth_error **err)
{
	_cleanup_free_ char *data = xasprintf("uploads/%s/data", uuid);
	_cleanup_free_ char *bp = blob_path(digest);
	_cleanup_free_ char *dir = xasprintf("uploads/%s", uuid);
	if (!exists_at(rs, bp)) {
		_cleanup_close_ int fd =
		    openat(rs->rootfd, data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fdatasync(fd) < 0)
			return berth_err_sys(err, errno, "syncing upload");
		if (renameat(rs->rootfd, data, rs->rootfd, bp) < 0)
			return berth_err_sys(err, errno, "storing blob %s", digest);
	}
	rm_rf_at(rs->rootfd, dir, NULL);
	return regstore_link_blob(rs, name, digest, err);
}

int regstore_upload_cancel(regstore *rs, const char *uuid, berth_error **err)
{
	_cleanup_free_ char *dir = xasprintf("uploads/%s", uuid);
	return rm_rf_at(rs->rootfd, dir, err);
}

static void mark(char ***marked, const char *digest)
{
	if (digest && digest_valid(digest))
		*marked = strv_append(*marked, digest_hex(digest)); /* sorted later */
}

int regstore_gc(regstore *rs, bool dry_run, regstore_gc_stats *st, berth_error **err)
{
	memset(st, 0, sizeof(*st));
	_cleanup_strv_ char **repos = NULL;
	if (regstore_catalog(rs, &repos, err) < 0)
		return -1;
	_cleanup_strv_ char **marked = xcalloc(1, sizeof(char *));
	for (char **r = repos; *r; r++) {
		_cleanup_free_ char *mdir = xasprintf("repos/%s/_manifests", *r);
		_cleanup_strv_ char **revs = NULL;
		if (list_dir(rs, mdir, &revs, err) < 0)
			return -1;
		for (char **h = revs; *h; h++) {
			_cleanup_free_ char *d = xasprintf("sha256:%s", *h);
			if (!digest_valid(d))
				continue;
			mark(&marked, d);
			_cleanup_json_ json_t *m = read_manifest_json(rs, d, NULL);
			if (!m)
				continue;
			json_t *cfg = json_object_get(m, "config");
			if (cfg)
				mark(&marked, json_get_str(cfg, "digest"));
			size_t i;
			json_t *el;
			json_array_foreach (json_object_get(m, "layers"), i, el) {
				mark(&marked, json_get_str(el, "digest"));
			}
			json_array_foreach (json_object_get(m, "manifests"), i, el) {
				mark(&marked, json_get_str(el, "digest"));
			}
		}
	}
	qsort(marked, strv_len(marked), sizeof(char *), cmp_strp);
	_cleanup_strv_ char **blobs = NULL;
	if (list_dir(rs, "blobs/sha256", &blobs, err) < 0)
		return -1;
	for (char **b = blobs; *b; b++) {
		char *key = *b;
		if (bsearch(&key, marked, strv_len(marked), sizeof(char *), cmp_strp)) {
			st->blobs_kept++;
			continue;
		}
		_cleanup_free_ char *p = xasprintf("blobs/sha256/%s", *b);
		struct stat s;
		if (fstatat(rs->rootfd, p, &s, AT_SYMLINK_NOFOLLOW) == 0)
			st->bytes_removed += (uint64_t)s.st_size;
		st->blobs_removed++;
		if (!dry_run && unlinkat(rs->rootfd, p, 0) < 0 && errno != ENOENT)
			return berth_err_sys(err, errno, "removing %s", p);
	}
	/* Drop repository links whose blob is gone. */
	for (char **r = repos; *r; r++) {
		_cleanup_free_ char *ldir = xasprintf("repos/%s/_blobs", *r);
		_cleanup_strv_ char **links = NULL;
		if (list_dir(rs, ldir, &links, err) < 0)
			return -1;
		for (char **l = links; *l; l++) {
			char *key = *l;
			if (bsearch(&key, marked, strv_len(marked), sizeof(char *), cmp_strp))
				continue;
			st->links_removed++;
			if (!dry_run) {
				_cleanup_free_ char *lp = xasprintf("%s/%s", ldir, *l);
				unlinkat(rs->rootfd, lp, 0);
			}
		}
	}
	return 0;
}
