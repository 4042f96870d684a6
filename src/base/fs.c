#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    bool durable, berth_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	const char *slash = strrchr(name, '/');
	if (slash)
		tmp = xasprintf("%.*s/.tmp-%s.%d", (int)(slash - name), name, slash + 1, getpid());
	else
		tmp = xasprintf(".tmp-%s.%d", name, getpid());
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating %s", tmp);
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return berth_err_sys(err, e, "writing %s", name);
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return berth_err_sys(err, e, "renaming into %s", name);
	}
	return 0;
}

int atomic_write(const char *path, const void *data, size_t len, mode_t mode, bool durable,
                 berth_error **err)
{
	return atomic_write_at(AT_FDCWD, path, data, len, mode, durable, err);
}

int write_file(const char *path, const void *data, size_t len, mode_t mode, berth_error **err)
{
	/* over the old content, then cut to length: truncating first would
	 * free the file's blocks only for the write to take new ones (on this
	 * host's ext4, mounted with discard, a freed block is a discard) */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating %s", path);
	/* the umask (or an older file) may have left another mode */
	struct stat st;
	if (fstat(fd, &st) < 0 || ((st.st_mode & 07777) != mode && fchmod(fd, mode) < 0) ||
	    write_all(fd, data, len) < 0 ||
	    (S_ISREG(st.st_mode) && (off_t)len < st.st_size && ftruncate(fd, (off_t)len) < 0))
		return berth_err_sys(err, errno, "writing %s", path);
	return 0;
}

size_t read_upto(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	return len;
}

int read_fd_all(int fd, size_t size_hint, const char *what, char **data, size_t *len,
                berth_error **err)
{
	/* +2: a file of the expected size and its NUL fit before the read
	 * that sees EOF */
	size_t cap = size_hint + 2 > 4096 ? size_hint + 2 : 4096, n = 0;
	_cleanup_free_ char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "reading %s", what);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	if (len)
		*len = n;
	*data = steal_ptr(buf);
	return 0;
}

int read_file_at(int dirfd, const char *path, char **data, size_t *len, berth_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening %s", path);
	return read_fd_all(fd, 0, path, data, len, err);
}

int read_file(const char *path, char **data, size_t *len, berth_error **err)
{
	return read_file_at(AT_FDCWD, path, data, len, err);
}

int mkdir_p(const char *path, mode_t mode, berth_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	size_t n = strlen(p);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] == '/' || p[i] == 0) {
			char c = p[i];
			p[i] = 0;
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return berth_err_sys(err, errno, "creating directory %s", p);
			p[i] = c;
		}
	}
	return 0;
}

int rm_rf_at(int parentfd, const char *name, berth_error **err)
{
	if (unlinkat(parentfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM && errno != ENOTEMPTY)
		return berth_err_sys(err, errno, "removing %s", name);
	int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "opening %s", name);
	}
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return berth_err_sys(err, errno, "reading %s", name);
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rm_rf_at(dirfd(d), de->d_name, err) < 0)
			return berth_err_prefix(err, "%s", name);
	}
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return berth_err_sys(err, errno, "removing %s", name);
	return 0;
}

int rm_rf(const char *path, berth_error **err)
{
	return rm_rf_at(AT_FDCWD, path, err);
}

int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static int openat2_supported = -1; /* -1 unknown, 0 no, 1 yes */

