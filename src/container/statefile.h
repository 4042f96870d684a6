/* The live state of one container: root/containers/<id>/state.
 *
 * libc only: compiled into libberth and into berth-monitor, which owns the
 * file while it runs (berth writes it only when no monitor is alive). The
 * format is "key=value" lines and a last "sum=" line (FNV-1a of the text
 * before it). berth replaces the file atomically (temp file + rename). A
 * monitor does so for its first write and then rewrites that file in place
 * (one pwrite, then the length): a reader racing a rewrite may see a mix
 * of two texts, which the sum tells, and reads again until it is whole.
 *
 * A monitor writes "lock=1" and holds an OFD read lock on the file it
 * wrote (that inode) for as long as it lives: a reader tells a live
 * monitor from a dead one with one F_OFD_GETLK on the fd it read the
 * state from (a file replaced meanwhile is read again). A file without
 * "lock=1" (written by berth, or by a monitor of an older berth, which
 * locks only monitor.lock and marks a pause with a `paused` file) is
 * checked the old way. */
#ifndef BERTH_CONTAINER_STATEFILE_H
#define BERTH_CONTAINER_STATEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTR_STATE_FILE "state"
#define CTR_MONITOR_LOCK "monitor.lock"

struct ctr_state {
	char status[16]; /* created, running, restarting, exited, dead */
	int pid; /* container init, 0 when not running */
	int monitor_pid;
	int64_t started_ns; /* unix time in ns, 0 if never */
	int64_t finished_ns;
	int exit_code;
	bool oom_killed;
	bool manual_stop; /* stopped by the user: no restart */
	int restart_count;
	bool paused; /* frozen by `berth pause` (recorded by the monitor) */
	bool health; /* has a health check: health.json holds its status */
	bool locked; /* the writer (a monitor) holds an OFD lock on this file */
	char error[256];
};

void ctr_state_init(struct ctr_state *st);
/* Parse the text of a state file; unknown keys are ignored. */
void ctr_state_parse(struct ctr_state *st, const char *buf, size_t len);
/* Format into buf; returns the length (truncated to cap-1). */
size_t ctr_state_format(const struct ctr_state *st, char *buf, size_t cap);
/* Read dirfd/state. Returns 0, or -errno (-ENOENT: never started). */
int ctr_state_read_at(int dirfd, struct ctr_state *st);
/* The same for a state file at a path relative to dirfd. */
int ctr_state_read_path(int dirfd, const char *path, struct ctr_state *st);
/* Atomically replace dirfd/state (without "lock=1", whatever st says).
 * Returns 0 or -errno. */
int ctr_state_write_at(int dirfd, const struct ctr_state *st);
/* The monitor's writer. First (*lock_fd -1): a new file, written with
 * "lock=1" and carrying an OFD read lock before it is renamed into place;
 * *lock_fd gets its fd. Then: that file rewritten in place through
 * *lock_fd. Returns 0 or -errno (*lock_fd unchanged). */
int ctr_state_write_locked_at(int dirfd, const struct ctr_state *st, int *lock_fd);
/* Read the state file at path (relative to dirfd) and, if it says running
 * or restarting, whether its monitor lives: *alive is 1 or 0, or -1 when
 * the file does not say (no "lock=1": ask ctr_lock_held_at on
 * monitor.lock). Returns 0, or -errno (-ENOENT: never started; *alive 0). */
int ctr_state_read_live(int dirfd, const char *path, struct ctr_state *st, int *alive);

/* Whether a monitor holds dirfd/monitor.lock (an OFD read lock that the
 * kernel drops when the monitor dies, however it dies). */
bool ctr_monitor_alive_at(int dirfd);
/* Whether anyone holds a lock on the file at path (relative to dirfd). */
bool ctr_lock_held_at(int dirfd, const char *path);
/* Wait (at most ms milliseconds) until nobody holds a lock on the file at
 * path; true when it is free (or missing). */
bool ctr_lock_wait_free_at(int dirfd, const char *path, int ms);

#endif
