#include "build/dockerfile.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

/* Instructions, sorted for bsearch, with the flags each accepts and
 * whether a JSON (exec) form is recognised. */
struct df_keyword {
	const char *name;
	const char *flags; /* space-separated flag names, NULL for none */
	bool json; /* JSON array form recognised */
	bool heredoc; /* heredocs allowed */
};

static const struct df_keyword keywords[] = {
    {"add", "chown chmod checksum keep-git-dir link exclude", true, true},
    {"arg", NULL, false, false},
    {"cmd", NULL, true, false},
    {"copy", "from chown chmod link parents exclude", true, true},
    {"entrypoint", NULL, true, false},
    {"env", NULL, false, false},
    {"expose", NULL, false, false},
    {"from", "platform", false, false},
    {"healthcheck", "interval timeout start-period start-interval retries", true, false},
    {"label", NULL, false, false},
    {"maintainer", NULL, false, false},
    {"onbuild", NULL, false, false},
    {"run", "mount network security", true, true},
    {"shell", NULL, true, false},
    {"stopsignal", NULL, false, false},
    {"user", NULL, false, false},
    {"volume", NULL, true, false},
    {"workdir", NULL, false, false},
};

static int cmp_keyword(const void *k, const void *e)
{
	return strcmp(k, ((const struct df_keyword *)e)->name);
}

static const struct df_keyword *find_keyword(const char *lower)
{
	return bsearch(lower, keywords, ARRAY_SIZE(keywords), sizeof(keywords[0]), cmp_keyword);
}

static bool flag_allowed(const struct df_keyword *kw, const char *flag)
{
	if (kw->flags == NULL)
		return false;
	size_t n = strlen(flag);
	const char *p = kw->flags;
	while (*p) {
		const char *sp = strchr(p, ' ');
		size_t l = sp ? (size_t)(sp - p) : strlen(p);
		if (l == n && !strncmp(p, flag, n))
			return true;
		if (!sp)
			break;
		p = sp + 1;
	}
	return false;
}

void df_instr_clear(df_instr *in)
{
	if (in == NULL)
		return;
	free(in->keyword);
	free(in->original);
	strv_free(in->flags);
	free(in->rest);
	strv_free(in->args);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
	memset(in, 0, sizeof(*in));
}

void dockerfile_free(dockerfile *df)
{
	if (df == NULL)
		return;
	for (size_t i = 0; i < df->n; i++)
		df_instr_clear(&df->instrs[i]);
	free(df->instrs);
	free(df->filename);
	free(df->syntax);
	free(df);
}

const char *df_flag(const df_instr *in, const char *name)
{
	const char *found = NULL;
	size_t n = strlen(name);
	for (char **f = in->flags; f && *f; f++) {
		const char *s = *f + 2;
		if (!strncmp(s, name, n) && (s[n] == '=' || s[n] == 0))
			found = s[n] == '=' ? s + n + 1 : s + n;
	}
	return found;
}

char **df_flag_all(const df_instr *in, const char *name)
{
	char **v = xcalloc(1, sizeof(char *));
	size_t n = strlen(name);
	for (char **f = in->flags; f && *f; f++) {
		const char *s = *f + 2;
		if (!strncmp(s, name, n) && (s[n] == '=' || s[n] == 0))
			v = strv_append(v, s[n] == '=' ? s + n + 1 : s + n);
	}
	return v;
}

/* ---- the shell-word lexer ---- */

struct lexer {
	const char *s;
	size_t pos;
	char escape;
	df_lookup_fn lookup;
	void *ud;
	berth_error **err;
	bool failed;
};

static int lex_peek(struct lexer *lx)
{
	return (unsigned char)lx->s[lx->pos];
}

static int lex_next(struct lexer *lx)
{
	int c = (unsigned char)lx->s[lx->pos];
	if (c)
		lx->pos++;
	return c;
}

static bool is_name_char(int c)
{
	return isalnum(c) || c == '_';
}

