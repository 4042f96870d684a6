/* Strings: growable buffers, string vectors, Docker-style formatting of
 * sizes, durations and times, and parsing of sizes/durations. */
#ifndef BERTH_BASE_STR_H
#define BERTH_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/error.h"

typedef struct strbuf {
	char *buf;
	size_t len, cap;
} strbuf;

void sb_init(strbuf *sb);
void sb_append(strbuf *sb, const char *s);
void sb_appendn(strbuf *sb, const char *s, size_t n);
void sb_appendc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *sb_steal(strbuf *sb); /* returns NUL-terminated string, resets sb */
void sb_free(strbuf *sb);
static inline void sb_freep(strbuf *sb)
{
	sb_free(sb);
}
#define _cleanup_sb_ __attribute__((cleanup(sb_freep)))

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
bool str_eq(const char *a, const char *b); /* NULL-safe */
/* The value of a hex digit (either case), or -1. */
int str_hexval(char c);

size_t strv_len(char *const *v);
/* Append a copy of s to a NULL-terminated vector (which may be NULL). */
char **strv_append(char **v, const char *s);
char **strv_dup(char *const *v);
bool strv_contains(char *const *v, const char *s);
char *strv_join(char *const *v, const char *sep);
/* Split on a separator character (empty fields kept). */
char **str_split(const char *s, char sep);

/* Docker's units.HumanSize: 3 significant digits, decimal units
 * ("1.98MB", "512B", "12.3kB"). */
char *human_size(double bytes);
/* Docker's units.HumanDuration of (now - t): "Less than a second",
 * "2 minutes", "About an hour", "3 days", ... (without " ago"). */
char *human_duration(int64_t seconds);
/* RFC 3339 with nanoseconds in UTC: 2026-11-28T12:00:00.123456789Z */
char *time_rfc3339nano(const struct timespec *ts);
int time_parse_rfc3339(const char *s, struct timespec *out);
/* Docker's timestamp filter values (until=, --since): a Go duration before
 * now ("10m", "24h"), RFC 3339 with or without fraction and zone, a date
 * ("2006-01-02", "2006-01-02T15", "2006-01-02T15:04"; no zone means UTC
 * here), or Unix seconds with an optional fraction ("1700000000.5").
 * *out_ns is nanoseconds since the epoch. */
int time_parse_docker(const char *s, const struct timespec *now, int64_t *out_ns);

/* "32m", "1g", "512k", "100" -> bytes (binary units, as Docker's RAMInBytes). */
int parse_size(const char *s, int64_t *out, berth_error **err);
/* Go duration ("30s", "1m30s", "500ms", "2h") -> nanoseconds. */
int parse_duration(const char *s, int64_t *ns, berth_error **err);

#endif
