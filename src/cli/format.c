/* The --format template subset (see format.h). */
#include "cli/format.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

static void go_value(strbuf *sb, json_t *v, const char *key);

static void go_value(strbuf *sb, json_t *v, const char *key)
{
	if (v == NULL) {
		sb_append(sb, "<no value>");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING: sb_appendn(sb, json_string_value(v), json_string_length(v)); break;
	case JSON_INTEGER: sb_printf(sb, "%lld", (long long)json_integer_value(v)); break;
	case JSON_REAL: sb_printf(sb, "%g", json_real_value(v)); break;
	case JSON_TRUE: sb_append(sb, "true"); break;
	case JSON_FALSE: sb_append(sb, "false"); break;
	case JSON_NULL:
		if (key && (!strcmp(key, "Labels") || !strcmp(key, "Volumes") ||
		            !strcmp(key, "ExposedPorts") || !strcmp(key, "Data")))
			sb_append(sb, "map[]");
		else
			sb_append(sb, "[]");
		break;
	case JSON_ARRAY: {
		sb_appendc(sb, '[');
		size_t i;
		json_t *x;
		json_array_foreach (v, i, x) {
			if (i)
				sb_appendc(sb, ' ');
			go_value(sb, x, NULL);
		}
		sb_appendc(sb, ']');
		break;
	}
	case JSON_OBJECT: {
		/* Go prints maps with sorted keys */
		size_t n = json_object_size(v), k = 0;
		const char **keys = xcalloc(n + 1, sizeof(char *));
		const char *kk;
		json_t *x;
		json_object_foreach (v, kk, x) {
			keys[k++] = kk;
		}
		for (size_t a = 1; a < n; a++)
			for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
				const char *t = keys[b];
				keys[b] = keys[b - 1];
				keys[b - 1] = t;
			}
		sb_append(sb, "map[");
		for (size_t a = 0; a < n; a++) {
			if (a)
				sb_appendc(sb, ' ');
			sb_printf(sb, "%s:", keys[a]);
			go_value(sb, json_object_get(v, keys[a]), keys[a]);
		}
		sb_appendc(sb, ']');
		free(keys);
		break;
	}
	}
}

/* A compiled template: literal text and actions, each action's words with
 * their offsets (for Go's "template: :LINE:COL:" error positions). */
struct word {
	char *text; /* as written; a quoted string without its quotes */
	bool quoted;
	char **keys; /* a field chain ".A.B": {"A", "B", NULL}; ".": {NULL} */
	size_t pos; /* byte offset in the template */
};

struct seg {
	char *text; /* literal text; NULL for an action */
	struct word *w;
	size_t nw;
};

struct tmpl {
	struct seg *v;
	size_t n;
	char *src; /* the template the offsets refer to (escapes resolved) */
};

static void tmpl_clear(struct tmpl *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].text);
		for (size_t k = 0; k < t->v[i].nw; k++) {
			free(t->v[i].w[k].text);
			strv_free(t->v[i].w[k].keys);
		}
		free(t->v[i].w);
	}
	free(t->v);
	free(t->src);
	memset(t, 0, sizeof(*t));
}