static void lex_word_until(struct lexer *lx, strbuf *out, const char *stops, bool in_dquote_ctx);

/* After '$'. */
static void lex_dollar(struct lexer *lx, strbuf *out)
{
	int c = lex_peek(lx);
	if (c != '{') {
		/* $name */
		size_t start = lx->pos;
		while (is_name_char(lex_peek(lx)))
			lx->pos++;
		if (lx->pos == start) {
			sb_appendc(out, '$');
			return;
		}
		_cleanup_free_ char *name = xstrndup(lx->s + start, lx->pos - start);
		const char *v = lx->lookup ? lx->lookup(lx->ud, name) : NULL;
		if (v)
			sb_append(out, v);
		return;
	}
	lex_next(lx); /* '{' */
	size_t start = lx->pos;
	while (is_name_char(lex_peek(lx)))
		lx->pos++;
	if (lx->pos == start) {
		berth_err(lx->err, BERTH_E_INVALID, "bad substitution: missing variable name");
		lx->failed = true;
		return;
	}
	_cleanup_free_ char *name = xstrndup(lx->s + start, lx->pos - start);
	const char *v = lx->lookup ? lx->lookup(lx->ud, name) : NULL;
	c = lex_next(lx);
	if (c == '}') {
		if (v)
			sb_append(out, v);
		return;
	}
	bool colon = false;
	if (c == ':') {
		colon = true;
		c = lex_next(lx);
	}
	if (c != '-' && c != '+' && c != '?') {
		berth_err(lx->err, BERTH_E_INVALID,
		          "bad substitution: unsupported modifier in ${%s...}", name);
		lx->failed = true;
		return;
	}
	strbuf word;
	sb_init(&word);
	lex_word_until(lx, &word, "}", false);
	if (lx->failed) {
		sb_free(&word);
		return;
	}
	if (lex_next(lx) != '}') {
		sb_free(&word);
		berth_err(lx->err, BERTH_E_INVALID, "bad substitution: missing '}' in ${%s", name);
		lx->failed = true;
		return;
	}
	bool set = v != NULL && (!colon || *v);
	const char *w = word.buf ? word.buf : "";
	switch (c) {
	case '-': sb_append(out, set ? v : w); break;
	case '+':
		if (set)
			sb_append(out, w);
		break;
	case '?':
		if (!set) {
			berth_err(lx->err, BERTH_E_INVALID, "%s: %s", name,
			          *w ? w : "is not allowed to be unset");
			lx->failed = true;
		} else {
			sb_append(out, v);
		}
		break;
	}
	sb_free(&word);
}

static void lex_single(struct lexer *lx, strbuf *out)
{
	for (;;) {
		int c = lex_next(lx);
		if (c == 0) {
			berth_err(
			    lx->err, BERTH_E_INVALID,
			    "unexpected end of statement while looking for matching single-quote");
			lx->failed = true;
			return;
		}
		if (c == '\'')
			return;
		sb_appendc(out, (char)c);
	}
}

static void lex_double(struct lexer *lx, strbuf *out)
{
	for (;;) {
		int c = lex_next(lx);
		if (c == 0) {
			berth_err(
			    lx->err, BERTH_E_INVALID,
			    "unexpected end of statement while looking for matching double-quote");
			lx->failed = true;
			return;
		}
		if (c == '"')
			return;
		if (c == '$') {
			lex_dollar(lx, out);
			if (lx->failed)
				return;
			continue;
		}
		if (c == lx->escape) {
			int n = lex_peek(lx);
			if (n == 0)
				continue;
			if (n == '"' || n == '$' || n == lx->escape)
				c = lex_next(lx);
		}
		sb_appendc(out, (char)c);
	}
}

