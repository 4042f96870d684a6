/* cgroup tests: v1 against this host's real hierarchies, v2 on the real
 * cgroup2 mount where it can be (create/destroy, hugetlb, the eBPF device
 * filter), and the v2 file logic on a temporary tree standing in for a v2
 * cgroup (this hybrid host has no v2 memory/cpu/io/pids controllers). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/cgroup.h"
#include "runtime/cgroup_internal.h"
#include "test.h"

/* Tests remove what they made, also when a CHECK fails half-way. */
static void cg_guard(cgroup_handle **h)
{
	if (*h == NULL)
		return;
	berth_error *e = NULL;
	cgroup_kill_all(*h, SIGKILL, NULL);
	if (cgroup_destroy(*h, &e) < 0) {
		fprintf(stderr, "cleanup: %s\n", e->msg);
		berth_error_free(e);
	}
	cgroup_handle_free(*h);
	*h = NULL;
}
#define _cleanup_cg_ __attribute__((cleanup(cg_guard)))

static void child_guard(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
}
#define _cleanup_child_ __attribute__((cleanup(child_guard)))

static void rmdirp(char **dir)
{
	/* a killed member leaves the cgroup a moment later */
	for (int i = 0; *dir && i < 200 && rmdir(*dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
	free(*dir);
}

static char *unique_name(const char *what)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return xasprintf("berth-test-%s-%d-%lx", what, (int)getpid(),
	                 (unsigned long)(ts.tv_nsec ^ (long)rand()));
}

static char *slurp(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	char *s = NULL;
	berth_error *e = NULL;
	if (read_file(p, &s, NULL, &e) < 0) {
		berth_error_free(e);
		return NULL;
	}
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
	return s;
}

static bool dir_exists(const char *p)
{
	struct stat st;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

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

/* "maj:min" of some block device of this machine. */
static char *some_block_dev(void)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("/sys/block/%s", de->d_name);
		char *s = slurp(p, "dev");
		if (s)
			return s;
	}
	return NULL;
}

/* A child that counts in shared memory until killed. */
struct counter_child {
	pid_t pid;
	volatile unsigned long *count;
};

static struct counter_child spawn_counter(void)
{
	struct counter_child c = {0};
	c.count = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	c.pid = fork();
	if (c.pid == 0) {
		for (;;) {
			(*c.count)++;
			usleep(1000);
		}
	}
	return c;
}

static char proc_state(pid_t pid)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d", (int)pid);
	_cleanup_free_ char *s = slurp(dir, "status");
	const char *st = s ? strstr(s, "\nState:\t") : NULL;
	return st ? st[8] : '?';
}

TEST(cgroup_parse_hybrid_layout)
{
	const char *cgroups = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
	                      "cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nmemory\t4\t1\t1\n"
	                      "net_cls\t0\t1\t1\nhugetlb\t0\t1\t1\npids\t8\t1\t1\n";
	const char *mi =
	    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	    "33 31 0:30 / /sys/fs/cgroup/cpu\\040acct rw shared:5 - cgroup cgroup rw,cpuacct\n"
	    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	    "36 31 0:32 / /mnt/again rw,relatime - cgroup cgroup rw,memory\n"
	    "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
	    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	const char *self = "9:name=systemd:/\n4:memory:/a/b\n2:cpuacct:/\n1:cpu:/\n0::/x\n";
	struct cg_layout l = {0};
	CHECK(cg_parse_proc_cgroups(cgroups, &l, NULL) == 0);
	CHECK(cg_parse_mountinfo(mi, &l, NULL) == 0);
	CHECK(cg_parse_proc_self_cgroup(self, &l, NULL) == 0);
	CHECK_INT_EQ(l.n, 5);
	CHECK_STR_EQ(l.h[1].mountpoint, "/sys/fs/cgroup/cpu acct");
	CHECK(strv_contains(l.h[3].ctrls, "name=systemd"));
	CHECK(!strv_contains(l.h[3].ctrls, "xattr"));
	CHECK_STR_EQ(l.h[2].own, "/a/b");
	CHECK(l.h[4].v2);
	CHECK_STR_EQ(l.h[4].own, "/x");
	CHECK(l.unified == false);
	cg_layout_clear(&l);

	const char *mi2 = "30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
	CHECK(cg_parse_proc_cgroups(cgroups, &l, NULL) == 0);
	CHECK(cg_parse_mountinfo(mi2, &l, NULL) == 0);
	CHECK(cg_parse_proc_self_cgroup("0::/user.slice\n", &l, NULL) == 0);
	CHECK_INT_EQ(l.n, 1);
	cg_layout_clear(&l);
	berth_error *e = NULL;
	CHECK(cg_parse_proc_self_cgroup("garbage\n", &l, &e) < 0);
	CHECK(e != NULL);
	berth_error_free(e);
	cg_layout_clear(&l);
}

