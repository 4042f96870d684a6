#include "image/manifest.h"

#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

/* Media types berth knows, sorted by name. */
static const struct media_type_info {
	const char *name;
	enum { MTK_MANIFEST, MTK_INDEX, MTK_CONFIG, MTK_LAYER, MTK_V1 } what;
	enum manifest_kind kind; /* manifests and indexes */
	enum layer_compression comp; /* layers */
	bool foreign;
} media_types[] = {
    {MT_DOCKER_CONFIG, MTK_CONFIG, 0, 0, false},
    {MT_DOCKER_MANIFEST_LIST, MTK_INDEX, MANIFEST_DOCKER_LIST, 0, false},
    {MT_DOCKER_MANIFEST_V1, MTK_V1, 0, 0, false},
    {MT_DOCKER_MANIFEST_V1_SIGNED, MTK_V1, 0, 0, false},
    {MT_DOCKER_MANIFEST, MTK_MANIFEST, MANIFEST_DOCKER_V2, 0, false},
    {MT_DOCKER_LAYER, MTK_LAYER, 0, LAYER_UNCOMPRESSED, false},
    {MT_DOCKER_LAYER_GZIP, MTK_LAYER, 0, LAYER_GZIP, false},
    {MT_DOCKER_LAYER_ZSTD, MTK_LAYER, 0, LAYER_ZSTD, false},
    {MT_DOCKER_LAYER_FOREIGN, MTK_LAYER, 0, LAYER_UNCOMPRESSED, true},
    {MT_DOCKER_LAYER_FOREIGN_GZIP, MTK_LAYER, 0, LAYER_GZIP, true},
    {MT_OCI_CONFIG, MTK_CONFIG, 0, 0, false},
    {MT_OCI_INDEX, MTK_INDEX, MANIFEST_OCI_INDEX, 0, false},
    {MT_OCI_LAYER_ND, MTK_LAYER, 0, LAYER_UNCOMPRESSED, true},
    {MT_OCI_LAYER_ND_GZIP, MTK_LAYER, 0, LAYER_GZIP, true},
    {MT_OCI_LAYER_ND_ZSTD, MTK_LAYER, 0, LAYER_ZSTD, true},
    {MT_OCI_LAYER, MTK_LAYER, 0, LAYER_UNCOMPRESSED, false},
    {MT_OCI_LAYER_GZIP, MTK_LAYER, 0, LAYER_GZIP, false},
    {MT_OCI_LAYER_ZSTD, MTK_LAYER, 0, LAYER_ZSTD, false},
    {MT_OCI_MANIFEST, MTK_MANIFEST, MANIFEST_OCI, 0, false},
};

static int mt_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct media_type_info *)elem)->name);
}

static const struct media_type_info *mt_lookup(const char *mt)
{
	if (mt == NULL)
		return NULL;
	return bsearch(mt, media_types, ARRAY_SIZE(media_types), sizeof(media_types[0]), mt_cmp);
}

bool media_type_is_manifest(const char *mt)
{
	const struct media_type_info *i = mt_lookup(mt);
	return i && i->what == MTK_MANIFEST;
}

bool media_type_is_index(const char *mt)
{
	const struct media_type_info *i = mt_lookup(mt);
	return i && i->what == MTK_INDEX;
}

bool media_type_is_config(const char *mt)
{
	const struct media_type_info *i = mt_lookup(mt);
	return i && i->what == MTK_CONFIG;
}

enum layer_compression media_type_layer_compression(const char *mt)
{
	const struct media_type_info *i = mt_lookup(mt);
	return i && i->what == MTK_LAYER ? i->comp : LAYER_UNKNOWN;
}

bool media_type_is_foreign_layer(const char *mt)
{
	const struct media_type_info *i = mt_lookup(mt);
	return i && i->what == MTK_LAYER && i->foreign;
}

static bool lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool oci_digest_valid(const char *d)
{
	if (d == NULL)
		return false;
	const char *colon = strchr(d, ':');
	if (colon == NULL || colon == d)
		return false;
	/* algorithm := [a-z0-9]+ ( [+._-] [a-z0-9]+ )* */
	bool need_alnum = true;
	for (const char *p = d; p < colon; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
		if (alnum) {
			need_alnum = false;
		} else if (!need_alnum && (*p == '+' || *p == '.' || *p == '_' || *p == '-')) {
			need_alnum = true;
		} else {
			return false;
		}
	}
	if (need_alnum)
		return false;
	/* encoded := [a-zA-Z0-9=_-]+ */
	const char *enc = colon + 1;
	size_t n = strlen(enc);
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = enc[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '=' || c == '_' || c == '-'))
			return false;
	}
	size_t alen = (size_t)(colon - d);
	if (alen == 6 && memcmp(d, "sha256", 6) == 0)
		return n == 64 && lower_hex(enc, n);
	if (alen == 6 && memcmp(d, "sha512", 6) == 0)
		return n == 128 && lower_hex(enc, n);
	return true;
}

