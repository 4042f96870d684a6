/* Layer diff: a directory tree -> a reproducible layer tar (Docker's
 * conventions, see layer.h). */
#include "image/layer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/tar.h"

#define WBUF_CAP (1u << 20)
#define CAP_XATTR "security.capability"

/* Go's c_IS* file type bits that Docker puts into the mode field. */
#define C_ISDIR 040000
#define C_ISREG 0100000
#define C_ISLNK 0120000
#define C_ISCHR 020000
#define C_ISBLK 060000
#define C_ISFIFO 010000

typedef struct seen_inode {
	dev_t dev;
	ino_t ino;
	char *name; /* NULL: empty slot */
} seen_inode;

typedef struct diff_ctx {
	int out;
	bool whiteouts;
	unsigned char *buf;
	size_t len;
	sha256_ctx *h;
	uint64_t size;
	seen_inode *seen;
	size_t nseen, capseen; /* capseen: power of two */
} diff_ctx;

static int flush(diff_ctx *c, berth_error **err)
{
	if (c->len == 0)
		return 0;
	sha256_update(c->h, c->buf, c->len);
	if (write_all(c->out, c->buf, c->len) < 0)
		return berth_err_sys(err, errno, "writing layer tar");
	c->len = 0;
	return 0;
}

static int put(diff_ctx *c, const void *p, size_t n, berth_error **err)
{
	const unsigned char *q = p;
	while (n > 0) {
		if (c->len == WBUF_CAP && flush(c, err) < 0)
			return -1;
		size_t k = WBUF_CAP - c->len;
		if (k > n)
			k = n;
		memcpy(c->buf + c->len, q, k);
		c->len += k;
		q += k;
		n -= k;
	}
	return 0;
}

static int put_header(diff_ctx *c, const tar_entry *e, berth_error **err)
{
	strbuf sb;
	sb_init(&sb);
	tar_write_header(&sb, e);
	int r = put(c, sb.buf, sb.len, err);
	sb_free(&sb);
	return r;
}

/* Copy exactly size bytes of fd into the output, then the padding. */
static int put_file_data(diff_ctx *c, int fd, uint64_t size, const char *name, berth_error **err)
{
	uint64_t left = size;
	while (left > 0) {
		if (c->len == WBUF_CAP && flush(c, err) < 0)
			return -1;
		size_t room = WBUF_CAP - c->len;
		if (room > left)
			room = (size_t)left;
		ssize_t r = read(fd, c->buf + c->len, room);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "reading %s", name);
		}
		if (r == 0)
			return berth_err(err, BERTH_E_IO, "%s: file shrank while being archived",
			                 name);
		c->len += (size_t)r;
		left -= (uint64_t)r;
	}
	static const char zero[TAR_BLOCK];
	return put(c, zero, tar_padding(size), err);
}

static size_t inode_hash(dev_t dev, ino_t ino)
{
	uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;
	return (size_t)(x ^ (x >> 29));
}

static seen_inode *seen_slot(diff_ctx *c, dev_t dev, ino_t ino)
{
	size_t mask = c->capseen - 1;
	for (size_t i = inode_hash(dev, ino) & mask;; i = (i + 1) & mask) {
		seen_inode *s = &c->seen[i];
		if (s->name == NULL || (s->dev == dev && s->ino == ino))
			return s;
	}
}

/* The first name of a multiply-linked inode, or NULL after recording name. */
static const char *seen_link(diff_ctx *c, const struct stat *st, const char *name)
{
	if (c->nseen * 2 >= c->capseen) {
		size_t oldcap = c->capseen;
		seen_inode *old = c->seen;
		c->capseen = oldcap ? oldcap * 2 : 64;
		c->seen = xcalloc(c->capseen, sizeof(*c->seen));
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].name)
				*seen_slot(c, old[i].dev, old[i].ino) = old[i];
		free(old);
	}
	seen_inode *s = seen_slot(c, st->st_dev, st->st_ino);
	if (s->name)
		return s->name;
	*s = (seen_inode){st->st_dev, st->st_ino, xstrdup(name)};
	c->nseen++;
	return NULL;
}

/* security.capability of an open file, as a tar xattr (0 when none). */
static int read_cap(int fd, tar_xattr *x, char *vbuf, size_t vcap, berth_error **err)
{
	ssize_t n = fgetxattr(fd, CAP_XATTR, vbuf, vcap);
	if (n < 0) {
		if (errno == ENODATA || errno == ENOTSUP)
			return 0;
		return berth_err_sys(err, errno, "reading xattr " CAP_XATTR);
	}
	x->name = (char *)CAP_XATTR;
	x->value = (unsigned char *)vbuf;
	x->len = (size_t)n;
	return 1;
}

