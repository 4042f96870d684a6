/* The SQLite database: WAL, busy timeout, foreign keys, transactions and
 * per-module schema migrations. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "store/store_int.h"

#define BUSY_TIMEOUT_MS 10000
/* See store_db_open: a writer that leaves at least WAL_TRUNCATE_FRAMES in
 * the WAL empties it when it closes (two fsyncs, 2-3 ms here: a `run --rm`
 * writes 10 frames, so one run in 13 pays it); a long-lived connection
 * (berth serve, a build) checkpoints every WAL_PASSIVE_FRAMES as SQLite's
 * default does. A cold open reads the WAL to rebuild its index (while a
 * container runs its monitor keeps the index: hold_db_index). */
#define WAL_TRUNCATE_FRAMES 128
#define WAL_PASSIVE_FRAMES 1000

int store_sql_err(berth_store *s, berth_error **err, const char *what)
{
	return berth_err(err, BERTH_E_IO, "%s: %s", what, sqlite3_errmsg(s->db));
}

int store_db_ready(berth_store *s, berth_error **err)
{
	if (s->db != NULL || !s->lazy)
		return 0;
	s->lazy = false;
	if (store_db_open(s, err) < 0 || layer_store_init(s, err) < 0) {
		store_db_close(s);
		s->lazy = true;
		return -1;
	}
	return 0;
}

