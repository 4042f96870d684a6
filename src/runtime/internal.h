/* Internal to src/runtime: the parsed container config and the pieces
 * that run between clone and execve. Everything the child needs is
 * prepared by the parent in these structs before clone, so the child only
 * makes plain system calls. */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "base/error.h"
#include "base/json.h"
#include "runtime/runtime.h"

/* ---- the parsed config (spec.c) ---- */

enum rt_ns_kind {
	RT_NS_USER,
	RT_NS_MOUNT,
	RT_NS_PID,
	RT_NS_NET,
	RT_NS_IPC,
	RT_NS_UTS,
	RT_NS_CGROUP,
	RT_NS_TIME,
	RT_NS_COUNT
};

typedef struct rt_ns {
	bool enabled; /* listed in linux.namespaces */
	char *path; /* join this one (NULL: new) */
} rt_ns;

typedef struct rt_mount {
	char *dest; /* absolute, inside the container */
	char *type; /* NULL for bind */
	char *source; /* absolute host path for binds */
	unsigned long flags; /* MS_* to set */
	unsigned long propagation; /* MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE [|MS_REC] */
	uint64_t attr_set, attr_clr; /* recursive mount_setattr (rro, rnosuid, ...) */
	char *data; /* fs-specific options, comma separated */
	bool bind, recursive, src_is_dir;
} rt_mount;

typedef struct rt_device {
	char *path;
	char type; /* c, b, u, p */
	int64_t major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
} rt_device;

typedef struct rt_rlimit {
	int resource;
	char *name;
	uint64_t soft, hard;
} rt_rlimit;

typedef struct rt_kv {
	char *key, *value;
} rt_kv;

typedef struct rt_idmap_text {
	char *text; /* "inside outside count\n..." ready for uid_map */
	size_t len;
} rt_idmap_text;

/* A process (create's or exec's), ready for execve. */
typedef struct rt_process {
	bool terminal;
	unsigned short cols, rows;
	char **args, **env;
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	bool has_umask;
	mode_t umask;
	bool set_caps;
	uint64_t caps[5]; /* effective, bounding, inheritable, permitted, ambient */
	bool no_new_privs;
	bool has_oom;
	int oom_score_adj;
	rt_rlimit *rlimits;
	size_t nrlimits;
	/* seccomp filter (NULL: none) */
	struct sock_fprog *seccomp;
	unsigned seccomp_flags;
	bool has_io_priority;
	int io_priority; /* IOPRIO value */
	bool has_scheduler;
	int sched_policy;
	int sched_priority;
	int64_t sched_nice;
	char *exe; /* resolved executable path (filled in the child) */
	bool host_checks; /* parsed for this host (not only for shape) */
	const char *cache_dir; /* seccomp filter cache (borrowed), may be NULL */
} rt_process;

typedef struct rt_hook {
	char *path;
	char **args, **env;
	int timeout; /* seconds, 0 none */
} rt_hook;

enum rt_hook_kind {
	RT_HOOK_PRESTART,
	RT_HOOK_CREATE_RUNTIME,
	RT_HOOK_CREATE_CONTAINER,
	RT_HOOK_START_CONTAINER,
	RT_HOOK_POSTSTART,
	RT_HOOK_POSTSTOP,
	RT_HOOK_COUNT
};

typedef struct rt_hooks {
	rt_hook *v[RT_HOOK_COUNT];
	size_t n[RT_HOOK_COUNT];
} rt_hooks;

typedef struct rt_spec {
	json_t *json; /* the whole config (owned) */
	bool host; /* check what this host can honour (false: shape only) */
	char *bundle; /* as given */
	char *rootfs; /* absolute */
	bool root_readonly;
	char *hostname, *domainname;
	rt_process proc;
	rt_ns ns[RT_NS_COUNT];
	rt_idmap_text uid_map, gid_map;
	rt_mount *mounts;
	size_t nmounts;
	rt_device *devices;
	size_t ndevices;
	char **masked, **readonly;
	rt_kv *sysctl;
	size_t nsysctl;
	unsigned long rootfs_propagation; /* 0: default (rslave) */
	bool has_personality;
	unsigned long personality;
	char *cgroups_path;
	json_t *resources; /* borrowed from json */
	bool has_time_offsets;
	int64_t mono_secs, boot_secs;
	uint32_t mono_nsecs, boot_nsecs;
	rt_hooks hooks;
	json_t *annotations; /* borrowed */
	/* for mounts of type "cgroup", prepared by the parent: */
	bool cgroup_v2_only;
	char **cgroup_v1; /* "<name>\t<mount options>" ("cgroup2" for unified) */
} rt_spec;

/* Parse and check config (borrowed; a reference is taken). bundle is the
 * directory given by the user (may be relative). */
/* cache_dir (may be NULL): where compiled seccomp filters are kept. */
int rt_spec_parse(json_t *config, const char *bundle, bool host, const char *cache_dir,
                  rt_spec **out, berth_error **err);
void rt_spec_free(rt_spec *s);
static inline void rt_spec_freep(rt_spec **s)
{
	rt_spec_free(*s);
}
#define _cleanup_spec_ __attribute__((cleanup(rt_spec_freep)))

/* Parse a runtime-spec process object (exec's too). */
int rt_process_parse(json_t *j, json_t *linux_seccomp, bool host, const char *cache_dir,
                     rt_process *p, berth_error **err);
void rt_process_clear(rt_process *p);
/* Add HOME from rootfd's /etc/passwd unless env has it. */
void rt_process_set_home(rt_process *p, int rootfd);
int rt_hooks_parse(json_t *hooks, rt_hooks *out, berth_error **err);
void rt_hooks_clear(rt_hooks *h);

