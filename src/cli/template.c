/* The template engine's evaluator: a parsed tree (template_parse.c) run
 * over a JSON value (see template.h). */
#include "cli/template.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "cli/template_tree.h"

/* Work one execution may do (nodes walked, range iterations) and output it
 * may make: a template is outside input, and nested ranges multiply. */
#ifndef CLI_TMPL_MAX_STEPS
#define CLI_TMPL_MAX_STEPS 50000000
#endif
#ifndef CLI_TMPL_MAX_OUTPUT
#define CLI_TMPL_MAX_OUTPUT (256u << 20)
#endif
/* printf widths and pad counts above this are errors */
#define MAX_PAD (1 << 20)

void cli_tmpl_go_value(strbuf *sb, json_t *v, const char *key)
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
			cli_tmpl_go_value(sb, x, NULL);
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
			cli_tmpl_go_value(sb, json_object_get(v, keys[a]), keys[a]);
		}
		sb_appendc(sb, ']');
		free(keys);
		break;
	}
	}
}

/* ---- execution ---- */

/* A value: v is owned (a reference), NULL for Go's "no value"; key: the
 * field it was read from (for printing a null). */
struct val {
	json_t *v;
	const char *key;
};

struct var {
	const char *name;
	struct val val;
};

enum flow { FLOW_NONE, FLOW_BREAK, FLOW_CONTINUE };

struct exec {
	const cli_tmpl *t;
	json_t *root, *view;
	const char *ctx_type;
	bool header;
	bool lenient; /* a missing map key is "no value" (if/with/range pipelines) */
	strbuf out;
	struct var *vars;
	size_t nvars;
	enum flow flow;
	unsigned long steps;
	char *err;
};

