#include "base/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/xalloc.h"

json_t *json_parse_buf(const char *buf, size_t len, const char *what, berth_error **err)
{
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_ALLOW_NUL, &je);
	if (j == NULL)
		berth_err(err, BERTH_E_INVALID, "%s: invalid JSON at line %d column %d: %s",
		          what ? what : "input", je.line, je.column, je.text);
	return j;
}

json_t *json_parse_file(const char *path, berth_error **err)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_ALLOW_NUL, &je);
	if (j == NULL)
		berth_err(err, BERTH_E_INVALID, "%s: %s (line %d column %d)", path, je.text,
		          je.line, je.column);
	return j;
}

char *json_dump_compact(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s == NULL)
		abort();
	return s;
}

char *json_dump_pretty(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s == NULL)
		abort();
	return s;
}

const char *json_get_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

long long json_get_int(const json_t *obj, const char *key, long long def)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v)) {
		/* in range only: converting anything else is undefined (UBSan
		 * under fuzz_search found 1e+51) */
		double d = json_real_value(v);
		if (d >= -9223372036854775808.0 && d < 9223372036854775808.0)
			return (long long)d;
	}
	return def;
}

bool json_get_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

char **json_get_strv(const json_t *obj, const char *key)
{
	json_t *a = json_object_get(obj, key);
	if (!json_is_array(a))
		return NULL;
	size_t n = json_array_size(a), k = 0;
	char **v = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(a, i);
		if (json_is_string(s))
			v[k++] = xstrdup(json_string_value(s));
	}
	return v;
}

json_t *json_from_strv(char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static void go_string(strbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sb_appendc(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': sb_append(sb, "\\\""); continue;
		case '\\': sb_append(sb, "\\\\"); continue;
		case '\n': sb_append(sb, "\\n"); continue;
		case '\r': sb_append(sb, "\\r"); continue;
		case '\t': sb_append(sb, "\\t"); continue;
		default: break;
		}
		if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			sb_append(sb, "\\u00");
			sb_appendc(sb, hex[c >> 4]);
			sb_appendc(sb, hex[c & 15]);
			continue;
		}
		/* U+2028 and U+2029 are E2 80 A8 / E2 80 A9 in UTF-8. */
		if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			sb_append(sb, (unsigned char)s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
			i += 2;
			continue;
		}
		sb_appendc(sb, (char)c);
	}
	sb_appendc(sb, '"');
}

/* strconv.FormatFloat(f, 'f' or 'e', -1, 64) as encoding/json uses it. */
static void go_float(strbuf *sb, double f)
{
	if (isnan(f) || isinf(f)) {
		sb_append(sb, "null"); /* Go refuses these; jansson cannot hold them */
		return;
	}
	if (f == 0) {
		sb_append(sb, signbit(f) ? "-0" : "0");
		return;
	}
	char buf[64];
	int prec = 1;
	for (; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, f);
		if (strtod(buf, NULL) == f)
			break;
	}
	/* buf: [-]d[.ddd]e[+-]XX -> sign, digits, exponent */
	const char *p = buf;
	bool neg = *p == '-';
	if (neg)
		p++;
	char digits[32];
	size_t nd = 0;
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	int exp = atoi(p + 1);
	double a = fabs(f);
	if (neg)
		sb_appendc(sb, '-');
	if (a < 1e-6 || a >= 1e21) {
		sb_appendc(sb, digits[0]);
		if (nd > 1) {
			sb_appendc(sb, '.');
			sb_appendn(sb, digits + 1, nd - 1);
		}
		sb_printf(sb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		/* Go trims "e-07" to "e-7" (negative exponents only). */
		if (exp < 0 && exp > -10) {
			sb->len -= 2;
			sb_appendc(sb, (char)('0' - exp));
		}
		return;
	}
	if (exp < 0) {
		sb_append(sb, "0.");
		for (int k = -1; k > exp; k--)
			sb_appendc(sb, '0');
		sb_appendn(sb, digits, nd);
	} else if ((size_t)exp + 1 >= nd) {
		sb_appendn(sb, digits, nd);
		for (size_t k = nd; k < (size_t)exp + 1; k++)
			sb_appendc(sb, '0');
	} else {
		sb_appendn(sb, digits, (size_t)exp + 1);
		sb_appendc(sb, '.');
		sb_appendn(sb, digits + exp + 1, nd - (size_t)exp - 1);
	}
}

static void go_newline(strbuf *sb, const char *indent, int depth)
{
	sb_appendc(sb, '\n');
	for (int i = 0; i < depth; i++)
		sb_append(sb, indent);
}

static void go_value(strbuf *sb, const json_t *j, const char *indent, int depth)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		if (json_object_size(j) == 0) {
			sb_append(sb, "{}");
			break;
		}
		sb_appendc(sb, '{');
		const char *k;
		size_t klen;
		json_t *v;
		bool first = true;
		json_object_keylen_foreach((json_t *)j, k, klen, v)
		{
			if (!first)
				sb_appendc(sb, ',');
			first = false;
			if (indent)
				go_newline(sb, indent, depth + 1);
			go_string(sb, k, klen);
			sb_append(sb, indent ? ": " : ":");
			go_value(sb, v, indent, depth + 1);
		}
		if (indent)
			go_newline(sb, indent, depth);
		sb_appendc(sb, '}');
		break;
	}
	case JSON_ARRAY: {
		if (json_array_size(j) == 0) {
			sb_append(sb, "[]");
			break;
		}
		sb_appendc(sb, '[');
		for (size_t i = 0; i < json_array_size(j); i++) {
			if (i)
				sb_appendc(sb, ',');
			if (indent)
				go_newline(sb, indent, depth + 1);
			go_value(sb, json_array_get(j, i), indent, depth + 1);
		}
		if (indent)
			go_newline(sb, indent, depth);
		sb_appendc(sb, ']');
		break;
	}
	case JSON_STRING: go_string(sb, json_string_value(j), json_string_length(j)); break;
	case JSON_INTEGER: sb_printf(sb, "%lld", (long long)json_integer_value(j)); break;
	case JSON_REAL: go_float(sb, json_real_value(j)); break;
	case JSON_TRUE: sb_append(sb, "true"); break;
	case JSON_FALSE: sb_append(sb, "false"); break;
	case JSON_NULL: sb_append(sb, "null"); break;
	}
}

char *json_dump_go(const json_t *j, const char *indent)
{
	strbuf sb;
	sb_init(&sb);
	go_value(&sb, j, indent, 0);
	return sb_steal(&sb);
}
