#include "registry/proto.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "base/digest.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/ref.h"

/* The distribution spec's name and tag grammars are the reference grammar's
 * path and tag: image/ref.c has them once. */
bool reg_name_valid(const char *name)
{
	size_t len = strlen(name);
	return len > 0 && len <= REG_NAME_MAX && ref_path_valid(name);
}

bool reg_tag_valid(const char *tag)
{
	return strlen(tag) <= REG_TAG_MAX && ref_tag_valid(tag);
}

bool reg_uuid_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)id[i]) || id[i] == '-'))
			return false;
	return true;
}

void reg_route_clear(reg_route *r)
{
	free(r->name);
	free(r->ref);
	r->name = r->ref = NULL;
	r->kind = 0;
}

static int route_set(reg_route *out, int kind, const char *name, size_t name_len, const char *ref)
{
	_cleanup_free_ char *n = xstrndup(name, name_len);
	out->kind = kind; /* tells the caller which error code fits */
	if (!reg_name_valid(n))
		return REG_ROUTE_BAD_NAME;
	switch (kind) {
	case REG_ROUTE_BLOB:
	case REG_ROUTE_REFERRERS:
		if (!digest_valid(ref))
			return REG_ROUTE_BAD_REF;
		break;
	case REG_ROUTE_MANIFEST:
		if (!digest_valid(ref) && !reg_tag_valid(ref))
			return REG_ROUTE_BAD_REF;
		break;
	case REG_ROUTE_UPLOAD:
		if (!reg_uuid_valid(ref))
			return REG_ROUTE_NOTFOUND;
		break;
	default: break;
	}
	out->kind = kind;
	out->name = steal_ptr(n);
	out->ref = ref ? xstrdup(ref) : NULL;
	return 0;
}

int reg_route_parse(const char *path, reg_route *out)
{
	memset(out, 0, sizeof(*out));
	if (!strcmp(path, "/v2") || !strcmp(path, "/v2/")) {
		out->kind = REG_ROUTE_BASE;
		return 0;
	}
	if (!str_has_prefix(path, "/v2/"))
		return REG_ROUTE_NOTFOUND;
	const char *rest = path + 4;
	if (!strcmp(rest, "_catalog")) {
		out->kind = REG_ROUTE_CATALOG;
		return 0;
	}
	const char *slash = strrchr(rest, '/');
	if (!slash)
		return REG_ROUTE_NOTFOUND;
	const char *ref = slash + 1;
	size_t before = (size_t)(slash - rest);
	static const struct {
		const char *suffix;
		int kind;
	} kinds[] = {
	    {"/blobs/uploads", REG_ROUTE_UPLOAD},
	    {"/blobs", REG_ROUTE_BLOB},
	    {"/manifests", REG_ROUTE_MANIFEST},
	    {"/referrers", REG_ROUTE_REFERRERS},
	    {"/tags", REG_ROUTE_TAGS},
	};
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		size_t sl = strlen(kinds[i].suffix);
		if (before <= sl || memcmp(rest + before - sl, kinds[i].suffix, sl) != 0)
			continue;
		size_t name_len = before - sl;
		int kind = kinds[i].kind;
		if (kind == REG_ROUTE_TAGS) {
			if (strcmp(ref, "list") != 0)
				return REG_ROUTE_NOTFOUND;
			return route_set(out, kind, rest, name_len, NULL);
		}
		if (kind == REG_ROUTE_UPLOAD && !*ref)
			return route_set(out, REG_ROUTE_UPLOAD_START, rest, name_len, NULL);
		if (kind == REG_ROUTE_BLOB && !strcmp(ref, "uploads"))
			return route_set(out, REG_ROUTE_UPLOAD_START, rest, name_len, NULL);
		if (!*ref)
			return REG_ROUTE_NOTFOUND;
		return route_set(out, kind, rest, name_len, ref);
	}
	return REG_ROUTE_NOTFOUND;
}

/* Strict unsigned decimal, no sign, no overflow. Advances *p. */
static bool parse_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t r = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s)) {
		unsigned d = (unsigned)(*s - '0');
		if (r > (UINT64_MAX - d) / 10)
			return false;
		r = r * 10 + d;
		s++;
	}
	*p = s;
	*v = r;
	return true;
}