void oci_descriptor_clear(oci_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	strv_free(d->urls);
	json_decref(d->annotations);
	oci_platform_free(d->platform);
	free(d->artifact_type);
	memset(d, 0, sizeof(*d));
}

void oci_descriptor_copy(oci_descriptor *dst, const oci_descriptor *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->media_type = src->media_type ? xstrdup(src->media_type) : NULL;
	dst->digest = src->digest ? xstrdup(src->digest) : NULL;
	dst->size = src->size;
	dst->urls = src->urls ? strv_dup(src->urls) : NULL;
	dst->annotations = src->annotations ? json_deep_copy(src->annotations) : NULL;
	dst->platform = oci_platform_dup(src->platform);
	dst->artifact_type = src->artifact_type ? xstrdup(src->artifact_type) : NULL;
}

static int bad(berth_error **err, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(berth_error **err, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return berth_err(err, BERTH_E_INVALID, "%s: %s", what, msg);
}

/* Optional string member: NULL when absent; error when of another type. */
static int opt_string(const json_t *obj, const char *key, const char *what, char **out,
                      berth_error **err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return bad(err, what, "\"%s\" must be a string", key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, what, "\"%s\" must not contain NUL characters", key);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int string_array(const json_t *obj, const char *key, const char *what, char ***out,
                        berth_error **err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return bad(err, what, "\"%s\" must be an array of strings", key);
	size_t i;
	json_t *s;
	json_array_foreach (v, i, s)
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s))
			return bad(err, what, "\"%s\" must be an array of strings", key);
	*out = json_get_strv(obj, key);
	return 0;
}

static int string_map(const json_t *obj, const char *key, const char *what, json_t **out,
                      berth_error **err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return bad(err, what, "\"%s\" must be an object of strings", key);
	const char *k;
	json_t *s;
	json_object_foreach (v, k, s)
		if (!json_is_string(s))
			return bad(err, what, "%s[\"%s\"] must be a string", key, k);
	*out = json_incref(v);
	return 0;
}

static int parse_platform(const json_t *j, const char *what, oci_platform **out, berth_error **err)
{
	*out = NULL;
	_cleanup_free_ char *pw = xasprintf("%s.platform", what);
	if (!json_is_object(j))
		return bad(err, pw, "must be an object");
	oci_platform *p = xcalloc(1, sizeof(*p));
	if (opt_string(j, "architecture", pw, &p->architecture, err) < 0 ||
	    opt_string(j, "os", pw, &p->os, err) < 0 ||
	    opt_string(j, "variant", pw, &p->variant, err) < 0 ||
	    opt_string(j, "os.version", pw, &p->os_version, err) < 0 ||
	    string_array(j, "os.features", pw, &p->os_features, err) < 0) {
		oci_platform_free(p);
		return -1;
	}
	if (p->architecture == NULL || p->os == NULL) {
		oci_platform_free(p);
		return bad(err, pw, "\"architecture\" and \"os\" are required");
	}
	*out = p;
	return 0;
}

int oci_descriptor_parse(const json_t *j, const char *what, oci_descriptor *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(j))
		return bad(err, what, "must be an object");
	oci_descriptor d = {0};
	json_t *size = json_object_get(j, "size");
	json_t *plat = json_object_get(j, "platform");
	if (opt_string(j, "mediaType", what, &d.media_type, err) < 0 ||
	    opt_string(j, "digest", what, &d.digest, err) < 0 ||
	    opt_string(j, "artifactType", what, &d.artifact_type, err) < 0 ||
	    string_array(j, "urls", what, &d.urls, err) < 0 ||
	    string_map(j, "annotations", what, &d.annotations, err) < 0 ||
	    (plat && parse_platform(plat, what, &d.platform, err) < 0))
		goto fail;
	if (d.media_type == NULL || *d.media_type == 0) {
		bad(err, what, "\"mediaType\" is required");
		goto fail;
	}
	if (d.digest == NULL) {
		bad(err, what, "\"digest\" is required");
		goto fail;
	}
	if (!oci_digest_valid(d.digest)) {
		bad(err, what, "\"%s\" is not a valid digest", d.digest);
		goto fail;
	}
	if (size == NULL) {
		bad(err, what, "\"size\" is required");
		goto fail;
	}
	if (!json_is_integer(size)) {
		bad(err, what, "\"size\" must be an integer");
		goto fail;
	}
	d.size = json_integer_value(size);
	if (d.size < 0) {
		bad(err, what, "\"size\" must not be negative");
		goto fail;
	}
	*out = d;
	return 0;
