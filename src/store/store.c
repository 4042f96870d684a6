/* Opening the store: directory layout, database, staging and the lock. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "store/store_int.h"

sqlite3 *store_db(berth_store *s)
{
	if (store_db_ready(s, NULL) < 0)
		return NULL;
	return s->db;
}

const char *store_root(berth_store *s)
{
	return s->root;
}

const char *store_runroot(berth_store *s)
{
	return s->runroot;
}

int store_rootfd(berth_store *s)
{
	return s->rootfd;
}

static int make_layout(const char *root, const char *runroot, berth_error **err)
{
	static const char *const dirs[] = {"blobs",      "blobs/sha256", "layers",
	                                   "containers", "volumes",      "tmp"};
	/* the common case, an existing store, costs one failed mkdir each */
	if (mkdir(root, 0700) < 0 && errno != EEXIST && mkdir_p(root, 0700, err) < 0)
		return -1;
	if (mkdir(runroot, 0700) < 0 && errno != EEXIST && mkdir_p(runroot, 0700, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", root, dirs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return berth_err_sys(err, errno, "creating %s", p);
	}
	return 0;
}

static void recover_dirty(berth_store *s);

int store_open(const char *root, const char *runroot, berth_store **out, berth_error **err)
{
	*out = NULL;
	if (make_layout(root, runroot, err) < 0)
		return -1;
	berth_store *s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(root);
	s->runroot = xstrdup(runroot);
	s->lockfd = -1;
	s->stagefd = -1;
	s->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		berth_err_sys(err, errno, "opening %s", root);
		store_close(s);
		return -1;
	}
	if (store_db_open(s, err) < 0 || layer_store_init(s, err) < 0 ||
	    store_sweep_staging(s, err) < 0) {
		store_close(s);
		return -1;
	}
	recover_dirty(s);
	*out = s;
	return 0;
}

int store_open_lazy(const char *root, const char *runroot, berth_store **out, berth_error **err)
{
	*out = NULL;
	berth_store *s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(root);
	s->runroot = xstrdup(runroot);
	s->lockfd = -1;
	s->stagefd = -1;
	s->lazy = true;
	s->rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		berth_err_sys(err, errno, "opening %s", root);
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(berth_store *s)
{
	if (s == NULL)
		return;
	if (s->in_tx)
		store_tx_rollback(s);
	store_db_close(s);
	if (s->stagefd >= 0) {
		berth_error *e = NULL;
		/* still holding the flock: nobody else removes it concurrently */
		if (rm_rf(s->stage_path, &e) < 0)
			berth_error_free(e);
		close(s->stagefd);
	}
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->rootfd >= 0)
		close(s->rootfd);
	strv_free(s->migrated);
	free(s->stage_path);
	free(s->root);
	free(s->runroot);
	free(s);
}

#define STORE_DIRTY "dirty"

/* Just got the flock: mark the store dirty until store_unlock. Finding the
 * mark already there means a holder was killed with the lock: remove what
 * it renamed into place without recording it. */
static int mark_dirty(berth_store *s, berth_error **err)
{
	int fd = openat(s->rootfd, STORE_DIRTY,
	                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno != EEXIST)
		return berth_err_sys(err, errno, "creating %s/%s", s->root, STORE_DIRTY);
	return layer_store_gc_orphans(s, err);
}

static int open_lockfile(berth_store *s, berth_error **err)
{
	if (s->lockfd >= 0)
		return 0;
	_cleanup_free_ char *p = xasprintf("%s/store.lock", s->runroot);
	s->lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd < 0)
		return berth_err_sys(err, errno, "opening %s", p);
	return 0;
}

