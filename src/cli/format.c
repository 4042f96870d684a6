/* The --format template subset (see format.h). */
#include "cli/format.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

struct cli_format {
	bool table, json;
	char *tmpl; /* the template (without "table ") */
	char **lines; /* buffered table rows */
	size_t nlines;
};

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

/* Evaluate ".A.B" / "." against v; *last gets the last key. Borrowed. */
static json_t *eval_path(json_t *v, const char *path, const char **last, bool *missing)
{
	*missing = false;
	if (!strcmp(path, "."))
		return v;
	if (path[0] != '.')
		return NULL;
	_cleanup_free_ char *copy = xstrdup(path + 1);
	char *save = NULL;
	json_t *cur = v;
	static __thread char lastkey[128];
	for (char *k = strtok_r(copy, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (!json_is_object(cur)) {
			*missing = true;
			return NULL;
		}
		cur = json_object_get(cur, k);
		snprintf(lastkey, sizeof(lastkey), "%s", k);
		if (cur == NULL) {
			*missing = true;
			return NULL;
		}
	}
	if (last)
		*last = lastkey;
	return cur;
}

/* Split an action's words (quoted strings kept whole, quotes removed). */
static char **action_words(const char *s)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *p = s;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		strbuf w;
		sb_init(&w);
		if (*p == '"' || *p == '`') {
			char q = *p++;
			while (*p && *p != q) {
				if (*p == '\\' && q == '"' && p[1]) {
					p++;
					if (*p == 'n')
						sb_appendc(&w, '\n');
					else if (*p == 't')
						sb_appendc(&w, '\t');
					else
						sb_appendc(&w, *p);
					p++;
					continue;
				}
				sb_appendc(&w, *p++);
			}
			if (*p)
				p++;
			if (w.len == 0)
				sb_append(&w, "");
		} else {
			while (*p && !isspace((unsigned char)*p))
				sb_appendc(&w, *p++);
		}
		char *x = sb_steal(&w);
		v = strv_append(v, x);
		free(x);
	}
	return v;
}

/* view: what {{json .}} prints instead of v (NULL: v itself). */
static int eval_action(strbuf *out, const char *action, json_t *v, json_t *view, char **errmsg)
{
	_cleanup_strv_ char **w = action_words(action);
	size_t n = strv_len(w);
	if (n == 0)
		return 0;
	const char *last = NULL;
	bool missing = false;
	if (w[0][0] == '.') {
		if (n != 1) {
			*errmsg =
			    xasprintf("template: can't give argument to non-function %s", w[0]);
			return -1;
		}
		json_t *x = eval_path(v, w[0], &last, &missing);
		go_value(out, x, last);
		return 0;
	}
	const char *fn = w[0];
	if (!strcmp(fn, "println")) {
		for (size_t i = 1; i < n; i++) {
			if (i > 1)
				sb_appendc(out, ' ');
			go_value(out, eval_path(v, w[i], &last, &missing), last);
		}
		sb_appendc(out, '\n');
		return 0;
	}
	if (n < 2) {
		*errmsg = xasprintf("template: wrong number of args for %s", fn);
		return -1;
	}
	json_t *arg = eval_path(v, w[1], &last, &missing);
	if (view && !strcmp(w[1], "."))
		arg = view;
	if (!strcmp(fn, "json")) {
		if (arg == NULL) {
			sb_append(out, "null");
			return 0;
		}
		_cleanup_free_ char *s = json_dumps(arg, JSON_COMPACT | JSON_ENCODE_ANY);
		sb_append(out, s ? s : "null");
	} else if (!strcmp(fn, "index") && n >= 3) {
		json_t *x = NULL;
		if (json_is_array(arg))
			x = json_array_get(arg, (size_t)strtoul(w[2], NULL, 10));
		else if (json_is_object(arg))
			x = json_object_get(arg, w[2]);
		if (x == NULL && json_is_array(arg)) {
			*errmsg = xasprintf("template: error calling index: index out of range: %s",
			                    w[2]);
			return -1;
		}
		go_value(out, x, NULL);
	} else if (!strcmp(fn, "join") && n >= 3) {
		size_t i;
		json_t *x;
		if (json_is_array(arg)) {
			json_array_foreach (arg, i, x) {
				if (i)
					sb_append(out, w[2]);
				go_value(out, x, NULL);
			}
		}
	} else if (!strcmp(fn, "upper") || !strcmp(fn, "lower")) {
		strbuf t;
		sb_init(&t);
		go_value(&t, arg, last);
		for (size_t i = 0; i < t.len; i++)
			t.buf[i] = (char)(fn[0] == 'u' ? toupper((unsigned char)t.buf[i])
			                               : tolower((unsigned char)t.buf[i]));
		sb_appendn(out, t.buf ? t.buf : "", t.len);
		sb_free(&t);
	} else if (!strcmp(fn, "len")) {
		size_t l = 0;
		if (json_is_array(arg))
			l = json_array_size(arg);
		else if (json_is_object(arg))
			l = json_object_size(arg);
		else if (json_is_string(arg))
			l = json_string_length(arg);
		sb_printf(out, "%zu", l);
	} else {
		*errmsg = xasprintf("template: function \"%s\" not defined", fn);
		return -1;
	}
	return 0;
}

