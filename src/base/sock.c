#include "base/sock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void close_passed(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

ssize_t recv_with_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *n,
                      berth_error **err)
{
	*n = 0;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	union {
		/* room for more than max: extra fds must arrive to be closed */
		char buf[CMSG_SPACE((SOCK_MAX_FDS + 4) * sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	ssize_t r;
	do
		r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return berth_err_sys(err, errno, "receiving a file descriptor");
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (c == NULL)
		return r;
	size_t got = c->cmsg_len >= CMSG_LEN(0) ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) : 0;
	if ((mh.msg_flags & MSG_CTRUNC) || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || got == 0 || got > max || max > SOCK_MAX_FDS ||
	    CMSG_NXTHDR(&mh, c) != NULL) {
		close_passed(&mh);
		if (max == 1)
			return berth_err(err, BERTH_E_GENERIC, "expected one file descriptor");
		return berth_err(err, BERTH_E_GENERIC, "expected at most %zu file descriptors",
		                 max);
	}
	memcpy(fds, CMSG_DATA(c), got * sizeof(int));
	*n = got;
	return r;
}

ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd, berth_error **err)
{
	*fd = -1;
	size_t n = 0;
	return recv_with_fds(sock, buf, len, fd, 1, &n, err);
}

int send_all(int sock, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = send(sock, p, len, MSG_NOSIGNAL);
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

int send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	if (nfds > SOCK_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(SOCK_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t w;
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -1;
	/* the fds went with the first byte; a stream socket may take the rest later */
	return send_all(sock, (const char *)buf + w, len - (size_t)w);
}

int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	return send_with_fds(sock, buf, len, &fd, fd >= 0 ? 1 : 0);
}
