/* The layer store: unpacked read-only layers in layers/<chain-hex>/diff,
 * with records (diff ID, parent chain, size, reference count) in the
 * "layers" table. Layers are extracted into staging, then renamed into
 * place under the store lock in the transaction that references them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "store/store_int.h"

static const store_migration layer_migrations[] = {
    {"CREATE TABLE layers ("
     " chain_id TEXT PRIMARY KEY,"
     " diff_id TEXT NOT NULL,"
     " parent TEXT NOT NULL DEFAULT '',"
     " size INTEGER NOT NULL DEFAULT 0,"
     " refcount INTEGER NOT NULL DEFAULT 0,"
     " created INTEGER NOT NULL DEFAULT (strftime('%s','now')));"
     "CREATE INDEX layers_diff_id ON layers(diff_id);"},
    /* compressed blobs kept next to a layer (as pulled), removed with the
     * last layer of their diff ID */
    {"CREATE TABLE layer_compressed ("
     " diff_id TEXT NOT NULL,"
     " digest TEXT NOT NULL,"
     " PRIMARY KEY (diff_id, digest));"},
};

int layer_store_init(berth_store *s, berth_error **err)
{
	return store_migrate(s, "layers", layer_migrations, ARRAY_SIZE(layer_migrations), err);
}

static void copy_digest(char dst[DIGEST_STR_LEN + 1], const unsigned char *src)
{
	dst[0] = 0;
	if (src) {
		strncpy(dst, (const char *)src, DIGEST_STR_LEN);
		dst[DIGEST_STR_LEN] = 0;
	}
}

int layer_store_get(berth_store *s, const char *chain_id, layer_info *info, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s, "SELECT diff_id, parent, size, refcount FROM layers WHERE chain_id=?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return berth_err(err, BERTH_E_NOTFOUND, "layer %s not found", chain_id);
	if (rc != SQLITE_ROW)
		return store_sql_err(s, err, "reading layer");
	if (info) {
		memset(info, 0, sizeof(*info));
		copy_digest(info->chain_id, (const unsigned char *)chain_id);
		copy_digest(info->diff_id, sqlite3_column_text(st, 0));
		copy_digest(info->parent, sqlite3_column_text(st, 1));
		info->size = sqlite3_column_int64(st, 2);
		info->refcount = sqlite3_column_int64(st, 3);
	}
	return 0;
}

bool layer_store_exists(berth_store *s, const char *chain_id)
{
	berth_error *e = NULL;
	int r = layer_store_get(s, chain_id, NULL, &e);
	berth_error_free(e);
	return r == 0;
}

char *layer_store_path(berth_store *s, const char *chain_id)
{
	return xasprintf("%s/layers/%s/diff", s->root, digest_hex(chain_id));
}

int layer_stage_new(berth_store *s, char **staged_name, int *diff_fd, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	_cleanup_free_ char *name = store_staging_name(s, "layer");
	_cleanup_free_ char *diff = xasprintf("%s/diff", name);
	if (mkdirat(sfd, name, 0700) < 0 || mkdirat(sfd, diff, 0755) < 0)
		return berth_err_sys(err, errno, "creating a layer in staging");
	int fd = openat(sfd, diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening staged layer");
	*diff_fd = fd;
	*staged_name = steal_ptr(name);
	return 0;
}

/* Move layers/<hex> (if any) out to staging and delete it. */
static int discard_layer_dir(berth_store *s, const char *hex, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	_cleanup_free_ char *rel = xasprintf("layers/%s", hex);
	_cleanup_free_ char *trash = store_staging_name(s, "trash");
	if (renameat(s->rootfd, rel, sfd, trash) < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "removing layer %s", hex);
	}
	return rm_rf_at(sfd, trash, err);
}

