/* Priming the kernel's cgroup migration lock.
 *
 * Every write to a cgroup.procs file takes the kernel's global
 * cgroup_threadgroup_rwsem for writing (unless the cgroup2 hierarchy is
 * mounted with favordynmods). Taking it while it is idle first waits for
 * an RCU grace period: 5-20 ms here, more than all the rest of starting a
 * container or an exec. Writers that come while a grace period is under
 * way wait for that same one, and writers within about one grace period
 * after the last one left do not wait at all.
 *
 * cgroup_prime_start() forks a small process that writes "0" (itself: a
 * move into its own, current cgroup, so nothing changes) to its own
 * cgroup.procs right away and then again every millisecond, so that the
 * grace period runs while berth does its other work (opening the store,
 * building the spec, setting up the mounts) and the real cgroup writes that
 * follow find the lock primed. cgroup_prime_stop() ends it. Best effort:
 * when no cgroup.procs file is writable, nothing happens. */
#ifndef BERTH_RUNTIME_CGPRIME_H
#define BERTH_RUNTIME_CGPRIME_H

typedef struct cgroup_primer cgroup_primer;

/* NULL when priming is not possible (no writable cgroup.procs). Call it
 * early, while the process is small (a fork). */
cgroup_primer *cgroup_prime_start(void);
/* Stop it (it exits within a millisecond; no waiting here). */
void cgroup_prime_stop(cgroup_primer *p);

static inline void cgroup_prime_stopp(cgroup_primer **p)
{
	cgroup_prime_stop(*p);
}
#define _cleanup_cgroup_primer_ __attribute__((cleanup(cgroup_prime_stopp)))

#endif
