/* Unix socket helpers. */
#ifndef BERTH_BASE_SOCK_H
#define BERTH_BASE_SOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

/* Receive one message of at most len bytes and the one fd sent with it
 * (SCM_RIGHTS; it arrives O_CLOEXEC). Returns the bytes read (0 at EOF)
 * with *fd the fd, or -1 if none came; any further fds and a truncated
 * control message are closed and refused. -1 with err on failure. */
ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd, berth_error **err);

/* As recv_with_fd, for up to max (at most SOCK_MAX_FDS) fds: *n gets how
 * many came, in fds. */
#define SOCK_MAX_FDS 8
ssize_t recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *n,
                      berth_error **err);

/* Send all of buf on a stream socket without SIGPIPE: a peer that went
 * away gives -1 with errno EPIPE instead of killing the caller. */
int send_all(int sock, const void *buf, size_t len);

/* Send buf and, when fd >= 0, a copy of fd with it (SCM_RIGHTS), without
 * SIGPIPE. 0, or -1 with errno. */
int send_with_fd(int sock, const void *buf, size_t len, int fd);
/* The same with nfds (at most SOCK_MAX_FDS) fds. */
int send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);

#endif