fail:
	oci_descriptor_clear(&d);
	return -1;
}

void manifest_free(manifest *m)
{
	if (m == NULL)
		return;
	json_decref(m->json);
	oci_descriptor_clear(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		oci_descriptor_clear(&m->layers[i]);
	free(m->layers);
	for (size_t i = 0; i < m->n_manifests; i++)
		oci_descriptor_clear(&m->manifests[i]);
	free(m->manifests);
	json_decref(m->annotations);
	if (m->subject) {
		oci_descriptor_clear(m->subject);
		free(m->subject);
	}
	free(m->artifact_type);
	free(m);
}

static int parse_descriptor_array(const json_t *doc, const char *key, oci_descriptor **out,
                                  size_t *n_out, berth_error **err)
{
	json_t *a = json_object_get(doc, key);
	if (a == NULL)
		return berth_err(err, BERTH_E_INVALID, "\"%s\" is required", key);
	if (!json_is_array(a))
		return berth_err(err, BERTH_E_INVALID, "\"%s\" must be an array", key);
	size_t n = json_array_size(a);
	*out = xcalloc(n ? n : 1, sizeof(oci_descriptor));
	*n_out = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *what = xasprintf("%s[%zu]", key, i);
		if (oci_descriptor_parse(json_array_get(a, i), what, &(*out)[i], err) < 0)
			return -1;
		*n_out = i + 1;
	}
	return 0;
}

/* "application/vnd.oci.image.index.v1+json; charset=utf-8" -> the type;
 * NULL for absent or generic JSON types that say nothing. */
static char *specific_content_type(const char *ct)
{
	if (ct == NULL)
		return NULL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 0)
		return NULL;
	char *t = xstrndup(ct, n);
	if (!strcmp(t, "application/json") || !strcmp(t, "text/plain") ||
	    !strcmp(t, "application/octet-stream") || !strcmp(t, "binary/octet-stream")) {
		free(t);
		return NULL;
	}
	return t;
}

static int parse_image(manifest *m, berth_error **err)
{
	json_t *doc = m->json;
	if (json_object_get(doc, "manifests"))
		return berth_err(err, BERTH_E_INVALID,
		                 "an image manifest must not have \"manifests\"");
	json_t *cfg = json_object_get(doc, "config");
	if (cfg == NULL)
		return berth_err(err, BERTH_E_INVALID, "\"config\" is required");
	if (oci_descriptor_parse(cfg, "config", &m->config, err) < 0)
		return -1;
	if (parse_descriptor_array(doc, "layers", &m->layers, &m->n_layers, err) < 0)
		return -1;
	/* Image manifests (not artifacts) must only carry layers berth can apply. */
	if (media_type_is_config(m->config.media_type)) {
		for (size_t i = 0; i < m->n_layers; i++)
			if (media_type_layer_compression(m->layers[i].media_type) == LAYER_UNKNOWN)
				return berth_err(err, BERTH_E_UNSUPPORTED,
				                 "layers[%zu]: unsupported layer media type \"%s\"",
				                 i, m->layers[i].media_type);
	} else if (m->kind == MANIFEST_DOCKER_V2 &&
	           strcmp(m->config.media_type, MT_DOCKER_PLUGIN_CONFIG) != 0) {
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "config: unsupported config media type \"%s\"",
		                 m->config.media_type);
	}
	return 0;
}

static int parse_index(manifest *m, berth_error **err)
{
	json_t *doc = m->json;
	if (json_object_get(doc, "config") || json_object_get(doc, "layers"))
		return berth_err(err, BERTH_E_INVALID,
		                 "an index must not have \"config\" or \"layers\"");
	if (parse_descriptor_array(doc, "manifests", &m->manifests, &m->n_manifests, err) < 0)
		return -1;
	if (m->kind == MANIFEST_DOCKER_LIST)
		for (size_t i = 0; i < m->n_manifests; i++)
			if (m->manifests[i].platform == NULL)
				return berth_err(err, BERTH_E_INVALID,
				                 "manifests[%zu]: \"platform\" is required in a "
				                 "manifest list",
				                 i);
	return 0;
}

