/* Filesystem work of COPY/ADD/WORKDIR inside a step's root: every path is
 * resolved inside the root (symlinks confined by open_in_root), users come
 * from the root's /etc/passwd and /etc/group, archives are read with
 * libarchive and their entries confined the same way. */
#define BERTH_LAZY_ARCHIVE
#include "base/lazylib.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/build_int.h"

/* ---- users ---- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

static char *read_root_file(int rootfd, const char *path)
{
	_cleanup_close_ int fd = open_in_root(rootfd, path, O_RDONLY | O_CLOEXEC, 0, NULL);
	if (fd < 0)
		return NULL;
	char *data = NULL;
	size_t len;
	if (read_file_at(fd, "", &data, &len, NULL) < 0) {
		/* read_file_at wants a path: go through /proc */
		_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d", fd);
		if (read_file(p, &data, &len, NULL) < 0)
			return NULL;
	}
	return data;
}

/* Field k (0-based) of a ':'-separated line, copied. */
static char *field(const char *line, int k)
{
	const char *p = line;
	for (int i = 0; i < k; i++) {
		p = strchr(p, ':');
		if (p == NULL)
			return NULL;
		p++;
	}
	size_t n = strcspn(p, ":\n");
	return xstrndup(p, n);
}

int build_lookup_user(int rootfd, const char *spec, uid_t *uid, gid_t *gid, gid_t **groups,
                      size_t *n_groups, char **home, berth_error **err)
{
	_cleanup_free_ char *user = xstrdup(spec && *spec ? spec : "0");
	char *grp = strchr(user, ':');
	if (grp)
		*grp++ = 0;
	_cleanup_free_ char *passwd = read_root_file(rootfd, "/etc/passwd");
	_cleanup_free_ char *group = read_root_file(rootfd, "/etc/group");
	bool found = false;
	*uid = 0;
	*gid = 0;
	_cleanup_free_ char *hm = xstrdup("/");
	_cleanup_free_ char *uname = NULL;
	for (char *line = passwd; line && *line;) {
		char *nl = strchr(line, '\n');
		_cleanup_free_ char *name = field(line, 0), *u = field(line, 2),
		                    *g = field(line, 3), *h = field(line, 5);
		if (name && u && g && (all_digits(user) ? !strcmp(u, user) : !strcmp(name, user))) {
			*uid = (uid_t)strtoul(u, NULL, 10);
			*gid = (gid_t)strtoul(g, NULL, 10);
			free(hm);
			hm = xstrdup(h && *h ? h : "/");
			uname = xstrdup(name);
			found = true;
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!found) {
		if (!all_digits(user))
			return berth_err(
			    err, BERTH_E_INVALID,
			    "unable to find user %s: no matching entries in passwd file", user);
		*uid = (uid_t)strtoul(user, NULL, 10);
	}
	if (grp) {
		bool gfound = false;
		for (char *line = group; line && *line;) {
			char *nl = strchr(line, '\n');
			_cleanup_free_ char *name = field(line, 0), *g = field(line, 2);
			if (name && g && (all_digits(grp) ? !strcmp(g, grp) : !strcmp(name, grp))) {
				*gid = (gid_t)strtoul(g, NULL, 10);
				gfound = true;
				break;
			}
			line = nl ? nl + 1 : NULL;
		}
		if (!gfound) {
			if (!all_digits(grp))
				return berth_err(
				    err, BERTH_E_INVALID,
				    "unable to find group %s: no matching entries in group file",
				    grp);
			*gid = (gid_t)strtoul(grp, NULL, 10);
		}
	}
	if (groups) {
		gid_t *gv = NULL;
		size_t ng = 0;
		for (char *line = uname && !grp ? group : NULL; line && *line;) {
			char *nl = strchr(line, '\n');
			_cleanup_free_ char *g = field(line, 2), *members = field(line, 3);
			if (g && members) {
				_cleanup_strv_ char **m = str_split(members, ',');
				if (strv_contains(m, uname)) {
					gv = xreallocarray(gv, ng + 1, sizeof(gid_t));
					gv[ng++] = (gid_t)strtoul(g, NULL, 10);
				}
			}
			line = nl ? nl + 1 : NULL;
		}
		*groups = gv;
		*n_groups = ng;
	}
	if (home)
		*home = steal_ptr(hm);
	return 0;
}

/* ---- creating entries ---- */

static char *dir_of(const char *p)
{
	const char *sl = strrchr(p, '/');
	if (sl == NULL || sl == p)
		return xstrdup("/");
	return xstrndup(p, (size_t)(sl - p));
}

static const char *base_of(const char *p)
{
	const char *sl = strrchr(p, '/');
	return sl ? sl + 1 : p;
}

static void owner_of(const copy_attrs *a, const struct stat *st, uid_t *u, gid_t *g)
{
	if (a->chown) {
		*u = a->uid;
		*g = a->gid;
	} else if (a->keep_owner && st) {
		*u = st->st_uid;
		*g = st->st_gid;
	} else {
		*u = 0;
		*g = 0;
	}
}

int build_mkdir_root(int rootfd, const char *path, const copy_attrs *a, berth_error **err)
{
	_cleanup_free_ char *clean = path_clean_rel(path);
	if (!strcmp(clean, "."))
		return 0;
	_cleanup_strv_ char **parts = str_split(clean, '/');
	strbuf sb;
	sb_init(&sb);
	int rc = 0;
	for (char **p = parts; *p && rc == 0; p++) {
		_cleanup_free_ char *parent = xstrdup(sb.len ? sb.buf : "/");
		if (sb.len)
			sb_appendc(&sb, '/');
		sb_append(&sb, *p);
		_cleanup_close_ int fd =
		    open_in_root(rootfd, sb.buf, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, NULL);
		if (fd >= 0)
			continue;
		_cleanup_close_ int pfd =
		    open_in_root(rootfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, err);
		if (pfd < 0) {
			rc = -1;
			break;
		}
		struct stat st;
		if (fstatat(pfd, *p, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
			if (S_ISLNK(st.st_mode)) {
				/* a dangling symlink: Docker creates its target; keep it simple */
				rc = berth_err(
				    err, BERTH_E_INVALID,
				    "cannot create directory /%s: a symlink is in the way", sb.buf);
				break;
			}
			rc = berth_err(err, BERTH_E_INVALID,
			               "cannot create directory /%s: not a directory", sb.buf);
			break;
		}
		if (mkdirat(pfd, *p, 0755) < 0 && errno != EEXIST) {
			rc = berth_err_sys(err, errno, "creating /%s", sb.buf);
			break;
		}
		uid_t u;
		gid_t g;
		owner_of(a, NULL, &u, &g);
		if (fchownat(pfd, *p, u, g, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fchmodat(pfd, *p, 0755, 0) < 0) {
			rc = berth_err_sys(err, errno, "creating /%s", sb.buf);
			break;
		}
	}
	sb_free(&sb);
	return rc;
}

int build_put_at(int pfd, const char *name, int src_fd, const struct stat *st, const char *link,
                 const copy_attrs *a, berth_error **err)
{
	uid_t u;
	gid_t g;
	owner_of(a, st, &u, &g);
	bool chown_needed = u != 0 || g != 0 || !a->as_root;
	mode_t mode = a->chmod >= 0 ? (mode_t)a->chmod : (st->st_mode & 07777);
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	if (S_ISDIR(st->st_mode)) {
		if (mkdirat(pfd, name, 0700) < 0) {
			struct stat old;
			if (errno != EEXIST || fstatat(pfd, name, &old, AT_SYMLINK_NOFOLLOW) < 0)
				return berth_err_sys(err, errno, "creating %s", name);
			if (S_ISDIR(old.st_mode))
				return 0; /* merge into the existing directory */
			if (rm_rf_at(pfd, name, err) < 0)
				return -1;
			if (mkdirat(pfd, name, 0700) < 0)
				return berth_err_sys(err, errno, "creating %s", name);
		}
		if ((chown_needed && fchownat(pfd, name, u, g, AT_SYMLINK_NOFOLLOW) < 0) ||
		    fchmodat(pfd, name, mode, 0) < 0)
			return berth_err_sys(err, errno, "setting attributes of %s", name);
		utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	for (int attempt = 0;; attempt++) {
		int rc = 0;
		if (S_ISREG(st->st_mode)) {
			_cleanup_close_ int fd =
			    openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			           mode & 0777);
			if (fd >= 0) {
				if (src_fd >= 0 && copy_fd(src_fd, fd, err) < 0)
					return berth_err_prefix(err, "copying to %s", name);
				if ((chown_needed && fchown(fd, u, g) < 0) ||
				    ((mode & 07777) != (mode & 0755) && fchmod(fd, mode) < 0))
					return berth_err_sys(err, errno, "setting attributes of %s",
					                     name);
				/* the umask may have taken bits: set the mode exactly */
				if ((mode & 0777) != (mode & 0755) || (mode & 07000) == 0) {
					struct stat now;
					if (fstat(fd, &now) == 0 && (now.st_mode & 07777) != mode &&
					    fchmod(fd, mode) < 0)
						return berth_err_sys(err, errno, "chmod %s", name);
				}
				futimens(fd, times);
				return 0;
			}
			rc = -1;
		} else if (S_ISLNK(st->st_mode)) {
			if (symlinkat(link ? link : "", pfd, name) == 0) {
				if (chown_needed &&
				    fchownat(pfd, name, u, g, AT_SYMLINK_NOFOLLOW) < 0)
					return berth_err_sys(err, errno, "setting owner of %s",
					                     name);
				utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW);
				return 0;
			}
			rc = -1;
		} else if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
			if (mknodat(pfd, name, (st->st_mode & S_IFMT) | (mode & 07777),
			            st->st_rdev) == 0) {
				fchownat(pfd, name, u, g, AT_SYMLINK_NOFOLLOW);
				return 0;
			}
			rc = -1;
		} else {
			return 0; /* sockets are skipped */
		}
		if (rc < 0 && (errno != EEXIST || attempt > 0))
			return berth_err_sys(err, errno, "creating %s", name);
		/* replace what is there */
		struct stat old;
		if (fstatat(pfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(old.st_mode)) {
			if (rm_rf_at(pfd, name, err) < 0)
				return -1;
		} else if (unlinkat(pfd, name, 0) < 0) {
			return berth_err_sys(err, errno, "replacing %s", name);
		}
	}
}

int build_put_entry(int rootfd, const char *dest, int src_fd, const struct stat *st,
                    const char *link, const copy_attrs *a, berth_error **err)
{
	_cleanup_free_ char *clean = path_clean_rel(dest);
	if (!strcmp(clean, ".")) {
		if (!S_ISDIR(st->st_mode))
			return berth_err(err, BERTH_E_INVALID, "cannot copy a file to /");
		return 0;
	}
	_cleanup_free_ char *parent = strchr(clean, '/') ? dir_of(clean) : xstrdup("/");
	if (build_mkdir_root(rootfd, parent, a, err) < 0)
		return -1;
	_cleanup_close_ int pfd =
	    open_in_root(rootfd, parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, err);
	if (pfd < 0)
		return -1;
	if (build_put_at(pfd, base_of(clean), src_fd, st, link, a, err) < 0)
		return berth_err_prefix(err, "%s", dest);
	return 0;
}

/* ---- trees (COPY --from, --output) ---- */

static int copy_rec(int srcfd, const struct stat *st, const char *link, int dstroot,
                    const char *dest, const copy_attrs *a, berth_error **err)
{
	if (S_ISREG(st->st_mode)) {
		_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d", srcfd);
		_cleanup_close_ int rfd = open(p, O_RDONLY | O_CLOEXEC);
		if (rfd < 0)
			return berth_err_sys(err, errno, "reading %s", dest);
		return build_put_entry(dstroot, dest, rfd, st, NULL, a, err);
	}
	if (build_put_entry(dstroot, dest, -1, st, link, a, err) < 0)
		return -1;
	if (!S_ISDIR(st->st_mode))
		return 0;
	_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d", srcfd);
	int dfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "reading %s", dest);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return berth_err_sys(err, errno, "reading %s", dest);
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_close_ int cfd =
		    openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat cst;
		if (cfd < 0 || fstatat(cfd, "", &cst, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return berth_err_sys(err, errno, "reading %s", de->d_name);
		char target[4096];
		const char *clink = NULL;
		if (S_ISLNK(cst.st_mode)) {
			ssize_t l = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
			if (l < 0)
				return berth_err_sys(err, errno, "reading %s", de->d_name);
			target[l] = 0;
			clink = target;
		}
		_cleanup_free_ char *cd = xasprintf("%s/%s", dest, de->d_name);
		if (copy_rec(cfd, &cst, clink, dstroot, cd, a, err) < 0)
			return -1;
	}
	/* restore the directory's mtime after its children were written */
	_cleanup_free_ char *clean = path_clean_rel(dest);
	_cleanup_close_ int dd =
	    open_in_root(dstroot, clean, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, NULL);
	if (dd >= 0) {
		struct timespec times[2] = {st->st_atim, st->st_mtim};
		futimens(dd, times);
	}
	return 0;
}

int build_copy_tree(int srcroot, const char *src, int dstroot, const char *dest,
                    const copy_attrs *a, berth_error **err)
{
	_cleanup_close_ int fd = open_in_root(srcroot, src, O_PATH | O_CLOEXEC, 0, err);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return berth_err_sys(err, errno, "stat %s", src);
	return copy_rec(fd, &st, NULL, dstroot, dest, a, err);
}

/* ---- archives ---- */

static struct archive *archive_open(int fd)
{
	struct archive *ar = archive_read_new();
	archive_read_support_filter_all(ar);
	archive_read_support_format_tar(ar);
	archive_read_support_format_gnutar(ar);
	if (archive_read_open_fd(ar, fd, 65536) != ARCHIVE_OK) {
		archive_read_free(ar);
		return NULL;
	}
	return ar;
}

bool build_is_archive(int fd)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return false;
	struct archive *ar = archive_open(fd);
	bool ok = false;
	if (ar) {
		struct archive_entry *e;
		ok = archive_read_next_header(ar, &e) == ARCHIVE_OK;
		archive_read_free(ar);
	}
	lseek(fd, 0, SEEK_SET);
	return ok;
}

int build_extract_archive(int fd, int rootfd, const char *dest, const copy_attrs *a,
                          berth_error **err)
{
	if (lseek(fd, 0, SEEK_SET) < 0)
		return berth_err_sys(err, errno, "reading the archive");
	struct archive *ar = archive_open(fd);
	if (ar == NULL)
		return berth_err(err, BERTH_E_INVALID, "cannot read the archive");
	if (build_mkdir_root(rootfd, dest, a, err) < 0) {
		archive_read_free(ar);
		return -1;
	}
	int rc = 0;
	struct archive_entry *e;
	copy_attrs keep = *a;
	keep.keep_owner = !a->chown;
	for (;;) {
		int r = archive_read_next_header(ar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = berth_err(err, BERTH_E_INVALID, "reading the archive: %s",
			               archive_error_string(ar));
			break;
		}
		_cleanup_free_ char *name = path_clean_rel(archive_entry_pathname(e));
		if (!strcmp(name, ".") || !strcmp(name, "..") || str_has_prefix(name, "../"))
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", dest, name);
		const struct stat *st = archive_entry_stat(e);
		const char *hl = archive_entry_hardlink(e);
		if (hl) {
			_cleanup_free_ char *hclean = path_clean_rel(hl);
			if (str_has_prefix(hclean, "../"))
				continue;
			_cleanup_free_ char *tpath = xasprintf("%s/%s", dest, hclean);
			_cleanup_close_ int tfd =
			    open_in_root(rootfd, tpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0, NULL);
			if (tfd >= 0) {
				struct stat tst;
				if (fstat(tfd, &tst) == 0 &&
				    build_put_entry(rootfd, path, tfd, &tst, NULL, &keep, err) <
				        0) {
					rc = -1;
					break;
				}
			}
			continue;
		}
		if (S_ISREG(st->st_mode)) {
			/* stream the data through a pipe-less temp: write directly */
			if (build_put_entry(rootfd, path, -1, st, NULL, &keep, err) < 0) {
				rc = -1;
				break;
			}
			_cleanup_close_ int wfd =
			    open_in_root(rootfd, path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0, err);
			if (wfd < 0 || archive_read_data_into_fd(ar, wfd) != ARCHIVE_OK) {
				rc = wfd < 0 ? -1
				             : berth_err(err, BERTH_E_INVALID,
				                         "reading the archive: %s",
				                         archive_error_string(ar));
				break;
			}
			struct timespec times[2] = {st->st_atim, st->st_mtim};
			futimens(wfd, times);
			continue;
		}
		if (build_put_entry(rootfd, path, -1, st, archive_entry_symlink(e), &keep, err) <
		    0) {
			rc = -1;
			break;
		}
	}
	archive_read_free(ar);
	return rc;
}