TEST(cgroup_detect_this_host_hybrid)
{
	struct cg_layout l = {0};
	berth_error *e = NULL;
	CHECK(cg_detect(&l, &e) == 0);
	bool v1mem = false, v2 = false;
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", l.h[i].mountpoint);
		CHECK(access(procs, F_OK) == 0);
		if (!l.h[i].v2 && strv_contains(l.h[i].ctrls, "memory")) {
			v1mem = true;
			_cleanup_free_ char *f =
			    xasprintf("%s/memory.usage_in_bytes", l.h[i].mountpoint);
			CHECK(access(f, F_OK) == 0);
		}
		v2 |= l.h[i].v2;
	}
	/* The host this suite runs on is hybrid (COMMON.md). */
	CHECK(v1mem);
	CHECK(v2);
	CHECK(!l.unified);
	cg_layout_clear(&l);
}

TEST(cgroup_weight_conversions)
{
	CHECK_INT_EQ(cg_shares_to_weight(2), 1);
	CHECK_INT_EQ(cg_shares_to_weight(262144), 10000);
	CHECK_INT_EQ(cg_shares_to_weight(1024), 39);
	CHECK_INT_EQ(cg_shares_to_weight(0), 0);
	CHECK_INT_EQ(cg_blkio_to_io_weight(10), 1);
	CHECK_INT_EQ(cg_blkio_to_io_weight(1000), 10000);
	CHECK_INT_EQ(cg_blkio_to_io_weight(500), 4950);
}

TEST(cgroup_v1_create_apply_destroy)
{
	_cleanup_free_ char *name = unique_name("apply");
	_cleanup_free_ char *dev = some_block_dev();
	CHECK(dev != NULL);
	unsigned maj = 0, min = 0;
	CHECK(sscanf(dev, "%u:%u", &maj, &min) == 2);
	_cleanup_free_ char *res_text = xasprintf(
	    "{\"memory\": {\"limit\": 67108864, \"reservation\": 33554432, \"swap\": 134217728,"
	    " \"swappiness\": 10},"
	    " \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000, \"cpus\": \"0\","
	    " \"mems\": \"0\"},"
	    " \"pids\": {\"limit\": 42},"
	    " \"blockIO\": {\"weight\": 300, \"throttleReadBpsDevice\": [{\"major\": %u,"
	    " \"minor\": %u, \"rate\": 1048576}], \"throttleWriteIOPSDevice\": [{\"major\": %u,"
	    " \"minor\": %u, \"rate\": 77}]},"
	    " \"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
	    "  {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rwm\"},"
	    "  {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 5, \"access\": \"r\"},"
	    "  {\"allow\": true, \"type\": \"c\", \"major\": 136, \"access\": \"rw\"}]}",
	    maj, min, maj, min);
	_cleanup_json_ json_t *res = J(res_text);
	_cleanup_cg_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	int rc = cgroup_create(name, NULL, res, 0, &h, &e);
	if (rc < 0)
		fprintf(stderr, "cgroup_create: %s\n", e->msg);
	CHECK(rc == 0);
	CHECK(!cgroup_is_v2(h));
	const char *mem = cgroup_controller_dir(h, "memory");
	const char *cpu = cgroup_controller_dir(h, "cpu");
	const char *cpuset = cgroup_controller_dir(h, "cpuset");
	const char *pids = cgroup_controller_dir(h, "pids");
	const char *blk = cgroup_controller_dir(h, "blkio");
	const char *devs = cgroup_controller_dir(h, "devices");
	const char *uni = cgroup_controller_dir(h, "");
	CHECK(mem && cpu && cpuset && pids && blk && devs && uni);
	CHECK(str_has_suffix(mem, name));
	CHECK(dir_exists(uni));
	_cleanup_free_ char *v1 = slurp(mem, "memory.limit_in_bytes");
	CHECK_STR_EQ(v1, "67108864");
	_cleanup_free_ char *v2 = slurp(mem, "memory.soft_limit_in_bytes");
	CHECK_STR_EQ(v2, "33554432");
	_cleanup_free_ char *v3 = slurp(mem, "memory.memsw.limit_in_bytes");
	CHECK_STR_EQ(v3, "134217728");
	_cleanup_free_ char *v4 = slurp(mem, "memory.swappiness");
	CHECK_STR_EQ(v4, "10");
	_cleanup_free_ char *v5 = slurp(cpu, "cpu.shares");
	CHECK_STR_EQ(v5, "512");
	_cleanup_free_ char *v6 = slurp(cpu, "cpu.cfs_quota_us");
	CHECK_STR_EQ(v6, "50000");
	_cleanup_free_ char *v7 = slurp(cpuset, "cpuset.cpus");
	CHECK_STR_EQ(v7, "0");
	_cleanup_free_ char *v8 = slurp(cpuset, "cpuset.mems");
	CHECK_STR_EQ(v8, "0");
	_cleanup_free_ char *v9 = slurp(pids, "pids.max");
	CHECK_STR_EQ(v9, "42");
	_cleanup_free_ char *w =
	    slurp(blk, access("/sys/fs/cgroup/blkio/blkio.weight", F_OK) == 0 ? "blkio.weight"
	                                                                      : "blkio.bfq.weight");
	CHECK(w != NULL && strstr(w, "300") != NULL);
	_cleanup_free_ char *rbps = slurp(blk, "blkio.throttle.read_bps_device");
	_cleanup_free_ char *want_rbps = xasprintf("%s 1048576", dev);
	CHECK_STR_EQ(rbps, want_rbps);
	_cleanup_free_ char *wiops = slurp(blk, "blkio.throttle.write_iops_device");
	_cleanup_free_ char *want_wiops = xasprintf("%s 77", dev);
	CHECK_STR_EQ(wiops, want_wiops);
	_cleanup_free_ char *dl = slurp(devs, "devices.list");
	CHECK_STR_EQ(dl, "c 1:3 rwm\nc 1:5 r\nc 136:* rw");

	/* update: raise the memory limit above the old memsw (ordering). */
	_cleanup_json_ json_t *up = J(
	    "{\"memory\": {\"limit\": 268435456, \"swap\": 536870912}, \"pids\": {\"limit\": -1}}");
	rc = cgroup_update(h, up, &e);
	if (rc < 0)
		fprintf(stderr, "cgroup_update: %s\n", e->msg);
	CHECK(rc == 0);
	_cleanup_free_ char *u1 = slurp(mem, "memory.limit_in_bytes");
	CHECK_STR_EQ(u1, "268435456");
	_cleanup_free_ char *u2 = slurp(pids, "pids.max");
	CHECK_STR_EQ(u2, "max");

	_cleanup_free_ char *memdir = xstrdup(mem), *unidir = xstrdup(uni);
	CHECK(cgroup_destroy(h, &e) == 0);
	cg_guard(&h);
	CHECK(!dir_exists(memdir));
	CHECK(!dir_exists(unidir));
}