/* Go's position of offset pos: "LINE:COL" (COL counted from 0). */
static void tmpl_pos(const struct tmpl *t, size_t pos, int *line, int *col)
{
	*line = 1;
	size_t start = 0;
	for (size_t i = 0; i < pos && t->src[i]; i++)
		if (t->src[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = (int)(pos - start);
}

static void push_seg(struct tmpl *t, struct seg s)
{
	t->v = xreallocarray(t->v, t->n + 1, sizeof(*t->v));
	t->v[t->n++] = s;
}

/* Split an action's words (quoted strings kept whole, quotes removed);
 * base: the offset of the action's text in the template. */
static void action_words(const char *s, size_t base, struct seg *out)
{
	const char *p = s;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		struct word w = {.pos = base + (size_t)(p - s)};
		strbuf b;
		sb_init(&b);
		if (*p == '"' || *p == '`') {
			char q = *p++;
			w.quoted = true;
			while (*p && *p != q) {
				if (*p == '\\' && q == '"' && p[1]) {
					p++;
					if (*p == 'n')
						sb_appendc(&b, '\n');
					else if (*p == 't')
						sb_appendc(&b, '\t');
					else
						sb_appendc(&b, *p);
					p++;
					continue;
				}
				sb_appendc(&b, *p++);
			}
			if (*p)
				p++;
		} else {
			while (*p && !isspace((unsigned char)*p))
				sb_appendc(&b, *p++);
		}
		w.text = b.buf ? sb_steal(&b) : xstrdup("");
		if (!w.quoted && w.text[0] == '.') {
			w.keys = xcalloc(1, sizeof(char *));
			if (w.text[1]) {
				_cleanup_strv_ char **parts = str_split(w.text + 1, '.');
				for (size_t i = 0; parts[i]; i++)
					if (*parts[i])
						w.keys = strv_append(w.keys, parts[i]);
			}
		}
		out->w = xreallocarray(out->w, out->nw + 1, sizeof(*out->w));
		out->w[out->nw++] = w;
	}
}

/* sorted */
static const char *const functions[] = {"index", "join",    "json", "len",
                                        "lower", "println", "upper"};

static bool known_function(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(functions); i++)
		if (!strcmp(functions[i], name))
			return true;
	return false;
}

static int tmpl_compile(const char *text, struct tmpl *t, char **errmsg)
{
	memset(t, 0, sizeof(*t));
	strbuf src;
	sb_init(&src);
	const char *p = text;
	while (*p) {
		const char *open = strstr(p, "{{");
		const char *lit_end = open ? open : p + strlen(p);
		if (lit_end > p) {
			strbuf lit;
			sb_init(&lit);
			for (const char *q = p; q < lit_end; q++) {
				if (*q == '\\' && q + 1 < lit_end && (q[1] == 't' || q[1] == 'n')) {
					sb_appendc(&lit, q[1] == 't' ? '\t' : '\n');
					q++;
				} else {
					sb_appendc(&lit, *q);
				}
			}
			sb_appendn(&src, lit.buf, lit.len);
			push_seg(t, (struct seg){.text = sb_steal(&lit)});
		}
		if (!open)
			break;
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			int line, col;
			t->src = sb_steal(&src);
			tmpl_pos(t, strlen(t->src), &line, &col);
			*errmsg = xasprintf(
			    "template parsing error: template: :%d: unclosed action", line);
			tmpl_clear(t);
			return -1;
		}
		const char *a = open + 2, *b = close;
		if (*a == '-')
			a++;
		if (b > a && b[-1] == '-')
			b--;
		size_t base = src.len + (size_t)(a - open);
		sb_appendn(&src, open, (size_t)(close + 2 - open));
		_cleanup_free_ char *action = xstrndup(a, (size_t)(b - a));
		struct seg s = {0};
		action_words(action, base, &s);
		push_seg(t, s);
		if (s.nw && !s.w[0].quoted && s.w[0].keys == NULL && !known_function(s.w[0].text)) {
			int line, col;
			t->src = src.buf ? sb_steal(&src) : xstrdup("");
			tmpl_pos(t, s.w[0].pos, &line, &col);
			*errmsg = xasprintf(
			    "template parsing error: template: :%d: function \"%s\" not defined",
			    line, s.w[0].text);
			tmpl_clear(t);
			return -1;
		}
		p = close + 2;
	}
	t->src = src.buf ? sb_steal(&src) : xstrdup("");
	return 0;
}

/* The Go type a JSON value stands for, as text/template names it. */
static const char *go_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "int";
	case JSON_REAL: return "float64";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	case JSON_ARRAY: return "[]interface {}";
	default: return "interface {}";
	}
}

/* Evaluate a field chain against v (borrowed result). ctx_type: the Go
 * type of v when it stands for a struct (a list command's row: an unknown
 * field is "can't evaluate field"), NULL for a map (inspect: "map has no
 * entry for key", as Docker's missingkey=error fallback says). */
