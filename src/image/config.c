#include "image/config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

/* Field order of Docker's container.Config (encoding/json follows it). */
static const char *const runconfig_order[] = {
    "Hostname",        "Domainname",  "User",      "AttachStdin", "AttachStdout", "AttachStderr",
    "ExposedPorts",    "Tty",         "OpenStdin", "StdinOnce",   "Env",          "Cmd",
    "Healthcheck",     "ArgsEscaped", "Image",     "Volumes",     "WorkingDir",   "Entrypoint",
    "NetworkDisabled", "MacAddress",  "OnBuild",   "Labels",      "StopSignal",   "StopTimeout",
    "Shell",           NULL,
};

/* Rank of key in order (NULL order: alphabetical, every key known). */
static int key_rank(const char *const *order, const char *key)
{
	if (order == NULL)
		return 0;
	for (int i = 0; order[i]; i++)
		if (!strcmp(order[i], key))
			return i;
	return -1;
}

static bool ranks_before(const char *const *order, const char *a, const char *b)
{
	if (order == NULL)
		return strcmp(a, b) < 0;
	int ra = key_rank(order, a), rb = key_rank(order, b);
	return ra >= 0 && rb >= 0 && ra < rb;
}

/* obj[key] = value (stolen). An existing key keeps its place; a new key is
 * put before the first key that the encoder would write after it. */
static void set_ordered(json_t *obj, const char *key, json_t *value, const char *const *order)
{
	if (json_object_get(obj, key)) {
		json_object_set_new(obj, key, value);
		return;
	}
	if (order && key_rank(order, key) < 0) {
		json_object_set_new(obj, key, value);
		return;
	}
	json_t *copy = json_object();
	const char *k;
	size_t klen;
	json_t *v;
	bool placed = false;
	json_object_keylen_foreach(obj, k, klen, v)
	{
		if (!placed && ranks_before(order, key, k)) {
			json_object_set_new(copy, key, value);
			placed = true;
		}
		json_object_setn(copy, k, klen, v);
	}
	if (!placed)
		json_object_set_new(copy, key, value);
	json_object_clear(obj);
	json_object_update(obj, copy);
	json_decref(copy);
}

/* Strict RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM). */
static bool rfc3339_valid(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t i = 0;
	for (; pat[i]; i++) {
		char c = s[i];
		if (pat[i] == 'd'   ? !(c >= '0' && c <= '9')
		    : pat[i] == 'T' ? (c != 'T' && c != 't')
		                    : c != pat[i])
			return false;
	}
	const char *p = s + i;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == 0;
	if (*p != '+' && *p != '-')
		return false;
	p++;
	return p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9' && p[2] == ':' &&
	       p[3] >= '0' && p[3] <= '9' && p[4] >= '0' && p[4] <= '9' && p[5] == 0;
}

static void history_clear(image_history *h)
{
	free(h->created);
	free(h->author);
	free(h->created_by);
	free(h->comment);
	memset(h, 0, sizeof(*h));
}

static void runconfig_clear(image_runconfig *r)
{
	free(r->user);
	free(r->working_dir);
	free(r->stop_signal);
	strv_free(r->env);
	strv_free(r->cmd);
	strv_free(r->entrypoint);
	strv_free(r->shell);
	strv_free(r->on_build);
	strv_free(r->exposed_ports);
	strv_free(r->volumes);
	for (size_t i = 0; i < r->n_labels; i++) {
		free(r->labels[i].key);
		free(r->labels[i].value);
	}
	free(r->labels);
	if (r->healthcheck) {
		strv_free(r->healthcheck->test);
		free(r->healthcheck);
	}
	memset(r, 0, sizeof(*r));
	r->stop_timeout = -1;
}

static void views_clear(image_config *c)
{
	free(c->architecture);
	free(c->variant);
	free(c->os);
	free(c->os_version);
	free(c->created);
	free(c->author);
	free(c->comment);
	runconfig_clear(&c->config);
	strv_free(c->diff_ids);
	for (size_t i = 0; i < c->n_history; i++)
		history_clear(&c->history[i]);
	free(c->history);
	json_t *j = c->json;
	memset(c, 0, sizeof(*c));
	c->json = j;
	c->config.stop_timeout = -1;
}

void image_config_free(image_config *c)
{
	if (c == NULL)
		return;
	views_clear(c);
	json_decref(c->json);
	free(c);
}

