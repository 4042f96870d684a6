/* The store: berth's persistent state under --root and --runroot.
 *
 *   root/berth.db          SQLite (WAL): every module's records
 *   root/blobs/sha256/<h>  content-addressed blobs (configs, layer tars, ...)
 *   root/layers/<chain>/   unpacked read-only layers ("diff/" + "info.json")
 *   root/containers/, root/volumes/
 *   root/tmp/              per-process staging, same filesystem as the rest
 *   runroot/store.lock     flock serialising "rename into place + commit"
 *
 * Concurrency: records change inside SQLite transactions (BEGIN IMMEDIATE).
 * Anything that creates or deletes files under blobs/ or layers/ together
 * with records does the slow part (download, extraction, hashing) in its
 * private staging directory first, then takes the store lock, renames the
 * staged files into place and commits the records, and releases the lock.
 * So a record never points at a missing file, and with the lock held every
 * file under blobs/ or layers/ is either referenced or garbage. */
#ifndef BERTH_STORE_STORE_H
#define BERTH_STORE_STORE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/digest.h"
#include "base/error.h"
#include "base/str.h"

typedef struct berth_store berth_store;

int store_open(const char *root, const char *runroot, berth_store **out, berth_error **err)
    __attribute__((warn_unused_result));
/* A handle on an existing store whose database opens at its first use:
 * for a process that mostly needs the store's paths (the start process). */
int store_open_lazy(const char *root, const char *runroot, berth_store **out, berth_error **err)
    __attribute__((warn_unused_result));
void store_close(berth_store *s);
static inline void store_closep(berth_store **s)
{
	store_close(*s);
}
#define _cleanup_store_ __attribute__((cleanup(store_closep)))

sqlite3 *store_db(berth_store *s);
const char *store_root(berth_store *s);
const char *store_runroot(berth_store *s);
/* O_PATH directory fd of the root (owned by the store). */
int store_rootfd(berth_store *s);

/* Transactions: BEGIN IMMEDIATE (takes the write lock up front, waiting up
 * to the busy timeout), COMMIT, ROLLBACK. Not nested. Usage:
 *   _cleanup_tx_ berth_store *tx = NULL;
 *   if (store_tx_begin(s, err) < 0) return -1;
 *   tx = s;                        // rolled back on any early return
 *   ...
 *   return store_tx_commit(s, err);  // after commit the cleanup is a no-op */
int store_tx_begin(berth_store *s, berth_error **err) __attribute__((warn_unused_result));
int store_tx_commit(berth_store *s, berth_error **err) __attribute__((warn_unused_result));
void store_tx_rollback(berth_store *s); /* no-op outside a transaction */
bool store_in_tx(berth_store *s);
static inline void store_tx_endp(berth_store **s)
{
	if (*s)
		store_tx_rollback(*s);
}
#define _cleanup_tx_ __attribute__((cleanup(store_tx_endp)))

/* The store lock (flock on runroot/store.lock), held across "rename staged
 * files into place + commit records" and during garbage collection. Keep it
 * short. Counted: nested lock/unlock pairs are fine. While it is held the
 * file root/dirty exists: a holder killed between its renames and its
 * commit leaves it behind, and the next process to get the lock (or to open
 * the store and find the lock free) runs layer_store_gc_orphans first. */
int store_lock(berth_store *s, berth_error **err) __attribute__((warn_unused_result));
void store_unlock(berth_store *s);
static inline void store_unlockp(berth_store **s)
{
	if (*s)
		store_unlock(*s);
}
#define _cleanup_unlock_ __attribute__((cleanup(store_unlockp)))

/* This process's staging directory under root/tmp, created on first use and
 * held with an flock while the store is open; removed by store_close, and by
 * the next store_open after a crash. Returns a directory fd owned by the
 * store and, if path != NULL, its path (owned by the store). */
int store_staging(berth_store *s, const char **path, berth_error **err);
/* A fresh unique name inside the staging directory ("<prefix>-<n>"). */
char *store_staging_name(berth_store *s, const char *prefix);

/* --- db.c: schema versions per module --- */

/* One migration step: SQL (may hold several statements) run in the
 * migration's transaction. */
typedef struct store_migration {
	const char *sql;
} store_migration;

/* Bring module's tables to version n by running steps[version..n-1] in one
 * IMMEDIATE transaction; a no-op (one SELECT) when already there. Refuses a
 * database whose version for module is newer than n. */
int store_migrate(berth_store *s, const char *module, const store_migration *steps, size_t n,
                  berth_error **err) __attribute__((warn_unused_result));
/* Does table exist in the database? */
bool store_table_exists(berth_store *s, const char *table);

/* sqlite helpers: fill *err from the connection's last error. */
int store_sql_err(berth_store *s, berth_error **err, const char *what);
/* Run SQL without results. */
int store_exec(berth_store *s, const char *sql, berth_error **err);
/* Prepare a statement (caller finalizes; see _cleanup_stmt_). */
sqlite3_stmt *store_prepare(berth_store *s, const char *sql, berth_error **err);
static inline void store_stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(store_stmt_finalizep)))

