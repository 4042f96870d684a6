/* The distribution protocol's small grammars, shared by berth's registry
 * client and server: repository names, tags, URL routes, Range and
 * Content-Range headers, pagination, and challenge headers. Pure functions,
 * no I/O: each is fuzzed (tests/fuzz/fuzz_registry.c). */
#ifndef BERTH_REGISTRY_PROTO_H
#define BERTH_REGISTRY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Spec limits. */
#define REG_NAME_MAX 255
#define REG_TAG_MAX 128
#define REG_MANIFEST_MAX (4 * 1024 * 1024)

/* Known media types. */
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* */
bool reg_name_valid(const char *name);
/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
bool reg_tag_valid(const char *tag);
/* Upload session ids berth hands out (and accepts): [A-Za-z0-9-]{1,64}. */
bool reg_uuid_valid(const char *id);

enum reg_route_kind {
	REG_ROUTE_BASE = 1, /* /v2/ */
	REG_ROUTE_CATALOG, /* /v2/_catalog */
	REG_ROUTE_TAGS, /* /v2/<name>/tags/list */
	REG_ROUTE_MANIFEST, /* /v2/<name>/manifests/<reference> */
	REG_ROUTE_BLOB, /* /v2/<name>/blobs/<digest> */
	REG_ROUTE_UPLOAD_START, /* /v2/<name>/blobs/uploads/ */
	REG_ROUTE_UPLOAD, /* /v2/<name>/blobs/uploads/<uuid> */
	REG_ROUTE_REFERRERS, /* /v2/<name>/referrers/<digest> */
};

typedef struct reg_route {
	int kind;
	char *name; /* repository, NULL for BASE/CATALOG */
	char *ref; /* tag/digest/uuid, NULL when the route has none */
} reg_route;

void reg_route_clear(reg_route *r);

enum {
	REG_ROUTE_NOTFOUND = -1, /* not an API path */
	REG_ROUTE_BAD_NAME = -2, /* API path with an invalid repository name */
	REG_ROUTE_BAD_REF = -3, /* invalid tag / digest */
};
/* Parse a request path (without the query). Returns 0 or one of the
 * negative REG_ROUTE_* codes. */
int reg_route_parse(const char *path, reg_route *out);

/* "bytes=START-END", "bytes=START-", "bytes=-SUFFIX" (one range) against
 * a resource of `size` bytes. Returns 1 with [*start, *end] inclusive
 * when satisfiable, 0 when the header is unusable and must be ignored
 * (the whole resource is sent), -1 when unsatisfiable (416). */
int http_range_parse(const char *hdr, uint64_t size, uint64_t *start, uint64_t *end);
/* Content-Range of a chunked upload: "START-END" or "bytes START-END/..."
 * (inclusive). Returns 0 or -1 when malformed. */
int reg_content_range_parse(const char *s, uint64_t *start, uint64_t *end);
/* The Range header a registry returns on upload status: "0-END" (inclusive),
 * "START-END" in general. Returns 0 and the exclusive end offset. */
int reg_upload_range_parse(const char *s, uint64_t *end_exclusive);

/* Pagination: "n" must be a non-negative decimal. Returns 0 / -1. */
int reg_parse_page_n(const char *s, size_t *n);

/* A parsed WWW-Authenticate challenge: scheme plus auth-params. */
typedef struct reg_challenge {
	char *scheme; /* "Bearer", "Basic", ... */
	char *realm, *service, *scope;
	char *error; /* error="insufficient_scope" etc. */
} reg_challenge;
void reg_challenge_clear(reg_challenge *c);
/* Parse one challenge header value. Returns 0 or -1 when malformed. */
int reg_challenge_parse(const char *hdr, reg_challenge *out);

/* "Basic <base64(user:pass)>" -> allocated user and password; -1 when the
 * header is absent, of another scheme, or malformed. */
int http_basic_auth_parse(const char *hdr, char **user, char **pass);

/* Link header "<URL>; rel=\"next\"" -> allocated URL, or NULL. */
char *reg_link_next(const char *hdr);

#endif
