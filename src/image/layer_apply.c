/* Layer apply: unpack a layer tar into a directory, confined to it. */
#include "image/layer.h"

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
#include "image/compress.h"
#include "image/tar.h"

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"

typedef struct dir_time {
	char *path; /* cleaned, "" for the root */
	struct timespec ts[2];
} dir_time;

typedef struct apply_ctx {
	int root;
	bool in_userns;
	tar_reader *tr;
	/* one cached parent directory: entries come grouped by directory */
	char *cache_path;
	int cache_fd;
	dir_time *dirs;
	size_t ndirs, capdirs;
	uint64_t size;
	tarsplit *split; /* opts->split */
	strbuf raw; /* bytes for split not yet recorded */
	bool replaced; /* an entry replaced or removed an earlier one */
} apply_ctx;

static void cache_drop(apply_ctx *c)
{
	free(c->cache_path);
	c->cache_path = NULL;
	if (c->cache_fd >= 0)
		close(c->cache_fd);
	c->cache_fd = -1;
}

/* An entry name for an error message: control characters shown as '?'. */
static char *printable(const char *s)
{
	char *o = xstrdup(s);
	for (char *p = o; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return o;
}

/* Clean an entry name: drop "./" prefixes, "." components and repeated or
 * trailing slashes. Absolute names and ".." components are refused. *out
 * is "" for the layer root. */
static int clean_name(const char *raw, char **out, berth_error **err)
{
	if (raw[0] == '/')
		return berth_err(err, BERTH_E_INVALID, "path escapes the layer root");
	size_t n = strlen(raw);
	if (n >= PATH_MAX)
		return berth_err(err, BERTH_E_INVALID, "path too long");
	strbuf sb;
	sb_init(&sb);
	sb_appendn(&sb, "", 0);
	const char *p = raw;
	int depth = 0;
	bool dotdot = false, escapes = false;
	while (*p) {
		const char *s = strchr(p, '/');
		size_t l = s ? (size_t)(s - p) : strlen(p);
		if (l == 0 || (l == 1 && p[0] == '.')) {
			/* skip */
		} else if (l == 2 && p[0] == '.' && p[1] == '.') {
			dotdot = true;
			if (--depth < 0)
				escapes = true;
		} else {
			if (l > NAME_MAX) {
				sb_free(&sb);
				return berth_err(err, BERTH_E_INVALID, "path component too long");
			}
			if (sb.len)
				sb_appendc(&sb, '/');
			sb_appendn(&sb, p, l);
			depth++;
		}
		p += l;
		if (*p == '/')
			p++;
	}
	if (dotdot) {
		sb_free(&sb);
		return berth_err(err, BERTH_E_INVALID, "%s",
		                 escapes ? "path escapes the layer root"
		                         : "path has a \"..\" component");
	}
	*out = sb_steal(&sb);
	return 0;
}

/* Split a cleaned non-empty path into dir ("" for the root) and base,
 * in place. */
static void split_path(char *path, const char **dir, const char **base)
{
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = 0;
		*dir = path;
		*base = slash + 1;
	} else {
		*dir = "";
		*base = path;
	}
}

static int symlink_error(berth_error **err)
{
	return berth_err(err, BERTH_E_INVALID,
	                 "path goes through a symbolic link (escapes the layer root)");
}

/* Walk dir component by component from the root without following any
 * symlink, creating missing directories (0755, as Docker) when create. */
static int walk_create(apply_ctx *c, const char *dir, bool create, berth_error **err)
{
	_cleanup_free_ char *copy = xstrdup(dir);
	_cleanup_close_ int cur = dup(c->root);
	if (cur < 0)
		return berth_err_sys(err, errno, "dup");
	char *save = NULL;
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return berth_err_sys(err, errno, "creating directory %s", comp);
			fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (fd < 0) {
			int e = errno;
			struct stat st;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				return symlink_error(err);
			return berth_err_sys(err, e, "opening parent directory");
		}
		close(cur);
		cur = fd;
	}
	return steal_fd(cur);
}

/* Open a directory of the layer (cleaned path, "" = root) beneath the
 * root, never following a symlink. Returns an owned fd. */
static int open_dir(apply_ctx *c, const char *dir, bool create, berth_error **err)
{
	if (!*dir) {
		int fd = dup(c->root);
		return fd < 0 ? berth_err_sys(err, errno, "dup") : fd;
	}
	berth_error *e = NULL;
	int fd = open_beneath_nofollow(c->root, dir, O_PATH | O_DIRECTORY, 0, &e);
	if (fd >= 0)
		return fd;
	int en = e->sys_errno;
	berth_error_free(e);
	if (en == ELOOP || en == EXDEV || en == 0)
		return symlink_error(err);
	if (en == ENOENT || en == ENOTDIR)
		return walk_create(c, dir, create, err);
	return berth_err_sys(err, en, "opening parent directory");
}