static json_t *eval_field(const struct tmpl *t, const struct word *w, json_t *v,
                          const char *ctx_type, const char **last, char **errmsg)
{
	json_t *cur = v;
	*last = NULL;
	for (size_t i = 0; w->keys[i]; i++) {
		const char *k = w->keys[i];
		json_t *next = json_is_object(cur) ? json_object_get(cur, k) : NULL;
		if (next != NULL) {
			cur = next;
			*last = k;
			continue;
		}
		_cleanup_free_ char *why = NULL;
		if (json_is_object(cur) && i == 0 && ctx_type)
			why = xasprintf("can't evaluate field %s in type %s", k, ctx_type);
		else if (json_is_object(cur))
			why = xasprintf("map has no entry for key \"%s\"", k);
		else if (json_is_null(cur))
			why = xasprintf("nil pointer evaluating interface {}.%s", k);
		else
			why = xasprintf("can't evaluate field %s in type %s", k, go_type(cur));
		int line, col;
		tmpl_pos(t, w->pos, &line, &col);
		*errmsg = xasprintf("template parsing error: template: :%d:%d: executing \"\" at "
		                    "<%s>: %s",
		                    line, col, w->text, why);
		return NULL;
	}
	return cur;
}

/* The value of an argument word: a field, or a quoted string (*lit). */
static int eval_arg(const struct tmpl *t, const struct word *w, json_t *v, const char *ctx_type,
                    json_t **out, const char **last, const char **lit, char **errmsg)
{
	*out = NULL;
	*lit = NULL;
	*last = NULL;
	if (w->keys == NULL) {
		*lit = w->text;
		return 0;
	}
	*out = eval_field(t, w, v, ctx_type, last, errmsg);
	return *out == NULL ? -1 : 0;
}

/* view: what {{json .}} prints instead of v (NULL: v itself). */
static int eval_action(strbuf *out, const struct tmpl *t, const struct seg *s, json_t *v,
                       json_t *view, const char *ctx_type, char **errmsg)
{
	size_t n = s->nw;
	if (n == 0)
		return 0;
	const struct word *w = s->w;
	const char *last = NULL, *lit = NULL;
	json_t *arg = NULL;
	if (w[0].keys) {
		if (n != 1) {
			*errmsg = xasprintf("template: can't give argument to non-function %s",
			                    w[0].text);
			return -1;
		}
		if (eval_arg(t, &w[0], v, ctx_type, &arg, &last, &lit, errmsg) < 0)
			return -1;
		go_value(out, arg, last);
		return 0;
	}
	if (w[0].quoted) {
		sb_append(out, w[0].text);
		return 0;
	}
	const char *fn = w[0].text;
	if (!strcmp(fn, "println")) {
		for (size_t i = 1; i < n; i++) {
			if (i > 1)
				sb_appendc(out, ' ');
			if (eval_arg(t, &w[i], v, ctx_type, &arg, &last, &lit, errmsg) < 0)
				return -1;
			if (lit)
				sb_append(out, lit);
			else
				go_value(out, arg, last);
		}
		sb_appendc(out, '\n');
		return 0;
	}
	if (n < 2) {
		*errmsg = xasprintf("template: wrong number of args for %s", fn);
		return -1;
	}
	if (eval_arg(t, &w[1], v, ctx_type, &arg, &last, &lit, errmsg) < 0)
		return -1;
	if (view && w[1].keys && w[1].keys[0] == NULL)
		arg = view;
	if (!strcmp(fn, "json")) {
		if (lit) {
			_cleanup_json_ json_t *j = json_string(lit);
			_cleanup_free_ char *js = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
			sb_append(out, js ? js : "null");
			return 0;
		}
		_cleanup_free_ char *js = json_dumps(arg, JSON_COMPACT | JSON_ENCODE_ANY);
		sb_append(out, js ? js : "null");
	} else if (!strcmp(fn, "index") && n >= 3) {
		json_t *x = NULL;
		if (json_is_array(arg))
			x = json_array_get(arg, (size_t)strtoul(w[2].text, NULL, 10));
		else if (json_is_object(arg))
			x = json_object_get(arg, w[2].text);
		if (x == NULL && json_is_array(arg)) {
			*errmsg = xasprintf("template: error calling index: index out of range: %s",
			                    w[2].text);
			return -1;
		}
		go_value(out, x, NULL);
	} else if (!strcmp(fn, "join") && n >= 3) {
		size_t i;
		json_t *x;
		if (json_is_array(arg)) {
			json_array_foreach (arg, i, x) {
				if (i)
					sb_append(out, w[2].text);
				go_value(out, x, NULL);
			}
		}
	} else if (!strcmp(fn, "upper") || !strcmp(fn, "lower")) {
		strbuf tb;
		sb_init(&tb);
		if (lit)
			sb_append(&tb, lit);
		else
			go_value(&tb, arg, last);
		for (size_t i = 0; i < tb.len; i++)
			tb.buf[i] = (char)(fn[0] == 'u' ? toupper((unsigned char)tb.buf[i])
			                                : tolower((unsigned char)tb.buf[i]));
		sb_appendn(out, tb.buf ? tb.buf : "", tb.len);
		sb_free(&tb);
	} else if (!strcmp(fn, "len")) {
		size_t l = 0;
		if (lit)
			l = strlen(lit);
		else if (json_is_array(arg))
			l = json_array_size(arg);
		else if (json_is_object(arg))
			l = json_object_size(arg);
		else if (json_is_string(arg))
			l = json_string_length(arg);
		sb_printf(out, "%zu", l);
	} else {
		*errmsg = xasprintf("template: wrong number of args for %s", fn);
		return -1;
	}
	return 0;
}