static int manifest_parse_inner(const char *buf, size_t len, const char *content_type,
                                manifest **out, berth_error **err)
{
	json_t *doc = json_parse_buf(buf, len, "manifest", err);
	if (doc == NULL)
		return -1;
	_cleanup_(manifest_freep) manifest *m = xcalloc(1, sizeof(*m));
	m->json = doc;
	if (!json_is_object(doc))
		return berth_err(err, BERTH_E_INVALID, "must be a JSON object");

	json_t *sv = json_object_get(doc, "schemaVersion");
	if (sv == NULL)
		return berth_err(err, BERTH_E_INVALID, "\"schemaVersion\" is required");
	if (!json_is_integer(sv))
		return berth_err(err, BERTH_E_INVALID, "\"schemaVersion\" must be an integer");
	if (json_integer_value(sv) == 1)
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "Docker image manifest version 2, schema 1 is not supported");
	if (json_integer_value(sv) != 2)
		return berth_err(err, BERTH_E_UNSUPPORTED, "unsupported schemaVersion %lld",
		                 (long long)json_integer_value(sv));

	json_t *mtj = json_object_get(doc, "mediaType");
	if (mtj && !json_is_string(mtj))
		return berth_err(err, BERTH_E_INVALID, "\"mediaType\" must be a string");
	const char *field = mtj ? json_string_value(mtj) : NULL;
	_cleanup_free_ char *ct = specific_content_type(content_type);
	if (field && ct && strcmp(field, ct) != 0)
		return berth_err(err, BERTH_E_INVALID,
		                 "media type mismatch: the document says \"%s\", its content type "
		                 "is \"%s\"",
		                 field, ct);
	const char *mt = field ? field : ct;
	if (mt) {
		const struct media_type_info *i = mt_lookup(mt);
		if (i && i->what == MTK_V1)
			return berth_err(
			    err, BERTH_E_UNSUPPORTED,
			    "Docker image manifest version 2, schema 1 is not supported");
		if (i == NULL || (i->what != MTK_MANIFEST && i->what != MTK_INDEX))
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "unsupported manifest media type \"%s\"", mt);
		m->kind = i->kind;
		m->media_type = i->name;
	} else if (json_object_get(doc, "manifests")) {
		/* OCI allows the mediaType field to be absent. */
		m->kind = MANIFEST_OCI_INDEX;
		m->media_type = MT_OCI_INDEX;
	} else if (json_object_get(doc, "config") || json_object_get(doc, "layers")) {
		m->kind = MANIFEST_OCI;
		m->media_type = MT_OCI_MANIFEST;
	} else {
		return berth_err(err, BERTH_E_INVALID,
		                 "neither a manifest nor an index (no mediaType, config, layers or "
		                 "manifests)");
	}

	json_t *subject = json_object_get(doc, "subject");
	if (subject) {
		m->subject = xcalloc(1, sizeof(*m->subject));
		if (oci_descriptor_parse(subject, "subject", m->subject, err) < 0)
			return -1;
	}
	if (opt_string(doc, "artifactType", "manifest", &m->artifact_type, err) < 0 ||
	    string_map(doc, "annotations", "manifest", &m->annotations, err) < 0)
		return -1;
	int r = manifest_is_index(m) ? parse_index(m, err) : parse_image(m, err);
	if (r < 0)
		return r;
	*out = steal_ptr(m);
	return 0;
}

int manifest_parse(const char *buf, size_t len, const char *content_type, manifest **out,
                   berth_error **err)
{
	*out = NULL;
	if (manifest_parse_inner(buf, len, content_type, out, err) < 0)
		return berth_err_prefix(err, "invalid manifest");
	return 0;
}

