/* cgroup v1 resource files. Each writer takes the controller's cgroup
 * directory fd and the linux.resources sub-object; values of 0 mean
 * "unset" where runc treats them so. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/cgroup_internal.h"

#define F_MEM "linux.resources.memory"
#define F_CPU "linux.resources.cpu"
#define F_BLK "linux.resources.blockIO"

static int check_ints(json_t *o, const char *field, const char *const *keys, size_t n,
                      berth_error **err)
{
	for (size_t i = 0; i < n; i++)
		if (cg_jcheck_int(o, keys[i], field, err) < 0)
			return -1;
	return 0;
}

static int wr_i64(int dfd, const char *file, int64_t v, const char *field, berth_error **err)
{
	return cg_writef(dfd, file, field, err, "%lld", (long long)v);
}

int cg_v1_memory(int dfd, json_t *mem, berth_error **err)
{
	static const char *const ints[] = {"kernel",      "kernelTCP", "limit",
	                                   "reservation", "swap",      "swappiness"};
	if (check_ints(mem, F_MEM, ints, ARRAY_SIZE(ints), err) < 0)
		return -1;
	int64_t limit = 0, swap = 0, v;
	cg_jint(mem, "limit", &limit);
	cg_jint(mem, "swap", &swap);
	const char *memsw = "memory.memsw.limit_in_bytes";
	if (json_is_true(json_object_get(mem, "checkBeforeUpdate")) && limit > 0) {
		uint64_t usage = cg_read_u64(dfd, "memory.usage_in_bytes");
		if ((uint64_t)limit < usage)
			return berth_err(err, BERTH_E_INVALID,
			                 F_MEM ".limit: %lld is below the current usage %llu",
			                 (long long)limit, (unsigned long long)usage);
	}
	/* Unlimited memory with swap unset means unlimited swap too. */
	if (limit == -1 && swap == 0 && cg_exists(dfd, memsw))
		swap = -1;
	bool swap_first = false;
	if (limit != 0 && swap != 0) {
		/* Order the writes so that memsw >= limit holds at every step. */
		uint64_t cur = cg_read_u64(dfd, "memory.limit_in_bytes");
		swap_first = swap == -1 || cur < (uint64_t)swap;
	}
	if (swap_first && wr_i64(dfd, memsw, swap, F_MEM ".swap", err) < 0)
		return -1;
	if (limit != 0 && wr_i64(dfd, "memory.limit_in_bytes", limit, F_MEM ".limit", err) < 0)
		return -1;
	if (!swap_first && swap != 0 && wr_i64(dfd, memsw, swap, F_MEM ".swap", err) < 0)
		return -1;
	if (cg_jint(mem, "reservation", &v) && v != 0 &&
	    wr_i64(dfd, "memory.soft_limit_in_bytes", v, F_MEM ".reservation", err) < 0)
		return -1;
	if (cg_jint(mem, "kernel", &v) && v != 0 &&
	    wr_i64(dfd, "memory.kmem.limit_in_bytes", v, F_MEM ".kernel", err) < 0)
		return -1;
	if (cg_jint(mem, "kernelTCP", &v) && v != 0 &&
	    wr_i64(dfd, "memory.kmem.tcp.limit_in_bytes", v, F_MEM ".kernelTCP", err) < 0)
		return -1;
	if (cg_jint(mem, "swappiness", &v) && v != -1) {
		if (v < 0 || v > 100)
			return berth_err(err, BERTH_E_INVALID,
			                 F_MEM ".swappiness: %lld is not in [0, 100]",
			                 (long long)v);
		if (wr_i64(dfd, "memory.swappiness", v, F_MEM ".swappiness", err) < 0)
			return -1;
	}
	if (json_is_true(json_object_get(mem, "disableOOMKiller")) &&
	    cg_write(dfd, "memory.oom_control", "1", F_MEM ".disableOOMKiller", err) < 0)
		return -1;
	json_t *uh = json_object_get(mem, "useHierarchy");
	if (json_is_boolean(uh) &&
	    cg_write(dfd, "memory.use_hierarchy", json_is_true(uh) ? "1" : "0",
	             F_MEM ".useHierarchy", err) < 0)
		return -1;
	return 0;
}

