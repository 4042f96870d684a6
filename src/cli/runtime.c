/* berth runtime: the OCI runtime with runc's command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/sock.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "runtime/runtime.h"

typedef struct rt_cli {
	rt_ctx rt;
	cli_ctx *cli;
	bool log_file; /* --log given: errors go there too */
} rt_cli;

static int fail(const rt_cli *c, berth_error *err)
{
	const char *msg = err && err->msg ? err->msg : "unknown failure";
	/* containerd reads the error from the log file */
	if (c->log_file)
		log_error("%s", msg);
	fprintf(stderr, "Error: %s\n", msg);
	int code = 1;
	if (err && err->code == BERTH_E_CMD_NOT_FOUND)
		code = 127;
	else if (err && err->code == BERTH_E_CANNOT_INVOKE)
		code = 126;
	berth_error_free(err);
	return code;
}

static int failf(const rt_cli *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(const rt_cli *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	berth_error *err = NULL;
	berth_err(&err, code, "%s", msg);
	free(msg);
	return fail(c, err);
}

static int usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "berth runtime %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nSee 'berth runtime %s --help'.\n", cmd);
	va_end(ap);
	return 1;
}

static int need_id(const char *cmd, int argc, char **argv, int min, int max)
{
	int n = argc - optind;
	if (n < min || (max >= 0 && n > max)) {
		if (min == max)
			usage_err(cmd, "\"%s\" requires exactly %d argument(s)", cmd, min);
		else
			usage_err(cmd, "\"%s\" requires at least %d argument(s)", cmd, min);
		return -1;
	}
	(void)argv;
	return 0;
}

static int print_json(json_t *j)
{
	char *s = json_dump_pretty(j);
	printf("%s\n", s);
	free(s);
	return 0;
}

/* ---- terminal handling for run/exec in the foreground ---- */

typedef struct console_listener {
	int fd;
	char dir[48];
	char path[100];
} console_listener;