static char *render(const struct tmpl *t, json_t *v, json_t *view, const char *ctx_type,
                    char **errmsg)
{
	strbuf out;
	sb_init(&out);
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->v[i];
		if (s->text) {
			sb_append(&out, s->text);
			continue;
		}
		if (eval_action(&out, t, s, v, view, ctx_type, errmsg) < 0) {
			sb_free(&out);
			return NULL;
		}
	}
	return out.buf ? sb_steal(&out) : xstrdup("");
}

char *cli_template_render(const char *tmpl, json_t *v, char **errmsg)
{
	struct tmpl t;
	if (tmpl_compile(tmpl, &t, errmsg) < 0)
		return NULL;
	char *s = render(&t, v, NULL, NULL, errmsg);
	tmpl_clear(&t);
	return s;
}

struct cli_format {
	bool table, json;
	char *tmpl; /* the template (without "table ") */
	struct tmpl t;
	const char *ctx_type; /* Go type of a row (cli_format_set_type) */
	char **lines; /* buffered table rows */
	size_t nlines;
};

cli_format *cli_format_new(const char *fmt, const char *def, char **errmsg)
{
	cli_format *f = xcalloc(1, sizeof(*f));
	if (fmt == NULL || !*fmt || !strcmp(fmt, "table"))
		fmt = def;
	if (!strcmp(fmt, "json")) {
		f->json = true;
		return f;
	}
	if (str_has_prefix(fmt, "table ") || str_has_prefix(fmt, "table\t")) {
		f->table = true;
		fmt += 6;
	}
	f->tmpl = xstrdup(fmt);
	if (tmpl_compile(f->tmpl, &f->t, errmsg) < 0) {
		cli_format_free(f);
		return NULL;
	}
	return f;
}

void cli_format_set_type(cli_format *f, const char *go_type_name)
{
	f->ctx_type = go_type_name;
}

bool cli_format_uses(const cli_format *f, const char *field)
{
	if (f->json)
		return true;
	for (size_t i = 0; i < f->t.n; i++)
		for (size_t k = 0; k < f->t.v[i].nw; k++) {
			char **keys = f->t.v[i].w[k].keys;
			if (keys && (keys[0] == NULL || !strcmp(keys[0], field)))
				return true;
		}
	return false;
}

