/* Internals shared by the store's files. */
#ifndef BERTH_STORE_STORE_INT_H
#define BERTH_STORE_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <string.h>

#include "base/error.h"
#include "store/store.h"

struct berth_store {
	char *root, *runroot;
	int rootfd;
	sqlite3 *db;
	bool in_tx;
	int lockfd;
	int lock_depth;
	int stagefd; /* this process's staging dir, flocked */
	char *stage_path;
	unsigned stage_seq;
	int wal_frames; /* frames in the WAL after this connection's last commit */
	char **migrated; /* modules whose schema is known to be current */
	bool lazy; /* the database opens at its first use (store_open_lazy) */
};

int store_db_open(berth_store *s, berth_error **err);
/* Closes the database, emptying the WAL when this connection left it long. */
void store_db_close(berth_store *s);
/* A lazy store's database, opened now if it is not yet (0, or -1 and *err). */
int store_db_ready(berth_store *s, berth_error **err);

static inline bool str_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

#endif
