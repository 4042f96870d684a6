/* Image history: the config's history entries, newest first, with the
 * sizes of the layers that non-empty entries created. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/image_int.h"

void image_history_free(image_history_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].created_by);
		free(v[i].comment);
		strv_free(v[i].tags);
	}
	free(v);
}

int image_get_history(berth_store *s, const char *name, image_history_entry **out, size_t *n,
                      berth_error **err)
{
	*out = NULL;
	*n = 0;
	_cleanup_image_info_ image_info *img = NULL;
	if (image_resolve(s, name, &img, err) < 0)
		return -1;
	/* layer sizes by index */
	int64_t *sizes = xcalloc(img->n_layers + 1, sizeof(int64_t));
	for (size_t k = 0; k < img->n_layers; k++) {
		layer_info li;
		berth_error *e = NULL;
		if (layer_store_get(s, img->chain_ids[k], &li, &e) == 0)
			sizes[k] = li.size;
		berth_error_free(e);
	}
	json_t *hist = json_object_get(img->config_json, "history");
	size_t nh = json_is_array(hist) ? json_array_size(hist) : 0;
	image_history_entry *v = xcalloc(nh + 1, sizeof(*v));
	size_t layer = 0;
	for (size_t k = 0; k < nh; k++) {
		json_t *h = json_array_get(hist, k);
		image_history_entry *e = &v[nh - 1 - k];
		e->created_unix = image_time_unix(json_get_str(h, "created"));
		const char *cb = json_get_str(h, "created_by");
		e->created_by = xstrdup(cb ? cb : "");
		const char *cm = json_get_str(h, "comment");
		e->comment = xstrdup(cm ? cm : "");
		if (!json_get_bool(h, "empty_layer", false)) {
			if (layer < img->n_layers)
				e->size = sizes[layer];
			layer++;
		}
		e->id = xstrdup("<missing>");
	}
	if (nh == 0) {
		/* no history: one line per layer, as Docker */
		free(v);
		nh = img->n_layers ? img->n_layers : 1;
		v = xcalloc(nh, sizeof(*v));
		for (size_t k = 0; k < nh; k++) {
			image_history_entry *e = &v[nh - 1 - k];
			e->id = xstrdup("<missing>");
			e->created_unix = img->created_unix;
			e->created_by = xstrdup("");
			e->comment = xstrdup("");
			e->size = k < img->n_layers ? sizes[k] : 0;
		}
	}
	free(v[0].id);
	v[0].id = xstrdup(img->id);
	v[0].tags = strv_dup(img->repo_tags);
	/* Ancestors still in the store (the "parent" chain a build leaves, as
	 * Docker's classic builder does) name the entry that made them: their
	 * own history's newest entry. */
	_cleanup_free_ char *anc = xstrdup(img->parent ? img->parent : "");
	for (int depth = 0; *anc && depth < 1000; depth++) {
		image_info *pi = NULL;
		berth_error *pe = NULL;
		if (image_get(s, anc, &pi, &pe) < 0) {
			berth_error_free(pe);
			break;
		}
		json_t *ph = json_object_get(pi->config_json, "history");
		size_t h = json_is_array(ph) ? json_array_size(ph) : 0;
		if (h > 0 && h <= nh && nh > 0 && !strcmp(v[nh - h].id, "<missing>")) {
			free(v[nh - h].id);
			v[nh - h].id = xstrdup(pi->id);
			v[nh - h].tags = strv_dup(pi->repo_tags);
		}
		free(anc);
		anc = xstrdup(pi->parent ? pi->parent : "");
		image_info_free(pi);
	}
	free(sizes);
	*out = v;
	*n = nh;
	return 0;
}
