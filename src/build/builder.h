/* The builder's shared state (builder.c: stages, steps, commits;
 * instructions.c: what each instruction does). src/build only. */
#ifndef BERTH_BUILD_BUILDER_H
#define BERTH_BUILD_BUILDER_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "build/build_int.h"
#include "build/dockerfile.h"
#include "image/config.h"

typedef struct builder builder;

/* One stage: FROM ... up to the next FROM. */
typedef struct bstage {
	size_t idx;
	char *name; /* "AS name", lower case, or NULL */
	size_t from; /* index of the FROM instruction */
	size_t end; /* one past its last instruction */
	bool needed;
	int state; /* 0 waiting, 1 building, 2 done, 3 failed */
	pthread_t thread;
	bool started;
	/* the result (valid when state == 2) */
	char image_id[DIGEST_STR_LEN + 1]; /* "" for scratch without steps */
	image_config *cfg;
	char **chain_ids;
} bstage;

/* The state of a stage while it builds. */
typedef struct sstate {
	builder *b;
	bstage *stage;
	image_config *cfg;
	char parent[DIGEST_STR_LEN + 1]; /* current image ID, "" for scratch */
	/* parent is a cache hit not loaded yet: cfg's "config" (and author)
	 * are current (each instruction applied them in memory), its history,
	 * rootfs and chain_ids/diff_ids are those of an earlier image.
	 * bld_load_parent() brings them up to date when a step needs them. */
	bool stale;
	char **chain_ids; /* base first */
	char **diff_ids;
	char **arg_keys; /* declared ARGs (values NULL when unset) */
	char **arg_vals;
	size_t n_args;
	bool cmd_set;
	int step, n_steps; /* for "[name k/n]" */
	const char *filename;
} sstate;

struct builder {
	berth_store *s;
	const build_opts *o;
	dockerfile *df;
	build_context *ctx;
	bstage *stages;
	size_t n_stages;
	size_t target;
	char **meta_keys, **meta_vals; /* ARGs before the first FROM, resolved */
	char **bargs; /* --build-arg, "K=V" resolved */
	pthread_mutex_t mu; /* the store, stage states */
	pthread_cond_t cv;
	pthread_mutex_t pmu; /* progress */
	int next_vertex;
	bool failed;
	sqlite3_stmt *cache_get; /* build_cache_get's statement (under mu) */
	/* Directories to delete, renamed into the staging area first: freeing
	 * a directory's block is slow on some filesystems (ext4 with
	 * "discard" waits for the device), so a thread deletes them while
	 * the next steps run. */
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	char **trash; /* staging paths */
	bool trash_started, trash_closing;
	pthread_t trash_thread;
	berth_error *err;
	char *state_root; /* runtime state of RUN containers */
	int run_counter;
	struct timespec t0;
};

/* Move path (an entry of the staging area, or below one) out of the way
 * and delete it in the background; deletes it at once if it cannot. */
void bld_trash(builder *b, const char *path);

/* Progress. */
int bld_vertex(builder *b, const char *text);
void bld_event(builder *b, int kind, int vertex, const char *text, double elapsed);

/* A build arg given with --build-arg (NULL when not given). */
const char *bld_build_arg(builder *b, const char *key);
/* Expansion lookup over a stage state: ENV first, then declared ARGs. */
const char *bld_lookup(void *ud, const char *name);

/* A mounted step root: overlay of the current layers + a fresh upper. */
typedef struct steproot {
	char *staged; /* staging entry "<name>" holding diff/, work/, merged/ */
	char *path; /* staging path of the entry */
	char *merged;
	int rootfd;
	bool mounted;
	char **prune; /* dirs (relative) to drop from the upper when empty */
	char **created; /* mount points the runtime made: dropped when empty */
} steproot;

int bld_mount(sstate *st, steproot *r, berth_error **err);
/* Unmount; when the upper changed, turn it into a staged layer and blob. */
int bld_unmount(sstate *st, steproot *r, bool *empty, char diff_id[DIGEST_STR_LEN + 1],
                int64_t *size, char **blob, berth_error **err);
void bld_steproot_clear(builder *b, steproot *r);

/* A read-only view of an image's layers (for COPY --from, bind mounts,
 * --output): mounted in a new staging dir. */
typedef struct roview {
	char *path; /* staging path */
	char *staged;
	char *root; /* the directory to read */
	int rootfd;
	bool mounted;
} roview;
int bld_view(builder *b, char *const *chain_ids, roview *v, berth_error **err);
void bld_view_clear(builder *b, roview *v);

/* Finish a step: config history (+ layer), commit the step image, record
 * the cache entry. staged layer: steproot r with diff_id (NULL: empty). */
int bld_commit(sstate *st, const char *created_by, steproot *r, const char *diff_id, int64_t size,
               char *blob, const char *key, const char *ident, json_t *detail, berth_error **err);
/* Look a key up; on a hit the state moves to the cached image (loaded
 * lazily: see sstate.stale). */
int bld_cache_try(sstate *st, const char *key, bool *hit, berth_error **err);
/* Load the image a run of cache hits ended on (no-op unless stale). */
int bld_load_parent(sstate *st, berth_error **err);

/* Find a stage by name or index (before 'before'); waits until it built.
 * Returns NULL when name is no stage (an image, then). */
bstage *bld_stage_ref(builder *b, const char *name, size_t before, berth_error **err, bool *failed);
/* Resolve (pulling when missing) an image for FROM / --from. */
int bld_image(builder *b, const char *name, char id[DIGEST_STR_LEN + 1], image_config **cfg,
              char ***chain_ids, berth_error **err);

/* instructions.c: run one instruction of a stage. */
int bld_dispatch(sstate *st, const df_instr *in, berth_error **err);
/* --label: one LABEL step at the end of the target stage. */
int bld_labels(sstate *st, char *const *labels, berth_error **err);
/* The shell of the stage: config Shell or ["/bin/sh", "-c"]. */
char **bld_shell(sstate *st);

#endif
