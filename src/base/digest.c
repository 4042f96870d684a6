#include "base/digest.h"

#include <errno.h>
/* OpenSSL's SHA256_* calls (deprecated in 3.0 in favour of EVP, which
 * fetches the algorithm from a provider): with libcrypto linked
 * statically they pull in only the SHA-256 code (assembly with SHA-NI or
 * AVX2 where the CPU has them), not the provider machinery of EVP, and
 * skip EVP's per-context fetch. */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

struct sha256_ctx {
	SHA256_CTX md;
};

sha256_ctx *sha256_new(void)
{
	sha256_ctx *c = xcalloc(1, sizeof(*c));
	if (SHA256_Init(&c->md) != 1)
		abort();
	return c;
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	SHA256_Update(&c->md, data, len);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = 0;
}

void sha256_final(sha256_ctx *c, char out[DIGEST_STR_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_Final(md, &c->md);
	memcpy(out, "sha256:", 7);
	to_hex(md, 32, out + 7);
}

void sha256_free(sha256_ctx *c)
{
	if (c == NULL)
		return;
	free(c);
}

void sha256_digest(const void *data, size_t len, char out[DIGEST_STR_LEN + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256_CTX c; /* not SHA256(): in 3.0 it goes through EVP */
	SHA256_Init(&c);
	SHA256_Update(&c, data, len);
	SHA256_Final(md, &c);
	memcpy(out, "sha256:", 7);
	to_hex(md, 32, out + 7);
}

int sha256_fd(int fd, char out[DIGEST_STR_LEN + 1], berth_error **err)
{
	_cleanup_sha256_ sha256_ctx *c = sha256_new();
	char buf[1 << 16];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "reading for digest");
		}
		if (r == 0)
			break;
		sha256_update(c, buf, (size_t)r);
	}
	sha256_final(c, out);
	return 0;
}

bool digest_valid(const char *d)
{
	if (d == NULL || strncmp(d, "sha256:", 7) != 0)
		return false;
	const char *h = d + 7;
	size_t n = 0;
	for (; h[n]; n++) {
		char ch = h[n];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return n == DIGEST_HEX_LEN;
}

const char *digest_hex(const char *d)
{
	const char *colon = strchr(d, ':');
	return colon ? colon + 1 : d;
}
