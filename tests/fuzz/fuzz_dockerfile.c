/* libFuzzer harness: the Dockerfile parser and the word lexer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(void *ud, const char *name)
{
	(void)ud;
	return name[0] == 'A' ? "value" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dockerfile *df = NULL;
	berth_error *err = NULL;
	if (dockerfile_parse((const char *)data, size, "Dockerfile", &df, &err) == 0) {
		for (size_t i = 0; i < df->n; i++) {
			char **words = NULL;
			berth_error *e2 = NULL;
			if (df_expand_words(df->instrs[i].rest, df->escape, lookup, NULL, &words,
			                    &e2) == 0) {
				for (char **w = words; *w; w++)
					free(*w);
				free(words);
			}
			berth_error_free(e2);
		}
		dockerfile_free(df);
	}
	berth_error_free(err);
	return 0;
}
