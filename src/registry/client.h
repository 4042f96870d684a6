/* The distribution client over libcurl: one reg_client per registry host,
 * shared by the threads of a pull or push (its token cache is locked).
 *
 * Transport: HTTPS with the system CA store plus the CA certificates
 * (*.crt) and client certificates (*.cert + *.key) in
 * /etc/berth/certs.d/HOST[:PORT]/ and /etc/docker/certs.d/HOST[:PORT]/
 * ($BERTH_CERTS_DIR replaces the first). Registries on loopback addresses
 * and those listed in "insecure-registries" may also be plain HTTP: HTTPS
 * is tried first (verified when certs.d has a CA for the host, else not)
 * and HTTP after a TLS handshake failure, as Docker does.
 *
 * Auth: anonymous, basic, or the bearer-token flow: a 401 with
 * "WWW-Authenticate: Bearer realm=...,service=...,scope=..." makes the
 * client fetch a token from realm (with the credentials, if any), cache it
 * per scope until it expires, and retry. Credentials are given or looked
 * up (creds.h).
 *
 * Transient failures (connection errors, 5xx, 429) are retried with
 * exponential backoff; blob downloads resume with Range where they broke
 * off. Blobs are verified against their digest while they stream. */
#ifndef BERTH_REGISTRY_CLIENT_H
#define BERTH_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/config.h"
#include "base/digest.h"
#include "base/error.h"

typedef struct reg_client reg_client;

typedef struct reg_client_opts {
	const berth_config *config; /* insecure-registries; may be NULL */
	const char *user, *pass; /* explicit credentials; else looked up */
	bool no_creds_lookup; /* anonymous unless user/pass given */
	int retries; /* attempts after the first; <0: default 4 */
} reg_client_opts;

/* host: "docker.io" (API at registry-1.docker.io), "HOST[:PORT]", or a
 * mirror URL "https://mirror.example". Nothing is sent yet. */
int reg_client_new(const char *host, const reg_client_opts *opts, reg_client **out,
                   berth_error **err);
void reg_client_free(reg_client *c);
static inline void reg_client_freep(reg_client **c)
{
	reg_client_free(*c);
}
#define _cleanup_reg_client_ __attribute__((cleanup(reg_client_freep)))

/* GET /v2/: checks reachability and, with credentials, that they are
 * accepted (the token flow for bearer registries). BERTH_E_AUTH when not. */
int reg_ping(reg_client *c, berth_error **err);
/* "http" or "https", after the first request. */
const char *reg_client_scheme(const reg_client *c);

/* Every Accept value for manifests and indexes. */
extern const char *const reg_manifest_accept;

typedef struct reg_manifest {
	char *body;
	size_t len;
	char *media_type; /* Content-Type as sent */
	char digest[DIGEST_STR_LEN + 1]; /* sha256 of body */
} reg_manifest;
void reg_manifest_clear(reg_manifest *m);

/* GET a manifest by tag or digest. By digest the body is verified
 * (BERTH_E_CORRUPT on mismatch). BERTH_E_NOTFOUND for unknown ones. */
int reg_get_manifest(reg_client *c, const char *repo, const char *ref, reg_manifest *out,
                     berth_error **err);
/* HEAD a manifest: *digest (caller frees) or BERTH_E_NOTFOUND. */
int reg_head_manifest(reg_client *c, const char *repo, const char *ref, char **digest,
                      berth_error **err);
int reg_put_manifest(reg_client *c, const char *repo, const char *ref, const char *media_type,
                     const void *body, size_t len, char **digest_out, berth_error **err);

/* Receives the blob's bytes in order. Return <0 (with *err) to abort. */
typedef int (*reg_sink_fn)(void *opaque, const void *buf, size_t n, berth_error **err);
/* Told of progress: bytes so far of total (total -1 when unknown). */
typedef void (*reg_progress_fn)(void *opaque, uint64_t done, int64_t total);

/* Download a blob into sink, verifying it against digest (and size when
 * >= 0) as it streams: a mismatch is BERTH_E_CORRUPT ("filesystem layer
 * verification failed for digest ..."). Interrupted transfers resume from
 * the last byte delivered. Redirects are followed. */
int reg_get_blob(reg_client *c, const char *repo, const char *digest, int64_t size,
                 reg_sink_fn sink, void *sink_opaque, reg_progress_fn progress,
                 void *progress_opaque, berth_error **err);
/* HEAD a blob: 1 present (size in *size), 0 absent. */
int reg_blob_exists(reg_client *c, const char *repo, const char *digest, int64_t *size,
                    berth_error **err);

/* Source of an upload: fill buf with up to n bytes; 0 at the end. */
typedef ssize_t (*reg_source_fn)(void *opaque, void *buf, size_t n, berth_error **err);
/* Start a source over from its first byte (to resend after a 401 asked for
 * a new token). May be NULL: such uploads are sent once. */
typedef int (*reg_rewind_fn)(void *opaque, berth_error **err);

typedef struct reg_upload_opts {
	const char *mount_from; /* try a cross-repository mount first (may be NULL) */
	uint64_t chunk_size; /* 0: monolithic PUT; else PATCH chunks of this size */
	reg_rewind_fn rewind; /* may be NULL */
} reg_upload_opts;

/* Upload a blob of known digest and size from source. *mounted tells
 * whether the registry mounted it from opts->mount_from instead. With no
 * source (NULL), only the mount is tried: the upload session a registry
 * opens when it cannot mount is cancelled and *mounted is false. */
int reg_upload_blob(reg_client *c, const char *repo, const char *digest, int64_t size,
                    reg_source_fn source, void *source_opaque, const reg_upload_opts *opts,
                    reg_progress_fn progress, void *progress_opaque, bool *mounted,
                    berth_error **err);
/* Upload a blob whose digest is computed while it streams (PATCH without
 * a length, then PUT ?digest=). Returns the digest and size. */
int reg_upload_stream(reg_client *c, const char *repo, reg_source_fn source, void *source_opaque,
                      reg_rewind_fn rewind, reg_progress_fn progress, void *progress_opaque,
                      char digest[DIGEST_STR_LEN + 1], uint64_t *size, berth_error **err);

/* All tags of a repository (following Link pagination). */
int reg_list_tags(reg_client *c, const char *repo, char ***tags, berth_error **err);

/* GET /v1/search?q=&n= (the registries that offer it). Returns the body
 * of a 200 answer; any other status is an error ("Unexpected status code N",
 * as Docker says). */
int reg_search(reg_client *c, const char *term, int limit, char **json_out, size_t *len,
               berth_error **err);

/* Is host a loopback registry or listed in insecure-registries? */
bool reg_host_insecure(const berth_config *cfg, const char *host);

#endif
