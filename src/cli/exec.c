/* berth exec. Without a terminal the process gets our own stdio (no relay
 * at all); with -t we relay between our terminal and the pty master. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/sock.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "container/container.h"

static int exec_fail(berth_error *err)
{
	fprintf(stderr, "Error: %s\n", err ? err->msg : "failed");
	if (err && err->code == BERTH_E_CMD_NOT_FOUND)
		return EXIT_NOT_FOUND;
	if (err && err->code == BERTH_E_CANNOT_INVOKE)
		return EXIT_CANNOT_INVOKE;
	if (err && err->code == BERTH_E_NOTFOUND)
		return 1;
	return err && err->code == BERTH_E_CONFLICT ? 1 : EXIT_BERTH_FAILED;
}

static int recv_fd(int sock)
{
	char b[64];
	int fd = -1;
	return recv_with_fd(sock, b, sizeof(b), &fd, NULL) < 0 ? -1 : fd;
}

/* Copy between our terminal and the master until the process exits. */
static void tty_relay(int master, bool in, pid_t pid)
{
	struct termios saved;
	bool raw = false;
	if (in && isatty(0) && tcgetattr(0, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		t.c_oflag |= OPOST;
		raw = tcsetattr(0, TCSANOW, &t) == 0;
	}
	struct winsize ws;
	if (ioctl(isatty(0) ? 0 : 1, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	char buf[32768];
	bool in_open = in;
	for (;;) {
		struct pollfd p[3] = {{.fd = master, .events = POLLIN},
		                      {.fd = in_open ? 0 : -1, .events = POLLIN},
		                      {.fd = sfd, .events = POLLIN}};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			if (ioctl(isatty(0) ? 0 : 1, TIOCGWINSZ, &ws) == 0)
				ioctl(master, TIOCSWINSZ, &ws);
		}
		if (p[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				char eof = 4;
				if (write_all(master, &eof, 1) < 0)
					(void)0;
			} else if (write_all(master, buf, (size_t)n) < 0) {
				in_open = false;
			}
		}
		if (p[0].revents) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (write_all(1, buf, (size_t)n) < 0)
				break;
		}
	}
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	if (sfd >= 0)
		close(sfd);
	(void)pid;
}

int cmd_exec(cli_ctx *ctx, int argc, char **argv)
{
	enum { O_PRIV = 256, O_ENVFILE, O_DK, O_HELP };
	static const struct option opts[] = {
	    {"detach", no_argument, NULL, 'd'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    {"env", required_argument, NULL, 'e'},
	    {"env-file", required_argument, NULL, O_ENVFILE},
	    {"user", required_argument, NULL, 'u'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"privileged", no_argument, NULL, O_PRIV},
	    {"detach-keys", required_argument, NULL, O_DK},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	bool detach = false, interactive = false, tty = false, privileged = false;
	const char *user = NULL, *workdir = NULL;
	_cleanup_strv_ char **env = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+dite:u:w:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': detach = true; break;
		case 'i': interactive = true; break;
		case 't': tty = true; break;
		case 'e':
			if (strchr(optarg, '=') || getenv(optarg) == NULL) {
				env = strv_append(env, optarg);
			} else {
				_cleanup_free_ char *kv =
				    xasprintf("%s=%s", optarg, getenv(optarg));
				env = strv_append(env, kv);
			}
			break;
		case O_ENVFILE: {
			_cleanup_free_ char *data = NULL;
			size_t len;
			_cleanup_error_ berth_error *err = NULL;
			if (read_file(optarg, &data, &len, &err) < 0)
				return cli_fail(err);
			_cleanup_strv_ char **lines = str_split(data, '\n');
			for (size_t i = 0; lines && lines[i]; i++)
				if (*lines[i] && lines[i][0] != '#')
					env = strv_append(env, lines[i]);
			break;
		}
		case 'u': user = optarg; break;
		case 'w': workdir = optarg; break;
		case O_PRIV: privileged = true; break;
		case O_DK: break;
		case O_HELP:
			printf(
			    "Usage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
			    "Execute a command in a running container\n\nOptions:\n"
			    "  -d, --detach               Detached mode: run command in the "
			    "background\n"
			    "  -e, --env list             Set environment variables\n"
			    "      --env-file list        Read in a file of environment variables\n"
			    "  -i, --interactive          Keep STDIN open even if not attached\n"
			    "      --privileged           Give extended privileges to the command\n"
			    "  -t, --tty                  Allocate a pseudo-TTY\n"
			    "  -u, --user string          Username or UID (format: "
			    "\"<name|uid>[:<group|gid>]\")\n"
			    "  -w, --workdir string       Working directory inside the "
			    "container\n");
			return 0;
		default: return cli_usage_error("exec", "unknown flag");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error("exec", "\"exec\" requires at least 2 arguments.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, argv[optind], false, &r, &err) < 0)
		return exec_fail(err);
	ctr_exec_opts o = {.argv = argv + optind + 1,
	                   .env = env,
	                   .user = user,
	                   .workdir = workdir,
	                   .tty = tty,
	                   .privileged = privileged,
	                   .stdio = {-1, -1, -1}};
	_cleanup_close_ int nul = -1, lsock = -1, dirfd = -1;
	_cleanup_free_ char *cpath = NULL;
	if (detach) {
		nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		o.stdio[0] = o.stdio[1] = o.stdio[2] = nul;
		o.tty = false;
	} else if (!interactive && !tty) {
		nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		o.stdio[0] = nul;
	}
	if (o.tty) {
		_cleanup_free_ char *rundir = container_rundir(s, r->id);
		dirfd = open(rundir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char name[64];
		snprintf(name, sizeof(name), "exec-%d.sock", (int)getpid());
		cpath = xasprintf("/proc/self/fd/%d/%s", dirfd, name);
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cpath);
		if (dirfd < 0 || lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(lsock, 1) < 0)
			return cli_failf(EXIT_BERTH_FAILED, "console socket: %s", strerror(errno));
		o.console_socket = cpath;
		unlinkat(dirfd, name, 0);
	}
	pid_t pid = 0;
	int er = container_exec(s, r, &o, &pid, &err);
	if (er < 0)
		return exec_fail(err);
	if (detach)
		return 0;
	if (o.tty) {
		_cleanup_close_ int cs = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
		_cleanup_close_ int master = cs >= 0 ? recv_fd(cs) : -1;
		if (master >= 0)
			tty_relay(master, interactive, pid);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
