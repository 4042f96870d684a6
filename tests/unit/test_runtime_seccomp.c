/* seccomp tests: compiled filters loaded in forked children, which report
 * the errno they saw through their exit status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/seccomp.h"
#include "test.h"

static void prog_freep(struct sock_fprog **p)
{
	seccomp_prog_free(*p);
}
#define _cleanup_prog_ __attribute__((cleanup(prog_freep)))

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (j == NULL) {
		fprintf(stderr, "bad test json: %s: %s\n", je.text, text);
		abort();
	}
	return j;
}

static struct sock_fprog *compile(const char *text, unsigned *flags)
{
	_cleanup_json_ json_t *j = J(text);
	struct sock_fprog *p = NULL;
	berth_error *e = NULL;
	if (seccomp_compile(j, &p, flags, &e) < 0) {
		fprintf(stderr, "seccomp_compile: %s\n", e->msg);
		berth_error_free(e);
		return NULL;
	}
	return p;
}

/* Run fn in a child under the filter; returns fn's value (0..255) or -1. */
static int in_child(const struct sock_fprog *p, unsigned flags, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(250);
		int r = seccomp_load_prog(p, flags);
		if (r < 0)
			_exit(251);
		/* exit_group directly: a sanitizer's _exit hook would make
		 * syscalls the filter refuses and fail the child */
		syscall(SYS_exit_group, fn(arg));
		_exit(252);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* errno of a raw syscall, 0 on success */
#define SYSERR(...) (syscall(__VA_ARGS__) < 0 ? errno : 0)

static int probe_mkdir_getcwd(void *arg)
{
	const char *dir = arg;
	char buf[256];
	if (SYSERR(SYS_mkdirat, AT_FDCWD, dir, 0755) != EXDEV)
		return 1;
	if (SYSERR(SYS_getcwd, buf, 77) != EDOM)
		return 2;
	if (SYSERR(SYS_getcwd, buf, sizeof(buf)) != 0)
		return 3;
	if (SYSERR(SYS_getpid) != 0)
		return 4;
	return 0;
}

TEST(seccomp_errno_rules_and_arg_filter)
{
	unsigned flags = 99;
	_cleanup_prog_ struct sock_fprog *p =
	    compile("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": "
	            "[\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\"], \"flags\": "
	            "[\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"], \"syscalls\": ["
	            "{\"names\": [\"mkdir\", \"mkdirat\", \"no_such_syscall_berth\"], \"action\": "
	            "\"SCMP_ACT_ERRNO\", \"errnoRet\": 18},"
	            "{\"names\": [\"getcwd\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 33, "
	            "\"args\": [{\"index\": 1, \"value\": 77, \"op\": \"SCMP_CMP_EQ\"}]}]}",
	            &flags);
	CHECK(p != NULL);
	CHECK_INT_EQ(flags, SECCOMP_FILTER_FLAG_SPEC_ALLOW);
	_cleanup_free_ char *dir = xasprintf("%s/blocked", test_tmpdir());
	CHECK_INT_EQ(in_child(p, flags, probe_mkdir_getcwd, dir), 0);
	struct stat st;
	CHECK(stat(dir, &st) < 0 && errno == ENOENT);
	/* Without the filter the same calls work. */
	CHECK(mkdir(dir, 0755) == 0);
}

struct op_case {
	const char *op;
	uint64_t value, value_two;
	uint64_t probes[4];
};

static bool op_matches(const struct op_case *c, uint64_t x)
{
	if (!strcmp(c->op, "SCMP_CMP_EQ"))
		return x == c->value;
	if (!strcmp(c->op, "SCMP_CMP_NE"))
		return x != c->value;
	if (!strcmp(c->op, "SCMP_CMP_LT"))
		return x < c->value;
	if (!strcmp(c->op, "SCMP_CMP_LE"))
		return x <= c->value;
	if (!strcmp(c->op, "SCMP_CMP_GT"))
		return x > c->value;
	if (!strcmp(c->op, "SCMP_CMP_GE"))
		return x >= c->value;
	return (x & c->value) == c->value_two; /* MASKED_EQ */
}

