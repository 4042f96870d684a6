/* Volume records and directories. */
#include "volume/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"

static const store_migration migrations[] = {
    {"CREATE TABLE volumes ("
     " name TEXT PRIMARY KEY,"
     " driver TEXT NOT NULL DEFAULT 'local',"
     " created INTEGER NOT NULL,"
     " labels TEXT NOT NULL DEFAULT '{}',"
     " options TEXT NOT NULL DEFAULT '{}',"
     " anonymous INTEGER NOT NULL DEFAULT 0);"},
};

int volume_store_init(berth_store *s, berth_error **err)
{
	return store_migrate(s, "volumes", migrations, ARRAY_SIZE(migrations), err);
}

void volume_info_free(volume_info *v)
{
	if (v == NULL)
		return;
	free(v->name);
	free(v->driver);
	free(v->mountpoint);
	json_decref(v->labels);
	json_decref(v->options);
	free(v);
}

void volume_infos_free(volume_info **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		volume_info_free(v[i]);
	free(v);
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? t : "";
}

static volume_info *row_to_info(berth_store *s, sqlite3_stmt *st)
{
	volume_info *v = xcalloc(1, sizeof(*v));
	v->name = xstrdup(col(st, 0));
	v->driver = xstrdup(col(st, 1));
	v->created_ns = sqlite3_column_int64(st, 2);
	v->labels = json_loads(col(st, 3), 0, NULL);
	if (!json_is_object(v->labels)) {
		json_decref(v->labels);
		v->labels = json_object();
	}
	v->options = json_loads(col(st, 4), 0, NULL);
	if (!json_is_object(v->options)) {
		json_decref(v->options);
		v->options = json_object();
	}
	v->anonymous = sqlite3_column_int(st, 5) != 0;
	v->mountpoint = xasprintf("%s/volumes/%s/_data", store_root(s), v->name);
	return v;
}

static int valid_name(const char *n, berth_error **err)
{
	size_t len = strlen(n);
	bool ok = len >= 2;
	for (size_t i = 0; ok && i < len; i++) {
		char c = n[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'));
	}
	if (!ok)
		return berth_err(err, BERTH_E_INVALID,
		                 "create %s: \"%s\" includes invalid characters for a local volume "
		                 "name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you "
		                 "intended to pass a host directory, use absolute path",
		                 n, n);
	return 0;
}

#define VOL_COLS "name, driver, created, labels, options, anonymous"

int volume_get(berth_store *s, const char *name, volume_info **out, berth_error **err)
{
	*out = NULL;
	if (volume_store_init(s, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "SELECT " VOL_COLS " FROM volumes WHERE name = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = row_to_info(s, st);
		return 0;
	}
	if (rc != SQLITE_DONE)
		return store_sql_err(s, err, "reading volume");
	return berth_err(err, BERTH_E_NOTFOUND, "get %s: no such volume", name);
}

int volume_create(berth_store *s, const volume_create_opts *o, volume_info **out, berth_error **err)
{
	*out = NULL;
	if (volume_store_init(s, err) < 0)
		return -1;
	if (o->driver && *o->driver && strcmp(o->driver, "local"))
		return berth_err(err, BERTH_E_NOTFOUND,
		                 "create %s: error looking up volume plugin %s: plugin \"%s\" not "
		                 "found",
		                 o->name ? o->name : "", o->driver, o->driver);
	char gen[65];
	const char *name = o->name;
	if (name == NULL || !*name) {
		unsigned char b[32];
		if (getrandom(b, sizeof(b), 0) != sizeof(b))
			return berth_err_sys(err, errno, "getrandom");
		for (int i = 0; i < 32; i++)
			snprintf(gen + 2 * i, 3, "%02x", b[i]);
		name = gen;
	} else if (valid_name(name, err) < 0) {
		return -1;
	}
	/* an existing named volume is simply returned (Docker's behaviour) */
	if (volume_get(s, name, out, NULL) == 0)
		return 0;
	json_t *opts = o->options;
	const char *type = json_get_str(opts, "type");
	const char *device = json_get_str(opts, "device");
	if ((type && *type && !(device && *device)) || (!(type && *type) && device && *device))
		return berth_err(
		    err, BERTH_E_INVALID,
		    "create %s: invalid option: the 'type' and 'device' options must be "
		    "given together",
		    name);
	_cleanup_free_ char *data = xasprintf("%s/volumes/%s/_data", store_root(s), name);
	if (mkdir_p(data, 0755, err) < 0)
		return -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	_cleanup_free_ char *labels = o->labels ? json_dump_compact(o->labels) : xstrdup("{}");
	_cleanup_free_ char *opt_text = opts ? json_dump_compact(opts) : xstrdup("{}");
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT OR IGNORE INTO volumes (name, driver, created, labels, options, anonymous)"
	    " VALUES (?1, 'local', ?2, ?3, ?4, ?5)",
	    err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec);
	sqlite3_bind_text(st, 3, labels, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, opt_text, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, o->anonymous ? 1 : 0);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "recording volume");
	return volume_get(s, name, out, err);
}

int volume_list(berth_store *s, volume_info ***out, size_t *n, berth_error **err)
{
	*out = NULL;
	*n = 0;
	if (volume_store_init(s, err) < 0)
		return -1;
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "SELECT " VOL_COLS " FROM volumes ORDER BY name", err);
	if (st == NULL)
		return -1;
	volume_info **v = NULL;
	size_t cap = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 16;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		v[(*n)++] = row_to_info(s, st);
	}
	*out = v;
	return 0;
}

