/* libFuzzer harness: berth's config file (/etc/berth/berth.json). */
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	berth_config *c = NULL;
	berth_error *err = NULL;
	if (berth_config_parse((const char *)data, size, "fuzz", &c, &err) == 0)
		berth_config_free(c);
	berth_error_free(err);
	return 0;
}