TEST(cgroup_v1_process_freeze_kill_stats)
{
	_cleanup_free_ char *name = unique_name("proc");
	_cleanup_free_ char *path = xasprintf("/%s", name); /* absolute this time */
	struct counter_child c = spawn_counter();
	_cleanup_child_ pid_t guard1 = c.pid;
	CHECK(c.pid > 0);
	_cleanup_cg_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_json_ json_t *res = J("{\"pids\": {\"limit\": 10}, \"memory\": {\"limit\": -1}}");
	int rc = cgroup_create(path, NULL, res, c.pid, &h, &e);
	if (rc < 0)
		fprintf(stderr, "cgroup_create: %s\n", e->msg);
	CHECK(rc == 0);
	_cleanup_free_ char *want_mem = xasprintf("/sys/fs/cgroup/memory/%s", name);
	CHECK_STR_EQ(cgroup_controller_dir(h, "memory"), want_mem);
	/* /proc/PID/cgroup shows the same cgroup in every hierarchy. */
	_cleanup_free_ char *pdir = xasprintf("/proc/%d", (int)c.pid);
	_cleanup_free_ char *pc = slurp(pdir, "cgroup");
	_cleanup_free_ char *memline = xasprintf(":memory:%s\n", path);
	_cleanup_free_ char *uniline = xasprintf("0::%s", path);
	CHECK(pc && strstr(pc, memline) && strstr(pc, uniline));

	pid_t *pids = NULL;
	size_t n = 0;
	CHECK(cgroup_pids(h, &pids, &n, &e) == 0);
	CHECK_INT_EQ(n, 1);
	CHECK_INT_EQ(pids[0], c.pid);
	free(pids);

	CHECK(cgroup_freeze(h, true, &e) == 0);
	bool frozen = false;
	CHECK(cgroup_get_state(h, &frozen, &e) == 0);
	CHECK(frozen);
	unsigned long before = *c.count;
	usleep(50000);
	CHECK_INT_EQ(*c.count, before);
	CHECK(proc_state(c.pid) == 'D');
	CHECK(cgroup_freeze(h, false, &e) == 0);
	CHECK(cgroup_get_state(h, &frozen, &e) == 0);
	CHECK(!frozen);
	/* thawed: it counts again as soon as it gets a CPU (under load that
	 * can take a while, so wait up to 5 s rather than a fixed 50 ms) */
	for (int i = 0; i < 500 && *c.count == before; i++)
		usleep(10000);
	CHECK(*c.count > before);
	CHECK(proc_state(c.pid) != 'D');

	cgroup_stats st;
	CHECK(cgroup_stats_read(h, &st, &e) == 0);
	CHECK_INT_EQ(st.pids_current, 1);
	CHECK_INT_EQ(st.pids_limit, 10);
	CHECK(st.cpu_usage_ns > 0);
	CHECK(st.mem_limit > (1ULL << 40)); /* unlimited */
	CHECK(!st.oom_killed);

	/* A signal other than SIGKILL walks the procs (freeze, kill, thaw). */
	CHECK(cgroup_kill_all(h, SIGTERM, &e) == 0);
	int status = 0;
	CHECK(waitpid(c.pid, &status, 0) == c.pid);
	guard1 = 0;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	/* SIGKILL goes through cgroup.kill; a new member dies too. */
	struct counter_child c2 = spawn_counter();
	_cleanup_child_ pid_t guard2 = c2.pid;
	CHECK(cgroup_enter(h, c2.pid, &e) == 0);
	CHECK(cgroup_kill_all(h, SIGKILL, &e) == 0);
	CHECK(waitpid(c2.pid, &status, 0) == c2.pid);
	guard2 = 0;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* cgroup_open finds it again by path. */
	_cleanup_cg_ cgroup_handle *h2 = NULL;
	CHECK(cgroup_open(path, NULL, &h2, &e) == 0);
	CHECK_STR_EQ(cgroup_path(h2), path);
	_cleanup_free_ char *memdir = xstrdup(cgroup_controller_dir(h, "memory"));
	CHECK(cgroup_destroy(h2, &e) == 0);
	cg_guard(&h2);
	cg_guard(&h);
	CHECK(!dir_exists(memdir));
	_cleanup_cg_ cgroup_handle *h3 = NULL;
	CHECK(cgroup_open(path, NULL, &h3, &e) < 0);
	CHECK_INT_EQ(e->code, BERTH_E_NOTFOUND);
}

