/* berth-init: the minimal init that `--init` runs as PID 1 (like Docker's
 * docker-init). It starts the command, forwards every signal it receives to
 * it, reaps all zombies, and exits with the command's status (128+N when
 * the command was killed by signal N). Static, libc only. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--")) {
		argv++;
		argc--;
	}
	if (argc < 2) {
		fputs("usage: berth-init COMMAND [ARG...]\n", stderr);
		return 125;
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "berth-init: fork: %s\n", strerror(errno));
		return 125;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		/* own process group, the terminal's foreground one when we have a tty */
		setpgid(0, 0);
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(0, getpid());
		signal(SIGTTOU, SIG_DFL);
		execvp(argv[1], argv + 1);
		int e = errno;
		fprintf(stderr, "berth-init: exec %s failed: %s\n", argv[1], strerror(e));
		_exit(e == ENOENT ? 127 : 126);
	}
	prctl(PR_SET_NAME, "berth-init");
	int code = 0;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* forward to the command's whole process group */
			if (kill(-child, sig) < 0)
				kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p <= 0)
				break;
			if (p == child) {
				code = WIFEXITED(status) ? WEXITSTATUS(status)
				                         : 128 + WTERMSIG(status);
				return code;
			}
		}
	}
}
