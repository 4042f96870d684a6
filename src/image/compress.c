/* Layer byte stream: plain / gzip / zstd, hashing as it reads. */
#include "image/compress.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

#define IN_CAP (1u << 20)
#define OUT_CAP (1u << 20)

struct layer_stream {
	int fd;
	layer_compression kind;
	unsigned char *in; /* compressed input (or the data itself when plain) */
	size_t in_pos, in_len;
	bool in_eof;
	unsigned char *out; /* uncompressed bytes handed out */
	size_t out_pos, out_len;
	bool out_eof; /* decompressor finished: no more output */
	z_stream z;
	bool z_init; /* inflate state initialised */
	bool mid; /* inside a gzip member / zstd frame */
	ZSTD_DStream *zs;
	sha256_ctx *hin, *hout;
};

static int read_in(layer_stream *s, berth_error **err)
{
	for (;;) {
		ssize_t r = read(s->fd, s->in, IN_CAP);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "reading layer");
		}
		s->in_pos = 0;
		s->in_len = (size_t)r;
		if (r == 0)
			s->in_eof = true;
		else
			sha256_update(s->hin, s->in, (size_t)r);
		return 0;
	}
}

int layer_stream_open(int fd, layer_stream **out, berth_error **err)
{
	layer_stream *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->in = xmalloc(IN_CAP);
	s->hin = sha256_new();
	/* read until we have 4 bytes of magic or the end */
	while (!s->in_eof && s->in_len < 4) {
		ssize_t r = read(fd, s->in + s->in_len, IN_CAP - s->in_len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			layer_stream_free(s);
			return berth_err_sys(err, e, "reading layer");
		}
		if (r == 0)
			s->in_eof = true;
		else
			sha256_update(s->hin, s->in + s->in_len, (size_t)r);
		s->in_len += (size_t)r;
	}
	const unsigned char *m = s->in;
	size_t n = s->in_len;
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
		s->kind = LAYER_GZIP;
		if (inflateInit2(&s->z, 15 + 16) != Z_OK) {
			layer_stream_free(s);
			return berth_err(err, BERTH_E_GENERIC, "zlib initialisation failed");
		}
		s->z_init = true;
		s->mid = true;
	} else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
		s->kind = LAYER_ZSTD;
		s->zs = ZSTD_createDStream();
		if (s->zs == NULL || ZSTD_isError(ZSTD_initDStream(s->zs))) {
			layer_stream_free(s);
			return berth_err(err, BERTH_E_GENERIC, "zstd initialisation failed");
		}
		s->mid = true;
	} else if ((n >= 3 && !memcmp(m, "BZh", 3)) || (n >= 4 && !memcmp(m,
	                                                                  "\xfd"
	                                                                  "7zX",
	                                                                  4))) {
		layer_stream_free(s);
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "layer compression not supported (only gzip and zstd)");
	} else {
		s->kind = LAYER_PLAIN;
	}
	if (s->kind == LAYER_PLAIN) {
		/* the bytes read are the bytes handed out */
		s->out = s->in;
		s->out_len = s->in_len;
		s->in_pos = s->in_len;
	} else {
		s->out = xmalloc(OUT_CAP);
		s->hout = sha256_new();
	}
	*out = s;
	return 0;
}

layer_compression layer_stream_compression(const layer_stream *s)
{
	return s->kind;
}

/* Refill s->out; leaves out_len == 0 only at the end of the stream. */
static int produce(layer_stream *s, berth_error **err)
{
	s->out_pos = s->out_len = 0;
	if (s->kind == LAYER_PLAIN) {
		if (s->in_eof)
			return 0;
		if (read_in(s, err) < 0)
			return -1;
		s->out_len = s->in_len;
		s->in_pos = s->in_len;
		return 0;
	}
	while (s->out_len == 0 && !s->out_eof) {
		if (s->in_pos == s->in_len) {
			if (s->in_eof) {
				if (s->mid)
					return berth_err(err, BERTH_E_INVALID,
					                 "unexpected end of compressed layer");
				s->out_eof = true; /* ended cleanly between members/frames */
				break;
			}
			if (read_in(s, err) < 0)
				return -1;
			continue;
		}
		if (s->kind == LAYER_GZIP) {
			if (!s->mid) {
				/* another gzip member may follow; anything else is ignored */
				if (s->in[s->in_pos] != 0x1f) {
					s->out_eof = true;
					break;
				}
				if (inflateReset(&s->z) != Z_OK)
					return berth_err(err, BERTH_E_GENERIC, "zlib reset failed");
				s->mid = true;
			}
			s->z.next_in = s->in + s->in_pos;
			s->z.avail_in = (uInt)(s->in_len - s->in_pos);
			s->z.next_out = s->out;
			s->z.avail_out = OUT_CAP;
			int zr = inflate(&s->z, Z_NO_FLUSH);
			s->in_pos = s->in_len - s->z.avail_in;
			s->out_len = OUT_CAP - s->z.avail_out;
			if (zr == Z_STREAM_END) {
				s->mid = false; /* member done */
			} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
				return berth_err(err, BERTH_E_INVALID, "invalid gzip data: %s",
				                 s->z.msg ? s->z.msg : "error");
			}
		} else {
			ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
			ZSTD_outBuffer ob = {s->out, OUT_CAP, 0};
			size_t zr = ZSTD_decompressStream(s->zs, &ob, &ib);
			if (ZSTD_isError(zr))
				return berth_err(err, BERTH_E_INVALID, "invalid zstd data: %s",
				                 ZSTD_getErrorName(zr));
			s->in_pos = ib.pos;
			s->out_len = ob.pos;
			/* 0: the frame is complete and flushed; another may follow */
			s->mid = zr != 0;
		}
	}
	if (s->out_len)
		sha256_update(s->hout, s->out, s->out_len);
	return 0;
}

int layer_stream_next(void *opaque, const unsigned char **p, size_t *len, size_t max,
                      berth_error **err)
{
	layer_stream *s = opaque;
	if (s->out_pos == s->out_len) {
		if (produce(s, err) < 0)
			return -1;
		if (s->out_len == 0) {
			*len = 0;
			return 0;
		}
	}
	size_t avail = s->out_len - s->out_pos;
	size_t n = avail < max ? avail : max;
	*p = s->out + s->out_pos;
	*len = n;
	s->out_pos += n;
	return 0;
}

int layer_stream_finish(layer_stream *s, char digest[DIGEST_STR_LEN + 1],
                        char diff_id[DIGEST_STR_LEN + 1], berth_error **err)
{
	for (;;) {
		s->out_pos = s->out_len;
		if (produce(s, err) < 0)
			return -1;
		if (s->out_len == 0)
			break;
	}
	/* a compressed layer: also hash whatever follows the compressed data */
	while (!s->in_eof) {
		if (read_in(s, err) < 0)
			return -1;
	}
	sha256_final(s->hin, digest);
	if (s->kind == LAYER_PLAIN)
		memcpy(diff_id, digest, DIGEST_STR_LEN + 1);
	else
		sha256_final(s->hout, diff_id);
	return 0;
}

void layer_stream_free(layer_stream *s)
{
	if (s == NULL)
		return;
	if (s->z_init)
		inflateEnd(&s->z);
	if (s->zs)
		ZSTD_freeDStream(s->zs);
	if (s->out != s->in)
		free(s->out);
	free(s->in);
	sha256_free(s->hin);
	sha256_free(s->hout);
	free(s);
}