int store_lock(berth_store *s, berth_error **err)
{
	if (s->lock_depth > 0) {
		s->lock_depth++;
		return 0;
	}
	if (open_lockfile(s, err) < 0)
		return -1;
	while (flock(s->lockfd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return berth_err_sys(err, errno, "locking the store");
	}
	if (mark_dirty(s, err) < 0) {
		flock(s->lockfd, LOCK_UN);
		return -1;
	}
	s->lock_depth = 1;
	return 0;
}

void store_unlock(berth_store *s)
{
	if (s->lock_depth == 0)
		return;
	if (--s->lock_depth == 0) {
		unlinkat(s->rootfd, STORE_DIRTY, 0);
		flock(s->lockfd, LOCK_UN);
	}
}

/* At open: a dirty mark with nobody holding the lock is what a killed
 * holder left; clean up after it now (best effort: on failure the mark
 * stays for the next locker), so that no command sees its leftovers. */
static void recover_dirty(berth_store *s)
{
	if (faccessat(s->rootfd, STORE_DIRTY, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	berth_error *e = NULL;
	if (open_lockfile(s, &e) < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		berth_error_free(e);
		return; /* a live holder: it, or the next one to lock, cleans up */
	}
	if (mark_dirty(s, &e) == 0)
		unlinkat(s->rootfd, STORE_DIRTY, 0);
	berth_error_free(e);
	flock(s->lockfd, LOCK_UN);
}

/* Create "tmp/.new-XXXXXX", flock it, rename it to "tmp/stage-XXXXXX". A
 * sweeper that finds a ".new-" dir unlocked (its creator died, or has not
 * locked it yet) removes it; the creator then sees its lock or rename fail
 * and tries again with a new name. */
static int make_staging(berth_store *s, berth_error **err)
{
	for (int attempt = 0;; attempt++) {
		_cleanup_free_ char *tmpl = xasprintf("%s/tmp/.new-XXXXXX", s->root);
		if (mkdtemp(tmpl) == NULL)
			return berth_err_sys(err, errno, "creating a staging directory in %s/tmp",
			                     s->root);
		int fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		int e = errno;
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			const char *base = strrchr(tmpl, '/') + 1;
			char *final = xasprintf("%s/tmp/stage-%s", s->root, base + 5);
			if (rename(tmpl, final) == 0) {
				s->stagefd = fd;
				s->stage_path = final;
				return 0;
			}
			e = errno;
			free(final);
		} else if (fd >= 0) {
			e = errno;
		}
		if (fd >= 0)
			close(fd);
		if (attempt >= 10)
			return berth_err_sys(err, e, "creating a staging directory in %s/tmp",
			                     s->root);
	}
}

int store_staging(berth_store *s, const char **path, berth_error **err)
{
	if (s->stagefd < 0 && make_staging(s, err) < 0)
		return -1;
	if (path)
		*path = s->stage_path;
	return s->stagefd;
}

char *store_staging_name(berth_store *s, const char *prefix)
{
	/* atomic: parallel layer downloads stage names from several threads */
	return xasprintf("%s-%u", prefix, __atomic_add_fetch(&s->stage_seq, 1, __ATOMIC_RELAXED));
}

/* Entries of root/tmp: "stage-*" and ".new-*" directories are held with an
 * flock by a live owner (see make_staging); other entries are removed when
 * older than a minute. */
int store_sweep_staging(berth_store *s, berth_error **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", s->root);
	int dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "opening %s", tmp);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return berth_err_sys(err, errno, "reading %s", tmp);
	}
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (s->stage_path && !strcmp(strrchr(s->stage_path, '/') + 1, n))
			continue;
		if (str_prefix(n, "stage-") || str_prefix(n, ".new-")) {
			_cleanup_close_ int fd =
			    openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB) < 0)
				continue; /* a live process owns it */
			berth_error *e = NULL;
			if (rm_rf_at(dirfd(d), n, &e) < 0)
				berth_error_free(e);
		} else {
			struct stat st;
			if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (now - st.st_mtime < 60)
				continue;
			berth_error *e = NULL;
			if (rm_rf_at(dirfd(d), n, &e) < 0)
				berth_error_free(e);
		}
	}
	return 0;
}