static int console_listen(console_listener *l, berth_error **err)
{
	snprintf(l->dir, sizeof(l->dir), "/tmp/berth-console-XXXXXX");
	if (mkdtemp(l->dir) == NULL)
		return berth_err_sys(err, errno, "mkdtemp");
	snprintf(l->path, sizeof(l->path), "%s/sock", l->dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", l->path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l->fd, 1) < 0)
		return berth_err_sys(err, errno, "console socket");
	return 0;
}

static void console_close(console_listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	unlink(l->path);
	rmdir(l->dir);
}

static int console_recv(console_listener *l, berth_error **err)
{
	_cleanup_close_ int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return berth_err_sys(err, errno, "accepting the console");
	char name[256];
	int fd = -1;
	if (recv_with_fd(c, name, sizeof(name), &fd, err) < 0)
		return berth_err_prefix(err, "receiving the console");
	if (fd < 0)
		return berth_err(err, BERTH_E_GENERIC, "no pty received");
	return fd;
}

/* Forward signals to pid and relay the pty (if any) until pid exits;
 * returns its exit status as a shell would. */
static int wait_container(pid_t pid, int master)
{
	sigset_t set;
	sigemptyset(&set);
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
		sigaddset(&set, fwd[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct termios saved;
	bool raw = false;
	if (master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(0, TCSANOW, &t) == 0;
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	bool in_open = master >= 0;
	for (;;) {
		struct pollfd pf[4] = {{.fd = pidfd, .events = POLLIN},
		                       {.fd = sfd, .events = POLLIN},
		                       {.fd = master, .events = POLLIN},
		                       {.fd = in_open ? 0 : -1, .events = POLLIN}};
		int r = poll(pf, master >= 0 ? 4 : 2, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if ((int)si.ssi_signo == SIGWINCH && master >= 0) {
					struct winsize ws;
					if (ioctl(0, TIOCGWINSZ, &ws) == 0)
						ioctl(master, TIOCSWINSZ, &ws);
				} else
					kill(pid, (int)si.ssi_signo);
			}
		}
		if (master >= 0 && (pf[2].revents & (POLLIN | POLLHUP))) {
			char buf[8192];
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0)
				write_all(1, buf, (size_t)n);
			else if (!(pf[0].revents & POLLIN) && n <= 0 && errno != EAGAIN &&
			         errno != EINTR)
				pf[2].fd = -1;
		}
		if (in_open && (pf[3].revents & (POLLIN | POLLHUP))) {
			char buf[8192];
			ssize_t n = read(0, buf, sizeof(buf));
			if (n > 0)
				write_all(master, buf, (size_t)n);
			else
				in_open = false;
		}
		if (pf[0].revents & POLLIN)
			break;
	}
	if (master >= 0) {
		/* drain what the container wrote last */
		int fl = fcntl(master, F_GETFL);
		fcntl(master, F_SETFL, fl | O_NONBLOCK);
		char buf[8192];
		ssize_t n;
		while ((n = read(master, buf, sizeof(buf))) > 0)
			write_all(1, buf, (size_t)n);
	}
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 255;
	}
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

/* ---- commands ---- */

enum {
	O_BUNDLE = 256,
	O_PIDFILE,
	O_CONSOLE,
	O_NOPIVOT,
	O_NOKEYRING,
	O_PRESERVE,
	O_DETACH,
	O_KEEP,
	O_ROOTLESS,
	O_CWD,
	O_CAP,
	O_NNP,
	O_FORMAT,
	O_PROCESS,
	O_ALL,
	O_FORCE,
	O_QUIET,
	O_TTY,
	O_ENV,
	O_USER,
	O_HELP,
};

static int cmd_create_or_run(rt_cli *c, int argc, char **argv, bool run)
{
	const char *name = run ? "run" : "create";
	static const struct option opts[] = {
	    {"bundle", required_argument, NULL, 'b'},
	    {"pid-file", required_argument, NULL, O_PIDFILE},
	    {"console-socket", required_argument, NULL, O_CONSOLE},
	    {"no-pivot", no_argument, NULL, O_NOPIVOT},
	    {"no-new-keyring", no_argument, NULL, O_NOKEYRING},
	    {"preserve-fds", required_argument, NULL, O_PRESERVE},
	    {"detach", no_argument, NULL, 'd'},
	    {"keep", no_argument, NULL, O_KEEP},
	    {"no-subreaper", no_argument, NULL, O_KEEP + 100},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	rt_create_opts o;
	rt_create_opts_init(&o);
	bool detach = false, keep = false;
	int ch;
	while ((ch = getopt_long(argc, argv, run ? "+b:dh" : "+b:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': o.bundle = optarg; break;
		case O_PIDFILE: o.pid_file = optarg; break;
		case O_CONSOLE: o.console_socket = optarg; break;
		case O_NOPIVOT: o.no_pivot = true; break;
		case O_NOKEYRING: o.no_new_keyring = true; break;
		case O_PRESERVE: o.preserve_fds = atoi(optarg); break;
		case 'd': detach = true; break;
		case O_KEEP: keep = true; break;
		case O_KEEP + 100: break;
		case 'h':
			printf("Usage: berth runtime %s [OPTIONS] CONTAINER-ID\n\n"
			       "  -b, --bundle DIR          bundle directory (default: .)\n"
			       "      --pid-file FILE       write the init's pid to FILE\n"
			       "      --console-socket S    send the pty master to unix socket S\n"
			       "      --no-pivot            chroot instead of pivot_root\n"
			       "      --no-new-keyring      keep the caller's session keyring\n"
			       "      --preserve-fds N      pass N extra fds (from 3)\n%s",
			       name,
			       run ? "  -d, --detach              do not wait for the container\n"
			             "      --keep                keep the container after it "
			             "exits\n"
			           : "");
			return 0;
		default: return usage_err(name, "unknown flag");
		}
	}
	if (need_id(name, argc, argv, 1, 1) < 0)
		return 1;
	const char *id = argv[optind];
	if (o.bundle == NULL)
		o.bundle = ".";
	berth_error *err = NULL;
	if (!run) {
		if (rt_create(&c->rt, id, &o, NULL, &err) < 0)
			return fail(c, err);
		return 0;
	}
	/* run: terminal without a console socket -> relay the pty ourselves */
	console_listener cl = {.fd = -1};
	bool own_console = false;
	if (o.console_socket == NULL) {
		_cleanup_free_ char *cfgp = xasprintf("%s/config.json", o.bundle);
		_cleanup_json_ json_t *cfg = json_parse_file(cfgp, &err);
		if (cfg == NULL)
			return fail(c, err);
		if (json_get_bool(json_object_get(cfg, "process"), "terminal", false)) {
			if (detach)
				return failf(c, BERTH_E_INVALID,
				             "cannot allocate tty if berth will "
				             "detach without setting console socket");
			if (console_listen(&cl, &err) < 0)
				return fail(c, err);
			o.console_socket = cl.path;
			own_console = true;
		}
		o.config = NULL;
	}
	pid_t pid = 0;
	if (rt_create(&c->rt, id, &o, &pid, &err) < 0) {
		if (own_console)
			console_close(&cl);
		return fail(c, err);
	}
	int master = -1;
	if (own_console) {
		master = console_recv(&cl, &err);
		console_close(&cl);
		if (master < 0) {
			berth_error *e2 = NULL;
			rt_delete(&c->rt, id, true, &e2);
			berth_error_free(e2);
			return fail(c, err);
		}
	}
	if (rt_start(&c->rt, id, &err) < 0) {
		berth_error *e2 = NULL;
		rt_delete(&c->rt, id, true, &e2);
		berth_error_free(e2);
		return fail(c, err);
	}
	if (detach)
		return 0;
	int status = wait_container(pid, master);
	if (master >= 0)
		close(master);
	if (!keep && rt_delete(&c->rt, id, true, &err) < 0)
		fail(c, err);
	return status;
}

static int simple_id_cmd(rt_cli *c, int argc, char **argv, const char *name,
                         int (*fn)(const rt_ctx *, const char *, berth_error **))
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: berth runtime %s CONTAINER-ID\n", name);
			return 0;
		}
		return usage_err(name, "unknown flag");
	}
	if (need_id(name, argc, argv, 1, 1) < 0)
		return 1;
	berth_error *err = NULL;
	if (fn(&c->rt, argv[optind], &err) < 0)
		return fail(c, err);
	return 0;
}

static int rtc_state(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("Usage: berth runtime state CONTAINER-ID\n");
			return 0;
		}
		return usage_err("state", "unknown flag");
	}
	if (need_id("state", argc, argv, 1, 1) < 0)
		return 1;
	berth_error *err = NULL;
	_cleanup_json_ json_t *st = NULL;
	if (rt_state(&c->rt, argv[optind], &st, &err) < 0)
		return fail(c, err);
	return print_json(st);
}

