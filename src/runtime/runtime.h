/* berth's OCI runtime: runtime-spec containers from a bundle (or an
 * in-memory config), with runc's lifecycle. The container module and the
 * `berth runtime` command both call these functions in-process.
 *
 * rt_create returns once the container is fully set up (namespaces, mounts,
 * cgroup, pivot_root, devices, credentials): its init then waits on
 * <state_root>/<id>/exec.fifo and rt_start only wakes it. */
#ifndef BERTH_RUNTIME_RUNTIME_H
#define BERTH_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"

#define RT_OCI_VERSION "1.1.0"
#define RT_DEFAULT_STATE_ROOT "/run/berth/runtime"

typedef struct rt_ctx {
	const char *state_root; /* e.g. /run/berth/runtime; --root */
	int log_fd; /* -1: none */
	bool debug;
} rt_ctx;

typedef struct rt_create_opts {
	const char
	    *bundle; /* directory; config read from bundle/config.json unless config != NULL */
	json_t *config; /* optional in-memory config (borrowed) */
	const char *console_socket; /* for terminal: true */
	const char *pid_file;
	bool no_pivot, no_new_keyring;
	int preserve_fds;
	int stdio_fds[3]; /* -1 = inherit */
	/* Called once the init exists in its new namespaces (its pid), while
	 * it still sets itself up: the caller may work on its namespaces
	 * (network) meanwhile. Not called when the init joins namespaces by
	 * path (two-stage start): the caller then does that work after. */
	void (*created)(pid_t init, void *arg);
	void *created_arg;
	/* Optional out: the container's cgroup directories (a strv). */
	char ***cgroup_dirs;
	/* The caller starts the container itself: if the calling thread dies
	 * before the start, the waiting init is killed instead of waiting on
	 * exec.fifo forever (not with namespaces joined by path). */
	bool die_with_parent;
	/* Work made ahead for this container (rt_prep_begin with its id and
	 * linux.cgroupsPath), or NULL (borrowed): its network namespace is the
	 * init's (not with a user namespace or namespaces joined by path) and
	 * its cgroup directories are the container's own. */
	struct rt_prep *prep;
	/* An emptied state directory of a removed container (berth's spare
	 * container directories) to rename into place instead of making one,
	 * or NULL. */
	const char *spare_state_dir;
} rt_create_opts;

/* Work a start can do ahead, in a thread, while the caller prepares the
 * rest: a new network namespace (netns) and the directories of the cgroup
 * at cgroups_path (the container's linux.cgroupsPath to be). Both are the
 * costly part of the runtime's clone and cgroup set-up. Pass it in
 * rt_create_opts.prep. rt_prep_wait waits for the thread (before a fork:
 * the child would not have it). rt_prep_free also removes the directories
 * unless rt_create took them (it succeeded, or failed and removed them);
 * rt_prep_disown only frees our copy (a forked child took it over). */
typedef struct rt_prep rt_prep;
rt_prep *rt_prep_begin(const char *cgroups_path, const char *id, bool netns);
/* The network namespace in a thread of its own, started apart (the start
 * process, after its fork: the client's window is the cgroup's). */
void rt_prep_netns_begin(rt_prep *p);
void rt_prep_wait(rt_prep *p);
void rt_prep_free(rt_prep *p);
void rt_prep_disown(rt_prep *p);
/* Remove the empty cgroups below parent ("/berth") named by a container
 * ID that known() does not know and made more than min_age_s ago: what a
 * start killed between making its cgroup ahead and taking it over left. */
void rt_cg_sweep_orphans(const char *parent, int min_age_s,
                         bool (*known)(const char *id, void *arg), void *arg);
static inline void rt_prep_freep(rt_prep **p)
{
	rt_prep_free(*p);
}

typedef struct rt_exec_opts {
	const char *console_socket; /* for process.terminal */
	const char *pid_file;
	int preserve_fds;
	int stdio_fds[3]; /* -1 = inherit */
} rt_exec_opts;

/* Initialise options to "nothing set" (stdio inherited). */
void rt_create_opts_init(rt_create_opts *o);
void rt_exec_opts_init(rt_exec_opts *o);

int rt_create(const rt_ctx *ctx, const char *id, const rt_create_opts *o, pid_t *pid,
              berth_error **err);
int rt_start(const rt_ctx *ctx, const char *id, berth_error **err);
/* rt_start without waiting for the init: *exec_fd gets the read end of its
 * exec.fifo, which lets it go on. The init writes one byte there when its
 * set-up is done and keeps the write end open until its execve: the caller
 * waits for the byte and then end-of-file (an end-of-file before the byte
 * only means that the init has not opened the fifo yet; it may also die
 * first) before it reports the container as started. With poststart hooks
 * this is rt_start and *exec_fd is -1. */
int rt_start_nowait(const rt_ctx *ctx, const char *id, int *exec_fd, berth_error **err);
/* runtime-spec state: ociVersion, id, status, pid, bundle, annotations
 * (plus "created" and "rootfs" as runc prints them). */
int rt_state(const rt_ctx *ctx, const char *id, json_t **state, berth_error **err);
int rt_kill(const rt_ctx *ctx, const char *id, int sig, bool all, berth_error **err);
int rt_delete(const rt_ctx *ctx, const char *id, bool force, berth_error **err);
/* Start `process` (runtime-spec process object, borrowed) in the running
 * container. The new process is a child of the caller. */
/* The container's config.process (a copy), the template for exec. */
int rt_exec_default_process(const rt_ctx *ctx, const char *id, json_t **process, berth_error **err);
int rt_exec(const rt_ctx *ctx, const char *id, json_t *process, const rt_exec_opts *o, pid_t *pid,
            berth_error **err);
int rt_pause(const rt_ctx *ctx, const char *id, berth_error **err);
int rt_resume(const rt_ctx *ctx, const char *id, berth_error **err);
/* Array of state objects, sorted by id. */
int rt_list(const rt_ctx *ctx, json_t **states, berth_error **err);
/* Pids of every process in the container (malloc'd). */
int rt_pids(const rt_ctx *ctx, const char *id, pid_t **pids, size_t *n, berth_error **err);

/* Docker's defaults: capabilities, seccomp profile, masked/readonly paths,
 * minimal /dev, no_new_privs. rootless: user namespace mapping the caller. */
json_t *rt_default_spec(bool rootless);
/* runtime-spec features document for this build and host. */
json_t *rt_features(void);
/* Parse and check a config without running anything (as create would). */
int rt_validate_config(json_t *config, const char *bundle, berth_error **err);

/* Signal name ("KILL", "SIGKILL", "9") -> number; -1 if unknown. */
int rt_parse_signal(const char *s);

#endif