static long do_openat2(int dirfd, const char *path, int flags, mode_t mode,
                       unsigned long long resolve)
{
	struct open_how how = {
	    .flags = (unsigned long long)flags, .mode = mode, .resolve = resolve};
	if (!(flags & (O_CREAT | O_TMPFILE)))
		how.mode = 0;
	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Fallback walk: resolve each component with O_NOFOLLOW; symlinks are
 * resolved by hand relative to the root; ".." never climbs above root. */
static int walk_in_root(int rootfd, const char *path, int flags, mode_t mode, int depth,
                        bool nofollow, berth_error **err)
{
	if (depth > 40)
		return berth_err(err, BERTH_E_INVALID, "%s: too many levels of symbolic links",
		                 path);
	/* Stack of directory fds, so ".." can pop. */
	int stack[PATH_MAX / 2];
	int sp = 0;
	stack[sp] = dup(rootfd);
	if (stack[sp] < 0)
		return berth_err_sys(err, errno, "dup");
	_cleanup_free_ char *copy = xstrdup(path);
	char *save = NULL;
	char *comp = strtok_r(copy, "/", &save);
	int result = -1;
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		if (!strcmp(comp, ".")) {
			comp = next;
			if (comp == NULL)
				break;
			continue;
		}
		if (!strcmp(comp, "..")) {
			if (sp > 0)
				close(stack[sp--]);
			comp = next;
			continue;
		}
		bool last = next == NULL;
		int oflags = last ? (flags | O_NOFOLLOW) : (O_PATH | O_DIRECTORY | O_NOFOLLOW);
		int fd = openat(stack[sp], comp, oflags | O_CLOEXEC, mode);
		if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || (last && errno == EEXIST))) {
			/* maybe a symlink: resolve it inside the root */
			char target[PATH_MAX];
			ssize_t tl = readlinkat(stack[sp], comp, target, sizeof(target) - 1);
			if (tl >= 0) {
				if (nofollow) {
					berth_err(err, BERTH_E_PERM,
					          "%s: path component is a symbolic link", path);
					goto out;
				}
				target[tl] = 0;
				/* Build the path: (current dir path is implicit) -> rebuild absolute */
				_cleanup_free_ char *rest = NULL;
				if (target[0] == '/')
					rest = next ? xasprintf("%s/%s", target, next)
					            : xstrdup(target);
				else {
					/* relative: make it relative to current stack position by
					 * recursing from the current directory, which is inside root;
					 * ".." is handled by recursion from root with the full prefix. */
					rest = next ? xasprintf("%s/%s", target, next)
					            : xstrdup(target);
				}
				if (target[0] == '/') {
					result = walk_in_root(rootfd, rest, flags, mode, depth + 1,
					                      nofollow, err);
				} else {
					/* relative symlinks with ".." must not climb above root: we
					 * re-walk from the root with the components above us. */
					result = walk_in_root(stack[sp], rest, flags, mode,
					                      depth + 1, nofollow, err);
					/* Note: ".." past stack[sp] is clamped at stack[sp] here, which
					 * can only keep us deeper inside the root, never outside. */
				}
				goto out;
			}
		}
		if (fd < 0) {
			berth_err_sys(err, errno, "opening %s", path);
			goto out;
		}
		if (last) {
			result = fd;
			goto out;
		}
		if ((size_t)sp + 1 >= ARRAY_SIZE(stack)) {
			close(fd);
			berth_err(err, BERTH_E_INVALID, "%s: path too deep", path);
			goto out;
		}
		stack[++sp] = fd;
		comp = next;
	}
	/* path resolved to a directory on the stack (e.g. "/" or "a/..") */
	result = openat(stack[sp], ".", flags | O_CLOEXEC, mode);
	if (result < 0)
		berth_err_sys(err, errno, "opening %s", path);
out:
	while (sp >= 0)
		close(stack[sp--]);
	return result;
}

int open_in_root(int rootfd, const char *path, int flags, mode_t mode, berth_error **err)
{
	if (openat2_supported != 0) {
		long fd = do_openat2(rootfd, path, flags | O_CLOEXEC, mode,
		                     RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
		if (fd >= 0) {
			openat2_supported = 1;
			return (int)fd;
		}
		if (errno != ENOSYS) {
			openat2_supported = 1;
			return berth_err_sys(err, errno, "opening %s", path);
		}
		openat2_supported = 0;
	}
	return walk_in_root(rootfd, path, flags, mode, 0, false, err);
}

int open_beneath_nofollow(int rootfd, const char *path, int flags, mode_t mode, berth_error **err)
{
	if (openat2_supported != 0) {
		long fd = do_openat2(rootfd, path, flags | O_CLOEXEC | O_NOFOLLOW, mode,
		                     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (fd >= 0) {
			openat2_supported = 1;
			return (int)fd;
		}
		if (errno != ENOSYS)
			return berth_err_sys(err, errno, "opening %s", path);
		openat2_supported = 0;
	}
	return walk_in_root(rootfd, path, flags, mode, 0, true, err);
}

int mkdir_in_root(int rootfd, const char *path, mode_t mode, berth_error **err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	int cur = dup(rootfd);
	if (cur < 0)
		return berth_err_sys(err, errno, "dup");
	char *save = NULL;
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		if (!strcmp(comp, "."))
			continue;
		if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST) {
			int e = errno;
			close(cur);
			return berth_err_sys(err, e, "creating %s", path);
		}
		berth_error *e2 = NULL;
		int next = open_in_root(cur, comp, O_PATH | O_DIRECTORY, 0, &e2);
		/* a component that is a symlink is resolved confined to cur, which is
		 * itself inside rootfd; ".." components clamp at cur. */
		close(cur);
		if (next < 0) {
			if (err && *err == NULL)
				*err = e2;
			else
				berth_error_free(e2);
			return -1;
		}
		cur = next;
	}
	return cur;
}

int copy_fd(int in, int out, berth_error **err)
{
	char buf[1 << 16];
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "read");
		}
		if (r == 0)
			return 0;
		if (write_all(out, buf, (size_t)r) < 0)
			return berth_err_sys(err, errno, "write");
	}
}