TEST(cgroup_oom_kill_reported)
{
	_cleanup_free_ char *name = unique_name("oom");
	_cleanup_cg_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_json_ json_t *res =
	    J("{\"memory\": {\"limit\": 8388608, \"swap\": 8388608}}"); /* 8 MiB, no swap */
	int rc = cgroup_create(name, NULL, res, 0, &h, &e);
	if (rc < 0)
		fprintf(stderr, "cgroup_create: %s\n", e->msg);
	CHECK(rc == 0);
	int go[2], ready[2];
	CHECK(pipe(go) == 0 && pipe(ready) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(3);
		char *p = malloc(4 << 20); /* 4 MiB, under the limit */
		if (p == NULL)
			_exit(4);
		memset(p, 1, 4 << 20);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(5);
		for (int i = 0; i < 64; i++) { /* 64 MiB, touched */
			p = malloc(1 << 20);
			if (p)
				memset(p, 1, 1 << 20);
		}
		_exit(0);
	}
	_cleanup_child_ pid_t guard = pid;
	close(go[0]);
	close(ready[1]);
	CHECK(cgroup_enter(h, pid, &e) == 0);
	CHECK(write(go[1], "x", 1) == 1);
	char b;
	CHECK(read(ready[0], &b, 1) == 1);
	cgroup_stats st;
	CHECK(cgroup_stats_read(h, &st, &e) == 0);
	CHECK(st.mem_usage >= (4 << 20));
	CHECK(st.mem_usage <= 8388608);
	CHECK(!st.oom_killed);
	CHECK(write(go[1], "x", 1) == 1);
	close(go[1]);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	guard = 0;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(cgroup_stats_read(h, &st, &e) == 0);
	CHECK(st.oom_killed);
	CHECK(st.oom_kill_count >= 1);
	CHECK_INT_EQ(st.mem_limit, 8388608);
	CHECK(st.mem_max_usage > 0);
	CHECK(cgroup_destroy(h, &e) == 0);
	cg_guard(&h);
}

