/* Base64 (RFC 4648, standard alphabet, padded), as used by HTTP basic auth
 * and Docker's config.json "auth" fields. */
#ifndef BERTH_BASE_BASE64_H
#define BERTH_BASE_BASE64_H

#include <stddef.h>

/* Returns a NUL-terminated allocated string. */
char *base64_encode(const void *data, size_t len);
/* Decodes standard or URL-safe base64, padding optional, whitespace not
 * allowed. Returns an allocated buffer (NUL-terminated for convenience) and
 * its length, or -1 on malformed input. */
int base64_decode(const char *s, size_t len, char **out, size_t *outlen);

#endif