static int probe_close(void *arg)
{
	const uint64_t *probes = arg;
	int bits = 0;
	for (int i = 0; i < 4; i++) {
		int e = SYSERR(SYS_close, (long)probes[i]);
		if (e == EL2HLT)
			bits |= 1 << i;
		else if (e != EBADF)
			return 200 + i;
	}
	return bits;
}

TEST(seccomp_every_argument_op)
{
	/* close() of fds nobody has: EBADF unless the rule matches. */
	static const struct op_case cases[] = {
	    {"SCMP_CMP_EQ", 100000, 0, {100000, 100001, 99999, 5000000}},
	    {"SCMP_CMP_NE", 100000, 0, {100000, 100001, 99999, 5000000}},
	    {"SCMP_CMP_LT", 100000, 0, {100000, 100001, 99999, 5000000}},
	    {"SCMP_CMP_LE", 100000, 0, {100000, 100001, 99999, 5000000}},
	    {"SCMP_CMP_GT", 100000, 0, {100000, 100001, 99999, 5000000}},
	    {"SCMP_CMP_GE", 100000, 0, {100000, 100001, 99999, 5000000}},
	    {"SCMP_CMP_MASKED_EQ", 0xf0, 0x50, {0x100050, 0x100060, 0x10005f, 0x1000a0}},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct op_case *c = &cases[i];
		_cleanup_free_ char *prof = xasprintf(
		    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": "
		    "[\"close\"], "
		    "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": %d, \"args\": [{\"index\": 0, "
		    "\"value\": %llu, \"valueTwo\": %llu, \"op\": \"%s\"}]}]}",
		    EL2HLT, (unsigned long long)c->value, (unsigned long long)c->value_two, c->op);
		unsigned flags = 0;
		_cleanup_prog_ struct sock_fprog *p = compile(prof, &flags);
		CHECK(p != NULL);
		int want = 0;
		for (int k = 0; k < 4; k++)
			if (op_matches(c, c->probes[k]))
				want |= 1 << k;
		int got = in_child(p, flags, probe_close, (void *)c->probes);
		if (got != want)
			fprintf(stderr, "%s: got %d want %d\n", c->op, got, want);
		CHECK_INT_EQ(got, want);
	}
	/* Two conditions on one argument are ORed (runc), on two are ANDed. */
	unsigned flags = 0;
	_cleanup_prog_ struct sock_fprog *p = compile(
	    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"close\"], "
	    "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 51, \"args\": ["
	    "{\"index\": 0, \"value\": 100000, \"op\": \"SCMP_CMP_EQ\"},"
	    "{\"index\": 0, \"value\": 5000000, \"op\": \"SCMP_CMP_EQ\"}]}]}",
	    &flags);
	CHECK(p != NULL);
	static const uint64_t probes[4] = {100000, 100001, 99999, 5000000};
	CHECK_INT_EQ(in_child(p, flags, probe_close, (void *)probes), 1 | 8);
}

static int probe_default(void *arg)
{
	int want = *(int *)arg;
	if (SYSERR(SYS_mkdirat, AT_FDCWD, "/nonexistent-berth/x", 0755) != want)
		return 1;
	if (SYSERR(SYS_getppid) != want)
		return 2;
	return 0; /* exit_group is allowed */
}

TEST(seccomp_default_errno_ret)
{
	unsigned flags = 0;
	_cleanup_prog_ struct sock_fprog *p = compile(
	    "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 18, \"syscalls\": "
	    "[{\"names\": [\"exit_group\", \"exit\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
	    &flags);
	CHECK(p != NULL);
	int want = EXDEV;
	CHECK_INT_EQ(in_child(p, flags, probe_default, &want), 0);
	/* Without defaultErrnoRet: EPERM. */
	_cleanup_prog_ struct sock_fprog *p2 =
	    compile("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": "
	            "[{\"names\": [\"exit_group\", \"exit\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
	            &flags);
	CHECK(p2 != NULL);
	want = EPERM;
	CHECK_INT_EQ(in_child(p2, flags, probe_default, &want), 0);
}

