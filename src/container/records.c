/* Container records in berth.db and their live state from the monitor's
 * state file. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/container.h"
#include "container/internal.h"

static const store_migration migrations[] = {
    {"CREATE TABLE containers ("
     " id TEXT PRIMARY KEY,"
     " name TEXT NOT NULL UNIQUE,"
     " image TEXT NOT NULL,"
     " image_id TEXT NOT NULL,"
     " command TEXT NOT NULL,"
     " created INTEGER NOT NULL,"
     " labels TEXT NOT NULL DEFAULT '{}',"
     " config TEXT NOT NULL,"
     /* a cache for other modules (image removal checks); the truth is the
      * monitor's state file */
     " state TEXT NOT NULL DEFAULT 'created');"
     "CREATE INDEX containers_image ON containers(image_id);"
     "CREATE TABLE container_volumes ("
     " container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,"
     " volume TEXT NOT NULL,"
     " anonymous INTEGER NOT NULL DEFAULT 0,"
     " PRIMARY KEY (container_id, volume));"
     "CREATE INDEX container_volumes_volume ON container_volumes(volume);"},
    /* ps reads these columns of every container: a covering index keeps
     * that scan to a few pages (the rows themselves are ~1.5 KB each) */
    {"CREATE INDEX containers_list ON containers(created, id, name, image, image_id, "
     "command);"},
};

int container_store_init(berth_store *s, berth_error **err)
{
	return store_migrate(s, "containers", migrations, ARRAY_SIZE(migrations), err);
}

void ctr_record_free(ctr_record *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->image);
	free(r->image_id);
	free(r->command);
	json_decref(r->config);
	free(r);
}

void ctr_records_free(ctr_record **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ctr_record_free(v[i]);
	free(v);
}

char *container_dir(berth_store *s, const char *id)
{
	return xasprintf("%s/containers/%s", store_root(s), id);
}

