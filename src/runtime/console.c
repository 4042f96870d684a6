/* --console-socket: hand the pty master to the caller over SCM_RIGHTS,
 * as runc does (the message carries the terminal's name as data). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/sock.h"
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
	if (send_with_fd(s, name, sizeof(name) - 1, master) < 0)
		return berth_err_sys(err, errno, "sending the pty to %s", socket_path);
	return 0;
}
