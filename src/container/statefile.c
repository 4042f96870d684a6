/* Container state file (libc only; see statefile.h). */
#include "container/statefile.h"

#include "container/proto.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fnv.h"

void ctr_state_init(struct ctr_state *st)
{
	memset(st, 0, sizeof(*st));
	memcpy(st->status, "created", sizeof("created"));
}

static void copy_field(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

static int64_t parse_i64(const char *v, size_t n)
{
	char tmp[32];
	copy_field(tmp, sizeof(tmp), v, n);
	return strtoll(tmp, NULL, 10);
}

/* FNV-1a of the text before the "sum=" line. */
static uint32_t state_sum(const char *buf, size_t len)
{
	return fnv1a32(buf, len);
}

/* Where the "sum=" line starts, or NULL (a file without one). */
static const char *sum_line(const char *buf, size_t len)
{
	for (const char *p = buf; p < buf + len;) {
		if ((size_t)(buf + len - p) >= 4 && memcmp(p, "sum=", 4) == 0)
			return p;
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

/* Whether the text is whole: its sum line (if any) matches what precedes
 * it. A monitor rewrites its file in place; a read racing that rewrite can
 * see a mix of the two texts, which this tells. */
static bool state_whole(const char *buf, size_t len)
{
	const char *sl = sum_line(buf, len);
	if (sl == NULL)
		return true; /* written by rename, or by an older berth */
	const char *nl = memchr(sl, '\n', (size_t)(buf + len - sl));
	if (nl == NULL)
		return false;
	char want[16];
	snprintf(want, sizeof(want), "%08x", state_sum(buf, (size_t)(sl - buf)));
	return (size_t)(nl - sl - 4) == 8 && memcmp(sl + 4, want, 8) == 0;
}

void ctr_state_parse(struct ctr_state *st, const char *buf, size_t len)
{
	ctr_state_init(st);
	/* what follows the sum line is an older, longer text's tail */
	const char *sl = sum_line(buf, len);
	if (sl)
		len = (size_t)(sl - buf);
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(le - p));
		if (eq) {
			size_t kl = (size_t)(eq - p);
			const char *v = eq + 1;
			size_t vl = (size_t)(le - v);
#define KEY(k) (kl == sizeof(k) - 1 && memcmp(p, k, kl) == 0)
			if (KEY("status"))
				copy_field(st->status, sizeof(st->status), v, vl);
			else if (KEY("pid"))
				st->pid = (int)parse_i64(v, vl);
			else if (KEY("monitor_pid"))
				st->monitor_pid = (int)parse_i64(v, vl);
			else if (KEY("started"))
				st->started_ns = parse_i64(v, vl);
			else if (KEY("finished"))
				st->finished_ns = parse_i64(v, vl);
			else if (KEY("exit_code"))
				st->exit_code = (int)parse_i64(v, vl);
			else if (KEY("oom_killed"))
				st->oom_killed = parse_i64(v, vl) != 0;
			else if (KEY("manual_stop"))
				st->manual_stop = parse_i64(v, vl) != 0;
			else if (KEY("restart_count"))
				st->restart_count = (int)parse_i64(v, vl);
			else if (KEY("paused"))
				st->paused = parse_i64(v, vl) != 0;
			else if (KEY("health"))
				st->health = parse_i64(v, vl) != 0;
			else if (KEY("lock"))
				st->locked = parse_i64(v, vl) != 0;
			else if (KEY("error"))
				copy_field(st->error, sizeof(st->error), v, vl);
#undef KEY
		}
		p = le + 1;
	}
}

static size_t format_state(const struct ctr_state *st, bool locked, char *buf, size_t cap)
{
	char err[sizeof(st->error)];
	size_t i;
	for (i = 0; i < sizeof(err) - 1 && st->error[i]; i++)
		err[i] = (st->error[i] == '\n' || st->error[i] == '\r') ? ' ' : st->error[i];
	err[i] = 0;
	int n = snprintf(buf, cap,
	                 "status=%s\npid=%d\nmonitor_pid=%d\nstarted=%lld\nfinished=%lld\n"
	                 "exit_code=%d\noom_killed=%d\nmanual_stop=%d\nrestart_count=%d\n"
	                 "paused=%d\nhealth=%d\nlock=%d\nerror=%s\n",
	                 st->status, st->pid, st->monitor_pid, (long long)st->started_ns,
	                 (long long)st->finished_ns, st->exit_code, st->oom_killed ? 1 : 0,
	                 st->manual_stop ? 1 : 0, st->restart_count, st->paused ? 1 : 0,
	                 st->health ? 1 : 0, locked ? 1 : 0, err);
	if (n < 0 || (size_t)n + 14 >= cap)
		return 0;
	int m = snprintf(buf + n, cap - (size_t)n, "sum=%08x\n", state_sum(buf, (size_t)n));
	if (m < 0)
		return 0;
	return (size_t)n + (size_t)m;
}

size_t ctr_state_format(const struct ctr_state *st, char *buf, size_t cap)
{
	return format_state(st, st->locked, buf, cap);
}

/* Read an open state file (regular: one read is enough unless it filled
 * the buffer). */
static size_t read_whole(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		size_t want = cap - 1 - len;
		ssize_t r = pread(fd, buf + len, want, (off_t)len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		/* a short read of a regular file is its end: no second read */
		if ((size_t)r < want || len == cap - 1)
			break;
	}
	buf[len] = 0;
	return len;
}

static void read_state_fd(int fd, struct ctr_state *st)
{
	char buf[1024];
	size_t len = read_whole(fd, buf, sizeof(buf));
	/* a rewrite in place is one small write: read again until whole */
	for (int i = 0; i < 1000 && !state_whole(buf, len); i++) {
		if (i >= 10) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
		len = read_whole(fd, buf, sizeof(buf));
	}
	ctr_state_parse(st, buf, len);
}

int ctr_state_read_path(int dirfd, const char *path, struct ctr_state *st)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		ctr_state_init(st);
		return -e;
	}
	read_state_fd(fd, st);
	close(fd);
	return 0;
}

