/* Internals shared by the image operation files (not used outside
 * src/image). */
#ifndef BERTH_IMAGE_IMAGE_INT_H
#define BERTH_IMAGE_IMAGE_INT_H

#include <sys/types.h>

#include "image/image.h"

/* One layer of an image about to be committed. */
typedef struct image_layer_in {
	char diff_id[DIGEST_STR_LEN + 1];
	char chain_id[DIGEST_STR_LEN + 1];
	char parent[DIGEST_STR_LEN + 1]; /* parent chain, "" for the base */
	int64_t size;
	char *staged_dir; /* in staging, or NULL when the layer is already stored */
	char *staged_blob; /* the uncompressed tar in staging, or NULL */
	bool blob_split; /* staged_blob is the tar's tar-split (store.h) */
	/* a compressed form of the tar (digest compressed), kept as pulled:
	 * adopted into blobs/sha256 and recorded with the layer, or NULL */
	char *staged_compressed;
	bool compressed_split; /* staged_compressed is a compressed split */
	char compressed[DIGEST_STR_LEN + 1];
} image_layer_in;

/* Under the store lock, in one transaction: move staged blobs and layers
 * into place, store the config blob, insert the image (if new) with its
 * layer references, and point tags (full names) at it. Fails with
 * BERTH_E_NOTFOUND when a layer is neither staged nor stored (it was
 * removed concurrently; stage it and try again, see image_commit_retry).
 * *replaced gets the IDs of images that lost a tag to this one and are now
 * untagged. */
int image_commit(berth_store *s, const char *config, size_t config_len, const char *id,
                 image_layer_in *layers, size_t n, char *const *tags, char ***untagged_old,
                 berth_error **err) __attribute__((warn_unused_result));

/* image_commit, surviving rmi of layers between staging and commit (a
 * stored layer, or one an earlier failed attempt adopted, may be gone when
 * the store lock is ours): on BERTH_E_NOTFOUND, staged names that are gone
 * are dropped, restage(opaque, k, l) is called for each layer k that is
 * neither stored nor fully staged (directory, and blob unless stored),
 * and the commit is tried again (5 attempts). prepare(opaque, k, l), if
 * set, runs for every layer before each attempt (e.g. to link a kept copy
 * under a new staged name). Shared by load and pull. */
typedef int (*image_layer_fn)(void *opaque, size_t k, image_layer_in *l, berth_error **err);
int image_commit_retry(berth_store *s, const char *config, size_t config_len, const char *id,
                       image_layer_in *layers, size_t n, char *const *tags, char ***untagged_old,
                       image_layer_fn prepare, image_layer_fn restage, void *opaque,
                       berth_error **err) __attribute__((warn_unused_result));

/* Load one image's record by exact ID (NOTFOUND when absent). */
int image_get(berth_store *s, const char *id, image_info **out, berth_error **err)
    __attribute__((warn_unused_result));

/* Containers using image id (0 when the containers module is absent);
 * *running gets those running, *first one container ID (caller frees). */
int image_containers_using(berth_store *s, const char *id, int64_t *total, int64_t *running,
                           char **first, berth_error **err);

/* Seconds since the epoch from an RFC 3339 time. */
int64_t image_time_unix(const char *rfc3339);

/* A byte source: read up to n bytes into buf; 0 at the end. */
typedef ssize_t (*ingest_read_fn)(void *opaque, void *buf, size_t n, berth_error **err);
/* ingest_read_fn over an int fd (opaque points at the int). */
ssize_t image_fd_read(void *opaque, void *buf, size_t n, berth_error **err);

/* Read a layer (tar, tar+gzip, tar+zstd) from rd in one pass: unpack it into
 * a new staged layer directory (layer_apply in a second thread) and, when
 * keep_blob, write the uncompressed tar to a staged blob. Fills diff_id,
 * size, staged_dir, staged_blob of out (chain/parent are the caller's).
 * Fails with BERTH_E_CORRUPT when expected_diff_id is given and differs. */