void cli_format_free(cli_format *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	free(f->lines);
	free(f->tmpl);
	tmpl_clear(&f->t);
	free(f);
}

bool cli_format_is_table(const cli_format *f)
{
	return f->table;
}

bool cli_format_is_json(const cli_format *f)
{
	return f->json;
}

int cli_format_row(cli_format *f, FILE *out, json_t *row, char **errmsg)
{
	return cli_format_row_view(f, out, row, NULL, errmsg);
}

int cli_format_row_view(cli_format *f, FILE *out, json_t *row, json_t *json_view, char **errmsg)
{
	if (f->json) {
		_cleanup_free_ char *s =
		    json_dumps(json_view ? json_view : row, JSON_COMPACT | JSON_SORT_KEYS);
		fprintf(out, "%s\n", s);
		return 0;
	}
	char *line = render(&f->t, row, json_view, f->ctx_type, errmsg);
	if (line == NULL)
		return -1;
	if (f->table) {
		f->lines = xreallocarray(f->lines, f->nlines + 1, sizeof(char *));
		f->lines[f->nlines++] = line;
	} else {
		fprintf(out, "%s\n", line);
		free(line);
	}
	return 0;
}

/* Header: the template with each {{.Field}} replaced by its header. */
static char *header_line(const struct tmpl *t, const cli_column *cols, size_t ncols)
{
	strbuf out;
	sb_init(&out);
	for (size_t i = 0; i < t->n; i++) {
		const struct seg *s = &t->v[i];
		if (s->text) {
			sb_append(&out, s->text);
			continue;
		}
		const char *field = NULL;
		for (size_t k = 0; k < s->nw; k++)
			if (s->w[k].keys && s->w[k].text[1])
				field = s->w[k].text + 1;
		const char *hdr = NULL;
		for (size_t c = 0; field && c < ncols; c++)
			if (!strcmp(cols[c].field, field))
				hdr = cols[c].header;
		if (hdr)
			sb_append(&out, hdr);
		else if (field) {
			for (const char *c = field; *c; c++)
				sb_appendc(&out, (char)toupper((unsigned char)*c));
		}
	}
	return out.buf ? sb_steal(&out) : xstrdup("");
}

/* Go's tabwriter counts a cell's width in code points, not bytes. */
static size_t u8_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void cli_tabwrite(FILE *out, char **lines, size_t n)
{
	/* Go's tabwriter (minwidth 10, padding 3): a cell is text followed by a
	 * tab; the text after the last tab of a line is not aligned. */
	size_t maxcols = 0;
	char ***cells = xcalloc(n + 1, sizeof(char **));
	for (size_t i = 0; i < n; i++) {
		cells[i] = str_split(lines[i], '\t');
		size_t c = strv_len(cells[i]);
		if (c > maxcols)
			maxcols = c;
	}
	size_t *width = xcalloc(maxcols + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		size_t c = strv_len(cells[i]);
		for (size_t k = 0; k + 1 < c; k++) {
			size_t l = u8_width(cells[i][k]) + 3;
			if (l < 10)
				l = 10;
			if (l > width[k])
				width[k] = l;
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t c = strv_len(cells[i]);
		for (size_t k = 0; k < c; k++) {
			if (k + 1 < c)
				fprintf(out, "%s%*s", cells[i][k],
				        (int)(width[k] - u8_width(cells[i][k])), "");
			else
				fputs(cells[i][k], out);
		}
		fputc('\n', out);
		strv_free(cells[i]);
	}
	free(cells);
	free(width);
}

void cli_format_flush(cli_format *f, FILE *out, const cli_column *cols, size_t ncols)
{
	if (!f->table)
		return;
	char **all = xcalloc(f->nlines + 2, sizeof(char *));
	all[0] = header_line(&f->t, cols, ncols);
	for (size_t i = 0; i < f->nlines; i++)
		all[i + 1] = f->lines[i];
	cli_tabwrite(out, all, f->nlines + 1);
	free(all[0]);
	for (size_t i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	free(all);
	free(f->lines);
	f->lines = NULL;
	f->nlines = 0;
}