static bool is_opaque(int dirfd)
{
	char v[4];
	ssize_t n = fgetxattr(dirfd, "trusted.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(diff_ctx *c, int dirfd, const char *prefix, int depth, berth_error **err);

static int emit(diff_ctx *c, int dirfd, const char *name, const char *prefix, int depth,
                berth_error **err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "stat %s%s", prefix, name);
	_cleanup_free_ char *full = xasprintf("%s%s", prefix, name);
	tar_entry e = {
	    .path = full,
	    .linkname = "",
	    .uid = st.st_uid,
	    .gid = st.st_gid,
	    .mtime = st.st_mtim.tv_sec,
	};
	mode_t perm = st.st_mode & 07777;

	if (S_ISSOCK(st.st_mode))
		return 0; /* as Docker: sockets are skipped */
	if (c->whiteouts && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		/* overlay whiteout -> ".wh.NAME", regular, 0600 (moby's converter) */
		_cleanup_free_ char *wh = xasprintf("%s.wh.%s", prefix, name);
		e.path = wh;
		e.type = TAR_REG;
		e.mode = 0600;
		return put_header(c, &e, err);
	}

	char capbuf[256];
	tar_xattr cap;
	if (S_ISDIR(st.st_mode)) {
		if (depth > 4096)
			return berth_err(err, BERTH_E_INVALID, "%s: directory tree too deep", full);
		_cleanup_close_ int fd =
		    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return berth_err_sys(err, errno, "opening %s", full);
		int hc = read_cap(fd, &cap, capbuf, sizeof(capbuf), err);
		if (hc < 0)
			return -1;
		_cleanup_free_ char *dname = xasprintf("%s/", full);
		e.path = dname;
		e.type = TAR_DIR;
		e.mode = perm | C_ISDIR;
		e.xattrs = hc ? &cap : NULL;
		e.nxattrs = hc ? 1 : 0;
		if (put_header(c, &e, err) < 0)
			return -1;
		if (c->whiteouts && is_opaque(fd)) {
			_cleanup_free_ char *opq = xasprintf("%s/.wh..wh..opq", full);
			tar_entry o = {
			    .path = opq,
			    .linkname = "",
			    .type = TAR_REG,
			    .mode = st.st_mode & 0777,
			    .uid = st.st_uid,
			    .gid = st.st_gid,
			};
			if (put_header(c, &o, err) < 0)
				return -1;
		}
		return walk(c, fd, dname, depth + 1, err);
	}

	if (st.st_nlink > 1) {
		const char *first = seen_link(c, &st, full);
		if (first) {
			e.type = TAR_LINK;
			e.linkname = (char *)first;
			e.mode = perm | (S_ISREG(st.st_mode)    ? C_ISREG
			                 : S_ISLNK(st.st_mode)  ? C_ISLNK
			                 : S_ISCHR(st.st_mode)  ? C_ISCHR
			                 : S_ISBLK(st.st_mode)  ? C_ISBLK
			                 : S_ISFIFO(st.st_mode) ? C_ISFIFO
			                                        : 0);
			return put_header(c, &e, err);
		}
	}

	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return berth_err_sys(err, errno, "opening %s", full);
		int hc = read_cap(fd, &cap, capbuf, sizeof(capbuf), err);
		if (hc < 0)
			return -1;
		e.type = TAR_REG;
		e.mode = perm | C_ISREG;
		e.size = (uint64_t)st.st_size;
		e.xattrs = hc ? &cap : NULL;
		e.nxattrs = hc ? 1 : 0;
		if (put_header(c, &e, err) < 0 || put_file_data(c, fd, e.size, full, err) < 0)
			return -1;
		c->size += e.size;
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dirfd, name, target, PATH_MAX);
		if (n < 0)
			return berth_err_sys(err, errno, "reading link %s", full);
		target[n] = 0;
		e.type = TAR_SYMLINK;
		e.linkname = target;
		e.mode = perm | C_ISLNK;
		return put_header(c, &e, err);
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		e.type = S_ISCHR(st.st_mode) ? TAR_CHR : TAR_BLK;
		e.mode = perm | (S_ISCHR(st.st_mode) ? C_ISCHR : C_ISBLK);
		e.devmajor = major(st.st_rdev);
		e.devminor = minor(st.st_rdev);
		return put_header(c, &e, err);
	}
	if (S_ISFIFO(st.st_mode)) {
		e.type = TAR_FIFO;
		e.mode = perm | C_ISFIFO;
		return put_header(c, &e, err);
	}
	return 0;
}

static int walk(diff_ctx *c, int dirfd, const char *prefix, int depth, berth_error **err)
{
	int dfd = dup(dirfd);
	if (dfd < 0)
		return berth_err_sys(err, errno, "dup");
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return berth_err_sys(err, errno, "reading directory %s", prefix);
	}
	rewinddir(d);
	_cleanup_strv_ char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 32;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
		names[n] = NULL;
	}
	if (errno)
		return berth_err_sys(err, errno, "reading directory %s", prefix);
	if (n == 0)
		return 0;
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++)
		if (emit(c, dirfd, names[i], prefix, depth, err) < 0)
			return -1;
	return 0;
}

int layer_diff(int dirfd, int out_fd, const layer_diff_opts *opts, char diff_id[DIGEST_STR_LEN + 1],
               uint64_t *size, berth_error **err)
{
	diff_ctx c = {
	    .out = out_fd,
	    .whiteouts = opts && opts->overlay_whiteouts,
	    .buf = xmalloc(WBUF_CAP),
	    .h = sha256_new(),
	};
	int ret = -1;
	if (walk(&c, dirfd, "", 0, err) < 0)
		goto out;
	static const char end[2 * TAR_BLOCK];
	if (put(&c, end, sizeof(end), err) < 0 || flush(&c, err) < 0)
		goto out;
	sha256_final(c.h, diff_id);
	if (size)
		*size = c.size;
	ret = 0;
out:
	for (size_t i = 0; i < c.capseen; i++)
		free(c.seen[i].name);
	free(c.seen);
	free(c.buf);
	sha256_free(c.h);
	return ret;
}