const oci_descriptor *manifest_choose_platform(const manifest *m, const char *os, const char *arch,
                                               const char *variant, berth_error **err)
{
	if (os == NULL)
		os = platform_host_os();
	if (arch == NULL) {
		arch = platform_host_arch();
		if (variant == NULL)
			variant = platform_host_variant();
	}
	_cleanup_free_ char *want = platform_format(os, arch, variant);
	if (!manifest_is_index(m)) {
		berth_err(err, BERTH_E_INVALID, "%s is not a manifest list or index",
		          m->media_type);
		return NULL;
	}
	const oci_descriptor *best = NULL;
	int best_rank = -1;
	enum { NO_PLATFORM_RANK = 1000 };
	for (size_t i = 0; i < m->n_manifests; i++) {
		const oci_descriptor *d = &m->manifests[i];
		if (!media_type_is_manifest(d->media_type) && !media_type_is_index(d->media_type))
			continue;
		int rank = NO_PLATFORM_RANK;
		if (d->platform)
			rank = platform_match_rank(os, arch, variant, d->platform->os,
			                           d->platform->architecture, d->platform->variant);
		if (rank >= 0 && (best == NULL || rank < best_rank)) {
			best = d;
			best_rank = rank;
		}
	}
	if (best)
		return best;
	_cleanup_sb_ strbuf avail = {0};
	for (size_t i = 0; i < m->n_manifests; i++) {
		const oci_platform *p = m->manifests[i].platform;
		if (p == NULL)
			continue;
		_cleanup_free_ char *s = platform_format(p->os, p->architecture, p->variant);
		sb_append(&avail, avail.len ? ", " : "");
		sb_append(&avail, s);
	}
	berth_err(err, BERTH_E_NOTFOUND,
	          "no matching manifest for %s in the manifest list entries (available: %s)", want,
	          avail.len ? avail.buf : "none");
	return NULL;
}

static json_t *platform_to_json(const oci_platform *p)
{
	json_t *j = json_object();
	json_object_set_new(j, "architecture", json_string(p->architecture ? p->architecture : ""));
	json_object_set_new(j, "os", json_string(p->os ? p->os : ""));
	if (p->os_version && *p->os_version)
		json_object_set_new(j, "os.version", json_string(p->os_version));
	if (p->os_features && *p->os_features)
		json_object_set_new(j, "os.features", json_from_strv(p->os_features));
	if (p->variant && *p->variant)
		json_object_set_new(j, "variant", json_string(p->variant));
	return j;
}

json_t *oci_descriptor_to_json(const oci_descriptor *d, bool docker_order)
{
	json_t *j = json_object();
	json_object_set_new(j, "mediaType", json_string(d->media_type ? d->media_type : ""));
	if (docker_order)
		json_object_set_new(j, "size", json_integer(d->size));
	json_object_set_new(j, "digest", json_string(d->digest ? d->digest : ""));
	if (!docker_order)
		json_object_set_new(j, "size", json_integer(d->size));
	if (d->urls && *d->urls)
		json_object_set_new(j, "urls", json_from_strv(d->urls));
	if (d->annotations && json_object_size(d->annotations))
		json_object_set_new(j, "annotations", json_deep_copy(d->annotations));
	if (d->platform)
		json_object_set_new(j, "platform", platform_to_json(d->platform));
	if (d->artifact_type && *d->artifact_type)
		json_object_set_new(j, "artifactType", json_string(d->artifact_type));
	return j;
}

static char *finish(json_t *doc, char *digest_out)
{
	char *s = json_dump_go(doc, "   ");
	json_decref(doc);
	if (digest_out)
		sha256_digest(s, strlen(s), digest_out);
	return s;
}

char *manifest_write_image(enum manifest_kind kind, const oci_descriptor *config,
                           const oci_descriptor *layers, size_t n_layers, const json_t *annotations,
                           char *digest_out)
{
	bool docker = kind == MANIFEST_DOCKER_V2;
	json_t *doc = json_object();
	json_object_set_new(doc, "schemaVersion", json_integer(2));
	json_object_set_new(doc, "mediaType",
	                    json_string(docker ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST));
	json_object_set_new(doc, "config", oci_descriptor_to_json(config, docker));
	json_t *a = json_array();
	for (size_t i = 0; i < n_layers; i++)
		json_array_append_new(a, oci_descriptor_to_json(&layers[i], docker));
	json_object_set_new(doc, "layers", a);
	if (!docker && annotations && json_object_size(annotations))
		json_object_set_new(doc, "annotations", json_deep_copy(annotations));
	return finish(doc, digest_out);
}

char *manifest_write_index(enum manifest_kind kind, const oci_descriptor *manifests,
                           size_t n_manifests, const json_t *annotations, char *digest_out)
{
	bool docker = kind == MANIFEST_DOCKER_LIST;
	json_t *doc = json_object();
	json_object_set_new(doc, "schemaVersion", json_integer(2));
	json_object_set_new(doc, "mediaType",
	                    json_string(docker ? MT_DOCKER_MANIFEST_LIST : MT_OCI_INDEX));
	json_t *a = json_array();
	for (size_t i = 0; i < n_manifests; i++)
		json_array_append_new(a, oci_descriptor_to_json(&manifests[i], docker));
	json_object_set_new(doc, "manifests", a);
	if (!docker && annotations && json_object_size(annotations))
		json_object_set_new(doc, "annotations", json_deep_copy(annotations));
	return finish(doc, digest_out);
}
