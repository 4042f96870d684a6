#include "base/str.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void sb_init(strbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

static void sb_grow(strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void sb_appendn(strbuf *sb, const char *s, size_t n)
{
	sb_grow(sb, n);
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = 0;
}

void sb_append(strbuf *sb, const char *s)
{
	sb_appendn(sb, s, strlen(s));
}

void sb_appendc(strbuf *sb, char c)
{
	sb_appendn(sb, &c, 1);
}

void sb_printf(strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	sb_append(sb, s);
	free(s);
}

char *sb_steal(strbuf *sb)
{
	char *r = sb->buf ? sb->buf : xstrdup("");
	sb_init(sb);
	return r;
}

void sb_free(strbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int str_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

char **strv_append(char **v, const char *s)
{
	size_t n = strv_len(v);
	v = xreallocarray(v, n + 2, sizeof(char *));
	v[n] = xstrdup(s);
	v[n + 1] = NULL;
	return v;
}

char **strv_dup(char *const *v)
{
	size_t n = strv_len(v);
	char **r = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

char *strv_join(char *const *v, const char *sep)
{
	strbuf sb;
	sb_init(&sb);
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			sb_append(&sb, sep);
		sb_append(&sb, v[i]);
	}
	return sb_steal(&sb);
}

char **str_split(const char *s, char sep)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *start = s;
	for (const char *p = s;; p++) {
		if (*p == sep || *p == 0) {
			char *part = xstrndup(start, (size_t)(p - start));
			size_t n = strv_len(v);
			v = xreallocarray(v, n + 2, sizeof(char *));
			v[n] = part;
			v[n + 1] = NULL;
			if (*p == 0)
				break;
			start = p + 1;
		}
	}
	return v;
}

char *human_size(double bytes)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
	int i = 0;
	while (bytes >= 1000.0 && i < 8) {
		bytes /= 1000.0;
		i++;
	}
	/* Go's %.4g: up to 4 significant digits, trailing zeros removed. */
	char num[32];
	snprintf(num, sizeof(num), "%.4g", bytes);
	return xasprintf("%s%s", num, units[i]);
}

char *human_duration(int64_t seconds)
{
	if (seconds < 1)
		return xstrdup("Less than a second");
	if (seconds == 1)
		return xstrdup("1 second");
	if (seconds < 60)
		return xasprintf("%lld seconds", (long long)seconds);
	int64_t minutes = seconds / 60;
	if (minutes == 1)
		return xstrdup("About a minute");
	if (minutes < 60)
		return xasprintf("%lld minutes", (long long)minutes);
	int64_t hours = (int64_t)llround((double)seconds / 3600.0);
	if (hours == 1)
		return xstrdup("About an hour");
	if (hours < 48)
		return xasprintf("%lld hours", (long long)hours);
	if (hours < 24 * 7 * 2)
		return xasprintf("%lld days", (long long)(hours / 24));
	if (hours < 24 * 30 * 2)
		return xasprintf("%lld weeks", (long long)(hours / 24 / 7));
	if (hours < 24 * 365 * 2)
		return xasprintf("%lld months", (long long)(hours / 24 / 30));
	return xasprintf("%lld years", (long long)(hours / 24 / 365));
}

char *time_rfc3339nano(const struct timespec *ts)
{
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts->tv_nsec == 0)
		return xasprintf("%sZ", buf);
	char frac[16];
	snprintf(frac, sizeof(frac), "%09ld", ts->tv_nsec);
	/* Go trims trailing zeros of the fraction */
	size_t n = strlen(frac);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = 0;
	return xasprintf("%s.%sZ", buf, frac);
}

int time_parse_rfc3339(const char *s, struct timespec *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	long nsec = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		while (isdigit((unsigned char)*p)) {
			if (digits < 9) {
				nsec = nsec * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		while (digits++ < 9)
			nsec *= 10;
	}
	time_t t = timegm(&tm);
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		/* exactly [+-]HH:MM: sscanf would accept "+5:3" and the
		 * skip below would then run past the string's end */
		int sign = *p == '+' ? 1 : -1;
		for (int i = 1; i <= 5; i++) {
			if (i == 3 ? p[i] != ':' : !isdigit((unsigned char)p[i]))
				return -1;
		}
		int hh = (p[1] - '0') * 10 + (p[2] - '0');
		int mm = (p[4] - '0') * 10 + (p[5] - '0');
		if (hh > 23 || mm > 59)
			return -1;
		t -= sign * (hh * 3600 + mm * 60);
		p += 6;
	}
	if (*p)
		return -1;
	out->tv_sec = t;
	out->tv_nsec = nsec;
	return 0;
}

