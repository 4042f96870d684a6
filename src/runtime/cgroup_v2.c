/* cgroup v2 resource files, with runc's conversions from the v1-shaped
 * OCI fields. Fields v2 has no knob for are refused, not dropped. */
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

static int refuse(const char *field, berth_error **err)
{
	return berth_err(err, BERTH_E_UNSUPPORTED, "%s: not supported on cgroup v2", field);
}

static int wr_limit(int dfd, const char *file, int64_t v, const char *field, berth_error **err)
{
	if (v < 0)
		return cg_write(dfd, file, "max", field, err);
	return cg_writef(dfd, file, field, err, "%lld", (long long)v);
}

int cg_v2_memory(int dfd, json_t *mem, berth_error **err)
{
	static const char *const ints[] = {"kernel",      "kernelTCP", "limit",
	                                   "reservation", "swap",      "swappiness"};
	for (size_t i = 0; i < ARRAY_SIZE(ints); i++)
		if (cg_jcheck_int(mem, ints[i], F_MEM, err) < 0)
			return -1;
	int64_t limit = 0, swap = 0, v;
	cg_jint(mem, "limit", &limit);
	cg_jint(mem, "swap", &swap);
	if (json_is_true(json_object_get(mem, "checkBeforeUpdate")) && limit > 0) {
		uint64_t usage = cg_read_u64(dfd, "memory.current");
		if ((uint64_t)limit < usage)
			return berth_err(err, BERTH_E_INVALID,
			                 F_MEM ".limit: %lld is below the current usage %llu",
			                 (long long)limit, (unsigned long long)usage);
	}
	/* v1's memory+swap becomes v2's swap-only limit (runc's rules). */
	int64_t swap2 = 0;
	bool implicit = false;
	if (limit == -1 && swap == 0) {
		swap2 = -1;
		implicit = true;
	} else if (swap == -1 || swap == 0) {
		swap2 = swap;
	} else {
		if (limit == 0 || limit == -1)
			return berth_err(err, BERTH_E_INVALID,
			                 F_MEM ".swap: a swap limit needs a memory limit");
		if (swap < limit)
			return berth_err(err, BERTH_E_INVALID,
			                 F_MEM
			                 ".swap: memory+swap (%lld) is below the memory limit "
			                 "(%lld)",
			                 (long long)swap, (long long)limit);
		swap2 = swap - limit;
	}
	if (swap2 != 0 && !(implicit && !cg_exists(dfd, "memory.swap.max")) &&
	    wr_limit(dfd, "memory.swap.max", swap2, F_MEM ".swap", err) < 0)
		return -1;
	if (limit != 0 && wr_limit(dfd, "memory.max", limit, F_MEM ".limit", err) < 0)
		return -1;
	if (cg_jint(mem, "reservation", &v) && v != 0 &&
	    wr_limit(dfd, "memory.low", v, F_MEM ".reservation", err) < 0)
		return -1;
	if (cg_jint(mem, "kernel", &v) && v != 0)
		return refuse(F_MEM ".kernel", err);
	if (cg_jint(mem, "kernelTCP", &v) && v != 0)
		return refuse(F_MEM ".kernelTCP", err);
	if (cg_jint(mem, "swappiness", &v) && v != -1)
		return refuse(F_MEM ".swappiness", err);
	if (json_is_true(json_object_get(mem, "disableOOMKiller")))
		return refuse(F_MEM ".disableOOMKiller", err);
	if (json_is_false(json_object_get(mem, "useHierarchy")))
		return refuse(F_MEM ".useHierarchy=false", err);
	return 0;
}

int cg_v2_cpu(int dfd, json_t *cpu, berth_error **err)
{
	static const char *const ints[] = {
	    "burst", "idle", "period", "quota", "realtimePeriod", "realtimeRuntime", "shares"};
	for (size_t i = 0; i < ARRAY_SIZE(ints); i++)
		if (cg_jcheck_int(cpu, ints[i], F_CPU, err) < 0)
			return -1;
	int64_t v, quota = 0, period = 0;
	if (cg_jint(cpu, "shares", &v) && v != 0 &&
	    cg_writef(dfd, "cpu.weight", F_CPU ".shares", err, "%llu",
	              (unsigned long long)cg_shares_to_weight((uint64_t)v)) < 0)
		return -1;
	cg_jint(cpu, "quota", &quota);
	cg_jint(cpu, "period", &period);
	if (quota != 0 || period != 0) {
		if (period == 0) {
			/* Keep the current period: "max 100000". */
			_cleanup_free_ char *cur = NULL;
			if (cg_read(dfd, "cpu.max", &cur, err) < 0)
				return berth_err_prefix(err, F_CPU ".quota");
			const char *sp = strchr(cur, ' ');
			period = sp ? strtoll(sp + 1, NULL, 10) : 100000;
		}
		int rc = quota > 0 ? cg_writef(dfd, "cpu.max", F_CPU ".quota", err, "%lld %lld",
		                               (long long)quota, (long long)period)
		                   : cg_writef(dfd, "cpu.max", F_CPU ".period", err, "max %lld",
		                               (long long)period);
		if (rc < 0)
			return -1;
	}
	if (cg_jint(cpu, "burst", &v) &&
	    cg_writef(dfd, "cpu.max.burst", F_CPU ".burst", err, "%lld", (long long)v) < 0)
		return -1;
	if (cg_jint(cpu, "realtimePeriod", &v) && v != 0)
		return refuse(F_CPU ".realtimePeriod", err);
	if (cg_jint(cpu, "realtimeRuntime", &v) && v != 0)
		return refuse(F_CPU ".realtimeRuntime", err);
	if (cg_jint(cpu, "idle", &v) &&
	    cg_writef(dfd, "cpu.idle", F_CPU ".idle", err, "%lld", (long long)v) < 0)
		return -1;
	return 0;
}

