/* Opening the store from a command, and small output helpers shared by the
 * image command files. */
#ifndef BERTH_CLI_CLISTORE_H
#define BERTH_CLI_CLISTORE_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "image/image.h"
#include "store/store.h"

/* Opens the store and the images tables; on failure prints the error and
 * returns NULL with *rc set to the exit code. */
static inline berth_store *cli_store_open(cli_ctx *ctx, int *rc)
{
	berth_store *s = NULL;
	_cleanup_error_ berth_error *err = NULL;
	if (store_open(ctx->root, ctx->runroot, &s, &err) < 0 || image_store_init(s, &err) < 0) {
		store_close(s);
		*rc = cli_fail(err);
		return NULL;
	}
	return s;
}

/* docker's units.HumanSizeWithPrecision(size, 3), as `images` prints. */
static inline char *cli_size3(int64_t bytes)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double b = (double)bytes;
	int i = 0;
	while (b >= 1000.0 && i < 5) {
		b /= 1000.0;
		i++;
	}
	return xasprintf("%.3g%s", b, units[i]);
}

/* "2 hours ago" */
static inline char *cli_since(int64_t unix_time)
{
	if (unix_time <= 0)
		return xstrdup("N/A");
	int64_t d = (int64_t)time(NULL) - unix_time;
	_cleanup_free_ char *h = human_duration(d < 0 ? 0 : d);
	return xasprintf("%s ago", h);
}

/* Go's time.Time.String() in UTC: "2026-11-28 23:08:24 +0000 UTC". */
static inline char *cli_time_str(int64_t unix_time)
{
	time_t t = (time_t)unix_time;
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S +0000 UTC", &tm);
	return xstrdup(buf);
}

/* Go's time.RFC3339 in UTC without fractions: "2026-11-28T23:08:24Z". */
static inline char *cli_time_rfc3339(int64_t unix_time)
{
	time_t t = (time_t)unix_time;
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

#endif
