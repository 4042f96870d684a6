/* Image operations on the store: records (images, tags, digests, layers),
 * resolution of a user's image argument, listing, tagging, removal,
 * pruning, import, load, save, inspect and history. Used by the CLI and the
 * API server alike; nothing here prints. */
#ifndef BERTH_IMAGE_IMAGE_H
#define BERTH_IMAGE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/digest.h"
#include "base/error.h"
#include "store/store.h"

/* Creates/migrates the "images" module's tables. Every entry point below
 * calls it; exposed for modules that join against the images tables. */
int image_store_init(berth_store *s, berth_error **err) __attribute__((warn_unused_result));

typedef struct image_info {
	char id[DIGEST_STR_LEN + 1]; /* sha256 of the config: Docker's image ID */
	char *config; /* the config's exact bytes (NUL-terminated) */
	size_t config_len;
	json_t *config_json; /* parsed config */
	size_t n_layers;
	char **diff_ids; /* base first (RootFS.Layers) */
	char **chain_ids; /* base first */
	char **layer_dirs; /* base first: layers/<chain>/diff */
	char **repo_tags; /* familiar: "busybox:latest" */
	char **repo_digests; /* familiar: "busybox@sha256:..." */
	char *created; /* config "created" (RFC 3339), "" if none */
	int64_t created_unix;
	int64_t size; /* sum of the layers' file sizes */
	char *parent; /* "" if none */
	char *last_tag_time; /* RFC 3339 nano, "" if never tagged */
} image_info;

void image_info_free(image_info *i);
static inline void image_info_freep(image_info **i)
{
	image_info_free(*i);
}
#define _cleanup_image_info_ __attribute__((cleanup(image_info_freep)))

/* Find an image the way Docker does: full ID ("sha256:<hex>" or 64 hex),
 * name, name:tag, name@digest, then a (short) ID prefix. BERTH_E_NOTFOUND
 * "No such image: NAME" when nothing matches. */
int image_resolve(berth_store *s, const char *name, image_info **out, berth_error **err)
    __attribute__((warn_unused_result));
/* The image a name (as the user gave it) resolved to last, kept where
 * run's start process, forked before the store opens, can read it
 * (root/image-refs/<FNV-1a hash of the name>: ID, config, layer
 * directories). Only a guess, checked against the record made from the
 * database; forgotten when the image is deleted. image_ref_load returns
 * NULL when there is none or it cannot be read (only id, config_json,
 * n_layers and layer_dirs are set). */
void image_ref_save(berth_store *s, const char *ref, const image_info *img);
image_info *image_ref_load(const char *root, const char *ref);
/* The overlayfs lowerdir option value: "top:...:base" (caller frees). */
char *image_lowerdir(const image_info *i);

/* --- listing --- */

typedef struct image_summary {
	char id[DIGEST_STR_LEN + 1];
	int64_t created_unix;
	int64_t size;
	char **tags; /* full names: docker.io/library/busybox:latest */
	char **digests; /* full names: docker.io/library/busybox@sha256:... */
	json_t *labels; /* config.Labels (NULL when none) */
	char *parent;
	bool in_use; /* used by a container (when the containers table exists) */
	int64_t containers; /* number of containers using it */
	int64_t shared_size; /* bytes in its layers that other images use too; -1 unless
	                        want_shared */
} image_summary;

typedef struct image_list_opts {
	bool all; /* -a: also intermediate images */
	int dangling; /* -1 any, 0 only tagged, 1 only dangling */
	char **references; /* reference= patterns (path.Match on familiar names) */
	char **labels; /* label=KEY or label=KEY=VALUE */
	char *before, *since; /* image names */
	bool want_labels;
	bool want_shared; /* fill shared_size (Docker's SharedSize) */
} image_list_opts;

int image_list(berth_store *s, const image_list_opts *opts, image_summary **out, size_t *n,
               berth_error **err) __attribute__((warn_unused_result));
void image_summaries_free(image_summary *v, size_t n);

/* Familiar form of a stored full reference name: "busybox:latest" for
 * "docker.io/library/busybox:latest" (caller frees). */
char *image_familiar(const char *full);