int time_parse_docker(const char *s, const struct timespec *now, int64_t *out_ns)
{
	if (s == NULL || *s == 0)
		return -1;
	int64_t d;
	if (strcmp(s, "0") != 0 && parse_duration(s, &d, NULL) == 0) {
		*out_ns = (int64_t)now->tv_sec * 1000000000 + now->tv_nsec - d;
		return 0;
	}
	struct timespec ts;
	if (time_parse_rfc3339(s, &ts) == 0) {
		*out_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		return 0;
	}
	static const char *const dates[] = {"%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d"};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *p = strptime(s, dates[i], &tm);
		if (p && *p == 0) {
			*out_ns = (int64_t)timegm(&tm) * 1000000000;
			return 0;
		}
	}
	/* seconds[.fraction]: digits only, the fraction up to nanoseconds */
	const char *p = s;
	int64_t sec = 0, nsec = 0;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (sec > (INT64_MAX / 1000000000 - 9) / 10)
			return -1;
		sec = sec * 10 + (*p - '0');
	}
	if (*p == '.') {
		p++;
		int digits = 0;
		for (; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 9)
				nsec = nsec * 10 + (*p - '0');
		if (digits == 0)
			return -1;
		for (int k = digits; k < 9; k++)
			nsec *= 10;
	}
	if (*p)
		return -1;
	*out_ns = sec * 1000000000 + nsec;
	return 0;
}

int parse_size(const char *s, int64_t *out, berth_error **err)
{
	char *end = NULL;
	if (s == NULL || !*s)
		return berth_err(err, BERTH_E_INVALID, "invalid size: '%s'", s ? s : "");
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid size: '%s'", s);
	/* digits and dots only (Docker's grammar): strtod also takes "inf",
	 * "nan", "0x1p4" and leading blanks */
	for (const char *q = s; q < end; q++)
		if (!isdigit((unsigned char)*q) && *q != '.')
			return berth_err(err, BERTH_E_INVALID, "invalid size: '%s'", s);
	double mul = 1;
	char u = (char)tolower((unsigned char)*end);
	if (u) {
		switch (u) {
		case 'b': mul = 1; break;
		case 'k': mul = 1024.0; break;
		case 'm': mul = 1024.0 * 1024; break;
		case 'g': mul = 1024.0 * 1024 * 1024; break;
		case 't': mul = 1024.0 * 1024 * 1024 * 1024; break;
		case 'p': mul = 1024.0 * 1024 * 1024 * 1024 * 1024; break;
		default: return berth_err(err, BERTH_E_INVALID, "invalid size: '%s'", s);
		}
		end++;
		if (u != 'b' && (*end == 'b' || *end == 'B'))
			end++;
		if (*end == 'i')
			end++;
		if (u != 'b' && (*end == 'b' || *end == 'B'))
			end++;
		if (*end)
			return berth_err(err, BERTH_E_INVALID, "invalid size: '%s'", s);
	}
	/* out of int64_t's range the conversion would be undefined */
	if (!(v * mul < 9223372036854775807.0))
		return berth_err(err, BERTH_E_INVALID, "invalid size: '%s': too large", s);
	*out = (int64_t)(v * mul);
	return 0;
}

int parse_duration(const char *s, int64_t *ns, berth_error **err)
{
	static const struct {
		const char *unit;
		double mul;
	} units[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
	             {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	if (s == NULL || !*s)
		return berth_err(err, BERTH_E_INVALID, "invalid duration: '%s'", s ? s : "");
	const char *p = s;
	int sign = 1;
	if (*p == '-' || *p == '+')
		sign = *p++ == '-' ? -1 : 1;
	if (!strcmp(p, "0")) {
		*ns = 0;
		return 0;
	}
	double total = 0;
	while (*p) {
		/* Go's grammar: digits with an optional fraction (strtod would
		 * also take signs, blanks, exponents, hex, inf and nan) */
		const char *q = p;
		while (isdigit((unsigned char)*q) || *q == '.')
			q++;
		char *end = NULL;
		double v = q > p ? strtod(p, &end) : 0;
		if (q == p || end != q)
			return berth_err(err, BERTH_E_INVALID, "invalid duration: '%s'", s);
		p = end;
		size_t best = 0;
		double mul = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);
			if (!strncmp(p, units[i].unit, l) && l > best) {
				best = l;
				mul = units[i].mul;
			}
		}
		if (best == 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "invalid duration: '%s' (missing unit)", s);
		p += best;
		total += v * mul;
	}
	/* beyond int64_t the conversion would be undefined (Go: overflow) */
	if (!(total < 9223372036854775807.0))
		return berth_err(err, BERTH_E_INVALID, "invalid duration: '%s': too large", s);
	*ns = (int64_t)(sign * total);
	return 0;
}