int cg_v1_cpu(int dfd, json_t *cpu, berth_error **err)
{
	static const char *const ints[] = {
	    "burst", "idle", "period", "quota", "realtimePeriod", "realtimeRuntime", "shares"};
	if (check_ints(cpu, F_CPU, ints, ARRAY_SIZE(ints), err) < 0)
		return -1;
	int64_t v;
	if (cg_jint(cpu, "shares", &v) && v != 0 &&
	    wr_i64(dfd, "cpu.shares", v, F_CPU ".shares", err) < 0)
		return -1;
	if (cg_jint(cpu, "period", &v) && v != 0 &&
	    wr_i64(dfd, "cpu.cfs_period_us", v, F_CPU ".period", err) < 0)
		return -1;
	if (cg_jint(cpu, "quota", &v) && v != 0 &&
	    wr_i64(dfd, "cpu.cfs_quota_us", v, F_CPU ".quota", err) < 0)
		return -1;
	if (cg_jint(cpu, "burst", &v) &&
	    wr_i64(dfd, "cpu.cfs_burst_us", v, F_CPU ".burst", err) < 0)
		return -1;
	if (cg_jint(cpu, "realtimePeriod", &v) && v != 0 &&
	    wr_i64(dfd, "cpu.rt_period_us", v, F_CPU ".realtimePeriod", err) < 0)
		return -1;
	if (cg_jint(cpu, "realtimeRuntime", &v) && v != 0 &&
	    wr_i64(dfd, "cpu.rt_runtime_us", v, F_CPU ".realtimeRuntime", err) < 0)
		return -1;
	if (cg_jint(cpu, "idle", &v) && wr_i64(dfd, "cpu.idle", v, F_CPU ".idle", err) < 0)
		return -1;
	return 0;
}

static int write_str_field(int dfd, json_t *o, const char *key, const char *file, const char *field,
                           berth_error **err)
{
	json_t *x = json_object_get(o, key);
	if (x == NULL || json_is_null(x))
		return 0;
	if (!json_is_string(x))
		return berth_err(err, BERTH_E_INVALID, "%s: expected a string", field);
	if (json_string_length(x) == 0)
		return 0;
	return cg_write(dfd, file, json_string_value(x), field, err);
}

int cg_v1_cpuset(int dfd, json_t *cpu, berth_error **err)
{
	/* mems before cpus does not matter on v1; both must be non-empty. */
	if (write_str_field(dfd, cpu, "cpus", "cpuset.cpus", F_CPU ".cpus", err) < 0 ||
	    write_str_field(dfd, cpu, "mems", "cpuset.mems", F_CPU ".mems", err) < 0)
		return -1;
	return 0;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t')
			return false;
	return true;
}

int cg_v1_cpuset_init(int dfd, int parentfd, berth_error **err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *mine = NULL, *parent = NULL;
		if (cg_read(dfd, files[i], &mine, err) < 0)
			return -1;
		if (!blank(mine))
			continue;
		if (cg_read(parentfd, files[i], &parent, err) < 0)
			return -1;
		char *nl = strchr(parent, '\n');
		if (nl)
			*nl = '\0';
		if (blank(parent))
			continue;
		if (cg_write(dfd, files[i], parent, files[i], err) < 0)
			return -1;
	}
	return 0;
}

int cg_v1_pids(int dfd, json_t *pids, berth_error **err)
{
	if (cg_jcheck_int(pids, "limit", "linux.resources.pids", err) < 0)
		return -1;
	int64_t v;
	if (!cg_jint(pids, "limit", &v) || v == 0)
		return 0;
	if (v < 0)
		return cg_write(dfd, "pids.max", "max", "linux.resources.pids.limit", err);
	return wr_i64(dfd, "pids.max", v, "linux.resources.pids.limit", err);
}

/* Entries {major, minor, <key>} written one per line as "maj:min value". */
static int write_dev_list(int dfd, json_t *blk, const char *key, const char *vkey, const char *file,
                          berth_error **err)
{
	json_t *arr = json_object_get(blk, key);
	if (arr == NULL || json_is_null(arr))
		return 0;
	_cleanup_free_ char *field = xasprintf(F_BLK ".%s", key);
	if (!json_is_array(arr))
		return berth_err(err, BERTH_E_INVALID, "%s: expected an array", field);
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e) {
		int64_t maj, min, val;
		if (!cg_jint(e, "major", &maj) || !cg_jint(e, "minor", &min) || maj < 0 || min < 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "%s[%zu]: major and minor are required", field, i);
		if (!cg_jint(e, vkey, &val))
			continue;
		if (cg_writef(dfd, file, field, err, "%lld:%lld %lld", (long long)maj,
		              (long long)min, (long long)val) < 0)
			return -1;
	}
	return 0;
}