static int xerr(struct exec *x, size_t pos, const char *context, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int xerr(struct exec *x, size_t pos, const char *context, const char *fmt, ...)
{
	if (x->err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	int line, col;
	cli_tmpl_src_pos(x->t->src, pos, &line, &col);
	x->err = xasprintf("template parsing error: template: :%d:%d: executing \"\" at <%s>: %s",
	                   line, col, context, msg);
	return -1;
}

static void val_clear(struct val *v)
{
	json_decref(v->v);
	v->v = NULL;
	v->key = NULL;
}

static struct val val_ref(json_t *v, const char *key)
{
	return (struct val){json_incref(v), key};
}

static void vars_push_x(struct exec *x, const char *name, struct val v)
{
	x->vars = xreallocarray(x->vars, x->nvars + 1, sizeof(*x->vars));
	x->vars[x->nvars++] = (struct var){name, val_ref(v.v, v.key)};
}

static void vars_pop_x(struct exec *x, size_t n)
{
	while (x->nvars > n)
		val_clear(&x->vars[--x->nvars].val);
}

static struct var *var_find(struct exec *x, const char *name)
{
	for (size_t i = x->nvars; i > 0; i--)
		if (!strcmp(x->vars[i - 1].name, name))
			return &x->vars[i - 1];
	return NULL;
}

/* The Go type a JSON value stands for, as text/template names it. */
static const char *go_type(const json_t *v)
{
	if (v == NULL)
		return "<nil>";
	switch (json_typeof(v)) {
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "int";
	case JSON_REAL: return "float64";
	case JSON_TRUE:
	case JSON_FALSE: return "bool";
	case JSON_ARRAY: return "[]interface {}";
	case JSON_OBJECT: return "map[string]interface {}";
	default: return "interface {}";
	}
}

/* Go's truth: false, 0, nil, "", and empty arrays and maps are false. */
static bool truth(const json_t *v)
{
	if (v == NULL)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING: return json_string_length(v) > 0;
	case JSON_INTEGER: return json_integer_value(v) != 0;
	case JSON_REAL: return json_real_value(v) != 0;
	case JSON_TRUE: return true;
	case JSON_FALSE: return false;
	case JSON_ARRAY: return json_array_size(v) > 0;
	case JSON_OBJECT: return json_object_size(v) > 0;
	default: return false;
	}
}

/* Follow keys from start (borrowed); *out a new reference. */
static int walk_keys(struct exec *x, const struct arg *a, struct val start, struct val *out)
{
	json_t *cur = start.v;
	const char *last = start.key;
	for (size_t i = 0; a->keys && a->keys[i]; i++) {
		const char *k = a->keys[i];
		json_t *next = json_is_object(cur) ? json_object_get(cur, k) : NULL;
		if (next != NULL) {
			cur = next;
			last = k;
			continue;
		}
		bool is_struct = json_is_object(cur) && cur == x->root && x->ctx_type;
		if (cur == NULL || (x->lenient && json_is_object(cur) && !is_struct)) {
			/* Go: a missing key or a field of no value is no value */
			*out = (struct val){NULL, k};
			return 0;
		}
		if (is_struct)
			return xerr(x, a->pos, a->text, "can't evaluate field %s in type %s", k,
			            x->ctx_type);
		if (json_is_object(cur))
			return xerr(x, a->pos, a->text, "map has no entry for key \"%s\"", k);
		if (json_is_null(cur))
			return xerr(x, a->pos, a->text, "nil pointer evaluating interface {}.%s",
			            k);
		return xerr(x, a->pos, a->text, "can't evaluate field %s in type %s", k,
		            go_type(cur));
	}
	*out = val_ref(cur, last);
	return 0;
}

static int eval_pipe(struct exec *x, const struct pipe *pp, struct val dot, bool declare,
                     struct val *out);
static int call(struct exec *x, const struct cmd *cmd, struct val dot, const struct val *final,
                struct val *out);

static int eval_arg(struct exec *x, const struct arg *a, struct val dot, struct val *out)
{
	*out = (struct val){0};
	switch (a->kind) {
	case A_DOT: *out = val_ref(dot.v, dot.key); return 0;
	case A_FIELD: return walk_keys(x, a, dot, out);
	case A_VAR: {
		struct var *v = var_find(x, a->str);
		if (v == NULL) /* the parser checked; a safety net */
			return xerr(x, a->pos, a->text, "undefined variable: %s", a->str);
		return walk_keys(x, a, v->val, out);
	}
	case A_PIPE: {
		struct val pv;
		if (eval_pipe(x, a->pipe, dot, false, &pv) < 0)
			return -1;
		int r = walk_keys(x, a, pv, out);
		val_clear(&pv);
		return r;
	}
	case A_STRING: out->v = json_stringn_nocheck(a->str, a->len); return 0;
	case A_INT: out->v = json_integer(a->i); return 0;
	case A_FLOAT: out->v = json_real(a->f); return 0;
	case A_BOOL: out->v = json_boolean(a->b); return 0;
	case A_NIL: out->v = json_null(); return 0;
	case A_FUNC: {
		/* a function name as an argument: a call without arguments */
		struct cmd c = {
		    .pos = a->pos, .text = a->text, .args = (struct arg *)a, .nargs = 1};
		return call(x, &c, dot, NULL, out);
	}
	}
	return 0;
}

static int eval_cmd(struct exec *x, const struct cmd *cmd, struct val dot, const struct val *final,
                    struct val *out)
{
	const struct arg *a0 = &cmd->args[0];
	*out = (struct val){0};
	if (a0->kind == A_FUNC)
		return call(x, cmd, dot, final, out);
	if (cmd->nargs > 1 || final)
		return xerr(x, a0->pos, a0->text, "can't give argument to non-function %s",
		            a0->text);
	if (a0->kind == A_NIL)
		return xerr(x, a0->pos, a0->text, "nil is not a command");
	return eval_arg(x, a0, dot, out);
}

static int eval_pipe(struct exec *x, const struct pipe *pp, struct val dot, bool declare,
                     struct val *out)
{
	struct val v = {0};
	for (size_t i = 0; i < pp->ncmds; i++) {
		struct val next;
		if (eval_cmd(x, &pp->cmds[i], dot, i ? &v : NULL, &next) < 0) {
			val_clear(&v);
			return -1;
		}
		val_clear(&v);
		v = next;
	}
	if (declare && pp->ndecl) {
		if (pp->assign) {
			struct var *var = var_find(x, pp->decl[0]);
			if (var) {
				val_clear(&var->val);
				var->val = val_ref(v.v, v.key);
			}
		} else {
			vars_push_x(x, pp->decl[0], v);
		}
	}
	*out = v;
	return 0;
}

/* ---- functions ---- */

struct fn_ctx {
	struct exec *x;
	const struct cmd *cmd;
	const char *name;
};

static int fn_err(struct fn_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fn_err(struct fn_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	return xerr(c->x, c->cmd->pos, c->cmd->text, "error calling %s: %s", c->name, msg);
}

/* The text of a value as Go prints it. */
static char *val_text(const struct val *v)
{
	strbuf sb;
	sb_init(&sb);
	cli_tmpl_go_value(&sb, v->v, v->key);
	return sb.buf ? sb_steal(&sb) : xstrdup("");
}

static bool is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

/* Compare two basic values: *cmp <0, 0, >0. ordered: lt/le/gt/ge (bools
 * and nils cannot be ordered). */
static int compare(struct fn_ctx *c, json_t *a, json_t *b, bool ordered, int *cmp)
{
	bool anil = a == NULL || json_is_null(a), bnil = b == NULL || json_is_null(b);
	if (json_is_array(a) || json_is_object(a) || json_is_array(b) || json_is_object(b) ||
	    (ordered && (anil || bnil || json_is_boolean(a) || json_is_boolean(b))))
		return fn_err(c, "invalid type for comparison");
	if (anil || bnil) {
		*cmp = anil && bnil ? 0 : 1;
		return 0;
	}
	if (is_number(a) && is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			*cmp = x < y ? -1 : x > y;
		} else {
			double x = json_number_value(a), y = json_number_value(b);
			*cmp = x < y ? -1 : x > y;
		}
		return 0;
	}
	if (json_is_string(a) && json_is_string(b)) {
		size_t la = json_string_length(a), lb = json_string_length(b);
		int r = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
		*cmp = r ? r : la < lb ? -1 : la > lb;
		return 0;
	}
	if (json_is_boolean(a) && json_is_boolean(b)) {
		*cmp = json_is_true(a) != json_is_true(b);
		return 0;
	}
	return fn_err(c, "incompatible types for comparison");
}

static int fn_eq(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	if (n < 2)
		return fn_err(c, "missing argument for comparison");
	bool eq = false;
	for (size_t i = 1; i < n && !eq; i++) {
		int cmp;
		if (compare(c, a[0].v, a[i].v, false, &cmp) < 0)
			return -1;
		eq = cmp == 0;
	}
	out->v = json_boolean(eq);
	return 0;
}

static int fn_cmp(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	int cmp;
	if (compare(c, a[0].v, a[1].v, strcmp(c->name, "ne") != 0, &cmp) < 0)
		return -1;
	bool r;
	if (!strcmp(c->name, "ne"))
		r = cmp != 0;
	else if (!strcmp(c->name, "lt"))
		r = cmp < 0;
	else if (!strcmp(c->name, "le"))
		r = cmp <= 0;
	else if (!strcmp(c->name, "gt"))
		r = cmp > 0;
	else
		r = cmp >= 0;
	out->v = json_boolean(r);
	return 0;
}

static int fn_not(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	out->v = json_boolean(!truth(a[0].v));
	return 0;
}

static int fn_len(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	json_t *v = a[0].v;
	size_t l = 0;
	if (json_is_array(v))
		l = json_array_size(v);
	else if (json_is_object(v))
		l = json_object_size(v);
	else if (json_is_string(v))
		l = json_string_length(v);
	else if (v != NULL && !json_is_null(v))
		return fn_err(c, "len of type %s", go_type(v));
	out->v = json_integer((json_int_t)l);
	return 0;
}

static int fn_index(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	json_t *cur = a[0].v;
	const char *key = a[0].key;
	for (size_t i = 1; i < n; i++) {
		json_t *k = a[i].v;
		if (cur == NULL || json_is_null(cur)) {
			cur = NULL;
			continue;
		}
		if (json_is_array(cur)) {
			if (!json_is_integer(k))
				return fn_err(c, "cannot index slice/array with type %s",
				              go_type(k));
			json_int_t ix = json_integer_value(k);
			if (ix < 0 || (size_t)ix >= json_array_size(cur))
				return fn_err(c, "index out of range: %lld", (long long)ix);
			cur = json_array_get(cur, (size_t)ix);
			key = NULL;
		} else if (json_is_object(cur)) {
			if (!json_is_string(k))
				return fn_err(c, "value has type %s; should be string", go_type(k));
			key = json_string_value(k);
			cur = json_object_get(cur, key);
			key = NULL;
		} else {
			return fn_err(c, "can't index item of type %s", go_type(cur));
		}
	}
	*out = val_ref(cur, key);
	return 0;
}

static void sprint(strbuf *sb, struct val *a, size_t n, bool ln)
{
	for (size_t i = 0; i < n; i++) {
		if (i && (ln || (!json_is_string(a[i].v) && !json_is_string(a[i - 1].v))))
			sb_appendc(sb, ' ');
		cli_tmpl_go_value(sb, a[i].v, a[i].key);
	}
	if (ln)
		sb_appendc(sb, '\n');
}

/* A function's string result: what sb holds (sb is freed). */
static int sb_result(strbuf *sb, struct val *out)
{
	out->v = json_stringn_nocheck(sb->buf ? sb->buf : "", sb->len);
	sb_free(sb);
	return 0;
}

static int fn_print(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	strbuf sb;
	sb_init(&sb);
	sprint(&sb, a, n, c->name[5] == 'l');
	return sb_result(&sb, out);
}

static void go_quote(strbuf *sb, const char *s, size_t n)
{
	sb_appendc(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		switch (ch) {
		case '"': sb_append(sb, "\\\""); break;
		case '\\': sb_append(sb, "\\\\"); break;
		case '\n': sb_append(sb, "\\n"); break;
		case '\t': sb_append(sb, "\\t"); break;
		case '\r': sb_append(sb, "\\r"); break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				sb_printf(sb, "\\x%02x", ch);
			else
				sb_appendc(sb, (char)ch);
		}
	}
	sb_appendc(sb, '"');
}

/* Go's printf for the verbs %v %s %d %q %t %x %X %f %e %g %c and %%, with
 * the flags '-' and '0', a width and a precision. */
static int fn_printf(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	if (!json_is_string(a[0].v))
		return fn_err(c, "wrong type for value; expected string; got %s", go_type(a[0].v));
	const char *f = json_string_value(a[0].v);
	size_t flen = json_string_length(a[0].v), argi = 1;
	strbuf sb;
	sb_init(&sb);
	for (size_t i = 0; i < flen; i++) {
		if (f[i] != '%') {
			sb_appendc(&sb, f[i]);
			continue;
		}
		bool minus = false, zero = false, plus = false;
		long width = -1, prec = -1;
		for (i++; i < flen && strchr("-0+ #", f[i]); i++) {
			minus |= f[i] == '-';
			zero |= f[i] == '0';
			plus |= f[i] == '+';
		}
		for (; i < flen && isdigit((unsigned char)f[i]); i++)
			if (width <= MAX_PAD)
				width = (width < 0 ? 0 : width) * 10 + (f[i] - '0');
		if (i < flen && f[i] == '.')
			for (prec = 0, i++; i < flen && isdigit((unsigned char)f[i]); i++)
				if (prec <= MAX_PAD)
					prec = prec * 10 + (f[i] - '0');
		if (width > MAX_PAD || prec > MAX_PAD) {
			sb_free(&sb);
			return fn_err(c, "width or precision too large");
		}
		if (i >= flen) {
			sb_append(&sb, "%!(NOVERB)");
			break;
		}
		char verb = f[i];
		if (verb == '%') {
			sb_appendc(&sb, '%');
			continue;
		}
		if (argi >= n) {
			sb_printf(&sb, "%%!%c(MISSING)", verb);
			continue;
		}
		struct val *v = &a[argi++];
		json_t *j = v->v;
		strbuf t;
		sb_init(&t);
		bool numeric = false;
		switch (verb) {
		case 'v':
		case 's':
			cli_tmpl_go_value(&t, j, v->key);
			if (prec >= 0 && (size_t)prec < t.len)
				t.len = (size_t)prec;
			break;
		case 'q':
			if (json_is_string(j))
				go_quote(&t, json_string_value(j), json_string_length(j));
			else
				sb_printf(&t, "%%!q(%s)", go_type(j));
			break;
		case 'd':
		case 'x':
		case 'X':
		case 'c':
			if (json_is_integer(j)) {
				long long ll = (long long)json_integer_value(j);
				numeric = true;
				if (verb == 'd')
					sb_printf(&t, plus ? "%+lld" : "%lld", ll);
				else if (verb == 'c')
					cli_tmpl_put_utf8(&t, (unsigned long)ll & 0x1fffff);
				else
					sb_printf(
					    &t, verb == 'x' ? "%s%llx" : "%s%llX",
					    ll < 0 ? "-" : "",
					    (unsigned long long)(ll < 0 ? -(ll + 1) + 1ull
					                                : (unsigned long long)ll));
			} else if (json_is_string(j) && verb != 'd' && verb != 'c') {
				for (size_t k = 0; k < json_string_length(j); k++)
					sb_printf(&t, verb == 'x' ? "%02x" : "%02X",
					          (unsigned char)json_string_value(j)[k]);
			} else {
				_cleanup_free_ char *s = val_text(v);
				sb_printf(&t, "%%!%c(%s=%s)", verb, go_type(j), s);
			}
			break;
		case 'f':
		case 'F':
		case 'e':
		case 'g':
			if (is_number(j)) {
				double d = json_number_value(j);
				numeric = true;
				int p = prec < 0 ? (verb == 'g' ? -1 : 6) : (int)prec;
				if (verb == 'g' && p < 0)
					sb_printf(&t, plus ? "%+g" : "%g", d);
				else if (verb == 'g')
					sb_printf(&t, plus ? "%+.*g" : "%.*g", p, d);
				else if (verb == 'e')
					sb_printf(&t, plus ? "%+.*e" : "%.*e", p, d);
				else
					sb_printf(&t, plus ? "%+.*f" : "%.*f", p, d);
			} else {
				_cleanup_free_ char *s = val_text(v);
				sb_printf(&t, "%%!%c(%s=%s)", verb, go_type(j), s);
			}
			break;
		case 't':
			if (json_is_boolean(j)) {
				sb_append(&t, json_is_true(j) ? "true" : "false");
			} else {
				_cleanup_free_ char *s = val_text(v);
				sb_printf(&t, "%%!t(%s=%s)", go_type(j), s);
			}
			break;
		default: {
			_cleanup_free_ char *s = val_text(v);
			sb_printf(&t, "%%!%c(%s=%s)", verb, go_type(j), s);
		}
		}
		/* pad to width (in code points, as Go) */
		size_t w = 0;
		for (size_t k = 0; k < t.len; k++)
			if (((unsigned char)t.buf[k] & 0xc0) != 0x80)
				w++;
		size_t pad = width > 0 && (size_t)width > w ? (size_t)width - w : 0;
		if (minus) {
			sb_appendn(&sb, t.buf ? t.buf : "", t.len);
			for (size_t k = 0; k < pad; k++)
				sb_appendc(&sb, ' ');
		} else if (zero && numeric) {
			size_t sign = t.len && (t.buf[0] == '-' || t.buf[0] == '+');
			sb_appendn(&sb, t.buf, sign);
			for (size_t k = 0; k < pad; k++)
				sb_appendc(&sb, '0');
			sb_appendn(&sb, t.buf + sign, t.len - sign);
		} else {
			for (size_t k = 0; k < pad; k++)
				sb_appendc(&sb, zero ? '0' : ' ');
			sb_appendn(&sb, t.buf ? t.buf : "", t.len);
		}
		sb_free(&t);
	}
	if (argi < n) {
		sb_append(&sb, "%!(EXTRA ");
		for (size_t k = argi; k < n; k++) {
			_cleanup_free_ char *s = val_text(&a[k]);
			sb_printf(&sb, "%s%s=%s", k > argi ? ", " : "", go_type(a[k].v), s);
		}
		sb_appendc(&sb, ')');
	}
	return sb_result(&sb, out);
}

static int fn_json(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	json_t *v = a[0].v;
	if (v != NULL && v == c->x->root && c->x->view)
		v = c->x->view;
	_cleanup_free_ char *js = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	out->v = json_string_nocheck(js ? js : "null");
	return 0;
}

static int fn_join(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	_cleanup_free_ char *sep = val_text(&a[1]);
	strbuf sb;
	sb_init(&sb);
	size_t i;
	json_t *x;
	if (json_is_array(a[0].v)) {
		json_array_foreach (a[0].v, i, x) {
			if (i)
				sb_append(&sb, sep);
			cli_tmpl_go_value(&sb, x, NULL);
		}
	}
	return sb_result(&sb, out);
}

static int fn_split(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	_cleanup_free_ char *s = val_text(&a[0]), *sep = val_text(&a[1]);
	json_t *arr = json_array();
	size_t sl = strlen(sep);
	const char *p = s;
	if (sl == 0) {
		while (*p) {
			size_t k = 1;
			while (((unsigned char)p[k] & 0xc0) == 0x80)
				k++;
			json_array_append_new(arr, json_stringn_nocheck(p, k));
			p += k;
		}
	} else {
		for (;;) {
			const char *e = strstr(p, sep);
			json_array_append_new(
			    arr, json_stringn_nocheck(p, e ? (size_t)(e - p) : strlen(p)));
			if (e == NULL)
				break;
			p = e + sl;
		}
	}
	out->v = arr;
	return 0;
}

static int fn_case(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	char *s = val_text(&a[0]);
	bool word_start = true;
	for (char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (c->name[0] == 'u')
			*p = (char)toupper(ch);
		else if (c->name[0] == 'l')
			*p = (char)tolower(ch);
		else if (word_start && isalpha(ch))
			*p = (char)toupper(ch);
		word_start = ch < 0x80 && !isalnum(ch) && ch != '_';
	}
	out->v = json_string_nocheck(s);
	free(s);
	return 0;
}

static int int_arg(struct fn_ctx *c, const struct val *v, long long *out)
{
	if (!json_is_integer(v->v))
		return fn_err(c, "wrong type for value; expected int; got %s", go_type(v->v));
	*out = (long long)json_integer_value(v->v);
	return 0;
}

static int fn_pad(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	long long before = 0, after = 0;
	if (int_arg(c, &a[1], &before) < 0 || int_arg(c, &a[2], &after) < 0)
		return -1;
	if (before < 0 || after < 0 || before > MAX_PAD || after > MAX_PAD)
		return fn_err(c, "invalid pad count");
	_cleanup_free_ char *s = val_text(&a[0]);
	strbuf sb;
	sb_init(&sb);
	for (long long i = 0; i < before; i++)
		sb_appendc(&sb, ' ');
	sb_append(&sb, s);
	for (long long i = 0; i < after; i++)
		sb_appendc(&sb, ' ');
	return sb_result(&sb, out);
}

/* Go's slice: slice x i j is x[i:j] (strings by bytes, arrays). */
static int fn_slice(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	json_t *v = a[0].v;
	if (v == NULL || json_is_null(v))
		return fn_err(c, "slice of untyped nil");
	if (!json_is_string(v) && !json_is_array(v))
		return fn_err(c, "can't slice item of type %s", go_type(v));
	if (n == 4 && json_is_string(v))
		return fn_err(c, "cannot 3-index slice a string");
	size_t len = json_is_string(v) ? json_string_length(v) : json_array_size(v);
	long long ix[3] = {0, (long long)len, (long long)len};
	for (size_t i = 1; i < n; i++) {
		if (int_arg(c, &a[i], &ix[i - 1]) < 0)
			return -1;
		if (ix[i - 1] < 0 || (size_t)ix[i - 1] > len)
			return fn_err(c, "index out of range: %lld", ix[i - 1]);
	}
	for (size_t i = 1; i + 1 < n; i++)
		if (ix[i - 1] > ix[i])
			return fn_err(c, "invalid slice index: %lld > %lld", ix[i - 1], ix[i]);
	size_t from = (size_t)ix[0], to = (size_t)ix[1];
	if (json_is_string(v)) {
		out->v = json_stringn_nocheck(json_string_value(v) + from, to - from);
		return 0;
	}
	out->v = json_array();
	for (size_t i = from; i < to; i++)
		json_array_append(out->v, json_array_get(v, i));
	return 0;
}

static int fn_truncate(struct fn_ctx *c, struct val *a, size_t n, struct val *out)
{
	long long l = 0;
	if (int_arg(c, &a[1], &l) < 0)
		return -1;
	if (l < 0)
		return fn_err(c, "slice bounds out of range");
	_cleanup_free_ char *s = val_text(&a[0]);
	size_t sl = strlen(s);
	out->v = json_stringn_nocheck(s, (size_t)l < sl ? (size_t)l : sl);
	return 0;
}

typedef int (*fn_impl)(struct fn_ctx *c, struct val *a, size_t n, struct val *out);

/* sorted by name; and/or are evaluated lazily in call() */
static const struct fn_def {
	const char *name;
	fn_impl fn;
	int min, max; /* argument counts; max -1: any */
	bool header; /* Docker's table header: returns its argument */
} fn_defs[] = {
    {"eq", fn_eq, 1, -1, false},         {"ge", fn_cmp, 2, 2, false},
    {"gt", fn_cmp, 2, 2, false},         {"index", fn_index, 1, -1, false},
    {"join", fn_join, 2, 2, true},       {"json", fn_json, 1, 1, true},
    {"le", fn_cmp, 2, 2, false},         {"len", fn_len, 1, 1, false},
    {"lower", fn_case, 1, 1, true},      {"lt", fn_cmp, 2, 2, false},
    {"ne", fn_cmp, 2, 2, false},         {"not", fn_not, 1, 1, false},
    {"pad", fn_pad, 3, 3, true},         {"print", fn_print, 0, -1, false},
    {"printf", fn_printf, 1, -1, false}, {"println", fn_print, 0, -1, false},
    {"slice", fn_slice, 1, 4, false},    {"split", fn_split, 2, 2, true},
    {"title", fn_case, 1, 1, true},      {"truncate", fn_truncate, 2, 2, true},
    {"upper", fn_case, 1, 1, true},
};

static int cmp_fn(const void *key, const void *elem)
{
	return strcmp(key, ((const struct fn_def *)elem)->name);
}

static int call(struct exec *x, const struct cmd *cmd, struct val dot, const struct val *final,
                struct val *out)
{
	const char *name = cmd->args[0].str;
	size_t n = cmd->nargs - 1 + (final ? 1 : 0);
	*out = (struct val){0};
	if (!strcmp(name, "and") || !strcmp(name, "or")) {
		if (n < 1)
			return xerr(x, cmd->pos, name,
			            "wrong number of args for %s: want at least 1 got 0", name);
		bool and = name[0] == 'a';
		for (size_t i = 0; i < n; i++) {
			struct val v;
			if (i + 1 < cmd->nargs) {
				if (eval_arg(x, &cmd->args[i + 1], dot, &v) < 0)
					return -1;
			} else {
				v = val_ref(final->v, final->key);
			}
			if (i + 1 == n || truth(v.v) != and) {
				*out = v;
				return 0;
			}
			val_clear(&v);
		}
		return 0;
	}
	const struct fn_def *d =
	    bsearch(name, fn_defs, ARRAY_SIZE(fn_defs), sizeof(fn_defs[0]), cmp_fn);
	if (d == NULL) /* the parser checked */
		return xerr(x, cmd->pos, name, "function \"%s\" not defined", name);
	if ((int)n < d->min || (d->max >= 0 && (int)n > d->max)) {
		if (d->max < 0)
			return xerr(x, cmd->pos, name,
			            "wrong number of args for %s: want at least %d got %zu", name,
			            d->min, n);
		return xerr(x, cmd->pos, name, "wrong number of args for %s: want %d got %zu", name,
		            d->min, n);
	}
	struct val *a = xcalloc(n + 1, sizeof(*a));
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (i + 1 < cmd->nargs)
			r = eval_arg(x, &cmd->args[i + 1], dot, &a[i]);
		else
			a[i] = val_ref(final->v, final->key);
	}
	if (r == 0) {
		struct fn_ctx c = {x, cmd, name};
		if (x->header && d->header) {
			if (!json_is_string(a[0].v))
				r = fn_err(&c, "wrong type for value; expected string; got %s",
				           go_type(a[0].v));
			else
				*out = val_ref(a[0].v, a[0].key);
		} else {
			r = d->fn(&c, a, n, out);
		}
	}
	for (size_t i = 0; i < n; i++)
		val_clear(&a[i]);
	free(a);
	return r;
}

