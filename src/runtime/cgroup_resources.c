/* linux.resources: route each group to the hierarchy that holds its
 * controller (v1 first on hybrid hosts) and refuse what the host lacks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/cgroup_internal.h"

uint64_t cg_shares_to_weight(uint64_t shares)
{
	/* runc: [2, 262144] -> [1, 10000] */
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cg_blkio_to_io_weight(uint64_t w)
{
	/* runc: [10, 1000] -> [1, 10000] */
	if (w == 0)
		return 0;
	if (w < 10)
		w = 10;
	return 1 + (w - 10) * 9999 / 990;
}

int cg_rdma(int dfd, json_t *rdma, berth_error **err)
{
	if (!json_is_object(rdma))
		return berth_err(err, BERTH_E_INVALID, "linux.resources.rdma: expected an object");
	const char *dev;
	json_t *v;
	json_object_foreach (rdma, dev, v) {
		if (!*dev || strpbrk(dev, " \n/"))
			return berth_err(err, BERTH_E_INVALID,
			                 "linux.resources.rdma: bad device name \"%s\"", dev);
		_cleanup_sb_ strbuf sb = {0};
		sb_append(&sb, dev);
		int64_t x;
		if (cg_jint(v, "hcaHandles", &x))
			sb_printf(&sb, " hca_handle=%lld", (long long)x);
		if (cg_jint(v, "hcaObjects", &x))
			sb_printf(&sb, " hca_object=%lld", (long long)x);
		if (strchr(sb.buf, '=') == NULL)
			continue;
		if (cg_write(dfd, "rdma.max", sb.buf, "linux.resources.rdma", err) < 0)
			return -1;
	}
	return 0;
}

static int missing(const char *field, const char *ctrl, berth_error **err)
{
	return berth_err(err, BERTH_E_UNSUPPORTED,
	                 "%s: the %s cgroup controller is not available on this host", field, ctrl);
}

static bool nonempty(json_t *v)
{
	if (v == NULL || json_is_null(v))
		return false;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return true;
}

static int do_memory(cgroup_handle *h, json_t *v, berth_error **err)
{
	struct cg_dir *d = cg_find(h, "memory");
	if (d == NULL)
		return missing("linux.resources.memory", "memory", err);
	return d->v2 ? cg_v2_memory(d->dfd, v, err) : cg_v1_memory(d->dfd, v, err);
}

static int do_cpu(cgroup_handle *h, json_t *v, berth_error **err)
{
	static const char *const sched[] = {
	    "burst", "idle", "period", "quota", "realtimePeriod", "realtimeRuntime", "shares"};
	bool want_cpu = false, want_set = nonempty(json_object_get(v, "cpus")) ||
	                                  nonempty(json_object_get(v, "mems"));
	for (size_t i = 0; i < ARRAY_SIZE(sched); i++)
		if (nonempty(json_object_get(v, sched[i])))
			want_cpu = true;
	if (want_cpu) {
		struct cg_dir *d = cg_find(h, "cpu");
		if (d == NULL)
			return missing("linux.resources.cpu", "cpu", err);
		if ((d->v2 ? cg_v2_cpu(d->dfd, v, err) : cg_v1_cpu(d->dfd, v, err)) < 0)
			return -1;
	}
	if (want_set) {
		struct cg_dir *d = cg_find(h, "cpuset");
		if (d == NULL)
			return missing("linux.resources.cpu.cpus", "cpuset", err);
		if ((d->v2 ? cg_v2_cpuset(d->dfd, v, err) : cg_v1_cpuset(d->dfd, v, err)) < 0)
			return -1;
	}
	return 0;
}

static int do_pids(cgroup_handle *h, json_t *v, berth_error **err)
{
	struct cg_dir *d = cg_find(h, "pids");
	if (d == NULL)
		return missing("linux.resources.pids", "pids", err);
	return d->v2 ? cg_v2_pids(d->dfd, v, err) : cg_v1_pids(d->dfd, v, err);
}

static int do_blockio(cgroup_handle *h, json_t *v, berth_error **err)
{
	struct cg_dir *d = cg_find(h, "blkio");
	if (d && !d->v2)
		return cg_v1_blkio(d->dfd, v, err);
	d = cg_find(h, "io");
	if (d && d->v2)
		return cg_v2_io(d->dfd, v, err);
	return missing("linux.resources.blockIO", "blkio/io", err);
}

