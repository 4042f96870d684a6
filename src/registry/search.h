/* berth search: the v1 search API (GET /v1/search?q=TERM&n=LIMIT) of Docker
 * Hub and the registries that offer it, with Docker's filters applied to
 * the answer (stars=N, is-official=BOOL, is-automated=BOOL). */
#ifndef BERTH_REGISTRY_SEARCH_H
#define BERTH_REGISTRY_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/config.h"
#include "base/error.h"

#define REG_SEARCH_DEFAULT_LIMIT 25

typedef struct reg_search_result {
	char *name;
	char *description;
	long long star_count;
	bool is_official;
	bool is_automated;
} reg_search_result;

typedef struct reg_search_filter {
	int is_official; /* -1: any, else 0/1 */
	int is_automated; /* -1: any */
	long long min_stars; /* the largest stars=N given; 0 when none */
} reg_search_filter;

#define REG_SEARCH_FILTER_INIT                                        \
	{                                                             \
		.is_official = -1, .is_automated = -1, .min_stars = 0 \
	}

/* Add one KEY=VALUE filter as Docker takes them (repeating is-official or
 * is-automated with the other value is an error; stars keeps the largest).
 * BERTH_E_INVALID with Docker's message when it is not valid. */
int reg_search_filter_add(reg_search_filter *f, const char *key, const char *value,
                          berth_error **err) __attribute__((warn_unused_result));

/* Parse a v1 search answer and keep the results that pass f (NULL: all),
 * in the registry's order. BERTH_E_CORRUPT when it is not one. */
int reg_search_parse(const char *json, size_t len, const reg_search_filter *f,
                     reg_search_result **out, size_t *n, berth_error **err)
    __attribute__((warn_unused_result));
void reg_search_results_free(reg_search_result *r, size_t n);

/* Search TERM ("busybox", or "REGISTRY/TERM" for another registry than
 * Docker Hub) for at most limit results (<= 0: 25; at most 100). */
int registry_search(const berth_config *cfg, const char *term, int limit,
                    const reg_search_filter *f, reg_search_result **out, size_t *n,
                    berth_error **err) __attribute__((warn_unused_result));

/* Docker's formatter.Ellipsis: s cut to max display columns, the last one
 * an ellipsis ("…"), when it is wider (code points count one column). */
char *reg_ellipsis(const char *s, size_t max);

#endif
