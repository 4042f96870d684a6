/* Priming the kernel's cgroup migration lock (see cgprime.h). */
#include "runtime/cgprime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"

struct cgroup_primer {
	pid_t pid;
	int pipe_w;
};

/* Keep the lock primed this long at most (a caller that forgot to stop). */
#define PRIME_MAX_MS 3000

/* Is tok one of the comma-separated words of list? */
static bool has_word(const char *list, const char *tok, size_t toklen)
{
	for (const char *p = list; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (n == toklen && !memcmp(p, tok, n))
			return true;
		if (!c)
			break;
		p = c + 1;
	}
	return false;
}

/* The mount point and root of the hierarchy of one /proc/self/cgroup line
 * (ctrls: "" for cgroup2, else its controllers). */
static bool find_mount(char **mi, const char *ctrls, char **mnt, char **root)
{
	size_t tl = strcspn(ctrls, ",");
	for (size_t i = 0; mi && mi[i]; i++) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		_cleanup_strv_ char **f = str_split(mi[i], ' ');
		size_t n = strv_len(f), dash = 0;
		for (size_t k = 6; k < n; k++)
			if (!strcmp(f[k], "-")) {
				dash = k;
				break;
			}
		if (dash == 0 || dash + 3 >= n)
			continue;
		const char *fstype = f[dash + 1], *super = f[dash + 3];
		bool ok = *ctrls ? !strcmp(fstype, "cgroup") && has_word(super, ctrls, tl)
		                 : !strcmp(fstype, "cgroup2");
		/* names with octal escapes (blanks) are not worth decoding here */
		if (!ok || strchr(f[4], '\\') || strchr(f[3], '\\'))
			continue;
		*mnt = xstrdup(f[4]);
		*root = xstrdup(f[3]);
		return true;
	}
	return false;
}

/* Open our own cgroup.procs in some hierarchy for writing. */
static int open_own_procs(void)
{
	_cleanup_free_ char *cg = NULL, *mi = NULL;
	size_t l1 = 0, l2 = 0;
	if (read_file("/proc/self/cgroup", &cg, &l1, NULL) < 0 ||
	    read_file("/proc/self/mountinfo", &mi, &l2, NULL) < 0)
		return -1;
	_cleanup_strv_ char **lines = str_split(cg, '\n');
	_cleanup_strv_ char **mounts = str_split(mi, '\n');
	for (size_t i = 0; lines && lines[i]; i++) {
		/* "ID:CONTROLLERS:PATH" */
		char *c1 = strchr(lines[i], ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c2 == NULL)
			continue;
		*c2 = 0;
		const char *ctrls = c1 + 1, *path = c2 + 1;
		_cleanup_free_ char *mnt = NULL, *root = NULL;
		if (!find_mount(mounts, ctrls, &mnt, &root))
			continue;
		size_t rl = strcmp(root, "/") ? strlen(root) : 0;
		if (rl && (strncmp(path, root, rl) || (path[rl] && path[rl] != '/')))
			continue;
		_cleanup_free_ char *p = xasprintf("%s%s/cgroup.procs", mnt, path + rl);
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

/* The primer process: write, then every millisecond again until the
 * pipe closes (the caller stopped or died). */
static void __attribute__((noreturn)) prime_main(int fd, int pipe_r)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (int ms = 0; ms < PRIME_MAX_MS; ms++) {
		/* "0": this process, into the cgroup it is in */
		if (write(fd, "0", 1) < 0 && errno != EINTR)
			break;
		struct pollfd pf = {.fd = pipe_r, .events = POLLIN};
		if (poll(&pf, 1, 1) != 0)
			break;
	}
	_exit(0);
}

cgroup_primer *cgroup_prime_start(void)
{
	/* A process, not a thread: the runtime clones with the raw system call
	 * (no fork handlers), which is only safe in a single-threaded process. */
	_cleanup_close_ int fd = open_own_procs();
	if (fd < 0)
		return NULL;
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0)
		return NULL;
	pid_t pid = fork();
	if (pid < 0) {
		close(pp[0]);
		close(pp[1]);
		return NULL;
	}
	if (pid == 0) {
		close(pp[1]);
		prime_main(fd, pp[0]);
	}
	close(pp[0]);
	struct cgroup_primer *p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->pipe_w = pp[1];
	return p;
}

void cgroup_prime_stop(cgroup_primer *p)
{
	if (p == NULL)
		return;
	/* the primer ends at its next poll; reap it if it is gone already (else
	 * it is reaped when we exit: a wait could take a grace period) */
	close(p->pipe_w);
	waitpid(p->pid, NULL, WNOHANG);
	free(p);
}