/* Process characters until one of stops (unquoted) or the end. */
static void lex_word_until(struct lexer *lx, strbuf *out, const char *stops, bool unused)
{
	(void)unused;
	for (;;) {
		int c = lex_peek(lx);
		if (c == 0 || strchr(stops, c))
			return;
		lex_next(lx);
		if (c == '\'') {
			lex_single(lx, out);
		} else if (c == '"') {
			lex_double(lx, out);
		} else if (c == '$') {
			lex_dollar(lx, out);
		} else if (c == lx->escape) {
			int n = lex_next(lx);
			if (n)
				sb_appendc(out, (char)n);
		} else {
			sb_appendc(out, (char)c);
		}
		if (lx->failed)
			return;
	}
}

int df_expand(const char *word, char escape, df_lookup_fn lookup, void *ud, char **out,
              berth_error **err)
{
	struct lexer lx = {.s = word, .escape = escape, .lookup = lookup, .ud = ud, .err = err};
	strbuf sb;
	sb_init(&sb);
	lex_word_until(&lx, &sb, "", false);
	if (lx.failed) {
		sb_free(&sb);
		return -1;
	}
	*out = sb_steal(&sb);
	return 0;
}

int df_expand_words(const char *text, char escape, df_lookup_fn lookup, void *ud, char ***out,
                    berth_error **err)
{
	struct lexer lx = {.s = text, .escape = escape, .lookup = lookup, .ud = ud, .err = err};
	char **words = xcalloc(1, sizeof(char *));
	for (;;) {
		while (lex_peek(&lx) == ' ' || lex_peek(&lx) == '\t' || lex_peek(&lx) == '\n' ||
		       lex_peek(&lx) == '\r')
			lx.pos++;
		if (lex_peek(&lx) == 0)
			break;
		strbuf sb;
		sb_init(&sb);
		lex_word_until(&lx, &sb, " \t\r\n", false);
		if (lx.failed) {
			sb_free(&sb);
			strv_free(words);
			return -1;
		}
		char *w = sb_steal(&sb);
		words = strv_append(words, w);
		free(w);
	}
	*out = words;
	return 0;
}

char **df_split_words(const char *text, char escape)
{
	char **words = xcalloc(1, sizeof(char *));
	const char *p = text;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		const char *start = p;
		char quote = 0;
		while (*p) {
			if (quote) {
				if (*p == escape && quote == '"' && p[1]) {
					p += 2;
					continue;
				}
				if (*p == quote)
					quote = 0;
				p++;
				continue;
			}
			if (*p == escape && p[1]) {
				p += 2;
				continue;
			}
			if (*p == '\'' || *p == '"') {
				quote = *p++;
				continue;
			}
			if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
				break;
			p++;
		}
		_cleanup_free_ char *w = xstrndup(start, (size_t)(p - start));
		words = strv_append(words, w);
	}
	return words;
}

int df_parse_kv(const df_instr *in, char escape, df_lookup_fn lookup, void *ud, char ***keys,
                char ***values, berth_error **err)
{
	_cleanup_strv_ char **k = xcalloc(1, sizeof(char *));
	_cleanup_strv_ char **v = xcalloc(1, sizeof(char *));
	_cleanup_strv_ char **words = df_split_words(in->rest, escape);
	size_t n = strv_len(words);
	if (n == 0)
		return berth_err(err, BERTH_E_INVALID, "%s requires at least one argument",
		                 in->keyword);
	bool legacy = strchr(words[0], '=') == NULL;
	if (legacy) {
		/* "ENV key value with spaces": the rest of the line is the value. */
		if (n < 2)
			return berth_err(err, BERTH_E_INVALID, "%s must have two arguments",
			                 in->keyword);
		const char *p = in->rest;
		while (*p == ' ' || *p == '\t')
			p++;
		p += strlen(words[0]);
		while (*p == ' ' || *p == '\t')
			p++;
		_cleanup_free_ char *key = NULL, *val = NULL;
		if (df_expand(words[0], escape, lookup, ud, &key, err) < 0)
			return -1;
		if (df_expand(p, escape, lookup, ud, &val, err) < 0)
			return -1;
		k = strv_append(k, key);
		v = strv_append(v, val);
	} else {
		for (size_t i = 0; i < n; i++) {
			char *eq = strchr(words[i], '=');
			if (eq == NULL)
				return berth_err(
				    err, BERTH_E_INVALID,
				    "%s names can not be blank / syntax error: %s must be "
				    "of the form key=value",
				    in->keyword, words[i]);
			_cleanup_free_ char *rawk = xstrndup(words[i], (size_t)(eq - words[i]));
			if (!*rawk)
				return berth_err(err, BERTH_E_INVALID, "%s names can not be blank",
				                 in->keyword);
			_cleanup_free_ char *key = NULL, *val = NULL;
			if (df_expand(rawk, escape, lookup, ud, &key, err) < 0)
				return -1;
			if (df_expand(eq + 1, escape, lookup, ud, &val, err) < 0)
				return -1;
			k = strv_append(k, key);
			v = strv_append(v, val);
		}
	}
	*keys = steal_ptr(k);
	*values = steal_ptr(v);
	return 0;
}