TEST(cgroup_refuses_what_host_lacks_and_rolls_back)
{
	static const char *const cases[][2] = {
	    {"{\"network\": {\"classID\": 1048577}}", "linux.resources.network.classID"},
	    {"{\"network\": {\"priorities\": [{\"name\": \"lo\", \"priority\": 1}]}}", "net_prio"},
	    {"{\"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}}}", "linux.resources.rdma"},
	    {"{\"unified\": {\"memory.high\": \"1000000\"}}",
	     "linux.resources.unified.memory.high"},
	    {"{\"blockIO\": {\"leafWeight\": 300}}", "linux.resources.blockIO.leafWeight"},
	    {"{\"hugepageLimits\": [{\"pageSize\": \"3MB\", \"limit\": 0}]}", "3MB"},
	    {"{\"memory\": {\"swappiness\": 101}}", "linux.resources.memory.swappiness"},
	    {"{\"devices\": [{\"allow\": true, \"type\": \"x\"}]}", "linux.resources.devices[0]"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *name = unique_name("refuse");
		_cleanup_json_ json_t *res = J(cases[i][0]);
		_cleanup_cg_ cgroup_handle *h = NULL;
		berth_error *e = NULL;
		CHECK(cgroup_create(name, NULL, res, 0, &h, &e) < 0);
		CHECK(e != NULL);
		if (strstr(e->msg, cases[i][1]) == NULL)
			fprintf(stderr, "case %zu: message \"%s\" lacks \"%s\"\n", i, e->msg,
			        cases[i][1]);
		CHECK(strstr(e->msg, cases[i][1]) != NULL);
		berth_error_free(e);
		/* Nothing left behind. */
		_cleanup_free_ char *p = xasprintf("/sys/fs/cgroup/cpu/%s", name);
		CHECK(!dir_exists(p));
		_cleanup_free_ char *u = xasprintf("/sys/fs/cgroup/unified/%s", name);
		CHECK(!dir_exists(u));
	}
	berth_error *e = NULL;
	_cleanup_cg_ cgroup_handle *h = NULL;
	CHECK(cgroup_create("a/../../etc", NULL, NULL, 0, &h, &e) < 0);
	CHECK(strstr(e->msg, "..") != NULL);
	berth_error_free(e);
}

TEST(cgroup_default_path_and_relative_rules)
{
	_cleanup_free_ char *id = unique_name("id");
	_cleanup_cg_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	CHECK(cgroup_create(NULL, id, NULL, 0, &h, &e) == 0);
	_cleanup_free_ char *want = xasprintf("/berth/%s", id);
	CHECK_STR_EQ(cgroup_path(h), want);
	_cleanup_free_ char *cpu = xasprintf("/sys/fs/cgroup/cpu/berth/%s", id);
	CHECK_STR_EQ(cgroup_controller_dir(h, "cpu"), cpu);
	CHECK(dir_exists(cpu));
	CHECK(cgroup_destroy(h, &e) == 0);
	cg_guard(&h);
	CHECK(!dir_exists(cpu));

	/* Relative: below this process's own cgroup in each hierarchy. */
	_cleanup_free_ char *self = slurp("/proc/self", "cgroup");
	const char *m = strstr(self, ":memory:");
	CHECK(m != NULL);
	_cleanup_free_ char *own = xstrndup(m + 8, strcspn(m + 8, "\n"));
	_cleanup_free_ char *rel = unique_name("rel");
	CHECK(cgroup_create(rel, NULL, NULL, 0, &h, &e) == 0);
	_cleanup_free_ char *memdir =
	    xasprintf("/sys/fs/cgroup/memory%s/%s", strcmp(own, "/") == 0 ? "" : own, rel);
	CHECK_STR_EQ(cgroup_controller_dir(h, "memory"), memdir);
	CHECK(dir_exists(memdir));
	/* cgroup_path() reopens the same directories, from another cgroup too. */
	_cleanup_cg_ cgroup_handle *again = NULL;
	CHECK(cgroup_open(cgroup_path(h), NULL, &again, &e) == 0);
	CHECK_STR_EQ(cgroup_controller_dir(again, "memory"), memdir);
	CHECK_STR_EQ(cgroup_controller_dir(again, "cpu"), cgroup_controller_dir(h, "cpu"));
	CHECK_STR_EQ(cgroup_controller_dir(again, ""), cgroup_controller_dir(h, ""));
	if (strcmp(own, "/") != 0)
		CHECK(cgroup_path(h)[0] == '@');
	cgroup_handle_free(steal_ptr(again));
	CHECK(cgroup_destroy(h, &e) == 0);
	cg_guard(&h);
	CHECK(!dir_exists(memdir));
}

/* cgroup_premake's directories become the cgroup's own: kept on success,
 * removed when the creation fails; a premade cgroup is a full one (cpuset
 * filled in, the join descriptors open, a process moves itself in). */
TEST(cgroup_premake_then_create)
{
	_cleanup_free_ char *name = unique_name("pre");
	_cleanup_free_ char *path = xasprintf("/%s", name);
	_cleanup_free_ char *mem = xasprintf("/sys/fs/cgroup/memory/%s", name);
	_cleanup_free_ char *cpus = xasprintf("/sys/fs/cgroup/cpuset/%s", name);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_cg_ cgroup_handle *h = NULL;
	CHECK(cgroup_premake(path, NULL, &h, &e) == 0);
	CHECK(dir_exists(mem));
	_cleanup_json_ json_t *res = J("{\"memory\": {\"limit\": 67108864}}");
	CHECK(cgroup_create_premade(h, res, &e) == 0);
	_cleanup_free_ char *lim = slurp(mem, "memory.limit_in_bytes");
	CHECK_STR_EQ(lim, "67108864");
	_cleanup_free_ char *have = slurp(cpus, "cpuset.cpus");
	CHECK(have[0] != 0);
	int *fds = NULL;
	size_t n = 0;
	int v2 = -1;
	CHECK(cgroup_join_fds(h, &fds, &n, &v2, &e) == 0);
	CHECK(n >= 2);
	pid_t c = fork();
	if (c == 0) {
		for (size_t i = 0; i < n; i++)
			if (write(fds[i], "0", 1) != 1)
				_exit(1);
		_exit(0);
	}
	int st = 0;
	waitpid(c, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	if (v2 >= 0)
		close(v2);
	CHECK(cgroup_destroy(h, &e) == 0);
	cg_guard(&h);
	CHECK(!dir_exists(mem));

	/* a failing creation removes the premade directories too */
	CHECK(cgroup_premake(path, NULL, &h, &e) == 0);
	CHECK(dir_exists(mem));
	_cleanup_json_ json_t *bad = J("{\"memory\": {\"swappiness\": 101}}");
	CHECK(cgroup_create_premade(h, bad, &e) < 0);
	berth_error_clear(&e);
	CHECK(!dir_exists(mem));
	CHECK(!dir_exists(cpus));
	cgroup_handle_free(steal_ptr(h));
}

TEST(cgroup_v2_unified_mount_hugetlb)
{
	/* This host's cgroup2 mount holds hugetlb (or nothing): the cgroup is
	 * created there and hugepageLimits go to hugetlb.<size>.max. */
	_cleanup_free_ char *name = unique_name("huge");
	_cleanup_json_ json_t *res = J("{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": "
	                               "8388608}, {\"pageSize\": \"1GB\", \"limit\": 0}]}");
	_cleanup_cg_ cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	struct cg_layout l = {0};
	CHECK(cg_detect(&l, NULL) == 0);
	bool v2_has_hugetlb = false;
	for (size_t i = 0; i < l.n; i++)
		if (l.h[i].v2 && strv_contains(l.h[i].ctrls, "hugetlb"))
			v2_has_hugetlb = true;
	cg_layout_clear(&l);
	int rc = cgroup_create(name, NULL, res, 0, &h, &e);
	if (!v2_has_hugetlb) {
		/* hugetlb unavailable on cgroup2: must be a clear refusal. */
		CHECK(rc < 0);
		CHECK(strstr(e->msg, "hugetlb") != NULL);
		return;
	}
	if (rc < 0)
		fprintf(stderr, "cgroup_create: %s\n", e->msg);
	CHECK(rc == 0);
	const char *uni = cgroup_controller_dir(h, "");
	CHECK(uni != NULL);
	_cleanup_free_ char *m2 = slurp(uni, "hugetlb.2MB.max");
	CHECK_STR_EQ(m2, "8388608");
	_cleanup_free_ char *m1 = slurp(uni, "hugetlb.1GB.max");
	CHECK_STR_EQ(m1, "0");
	_cleanup_free_ char *dir = xstrdup(uni);
	CHECK(cgroup_destroy(h, &e) == 0);
	cg_guard(&h);
	CHECK(!dir_exists(dir));
}

/* Child: join the cgroup, then try opening the devices; exit code bits
 * say which opens failed with EPERM. */
static int run_dev_probe(const char *cgdir)
{
	pid_t pid = fork();
	if (pid == 0) {
		_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", cgdir);
		int fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(100);
		close(fd);
		int bits = 0;
		static const char *const devs[] = {"/dev/null", "/dev/zero", "/dev/full"};
		for (int i = 0; i < 3; i++) {
			int d = open(devs[i], O_RDONLY | O_CLOEXEC);
			if (d < 0 && errno == EPERM)
				bits |= 1 << i;
			else if (d < 0)
				_exit(101);
			else
				close(d);
		}
		/* write access to /dev/null */
		int d = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (d < 0 && errno == EPERM)
			bits |= 8;
		else if (d >= 0)
			close(d);
		_exit(bits);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST(cgroup_v2_device_ebpf_on_real_cgroup2)
{
	struct cg_layout l = {0};
	CHECK(cg_detect(&l, NULL) == 0);
	_cleanup_free_ char *mnt = NULL;
	for (size_t i = 0; i < l.n; i++)
		if (l.h[i].v2)
			mnt = xstrdup(l.h[i].mountpoint);
	cg_layout_clear(&l);
	CHECK(mnt != NULL);
	_cleanup_free_ char *name = unique_name("bpf");
	_cleanup_(rmdirp) char *dir = xasprintf("%s/%s", mnt, name);
	CHECK(mkdir(dir, 0755) == 0);
	_cleanup_error_ berth_error *e = NULL;
	/* null rw, zero read-only, full not at all */
	_cleanup_json_ json_t *rules =
	    J("[{\"allow\": false, \"access\": \"rwm\"},"
	      " {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rw\"},"
	      " {\"allow\": true, \"type\": \"c\", \"major\": 1, \"access\": \"r\"},"
	      " {\"allow\": false, \"type\": \"c\", \"major\": 1, \"minor\": 7}]");
	int rc = cg_bpf_devices_apply(dir, rules, &e);
	if (rc < 0)
		fprintf(stderr, "bpf: %s\n", e->msg);
	CHECK(rc == 0);
	int bits = run_dev_probe(dir);
	CHECK_INT_EQ(bits, 4); /* only /dev/full (1:7) denied */

	/* Replace: deny everything but /dev/null read. */
	_cleanup_json_ json_t *rules2 = J(
	    "[{\"allow\": false, \"access\": \"rwm\"},"
	    " {\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"r\"}]");
	CHECK(cg_bpf_devices_apply(dir, rules2, &e) == 0);
	bits = run_dev_probe(dir);
	CHECK_INT_EQ(bits, 2 | 4 | 8);

	/* Allow-all as the last rule wins over everything before. */
	_cleanup_json_ json_t *rules3 =
	    J("[{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"access\": \"rwm\"}]");
	CHECK(cg_bpf_devices_apply(dir, rules3, &e) == 0);
	CHECK_INT_EQ(run_dev_probe(dir), 0);
	CHECK(rmdir(dir) == 0);
	free(steal_ptr(dir));
}

/* ---- v2 file logic on a stand-in tree ---- */

static void touch(const char *dir, const char *file, const char *content)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, content, strlen(content)) < 0)
			perror("write");
		close(fd);
	}
}