int ctr_state_read_at(int dirfd, struct ctr_state *st)
{
	return ctr_state_read_path(dirfd, CTR_STATE_FILE, st);
}

static bool fd_lock_held(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

int ctr_state_read_live(int dirfd, const char *path, struct ctr_state *st, int *alive)
{
	for (int attempt = 0;; attempt++) {
		*alive = 0;
		int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			ctr_state_init(st);
			return -e;
		}
		read_state_fd(fd, st);
		if (strcmp(st->status, "running") != 0 && strcmp(st->status, "restarting") != 0) {
			close(fd);
			return 0;
		}
		if (!st->locked) {
			close(fd);
			*alive = -1;
			return 0;
		}
		if (fd_lock_held(fd)) {
			close(fd);
			*alive = 1;
			return 0;
		}
		/* Unlocked: the monitor is dead, or it has renamed a newer file
		 * over the one we read (and dropped this one's lock): then the
		 * path names another inode (ours is still open, so its number
		 * cannot have been reused). Read the newer one. */
		struct stat a, b;
		bool replaced = fstat(fd, &a) == 0 && fstatat(dirfd, path, &b, 0) == 0 &&
		                (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
		close(fd);
		if (!replaced || attempt >= 8)
			return 0;
	}
}

/* The monitor's later writes: over its own file, in place (no new inode,
 * no rename freeing the old one: both cost a journal-less ext4 more than
 * the write), with its sum line for readers racing it. */
static int rewrite_state(int fd, const struct ctr_state *st)
{
	/* ours already (an OFD lock does not conflict with itself) */
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	bool locked = fcntl(fd, F_OFD_SETLK, &fl) == 0;
	char buf[1024];
	size_t len = format_state(st, locked, buf, sizeof(buf));
	if (len == 0)
		return -EINVAL;
	ssize_t w;
	do
		w = pwrite(fd, buf, len, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if ((size_t)w != len)
		return -EIO;
	if (ftruncate(fd, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int write_state(int dirfd, const struct ctr_state *st, int *lock_fd)
{
	if (lock_fd != NULL && *lock_fd >= 0)
		return rewrite_state(*lock_fd, st);
	if (lock_fd != NULL) {
		/* a spare directory's file (berth-monitor's recycle): written
		 * and locked under its spare name, then renamed into place */
		int fd = openat(dirfd, CTR_SPARE_STATE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if (rewrite_state(fd, st) == 0 &&
			    renameat(dirfd, CTR_SPARE_STATE, dirfd, CTR_STATE_FILE) == 0) {
				*lock_fd = fd;
				return 0;
			}
			close(fd);
		}
	}
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".state.%d", (int)getpid());
	/* read access too: an OFD read lock needs it */
	int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	bool locked = false;
	if (lock_fd != NULL) {
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		locked = fcntl(fd, F_OFD_SETLK, &fl) == 0;
	}
	char buf[1024];
	size_t len = format_state(st, locked, buf, sizeof(buf));
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			close(fd);
			unlinkat(dirfd, tmp, 0);
			return -e;
		}
		off += (size_t)w;
	}
	if (renameat(dirfd, tmp, dirfd, CTR_STATE_FILE) < 0) {
		int e = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -e;
	}
	if (lock_fd == NULL) {
		if (close(fd) < 0)
			return -errno;
		return 0;
	}
	/* the new file is locked and in place: drop the old one's lock */
	if (*lock_fd >= 0)
		close(*lock_fd);
	*lock_fd = fd;
	return 0;
}

int ctr_state_write_at(int dirfd, const struct ctr_state *st)
{
	return write_state(dirfd, st, NULL);
}

int ctr_state_write_locked_at(int dirfd, const struct ctr_state *st, int *lock_fd)
{
	return write_state(dirfd, st, lock_fd);
}

bool ctr_lock_held_at(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int r = fcntl(fd, F_OFD_GETLK, &fl);
	close(fd);
	return r == 0 && fl.l_type != F_UNLCK;
}

bool ctr_lock_wait_free_at(int dirfd, const char *path, int ms)
{
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		if (!ctr_lock_held_at(dirfd, path))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			return false;
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
}

bool ctr_monitor_alive_at(int dirfd)
{
	return ctr_lock_held_at(dirfd, CTR_MONITOR_LOCK);
}
