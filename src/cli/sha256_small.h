/* A small SHA-256 (FIPS 180-4) for the `berth` launcher, which must not
 * load libcrypto (its relocations alone cost about half a megabyte of RSS
 * per container start). Static functions: include it where it is used. */
#ifndef BERTH_CLI_SHA256_SMALL_H
#define BERTH_CLI_SHA256_SMALL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct small_sha256 {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char buf[64];
	size_t n;
} small_sha256;

static const uint32_t small_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static inline uint32_t small_sha256_ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void small_sha256_block(small_sha256 *c, const unsigned char *p)
{
	uint32_t w[64];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = small_sha256_ror(w[i - 15], 7) ^ small_sha256_ror(w[i - 15], 18) ^
		              (w[i - 15] >> 3);
		uint32_t s1 = small_sha256_ror(w[i - 2], 17) ^ small_sha256_ror(w[i - 2], 19) ^
		              (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5],
	         g = c->h[6], h = c->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 =
		    small_sha256_ror(e, 6) ^ small_sha256_ror(e, 11) ^ small_sha256_ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = h + S1 + ch + small_sha256_k[i] + w[i];
		uint32_t S0 =
		    small_sha256_ror(a, 2) ^ small_sha256_ror(a, 13) ^ small_sha256_ror(a, 22);
		uint32_t maj = (a & b) ^ (a & cc) ^ (b & cc);
		uint32_t t2 = S0 + maj;
		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = cc;
		cc = b;
		b = a;
		a = t1 + t2;
	}
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
	c->h[5] += f;
	c->h[6] += g;
	c->h[7] += h;
}

static void small_sha256_init(small_sha256 *c)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, iv, sizeof(iv));
	c->bytes = 0;
	c->n = 0;
}

static void small_sha256_update(small_sha256 *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	c->bytes += len;
	while (len > 0) {
		size_t take = 64 - c->n < len ? 64 - c->n : len;
		memcpy(c->buf + c->n, p, take);
		c->n += take;
		p += take;
		len -= take;
		if (c->n == 64) {
			small_sha256_block(c, c->buf);
			c->n = 0;
		}
	}
}

/* 64 lowercase hex digits and a NUL into out. */
static void small_sha256_final_hex(small_sha256 *c, char out[65])
{
	uint64_t bits = c->bytes * 8;
	unsigned char pad = 0x80;
	small_sha256_update(c, &pad, 1);
	unsigned char zero = 0;
	while (c->n != 56)
		small_sha256_update(c, &zero, 1);
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	small_sha256_update(c, len, 8);
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++)
		for (int k = 0; k < 4; k++) {
			unsigned char byte = (unsigned char)(c->h[i] >> (24 - 8 * k));
			out[8 * i + 2 * k] = hex[byte >> 4];
			out[8 * i + 2 * k + 1] = hex[byte & 15];
		}
	out[64] = 0;
}

#endif
