/* libFuzzer harness: runtime-spec config.json parsing and checking. */
#include <stddef.h>
#include <stdint.h>

#include "runtime/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (j == NULL)
		return 0;
	rt_spec *s = NULL;
	berth_error *err = NULL;
	if (rt_spec_parse(j, "/bundle", false, NULL, &s, &err) == 0)
		rt_spec_free(s);
	berth_error_free(err);
	json_decref(j);
	return 0;
}
