/* Container state on disk: <state_root>/<id>/state.json (written
 * atomically) and exec.fifo while the container is `created`. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/internal.h"
#include "runtime/rt_cgroup.h"

bool rt_valid_id(const char *id)
{
	if (id == NULL || !*id || strlen(id) > 1024 || !strcmp(id, ".") || !strcmp(id, ".."))
		return false;
	for (const char *c = id; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_+-.", *c))
			return false;
	return true;
}

int rt_state_dir(const rt_ctx *ctx, const char *id, char **out, berth_error **err)
{
	if (!rt_valid_id(id))
		return berth_err(err, BERTH_E_INVALID, "invalid container id %s", id ? id : "");
	const char *root = ctx->state_root ? ctx->state_root : RT_DEFAULT_STATE_ROOT;
	*out = xasprintf("%s/%s", root, id);
	return 0;
}

unsigned long long rt_proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* after the last ')': state is field 3, starttime field 22 */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}

void rt_state_rec_clear(rt_state_rec *r)
{
	free(r->id);
	free(r->bundle);
	free(r->rootfs);
	free(r->created);
	free(r->cgroup_path);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int rt_state_load(const rt_ctx *ctx, const char *id, rt_state_rec *rec, berth_error **err)
{
	memset(rec, 0, sizeof(*rec));
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, id, &dir, err) < 0)
		return -1;
	_cleanup_free_ char *path = xasprintf("%s/state.json", dir);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	berth_error *e = NULL;
	if (read_file(path, &data, &len, &e) < 0) {
		int no = e->sys_errno;
		berth_error_free(e);
		if (no == ENOENT)
			return berth_err(err, BERTH_E_NOTFOUND, "container %s does not exist", id);
		return berth_err_sys(err, no, "reading the state of container %s", id);
	}
	json_t *j = json_parse_buf(data, len, path, err);
	if (j == NULL)
		return -1;
	rec->json = j;
	rec->id = xstrdup(id);
	rec->bundle = dup_or_null(json_get_str(j, "bundle"));
	rec->rootfs = dup_or_null(json_get_str(j, "rootfs"));
	rec->created = dup_or_null(json_get_str(j, "created"));
	rec->cgroup_path = dup_or_null(json_get_str(j, "cgroupPath"));
	rec->pid = (pid_t)json_get_int(j, "pid", 0);
	rec->start_time = (unsigned long long)json_get_int(j, "startTime", 0);
	rec->annotations = json_object_get(j, "annotations");
	rec->hooks = json_object_get(j, "hooks");
	rec->has_userns = json_get_bool(j, "userns", false);
	return 0;
}

int rt_state_save(const rt_ctx *ctx, const rt_state_rec *rec, berth_error **err)
{
	return rt_state_write(ctx, rec, false, err);
}

int rt_state_write(const rt_ctx *ctx, const rt_state_rec *rec, bool in_place, berth_error **err)
{
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, rec->id, &dir, err) < 0)
		return -1;
	_cleanup_json_ json_t *j = json_object();
	json_object_set_new(j, "id", json_string(rec->id));
	json_object_set_new(j, "pid", json_integer(rec->pid));
	json_object_set_new(j, "startTime", json_integer((json_int_t)rec->start_time));
	json_object_set_new(j, "bundle", json_string(rec->bundle ? rec->bundle : ""));
	json_object_set_new(j, "rootfs", json_string(rec->rootfs ? rec->rootfs : ""));
	json_object_set_new(j, "created", json_string(rec->created ? rec->created : ""));
	if (rec->cgroup_path)
		json_object_set_new(j, "cgroupPath", json_string(rec->cgroup_path));
	if (rec->annotations)
		json_object_set(j, "annotations", rec->annotations);
	if (rec->hooks)
		json_object_set(j, "hooks", rec->hooks);
	json_object_set_new(j, "userns", json_boolean(rec->has_userns));
	_cleanup_free_ char *s = json_dump_compact(j);
	_cleanup_free_ char *path = xasprintf("%s/state.json", dir);
	if (in_place)
		return write_file(path, s, strlen(s), 0600, err);
	return atomic_write(path, s, strlen(s), 0600, false, err);
}

const char *rt_state_status(const rt_ctx *ctx, const rt_state_rec *rec)
{
	const char *st = rt_state_status_unfrozen(ctx, rec);
	if (!strcmp(st, "running") && rt_cgroup_is_frozen(rec))
		return "paused";
	return st;
}

const char *rt_state_status_unfrozen(const rt_ctx *ctx, const rt_state_rec *rec)
{
	if (rec->pid <= 0)
		return "stopped";
	unsigned long long st = rt_proc_start_time(rec->pid);
	if (st == 0 || (rec->start_time && st != rec->start_time))
		return "stopped";
	_cleanup_free_ char *dir = NULL;
	if (rt_state_dir(ctx, rec->id, &dir, NULL) < 0)
		return "stopped";
	_cleanup_free_ char *fifo = xasprintf("%s/exec.fifo", dir);
	if (access(fifo, F_OK) == 0)
		return "created";
	return "running";
}

json_t *rt_state_json(const rt_state_rec *rec, const char *status)
{
	json_t *j = json_object();
	json_object_set_new(j, "ociVersion", json_string(RT_OCI_VERSION));
	json_object_set_new(j, "id", json_string(rec->id));
	json_object_set_new(j, "status", json_string(status));
	json_object_set_new(j, "pid", json_integer(strcmp(status, "stopped") ? rec->pid : 0));
	json_object_set_new(j, "bundle", json_string(rec->bundle ? rec->bundle : ""));
	json_object_set_new(j, "rootfs", json_string(rec->rootfs ? rec->rootfs : ""));
	json_object_set_new(j, "created", json_string(rec->created ? rec->created : ""));
	json_object_set_new(j, "annotations",
	                    rec->annotations ? json_incref(rec->annotations) : json_object());
	return j;
}
