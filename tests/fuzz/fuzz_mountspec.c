/* libFuzzer harness: --mount specs, -v bind/volume specs, detach keys. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container/container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	berth_error *err = NULL;
	json_t *m = NULL;
	if (ctr_mount_flag_parse(s, &m, &err) == 0)
		json_decref(m);
	berth_error_free(err);
	err = NULL;
	ctr_bind_spec b;
	if (ctr_bind_spec_parse(s, &b, &err) == 0)
		ctr_bind_spec_clear(&b);
	berth_error_free(err);
	unsigned char keys[16];
	(void)ctr_parse_detach_keys(s, keys, sizeof(keys));
	free(s);
	return 0;
}