static int probe_kill(void *arg)
{
	(void)arg;
	syscall(SYS_getppid);
	return 0;
}

TEST(seccomp_kill_and_trap_actions)
{
	unsigned flags = 0;
	_cleanup_prog_ struct sock_fprog *p = compile(
	    "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"getppid\"], "
	    "\"action\": \"SCMP_ACT_KILL_PROCESS\"}]}",
	    &flags);
	CHECK(p != NULL);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (seccomp_load_prog(p, flags) < 0)
			_exit(1);
		probe_kill(NULL);
		_exit(0);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
}

TEST(seccomp_refuses_bad_profiles)
{
	static const char *const bad[][2] = {
	    {"{\"defaultAction\": \"SCMP_ACT_NOPE\"}", "unknown action"},
	    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
	     "\"action\": \"SCMP_ACT_BOGUS\"}]}",
	     "syscalls[0]"},
	    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
	     "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1, \"op\": "
	     "\"SCMP_CMP_ABOUT\"}]}]}",
	     "unknown op"},
	    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], "
	     "\"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": "
	     "\"SCMP_CMP_EQ\"}]}]}",
	     "index"},
	    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]}",
	     "architectures[0]"},
	    {"{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NOPE\"]}",
	     "flags[0]"},
	    {"{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "listener"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_json_ json_t *j = J(bad[i][0]);
		struct sock_fprog *p = NULL;
		unsigned flags = 0;
		berth_error *e = NULL;
		CHECK(seccomp_compile(j, &p, &flags, &e) < 0);
		CHECK(p == NULL);
		if (strstr(e->msg, bad[i][1]) == NULL)
			fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, e->msg, bad[i][1]);
		CHECK(strstr(e->msg, bad[i][1]) != NULL);
		berth_error_free(e);
	}
}

/* Docker's default capability set. */
static char *const docker_caps[] = {"CAP_CHOWN",
                                    "CAP_DAC_OVERRIDE",
                                    "CAP_FSETID",
                                    "CAP_FOWNER",
                                    "CAP_MKNOD",
                                    "CAP_NET_RAW",
                                    "CAP_SETGID",
                                    "CAP_SETUID",
                                    "CAP_SETFCAP",
                                    "CAP_SETPCAP",
                                    "CAP_NET_BIND_SERVICE",
                                    "CAP_SYS_CHROOT",
                                    "CAP_KILL",
                                    "CAP_AUDIT_WRITE",
                                    NULL};

static int probe_docker_default(void *arg)
{
	const char *dir = arg;
	/* blocked without CAP_SYS_ADMIN */
	if (SYSERR(SYS_unshare, CLONE_NEWUTS) != EPERM)
		return 1;
	if (SYSERR(SYS_mount, "none", dir, "tmpfs", 0, NULL) != EPERM)
		return 2;
	if (SYSERR(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0) != EPERM)
		return 3;
	if (SYSERR(SYS_personality, 0x0005) != EPERM)
		return 4;
	if (SYSERR(SYS_clone3, NULL, 0) != ENOSYS)
		return 5;
	if (SYSERR(SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0) != EPERM)
		return 6;
	if (SYSERR(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0) != EPERM)
		return 7;
	if (SYSERR(SYS_add_key, "user", "k", "v", 1, -3) != EPERM)
		return 8;
	/* allowed */
	if (SYSERR(SYS_personality, 0xffffffffUL) != 0)
		return 20;
	if (SYSERR(SYS_mkdirat, AT_FDCWD, dir, 0755) != 0)
		return 21;
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return 22;
	close(s);
	pid_t c = fork(); /* clone without namespace flags */
	if (c < 0)
		return 23;
	if (c == 0)
		_exit(0);
	if (waitpid(c, NULL, 0) != c)
		return 24;
	char buf[PATH_MAX];
	if (getcwd(buf, sizeof(buf)) == NULL || SYSERR(SYS_getpid) != 0)
		return 25;
	return 0;
}

