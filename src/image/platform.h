/* Image platforms (os/architecture/variant) and matching as containerd's
 * platform matcher does: names are normalised ("x86_64" -> "amd64",
 * "aarch64" -> "arm64", arm64 "v8" -> no variant, amd64 "v1" -> no
 * variant, arm without variant -> "v7"), and a host with variant vN also
 * runs vN-1 ... (down to no variant for amd64, to v5 for arm). */
#ifndef BERTH_IMAGE_PLATFORM_H
#define BERTH_IMAGE_PLATFORM_H

#include <stdbool.h>

typedef struct oci_platform {
	char *os;
	char *architecture;
	char *variant; /* NULL when absent */
	char *os_version; /* NULL when absent */
	char **os_features; /* NULL when absent */
} oci_platform;

void oci_platform_free(oci_platform *p);
oci_platform *oci_platform_dup(const oci_platform *p);

/* The platform berth was built for: "linux", "amd64", NULL variant on x86-64. */
const char *platform_host_os(void);
const char *platform_host_arch(void);
const char *platform_host_variant(void);

/* "linux/arm64/v8" style string (variant omitted when NULL/empty). */
char *platform_format(const char *os, const char *arch, const char *variant);

/* Normalised names (static strings or the input). variant may be NULL;
 * the result is NULL for "no variant". */
const char *platform_normalize_os(const char *os);
const char *platform_normalize_arch(const char *arch);
const char *platform_normalize_variant(const char *arch, const char *variant);

/* How well a candidate suits a wanted platform: 0 = exact, 1, 2, ... =
 * worse fallbacks, -1 = cannot run. */
int platform_match_rank(const char *want_os, const char *want_arch, const char *want_variant,
                        const char *os, const char *arch, const char *variant);

#endif
