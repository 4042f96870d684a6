#include "registry/regmeta.h"

#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "registry/registry.h"

static const store_migration regmeta_migrations[] = {
    {"CREATE TABLE registry_layers ("
     " diff_id TEXT NOT NULL,"
     " digest TEXT NOT NULL,"
     " media_type TEXT NOT NULL,"
     " size INTEGER NOT NULL,"
     " registry TEXT NOT NULL,"
     " repo TEXT NOT NULL,"
     " PRIMARY KEY (diff_id, digest, registry, repo));"
     "CREATE TABLE registry_manifests ("
     " image_id TEXT NOT NULL,"
     " registry TEXT NOT NULL,"
     " repo TEXT NOT NULL,"
     " digest TEXT NOT NULL,"
     " media_type TEXT NOT NULL,"
     " manifest BLOB NOT NULL,"
     " PRIMARY KEY (image_id, registry, repo));"},
};

int registry_store_init(berth_store *s, berth_error **err)
{
	return store_migrate(s, "registry", regmeta_migrations, ARRAY_SIZE(regmeta_migrations),
	                     err);
}

void regmeta_layers_free(regmeta_layer *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].digest);
		free(v[i].media_type);
		free(v[i].registry);
		free(v[i].repo);
	}
	free(v);
}

int regmeta_record(berth_store *s, const char *image_id, const char *registry, const char *repo,
                   const char *digest_name, const char *manifest_digest, const char *media_type,
                   const char *body, size_t len, const manifest *m, char *const *diff_ids,
                   berth_error **err)
{
	_cleanup_tx_ berth_store *tx = NULL;
	if (store_tx_begin(s, err) < 0)
		return -1;
	tx = s;
	{
		/* The image was committed in an earlier transaction: an rmi may
		 * have removed it since. Then the pull is done and the rmi came
		 * after it; there is nothing left to describe (the records below
		 * would fail their foreign key). */
		_cleanup_stmt_ sqlite3_stmt *st =
		    store_prepare(s, "SELECT 1 FROM images WHERE id = ?1", err);
		if (!st)
			return -1;
		sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return store_sql_err(s, err, "looking up image");
	}
	if (digest_name) {
		/* the images module's repo digests (docker images --digests) */
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    s, "INSERT OR REPLACE INTO digests(name, image_id) VALUES (?1, ?2)", err);
		if (!st)
			return -1;
		sqlite3_bind_text(st, 1, digest_name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, image_id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_sql_err(s, err, "recording repo digest");
	}
	{
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
		    s,
		    "INSERT OR REPLACE INTO registry_manifests(image_id, registry, repo, digest,"
		    " media_type, manifest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		    err);
		if (!st)
			return -1;
		sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, registry, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, repo, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, manifest_digest, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, media_type, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 6, body, (int)len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_sql_err(s, err, "recording manifest");
	}
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT OR IGNORE INTO registry_layers(diff_id, digest, media_type, size, registry,"
	    " repo) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    err);
	if (!st)
		return -1;
	for (size_t i = 0; i < m->n_layers && diff_ids && diff_ids[i]; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, diff_ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, m->layers[i].digest, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, m->layers[i].media_type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, m->layers[i].size);
		sqlite3_bind_text(st, 5, registry, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, repo, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_sql_err(s, err, "recording layer source");
	}
	tx = NULL;
	return store_tx_commit(s, err);
}

int regmeta_record_made(berth_store *s, const char *diff_id, const oci_descriptor *d,
                        berth_error **err)
{
	/* newest last: a digest made again (another zlib) is moved to the end */
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT OR REPLACE INTO registry_layers(diff_id, digest, media_type, size, registry,"
	    " repo) VALUES (?1, ?2, ?3, ?4, '', ?5)",
	    err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, d->digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, d->media_type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, d->size);
	sqlite3_bind_text(st, 5, REGMETA_MADE_HERE, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "recording a layer's compressed form");
	return 0;
}

static char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

int regmeta_layer_sources(berth_store *s, const char *diff_id, regmeta_layer **out, size_t *n,
                          berth_error **err)
{
	*out = NULL;
	*n = 0;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT digest, media_type, size, registry, repo FROM registry_layers"
	                  " WHERE diff_id = ?1 ORDER BY rowid",
	                  err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
	regmeta_layer *v = NULL;
	size_t k = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		v = xreallocarray(v, k + 1, sizeof(*v));
		v[k].digest = col(st, 0);
		v[k].media_type = col(st, 1);
		v[k].size = sqlite3_column_int64(st, 2);
		v[k].registry = col(st, 3);
		v[k].repo = col(st, 4);
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

int regmeta_manifest(berth_store *s, const char *image_id, const char *registry, const char *repo,
                     char **media_type, char **body, size_t *len, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT media_type, manifest FROM registry_manifests WHERE image_id = ?1"
	                  " ORDER BY (registry = ?2 AND repo = ?3) DESC, rowid LIMIT 1",
	                  err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, registry, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, repo, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return 0;
	*media_type = col(st, 0);
	int n = sqlite3_column_bytes(st, 1);
	const void *b = sqlite3_column_blob(st, 1);
	*body = xmalloc((size_t)n + 1);
	if (n > 0)
		memcpy(*body, b, (size_t)n);
	(*body)[n] = 0;
	*len = (size_t)n;
	return 1;
}
