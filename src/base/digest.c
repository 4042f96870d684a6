#include "base/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

struct sha256_ctx {
	EVP_MD_CTX *md;
};

sha256_ctx *sha256_new(void)
{
	sha256_ctx *c = xcalloc(1, sizeof(*c));
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
		abort();
	return c;
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	EVP_DigestUpdate(c->md, data, len);
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
	unsigned char md[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex(c->md, md, &n);
	memcpy(out, "sha256:", 7);
	to_hex(md, 32, out + 7);
}

void sha256_free(sha256_ctx *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void sha256_digest(const void *data, size_t len, char out[DIGEST_STR_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
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
