/* Image configs (Docker's application/vnd.docker.container.image.v1+json
 * and OCI's image config) and layer chain IDs.
 *
 * The parsed document is kept (c->json): unknown fields survive, and
 * image_config_dump() of an unchanged config gives back the bytes Docker
 * wrote, so the image ID stays the same. The typed fields are read-only
 * copies, refreshed by every image_config_set_* call. */
#ifndef BERTH_IMAGE_CONFIG_H
#define BERTH_IMAGE_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

typedef struct image_history {
	char *created; /* RFC 3339, NULL when absent */
	char *author;
	char *created_by;
	char *comment;
	bool empty_layer;
} image_history;

typedef struct image_healthcheck {
	char **test; /* ["CMD", ...], ["CMD-SHELL", "..."], ["NONE"]; NULL when absent */
	int64_t interval, timeout, start_period, start_interval; /* nanoseconds, 0 = default */
	int64_t retries;
} image_healthcheck;

typedef struct image_label {
	char *key, *value;
} image_label;

/* The "config" object: what a container made from the image starts with. */
typedef struct image_runconfig {
	char *user, *working_dir, *stop_signal; /* NULL when absent or "" */
	char **env, **cmd, **entrypoint, **shell, **on_build; /* NULL when null/absent */
	char **exposed_ports; /* "8080/tcp", ...; NULL when none */
	char **volumes; /* "/data", ...; NULL when none */
	image_label *labels;
	size_t n_labels;
	image_healthcheck *healthcheck; /* NULL when absent */
	bool args_escaped;
	int64_t stop_timeout; /* seconds; -1 when absent */
} image_runconfig;

typedef struct image_config {
	json_t *json; /* the whole document */
	char *architecture, *variant, *os, *os_version; /* NULL when absent */
	char *created, *author, *comment; /* NULL when absent */
	image_runconfig config;
	char **diff_ids; /* rootfs.diff_ids, never NULL */
	size_t n_diff_ids;
	image_history *history;
	size_t n_history;
} image_config;

/* Parse and validate (types of known fields, rootfs with type "layers" and
 * valid diff IDs, RFC 3339 times). Errors: BERTH_E_INVALID,
 * "invalid image config: ...". */
int image_config_parse(const char *buf, size_t len, image_config **out, berth_error **err);
/* The bytes to store: Go's encoding of c->json (compact, key order kept). */
char *image_config_dump(const image_config *c);
/* sha256 of image_config_dump(): the image ID. */
void image_config_digest(const image_config *c, char out[DIGEST_STR_LEN + 1]);
void image_config_free(image_config *c);
static inline void image_config_freep(image_config **c)
{
	image_config_free(*c);
}
#define _cleanup_image_config_ __attribute__((cleanup(image_config_freep)))

/* A new config shaped as Docker writes one (top-level keys sorted, the full
 * container config with Docker's field order and nulls), with no layers
 * and no history. created is RFC 3339 (NULL: now). */
image_config *image_config_new(const char *os, const char *arch, const char *variant,
                               const char *created);

/* Setters keep Docker's layout: new keys go where Docker's encoder puts
 * them (sorted top level, struct order inside "config" and "history",
 * sorted maps). NULL removes a value (or writes null where Docker does). */
/* Top level strings: "architecture", "author", "comment", "created", "os",
 * "os.version", "variant". */
void image_config_set_string(image_config *c, const char *key, const char *value);
/* "User", "WorkingDir", "StopSignal". */
void image_config_set_run_string(image_config *c, const char *key, const char *value);
/* "Env", "Cmd", "Entrypoint", "Shell", "OnBuild". */
void image_config_set_run_strv(image_config *c, const char *key, char *const *v);
/* "ExposedPorts", "Volumes": a set, written as {"k":{}} with sorted keys. */
void image_config_set_run_set(image_config *c, const char *key, char *const *keys);
/* Labels[key] = value; value NULL deletes. */
void image_config_set_label(image_config *c, const char *key, const char *value);
void image_config_set_healthcheck(image_config *c, const image_healthcheck *h);
/* Any other field of "config" (steals value; NULL deletes). Fails when the
 * result does not validate. */
int image_config_set_run_json(image_config *c, const char *key, json_t *value, berth_error **err);
/* Append a layer's diff ID to rootfs.diff_ids. */
void image_config_add_diff_id(image_config *c, const char *diff_id);
void image_config_add_history(image_config *c, const image_history *h);

/* OCI chain ID: ChainID(L0) = DiffID(L0); ChainID(Ln) =
 * sha256(ChainID(Ln-1) + " " + DiffID(Ln)). parent NULL for the first. */
void chain_id(const char *parent, const char *diff_id, char out[DIGEST_STR_LEN + 1]);
/* The chain IDs of all layers (strv of n_diff_ids entries). */
char **image_config_chain_ids(const image_config *c);

#endif
