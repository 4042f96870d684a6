/* User namespace remapping (dockerd's userns-remap): berth.json's
 * "userns-remap" is "default" (user and group dockremap, created with
 * subordinate id ranges when missing, as dockerd does) or "user[:group]"
 * (names or numbers). Containers then run in a user namespace mapped to
 * the user's /etc/subuid and group's /etc/subgid ranges, unless created
 * with --userns=host. The mapping is decided at create time and kept in
 * the record ("IdMappings", OCI's uidMappings/gidMappings shape).
 *
 * The root filesystem is the overlay mounted through an idmapped mount
 * (mount_setattr MOUNT_ATTR_IDMAP), so layers and the upper dir keep the
 * ids the container sees and nothing is copied or chowned. Bind mounts and
 * volumes are not idmapped: the container's root writes there as the
 * remapped root, as with Docker. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/container.h"
#include "container/internal.h"

#define REMAP_DEFAULT_NAME "dockremap"
#define SUBID_MAX_RANGES 16

struct subid_range {
	unsigned long start, count;
};

static int cmp_range(const void *a, const void *b)
{
	const struct subid_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static bool parse_ulong(const char *s, size_t n, unsigned long *out)
{
	if (n == 0 || n > 10)
		return false;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 0xffffffffUL)
		return false;
	*out = v;
	return true;
}

/* Ranges of "name:start:count" lines for name or its number, sorted by
 * start; returns how many (at most cap). */
static size_t subid_ranges(const char *text, size_t len, const char *name, const char *num,
                           struct subid_range *out, size_t cap)
{
	size_t n = 0;
	const char *p = text, *end = text + len;
	while (p < end && n < cap) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c1 && c2 && *p != '#') {
			size_t kl = (size_t)(c1 - p);
			bool match = (strlen(name) == kl && !memcmp(p, name, kl)) ||
			             (num && strlen(num) == kl && !memcmp(p, num, kl));
			struct subid_range r;
			if (match && parse_ulong(c1 + 1, (size_t)(c2 - c1 - 1), &r.start) &&
			    parse_ulong(c2 + 1, (size_t)(le - c2 - 1), &r.count) && r.count > 0)
				out[n++] = r;
		}
		p = le + 1;
	}
	qsort(out, n, sizeof(*out), cmp_range);
	return n;
}

/* Docker's createIDMap: the ranges one after another from container id 0. */
static json_t *idmap_json(const struct subid_range *r, size_t n)
{
	json_t *a = json_array();
	unsigned long inside = 0;
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(
		    a, json_pack("{s:I,s:I,s:I}", "containerID", (json_int_t)inside, "hostID",
		                 (json_int_t)r[i].start, "size", (json_int_t)r[i].count));
		inside += r[i].count;
	}
	return a;
}

int ctr_subid_mappings(const char *text, size_t len, const char *name, const char *num,
                       json_t **out)
{
	struct subid_range r[SUBID_MAX_RANGES] = {{0, 0}};
	size_t n = subid_ranges(text, len, name, num, r, SUBID_MAX_RANGES);
	*out = n ? idmap_json(r, n) : NULL;
	return (int)n;
}

static int run_tool(char *const argv[], berth_error **err)
{
	pid_t pid = fork();
	if (pid < 0)
		return berth_err_sys(err, errno, "fork");
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return berth_err_sys(err, errno, "waiting for %s", argv[0]);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return berth_err(err, BERTH_E_GENERIC, "%s %s failed (status %d)", argv[0],
		                 argv[1] ? argv[1] : "", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return 0;
}

/* The first id after every range of the file, at least 100000 (Docker's
 * findNextUIDRange). */
static unsigned long next_free(const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	unsigned long next = 100000;
	if (read_file(path, &text, &len, NULL) < 0)
		return next;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		unsigned long s, c;
		if (c2 && parse_ulong(c1 + 1, (size_t)(c2 - c1 - 1), &s) &&
		    parse_ulong(c2 + 1, (size_t)(le - c2 - 1), &c) && s + c > next)
			next = s + c;
		p = le + 1;
	}
	return next;
}