static int rtc_kill(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	bool all = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "+ah", opts, NULL)) != -1) {
		if (ch == 'a')
			all = true;
		else if (ch == 'h') {
			printf("Usage: berth runtime kill [--all] CONTAINER-ID [SIGNAL]\n");
			return 0;
		} else
			return usage_err("kill", "unknown flag");
	}
	/* runc accepts flags after the id too */
	int n = argc - optind;
	char *args[2] = {NULL, NULL};
	int k = 0;
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
			all = true;
		else if (k < 2)
			args[k++] = argv[i];
		else
			k++;
	}
	(void)n;
	if (k < 1 || k > 2)
		return usage_err("kill", "\"kill\" requires 1 or 2 arguments");
	int sig = SIGTERM;
	if (args[1]) {
		sig = rt_parse_signal(args[1]);
		if (sig < 0)
			return failf(c, BERTH_E_INVALID, "unknown signal \"%s\"", args[1]);
	}
	berth_error *err = NULL;
	if (rt_kill(&c->rt, args[0], sig, all, &err) < 0)
		return fail(c, err);
	return 0;
}

static int rtc_delete(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	bool force = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		if (ch == 'f')
			force = true;
		else if (ch == 'h') {
			printf("Usage: berth runtime delete [--force] CONTAINER-ID\n");
			return 0;
		} else
			return usage_err("delete", "unknown flag");
	}
	if (need_id("delete", argc, argv, 1, 1) < 0)
		return 1;
	berth_error *err = NULL;
	if (rt_delete(&c->rt, argv[optind], force, &err) < 0) {
		/* runc: deleting a container that does not exist with --force is fine */
		if (force && err->code == BERTH_E_NOTFOUND) {
			berth_error_free(err);
			return 0;
		}
		return fail(c, err);
	}
	return 0;
}

