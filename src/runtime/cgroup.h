/* Control groups for containers: v1 (legacy and hybrid hosts) and v2
 * (unified hosts), detected from /proc/self/mountinfo, /proc/self/cgroup
 * and /proc/cgroups.
 *
 * On a hybrid host (v1 controllers plus a cgroup2 mount) the v1
 * controllers are used; the container also gets a cgroup in the cgroup2
 * hierarchy, which carries any controller bound only there (e.g. hugetlb),
 * cgroup.kill and cgroup.events.
 *
 * Every linux.resources field is applied or refused with an error that
 * names the field ("linux.resources.memory.swap: ..."); nothing is
 * silently ignored. */
#ifndef BERTH_RUNTIME_CGROUP_H
#define BERTH_RUNTIME_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"

typedef struct cgroup_handle cgroup_handle;

/* Create the container's cgroup(s) from cgroupsPath (absolute: below each
 * hierarchy's root; relative: below the caller's own cgroup in each
 * hierarchy, as runc does; NULL -> "/berth/<id>"), apply linux.resources
 * (may be NULL) and, if pid > 0, move pid into it. On failure nothing this
 * call created is left behind. */
int cgroup_create(const char *cgroups_path, const char *id, json_t *resources, pid_t pid,
                  cgroup_handle **out, berth_error **err);
/* Make the v1 leaf directories of a new container cgroup ahead of
 * cgroup_create_premade, which takes *out (they take most of the time of a
 * creation: a start makes them while it does other work). On failure none
 * is left. */
int cgroup_premake(const char *cgroups_path, const char *id, cgroup_handle **out,
                   berth_error **err);
/* cgroup_create (no pid) on a cgroup_premake handle: the directories it
 * made are the cgroup's own. On failure they are removed too; the handle
 * stays the caller's to free either way. */
int cgroup_create_premade(cgroup_handle *h, json_t *resources, berth_error **err);
/* Open an existing container cgroup (same path rules); BERTH_E_NOTFOUND if
 * it does not exist in any hierarchy. */
int cgroup_open(const char *cgroups_path, const char *id, cgroup_handle **out, berth_error **err);
/* Move pid into the cgroup in every hierarchy. */
int cgroup_enter(cgroup_handle *h, pid_t pid, berth_error **err);
/* Apply linux.resources to the existing cgroup (runc update). */
int cgroup_update(cgroup_handle *h, json_t *resources, berth_error **err);
/* Freeze or thaw; returns once the kernel reports FROZEN / THAWED. */
int cgroup_freeze(cgroup_handle *h, bool frozen, berth_error **err);
int cgroup_get_state(cgroup_handle *h, bool *frozen, berth_error **err);
/* All pids in the cgroup and its descendants (malloc'd array). */
int cgroup_pids(cgroup_handle *h, pid_t **pids, size_t *n, berth_error **err);
/* Signal every process: SIGKILL through cgroup.kill where the kernel has
 * it; otherwise freeze, signal each pid, thaw. */
int cgroup_kill_all(cgroup_handle *h, int sig, berth_error **err);

typedef struct cgroup_stats {
	uint64_t mem_usage, mem_limit, mem_max_usage, mem_cache;
	uint64_t cpu_usage_ns, cpu_user_ns, cpu_system_ns;
	uint64_t pids_current, pids_limit;
	uint64_t blk_read, blk_write;
	uint64_t oom_kill_count;
	bool oom_killed;
} cgroup_stats;

/* Counters for `berth stats`; a limit of "max" reads as UINT64_MAX, a
 * counter the host does not offer reads as 0. */
int cgroup_stats_read(cgroup_handle *h, cgroup_stats *st, berth_error **err);
/* rmdir the cgroup (and any sub-cgroups) in every hierarchy, retrying
 * briefly while exiting processes leave. Missing directories are fine. */
int cgroup_destroy(cgroup_handle *h, berth_error **err);
/* Where the cgroup is, in a form cgroup_open() finds again from any
 * process (record it in the container state): the path below the
 * hierarchy root ("/berth/ID") when it is the same in every hierarchy,
 * else, for a relative cgroupsPath below differing own cgroups, one path
 * per hierarchy: "@memory=/a/b;cpu=/b;=/b" (key: first controller, "" for
 * cgroup2). */
const char *cgroup_path(const cgroup_handle *h);
/* The cgroup's directory in each hierarchy (a strv). */
char **cgroup_dirs(const cgroup_handle *h);
/* What a new process needs to join the cgroup by itself, with no round
 * trip and without the kernel's global threadgroup lock. A write to
 * cgroup.procs takes that lock, and its first writer after a quiet spell
 * waits for an RCU grace period (5-7 ms on a small VM): the lock-free ways
 * in are
 *  - v1: *fds, each hierarchy's "tasks" open for writing: a
 *    single-threaded process that writes "0" to each moves itself (the
 *    kernel checks the opener's credentials, so it works from any
 *    namespace the process entered since);
 *  - cgroup2: *v2dir, the cgroup's directory (-1 if none), for
 *    clone3(CLONE_INTO_CGROUP).
 * *fds has room for one more descriptor (cgroup_join_procs_fallback). */
int cgroup_join_fds(cgroup_handle *h, int **fds, size_t *n, int *v2dir, berth_error **err);
/* A kernel without CLONE_INTO_CGROUP (before 5.7): append the cgroup2
 * directory's cgroup.procs to fds, for a write of "0" (with the lock). */
int cgroup_join_procs_fallback(int v2dir, int *fds, size_t *n, berth_error **err);
/* True when resources are applied through cgroup v2 (unified host). */
bool cgroup_is_v2(const cgroup_handle *h);
/* Filesystem directory of the cgroup for a controller ("memory",
 * "name=systemd", "" for the cgroup2 hierarchy); NULL if none. */
const char *cgroup_controller_dir(const cgroup_handle *h, const char *controller);
void cgroup_handle_free(cgroup_handle *h);

static inline void cgroup_handle_freep(cgroup_handle **h)
{
	cgroup_handle_free(*h);
}
#define _cleanup_cgroup_ __attribute__((cleanup(cgroup_handle_freep)))

#endif