static int bad(berth_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(berth_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return berth_err(err, BERTH_E_INVALID, "invalid image config: %s", msg);
}

static bool has_nul(const json_t *s)
{
	return strlen(json_string_value(s)) != json_string_length(s);
}

/* String member (absent or null -> NULL; "" kept as NULL when empty_null). */
static int get_str(const json_t *obj, const char *key, const char *where, bool empty_null,
                   char **out, berth_error **err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad(err, "%s%s must be a string", where, key);
	if (has_nul(v))
		return bad(err, "%s%s must not contain NUL characters", where, key);
	if (empty_null && json_string_length(v) == 0)
		return 0;
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* Array of strings, or null; a plain string counts as a one-element list
 * (Docker's strslice). */
static int get_strv(const json_t *obj, const char *key, const char *where, char ***out,
                    berth_error **err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (has_nul(v))
			return bad(err, "%s%s must not contain NUL characters", where, key);
		*out = strv_append(NULL, json_string_value(v));
		return 0;
	}
	if (!json_is_array(v))
		return bad(err, "%s%s must be an array of strings", where, key);
	size_t i;
	json_t *s;
	json_array_foreach (v, i, s) {
		if (!json_is_string(s))
			return bad(err, "%s%s must be an array of strings", where, key);
		if (has_nul(s))
			return bad(err, "%s%s must not contain NUL characters", where, key);
	}
	*out = json_get_strv(obj, key);
	return 0;
}

/* Object used as a set: its keys. */
static int get_keys(const json_t *obj, const char *key, const char *where, char ***out,
                    berth_error **err)
{
	*out = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return bad(err, "%s%s must be an object", where, key);
	const char *k;
	size_t klen;
	json_t *val;
	json_object_keylen_foreach(v, k, klen, val) if (strlen(k) != klen) return bad(
	    err, "%s%s keys must not contain NUL characters", where, key);
	char **keys = xcalloc(json_object_size(v) + 1, sizeof(char *));
	size_t n = 0;
	json_object_foreach (v, k, val)
		keys[n++] = xstrdup(k);
	*out = keys;
	return 0;
}

static int get_int(const json_t *obj, const char *key, const char *where, int64_t *out,
                   berth_error **err)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return bad(err, "%s%s must be an integer", where, key);
	*out = json_integer_value(v);
	return 0;
}

static int get_bool(const json_t *obj, const char *key, const char *where, bool *out,
                    berth_error **err)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return bad(err, "%s%s must be a boolean", where, key);
	*out = json_is_true(v);
	return 0;
}

static int load_runconfig(const json_t *cfg, image_runconfig *r, berth_error **err)
{
	const char *w = "config.";
	if (get_str(cfg, "User", w, true, &r->user, err) < 0 ||
	    get_str(cfg, "WorkingDir", w, true, &r->working_dir, err) < 0 ||
	    get_str(cfg, "StopSignal", w, true, &r->stop_signal, err) < 0 ||
	    get_strv(cfg, "Env", w, &r->env, err) < 0 ||
	    get_strv(cfg, "Cmd", w, &r->cmd, err) < 0 ||
	    get_strv(cfg, "Entrypoint", w, &r->entrypoint, err) < 0 ||
	    get_strv(cfg, "Shell", w, &r->shell, err) < 0 ||
	    get_strv(cfg, "OnBuild", w, &r->on_build, err) < 0 ||
	    get_keys(cfg, "ExposedPorts", w, &r->exposed_ports, err) < 0 ||
	    get_keys(cfg, "Volumes", w, &r->volumes, err) < 0 ||
	    get_bool(cfg, "ArgsEscaped", w, &r->args_escaped, err) < 0 ||
	    get_int(cfg, "StopTimeout", w, &r->stop_timeout, err) < 0)
		return -1;
	json_t *labels = json_object_get(cfg, "Labels");
	if (labels && !json_is_null(labels)) {
		if (!json_is_object(labels))
			return bad(err, "config.Labels must be an object of strings");
		r->labels = xcalloc(json_object_size(labels) + 1, sizeof(image_label));
		const char *k;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach(labels, k, klen, v)
		{
			if (!json_is_string(v))
				return bad(err, "config.Labels[\"%s\"] must be a string", k);
			if (strlen(k) != klen || has_nul(v))
				return bad(err, "config.Labels must not contain NUL characters");
			r->labels[r->n_labels].key = xstrdup(k);
			r->labels[r->n_labels].value = xstrdup(json_string_value(v));
			r->n_labels++;
		}
	}
	json_t *hc = json_object_get(cfg, "Healthcheck");
	if (hc && !json_is_null(hc)) {
		if (!json_is_object(hc))
			return bad(err, "config.Healthcheck must be an object");
		image_healthcheck *h = xcalloc(1, sizeof(*h));
		r->healthcheck = h;
		const char *hw = "config.Healthcheck.";
		if (get_strv(hc, "Test", hw, &h->test, err) < 0 ||
		    get_int(hc, "Interval", hw, &h->interval, err) < 0 ||
		    get_int(hc, "Timeout", hw, &h->timeout, err) < 0 ||
		    get_int(hc, "StartPeriod", hw, &h->start_period, err) < 0 ||
		    get_int(hc, "StartInterval", hw, &h->start_interval, err) < 0 ||
		    get_int(hc, "Retries", hw, &h->retries, err) < 0)
			return -1;
	}
	return 0;
}