int cg_v2_cpuset(int dfd, json_t *cpu, berth_error **err)
{
	static const char *const keys[][2] = {{"cpus", "cpuset.cpus"}, {"mems", "cpuset.mems"}};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *x = json_object_get(cpu, keys[i][0]);
		_cleanup_free_ char *field = xasprintf(F_CPU ".%s", keys[i][0]);
		if (x == NULL || json_is_null(x))
			continue;
		if (!json_is_string(x))
			return berth_err(err, BERTH_E_INVALID, "%s: expected a string", field);
		if (json_string_length(x) &&
		    cg_write(dfd, keys[i][1], json_string_value(x), field, err) < 0)
			return -1;
	}
	return 0;
}

int cg_v2_pids(int dfd, json_t *pids, berth_error **err)
{
	if (cg_jcheck_int(pids, "limit", "linux.resources.pids", err) < 0)
		return -1;
	int64_t v;
	if (!cg_jint(pids, "limit", &v) || v == 0)
		return 0;
	return wr_limit(dfd, "pids.max", v, "linux.resources.pids.limit", err);
}

static int io_devs(int dfd, json_t *blk, const char *key, const char *what, berth_error **err)
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
		int64_t maj, min, rate;
		if (!cg_jint(e, "major", &maj) || !cg_jint(e, "minor", &min) || maj < 0 ||
		    min < 0 || !cg_jint(e, "rate", &rate))
			return berth_err(err, BERTH_E_INVALID,
			                 "%s[%zu]: major, minor and rate are required", field, i);
		if (cg_writef(dfd, "io.max", field, err, "%lld:%lld %s=%lld", (long long)maj,
		              (long long)min, what, (long long)rate) < 0)
			return -1;
	}
	return 0;
}

int cg_v2_io(int dfd, json_t *blk, berth_error **err)
{
	if (cg_jcheck_int(blk, "weight", F_BLK, err) < 0 ||
	    cg_jcheck_int(blk, "leafWeight", F_BLK, err) < 0)
		return -1;
	/* BFQ takes the v1 range as is; io.weight needs runc's conversion. */
	bool bfq = cg_exists(dfd, "io.bfq.weight");
	int64_t v;
	if (cg_jint(blk, "weight", &v) && v != 0) {
		int rc = bfq ? cg_writef(dfd, "io.bfq.weight", F_BLK ".weight", err, "%lld",
		                         (long long)v)
		             : cg_writef(dfd, "io.weight", F_BLK ".weight", err, "default %llu",
		                         (unsigned long long)cg_blkio_to_io_weight((uint64_t)v));
		if (rc < 0)
			return -1;
	}
	if (cg_jint(blk, "leafWeight", &v) && v != 0)
		return refuse(F_BLK ".leafWeight", err);
	json_t *wd = json_object_get(blk, "weightDevice");
	if (wd && !json_is_null(wd)) {
		if (!json_is_array(wd))
			return berth_err(err, BERTH_E_INVALID,
			                 F_BLK ".weightDevice: expected an array");
		size_t i;
		json_t *e;
		json_array_foreach (wd, i, e) {
			int64_t maj, min, w;
			if (!cg_jint(e, "major", &maj) || !cg_jint(e, "minor", &min) || maj < 0 ||
			    min < 0)
				return berth_err(err, BERTH_E_INVALID,
				                 F_BLK ".weightDevice[%zu]: major and minor are "
				                       "required",
				                 i);
			if (cg_jint(e, "leafWeight", &w) && w != 0)
				return refuse(F_BLK ".weightDevice.leafWeight", err);
			if (!cg_jint(e, "weight", &w) || w == 0)
				continue;
			int rc =
			    bfq ? cg_writef(dfd, "io.bfq.weight", F_BLK ".weightDevice", err,
			                    "%lld:%lld %lld", (long long)maj, (long long)min,
			                    (long long)w)
			        : cg_writef(dfd, "io.weight", F_BLK ".weightDevice", err,
			                    "%lld:%lld %llu", (long long)maj, (long long)min,
			                    (unsigned long long)cg_blkio_to_io_weight((uint64_t)w));
			if (rc < 0)
				return -1;
		}
	}
	if (io_devs(dfd, blk, "throttleReadBpsDevice", "rbps", err) < 0 ||
	    io_devs(dfd, blk, "throttleWriteBpsDevice", "wbps", err) < 0 ||
	    io_devs(dfd, blk, "throttleReadIOPSDevice", "riops", err) < 0 ||
	    io_devs(dfd, blk, "throttleWriteIOPSDevice", "wiops", err) < 0)
		return -1;
	return 0;
}

int cg_v2_unified(int dfd, json_t *obj, berth_error **err)
{
	if (!json_is_object(obj))
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.resources.unified: expected an object");
	const char *key;
	json_t *v;
	json_object_foreach (obj, key, v) {
		_cleanup_free_ char *field = xasprintf("linux.resources.unified.%s", key);
		if (!*key || strchr(key, '/') || key[0] == '.' || !strchr(key, '.'))
			return berth_err(err, BERTH_E_INVALID, "%s: not a cgroup file name", field);
		if (!json_is_string(v))
			return berth_err(err, BERTH_E_INVALID, "%s: expected a string", field);
		if (!cg_exists(dfd, key)) {
			_cleanup_free_ char *ctrl = xstrndup(key, strcspn(key, "."));
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "%s: no such file (is the %s controller enabled here?)",
			                 field, ctrl);
		}
		if (cg_write(dfd, key, json_string_value(v), field, err) < 0)
			return -1;
	}
	return 0;
}
