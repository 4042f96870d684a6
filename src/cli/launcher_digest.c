/* base/digest.h's SHA-256 for the `berth` launcher, without libcrypto
 * (see sha256_small.h). berth-engine uses base/digest.c. */
#include <stdlib.h>
#include <string.h>

#include "base/digest.h"
#include "base/xalloc.h"
#include "cli/sha256_small.h"

struct sha256_ctx {
	small_sha256 s;
};

sha256_ctx *sha256_new(void)
{
	sha256_ctx *c = xcalloc(1, sizeof(*c));
	small_sha256_init(&c->s);
	return c;
}

void sha256_update(sha256_ctx *c, const void *data, size_t len)
{
	small_sha256_update(&c->s, data, len);
}

void sha256_final(sha256_ctx *c, char out[DIGEST_STR_LEN + 1])
{
	memcpy(out, "sha256:", 7);
	small_sha256_final_hex(&c->s, out + 7);
}

void sha256_free(sha256_ctx *c)
{
	free(c);
}

void sha256_digest(const void *data, size_t len, char out[DIGEST_STR_LEN + 1])
{
	small_sha256 s;
	small_sha256_init(&s);
	small_sha256_update(&s, data, len);
	memcpy(out, "sha256:", 7);
	small_sha256_final_hex(&s, out + 7);
}

const char *digest_hex(const char *d)
{
	const char *colon = strchr(d, ':');
	return colon ? colon + 1 : d;
}

bool digest_valid(const char *d)
{
	if (d == NULL || strncmp(d, "sha256:", 7) != 0 || strlen(d) != DIGEST_STR_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}