/* --- blobs.c: blobs/sha256/<hex> --- */

typedef struct blob_writer blob_writer;

/* A writer streams into a temp file in the staging directory, hashing as
 * it goes. blob_writer_commit verifies (if expected != NULL), fsyncs and
 * renames into blobs/sha256; blob_writer_finish instead leaves the verified
 * file in staging for a later blob_adopt under the store lock. */
int blob_writer_new(berth_store *s, blob_writer **out, berth_error **err)
    __attribute__((warn_unused_result));
int blob_writer_write(blob_writer *w, const void *buf, size_t n, berth_error **err)
    __attribute__((warn_unused_result));
/* Copy from fd until EOF (or at most limit bytes if limit >= 0). */
int blob_writer_copy_fd(blob_writer *w, int fd, int64_t limit, berth_error **err)
    __attribute__((warn_unused_result));
int blob_writer_commit(blob_writer *w, const char *expected, char digest[DIGEST_STR_LEN + 1],
                       berth_error **err) __attribute__((warn_unused_result));
/* Verify + fsync; returns the staged file's name (in the staging dir). */
int blob_writer_finish(blob_writer *w, const char *expected, char digest[DIGEST_STR_LEN + 1],
                       char **staged_name, berth_error **err) __attribute__((warn_unused_result));
int64_t blob_writer_size(const blob_writer *w);
/* Skip hashing: the caller computes the digest of exactly the bytes it
 * writes by other means (e.g. the layer unpacker reading the same stream)
 * and passes it as expected to finish/commit. */
void blob_writer_trust(blob_writer *w);
/* Append up to n bytes of src_fd from offset *off (advanced) with an
 * in-kernel copy: copy_file_range (a reflink where the file system shares
 * extents), else sendfile. Nothing is hashed, so only for a trusted writer
 * whose caller hashes the copy (e.g. by reading it back). Returns the
 * number of bytes copied, 0 at the end of src_fd. */
ssize_t blob_writer_copy_range(blob_writer *w, int src_fd, int64_t *off, size_t n,
                               berth_error **err) __attribute__((warn_unused_result));
/* A new read-only fd of the file being written, to read back what was
 * copied (caller closes). */
int blob_writer_reopen(blob_writer *w, berth_error **err) __attribute__((warn_unused_result));
/* Do not fsync in finish/commit: the blob is safe from a crash of the
 * process (the page cache holds it) but not from a power loss until the
 * kernel has written it back (write-behind starts as it is written). For
 * data that is as disposable as what it comes with (layer tars next to
 * their unsynced unpacked layers); see docs/ARCHITECTURE.md. */
void blob_writer_no_fsync(blob_writer *w);
/* Frees; an uncommitted temp file is removed. */
void blob_writer_free(blob_writer *w);
static inline void blob_writer_freep(blob_writer **w)
{
	blob_writer_free(*w);
}
#define _cleanup_blob_writer_ __attribute__((cleanup(blob_writer_freep)))

/* Move a verified staged file (name in the staging dir) to blobs/sha256 as
 * digest. Call with the store lock held when records are about to point at
 * it. An existing blob of that digest wins (the staged file is removed). */
int blob_adopt(berth_store *s, const char *staged_name, const char *digest, berth_error **err)
    __attribute__((warn_unused_result));

int blob_put(berth_store *s, const void *buf, size_t n, const char *expected,
             char digest[DIGEST_STR_LEN + 1], berth_error **err)
    __attribute__((warn_unused_result));
/* Open a blob for reading (O_RDONLY|O_CLOEXEC). NOTFOUND if missing. */
int blob_open(berth_store *s, const char *digest, berth_error **err);
int blob_read(berth_store *s, const char *digest, char **data, size_t *len, berth_error **err)
    __attribute__((warn_unused_result));
bool blob_exists(berth_store *s, const char *digest);
int64_t blob_size(berth_store *s, const char *digest); /* -1 if missing */
/* Remove; missing is fine. */
int blob_remove(berth_store *s, const char *digest, berth_error **err);
/* Path of a blob (may not exist); caller frees. */
char *blob_path(berth_store *s, const char *digest);

/* --- tar-split: a layer blob kept as blobs/tarsplit/<hex>, the layer tar's
 * headers, padding and end blocks plus references to the contents of the
 * files of an unpacked layer of that diff ID, instead of a copy of the
 * tar. blob_open regenerates the exact bytes (and checks their digest);
 * blob_exists, blob_size and blob_remove cover both forms.
 * Format: "BERTHTS1", the tar's size (u64 big-endian), then records:
 * 'R' u32 n, n raw bytes; 'F' u64 size, u32 n, n bytes of a path relative
 * to the layer root whose regular file holds the next size bytes. */
