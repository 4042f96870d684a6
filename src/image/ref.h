/* Image references, parsed and normalised as Docker does
 * (distribution/reference and its docker normalisation):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ]     host: DNS name (upper case allowed) or [IPv6]
 *   path       := component ( "/" component )*
 *   component  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex   (sha256: 64 lowercase hex)
 *
 * The first component is a domain when it contains '.' or ':' or is
 * "localhost" and more components follow (Docker's rule). */
#ifndef BERTH_IMAGE_REF_H
#define BERTH_IMAGE_REF_H

#include <stdbool.h>

#include "base/error.h"

#define REF_DEFAULT_DOMAIN "docker.io"
#define REF_LEGACY_DOMAIN "index.docker.io"
#define REF_OFFICIAL_PREFIX "library"
#define REF_DEFAULT_TAG "latest"
#define REF_NAME_MAX 255
#define REF_TAG_MAX 128

/* Every field is an allocated string or NULL when absent. */
typedef struct image_ref {
	char *domain;
	char *path;
	char *tag;
	char *digest;
} image_ref;

/* Syntax only: no default domain, no "library/", no default tag. "user/repo"
 * has domain NULL and path "user/repo"; "localhost:5000/a" has domain
 * "localhost:5000". Errors are BERTH_E_INVALID and name the broken rule. */
int ref_parse(const char *s, image_ref **out, berth_error **err);
/* As `docker pull NAME` reads NAME: domain "docker.io" when none,
 * "index.docker.io" -> "docker.io", "library/" for one-component Docker Hub
 * names, tag "latest" when neither tag nor digest is given. */
int ref_parse_normalized(const char *s, image_ref **out, berth_error **err);

/* docker.io/library/busybox:latest (":tag" and/or "@digest" as present). */
char *ref_string(const image_ref *r);
/* busybox:latest, user/x:1, localhost:5000/a:b (Docker's FamiliarString). */
char *ref_familiar(const image_ref *r);
/* docker.io/library/busybox */
char *ref_repo(const image_ref *r);
/* busybox */
char *ref_familiar_repo(const image_ref *r);

image_ref *ref_dup(const image_ref *r);
void ref_free(image_ref *r);
static inline void ref_freep(image_ref **r)
{
	ref_free(*r);
}
#define _cleanup_ref_ __attribute__((cleanup(ref_freep)))

/* Single-part validators (the same rules as in ref_parse). */
bool ref_tag_valid(const char *tag);
bool ref_path_valid(const char *path);
bool ref_domain_valid(const char *domain);
/* A digest as allowed in a reference: algorithm syntax of the reference
 * grammar; sha256 needs 64, sha384 96, sha512 128 lowercase hex digits. */
bool ref_digest_valid(const char *digest);

#endif