/* ---- walking the tree ---- */

static int walk_list(struct exec *x, const struct list *l, struct val dot);

static int step(struct exec *x, size_t pos)
{
	if (++x->steps > CLI_TMPL_MAX_STEPS || x->out.len > CLI_TMPL_MAX_OUTPUT)
		return xerr(x, pos, "",
		            "template execution exceeds its limits (%lu steps, %u bytes)",
		            (unsigned long)CLI_TMPL_MAX_STEPS, (unsigned)CLI_TMPL_MAX_OUTPUT);
	return 0;
}

static int cond_pipe(struct exec *x, const struct pipe *pp, struct val dot, bool declare,
                     struct val *v)
{
	bool lenient = x->lenient;
	x->lenient = true;
	int r = eval_pipe(x, pp, dot, declare, v);
	x->lenient = lenient;
	return r;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One iteration of a range: set its variables and walk its body. */
static int range_one(struct exec *x, const struct node *n, struct val k, struct val e)
{
	size_t mark = x->nvars;
	if (n->pipe->ndecl == 1) {
		vars_push_x(x, n->pipe->decl[0], e);
	} else if (n->pipe->ndecl == 2) {
		vars_push_x(x, n->pipe->decl[0], k);
		vars_push_x(x, n->pipe->decl[1], e);
	}
	int r = step(x, n->pos) < 0 ? -1 : walk_list(x, &n->list, e);
	vars_pop_x(x, mark);
	return r;
}

static int walk_range(struct exec *x, const struct node *n, struct val dot)
{
	struct val v;
	if (cond_pipe(x, n->pipe, dot, false, &v) < 0)
		return -1;
	int r = 0;
	size_t count = 0;
	json_t *j = v.v;
	if (json_is_array(j)) {
		count = json_array_size(j);
		for (size_t i = 0; i < count && r == 0; i++) {
			json_t *ix = json_integer((json_int_t)i);
			r = range_one(x, n, (struct val){ix, NULL},
			              (struct val){json_array_get(j, i), NULL});
			json_decref(ix);
			if (x->flow == FLOW_BREAK) {
				x->flow = FLOW_NONE;
				break;
			}
			x->flow = FLOW_NONE;
		}
	} else if (json_is_object(j)) {
		count = json_object_size(j);
		const char **keys = xcalloc(count + 1, sizeof(char *));
		const char *k;
		json_t *e;
		size_t i = 0;
		json_object_foreach (j, k, e) {
			keys[i++] = k;
		}
		qsort(keys, count, sizeof(char *), cmp_keys);
		for (i = 0; i < count && r == 0; i++) {
			json_t *kj = json_string_nocheck(keys[i]);
			r = range_one(x, n, (struct val){kj, NULL},
			              (struct val){json_object_get(j, keys[i]), keys[i]});
			json_decref(kj);
			if (x->flow == FLOW_BREAK) {
				x->flow = FLOW_NONE;
				break;
			}
			x->flow = FLOW_NONE;
		}
		free(keys);
	} else if (json_is_integer(j)) {
		/* Go 1.22: range over an int counts from 0 */
		json_int_t max = json_integer_value(j);
		if (n->pipe->ndecl > 1)
			r = xerr(x, n->pipe->pos, "range",
			         "can't use %lld to iterate over more than one variable",
			         (long long)max);
		count = max > 0 ? (size_t)max : 0;
		for (json_int_t i = 0; r == 0 && i < max; i++) {
			json_t *ix = json_integer(i);
			r = range_one(x, n, (struct val){ix, NULL}, (struct val){ix, NULL});
			json_decref(ix);
			if (x->flow == FLOW_BREAK) {
				x->flow = FLOW_NONE;
				break;
			}
			x->flow = FLOW_NONE;
		}
	} else if (j != NULL && !json_is_null(j)) {
		_cleanup_free_ char *s = val_text(&v);
		r = xerr(x, n->pipe->pos, n->pipe->cmds[0].text, "range can't iterate over %s", s);
	}
	if (r == 0 && count == 0)
		r = walk_list(x, &n->elselist, dot);
	val_clear(&v);
	return r;
}

static int walk(struct exec *x, const struct node *n, struct val dot)
{
	if (step(x, n->pos) < 0)
		return -1;
	switch (n->kind) {
	case N_TEXT: sb_appendn(&x->out, n->text, n->len); return 0;
	case N_ACTION: {
		struct val v;
		if (eval_pipe(x, n->pipe, dot, true, &v) < 0)
			return -1;
		if (n->pipe->ndecl == 0)
			cli_tmpl_go_value(&x->out, v.v, v.key);
		val_clear(&v);
		return 0;
	}
	case N_IF:
	case N_WITH: {
		size_t mark = x->nvars;
		struct val v;
		if (cond_pipe(x, n->pipe, dot, true, &v) < 0) {
			vars_pop_x(x, mark);
			return -1;
		}
		int r;
		if (truth(v.v))
			r = walk_list(x, &n->list, n->kind == N_WITH ? v : dot);
		else
			r = walk_list(x, &n->elselist, dot);
		val_clear(&v);
		vars_pop_x(x, mark);
		return r;
	}
	case N_RANGE: {
		size_t mark = x->nvars;
		int r = walk_range(x, n, dot);
		vars_pop_x(x, mark);
		return r;
	}
	case N_BREAK: x->flow = FLOW_BREAK; return 0;
	case N_CONTINUE: x->flow = FLOW_CONTINUE; return 0;
	}
	return 0;
}

static int walk_list(struct exec *x, const struct list *l, struct val dot)
{
	for (size_t i = 0; i < l->n; i++) {
		if (walk(x, l->v[i], dot) < 0)
			return -1;
		if (x->flow != FLOW_NONE)
			return 0;
	}
	return 0;
}

static int run(struct exec *x, json_t *v)
{
	x->root = v;
	vars_push_x(x, "$", (struct val){v, NULL});
	int r = walk_list(x, &x->t->root, (struct val){v, NULL});
	vars_pop_x(x, 0);
	free(x->vars);
	x->vars = NULL;
	return r;
}

char *cli_tmpl_exec(const cli_tmpl *t, json_t *v, json_t *view, const char *ctx_type, char **errmsg)
{
	struct exec x = {.t = t, .view = view, .ctx_type = ctx_type};
	sb_init(&x.out);
	if (run(&x, v) < 0) {
		sb_free(&x.out);
		*errmsg = x.err;
		return NULL;
	}
	return x.out.buf ? sb_steal(&x.out) : xstrdup("");
}

/* ---- what a template reads ---- */

typedef bool (*arg_visit)(const struct arg *a, void *data);

static bool visit_pipe(const struct pipe *pp, arg_visit fn, void *data)
{
	for (size_t i = 0; pp && i < pp->ncmds; i++)
		for (size_t k = 0; k < pp->cmds[i].nargs; k++) {
			const struct arg *a = &pp->cmds[i].args[k];
			if (fn(a, data) || (a->pipe && visit_pipe(a->pipe, fn, data)))
				return true;
		}
	return false;
}

static bool visit_list(const struct list *l, arg_visit fn, void *data)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct node *n = l->v[i];
		if (visit_pipe(n->pipe, fn, data) || visit_list(&n->list, fn, data) ||
		    visit_list(&n->elselist, fn, data))
			return true;
	}
	return false;
}

