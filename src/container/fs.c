/* A container's filesystem from the outside: export, diff, cp.
 *
 * A running container is reached through /proc/<pid>/root (its mounts,
 * volumes included, as the user sees them). A stopped one gets its overlay
 * mounted in a private mount namespace of a short-lived child: read-only
 * with the upper directory as the top lower layer for reading, or the
 * normal read-write overlay for cp into it. Nothing is mounted in the
 * host's namespace. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "image/layer.h"
#include "volume/volume.h"

typedef int (*rootfs_fn)(int rootfd, void *arg, berth_error **err);

static bool running(const ctr_record *r)
{
	const char *st = container_status(r);
	return (!strcmp(st, "running") || !strcmp(st, "paused")) && r->st.pid > 0;
}

/* Run fn with a directory fd of the container's root filesystem. */
static int with_rootfs(berth_store *s, ctr_record *r, bool writable, rootfs_fn fn, void *arg,
                       berth_error **err)
{
	if (running(r)) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/root", r->st.pid);
		_cleanup_close_ int rootfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return berth_err_sys(err, errno, "opening the container's root");
		return fn(rootfd, arg, err);
	}
	if (r->config == NULL) {
		ctr_record *full = NULL;
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		r->config = steal_ptr(full->config);
		ctr_record_free(full);
	}
	_cleanup_free_ char *dir = container_dir(s, r->id);
	const char *lower = json_get_str(r->config, "LowerDir");
	_cleanup_free_ char *opts =
	    writable ? xasprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir)
	             : xasprintf("lowerdir=%s/upper:%s", dir, lower);
	_cleanup_free_ char *target = xasprintf("%s/merged", dir);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return berth_err_sys(err, errno, "fork");
	}
	if (pid == 0) {
		close(p[0]);
		berth_error *e = NULL;
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
		    mount("overlay", target, "overlay", writable ? 0 : MS_RDONLY, opts) < 0) {
			berth_err_sys(&e, errno, "mounting the container's filesystem");
		} else {
			int rootfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (rootfd < 0)
				berth_err_sys(&e, errno, "opening %s", target);
			else
				fn(rootfd, arg, &e);
		}
		if (e) {
			_cleanup_free_ char *m = xasprintf("%d %s", e->code, e->msg);
			if (write_all(p[1], m, strlen(m)) < 0)
				(void)0;
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	char buf[2048];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	close(p[0]);
	buf[len] = 0;
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (len > 0) {
		int code = BERTH_E_GENERIC, off = 0;
		sscanf(buf, "%d %n", &code, &off);
		return berth_err(err, code, "%s", buf + off);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return berth_err(err, BERTH_E_GENERIC, "the helper process failed");
	return 0;
}

/* ---- export ---- */

static int export_fn(int rootfd, void *arg, berth_error **err)
{
	int out = *(int *)arg;
	char diff_id[DIGEST_STR_LEN + 1];
	uint64_t size = 0;
	layer_diff_opts o = {.overlay_whiteouts = false};
	return layer_diff(rootfd, out, &o, diff_id, &size, err);
}

int container_export(berth_store *s, ctr_record *r, int out_fd, berth_error **err)
{
	if (running(r)) {
		/* /proc/<pid>/root has /proc, /sys... mounted: export the overlay
		 * view (read-only, from a private namespace) instead */
		ctr_record copy = *r;
		copy.st.pid = 0;
		memcpy(copy.st.status, "exited", sizeof("exited"));
		return with_rootfs(s, &copy, false, export_fn, &out_fd, err);
	}
	return with_rootfs(s, r, false, export_fn, &out_fd, err);
}

/* ---- diff ---- */

static bool in_lower(char **lowers, const char *path)
{
	for (size_t i = 0; lowers && lowers[i]; i++) {
		_cleanup_free_ char *p = xasprintf("%s%s", lowers[i], path);
		struct stat st;
		if (lstat(p, &st) == 0)
			return true;
	}
	return false;
}

static void walk_upper(int dfd, const char *prefix, char **lowers, char ***out)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char **names = NULL;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names = strv_append(names, e->d_name);
	size_t n = strv_len(names);
	for (size_t i = 0; i + 1 < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(names[i], names[j]) > 0) {
				char *t = names[i];
				names[i] = names[j];
				names[j] = t;
			}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", prefix, names[i]);
		struct stat st;
		if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0) {
			_cleanup_free_ char *l = xasprintf("D %s", path);
			*out = strv_append(*out, l);
			continue;
		}
		_cleanup_free_ char *l =
		    xasprintf("%c %s", in_lower(lowers, path) ? 'C' : 'A', path);
		*out = strv_append(*out, l);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), names[i],
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				walk_upper(sub, path, lowers, out);
				close(sub);
			}
		}
	}
	strv_free(names);
	closedir(d);
}

