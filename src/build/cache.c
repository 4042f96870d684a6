/* The build cache: step key -> step image, in berth.db (module "build").
 * A row goes away with its image (ON DELETE CASCADE), so the cache never
 * points at a removed image. Each row also keeps what the key was made of
 * (the expanded instruction, build args, source files), so a miss can say
 * what changed since the last build of the same instruction. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/build_int.h"
#include "image/image.h"

static const store_migration migrations[] = {
    {"CREATE TABLE build_cache ("
     " key TEXT PRIMARY KEY,"
     " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
     " parent TEXT NOT NULL,"
     " ident TEXT NOT NULL,"
     " detail TEXT NOT NULL,"
     " created INTEGER NOT NULL);"
     "CREATE INDEX build_cache_ident ON build_cache(parent, ident);"
     "CREATE INDEX build_cache_image ON build_cache(image_id);"},
    /* content hashes of context files, keyed by what stat says about them,
     * so an unchanged context is not read again */
    {"CREATE TABLE build_files ("
     " path TEXT PRIMARY KEY,"
     " dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,"
     " mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, mode INTEGER NOT NULL,"
     " hash TEXT NOT NULL, recorded_ns INTEGER NOT NULL);"},
};

int build_store_init(berth_store *s, berth_error **err)
{
	if (image_store_init(s, err) < 0)
		return -1;
	return store_migrate(s, "build", migrations, ARRAY_SIZE(migrations), err);
}

int build_cache_get(berth_store *s, sqlite3_stmt **stmt, const char *key,
                    char image_id[DIGEST_STR_LEN + 1], berth_error **err)
{
	if (*stmt == NULL)
		*stmt = store_prepare(
		    s,
		    "SELECT c.image_id FROM build_cache c JOIN images i ON i.id = c.image_id"
		    " WHERE c.key = ?1",
		    err);
	sqlite3_stmt *st = *stmt;
	if (st == NULL)
		return -1;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int r = sqlite3_step(st);
	int rc = 0;
	if (r == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (id && strlen(id) == DIGEST_STR_LEN) {
			memcpy(image_id, id, DIGEST_STR_LEN + 1);
			rc = 1;
		}
	} else if (r != SQLITE_DONE) {
		rc = store_sql_err(s, err, "reading the build cache");
	}
	sqlite3_reset(st); /* ends the read transaction */
	return rc;
}

int build_cache_put(berth_store *s, const char *key, const char *image_id, const char *parent,
                    const char *ident, const json_t *detail, berth_error **err)
{
	_cleanup_free_ char *d = json_dump_compact(detail);
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT OR REPLACE INTO build_cache(key, image_id, parent, ident, detail, created)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	    err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, ident, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "writing the build cache");
	return 0;
}

/* Differences between two {name: value} objects, as a short sentence. */
static void diff_maps(strbuf *sb, const char *what, json_t *old, json_t *cur)
{
	const char *k;
	json_t *v;
	int shown = 0, more = 0;
	json_object_foreach (cur, k, v) {
		json_t *o = json_object_get(old, k);
		const char *how = NULL;
		if (o == NULL)
			how = "added";
		else if (!json_equal(o, v))
			how = "changed";
		if (how == NULL)
			continue;
		if (shown < 3) {
			sb_printf(sb, "%s%s \"%s\" %s", sb->len ? "; " : "", what, k, how);
			shown++;
		} else {
			more++;
		}
	}
	json_object_foreach (old, k, v) {
		if (json_object_get(cur, k))
			continue;
		if (shown < 3) {
			sb_printf(sb, "%s%s \"%s\" removed", sb->len ? "; " : "", what, k);
			shown++;
		} else {
			more++;
		}
	}
	if (more)
		sb_printf(sb, " (and %d more)", more);
}

char *build_cache_why(berth_store *s, const char *parent, const char *ident, const json_t *detail)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s,
	                  "SELECT detail FROM build_cache WHERE parent = ?1 AND ident = ?2"
	                  " ORDER BY created DESC, rowid DESC LIMIT 1",
	                  NULL);
	if (st == NULL)
		return xstrdup("no cached result");
	sqlite3_bind_text(st, 1, parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ident, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		_cleanup_stmt_ sqlite3_stmt *p =
		    store_prepare(s, "SELECT 1 FROM build_cache WHERE parent = ?1 LIMIT 1", NULL);
		if (p)
			sqlite3_bind_text(p, 1, parent, -1, SQLITE_STATIC);
		if (p && sqlite3_step(p) == SQLITE_ROW)
			return xstrdup("instruction not built before on this parent");
		return xstrdup("nothing was built on this parent yet (first build, or an earlier "
		               "step changed)");
	}
	const char *text = (const char *)sqlite3_column_text(st, 0);
	_cleanup_json_ json_t *old = json_loads(text ? text : "{}", 0, NULL);
	strbuf sb;
	sb_init(&sb);
	json_t *cur = (json_t *)detail;
	if (!json_equal(json_object_get(old, "instr"), json_object_get(cur, "instr")))
		sb_printf(&sb, "instruction expands differently: %s",
		          json_string_value(json_object_get(cur, "instr"))
		              ? json_string_value(json_object_get(cur, "instr"))
		              : "");
	diff_maps(&sb, "build arg", json_object_get(old, "args"), json_object_get(cur, "args"));
	diff_maps(&sb, "file", json_object_get(old, "files"), json_object_get(cur, "files"));
	if (!json_equal(json_object_get(old, "extra"), json_object_get(cur, "extra")))
		sb_printf(&sb, "%s%s changed", sb.len ? "; " : "", "step options");
	if (sb.len == 0)
		sb_append(&sb, "cached result was removed");
	return sb_steal(&sb);
}