int layer_store_adopt(berth_store *s, const char *staged_name, const layer_info *info,
                      berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	if (layer_store_exists(s, info->chain_id))
		return rm_rf_at(sfd, staged_name, err);
	const char *hex = digest_hex(info->chain_id);
	_cleanup_json_ json_t *meta =
	    json_pack("{s:s, s:s, s:s, s:I}", "chain_id", info->chain_id, "diff_id", info->diff_id,
	              "parent", info->parent, "size", (json_int_t)info->size);
	_cleanup_free_ char *text = json_dump_compact(meta);
	_cleanup_free_ char *meta_rel = xasprintf("%s/info.json", staged_name);
	if (atomic_write_at(sfd, meta_rel, text, strlen(text), 0600, false, err) < 0)
		return -1;
	/* We hold the store lock, so a directory without a record is what a
	 * crash left behind: replace it. */
	if (discard_layer_dir(s, hex, err) < 0)
		return -1;
	_cleanup_free_ char *rel = xasprintf("layers/%s", hex);
	if (renameat(sfd, staged_name, s->rootfd, rel) < 0)
		return berth_err_sys(err, errno, "storing layer %s", info->chain_id);
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s,
	                  "INSERT INTO layers(chain_id, diff_id, parent, size, refcount)"
	                  " VALUES (?1, ?2, ?3, ?4, 0)",
	                  err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, info->chain_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, info->diff_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, info->parent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, info->size);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "recording layer");
	return 0;
}

static int change_ref(berth_store *s, const char *chain_id, int delta, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "UPDATE layers SET refcount = refcount + ?2 WHERE chain_id=?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, delta);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "updating layer reference");
	if (sqlite3_changes(s->db) != 1)
		return berth_err(err, BERTH_E_NOTFOUND, "layer %s not found", chain_id);
	return 0;
}

int layer_store_ref(berth_store *s, const char *chain_id, berth_error **err)
{
	return change_ref(s, chain_id, 1, err);
}

int layer_store_unref(berth_store *s, const char *chain_id, berth_error **err)
{
	return change_ref(s, chain_id, -1, err);
}

/* Remove directories under layers/ that have no record. */
static int gc_orphan_dirs(berth_store *s, berth_error **err)
{
	int dfd = openat(s->rootfd, "layers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "opening layers");
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return berth_err_sys(err, errno, "reading layers");
	}
	_cleanup_strv_ char **orphans = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *chain = xasprintf("sha256:%s", de->d_name);
		if (!layer_store_exists(s, chain))
			orphans = strv_append(orphans, de->d_name);
	}
	for (char **p = orphans; p && *p; p++)
		if (discard_layer_dir(s, *p, err) < 0)
			return -1;
	return 0;
}

/* Remove tar-splits (blobs/tarsplit/<hex>) without a layer to give their
 * bytes back: a layer tar's split needs a layer of its diff ID, a
 * compressed blob's split (named by the compressed digest) a record in
 * layer_compressed whose diff ID has a layer. */
static int gc_orphan_splits(berth_store *s, berth_error **err)
{
	int dfd = openat(s->rootfd, "blobs/tarsplit", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return berth_err_sys(err, errno, "opening blobs/tarsplit");
	}
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return berth_err_sys(err, errno, "reading blobs/tarsplit");
	}
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT 1 FROM layers WHERE diff_id = ?1 UNION ALL"
	                  " SELECT 1 FROM layer_compressed c WHERE c.digest = ?1 AND EXISTS"
	                  " (SELECT 1 FROM layers l WHERE l.diff_id = c.diff_id) LIMIT 1",
	                  err);
	if (st == NULL)
		return -1;
	_cleanup_strv_ char **orphans = NULL;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		_cleanup_free_ char *diff = xasprintf("sha256:%s", de->d_name);
		if (!digest_valid(diff))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, diff, -1, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			orphans = strv_append(orphans, de->d_name);
		else if (rc != SQLITE_ROW)
			return store_sql_err(s, err, "looking up layers");
	}
	for (char **p = orphans; p && *p; p++)
		if (unlinkat(dirfd(d), *p, 0) < 0 && errno != ENOENT)
			return berth_err_sys(err, errno, "removing tar-split %s", *p);
	return 0;
}