/* Sorted name tables. */
int rt_cap_from_name(const char *name); /* -1 unknown */
const char *rt_cap_name(int cap);
int rt_cap_last(void); /* highest capability this kernel knows */
int rt_rlimit_from_name(const char *name);
int rt_signal_from_name(const char *name);

/* ---- parent <-> child protocol (create.c, init.c) ---- */

enum rt_msg_type {
	RT_MSG_ERROR = 1, /* child -> parent: err, msg */
	RT_MSG_GO, /* parent -> child: cgroup joined, maps written */
	RT_MSG_USERNS, /* child -> parent: write my uid/gid maps (value = pid) */
	RT_MSG_PID, /* child -> parent: value = init pid (two-stage start) */
	RT_MSG_HOOKS, /* child -> parent: run prestart+createRuntime hooks */
	RT_MSG_CONSOLE, /* child -> parent: pty master attached */
	RT_MSG_READY, /* child -> parent: blocked on exec.fifo next */
	RT_MSG_ACK, /* parent -> child */
	RT_MSG_STATE, /* parent -> child: state JSON follows as payload */
};

#define RT_MSG_TEXT 400
/* exec.fifo once the container started, kept in its state directory for
 * the directory's next container (berth recycles removed containers'
 * state directories) */
#define RT_USED_FIFO "exec.fifo.used"
typedef struct rt_msg {
	int type;
	int value;
	int err;
	char text[RT_MSG_TEXT];
} rt_msg;

/* How a new process joins the container's cgroup by itself (rt_cgroup.h). */
typedef struct rt_cg_join {
	int *fds; /* v1 "tasks" files (or cgroup.procs), open for writing */
	size_t n;
	int v2dir; /* cgroup2 directory for CLONE_INTO_CGROUP, or -1 */
} rt_cg_join;

/* What the child needs that is not in the spec. */
typedef struct rt_child_args {
	const rt_spec *spec;
	const rt_process *proc;
	int sock; /* child end of the socketpair */
	int fifo_fd; /* O_PATH fd of exec.fifo (create), -1 for exec */
	int stdio_fds[3];
	int preserve_fds;
	bool no_pivot;
	bool no_new_keyring;
	bool console; /* terminal: send the pty master to the parent */
	bool exec; /* rt_exec: join, don't build */
	int join_pidfd; /* exec: container init's pidfd */
	int join_flags; /* exec: CLONE_NEW* to setns */
	const int *cg_fds; /* the cgroup to join first thing (write "0" to each) */
	size_t n_cg_fds;
	bool in_cgroup; /* exec: joined by itself, else the parent says GO */
	bool two_stage; /* setns/unshare then fork the init */
	bool die_with_parent; /* SIGKILL while waiting for the start if the parent dies */
	unsigned long clone_flags; /* namespaces new at clone (fast path) */
	const char *id;
	int cgroupns_new;
} rt_child_args;

/* The child's side: never returns. */
__attribute__((noreturn)) void rt_child_main(rt_child_args *a);

int rt_msg_send(int sock, int type, int value, int err, const char *text);
int rt_msg_send_fd(int sock, int type, int fd);
/* Receive; *fd (if non-NULL) gets a passed descriptor or -1. Returns 0, or
 * -1 with errno (0 on EOF). */
int rt_msg_recv(int sock, rt_msg *m, int *fd);

/* ---- hooks (hooks.c) ---- */
/* Run each hook with state JSON on stdin; returns error on the first
 * failure. */
int rt_hooks_run(const rt_hook *hooks, size_t n, const char *kind, const char *state_json,
                 berth_error **err);
/* Child-safe variant for createContainer/startContainer: returns 0 or
 * errno with a message in buf. */
int rt_hooks_run_raw(const rt_hook *hooks, size_t n, const char *state_json, char *buf,
                     size_t buflen);

/* ---- console (console.c) ---- */
int rt_console_send(const char *socket_path, int master, berth_error **err);

/* ---- state (state.c) ---- */
typedef struct rt_state_rec {
	char *id, *bundle, *rootfs, *created, *cgroup_path;
	pid_t pid;
	unsigned long long start_time; /* /proc/pid/stat field 22 */
	json_t *annotations;
	json_t *hooks; /* poststart/poststop, borrowed from json */
	json_t *json;
	bool has_userns;
} rt_state_rec;

int rt_state_dir(const rt_ctx *ctx, const char *id, char **out, berth_error **err);
int rt_state_load(const rt_ctx *ctx, const char *id, rt_state_rec *rec, berth_error **err);
void rt_state_rec_clear(rt_state_rec *r);
static inline void rt_state_rec_clearp(rt_state_rec *r)
{
	rt_state_rec_clear(r);
}
#define _cleanup_rec_ __attribute__((cleanup(rt_state_rec_clearp)))
/* rt_state_save; in_place: over the file there (a reused state directory
 * nobody knows yet: no new inode) instead of a new one renamed in. */
int rt_state_write(const rt_ctx *ctx, const rt_state_rec *rec, bool in_place, berth_error **err);
int rt_state_save(const rt_ctx *ctx, const rt_state_rec *rec, berth_error **err);
/* created | running | stopped | paused */
const char *rt_state_status(const rt_ctx *ctx, const rt_state_rec *rec);
/* rt_state_status that says "running" for a paused container too (no
 * cgroup lookup: the caller looks at the freezer itself). */
const char *rt_state_status_unfrozen(const rt_ctx *ctx, const rt_state_rec *rec);
json_t *rt_state_json(const rt_state_rec *rec, const char *status);
unsigned long long rt_proc_start_time(pid_t pid);
bool rt_valid_id(const char *id);

#endif
