#include "registry/search.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "registry/client.h"

/* Docker Hub's index, where `docker search TERM` goes. */
#define INDEX_SERVER "https://index.docker.io"

/* As Docker's daemon (20.10) checks them: a boolean filter is "true" or
 * "false" exactly, stars a decimal integer. */
int reg_search_filter_add(reg_search_filter *f, const char *key, const char *value,
                          berth_error **err)
{
	if (!strcmp(key, "stars")) {
		char *end = NULL;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (!*value || *end || errno ||
		    !(isdigit((unsigned char)*value) || *value == '-' || *value == '+'))
			return berth_err(err, BERTH_E_INVALID, "Invalid filter 'stars=%s'", value);
		if (v > f->min_stars)
			f->min_stars = v;
		return 0;
	}
	int *slot = !strcmp(key, "is-official")    ? &f->is_official
	            : !strcmp(key, "is-automated") ? &f->is_automated
	                                           : NULL;
	if (!slot)
		return berth_err(err, BERTH_E_INVALID, "Invalid filter '%s'", key);
	int b = !strcmp(value, "true") ? 1 : !strcmp(value, "false") ? 0 : -1;
	if (b < 0)
		return berth_err(err, BERTH_E_INVALID, "Invalid filter '%s=[%s]'", key, value);
	if (*slot >= 0 && *slot != b)
		return berth_err(err, BERTH_E_INVALID, "Invalid filter '%s=[false true]'", key);
	*slot = b;
	return 0;
}

void reg_search_results_free(reg_search_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].name);
		free(r[i].description);
	}
	free(r);
}

int reg_search_parse(const char *json, size_t len, const reg_search_filter *f,
                     reg_search_result **out, size_t *n, berth_error **err)
{
	json_error_t je;
	_cleanup_json_ json_t *j = json_loadb(json ? json : "", len, 0, &je);
	if (!j || !json_is_object(j))
		return berth_err(err, BERTH_E_CORRUPT, "error decoding registry search results: %s",
		                 j ? "not a JSON object" : je.text);
	json_t *results = json_object_get(j, "results");
	if (results && !json_is_array(results) && !json_is_null(results))
		return berth_err(
		    err, BERTH_E_CORRUPT,
		    "error decoding registry search results: \"results\" is not a list");
	size_t cnt = json_array_size(results);
	reg_search_result *v = xcalloc(cnt ? cnt : 1, sizeof(*v));
	size_t k = 0, i;
	json_t *r;
	json_array_foreach (results, i, r) {
		if (!json_is_object(r)) {
			reg_search_results_free(v, k);
			return berth_err(err, BERTH_E_CORRUPT,
			                 "error decoding registry search results: a result is not "
			                 "an object");
		}
		reg_search_result x = {
		    .star_count = json_get_int(r, "star_count", 0),
		    .is_official = json_get_bool(r, "is_official", false),
		    .is_automated = json_get_bool(r, "is_automated", false),
		};
		if (f && ((f->is_official >= 0 && x.is_official != (f->is_official == 1)) ||
		          (f->is_automated >= 0 && x.is_automated != (f->is_automated == 1)) ||
		          x.star_count < f->min_stars))
			continue;
		const char *name = json_get_str(r, "name");
		const char *desc = json_get_str(r, "description");
		x.name = xstrdup(name ? name : "");
		x.description = xstrdup(desc ? desc : "");
		v[k++] = x;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Bytes of the UTF-8 sequence that starts with c (1 for stray bytes). */
static size_t u8len(unsigned char c)
{
	return c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

char *reg_ellipsis(const char *s, size_t max)
{
	size_t len = strlen(s), runes = 0;
	for (size_t i = 0; i < len; i += u8len((unsigned char)s[i]))
		runes++;
	if (runes <= max)
		return xstrdup(s);
	if (max == 0)
		return xstrdup("");
	size_t i = 0;
	for (size_t r = 0; r + 1 < max && i < len; r++)
		i += u8len((unsigned char)s[i]);
	if (i > len)
		i = len;
	_cleanup_free_ char *head = xstrndup(s, i);
	return xasprintf("%s…", head);
}

int registry_search(const berth_config *cfg, const char *term, int limit,
                    const reg_search_filter *f, reg_search_result **out, size_t *n,
                    berth_error **err)
{
	if (strstr(term, "://"))
		return berth_err(err, BERTH_E_INVALID,
		                 "Invalid repository name (ex: \"registry.domain.tld/myrepos\")");
	/* Docker's splitReposSearchTerm: a first component with a dot or a
	 * colon, or "localhost", names the registry */
	_cleanup_free_ char *index = NULL;
	const char *remote = term;
	const char *slash = strchr(term, '/');
	if (slash) {
		_cleanup_free_ char *first = xstrndup(term, (size_t)(slash - term));
		if (strchr(first, '.') || strchr(first, ':') || !strcmp(first, "localhost")) {
			index = steal_ptr(first);
			remote = slash + 1;
		}
	}
	if (index && (!strcmp(index, "docker.io") || !strcmp(index, "index.docker.io") ||
	              !strcmp(index, "registry-1.docker.io"))) {
		free(index);
		index = NULL;
	}
	if (!index && str_has_prefix(remote, "library/"))
		remote += strlen("library/");
	if (limit <= 0)
		limit = REG_SEARCH_DEFAULT_LIMIT;
	if (limit > 100)
		return berth_err(err, BERTH_E_INVALID, "Limit %d is outside the range of [1, 100]",
		                 limit);
	reg_client_opts o = {.config = cfg, .retries = -1};
	_cleanup_reg_client_ reg_client *cl = NULL;
	if (reg_client_new(index ? index : INDEX_SERVER, &o, &cl, err) < 0)
		return -1;
	_cleanup_free_ char *json = NULL;
	size_t len = 0;
	if (reg_search(cl, remote, limit, &json, &len, err) < 0)
		return -1;
	return reg_search_parse(json, len, f, out, n, err);
}
