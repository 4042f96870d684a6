/* berth build: a Dockerfile and a context -> an image (or an exported
 * filesystem). Front ends (the CLI, the API server) fill build_opts, call
 * build_image and show the progress events; nothing here prints.
 *
 * Model (Docker's classic builder): every instruction after FROM is one
 * step whose result is an image; a filesystem-changing step adds one layer,
 * the others add an empty_layer history entry. Step images are untagged
 * and chained by their config's "parent", and the build cache (table
 * build_cache, module "build") maps a step's key to its image, so cached
 * results survive restarts and go away with their images. */
#ifndef BERTH_BUILD_BUILD_H
#define BERTH_BUILD_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "base/digest.h"
#include "base/error.h"
#include "store/store.h"

enum build_event_kind {
	BUILD_EV_STEP = 1, /* a vertex starts: text "[stage 2/5] RUN ..." */
	BUILD_EV_CACHED, /* the step's result came from the cache */
	BUILD_EV_MISS, /* text: why the cache missed */
	BUILD_EV_OUTPUT, /* one line of a RUN step's output */
	BUILD_EV_DONE, /* elapsed set */
	BUILD_EV_ERROR, /* text: the error */
	BUILD_EV_INFO, /* text: a line about the vertex ("writing image ...") */
};

typedef struct build_event {
	int kind; /* enum build_event_kind */
	int vertex; /* "#N" */
	const char *text;
	double elapsed; /* seconds since the vertex started */
} build_event;

/* Called from several threads; calls are serialised by the library. */
typedef void (*build_progress_fn)(void *ud, const build_event *ev);

typedef struct build_opts {
	const char *context_dir; /* a directory, or NULL with context_fd */
	int context_fd; /* a tar stream (context "-"), or -1 */
	const char *dockerfile; /* -f: a path (relative to the cwd); NULL: CONTEXT/Dockerfile;
	                         * with a tar context, a path inside it */
	const char *dockerfile_text; /* -f -: the Dockerfile's contents (or NULL) */
	size_t dockerfile_len;
	char **tags; /* -t, NULL-terminated */
	char **build_args; /* "K=V" or "K" (value from the environment) */
	char **labels; /* "K=V" */
	char **secrets; /* "id=x,src=path" / "id=x,env=VAR" */
	const char *target;
	const char *network; /* default, none, host */
	const char *output; /* "type=local,dest=DIR" | "type=tar,dest=FILE" | NULL */
	bool no_cache;
	const berth_config *config; /* for pulls (may be NULL) */
	build_progress_fn progress;
	void *progress_ud;
} build_opts;

/* Call once, early, while the process is single-threaded: puts the
 * process in a private mount namespace, so the overlay mounts of build
 * steps never show up on the host and vanish with the process. */
int build_prepare_process(berth_error **err) __attribute__((warn_unused_result));

/* Build. On success id is the final image's ID ("" with --output). Tags
 * are set only after every stage built: a failed or killed build tags
 * nothing. */
int build_image(berth_store *s, const build_opts *o, char id[DIGEST_STR_LEN + 1], berth_error **err)
    __attribute__((warn_unused_result));

/* The build cache's table (module "build"). */
int build_store_init(berth_store *s, berth_error **err) __attribute__((warn_unused_result));

#endif