/* "default": dockremap with ranges of 65536 ids, made as dockerd makes
 * them (useradd --system, then usermod --add-subuids/--add-subgids). */
static int ensure_default_user(berth_error **err)
{
	if (getpwnam(REMAP_DEFAULT_NAME) == NULL) {
		char *const argv[] = {"useradd",          "--system",   "--user-group",
		                      "--shell",          "/bin/false", "--no-create-home",
		                      REMAP_DEFAULT_NAME, NULL};
		if (run_tool(argv, err) < 0)
			return berth_err_prefix(err, "creating the user " REMAP_DEFAULT_NAME);
	}
	static const char *const files[] = {"/etc/subuid", "/etc/subgid"};
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		struct subid_range r[1] = {{0, 0}};
		if (read_file(files[i], &text, &len, NULL) == 0 &&
		    subid_ranges(text, len, REMAP_DEFAULT_NAME, NULL, r, 1) > 0)
			continue;
		unsigned long start = next_free(files[i]);
		_cleanup_free_ char *range = xasprintf("%lu-%lu", start, start + 65535);
		char *const argv[] = {"usermod", i == 0 ? "--add-subuids" : "--add-subgids", range,
		                      REMAP_DEFAULT_NAME, NULL};
		if (run_tool(argv, err) < 0)
			return berth_err_prefix(err, "adding %s ranges for " REMAP_DEFAULT_NAME,
			                        files[i]);
	}
	return 0;
}

static int mappings_for(const char *file, const char *what, const char *name, unsigned long id,
                        json_t **out, berth_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (read_file(file, &text, &len, err) < 0)
		return -1;
	char num[16];
	snprintf(num, sizeof(num), "%lu", id);
	if (ctr_subid_mappings(text, len, name, num, out) <= 0)
		return berth_err(err, BERTH_E_INVALID, "no %s ranges found for %s \"%s\" in %s",
		                 file + 5, what, name, file);
	return 0;
}

int ctr_userns_resolve(const char *remap, json_t **out, berth_error **err)
{
	*out = NULL;
	_cleanup_free_ char *user = xstrdup(remap);
	char *group = strchr(user, ':');
	if (group)
		*group++ = 0;
	if (!strcmp(user, "default")) {
		if (group)
			return berth_err(err, BERTH_E_INVALID,
			                 "userns-remap: \"default\" takes no group");
		if (ensure_default_user(err) < 0)
			return -1;
		free(user);
		user = xstrdup(REMAP_DEFAULT_NAME);
		group = NULL;
	}
	unsigned long uid, gid;
	struct passwd *pw = NULL;
	if (parse_ulong(user, strlen(user), &uid))
		pw = getpwuid((uid_t)uid);
	else
		pw = getpwnam(user);
	if (pw == NULL)
		return berth_err(err, BERTH_E_INVALID, "userns-remap: no such user: %s", user);
	uid = pw->pw_uid;
	_cleanup_free_ char *uname = xstrdup(pw->pw_name);
	/* no group: the group of the user's name (Docker's default) */
	const char *gname_in = group && *group ? group : uname;
	struct group *gr = NULL;
	if (parse_ulong(gname_in, strlen(gname_in), &gid))
		gr = getgrgid((gid_t)gid);
	else
		gr = getgrnam(gname_in);
	if (gr == NULL)
		return berth_err(err, BERTH_E_INVALID, "userns-remap: no such group: %s", gname_in);
	gid = gr->gr_gid;
	_cleanup_free_ char *gname = xstrdup(gr->gr_name);
	_cleanup_json_ json_t *um = NULL, *gm = NULL;
	if (mappings_for("/etc/subuid", "user", uname, uid, &um, err) < 0 ||
	    mappings_for("/etc/subgid", "group", gname, gid, &gm, err) < 0)
		return berth_err_prefix(err, "userns-remap %s", remap);
	*out = json_pack("{s:O,s:O}", "uidMappings", um, "gidMappings", gm);
	return 0;
}

