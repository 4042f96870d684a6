/* Extra log attributes (Docker's logger.Info.ExtraAttributes): the log
 * options labels=, labels-regex=, env= and env-regex= pick container
 * labels and environment variables that the json-file driver stores with
 * every entry ("attrs") and `logs --details` shows. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/container.h"
#include "container/jsonlog.h"

static void regfreep(regex_t **re)
{
	if (*re)
		regfree(*re);
}

/* POSIX extended regular expressions stand in for Go's RE2: the same for
 * the usual key patterns (^PREFIX_, A|B, [A-Z]+), no \d or (?i). */
static int compile(regex_t *re, const char *opt, const char *pattern, berth_error **err)
{
	int rc = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[256];
		regerror(rc, re, msg, sizeof(msg));
		return berth_err(err, BERTH_E_INVALID, "log-opt %s=%s: %s", opt, pattern, msg);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void pick_list(json_t *attrs, const char *list, json_t *from)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *k = strtok_r(copy, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		json_t *v = json_object_get(from, k);
		if (json_is_string(v))
			json_object_set(attrs, k, v);
	}
}

static int pick_regex(json_t *attrs, const char *opt, const char *pattern, json_t *from,
                      berth_error **err)
{
	regex_t re;
	if (compile(&re, opt, pattern, err) < 0)
		return -1;
	regex_t *rp __attribute__((cleanup(regfreep))) = &re;
	const char *k;
	json_t *v;
	json_object_foreach (from, k, v) {
		if (json_is_string(v) && regexec(rp, k, 0, NULL, 0) == 0)
			json_object_set(attrs, k, v);
	}
	return 0;
}

int container_log_attrs(const json_t *config, char **out, berth_error **err)
{
	*out = NULL;
	json_t *cfg = json_object_get(config, "Config");
	json_t *opts = json_object_get(
	    json_object_get(json_object_get(config, "HostConfig"), "LogConfig"), "Config");
	const char *labels = json_get_str(opts, "labels");
	const char *labels_re = json_get_str(opts, "labels-regex");
	const char *env = json_get_str(opts, "env");
	const char *env_re = json_get_str(opts, "env-regex");
	if (!(labels && *labels) && !(labels_re && *labels_re) && !(env && *env) &&
	    !(env_re && *env_re))
		return 0;
	json_t *lbl = json_object_get(cfg, "Labels");
	_cleanup_json_ json_t *envmap = json_object();
	size_t i;
	json_t *e;
	json_array_foreach (json_object_get(cfg, "Env"), i, e) {
		const char *s = json_string_value(e);
		const char *eq = s ? strchr(s, '=') : NULL;
		if (eq == NULL)
			continue;
		_cleanup_free_ char *k = xstrndup(s, (size_t)(eq - s));
		json_object_set_new(envmap, k, json_string(eq + 1));
	}
	_cleanup_json_ json_t *attrs = json_object();
	if (labels && *labels)
		pick_list(attrs, labels, lbl);
	if (labels_re && *labels_re && pick_regex(attrs, "labels-regex", labels_re, lbl, err) < 0)
		return -1;
	if (env && *env)
		pick_list(attrs, env, envmap);
	if (env_re && *env_re && pick_regex(attrs, "env-regex", env_re, envmap, err) < 0)
		return -1;
	if (json_object_size(attrs) == 0)
		return 0;
	/* Go marshals a map with its keys sorted */
	const char **keys = xcalloc(json_object_size(attrs), sizeof(*keys));
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach (attrs, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	_cleanup_json_ json_t *sorted = json_object();
	for (i = 0; i < n; i++)
		json_object_set(sorted, keys[i], json_object_get(attrs, keys[i]));
	free(keys);
	char *text = json_dump_go(sorted, NULL);
	if (strlen(text) > JSONLOG_ATTRS_MAX) {
		free(text);
		return berth_err(err, BERTH_E_INVALID,
		                 "log attributes (labels/env log-opts) longer than %d bytes",
		                 JSONLOG_ATTRS_MAX);
	}
	*out = text;
	return 0;
}