/* The parent directory of an entry, through the one-entry cache. The fd is
 * borrowed: valid until the next call or cache_drop. */
static int get_parent(apply_ctx *c, const char *dir, berth_error **err)
{
	if (!*dir)
		return c->root;
	if (c->cache_path && !strcmp(c->cache_path, dir))
		return c->cache_fd;
	int fd = open_dir(c, dir, true, err);
	if (fd < 0)
		return -1;
	cache_drop(c);
	c->cache_path = xstrdup(dir);
	c->cache_fd = fd;
	return fd;
}

/* Remove an existing entry that the new one replaces (not a directory
 * that a directory entry keeps). Returns 1 when a directory is kept. The
 * parent fd may be the cached one: callers get it again afterwards. */
static int make_room(apply_ctx *c, int parent, const char *base, bool keep_dir, berth_error **err)
{
	struct stat st;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "checking existing entry");
	}
	if (S_ISDIR(st.st_mode) && keep_dir)
		return 1;
	c->replaced = true;
	if (!S_ISDIR(st.st_mode)) {
		/* nothing cached can be below a non-directory */
		if (unlinkat(parent, base, 0) < 0)
			return berth_err_sys(err, errno, "replacing existing entry");
		return 0;
	}
	/* the cached directory may be this one or below it */
	_cleanup_close_ int p = dup(parent);
	if (p < 0)
		return berth_err_sys(err, errno, "dup");
	cache_drop(c);
	return rm_rf_at(p, base, err) < 0 ? -1 : 0;
}

static bool skip_xattr(const char *name)
{
	/* overlayfs' own attributes come from whiteout entries, never from
	 * a header: a redirect or metacopy xattr in a lower layer could make
	 * the overlay show other files. */
	return str_has_prefix(name, "trusted.overlay.") || str_has_prefix(name, "user.overlay.");
}

static int set_xattrs_fd(int fd, const tar_entry *e, berth_error **err)
{
	for (size_t i = 0; i < e->nxattrs; i++) {
		const tar_xattr *x = &e->xattrs[i];
		if (skip_xattr(x->name))
			continue;
		if (fsetxattr(fd, x->name, x->value, x->len, 0) < 0) {
			/* as Docker: a file system without (these) xattrs is no failure */
			if (errno == ENOTSUP || errno == EPERM)
				continue;
			return berth_err_sys(err, errno, "setting xattr %s", x->name);
		}
	}
	return 0;
}

/* xattrs of a node we cannot open for I/O (device, fifo): through the
 * O_PATH fd's /proc magic link, which names exactly that inode. */
static int set_xattrs_path(int pathfd, const tar_entry *e, berth_error **err)
{
	if (e->nxattrs == 0)
		return 0;
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pathfd);
	for (size_t i = 0; i < e->nxattrs; i++) {
		const tar_xattr *x = &e->xattrs[i];
		if (skip_xattr(x->name))
			continue;
		if (setxattr(p, x->name, x->value, x->len, 0) < 0) {
			if (errno == ENOTSUP || errno == EPERM)
				continue;
			return berth_err_sys(err, errno, "setting xattr %s", x->name);
		}
	}
	return 0;
}

static void entry_times(const tar_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = e->mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
}

static int check_ids(const tar_entry *e, berth_error **err)
{
	if (e->uid >= UINT32_MAX || e->gid >= UINT32_MAX)
		return berth_err(err, BERTH_E_INVALID, "uid/gid out of range");
	return 0;
}

/* Owner, xattrs, mode (after chown, which clears setuid/setgid and
 * capabilities), then mtime, on an open file or directory. */
static int set_meta_fd(int fd, const tar_entry *e, bool times, berth_error **err)
{
	if (fchown(fd, (uid_t)e->uid, (gid_t)e->gid) < 0)
		return berth_err_sys(err, errno, "chown");
	if (set_xattrs_fd(fd, e, err) < 0)
		return -1;
	if (fchmod(fd, e->mode) < 0)
		return berth_err_sys(err, errno, "chmod");
	if (times) {
		struct timespec ts[2];
		entry_times(e, ts);
		if (futimens(fd, ts) < 0)
			return berth_err_sys(err, errno, "setting mtime");
	}
	return 0;
}

