/* Content-addressed blobs: blobs/sha256/<hex>. A blob gets its name only
 * after its bytes were hashed, compared with the expected digest and
 * fsynced, so a crash never leaves a partial file under a digest name. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "store/store_int.h"

struct blob_writer {
	berth_store *s;
	int fd;
	char *name; /* in the staging dir; NULL once handed over */
	sha256_ctx *sha;
	int64_t size;
	int64_t synced; /* bytes handed to writeback so far */
	bool trusted; /* the caller hashes the same bytes itself */
	bool no_cfr; /* copy_file_range refused: use sendfile */
	bool no_fsync; /* written back by the kernel, not synced here */
};

/* Start writeback of what was written every few MB, so the final fsync
 * finds little left to do and disk writes overlap the rest of the work. */
#define WRITEBACK_STEP (8 << 20)

static char *blob_rel(const char *digest)
{
	return xasprintf("blobs/sha256/%s", digest_hex(digest));
}

char *blob_path(berth_store *s, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", s->root, digest_hex(digest));
}

int blob_writer_new(berth_store *s, blob_writer **out, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	_cleanup_free_ char *name = store_staging_name(s, "blob");
	int fd = openat(sfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating a blob in staging");
	blob_writer *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->fd = fd;
	w->name = steal_ptr(name);
	w->sha = sha256_new();
	*out = w;
	return 0;
}

int blob_writer_write(blob_writer *w, const void *buf, size_t n, berth_error **err)
{
	if (!w->trusted)
		sha256_update(w->sha, buf, n);
	if (write_all(w->fd, buf, n) < 0)
		return berth_err_sys(err, errno, "writing blob");
	w->size += (int64_t)n;
	if (w->size - w->synced >= WRITEBACK_STEP) {
		sync_file_range(w->fd, w->synced, w->size - w->synced, SYNC_FILE_RANGE_WRITE);
		w->synced = w->size;
	}
	return 0;
}

int blob_writer_copy_fd(blob_writer *w, int fd, int64_t limit, berth_error **err)
{
	size_t cap = 1 << 20;
	_cleanup_free_ char *buf = xmalloc(cap);
	while (limit != 0) {
		size_t want = cap;
		if (limit > 0 && (int64_t)want > limit)
			want = (size_t)limit;
		ssize_t r = read(fd, buf, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "reading blob data");
		}
		if (r == 0) {
			if (limit > 0)
				return berth_err(err, BERTH_E_INVALID, "unexpected end of data");
			break;
		}
		if (blob_writer_write(w, buf, (size_t)r, err) < 0)
			return -1;
		if (limit > 0)
			limit -= r;
	}
	return 0;
}

/* In-kernel copy for blob_writer_copy_range: copy_file_range (a reflink
 * where the file system can share the extents), else sendfile (another
 * file system, or one without copy_file_range). */
static ssize_t kernel_copy(int src, int64_t *off, int dst, size_t n, bool *no_cfr)
{
	for (;;) {
		ssize_t r;
		if (!*no_cfr) {
			loff_t in = *off;
			r = copy_file_range(src, &in, dst, NULL, n, 0);
			if (r >= 0) {
				*off = in;
				return r;
			}
			if (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
			    errno == ENOSYS || errno == EBADF) {
				*no_cfr = true;
				continue;
			}
		} else {
			off_t in = *off;
			r = sendfile(dst, src, &in, n);
			if (r >= 0) {
				*off = in;
				return r;
			}
		}
		if (errno != EINTR)
			return -1;
	}
}

ssize_t blob_writer_copy_range(blob_writer *w, int src_fd, int64_t *off, size_t n,
                               berth_error **err)
{
	if (!w->trusted)
		return berth_err(err, BERTH_E_GENERIC,
		                 "internal error: a kernel copy needs a trusted blob writer");
	ssize_t r = kernel_copy(src_fd, off, w->fd, n, &w->no_cfr);
	if (r < 0)
		return berth_err_sys(err, errno, "copying blob data");
	w->size += r;
	if (w->size - w->synced >= WRITEBACK_STEP) {
		sync_file_range(w->fd, w->synced, w->size - w->synced, SYNC_FILE_RANGE_WRITE);
		w->synced = w->size;
	}
	return r;
}

