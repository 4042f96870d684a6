/* Dockerfile parsing: parser directives, comments, line continuations,
 * heredocs, exec (JSON) and shell forms, flags; and the shell-word lexer
 * that expands variables exactly where and how Docker does. */
#ifndef BERTH_BUILD_DOCKERFILE_H
#define BERTH_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

typedef struct df_heredoc {
	char *name; /* delimiter word */
	char *content; /* body, with a trailing newline per line */
	bool expand; /* false when the delimiter was quoted */
	bool chomp; /* <<- : leading tabs were removed */
} df_heredoc;

typedef struct df_instr {
	char *keyword; /* lower case: "from", "run", ... */
	int line; /* first line, 1-based */
	int end_line; /* last line of the instruction (incl. heredocs) */
	char *original; /* the instruction as written, continuations joined */
	char **flags; /* leading "--name=value" / "--name" words, raw */
	char *rest; /* the text after the keyword and flags (raw) */
	bool exec_form; /* args come from a JSON array */
	char **args; /* exec form: the array; RUN/CMD/ENTRYPOINT/HEALTHCHECK shell
			  * form: one element, the command text; other instructions:
			  * the words of rest, quotes kept (expand with df_expand) */
	df_heredoc *heredocs;
	size_t n_heredocs;
} df_instr;

typedef struct dockerfile {
	char *filename;
	char escape; /* '\\' or '`' */
	char *syntax; /* "# syntax=" value, accepted and ignored */
	df_instr *instrs;
	size_t n;
} dockerfile;

/* Parse a whole Dockerfile. Errors read "FILE:LINE: problem". */
int dockerfile_parse(const char *buf, size_t len, const char *filename, dockerfile **out,
                     berth_error **err);
void dockerfile_free(dockerfile *df);
static inline void dockerfile_freep(dockerfile **d)
{
	dockerfile_free(*d);
}
#define _cleanup_dockerfile_ __attribute__((cleanup(dockerfile_freep)))

/* Parse one instruction line (e.g. an ONBUILD trigger). */
int df_parse_instruction(const char *text, char escape, const char *filename, int line,
                         df_instr *out, berth_error **err);
void df_instr_clear(df_instr *in);

/* Value of flag "--name" in in->flags: the text after '=' ("" for a bare
 * flag), NULL when absent. The last occurrence wins. */
const char *df_flag(const df_instr *in, const char *name);
/* All values of a repeatable flag (e.g. --mount); NULL-terminated. */
char **df_flag_all(const df_instr *in, const char *name);

/* Variable lookup for expansion: returns the value or NULL when unset. */
typedef const char *(*df_lookup_fn)(void *ud, const char *name);

/* Expand one word as Docker's shell lexer does: quotes removed, escapes
 * processed, $var ${var} ${var:-w} ${var-w} ${var:+w} ${var+w} ${var:?w}
 * ${var?w} substituted. No word splitting. */
int df_expand(const char *word, char escape, df_lookup_fn lookup, void *ud, char **out,
              berth_error **err);
/* Expand and split into words on unquoted blanks (Docker's ProcessWords). */
int df_expand_words(const char *text, char escape, df_lookup_fn lookup, void *ud, char ***out,
                    berth_error **err);
/* Split text into words on unquoted blanks, keeping quotes and escapes. */
char **df_split_words(const char *text, char escape);

/* key=value pairs of ENV / LABEL (or the legacy "ENV key value" form), each
 * side expanded with lookup (NULL lookup: quotes processed only). */
int df_parse_kv(const df_instr *in, char escape, df_lookup_fn lookup, void *ud, char ***keys,
                char ***values, berth_error **err);

#endif
