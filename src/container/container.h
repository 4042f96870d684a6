/* Containers: records, lifecycle, logs, inspect. Used by the CLI and the
 * API server alike; nothing here prints.
 *
 * A container is created from Docker's ContainerCreate body (the JSON the
 * Engine API takes: Config fields at the top level plus "HostConfig"), so
 * `berth run` and POST /containers/create share one code path.
 *
 * Where things live (see docs/ARCHITECTURE.md):
 *   berth.db table containers   the record: id, unique name, image, the
 *                               resolved Config/HostConfig (inspect's shape)
 *   root/containers/<id>/       config.json (OCI bundle), upper/ work/
 *                               merged/, hostname, hosts, resolv.conf,
 *                               <id>-json.log*, state, monitor.lock, health.json
 *   runroot/containers/<id>/    attach.sock of the running monitor
 *   runroot/runtime/<id>/       the OCI runtime's own state */
#ifndef BERTH_CONTAINER_CONTAINER_H
#define BERTH_CONTAINER_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/digest.h"
#include "base/error.h"
#include "base/json.h"
#include "container/statefile.h"
#include "store/store.h"

#define CTR_ID_LEN 64

/* Paths of the helper programs (set by the front end; NULL: look next to
 * berth's own executable, then in the build tree layout). */
typedef struct ctr_env {
	const char *berth_exe; /* for the monitor's helpers */
	const char *monitor_exe;
	const char *init_exe;
} ctr_env;

int container_store_init(berth_store *s, berth_error **err) __attribute__((warn_unused_result));

/* --- records --- */

typedef struct ctr_record {
	char id[CTR_ID_LEN + 1];
	char *name; /* without the leading "/" */
	char *image; /* as the user gave it */
	char *image_id;
	char *command; /* ps's COMMAND, unquoted: "sh -c 'echo hi'" */
	int64_t created_ns;
	json_t *config; /* {"Config":…, "HostConfig":…, "Path":…, "Args":…, "Mounts":…} */
	struct ctr_state st; /* from the state file, corrected for a dead monitor */
	bool paused;
	bool monitor_alive;
} ctr_record;

void ctr_record_free(ctr_record *r);
static inline void ctr_record_freep(ctr_record **r)
{
	ctr_record_free(*r);
}
#define _cleanup_ctr_record_ __attribute__((cleanup(ctr_record_freep)))

/* Find a container by full ID, name (with or without "/") or unique ID
 * prefix. BERTH_E_NOTFOUND "No such container: X". with_config: also load
 * the config JSON. */
int container_lookup(berth_store *s, const char *ref, bool with_config, ctr_record **out,
                     berth_error **err) __attribute__((warn_unused_result));
/* Refresh r->st / paused / monitor_alive from the container directory. */
void container_load_state(berth_store *s, ctr_record *r);
/* Docker's State.Status: created, running, paused, restarting, exited, dead. */
const char *container_status(const ctr_record *r);
/* ps STATUS column: "Up 2 minutes (healthy)", "Exited (0) 3 seconds ago", … */
char *container_status_text(berth_store *s, const ctr_record *r);

/* All containers, newest first. */
int container_list(berth_store *s, bool with_config, ctr_record ***out, size_t *n,
                   berth_error **err) __attribute__((warn_unused_result));
void ctr_records_free(ctr_record **v, size_t n);

/* Directory of a container (root/containers/<id>); caller frees. */
char *container_dir(berth_store *s, const char *id);
char *container_rundir(berth_store *s, const char *id);

/* --- create --- */

typedef struct ctr_create_opts {
	const char *name; /* NULL: a generated one */
	const char *pull; /* "missing" (default), "never" */
	const char *platform;
	/* the caller starts it right away (run): the record's state cache
	 * says running from the start (one transaction less on the way) */
	bool start;
	const char *id; /* the ID to give it (container_prep), or NULL: a new one */
	/* run: begin the start (container_start_begin, with these options)
	 * before the record's transaction, when nothing of the record needs
	 * the database (no volume, bind or volumes-from); *pending then gets
	 * it (NULL when not begun) for container_start_finish. A record that
	 * is not committed has the start undone here. */
	struct ctr_start_opts *start_early; /* its prep is taken over: NULLed */
	struct ctr_start_pending **pending;
} ctr_create_opts;

