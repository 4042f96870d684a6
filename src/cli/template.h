/* The template engine behind --format (format.h): a parser producing a node
 * tree and an evaluator over JSON values, with Go's text/template semantics
 * for the subset Docker's users write: text, {{pipelines}} with `|`,
 * fields (.A.B), variables ($, $x, $x.A), string/number/bool/nil literals,
 * parenthesised pipelines, {{if}}/{{else if}}/{{else}}, {{range}} (arrays
 * in order, objects in sorted key order, {{break}}/{{continue}}), {{with}},
 * comments (slash-star in braces), trim markers {{- and -}}, and the
 * functions and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, print,
 * printf, println, plus Docker's json, join, split, title, lower, upper, pad,
 * truncate. template_parse.c parses, template.c executes.
 *
 * Literal text keeps Docker's "\t" and "\n" escapes. Nesting is capped at
 * CLI_TMPL_MAX_DEPTH. Errors are Go's messages wrapped as Docker wraps them
 * ("template parsing error: template: :LINE: ..." when parsing,
 * "template parsing error: template: :LINE:COL: executing \"\" at <NODE>:
 * ..." when executing). */
#ifndef BERTH_CLI_TEMPLATE_H
#define BERTH_CLI_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>

#include "base/str.h"
#include "cli/format.h"

#define CLI_TMPL_MAX_DEPTH 100

typedef struct cli_tmpl cli_tmpl;

/* Parse text; NULL and *errmsg (allocated) on a syntax error. */
cli_tmpl *cli_tmpl_parse(const char *text, char **errmsg);
void cli_tmpl_free(cli_tmpl *t);

/* Execute against v ($ and the first dot). view (may be NULL): what
 * {{json .}} prints for v itself. ctx_type: the Go type of v when v stands
 * for a struct (a list command's row), NULL for a map (inspect). Returns the
 * output (caller frees), or NULL and *errmsg. */
char *cli_tmpl_exec(const cli_tmpl *t, json_t *v, json_t *view, const char *ctx_type,
                    char **errmsg);

/* A table's header: the template executed as Docker does it, against an
 * object whose fields are their headers (from cols, else the field name
 * upper-cased) with the string functions returning their argument; an
 * error ends the header where it happened (Docker ignores it). */
char *cli_tmpl_header(const cli_tmpl *t, const cli_column *cols, size_t ncols);

/* Whether the template may read the row's field (true for anything that
 * reads the whole row: {{.}}, {{json .}}, $). */
bool cli_tmpl_uses(const cli_tmpl *t, const char *field);

/* Print v as Go's fmt prints it ("[a b]", "map[k:v]"); key: the field name
 * v was read from (a null Labels prints "map[]", other nulls "[]"). */
void cli_tmpl_go_value(strbuf *sb, json_t *v, const char *key);

#endif
