/* libFuzzer: seccomp_compile() on arbitrary JSON (compile only; the
 * filter is never loaded). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/json.h"
#include "runtime/seccomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	if (j == NULL)
		return 0;
	struct sock_fprog *p = NULL;
	unsigned flags = 0;
	berth_error *e = NULL;
	if (seccomp_compile(j, &p, &flags, &e) == 0)
		free(p);
	berth_error_free(e);
	json_decref(j);
	return 0;
}