int cg_v1_blkio(int dfd, json_t *blk, berth_error **err)
{
	if (cg_jcheck_int(blk, "weight", F_BLK, err) < 0 ||
	    cg_jcheck_int(blk, "leafWeight", F_BLK, err) < 0)
		return -1;
	/* CFQ's blkio.weight where present, else BFQ's blkio.bfq.weight. */
	bool cfq = cg_exists(dfd, "blkio.weight");
	int64_t v;
	if (cg_jint(blk, "weight", &v) && v != 0 &&
	    wr_i64(dfd, cfq ? "blkio.weight" : "blkio.bfq.weight", v, F_BLK ".weight", err) < 0)
		return -1;
	if (cg_jint(blk, "leafWeight", &v) && v != 0 &&
	    wr_i64(dfd, "blkio.leaf_weight", v, F_BLK ".leafWeight", err) < 0)
		return -1;
	if (write_dev_list(dfd, blk, "weightDevice", "weight",
	                   cfq ? "blkio.weight_device" : "blkio.bfq.weight_device", err) < 0 ||
	    write_dev_list(dfd, blk, "weightDevice", "leafWeight", "blkio.leaf_weight_device",
	                   err) < 0 ||
	    write_dev_list(dfd, blk, "throttleReadBpsDevice", "rate",
	                   "blkio.throttle.read_bps_device", err) < 0 ||
	    write_dev_list(dfd, blk, "throttleWriteBpsDevice", "rate",
	                   "blkio.throttle.write_bps_device", err) < 0 ||
	    write_dev_list(dfd, blk, "throttleReadIOPSDevice", "rate",
	                   "blkio.throttle.read_iops_device", err) < 0 ||
	    write_dev_list(dfd, blk, "throttleWriteIOPSDevice", "rate",
	                   "blkio.throttle.write_iops_device", err) < 0)
		return -1;
	return 0;
}

/* pageSize as the spec has it: [1-9][0-9]*[KMG]B */
static bool valid_page_size(const char *s)
{
	if (s == NULL || *s < '1' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9')
		s++;
	return (s[0] == 'K' || s[0] == 'M' || s[0] == 'G') && s[1] == 'B' && s[2] == '\0';
}

static int hugetlb_each(int dfd, json_t *arr, bool v2, berth_error **err)
{
	const char *field = "linux.resources.hugepageLimits";
	if (!json_is_array(arr))
		return berth_err(err, BERTH_E_INVALID, "%s: expected an array", field);
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e) {
		const char *ps = json_get_str(e, "pageSize");
		int64_t limit;
		if (!valid_page_size(ps) || !cg_jint(e, "limit", &limit))
			return berth_err(err, BERTH_E_INVALID,
			                 "%s[%zu]: needs pageSize like \"2MB\" and limit", field,
			                 i);
		_cleanup_free_ char *f =
		    xasprintf(v2 ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes", ps);
		_cleanup_free_ char *fld = xasprintf("%s[%zu] (%s)", field, i, ps);
		if (!cg_exists(dfd, f))
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "%s: this host has no %s huge pages (no %s)", fld, ps, f);
		if (wr_i64(dfd, f, limit, fld, err) < 0)
			return -1;
		/* Reservations count too where the kernel accounts them. */
		_cleanup_free_ char *r =
		    xasprintf(v2 ? "hugetlb.%s.rsvd.max" : "hugetlb.%s.rsvd.limit_in_bytes", ps);
		if (cg_exists(dfd, r) && wr_i64(dfd, r, limit, fld, err) < 0)
			return -1;
	}
	return 0;
}

int cg_v1_hugetlb(int dfd, json_t *arr, berth_error **err)
{
	return hugetlb_each(dfd, arr, false, err);
}

int cg_v2_hugetlb(int dfd, json_t *arr, berth_error **err)
{
	return hugetlb_each(dfd, arr, true, err);
}

