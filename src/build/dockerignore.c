#include "build/dockerignore.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"

struct pattern {
	char *glob;
	bool exclusion; /* "!" pattern */
};

struct dockerignore {
	struct pattern *p;
	size_t n;
	bool any_exception;
};

char *path_clean_rel(const char *p)
{
	/* Split on '/', drop "" and ".", resolve "..". */
	_cleanup_strv_ char **parts = str_split(p, '/');
	char **out = xcalloc(strv_len(parts) + 1, sizeof(char *));
	size_t n = 0;
	for (char **c = parts; *c; c++) {
		if (!**c || !strcmp(*c, "."))
			continue;
		if (!strcmp(*c, "..")) {
			if (n > 0) {
				free(out[--n]);
				out[n] = NULL;
			}
			continue;
		}
		out[n++] = xstrdup(*c);
	}
	char *r = n ? strv_join(out, "/") : xstrdup(".");
	strv_free(out);
	return r;
}

/* Match a bracket expression at *pp against c; advance *pp past ']'.
 * Returns 1 match, 0 no match, -1 malformed. */
static int match_class(const char **pp, char c)
{
	const char *p = *pp + 1;
	bool neg = false;
	if (*p == '^' || *p == '!') {
		neg = true;
		p++;
	}
	bool matched = false;
	bool first = true;
	while (*p && (*p != ']' || first)) {
		first = false;
		char lo = *p;
		if (lo == '\\' && p[1])
			lo = *++p;
		p++;
		char hi = lo;
		if (*p == '-' && p[1] && p[1] != ']') {
			p++;
			hi = *p;
			if (hi == '\\' && p[1])
				hi = *++p;
			p++;
		}
		if (c >= lo && c <= hi)
			matched = true;
	}
	if (*p != ']')
		return -1;
	*pp = p + 1;
	return matched != neg;
}

/* Matching with memoisation over (pattern offset, path offset), so
 * patterns full of stars stay polynomial. memo: 0 unknown, 1 no, 2 yes. */
struct matcher {
	const char *pat, *str;
	size_t plen, slen;
	unsigned char *memo;
};

static bool match_at(struct matcher *m, size_t pi, size_t si);

static bool match_at_uncached(struct matcher *m, size_t pi, size_t si)
{
	const char *pat = m->pat, *s = m->str;
	for (;;) {
		if (pi == m->plen)
			return si == m->slen;
		if (pat[pi] == '*' && pi + 1 < m->plen && pat[pi + 1] == '*') {
			size_t rest = pi + 2;
			while (rest < m->plen && pat[rest] == '*')
				rest++;
			/* "**" followed by "/" may match zero directories */
			if (rest < m->plen && pat[rest] == '/' && match_at(m, rest + 1, si))
				return true;
			for (size_t t = si; t <= m->slen; t++)
				if (match_at(m, rest, t))
					return true;
			return false;
		}
		if (pat[pi] == '*') {
			size_t rest = pi + 1;
			for (size_t t = si;; t++) {
				if (match_at(m, rest, t))
					return true;
				if (t == m->slen || s[t] == '/')
					return false;
			}
		}
		if (si == m->slen)
			return false;
		if (pat[pi] == '?') {
			if (s[si] == '/')
				return false;
			pi++;
			si++;
			continue;
		}
		if (pat[pi] == '[') {
			if (s[si] == '/')
				return false;
			const char *p = pat + pi;
			if (match_class(&p, s[si]) <= 0)
				return false;
			pi = (size_t)(p - pat);
			si++;
			continue;
		}
		if (pat[pi] == '\\' && pi + 1 < m->plen)
			pi++;
		if (pat[pi] != s[si])
			return false;
		pi++;
		si++;
	}
}

static bool match_at(struct matcher *m, size_t pi, size_t si)
{
	size_t idx = pi * (m->slen + 1) + si;
	if (m->memo[idx])
		return m->memo[idx] == 2;
	bool r = match_at_uncached(m, pi, si);
	m->memo[idx] = r ? 2 : 1;
	return r;
}

bool glob_match_path(const char *pattern, const char *path)
{
	struct matcher m = {
	    .pat = pattern, .str = path, .plen = strlen(pattern), .slen = strlen(path)};
	m.memo = xcalloc((m.plen + 1) * (m.slen + 1), 1);
	bool r = match_at(&m, 0, 0);
	free(m.memo);
	return r;
}

int dockerignore_parse(const char *buf, size_t len, dockerignore **out, berth_error **err)
{
	dockerignore *di = xcalloc(1, sizeof(*di));
	size_t start = 0;
	int lineno = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != '\n')
			continue;
		lineno++;
		_cleanup_free_ char *line = xstrndup(buf + start, i - start);
		start = i + 1;
		/* trim */
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		size_t l = strlen(s);
		while (l > 0 && isspace((unsigned char)s[l - 1]))
			s[--l] = 0;
		if (!*s || *s == '#')
			continue;
		bool excl = false;
		if (*s == '!') {
			excl = true;
			s++;
			while (isspace((unsigned char)*s))
				s++;
			if (!*s) {
				dockerignore_free(di);
				return berth_err(
				    err, BERTH_E_INVALID,
				    ".dockerignore:%d: illegal exclusion pattern: \"!\"", lineno);
			}
		}
		char *clean = path_clean_rel(s);
		/* validate brackets */
		for (const char *p = clean; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				continue;
			}
			if (*p == '[') {
				const char *q = p;
				if (match_class(&q, 'a') < 0) {
					free(clean);
					dockerignore_free(di);
					return berth_err(
					    err, BERTH_E_INVALID,
					    ".dockerignore:%d: syntax error in pattern "
					    "\"%s\"",
					    lineno, s);
				}
				p = q - 1;
			}
		}
		di->p = xreallocarray(di->p, di->n + 1, sizeof(*di->p));
		di->p[di->n].glob = clean;
		di->p[di->n].exclusion = excl;
		di->n++;
		if (excl)
			di->any_exception = true;
	}
	*out = di;
	return 0;
}

void dockerignore_free(dockerignore *di)
{
	if (di == NULL)
		return;
	for (size_t i = 0; i < di->n; i++)
		free(di->p[i].glob);
	free(di->p);
	free(di);
}

bool dockerignore_has_exceptions(const dockerignore *di)
{
	return di && di->any_exception;
}

/* Does pattern match path or one of its parent directories? */
static bool matches_or_parent(const char *glob, const char *path)
{
	if (glob_match_path(glob, path))
		return true;
	_cleanup_free_ char *copy = xstrdup(path);
	for (char *slash = strrchr(copy, '/'); slash; slash = strrchr(copy, '/')) {
		*slash = 0;
		if (glob_match_path(glob, copy))
			return true;
	}
	return false;
}

bool dockerignore_excluded(const dockerignore *di, const char *path)
{
	if (di == NULL)
		return false;
	_cleanup_free_ char *clean = path_clean_rel(path);
	bool excluded = false;
	for (size_t i = 0; i < di->n; i++) {
		if (di->p[i].exclusion != excluded)
			continue; /* cannot change the verdict */
		if (matches_or_parent(di->p[i].glob, clean))
			excluded = !di->p[i].exclusion;
	}
	return excluded;
}
