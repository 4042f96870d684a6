/* Storage of berth's registry server: content-addressed blobs shared by
 * all repositories (dedupe), per-repository links, tags, manifest media
 * types, referrers and upload sessions, all plain files under one root:
 *
 *   blobs/sha256/<hex>                  blob and manifest contents
 *   uploads/<uuid>/{repo,data}          upload sessions in progress
 *   repos/<name>/_blobs/<hex>           blob linked into the repository
 *   repos/<name>/_manifests/<hex>       manifest revision; holds its media type
 *   repos/<name>/_tags/<tag>            holds "sha256:<hex>"
 *   repos/<name>/_referrers/<subject-hex>/<hex>
 *
 * Names, tags and digests are validated by the caller (proto.h), so they
 * never contain "..". Every file appears by rename(2): a reader sees the
 * old or the new contents, never a partial one. */
#ifndef BERTH_REGISTRY_REGSTORE_H
#define BERTH_REGISTRY_REGSTORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/digest.h"
#include "base/error.h"

typedef struct regstore {
	int rootfd;
	char *root;
} regstore;

int regstore_open(const char *root, bool create, regstore *rs, berth_error **err);
void regstore_close(regstore *rs);

/* Open a blob for reading (BERTH_E_NOTFOUND when absent). */
int regstore_blob_open(regstore *rs, const char *digest, int *fd, uint64_t *size,
                       berth_error **err);
bool regstore_blob_exists(regstore *rs, const char *digest);
/* The blob is linked into the repository (as a blob or a manifest). */
bool regstore_repo_has_blob(regstore *rs, const char *name, const char *digest);
int regstore_link_blob(regstore *rs, const char *name, const char *digest, berth_error **err);
/* BERTH_E_NOTFOUND when not linked. */
int regstore_unlink_blob(regstore *rs, const char *name, const char *digest, berth_error **err);

/* Resolve a tag or digest: the manifest's digest and stored media type. */
int regstore_manifest_get(regstore *rs, const char *name, const char *ref, char **digest,
                          char **media_type, berth_error **err);
bool regstore_manifest_exists(regstore *rs, const char *name, const char *digest);
/* Store a verified manifest: blob, revision link, tag (if tag != NULL),
 * referrer link (if subject != NULL). */
int regstore_manifest_put(regstore *rs, const char *name, const char *tag, const char *digest,
                          const char *media_type, const void *data, size_t len, const char *subject,
                          berth_error **err);
/* Delete by digest (revision, its tags and referrer links) or by tag. */
int regstore_manifest_delete(regstore *rs, const char *name, const char *ref, berth_error **err);

/* Sorted tags / repositories. BERTH_E_NOTFOUND for an unknown repository. */
int regstore_tags(regstore *rs, const char *name, char ***tags, berth_error **err);
int regstore_catalog(regstore *rs, char ***repos, berth_error **err);
bool regstore_repo_exists(regstore *rs, const char *name);
/* Descriptors of the manifests whose subject is digest (a JSON array),
 * filtered by artifactType when artifact_type != NULL. */
int regstore_referrers(regstore *rs, const char *name, const char *digest,
                       const char *artifact_type, json_t **out, berth_error **err);

/* Upload sessions. The id is generated here. */
int regstore_upload_create(regstore *rs, const char *name, char **uuid, berth_error **err);
/* Open the session's data file for appending; checks it belongs to name.
 * BERTH_E_NOTFOUND when unknown. */
int regstore_upload_open(regstore *rs, const char *name, const char *uuid, int *fd, uint64_t *size,
                         berth_error **err);
/* The data's digest has been verified by the caller: move it into blobs
 * (or drop it when the blob exists already) and link it into name. */
int regstore_upload_commit(regstore *rs, const char *name, const char *uuid, const char *digest,
                           berth_error **err);
int regstore_upload_cancel(regstore *rs, const char *uuid, berth_error **err);

typedef struct regstore_gc_stats {
	unsigned blobs_kept, blobs_removed;
	uint64_t bytes_removed;
	unsigned links_removed;
} regstore_gc_stats;
/* Mark every blob reachable from a manifest revision of any repository,
 * then remove the others (and the repository links to them). */
int regstore_gc(regstore *rs, bool dry_run, regstore_gc_stats *st, berth_error **err);

#endif