int ctr_userns_for_create(const json_t *host, json_t **out, berth_error **err)
{
	*out = NULL;
	const char *mode = json_get_str(host, "UsernsMode");
	if (mode && *mode && strcmp(mode, "host"))
		return berth_err(err, BERTH_E_INVALID, "invalid USER mode: %s", mode);
	_cleanup_config_ berth_config *cfg = NULL;
	if (berth_config_load(getenv("BERTH_CONFIG"), &cfg, err) < 0)
		return -1;
	const char *remap = cfg->userns_remap;
	if (remap == NULL || !*remap || (mode && !strcmp(mode, "host")))
		return 0;
	/* dockerd's verifyPlatformContainerSettings */
	if (json_get_bool(host, "Privileged", false))
		return berth_err(err, BERTH_E_INVALID,
		                 "privileged mode is incompatible with user namespaces.  You must "
		                 "run the container in the host namespace when running privileged "
		                 "mode");
	if (str_eq(json_get_str(host, "NetworkMode"), "host"))
		return berth_err(err, BERTH_E_INVALID,
		                 "Cannot share the host's network namespace when user namespaces "
		                 "are enabled");
	if (str_eq(json_get_str(host, "PidMode"), "host"))
		return berth_err(err, BERTH_E_INVALID,
		                 "Cannot share the host PID namespace when user namespaces are "
		                 "enabled");
	return ctr_userns_resolve(remap, out, err);
}

unsigned long ctr_idmap_root(const json_t *idm, const char *which)
{
	json_t *a = json_object_get(idm, which);
	size_t i;
	json_t *e;
	json_array_foreach (a, i, e) {
		if (json_get_int(e, "containerID", -1) == 0)
			return (unsigned long)json_get_int(e, "hostID", 0);
	}
	return 0;
}

/* id's image through the mapping whose [from, from + size) holds it. */
static long long idmap_lookup(const json_t *idm, const char *which, unsigned long id,
                              const char *from, const char *to)
{
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(idm, which), i, e) {
		long long base = json_get_int(e, from, 0), sz = json_get_int(e, "size", 0);
		if ((long long)id >= base && (long long)id < base + sz)
			return json_get_int(e, to, 0) + ((long long)id - base);
	}
	return -1;
}

long long ctr_idmap_host(const json_t *idm, const char *which, unsigned long id)
{
	return idmap_lookup(idm, which, id, "containerID", "hostID");
}

long long ctr_idmap_container(const json_t *idm, const char *which, unsigned long id)
{
	return idmap_lookup(idm, which, id, "hostID", "containerID");
}

/* The container's ranges, plus one id after them for host root: berth
 * (root) mounts the overlay, and overlayfs creates its work files and
 * copy-up temporaries with the mounter's ids, which an idmapped upper
 * must be able to store (else EOVERFLOW). They land as that id on disk,
 * inside work/ only: what the container creates is stored with its own
 * ids. */
static int write_map(pid_t pid, const char *file, const json_t *a, berth_error **err)
{
	strbuf sb;
	sb_init(&sb);
	size_t i;
	json_t *e;
	long long next = 0;
	json_array_foreach (a, i, e) {
		long long in = json_get_int(e, "containerID", 0), sz = json_get_int(e, "size", 0);
		sb_printf(&sb, "%lld %lld %lld\n", in, json_get_int(e, "hostID", 0), sz);
		if (in + sz > next)
			next = in + sz;
	}
	if (next < 0xffffffffLL)
		sb_printf(&sb, "%lld 0 1\n", next);
	_cleanup_free_ char *text = sb_steal(&sb);
	_cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return berth_err_sys(err, errno, "writing %s", path);
	return 0;
}