static int load_views(image_config *c, berth_error **err)
{
	const json_t *j = c->json;
	if (!json_is_object(j))
		return bad(err, "must be a JSON object");
	if (get_str(j, "architecture", "", false, &c->architecture, err) < 0 ||
	    get_str(j, "variant", "", true, &c->variant, err) < 0 ||
	    get_str(j, "os", "", false, &c->os, err) < 0 ||
	    get_str(j, "os.version", "", true, &c->os_version, err) < 0 ||
	    get_str(j, "created", "", false, &c->created, err) < 0 ||
	    get_str(j, "author", "", true, &c->author, err) < 0 ||
	    get_str(j, "comment", "", true, &c->comment, err) < 0)
		return -1;
	if (c->created && !rfc3339_valid(c->created))
		return bad(err, "created \"%s\" is not an RFC 3339 time", c->created);

	json_t *cfg = json_object_get(j, "config");
	if (cfg && !json_is_null(cfg)) {
		if (!json_is_object(cfg))
			return bad(err, "config must be an object");
		if (load_runconfig(cfg, &c->config, err) < 0)
			return -1;
	}

	json_t *rootfs = json_object_get(j, "rootfs");
	if (!json_is_object(rootfs))
		return bad(err, "rootfs is required and must be an object");
	const char *type = json_get_str(rootfs, "type");
	if (type == NULL || strcmp(type, "layers") != 0)
		return bad(err, "rootfs.type must be \"layers\"");
	if (get_strv(rootfs, "diff_ids", "rootfs.", &c->diff_ids, err) < 0)
		return -1;
	if (json_is_string(json_object_get(rootfs, "diff_ids")))
		return bad(err, "rootfs.diff_ids must be an array of strings");
	if (c->diff_ids == NULL)
		c->diff_ids = xcalloc(1, sizeof(char *));
	c->n_diff_ids = strv_len(c->diff_ids);
	for (size_t i = 0; i < c->n_diff_ids; i++)
		if (!digest_valid(c->diff_ids[i]))
			return bad(err, "rootfs.diff_ids[%zu] \"%s\" is not a sha256 digest", i,
			           c->diff_ids[i]);

	json_t *hist = json_object_get(j, "history");
	if (hist && !json_is_null(hist)) {
		if (!json_is_array(hist))
			return bad(err, "history must be an array");
		c->history = xcalloc(json_array_size(hist) + 1, sizeof(image_history));
		size_t i;
		json_t *h;
		json_array_foreach (hist, i, h) {
			if (!json_is_object(h))
				return bad(err, "history[%zu] must be an object", i);
			image_history *e = &c->history[i];
			c->n_history = i + 1;
			_cleanup_free_ char *w = xasprintf("history[%zu].", i);
			if (get_str(h, "created", w, false, &e->created, err) < 0 ||
			    get_str(h, "author", w, false, &e->author, err) < 0 ||
			    get_str(h, "created_by", w, false, &e->created_by, err) < 0 ||
			    get_str(h, "comment", w, false, &e->comment, err) < 0 ||
			    get_bool(h, "empty_layer", w, &e->empty_layer, err) < 0)
				return -1;
			if (e->created && !rfc3339_valid(e->created))
				return bad(err,
				           "history[%zu].created \"%s\" is not an RFC 3339 time", i,
				           e->created);
		}
	}
	return 0;
}

/* After a setter: the views follow the document. */
static void views_reload(image_config *c)
{
	views_clear(c);
	berth_error *e = NULL;
	if (load_views(c, &e) < 0)
		abort(); /* setters only write valid shapes */
}

