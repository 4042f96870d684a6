/* The container's side, between clone and execve. Everything here is
 * plain system calls on data the parent prepared: failures go back to the
 * parent over the socketpair as {errno, message} and the child _exits. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/sock.h"
#include "base/cleanup.h"
#include "runtime/internal.h"
#include "runtime/seccomp.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* ---- protocol ---- */

int rt_msg_send(int sock, int type, int value, int err, const char *text)
{
	rt_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.value = value;
	m.err = err;
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	for (;;) {
		ssize_t w = send(sock, &m, sizeof(m), MSG_NOSIGNAL);
		if (w == (ssize_t)sizeof(m))
			return 0;
		if (w < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

int rt_msg_send_fd(int sock, int type, int fd)
{
	rt_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	return send_with_fd(sock, &m, sizeof(m), fd);
}

int rt_msg_recv(int sock, rt_msg *m, int *fd)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	if (fd)
		*fd = -1;
	ssize_t r;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	if (r == 0) {
		errno = 0;
		return -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int got;
			memcpy(&got, CMSG_DATA(c), sizeof(int));
			if (fd)
				*fd = got;
			else
				close(got);
		}
	}
	if ((size_t)r < offsetof(rt_msg, text)) {
		errno = EPROTO;
		return -1;
	}
	m->text[RT_MSG_TEXT - 1] = 0;
	return 0;
}

/* ---- child helpers ---- */

__attribute__((noreturn, format(printf, 3, 4))) static void die(rt_child_args *a, int e,
                                                                const char *fmt, ...)
{
	char buf[RT_MSG_TEXT];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rt_msg_send(a->sock, RT_MSG_ERROR, 0, e, buf);
	_exit(1);
}

__attribute__((noreturn)) static void die_code(rt_child_args *a, int e, int code, const char *text)
{
	rt_msg_send(a->sock, RT_MSG_ERROR, code, e, text);
	_exit(1);
}

static void wait_for(rt_child_args *a, int type, const char *what)
{
	rt_msg m;
	if (rt_msg_recv(a->sock, &m, NULL) < 0)
		_exit(1); /* parent is gone or gave up */
	if (m.type == RT_MSG_ERROR)
		_exit(1);
	if (m.type != type)
		die(a, EPROTO, "protocol error waiting for %s", what);
}

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, data, len);
	int e = errno;
	close(fd);
	if (w != (ssize_t)len) {
		errno = w < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

static int openat2_in(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC),
	                       .mode = (flags & O_CREAT) ? mode : 0,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long r;
	do
		r = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	while (r < 0 && errno == EAGAIN);
	return (int)r;
}

/* mkdir -p of path inside rootfd, never leaving it. */
static int mkdirp_in(int rootfd, const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		char c = buf[i];
		buf[i] = 0;
		int fd = openat2_in(rootfd, buf, O_PATH | O_DIRECTORY, 0);
		if (fd < 0 && errno == ENOENT) {
			char *slash = strrchr(buf, '/');
			*slash = 0;
			int pfd = openat2_in(rootfd, buf[0] ? buf : "/", O_PATH | O_DIRECTORY, 0);
			*slash = '/';
			if (pfd < 0)
				return -1;
			if (mkdirat(pfd, slash + 1, mode) < 0 && errno != EEXIST) {
				int e = errno;
				close(pfd);
				errno = e;
				return -1;
			}
			close(pfd);
			fd = openat2_in(rootfd, buf, O_PATH | O_DIRECTORY, 0);
		}
		if (fd < 0)
			return -1;
		close(fd);
		buf[i] = c;
	}
	return 0;
}