static int rtc_list(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *format = "table";
	bool quiet = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
		if (ch == 'f')
			format = optarg;
		else if (ch == 'q')
			quiet = true;
		else if (ch == 'h') {
			printf("Usage: berth runtime list [--format table|json] [--quiet]\n");
			return 0;
		} else
			return usage_err("list", "unknown flag");
	}
	berth_error *err = NULL;
	_cleanup_json_ json_t *all = NULL;
	if (rt_list(&c->rt, &all, &err) < 0)
		return fail(c, err);
	size_t i;
	json_t *s;
	if (quiet) {
		json_array_foreach (all, i, s)
			printf("%s\n", json_get_str(s, "id"));
		return 0;
	}
	if (!strcmp(format, "json"))
		return print_json(all);
	if (strcmp(format, "table") != 0)
		return usage_err("list", "invalid format option");
	printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
	       "OWNER");
	json_array_foreach (all, i, s) {
		printf("%-12s %-8lld %-10s %-40s %-30s %s\n", json_get_str(s, "id"),
		       json_get_int(s, "pid", 0), json_get_str(s, "status"),
		       json_get_str(s, "bundle"), json_get_str(s, "created"), "root");
	}
	return 0;
}

static int rtc_ps(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *format = "table";
	int ch;
	while ((ch = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		if (ch == 'f')
			format = optarg;
		else if (ch == 'h') {
			printf("Usage: berth runtime ps [--format table|json] CONTAINER-ID [ps "
			       "options]\n");
			return 0;
		} else
			return usage_err("ps", "unknown flag");
	}
	if (need_id("ps", argc, argv, 1, -1) < 0)
		return 1;
	const char *id = argv[optind];
	berth_error *err = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (rt_pids(&c->rt, id, &pids, &n, &err) < 0)
		return fail(c, err);
	if (!strcmp(format, "json")) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
		return 0;
	}
	if (strcmp(format, "table") != 0)
		return usage_err("ps", "invalid format option");
	/* ps [-ef | given options], keeping the header and the container's rows */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return failf(c, BERTH_E_IO, "pipe: %s", strerror(errno));
	pid_t child = fork();
	if (child == 0) {
		dup2(pfd[1], 1);
		int extra = argc - optind - 1;
		char **av = xcalloc((size_t)(extra > 0 ? extra : 1) + 2, sizeof(char *));
		av[0] = "ps";
		if (extra > 0)
			for (int i = 0; i < extra; i++)
				av[i + 1] = argv[optind + 1 + i];
		else
			av[1] = "-ef";
		execvp("ps", av);
		_exit(127);
	}
	close(pfd[1]);
	_cleanup_fclose_ FILE *f = fdopen(pfd[0], "r");
	char *line = NULL;
	size_t cap = 0;
	int pidcol = -1, lineno = 0;
	while (getline(&line, &cap, f) > 0) {
		if (lineno++ == 0) {
			_cleanup_strv_ char **cols = NULL;
			char *save = NULL, *copy = xstrdup(line);
			for (char *t = strtok_r(copy, " \t\n", &save); t;
			     t = strtok_r(NULL, " \t\n", &save))
				cols = strv_append(cols, t);
			free(copy);
			for (int i = 0; cols && cols[i]; i++)
				if (!strcmp(cols[i], "PID"))
					pidcol = i;
			fputs(line, stdout);
			continue;
		}
		char *save = NULL, *copy = xstrdup(line);
		int col = 0;
		long p = -1;
		for (char *t = strtok_r(copy, " \t\n", &save); t;
		     t = strtok_r(NULL, " \t\n", &save)) {
			if (col++ == pidcol) {
				p = strtol(t, NULL, 10);
				break;
			}
		}
		free(copy);
		for (size_t i = 0; i < n; i++)
			if (pids[i] == p)
				fputs(line, stdout);
	}
	free(line);
	waitpid(child, NULL, 0);
	if (pidcol < 0)
		return failf(c, BERTH_E_GENERIC, "couldn't find PID field in ps output");
	return 0;
}

