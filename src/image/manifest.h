/* Image manifests and indexes: Docker image manifest v2 schema 2 and
 * manifest lists, OCI image manifests and indexes. Parsing validates;
 * writers produce the bytes Docker would (Go's encoding, three-space
 * indentation, Docker's key order). Image configs are in image/config.h. */
#ifndef BERTH_IMAGE_MANIFEST_H
#define BERTH_IMAGE_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"
#include "image/platform.h"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_MANIFEST_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define MT_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar"
#define MT_DOCKER_LAYER_FOREIGN_GZIP "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_DOCKER_PLUGIN_CONFIG "application/vnd.docker.plugin.v1+json"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_OCI_LAYER_ND "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MT_OCI_LAYER_ND_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MT_OCI_LAYER_ND_ZSTD "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"
#define MT_OCI_LAYOUT_HEADER "application/vnd.oci.layout.header.v1+json"

/* OCI annotation keys used by layouts and docker save/load. */
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOTATION_CREATED "org.opencontainers.image.created"

enum manifest_kind {
	MANIFEST_DOCKER_V2 = 1, /* one image, Docker media types */
	MANIFEST_DOCKER_LIST, /* index of manifests, Docker media types */
	MANIFEST_OCI, /* one image (or artifact), OCI media types */
	MANIFEST_OCI_INDEX, /* index, OCI media types */
};

enum layer_compression {
	LAYER_UNKNOWN = 0, /* not a layer media type */
	LAYER_UNCOMPRESSED,
	LAYER_GZIP,
	LAYER_ZSTD,
};

typedef struct oci_descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	char **urls; /* NULL when absent */
	json_t *annotations; /* object of strings, NULL when absent */
	oci_platform *platform; /* NULL when absent */
	char *artifact_type; /* NULL when absent */
} oci_descriptor;

typedef struct manifest {
	enum manifest_kind kind;
	const char *media_type; /* the manifest's own media type (static string) */
	json_t *json; /* the document as parsed */
	/* image manifests */
	oci_descriptor config;
	oci_descriptor *layers;
	size_t n_layers;
	/* indexes and manifest lists */
	oci_descriptor *manifests;
	size_t n_manifests;
	/* both */
	json_t *annotations; /* NULL when absent */
	oci_descriptor *subject; /* NULL when absent */
	char *artifact_type; /* NULL when absent */
} manifest;

/* Parse and validate a manifest or index. content_type is the registry's
 * Content-Type or the descriptor's media type (NULL or a generic JSON type
 * when unknown); the kind then comes from the "mediaType" field or, for
 * OCI documents without one, from the shape. Errors are BERTH_E_INVALID
 * (malformed) or BERTH_E_UNSUPPORTED (schema 1, unknown media type). */
int manifest_parse(const char *buf, size_t len, const char *content_type, manifest **out,
                   berth_error **err);
void manifest_free(manifest *m);
static inline void manifest_freep(manifest **m)
{
	manifest_free(*m);
}
#define _cleanup_manifest_ __attribute__((cleanup(manifest_freep)))

static inline bool manifest_is_index(const manifest *m)
{
	return m->kind == MANIFEST_DOCKER_LIST || m->kind == MANIFEST_OCI_INDEX;
}

/* Pick the entry of an index for a platform (NULL os/arch/variant: the
 * host's, linux/amd64 on x86-64). Best variant match wins (exact variant,
 * then older ones, then none), then list order; entries without a platform
 * come last. Returns a pointer into m, or NULL with an error listing the
 * platforms available. */
const oci_descriptor *manifest_choose_platform(const manifest *m, const char *os, const char *arch,
                                               const char *variant, berth_error **err);

/* Media type helpers. */
bool media_type_is_manifest(const char *mt); /* image manifest, Docker or OCI */
bool media_type_is_index(const char *mt); /* manifest list or OCI index */
bool media_type_is_config(const char *mt); /* image config, Docker or OCI */
/* LAYER_UNKNOWN when mt is no layer type known to berth. */
enum layer_compression media_type_layer_compression(const char *mt);
bool media_type_is_foreign_layer(const char *mt); /* Docker foreign / OCI non-distributable */

/* Digest as the OCI spec allows in descriptors: algorithm grammar
 * [a-z0-9]+([+._-][a-z0-9]+)*, encoded [a-zA-Z0-9=_-]+; sha256 needs 64 and
 * sha512 128 lowercase hex digits. */
bool oci_digest_valid(const char *d);

/* Descriptors */
void oci_descriptor_clear(oci_descriptor *d);
void oci_descriptor_copy(oci_descriptor *dst, const oci_descriptor *src);
/* Parse one descriptor object (what names it in errors). */
int oci_descriptor_parse(const json_t *j, const char *what, oci_descriptor *out, berth_error **err);
/* The descriptor as JSON. docker_order puts "size" before "digest" as
 * Docker's distribution.Descriptor does; OCI's order is mediaType, digest,
 * size. */
json_t *oci_descriptor_to_json(const oci_descriptor *d, bool docker_order);

/* Writers. The result is the exact bytes to store and push (Go encoding,
 * three-space indentation, as docker push writes); digest_out (NULL or
 * DIGEST_STR_LEN + 1 bytes) gets "sha256:<hex>" of them. kind is MANIFEST_DOCKER_V2 or MANIFEST_OCI. */
char *manifest_write_image(enum manifest_kind kind, const oci_descriptor *config,
                           const oci_descriptor *layers, size_t n_layers, const json_t *annotations,
                           char *digest_out);
/* kind is MANIFEST_DOCKER_LIST or MANIFEST_OCI_INDEX. */
char *manifest_write_index(enum manifest_kind kind, const oci_descriptor *manifests,
                           size_t n_manifests, const json_t *annotations, char *digest_out);

#endif