/* ---- instruction structure ---- */

static char *lowercase(const char *s, size_t n)
{
	char *r = xstrndup(s, n);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* Try a JSON array of strings. */
static char **parse_json_array(const char *s)
{
	const char *p = s;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[')
		return NULL;
	json_error_t je;
	_cleanup_json_ json_t *j = json_loads(p, JSON_DECODE_ANY, &je);
	if (!json_is_array(j))
		return NULL;
	char **v = xcalloc(json_array_size(j) + 1, sizeof(char *));
	size_t i;
	json_t *e;
	json_array_foreach (j, i, e) {
		if (!json_is_string(e)) {
			strv_free(v);
			return NULL;
		}
		v[i] = xstrdup(json_string_value(e));
	}
	return v;
}

/* Find heredoc markers (<<NAME, <<-NAME, <<"NAME", <<'NAME') in text,
 * outside quotes. Adds them to in->heredocs (content filled later). */
static void find_heredocs(const char *text, char escape, df_instr *in)
{
	char quote = 0;
	for (const char *p = text; *p; p++) {
		if (quote) {
			if (*p == escape && quote == '"' && p[1])
				p++;
			else if (*p == quote)
				quote = 0;
			continue;
		}
		if (*p == escape && p[1]) {
			p++;
			continue;
		}
		if (*p == '\'' || *p == '"') {
			quote = *p;
			continue;
		}
		if (p[0] != '<' || p[1] != '<' || (p > text && p[-1] == '<'))
			continue;
		const char *q = p + 2;
		bool chomp = false;
		if (*q == '-') {
			chomp = true;
			q++;
		}
		char dq = 0;
		if (*q == '"' || *q == '\'')
			dq = *q++;
		const char *ns = q;
		while (isalnum((unsigned char)*q) || *q == '_' || *q == '.' || *q == '-')
			q++;
		if (q == ns || isdigit((unsigned char)*ns))
			continue;
		if (dq) {
			if (*q != dq)
				continue;
		}
		in->heredocs =
		    xreallocarray(in->heredocs, in->n_heredocs + 1, sizeof(*in->heredocs));
		df_heredoc *h = &in->heredocs[in->n_heredocs++];
		h->name = xstrndup(ns, (size_t)(q - ns));
		h->content = NULL;
		h->expand = dq == 0;
		h->chomp = chomp;
		p = dq ? q : q - 1;
	}
}

int df_parse_instruction(const char *text, char escape, const char *filename, int line,
                         df_instr *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	const char *p = text;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *ks = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	out->keyword = lowercase(ks, (size_t)(p - ks));
	out->line = out->end_line = line;
	out->original = xstrdup(text);
	const struct df_keyword *kw = find_keyword(out->keyword);
	if (kw == NULL) {
		berth_err(err, BERTH_E_INVALID, "%s:%d: unknown instruction: %.*s", filename, line,
		          (int)(p - ks), ks);
		df_instr_clear(out);
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	/* Leading flags. */
	out->flags = xcalloc(1, sizeof(char *));
	while (p[0] == '-' && p[1] == '-') {
		const char *fs = p;
		char quote = 0;
		while (*p && (quote || !isspace((unsigned char)*p))) {
			if (quote && *p == quote)
				quote = 0;
			else if (!quote && (*p == '"' || *p == '\''))
				quote = *p;
			p++;
		}
		_cleanup_free_ char *flag = xstrndup(fs, (size_t)(p - fs));
		_cleanup_free_ char *fname = NULL;
		const char *eq = strchr(flag, '=');
		fname = xstrndup(flag + 2, eq ? (size_t)(eq - flag - 2) : strlen(flag + 2));
		if (!flag_allowed(kw, fname)) {
			berth_err(err, BERTH_E_INVALID, "%s:%d: unknown flag: %s", filename, line,
			          fname);
			df_instr_clear(out);
			return -1;
		}
		out->flags = strv_append(out->flags, flag);
		while (*p == ' ' || *p == '\t')
			p++;
	}
	out->rest = xstrdup(p);
	/* trim trailing blanks */
	size_t rl = strlen(out->rest);
	while (rl > 0 && isspace((unsigned char)out->rest[rl - 1]))
		out->rest[--rl] = 0;
	if (kw->json) {
		out->args = parse_json_array(out->rest);
		if (out->args)
			out->exec_form = true;
	}
	if (!out->exec_form) {
		if (!strcmp(out->keyword, "shell")) {
			berth_err(err, BERTH_E_INVALID,
			          "%s:%d: SHELL requires the arguments to be in JSON form",
			          filename, line);
			df_instr_clear(out);
			return -1;
		}
		if (!strcmp(out->keyword, "run") || !strcmp(out->keyword, "cmd") ||
		    !strcmp(out->keyword, "entrypoint") || !strcmp(out->keyword, "maintainer") ||
		    !strcmp(out->keyword, "onbuild") || !strcmp(out->keyword, "healthcheck")) {
			out->args = xcalloc(2, sizeof(char *));
			out->args[0] = xstrdup(out->rest);
		} else {
			out->args = df_split_words(out->rest, escape);
		}
		if (kw->heredoc)
			find_heredocs(out->rest, escape, out);
	}
	return 0;
}

/* ---- validation of each instruction's shape ---- */

static int check_args(const df_instr *in, const char *filename, berth_error **err)
{
	const char *k = in->keyword;
	size_t n = strv_len(in->args);
#define FAIL(...)                                                                              \
	do {                                                                                   \
		berth_err(err, BERTH_E_INVALID, "%s:%d: %s", filename, in->line, __VA_ARGS__); \
		return -1;                                                                     \
	} while (0)
	if (!strcmp(k, "from")) {
		if (n != 1 && !(n == 3 && !strcasecmp(in->args[1], "as")))
			FAIL("FROM requires either one or three arguments");
		if (n == 3) {
			for (const char *c = in->args[2]; *c; c++)
				if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
				      *c == '-' || *c == '_' || *c == '.' ||
				      isupper((unsigned char)*c)))
					FAIL("invalid name for build stage");
			if (!isalpha((unsigned char)in->args[2][0]))
				FAIL("invalid name for build stage: must start with a letter");
		}
	} else if (!strcmp(k, "copy") || !strcmp(k, "add")) {
		if (n + in->n_heredocs < 2 && !(n == 1 && in->n_heredocs > 0))
			FAIL(!strcmp(k, "copy") ? "COPY requires at least two arguments"
			                        : "ADD requires at least two arguments");
	} else if (!strcmp(k, "workdir")) {
		if (n != 1)
			FAIL("WORKDIR requires exactly one argument");
	} else if (!strcmp(k, "user")) {
		if (n != 1)
			FAIL("USER requires exactly one argument");
	} else if (!strcmp(k, "stopsignal")) {
		if (n != 1)
			FAIL("STOPSIGNAL requires exactly one argument");
	} else if (!strcmp(k, "expose") || !strcmp(k, "volume") || !strcmp(k, "env") ||
	           !strcmp(k, "label") || !strcmp(k, "maintainer")) {
		if (n == 0 || (n == 1 && !*in->args[0]))
			FAIL(!strcmp(k, "expose")   ? "EXPOSE requires at least one argument"
			     : !strcmp(k, "volume") ? "VOLUME requires at least one argument"
			     : !strcmp(k, "env")    ? "ENV requires at least one argument"
			     : !strcmp(k, "label")  ? "LABEL requires at least one argument"
			                            : "MAINTAINER requires exactly one argument");
	} else if (!strcmp(k, "arg")) {
		if (n != 1)
			FAIL("ARG requires exactly one argument");
	} else if (!strcmp(k, "onbuild")) {
		if (n == 0 || !*in->args[0])
			FAIL("ONBUILD requires at least one argument");
		char first[16] = {0};
		size_t i = 0;
		for (const char *c = in->args[0]; *c && !isspace((unsigned char)*c) && i < 15; c++)
			first[i++] = (char)tolower((unsigned char)*c);
		if (!strcmp(first, "onbuild"))
			FAIL("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
		if (!strcmp(first, "from") || !strcmp(first, "maintainer"))
			FAIL("FROM and MAINTAINER aren't allowed as ONBUILD triggers");
	} else if (!strcmp(k, "healthcheck")) {
		if (!in->exec_form) {
			_cleanup_strv_ char **w = df_split_words(in->rest, '\\');
			if (strv_len(w) == 0)
				FAIL("HEALTHCHECK requires an argument");
			if (strcasecmp(w[0], "none") && strcasecmp(w[0], "cmd"))
				FAIL("Unknown type in HEALTHCHECK (try CMD)");
			if (!strcasecmp(w[0], "none") && strv_len(w) > 1)
				FAIL("HEALTHCHECK NONE takes no arguments");
			if (!strcasecmp(w[0], "cmd") && strv_len(w) < 2)
				FAIL("Missing command after HEALTHCHECK CMD");
		} else {
			FAIL("HEALTHCHECK requires CMD or NONE before the command");
		}
	} else if (!strcmp(k, "run") || !strcmp(k, "cmd") || !strcmp(k, "entrypoint")) {
		/* any arguments (an empty CMD is allowed) */
	}
#undef FAIL
	return 0;
}

/* ---- the file ---- */

struct lines {
	char **v;
	size_t n;
};

static void split_lines(const char *buf, size_t len, struct lines *out)
{
	out->v = NULL;
	out->n = 0;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || buf[i] == '\n') {
			if (i == len && start == len)
				break;
			size_t end = i;
			if (end > start && buf[end - 1] == '\r')
				end--;
			out->v = xreallocarray(out->v, out->n + 1, sizeof(char *));
			out->v[out->n++] = xstrndup(buf + start, end - start);
			start = i + 1;
		}
	}
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static bool is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

static bool is_comment(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '#';
}

/* Remove a trailing escape (plus blanks after it). Returns true if found. */
static bool strip_continuation(char *s, char escape)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > 0 && s[n - 1] == escape) {
		s[n - 1] = 0;
		return true;
	}
	return false;
}