/* Make sure path exists inside root as a directory or an (empty) file. */
static int ensure_target(int rootfd, const char *path, bool dir)
{
	if (dir)
		return mkdirp_in(rootfd, path, 0755);
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		if (mkdirp_in(rootfd, parent, 0755) < 0)
			return -1;
	}
	int fd = openat2_in(rootfd, path, O_PATH, 0);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	fd = openat2_in(rootfd, path, O_CREAT | O_WRONLY | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void fdpath(char *buf, size_t n, int fd)
{
	snprintf(buf, n, "/proc/self/fd/%d", fd);
}

/* MS_* flags a remount must keep (locked in a user namespace). */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		return 0;
	unsigned long f = 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int bind_remount(const char *path, unsigned long flags)
{
	unsigned long f = MS_BIND | MS_REMOUNT | flags;
	if (mount(NULL, path, NULL, f, NULL) == 0)
		return 0;
	if (errno != EPERM)
		return -1;
	unsigned long keep = locked_flags(path) & ~MS_RDONLY;
	return mount(NULL, path, NULL, f | keep, NULL);
}

#define MS_CREATE_MASK                                                                        \
	(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_MANDLOCK |        \
	 MS_DIRSYNC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_SILENT | \
	 MS_LAZYTIME | MS_I_VERSION | MS_NOSYMFOLLOW)

struct mount_attr_compat {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};

/* The cgroup hierarchies to mount for type "cgroup" (v1 names, from the
 * host's /proc/self/cgroup; "" is the cgroup2 one). Prepared by the
 * parent. */
static int mount_cgroup(rt_child_args *a, int rootfd, const rt_mount *m)
{
	char p[64];
	int fd = openat2_in(rootfd, m->dest, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return -1;
	fdpath(p, sizeof(p), fd);
	unsigned long fl = m->flags & MS_CREATE_MASK;
	if (a->spec->cgroup_v2_only) {
		int r = mount("cgroup2", p, "cgroup2", fl, NULL);
		close(fd);
		return r;
	}
	int r = mount("tmpfs", p, "tmpfs", (fl & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC,
	              "mode=755");
	close(fd);
	if (r < 0)
		return -1;
	fd = openat2_in(rootfd, m->dest, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return -1;
	for (char **h = a->spec->cgroup_v1; h && *h; h++) {
		/* "<dir>\t<options>" */
		char dir[256], opts[256];
		const char *tab = strchr(*h, '\t');
		if (!tab)
			continue;
		snprintf(dir, sizeof(dir), "%.*s", (int)(tab - *h), *h);
		snprintf(opts, sizeof(opts), "%s", tab + 1);
		if (mkdirat(fd, dir, 0755) < 0 && errno != EEXIST)
			goto fail;
		int sub = openat(fd, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			goto fail;
		fdpath(p, sizeof(p), sub);
		bool v2 = !strcmp(opts, "cgroup2");
		r = mount("cgroup", p, v2 ? "cgroup2" : "cgroup",
		          fl | MS_NOSUID | MS_NODEV | MS_NOEXEC, v2 ? NULL : opts);
		int e = errno;
		close(sub);
		if (r < 0) {
			errno = e;
			goto fail;
		}
	}
	if (fl & MS_RDONLY) {
		fdpath(p, sizeof(p), fd);
		if (mount(NULL, p, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		          "mode=755") < 0)
			goto fail;
	}
	close(fd);
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void do_mount(rt_child_args *a, int rootfd, const rt_mount *m)
{
	char p[64];
	bool dir = m->bind ? m->src_is_dir : true;
	if (ensure_target(rootfd, m->dest, dir) < 0)
		die(a, errno, "mount %s: creating the mount point", m->dest);
	if (m->type && !strcmp(m->type, "cgroup")) {
		if (mount_cgroup(a, rootfd, m) < 0)
			die(a, errno, "mount cgroup on %s", m->dest);
	} else {
		int fd = openat2_in(rootfd, m->dest, O_PATH, 0);
		if (fd < 0)
			die(a, errno, "mount %s: opening the mount point", m->dest);
		fdpath(p, sizeof(p), fd);
		int r;
		if (m->bind)
			r = mount(m->source, p, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL);
		else /* read-only per mount, not per superblock (as crun) */
			r = mount(m->source, p, m->type, m->flags & MS_CREATE_MASK & ~MS_RDONLY,
			          m->data);
		int e = errno;
		close(fd);
		if (r < 0) {
			if (m->bind)
				die(a, e, "bind mount %s on %s", m->source, m->dest);
			die(a, e, "mount %s (%s) on %s", m->source, m->type, m->dest);
		}
		if ((m->bind && (m->flags & MS_CREATE_MASK)) ||
		    (!m->bind && (m->flags & MS_RDONLY))) {
			fd = openat2_in(rootfd, m->dest, O_PATH, 0);
			if (fd < 0)
				die(a, errno, "mount %s: reopening", m->dest);
			fdpath(p, sizeof(p), fd);
			r = bind_remount(p, m->flags & MS_CREATE_MASK);
			e = errno;
			close(fd);
			if (r < 0)
				die(a, e, "remounting bind mount %s with its options", m->dest);
		}
	}
	if (m->propagation || m->attr_set || m->attr_clr) {
		int fd = openat2_in(rootfd, m->dest, O_PATH, 0);
		if (fd < 0)
			die(a, errno, "mount %s: reopening", m->dest);
		if (m->propagation) {
			fdpath(p, sizeof(p), fd);
			if (mount(NULL, p, NULL, m->propagation, NULL) < 0)
				die(a, errno, "setting propagation of %s", m->dest);
		}
		if (m->attr_set || m->attr_clr) {
			struct mount_attr_compat at = {.attr_set = m->attr_set,
			                               .attr_clr = m->attr_clr};
			if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &at,
			            sizeof(at)) < 0)
				die(a, errno, "setting recursive attributes of %s", m->dest);
		}
		close(fd);
	}
}

static const rt_device default_devices[] = {
    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
};

static bool userns_new(const rt_spec *s)
{
	return s->ns[RT_NS_USER].enabled;
}

static void make_device(rt_child_args *a, int rootfd, const rt_device *d)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", d->path);
	char *slash = strrchr(parent, '/');
	*slash = 0;
	/* a bind mount needs a target file; mknod below only the directory */
	if (userns_new(a->spec))
		ensure_target(rootfd, d->path, false);
	else if (parent[0])
		mkdirp_in(rootfd, parent, 0755);
	int pfd = openat2_in(rootfd, parent[0] ? parent : "/", O_PATH | O_DIRECTORY, 0);
	if (pfd < 0)
		die(a, errno, "device %s: opening its directory", d->path);
	const char *name = slash + 1;
	if (userns_new(a->spec)) {
		/* no mknod in a user namespace: bind the host's node */
		int fd = openat2_in(rootfd, d->path, O_PATH, 0);
		if (fd < 0)
			die(a, errno, "device %s", d->path);
		char p[64];
		fdpath(p, sizeof(p), fd);
		if (mount(d->path, p, NULL, MS_BIND, NULL) < 0)
			die(a, errno, "bind-mounting device %s", d->path);
		close(fd);
		close(pfd);
		return;
	}
	unlinkat(pfd, name, 0);
	mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
	if (mknodat(pfd, name, type | (d->mode & 07777),
	            d->type == 'p' ? 0 : makedev((unsigned)d->major, (unsigned)d->minor)) < 0)
		die(a, errno, "creating device %s", d->path);
	if (fchmodat(pfd, name, d->mode & 07777, 0) < 0 ||
	    fchownat(pfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
		die(a, errno, "setting owner and mode of device %s", d->path);
	close(pfd);
}

static void setup_dev(rt_child_args *a, int rootfd)
{
	const rt_spec *s = a->spec;
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		bool listed = false;
		for (size_t k = 0; k < s->ndevices; k++)
			if (!strcmp(s->devices[k].path, default_devices[i].path))
				listed = true;
		if (!listed)
			make_device(a, rootfd, &default_devices[i]);
	}
	for (size_t k = 0; k < s->ndevices; k++)
		make_device(a, rootfd, &s->devices[k]);
	int dfd = openat2_in(rootfd, "/dev", O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		die(a, errno, "opening /dev in the container");
	static const char *const links[][2] = {{"/proc/self/fd", "fd"},
	                                       {"/proc/self/fd/0", "stdin"},
	                                       {"/proc/self/fd/1", "stdout"},
	                                       {"/proc/self/fd/2", "stderr"}};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST)
			die(a, errno, "creating /dev/%s", links[i][1]);
	if (symlinkat("/proc/kcore", dfd, "core") < 0 && errno != EEXIST)
		die(a, errno, "creating /dev/core");
	/* /dev/ptmx -> pts/ptmx, so the container's devpts instance serves it */
	struct stat st;
	if (fstatat(dfd, "pts", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, "ptmx", 0) < 0 && errno != ENOENT)
			die(a, errno, "removing /dev/ptmx");
		if (symlinkat("pts/ptmx", dfd, "ptmx") < 0)
			die(a, errno, "creating /dev/ptmx");
	}
	close(dfd);
}

static bool has_dev_mount(const rt_spec *s)
{
	for (size_t i = 0; i < s->nmounts; i++)
		if (!strcmp(s->mounts[i].dest, "/dev"))
			return true;
	return false;
}

static void run_container_hooks(rt_child_args *a, int kind, const char *state)
{
	const rt_spec *s = a->spec;
	if (s->hooks.n[kind] == 0)
		return;
	char buf[RT_MSG_TEXT];
	int e = rt_hooks_run_raw(s->hooks.v[kind], s->hooks.n[kind], state, buf, sizeof(buf));
	if (e)
		die(a, e, "%s", buf);
}

/* The state JSON the parent sends for container-side hooks. */
static char *recv_state(rt_child_args *a)
{
	char peek;
	struct iovec iov = {.iov_base = &peek, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n = recvmsg(a->sock, &mh, MSG_PEEK | MSG_TRUNC);
	if (n <= 0)
		_exit(1);
	char *buf =
	    mmap(NULL, (size_t)n + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die(a, errno, "mmap");
	if (recv(a->sock, buf, (size_t)n, 0) != n)
		die(a, errno, "receiving the state");
	buf[n] = 0;
	return buf;
}

static void setup_rootfs(rt_child_args *a, char **state)
{
	const rt_spec *s = a->spec;
	unsigned long rootprop = MS_SLAVE | MS_REC;
	if (s->rootfs_propagation & MS_PRIVATE)
		rootprop = s->rootfs_propagation | MS_REC;
	if (mount(NULL, "/", NULL, rootprop, NULL) < 0)
		die(a, errno, "making / %s", (rootprop & MS_PRIVATE) ? "private" : "a slave");
	if (mount(s->rootfs, s->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(a, errno, "bind-mounting the rootfs %s", s->rootfs);
	int rootfd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die(a, errno, "opening the rootfs %s", s->rootfs);
	for (size_t i = 0; i < s->nmounts; i++)
		do_mount(a, rootfd, &s->mounts[i]);
	if (has_dev_mount(s) || mkdirp_in(rootfd, "/dev", 0755) == 0)
		setup_dev(a, rootfd);
	/* prestart and createRuntime run in the runtime's namespaces */
	if (s->hooks.n[RT_HOOK_PRESTART] || s->hooks.n[RT_HOOK_CREATE_RUNTIME] ||
	    s->hooks.n[RT_HOOK_CREATE_CONTAINER] || s->hooks.n[RT_HOOK_START_CONTAINER]) {
		rt_msg_send(a->sock, RT_MSG_HOOKS, 0, 0, NULL);
		wait_for(a, RT_MSG_ACK, "the createRuntime hooks");
		if (s->hooks.n[RT_HOOK_CREATE_CONTAINER] || s->hooks.n[RT_HOOK_START_CONTAINER])
			*state = recv_state(a);
		run_container_hooks(a, RT_HOOK_CREATE_CONTAINER, *state);
	}
	if (fchdir(rootfd) < 0)
		die(a, errno, "chdir to the rootfs");
	close(rootfd);
	if (a->no_pivot) {
		if (mount(s->rootfs, "/", NULL, MS_MOVE, NULL) < 0)
			die(a, errno, "moving the rootfs to /");
		if (chroot(".") < 0)
			die(a, errno, "chroot");
	} else {
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			die(a, errno, "pivot_root");
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			die(a, errno, "making the old root a slave");
		if (umount2(".", MNT_DETACH) < 0)
			die(a, errno, "detaching the old root");
	}
	if (chdir("/") < 0)
		die(a, errno, "chdir /");
}

static void apply_sysctl(rt_child_args *a)
{
	const rt_spec *s = a->spec;
	for (size_t i = 0; i < s->nsysctl; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "/proc/sys/%s", s->sysctl[i].key);
		if (write_file(p, s->sysctl[i].value, strlen(s->sysctl[i].value)) < 0)
			die(a, errno, "sysctl %s=%s", s->sysctl[i].key, s->sysctl[i].value);
	}
}

/* devnull: a detached clone of the host's /dev/null mount (open_tree),
 * attached to the first masked file; the others bind that one. */
static void mask_paths(rt_child_args *a, int devnull, bool devnull_ro)
{
	const rt_spec *s = a->spec;
	const char *first = NULL;
	for (char **p = s->masked; p && *p; p++) {
		struct stat st;
		if (stat(*p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			die(a, errno, "masking %s", *p);
		}
		int r;
		if (S_ISDIR(st.st_mode))
			/* (a read-only mount of a read-write tmpfs, as crun's) */
			r = mount("tmpfs", *p, "tmpfs", 0, "size=0k") == 0
			        ? bind_remount(*p, MS_RDONLY)
			        : -1;
		else {
			/* a bind mount copies the read-only flag of its source: the
			 * others bind the first, read-only itself when the clone was
			 * made read-only before it was attached */
			if (first)
				r = mount(first, *p, NULL, MS_BIND, NULL);
			else
				r = (int)syscall(SYS_move_mount, devnull, "", AT_FDCWD, *p,
				                 MOVE_MOUNT_F_EMPTY_PATH);
			if (r == 0 && !first) {
				first = *p;
				if (!devnull_ro)
					r = bind_remount(*p, MS_RDONLY);
			}
		}
		if (r < 0)
			die(a, errno, "masking %s", *p);
	}
	for (char **p = s->readonly; p && *p; p++) {
		if (mount(*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			die(a, errno, "making %s read-only", *p);
		}
		if (bind_remount(*p, MS_RDONLY | MS_REC | (locked_flags(*p) & ~MS_RDONLY)) < 0)
			die(a, errno, "making %s read-only", *p);
	}
	if (s->root_readonly && bind_remount("/", MS_RDONLY | locked_flags("/")) < 0)
		die(a, errno, "making the root read-only");
	if (s->rootfs_propagation && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
		die(a, errno, "setting rootfsPropagation");
}

static void setup_console(rt_child_args *a, const rt_process *p)
{
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		die(a, errno, "opening /dev/ptmx in the container");
	int unlock = 0, n = -1;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
		die(a, errno, "setting up the pty");
	char slave_path[64];
	snprintf(slave_path, sizeof(slave_path), "/dev/pts/%d", n);
	int slave = open(slave_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		die(a, errno, "opening %s", slave_path);
	if (p->rows || p->cols) {
		struct winsize ws = {.ws_row = p->rows, .ws_col = p->cols};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (!a->exec) {
		/* bind the pty onto /dev/console */
		int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
			die(a, errno, "bind-mounting the pty on /dev/console");
	}
	if (rt_msg_send_fd(a->sock, RT_MSG_CONSOLE, master) < 0)
		die(a, errno, "sending the pty master");
	close(master);
	wait_for(a, RT_MSG_ACK, "the console socket");
	if (setsid() < 0)
		die(a, errno, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		die(a, errno, "setting the controlling terminal");
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0)
			die(a, errno, "dup2 of the pty");
	if (slave > 2)
		close(slave);
}

static void apply_rlimits(rt_child_args *a, const rt_process *p)
{
	for (size_t i = 0; i < p->nrlimits; i++) {
		const rt_rlimit *l = &p->rlimits[i];
		struct rlimit r = {.rlim_cur = l->soft, .rlim_max = l->hard};
		if (setrlimit(l->resource, &r) == 0)
			continue;
		int e = errno;
		struct rlimit cur;
		getrlimit(l->resource, &cur);
		if (e == EPERM && l->hard > cur.rlim_max)
			die(a, e,
			    "process.rlimits: %s hard limit %llu exceeds the current hard limit "
			    "%llu, "
			    "which cannot be raised without CAP_SYS_RESOURCE",
			    l->name, (unsigned long long)l->hard, (unsigned long long)cur.rlim_max);
		die(a, e, "setrlimit %s soft %llu hard %llu", l->name, (unsigned long long)l->soft,
		    (unsigned long long)l->hard);
	}
}

static const char *env_get(char **env, const char *key)
{
	size_t n = strlen(key);
	for (char **e = env; e && *e; e++)
		if (!strncmp(*e, key, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* exec.LookPath as runc does it: fills buf or dies with 127/126. */
static void lookup_exe(rt_child_args *a, const rt_process *p, char *buf, size_t n)
{
	const char *name = p->args[0];
	char msg[RT_MSG_TEXT];
	struct stat st;
	if (strchr(name, '/')) {
		if (stat(name, &st) < 0) {
			int e = errno;
			snprintf(msg, sizeof(msg), "exec: \"%s\": stat %s: %s", name, name,
			         strerror(e));
			die_code(a, e, e == ENOENT ? 127 : 126, msg);
		}
		if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
			snprintf(msg, sizeof(msg), "exec: \"%s\": permission denied", name);
			die_code(a, EACCES, 126, msg);
		}
		snprintf(buf, n, "%s", name);
		return;
	}
	const char *path = env_get(p->env, "PATH");
	bool denied = false;
	while (path && *name) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len == 0)
			snprintf(buf, n, "./%s", name);
		else
			snprintf(buf, n, "%.*s/%s", (int)len, path, name);
		if (stat(buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode) && (st.st_mode & 0111))
				return;
			denied = true;
		}
		if (!colon)
			break;
		path = colon + 1;
	}
	(void)denied;
	snprintf(msg, sizeof(msg), "exec: \"%s\": executable file not found in $PATH", name);
	die_code(a, ENOENT, 127, msg);
}

static void load_seccomp(rt_child_args *a, const rt_process *p)
{
	if (p->seccomp == NULL)
		return;
	int r = seccomp_load_prog(p->seccomp, p->seccomp_flags);
	if (r < 0)
		die(a, -r, "loading the seccomp filter");
}

static void set_user_and_caps(rt_child_args *a, const rt_process *p)
{
	int last = rt_cap_last();
	if (p->set_caps) {
		for (int c = 0; c <= last; c++)
			if (!(p->caps[1] & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				die(a, errno, "dropping capability %d from the bounding set", c);
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		die(a, errno, "prctl(PR_SET_KEEPCAPS)");
	if (setgroups(p->ngroups, p->groups) < 0 && !(errno == EPERM && p->ngroups == 0))
		die(a, errno, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		die(a, errno, "setgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		die(a, errno, "setuid %u", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		die(a, errno, "prctl(PR_SET_KEEPCAPS)");
	if (!p->set_caps)
		return;
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	d[0].effective = (uint32_t)p->caps[0];
	d[1].effective = (uint32_t)(p->caps[0] >> 32);
	d[0].inheritable = (uint32_t)p->caps[2];
	d[1].inheritable = (uint32_t)(p->caps[2] >> 32);
	d[0].permitted = (uint32_t)p->caps[3];
	d[1].permitted = (uint32_t)(p->caps[3] >> 32);
	if (syscall(SYS_capset, &h, d) < 0)
		die(a, errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		die(a, errno, "clearing ambient capabilities");
	for (int c = 0; c <= last; c++)
		if ((p->caps[4] & (1ULL << c)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			die(a, errno, "raising ambient capability %s", rt_cap_name(c));
}

static void setup_process(rt_child_args *a, const rt_process *p, char *exe, size_t exelen)
{
	if (chdir(p->cwd) < 0)
		die(a, errno, "chdir to cwd (\"%s\") set in config.json", p->cwd);
	lookup_exe(a, p, exe, exelen);
	if (p->has_umask)
		umask(p->umask);
	else
		umask(022);
	if (p->has_io_priority &&
	    syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->io_priority) < 0)
		die(a, errno, "ioprio_set");
	if (p->has_scheduler) {
		struct sched_param sp = {.sched_priority = p->sched_priority};
		if (sched_setscheduler(0, p->sched_policy, &sp) < 0)
			die(a, errno, "sched_setscheduler");
		if (p->sched_nice && setpriority(PRIO_PROCESS, 0, (int)p->sched_nice) < 0)
			die(a, errno, "setpriority");
	}
	if (!p->no_new_privs)
		load_seccomp(a, p);
	set_user_and_caps(a, p);
	if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die(a, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
}

static void setup_stdio(rt_child_args *a)
{
	for (int i = 0; i < 3; i++) {
		int fd = a->stdio_fds[i];
		if (fd < 0)
			continue;
		if (fd == i) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0)
				fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
		} else if (dup2(fd, i) < 0)
			die(a, errno, "dup2 of stdio fd %d", fd);
	}
}

__attribute__((noreturn)) static void do_exec(rt_child_args *a, const rt_process *p,
                                              const char *exe)
{
	/* anything beyond stdio and the preserved fds does not reach the process */
	syscall(SYS_close_range, 3 + a->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
	/* nor the caller's blocked or ignored signals */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;
		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			sigaction(sig, &dfl, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(exe, p->args, p->env);
	int e = errno;
	dprintf(2, "berth: exec %s: %s\n", exe, strerror(e));
	_exit(e == ENOENT ? 127 : 126);
}

/* Stage 1 of a two-stage start: join namespaces given by path, create a
 * user namespace, unshare the rest, and fork the init into them. Returns in
 * the init; the stage-1 process exits. */
static void stage1(rt_child_args *a)
{
	static const int order[] = {RT_NS_USER, RT_NS_IPC,   RT_NS_UTS,    RT_NS_NET,
	                            RT_NS_PID,  RT_NS_MOUNT, RT_NS_CGROUP, RT_NS_TIME};
	static const int flags[RT_NS_COUNT] = {
	    [RT_NS_USER] = CLONE_NEWUSER,     [RT_NS_MOUNT] = CLONE_NEWNS,
	    [RT_NS_PID] = CLONE_NEWPID,       [RT_NS_NET] = CLONE_NEWNET,
	    [RT_NS_IPC] = CLONE_NEWIPC,       [RT_NS_UTS] = CLONE_NEWUTS,
	    [RT_NS_CGROUP] = CLONE_NEWCGROUP, [RT_NS_TIME] = CLONE_NEWTIME};
	const rt_spec *s = a->spec;
	int fds[RT_NS_COUNT];
	for (int k = 0; k < RT_NS_COUNT; k++) {
		fds[k] = -1;
		if (s->ns[k].enabled && s->ns[k].path) {
			fds[k] = open(s->ns[k].path, O_RDONLY | O_CLOEXEC);
			if (fds[k] < 0)
				die(a, errno, "opening namespace %s", s->ns[k].path);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		int k = order[i];
		if (fds[k] >= 0 && setns(fds[k], flags[k]) < 0)
			die(a, errno, "joining namespace %s", s->ns[k].path);
		if (fds[k] >= 0)
			close(fds[k]);
	}
	if (s->ns[RT_NS_USER].enabled && !s->ns[RT_NS_USER].path) {
		if (unshare(CLONE_NEWUSER) < 0)
			die(a, errno, "creating the user namespace");
		rt_msg_send(a->sock, RT_MSG_USERNS, 0, 0, NULL);
		wait_for(a, RT_MSG_ACK, "the uid/gid mappings");
	}
	if (s->ns[RT_NS_USER].enabled && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		die(a, errno, "becoming root in the user namespace");
	unsigned long uf = 0;
	static const int later[] = {RT_NS_IPC, RT_NS_UTS, RT_NS_NET, RT_NS_PID, RT_NS_MOUNT};
	for (size_t i = 0; i < ARRAY_SIZE(later); i++)
		if (s->ns[later[i]].enabled && !s->ns[later[i]].path)
			uf |= (unsigned long)flags[later[i]];
	if (uf && unshare((int)uf) < 0)
		die(a, errno, "creating namespaces");
	long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		die(a, errno, "clone");
	if (pid == 0)
		return;
	rt_msg_send(a->sock, RT_MSG_PID, (int)pid, 0, NULL);
	_exit(0);
}

/* Join the container's cgroup (rt_cgroup.h, rt_cg_clone): "0" to each
 * descriptor moves this process, single-threaded, in; the cgroup2 part
 * (if any) came with the clone. The processes forked later inherit it. */
static void join_cgroup(rt_child_args *a)
{
	for (size_t i = 0; i < a->n_cg_fds; i++) {
		if (write(a->cg_fds[i], "0", 1) != 1)
			die(a, errno, "joining the container's cgroup");
		close(a->cg_fds[i]);
	}
}

static void exec_main(rt_child_args *a)
{
	const rt_process *p = a->proc;
	join_cgroup(a);
	if (setns(a->join_pidfd, a->join_flags) < 0)
		die(a, errno, "joining the container's namespaces");
	close(a->join_pidfd);
	long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		die(a, errno, "clone");
	if (pid > 0) {
		rt_msg_send(a->sock, RT_MSG_PID, (int)pid, 0, NULL);
		_exit(0);
	}
	if (!a->in_cgroup)
		wait_for(a, RT_MSG_GO, "the cgroup");
	setup_stdio(a);
	if (a->join_flags & CLONE_NEWUSER) {
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			die(a, errno, "becoming root in the user namespace");
	}
	if (p->terminal)
		setup_console(a, p);
	apply_rlimits(a, p);
	if (p->has_oom) {
		char v[16];
		int n = snprintf(v, sizeof(v), "%d", p->oom_score_adj);
		if (write_file("/proc/self/oom_score_adj", v, (size_t)n) < 0)
			die(a, errno, "setting oomScoreAdj");
	}
	char exe[PATH_MAX];
	setup_process(a, p, exe, sizeof(exe));
	if (p->no_new_privs)
		load_seccomp(a, p);
	do_exec(a, p, exe);
}

void rt_child_main(rt_child_args *a)
{
	prctl(PR_SET_NAME, "berth-init");
	if (a->exec)
		exec_main(a);
	join_cgroup(a);
	const rt_spec *s = a->spec;
	const rt_process *p = a->proc;
	if (a->two_stage)
		stage1(a);
	/* the parent's go once the id mappings are written (or, two-stage,
	 * once it knows our pid) */
	if (a->two_stage || s->ns[RT_NS_USER].enabled)
		wait_for(a, RT_MSG_GO, "the parent");
	if (!a->two_stage && s->ns[RT_NS_USER].enabled &&
	    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		die(a, errno, "becoming root in the user namespace");
	setup_stdio(a);
	if (s->ns[RT_NS_CGROUP].enabled && !s->ns[RT_NS_CGROUP].path &&
	    unshare(CLONE_NEWCGROUP) < 0)
		die(a, errno, "creating the cgroup namespace");
	if (s->ns[RT_NS_TIME].enabled && !s->ns[RT_NS_TIME].path) {
		if (unshare(CLONE_NEWTIME) < 0)
			die(a, errno, "creating the time namespace");
		if (s->has_time_offsets) {
			char buf[128];
			int n = snprintf(buf, sizeof(buf), "monotonic %lld %u\nboottime %lld %u\n",
			                 (long long)s->mono_secs, s->mono_nsecs,
			                 (long long)s->boot_secs, s->boot_nsecs);
			if (write_file("/proc/self/timens_offsets", buf, (size_t)n) < 0)
				die(a, errno, "writing the time namespace offsets");
		}
		int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
			die(a, errno, "entering the time namespace");
		close(fd);
	}
	if (s->hostname && *s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		die(a, errno, "sethostname");
	if (s->domainname && *s->domainname &&
	    setdomainname(s->domainname, strlen(s->domainname)) < 0)
		die(a, errno, "setdomainname");
	if (!a->no_new_keyring) {
		/* a fresh session keyring, as runc: _ses.<id> */
		char name[300];
		snprintf(name, sizeof(name), "_ses.%s", a->id);
		if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, name) < 0 &&
		    errno != ENOSYS && errno != EPERM && errno != EACCES)
			die(a, errno, "creating the session keyring");
	}
	apply_rlimits(a, p);
	if (p->has_oom) {
		char v[16];
		int n = snprintf(v, sizeof(v), "%d", p->oom_score_adj);
		if (write_file("/proc/self/oom_score_adj", v, (size_t)n) < 0)
			die(a, errno, "setting oomScoreAdj to %d", p->oom_score_adj);
	}
	char *state = NULL;
	/* masked files get the host's /dev/null, as crun does */
	int devnull = -1;
	bool devnull_ro = false;
	if (s->masked && s->ns[RT_NS_MOUNT].enabled) {
		devnull = (int)syscall(SYS_open_tree, AT_FDCWD, "/dev/null",
		                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (devnull < 0)
			die(a, errno, "cloning the /dev/null mount");
		/* read-only before it is attached (else a remount after) */
		struct mount_attr_compat at = {.attr_set = 0x1 /* MOUNT_ATTR_RDONLY */};
		devnull_ro =
		    syscall(SYS_mount_setattr, devnull, "", AT_EMPTY_PATH, &at, sizeof(at)) == 0;
	}
	if (s->ns[RT_NS_MOUNT].enabled)
		setup_rootfs(a, &state);
	else {
		if (s->hooks.n[RT_HOOK_PRESTART] || s->hooks.n[RT_HOOK_CREATE_RUNTIME] ||
		    s->hooks.n[RT_HOOK_CREATE_CONTAINER] || s->hooks.n[RT_HOOK_START_CONTAINER]) {
			rt_msg_send(a->sock, RT_MSG_HOOKS, 0, 0, NULL);
			wait_for(a, RT_MSG_ACK, "the createRuntime hooks");
			if (s->hooks.n[RT_HOOK_CREATE_CONTAINER] ||
			    s->hooks.n[RT_HOOK_START_CONTAINER])
				state = recv_state(a);
			run_container_hooks(a, RT_HOOK_CREATE_CONTAINER, state);
		}
		if (chroot(s->rootfs) < 0 || chdir("/") < 0)
			die(a, errno, "chroot to %s", s->rootfs);
	}
	apply_sysctl(a);
	if (p->terminal)
		setup_console(a, p);
	if (s->ns[RT_NS_MOUNT].enabled)
		mask_paths(a, devnull, devnull_ro);
	if (devnull >= 0)
		close(devnull);
	if (s->has_personality && personality(s->personality) < 0)
		die(a, errno, "personality");
	char exe[PATH_MAX];
	setup_process(a, p, exe, sizeof(exe));
	char fifo[64];
	fdpath(fifo, sizeof(fifo), a->fifo_fd);
	/* set after setup_process: a change of credentials clears it. A parent
	 * that died before this cannot take READY (its socket end is closed). */
	if (a->die_with_parent && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
	if (rt_msg_send(a->sock, RT_MSG_READY, 0, 0, NULL) < 0 && a->die_with_parent)
		_exit(126);
	/* the filter loads while the parent finishes the start. As with runc,
	 * a profile must allow what follows: openat, write, close, execve
	 * (startContainer hooks run before it, outside the filter) */
	bool filter_now = p->no_new_privs && !s->hooks.n[RT_HOOK_START_CONTAINER];
	if (filter_now)
		load_seccomp(a, p);
	int w;
	do
		w = open(fifo, O_WRONLY | O_CLOEXEC);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		dprintf(2, "berth: opening exec.fifo: %s\n", strerror(errno));
		_exit(126);
	}
	/* started: from here the container outlives whoever started it */
	if (a->die_with_parent)
		prctl(PR_SET_PDEATHSIG, 0);
	if (write(w, "0", 1) != 1)
		_exit(126);
	/* w stays open (O_CLOEXEC) until execve: start waits for that EOF, so
	 * poststart hooks run after the process is executed */
	close(a->fifo_fd);
	if (s->hooks.n[RT_HOOK_START_CONTAINER]) {
		char buf[RT_MSG_TEXT];
		if (rt_hooks_run_raw(s->hooks.v[RT_HOOK_START_CONTAINER],
		                     s->hooks.n[RT_HOOK_START_CONTAINER], state, buf,
		                     sizeof(buf))) {
			dprintf(2, "berth: %s\n", buf);
			_exit(126);
		}
	}
	if (p->no_new_privs && !filter_now)
		load_seccomp(a, p);
	do_exec(a, p, exe);
}