/* Does a familiar name match a reference= pattern (Go's path.Match)? */
bool image_ref_match(const char *pattern, const char *familiar);

/* --- tagging and removal --- */

/* Point TARGET (normalised; no digest) at SOURCE's image. */
int image_tag(berth_store *s, const char *source, const char *target, berth_error **err)
    __attribute__((warn_unused_result));

/* Docker's image delete: appends "Untagged: X" / "Deleted: sha256:..."
 * lines to *report (a strv). */
typedef struct image_remove_opts {
	bool force;
	bool no_prune;
} image_remove_opts;
int image_remove(berth_store *s, const char *name, const image_remove_opts *opts, char ***report,
                 berth_error **err) __attribute__((warn_unused_result));

/* Prune dangling (or with all, every unused) images; *report gets
 * "untagged: X" / "deleted: sha256:..." lines, *reclaimed the bytes.
 * Docker's prune filters narrow the set: until= (only images created
 * before), label=KEY[=VALUE] (only images with all of them), label!=
 * (not images that match all of them). */
typedef struct image_prune_opts {
	bool all;
	bool has_until;
	int64_t until_unix;
	char **labels;
	char **not_labels;
} image_prune_opts;
int image_prune(berth_store *s, const image_prune_opts *opts, char ***report, int64_t *reclaimed,
                berth_error **err) __attribute__((warn_unused_result));

/* --- import / load / save --- */

typedef struct image_import_opts {
	const char *source; /* "-" for stdin (or a file path) */
	int fd; /* the tar stream */
	char **changes; /* Dockerfile lines */
	const char *message; /* -m */
	const char *reference; /* REPOSITORY[:TAG] or NULL */
	const char *platform; /* os[/arch[/variant]] or NULL */
} image_import_opts;

int image_import(berth_store *s, const image_import_opts *opts, char id[DIGEST_STR_LEN + 1],
                 berth_error **err) __attribute__((warn_unused_result));
/* Download an http(s) URL (redirects followed) into an unlinked file in the
 * store's staging directory: *fd gets it, positioned at the start. An HTTP
 * error status fails. For `import URL`, as Docker's daemon does. */
int image_fetch_url(berth_store *s, const char *url, int *fd, berth_error **err)
    __attribute__((warn_unused_result));
/* Apply Dockerfile-style changes to a container config object (exposed for
 * commit). */
int image_apply_changes(json_t *config, char *const *changes, berth_error **err)
    __attribute__((warn_unused_result));

/* Load a docker-save or OCI layout archive (optionally gzip/zstd). *report
 * gets Docker's lines: "Loaded image: NAME" / "Loaded image ID: sha256:...". */
int image_load(berth_store *s, int fd, char ***report, berth_error **err)
    __attribute__((warn_unused_result));

enum image_save_format { IMAGE_SAVE_DOCKER = 0, IMAGE_SAVE_OCI };
int image_save(berth_store *s, char *const *names, enum image_save_format format, int out_fd,
               berth_error **err) __attribute__((warn_unused_result));

/* --- inspect / history / df --- */

/* Docker's image inspect object. */
json_t *image_inspect_json(berth_store *s, const image_info *i);

typedef struct image_history_entry {
	char *id; /* image ID for the top entry, "<missing>" otherwise */
	int64_t created_unix; /* 0 when unknown */
	char *created_by;
	int64_t size;
	char *comment;
	char **tags; /* familiar, for the top entry */
} image_history_entry;
int image_get_history(berth_store *s, const char *name, image_history_entry **out, size_t *n,
                      berth_error **err) __attribute__((warn_unused_result));
void image_history_free(image_history_entry *v, size_t n);

typedef struct image_df {
	int64_t images, active, size, reclaimable; /* sizes in bytes */
	int64_t shared_size; /* bytes in layers used by more than one image */
} image_df;
int image_disk_usage(berth_store *s, image_df *out, berth_error **err)
    __attribute__((warn_unused_result));

/* Containers using an image (0 without the containers module). */
void image_containers_count(berth_store *s, const char *id, int64_t *total, int64_t *running);

/* Parse a Docker config "created" time to Unix seconds (0 if unknown). */
int64_t image_time_unix(const char *rfc3339);

#endif
