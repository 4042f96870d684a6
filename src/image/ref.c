#include "image/ref.h"

#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"

#define INVALID "invalid reference format"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

/* component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		/* a separator must be followed by an alphanumeric */
		if (i == n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

static bool path_valid_n(const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (!component_valid(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool ref_path_valid(const char *path)
{
	return path && path_valid_n(path, strlen(path));
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool host_valid_n(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '[') {
		if (s[n - 1] != ']' || n == 2)
			return false;
		for (size_t i = 1; i + 1 < n; i++)
			if (!is_hex(s[i]) && s[i] != ':')
				return false;
		return true;
	}
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t len = i - start;
			if (len == 0 || !is_alnum(s[start]) || !is_alnum(s[i - 1]))
				return false;
			for (size_t k = start; k < i; k++)
				if (!is_alnum(s[k]) && s[k] != '-')
					return false;
			start = i + 1;
		}
	}
	return true;
}

static bool domain_valid_n(const char *s, size_t n)
{
	size_t hostlen = n;
	const char *port = NULL;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL)
			return false;
		hostlen = (size_t)(close - s) + 1;
		if (hostlen < n) {
			if (s[hostlen] != ':')
				return false;
			port = s + hostlen + 1;
		}
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon) {
			hostlen = (size_t)(colon - s);
			port = colon + 1;
		}
	}
	if (!host_valid_n(s, hostlen))
		return false;
	if (port) {
		if (port == s + n)
			return false;
		for (const char *p = port; p < s + n; p++)
			if (!is_digit(*p))
				return false;
	}
	return true;
}

bool ref_domain_valid(const char *domain)
{
	return domain && domain_valid_n(domain, strlen(domain));
}

