/* docker container prune: remove stopped containers, narrowed by Docker's
 * prune filters until=, label=, label!=. */
#include <dirent.h>
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
#include "runtime/runtime.h"
#include "volume/volume.h"

/* Docker's filters.MatchKVList: every "KEY" must be a label, every
 * "KEY=VALUE" a label with that value. */
static bool match_all(char *const *filters, const json_t *labels)
{
	for (char *const *f = filters; f && *f; f++) {
		const char *eq = strchr(*f, '=');
		_cleanup_free_ char *k = eq ? xstrndup(*f, (size_t)(eq - *f)) : xstrdup(*f);
		const char *v = json_string_value(json_object_get(labels, k));
		if (v == NULL || (eq && strcmp(v, eq + 1) != 0))
			return false;
	}
	return true;
}

static bool known_container(const char *id, void *arg)
{
	ctr_record *r = NULL;
	berth_error *e = NULL;
	bool found = container_lookup(arg, id, false, &r, &e) == 0;
	ctr_record_free(r);
	berth_error_free(e);
	return found;
}

/* Empty cgroups of containers that never were: a `run` killed between
 * making its cgroup ahead (container_prep) and its start. */
#define ORPHAN_CGROUP_AGE_S 60

static bool is_id(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++)
		if (!((name[n] >= '0' && name[n] <= '9') || (name[n] >= 'a' && name[n] <= 'f')))
			return false;
	return n == CTR_ID_LEN;
}

/* Directories of containers that never were: a `run` killed after making
 * its container directory (root/containers/<id>) and before committing
 * its record. Only those a minute old (by mtime: a fresh one or a claimed
 * spare's is now), a start in progress makes its directory just before
 * its record. Then run directories (runroot/containers/<id>) with neither
 * a record nor a container directory: a start makes its run directory
 * after its container directory and removes it first. */
static void sweep_orphan_dirs(berth_store *s)
{
	_cleanup_free_ char *base = xasprintf("%s/containers", store_root(s));
	_cleanup_free_ char *runbase = xasprintf("%s/containers", store_runroot(s));
	time_t now = time(NULL);
	for (int pass = 0; pass < 2; pass++) {
		const char *b = pass == 0 ? base : runbase;
		_cleanup_closedir_ DIR *d = opendir(b);
		if (d == NULL)
			continue;
		for (struct dirent *e; (e = readdir(d));) {
			if (!is_id(e->d_name))
				continue;
			struct stat st;
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
			if (pass == 0 && now - st.st_mtime < ORPHAN_CGROUP_AGE_S)
				continue;
			_cleanup_free_ char *dir = xasprintf("%s/%s", base, e->d_name);
			if (pass == 1 && access(dir, F_OK) == 0)
				continue;
			if (known_container(e->d_name, s))
				continue;
			_cleanup_free_ char *p = xasprintf("%s/%s", b, e->d_name);
			rm_rf(p, NULL);
		}
	}
}

int container_prune(berth_store *s, const ctr_prune_opts *o, char ***removed, int64_t *reclaimed,
                    berth_error **err)
{
	rt_cg_sweep_orphans("/berth", ORPHAN_CGROUP_AGE_S, known_container, s);
	sweep_orphan_dirs(s);
	*removed = NULL;
	*reclaimed = 0;
	ctr_record **v = NULL;
	size_t n = 0;
	if (container_list(s, true, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		ctr_record *r = v[i];
		const char *st = container_status(r);
		if (strcmp(st, "exited") && strcmp(st, "created") && strcmp(st, "dead"))
			continue;
		if (o->has_until && r->created_ns > o->until_ns)
			continue;
		const json_t *labels =
		    json_object_get(json_object_get(r->config, "Config"), "Labels");
		if (!match_all(o->labels, labels))
			continue;
		if (o->not_labels && match_all(o->not_labels, labels))
			continue;
		/* Docker reports the containers' SizeRw as reclaimed */
		_cleanup_free_ char *dir = container_dir(s, r->id);
		_cleanup_free_ char *up = xasprintf("%s/upper", dir);
		int64_t size = 0;
		{
			_cleanup_close_ int ufd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (ufd >= 0)
				size = volume_tree_size(ufd);
		}
		if (container_remove(s, r, false, false, NULL) == 0) {
			*removed = strv_append(*removed, r->id);
			*reclaimed += size;
		}
	}
	ctr_records_free(v, n);
	return 0;
}
