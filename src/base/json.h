/* JSON through jansson, with cleanup and small accessors. */
#ifndef BERTH_BASE_JSON_H
#define BERTH_BASE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "base/error.h"

static inline void cleanup_jsonp(json_t **j)
{
	json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(cleanup_jsonp)))

/* Parse a buffer / file; errors carry line and column. */
json_t *json_parse_buf(const char *buf, size_t len, const char *what, berth_error **err);
json_t *json_parse_file(const char *path, berth_error **err);
/* Serialise (compact, keys in insertion order); caller frees. */
char *json_dump_compact(const json_t *j);
char *json_dump_pretty(const json_t *j);
/* Serialise exactly as Go's encoding/json does (json.Marshal when indent is
 * NULL, json.MarshalIndent(v, "", indent) otherwise): keys in insertion
 * order, <, > and & escaped as \u003c \u003e \u0026, U+2028/U+2029
 * escaped, shortest float form. Docker's digests are over these bytes. */
char *json_dump_go(const json_t *j, const char *indent);

/* Typed getters: return def / NULL when the key is missing or of another type. */
const char *json_get_str(const json_t *obj, const char *key);
long long json_get_int(const json_t *obj, const char *key, long long def);
bool json_get_bool(const json_t *obj, const char *key, bool def);
/* Array of strings -> NULL-terminated strv (NULL if absent/not array). */
char **json_get_strv(const json_t *obj, const char *key);
json_t *json_from_strv(char *const *v);

#endif
