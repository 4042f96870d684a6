/* --format for list and inspect commands: a subset of Go's text/template as
 * Docker uses it. "table" (default columns) / "table TEMPLATE" (a header row
 * and tab-aligned columns), "json" (one JSON object per line), or a plain
 * TEMPLATE. Templates: literal text, "\t" and "\n" escapes, {{.A.B}},
 * {{json .}}, {{json .A}}, {{index .A N}} / {{index .A "key"}},
 * {{join .A SEP}}, {{upper .A}}, {{lower .A}}, {{len .A}}, {{println}}.
 * Values print as Go does: arrays "[a b]", objects "map[k:v]".
 *
 * Errors read as Docker's (Go's text/template messages, wrapped in
 * "template parsing error: "): an unknown function or an unclosed action
 * when the template is compiled, and a field the value does not have when
 * it is rendered ("template: :1:2: executing \"\" at <.X>: can't evaluate
 * field X in type *formatter.ContainerContext" for a list command's row,
 * "map has no entry for key \"X\"" for inspect's objects). */
#ifndef BERTH_CLI_FORMAT_H
#define BERTH_CLI_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct cli_format cli_format;

/* Column headers of a table: field name -> header ("ID" -> "IMAGE ID"). */
typedef struct cli_column {
	const char *field;
	const char *header;
} cli_column;

/* fmt NULL or "" or "table" -> def (a "table ..." string). */
cli_format *cli_format_new(const char *fmt, const char *def, char **errmsg);
void cli_format_free(cli_format *f);
/* The Go type Docker's formatter gives a row ("*formatter.ContainerContext"):
 * a row is then a struct, whose unknown fields are errors of that type
 * (static string; without it a row is a map). */
void cli_format_set_type(cli_format *f, const char *go_type_name);
/* Whether the template reads field (or the whole row: json, {{json .}}):
 * a caller may leave out of its rows the fields no template reads. */
bool cli_format_uses(const cli_format *f, const char *field);
static inline void cli_format_freep(cli_format **f)
{
	cli_format_free(*f);
}
#define _cleanup_format_ __attribute__((cleanup(cli_format_freep)))

bool cli_format_is_table(const cli_format *f);
bool cli_format_is_json(const cli_format *f);

/* Add one row (object of fields). Tables are buffered until flush. */
int cli_format_row(cli_format *f, FILE *out, json_t *row, char **errmsg);
/* The same, with json_view (when not NULL) printed instead of row where
 * the whole row is shown as JSON ("json" format, {{json .}}): Docker's
 * search shows IsOfficial as "[OK]" in tables but "true" in JSON. */
int cli_format_row_view(cli_format *f, FILE *out, json_t *row, json_t *json_view, char **errmsg);
/* Print the table (header from cols when given, else the upper-cased field
 * names) and reset. */
void cli_format_flush(cli_format *f, FILE *out, const cli_column *cols, size_t ncols);

/* Render one template against a value (for inspect -f); caller frees. */
char *cli_template_render(const char *tmpl, json_t *v, char **errmsg);

/* Go's tabwriter as Docker configures it (minwidth 10? no: 0, padding 3):
 * print rows of tab-separated cells aligned. */
void cli_tabwrite(FILE *out, char **lines, size_t n);

#endif
