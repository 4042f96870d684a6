/* docker update (resources, restart policy) and the container's pids. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "runtime/cgroup.h"

int container_pids(berth_store *s, ctr_record *r, pid_t **pids, size_t *n, berth_error **err)
{
	const char *st = container_status(r);
	if (strcmp(st, "running") && strcmp(st, "paused"))
		return berth_err(err, BERTH_E_CONFLICT, "Container %s is not running", r->id);
	rt_ctx ctx;
	ctr_rt_ctx(s, &ctx);
	return rt_pids(&ctx, r->id, pids, n, err);
}

/* Docker's HostConfig resource names -> OCI linux.resources. */
static json_t *resources_of(json_t *u)
{
	json_t *res = json_object();
	int64_t mem = json_get_int(u, "Memory", 0), swap = json_get_int(u, "MemorySwap", 0);
	int64_t resv = json_get_int(u, "MemoryReservation", 0);
	if (mem || swap || resv) {
		json_t *m = json_object();
		if (mem)
			json_object_set_new(m, "limit", json_integer(mem));
		if (swap)
			json_object_set_new(m, "swap", json_integer(swap));
		else if (mem > 0)
			json_object_set_new(m, "swap", json_integer(2 * mem));
		if (resv)
			json_object_set_new(m, "reservation", json_integer(resv));
		json_object_set_new(res, "memory", m);
	}
	int64_t shares = json_get_int(u, "CpuShares", 0), nano = json_get_int(u, "NanoCpus", 0);
	int64_t quota = json_get_int(u, "CpuQuota", 0), period = json_get_int(u, "CpuPeriod", 0);
	const char *cpuset = json_get_str(u, "CpusetCpus");
	if (shares || nano || quota || (cpuset && *cpuset)) {
		json_t *c = json_object();
		if (shares)
			json_object_set_new(c, "shares", json_integer(shares));
		if (nano) {
			json_object_set_new(c, "quota", json_integer(nano / 10000));
			json_object_set_new(c, "period", json_integer(100000));
		} else if (quota) {
			json_object_set_new(c, "quota", json_integer(quota));
			json_object_set_new(c, "period", json_integer(period ? period : 100000));
		}
		if (cpuset && *cpuset)
			json_object_set_new(c, "cpus", json_string(cpuset));
		json_object_set_new(res, "cpu", c);
	}
	if (json_is_integer(json_object_get(u, "PidsLimit")))
		json_object_set_new(
		    res, "pids",
		    json_pack("{s:I}", "limit", (json_int_t)json_get_int(u, "PidsLimit", 0)));
	return res;
}

int container_update(berth_store *s, ctr_record *r, json_t *u, berth_error **err)
{
	if (r->config == NULL) {
		ctr_record *full = NULL;
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		r->config = steal_ptr(full->config);
		ctr_record_free(full);
	}
	json_t *host = json_object_get(r->config, "HostConfig");
	const char *st = container_status(r);
	bool live = !strcmp(st, "running") || !strcmp(st, "paused");
	_cleanup_json_ json_t *res = resources_of(u);
	if (live && json_object_size(res)) {
		_cleanup_cgroup_ cgroup_handle *h = NULL;
		_cleanup_free_ char *path = ctr_cgroups_path(r->id);
		if (cgroup_open(path, r->id, &h, err) < 0 || cgroup_update(h, res, err) < 0)
			return berth_err_prefix(err, "Cannot update container %s", r->id);
	}
	json_t *rp = json_object_get(u, "RestartPolicy");
	if (json_is_object(rp) && json_get_str(rp, "Name")) {
		const char *n = json_get_str(rp, "Name");
		if (json_get_bool(host, "AutoRemove", false) && strcmp(n, "no") && *n)
			return berth_err(
			    err, BERTH_E_INVALID,
			    "Cannot update container %s: Restart policy cannot be updated "
			    "because AutoRemove is enabled for the container",
			    r->id);
		if (live) {
			_cleanup_free_ char *pol =
			    !strcmp(n, "on-failure")
			        ? xasprintf("on-failure:%lld",
			                    json_get_int(rp, "MaximumRetryCount", 0))
			        : xstrdup(*n ? n : "no");
			_cleanup_free_ char *req = xasprintf("restart %s", pol);
			_cleanup_close_ int fd = container_monitor_connect(s, r->id, req, NULL);
			if (fd >= 0) {
				char b[64];
				if (read(fd, b, sizeof(b)) < 0)
					(void)0;
			}
		}
	}
	/* record the new values */
	const char *k;
	json_t *v;
	json_object_foreach (u, k, v) {
		if (!json_is_null(v))
			json_object_set(host, k, v);
	}
	_cleanup_free_ char *text = json_dump_compact(r->config);
	_cleanup_stmt_ sqlite3_stmt *q =
	    store_prepare(s, "UPDATE containers SET config = ?2 WHERE id = ?1", err);
	if (q == NULL)
		return -1;
	sqlite3_bind_text(q, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_DONE)
		return store_sql_err(s, err, "updating container");
	return 0;
}
