/* --format for list and inspect commands (see format.h); the template
 * engine is template.c. */
#include "cli/format.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/template.h"

char *cli_template_render(const char *tmpl, json_t *v, char **errmsg)
{
	cli_tmpl *t = cli_tmpl_parse(tmpl, errmsg);
	if (t == NULL)
		return NULL;
	char *s = cli_tmpl_exec(t, v, NULL, NULL, errmsg);
	cli_tmpl_free(t);
	return s;
}

struct cli_format {
	bool table, json;
	char *tmpl; /* the template (without "table ") */
	cli_tmpl *t;
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
	f->t = cli_tmpl_parse(f->tmpl, errmsg);
	if (f->t == NULL) {
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
	return f->json || cli_tmpl_uses(f->t, field);
}

void cli_format_free(cli_format *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nlines; i++)
		free(f->lines[i]);
	free(f->lines);
	free(f->tmpl);
	cli_tmpl_free(f->t);
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
	char *line = cli_tmpl_exec(f->t, row, json_view, f->ctx_type, errmsg);
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
	all[0] = cli_tmpl_header(f->t, cols, ncols);
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