static int rtc_spec(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
	                                     {"rootless", no_argument, NULL, O_ROOTLESS},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *bundle = ".";
	bool rootless = false;
	int ch;
	(void)c;
	while ((ch = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
		if (ch == 'b')
			bundle = optarg;
		else if (ch == O_ROOTLESS)
			rootless = true;
		else if (ch == 'h') {
			printf("Usage: berth runtime spec [--rootless] [--bundle DIR]\n");
			return 0;
		} else
			return usage_err("spec", "unknown flag");
	}
	berth_error *err = NULL;
	_cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
	if (access(path, F_OK) == 0)
		return failf(c, BERTH_E_CONFLICT, "File %s exists. Remove it first", path);
	_cleanup_json_ json_t *spec = rt_default_spec(rootless);
	_cleanup_free_ char *txt = json_dump_pretty(spec);
	if (atomic_write(path, txt, strlen(txt), 0644, false, &err) < 0)
		return fail(c, err);
	return 0;
}

static int rtc_validate(rt_cli *c, int argc, char **argv)
{
	(void)c;
	static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
	                                     {NULL, 0, NULL, 0}};
	const char *bundle = ".";
	int ch;
	while ((ch = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
		if (ch == 'b')
			bundle = optarg;
		else
			return usage_err("validate", "unknown flag");
	}
	_cleanup_free_ char *path =
	    optind < argc ? xstrdup(argv[optind]) : xasprintf("%s/config.json", bundle);
	berth_error *err = NULL;
	_cleanup_json_ json_t *cfg = json_parse_file(path, &err);
	if (cfg == NULL || rt_validate_config(cfg, bundle, &err) < 0)
		return fail(c, err);
	return 0;
}

static int cmd_exec_rt(rt_cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"process", required_argument, NULL, 'p'},
	    {"tty", no_argument, NULL, 't'},
	    {"detach", no_argument, NULL, 'd'},
	    {"pid-file", required_argument, NULL, O_PIDFILE},
	    {"console-socket", required_argument, NULL, O_CONSOLE},
	    {"env", required_argument, NULL, 'e'},
	    {"cwd", required_argument, NULL, O_CWD},
	    {"user", required_argument, NULL, 'u'},
	    {"additional-gids", required_argument, NULL, 'g'},
	    {"cap", required_argument, NULL, 'c'},
	    {"no-new-privs", no_argument, NULL, O_NNP},
	    {"preserve-fds", required_argument, NULL, O_PRESERVE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	rt_exec_opts o;
	rt_exec_opts_init(&o);
	const char *pfile = NULL, *cwd = NULL, *user = NULL;
	bool tty = false, detach = false, nnp = false;
	_cleanup_strv_ char **env = NULL;
	_cleanup_strv_ char **caps = NULL;
	_cleanup_strv_ char **gids = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "+p:tde:u:g:c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': pfile = optarg; break;
		case 't': tty = true; break;
		case 'd': detach = true; break;
		case O_PIDFILE: o.pid_file = optarg; break;
		case O_CONSOLE: o.console_socket = optarg; break;
		case 'e': env = strv_append(env, optarg); break;
		case O_CWD: cwd = optarg; break;
		case 'u': user = optarg; break;
		case 'g': gids = strv_append(gids, optarg); break;
		case 'c': caps = strv_append(caps, optarg); break;
		case O_NNP: nnp = true; break;
		case O_PRESERVE: o.preserve_fds = atoi(optarg); break;
		case 'h':
			printf(
			    "Usage: berth runtime exec [OPTIONS] CONTAINER-ID [COMMAND ARGS...]\n");
			return 0;
		default: return usage_err("exec", "unknown flag");
		}
	}
	if (need_id("exec", argc, argv, pfile ? 1 : 2, -1) < 0)
		return 1;
	const char *id = argv[optind];
	berth_error *err = NULL;
	_cleanup_json_ json_t *proc = NULL;
	if (pfile) {
		proc = json_parse_file(pfile, &err);
		if (proc == NULL)
			return fail(c, err);
	} else {
		if (rt_exec_default_process(&c->rt, id, &proc, &err) < 0)
			return fail(c, err);
		json_t *args = json_array();
		for (int i = optind + 1; i < argc; i++)
			json_array_append_new(args, json_string(argv[i]));
		json_object_set_new(proc, "args", args);
		json_object_set_new(proc, "terminal", json_boolean(tty));
		json_t *je = json_object_get(proc, "env");
		if (!json_is_array(je)) {
			je = json_array();
			json_object_set_new(proc, "env", je);
		}
		for (char **e = env; e && *e; e++)
			json_array_append_new(je, json_string(*e));
		if (cwd)
			json_object_set_new(proc, "cwd", json_string(cwd));
		if (user) {
			unsigned uid = 0, gid = 0;
			int n = sscanf(user, "%u:%u", &uid, &gid);
			if (n < 1)
				return usage_err("exec", "invalid --user %s", user);
			json_t *u = json_pack("{s:i,s:i}", "uid", (json_int_t)uid, "gid",
			                      (json_int_t)(n == 2 ? gid : 0));
			json_object_set_new(proc, "user", u);
		}
		if (gids) {
			json_t *u = json_object_get(proc, "user");
			json_t *g = json_array();
			for (char **x = gids; *x; x++)
				json_array_append_new(g, json_integer(atoll(*x)));
			json_object_set_new(u, "additionalGids", g);
		}
		if (caps) {
			json_t *cs = json_object_get(proc, "capabilities");
			static const char *const sets[] = {"bounding", "effective", "permitted"};
			for (size_t i = 0; cs && i < ARRAY_SIZE(sets); i++) {
				json_t *a = json_object_get(cs, sets[i]);
				if (!a) {
					a = json_array();
					json_object_set_new(cs, sets[i], a);
				}
				for (char **x = caps; *x; x++)
					json_array_append_new(a, json_string(*x));
			}
		}
		if (nnp)
			json_object_set_new(proc, "noNewPrivileges", json_true());
	}
	console_listener cl = {.fd = -1};
	bool own_console = false;
	if (json_get_bool(proc, "terminal", false) && o.console_socket == NULL) {
		if (detach)
			return failf(c, BERTH_E_INVALID,
			             "cannot allocate tty if berth will detach "
			             "without setting console socket");
		if (console_listen(&cl, &err) < 0)
			return fail(c, err);
		o.console_socket = cl.path;
		own_console = true;
	}
	pid_t pid = 0;
	int r = rt_exec(&c->rt, id, proc, &o, &pid, &err);
	int master = -1;
	if (r == 0 && own_console)
		master = console_recv(&cl, &err);
	if (own_console)
		console_close(&cl);
	if (r < 0 || (own_console && master < 0))
		return fail(c, err);
	if (detach)
		return 0;
	int status = wait_container(pid, master);
	if (master >= 0)
		close(master);
	return status;
}

