/* libFuzzer harness: image references (src/image/ref.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "image/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The canonical string of a parsed reference parses to itself. */
static void check_stable(const char *s, bool normalized)
{
	image_ref *again = NULL;
	berth_error *e = NULL;
	int r = normalized ? ref_parse_normalized(s, &again, &e) : ref_parse(s, &again, &e);
	if (r < 0)
		abort();
	char *s2 = ref_string(again);
	if (strcmp(s, s2) != 0)
		abort();
	free(s2);
	ref_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	for (int normalized = 0; normalized < 2; normalized++) {
		image_ref *r = NULL;
		berth_error *e = NULL;
		int rc = normalized ? ref_parse_normalized(s, &r, &e) : ref_parse(s, &r, &e);
		if (rc < 0) {
			if (e == NULL || e->msg == NULL || r != NULL)
				abort();
			berth_error_free(e);
			continue;
		}
		char *full = ref_string(r);
		char *fam = ref_familiar(r);
		char *repo = ref_repo(r);
		char *frepo = ref_familiar_repo(r);
		check_stable(full, normalized);
		if (normalized) {
			/* The familiar form names the same image. */
			image_ref *f = NULL;
			if (ref_parse_normalized(fam, &f, NULL) < 0)
				abort();
			char *ffull = ref_string(f);
			if (strcmp(ffull, full) != 0)
				abort();
			free(ffull);
			ref_free(f);
			if (!ref_path_valid(r->path) || !ref_domain_valid(r->domain))
				abort();
		}
		if ((r->tag && !ref_tag_valid(r->tag)) ||
		    (r->digest && !ref_digest_valid(r->digest)))
			abort();
		image_ref *d = ref_dup(r);
		ref_free(d);
		free(full);
		free(fam);
		free(repo);
		free(frepo);
		ref_free(r);
	}
	free(s);
	return 0;
}
