/* Docker's image inspect object. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/image_int.h"

static json_t *str_or_empty(const json_t *cfg, const char *key)
{
	const char *v = json_get_str(cfg, key);
	return json_string(v ? v : "");
}

json_t *image_inspect_json(berth_store *s, const image_info *i)
{
	json_t *cfg = i->config_json;
	json_t *o = json_object();
	json_object_set_new(o, "Id", json_string(i->id));
	json_object_set_new(o, "RepoTags", json_from_strv(i->repo_tags));
	json_object_set_new(o, "RepoDigests", json_from_strv(i->repo_digests));
	json_object_set_new(o, "Parent", json_string(i->parent ? i->parent : ""));
	json_object_set_new(o, "Comment", str_or_empty(cfg, "comment"));
	json_object_set_new(o, "Created", str_or_empty(cfg, "created"));
	json_object_set_new(o, "Container", str_or_empty(cfg, "container"));
	json_object_set_new(o, "ContainerConfig",
	                    image_canonical_config(json_object_get(cfg, "container_config")));
	json_object_set_new(o, "DockerVersion", str_or_empty(cfg, "docker_version"));
	json_object_set_new(o, "Author", str_or_empty(cfg, "author"));
	json_object_set_new(o, "Config", image_canonical_config(json_object_get(cfg, "config")));
	json_object_set_new(o, "Architecture", str_or_empty(cfg, "architecture"));
	const char *variant = json_get_str(cfg, "variant");
	if (variant && *variant)
		json_object_set_new(o, "Variant", json_string(variant));
	json_object_set_new(o, "Os", str_or_empty(cfg, "os"));
	const char *osv = json_get_str(cfg, "os.version");
	if (osv && *osv)
		json_object_set_new(o, "OsVersion", json_string(osv));
	json_object_set_new(o, "Size", json_integer(i->size));
	json_object_set_new(o, "VirtualSize", json_integer(i->size));
	json_t *data = json_object();
	if (i->n_layers > 0) {
		const char *top = i->layer_dirs[i->n_layers - 1];
		if (i->n_layers > 1) {
			strbuf lower;
			sb_init(&lower);
			for (size_t k = i->n_layers - 1; k > 0; k--) {
				if (lower.len)
					sb_appendc(&lower, ':');
				sb_append(&lower, i->layer_dirs[k - 1]);
			}
			json_object_set_new(data, "LowerDir", json_string(lower.buf));
			sb_free(&lower);
		}
		_cleanup_free_ char *base = xstrdup(top);
		char *slash = strrchr(base, '/');
		if (slash)
			*slash = 0;
		_cleanup_free_ char *merged = xasprintf("%s/merged", base);
		_cleanup_free_ char *work = xasprintf("%s/work", base);
		json_object_set_new(data, "MergedDir", json_string(merged));
		json_object_set_new(data, "UpperDir", json_string(top));
		json_object_set_new(data, "WorkDir", json_string(work));
	}
	json_object_set_new(o, "GraphDriver",
	                    json_pack("{s:o, s:s}", "Data", data, "Name", "overlay2"));
	json_object_set_new(
	    o, "RootFS",
	    json_pack("{s:s, s:o}", "Type", "layers", "Layers", json_from_strv(i->diff_ids)));
	json_object_set_new(o, "Metadata",
	                    json_pack("{s:s}", "LastTagTime",
	                              i->last_tag_time && *i->last_tag_time
	                                  ? i->last_tag_time
	                                  : "0001-01-01T00:00:00Z"));
	(void)s;
	return o;
}
