/* libFuzzer harness: -p port specs and EXPOSE port ranges. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "network/portspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	port_binding *b = NULL;
	size_t n = 0;
	berth_error *err = NULL;
	if (port_spec_parse(s, &b, &n, &err) == 0)
		free(b);
	berth_error_free(err);
	err = NULL;
	uint16_t a, z;
	int proto;
	(void)port_range_parse(s, &a, &z, &proto, &err);
	berth_error_free(err);
	free(s);
	return 0;
}
