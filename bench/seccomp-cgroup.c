/* Driver for bench/seccomp-cgroup.sh: times the runtime's seccomp and
 * cgroup steps in-process. usage: seccomp-cgroup MODE N
 * MODE: compile | cached | cgroup | mkdir */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/seccomp.h"

static char *const caps[] = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", NULL};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *mode = argv[1];
	int n = atoi(argv[2]);
	const char *cache = getenv("BENCH_CACHE"); /* the script removes it */
	if (cache == NULL)
		return 2;
	double t0 = now_ms();
	for (int i = 0; i < n; i++) {
		berth_error *e = NULL;
		if (!strcmp(mode, "compile") || !strcmp(mode, "cached")) {
			json_t *p = seccomp_default_profile(caps);
			struct sock_fprog *f = NULL;
			unsigned fl = 0;
			int rc = !strcmp(mode, "compile")
			             ? seccomp_compile(p, &f, &fl, &e)
			             : seccomp_compile_cached(p, cache, &f, &fl, &e);
			if (rc < 0) {
				fprintf(stderr, "%s\n", e->msg);
				return 1;
			}
			seccomp_prog_free(f);
			json_decref(p);
		} else if (!strcmp(mode, "cgroup")) {
			char name[64];
			snprintf(name, sizeof(name), "/berth-bench-%d-%d", (int)getpid(), i);
			json_t *r =
			    json_loads("{\"memory\": {\"limit\": 67108864}, \"pids\": {\"limit\": "
			               "100}, \"cpu\": {\"shares\": 512}}",
			               0, NULL);
			cgroup_handle *h = NULL;
			if (cgroup_create(name, NULL, r, 0, &h, &e) < 0) {
				fprintf(stderr, "%s\n", e->msg);
				return 1;
			}
			cgroup_destroy(h, &e);
			cgroup_handle_free(h);
			json_decref(r);
		} else {
			/* floor: one mkdir+rmdir in each v1 hierarchy and cgroup2 */
			static const char *const h[] = {"cpu",     "cpuacct", "cpuset", "memory",
			                                "devices", "freezer", "blkio",  "pids",
			                                "systemd", "unified"};
			for (size_t k = 0; k < sizeof(h) / sizeof(h[0]); k++) {
				char p[128];
				snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/berth-bench-%d", h[k],
				         (int)getpid());
				if (mkdir(p, 0755) == 0)
					rmdir(p);
			}
		}
	}
	printf("%s: %.3f ms per iteration\n", mode, (now_ms() - t0) / n);
	return 0;
}
