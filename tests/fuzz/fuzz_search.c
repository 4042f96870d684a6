/* libFuzzer harness for berth search's parsers (src/registry/search.c): the
 * registry's v1 search answer, the --filter values and the ellipsis cut. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	reg_search_filter f = REG_SEARCH_FILTER_INIT;
	reg_search_result *r = NULL;
	size_t n = 0;
	berth_error *err = NULL;
	if (reg_search_parse((const char *)data, size, NULL, &r, &n, &err) == 0)
		reg_search_results_free(r, n);
	berth_error_free(err);
	err = NULL;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	static const char *const keys[] = {"stars", "is-official", "is-automated", "x"};
	for (size_t i = 0; i < 4; i++) {
		if (reg_search_filter_add(&f, keys[i], s, &err) < 0) {
			berth_error_free(err);
			err = NULL;
		}
	}
	if (reg_search_parse((const char *)data, size, &f, &r, &n, &err) == 0)
		reg_search_results_free(r, n);
	berth_error_free(err);
	for (size_t max = 0; max < 50; max += 7)
		free(reg_ellipsis(s, max));
	free(s);
	return 0;
}