static char *render(const char *tmpl, json_t *v, json_t *view, char **errmsg)
{
	strbuf out;
	sb_init(&out);
	const char *p = tmpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		const char *lit_end = open ? open : p + strlen(p);
		for (const char *q = p; q < lit_end; q++) {
			if (*q == '\\' && q + 1 < lit_end && (q[1] == 't' || q[1] == 'n')) {
				sb_appendc(&out, q[1] == 't' ? '\t' : '\n');
				q++;
			} else {
				sb_appendc(&out, *q);
			}
		}
		if (!open)
			break;
		const char *close = strstr(open + 2, "}}");
		if (!close) {
			*errmsg = xstrdup("template: unclosed action");
			sb_free(&out);
			return NULL;
		}
		const char *a = open + 2, *b = close;
		if (*a == '-')
			a++;
		if (b > a && b[-1] == '-')
			b--;
		_cleanup_free_ char *action = xstrndup(a, (size_t)(b - a));
		if (eval_action(&out, action, v, view, errmsg) < 0) {
			sb_free(&out);
			return NULL;
		}
		p = close + 2;
	}
	return sb_steal(&out);
}

char *cli_template_render(const char *tmpl, json_t *v, char **errmsg)
{
	return render(tmpl, v, NULL, errmsg);
}

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
	if (strstr(f->tmpl, "{{") && !strstr(f->tmpl, "}}")) {
		*errmsg = xstrdup("template: unclosed action");
		cli_format_free(f);
		return NULL;
	}
	return f;
}

void cli_format_free(cli_format *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	free(f->lines);
	free(f->tmpl);
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
	char *line = render(f->tmpl, row, json_view, errmsg);
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
static char *header_line(const char *tmpl, const cli_column *cols, size_t ncols)
{
	strbuf out;
	sb_init(&out);
	const char *p = tmpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		const char *lit_end = open ? open : p + strlen(p);
		for (const char *q = p; q < lit_end; q++) {
			if (*q == '\\' && q + 1 < lit_end && q[1] == 't') {
				sb_appendc(&out, '\t');
				q++;
			} else {
				sb_appendc(&out, *q);
			}
		}
		if (!open)
			break;
		const char *close = strstr(open + 2, "}}");
		if (!close)
			break;
		_cleanup_free_ char *action = xstrndup(open + 2, (size_t)(close - open - 2));
		_cleanup_strv_ char **w = action_words(action);
		const char *field = NULL;
		for (char **x = w; *x; x++)
			if ((*x)[0] == '.' && (*x)[1])
				field = *x + 1;
		const char *hdr = NULL;
		for (size_t i = 0; field && i < ncols; i++)
			if (!strcmp(cols[i].field, field))
				hdr = cols[i].header;
		if (hdr)
			sb_append(&out, hdr);
		else if (field) {
			for (const char *c = field; *c; c++)
				sb_appendc(&out, (char)toupper((unsigned char)*c));
		}
		p = close + 2;
	}
	return sb_steal(&out);
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
	all[0] = header_line(f->tmpl, cols, ncols);
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