static int rtc_features(rt_cli *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	_cleanup_json_ json_t *f = rt_features();
	return print_json(f);
}

static void runtime_usage(FILE *out)
{
	fprintf(out, "Usage: berth runtime [--root DIR] [--log FILE] [--log-format text|json] "
	             "[--debug] COMMAND\n\n"
	             "berth's OCI runtime, with runc's command line.\n\n"
	             "Commands:\n"
	             "  create    create a container\n"
	             "  start     start the user process of a created container\n"
	             "  run       create and run a container\n"
	             "  state     output the state of a container\n"
	             "  kill      send a signal to the container's init\n"
	             "  delete    delete a container\n"
	             "  exec      run a new process inside a container\n"
	             "  ps        list the processes of a container\n"
	             "  pause     freeze all processes of a container\n"
	             "  resume    thaw a paused container\n"
	             "  list      list containers\n"
	             "  spec      write a default config.json\n"
	             "  features  show the enabled features\n");
}

int cmd_runtime(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"debug", no_argument, NULL, 'D'},
	    {"systemd-cgroup", no_argument, NULL, 's'},
	    {"criu", required_argument, NULL, 'c'},
	    {"rootless", required_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	rt_cli c = {.cli = ctx};
	c.rt.log_fd = -1;
	const char *log_path = NULL, *log_format = "text";
	bool systemd = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': c.rt.state_root = optarg; break;
		case 'l': log_path = optarg; break;
		case 'f': log_format = optarg; break;
		case 'D':
			c.rt.debug = true;
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 's': systemd = true; break;
		case 'c':
		case 'R': break;
		case 'h': runtime_usage(stdout); return 0;
		default: runtime_usage(stderr); return 1;
		}
	}
	if (strcmp(log_format, "text") != 0 && strcmp(log_format, "json") != 0)
		return usage_err("", "invalid --log-format %s (text or json)", log_format);
	_cleanup_close_ int logfd = -1;
	if (log_path) {
		logfd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (logfd < 0) {
			fprintf(stderr, "Error: opening the log %s: %s\n", log_path,
			        strerror(errno));
			return 1;
		}
		log_set_fd(logfd, !strcmp(log_format, "json"));
		c.rt.log_fd = logfd;
		c.log_file = true;
	}
	_cleanup_free_ char *root = NULL;
	if (c.rt.state_root == NULL) {
		root = xasprintf("%s/runtime", ctx->runroot);
		c.rt.state_root = root;
	}
	if (optind >= argc) {
		runtime_usage(stderr);
		return 1;
	}
	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0;
	if (systemd && strcmp(cmd, "spec") && strcmp(cmd, "features")) {
		berth_error *err = NULL;
		berth_err(&err, BERTH_E_UNSUPPORTED,
		          "--systemd-cgroup: systemd cgroups are not "
		          "supported by berth");
		return fail(&c, err);
	}
	if (!strcmp(cmd, "create"))
		return cmd_create_or_run(&c, sub_argc, sub_argv, false);
	if (!strcmp(cmd, "run"))
		return cmd_create_or_run(&c, sub_argc, sub_argv, true);
	if (!strcmp(cmd, "start"))
		return simple_id_cmd(&c, sub_argc, sub_argv, "start", rt_start);
	if (!strcmp(cmd, "pause"))
		return simple_id_cmd(&c, sub_argc, sub_argv, "pause", rt_pause);
	if (!strcmp(cmd, "resume"))
		return simple_id_cmd(&c, sub_argc, sub_argv, "resume", rt_resume);
	if (!strcmp(cmd, "state"))
		return rtc_state(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "kill"))
		return rtc_kill(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "delete"))
		return rtc_delete(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "exec"))
		return cmd_exec_rt(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "ps"))
		return rtc_ps(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "list"))
		return rtc_list(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "spec"))
		return rtc_spec(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "features"))
		return rtc_features(&c, sub_argc, sub_argv);
	if (!strcmp(cmd, "validate"))
		return rtc_validate(&c, sub_argc, sub_argv);
	fprintf(stderr, "berth runtime: '%s' is not a runtime command.\n", cmd);
	return 1;
}
