/* libFuzzer harness: the tar reader (headers, GNU long names, PAX records)
 * over arbitrary bytes, reading every entry's data, then again skipping
 * the data by offset (as load does for a regular file) and checking the
 * offsets it reports. */
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

static int64_t skip(void *opaque, uint64_t n, berth_error **err)
{
	(void)err;
	struct src *s = opaque;
	if (n > s->left)
		n = s->left;
	s->p += n;
	s->left -= n;
	return (int64_t)n;
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

	struct src s2 = {data, size};
	r = tar_reader_new(next, &s2);
	tar_reader_set_skip(r, skip);
	for (;;) {
		const tar_entry *e;
		if (tar_reader_next(r, &e, &err) <= 0)
			break;
		/* the entry's data starts where the source stands */
		if (tar_reader_offset(r) != (uint64_t)(s2.p - data))
			__builtin_trap();
	}
	berth_error_clear(&err);
	tar_reader_free(r);
	return 0;
}