/* A user namespace with the mappings, held by an fd (a short-lived child
 * unshares it; we keep /proc/<child>/ns/user open). */
static int userns_fd(const json_t *idm, berth_error **err)
{
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0)
		return berth_err_sys(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(sync[0]);
		close(sync[1]);
		return berth_err_sys(err, errno, "fork");
	}
	if (pid == 0) {
		close(sync[1]);
		char c;
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		/* wait until the parent is done with us */
		while (read(sync[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(sync[0]);
	int fd = -1;
	/* the child's unshare: wait until its user namespace differs */
	_cleanup_free_ char *path = xasprintf("/proc/%d/ns/user", (int)pid);
	struct stat self, child;
	int r = stat("/proc/self/ns/user", &self);
	for (int i = 0; r == 0 && i < 10000; i++) {
		if (stat(path, &child) < 0) {
			r = -1;
			break;
		}
		if (child.st_ino != self.st_ino)
			break;
		usleep(100);
	}
	if (r < 0)
		berth_err_sys(err, errno, "creating a user namespace");
	else if (child.st_ino == self.st_ino)
		r = berth_err(err, BERTH_E_GENERIC, "creating a user namespace: timed out");
	if (r == 0 && write_map(pid, "uid_map", json_object_get(idm, "uidMappings"), err) == 0 &&
	    write_map(pid, "gid_map", json_object_get(idm, "gidMappings"), err) == 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			berth_err_sys(err, errno, "opening %s", path);
	}
	close(sync[1]);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return fd;
}

/* Clone the mount of path (a directory: an overlay layer or the container
 * dir) as an idmapped mount attached at target. */
static int idmap_clone(int ns, const char *path, const char *target, berth_error **err)
{
	_cleanup_close_ int tree =
	    (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		return berth_err_sys(err, errno, "open_tree %s", path);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return berth_err_sys(err, errno,
		                     "userns-remap: the kernel cannot make an idmapped mount of %s "
		                     "(berth has no chowned-copy fallback)",
		                     path);
	if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return berth_err_sys(err, errno, "move_mount onto %s", target);
	return 0;
}

int ctr_userns_mount_rootfs(const char *dir, const char *lower, const json_t *idm,
                            berth_error **err)
{
	_cleanup_close_ int ns = userns_fd(idm, err);
	if (ns < 0)
		return -1;
	/* every layer and the container dir (upper, work) through an idmap,
	 * attached under dir/idmap in this (private) mount namespace */
	_cleanup_free_ char *idir = xasprintf("%s/idmap", dir);
	if (mkdir(idir, 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "creating %s", idir);
	_cleanup_free_ char *u = xasprintf("%s/u", idir);
	if (mkdir(u, 0700) < 0 && errno != EEXIST)
		return berth_err_sys(err, errno, "creating %s", u);
	if (idmap_clone(ns, dir, u, err) < 0)
		return -1;
	_cleanup_strv_ char **lowers = str_split(lower, ':');
	_cleanup_sb_ strbuf opts;
	sb_init(&opts);
	sb_append(&opts, "lowerdir=");
	for (size_t i = 0; lowers && lowers[i]; i++) {
		_cleanup_free_ char *l = xasprintf("%s/%zu", idir, i);
		if (mkdir(l, 0700) < 0 && errno != EEXIST)
			return berth_err_sys(err, errno, "creating %s", l);
		if (idmap_clone(ns, lowers[i], l, err) < 0)
			return -1;
		sb_printf(&opts, "%s%s", i ? ":" : "", l);
	}
	sb_printf(&opts, ",upperdir=%s/upper,workdir=%s/work", u, u);
	_cleanup_free_ char *text = sb_steal(&opts);
	if (strlen(text) >= 4096)
		return berth_err(err, BERTH_E_UNSUPPORTED, "too many image layers for overlayfs");
	_cleanup_free_ char *merged = xasprintf("%s/merged", dir);
	if (mount("overlay", merged, "overlay", 0, text) < 0)
		return berth_err_sys(err, errno, "mounting the container's root filesystem");
	/* overlayfs holds private clones of its layers: detach ours, so that no
	 * image layer stays mounted below the container dir (a removal of the
	 * dir must never walk into a layer) */
	for (size_t i = 0; lowers && lowers[i]; i++) {
		_cleanup_free_ char *l = xasprintf("%s/%zu", idir, i);
		if (umount2(l, MNT_DETACH) < 0)
			return berth_err_sys(err, errno, "detaching %s", l);
	}
	if (umount2(u, MNT_DETACH) < 0)
		return berth_err_sys(err, errno, "detaching %s", u);
	return 0;
}

/* The remapped root must reach what the runtime mounts from inside the
 * user namespace: the rootfs and the container's etc files, volumes. */
static int allow_traverse(const char *path, berth_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return berth_err_sys(err, errno, "stat %s", path);
	if ((st.st_mode & 0001) == 0 && chmod(path, (st.st_mode & 07777) | 0001) < 0)
		return berth_err_sys(err, errno, "chmod o+x %s", path);
	return 0;
}

int ctr_userns_prepare(berth_store *s, ctr_record *r, const json_t *idm, berth_error **err)
{
	unsigned long gid = ctr_idmap_root(idm, "gidMappings");
	/* Docker: the daemon root and every parent must let the remapped root
	 * pass; berth opens the ones it owns and names any other */
	_cleanup_free_ char *root = xstrdup(store_root(s));
	_cleanup_free_ char *containers = xasprintf("%s/containers", root);
	_cleanup_free_ char *volumes = xasprintf("%s/volumes", root);
	if (allow_traverse(root, err) < 0 || allow_traverse(containers, err) < 0 ||
	    allow_traverse(volumes, err) < 0)
		return -1;
	for (char *p = strrchr(root, '/'); p && p != root; p = strrchr(root, '/')) {
		*p = 0;
		struct stat st;
		if (stat(root, &st) == 0 && (st.st_mode & 0001) == 0)
			return berth_err(
			    err, BERTH_E_INVALID,
			    "a directory above berth's root (%s) restricts access to the "
			    "remapped root: allow o+x on it",
			    root);
	}
	/* volumes: their _data belongs to the remapped root, as under dockerd */
	unsigned long uid = ctr_idmap_root(idm, "uidMappings");
	size_t i;
	json_t *m;
	json_array_foreach (json_object_get(r->config, "Mounts"), i, m) {
		if (!str_eq(json_get_str(m, "Type"), "volume"))
			continue;
		const char *src = json_get_str(m, "Source");
		if (src == NULL)
			continue;
		_cleanup_free_ char *vdir = xstrdup(src);
		char *slash = strrchr(vdir, '/');
		if (slash)
			*slash = 0;
		struct stat st;
		if (allow_traverse(vdir, err) < 0 || stat(src, &st) < 0)
			return -1;
		if (st.st_uid == 0 && st.st_gid == 0 && chown(src, (uid_t)uid, (gid_t)gid) < 0)
			return berth_err_sys(err, errno, "giving %s to the remapped root", src);
	}
	return 0;
}

int ctr_userns_own_etc_files(const char *dir, const json_t *idm, berth_error **err)
{
	/* as dockerd: the container's root owns its hostname, hosts and
	 * resolv.conf (bind-mounted, not under the idmapped rootfs) */
	static const char *const names[] = {"hostname", "hosts", "resolv.conf"};
	uid_t uid = (uid_t)ctr_idmap_root(idm, "uidMappings");
	gid_t gid = (gid_t)ctr_idmap_root(idm, "gidMappings");
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "opening %s", dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fchownat(dfd, names[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
			return berth_err_sys(err, errno, "giving %s/%s to the remapped root", dir,
			                     names[i]);
	return 0;
}
