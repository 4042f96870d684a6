#include "base/json.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

json_t *json_parse_buf(const char *buf, size_t len, const char *what, berth_error **err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_ALLOW_NUL, &je);
	if (j == NULL)
		berth_err(err, BERTH_E_INVALID, "%s: invalid JSON at line %d column %d: %s",
		          what ? what : "input", je.line, je.column, je.text);
	return j;
}

json_t *json_parse_file(const char *path, berth_error **err)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
	if (j == NULL)
		berth_err(err, BERTH_E_INVALID, "%s: %s (line %d column %d)", path, je.text,
		          je.line, je.column);
	return j;
}

char *json_dump_compact(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s == NULL)
		abort();
	return s;
}

char *json_dump_pretty(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s == NULL)
		abort();
	return s;
}

const char *json_get_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long json_get_int(const json_t *obj, const char *key, long long def)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return def;
}

bool json_get_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

char **json_get_strv(const json_t *obj, const char *key)
{
	json_t *a = json_object_get(obj, key);
	if (!json_is_array(a))
		return NULL;
	size_t n = json_array_size(a), k = 0;
	char **v = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(a, i);
		if (json_is_string(s))
			v[k++] = xstrdup(json_string_value(s));
	}
	return v;
}

json_t *json_from_strv(char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}
