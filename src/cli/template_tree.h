/* The template engine's tree, shared by its parser (template_parse.c) and
 * its evaluator (template.c); not for other users (see template.h). */
#ifndef BERTH_CLI_TEMPLATE_TREE_H
#define BERTH_CLI_TEMPLATE_TREE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/str.h"
#include "cli/template.h"

enum arg_kind { A_DOT, A_FIELD, A_VAR, A_STRING, A_INT, A_FLOAT, A_BOOL, A_NIL, A_FUNC, A_PIPE };

struct pipe;

/* An operand. */
struct arg {
	enum arg_kind kind;
	size_t pos; /* offset in the template */
	char *text; /* as written (an error's "<...>") */
	char *str; /* A_STRING's value, A_VAR's name ("$x"), A_FUNC's name */
	size_t len; /* A_STRING's length */
	char **keys; /* the field chain: .A.B, $x.A.B, (pipe).A */
	long long i;
	double f;
	bool b;
	struct pipe *pipe; /* A_PIPE */
};

struct cmd {
	size_t pos;
	char *text;
	struct arg *args;
	size_t nargs;
};

struct pipe {
	size_t pos;
	char *decl[2];
	size_t ndecl;
	bool assign; /* $x = (not :=) */
	struct cmd *cmds;
	size_t ncmds;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH, N_BREAK, N_CONTINUE };

struct node;
struct list {
	struct node **v;
	size_t n;
};

struct node {
	enum node_kind kind;
	size_t pos;
	char *text; /* N_TEXT */
	size_t len;
	struct pipe *pipe; /* N_ACTION, N_IF, N_RANGE, N_WITH */
	struct list list, elselist;
};

struct cli_tmpl {
	char *src; /* the template with literal text's escapes resolved */
	struct list root;
};

/* "LINE" (from 1) and column (from 0) of offset pos, as Go counts them. */
void cli_tmpl_src_pos(const char *src, size_t pos, int *line, int *col);
/* Append code point cp as UTF-8. */
void cli_tmpl_put_utf8(strbuf *sb, unsigned long cp);

#endif