int blob_writer_reopen(blob_writer *w, berth_error **err)
{
	if (w->name == NULL || w->s->stagefd < 0)
		return berth_err(err, BERTH_E_GENERIC, "internal error: blob writer not open");
	int fd = openat(w->s->stagefd, w->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening staged blob");
	return fd;
}

void blob_writer_no_fsync(blob_writer *w)
{
	w->no_fsync = true;
}

void blob_writer_trust(blob_writer *w)
{
	w->trusted = true;
}

int64_t blob_writer_size(const blob_writer *w)
{
	return w->size;
}

int blob_writer_finish(blob_writer *w, const char *expected, char digest[DIGEST_STR_LEN + 1],
                       char **staged_name, berth_error **err)
{
	if (w->trusted) {
		if (expected == NULL || !digest_valid(expected))
			return berth_err(err, BERTH_E_GENERIC,
			                 "internal error: a trusted blob needs its digest");
		memcpy(digest, expected, DIGEST_STR_LEN + 1);
	} else {
		sha256_final(w->sha, digest);
	}
	if (expected && strcmp(expected, digest) != 0)
		return berth_err(err, BERTH_E_CORRUPT, "digest mismatch: expected %s, got %s",
		                 expected, digest);
	if (!w->no_fsync && fsync(w->fd) < 0)
		return berth_err_sys(err, errno, "syncing blob");
	close(w->fd);
	w->fd = -1;
	if (staged_name)
		*staged_name = steal_ptr(w->name);
	return 0;
}

static int fsync_blobdir(berth_store *s)
{
	_cleanup_close_ int fd =
	    openat(s->rootfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return fsync(fd);
}

int blob_adopt(berth_store *s, const char *staged_name, const char *digest, berth_error **err)
{
	if (!digest_valid(digest))
		return berth_err(err, BERTH_E_INVALID, "invalid digest %s", digest);
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	_cleanup_free_ char *rel = blob_rel(digest);
	struct stat st;
	if (fstatat(s->rootfd, rel, &st, 0) == 0) {
		unlinkat(sfd, staged_name, 0);
		return 0;
	}
	if (renameat(sfd, staged_name, s->rootfd, rel) < 0)
		return berth_err_sys(err, errno, "storing blob %s", digest);
	if (fsync_blobdir(s) < 0)
		return berth_err_sys(err, errno, "syncing blob directory");
	return 0;
}

int blob_writer_commit(blob_writer *w, const char *expected, char digest[DIGEST_STR_LEN + 1],
                       berth_error **err)
{
	if (blob_writer_finish(w, expected, digest, NULL, err) < 0)
		return -1;
	if (blob_adopt(w->s, w->name, digest, err) < 0)
		return -1;
	free(w->name);
	w->name = NULL;
	return 0;
}

void blob_writer_free(blob_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->name && w->s->stagefd >= 0)
		unlinkat(w->s->stagefd, w->name, 0);
	free(w->name);
	sha256_free(w->sha);
	free(w);
}

int blob_put(berth_store *s, const void *buf, size_t n, const char *expected,
             char digest[DIGEST_STR_LEN + 1], berth_error **err)
{
	char d[DIGEST_STR_LEN + 1];
	sha256_digest(buf, n, d);
	if (expected && strcmp(expected, d) != 0)
		return berth_err(err, BERTH_E_CORRUPT, "digest mismatch: expected %s, got %s",
		                 expected, d);
	if (digest)
		memcpy(digest, d, sizeof(d));
	if (blob_exists(s, d))
		return 0;
	_cleanup_(blob_writer_freep) blob_writer *w = NULL;
	if (blob_writer_new(s, &w, err) < 0 || blob_writer_write(w, buf, n, err) < 0)
		return -1;
	char got[DIGEST_STR_LEN + 1];
	return blob_writer_commit(w, d, got, err);
}

#define SPLIT_MAGIC "BERTHTS1"
#define CSPLIT_MAGIC "BERTHCS1" /* a compressed split: see store.h */
#define SPLIT_HEAD 16

static char *split_rel(const char *digest)
{
	return xasprintf("blobs/tarsplit/%s", digest_hex(digest));
}

/* The bytes of a tar-split blob in an unnamed file in staging, from the
 * first stored layer of that diff ID that regenerates them. */
static int csplit_open(berth_store *s, const char *digest, int split_fd, berth_error **err);

static int split_open(berth_store *s, const char *digest, int split_fd, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	char magic[8];
	if (pread(split_fd, magic, 8, 0) == 8 && memcmp(magic, CSPLIT_MAGIC, 8) == 0)
		return csplit_open(s, digest, split_fd, err);
	_cleanup_strv_ char **chains = NULL;
	{
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    s, "SELECT chain_id FROM layers WHERE diff_id = ?1 ORDER BY chain_id", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *c = (const char *)sqlite3_column_text(st, 0);
			if (c && digest_valid(c))
				chains = strv_append(chains, c);
		}
	}
	berth_error *last = NULL;
	for (char **c = chains; c && *c; c++) {
		_cleanup_free_ char *rel = xasprintf("layers/%s/diff", digest_hex(*c));
		_cleanup_close_ int dfd =
		    openat(s->rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		int out = openat(sfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (out < 0)
			return berth_err_sys(err, errno, "creating a file in staging");
		berth_error_free(last);
		last = NULL;
		if (lseek(split_fd, 0, SEEK_SET) == 0 &&
		    tarsplit_regenerate(split_fd, dfd, digest, out, &last) == 0 &&
		    lseek(out, 0, SEEK_SET) == 0)
			return out;
		close(out);
	}
	if (last) {
		int r = berth_err(err, last->code, "blob %s: %s", digest, last->msg);
		berth_error_free(last);
		return r;
	}
	return berth_err(err, BERTH_E_NOTFOUND, "blob %s not found (its layer is gone)", digest);
}

int blob_open(berth_store *s, const char *digest, berth_error **err)
{
	if (!digest_valid(digest))
		return berth_err(err, BERTH_E_INVALID, "invalid digest %s", digest);
	_cleanup_free_ char *rel = blob_rel(digest);
	int fd = openat(s->rootfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			_cleanup_free_ char *srel = split_rel(digest);
			_cleanup_close_ int sp =
			    openat(s->rootfd, srel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (sp >= 0)
				return split_open(s, digest, sp, err);
			return berth_err(err, BERTH_E_NOTFOUND, "blob %s not found", digest);
		}
		return berth_err_sys(err, errno, "opening blob %s", digest);
	}
	return fd;
}

int blob_read(berth_store *s, const char *digest, char **data, size_t *len, berth_error **err)
{
	_cleanup_close_ int fd = blob_open(s, digest, err);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berth_err_sys(err, errno, "reading blob %s", digest);
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	return read_fd_all(fd, (size_t)st.st_size, what, data, len, err);
}

bool blob_exists(berth_store *s, const char *digest)
{
	return blob_size(s, digest) >= 0;
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_be(strbuf *sb, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--)
		sb_appendc(sb, (char)(unsigned char)(v >> (8 * i)));
}

int64_t blob_size(berth_store *s, const char *digest)
{
	if (!digest_valid(digest))
		return -1;
	_cleanup_free_ char *rel = blob_rel(digest);
	struct stat st;
	if (fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		return st.st_size;
	_cleanup_free_ char *srel = split_rel(digest);
	_cleanup_close_ int fd = openat(s->rootfd, srel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char h[SPLIT_HEAD];
	if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    (memcmp(h, SPLIT_MAGIC, 8) != 0 && memcmp(h, CSPLIT_MAGIC, 8) != 0))
		return -1;
	uint64_t total = get_be(h + 8, 8);
	return total > INT64_MAX ? -1 : (int64_t)total;
}

int blob_remove(berth_store *s, const char *digest, berth_error **err)
{
	if (!digest_valid(digest))
		return berth_err(err, BERTH_E_INVALID, "invalid digest %s", digest);
	_cleanup_free_ char *rel = blob_rel(digest);
	if (unlinkat(s->rootfd, rel, 0) < 0 && errno != ENOENT)
		return berth_err_sys(err, errno, "removing blob %s", digest);
	_cleanup_free_ char *srel = split_rel(digest);
	if (unlinkat(s->rootfd, srel, 0) < 0 && errno != ENOENT)
		return berth_err_sys(err, errno, "removing blob %s", digest);
	return 0;
}

/* --- tar-split --- */

void tarsplit_init(tarsplit *ts)
{
	sb_init(&ts->out);
	ts->total = 0;
	sb_appendn(&ts->out, SPLIT_MAGIC, 8);
	put_be(&ts->out, 0, 8); /* the total, set by tarsplit_stage */
}

void tarsplit_init_compressed(tarsplit *ts, const char *base)
{
	sb_init(&ts->out);
	ts->total = 0;
	sb_appendn(&ts->out, CSPLIT_MAGIC, 8);
	put_be(&ts->out, 0, 8);
	sb_appendn(&ts->out, base, DIGEST_STR_LEN);
}

void tarsplit_ref(tarsplit *ts, uint64_t off, uint32_t len)
{
	sb_appendc(&ts->out, 'U');
	put_be(&ts->out, off, 8);
	put_be(&ts->out, len, 4);
	ts->total += len;
}

void tarsplit_raw(tarsplit *ts, const void *p, size_t n)
{
	while (n > 0) {
		size_t k = n > (1u << 30) ? (1u << 30) : n;
		sb_appendc(&ts->out, 'R');
		put_be(&ts->out, k, 4);
		sb_appendn(&ts->out, p, k);
		ts->total += k;
		p = (const char *)p + k;
		n -= k;
	}
}

void tarsplit_file(tarsplit *ts, const char *path, uint64_t size)
{
	size_t n = strlen(path);
	sb_appendc(&ts->out, 'F');
	put_be(&ts->out, size, 8);
	put_be(&ts->out, n, 4);
	sb_appendn(&ts->out, path, n);
	ts->total += size;
}

void tarsplit_free(tarsplit *ts)
{
	sb_free(&ts->out);
}

void tarsplit_finish(tarsplit *ts)
{
	for (int i = 0; i < 8; i++)
		ts->out.buf[8 + i] = (char)(unsigned char)(ts->total >> (8 * (7 - i)));
}

int tarsplit_stage(berth_store *s, tarsplit *ts, char **staged_name, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	tarsplit_finish(ts);
	_cleanup_free_ char *name = store_staging_name(s, "split");
	/* not synced: as disposable as the unsynced layer it refers to */
	if (atomic_write_at(sfd, name, ts->out.buf, ts->out.len, 0644, false, err) < 0)
		return -1;
	*staged_name = steal_ptr(name);
	return 0;
}

int tarsplit_adopt(berth_store *s, const char *staged_name, const char *digest, berth_error **err)
{
	if (!digest_valid(digest))
		return berth_err(err, BERTH_E_INVALID, "invalid digest %s", digest);
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	if (blob_exists(s, digest)) {
		unlinkat(sfd, staged_name, 0);
		return 0;
	}
	if (mkdirat(s->rootfd, "blobs/tarsplit", 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "creating blobs/tarsplit");
	_cleanup_free_ char *rel = split_rel(digest);
	if (renameat(sfd, staged_name, s->rootfd, rel) < 0)
		return berth_err_sys(err, errno, "storing blob %s", digest);
	return 0;
}

typedef struct split_reader {
	int fd;
	unsigned char buf[65536];
	size_t len, pos;
} split_reader;

static int split_get(split_reader *r, void *out, size_t n, berth_error **err)
{
	unsigned char *o = out;
	while (n > 0) {
		if (r->pos == r->len) {
			ssize_t k = read(r->fd, r->buf, sizeof(r->buf));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return berth_err_sys(err, errno, "reading tar-split");
			if (k == 0)
				return berth_err(err, BERTH_E_CORRUPT, "tar-split is truncated");
			r->len = (size_t)k;
			r->pos = 0;
		}
		size_t k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(o, r->buf + r->pos, k);
		r->pos += k;
		o += k;
		n -= k;
	}
	return 0;
}

/* End of the split file? */
static int split_eof(split_reader *r, berth_error **err)
{
	if (r->pos < r->len)
		return 0;
	for (;;) {
		ssize_t k = read(r->fd, r->buf, sizeof(r->buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return berth_err_sys(err, errno, "reading tar-split");
		r->len = (size_t)k;
		r->pos = 0;
		return k == 0 ? 1 : 0;
	}
}

static int out_write(int fd, sha256_ctx *h, const void *p, size_t n, berth_error **err)
{
	sha256_update(h, p, n);
	if (write_all(fd, p, n) < 0)
		return berth_err_sys(err, errno, "writing blob");
	return 0;
}

/* An 'R' record: its 4-byte length, then that many bytes copied to out
 * through buf (cap bytes) and hashed; *done counts them. */
static int split_copy_raw(split_reader *r, int out, sha256_ctx *h, unsigned char *buf, size_t cap,
                          uint64_t *done, berth_error **err)
{
	unsigned char b4[4];
	if (split_get(r, b4, 4, err) < 0)
		return -1;
	uint64_t n = get_be(b4, 4);
	while (n > 0) {
		size_t k = n < cap ? (size_t)n : cap;
		if (split_get(r, buf, k, err) < 0 || out_write(out, h, buf, k, err) < 0)
			return -1;
		n -= k;
		*done += k;
	}
	return 0;
}

int tarsplit_regenerate(int split_fd, int dirfd, const char *digest, int out_fd, berth_error **err)
{
	_cleanup_free_ split_reader *r = xcalloc(1, sizeof(*r));
	r->fd = split_fd;
	unsigned char head[SPLIT_HEAD];
	if (split_get(r, head, sizeof(head), err) < 0)
		return -1;
	if (memcmp(head, SPLIT_MAGIC, 8) != 0)
		return berth_err(err, BERTH_E_CORRUPT, "not a tar-split");
	uint64_t total = get_be(head + 8, 8), done = 0;
	_cleanup_sha256_ sha256_ctx *h = sha256_new();
	size_t cap = 1u << 20;
	_cleanup_free_ unsigned char *buf = xmalloc(cap);
	for (;;) {
		int e = split_eof(r, err);
		if (e < 0)
			return -1;
		if (e)
			break;
		unsigned char t;
		if (split_get(r, &t, 1, err) < 0)
			return -1;
		if (t == 'R') {
			if (split_copy_raw(r, out_fd, h, buf, cap, &done, err) < 0)
				return -1;
		} else if (t == 'F') {
			unsigned char b12[12];
			if (split_get(r, b12, 12, err) < 0)
				return -1;
			uint64_t size = get_be(b12, 8), plen = get_be(b12 + 8, 4);
			if (plen == 0 || plen > 65536)
				return berth_err(err, BERTH_E_CORRUPT,
				                 "tar-split: bad path length");
			_cleanup_free_ char *path = xmalloc(plen + 1);
			if (split_get(r, path, plen, err) < 0)
				return -1;
			path[plen] = 0;
			_cleanup_close_ int fd =
			    open_beneath_nofollow(dirfd, path, O_RDONLY | O_CLOEXEC, 0, err);
			if (fd < 0)
				return -1;
			struct stat st;
			if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
			    (uint64_t)st.st_size != size)
				return berth_err(err, BERTH_E_CORRUPT,
				                 "layer file %s does not match its tar entry",
				                 path);
			posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
			uint64_t left = size;
			while (left > 0) {
				size_t k = left < cap ? (size_t)left : cap;
				ssize_t got = read(fd, buf, k);
				if (got < 0 && errno == EINTR)
					continue;
				if (got < 0)
					return berth_err_sys(err, errno, "reading layer file %s",
					                     path);
				if (got == 0)
					return berth_err(err, BERTH_E_CORRUPT,
					                 "layer file %s shrank", path);
				if (out_write(out_fd, h, buf, (size_t)got, err) < 0)
					return -1;
				left -= (uint64_t)got;
			}
			done += size;
		} else {
			return berth_err(err, BERTH_E_CORRUPT, "tar-split: bad record");
		}
	}
	if (done != total)
		return berth_err(err, BERTH_E_CORRUPT, "tar-split: %llu bytes instead of %llu",
		                 (unsigned long long)done, (unsigned long long)total);
	char got[DIGEST_STR_LEN + 1];
	sha256_final(h, got);
	if (strcmp(got, digest) != 0)
		return berth_err(err, BERTH_E_CORRUPT,
		                 "the layer's files no longer give its tar (digest %s, not %s)",
		                 got, digest);
	return 0;
}

/* A compressed split's bytes in an unnamed file in staging: raw records
 * and ranges of its base blob (the layer's tar, itself regenerated if it
 * is a tar-split), checked against digest. */
static int csplit_open(berth_store *s, const char *digest, int split_fd, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	_cleanup_free_ split_reader *r = xcalloc(1, sizeof(*r));
	r->fd = split_fd;
	if (lseek(split_fd, 0, SEEK_SET) != 0)
		return berth_err_sys(err, errno, "reading blob %s", digest);
	unsigned char head[SPLIT_HEAD];
	char base[DIGEST_STR_LEN + 1];
	if (split_get(r, head, sizeof(head), err) < 0 ||
	    split_get(r, base, DIGEST_STR_LEN, err) < 0)
		return -1;
	base[DIGEST_STR_LEN] = 0;
	if (!digest_valid(base) || !strcmp(base, digest))
		return berth_err(err, BERTH_E_CORRUPT, "blob %s: bad compressed split", digest);
	_cleanup_close_ int bfd = -1;
	{
		/* the base is a plain blob or a tar-split, never another
		 * compressed split (no recursion) */
		_cleanup_free_ char *rel = blob_rel(base);
		bfd = openat(s->rootfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (bfd < 0) {
			_cleanup_free_ char *srel = split_rel(base);
			_cleanup_close_ int sp =
			    openat(s->rootfd, srel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			char m[8];
			if (sp < 0 || pread(sp, m, 8, 0) != 8 || memcmp(m, SPLIT_MAGIC, 8) != 0)
				return berth_err(err, BERTH_E_NOTFOUND,
				                 "blob %s not found (its layer is gone)", digest);
			bfd = split_open(s, base, sp, err);
			if (bfd < 0)
				return -1;
		}
	}
	_cleanup_close_ int out = openat(sfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return berth_err_sys(err, errno, "creating a file in staging");
	uint64_t total = get_be(head + 8, 8), done = 0;
	_cleanup_sha256_ sha256_ctx *h = sha256_new();
	size_t cap = 1u << 20;
	_cleanup_free_ unsigned char *buf = xmalloc(cap);
	for (;;) {
		int e = split_eof(r, err);
		if (e < 0)
			return -1;
		if (e)
			break;
		unsigned char t, b12[12];
		if (split_get(r, &t, 1, err) < 0)
			return -1;
		if (t == 'R') {
			if (split_copy_raw(r, out, h, buf, cap, &done, err) < 0)
				return -1;
		} else if (t == 'U') {
			if (split_get(r, b12, 12, err) < 0)
				return -1;
			uint64_t off = get_be(b12, 8), n = get_be(b12 + 8, 4);
			while (n > 0) {
				size_t k = n < cap ? (size_t)n : cap;
				ssize_t got = pread(bfd, buf, k, (off_t)off);
				if (got < 0 && errno == EINTR)
					continue;
				if (got < 0)
					return berth_err_sys(err, errno, "reading blob %s", base);
				if (got == 0)
					return berth_err(err, BERTH_E_CORRUPT,
					                 "blob %s: range beyond its base", digest);
				if (out_write(out, h, buf, (size_t)got, err) < 0)
					return -1;
				off += (uint64_t)got;
				n -= (uint64_t)got;
				done += (uint64_t)got;
			}
		} else {
			return berth_err(err, BERTH_E_CORRUPT,
			                 "blob %s: bad compressed split record", digest);
		}
	}
	char got[DIGEST_STR_LEN + 1];
	sha256_final(h, got);
	if (done != total || strcmp(got, digest) != 0)
		return berth_err(err, BERTH_E_CORRUPT,
		                 "blob %s: the layer no longer gives its compressed bytes", digest);
	if (lseek(out, 0, SEEK_SET) != 0)
		return berth_err_sys(err, errno, "reading blob %s", digest);
	return steal_fd(out);
}
