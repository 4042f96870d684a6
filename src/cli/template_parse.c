/* The template engine's parser: template text to a node tree (see
 * template.h and template_tree.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/template.h"
#include "cli/template_tree.h"

static void pipe_free(struct pipe *p);

static void arg_clear(struct arg *a)
{
	free(a->text);
	free(a->str);
	strv_free(a->keys);
	pipe_free(a->pipe);
}

static void pipe_free(struct pipe *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->ncmds; i++) {
		for (size_t k = 0; k < p->cmds[i].nargs; k++)
			arg_clear(&p->cmds[i].args[k]);
		free(p->cmds[i].args);
		free(p->cmds[i].text);
	}
	free(p->cmds);
	free(p->decl[0]);
	free(p->decl[1]);
	free(p);
}

static void list_clear(struct list *l);

static void node_free(struct node *n)
{
	if (n == NULL)
		return;
	free(n->text);
	pipe_free(n->pipe);
	list_clear(&n->list);
	list_clear(&n->elselist);
	free(n);
}

static void list_clear(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		node_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void list_push(struct list *l, struct node *n)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = n;
}

void cli_tmpl_free(cli_tmpl *t)
{
	if (t == NULL)
		return;
	list_clear(&t->root);
	free(t->src);
	free(t);
}

/* ---- parsing ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_ident(char c)
{
	return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

static bool is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80;
}

/* Line (from 1) and column (from 0) of offset pos, as Go counts them. */
void cli_tmpl_src_pos(const char *src, size_t pos, int *line, int *col)
{
	*line = 1;
	size_t start = 0;
	for (size_t i = 0; i < pos && src[i]; i++)
		if (src[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = (int)(pos - start);
}

/* Docker turns "\t" and "\n" in the text into tabs and newlines; actions
 * are copied as written (their strings have escapes of their own). */
static char *resolve_escapes(const char *text)
{
	strbuf sb;
	sb_init(&sb);
	const char *p = text;
	while (*p) {
		if (p[0] == '{' && p[1] == '{') {
			sb_appendn(&sb, p, 2);
			p += 2;
			char quote = 0;
			while (*p) {
				if (quote) {
					if (*p == '\\' && quote != '`' && p[1]) {
						sb_appendn(&sb, p, 2);
						p += 2;
						continue;
					}
					if (*p == quote)
						quote = 0;
					sb_appendc(&sb, *p++);
					continue;
				}
				if (*p == '"' || *p == '`' || *p == '\'') {
					quote = *p;
				} else if (p[0] == '/' && p[1] == '*') {
					const char *e = strstr(p + 2, "*/");
					size_t n = e ? (size_t)(e + 2 - p) : strlen(p);
					sb_appendn(&sb, p, n);
					p += n;
					continue;
				} else if (p[0] == '}' && p[1] == '}') {
					sb_appendn(&sb, p, 2);
					p += 2;
					break;
				}
				sb_appendc(&sb, *p++);
			}
			continue;
		}
		if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
			sb_appendc(&sb, p[1] == 't' ? '\t' : '\n');
			p += 2;
			continue;
		}
		sb_appendc(&sb, *p++);
	}
	return sb.buf ? sb_steal(&sb) : xstrdup("");
}

struct parser {
	const char *s;
	size_t pos;
	char **vars; /* variables in scope, innermost last */
	size_t nvars;
	int depth;
	int ranges; /* enclosing {{range}} bodies */
	bool trim_next; /* the last action ended with " -}}" */
	char *err;
};

static int perr(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct parser *p, size_t pos, const char *fmt, ...)
{
	if (p->err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	int line, col;
	cli_tmpl_src_pos(p->s, pos, &line, &col);
	p->err = xasprintf("template parsing error: template: :%d: %s", line, msg);
	return -1;
}

static void vars_push(struct parser *p, const char *name)
{
	p->vars = xreallocarray(p->vars, p->nvars + 1, sizeof(char *));
	p->vars[p->nvars++] = xstrdup(name);
}

static void vars_pop(struct parser *p, size_t n)
{
	while (p->nvars > n)
		free(p->vars[--p->nvars]);
}

static bool var_defined(const struct parser *p, const char *name)
{
	if (!strcmp(name, "$"))
		return true;
	for (size_t i = p->nvars; i > 0; i--)
		if (!strcmp(p->vars[i - 1], name))
			return true;
	return false;
}

static void skip_space(struct parser *p)
{
	while (is_space(p->s[p->pos]))
		p->pos++;
}

/* At "}}", or at " -}}" (trim marker): the end of the action. */
static bool at_close(const struct parser *p, bool *trim)
{
	const char *c = p->s + p->pos;
	*trim = false;
	if (c[0] == '}' && c[1] == '}')
		return true;
	if (c[0] == '-' && c[1] == '}' && c[2] == '}' && p->pos > 0 && is_space(c[-1])) {
		*trim = true;
		return true;
	}
	return false;
}

static int expect_close(struct parser *p, const char *context)
{
	skip_space(p);
	bool trim;
	if (at_close(p, &trim)) {
		p->pos += trim ? 3 : 2;
		p->trim_next = trim;
		return 0;
	}
	char c = p->s[p->pos];
	if (c == 0)
		return perr(p, p->pos, "unclosed action");
	if (c == ')')
		return perr(p, p->pos, "unexpected right paren");
	return perr(p, p->pos, "unexpected \"%c\" in %s", c, context);
}

/* The identifier at pos (not consumed), in buf; false if none. */
static bool peek_word(const struct parser *p, char *buf, size_t size)
{
	size_t n = 0;
	const char *c = p->s + p->pos;
	if (!is_ident_start(*c))
		return false;
	while (is_ident(c[n]))
		n++;
	if (n >= size)
		n = size - 1;
	memcpy(buf, c, n);
	buf[n] = 0;
	return true;
}

/* sorted */
static const char *const functions[] = {"and",   "eq",    "ge",    "gt",       "index",  "join",
                                        "json",  "le",    "len",   "lower",    "lt",     "ne",
                                        "not",   "or",    "pad",   "print",    "printf", "println",
                                        "slice", "split", "title", "truncate", "upper"};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool known_function(const char *name)
{
	return bsearch(&name, functions, ARRAY_SIZE(functions), sizeof(functions[0]), cmp_str) !=
	       NULL;
}

static bool is_keyword(const char *w)
{
	static const char *const kw[] = {"block", "break", "continue", "define",   "else",
	                                 "end",   "if",    "range",    "template", "with"};
	return bsearch(&w, kw, ARRAY_SIZE(kw), sizeof(kw[0]), cmp_str) != NULL;
}

/* ".A.B" at pos: the keys; pos moves past them. */
static int parse_chain(struct parser *p, char ***keys)
{
	while (p->s[p->pos] == '.' && is_ident_start(p->s[p->pos + 1])) {
		size_t start = ++p->pos;
		while (is_ident(p->s[p->pos]))
			p->pos++;
		_cleanup_free_ char *k = xstrndup(p->s + start, p->pos - start);
		if (*keys == NULL)
			*keys = xcalloc(1, sizeof(char *));
		*keys = strv_append(*keys, k);
	}
	return 0;
}

void cli_tmpl_put_utf8(strbuf *sb, unsigned long cp)
{
	if (cp < 0x80) {
		sb_appendc(sb, (char)cp);
	} else if (cp < 0x800) {
		sb_appendc(sb, (char)(0xc0 | (cp >> 6)));
		sb_appendc(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sb_appendc(sb, (char)(0xe0 | (cp >> 12)));
		sb_appendc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_appendc(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		sb_appendc(sb, (char)(0xf0 | (cp >> 18)));
		sb_appendc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sb_appendc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_appendc(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A "..." string at pos (Go's escapes) or a `...` raw string. */
static int parse_string(struct parser *p, struct arg *a)
{
	char q = p->s[p->pos++];
	strbuf sb;
	sb_init(&sb);
	for (;;) {
		char c = p->s[p->pos];
		if (c == 0 || (c == '\n' && q == '"')) {
			sb_free(&sb);
			return perr(p, p->pos,
			            q == '"' ? "unterminated quoted string"
			                     : "unterminated raw quoted string");
		}
		p->pos++;
		if (c == q)
			break;
		if (c != '\\' || q == '`') {
			sb_appendc(&sb, c);
			continue;
		}
		c = p->s[p->pos++];
		int digits = 0;
		switch (c) {
		case 'n': sb_appendc(&sb, '\n'); break;
		case 't': sb_appendc(&sb, '\t'); break;
		case 'r': sb_appendc(&sb, '\r'); break;
		case 'a': sb_appendc(&sb, '\a'); break;
		case 'b': sb_appendc(&sb, '\b'); break;
		case 'f': sb_appendc(&sb, '\f'); break;
		case 'v': sb_appendc(&sb, '\v'); break;
		case '\\': sb_appendc(&sb, '\\'); break;
		case '"': sb_appendc(&sb, '"'); break;
		case 'x': digits = 2; break;
		case 'u': digits = 4; break;
		case 'U': digits = 8; break;
		default:
			if (c >= '0' && c <= '7' && p->s[p->pos] >= '0' && p->s[p->pos] <= '7' &&
			    p->s[p->pos + 1] >= '0' && p->s[p->pos + 1] <= '7') {
				int v = (c - '0') * 64 + (p->s[p->pos] - '0') * 8 +
				        (p->s[p->pos + 1] - '0');
				p->pos += 2;
				if (v > 255)
					goto bad;
				sb_appendc(&sb, (char)v);
				break;
			}
			goto bad;
		}
		if (digits) {
			unsigned long v = 0;
			for (int i = 0; i < digits; i++) {
				int h = str_hexval(p->s[p->pos]);
				if (h < 0)
					goto bad;
				v = v * 16 + (unsigned long)h;
				p->pos++;
			}
			if (c == 'x')
				sb_appendc(&sb, (char)v);
			else if (v > 0x10ffff || (v >= 0xd800 && v < 0xe000))
				goto bad;
			else
				cli_tmpl_put_utf8(&sb, v);
		}
	}
	a->kind = A_STRING;
	a->len = sb.len;
	a->str = sb.buf ? sb_steal(&sb) : xstrdup("");
	return 0;
bad:
	sb_free(&sb);
	return perr(p, a->pos, "invalid syntax");
}

static int parse_number(struct parser *p, struct arg *a)
{
	size_t start = p->pos;
	const char *s = p->s;
	if (s[p->pos] == '+' || s[p->pos] == '-')
		p->pos++;
	while (is_ident(s[p->pos]) || s[p->pos] == '.' ||
	       ((s[p->pos] == '+' || s[p->pos] == '-') && strchr("eEpP", s[p->pos - 1])))
		p->pos++;
	_cleanup_free_ char *text = xstrndup(s + start, p->pos - start);
	const char *digits = text + (text[0] == '+' || text[0] == '-');
	bool hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
	bool isfloat = strchr(text, '.') || (!hex && strpbrk(text, "eE"));
	char *end = NULL;
	errno = 0;
	if (isfloat) {
		a->kind = A_FLOAT;
		a->f = strtod(text, &end);
	} else {
		a->kind = A_INT;
		a->i = strtoll(text, &end, 0);
	}
	if (end == text || *end || errno || strchr(text, '_'))
		return perr(p, start, "bad number syntax: \"%s\"", text);
	return 0;
}

static struct pipe *parse_pipe(struct parser *p, const char *context, bool range, bool decl,
                               char close);

static int parse_operand(struct parser *p, struct arg *a, const char *context)
{
	const char *s = p->s;
	size_t start = p->pos;
	char c = s[start], n = c ? s[start + 1] : 0;
	a->pos = start;
	if (c == '.' && isdigit((unsigned char)n)) {
		if (parse_number(p, a) < 0)
			return -1;
	} else if (c == '.') {
		if (is_ident_start(n)) {
			a->kind = A_FIELD;
			parse_chain(p, &a->keys);
		} else {
			a->kind = A_DOT;
			p->pos++;
		}
	} else if (c == '$') {
		p->pos++;
		while (is_ident(s[p->pos]))
			p->pos++;
		a->kind = A_VAR;
		a->str = xstrndup(s + start, p->pos - start);
		if (!var_defined(p, a->str))
			return perr(p, start, "undefined variable \"%s\"", a->str);
		parse_chain(p, &a->keys);
	} else if (c == '"' || c == '`') {
		if (parse_string(p, a) < 0)
			return -1;
	} else if (isdigit((unsigned char)c) ||
	           ((c == '-' || c == '+') && (isdigit((unsigned char)n) || n == '.'))) {
		if (parse_number(p, a) < 0)
			return -1;
	} else if (c == '(') {
		if (++p->depth > CLI_TMPL_MAX_DEPTH)
			return perr(p, start, "nesting too deep (more than %d levels)",
			            CLI_TMPL_MAX_DEPTH);
		p->pos++;
		a->kind = A_PIPE;
		a->pipe = parse_pipe(p, "parenthesized pipeline", false, false, ')');
		if (a->pipe == NULL)
			return -1;
		p->depth--;
		p->pos++; /* ')' */
		parse_chain(p, &a->keys);
	} else if (is_ident_start(c)) {
		while (is_ident(s[p->pos]))
			p->pos++;
		_cleanup_free_ char *w = xstrndup(s + start, p->pos - start);
		if (!strcmp(w, "true") || !strcmp(w, "false")) {
			a->kind = A_BOOL;
			a->b = w[0] == 't';
		} else if (!strcmp(w, "nil")) {
			a->kind = A_NIL;
		} else if (is_keyword(w)) {
			return perr(p, start, "unexpected <%s> in %s", w, context);
		} else if (!known_function(w)) {
			return perr(p, start, "function \"%s\" not defined", w);
		} else {
			a->kind = A_FUNC;
			a->str = steal_ptr(w);
		}
	} else if (c == '\'') {
		return perr(p, start, "character constants are not supported");
	} else {
		return perr(p, start, "unexpected \"%c\" in %s", c, context);
	}
	a->text = xstrndup(s + start, p->pos - start);
	return 0;
}

/* Whether the pipeline ends here: at ")" (close ')') or at the action's end. */
static bool pipe_end(const struct parser *p, char close)
{
	bool trim;
	char c = p->s[p->pos];
	return c == 0 || c == '|' || c == ')' || (close != ')' && at_close(p, &trim));
}

/* A variable name at pos ("$x"), consumed. */
static char *read_var(struct parser *p)
{
	size_t start = p->pos++;
	while (is_ident(p->s[p->pos]))
		p->pos++;
	return xstrndup(p->s + start, p->pos - start);
}

/* ":=" (declare) or "=" (assign, pp->assign) at pos: read, true. */
static bool read_decl_op(struct parser *p, struct pipe *pp)
{
	const char *c = p->s + p->pos;
	if (c[0] == ':' && c[1] == '=') {
		p->pos += 2;
		return true;
	}
	if (c[0] == '=' && c[1] != '=') {
		p->pos++;
		pp->assign = true;
		return true;
	}
	return false;
}

/* Declarations: "$x :=", "$x =", in a range "$i, $v :=". */
static int parse_decl(struct parser *p, struct pipe *pp, const char *context, bool range)
{
	size_t save = p->pos;
	_cleanup_free_ char *v1 = read_var(p);
	skip_space(p);
	if (p->s[p->pos] == ',') {
		if (!range)
			return perr(p, p->pos, "too many declarations in %s", context);
		p->pos++;
		skip_space(p);
		if (p->s[p->pos] != '$')
			return perr(p, p->pos, "range can only initialize variables");
		pp->decl[1] = read_var(p);
		skip_space(p);
		if (p->s[p->pos] == ',')
			return perr(p, p->pos, "too many declarations in %s", context);
		if (!read_decl_op(p, pp))
			return perr(p, p->pos, "expected := or = after %s", pp->decl[1]);
	} else if (!read_decl_op(p, pp)) {
		p->pos = save;
		return 0;
	}
	pp->decl[0] = steal_ptr(v1);
	pp->ndecl = pp->decl[1] ? 2 : 1;
	for (size_t i = 0; pp->assign && i < pp->ndecl; i++)
		if (!var_defined(p, pp->decl[i]))
			return perr(p, save, "undefined variable \"%s\"", pp->decl[i]);
	return 0;
}

static struct pipe *parse_pipe(struct parser *p, const char *context, bool range, bool decl,
                               char close)
{
	struct pipe *pp = xcalloc(1, sizeof(*pp));
	skip_space(p);
	pp->pos = p->pos;
	if (decl && p->s[p->pos] == '$' && parse_decl(p, pp, context, range) < 0)
		goto fail;
	for (;;) {
		skip_space(p);
		struct cmd cmd = {.pos = p->pos};
		while (!pipe_end(p, close)) {
			struct arg a = {0};
			if (parse_operand(p, &a, "command") < 0) {
				arg_clear(&a);
				for (size_t i = 0; i < cmd.nargs; i++)
					arg_clear(&cmd.args[i]);
				free(cmd.args);
				goto fail;
			}
			cmd.args = xreallocarray(cmd.args, cmd.nargs + 1, sizeof(*cmd.args));
			cmd.args[cmd.nargs++] = a;
			skip_space(p);
		}
		if (cmd.nargs == 0) {
			char c = p->s[p->pos];
			if (c == 0)
				perr(p, p->pos, "unclosed action");
			else if (c == ')' && close != ')')
				perr(p, p->pos, "unexpected right paren");
			else
				perr(p, p->pos, "missing value for %s",
				     pp->ncmds ? "command" : context);
			goto fail;
		}
		/* the command's text, its arguments single-spaced (Go's String) */
		strbuf t;
		sb_init(&t);
		for (size_t i = 0; i < cmd.nargs; i++) {
			if (i)
				sb_appendc(&t, ' ');
			sb_append(&t, cmd.args[i].text);
		}
		cmd.text = sb_steal(&t);
		pp->cmds = xreallocarray(pp->cmds, pp->ncmds + 1, sizeof(*pp->cmds));
		pp->cmds[pp->ncmds++] = cmd;
		if (pp->ncmds > 1) {
			enum arg_kind k = cmd.args[0].kind;
			if (k == A_STRING || k == A_INT || k == A_FLOAT || k == A_BOOL ||
			    k == A_NIL) {
				perr(p, cmd.pos, "non executable command in pipeline stage %zu",
				     pp->ncmds);
				goto fail;
			}
		}
		char c = p->s[p->pos];
		if (c == '|') {
			p->pos++;
			continue;
		}
		if (c == 0) {
			perr(p, p->pos, close == ')' ? "unclosed left paren" : "unclosed action");
			goto fail;
		}
		if (c == ')' && close != ')') {
			perr(p, p->pos, "unexpected right paren");
			goto fail;
		}
		if (c != ')' && close == ')') {
			perr(p, p->pos, "unclosed left paren");
			goto fail;
		}
		break;
	}
	if (!pp->assign)
		for (size_t i = 0; i < pp->ndecl; i++)
			vars_push(p, pp->decl[i]);
	return pp;
fail:
	pipe_free(pp);
	return NULL;
}

enum list_end { END_EOF, END_END, END_ELSE };

static int parse_list(struct parser *p, struct list *l, enum list_end *end, size_t *end_pos);

static int parse_control(struct parser *p, enum node_kind kind, size_t pos, struct list *out)
{
	static const char *const names[] = {[N_IF] = "if", [N_RANGE] = "range", [N_WITH] = "with"};
	if (++p->depth > CLI_TMPL_MAX_DEPTH)
		return perr(p, pos, "nesting too deep (more than %d levels)", CLI_TMPL_MAX_DEPTH);
	size_t nvars = p->nvars;
	struct node *n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	list_push(out, n);
	n->pipe = parse_pipe(p, names[kind], kind == N_RANGE, true, 0);
	if (n->pipe == NULL || expect_close(p, names[kind]) < 0)
		return -1;
	enum list_end end;
	size_t end_pos;
	if (kind == N_RANGE)
		p->ranges++;
	int r = parse_list(p, &n->list, &end, &end_pos);
	if (kind == N_RANGE)
		p->ranges--;
	if (r < 0)
		return -1;
	if (end == END_EOF)
		return perr(p, p->pos, "unexpected EOF");
	if (end == END_ELSE) {
		skip_space(p);
		char w[16];
		if (kind != N_RANGE && peek_word(p, w, sizeof(w)) && !strcmp(w, names[kind])) {
			/* {{else if X}} / {{else with X}}: a nested if/with
			 * that ends at the same {{end}} */
			size_t at = p->pos;
			p->pos += strlen(w);
			if (parse_control(p, kind, at, &n->elselist) < 0)
				return -1;
		} else {
			if (expect_close(p, "else") < 0)
				return -1;
			if (parse_list(p, &n->elselist, &end, &end_pos) < 0)
				return -1;
			if (end == END_EOF)
				return perr(p, p->pos, "unexpected EOF");
			if (end == END_ELSE)
				return perr(p, end_pos, "expected end; found {{else}}");
		}
	}
	vars_pop(p, nvars);
	p->depth--;
	return 0;
}

/* Text and actions up to {{end}}, {{else}} (pos after "else") or EOF. */
static int parse_list(struct parser *p, struct list *l, enum list_end *end, size_t *end_pos)
{
	const char *s = p->s;
	for (;;) {
		const char *open = strstr(s + p->pos, "{{");
		size_t tend = open ? (size_t)(open - s) : strlen(s);
		bool ltrim = open && open[2] == '-' && is_space(open[3]);
		size_t ts = p->pos, te = tend;
		if (p->trim_next)
			while (ts < te && is_space(s[ts]))
				ts++;
		p->trim_next = false;
		if (ltrim)
			while (te > ts && is_space(s[te - 1]))
				te--;
		if (te > ts) {
			struct node *n = xcalloc(1, sizeof(*n));
			n->kind = N_TEXT;
			n->pos = ts;
			n->len = te - ts;
			n->text = xstrndup(s + ts, te - ts);
			list_push(l, n);
		}
		if (open == NULL) {
			p->pos = tend;
			*end = END_EOF;
			return 0;
		}
		p->pos = tend + 2 + (ltrim ? 2 : 0);
		if (s[p->pos] == '/' && s[p->pos + 1] == '*') {
			const char *e = strstr(s + p->pos + 2, "*/");
			if (e == NULL)
				return perr(p, p->pos, "unclosed comment");
			p->pos = (size_t)(e + 2 - s);
			bool trim;
			if (s[p->pos] == ' ')
				p->pos++;
			if (!at_close(p, &trim) || (trim && s[p->pos - 1] != ' ') ||
			    (!trim && s[p->pos - 1] == ' '))
				return perr(p, p->pos, "comment ends before closing delimiter");
			p->pos += trim ? 3 : 2;
			p->trim_next = trim;
			continue;
		}
		skip_space(p);
		size_t at = p->pos;
		char w[16];
		if (!peek_word(p, w, sizeof(w)) || !is_keyword(w) || is_ident(s[at + strlen(w)])) {
			struct pipe *pp = parse_pipe(p, "command", false, true, 0);
			if (pp == NULL)
				return -1;
			struct node *n = xcalloc(1, sizeof(*n));
			n->kind = N_ACTION;
			n->pos = at;
			n->pipe = pp;
			list_push(l, n);
			if (expect_close(p, "command") < 0)
				return -1;
			continue;
		}
		p->pos += strlen(w);
		if (!strcmp(w, "end") || !strcmp(w, "else")) {
			*end = w[1] == 'n' ? END_END : END_ELSE;
			*end_pos = at;
			if (*end == END_END && expect_close(p, "end") < 0)
				return -1;
			return 0;
		}
		if (!strcmp(w, "if") || !strcmp(w, "range") || !strcmp(w, "with")) {
			enum node_kind k = w[0] == 'i' ? N_IF : w[0] == 'r' ? N_RANGE : N_WITH;
			if (parse_control(p, k, at, l) < 0)
				return -1;
			continue;
		}
		if (!strcmp(w, "break") || !strcmp(w, "continue")) {
			if (p->ranges == 0)
				return perr(p, at, "{{%s}} outside {{range}}", w);
			if (expect_close(p, w) < 0)
				return -1;
			struct node *n = xcalloc(1, sizeof(*n));
			n->kind = w[0] == 'b' ? N_BREAK : N_CONTINUE;
			n->pos = at;
			list_push(l, n);
			continue;
		}
		return perr(p, at, "{{%s}} is not supported", w);
	}
}

cli_tmpl *cli_tmpl_parse(const char *text, char **errmsg)
{
	cli_tmpl *t = xcalloc(1, sizeof(*t));
	t->src = resolve_escapes(text);
	struct parser p = {.s = t->src};
	enum list_end end;
	size_t end_pos = 0;
	int r = parse_list(&p, &t->root, &end, &end_pos);
	if (r == 0 && end != END_EOF)
		perr(&p, end_pos, "unexpected {{%s}}", end == END_END ? "end" : "else");
	vars_pop(&p, 0);
	free(p.vars);
	if (p.err) {
		*errmsg = p.err;
		cli_tmpl_free(t);
		return NULL;
	}
	return t;
}
