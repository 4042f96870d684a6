/* OCI hooks: each runs with its own args and env, the state JSON on
 * stdin, and an optional timeout. The core is plain system calls, so the
 * container side (createContainer, startContainer) uses it too. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

static int run_one(const rt_hook *h, const char *state, char *buf, size_t buflen)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(buf, buflen, "hook %s: pipe: %s", h->path, strerror(errno));
		return errno;
	}
	size_t len = state ? strlen(state) : 0;
	if (len > 65536)
		fcntl(pfd[1], F_SETPIPE_SZ, (int)len);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		snprintf(buf, buflen, "hook %s: fork: %s", h->path, strerror(e));
		return e;
	}
	if (pid == 0) {
		if (dup2(pfd[0], 0) < 0)
			_exit(127);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execve(h->path, h->args, h->env);
		dprintf(2, "berth: hook %s: %s\n", h->path, strerror(errno));
		_exit(127);
	}
	close(pfd[0]);
	/* a hook that does not read its stdin must not kill us with SIGPIPE */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	const char *p = state;
	while (len > 0) {
		ssize_t w = write(pfd[1], p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break; /* EPIPE: the hook does not read its stdin */
		}
		p += w;
		len -= (size_t)w;
	}
	close(pfd[1]);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	int status = 0;
	if (h->timeout > 0) {
		int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0) {
			struct pollfd pf = {.fd = pidfd, .events = POLLIN};
			int r;
			do
				r = poll(&pf, 1, h->timeout * 1000);
			while (r < 0 && errno == EINTR);
			close(pidfd);
			if (r == 0) {
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				snprintf(buf, buflen, "hook %s: timed out after %d s", h->path,
				         h->timeout);
				return ETIMEDOUT;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(buf, buflen, "hook %s: waitpid: %s", h->path, strerror(errno));
			return errno;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(buf, buflen, "hook %s: exit status %d", h->path, WEXITSTATUS(status));
	else
		snprintf(buf, buflen, "hook %s: killed by signal %d", h->path,
		         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return ECANCELED;
}

int rt_hooks_run_raw(const rt_hook *hooks, size_t n, const char *state_json, char *buf,
                     size_t buflen)
{
	for (size_t i = 0; i < n; i++) {
		int e = run_one(&hooks[i], state_json, buf, buflen);
		if (e)
			return e;
	}
	return 0;
}

int rt_hooks_run(const rt_hook *hooks, size_t n, const char *kind, const char *state_json,
                 berth_error **err)
{
	char buf[RT_MSG_TEXT];
	int e = rt_hooks_run_raw(hooks, n, state_json, buf, sizeof(buf));
	if (e)
		return berth_err(err, BERTH_E_GENERIC, "%s hook: %s", kind, buf);
	return 0;
}