static int do_hugetlb(cgroup_handle *h, json_t *v, berth_error **err)
{
	struct cg_dir *d = cg_find(h, "hugetlb");
	if (d == NULL)
		return missing("linux.resources.hugepageLimits", "hugetlb", err);
	return d->v2 ? cg_v2_hugetlb(d->dfd, v, err) : cg_v1_hugetlb(d->dfd, v, err);
}

static int do_network(cgroup_handle *h, json_t *v, berth_error **err)
{
	if (nonempty(json_object_get(v, "classID"))) {
		struct cg_dir *d = cg_find(h, "net_cls");
		if (d == NULL || d->v2)
			return missing("linux.resources.network.classID", "net_cls", err);
		if (cg_v1_net_cls(d->dfd, v, err) < 0)
			return -1;
	}
	if (nonempty(json_object_get(v, "priorities"))) {
		struct cg_dir *d = cg_find(h, "net_prio");
		if (d == NULL || d->v2)
			return missing("linux.resources.network.priorities", "net_prio", err);
		if (cg_v1_net_prio(d->dfd, v, err) < 0)
			return -1;
	}
	return 0;
}

static int do_devices(cgroup_handle *h, json_t *v, berth_error **err)
{
	if (!json_is_array(v))
		return berth_err(err, BERTH_E_INVALID,
		                 "linux.resources.devices: expected an array");
	struct cg_dir *d = h->v2host ? NULL : cg_find(h, "devices");
	if (d && !d->v2)
		return cg_v1_devices(d->dfd, v, err);
	d = cg_v2dir(h);
	if (d == NULL)
		return missing("linux.resources.devices", "devices", err);
	if (cg_bpf_devices_apply(d->fs, v, err) < 0)
		return berth_err_prefix(err, "linux.resources.devices");
	return 0;
}

static int do_rdma(cgroup_handle *h, json_t *v, berth_error **err)
{
	struct cg_dir *d = cg_find(h, "rdma");
	if (d == NULL)
		return missing("linux.resources.rdma", "rdma", err);
	return cg_rdma(d->dfd, v, err);
}

static int do_unified(cgroup_handle *h, json_t *v, berth_error **err)
{
	struct cg_dir *d = cg_v2dir(h);
	if (d == NULL)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "linux.resources.unified: cgroup v2 is not mounted on this host");
	return cg_v2_unified(d->dfd, v, err);
}

struct res_group {
	const char *key;
	int (*fn)(cgroup_handle *h, json_t *v, berth_error **err);
	int order; /* devices last: the rest may need device access meanwhile */
};

/* Sorted by key (bsearch). */
static const struct res_group groups[] = {
    {"blockIO", do_blockio, 0}, {"cpu", do_cpu, 0},
    {"devices", do_devices, 1}, {"hugepageLimits", do_hugetlb, 0},
    {"memory", do_memory, 0},   {"network", do_network, 0},
    {"pids", do_pids, 0},       {"rdma", do_rdma, 0},
    {"unified", do_unified, 0},
};

static int cmp_group(const void *k, const void *e)
{
	return strcmp(k, ((const struct res_group *)e)->key);
}

int cg_apply(cgroup_handle *h, json_t *res, berth_error **err)
{
	if (!json_is_object(res))
		return berth_err(err, BERTH_E_INVALID, "linux.resources: expected an object");
	for (int pass = 0; pass < 2; pass++) {
		const char *key;
		json_t *v;
		json_object_foreach (res, key, v) {
			const struct res_group *g =
			    bsearch(key, groups, ARRAY_SIZE(groups), sizeof(groups[0]), cmp_group);
			if (g == NULL) {
				if (pass == 0)
					log_warn("linux.resources.%s: unknown field, ignored", key);
				continue;
			}
			if (g->order != pass || !nonempty(v))
				continue;
			if (strcmp(key, "devices") != 0 && strcmp(key, "hugepageLimits") != 0 &&
			    !json_is_object(v))
				return berth_err(err, BERTH_E_INVALID,
				                 "linux.resources.%s: expected an object", key);
			if (g->fn(h, v, err) < 0)
				return -1;
		}
	}
	return 0;
}
