/* FNV-1a, for names and checksums that need no cryptographic hash (and no
 * OpenSSL: berth-monitor links libc only and includes this too). */
#ifndef BERTH_BASE_FNV_H
#define BERTH_BASE_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT 14695981039346656037ULL

static inline uint64_t fnv1a64_update(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static inline uint64_t fnv1a64(const void *p, size_t n)
{
	return fnv1a64_update(FNV1A64_INIT, p, n);
}

static inline uint32_t fnv1a32(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#endif