/* body: Docker's ContainerCreate JSON (borrowed). *warnings (strv) may be
 * filled. On success *id is the new container's ID. */
int container_create(berth_store *s, const ctr_env *env, json_t *body, const ctr_create_opts *o,
                     char **id, char ***warnings, berth_error **err)
    __attribute__((warn_unused_result));

/* --- start / attach --- */

typedef struct ctr_start_opts {
	/* An attached client (berth run / start -a): the monitor is handed one
	 * end of a socketpair; the other end is returned in *attach_fd. */
	bool attach;
	bool attach_stdin, attach_stdout, attach_stderr;
	bool cleanup_by_client; /* the client removes the container / runtime state */
	bool db_state_set; /* created with ctr_create_opts.start: no state update */
	/* container_prep's work for this container, or NULL: container_start
	 * takes it over (frees it) */
	struct rt_prep *prep;
	/* A start process forked ahead for this container (container_fork_early),
	 * or NULL: the start hands it the record instead of forking one. */
	struct ctr_early *early;
} ctr_start_opts;

/* run: fork the start process ahead, before the store is opened, while the
 * process is small. It sets up what needs no record (its session, private
 * mount namespace, the container's network namespace and cgroup
 * directories: the work of container_prep) while the caller opens the
 * store and makes the record, then waits for the start to hand it the
 * record (ctr_start_opts.early). *id gets the new container's ID (pass it
 * in ctr_create_opts.id). NULL if the fork failed. container_early_free
 * after the start: one never handed the record undoes its work and ends,
 * and this waits for that. */
typedef struct ctr_early ctr_early;
ctr_early *container_fork_early(const char *root, const char *runroot, json_t *body,
                                char id[CTR_ID_LEN + 1]);
void container_early_free(ctr_early *e);
static inline void container_early_freep(ctr_early **e)
{
	container_early_free(*e);
}

/* Begin the costly runtime work of a run ahead (rt_prep: the container's
 * network namespace and cgroup directories), in a thread, while the caller
 * opens the store and creates the record: *id gets the new container's ID
 * (pass it in ctr_create_opts.id), body is the ContainerCreate JSON. Hand
 * it to container_start in ctr_start_opts.prep; rt_prep_free it if the
 * start is not reached. */
struct rt_prep *container_prep(json_t *body, char id[CTR_ID_LEN + 1]);
/* The container's linux.cgroupsPath ("/berth/<id>"), for cgroup_open. */
char *ctr_cgroups_path(const char *id);

int container_start(berth_store *s, const ctr_env *env, ctr_record *r, const ctr_start_opts *o,
                    int *attach_fd, berth_error **err) __attribute__((warn_unused_result));

/* A start begun before the record is committed (run, through
 * ctr_create_opts.start_early): the start process mounts the root and
 * creates the container meanwhile, and waits for container_start_finish's
 * word before anything that needs the record (the network attach, the
 * start of the process). The record must say what it will be committed
 * with; the start process does not read it from the database. */
typedef struct ctr_start_pending ctr_start_pending;
int container_start_begin(berth_store *s, const ctr_env *env, ctr_record *r,
                          const ctr_start_opts *o, ctr_start_pending **out, berth_error **err)
    __attribute__((warn_unused_result));
/* go: the record is committed, the start goes on as container_start's;
 * not go: the start process undoes its work (this waits for that) and 0 is
 * returned. Frees p. */
int container_start_finish(berth_store *s, ctr_record *r, const ctr_start_opts *o,
                           ctr_start_pending *p, bool go, int *attach_fd, berth_error **err)
    __attribute__((warn_unused_result));

/* Connect to a running container's monitor and send a request line;
 * returns the connected fd. */
int container_monitor_connect(berth_store *s, const char *id, const char *request,
                              berth_error **err) __attribute__((warn_unused_result));

/* Relay an attach stream between the caller's fds and the monitor until
 * the container exits (returns its exit code) or the user detaches
 * (returns -2 with *detached set). in_fd < 0: no stdin. */
