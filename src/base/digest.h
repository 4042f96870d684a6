/* SHA-256 digests ("sha256:<64 hex>") via libcrypto. */
#ifndef BERTH_BASE_DIGEST_H
#define BERTH_BASE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define DIGEST_HEX_LEN 64
#define DIGEST_STR_LEN (7 + DIGEST_HEX_LEN) /* "sha256:" + hex */

typedef struct sha256_ctx sha256_ctx;

sha256_ctx *sha256_new(void);
void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Writes "sha256:<hex>" (DIGEST_STR_LEN + 1 bytes) and frees nothing. */
void sha256_final(sha256_ctx *c, char out[DIGEST_STR_LEN + 1]);
void sha256_free(sha256_ctx *c);
static inline void sha256_freep(sha256_ctx **c)
{
	sha256_free(*c);
}
#define _cleanup_sha256_ __attribute__((cleanup(sha256_freep)))

void sha256_digest(const void *data, size_t len, char out[DIGEST_STR_LEN + 1]);
int sha256_fd(int fd, char out[DIGEST_STR_LEN + 1], berth_error **err);

/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_valid(const char *d);
/* Pointer to the hex part of a valid digest. */
const char *digest_hex(const char *d);

#endif
