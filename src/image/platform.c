#include "image/platform.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"

void oci_platform_free(oci_platform *p)
{
	if (p == NULL)
		return;
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p->os_version);
	strv_free(p->os_features);
	free(p);
}

oci_platform *oci_platform_dup(const oci_platform *p)
{
	if (p == NULL)
		return NULL;
	oci_platform *d = xcalloc(1, sizeof(*d));
	d->os = p->os ? xstrdup(p->os) : NULL;
	d->architecture = p->architecture ? xstrdup(p->architecture) : NULL;
	d->variant = p->variant ? xstrdup(p->variant) : NULL;
	d->os_version = p->os_version ? xstrdup(p->os_version) : NULL;
	d->os_features = p->os_features ? strv_dup(p->os_features) : NULL;
	return d;
}

const char *platform_host_os(void)
{
	return "linux";
}

const char *platform_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__arm__)
	return "arm";
#elif defined(__i386__)
	return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__s390x__)
	return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#else
	return "unknown";
#endif
}

const char *platform_host_variant(void)
{
#if defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH == 6
	return "v6";
#elif defined(__arm__)
	return "v7";
#else
	return NULL;
#endif
}

char *platform_format(const char *os, const char *arch, const char *variant)
{
	if (variant && *variant)
		return xasprintf("%s/%s/%s", os ? os : "", arch ? arch : "", variant);
	return xasprintf("%s/%s", os ? os : "", arch ? arch : "");
}

const char *platform_normalize_os(const char *os)
{
	if (os && strcasecmp(os, "macos") == 0)
		return "darwin";
	return os;
}

/* Sorted by alias. */
static const struct {
	const char *alias, *arch, *variant;
} arch_aliases[] = {
    {"aarch64", "arm64", NULL}, {"armel", "arm", "v6"},    {"armhf", "arm", "v7"},
    {"i386", "386", NULL},      {"x86-64", "amd64", NULL}, {"x86_64", "amd64", NULL},
};

static int alias_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static int find_alias(const char *arch)
{
	if (arch == NULL)
		return -1;
	const void *hit = bsearch(arch, arch_aliases, ARRAY_SIZE(arch_aliases),
	                          sizeof(arch_aliases[0]), alias_cmp);
	return hit ? (int)(((const char *)hit - (const char *)arch_aliases) /
	                   (long)sizeof(arch_aliases[0]))
	           : -1;
}

const char *platform_normalize_arch(const char *arch)
{
	int i = find_alias(arch);
	return i >= 0 ? arch_aliases[i].arch : arch;
}

const char *platform_normalize_variant(const char *arch_in, const char *variant)
{
	int i = find_alias(arch_in);
	if (i >= 0 && arch_aliases[i].variant)
		return arch_aliases[i].variant;
	const char *arch = platform_normalize_arch(arch_in);
	if (variant && *variant == 0)
		variant = NULL;
	if (arch == NULL)
		return variant;
	if (strcmp(arch, "amd64") == 0) {
		if (variant && strcmp(variant, "v1") == 0)
			return NULL;
	} else if (strcmp(arch, "arm64") == 0) {
		if (variant &&
		    (!strcmp(variant, "8") || !strcmp(variant, "v8") || !strcmp(variant, "v8.0")))
			return NULL;
	} else if (strcmp(arch, "arm") == 0) {
		if (variant == NULL || !strcmp(variant, "7"))
			return "v7";
		if (!strcmp(variant, "5"))
			return "v5";
		if (!strcmp(variant, "6"))
			return "v6";
		if (!strcmp(variant, "8"))
			return "v8";
	}
	return variant;
}

/* "vN" -> N, else -1. */
static int variant_level(const char *v)
{
	if (v == NULL || v[0] != 'v' || v[1] < '1' || v[1] > '9' || v[2])
		return -1;
	return v[1] - '0';
}

int platform_match_rank(const char *want_os, const char *want_arch, const char *want_variant,
                        const char *os, const char *arch, const char *variant)
{
	want_os = platform_normalize_os(want_os);
	os = platform_normalize_os(os);
	if (want_os == NULL || os == NULL || strcasecmp(want_os, os) != 0)
		return -1;
	const char *wa = platform_normalize_arch(want_arch);
	const char *ca = platform_normalize_arch(arch);
	if (wa == NULL || ca == NULL || strcmp(wa, ca) != 0)
		return -1;
	const char *wv = platform_normalize_variant(want_arch, want_variant);
	const char *cv = platform_normalize_variant(arch, variant);
	if (str_eq(wv, cv))
		return 0;
	if (strcmp(wa, "amd64") == 0 || strcmp(wa, "arm") == 0) {
		/* amd64: no variant is level 1; arm: v5..v8. Older levels run. */
		int floor = strcmp(wa, "amd64") == 0 ? 1 : 5;
		int wl = wv ? variant_level(wv) : floor;
		int cl = cv ? variant_level(cv) : floor;
		if (wl < 0 || cl < 0 || cl < floor || cl > wl)
			return -1;
		return wl - cl;
	}
	/* Other architectures: exact variant first, then an image without one. */
	if (wv && cv == NULL)
		return 1;
	return -1;
}
