/* A container's mounts: -v/Binds, --mount, the image's VOLUMEs,
 * --volumes-from, resolved at create time into inspect's "Mounts" (keys
 * starting "x-" are berth's own and not shown by inspect). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "volume/volume.h"

static bool has_dest(json_t *mounts, const char *dst)
{
	size_t i;
	json_t *m;
	json_array_foreach (mounts, i, m) {
		if (str_eq(json_get_str(m, "Destination"), dst))
			return true;
	}
	return false;
}

static int clean_dest(const char *d, berth_error **err)
{
	if (d == NULL || d[0] != '/')
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid mount config: mount path must be "
		                 "absolute");
	if (!strcmp(d, "/"))
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid specification: destination can't "
		                 "be '/'");
	return 0;
}

static json_t *volume_mount(berth_store *s, const char *id, const char *name, const char *dst,
                            bool rw, bool nocopy, json_t *labels, json_t *opts, berth_error **err)
{
	volume_create_opts vo = {
	    .name = name, .labels = labels, .options = opts, .anonymous = name == NULL};
	_cleanup_volume_info_ volume_info *v = NULL;
	if (volume_create(s, &vo, &v, err) < 0)
		return NULL;
	(void)id;
	json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "Type", "volume", "Name",
	                      v->name, "Source", v->mountpoint, "Destination", dst, "Driver",
	                      "local", "Mode", rw ? "z" : "ro", "RW", rw, "Propagation", "");
	json_object_set_new(m, "Mode", json_string(""));
	if (nocopy)
		json_object_set_new(m, "x-nocopy", json_true());
	if (v->anonymous)
		json_object_set_new(m, "x-anonymous", json_true());
	return m;
}

static json_t *bind_mount(const char *src, const char *dst, bool rw, const char *prop,
                          const char *mode)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "Type", "bind", "Source", src, "Destination",
	                 dst, "Mode", mode ? mode : "", "RW", rw, "Propagation",
	                 prop && *prop ? prop : "rprivate");
}

static int parse_bind(berth_store *s, const char *id, const char *spec, json_t *mounts,
                      berth_error **err)
{
	ctr_bind_spec b;
	if (ctr_bind_spec_parse(spec, &b, err) < 0)
		return -1;
	int rc = 0;
	if (has_dest(mounts, b.dst)) {
		rc = berth_err(err, BERTH_E_INVALID, "Duplicate mount point: %s", b.dst);
	} else if (b.src && b.src[0] == '/') {
		struct stat st;
		if (stat(b.src, &st) < 0 && mkdir_p(b.src, 0755, err) < 0)
			rc = -1;
		else
			json_array_append_new(
			    mounts, bind_mount(b.src, b.dst, b.rw, b.propagation, b.mode));
	} else {
		json_t *m = volume_mount(s, id, b.src, b.dst, b.rw, b.nocopy, NULL, NULL, err);
		if (m == NULL) {
			rc = -1;
		} else {
			json_object_set_new(m, "Mode", json_string(b.mode));
			json_array_append_new(mounts, m);
		}
	}
	ctr_bind_spec_clear(&b);
	return rc;
}

static int parse_api_mount(berth_store *s, const char *id, json_t *spec, json_t *mounts,
                           berth_error **err)
{
	const char *type = json_get_str(spec, "Type");
	const char *src = json_get_str(spec, "Source");
	const char *dst = json_get_str(spec, "Target");
	bool rw = !json_get_bool(spec, "ReadOnly", false);
	if (clean_dest(dst, err) < 0)
		return -1;
	if (has_dest(mounts, dst))
		return berth_err(err, BERTH_E_INVALID, "Duplicate mount point: %s", dst);
	json_t *m = NULL;
	if (str_eq(type, "bind")) {
		struct stat st;
		if (src == NULL || src[0] != '/')
			return berth_err(
			    err, BERTH_E_INVALID,
			    "invalid mount config for type \"bind\": invalid mount path: "
			    "'%s' mount path must be absolute",
			    src ? src : "");
		if (stat(src, &st) < 0)
			return berth_err(
			    err, BERTH_E_INVALID,
			    "invalid mount config for type \"bind\": bind source path does "
			    "not exist: %s",
			    src);
		m = bind_mount(src, dst, rw,
		               json_get_str(json_object_get(spec, "BindOptions"), "Propagation"),
		               "");
	} else if (str_eq(type, "volume") || type == NULL) {
		json_t *vo = json_object_get(spec, "VolumeOptions");
		json_t *dc = json_object_get(vo, "DriverConfig");
		m = volume_mount(s, id, src && *src ? src : NULL, dst, rw,
		                 json_get_bool(vo, "NoCopy", false), json_object_get(vo, "Labels"),
		                 json_object_get(dc, "Options"), err);
		if (m == NULL)
			return -1;
	} else if (str_eq(type, "tmpfs")) {
		if (src && *src)
			return berth_err(
			    err, BERTH_E_INVALID,
			    "invalid mount config for type \"tmpfs\": source must not be "
			    "specified");
		json_t *to = json_object_get(spec, "TmpfsOptions");
		m = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s}", "Type", "tmpfs", "Source", "",
		              "Destination", dst, "Mode", "", "RW", rw, "Propagation", "");
		if (json_get_int(to, "SizeBytes", 0) > 0)
			json_object_set_new(m, "TmpfsSize",
			                    json_integer(json_get_int(to, "SizeBytes", 0)));
		if (json_get_int(to, "Mode", 0) > 0)
			json_object_set_new(m, "TmpfsMode",
			                    json_integer(json_get_int(to, "Mode", 0)));
	} else {
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid mount config: mount type unknown: "
		                 "\"%s\"",
		                 type);
	}
	json_array_append_new(mounts, m);
	return 0;
}

int ctr_resolve_mounts(berth_store *s, const char *id, json_t *config, json_t *host, json_t **out,
                       berth_error **err)
{
	json_t *mounts = json_array();
	_cleanup_json_ json_t *guard = mounts;
	size_t i;
	json_t *v;
	json_array_foreach (json_object_get(host, "Binds"), i, v) {
		if (parse_bind(s, id, json_string_value(v) ? json_string_value(v) : "", mounts,
		               err) < 0)
			return -1;
	}
	json_array_foreach (json_object_get(host, "Mounts"), i, v) {
		if (parse_api_mount(s, id, v, mounts, err) < 0)
			return -1;
	}
	json_array_foreach (json_object_get(host, "VolumesFrom"), i, v) {
		const char *spec = json_string_value(v);
		if (spec == NULL)
			continue;
		_cleanup_free_ char *ref = xstrdup(spec);
		char *mode = strchr(ref, ':');
		if (mode)
			*mode++ = 0;
		_cleanup_ctr_record_ ctr_record *o = NULL;
		if (container_lookup(s, ref, true, &o, err) < 0)
			return -1;
		size_t k;
		json_t *m;
		json_array_foreach (json_object_get(o->config, "Mounts"), k, m) {
			const char *dst = json_get_str(m, "Destination");
			if (has_dest(mounts, dst) || str_eq(json_get_str(m, "Type"), "tmpfs"))
				continue;
			json_t *c = json_deep_copy(m);
			if (mode && !strcmp(mode, "ro"))
				json_object_set_new(c, "RW", json_false());
			else if (mode && !strcmp(mode, "rw"))
				json_object_set_new(c, "RW", json_true());
			json_object_del(c, "x-anonymous");
			if (str_eq(json_get_str(m, "Type"), "volume") &&
			    json_get_bool(m, "x-anonymous", false))
				json_object_set_new(c, "x-shared-anonymous", json_true());
			json_array_append_new(mounts, c);
		}
	}
	const char *k;
	json_object_foreach (json_object_get(config, "Volumes"), k, v) {
		if (has_dest(mounts, k) || json_object_get(json_object_get(host, "Tmpfs"), k))
			continue;
		json_t *m = volume_mount(s, id, NULL, k, true, false, NULL, NULL, err);
		if (m == NULL)
			return -1;
		json_array_append_new(mounts, m);
	}
	*out = steal_ptr(guard);
	return 0;
}

int ctr_record_volumes(berth_store *s, const char *id, json_t *mounts, berth_error **err)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(
	    s,
	    "INSERT OR IGNORE INTO container_volumes (container_id, volume, anonymous)"
	    " VALUES (?1, ?2, ?3)",
	    err);
	if (st == NULL)
		return -1;
	size_t i;
	json_t *m;
	json_array_foreach (mounts, i, m) {
		if (!str_eq(json_get_str(m, "Type"), "volume"))
			continue;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, json_get_str(m, "Name"), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, json_get_bool(m, "x-anonymous", false) ? 1 : 0);
		if (sqlite3_step(st) != SQLITE_DONE)
			return store_sql_err(s, err, "recording volume use");
	}
	return 0;
}

int ctr_init_volumes(berth_store *s, json_t *mounts, const char *rootfs, berth_error **err)
{
	(void)s;
	size_t i;
	json_t *m;
	json_array_foreach (mounts, i, m) {
		if (!str_eq(json_get_str(m, "Type"), "volume") ||
		    json_get_bool(m, "x-nocopy", false))
			continue;
		const char *src = json_get_str(m, "Source");
		const char *dst = json_get_str(m, "Destination");
		_cleanup_close_ int vfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (vfd < 0 || !volume_dir_empty(vfd))
			continue;
		_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			continue;
		_cleanup_close_ int sfd =
		    open_in_root(rootfd, dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, NULL);
		if (sfd < 0)
			continue;
		if (volume_copy_tree(sfd, vfd, err) < 0)
			return berth_err_prefix(err, "copying image content into volume %s",
			                        json_get_str(m, "Name"));
		/* the volume root takes the mode/owner of the image's directory */
		struct stat st;
		if (fstat(sfd, &st) == 0) {
			if (fchown(vfd, st.st_uid, st.st_gid) < 0)
				(void)0;
			fchmod(vfd, st.st_mode & 07777);
		}
	}
	return 0;
}
