/* The runtime's use of the cgroup module (cgroup.h), in one place. */
#ifndef BERTH_RUNTIME_RT_CGROUP_H
#define BERTH_RUNTIME_RT_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "runtime/internal.h"
#include "runtime/runtime.h"

/* Create the container's cgroup (with the directories prep made, if any:
 * they are the container's now) and apply linux.resources; *path gets the
 * path to record in the state, *j what the container's process joins it
 * with (rt_cg_clone). */
int rt_cg_create(const rt_spec *s, const char *id, rt_prep *prep, char **path, char ***dirs,
                 rt_cg_join *j, berth_error **err);
/* The network namespace rt_prep made, or -1. */
int rt_prep_netns(const rt_prep *p);
/* What a process joins a running container's cgroup with (exec); *frozen
 * (if non-NULL) whether the cgroup is frozen (paused). */
int rt_cg_join_open(const rt_state_rec *rec, rt_cg_join *j, bool *frozen, berth_error **err);
void rt_cg_join_close(rt_cg_join *j);
/* clone(2) with flags|SIGCHLD of a child that joins the cgroup by itself
 * (cgroup.h, cgroup_join_fds): into j's cgroup2 directory when it has one
 * (CLONE_INTO_CGROUP), and the child writes "0" to each of j->fds first
 * thing (rt_child_main). Returns the pid, 0 in the child, or -1. */
long rt_cg_clone(unsigned long flags, rt_cg_join *j, berth_error **err);
int rt_cg_freeze(const rt_state_rec *rec, bool frozen, berth_error **err);
bool rt_cgroup_is_frozen(const rt_state_rec *rec);
int rt_cg_kill_all(const rt_state_rec *rec, int sig, berth_error **err);
int rt_cg_pids(const rt_state_rec *rec, pid_t **pids, size_t *n, berth_error **err);
/* Remove it; a missing cgroup is fine. */
int rt_cg_destroy(const char *path, const char *id, berth_error **err);
/* For mounts of type cgroup: what the host has (read ahead by p, the work
 * made ahead, when it ran). */
int rt_cg_host_layout(rt_spec *s, const rt_prep *p, berth_error **err);

#endif
