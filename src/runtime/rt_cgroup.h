/* The runtime's use of the cgroup module (cgroup.h), in one place. */
#ifndef BERTH_RUNTIME_RT_CGROUP_H
#define BERTH_RUNTIME_RT_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/internal.h"

/* Create the container's cgroup, apply linux.resources and move pid in;
 * *path gets the path to record in the state. */
int rt_cg_create(const rt_spec *s, const char *id, pid_t pid, char **path, char ***dirs,
                 berth_error **err);
int rt_cg_enter(const rt_state_rec *rec, pid_t pid, berth_error **err);
/* cgroup.procs of every hierarchy, open for writing (cgroup_procs_fds). */
int rt_cg_procs_fds(const rt_state_rec *rec, int **fds, size_t *n, berth_error **err);
int rt_cg_freeze(const rt_state_rec *rec, bool frozen, berth_error **err);
bool rt_cgroup_is_frozen(const rt_state_rec *rec);
int rt_cg_kill_all(const rt_state_rec *rec, int sig, berth_error **err);
int rt_cg_pids(const rt_state_rec *rec, pid_t **pids, size_t *n, berth_error **err);
/* Remove it; a missing cgroup is fine. */
int rt_cg_destroy(const char *path, const char *id, berth_error **err);
/* For mounts of type cgroup: what the host has. */
int rt_cg_host_layout(rt_spec *s, berth_error **err);

#endif
