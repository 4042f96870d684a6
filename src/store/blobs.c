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

int blob_open(berth_store *s, const char *digest, berth_error **err)
{
	if (!digest_valid(digest))
		return berth_err(err, BERTH_E_INVALID, "invalid digest %s", digest);
	_cleanup_free_ char *rel = blob_rel(digest);
	int fd = openat(s->rootfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return berth_err(err, BERTH_E_NOTFOUND, "blob %s not found", digest);
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

int64_t blob_size(berth_store *s, const char *digest)
{
	if (!digest_valid(digest))
		return -1;
	_cleanup_free_ char *rel = blob_rel(digest);
	struct stat st;
	if (fstatat(s->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return -1;
	return st.st_size;
}

int blob_remove(berth_store *s, const char *digest, berth_error **err)
{
	if (!digest_valid(digest))
		return berth_err(err, BERTH_E_INVALID, "invalid digest %s", digest);
	_cleanup_free_ char *rel = blob_rel(digest);
	if (unlinkat(s->rootfd, rel, 0) < 0 && errno != ENOENT)
		return berth_err_sys(err, errno, "removing blob %s", digest);
	return 0;
}