typedef struct ctr_relay_opts {
	int in_fd, out_fd, err_fd;
	bool tty;
	const char *detach_keys; /* "ctrl-p,ctrl-q" by default when tty */
	bool sig_proxy;
} ctr_relay_opts;
int container_relay(int sock, const ctr_relay_opts *o, int *exit_code, bool *detached,
                    berth_error **err);

/* After an attached run: tell the monitor the client did the cleanup. */
void container_ack_cleanup(int sock);

/* --- exec --- */

typedef struct ctr_exec_opts {
	char **argv;
	char **env; /* KEY=VALUE overrides (KEY alone removes) */
	const char *user, *workdir;
	bool tty, privileged;
	int stdio[3]; /* -1: inherit */
	const char *console_socket; /* with tty */
} ctr_exec_opts;

int container_exec(berth_store *s, ctr_record *r, const ctr_exec_opts *o, pid_t *pid,
                   berth_error **err) __attribute__((warn_unused_result));

/* --- stop / kill / wait / remove --- */

/* Docker's stop: the stop signal, then SIGKILL after timeout seconds
 * (timeout < 0: the container's StopTimeout, default 10). */
int container_stop(berth_store *s, ctr_record *r, int timeout, berth_error **err)
    __attribute__((warn_unused_result));
int container_kill(berth_store *s, ctr_record *r, int sig, berth_error **err)
    __attribute__((warn_unused_result));
/* Block until the container is not running; returns its exit code. */
int container_wait(berth_store *s, ctr_record *r, int *exit_code, berth_error **err)
    __attribute__((warn_unused_result));
/* Remove: force kills a running container first; volumes also removes its
 * anonymous volumes. */
int container_remove(berth_store *s, ctr_record *r, bool force, bool volumes, berth_error **err);
/* Post-exit cleanup (runtime state, cgroup); with rm also remove the
 * container and its anonymous volumes. Idempotent. */
int container_cleanup(berth_store *s, ctr_record *r, bool rm, berth_error **err);
/* The same for the attached client (run, start -a) once the exit came, with
 * the attach socket: the monitor removes the runtime state and cgroup
 * meanwhile; answers the monitor (container_ack_cleanup) and returns once
 * the monitor is done. */
int container_cleanup_attached(berth_store *s, ctr_record *r, bool rm, int sock, berth_error **err);
/* The monitor's cleanup when the record is gone (rm -f won a race with the
 * start, before the runtime state existed): delete the runtime state and
 * the cgroup by the container's full ID and move its directory aside for
 * the monitor to remove. -1 if id is not a full ID. */
int container_cleanup_orphan(berth_store *s, const char *id);
int container_pause(berth_store *s, ctr_record *r, bool pause, berth_error **err);
int container_rename(berth_store *s, ctr_record *r, const char *new_name, berth_error **err)
    __attribute__((warn_unused_result));

/* Record a failed start (no monitor ran): State.Error and an exit code as
 * Docker's (127 not found, 126 cannot invoke, 128 otherwise). */
void container_set_exit_error(berth_store *s, ctr_record *r, const berth_error *e);

/* --- filesystem (fs.c) --- */

/* The container's filesystem as a tar stream (docker export). */
int container_export(berth_store *s, ctr_record *r, int out_fd, berth_error **err);
/* "A /path", "C /path", "D /path" lines, sorted (docker diff). */
int container_diff(berth_store *s, ctr_record *r, char ***lines, berth_error **err);
/* docker cp: host_path "-" is a tar stream on stdout / stdin. */
int container_cp_from(berth_store *s, ctr_record *r, const char *ctr_path, const char *host_path,
                      bool archive, berth_error **err);
int container_cp_to(berth_store *s, ctr_record *r, const char *host_path, const char *ctr_path,
                    bool archive, berth_error **err);
/* docker update: resources and restart policy; body is an UpdateConfig. */
int container_update(berth_store *s, ctr_record *r, json_t *update, berth_error **err);
/* Pids of the container's processes. */
int container_pids(berth_store *s, ctr_record *r, pid_t **pids, size_t *n, berth_error **err);

/* NET I/O of `stats`: bytes received and sent by the interfaces of the
 * container's network namespace except lo (0/0 with --network host or
 * when it is not running). */
