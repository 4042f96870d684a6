/* Layer apply (tar stream -> directory) and layer diff (directory -> tar).
 *
 * layer_apply unpacks a layer tar (plain, gzip or zstd, detected by magic)
 * into a new, empty directory, in the overlayfs lower-dir format:
 *   - ".wh.NAME" entries become whiteouts: a character device 0/0 named NAME;
 *   - "DIR/.wh..wh..opq" sets the xattr trusted.overlay.opaque=y on DIR (the
 *     marker file itself is not created);
 *   - owners (numeric uid/gid), modes incl. setuid/setgid/sticky, mtimes,
 *     xattrs from PAX headers (SCHILY.xattr.*), hard links, symlinks, device
 *     nodes and fifos are kept.
 *
 * Security: whatever the tar says, nothing is written outside the target
 * directory. Every parent path is resolved beneath dest_dirfd without
 * following any symlink (a symlink is data, it is never followed while
 * extracting, also not one the same archive created earlier). An entry
 * whose name is absolute or has a ".." component, whose parent path goes
 * through a symlink, or a hard link whose target is outside the layer or
 * reached through a symlink makes layer_apply fail with an error naming the
 * entry: layer entry "../x": path escapes the layer root.
 *
 * Contract on failure: layer_apply leaves whatever it had extracted so far
 * in dest_dirfd; the caller removes the partial directory (layer_apply_path
 * does that for you). The directory must not be used as a layer then. */
#ifndef BERTH_IMAGE_LAYER_H
#define BERTH_IMAGE_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/digest.h"
#include "base/error.h"
#include "store/store.h"

typedef struct layer_apply_result {
	char diff_id[DIGEST_STR_LEN + 1]; /* sha256 of the uncompressed tar stream */
	char digest[DIGEST_STR_LEN + 1]; /* sha256 of the bytes read from src_fd */
	uint64_t size; /* sum of regular file sizes, as Docker's layer Size */
	bool split_ok; /* opts->split can regenerate the stream from the layer */
} layer_apply_result;

typedef struct layer_apply_opts {
	bool in_userns; /* reserved: no mknod, whiteouts as xattrs later */
	/* When set, gets the stream's tar-split (store.h): its bytes with the
	 * contents of regular files replaced by references to the files made.
	 * Only usable when res->split_ok: no entry replaced or removed an
	 * earlier one of the same layer (whose bytes are then gone). */
	tarsplit *split;
} layer_apply_opts;

/* Read a tar, tar+gzip or tar+zstd stream (detected by magic) from src_fd
 * until EOF and unpack it into the directory dest_dirfd (a new, empty
 * directory). opts may be NULL. The digests cover every byte of the stream,
 * also what follows the tar's end-of-archive blocks. On failure the caller
 * removes dest_dirfd's directory (see above). */
int layer_apply(int src_fd, int dest_dirfd, const layer_apply_opts *opts, layer_apply_result *res,
                berth_error **err) __attribute__((warn_unused_result));

/* A byte source instead of a file descriptor, one of:
 *  - read: copy up to n bytes into buf; 0 at the end, < 0 on error (with
 *    *err set);
 *  - next: point *p at the next 1..max bytes (0 at the end), which stay
 *    valid and unchanged until layer_apply returns (a mapped file): no
 *    copy is made of them. */
typedef ssize_t (*layer_read_fn)(void *opaque, void *buf, size_t n, berth_error **err);
typedef int (*layer_next_fn)(void *opaque, const unsigned char **p, size_t *len, size_t max,
                             berth_error **err);
typedef struct layer_source {
	layer_read_fn read;
	layer_next_fn next;
	void *opaque;
} layer_source;

/* layer_apply over a byte source. */
int layer_apply_source(const layer_source *src, int dest_dirfd, const layer_apply_opts *opts,
                       layer_apply_result *res, berth_error **err)
    __attribute__((warn_unused_result));

/* Create the directory dest_path (mode 0755; it must not exist), apply the
 * layer into it, and remove it again if that fails. */
int layer_apply_path(int src_fd, const char *dest_path, const layer_apply_opts *opts,
                     layer_apply_result *res, berth_error **err)
    __attribute__((warn_unused_result));

typedef struct layer_diff_opts {
	bool overlay_whiteouts; /* true: convert overlay whiteouts/opaque xattrs to .wh. entries */
} layer_diff_opts;

/* Write a tar of the directory dirfd to out_fd (uncompressed), sorted by
 * name so the same tree always gives the same bytes; returns diff_id (sha256
 * of the bytes written) and size (sum of regular file sizes). The root
 * directory itself is not an entry. Docker's conventions: names without
 * "./", directories with a trailing "/", USTAR headers and PAX where needed
 * (long or non-ASCII names, big numbers, xattrs: security.capability only),
 * hard links by inode as link entries, numeric uid/gid with empty
 * uname/gname, mtimes in whole seconds, sockets skipped. */
int layer_diff(int dirfd, int out_fd, const layer_diff_opts *opts, char diff_id[DIGEST_STR_LEN + 1],
               uint64_t *size, berth_error **err) __attribute__((warn_unused_result));

#endif