bool ref_tag_valid(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;
	if (n == 0 || n > REF_TAG_MAX || !is_word(tag[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(tag[i]) && tag[i] != '.' && tag[i] != '-')
			return false;
	return true;
}

/* Returns NULL when valid, else why not. */
static const char *digest_problem(const char *d)
{
	const char *colon = strchr(d, ':');
	if (colon == NULL)
		return "it must be ALGORITHM:HEX";
	/* algorithm := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )* */
	const char *p = d;
	for (;;) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return "the algorithm must match "
			       "[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*";
		while (is_alnum(*p))
			p++;
		if (p == colon)
			break;
		if (*p != '-' && *p != '_' && *p != '+' && *p != '.')
			return "the algorithm must match "
			       "[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*";
		p++;
	}
	const char *hex = colon + 1;
	size_t n = strlen(hex);
	for (size_t i = 0; i < n; i++)
		if (!is_hex(hex[i]))
			return "the encoded part must be hexadecimal";
	if (n < 32)
		return "the encoded part must have at least 32 hexadecimal digits";
	static const struct {
		const char *alg;
		size_t len;
	} known[] = {{"sha256", 64}, {"sha384", 96}, {"sha512", 128}};
	size_t alen = (size_t)(colon - d);
	for (size_t k = 0; k < ARRAY_SIZE(known); k++) {
		if (strlen(known[k].alg) != alen || memcmp(d, known[k].alg, alen) != 0)
			continue;
		if (n != known[k].len)
			return known[k].len == 64   ? "sha256 needs 64 hexadecimal digits"
			       : known[k].len == 96 ? "sha384 needs 96 hexadecimal digits"
			                            : "sha512 needs 128 hexadecimal digits";
		for (size_t i = 0; i < n; i++)
			if (hex[i] >= 'A' && hex[i] <= 'F')
				return "hexadecimal digits must be lowercase";
	}
	return NULL;
}

bool ref_digest_valid(const char *digest)
{
	return digest && digest_problem(digest) == NULL;
}

static bool is_64hex(const char *s)
{
	size_t n = strlen(s);
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

void ref_free(image_ref *r)
{
	if (r == NULL)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	free(r);
}

image_ref *ref_dup(const image_ref *r)
{
	image_ref *d = xcalloc(1, sizeof(*d));
	d->domain = r->domain ? xstrdup(r->domain) : NULL;
	d->path = r->path ? xstrdup(r->path) : NULL;
	d->tag = r->tag ? xstrdup(r->tag) : NULL;
	d->digest = r->digest ? xstrdup(r->digest) : NULL;
	return d;
}

static int parse(const char *s, bool normalize, image_ref **out, berth_error **err)
{
	*out = NULL;
	if (s == NULL || *s == 0)
		return berth_err(err, BERTH_E_INVALID,
		                 INVALID ": repository name must have at least one component");
	if (is_64hex(s))
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid repository name (%s), cannot specify 64-byte hexadecimal "
		                 "strings",
		                 s);

	_cleanup_ref_ image_ref *r = xcalloc(1, sizeof(*r));
	size_t namelen = strlen(s);
	const char *at = strchr(s, '@');
	if (at) {
		namelen = (size_t)(at - s);
		const char *d = at + 1;
		if (*d == 0)
			return berth_err(err, BERTH_E_INVALID, INVALID ": empty digest after '@'");
		const char *why = digest_problem(d);
		if (why)
			return berth_err(err, BERTH_E_INVALID,
			                 INVALID ": invalid digest \"%s\": %s", d, why);
		r->digest = xstrdup(d);
	}

	/* A ':' after the last '/' separates the tag. */
	const char *lastslash = NULL, *lastcolon = NULL;
	for (const char *p = s; p < s + namelen; p++) {
		if (*p == '/')
			lastslash = p;
		else if (*p == ':')
			lastcolon = p;
	}
	if (lastcolon && (lastslash == NULL || lastcolon > lastslash)) {
		size_t taglen = namelen - (size_t)(lastcolon - s) - 1;
		_cleanup_free_ char *tag = xstrndup(lastcolon + 1, taglen);
		if (taglen == 0)
			return berth_err(err, BERTH_E_INVALID, INVALID ": empty tag after ':'");
		if (!ref_tag_valid(tag)) {
			if (taglen > REF_TAG_MAX)
				return berth_err(err, BERTH_E_INVALID,
				                 INVALID
				                 ": tag must not be more than %d characters",
				                 REF_TAG_MAX);
			return berth_err(
			    err, BERTH_E_INVALID,
			    INVALID ": tag \"%s\" must match [A-Za-z0-9_][A-Za-z0-9_.-]*", tag);
		}
		r->tag = steal_ptr(tag);
		namelen = (size_t)(lastcolon - s);
	}
	if (namelen == 0)
		return berth_err(err, BERTH_E_INVALID,
		                 INVALID ": repository name must have at least one component");

	/* Docker's domain rule. */
	const char *slash = memchr(s, '/', namelen);
	const char *path = s;
	size_t pathlen = namelen;
	if (slash) {
		size_t flen = (size_t)(slash - s);
		bool domain = memchr(s, '.', flen) || memchr(s, ':', flen) ||
		              (flen == 9 && memcmp(s, "localhost", 9) == 0);
		if (domain) {
			if (!domain_valid_n(s, flen)) {
				_cleanup_free_ char *dom = xstrndup(s, flen);
				return berth_err(err, BERTH_E_INVALID,
				                 INVALID
				                 ": invalid domain \"%s\" (must be a host name, "
				                 "IPv4 or [IPv6] address, with an optional :port)",
				                 dom);
			}
			r->domain = xstrndup(s, flen);
			path = slash + 1;
			pathlen = namelen - flen - 1;
		}
	}
	for (size_t i = 0; i < pathlen; i++)
		if (path[i] >= 'A' && path[i] <= 'Z')
			return berth_err(err, BERTH_E_INVALID,
			                 INVALID ": repository name must be lowercase");
	size_t start = 0;
	for (size_t i = 0; i <= pathlen; i++) {
		if (i < pathlen && path[i] != '/')
			continue;
		if (i == start)
			return berth_err(err, BERTH_E_INVALID,
			                 INVALID ": repository name has an empty path component");
		if (!component_valid(path + start, i - start)) {
			_cleanup_free_ char *c = xstrndup(path + start, i - start);
			return berth_err(err, BERTH_E_INVALID,
			                 INVALID ": repository name component \"%s\" must match "
			                         "[a-z0-9]+((.|_|__|-+)[a-z0-9]+)*",
			                 c);
		}
		start = i + 1;
	}
	r->path = xstrndup(path, pathlen);

	if (normalize) {
		if (r->domain == NULL || strcmp(r->domain, REF_LEGACY_DOMAIN) == 0) {
			free(r->domain);
			r->domain = xstrdup(REF_DEFAULT_DOMAIN);
		}
		if (strcmp(r->domain, REF_DEFAULT_DOMAIN) == 0 && strchr(r->path, '/') == NULL) {
			char *p = xasprintf(REF_OFFICIAL_PREFIX "/%s", r->path);
			free(r->path);
			r->path = p;
		}
		if (r->tag == NULL && r->digest == NULL)
			r->tag = xstrdup(REF_DEFAULT_TAG);
	}
	size_t total = (r->domain ? strlen(r->domain) + 1 : 0) + strlen(r->path);
	if (total > REF_NAME_MAX)
		return berth_err(err, BERTH_E_INVALID,
		                 INVALID ": repository name must not be more than %d characters",
		                 REF_NAME_MAX);
	*out = steal_ptr(r);
	return 0;
}

int ref_parse(const char *s, image_ref **out, berth_error **err)
{
	return parse(s, false, out, err);
}

int ref_parse_normalized(const char *s, image_ref **out, berth_error **err)
{
	return parse(s, true, out, err);
}

static void append_suffix(strbuf *sb, const image_ref *r)
{
	if (r->tag) {
		sb_appendc(sb, ':');
		sb_append(sb, r->tag);
	}
	if (r->digest) {
		sb_appendc(sb, '@');
		sb_append(sb, r->digest);
	}
}

char *ref_repo(const image_ref *r)
{
	if (r->domain)
		return xasprintf("%s/%s", r->domain, r->path);
	return xstrdup(r->path);
}

char *ref_familiar_repo(const image_ref *r)
{
	if (r->domain && strcmp(r->domain, REF_DEFAULT_DOMAIN) != 0)
		return xasprintf("%s/%s", r->domain, r->path);
	const char *p = r->path;
	/* Keep docker.io/ when the path's first component would read as a
	 * domain ("docker.io/foo.com/x"), so the short form parses back to the
	 * same image (Docker drops it and the short form names another). */
	const char *slash = strchr(p, '/');
	if (r->domain && slash) {
		size_t flen = (size_t)(slash - p);
		if (memchr(p, '.', flen) || memchr(p, ':', flen) ||
		    (flen == 9 && memcmp(p, "localhost", 9) == 0))
			return xasprintf("%s/%s", r->domain, r->path);
	}
	/* "library/x" -> "x", but "library/x/y" stays. */
	if (str_has_prefix(p, REF_OFFICIAL_PREFIX "/") &&
	    strchr(p + strlen(REF_OFFICIAL_PREFIX "/"), '/') == NULL)
		p += strlen(REF_OFFICIAL_PREFIX "/");
	return xstrdup(p);
}

char *ref_string(const image_ref *r)
{
	_cleanup_sb_ strbuf sb = {0};
	_cleanup_free_ char *repo = ref_repo(r);
	sb_append(&sb, repo);
	append_suffix(&sb, r);
	return sb_steal(&sb);
}

char *ref_familiar(const image_ref *r)
{
	_cleanup_sb_ strbuf sb = {0};
	_cleanup_free_ char *repo = ref_familiar_repo(r);
	sb_append(&sb, repo);
	append_suffix(&sb, r);
	return sb_steal(&sb);
}
