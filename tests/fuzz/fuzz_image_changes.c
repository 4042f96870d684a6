/* libFuzzer harness: `import -c` / commit --change lines (Dockerfile-style
 * instructions applied to a container config). Input: lines separated by
 * newlines. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	char **lines = str_split(text, '\n');
	json_t *cfg = json_object();
	berth_error *err = NULL;
	if (image_apply_changes(cfg, lines, &err) < 0)
		berth_error_free(err);
	json_decref(cfg);
	strv_free(lines);
	free(text);
	return 0;
}
