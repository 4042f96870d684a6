/* libFuzzer harness: .dockerignore parsing and matching. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "build/dockerignore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dockerignore *di = NULL;
	berth_error *err = NULL;
	if (dockerignore_parse((const char *)data, size, &di, &err) == 0) {
		static const char *paths[] = {"a", "a/b/c.txt", "Dockerfile", "x/y/z/w.tmp",
		                              "docs/README.md"};
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			(void)dockerignore_excluded(di, paths[i]);
		dockerignore_free(di);
	}
	berth_error_free(err);
	return 0;
}