static void defer_dir_time(apply_ctx *c, const char *path, const tar_entry *e)
{
	if (c->ndirs == c->capdirs) {
		c->capdirs = c->capdirs ? 2 * c->capdirs : 64;
		c->dirs = xreallocarray(c->dirs, c->capdirs, sizeof(*c->dirs));
	}
	c->dirs[c->ndirs].path = xstrdup(path);
	entry_times(e, c->dirs[c->ndirs].ts);
	c->ndirs++;
}

static int write_data(apply_ctx *c, int fd, berth_error **err)
{
	for (;;) {
		const unsigned char *p;
		size_t len;
		if (tar_reader_data(c->tr, &p, &len, err) < 0)
			return -1;
		if (len == 0)
			return 0;
		if (write_all(fd, p, len) < 0)
			return berth_err_sys(err, errno, "writing file");
	}
}

static int apply_opaque(apply_ctx *c, const char *dir, berth_error **err)
{
	_cleanup_close_ int pfd = open_dir(c, dir, true, err);
	if (pfd < 0)
		return -1;
	_cleanup_close_ int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening directory");
	if (fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
		return berth_err_sys(err, errno, "marking directory opaque");
	return 0;
}

static int apply_whiteout(apply_ctx *c, const tar_entry *e, const char *dir, const char *name,
                          berth_error **err)
{
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return berth_err(err, BERTH_E_INVALID, "%s",
		                 !strcmp(name, "..") ? "whiteout escapes its directory"
		                                     : "invalid whiteout name");
	if (c->in_userns)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "whiteouts in a user namespace are not supported yet");
	if (check_ids(e, err) < 0)
		return -1;
	int parent = get_parent(c, dir, err);
	if (parent < 0)
		return -1;
	if (mknodat(parent, name, S_IFCHR | 0600, makedev(0, 0)) < 0) {
		if (errno != EEXIST)
			return berth_err_sys(err, errno, "creating whiteout");
		if (make_room(c, parent, name, false, err) < 0)
			return -1;
		parent = get_parent(c, dir, err);
		if (parent < 0)
			return -1;
		if (mknodat(parent, name, S_IFCHR | 0600, makedev(0, 0)) < 0)
			return berth_err_sys(err, errno, "creating whiteout");
	}
	if (fchownat(parent, name, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "chown");
	struct timespec ts[2];
	entry_times(e, ts);
	if (utimensat(parent, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "setting mtime");
	return 0;
}

/* Open the directory of a hard link's target (beneath the root, no
 * symlinks) and check the target; *tbase points into *target. */
static int link_target(apply_ctx *c, const tar_entry *e, char **target, const char **tbase,
                       berth_error **err)
{
	berth_error *e2 = NULL;
	if (clean_name(e->linkname, target, &e2) < 0) {
		int r = berth_err(err, BERTH_E_INVALID, "hard link target \"%s\": %s", e->linkname,
		                  e2->msg);
		berth_error_free(e2);
		return r;
	}
	if (!**target)
		return berth_err(err, BERTH_E_INVALID, "hard link to the layer root");
	const char *tdir;
	split_path(*target, &tdir, tbase);
	_cleanup_close_ int tparent = open_dir(c, tdir, false, &e2);
	if (tparent < 0) {
		int r = berth_err(err, BERTH_E_INVALID, "hard link target \"%s\": %s", e->linkname,
		                  e2->msg);
		berth_error_free(e2);
		return r;
	}
	struct stat st;
	if (fstatat(tparent, *tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err(err, BERTH_E_INVALID,
		                 "hard link target \"%s\" is not in the layer", e->linkname);
	if (S_ISDIR(st.st_mode))
		return berth_err(err, BERTH_E_INVALID, "hard link to a directory");
	return steal_fd(tparent);
}

/* Metadata of a device node or fifo we just created. */
static int node_meta(const tar_entry *e, int parent, const char *base, berth_error **err)
{
	_cleanup_close_ int fd = openat(parent, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening device node");
	if (fchownat(fd, "", (uid_t)e->uid, (gid_t)e->gid, AT_EMPTY_PATH) < 0)
		return berth_err_sys(err, errno, "chown");
	if (set_xattrs_path(fd, e, err) < 0)
		return -1;
	/* we just created this name with mknod: it is no symlink */
	if (fchmodat(parent, base, e->mode, 0) < 0)
		return berth_err_sys(err, errno, "chmod");
	struct timespec ts[2];
	entry_times(e, ts);
	if (utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "setting mtime");
	return 0;
}

static const char *type_name(char type)
{
	switch (type) {
	case TAR_REG: return "file";
	case TAR_DIR: return "directory";
	case TAR_SYMLINK: return "symlink";
	case TAR_LINK: return "hard link";
	case TAR_FIFO: return "fifo";
	default: return "device node";
	}
}

/* Create the entry's name in parent, failing if it exists. Returns 0, or
 * an errno value (EEXIST when the name is taken). A regular file comes
 * back open in *fd. */
static int create_node(const tar_entry *e, int parent, const char *base, int tparent,
                       const char *tbase, int *fd)
{
	int r = 0;
	switch (e->type) {
	case TAR_REG:
		*fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		             0600);
		r = *fd < 0 ? -1 : 0;
		break;
	case TAR_DIR: r = mkdirat(parent, base, 0700); break;
	case TAR_SYMLINK: r = symlinkat(e->linkname, parent, base); break;
	/* no AT_SYMLINK_FOLLOW: a symlink target is linked as the symlink */
	case TAR_LINK: r = linkat(tparent, tbase, parent, base, 0); break;
	case TAR_CHR:
	case TAR_BLK:
	case TAR_FIFO: {
		mode_t type = e->type == TAR_CHR ? S_IFCHR : e->type == TAR_BLK ? S_IFBLK : S_IFIFO;
		r = mknodat(parent, base, type | 0600, makedev(e->devmajor, e->devminor));
		break;
	}
	default: return EINVAL;
	}
	return r < 0 ? errno : 0;
}

static int apply_entry(apply_ctx *c, const tar_entry *e, berth_error **err)
{
	_cleanup_free_ char *path = NULL;
	if (clean_name(e->path, &path, err) < 0)
		return -1;
	_cleanup_free_ char *parts = xstrdup(path);
	if (check_ids(e, err) < 0)
		return -1;
	if (!*path) {
		/* "./": the layer root's own metadata */
		if (e->type != TAR_DIR)
			return berth_err(err, BERTH_E_INVALID,
			                 "the layer root must be a directory");
		_cleanup_close_ int fd = openat(c->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || set_meta_fd(fd, e, false, err) < 0)
			return fd < 0 ? berth_err_sys(err, errno, "opening layer root") : -1;
		defer_dir_time(c, "", e);
		return 0;
	}
	const char *dir, *base;
	split_path(parts, &dir, &base);

	if (str_has_prefix(base, WH_PREFIX)) {
		if (!strcmp(base, WH_OPAQUE))
			return apply_opaque(c, dir, err);
		if (str_has_prefix(base, WH_META_PREFIX))
			return 0; /* aufs metadata (.wh..wh.plnk, ...): skipped, as Docker */
		return apply_whiteout(c, e, dir, base + strlen(WH_PREFIX), err);
	}

	_cleanup_free_ char *target = NULL;
	const char *tbase = NULL;
	_cleanup_close_ int tparent = -1;
	if (e->type == TAR_LINK && (tparent = link_target(c, e, &target, &tbase, err)) < 0)
		return -1;
	if ((e->type == TAR_CHR || e->type == TAR_BLK) && c->in_userns)
		return 0; /* cannot mknod devices there; Docker skips them too */

	int parent = get_parent(c, dir, err);
	if (parent < 0)
		return -1;
	_cleanup_close_ int fd = -1;
	/* Create the name exclusively; only when it exists, replace what is
	 * there (a directory stays for a directory entry) and try once more. */
	int r = create_node(e, parent, base, tparent, tbase, &fd);
	if (r == EEXIST) {
		int kept = make_room(c, parent, base, e->type == TAR_DIR, err);
		if (kept < 0)
			return -1;
		/* make_room may have dropped the cached parent */
		parent = get_parent(c, dir, err);
		if (parent < 0)
			return -1;
		r = kept ? 0 : create_node(e, parent, base, tparent, tbase, &fd);
	}
	if (r)
		return berth_err_sys(err, r, "creating %s", type_name(e->type));

	switch (e->type) {
	case TAR_REG:
		if (c->split && e->size > 0) {
			/* the file keeps the data: the split refers to it */
			tarsplit_raw(c->split, c->raw.buf, c->raw.len);
			c->raw.len = 0;
			tarsplit_file(c->split, path, e->size);
			tar_reader_claim(c->tr);
		}
		if (write_data(c, fd, err) < 0 || set_meta_fd(fd, e, true, err) < 0)
			return -1;
		c->size += e->size;
		return 0;
	case TAR_DIR: {
		_cleanup_close_ int dfd =
		    openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return berth_err_sys(err, errno, "opening directory");
		if (set_meta_fd(dfd, e, false, err) < 0)
			return -1;
		defer_dir_time(c, path, e);
		return 0;
	}
	case TAR_SYMLINK: {
		if (fchownat(parent, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "chown");
		struct timespec ts[2];
		entry_times(e, ts);
		if (utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "setting mtime");
		return 0;
	}
	case TAR_LINK: return 0; /* the inode has its metadata from the target's entry */
	default: return node_meta(e, parent, base, err);
	}
}

static int apply_dir_times(apply_ctx *c, berth_error **err)
{
	for (size_t i = 0; i < c->ndirs; i++) {
		dir_time *d = &c->dirs[i];
		berth_error *e = NULL;
		_cleanup_close_ int fd = -1;
		if (!*d->path)
			fd = openat(c->root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		else
			fd = open_beneath_nofollow(c->root, d->path, O_RDONLY | O_DIRECTORY, 0, &e);
		if (fd < 0) {
			/* replaced or removed by a later entry */
			berth_error_free(e);
			continue;
		}
		if (futimens(fd, d->ts) < 0)
			return berth_err_sys(err, errno, "setting mtime of %s", d->path);
	}
	return 0;
}

static void apply_ctx_clear(apply_ctx *c)
{
	cache_drop(c);
	for (size_t i = 0; i < c->ndirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	tar_reader_free(c->tr);
	sb_free(&c->raw);
}

static int apply_stream(int src_fd, const layer_source *src, int dest_dirfd,
                        const layer_apply_opts *opts, layer_apply_result *res, berth_error **err)
{
	_cleanup_layer_stream_ layer_stream *s = NULL;
	if (layer_stream_open_source(src, src_fd, &s, err) < 0)
		return -1;
	apply_ctx c = {
	    .root = dest_dirfd,
	    .in_userns = opts && opts->in_userns,
	    .cache_fd = -1,
	};
	c.tr = tar_reader_new(layer_stream_next, s);
	sb_init(&c.raw);
	if (opts && opts->split) {
		c.split = opts->split;
		tar_reader_set_capture(c.tr, &c.raw);
	}
	int ret = -1;
	for (;;) {
		const tar_entry *e;
		int r = tar_reader_next(c.tr, &e, err);
		if (r < 0) {
			berth_err_prefix(err, "reading layer");
			goto out;
		}
		if (r == 0)
			break;
		if (apply_entry(&c, e, err) < 0) {
			_cleanup_free_ char *name = printable(e->path);
			berth_err_prefix(err, "layer entry \"%s\"", name);
			goto out;
		}
	}
	if (apply_dir_times(&c, err) < 0)
		goto out;
	if (c.split) {
		/* what follows the end blocks is part of the blob too */
		for (;;) {
			const unsigned char *p;
			size_t len;
			if (layer_stream_next(s, &p, &len, 1u << 20, err) < 0) {
				berth_err_prefix(err, "reading layer");
				goto out;
			}
			if (len == 0)
				break;
			sb_appendn(&c.raw, (const char *)p, len);
		}
		tarsplit_raw(c.split, c.raw.buf, c.raw.len);
		c.raw.len = 0;
	}
	layer_apply_result r = {.size = c.size, .split_ok = c.split && !c.replaced};
	if (layer_stream_finish(s, r.digest, r.diff_id, err) < 0) {
		berth_err_prefix(err, "reading layer");
		goto out;
	}
	if (res)
		*res = r;
	ret = 0;
out:
	apply_ctx_clear(&c);
	return ret;
}

int layer_apply(int src_fd, int dest_dirfd, const layer_apply_opts *opts, layer_apply_result *res,
                berth_error **err)
{
	layer_source none = {0};
	return apply_stream(src_fd, &none, dest_dirfd, opts, res, err);
}

int layer_apply_source(const layer_source *src, int dest_dirfd, const layer_apply_opts *opts,
                       layer_apply_result *res, berth_error **err)
{
	return apply_stream(-1, src, dest_dirfd, opts, res, err);
}

int layer_apply_path(int src_fd, const char *dest_path, const layer_apply_opts *opts,
                     layer_apply_result *res, berth_error **err)
{
	if (mkdir(dest_path, 0755) < 0)
		return berth_err_sys(err, errno, "creating %s", dest_path);
	int fd = open(dest_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		rmdir(dest_path);
		return berth_err_sys(err, e, "opening %s", dest_path);
	}
	int r = layer_apply(src_fd, fd, opts, res, err);
	close(fd);
	if (r < 0) {
		berth_error *e2 = NULL;
		rm_rf(dest_path, &e2);
		berth_error_free(e2);
		return -1;
	}
	return 0;
}