int container_diff(berth_store *s, ctr_record *r, char ***lines, berth_error **err)
{
	*lines = NULL;
	if (r->config == NULL) {
		ctr_record *full = NULL;
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		r->config = steal_ptr(full->config);
		ctr_record_free(full);
	}
	_cleanup_strv_ char **lowers = str_split(json_get_str(r->config, "LowerDir") ?: "", ':');
	_cleanup_free_ char *upper = xasprintf("%s/containers/%s/upper", store_root(s), r->id);
	_cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0)
		return berth_err_sys(err, errno, "opening %s", upper);
	walk_upper(ufd, "", lowers, lines);
	/* berth's own mount points for /etc files are not changes */
	static const char *const skip[] = {"A /etc/hostname", "A /etc/hosts", "A /etc/resolv.conf",
	                                   "C /etc/hostname", "C /etc/hosts", "C /etc/resolv.conf"};
	char **kept = NULL;
	for (size_t i = 0; *lines && (*lines)[i]; i++) {
		bool drop = false;
		for (size_t k = 0; k < ARRAY_SIZE(skip); k++)
			drop |= !strcmp((*lines)[i], skip[k]);
		if (!drop)
			kept = strv_append(kept, (*lines)[i]);
	}
	strv_free(*lines);
	*lines = kept;
	return 0;
}

/* ---- cp ---- */

struct idshift {
	const json_t *map; /* IdMappings, NULL: ids stay */
	bool to_host;
};

struct cp_args {
	const char *ctr_path; /* path inside the container */
	const char *host_path; /* "-" for a tar stream on stdin/stdout */
	bool archive; /* -a: keep uid/gid */
	const char *staging; /* scratch directory on the host (for tar streams) */
	struct idshift shift; /* a running remapped container's ids, else none */
};

/* Owners across a running remapped container's boundary: its rootfs is
 * reached through /proc/<pid>/root, where host ids are the container's
 * shifted by its mappings. Copying in (to_host) a source's ids are the
 * container's and the target gets host ids; copying out, the reverse. */
static void chown_as(int dfd, const char *name, uid_t uid, gid_t gid, const struct idshift *idm)
{
	long long u = uid, g = gid;
	if (idm && idm->map) {
		long long (*f)(const json_t *, const char *, unsigned long) =
		    idm->to_host ? ctr_idmap_host : ctr_idmap_container;
		u = f(idm->map, "uidMappings", uid);
		g = f(idm->map, "gidMappings", gid);
		if (u < 0 || g < 0)
			return;
	}
	if (fchownat(dfd, name, (uid_t)u, (gid_t)g, AT_SYMLINK_NOFOLLOW) < 0)
		(void)0;
}

/* After a tar stream was copied in: give every entry below dst the owner
 * its twin below src has, as the container sees it. */
static void shift_tree(int src, int dst, const struct idshift *idm)
{
	int fd = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		chown_as(dst, e->d_name, st.st_uid, st.st_gid, idm);
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int s2 = openat(
			    dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			_cleanup_close_ int d2 =
			    openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 >= 0 && d2 >= 0)
				shift_tree(s2, d2, idm);
		}
	}
	closedir(d);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : (s ? "" : p);
}

static void chown_tree(int dfd, const char *name, const struct idshift *idm)
{
	chown_as(dfd, name, 0, 0, idm);
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return;
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			chown_tree(dirfd(d), e->d_name, idm);
	closedir(d);
}