static int probe_with_sys_admin(void *arg)
{
	(void)arg;
	if (SYSERR(SYS_unshare, CLONE_NEWUTS) != 0)
		return 1;
	if (SYSERR(SYS_mount, "none", "/nonexistent-berth", "tmpfs", 0, NULL) != ENOENT)
		return 2;
	if (SYSERR(SYS_clone3, NULL, 0) == ENOSYS)
		return 3;
	return 0;
}

TEST(seccomp_docker_default_profile_blocks_like_docker)
{
	_cleanup_json_ json_t *prof = seccomp_default_profile(docker_caps);
	CHECK(prof != NULL);
	CHECK_STR_EQ(json_get_str(prof, "defaultAction"), "SCMP_ACT_ERRNO");
	CHECK_INT_EQ(json_get_int(prof, "defaultErrnoRet", -1), 1);
	_cleanup_free_ char *arches = json_dump_compact(json_object_get(prof, "architectures"));
	CHECK_STR_EQ(arches, "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]");
	struct sock_fprog *p = NULL;
	unsigned flags = 0;
	berth_error *e = NULL;
	int rc = seccomp_compile(prof, &p, &flags, &e);
	if (rc < 0)
		fprintf(stderr, "compile: %s\n", e->msg);
	CHECK(rc == 0);
	_cleanup_free_ char *dir = xasprintf("%s/made", test_tmpdir());
	CHECK_INT_EQ(in_child(p, flags, probe_docker_default, dir), 0);
	seccomp_prog_free(p);

	/* With CAP_SYS_ADMIN the admin syscalls open up, as in Docker. */
	_cleanup_strv_ char **caps = strv_dup(docker_caps);
	caps = strv_append(caps, "CAP_SYS_ADMIN");
	_cleanup_json_ json_t *prof2 = seccomp_default_profile(caps);
	CHECK(seccomp_compile(prof2, &p, &flags, &e) == 0);
	CHECK_INT_EQ(in_child(p, flags, probe_with_sys_admin, NULL), 0);
	seccomp_prog_free(p);
}

/* The profile seccomp_default_profile() builds, resolved here again from
 * the JSON the table was generated from (located next to the build). */
static char *profile_json_path(void)
{
	const char *root = getenv("BERTH_SOURCE_ROOT");
	if (root)
		return xasprintf("%s/src/runtime/seccomp-default.json", root);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	/* <root>/<build>/tests/unit/berth-unit */
	for (int up = 0; up < 4; up++) {
		char *s = strrchr(exe, '/');
		if (s == NULL)
			return NULL;
		*s = '\0';
	}
	return xasprintf("%s/src/runtime/seccomp-default.json", exe);
}

static bool has_all(json_t *list, char *const *caps)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (!strv_contains(caps, json_string_value(v)))
			return false;
	}
	return true;
}

static bool has_any(json_t *list, char *const *caps)
{
	size_t i;
	json_t *v;
	json_array_foreach (list, i, v) {
		if (strv_contains(caps, json_string_value(v)))
			return true;
	}
	return false;
}

