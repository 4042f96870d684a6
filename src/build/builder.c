/* berth build: stages, their order and parallelism, step roots (overlay
 * mounts), step commits and the cache. What each instruction does is in
 * instructions.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/builder.h"
#include "build/spec.h"
#include "image/image.h"
#include "image/image_int.h"
#include "image/layer.h"
#include "image/ref.h"
#include "registry/registry.h"

int build_prepare_process(berth_error **err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return berth_err_sys(err, errno, "creating the build's mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return berth_err_sys(err, errno, "making the build's mounts private");
	return 0;
}

/* ---- progress ---- */

static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int bld_vertex(builder *b, const char *text)
{
	pthread_mutex_lock(&b->pmu);
	int v = ++b->next_vertex;
	if (b->o->progress) {
		build_event ev = {.kind = BUILD_EV_STEP, .vertex = v, .text = text};
		b->o->progress(b->o->progress_ud, &ev);
	}
	pthread_mutex_unlock(&b->pmu);
	return v;
}

void bld_event(builder *b, int kind, int vertex, const char *text, double elapsed)
{
	pthread_mutex_lock(&b->pmu);
	if (b->o->progress) {
		build_event ev = {.kind = kind, .vertex = vertex, .text = text, .elapsed = elapsed};
		b->o->progress(b->o->progress_ud, &ev);
	}
	pthread_mutex_unlock(&b->pmu);
}

/* ---- variables ---- */