char **volume_users(berth_store *s, const char *name)
{
	if (!store_table_exists(s, "container_volumes"))
		return NULL;
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s, "SELECT container_id FROM container_volumes WHERE volume = ?1 ORDER BY 1", NULL);
	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	char **v = NULL;
	while (sqlite3_step(st) == SQLITE_ROW)
		v = strv_append(v, col(st, 0));
	return v;
}

int volume_remove(berth_store *s, const char *name, bool force, berth_error **err)
{
	if (volume_store_init(s, err) < 0)
		return -1;
	_cleanup_volume_info_ volume_info *v = NULL;
	if (volume_get(s, name, &v, err) < 0) {
		if (force) {
			berth_error_clear(err);
			return 0;
		}
		return -1;
	}
	_cleanup_strv_ char **users = volume_users(s, name);
	if (users && users[0])
		return berth_err(err, BERTH_E_CONFLICT, "remove %s: volume is in use - [%s]", name,
		                 users[0]);
	_cleanup_stmt_ sqlite3_stmt *st =
	    store_prepare(s, "DELETE FROM volumes WHERE name = ?1", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		return store_sql_err(s, err, "removing volume");
	_cleanup_free_ char *dir = xasprintf("%s/volumes/%s", store_root(s), name);
	umount2(v->mountpoint, MNT_DETACH);
	return rm_rf(dir, err);
}

bool volume_label_match(json_t *labels, const char *filter)
{
	const char *eq = strchr(filter, '=');
	if (eq == NULL)
		return json_object_get(labels, filter) != NULL;
	_cleanup_free_ char *k = xstrndup(filter, (size_t)(eq - filter));
	return str_eq(json_get_str(labels, k), eq + 1);
}

int volume_prune(berth_store *s, bool all, char *const *label_filters, char ***removed,
                 int64_t *reclaimed, berth_error **err)
{
	*removed = NULL;
	*reclaimed = 0;
	volume_info **v = NULL;
	size_t n = 0;
	if (volume_list(s, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!all && !v[i]->anonymous)
			continue;
		bool match = true;
		for (size_t k = 0; label_filters && label_filters[k]; k++) {
			const char *f = label_filters[k];
			if (str_has_prefix(f, "!"))
				match = match && !volume_label_match(v[i]->labels, f + 1);
			else
				match = match && volume_label_match(v[i]->labels, f);
		}
		if (!match)
			continue;
		_cleanup_strv_ char **users = volume_users(s, v[i]->name);
		if (users && users[0])
			continue;
		int dfd = open(v[i]->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int64_t size = dfd >= 0 ? volume_tree_size(dfd) : 0;
		if (dfd >= 0)
			close(dfd);
		if (volume_remove(s, v[i]->name, false, NULL) == 0) {
			*removed = strv_append(*removed, v[i]->name);
			*reclaimed += size;
		}
	}
	volume_infos_free(v, n);
	return 0;
}

json_t *volume_inspect_json(const volume_info *v)
{
	struct timespec ts = {.tv_sec = v->created_ns / 1000000000};
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char created[64];
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *j = json_object();
	json_object_set_new(j, "CreatedAt", json_string(created));
	json_object_set_new(j, "Driver", json_string(v->driver));
	json_object_set(j, "Labels", v->labels);
	json_object_set_new(j, "Mountpoint", json_string(v->mountpoint));
	json_object_set_new(j, "Name", json_string(v->name));
	json_object_set(j, "Options", json_object_size(v->options) ? v->options : json_null());
	json_object_set_new(j, "Scope", json_string("local"));
	return j;
}

/* ---- trees ---- */

bool volume_dir_empty(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return true;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return true;
	}
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

int64_t volume_tree_size(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	int64_t total = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				total += volume_tree_size(sub);
				close(sub);
			}
		} else {
			total += st.st_size;
		}
	}
	closedir(d);
	return total;
}

static void copy_meta(int dfd, const char *name, const struct stat *st, bool is_link)
{
	fchownat(dfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
	if (!is_link)
		fchmodat(dfd, name, st->st_mode & 07777, 0);
	struct timespec t[2] = {st->st_atim, st->st_mtim};
	utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW);
}

int volume_copy_tree(int srcfd, int dstfd, berth_error **err)
{
	int fd = openat(srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening source directory");
	DIR *d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return berth_err_sys(err, errno, "reading source directory");
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d)) && ret == 0) {
		const char *n = e->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (mkdirat(dstfd, n, 0700) < 0 && errno != EEXIST) {
				ret = berth_err_sys(err, errno, "creating %s", n);
				break;
			}
			int s2 =
			    openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int d2 = openat(dstfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 >= 0 && d2 >= 0)
				ret = volume_copy_tree(s2, d2, err);
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
			copy_meta(dstfd, n, &st, false);
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_close_ int in =
			    openat(dirfd(d), n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			_cleanup_close_ int out = openat(
			    dstfd, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (in < 0 || out < 0) {
				ret = berth_err_sys(err, errno, "copying %s", n);
				break;
			}
			if (copy_fd(in, out, err) < 0) {
				ret = -1;
				break;
			}
			copy_meta(dstfd, n, &st, false);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t l = readlinkat(dirfd(d), n, target, sizeof(target) - 1);
			if (l < 0)
				continue;
			target[l] = 0;
			if (symlinkat(target, dstfd, n) == 0)
				copy_meta(dstfd, n, &st, true);
		} else {
			if (mknodat(dstfd, n, st.st_mode, st.st_rdev) == 0)
				copy_meta(dstfd, n, &st, false);
		}
	}
	closedir(d);
	return ret;
}