/* Field names first read from the row (or, inside a range or with, from
 * whatever dot is then: a superset is harmless). */
static const char *first_key(const struct arg *a)
{
	if (a->kind == A_FIELD || a->kind == A_VAR || a->kind == A_PIPE)
		return a->keys ? a->keys[0] : NULL;
	return NULL;
}

static bool uses_field(const struct arg *a, void *data)
{
	const char *field = data;
	if (a->kind == A_DOT || (a->kind == A_VAR && a->keys == NULL && !strcmp(a->str, "$")))
		return true;
	const char *k = first_key(a);
	return k && !strcmp(k, field);
}

bool cli_tmpl_uses(const cli_tmpl *t, const char *field)
{
	return visit_list(&t->root, uses_field, (void *)field);
}

struct header_ctx {
	json_t *obj;
	const cli_column *cols;
	size_t ncols;
};

static bool add_header(const struct arg *a, void *data)
{
	struct header_ctx *h = data;
	const char *k = first_key(a);
	if (k == NULL || json_object_get(h->obj, k))
		return false;
	const char *hdr = NULL;
	for (size_t c = 0; c < h->ncols && hdr == NULL; c++)
		if (!strcmp(h->cols[c].field, k))
			hdr = h->cols[c].header;
	_cleanup_free_ char *up = xstrdup(k);
	for (char *c = up; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	json_object_set_new(h->obj, k, json_string(hdr ? hdr : up));
	return false;
}

char *cli_tmpl_header(const cli_tmpl *t, const cli_column *cols, size_t ncols)
{
	struct header_ctx h = {json_object(), cols, ncols};
	visit_list(&t->root, add_header, &h);
	struct exec x = {.t = t, .header = true};
	sb_init(&x.out);
	run(&x, h.obj);
	free(x.err);
	json_decref(h.obj);
	return x.out.buf ? sb_steal(&x.out) : xstrdup("");
}