const char *bld_build_arg(builder *b, const char *key)
{
	size_t n = strlen(key);
	for (char **p = b->bargs; p && *p; p++)
		if (!strncmp(*p, key, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

const char *bld_lookup(void *ud, const char *name)
{
	sstate *st = ud;
	size_t n = strlen(name);
	if (st->cfg)
		for (char **p = st->cfg->config.env; p && *p; p++)
			if (!strncmp(*p, name, n) && (*p)[n] == '=')
				return *p + n + 1;
	for (size_t i = st->n_args; i-- > 0;)
		if (!strcmp(st->arg_keys[i], name))
			return st->arg_vals[i];
	return NULL;
}

static const char *meta_lookup(void *ud, const char *name)
{
	builder *b = ud;
	for (size_t i = strv_len(b->meta_keys); i-- > 0;)
		if (!strcmp(b->meta_keys[i], name))
			return b->meta_vals[i][0] == '\x01' ? NULL : b->meta_vals[i];
	return NULL;
}

static const char *host_arch(void)
{
	struct utsname u;
	if (uname(&u) == 0) {
		if (!strcmp(u.machine, "aarch64"))
			return "arm64";
		if (!strcmp(u.machine, "armv7l"))
			return "arm";
		if (!strcmp(u.machine, "s390x") || !strcmp(u.machine, "ppc64le") ||
		    !strcmp(u.machine, "riscv64"))
			return u.machine[0] == 's'   ? "s390x"
			       : u.machine[0] == 'p' ? "ppc64le"
			                             : "riscv64";
	}
	return "amd64";
}

static void meta_set(builder *b, const char *k, const char *v)
{
	b->meta_keys = strv_append(b->meta_keys, k);
	b->meta_vals = strv_append(b->meta_vals, v ? v : "\x01");
}

/* ---- images and stages ---- */

int bld_image(builder *b, const char *name, char id[DIGEST_STR_LEN + 1], image_config **cfg,
              char ***chain_ids, berth_error **err)
{
	_cleanup_image_info_ image_info *info = NULL;
	pthread_mutex_lock(&b->mu);
	berth_error *e = NULL;
	int rc = image_resolve(b->s, name, &info, &e);
	if (rc < 0 && e->code == BERTH_E_NOTFOUND) {
		berth_error_free(e);
		e = NULL;
		registry_pull_opts po = {.config = b->o->config};
		_cleanup_free_ char *full = NULL;
		if (registry_pull(b->s, name, &po, &full, &e) == 0)
			rc = image_resolve(b->s, name, &info, &e);
		else
			berth_err_prefix(&e, "%s", name);
	}
	pthread_mutex_unlock(&b->mu);
	if (rc < 0) {
		*err = e;
		return -1;
	}
	memcpy(id, info->id, DIGEST_STR_LEN + 1);
	if (image_config_parse(info->config, info->config_len, cfg, err) < 0)
		return -1;
	*chain_ids = strv_dup(info->chain_ids);
	if (*chain_ids == NULL)
		*chain_ids = xcalloc(1, sizeof(char *));
	return 0;
}

static bstage *find_stage(builder *b, const char *name, size_t before)
{
	for (size_t i = 0; i < before && i < b->n_stages; i++)
		if (b->stages[i].name && !strcasecmp(b->stages[i].name, name))
			return &b->stages[i];
	char *end = NULL;
	unsigned long k = strtoul(name, &end, 10);
	if (*name && end && *end == 0 && k < before && k < b->n_stages)
		return &b->stages[k];
	return NULL;
}

bstage *bld_stage_ref(builder *b, const char *name, size_t before, berth_error **err, bool *failed)
{
	*failed = false;
	bstage *t = find_stage(b, name, before);
	if (t == NULL)
		return NULL;
	pthread_mutex_lock(&b->mu);
	while (t->state < 2 && !b->failed)
		pthread_cond_wait(&b->cv, &b->mu);
	bool ok = t->state == 2;
	pthread_mutex_unlock(&b->mu);
	if (!ok) {
		*failed = true;
		berth_err(err, BERTH_E_GENERIC, "stage %s failed", name);
	}
	return t;
}

/* ---- deletions in the background ---- */

static void *trash_main(void *p)
{
	builder *b = p;
	pthread_mutex_lock(&b->tmu);
	for (;;) {
		while ((b->trash == NULL || b->trash[0] == NULL) && !b->trash_closing)
			pthread_cond_wait(&b->tcv, &b->tmu);
		if (b->trash == NULL || b->trash[0] == NULL)
			break;
		size_t n = strv_len(b->trash);
		char *path = b->trash[n - 1];
		b->trash[n - 1] = NULL;
		pthread_mutex_unlock(&b->tmu);
		rm_rf(path, NULL);
		free(path);
		pthread_mutex_lock(&b->tmu);
	}
	pthread_mutex_unlock(&b->tmu);
	return NULL;
}

void bld_trash(builder *b, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	const char *sp = NULL;
	pthread_mutex_lock(&b->mu);
	int sfd = store_staging(b->s, &sp, NULL);
	_cleanup_free_ char *name = sfd >= 0 ? store_staging_name(b->s, "trash") : NULL;
	pthread_mutex_unlock(&b->mu);
	if (sfd < 0 || renameat(AT_FDCWD, path, sfd, name) < 0) {
		rm_rf(path, NULL);
		return;
	}
	char *full = xasprintf("%s/%s", sp, name);
	pthread_mutex_lock(&b->tmu);
	if (!b->trash_started && !b->trash_closing) {
		b->trash_started = pthread_create(&b->trash_thread, NULL, trash_main, b) == 0;
	}
	if (b->trash_started) {
		b->trash = strv_append(b->trash, full);
		pthread_cond_signal(&b->tcv);
	}
	pthread_mutex_unlock(&b->tmu);
	if (!b->trash_started)
		rm_rf(full, NULL);
	free(full);
}

/* Wait for the deletions (the end of the build). */
static void trash_finish(builder *b)
{
	pthread_mutex_lock(&b->tmu);
	b->trash_closing = true;
	pthread_cond_broadcast(&b->tcv);
	bool started = b->trash_started;
	pthread_mutex_unlock(&b->tmu);
	if (started)
		pthread_join(b->trash_thread, NULL);
	b->trash_started = false;
	for (char **t = b->trash; t && *t; t++)
		rm_rf(*t, NULL);
	strv_free(b->trash);
	b->trash = NULL;
}

/* ---- step roots ---- */

static char *lowerdir_of(builder *b, char *const *chain_ids)
{
	strbuf sb;
	sb_init(&sb);
	for (size_t i = strv_len(chain_ids); i-- > 0;) {
		_cleanup_free_ char *p = layer_store_path(b->s, chain_ids[i]);
		if (sb.len)
			sb_appendc(&sb, ':');
		sb_append(&sb, p);
	}
	return sb_steal(&sb);
}

static int do_overlay(const char *target, const char *lower, const char *upper, const char *work,
                      berth_error **err)
{
	_cleanup_free_ char *opts =
	    upper ? xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off,redirect_dir=off,"
	                      "metacopy=off,volatile",
	                      lower, upper, work)
	          : xasprintf("lowerdir=%s", lower);
	if (strlen(opts) >= 4000)
		return berth_err(err, BERTH_E_UNSUPPORTED, "too many layers for overlayfs");
	if (mount("overlay", target, "overlay", 0, opts) == 0)
		return 0;
	if (upper && errno == EINVAL) {
		_cleanup_free_ char *o2 =
		    xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
		if (mount("overlay", target, "overlay", 0, o2) == 0)
			return 0;
	}
	return berth_err_sys(err, errno, "mounting the step's root filesystem");
}

int bld_mount(sstate *st, steproot *r, berth_error **err)
{
	builder *b = st->b;
	memset(r, 0, sizeof(*r));
	r->rootfd = -1;
	if (bld_load_parent(st, err) < 0)
		return -1;
	const char *sp = NULL;
	pthread_mutex_lock(&b->mu);
	int sfd = store_staging(b->s, &sp, err);
	if (sfd >= 0)
		r->staged = store_staging_name(b->s, "step");
	pthread_mutex_unlock(&b->mu);
	if (sfd < 0)
		return -1;
	r->path = xasprintf("%s/%s", sp, r->staged);
	_cleanup_free_ char *diff = xasprintf("%s/diff", r->path);
	_cleanup_free_ char *work = xasprintf("%s/work", r->path);
	_cleanup_free_ char *empty = xasprintf("%s/empty", r->path);
	r->merged = xasprintf("%s/merged", r->path);
	if (mkdir(r->path, 0700) < 0 || mkdir(diff, 0755) < 0 || mkdir(work, 0700) < 0 ||
	    mkdir(r->merged, 0755) < 0)
		return berth_err_sys(err, errno, "creating a step directory");
	_cleanup_free_ char *lower = NULL;
	if (st->chain_ids && st->chain_ids[0]) {
		lower = lowerdir_of(b, st->chain_ids);
	} else {
		if (mkdir(empty, 0755) < 0)
			return berth_err_sys(err, errno, "creating a step directory");
		lower = xstrdup(empty);
	}
	if (do_overlay(r->merged, lower, diff, work, err) < 0)
		return -1;
	r->mounted = true;
	r->rootfd = open(r->merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (r->rootfd < 0)
		return berth_err_sys(err, errno, "opening the step's root");
	return 0;
}

void bld_steproot_clear(builder *b, steproot *r)
{
	if (r->rootfd >= 0)
		close(r->rootfd);
	r->rootfd = -1;
	if (r->mounted)
		umount2(r->merged, MNT_DETACH);
	r->mounted = false;
	if (r->path)
		bld_trash(b, r->path);
	free(r->staged);
	free(r->path);
	free(r->merged);
	strv_free(r->prune);
	strv_free(r->created);
	memset(r, 0, sizeof(*r));
	r->rootfd = -1;
}

static bool dir_empty(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	if (d == NULL)
		return true;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

static size_t depth_of(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static int by_depth_desc(const void *x, const void *y)
{
	size_t a = depth_of(*(char *const *)x), b = depth_of(*(char *const *)y);
	return a < b ? 1 : a > b ? -1 : 0;
}

/* Drop from the upper what it holds only because of the runtime: the
 * mount points it made (empty directories, empty files; they were missing
 * from the image, so nothing below hides) and the directories copied up
 * to hold them (when empty and not opaque). Deepest first. */
static void prune_upper(builder *b, const char *diff, char **prune, char **created)
{
	_cleanup_close_ int dfd = open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	size_t np = strv_len(prune), nc = strv_len(created);
	const char **all = xcalloc(np + nc + 1, sizeof(*all));
	for (size_t i = 0; i < nc; i++)
		all[i] = created[i];
	for (size_t i = 0; i < np; i++)
		all[nc + i] = prune[i];
	qsort(all, np + nc, sizeof(*all), by_depth_desc);
	for (size_t i = 0; i < np + nc; i++) {
		bool made = strv_contains(created, all[i]);
		struct stat st;
		if (fstatat(dfd, all[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", diff, all[i]);
		if (S_ISREG(st.st_mode)) {
			if (made && st.st_size == 0)
				unlinkat(dfd, all[i], 0);
			continue;
		}
		if (!S_ISDIR(st.st_mode) || !dir_empty(p))
			continue;
		char val[8];
		if (!made && lgetxattr(p, "trusted.overlay.opaque", val, sizeof(val)) > 0)
			continue;
		bld_trash(b, p);
	}
	free(all);
}

int bld_unmount(sstate *st, steproot *r, bool *empty, char diff_id[DIGEST_STR_LEN + 1],
                int64_t *size, char **blob, berth_error **err)
{
	builder *b = st->b;
	*blob = NULL;
	if (r->rootfd >= 0)
		close(r->rootfd);
	r->rootfd = -1;
	if (r->mounted && umount2(r->merged, 0) < 0 && umount2(r->merged, MNT_DETACH) < 0)
		return berth_err_sys(err, errno, "unmounting the step's root");
	r->mounted = false;
	_cleanup_free_ char *work = xasprintf("%s/work", r->path);
	_cleanup_free_ char *emp = xasprintf("%s/empty", r->path);
	bld_trash(b, work);
	bld_trash(b, emp);
	bld_trash(b, r->merged);
	_cleanup_free_ char *diff = xasprintf("%s/diff", r->path);
	if (r->prune || r->created)
		prune_upper(b, diff, r->prune, r->created);
	*empty = dir_empty(diff);
	if (*empty)
		return 0;
	_cleanup_close_ int dfd = open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return berth_err_sys(err, errno, "opening the step's changes");
	const char *sp = NULL;
	pthread_mutex_lock(&b->mu);
	int sfd = store_staging(b->s, &sp, err);
	_cleanup_free_ char *name = sfd >= 0 ? store_staging_name(b->s, "blob") : NULL;
	pthread_mutex_unlock(&b->mu);
	if (sfd < 0)
		return -1;
	_cleanup_close_ int out = openat(sfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return berth_err_sys(err, errno, "creating the layer blob");
	layer_diff_opts lo = {.overlay_whiteouts = true};
	uint64_t sz = 0;
	/* not fsynced (as layer blobs are not elsewhere): a crash leaves a
	 * staged file that is never adopted, and kill -9 loses nothing */
	if (layer_diff(dfd, out, &lo, diff_id, &sz, err) < 0) {
		unlinkat(sfd, name, 0);
		return berth_err_prefix(err, "writing the layer");
	}
	*size = (int64_t)sz;
	*blob = steal_ptr(name);
	return 0;
}

int bld_view(builder *b, char *const *chain_ids, roview *v, berth_error **err)
{
	memset(v, 0, sizeof(*v));
	v->rootfd = -1;
	const char *sp = NULL;
	pthread_mutex_lock(&b->mu);
	int sfd = store_staging(b->s, &sp, err);
	if (sfd >= 0)
		v->staged = store_staging_name(b->s, "view");
	pthread_mutex_unlock(&b->mu);
	if (sfd < 0)
		return -1;
	v->path = xasprintf("%s/%s", sp, v->staged);
	if (mkdir(v->path, 0700) < 0)
		return berth_err_sys(err, errno, "creating a view directory");
	size_t n = strv_len(chain_ids);
	if (n == 0) {
		v->root = xasprintf("%s/empty", v->path);
		if (mkdir(v->root, 0755) < 0)
			return berth_err_sys(err, errno, "creating a view directory");
	} else if (n == 1) {
		v->root = layer_store_path(b->s, chain_ids[0]);
	} else {
		v->root = xasprintf("%s/root", v->path);
		if (mkdir(v->root, 0755) < 0)
			return berth_err_sys(err, errno, "creating a view directory");
		_cleanup_free_ char *lower = lowerdir_of(b, chain_ids);
		if (do_overlay(v->root, lower, NULL, NULL, err) < 0)
			return -1;
		v->mounted = true;
	}
	v->rootfd = open(v->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (v->rootfd < 0)
		return berth_err_sys(err, errno, "opening %s", v->root);
	return 0;
}

void bld_view_clear(builder *b, roview *v)
{
	if (v->rootfd >= 0)
		close(v->rootfd);
	if (v->mounted)
		umount2(v->root, MNT_DETACH);
	if (v->path)
		bld_trash(b, v->path);
	free(v->path);
	free(v->staged);
	free(v->root);
	memset(v, 0, sizeof(*v));
	v->rootfd = -1;
}

/* ---- commits and the cache ---- */

static int load_image(sstate *st, const char *id, berth_error **err)
{
	_cleanup_image_info_ image_info *info = NULL;
	if (image_get(st->b->s, id, &info, err) < 0)
		return -1;
	image_config *c = NULL;
	if (image_config_parse(info->config, info->config_len, &c, err) < 0)
		return -1;
	if (st->cfg) {
		/* keep what the instructions did in memory: the "config" object
		 * and the author (the same as the cached image's, as its key
		 * covers the parent and the instruction, unless the current step
		 * already changed them) */
		json_t *run = json_object_get(st->cfg->json, "config");
		if (run)
			json_object_set_new(c->json, "config", json_deep_copy(run));
		image_config_set_string(c, "author", st->cfg->author);
		_cleanup_free_ char *bytes = image_config_dump(c);
		image_config_free(c);
		c = NULL;
		if (image_config_parse(bytes, strlen(bytes), &c, err) < 0)
			return -1;
	}
	image_config_free(st->cfg);
	st->cfg = c;
	strv_free(st->chain_ids);
	strv_free(st->diff_ids);
	st->chain_ids = info->n_layers ? strv_dup(info->chain_ids) : xcalloc(1, sizeof(char *));
	st->diff_ids = info->n_layers ? strv_dup(info->diff_ids) : xcalloc(1, sizeof(char *));
	memcpy(st->parent, info->id, sizeof(st->parent));
	return 0;
}

int bld_load_parent(sstate *st, berth_error **err)
{
	if (!st->stale)
		return 0;
	pthread_mutex_lock(&st->b->mu);
	int rc = load_image(st, st->parent, err);
	pthread_mutex_unlock(&st->b->mu);
	if (rc < 0)
		return berth_err_prefix(err, "reading the cached image %s", st->parent);
	st->stale = false;
	return 0;
}

int bld_cache_try(sstate *st, const char *key, bool *hit, berth_error **err)
{
	*hit = false;
	if (st->b->o->no_cache)
		return 0;
	char id[DIGEST_STR_LEN + 1];
	pthread_mutex_lock(&st->b->mu);
	int r = build_cache_get(st->b->s, &st->b->cache_get, key, id, err);
	pthread_mutex_unlock(&st->b->mu);
	if (r == 1) {
		/* the image (its row exists: build_cache_get joins images) is
		 * read only when a later step needs its layers or history */
		memcpy(st->parent, id, sizeof(st->parent));
		st->stale = true;
		*hit = true;
	}
	return r < 0 ? -1 : 0;
}

int bld_commit(sstate *st, const char *created_by, steproot *r, const char *diff_id, int64_t size,
               char *blob, const char *key, const char *ident, json_t *detail, berth_error **err)
{
	builder *b = st->b;
	if (bld_load_parent(st, err) < 0)
		return -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	_cleanup_free_ char *created = time_rfc3339nano(&now);
	image_config_set_string(st->cfg, "created", created);
	image_config_set_string(st->cfg, "parent", st->parent[0] ? st->parent : NULL);
	image_config_set_string(st->cfg, "docker_version", "0.1.0");
	image_config_set_string(st->cfg, "comment", NULL);
	image_history h = {
	    .created = created, .created_by = (char *)created_by, .empty_layer = diff_id == NULL};
	image_config_add_history(st->cfg, &h);
	size_t n = strv_len(st->chain_ids);
	image_layer_in *layers = xcalloc(n + 1, sizeof(*layers));
	for (size_t i = 0; i < n; i++) {
		memcpy(layers[i].chain_id, st->chain_ids[i], DIGEST_STR_LEN + 1);
		memcpy(layers[i].diff_id, st->diff_ids[i], DIGEST_STR_LEN + 1);
		if (i)
			memcpy(layers[i].parent, st->chain_ids[i - 1], DIGEST_STR_LEN + 1);
	}
	char chain[DIGEST_STR_LEN + 1] = "";
	if (diff_id) {
		image_config_add_diff_id(st->cfg, diff_id);
		chain_id(n ? st->chain_ids[n - 1] : NULL, diff_id, chain);
		image_layer_in *l = &layers[n];
		memcpy(l->diff_id, diff_id, DIGEST_STR_LEN + 1);
		memcpy(l->chain_id, chain, DIGEST_STR_LEN + 1);
		if (n)
			memcpy(l->parent, st->chain_ids[n - 1], DIGEST_STR_LEN + 1);
		l->size = size;
		l->staged_dir = xstrdup(r->staged);
		l->staged_blob = blob;
		n++;
	}
	_cleanup_free_ char *bytes = image_config_dump(st->cfg);
	char id[DIGEST_STR_LEN + 1];
	image_config_digest(st->cfg, id);
	pthread_mutex_lock(&b->mu);
	int rc = image_commit(b->s, bytes, strlen(bytes), id, layers, n, NULL, NULL, err);
	if (rc == 0 && key)
		rc = build_cache_put(b->s, key, id, st->parent, ident, detail, err);
	if (diff_id)
		image_layer_in_clear(b->s, &layers[n - 1]);
	pthread_mutex_unlock(&b->mu);
	free(layers);
	if (rc < 0)
		return -1;
	if (diff_id) {
		st->chain_ids = strv_append(st->chain_ids, chain);
		st->diff_ids = strv_append(st->diff_ids, diff_id);
		/* the staged dir moved into the layer store */
		free(r->staged);
		r->staged = NULL;
		free(r->path);
		r->path = NULL;
	}
	memcpy(st->parent, id, sizeof(st->parent));
	return 0;
}

/* ---- stages ---- */

static int stage_from(sstate *st, berth_error **err)
{
	builder *b = st->b;
	const df_instr *in = &b->df->instrs[st->stage->from];
	_cleanup_free_ char *base = NULL;
	if (df_expand(in->args[0], b->df->escape, meta_lookup, b, &base, err) < 0)
		return berth_err_prefix(err, "%s:%d", st->filename, in->line);
	const char *plat = df_flag(in, "platform");
	if (plat) {
		_cleanup_free_ char *p = NULL;
		if (df_expand(plat, b->df->escape, meta_lookup, b, &p, err) < 0)
			return -1;
		_cleanup_free_ char *host = xasprintf("linux/%s", host_arch());
		if (*p && strcmp(p, host) && strcmp(p, "linux") && !str_has_prefix(p, "$"))
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "%s:%d: FROM --platform=%s: only the host platform (%s) "
			                 "can be built",
			                 st->filename, in->line, p, host);
	}
	_cleanup_free_ char *title = xasprintf(
	    "[%s 1/%d] FROM %s", st->stage->name ? st->stage->name : "stage", st->n_steps, base);
	if (b->n_stages == 1) {
		free(title);
		title = xasprintf("[1/%d] FROM %s", st->n_steps, base);
	} else if (!st->stage->name) {
		free(title);
		title = xasprintf("[stage-%zu 1/%d] FROM %s", st->stage->idx, st->n_steps, base);
	}
	int v = bld_vertex(b, title);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool failed = false;
	bstage *dep = bld_stage_ref(b, base, st->stage->idx, err, &failed);
	if (failed)
		return -1;
	if (dep) {
		st->cfg = NULL;
		_cleanup_free_ char *bytes = image_config_dump(dep->cfg);
		if (image_config_parse(bytes, strlen(bytes), &st->cfg, err) < 0)
			return -1;
		st->chain_ids = strv_dup(dep->chain_ids);
		memcpy(st->parent, dep->image_id, sizeof(st->parent));
	} else if (!strcasecmp(base, "scratch")) {
		st->cfg = image_config_new("linux", host_arch(), NULL, NULL);
		st->chain_ids = xcalloc(1, sizeof(char *));
		st->parent[0] = 0;
	} else {
		if (bld_image(b, base, st->parent, &st->cfg, &st->chain_ids, err) < 0)
			return berth_err_prefix(err, "%s:%d: FROM", st->filename, in->line);
	}
	if (st->chain_ids == NULL)
		st->chain_ids = xcalloc(1, sizeof(char *));
	st->diff_ids = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < st->cfg->n_diff_ids; i++)
		st->diff_ids = strv_append(st->diff_ids, st->cfg->diff_ids[i]);
	bld_event(b, BUILD_EV_DONE, v, NULL, since(&t0));
	return 0;
}

static int stage_build(sstate *st, berth_error **err)
{
	builder *b = st->b;
	bstage *sg = st->stage;
	if (stage_from(st, err) < 0)
		return -1;
	/* ONBUILD triggers of the base run first */
	_cleanup_strv_ char **triggers = strv_dup(st->cfg->config.on_build);
	if (triggers) {
		image_config_set_run_strv(st->cfg, "OnBuild", NULL);
		for (char **t = triggers; *t; t++) {
			df_instr in;
			if (df_parse_instruction(*t, b->df->escape, st->filename,
			                         b->df->instrs[sg->from].line, &in, err) < 0)
				return -1;
			int rc = bld_dispatch(st, &in, err);
			df_instr_clear(&in);
			if (rc < 0)
				return -1;
		}
	}
	for (size_t i = sg->from + 1; i < sg->end; i++) {
		pthread_mutex_lock(&b->mu);
		bool stop = b->failed;
		pthread_mutex_unlock(&b->mu);
		if (stop)
			return berth_err(err, BERTH_E_GENERIC, "canceled");
		if (bld_dispatch(st, &b->df->instrs[i], err) < 0)
			return -1;
	}
	if (sg->idx == b->target && b->o->labels && b->o->labels[0] &&
	    bld_labels(st, b->o->labels, err) < 0)
		return -1;
	return 0;
}

struct stage_job {
	builder *b;
	bstage *sg;
};

static void *stage_thread(void *p)
{
	struct stage_job *j = p;
	builder *b = j->b;
	bstage *sg = j->sg;
	sstate st = {.b = b, .stage = sg, .filename = b->df->filename};
	st.n_steps = (int)(sg->end - sg->from);
	if (sg->idx == b->target && b->o->labels && b->o->labels[0])
		st.n_steps++;
	berth_error *e = NULL;
	int rc = stage_build(&st, &e);
	/* a later stage reads this one's config and layers; the target's are
	 * read only by --output */
	if (rc == 0 && (sg->idx != b->target || (b->o->output && *b->o->output)))
		rc = bld_load_parent(&st, &e);
	pthread_mutex_lock(&b->mu);
	if (rc < 0) {
		sg->state = 3;
		if (!b->failed) {
			b->failed = true;
			b->err = e;
			e = NULL;
		}
	} else {
		sg->state = 2;
		memcpy(sg->image_id, st.parent, sizeof(sg->image_id));
		sg->cfg = steal_ptr(st.cfg);
		sg->chain_ids = steal_ptr(st.chain_ids);
	}
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	berth_error_free(e);
	image_config_free(st.cfg);
	strv_free(st.chain_ids);
	strv_free(st.diff_ids);
	for (size_t i = 0; i < st.n_args; i++) {
		free(st.arg_keys[i]);
		free(st.arg_vals[i]);
	}
	free(st.arg_keys);
	free(st.arg_vals);
	free(j);
	return NULL;
}

/* Names of stages an instruction depends on (FROM base, --from, mount from=). */
static void deps_of(builder *b, bstage *sg, bool *need)
{
	for (size_t i = sg->from; i < sg->end; i++) {
		const df_instr *in = &b->df->instrs[i];
		_cleanup_strv_ char **refs = NULL;
		if (i == sg->from) {
			refs = strv_append(refs, in->args[0]);
		} else if (!strcmp(in->keyword, "copy") || !strcmp(in->keyword, "add")) {
			const char *f = df_flag(in, "from");
			if (f)
				refs = strv_append(refs, f);
		} else if (!strcmp(in->keyword, "run")) {
			_cleanup_strv_ char **ms = df_flag_all(in, "mount");
			for (char **m = ms; m && *m; m++) {
				_cleanup_strv_ char **kv = str_split(*m, ',');
				for (char **p = kv; *p; p++)
					if (str_has_prefix(*p, "from="))
						refs = strv_append(refs, *p + 5);
			}
		}
		for (char **r = refs; r && *r; r++) {
			_cleanup_free_ char *x = NULL;
			if (df_expand(*r, b->df->escape, meta_lookup, b, &x, NULL) < 0)
				continue;
			bstage *d = find_stage(b, x, sg->idx);
			if (d && !need[d->idx]) {
				need[d->idx] = true;
				deps_of(b, d, need);
			}
		}
	}
}

static int plan(builder *b, berth_error **err)
{
	dockerfile *df = b->df;
	size_t i = 0;
	/* meta ARGs */
	for (; i < df->n && strcmp(df->instrs[i].keyword, "from"); i++) {
		const df_instr *in = &df->instrs[i];
		if (strcmp(in->keyword, "arg"))
			return berth_err(err, BERTH_E_INVALID,
			                 "%s:%d: no build stage in current context", df->filename,
			                 in->line);
		for (char **w = in->args; w && *w; w++) {
			char *eq = strchr(*w, '=');
			_cleanup_free_ char *k = xstrndup(*w, eq ? (size_t)(eq - *w) : strlen(*w));
			const char *given = bld_build_arg(b, k);
			if (given) {
				meta_set(b, k, given);
			} else if (eq) {
				_cleanup_free_ char *v = NULL;
				if (df_expand(eq + 1, df->escape, meta_lookup, b, &v, err) < 0)
					return berth_err_prefix(err, "%s:%d", df->filename,
					                        in->line);
				meta_set(b, k, v);
			} else {
				meta_set(b, k, NULL);
			}
		}
	}
	for (; i < df->n; i++) {
		const df_instr *in = &df->instrs[i];
		if (strcmp(in->keyword, "from")) {
			if (b->n_stages)
				b->stages[b->n_stages - 1].end = i + 1;
			continue;
		}
		b->stages = xreallocarray(b->stages, b->n_stages + 1, sizeof(*b->stages));
		bstage *sg = &b->stages[b->n_stages];
		memset(sg, 0, sizeof(*sg));
		sg->idx = b->n_stages++;
		sg->from = i;
		sg->end = i + 1;
		if (strv_len(in->args) == 3) {
			sg->name = xstrdup(in->args[2]);
			for (char *c = sg->name; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			for (size_t k = 0; k + 1 < b->n_stages; k++)
				if (b->stages[k].name && !strcmp(b->stages[k].name, sg->name))
					return berth_err(err, BERTH_E_INVALID,
					                 "%s:%d: duplicate stage name \"%s\"",
					                 df->filename, in->line, sg->name);
		}
	}
	if (b->n_stages == 0)
		return berth_err(err, BERTH_E_INVALID,
		                 "%s: no build stage in current context (the "
		                 "Dockerfile has no FROM)",
		                 df->filename);
	b->target = b->n_stages - 1;
	if (b->o->target && *b->o->target) {
		bstage *t = NULL;
		for (size_t k = 0; k < b->n_stages; k++)
			if (b->stages[k].name && !strcasecmp(b->stages[k].name, b->o->target))
				t = &b->stages[k];
		if (t == NULL)
			return berth_err(err, BERTH_E_INVALID,
			                 "failed to reach build target %s in Dockerfile",
			                 b->o->target);
		b->target = t->idx;
	}
	bool *need = xcalloc(b->n_stages, sizeof(bool));
	need[b->target] = true;
	deps_of(b, &b->stages[b->target], need);
	for (size_t k = 0; k < b->n_stages; k++)
		b->stages[k].needed = need[k];
	free(need);
	/* COPY --from naming a later or missing stage that looks like a stage
	 * name is checked when the step runs (it may be an image). */
	return 0;
}

/* ---- export ---- */

static int export_output(builder *b, bstage *t, berth_error **err)
{
	_cleanup_free_ char *type = NULL, *dest = NULL;
	if (build_output_parse(b->o->output, &type, &dest, err) < 0)
		return -1;
	int v = bld_vertex(b, strcmp(type, "tar") ? "exporting to client directory"
	                                          : "exporting to client tarball");
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	roview view;
	if (bld_view(b, t->chain_ids, &view, err) < 0) {
		bld_view_clear(b, &view);
		return -1;
	}
	int rc = 0;
	if (!strcmp(type, "local")) {
		if (mkdir_p(dest, 0755, err) < 0) {
			rc = -1;
		} else {
			_cleanup_close_ int dfd = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
			copy_attrs a = {.keep_owner = true, .chmod = -1, .as_root = geteuid() == 0};
			if (dfd < 0)
				rc = berth_err_sys(err, errno, "opening %s", dest);
			else
				rc = build_copy_tree(view.rootfd, "/", dfd, "/", &a, err);
		}
	} else {
		_cleanup_close_ int out =
		    strcmp(dest, "-") ? open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
		                      : dup(1);
		_cleanup_close_ int rfd = open(view.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char d[DIGEST_STR_LEN + 1];
		uint64_t sz;
		if (out < 0 || rfd < 0)
			rc = berth_err_sys(err, errno, "opening %s", dest);
		else
			rc = layer_diff(rfd, out, NULL, d, &sz, err);
	}
	bld_view_clear(b, &view);
	if (rc == 0)
		bld_event(b, BUILD_EV_DONE, v, NULL, since(&t0));
	return rc;
}

/* ---- the build ---- */

static int read_dockerfile(const build_opts *o, const char *ctxdir, char **name, char **data,
                           size_t *len, berth_error **err)
{
	if (o->dockerfile_text) {
		*data = xmemdup(o->dockerfile_text, o->dockerfile_len + 1);
		(*data)[o->dockerfile_len] = 0;
		*len = o->dockerfile_len;
		*name = xstrdup("Dockerfile");
		return 0;
	}
	_cleanup_free_ char *path = NULL;
	if (o->dockerfile == NULL)
		path = xasprintf("%s/Dockerfile", ctxdir);
	else if (o->context_fd >= 0 || o->dockerfile[0] != '/')
		path = o->context_fd >= 0 ? xasprintf("%s/%s", ctxdir, o->dockerfile)
		                          : xstrdup(o->dockerfile);
	else
		path = xstrdup(o->dockerfile);
	if (read_file(path, data, len, err) < 0) {
		berth_error_clear(err);
		return berth_err(err, BERTH_E_NOTFOUND,
		                 "failed to read dockerfile: open %s: no such file or directory",
		                 o->dockerfile ? o->dockerfile : "Dockerfile");
	}
	const char *sl = strrchr(o->dockerfile ? o->dockerfile : "Dockerfile", '/');
	*name = xstrdup(sl ? sl + 1 : (o->dockerfile ? o->dockerfile : "Dockerfile"));
	return 0;
}

static int read_ignore(const build_opts *o, const char *ctxdir, dockerignore **out,
                       berth_error **err)
{
	*out = NULL;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	/* BuildKit: <Dockerfile>.dockerignore next to the Dockerfile first */
	if (o->dockerfile && !o->dockerfile_text) {
		_cleanup_free_ char *p =
		    o->context_fd >= 0 || o->dockerfile[0] != '/'
		        ? (o->context_fd >= 0
		               ? xasprintf("%s/%s.dockerignore", ctxdir, o->dockerfile)
		               : xasprintf("%s.dockerignore", o->dockerfile))
		        : xasprintf("%s.dockerignore", o->dockerfile);
		if (read_file(p, &data, &len, NULL) < 0)
			data = NULL;
	} else if (!o->dockerfile_text) {
		_cleanup_free_ char *p = xasprintf("%s/Dockerfile.dockerignore", ctxdir);
		if (read_file(p, &data, &len, NULL) < 0)
			data = NULL;
	}
	if (data == NULL) {
		_cleanup_free_ char *p = xasprintf("%s/.dockerignore", ctxdir);
		if (read_file(p, &data, &len, NULL) < 0)
			return 0;
	}
	return dockerignore_parse(data, len, out, err);
}

static void builder_free(builder *b)
{
	for (size_t i = 0; i < b->n_stages; i++) {
		free(b->stages[i].name);
		image_config_free(b->stages[i].cfg);
		strv_free(b->stages[i].chain_ids);
	}
	free(b->stages);
	strv_free(b->meta_keys);
	strv_free(b->meta_vals);
	strv_free(b->bargs);
	context_free(b->s, b->ctx);
	dockerfile_free(b->df);
	berth_error_free(b->err);
	sqlite3_finalize(b->cache_get);
	free(b->state_root);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->pmu);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->tmu);
	pthread_cond_destroy(&b->tcv);
}

int build_image(berth_store *s, const build_opts *o, char id[DIGEST_STR_LEN + 1], berth_error **err)
{
	id[0] = 0;
	if (build_store_init(s, err) < 0)
		return -1;
	/* tags are checked before anything is built */
	_cleanup_strv_ char **full_tags = NULL;
	for (char **t = o->tags; t && *t; t++) {
		_cleanup_ref_ image_ref *r = NULL;
		berth_error *e = NULL;
		if (ref_parse_normalized(*t, &r, &e) < 0 || r->digest) {
			berth_error_free(e);
			return berth_err(err, BERTH_E_INVALID,
			                 "invalid argument \"%s\" for \"-t, --tag\" flag: invalid "
			                 "reference format",
			                 *t);
		}
		_cleanup_free_ char *full = ref_string(r);
		full_tags = strv_append(full_tags, full);
	}
	if (o->output && *o->output) {
		_cleanup_free_ char *ot = NULL, *od = NULL;
		if (build_output_parse(o->output, &ot, &od, err) < 0)
			return -1;
	}
	for (char **sc = o->secrets; sc && *sc; sc++) {
		_cleanup_free_ char *a = NULL, *bb = NULL, *c = NULL;
		if (build_secret_parse(*sc, &a, &bb, &c, err) < 0)
			return -1;
	}
	builder b = {.s = s, .o = o};
	pthread_mutex_init(&b.mu, NULL);
	pthread_mutex_init(&b.pmu, NULL);
	pthread_cond_init(&b.cv, NULL);
	pthread_mutex_init(&b.tmu, NULL);
	pthread_cond_init(&b.tcv, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b.t0);
	int rc = -1;
	_cleanup_free_ char *ctxdir = NULL, *staged_ctx = NULL;
	_cleanup_free_ char *dfname = NULL, *dfdata = NULL;
	_cleanup_dockerignore_ dockerignore *di = NULL;
	size_t dflen = 0;
	b.bargs = xcalloc(1, sizeof(char *));
	for (char **a = o->build_args; a && *a; a++) {
		if (strchr(*a, '=')) {
			b.bargs = strv_append(b.bargs, *a);
		} else {
			const char *v = getenv(*a);
			if (v) {
				_cleanup_free_ char *kv = xasprintf("%s=%s", *a, v);
				b.bargs = strv_append(b.bargs, kv);
			}
		}
	}
	/* predefined platform args (global scope) */
	const char *arch = host_arch();
	_cleanup_free_ char *platform = xasprintf("linux/%s", arch);
	static const char *const pk[] = {"BUILDARCH",      "BUILDOS",      "BUILDPLATFORM",
	                                 "BUILDVARIANT",   "TARGETARCH",   "TARGETOS",
	                                 "TARGETPLATFORM", "TARGETVARIANT"};
	const char *pv[] = {arch, "linux", platform, "", arch, "linux", platform, ""};
	for (size_t k = 0; k < ARRAY_SIZE(pk); k++)
		meta_set(&b, pk[k], bld_build_arg(&b, pk[k]) ? bld_build_arg(&b, pk[k]) : pv[k]);

	int v = bld_vertex(&b, "[internal] load build definition from Dockerfile");
	if (o->context_fd >= 0) {
		pthread_mutex_lock(&b.mu);
		int r = context_extract_tar(s, o->context_fd, &ctxdir, &staged_ctx, err);
		pthread_mutex_unlock(&b.mu);
		if (r < 0)
			goto out;
	} else {
		ctxdir = xstrdup(o->context_dir ? o->context_dir : ".");
	}
	if (read_dockerfile(o, ctxdir, &dfname, &dfdata, &dflen, err) < 0)
		goto out;
	if (dockerfile_parse(dfdata, dflen, dfname, &b.df, err) < 0)
		goto out;
	bld_event(&b, BUILD_EV_DONE, v, NULL, since(&b.t0));
	if (plan(&b, err) < 0)
		goto out;
	v = bld_vertex(&b, "[internal] load .dockerignore");
	if (read_ignore(o, ctxdir, &di, err) < 0)
		goto out;
	bld_event(&b, BUILD_EV_DONE, v, NULL, since(&b.t0));
	v = bld_vertex(&b, "[internal] load build context");
	if (context_open_dir(ctxdir, di, &b.ctx, err) < 0)
		goto out;
	b.ctx->extracted = steal_ptr(staged_ctx);
	if (!b.ctx->extracted) {
		b.ctx->abs = realpath(ctxdir, NULL);
		context_load_hashes(b.ctx, s);
	}
	{
		_cleanup_free_ char *msg = xasprintf("transferring context: %zu files", b.ctx->n);
		bld_event(&b, BUILD_EV_INFO, v, msg, 0);
	}
	bld_event(&b, BUILD_EV_DONE, v, NULL, since(&b.t0));
	b.state_root = xasprintf("%s/build", store_runroot(s));
	build_reap_orphans(b.state_root);

	/* start every needed stage; each waits for the stages it reads */
	size_t started = 0;
	for (size_t k = 0; k < b.n_stages; k++) {
		bstage *sg = &b.stages[k];
		if (!sg->needed)
			continue;
		struct stage_job *j = xcalloc(1, sizeof(*j));
		j->b = &b;
		j->sg = sg;
		if (pthread_create(&sg->thread, NULL, stage_thread, j) != 0) {
			free(j);
			pthread_mutex_lock(&b.mu);
			b.failed = true;
			berth_err(&b.err, BERTH_E_GENERIC, "cannot start a build thread");
			pthread_cond_broadcast(&b.cv);
			pthread_mutex_unlock(&b.mu);
			break;
		}
		sg->started = true;
		started++;
	}
	for (size_t k = 0; k < b.n_stages; k++)
		if (b.stages[k].started)
			pthread_join(b.stages[k].thread, NULL);
	if (b.failed) {
		*err = steal_ptr(b.err);
		goto out;
	}
	bstage *t = &b.stages[b.target];
	if (o->output && *o->output) {
		rc = export_output(&b, t, err);
		goto out;
	}
	if (!t->image_id[0]) {
		berth_err(err, BERTH_E_INVALID, "no image was built (an empty scratch stage)");
		goto out;
	}
	v = bld_vertex(&b, "exporting to image");
	{
		_cleanup_free_ char *msg = xasprintf("writing image %s done", t->image_id);
		bld_event(&b, BUILD_EV_INFO, v, msg, 0);
	}
	for (char **tg = full_tags; tg && *tg; tg++) {
		if (image_tag(s, t->image_id, *tg, err) < 0)
			goto out;
		_cleanup_free_ char *msg = xasprintf("naming to %s done", *tg);
		bld_event(&b, BUILD_EV_INFO, v, msg, 0);
	}
	bld_event(&b, BUILD_EV_DONE, v, NULL, since(&b.t0));
	memcpy(id, t->image_id, DIGEST_STR_LEN + 1);
	rc = 0;
out:
	trash_finish(&b);
	if (b.ctx)
		context_save_hashes(b.ctx, s);
	if (rc < 0 && staged_ctx) {
		int sfd = store_staging(s, NULL, NULL);
		if (sfd >= 0)
			rm_rf_at(sfd, staged_ctx, NULL);
	}
	builder_free(&b);
	return rc;
}