char *container_rundir(berth_store *s, const char *id)
{
	return xasprintf("%s/containers/%s", store_runroot(s), id);
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

#define RECORD_COLS "id, name, image, image_id, command, created"

static ctr_record *row_to_record(sqlite3_stmt *st, bool with_config)
{
	ctr_record *r = xcalloc(1, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", col(st, 0));
	r->name = xstrdup(col(st, 1));
	r->image = xstrdup(col(st, 2));
	r->image_id = xstrdup(col(st, 3));
	r->command = xstrdup(col(st, 4));
	r->created_ns = sqlite3_column_int64(st, 5);
	if (with_config) {
		const char *c = col(st, 6);
		r->config = json_loads(c, 0, NULL);
		if (r->config == NULL)
			r->config = json_object();
	}
	return r;
}

/* dirfd/pfx<id>/: the container's directory (pfx "containers/" under the
 * root's fd, or "" under the fd of root/containers). */
static void load_state_at(int dirfd, const char *pfx, ctr_record *r)
{
	char rel[sizeof("containers/") + CTR_ID_LEN + sizeof("/monitor.lock")];
	int n = snprintf(rel, sizeof(rel), "%s%s/", pfx, r->id);
	r->monitor_alive = false;
	r->paused = false;
	snprintf(rel + n, sizeof(rel) - (size_t)n, "%s", CTR_STATE_FILE);
	int alive = 0;
	ctr_state_read_live(dirfd, rel, &r->st, &alive);
	if (strcmp(r->st.status, "running") != 0 && strcmp(r->st.status, "restarting") != 0)
		return;
	bool old_format = alive < 0;
	if (old_format) {
		/* a monitor of an older berth: it locks monitor.lock only */
		snprintf(rel + n, sizeof(rel) - (size_t)n, "%s", CTR_MONITOR_LOCK);
		alive = ctr_lock_held_at(dirfd, rel) ? 1 : 0;
	}
	r->monitor_alive = alive > 0;
	if (!r->monitor_alive) {
		/* the monitor died without recording an exit */
		memcpy(r->st.status, "dead", sizeof("dead"));
		if (!r->st.error[0])
			snprintf(r->st.error, sizeof(r->st.error),
			         "container monitor (pid %d) exited unexpectedly",
			         r->st.monitor_pid);
	} else if (old_format) {
		snprintf(rel + n, sizeof(rel) - (size_t)n, "paused");
		r->paused = faccessat(dirfd, rel, F_OK, 0) == 0;
		r->st.health = true; /* unknown: look for health.json */
	} else {
		r->paused = r->st.paused;
	}
}

void container_load_state(berth_store *s, ctr_record *r)
{
	/* a path relative to the root's fd: no directory fd to open */
	load_state_at(store_rootfd(s), "containers/", r);
}

const char *container_status(const ctr_record *r)
{
	if (!strcmp(r->st.status, "running") && r->paused)
		return "paused";
	if (!strcmp(r->st.status, "running") || !strcmp(r->st.status, "restarting") ||
	    !strcmp(r->st.status, "exited") || !strcmp(r->st.status, "dead"))
		return r->st.status;
	return "created";
}

char *container_health_status(berth_store *s, const ctr_record *r)
{
	if (r->st.locked && !r->st.health)
		return NULL; /* the monitor runs no health check */
	char rel[sizeof("containers/") + CTR_ID_LEN + sizeof("/health.json")];
	snprintf(rel, sizeof(rel), "containers/%s/health.json", r->id);
	_cleanup_close_ int fd = openat(store_rootfd(s), rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL; /* no health check (the common case: one failed open) */
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_fd_all(fd, 0, "health.json", &data, &len, NULL) < 0)
		return NULL;
	_cleanup_json_ json_t *j = json_loadb(data, len, 0, NULL);
	const char *st = json_get_str(j, "Status");
	return st ? xstrdup(st) : NULL;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char *container_status_text(berth_store *s, const ctr_record *r)
{
	const char *status = container_status(r);
	int64_t now = now_ns();
	if (!strcmp(status, "running") || !strcmp(status, "paused")) {
		_cleanup_free_ char *d = human_duration((now - r->st.started_ns) / 1000000000);
		_cleanup_free_ char *h = container_health_status(s, r);
		_cleanup_free_ char *hs = NULL;
		if (h && !strcmp(h, "starting"))
			hs = xstrdup(" (health: starting)");
		else if (h && *h && strcmp(h, "none"))
			hs = xasprintf(" (%s)", h);
		return xasprintf("Up %s%s%s", d, !strcmp(status, "paused") ? " (Paused)" : "",
		                 hs ? hs : "");
	}
	if (!strcmp(status, "restarting")) {
		_cleanup_free_ char *d = human_duration((now - r->st.finished_ns) / 1000000000);
		return xasprintf("Restarting (%d) %s ago", r->st.exit_code, d);
	}
	if (!strcmp(status, "exited")) {
		_cleanup_free_ char *d = human_duration((now - r->st.finished_ns) / 1000000000);
		return xasprintf("Exited (%d) %s ago", r->st.exit_code, d);
	}
	if (!strcmp(status, "dead"))
		return xstrdup("Dead");
	return xstrdup("Created");
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int container_lookup(berth_store *s, const char *ref, bool with_config, ctr_record **out,
                     berth_error **err)
{
	*out = NULL;
	if (container_store_init(s, err) < 0)
		return -1;
	const char *name = ref[0] == '/' ? ref + 1 : ref;
	static const char *const queries[2][3] = {
	    {"SELECT " RECORD_COLS " FROM containers WHERE id = ?1",
	     "SELECT " RECORD_COLS " FROM containers WHERE name = ?1",
	     "SELECT " RECORD_COLS " FROM containers WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2"},
	    {"SELECT " RECORD_COLS ", config FROM containers WHERE id = ?1",
	     "SELECT " RECORD_COLS ", config FROM containers WHERE name = ?1",
	     "SELECT " RECORD_COLS
	     ", config FROM containers WHERE id >= ?1 AND id < ?1 || 'g' LIMIT 2"},
	};
	for (int q = 0; q < 3; q++) {
		if (q == 0 && strlen(ref) != CTR_ID_LEN)
			continue;
		if (q == 2 && !is_hex(ref))
			continue;
		_cleanup_stmt_ sqlite3_stmt *st = store_prepare(s, queries[with_config][q], err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, q == 1 ? name : ref, -1, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			ctr_record *r = row_to_record(st, with_config);
			if (q == 2 && sqlite3_step(st) == SQLITE_ROW) {
				ctr_record_free(r);
				return berth_err(err, BERTH_E_NOTFOUND,
				                 "multiple IDs found with provided prefix: %s",
				                 ref);
			}
			container_load_state(s, r);
			*out = r;
			return 0;
		}
		if (rc != SQLITE_DONE)
			return store_sql_err(s, err, "looking up container");
	}
	return berth_err(err, BERTH_E_NOTFOUND, "No such container: %s", ref);
}

int container_list(berth_store *s, bool with_config, ctr_record ***out, size_t *n,
                   berth_error **err)
{
	*out = NULL;
	*n = 0;
	if (container_store_init(s, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    with_config ? "SELECT " RECORD_COLS ", config FROM containers ORDER BY created DESC"
	                : "SELECT " RECORD_COLS " FROM containers ORDER BY created DESC",
	    err);
	if (st == NULL)
		return -1;
	/* one fd for root/containers: shorter paths for every container */
	_cleanup_close_ int cfd =
	    openat(store_rootfd(s), "containers", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t cap = 0;
	ctr_record **v = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[*n] = row_to_record(st, with_config);
		if (cfd >= 0)
			load_state_at(cfd, "", v[*n]);
		else
			container_load_state(s, v[*n]);
		(*n)++;
	}
	if (rc != SQLITE_DONE) {
		ctr_records_free(v, *n);
		*n = 0;
		return store_sql_err(s, err, "listing containers");
	}
	*out = v;
	return 0;
}

int container_set_db_state(berth_store *s, const char *id, const char *state, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "UPDATE containers SET state = ?2 WHERE id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "updating container state");
	return 0;
}

int container_rename(berth_store *s, ctr_record *r, const char *new_name, berth_error **err)
{
	const char *name = new_name[0] == '/' ? new_name + 1 : new_name;
	if (ctr_validate_name(name, err) < 0)
		return -1;
	if (!strcmp(name, r->name))
		return berth_err(
		    err, BERTH_E_INVALID,
		    "Error when allocating new name: Renaming a container with the same "
		    "name as its current name");
	_cleanup_tx_ berth_store *tx = NULL;
	if (store_tx_begin(s, err) < 0)
		return -1;
	tx = s;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "UPDATE containers SET name = ?2 WHERE id = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		return ctr_name_conflict(s, name, err);
	if (rc != SQLITE_DONE)
		return store_sql_err(s, err, "renaming container");
	if (store_tx_commit(s, err) < 0)
		return -1;
	tx = NULL;
	free(r->name);
	r->name = xstrdup(name);
	return 0;
}

int ctr_name_conflict(berth_store *s, const char *name, berth_error **err)
{
	char other[CTR_ID_LEN + 1] = "";
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "SELECT id FROM containers WHERE name = ?1", NULL);
	if (st) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(other, sizeof(other), "%s", col(st, 0));
	}
	return berth_err(err, BERTH_E_CONFLICT,
	                 "Conflict. The container name \"/%s\" is already in use by container "
	                 "\"%s\". You have to remove (or rename) that container to be able to "
	                 "reuse that name.",
	                 name, other);
}

int ctr_validate_name(const char *name, berth_error **err)
{
	/* Docker: ^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$, but one character is allowed
	 * too (the issue's own example is `--name x`) */
	size_t n = strlen(name);
	bool ok = n >= 1;
	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
	}
	if (!ok)
		return berth_err(err, BERTH_E_INVALID,
		                 "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
		                 "allowed",
		                 name);
	return 0;
}