int layer_store_gc_orphans(berth_store *s, berth_error **err)
{
	if (gc_orphan_dirs(s, err) < 0)
		return -1;
	return gc_orphan_splits(s, err);
}

int layer_store_add_compressed(berth_store *s, const char *diff_id, const char *digest,
                               berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s, "INSERT OR IGNORE INTO layer_compressed(diff_id, digest) VALUES (?1, ?2)", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, digest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "recording a compressed layer blob");
	return 0;
}

int layer_store_compressed(berth_store *s, const char *diff_id, char ***digests, berth_error **err)
{
	*digests = NULL;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s, "SELECT digest FROM layer_compressed WHERE diff_id = ?1 ORDER BY rowid", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
	char **v = xcalloc(1, sizeof(char *));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		if (d && digest_valid(d))
			v = strv_append(v, d);
	}
	if (rc != SQLITE_DONE) {
		strv_free(v);
		return store_sql_err(s, err, "reading compressed layer blobs");
	}
	*digests = v;
	return 0;
}

int layer_store_gc(berth_store *s, berth_error **err)
{
	_cleanup_strv_ char **dead = NULL; /* chain hex */
	_cleanup_strv_ char **dead_blobs = NULL; /* diff ids no longer used */
	{
		_cleanup_tx_ berth_store *tx = NULL;
		if (store_tx_begin(s, err) < 0)
			return -1;
		tx = s;
		_cleanup_stmt_ sqlite3_stmt *st =
		    store_prepare(s,
		                  "SELECT chain_id, diff_id,"
		                  " (SELECT COUNT(*) FROM layers l2 WHERE l2.diff_id = l.diff_id"
		                  "   AND l2.refcount > 0)"
		                  " FROM layers l WHERE refcount <= 0",
		                  err);
		if (st == NULL)
			return -1;
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *c = (const char *)sqlite3_column_text(st, 0);
			const char *d = (const char *)sqlite3_column_text(st, 1);
			if (c && digest_valid(c))
				dead = strv_append(dead, digest_hex(c));
			if (d && digest_valid(d) && sqlite3_column_int64(st, 2) == 0 &&
			    !strv_contains(dead_blobs, d))
				dead_blobs = strv_append(dead_blobs, d);
		}
		if (rc != SQLITE_DONE)
			return store_sql_err(s, err, "listing unused layers");
		/* their compressed forms go with them */
		size_t nd = strv_len(dead_blobs);
		for (size_t i = 0; i < nd; i++) {
			_cleanup_strv_ char **comp = NULL;
			if (layer_store_compressed(s, dead_blobs[i], &comp, err) < 0)
				return -1;
			for (char **c = comp; *c; c++)
				if (!strv_contains(dead_blobs, *c))
					dead_blobs = strv_append(dead_blobs, *c);
			_cleanup_stmt_ sqlite3_stmt *del = store_prepare(
			    s, "DELETE FROM layer_compressed WHERE diff_id = ?1", err);
			if (del == NULL)
				return -1;
			sqlite3_bind_text(del, 1, dead_blobs[i], -1, SQLITE_STATIC);
			if (sqlite3_step(del) != SQLITE_DONE)
				return store_sql_err(s, err, "forgetting compressed layer blobs");
		}
		if (store_exec(s, "DELETE FROM layers WHERE refcount <= 0", err) < 0)
			return -1;
		tx = NULL;
		if (store_tx_commit(s, err) < 0)
			return -1;
	}
	for (char **p = dead; p && *p; p++)
		if (discard_layer_dir(s, *p, err) < 0)
			return -1;
	for (char **p = dead_blobs; p && *p; p++)
		if (blob_remove(s, *p, err) < 0)
			return -1;
	return layer_store_gc_orphans(s, err);
}