int image_config_parse(const char *buf, size_t len, image_config **out, berth_error **err)
{
	*out = NULL;
	json_t *j = json_parse_buf(buf, len, "image config", err);
	if (j == NULL)
		return -1;
	_cleanup_image_config_ image_config *c = xcalloc(1, sizeof(*c));
	c->json = j;
	c->config.stop_timeout = -1;
	if (load_views(c, err) < 0)
		return -1;
	*out = steal_ptr(c);
	return 0;
}

char *image_config_dump(const image_config *c)
{
	return json_dump_go(c->json, NULL);
}

void image_config_digest(const image_config *c, char out[DIGEST_STR_LEN + 1])
{
	_cleanup_free_ char *s = image_config_dump(c);
	sha256_digest(s, strlen(s), out);
}

static json_t *new_runconfig(void)
{
	json_t *r = json_object();
	json_object_set_new(r, "Hostname", json_string(""));
	json_object_set_new(r, "Domainname", json_string(""));
	json_object_set_new(r, "User", json_string(""));
	json_object_set_new(r, "AttachStdin", json_false());
	json_object_set_new(r, "AttachStdout", json_false());
	json_object_set_new(r, "AttachStderr", json_false());
	json_object_set_new(r, "Tty", json_false());
	json_object_set_new(r, "OpenStdin", json_false());
	json_object_set_new(r, "StdinOnce", json_false());
	json_object_set_new(r, "Env", json_null());
	json_object_set_new(r, "Cmd", json_null());
	json_object_set_new(r, "Image", json_string(""));
	json_object_set_new(r, "Volumes", json_null());
	json_object_set_new(r, "WorkingDir", json_string(""));
	json_object_set_new(r, "Entrypoint", json_null());
	json_object_set_new(r, "OnBuild", json_null());
	json_object_set_new(r, "Labels", json_null());
	return r;
}

image_config *image_config_new(const char *os, const char *arch, const char *variant,
                               const char *created)
{
	_cleanup_free_ char *now = NULL;
	if (created == NULL) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		now = time_rfc3339nano(&ts);
		created = now;
	}
	/* Docker sorts the top-level keys. */
	json_t *j = json_object();
	json_object_set_new(j, "architecture", json_string(arch));
	json_object_set_new(j, "config", new_runconfig());
	json_object_set_new(j, "created", json_string(created));
	json_object_set_new(j, "history", json_array());
	json_object_set_new(j, "os", json_string(os));
	json_t *rootfs = json_object();
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_object_set_new(rootfs, "diff_ids", json_array());
	json_object_set_new(j, "rootfs", rootfs);
	if (variant && *variant)
		json_object_set_new(j, "variant", json_string(variant));
	image_config *c = xcalloc(1, sizeof(*c));
	c->json = j;
	views_reload(c);
	return c;
}

void image_config_set_string(image_config *c, const char *key, const char *value)
{
	if (value == NULL)
		json_object_del(c->json, key);
	else
		set_ordered(c->json, key, json_string(value), NULL);
	views_reload(c);
}

static json_t *runconfig_obj(image_config *c)
{
	json_t *cfg = json_object_get(c->json, "config");
	if (!json_is_object(cfg)) {
		cfg = json_object();
		set_ordered(c->json, "config", cfg, NULL);
	}
	return cfg;
}

/* Keys Docker writes only when set (omitempty). */
static bool omitempty(const char *key)
{
	static const char *const keys[] = {"ArgsEscaped", "ExposedPorts",    "Healthcheck",
	                                   "MacAddress",  "NetworkDisabled", "Shell",
	                                   "StopSignal",  "StopTimeout"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(keys[i], key))
			return true;
	return false;
}

static void run_set(image_config *c, const char *key, json_t *value)
{
	json_t *cfg = runconfig_obj(c);
	if (value == NULL) {
		if (omitempty(key))
			json_object_del(cfg, key);
		else if (json_object_get(cfg, key))
			json_object_set_new(cfg, key, json_null());
	} else {
		set_ordered(cfg, key, value, runconfig_order);
	}
}

void image_config_set_run_string(image_config *c, const char *key, const char *value)
{
	if (value == NULL && !omitempty(key))
		run_set(c, key, json_string(""));
	else
		run_set(c, key, value ? json_string(value) : NULL);
	views_reload(c);
}

