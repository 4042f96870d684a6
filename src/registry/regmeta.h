/* The registry module's records in berth.db: where each layer (by diff ID)
 * is known compressed on which registry and repository (as Docker's
 * v2metadata), and the manifest bytes an image was pulled or pushed with,
 * so that pushing a pulled image sends the very same bytes. */
#ifndef BERTH_REGISTRY_REGMETA_H
#define BERTH_REGISTRY_REGMETA_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "image/manifest.h"
#include "store/store.h"

typedef struct regmeta_layer {
	char *digest, *media_type;
	int64_t size;
	char *registry, *repo;
} regmeta_layer;
void regmeta_layers_free(regmeta_layer *v, size_t n);

/* After a pull committed image_id: its repo digest name
 * ("docker.io/library/busybox@sha256:..."), the manifest as pulled, and
 * each layer's compressed descriptor. */
int regmeta_record(berth_store *s, const char *image_id, const char *registry, const char *repo,
                   const char *digest_name, const char *manifest_digest, const char *media_type,
                   const char *body, size_t len, const manifest *m, char *const *diff_ids,
                   berth_error **err) __attribute__((warn_unused_result));
/* The source (registry "", this repo) that records what berth's own gzip
 * makes of a layer: pushing it anywhere again sends those very bytes, so
 * their digest and size are known before they are made. The name carries
 * the compressor's version (push.c's chunking and sampling rule). */
#define REGMETA_MADE_HERE "berth-gzip-2"
int regmeta_record_made(berth_store *s, const char *diff_id, const oci_descriptor *d,
                        berth_error **err) __attribute__((warn_unused_result));

/* Known compressed forms of a layer (oldest first). */
int regmeta_layer_sources(berth_store *s, const char *diff_id, regmeta_layer **out, size_t *n,
                          berth_error **err) __attribute__((warn_unused_result));
/* A manifest recorded for image_id (the one for registry/repo if there is
 * one, else any): 1 found, 0 none. */
int regmeta_manifest(berth_store *s, const char *image_id, const char *registry, const char *repo,
                     char **media_type, char **body, size_t *len, berth_error **err);

#endif