int store_exec(berth_store *s, const char *sql, berth_error **err)
{
	char *msg = NULL;
	if (store_db_ready(s, err) < 0)
		return -1;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		berth_err(err, BERTH_E_IO, "database: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

sqlite3_stmt *store_prepare(berth_store *s, const char *sql, berth_error **err)
{
	sqlite3_stmt *st = NULL;
	if (store_db_ready(s, err) < 0)
		return NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_sql_err(s, err, "database");
		return NULL;
	}
	return st;
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	berth_store *s = arg;
	s->wal_frames = frames;
	if (frames >= WAL_PASSIVE_FRAMES)
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

void store_db_close(berth_store *s)
{
	if (s->db == NULL)
		return;
	if (s->wal_frames >= WAL_TRUNCATE_FRAMES) {
		/* never wait: with readers or a writer active, the next writer
		 * to close tries again */
		sqlite3_busy_timeout(s->db, 0);
		sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	}
	sqlite3_close_v2(s->db);
	s->db = NULL;
}

/* 1 when the database is in WAL mode, 0 when not, -1 on error. */
static int is_wal(berth_store *s, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(s, "PRAGMA journal_mode", err);
	if (st == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW)
		return store_sql_err(s, err, "reading journal mode");
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	return mode != NULL && strcmp(mode, "wal") == 0;
}

int store_db_open(berth_store *s, berth_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/berth.db", s->root);
	int rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK)
		return berth_err(err, BERTH_E_IO, "opening %s: %s", path,
		                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	/* Closing the last connection would checkpoint and fsync the WAL: that
	 * doubles the cost of a read-only command. Checkpoints happen as
	 * writes go (wal_autocheckpoint) instead. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* journal_mode is persistent; only switch when needed (it takes an
	 * exclusive lock). Several commands on a new root all find the
	 * rollback journal, and two switching at once deadlock in SQLite: one
	 * gets SQLITE_BUSY at once, without its busy handler ("database is
	 * locked"). So switch under an flock on the root directory, and look
	 * again once holding it: the first one switches, the others see WAL. */
	int r = is_wal(s, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		_cleanup_close_ int lfd =
		    openat(s->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0)
			return berth_err_sys(err, errno, "opening %s", s->root);
		while (flock(lfd, LOCK_EX) < 0)
			if (errno != EINTR)
				return berth_err_sys(err, errno, "locking %s", s->root);
		r = is_wal(s, err);
		if (r < 0 || (r == 0 && store_exec(s, "PRAGMA journal_mode=WAL", err) < 0))
			return -1;
	}
	/* The first connection to open the database after all others closed
	 * (nearly every berth command is one) truncates the shared WAL index
	 * and rebuilds it by reading every valid frame of the WAL, about 2 us
	 * a page here. The rebuilt index also says that nothing has been
	 * checkpointed, so SQLite's autocheckpoint never lets a WAL that is
	 * written by one short process after another start over: it grows
	 * without end (50 imports left 2.3 MB that every `berth images` read)
	 * and each commit past 1000 frames copies all of it again. So the WAL
	 * hook below only counts frames, and store_db_close empties the WAL
	 * (a TRUNCATE checkpoint: two fsyncs) when this connection wrote and
	 * the WAL holds WAL_TRUNCATE_FRAMES or more: a reader reads at most
	 * that many, writers pay a checkpoint every few commands. */
	sqlite3_wal_hook(s->db, wal_hook, s);
	if (store_exec(s, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", err) < 0)
		return -1;
	return 0;
}

int store_tx_begin(berth_store *s, berth_error **err)
{
	if (s->in_tx)
		return berth_err(err, BERTH_E_GENERIC, "internal error: nested transaction");
	if (store_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	s->in_tx = true;
	return 0;
}

int store_tx_commit(berth_store *s, berth_error **err)
{
	if (!s->in_tx)
		return berth_err(err, BERTH_E_GENERIC,
		                 "internal error: commit outside a transaction");
	if (store_exec(s, "COMMIT", err) < 0) {
		store_tx_rollback(s);
		return -1;
	}
	s->in_tx = false;
	return 0;
}

void store_tx_rollback(berth_store *s)
{
	if (!s->in_tx)
		return;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = false;
}

bool store_in_tx(berth_store *s)
{
	return s->in_tx;
}

bool store_table_exists(berth_store *s, const char *table)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (store_db_ready(s, NULL) < 0)
		return false;
	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW;
}

/* Current version of module, 0 when it has none (or no table yet). */
static int module_version(berth_store *s, const char *module, long long *version, berth_error **err)
{
	*version = 0;
	if (store_db_ready(s, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	const char *sql = "SELECT version FROM schema_version WHERE module=?1";
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		if (!store_table_exists(s, "schema_version"))
			return 0;
		/* another process created it since our prepare read the schema
		 * (commands starting together on a new root) */
		rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
		if (rc != SQLITE_OK)
			return store_sql_err(s, err, "reading schema version");
	}
	sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		return store_sql_err(s, err, "reading schema version");
	return 0;
}

/* s->migrated holds "module:version" for the modules whose version this
 * process read or wrote, one entry a module. */
static void remember_version(berth_store *s, const char *module, const char *key)
{
	size_t len = strlen(module), w = 0;
	for (size_t i = 0; s->migrated && s->migrated[i]; i++) {
		if (!strncmp(s->migrated[i], module, len) && s->migrated[i][len] == ':')
			free(s->migrated[i]);
		else
			s->migrated[w++] = s->migrated[i];
	}
	if (s->migrated)
		s->migrated[w] = NULL;
	s->migrated = strv_append(s->migrated, key);
}

int store_migrate(berth_store *s, const char *module, const store_migration *steps, size_t n,
                  berth_error **err)
{
	/* every image call checks its tables: ask the database once a process
	 * for each (module, version) */
	_cleanup_free_ char *key = xasprintf("%s:%zu", module, n);
	if (strv_contains(s->migrated, key))
		return 0;
	long long v;
	if (module_version(s, module, &v, err) < 0)
		return -1;
	if (v == (long long)n) {
		remember_version(s, module, key);
		return 0;
	}
	bool outer = s->in_tx;
	_cleanup_tx_ berth_store *tx = NULL;
	if (!outer) {
		if (store_tx_begin(s, err) < 0)
			return -1;
		tx = s;
	}
	if (store_exec(s,
	               "CREATE TABLE IF NOT EXISTS schema_version ("
	               " module TEXT PRIMARY KEY, version INTEGER NOT NULL)",
	               err) < 0)
		return -1;
	/* re-read inside the transaction: another process may have migrated */
	if (module_version(s, module, &v, err) < 0)
		return -1;
	if (v > (long long)n)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "database schema of %s is version %lld, newer than this berth "
		                 "knows (%zu)",
		                 module, v, n);
	for (size_t i = (size_t)v; i < n; i++) {
		if (store_exec(s, steps[i].sql, err) < 0)
			return berth_err_prefix(err, "migrating %s to version %zu", module, i + 1);
	}
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s, "INSERT OR REPLACE INTO schema_version(module, version) VALUES (?1, ?2)", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, module, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "writing schema version");
	if (!outer) {
		tx = NULL;
		if (store_tx_commit(s, err) < 0)
			return -1;
		remember_version(s, module, key);
	}
	/* (inside the caller's transaction, which may still roll back: not
	 * remembered) */
	return 0;
}
