#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"
#include <stdlib.h>

static int log_level = LOG_LVL_WARN;
static int log_fd = STDERR_FILENO;
static int log_json;

void log_set_level(int level)
{
	log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

void log_set_fd(int fd, int json)
{
	log_fd = fd;
	log_json = json;
}

static const char *level_name(int level)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	if (level < 0 || level > LOG_LVL_DEBUG)
		return "info";
	return names[level];
}

void log_msg(int level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	char *line;
	if (log_json) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		char tbuf[64];
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
		/* escape quotes and backslashes minimally */
		size_t n = strlen(msg);
		char *esc = xmalloc(n * 2 + 1), *o = esc;
		for (size_t i = 0; i < n; i++) {
			if (msg[i] == '"' || msg[i] == '\\')
				*o++ = '\\';
			*o++ = (msg[i] == '\n') ? ' ' : msg[i];
		}
		*o = 0;
		line = xasprintf("{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s.%09ldZ\"}\n",
		                 level_name(level), esc, tbuf, ts.tv_nsec);
		free(esc);
	} else {
		line = xasprintf("berth: %s%s%s\n", level == LOG_LVL_ERROR ? "" : level_name(level),
		                 level == LOG_LVL_ERROR ? "" : ": ", msg);
	}
	size_t len = strlen(line);
	if (write(log_fd, line, len) < 0) {
		/* ignore */
	}
	free(line);
	free(msg);
}
