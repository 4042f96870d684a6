/* libFuzzer harness: berth build's RUN --mount, --secret and --output specs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "build/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(void *ud, const char *name)
{
	(void)ud;
	return name[0] == 'A' ? "value" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	build_mount_spec m;
	berth_error *err = NULL;
	if (build_mount_parse(s, '\\', lookup, NULL, &m, &err) == 0)
		build_mount_spec_clear(&m);
	berth_error_free(err);
	err = NULL;
	char *a = NULL, *b = NULL, *c = NULL;
	if (build_secret_parse(s, &a, &b, &c, &err) == 0) {
		free(a);
		free(b);
		free(c);
	}
	berth_error_free(err);
	err = NULL;
	if (build_output_parse(s, &a, &b, &err) == 0) {
		free(a);
		free(b);
	}
	berth_error_free(err);
	free(s);
	return 0;
}
