/* A gzip stream as a compressed split: the stream's bytes with the payload
 * of every stored deflate block replaced by a reference to the same bytes
 * of the uncompressed stream. A pulled gzip layer of incompressible data
 * (random, already compressed files) is mostly stored blocks: kept this
 * way it costs a few bytes per 64 KiB instead of a second copy, and
 * blob_open makes the exact bytes again from the layer's tar.
 *
 * The walk uses zlib's inflate with Z_BLOCK, which stops before every
 * block header and tells how many bits of the last byte it read are still
 * unused: the header's three bits say whether the block is stored, and a
 * stored block's LEN/NLEN follow at the next byte. A candidate counts only
 * when inflate's output for that block is the very same LEN bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "image/image_int.h"

#define OUT_CAP (256u << 10)

static unsigned get_bits(const unsigned char *c, size_t n, uint64_t bit, unsigned count)
{
	unsigned v = 0;
	for (unsigned i = 0; i < count; i++) {
		uint64_t b = bit + i;
		if (b / 8 >= n)
			return ~0u;
		v |= (unsigned)((c[b / 8] >> (b % 8)) & 1) << i;
	}
	return v;
}

int image_gzip_split(const unsigned char *c, size_t n, tarsplit *ts, uint64_t *referenced,
                     bool quick, berth_error **err)
{
	/* quick: a stream whose first part has few stored blocks (deflated
	 * data) is not walked to its end: the walk costs a full inflate */
	uint64_t probe = n / 8 < (4u << 20) ? n / 8 : (4u << 20);
	*referenced = 0;
	if (n < 18 || c[0] != 0x1f || c[1] != 0x8b)
		return berth_err(err, BERTH_E_INVALID, "not a gzip stream");
	if (n > UINT32_MAX)
		return berth_err(err, BERTH_E_UNSUPPORTED, "gzip stream too large to split");
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return berth_err(err, BERTH_E_GENERIC, "gzip: cannot initialise");
	_cleanup_free_ unsigned char *out = xmalloc(OUT_CAP);
	uint64_t cbase = 0, ubase = 0; /* where the current member starts */
	uint64_t last = 0; /* bytes of c already in ts */
	bool cand = false; /* the block being decoded is a stored candidate */
	uint64_t cand_c = 0, cand_u = 0;
	unsigned cand_len = 0;
	int ret = 0;
	z.next_in = (unsigned char *)c;
	z.avail_in = (uInt)n;
	for (;;) {
		z.next_out = out;
		z.avail_out = OUT_CAP;
		int rc = inflate(&z, Z_BLOCK);
		size_t produced = OUT_CAP - z.avail_out;
		if (rc != Z_OK && rc != Z_STREAM_END) {
			ret = berth_err(err, BERTH_E_INVALID, "gzip: %s",
			                z.msg ? z.msg : "corrupt data");
			break;
		}
		bool boundary = rc == Z_STREAM_END || (z.data_type & 128);
		if (cand && boundary) {
			/* the candidate block ended: is its output its payload? */
			if (produced == cand_len && cand_c + cand_len <= n &&
			    memcmp(out, c + cand_c, cand_len) == 0) {
				tarsplit_raw(ts, c + last, (size_t)(cand_c - last));
				tarsplit_ref(ts, cand_u, cand_len);
				last = cand_c + cand_len;
				*referenced += cand_len;
			}
			cand = false;
		} else if (cand && produced > 0) {
			cand = false; /* not one stored block after all */
		}
		if (quick && cbase + z.total_in >= probe) {
			quick = false; /* once */
			if (*referenced < (cbase + z.total_in) / 4) {
				ret = 1;
				break;
			}
		}
		if (rc == Z_STREAM_END) {
			cbase += z.total_in;
			ubase += z.total_out;
			/* another member follows, or trailing bytes (kept raw) */
			if (cbase + 2 > n || c[cbase] != 0x1f || c[cbase + 1] != 0x8b)
				break;
			inflateReset(&z);
			z.next_in = (unsigned char *)c + cbase;
			z.avail_in = (uInt)(n - cbase);
			continue;
		}
		if (z.avail_in == 0 && produced == 0 && !boundary) {
			ret = berth_err(err, BERTH_E_INVALID, "gzip: unexpected end of data");
			break;
		}
		if (!boundary || (z.data_type & 64))
			continue;
		/* before a block header: its bits start this far into c */
		uint64_t pos = cbase + z.total_in;
		uint64_t hbit = pos * 8 - (uint64_t)(z.data_type & 7);
		unsigned hdr = get_bits(c, n, hbit, 3);
		if (hdr == ~0u || ((hdr >> 1) & 3) != 0)
			continue;
		uint64_t s = (hbit + 3 + 7) / 8;
		if (s + 4 > n)
			continue;
		unsigned len = c[s] | (unsigned)c[s + 1] << 8;
		unsigned nlen = c[s + 2] | (unsigned)c[s + 3] << 8;
		if (len != (~nlen & 0xffffu) || len == 0)
			continue;
		cand = true;
		cand_c = s + 4;
		cand_u = ubase + z.total_out;
		cand_len = len;
	}
	inflateEnd(&z);
	if (ret != 0)
		return ret;
	tarsplit_raw(ts, c + last, (size_t)(n - last));
	return 0;
}