TEST(seccomp_default_profile_agrees_with_json)
{
	_cleanup_free_ char *path = profile_json_path();
	CHECK(path != NULL);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_json_ json_t *src = json_parse_file(path, &e);
	if (src == NULL)
		fprintf(stderr, "%s: %s\n", path, e->msg);
	CHECK(src != NULL);
	char *const arch_amd64[] = {"amd64", NULL};
	char *const *capsets[2] = {docker_caps, NULL};
	_cleanup_strv_ char **all = strv_dup(docker_caps);
	all = strv_append(all, "CAP_SYS_ADMIN");
	all = strv_append(all, "CAP_SYS_PTRACE");
	all = strv_append(all, "CAP_BPF");
	capsets[1] = all;
	for (int k = 0; k < 2; k++) {
		json_t *want = json_array();
		size_t i;
		json_t *r;
		json_array_foreach (json_object_get(src, "syscalls"), i, r) {
			json_t *inc = json_object_get(r, "includes"),
			       *exc = json_object_get(r, "excludes");
			if (inc && json_object_get(inc, "caps") &&
			    !has_all(json_object_get(inc, "caps"), capsets[k]))
				continue;
			if (inc && json_object_get(inc, "arches") &&
			    !has_any(json_object_get(inc, "arches"), arch_amd64))
				continue;
			if (exc && has_any(json_object_get(exc, "caps"), capsets[k]))
				continue;
			if (exc && has_any(json_object_get(exc, "arches"), arch_amd64))
				continue;
			/* minKernel 4.8 and the like: this host runs 6.x */
			json_t *o = json_deep_copy(r);
			json_object_del(o, "includes");
			json_object_del(o, "excludes");
			json_object_del(o, "comment");
			json_t *args = json_object_get(o, "args");
			size_t ai;
			json_t *a;
			json_array_foreach (args, ai, a) {
				if (!json_object_get(a, "valueTwo"))
					json_object_set_new(a, "valueTwo", json_integer(0));
			}
			json_array_append_new(want, o);
		}
		_cleanup_json_ json_t *got = seccomp_default_profile(capsets[k]);
		bool same = json_equal(json_object_get(got, "syscalls"), want);
		if (!same) {
			_cleanup_free_ char *g =
			    json_dump_compact(json_object_get(got, "syscalls"));
			_cleanup_free_ char *w = json_dump_compact(want);
			fprintf(stderr, "got  %.2000s\nwant %.2000s\n", g, w);
		}
		json_decref(want);
		CHECK(same);
	}
}

TEST(seccomp_compile_cache_roundtrip)
{
	_cleanup_json_ json_t *prof = seccomp_default_profile(docker_caps);
	_cleanup_free_ char *dir = xasprintf("%s/cache/seccomp", test_tmpdir());
	_cleanup_prog_ struct sock_fprog *direct = NULL, *first = NULL, *second = NULL;
	unsigned f0 = 0, f1 = 0, f2 = 0;
	_cleanup_error_ berth_error *e = NULL;
	CHECK(seccomp_compile(prof, &direct, &f0, &e) == 0);
	CHECK(seccomp_compile_cached(prof, dir, &first, &f1, &e) == 0);
	/* one file appeared; the second call reads it */
	_cleanup_closedir_ DIR *d = opendir(dir);
	CHECK(d != NULL);
	struct dirent *de;
	_cleanup_free_ char *file = NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			file = xasprintf("%s/%s", dir, de->d_name);
	CHECK(file != NULL);
	CHECK(seccomp_compile_cached(prof, dir, &second, &f2, &e) == 0);
	CHECK_INT_EQ(first->len, direct->len);
	CHECK_INT_EQ(second->len, direct->len);
	CHECK(memcmp(second->filter, direct->filter, direct->len * sizeof(struct sock_filter)) ==
	      0);
	CHECK_INT_EQ(f2, f0);
	/* A damaged entry is recompiled, not loaded. */
	int fd = open(file, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, "\xff\xff\xff\xff", 4, 200) == 4);
	close(fd);
	_cleanup_prog_ struct sock_fprog *third = NULL;
	CHECK(seccomp_compile_cached(prof, dir, &third, &f2, &e) == 0);
	CHECK(memcmp(third->filter, direct->filter, direct->len * sizeof(struct sock_filter)) == 0);
	/* and the cached program works */
	_cleanup_free_ char *made = xasprintf("%s/made-by-cached", test_tmpdir());
	CHECK_INT_EQ(in_child(second, f2, probe_docker_default, made), 0);
}
