/* libFuzzer harness: the tar reader (headers, GNU long names, PAX records)
 * over arbitrary bytes, reading every entry's data. */
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "image/tar.h"

struct src {
	const uint8_t *p;
	size_t left;
};

static int next(void *opaque, const unsigned char **p, size_t *len, size_t max, berth_error **err)
{
	(void)err;
	struct src *s = opaque;
	size_t n = s->left < max ? s->left : max;
	if (n > 700)
		n = 700; /* odd chunks: headers straddle them */
	*p = s->p;
	*len = n;
	s->p += n;
	s->left -= n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tar_pax pax = {0};
	berth_error *err = NULL;
	(void)!tar_parse_pax((const char *)data, size, &pax, &err);
	tar_pax_clear(&pax);
	berth_error_clear(&err);

	struct src s = {data, size};
	tar_reader *r = tar_reader_new(next, &s);
	for (;;) {
		const tar_entry *e;
		if (tar_reader_next(r, &e, &err) <= 0)
			break;
		const unsigned char *p;
		size_t len;
		do {
			if (tar_reader_data(r, &p, &len, &err) < 0)
				break;
		} while (len > 0);
		if (err)
			break;
	}
	berth_error_clear(&err);
	tar_reader_free(r);
	return 0;
}
