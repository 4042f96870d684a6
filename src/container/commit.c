/* docker commit: the container's upper directory becomes a new layer on
 * top of its image; the image config takes the container's Config (with
 * --change lines applied), a history entry and the new diff ID. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "image/config.h"
#include "image/image_int.h"
#include "image/layer.h"
#include "image/ref.h"

static const char *const run_keys[] = {"Cmd",         "Entrypoint", "Env",       "ExposedPorts",
                                       "Healthcheck", "Labels",     "OnBuild",   "StopSignal",
                                       "User",        "Volumes",    "WorkingDir"};

int container_commit(berth_store *s, ctr_record *r, const ctr_commit_opts *o,
                     char id[DIGEST_STR_LEN + 1], berth_error **err)
{
	if (r->config == NULL) {
		ctr_record *full = NULL;
		if (container_lookup(s, r->id, true, &full, err) < 0)
			return -1;
		r->config = steal_ptr(full->config);
		ctr_record_free(full);
	}
	_cleanup_image_info_ image_info *img = NULL;
	if (image_resolve(s, r->image_id, &img, err) < 0)
		return berth_err_prefix(err, "the container's image");
	_cleanup_image_config_ image_config *cfg = NULL;
	if (image_config_parse(img->config, img->config_len, &cfg, err) < 0)
		return -1;
	char **tags = NULL;
	_cleanup_strv_ char **tagv = NULL;
	if (o->reference && *o->reference) {
		_cleanup_ref_ image_ref *ref = NULL;
		if (ref_parse_normalized(o->reference, &ref, err) < 0)
			return -1;
		if (ref->digest)
			return berth_err(err, BERTH_E_INVALID,
			                 "refusing to create a tag with a digest "
			                 "reference");
		_cleanup_free_ char *full = ref_string(ref);
		tagv = strv_append(NULL, full);
		tags = tagv;
	}
	/* the container's config, with --change lines on top */
	_cleanup_json_ json_t *runcfg = json_deep_copy(json_object_get(r->config, "Config"));
	if (o->changes && image_apply_changes(runcfg, o->changes, err) < 0)
		return -1;

	bool paused_here = false;
	if (o->pause && !strcmp(container_status(r), "running")) {
		if (container_pause(s, r, true, err) < 0)
			return -1;
		paused_here = true;
	}
	/* diff the upper directory in a child, ingest the tar here */
	_cleanup_free_ char *upper = xasprintf("%s/containers/%s/upper", store_root(s), r->id);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		if (paused_here)
			container_pause(s, r, false, NULL);
		return berth_err_sys(err, errno, "pipe");
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		char d[DIGEST_STR_LEN + 1];
		uint64_t sz;
		layer_diff_opts lo = {.overlay_whiteouts = true};
		_exit(ufd >= 0 && layer_diff(ufd, p[1], &lo, d, &sz, NULL) == 0 ? 0 : 1);
	}
	close(p[1]);
	image_layer_in layer;
	memset(&layer, 0, sizeof(layer));
	int rd = p[0];
	int rc = pid < 0 ? berth_err_sys(err, errno, "fork")
	                 : image_ingest_layer(s, image_fd_read, &rd, true, NULL, &layer, err);
	close(p[0]);
	int status = 0;
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	if (paused_here)
		container_pause(s, r, false, NULL);
	if (rc < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		image_layer_in_clear(s, &layer);
		return berth_err(err, BERTH_E_IO, "reading the container's changes failed");
	}

	for (size_t i = 0; i < ARRAY_SIZE(run_keys); i++) {
		json_t *v = json_object_get(runcfg, run_keys[i]);
		if (v == NULL)
			continue;
		if (image_config_set_run_json(cfg, run_keys[i], json_deep_copy(v), err) < 0) {
			image_layer_in_clear(s, &layer);
			return -1;
		}
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	_cleanup_free_ char *created = time_rfc3339nano(&now);
	image_config_set_string(cfg, "created", created);
	image_config_set_string(cfg, "author", o->author && *o->author ? o->author : NULL);
	image_config_set_string(cfg, "comment", o->message && *o->message ? o->message : NULL);
	_cleanup_free_ char *cmd = NULL;
	{
		json_t *argv = json_array();
		json_array_append(argv, json_object_get(r->config, "Path"));
		json_array_extend(argv, json_object_get(r->config, "Args"));
		cmd = ctr_command_string(argv);
		json_decref(argv);
	}
	image_history h = {.created = created,
	                   .author = (char *)(o->author && *o->author ? o->author : NULL),
	                   .created_by = cmd,
	                   .comment = (char *)(o->message && *o->message ? o->message : NULL)};
	image_config_add_history(cfg, &h);
	image_config_add_diff_id(cfg, layer.diff_id);

	size_t n = img->n_layers;
	image_layer_in *layers = xcalloc(n + 1, sizeof(*layers));
	for (size_t i = 0; i < n; i++) {
		snprintf(layers[i].chain_id, sizeof(layers[i].chain_id), "%s", img->chain_ids[i]);
		snprintf(layers[i].diff_id, sizeof(layers[i].diff_id), "%s", img->diff_ids[i]);
		if (i)
			snprintf(layers[i].parent, sizeof(layers[i].parent), "%s",
			         img->chain_ids[i - 1]);
	}
	chain_id(n ? img->chain_ids[n - 1] : NULL, layer.diff_id, layer.chain_id);
	if (n)
		snprintf(layer.parent, sizeof(layer.parent), "%s", img->chain_ids[n - 1]);
	layers[n] = layer;
	_cleanup_free_ char *bytes = image_config_dump(cfg);
	image_config_digest(cfg, id);
	rc = image_commit(s, bytes, strlen(bytes), id, layers, n + 1, tags, NULL, err);
	image_layer_in_clear(s, &layers[n]);
	free(layers);
	return rc;
}
