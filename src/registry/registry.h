/* Pull and push: images between berth's store and registries. Progress
 * and Docker's status lines reach the front end through callbacks (from
 * several threads; calls are serialised by the library). */
#ifndef BERTH_REGISTRY_REGISTRY_H
#define BERTH_REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/error.h"
#include "store/store.h"

/* Per-layer states, worded as Docker shows them. */
enum reg_layer_state {
	RL_WAITING = 1, /* "Waiting" */
	RL_PULLING_FS, /* "Pulling fs layer" */
	RL_ALREADY_EXISTS, /* "Already exists" */
	RL_DOWNLOADING, /* "Downloading" with progress */
	RL_VERIFYING, /* "Verifying Checksum" */
	RL_DOWNLOAD_COMPLETE, /* "Download complete" */
	RL_EXTRACTING, /* "Extracting" */
	RL_PULL_COMPLETE, /* "Pull complete" */
	RL_PREPARING, /* "Preparing" */
	RL_PUSHING, /* "Pushing" with progress */
	RL_PUSHED, /* "Pushed" */
	RL_LAYER_EXISTS, /* "Layer already exists" */
	RL_MOUNTED, /* "Mounted from REPO" */
};
const char *reg_layer_state_text(int state);

typedef struct reg_events {
	/* id: 12 hex digits; total < 0 when unknown; extra: the mount source */
	void (*layer)(void *opaque, const char *id, int state, uint64_t cur, int64_t total,
	              const char *extra);
	/* A status line: "latest: Pulling from library/busybox", "Digest: ...". */
	void (*line)(void *opaque, const char *text);
	void *opaque;
} reg_events;

typedef struct registry_pull_opts {
	const berth_config
	    *config; /* insecure-registries, registry-mirrors, max-concurrent-downloads */
	const char *platform; /* "os/arch[/variant]", NULL: the host's */
	bool all_tags;
	int max_concurrent; /* 0: config's max-concurrent-downloads or 3 */
	const reg_events *events; /* may be NULL */
} registry_pull_opts;

/* `docker pull NAME`. *full_name gets what Docker prints last
 * ("docker.io/library/busybox:latest"). */
int registry_pull(berth_store *s, const char *name, const registry_pull_opts *opts,
                  char **full_name, berth_error **err) __attribute__((warn_unused_result));

typedef struct registry_push_opts {
	const berth_config *config;
	bool all_tags;
	int max_concurrent; /* 0: config's max-concurrent-uploads or 5 */
	uint64_t chunk_size; /* 0: monolithic uploads; else PATCH chunks */
	const reg_events *events;
} registry_push_opts;

/* `docker push NAME[:TAG]`. */
int registry_push(berth_store *s, const char *name, const registry_push_opts *opts,
                  berth_error **err) __attribute__((warn_unused_result));

/* The "registry" module's tables (where pulled layers came from, and the
 * manifests pulled per image). */
int registry_store_init(berth_store *s, berth_error **err) __attribute__((warn_unused_result));

#endif
