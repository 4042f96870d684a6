/* --console-socket: hand the pty master to the caller over SCM_RIGHTS,
 * as runc does (the message carries the terminal's name as data). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "runtime/internal.h"

int rt_console_send(const char *socket_path, int master, berth_error **err)
{
	if (socket_path == NULL)
		return berth_err(err, BERTH_E_INVALID,
		                 "process.terminal is true but no console socket was given");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(sa.sun_path))
		return berth_err(err, BERTH_E_INVALID, "console socket path too long: %s",
		                 socket_path);
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	_cleanup_close_ int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return berth_err_sys(err, errno, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return berth_err_sys(err, errno, "connecting to the console socket %s",
		                     socket_path);
	static const char name[] = "/dev/ptmx";
	struct iovec iov = {.iov_base = (void *)name, .iov_len = sizeof(name) - 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	ssize_t w;
	do
		w = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return berth_err_sys(err, errno, "sending the pty to %s", socket_path);
	return 0;
}