void image_config_set_run_strv(image_config *c, const char *key, char *const *v)
{
	run_set(c, key, v ? json_from_strv(v) : NULL);
	views_reload(c);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void image_config_set_run_set(image_config *c, const char *key, char *const *keys)
{
	if (keys == NULL || *keys == NULL) {
		run_set(c, key, NULL);
		views_reload(c);
		return;
	}
	_cleanup_strv_ char **sorted = strv_dup(keys);
	qsort(sorted, strv_len(sorted), sizeof(char *), cmp_str);
	json_t *o = json_object();
	for (char **k = sorted; *k; k++)
		json_object_set_new(o, *k, json_object());
	run_set(c, key, o);
	views_reload(c);
}

void image_config_set_label(image_config *c, const char *key, const char *value)
{
	json_t *cfg = runconfig_obj(c);
	json_t *labels = json_object_get(cfg, "Labels");
	if (value == NULL) {
		if (json_is_object(labels))
			json_object_del(labels, key);
		views_reload(c);
		return;
	}
	if (!json_is_object(labels)) {
		labels = json_object();
		set_ordered(cfg, "Labels", labels, runconfig_order);
	}
	/* Go writes map keys sorted. */
	set_ordered(labels, key, json_string(value), NULL);
	views_reload(c);
}

void image_config_set_healthcheck(image_config *c, const image_healthcheck *h)
{
	if (h == NULL) {
		run_set(c, "Healthcheck", NULL);
		views_reload(c);
		return;
	}
	json_t *o = json_object();
	if (h->test && *h->test)
		json_object_set_new(o, "Test", json_from_strv(h->test));
	if (h->interval)
		json_object_set_new(o, "Interval", json_integer(h->interval));
	if (h->timeout)
		json_object_set_new(o, "Timeout", json_integer(h->timeout));
	if (h->start_period)
		json_object_set_new(o, "StartPeriod", json_integer(h->start_period));
	if (h->start_interval)
		json_object_set_new(o, "StartInterval", json_integer(h->start_interval));
	if (h->retries)
		json_object_set_new(o, "Retries", json_integer(h->retries));
	run_set(c, "Healthcheck", o);
	views_reload(c);
}

int image_config_set_run_json(image_config *c, const char *key, json_t *value, berth_error **err)
{
	json_t *cfg = runconfig_obj(c);
	json_t *old = json_object_get(cfg, key);
	if (old)
		json_incref(old);
	if (value)
		set_ordered(cfg, key, value, runconfig_order);
	else
		json_object_del(cfg, key);
	views_clear(c);
	if (load_views(c, err) < 0) {
		if (old)
			json_object_set_new(cfg, key, old);
		else
			json_object_del(cfg, key);
		views_reload(c);
		return -1;
	}
	json_decref(old);
	return 0;
}

void image_config_add_diff_id(image_config *c, const char *diff_id)
{
	json_t *rootfs = json_object_get(c->json, "rootfs");
	json_t *ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		ids = json_array();
		set_ordered(rootfs, "diff_ids", ids,
		            (const char *const[]){"type", "diff_ids", NULL});
	}
	json_array_append_new(ids, json_string(diff_id));
	views_reload(c);
}

void image_config_add_history(image_config *c, const image_history *h)
{
	json_t *hist = json_object_get(c->json, "history");
	if (!json_is_array(hist)) {
		hist = json_array();
		set_ordered(c->json, "history", hist, NULL);
	}
	json_t *o = json_object();
	if (h->created)
		json_object_set_new(o, "created", json_string(h->created));
	if (h->author && *h->author)
		json_object_set_new(o, "author", json_string(h->author));
	if (h->created_by && *h->created_by)
		json_object_set_new(o, "created_by", json_string(h->created_by));
	if (h->comment && *h->comment)
		json_object_set_new(o, "comment", json_string(h->comment));
	if (h->empty_layer)
		json_object_set_new(o, "empty_layer", json_true());
	json_array_append_new(hist, o);
	views_reload(c);
}

void chain_id(const char *parent, const char *diff_id, char out[DIGEST_STR_LEN + 1])
{
	if (parent == NULL) {
		snprintf(out, DIGEST_STR_LEN + 1, "%s", diff_id);
		return;
	}
	_cleanup_free_ char *s = xasprintf("%s %s", parent, diff_id);
	sha256_digest(s, strlen(s), out);
}

char **image_config_chain_ids(const image_config *c)
{
	char **v = xcalloc(c->n_diff_ids + 1, sizeof(char *));
	char cur[DIGEST_STR_LEN + 1];
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		chain_id(i ? cur : NULL, c->diff_ids[i], cur);
		v[i] = xstrdup(cur);
	}
	return v;
}