int cg_v1_net_cls(int dfd, json_t *net, berth_error **err)
{
	int64_t v;
	if (!cg_jint(net, "classID", &v) || v < 0 || v > 0xffffffffLL)
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.resources.network.classID: expected a 32-bit integer");
	return wr_i64(dfd, "net_cls.classid", v, "linux.resources.network.classID", err);
}

int cg_v1_net_prio(int dfd, json_t *net, berth_error **err)
{
	const char *field = "linux.resources.network.priorities";
	json_t *arr = json_object_get(net, "priorities");
	if (!json_is_array(arr))
		return berth_err(err, BERTH_E_INVALID, "%s: expected an array", field);
	size_t i;
	json_t *e;
	json_array_foreach (arr, i, e) {
		const char *name = json_get_str(e, "name");
		int64_t prio;
		if (name == NULL || !*name || strpbrk(name, " \n/") ||
		    !cg_jint(e, "priority", &prio))
			return berth_err(err, BERTH_E_INVALID, "%s[%zu]: needs name and priority",
			                 field, i);
		if (cg_writef(dfd, "net_prio.ifpriomap", field, err, "%s %lld", name,
		              (long long)prio) < 0)
			return -1;
	}
	return 0;
}

/* One OCI device rule as the v1 devices controller writes it. */
static int dev_rule_parse(json_t *e, size_t i, bool *allow, char *type, int64_t *maj, int64_t *min,
                          const char **access, berth_error **err)
{
	json_t *a = json_object_get(e, "allow");
	if (!json_is_boolean(a))
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.resources.devices[%zu]: \"allow\" is required", i);
	*allow = json_is_true(a);
	const char *t = json_get_str(e, "type");
	if (t == NULL || !*t)
		t = "a";
	if (strlen(t) != 1 || !strchr("abc", t[0]))
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.resources.devices[%zu]: bad type \"%s\"", i, t);
	*type = t[0];
	if (!cg_jint(e, "major", maj))
		*maj = -1;
	if (!cg_jint(e, "minor", min))
		*min = -1;
	const char *acc = json_get_str(e, "access");
	if (acc == NULL || !*acc)
		acc = "rwm";
	if (strspn(acc, "rwm") != strlen(acc) || strlen(acc) > 3)
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.resources.devices[%zu]: bad access \"%s\"", i, acc);
	*access = acc;
	return 0;
}

int cg_v1_devices(int dfd, json_t *arr, berth_error **err)
{
	size_t i;
	json_t *e;
	/* one open of each file for all the rules (a dozen by default) */
	_cleanup_close_ int allow_fd = -1, deny_fd = -1;
	json_array_foreach (arr, i, e) {
		bool allow = false;
		char type = 'a';
		int64_t maj = -1, min = -1;
		const char *acc = NULL;
		if (dev_rule_parse(e, i, &allow, &type, &maj, &min, &acc, err) < 0)
			return -1;
		const char *file = allow ? "devices.allow" : "devices.deny";
		int *fdp = allow ? &allow_fd : &deny_fd;
		_cleanup_free_ char *field = xasprintf("linux.resources.devices[%zu]", i);
		bool all_acc = strchr(acc, 'r') && strchr(acc, 'w') && strchr(acc, 'm');
		if (type == 'a' && maj < 0 && min < 0 && all_acc) {
			if (cg_write_keep(dfd, file, fdp, "a", field, err) < 0)
				return -1;
			continue;
		}
		/* The kernel reads any "a" rule as all devices: split it. */
		const char *types = type == 'a' ? "bc" : (type == 'b' ? "b" : "c");
		for (const char *t = types; *t; t++) {
			char majs[24], mins[24];
			if (maj < 0)
				snprintf(majs, sizeof(majs), "*");
			else
				snprintf(majs, sizeof(majs), "%lld", (long long)maj);
			if (min < 0)
				snprintf(mins, sizeof(mins), "*");
			else
				snprintf(mins, sizeof(mins), "%lld", (long long)min);
			char rule[80];
			snprintf(rule, sizeof(rule), "%c %s:%s %s", *t, majs, mins, acc);
			if (cg_write_keep(dfd, file, fdp, rule, field, err) < 0)
				return -1;
		}
	}
	return 0;
}