int image_ingest_layer(berth_store *s, ingest_read_fn rd, void *opaque, bool keep_blob,
                       const char *expected_diff_id, image_layer_in *out, berth_error **err)
    __attribute__((warn_unused_result));
/* The same, but the blob is staged as the tar's tar-split (blob_split),
 * which refers to the files unpacked: the uncompressed data is written
 * once. A layer whose entries replace earlier ones of the same layer
 * cannot be given back from its files: then out->staged_blob is NULL and
 * the caller stages a copy from another source (image_stage_tar). */
int image_ingest_layer_split(berth_store *s, ingest_read_fn rd, void *opaque,
                             const char *expected_diff_id, image_layer_in *out, berth_error **err)
    __attribute__((warn_unused_result));
/* Stage the uncompressed bytes of rd (gzip, zstd or plain) as a blob,
 * checked against diff_id; *staged_name gets its name in staging. */
int image_stage_tar(berth_store *s, ingest_read_fn rd, void *opaque, const char *diff_id,
                    char **staged_name, berth_error **err) __attribute__((warn_unused_result));
/* Append to ts (tarsplit_init_compressed) the gzip stream c[0..n) with
 * the payload of each stored deflate block that inflates to itself as a
 * reference to the uncompressed stream (the concatenated members' output);
 * *referenced gets the bytes so referenced. BERTH_E_INVALID for a stream
 * that is not valid gzip (gzsplit.c). With quick, returns 1 (ts then
 * incomplete) as soon as the first eighth of the stream (at most 4 MiB)
 * turns out to be less than a quarter stored blocks. */
int image_gzip_split(const unsigned char *c, size_t n, tarsplit *ts, uint64_t *referenced,
                     bool quick, berth_error **err) __attribute__((warn_unused_result));
/* The same for a layer stored at [off, off + len) of the regular file fd
 * (a docker-save archive's layer.tar). An uncompressed layer's blob is
 * kept as a tar-split (blob_split): the unpacked files hold the data; a
 * layer whose entries replace earlier ones gets a copy of its bytes. A
 * compressed one goes the way above. */
int image_ingest_layer_range(berth_store *s, int fd, int64_t off, int64_t len, bool keep_blob,
                             const char *expected_diff_id, image_layer_in *out, berth_error **err)
    __attribute__((warn_unused_result));
/* A reader giving the uncompressed bytes of rd (gzip, zstd or plain,
 * detected by magic). image_decomp_read is an ingest_read_fn. */
typedef struct image_decomp image_decomp;
image_decomp *image_decomp_new(ingest_read_fn rd, void *opaque, berth_error **err);
ssize_t image_decomp_read(void *d, void *buf, size_t n, berth_error **err);
void image_decomp_free(image_decomp *d);

/* Remove what is still staged for l and free its names. */
void image_layer_in_clear(berth_store *s, image_layer_in *l);

/* A container config object with Docker's keys and order (new object;
 * c may be NULL). */
json_t *image_canonical_config(json_t *c);

/* --- save --- */

typedef struct image_save_item {
	image_info *img;
	char **tags; /* full names to record for it */
} image_save_item;
int image_save_collect(berth_store *s, char *const *names, image_save_item **out, size_t *n,
                       berth_error **err);
void image_save_items_free(image_save_item *v, size_t n);
int image_save_oci(berth_store *s, image_save_item *items, size_t n, int fd, berth_error **err);

/* Tar output helpers (Go archive/tar headers via image/tar.h). */
int image_tar_dir(int fd, const char *name, int64_t mtime, berth_error **err);
int image_tar_file(int fd, const char *name, const void *data, size_t len, int64_t mtime,
                   berth_error **err);
int image_tar_symlink(int fd, const char *name, const char *target, int64_t mtime,
                      berth_error **err);
int image_tar_blob(int fd, berth_store *s, const char *name, const char *digest, int64_t mtime,
                   berth_error **err);
int image_tar_end(int fd, berth_error **err);

#endif
