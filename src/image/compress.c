/* Layer byte stream: plain / gzip / zstd, hashing as it reads.
 *
 * Speed: SHA-256 of every byte (twice for a compressed layer) costs about
 * as much as writing the files, so it runs on a second thread. Bytes are
 * read (and decompressed) into rings of buffers; each filled buffer is
 * queued for the hasher in stream order, and a buffer is refilled only
 * after the hasher is done with it. */
#include "image/compress.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

#define BUF_CAP (1u << 20)
#define NBUF 4
#define QCAP (2 * NBUF + 2)
#define XZ_MAGIC "\xfd\x37\x7a\x58"

typedef struct hash_job {
	sha256_ctx *ctx;
	const unsigned char *p;
	size_t len;
} hash_job;

/* One background thread that hashes queued chunks in order. */
typedef struct hasher {
	pthread_t th;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	hash_job q[QCAP];
	uint64_t submitted, completed;
	bool stop;
} hasher;

typedef struct ring {
	unsigned char *buf[NBUF];
	uint64_t seq[NBUF]; /* hash job number of the buffer's last contents, 0 none */
	int cur;
} ring;

struct layer_stream {
	layer_read_fn rd;
	layer_next_fn next; /* zero-copy source: its bytes stay valid */
	void *rd_opaque;
	int fd; /* for fd_read */
	layer_compression kind;
	ring rin, rout;
	const unsigned char *in; /* current compressed input (the data itself when plain) */
	size_t in_pos, in_len;
	bool in_eof;
	const unsigned char *out; /* current uncompressed bytes handed out */
	size_t out_pos, out_len;
	bool out_eof; /* decompressor finished: no more output */
	z_stream z;
	bool z_init; /* inflate state initialised */
	bool mid; /* inside a gzip member / zstd frame */
	ZSTD_DStream *zs;
	sha256_ctx *hin, *hout;
	hasher h;
};

static void *hasher_main(void *arg)
{
	hasher *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->completed == h->submitted && !h->stop)
			pthread_cond_wait(&h->cv_work, &h->mu);
		if (h->completed == h->submitted)
			break; /* stop and nothing left */
		hash_job j = h->q[h->completed % QCAP];
		pthread_mutex_unlock(&h->mu);
		sha256_update(j.ctx, j.p, j.len);
		pthread_mutex_lock(&h->mu);
		h->completed++;
		pthread_cond_broadcast(&h->cv_done);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static void hasher_init(hasher *h)
{
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv_work, NULL);
	pthread_cond_init(&h->cv_done, NULL);
	h->running = pthread_create(&h->th, NULL, hasher_main, h) == 0;
}

/* Queue a chunk; returns its job number (>= 1). Hashes inline when the
 * thread could not be started. */
static uint64_t hasher_submit(hasher *h, sha256_ctx *ctx, const unsigned char *p, size_t len)
{
	if (!h->running) {
		sha256_update(ctx, p, len);
		return 0;
	}
	pthread_mutex_lock(&h->mu);
	while (h->submitted - h->completed >= QCAP)
		pthread_cond_wait(&h->cv_done, &h->mu);
	h->q[h->submitted % QCAP] = (hash_job){ctx, p, len};
	uint64_t seq = ++h->submitted;
	pthread_cond_signal(&h->cv_work);
	pthread_mutex_unlock(&h->mu);
	return seq;
}

/* Wait until job seq (0: none) is hashed. */
static void hasher_wait(hasher *h, uint64_t seq)
{
	if (!h->running || seq == 0)
		return;
	pthread_mutex_lock(&h->mu);
	while (h->completed < seq)
		pthread_cond_wait(&h->cv_done, &h->mu);
	pthread_mutex_unlock(&h->mu);
}

static void hasher_stop(hasher *h)
{
	if (!h->running)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->cv_work);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	h->running = false;
}

/* The next buffer of a ring, once the hasher is done with it. */
static unsigned char *ring_next(layer_stream *s, ring *r)
{
	r->cur = (r->cur + 1) % NBUF;
	hasher_wait(&s->h, r->seq[r->cur]);
	r->seq[r->cur] = 0;
	return r->buf[r->cur];
}