int container_net_io(const ctr_record *r, uint64_t *rx, uint64_t *tx, berth_error **err);
/* Sum the rx/tx bytes of a /proc/net/dev text, lo excluded; returns the
 * number of interfaces counted. */
int container_netdev_sum(const char *text, size_t len, uint64_t *rx, uint64_t *tx);

/* The json-file "attrs" of the container's entries, from its log options
 * labels=, labels-regex=, env=, env-regex= (Docker's ExtraAttributes):
 * *out is the JSON object text (keys sorted, Go's encoding) or NULL when
 * there are none. */
int container_log_attrs(const json_t *config, char **out, berth_error **err)
    __attribute__((warn_unused_result));

/* docker container prune: remove the stopped (exited, created, dead)
 * containers that pass Docker's filters: created before until_ns, with all
 * of labels ("KEY" or "KEY=VALUE"), not with all of not_labels (label!=).
 * *removed lists the IDs; *reclaimed is the sum of their SizeRw. */
typedef struct ctr_prune_opts {
	bool has_until;
	int64_t until_ns;
	char **labels, **not_labels;
} ctr_prune_opts;
int container_prune(berth_store *s, const ctr_prune_opts *o, char ***removed, int64_t *reclaimed,
                    berth_error **err) __attribute__((warn_unused_result));

/* docker commit. */
typedef struct ctr_commit_opts {
	const char *reference; /* REPOSITORY[:TAG] or NULL */
	const char *author, *message;
	char **changes; /* Dockerfile lines (-c) */
	bool pause;
} ctr_commit_opts;
int container_commit(berth_store *s, ctr_record *r, const ctr_commit_opts *o,
                     char id[DIGEST_STR_LEN + 1], berth_error **err)
    __attribute__((warn_unused_result));

/* --- inspect --- */

json_t *container_inspect_json(berth_store *s, ctr_record *r, bool size);

/* --- monitor-side helpers (berth container __restart / __health) --- */
int container_restart_for_monitor(berth_store *s, const ctr_env *env, ctr_record *r,
                                  berth_error **err) __attribute__((warn_unused_result));
int container_healthcheck_run(berth_store *s, ctr_record *r, berth_error **err)
    __attribute__((warn_unused_result));

/* --- mount specifications (mountspec.c; parsers of user input) --- */

/* --mount key=value,... -> a HostConfig.Mounts entry (Docker's API shape). */
int ctr_mount_flag_parse(const char *v, json_t **out, berth_error **err);
/* -v "SRC:DST[:MODE]" / "DST". */
typedef struct ctr_bind_spec {
	char *src; /* NULL: anonymous volume; "/...": bind; else a volume name */
	char *dst;
	char *mode;
	bool rw, nocopy;
	const char *propagation; /* static string or NULL */
} ctr_bind_spec;
int ctr_bind_spec_parse(const char *spec, ctr_bind_spec *out, berth_error **err);
void ctr_bind_spec_clear(ctr_bind_spec *b);
/* "ctrl-p,ctrl-q" -> key bytes; returns the count or -1. */
int ctr_parse_detach_keys(const char *spec, unsigned char *keys, size_t cap);

/* --- network hooks (nethook.c, served by src/network) --- */

/* Called by start between creating the container (its network namespace
 * exists: /proc/<pid>/ns/net) and starting it: leases, veths, published
 * ports, hosts/resolv.conf. Nothing for --network none|host. */
int container_network_attach(berth_store *s, const char *id, json_t *config, pid_t pid,
                             berth_error **err);
/* Called on cleanup, after the container stopped. */
int container_network_detach(berth_store *s, const char *id, json_t *config, berth_error **err);
/* Called at rm, before the record goes: detach, or nothing to write now
 * when nothing is live (network_ctr_forget). */
int container_network_forget(berth_store *s, const char *id, json_t *config, berth_error **err);
/* Docker's NetworkSettings now; NULL if unknown. */
json_t *container_network_settings(berth_store *s, const char *id);
/* ps's PORTS column. */
char *container_network_ports_text(berth_store *s, const char *id);
/* IDs of the containers that publish ports (sorted; NULL: none). */
char **container_network_ids_with_ports(berth_store *s);

#endif