int http_range_parse(const char *hdr, uint64_t size, uint64_t *start, uint64_t *end)
{
	if (!hdr)
		return 0;
	while (*hdr == ' ')
		hdr++;
	if (strncmp(hdr, "bytes=", 6) != 0)
		return 0;
	const char *p = hdr + 6;
	while (*p == ' ')
		p++;
	uint64_t a = 0, b = 0;
	if (*p == '-') {
		p++;
		if (!parse_u64(&p, &b) || *p)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*start = b >= size ? 0 : size - b;
		*end = size - 1;
		return 1;
	}
	if (!parse_u64(&p, &a) || *p != '-')
		return 0;
	p++;
	if (*p == 0) {
		b = UINT64_MAX;
	} else if (!parse_u64(&p, &b) || *p) {
		return 0; /* several ranges or junk: send everything */
	}
	if (b < a)
		return 0;
	if (a >= size)
		return -1;
	*start = a;
	*end = b >= size ? size - 1 : b;
	return 1;
}

int reg_content_range_parse(const char *s, uint64_t *start, uint64_t *end)
{
	if (!s)
		return -1;
	if (str_has_prefix(s, "bytes "))
		s += 6;
	else if (str_has_prefix(s, "bytes="))
		s += 6;
	uint64_t a, b;
	if (!parse_u64(&s, &a) || *s != '-')
		return -1;
	s++;
	if (!parse_u64(&s, &b) || (*s && *s != '/'))
		return -1;
	if (b < a)
		return -1;
	*start = a;
	*end = b;
	return 0;
}

int reg_upload_range_parse(const char *s, uint64_t *end_exclusive)
{
	if (!s)
		return -1;
	if (str_has_prefix(s, "bytes="))
		s += 6;
	uint64_t a, b;
	if (!parse_u64(&s, &a) || *s != '-')
		return -1;
	s++;
	if (!parse_u64(&s, &b) || *s || b < a || b == UINT64_MAX)
		return -1;
	/* "0-0" is what registries send for an empty upload, too; callers
	 * treat it as "start over", which is always safe. */
	*end_exclusive = (a == 0 && b == 0) ? 0 : b + 1;
	return 0;
}

int reg_parse_page_n(const char *s, size_t *n)
{
	uint64_t v;
	if (!s || !parse_u64(&s, &v) || *s || v > 100000000)
		return -1;
	*n = (size_t)v;
	return 0;
}

void reg_challenge_clear(reg_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

int reg_challenge_parse(const char *hdr, reg_challenge *out)
{
	memset(out, 0, sizeof(*out));
	const char *p = hdr;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *s = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (p == s)
		return -1;
	out->scheme = xstrndup(s, (size_t)(p - s));
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ' && *p != ',')
			p++;
		if (*p != '=') {
			/* a second challenge ("Basic realm=..., Bearer ...") or a
			 * token68: stop at what we have. */
			break;
		}
		size_t klen = (size_t)(p - k);
		p++;
		strbuf v;
		sb_init(&v);
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				sb_appendc(&v, *p++);
			}
			if (*p != '"') {
				sb_free(&v);
				reg_challenge_clear(out);
				return -1;
			}
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ')
				sb_appendc(&v, *p++);
		}
		char **slot = NULL;
		if (klen == 5 && !strncasecmp(k, "realm", 5))
			slot = &out->realm;
		else if (klen == 7 && !strncasecmp(k, "service", 7))
			slot = &out->service;
		else if (klen == 5 && !strncasecmp(k, "scope", 5))
			slot = &out->scope;
		else if (klen == 5 && !strncasecmp(k, "error", 5))
			slot = &out->error;
		if (slot && !*slot)
			*slot = sb_steal(&v);
		sb_free(&v);
	}
	return 0;
}

int http_basic_auth_parse(const char *hdr, char **user, char **pass)
{
	if (!hdr || strncasecmp(hdr, "Basic ", 6) != 0)
		return -1;
	const char *b = hdr + 6;
	while (*b == ' ')
		b++;
	_cleanup_free_ char *dec = NULL;
	size_t n = 0;
	if (base64_decode(b, strlen(b), &dec, &n) < 0)
		return -1;
	if (memchr(dec, 0, n))
		return -1;
	char *colon = strchr(dec, ':');
	if (!colon)
		return -1;
	*user = xstrndup(dec, (size_t)(colon - dec));
	*pass = xstrdup(colon + 1);
	return 0;
}

char *reg_link_next(const char *hdr)
{
	if (!hdr)
		return NULL;
	const char *lt = strchr(hdr, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	if (!lt || !gt)
		return NULL;
	if (!strstr(gt, "rel=\"next\"") && !strstr(gt, "rel=next"))
		return NULL;
	return xstrndup(lt + 1, (size_t)(gt - lt - 1));
}
