/* Filesystem helpers: atomic writes, recursive mkdir/remove, and path
 * resolution confined to a root directory. */
#ifndef BERTH_BASE_FS_H
#define BERTH_BASE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* Write data to dirfd/name atomically: temp file in the same directory,
 * write, fsync (if durable), rename. dirfd may be AT_FDCWD. */
int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    bool durable, berth_error **err);
int atomic_write(const char *path, const void *data, size_t len, mode_t mode, bool durable,
                 berth_error **err);

/* Create or truncate path and write data in place, with exactly mode: not
 * atomic (a reader may see it empty or partly written), for a file nobody
 * reads while it is written, or one whose inode must stay the same (a
 * bind-mount source). Never follows a symlink at path. */
int write_file(const char *path, const void *data, size_t len, mode_t mode, berth_error **err);

/* Read fd to its end (NUL-terminated for convenience); size_hint: the
 * expected size (0: unknown). Errors read "reading <what>: <strerror>". */
int read_fd_all(int fd, size_t size_hint, const char *what, char **data, size_t *len,
                berth_error **err);
/* Read a whole file (NUL-terminated for convenience). */
int read_file_at(int dirfd, const char *path, char **data, size_t *len, berth_error **err);
int read_file(const char *path, char **data, size_t *len, berth_error **err);

int mkdir_p(const char *path, mode_t mode, berth_error **err);
/* Remove a tree without following symlinks; missing is fine. */
int rm_rf(const char *path, berth_error **err);
int rm_rf_at(int dirfd, const char *name, berth_error **err);
int fsync_dir(const char *path);

/* Open path inside rootfd such that no symlink or ".." escapes the root:
 * openat2(RESOLVE_IN_ROOT) when the kernel has it, else a checked
 * component-by-component walk. flags/mode as openat. */
int open_in_root(int rootfd, const char *path, int flags, mode_t mode, berth_error **err);
/* Same resolution, but never follow any symlink (RESOLVE_NO_SYMLINKS|BENEATH). */
int open_beneath_nofollow(int rootfd, const char *path, int flags, mode_t mode, berth_error **err);
/* Create all directories of path inside rootfd (confined); returns an fd
 * to the last one (O_PATH|O_DIRECTORY) or -1. */
int mkdir_in_root(int rootfd, const char *path, mode_t mode, berth_error **err);

/* Copy bytes between fds until EOF (uses copy_file_range/sendfile when it can). */
int copy_fd(int in, int out, berth_error **err);
/* Write all bytes, retrying on EINTR / short writes. */
int write_all(int fd, const void *buf, size_t len);

#endif
