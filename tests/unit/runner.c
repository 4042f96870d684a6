/* berth-unit: runs the registered unit tests, each in a child process.
 * berth-unit [--list] [NAME...] ; prints "N passed, N failed". */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define BERTH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BERTH_ASAN 1
#endif
#endif
#ifdef BERTH_ASAN
#include <sanitizer/lsan_interface.h>
#endif

struct test {
	const char *name, *file;
	test_fn fn;
};

static struct test tests[4096];
static size_t ntests;
static int failed_flag;
static char tmpdir[256];

void test_register(const char *name, const char *file, test_fn fn)
{
	if (ntests < sizeof(tests) / sizeof(tests[0]))
		tests[ntests++] = (struct test){name, file, fn};
}

void test_failed(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "  %s:%d: check failed: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	failed_flag = 1;
}

const char *test_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/berth-unit-XXXXXX");
		if (mkdtemp(tmpdir) == NULL) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return tmpdir;
}

static int run_one(const struct test *t)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		failed_flag = 0;
		t->fn();
		if (tmpdir[0]) {
			berth_error *e = NULL;
			rm_rf(tmpdir, &e);
			berth_error_free(e);
		}
#ifdef BERTH_ASAN
		/* _exit skips LeakSanitizer's at-exit check: run it here, so a
		 * test fails on what it (or the library under it) leaked. */
		if (__lsan_do_recoverable_leak_check())
			failed_flag = 1;
#endif
		fflush(stderr);
		_exit(failed_flag ? 1 : 0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok   %s\n", t->name);
		return 0;
	}
	if (WIFSIGNALED(status))
		printf("FAIL %s (signal %d)\n", t->name, WTERMSIG(status));
	else
		printf("FAIL %s\n", t->name);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < ntests; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	int passed = 0, failed = 0;
	for (size_t i = 0; i < ntests; i++) {
		bool selected = argc == 1;
		for (int a = 1; a < argc; a++)
			if (!strcmp(argv[a], tests[i].name))
				selected = true;
		if (!selected)
			continue;
		if (run_one(&tests[i]))
			failed++;
		else
			passed++;
	}
	if (passed + failed == 0 && argc > 1) {
		fprintf(stderr, "no such test\n");
		return 2;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