static ssize_t fd_read(void *opaque, void *buf, size_t n, berth_error **err)
{
	layer_stream *s = opaque;
	for (;;) {
		ssize_t r = read(s->fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return berth_err_sys(err, errno, "reading layer");
	}
}

static int read_in(layer_stream *s, berth_error **err)
{
	if (s->next) {
		const unsigned char *p;
		size_t len;
		if (s->next(s->rd_opaque, &p, &len, SIZE_MAX, err) < 0)
			return -1;
		s->in = p;
		s->in_pos = 0;
		s->in_len = len;
		if (len == 0)
			s->in_eof = true;
		else
			hasher_submit(&s->h, s->hin, p, len);
		return 0;
	}
	unsigned char *b = ring_next(s, &s->rin);
	ssize_t r = s->rd(s->rd_opaque, b, BUF_CAP, err);
	if (r < 0)
		return -1;
	s->in = b;
	s->in_pos = 0;
	s->in_len = (size_t)r;
	if (r == 0)
		s->in_eof = true;
	else
		s->rin.seq[s->rin.cur] = hasher_submit(&s->h, s->hin, b, (size_t)r);
	return 0;
}

int layer_stream_open(int fd, layer_stream **out, berth_error **err)
{
	layer_source src = {0};
	return layer_stream_open_source(&src, fd, out, err);
}

/* The first bytes of a zero-copy source, at least 4 (for the magic) unless
 * it ends before: gathered in rin.buf[0] only if the first chunk is
 * shorter. */
static int first_chunk(layer_stream *s, berth_error **err)
{
	if (read_in(s, err) < 0)
		return -1;
	if (s->in_eof || s->in_len >= 4)
		return 0;
	unsigned char *b = s->rin.buf[0];
	size_t n = s->in_len;
	memcpy(b, s->in, n);
	while (n < 4) {
		if (read_in(s, err) < 0)
			return -1;
		if (s->in_eof)
			break;
		size_t k = s->in_len < BUF_CAP - n ? s->in_len : BUF_CAP - n;
		memcpy(b + n, s->in, k);
		n += k;
		if (k < s->in_len) /* cannot happen: BUF_CAP >> 4 */
			return berth_err(err, BERTH_E_GENERIC, "internal error: layer header");
	}
	s->in = b;
	s->in_len = n;
	s->in_eof = false;
	return 0;
}

int layer_stream_open_source(const layer_source *src, int fd, layer_stream **out, berth_error **err)
{
	layer_stream *s = xcalloc(1, sizeof(*s));
	s->fd = fd;
	s->next = src->next;
	s->rd = src->read ? src->read : fd_read;
	s->rd_opaque = src->read || src->next ? src->opaque : s;
	for (int i = 0; i < NBUF; i++)
		s->rin.buf[i] = xmalloc(BUF_CAP);
	s->rin.cur = 0;
	s->hin = sha256_new();
	hasher_init(&s->h);
	if (s->next) {
		if (first_chunk(s, err) < 0) {
			layer_stream_free(s);
			return -1;
		}
	} else {
		unsigned char *b = s->rin.buf[0];
		s->in = b;
		/* read until we have 4 bytes of magic or the end */
		while (!s->in_eof && s->in_len < 4) {
			ssize_t r = s->rd(s->rd_opaque, b + s->in_len, BUF_CAP - s->in_len, err);
			if (r < 0) {
				layer_stream_free(s);
				return -1;
			}
			if (r == 0)
				s->in_eof = true;
			s->in_len += (size_t)r;
		}
		if (s->in_len)
			s->rin.seq[0] = hasher_submit(&s->h, s->hin, s->in, s->in_len);
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
	} else if ((n >= 3 && !memcmp(m, "BZh", 3)) || (n >= 4 && !memcmp(m, XZ_MAGIC, 4))) {
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
		for (int i = 0; i < NBUF; i++)
			s->rout.buf[i] = xmalloc(BUF_CAP);
		s->rout.cur = NBUF - 1;
		s->hout = sha256_new();
	}
	*out = s;
	return 0;
}

layer_compression layer_stream_compression(const layer_stream *s)
{
	return s->kind;
}

/* Decompress into the next output buffer; leaves out_len == 0 only at
 * the end of the stream. */
static int produce(layer_stream *s, berth_error **err)
{
	s->out_pos = s->out_len = 0;
	if (s->kind == LAYER_PLAIN) {
		if (s->in_eof)
			return 0;
		if (read_in(s, err) < 0)
			return -1;
		s->out = s->in;
		s->out_len = s->in_len;
		s->in_pos = s->in_len;
		return 0;
	}
	unsigned char *ob = ring_next(s, &s->rout);
	s->out = ob;
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
			size_t avail = s->in_len - s->in_pos;
			if (avail > (1u << 30))
				avail = 1u << 30;
			s->z.next_in = (Bytef *)(s->in + s->in_pos);
			s->z.avail_in = (uInt)avail;
			s->z.next_out = ob;
			s->z.avail_out = BUF_CAP;
			int zr = inflate(&s->z, Z_NO_FLUSH);
			s->in_pos += avail - s->z.avail_in;
			s->out_len = BUF_CAP - s->z.avail_out;
			if (zr == Z_STREAM_END) {
				s->mid = false; /* member done */
			} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
				return berth_err(err, BERTH_E_INVALID, "invalid gzip data: %s",
				                 s->z.msg ? s->z.msg : "error");
			}
		} else {
			ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
			ZSTD_outBuffer zo = {ob, BUF_CAP, 0};
			size_t zr = ZSTD_decompressStream(s->zs, &zo, &ib);
			if (ZSTD_isError(zr))
				return berth_err(err, BERTH_E_INVALID, "invalid zstd data: %s",
				                 ZSTD_getErrorName(zr));
			s->in_pos = ib.pos;
			s->out_len = zo.pos;
			/* 0: the frame is complete and flushed; another may follow */
			s->mid = zr != 0;
		}
	}
	if (s->out_len)
		s->rout.seq[s->rout.cur] = hasher_submit(&s->h, s->hout, s->out, s->out_len);
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
	hasher_stop(&s->h);
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
	hasher_stop(&s->h);
	pthread_mutex_destroy(&s->h.mu);
	pthread_cond_destroy(&s->h.cv_work);
	pthread_cond_destroy(&s->h.cv_done);
	if (s->z_init)
		inflateEnd(&s->z);
	if (s->zs)
		ZSTD_freeDStream(s->zs);
	for (int i = 0; i < NBUF; i++) {
		free(s->rin.buf[i]);
		free(s->rout.buf[i]);
	}
	sha256_free(s->hin);
	sha256_free(s->hout);
	free(s);
}
