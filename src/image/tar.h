/* Tar streams: a reader for ustar/GNU/PAX archives from any byte source,
 * and a writer of Go-archive/tar-compatible headers (as Docker writes).
 * Internal to src/image (layer apply and diff). */
#ifndef BERTH_IMAGE_TAR_H
#define BERTH_IMAGE_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/str.h"

#define TAR_BLOCK 512
/* Largest PAX extended header or GNU long name/link we accept (as Go). */
#define TAR_MAX_SPECIAL (1u << 20)

/* Entry types (normalised: '\0' and '7' read as TAR_REG). */
enum {
	TAR_REG = '0',
	TAR_LINK = '1',
	TAR_SYMLINK = '2',
	TAR_CHR = '3',
	TAR_BLK = '4',
	TAR_DIR = '5',
	TAR_FIFO = '6',
};

typedef struct tar_xattr {
	char *name;
	unsigned char *value;
	size_t len;
} tar_xattr;

typedef struct tar_entry {
	char *path; /* PAX path, else GNU long name, else ustar prefix/name */
	char *linkname; /* "" when none */
	char type; /* TAR_* */
	uint32_t mode; /* reader: permission bits & 07777; writer: written as is */
	uint64_t uid, gid;
	uint64_t size; /* bytes of data that follow (0 for header-only types) */
	int64_t mtime;
	uint32_t mtime_nsec;
	uint32_t devmajor, devminor;
	tar_xattr *xattrs;
	size_t nxattrs;
} tar_entry;

/* --- reader --- */

/* Byte source: point *p at the next 1..max bytes and consume them; *len = 0
 * at end of stream. Returns < 0 on error. */
typedef int (*tar_next_fn)(void *opaque, const unsigned char **p, size_t *len, size_t max,
                           berth_error **err);

/* Optional for seekable sources: skip up to n bytes without reading them;
 * returns the number skipped (< n only at the end of the stream) or < 0. */
typedef int64_t (*tar_skip_fn)(void *opaque, uint64_t n, berth_error **err);

typedef struct tar_reader tar_reader;

tar_reader *tar_reader_new(tar_next_fn next, void *opaque);
/* Skip entry data (and padding) with skip instead of reading it. */
void tar_reader_set_skip(tar_reader *r, tar_skip_fn skip);
/* Append every byte the reader consumes to raw (headers, extended headers,
 * padding, the end blocks, data nobody read), except the data of entries
 * the caller claimed: the "tar-split" of a stream whose file contents are
 * kept elsewhere. Turns skipping off (the bytes are needed). */
void tar_reader_set_capture(tar_reader *r, strbuf *raw);
/* The current entry's data is kept by the caller: not captured. */
void tar_reader_claim(tar_reader *r);
/* Bytes of the stream consumed so far: after tar_reader_next returned an
 * entry, the offset of its first data byte. */
uint64_t tar_reader_offset(const tar_reader *r);
void tar_reader_free(tar_reader *r);
static inline void tar_reader_freep(tar_reader **r)
{
	tar_reader_free(*r);
}
#define _cleanup_tar_reader_ __attribute__((cleanup(tar_reader_freep)))

/* Advance to the next entry (skipping the rest of the current one's data).
 * Returns 1 and points *e at it (valid until the next call), 0 at the end
 * of the archive, < 0 on a malformed archive or read error. */
int tar_reader_next(tar_reader *r, const tar_entry **e, berth_error **err)
    __attribute__((warn_unused_result));
/* The current entry's data in chunks: *len = 0 when it is all read. */
int tar_reader_data(tar_reader *r, const unsigned char **p, size_t *len, berth_error **err)
    __attribute__((warn_unused_result));

/* Parse the PAX extended header records in buf into e (path, linkpath,
 * size, uid, gid, mtime, SCHILY.xattr.*); sets *has_size etc. Exposed for
 * the fuzzer. */
typedef struct tar_pax {
	char *path, *linkpath;
	bool has_size, has_uid, has_gid, has_mtime;
	uint64_t size, uid, gid;
	int64_t mtime;
	uint32_t mtime_nsec;
	tar_xattr *xattrs;
	size_t nxattrs;
} tar_pax;
int tar_parse_pax(const char *buf, size_t len, tar_pax *pax, berth_error **err)
    __attribute__((warn_unused_result));
void tar_pax_clear(tar_pax *pax);

/* --- writer --- */

/* Append the header block(s) for e: USTAR when every field fits (long
 * ASCII names split into prefix/name), else a PAX extended header first,
 * byte for byte as Go's archive/tar writes them with empty uname/gname.
 * e->mode is written as is (Docker puts the file type bits in it). */
void tar_write_header(strbuf *out, const tar_entry *e);
/* Zero bytes that pad `size` bytes of data to a whole block. */
size_t tar_padding(uint64_t size);
/* End of archive: two zero blocks. */
void tar_write_end(strbuf *out);

#endif