/* Copy src (an entry of srcdir) to dstdir/name. */
static int copy_entry(int srcdir, const char *src, int dstdir, const char *name, bool archive,
                      const struct idshift *idm, berth_error **err)
{
	struct stat st;
	if (fstatat(srcdir, src, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err_sys(err, errno, "%s", src);
	if (S_ISDIR(st.st_mode)) {
		if (mkdirat(dstdir, name, st.st_mode & 07777) < 0 && errno != EEXIST)
			return berth_err_sys(err, errno, "creating %s", name);
		_cleanup_close_ int s2 =
		    openat(srcdir, src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int d2 =
		    openat(dstdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s2 < 0 || d2 < 0)
			return berth_err_sys(err, errno, "opening %s", src);
		if (volume_copy_tree(s2, d2, err) < 0)
			return -1;
		if (idm && idm->map)
			shift_tree(s2, d2, idm);
		chown_as(dstdir, name, st.st_uid, st.st_gid, idm);
	} else if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int in = openat(srcdir, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int out =
		    openat(dstdir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		           st.st_mode & 07777);
		if (in < 0 || out < 0)
			return berth_err_sys(err, errno, "copying %s", src);
		if (copy_fd(in, out, err) < 0)
			return -1;
		if (fchmod(out, st.st_mode & 07777) < 0)
			(void)0;
		chown_as(dstdir, name, st.st_uid, st.st_gid, idm);
	} else if (S_ISLNK(st.st_mode)) {
		char t[4096];
		ssize_t l = readlinkat(srcdir, src, t, sizeof(t) - 1);
		if (l < 0)
			return berth_err_sys(err, errno, "%s", src);
		t[l] = 0;
		unlinkat(dstdir, name, 0);
		if (symlinkat(t, dstdir, name) < 0)
			return berth_err_sys(err, errno, "creating %s", name);
	} else {
		return berth_err(err, BERTH_E_UNSUPPORTED, "%s: unsupported file type", src);
	}
	/* without -a the copy is the receiver's root's: the container's root
	 * copying in, the caller copying out */
	if (!archive)
		chown_tree(dstdir, name, idm && idm->to_host ? idm : NULL);
	return 0;
}

/* Split "a/b/c" into the parent's fd (confined to rootfd) and "c". */
static int open_parent(int rootfd, const char *path, char **leaf, berth_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	char *slash = strrchr(p, '/');
	*leaf = xstrdup(slash ? slash + 1 : p);
	if (slash == NULL)
		return openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*slash = 0;
	return open_in_root(rootfd, *p ? p : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, err);
}

static int cp_from_fn(int rootfd, void *arg, berth_error **err)
{
	struct cp_args *a = arg;
	_cleanup_free_ char *leaf = NULL;
	_cleanup_close_ int sdir = open_parent(rootfd, a->ctr_path, &leaf, err);
	if (sdir < 0)
		return -1;
	struct stat st;
	if (*leaf && fstatat(sdir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_err(err, BERTH_E_NOTFOUND, "Could not find the file %s in container",
		                 a->ctr_path);
	const char *name = *leaf ? leaf : ".";
	if (!strcmp(a->host_path, "-")) {
		/* a tar with the entry's base name on top, as Docker's */
		_cleanup_free_ char *stage = xasprintf("%s/cp-%d", a->staging, (int)getpid());
		rm_rf(stage, NULL);
		if (mkdir_p(stage, 0700, err) < 0)
			return -1;
		_cleanup_close_ int sfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = sfd < 0 ? berth_err_sys(err, errno, "%s", stage)
		                : copy_entry(sdir, name, sfd, *leaf ? leaf : "root", true,
		                             &a->shift, err);
		if (r == 0) {
			char diff_id[DIGEST_STR_LEN + 1];
			uint64_t size;
			layer_diff_opts o = {0};
			r = layer_diff(sfd, 1, &o, diff_id, &size, err);
		}
		rm_rf(stage, NULL);
		return r;
	}
	/* DEST exists as a directory: DEST/<base>; else DEST itself */
	struct stat dst;
	_cleanup_free_ char *dpath = NULL;
	if (stat(a->host_path, &dst) == 0 && S_ISDIR(dst.st_mode))
		dpath = xasprintf("%s/%s", a->host_path, *leaf ? leaf : base_name(a->ctr_path));
	else
		dpath = xstrdup(a->host_path);
	_cleanup_free_ char *pp = xstrdup(dpath);
	char *sl = strrchr(pp, '/');
	const char *pdir = ".", *dleaf = pp;
	if (sl) {
		*sl = 0;
		pdir = *pp ? pp : "/";
		dleaf = sl + 1;
	}
	_cleanup_close_ int ddir = open(pdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ddir < 0)
		return berth_err_sys(err, errno, "destination %s", a->host_path);
	return copy_entry(sdir, name, ddir, dleaf, a->archive, &a->shift, err);
}

int container_cp_from(berth_store *s, ctr_record *r, const char *ctr_path, const char *host_path,
                      bool archive, berth_error **err)
{
	const char *staging = NULL;
	if (store_staging(s, &staging, err) < 0)
		return -1;
	struct cp_args a = {
	    .ctr_path = ctr_path, .host_path = host_path, .archive = archive, .staging = staging};
	_cleanup_ctr_record_ ctr_record *full = NULL;
	if (running(r)) {
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		a.shift.map = json_object_get(full->config, "IdMappings");
	}
	return with_rootfs(s, r, false, cp_from_fn, &a, err);
}

static int cp_to_fn(int rootfd, void *arg, berth_error **err)
{
	struct cp_args *a = arg;
	_cleanup_close_ int dst =
	    open_in_root(rootfd, a->ctr_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, NULL);
	if (!strcmp(a->host_path, "-")) {
		if (dst < 0)
			return berth_err(err, BERTH_E_NOTFOUND,
			                 "Could not find the file %s in container", a->ctr_path);
		/* unpack into a scratch directory, then copy each top entry */
		_cleanup_free_ char *stage = xasprintf("%s/cpin-%d", a->staging, (int)getpid());
		rm_rf(stage, NULL);
		if (layer_apply_path(0, stage, NULL, NULL, err) < 0)
			return -1;
		_cleanup_close_ int sfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int r = sfd < 0 ? berth_err_sys(err, errno, "%s", stage)
		                : volume_copy_tree(sfd, dst, err);
		if (r == 0 && a->shift.map)
			shift_tree(sfd, dst, &a->shift);
		rm_rf(stage, NULL);
		return r;
	}
	struct stat hs;
	if (lstat(a->host_path, &hs) < 0)
		return berth_err_sys(err, errno, "%s", a->host_path);
	_cleanup_free_ char *hleaf = NULL;
	_cleanup_free_ char *hp = xstrdup(a->host_path);
	char *sl = strrchr(hp, '/');
	const char *hdir = ".";
	if (sl) {
		*sl = 0;
		hleaf = xstrdup(sl + 1);
		hdir = *hp ? hp : "/";
	} else {
		hleaf = xstrdup(hp);
	}
	_cleanup_close_ int sdir = open(hdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sdir < 0)
		return berth_err_sys(err, errno, "%s", hdir);
	if (dst >= 0)
		return copy_entry(sdir, hleaf, dst, hleaf, a->archive, &a->shift, err);
	_cleanup_free_ char *leaf = NULL;
	_cleanup_close_ int pdir = open_parent(rootfd, a->ctr_path, &leaf, err);
	if (pdir < 0)
		return berth_err_prefix(err, "Could not find the file %s in container",
		                        a->ctr_path);
	return copy_entry(sdir, hleaf, pdir, leaf, a->archive, &a->shift, err);
}

int container_cp_to(berth_store *s, ctr_record *r, const char *host_path, const char *ctr_path,
                    bool archive, berth_error **err)
{
	const char *staging = NULL;
	if (store_staging(s, &staging, err) < 0)
		return -1;
	struct cp_args a = {
	    .ctr_path = ctr_path, .host_path = host_path, .archive = archive, .staging = staging};
	_cleanup_ctr_record_ ctr_record *full = NULL;
	if (running(r)) {
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		a.shift = (struct idshift){json_object_get(full->config, "IdMappings"), true};
	}
	return with_rootfs(s, r, true, cp_to_fn, &a, err);
}