static char *standin_v2(void)
{
	char *dir = xasprintf("%s/fake-v2-cgroup", test_tmpdir());
	mkdir(dir, 0755);
	touch(dir, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
	static const char *const files[] = {
	    "cgroup.procs", "memory.max",  "memory.swap.max", "memory.low",
	    "memory.high",  "cpu.weight",  "cpu.idle",        "cpu.max.burst",
	    "cpuset.cpus",  "cpuset.mems", "pids.max",        "io.weight",
	    "io.max",       "rdma.max",    "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		touch(dir, files[i], "");
	touch(dir, "cpu.max", "max 100000\n");
	return dir;
}

TEST(cgroup_v2_file_logic_on_standin_tree)
{
	_cleanup_free_ char *dir = standin_v2();
	cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	CHECK(cg_handle_v2_dir(dir, &h, &e) == 0);
	CHECK(cgroup_is_v2(h));
	_cleanup_json_ json_t *res =
	    J("{\"memory\": {\"limit\": 67108864, \"swap\": 134217728, \"reservation\": 1048576},"
	      " \"cpu\": {\"shares\": 1024, \"quota\": 50000, \"cpus\": \"0-1\", \"mems\": \"0\","
	      " \"idle\": 1, \"burst\": 1000},"
	      " \"pids\": {\"limit\": -1},"
	      " \"blockIO\": {\"weight\": 500, \"throttleWriteBpsDevice\": [{\"major\": 8, "
	      "\"minor\": 0, \"rate\": 4096}]},"
	      " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
	      " \"rdma\": {\"mlx4_0\": {\"hcaHandles\": 2, \"hcaObjects\": 300}},"
	      " \"unified\": {\"memory.high\": \"50000000\"}}");
	int rc = cg_apply(h, res, &e);
	if (rc < 0)
		fprintf(stderr, "apply: %s\n", e->msg);
	CHECK(rc == 0);
	static const char *const want[][2] = {
	    {"memory.max", "67108864"},
	    {"memory.swap.max", "67108864"},
	    {"memory.low", "1048576"},
	    {"cpu.weight", "39"},
	    {"cpu.max", "50000 100000"},
	    {"cpu.idle", "1"},
	    {"cpu.max.burst", "1000"},
	    {"cpuset.cpus", "0-1"},
	    {"cpuset.mems", "0"},
	    {"pids.max", "max"},
	    {"io.weight", "default 4950"},
	    {"io.max", "8:0 wbps=4096"},
	    {"hugetlb.2MB.max", "4194304"},
	    {"hugetlb.2MB.rsvd.max", "4194304"},
	    {"rdma.max", "mlx4_0 hca_handle=2 hca_object=300"},
	    {"memory.high", "50000000"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		_cleanup_free_ char *got = slurp(dir, want[i][0]);
		if (!str_eq(got, want[i][1]))
			fprintf(stderr, "%s: \"%s\" != \"%s\"\n", want[i][0], got, want[i][1]);
		CHECK(str_eq(got, want[i][1]));
	}
	/* limit -1 alone: memory.max and swap both "max"; period alone keeps quota max. */
	_cleanup_json_ json_t *r2 =
	    J("{\"memory\": {\"limit\": -1}, \"cpu\": {\"period\": 250000}}");
	CHECK(cg_apply(h, r2, &e) == 0);
	_cleanup_free_ char *mm = slurp(dir, "memory.max");
	CHECK_STR_EQ(mm, "max");
	_cleanup_free_ char *sm = slurp(dir, "memory.swap.max");
	CHECK_STR_EQ(sm, "max");
	_cleanup_free_ char *cm = slurp(dir, "cpu.max");
	CHECK_STR_EQ(cm, "max 250000");

	/* What v2 has no knob for is refused by name. */
	static const char *const refused[][2] = {
	    {"{\"memory\": {\"swappiness\": 30}}", "linux.resources.memory.swappiness"},
	    {"{\"memory\": {\"kernel\": 1048576}}", "linux.resources.memory.kernel"},
	    {"{\"memory\": {\"kernelTCP\": 1048576}}", "linux.resources.memory.kernelTCP"},
	    {"{\"memory\": {\"disableOOMKiller\": true}}", "disableOOMKiller"},
	    {"{\"memory\": {\"limit\": 100, \"swap\": 50}}", "linux.resources.memory.swap"},
	    {"{\"cpu\": {\"realtimeRuntime\": 1000}}", "linux.resources.cpu.realtimeRuntime"},
	    {"{\"blockIO\": {\"leafWeight\": 100}}", "linux.resources.blockIO.leafWeight"},
	    {"{\"network\": {\"classID\": 1}}", "net_cls"},
	    {"{\"hugepageLimits\": [{\"pageSize\": \"1GB\", \"limit\": 1}]}", "1GB"},
	    {"{\"unified\": {\"../x\": \"1\"}}", "linux.resources.unified"},
	    {"{\"unified\": {\"misc.max\": \"1\"}}", "misc"},
	    {"{\"pids\": {\"limit\": \"x\"}}", "linux.resources.pids.limit"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		_cleanup_json_ json_t *r = J(refused[i][0]);
		berth_error *e2 = NULL;
		CHECK(cg_apply(h, r, &e2) < 0);
		if (strstr(e2->msg, refused[i][1]) == NULL)
			fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, e2->msg,
			        refused[i][1]);
		CHECK(strstr(e2->msg, refused[i][1]) != NULL);
		berth_error_free(e2);
	}
	/* A file the "host" lacks: remove memory.swap.max, ask for swap. */
	_cleanup_free_ char *sw = xasprintf("%s/memory.swap.max", dir);
	CHECK(unlink(sw) == 0);
	_cleanup_json_ json_t *r3 = J("{\"memory\": {\"limit\": 100, \"swap\": 200}}");
	berth_error *e3 = NULL;
	CHECK(cg_apply(h, r3, &e3) < 0);
	CHECK(strstr(e3->msg, "linux.resources.memory.swap") && strstr(e3->msg, "memory.swap.max"));
	berth_error_free(e3);
	cgroup_handle_free(h);
}

TEST(cgroup_v2_freeze_kill_pids_on_real_cgroup2)
{
	/* The cgroup2 mount here has cgroup.freeze, cgroup.kill and cpu.stat
	 * even without v2 controllers: drive a handle as on a v2 host. */
	struct cg_layout l = {0};
	CHECK(cg_detect(&l, NULL) == 0);
	_cleanup_free_ char *mnt = NULL;
	for (size_t i = 0; i < l.n; i++)
		if (l.h[i].v2)
			mnt = xstrdup(l.h[i].mountpoint);
	cg_layout_clear(&l);
	CHECK(mnt != NULL);
	_cleanup_free_ char *name = unique_name("v2frz");
	_cleanup_(rmdirp) char *dir = xasprintf("%s/%s", mnt, name);
	CHECK(mkdir(dir, 0755) == 0);
	cgroup_handle *h = NULL;
	_cleanup_error_ berth_error *e = NULL;
	CHECK(cg_handle_v2_dir(dir, &h, &e) == 0);
	struct counter_child c = spawn_counter();
	_cleanup_child_ pid_t guard = c.pid;
	CHECK(cgroup_enter(h, c.pid, &e) == 0);
	pid_t *pids = NULL;
	size_t n = 0;
	CHECK(cgroup_pids(h, &pids, &n, &e) == 0);
	CHECK(n == 1 && pids[0] == c.pid);
	free(pids);
	CHECK(cgroup_freeze(h, true, &e) == 0);
	bool frozen = false;
	CHECK(cgroup_get_state(h, &frozen, &e) == 0 && frozen);
	unsigned long before = *c.count;
	usleep(50000);
	CHECK_INT_EQ(*c.count, before);
	CHECK(cgroup_freeze(h, false, &e) == 0);
	CHECK(cgroup_get_state(h, &frozen, &e) == 0 && !frozen);
	usleep(30000);
	CHECK(*c.count > before);
	cgroup_stats st;
	CHECK(cgroup_stats_read(h, &st, &e) == 0);
	CHECK(st.cpu_usage_ns > 0);
	/* SIGTERM: freeze, signal, thaw through cgroup.freeze */
	CHECK(cgroup_kill_all(h, SIGTERM, &e) == 0);
	int status = 0;
	CHECK(waitpid(c.pid, &status, 0) == c.pid);
	guard = 0;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	/* SIGKILL: cgroup.kill */
	struct counter_child c2 = spawn_counter();
	_cleanup_child_ pid_t guard2 = c2.pid;
	CHECK(cgroup_enter(h, c2.pid, &e) == 0);
	CHECK(cgroup_kill_all(h, SIGKILL, &e) == 0);
	CHECK(waitpid(c2.pid, &status, 0) == c2.pid);
	guard2 = 0;
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(cgroup_destroy(h, &e) == 0);
	cgroup_handle_free(h);
	struct stat sb;
	CHECK(stat(dir, &sb) < 0 && errno == ENOENT);
}