typedef struct tarsplit {
	strbuf out;
	uint64_t total;
} tarsplit;
void tarsplit_init(tarsplit *ts);
/* A compressed split instead: a compressed form of the blob base (a layer
 * tar, stored plain or as a tar-split) kept as "BERTHCS1", the size
 * (u64 big-endian), base (71 bytes), then records 'R' as above and 'U'
 * u64 offset, u32 n: n bytes of base from offset (tarsplit_ref). Stored
 * and opened like a tar-split (blobs/tarsplit/<hex>). */
void tarsplit_init_compressed(tarsplit *ts, const char *base);
void tarsplit_ref(tarsplit *ts, uint64_t off, uint32_t len);
void tarsplit_raw(tarsplit *ts, const void *p, size_t n);
void tarsplit_file(tarsplit *ts, const char *path, uint64_t size);
void tarsplit_free(tarsplit *ts);
/* Record the total in the header: ts->out is then the file's content. */
void tarsplit_finish(tarsplit *ts);
/* tarsplit_finish and write ts to a new file in staging (its name to
 * *staged_name). */
int tarsplit_stage(berth_store *s, tarsplit *ts, char **staged_name, berth_error **err)
    __attribute__((warn_unused_result));
/* blob_adopt for a staged tar-split of the blob digest. */
int tarsplit_adopt(berth_store *s, const char *staged_name, const char *digest, berth_error **err)
    __attribute__((warn_unused_result));
/* Regenerate a tar-split's bytes from the layer directory dirfd to out_fd
 * (written sequentially) and check they hash to digest. split_fd is the
 * tar-split file. */
int tarsplit_regenerate(int split_fd, int dirfd, const char *digest, int out_fd, berth_error **err)
    __attribute__((warn_unused_result));

/* --- layers.c: unpacked layers by chain ID --- */

typedef struct layer_info {
	char chain_id[DIGEST_STR_LEN + 1];
	char diff_id[DIGEST_STR_LEN + 1];
	char parent[DIGEST_STR_LEN + 1]; /* "" for a base layer */
	int64_t size; /* bytes of the layer's uncompressed tar */
	int64_t refcount;
} layer_info;

/* The layers table (module "layers"); called by store_open. */
int layer_store_init(berth_store *s, berth_error **err);

/* Does a record for chain_id exist? Fills info if given. */
int layer_store_get(berth_store *s, const char *chain_id, layer_info *info, berth_error **err);
bool layer_store_exists(berth_store *s, const char *chain_id);

/* Stage a new layer directory: creates "<staging>/<name>/diff" and returns
 * an fd to diff (for layer_apply) and the staged entry's name. */
int layer_stage_new(berth_store *s, char **staged_name, int *diff_fd, berth_error **err)
    __attribute__((warn_unused_result));
/* Under the store lock and inside a transaction: move the staged layer to
 * layers/<chain-hex> (an existing one wins) and insert its record with
 * refcount 0. A no-op when the record exists (the staged dir is removed). */
int layer_store_adopt(berth_store *s, const char *staged_name, const layer_info *info,
                      berth_error **err) __attribute__((warn_unused_result));
/* Inside a transaction: the blob digest (stored in blobs/sha256) is a
 * compressed form of the layer tar diff_id, kept as it was pulled so that
 * pushing it sends the same bytes; layer_store_gc removes it with the last
 * layer of diff_id. */
int layer_store_add_compressed(berth_store *s, const char *diff_id, const char *digest,
                               berth_error **err) __attribute__((warn_unused_result));
/* The compressed forms recorded for diff_id (a NULL-terminated list). */
int layer_store_compressed(berth_store *s, const char *diff_id, char ***digests, berth_error **err)
    __attribute__((warn_unused_result));
/* Reference counting, inside a transaction. */
int layer_store_ref(berth_store *s, const char *chain_id, berth_error **err)
    __attribute__((warn_unused_result));
int layer_store_unref(berth_store *s, const char *chain_id, berth_error **err)
    __attribute__((warn_unused_result));
/* Under the store lock, after the transaction that dropped references was
 * committed: delete records with refcount 0, their directories and their
 * layer blobs and compressed forms (when no other layer uses the diff
 * ID), and what layer_store_gc_orphans removes. */
int layer_store_gc(berth_store *s, berth_error **err) __attribute__((warn_unused_result));
/* Under the store lock: remove what a process killed while it held the lock
 * left behind, renamed into place but never (or no longer) recorded:
 * directories under layers/ without a record, and tar-splits without a
 * layer to give their bytes back (of their diff ID, or for a compressed
 * blob's split, of the diff ID layer_compressed has for it). Plain blobs
 * without a user are harmless garbage and stay. */
int layer_store_gc_orphans(berth_store *s, berth_error **err) __attribute__((warn_unused_result));

/* Directory of a layer's files, for overlay lowerdir (caller frees). */
char *layer_store_path(berth_store *s, const char *chain_id);

/* Remove leftovers in root/tmp whose owner process is gone. */
int store_sweep_staging(berth_store *s, berth_error **err);

#endif
