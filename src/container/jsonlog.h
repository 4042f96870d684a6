/* Docker's json-file log driver, writer side (libc only: used by
 * berth-monitor, unit-tested through libberth).
 *
 * Each line of output becomes one line {"log":"...\n","stream":"stdout",
 * "time":"<RFC 3339 nano>"}. A line longer than JSONLOG_LINE_MAX is split
 * into several entries, as Docker does. The file is rotated when it would
 * pass max_size: NAME -> NAME.1 -> ... -> NAME.<max_file-1>. */
#ifndef BERTH_CONTAINER_JSONLOG_H
#define BERTH_CONTAINER_JSONLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define JSONLOG_LINE_MAX 16384
/* The default cap, so that a chatty container cannot fill the disk. */
#define JSONLOG_DEFAULT_MAX_SIZE (10LL * 1024 * 1024)
#define JSONLOG_DEFAULT_MAX_FILE 5
/* The longest "attrs" object (log-opt labels/env) an entry carries. */
#define JSONLOG_ATTRS_MAX 4096

enum { JSONLOG_STDOUT = 0, JSONLOG_STDERR = 1 };

struct jsonlog {
	int dirfd; /* not owned */
	char name[128];
	int fd;
	int64_t size;
	int64_t max_size; /* <= 0: no limit */
	int max_file; /* >= 1 */
	const char *attrs; /* NULL or a JSON object's text, not owned */
	char part[2][JSONLOG_LINE_MAX];
	size_t partlen[2];
};

/* Format one entry (with trailing newline) into out; returns the length or
 * 0 if it does not fit. The escaping is Go's encoding/json (HTML-safe,
 * invalid UTF-8 replaced by U+FFFD). attrs: NULL or the text of a JSON
 * object, written as "attrs" between stream and time, as Docker does. */
size_t jsonlog_format(char *out, size_t cap, const char *msg, size_t n, int stream,
                      const char *attrs, const struct timespec *ts);
/* RFC 3339 with nanoseconds, trailing zeros trimmed (Go's RFC3339Nano). */
size_t jsonlog_time(char *out, size_t cap, const struct timespec *ts);

/* Returns 0 or -errno. */
int jsonlog_open(struct jsonlog *l, int dirfd, const char *name, int64_t max_size, int max_file);
/* Feed output of one stream; complete lines are written at once. */
int jsonlog_write(struct jsonlog *l, int stream, const char *buf, size_t n);
/* Write out a pending partial line of each stream (at EOF). */
int jsonlog_flush(struct jsonlog *l);
void jsonlog_close(struct jsonlog *l);

#endif