/* "# key=value" directive at the top of the file. */
static bool parse_directive(const char *line, char **key, char **value)
{
	const char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '#')
		return false;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *ks = p;
	while (isalpha((unsigned char)*p))
		p++;
	if (p == ks)
		return false;
	const char *ke = p;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '=')
		return false;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	const char *vs = p;
	size_t vl = strlen(vs);
	while (vl > 0 && isspace((unsigned char)vs[vl - 1]))
		vl--;
	*key = lowercase(ks, (size_t)(ke - ks));
	*value = xstrndup(vs, vl);
	return true;
}

int dockerfile_parse(const char *buf, size_t len, const char *filename, dockerfile **out,
                     berth_error **err)
{
	if (filename == NULL)
		filename = "Dockerfile";
	dockerfile *df = xcalloc(1, sizeof(*df));
	df->filename = xstrdup(filename);
	df->escape = '\\';
	struct lines L;
	split_lines(buf, len, &L);
	size_t i = 0;
	/* Parser directives: only at the very top. */
	bool seen_escape = false;
	for (; i < L.n; i++) {
		_cleanup_free_ char *k = NULL, *v = NULL;
		if (!parse_directive(L.v[i], &k, &v))
			break;
		if (!strcmp(k, "escape")) {
			if (seen_escape) {
				berth_err(err, BERTH_E_INVALID,
				          "%s:%zu: only one escape parser directive can be used",
				          filename, i + 1);
				goto fail;
			}
			seen_escape = true;
			if (strcmp(v, "\\") && strcmp(v, "`")) {
				berth_err(
				    err, BERTH_E_INVALID,
				    "%s:%zu: invalid escape token '%s' does not match ` or \\",
				    filename, i + 1, v);
				goto fail;
			}
			df->escape = v[0];
		} else if (!strcmp(k, "syntax")) {
			free(df->syntax);
			df->syntax = xstrdup(v);
		}
		/* other directives (check=...) are accepted and ignored */
	}
	while (i < L.n) {
		if (is_blank(L.v[i]) || is_comment(L.v[i])) {
			i++;
			continue;
		}
		int first_line = (int)i + 1;
		strbuf sb;
		sb_init(&sb);
		_cleanup_free_ char *cur = xstrdup(L.v[i]);
		bool cont = strip_continuation(cur, df->escape);
		sb_append(&sb, cur);
		i++;
		while (cont && i < L.n) {
			if (is_comment(L.v[i]) || is_blank(L.v[i])) {
				i++;
				continue;
			}
			free(cur);
			cur = xstrdup(L.v[i]);
			cont = strip_continuation(cur, df->escape);
			sb_append(&sb, cur);
			i++;
		}
		_cleanup_free_ char *text = sb_steal(&sb);
		df_instr in;
		if (df_parse_instruction(text, df->escape, filename, first_line, &in, err) < 0)
			goto fail;
		in.end_line = (int)i;
		/* Heredoc bodies follow the instruction's (last) line. */
		for (size_t h = 0; h < in.n_heredocs; h++) {
			df_heredoc *hd = &in.heredocs[h];
			strbuf body;
			sb_init(&body);
			bool done = false;
			while (i < L.n) {
				const char *ln = L.v[i++];
				if (hd->chomp)
					while (*ln == '\t')
						ln++;
				if (!strcmp(ln, hd->name)) {
					done = true;
					break;
				}
				sb_append(&body, ln);
				sb_appendc(&body, '\n');
			}
			if (!done) {
				sb_free(&body);
				berth_err(
				    err, BERTH_E_INVALID,
				    "%s:%d: unterminated heredoc <<%s (no line \"%s\" before the "
				    "end of the file)",
				    filename, first_line, hd->name, hd->name);
				df_instr_clear(&in);
				goto fail;
			}
			hd->content = sb_steal(&body);
			in.end_line = (int)i;
		}
		if (check_args(&in, filename, err) < 0) {
			df_instr_clear(&in);
			goto fail;
		}
		df->instrs = xreallocarray(df->instrs, df->n + 1, sizeof(df_instr));
		df->instrs[df->n++] = in;
	}
	/* Structure: only ARG before the first FROM; at least one FROM. */
	bool seen_from = false;
	for (size_t k = 0; k < df->n; k++) {
		if (!strcmp(df->instrs[k].keyword, "from"))
			seen_from = true;
		else if (!seen_from && strcmp(df->instrs[k].keyword, "arg")) {
			berth_err(err, BERTH_E_INVALID, "%s:%d: no build stage in current context",
			          filename, df->instrs[k].line);
			goto fail;
		}
	}
	if (!seen_from) {
		berth_err(err, BERTH_E_INVALID, "%s: file with no instructions", filename);
		goto fail;
	}
	free_lines(&L);
	*out = df;
	return 0;
fail:
	free_lines(&L);
	dockerfile_free(df);
	return -1;
}
