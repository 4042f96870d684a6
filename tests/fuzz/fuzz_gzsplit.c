/* libFuzzer harness: image_gzip_split (a pulled gzip layer walked block by
 * block) over arbitrary bytes; when it accepts them, the split's records
 * with the stream's own inflated output must give exactly those bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image/image_int.h"

#define OUT_MAX (8u << 20)

/* Every member's output, concatenated (as the layer unpacker reads it);
 * NULL when it is not valid or too big. */
static unsigned char *inflate_all(const uint8_t *c, size_t n, size_t *len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return NULL;
	unsigned char *out = malloc(OUT_MAX);
	size_t pos = 0, cpos = 0;
	z.next_in = (unsigned char *)c;
	z.avail_in = (uInt)n;
	for (;;) {
		z.next_out = out + pos;
		z.avail_out = (uInt)(OUT_MAX - pos);
		int rc = inflate(&z, Z_NO_FLUSH);
		pos = OUT_MAX - z.avail_out;
		if (rc == Z_STREAM_END) {
			cpos = n - z.avail_in;
			if (cpos + 2 > n || c[cpos] != 0x1f || c[cpos + 1] != 0x8b)
				break;
			inflateReset(&z);
			z.next_in = (unsigned char *)c + cpos;
			z.avail_in = (uInt)(n - cpos);
			continue;
		}
		if (rc != Z_OK || z.avail_out == 0) {
			inflateEnd(&z);
			free(out);
			return NULL;
		}
	}
	inflateEnd(&z);
	*len = pos;
	return out;
}

static uint64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tarsplit ts;
	tarsplit_init_compressed(
	    &ts, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	uint64_t referenced = 0;
	berth_error *e = NULL;
	/* the quick walk may stop early; it must not misbehave either */
	int rc = image_gzip_split(data, size, &ts, &referenced, true, &e);
	berth_error_free(e);
	e = NULL;
	tarsplit_free(&ts);
	tarsplit_init_compressed(
	    &ts, "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	referenced = 0;
	rc = image_gzip_split(data, size, &ts, &referenced, false, &e);
	berth_error_free(e);
	size_t ulen = 0;
	unsigned char *u = rc == 0 ? inflate_all(data, size, &ulen) : NULL;
	if (u) {
		const unsigned char *p = (const unsigned char *)ts.out.buf + 16 + 71;
		const unsigned char *end = (const unsigned char *)ts.out.buf + ts.out.len;
		size_t pos = 0;
		uint64_t refs = 0;
		while (p < end) {
			if (*p == 'R') {
				size_t n = be(p + 1, 4);
				if (pos + n > size || memcmp(p + 5, data + pos, n) != 0)
					abort();
				pos += n;
				p += 5 + n;
			} else if (*p == 'U') {
				uint64_t off = be(p + 1, 8), n = be(p + 9, 4);
				if (off + n > ulen || pos + n > size ||
				    memcmp(u + off, data + pos, n) != 0)
					abort();
				pos += n;
				refs += n;
				p += 13;
			} else {
				abort();
			}
		}
		if (pos != size || refs != referenced)
			abort();
		free(u);
	}
	tarsplit_free(&ts);
	return 0;
}
