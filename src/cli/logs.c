/* berth logs: read the json-file log (and its rotated files); -f follows
 * with inotify until the container's monitor is gone. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "container/container.h"

struct logopts {
	bool timestamps, details;
	int64_t since_ns, until_ns; /* 0: unset */
	long tail; /* -1: all */
};

/* --since/--until: RFC 3339, unix seconds[.frac], or a duration ago. */
static int parse_when(const char *v, int64_t *out)
{
	struct timespec ts;
	if (time_parse_rfc3339(v, &ts) == 0) {
		*out = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		return 0;
	}
	char *end;
	double d = strtod(v, &end);
	if (*end == 0 && end != v) {
		*out = (int64_t)(d * 1e9);
		return 0;
	}
	int64_t ns;
	if (parse_duration(v, &ns, NULL) == 0) {
		clock_gettime(CLOCK_REALTIME, &ts);
		*out = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - ns;
		return 0;
	}
	return -1;
}

/* Go's url.QueryEscape. */
static void query_escape(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			fputc(c, out);
		else if (c == ' ')
			fputc('+', out);
		else
			fprintf(out, "%%%02X", c);
	}
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* --details: the entry's attributes as Docker prints them, "k=v,k2=v2 "
 * (sorted, query-escaped; just the space when there are none). */
static void print_details(FILE *out, json_t *attrs)
{
	size_t n = json_object_size(attrs), i = 0;
	const char **keys = xcalloc(n + 1, sizeof(*keys));
	const char *k;
	json_t *v;
	json_object_foreach (attrs, k, v)
		keys[i++] = k;
	qsort(keys, i, sizeof(*keys), cmp_key);
	for (size_t x = 0; x < i; x++) {
		if (x)
			fputc(',', out);
		query_escape(out, keys[x]);
		fputc('=', out);
		const char *val = json_string_value(json_object_get(attrs, keys[x]));
		query_escape(out, val ? val : "");
	}
	fputc(' ', out);
	free(keys);
}

/* Print one log line; returns false when --until was passed. */
static bool emit(const char *line, size_t len, const struct logopts *o)
{
	_cleanup_json_ json_t *j = json_loadb(line, len, 0, NULL);
	if (j == NULL)
		return true;
	const char *msg = json_get_str(j, "log");
	const char *stream = json_get_str(j, "stream");
	const char *t = json_get_str(j, "time");
	if (msg == NULL)
		return true;
	if (o->since_ns || o->until_ns) {
		struct timespec ts;
		if (t && time_parse_rfc3339(t, &ts) == 0) {
			int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
			if (o->since_ns && ns < o->since_ns)
				return true;
			if (o->until_ns && ns > o->until_ns)
				return false;
		}
	}
	FILE *out = str_eq(stream, "stderr") ? stderr : stdout;
	if (o->timestamps)
		fprintf(out, "%s ", t ? t : "");
	if (o->details)
		print_details(out, json_object_get(j, "attrs"));
	fwrite(msg, 1, json_string_length(json_object_get(j, "log")), out);
	return true;
}

static void read_all_lines(const char *path, char ***lines)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (f == NULL)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0)
		*lines = strv_append(*lines, line);
	free(line);
}

int cmd_logs(cli_ctx *ctx, int argc, char **argv)
{
	enum { O_SINCE = 256, O_UNTIL, O_TAIL, O_DETAILS, O_HELP };
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"timestamps", no_argument, NULL, 't'},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"tail", required_argument, NULL, 'n'},
	    {"details", no_argument, NULL, O_DETAILS},
	    {"help", no_argument, NULL, O_HELP},
	    {NULL, 0, NULL, 0},
	};
	struct logopts o = {.tail = -1};
	bool follow = false;
	int c;
	while ((c = getopt_long(argc, argv, "+ftn:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = true; break;
		case 't': o.timestamps = true; break;
		case 'n':
			if (!strcmp(optarg, "all")) {
				o.tail = -1;
			} else {
				char *end;
				o.tail = strtol(optarg, &end, 10);
				if (*end)
					return cli_failf(EXIT_BERTH_FAILED,
					                 "invalid value for \"tail\": %s", optarg);
			}
			break;
		case O_SINCE:
			if (parse_when(optarg, &o.since_ns) < 0)
				return cli_failf(
				    EXIT_BERTH_FAILED,
				    "invalid value for \"since\": failed to parse value as "
				    "time or duration: \"%s\"",
				    optarg);
			break;
		case O_UNTIL:
			if (parse_when(optarg, &o.until_ns) < 0)
				return cli_failf(
				    EXIT_BERTH_FAILED,
				    "invalid value for \"until\": failed to parse value as "
				    "time or duration: \"%s\"",
				    optarg);
			break;
		case O_DETAILS: o.details = true; break;
		case O_HELP:
			printf("Usage:  berth logs [OPTIONS] CONTAINER\n\nFetch the logs of a "
			       "container\n\nOptions:\n"
			       "      --details        Show extra details provided to logs\n"
			       "  -f, --follow         Follow log output\n"
			       "      --since string   Show logs since timestamp or relative\n"
			       "  -n, --tail string    Number of lines to show from the end of the "
			       "logs (default \"all\")\n"
			       "  -t, --timestamps     Show timestamps\n"
			       "      --until string   Show logs before a timestamp or relative\n");
			return 0;
		default: return cli_usage_error("logs", "unknown flag");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("logs", "\"logs\" requires exactly 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, argv[optind], true, &r, &err) < 0)
		return cli_fail(err);
	json_t *lc = json_object_get(json_object_get(r->config, "HostConfig"), "LogConfig");
	if (str_eq(json_get_str(lc, "Type"), "none"))
		return cli_failf(1, "configured logging driver does not support reading");
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *base = xasprintf("%s/%s-json.log", dir, r->id);
	/* set up the watch before reading, so nothing written in between is lost */
	_cleanup_close_ int ino = -1;
	const char *st = container_status(r);
	bool live = !strcmp(st, "running") || !strcmp(st, "paused") || !strcmp(st, "restarting");
	if (follow && live) {
		ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (ino >= 0)
			inotify_add_watch(ino, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE);
	}
	_cleanup_strv_ char **lines = NULL;
	for (int i = 9; i >= 1; i--) {
		_cleanup_free_ char *p = xasprintf("%s.%d", base, i);
		read_all_lines(p, &lines);
	}
	int fd = open(base, O_RDONLY | O_CLOEXEC);
	_cleanup_strv_ char **cur = NULL;
	if (fd >= 0) {
		/* read the current file through fd so following continues from here */
		_cleanup_fclose_ FILE *f = fdopen(dup(fd), "re");
		char *line = NULL;
		size_t cap = 0;
		off_t consumed = 0;
		ssize_t n;
		while (f && (n = getline(&line, &cap, f)) > 0) {
			if (line[n - 1] != '\n')
				break; /* a line being written: take it when complete */
			lines = strv_append(lines, line);
			consumed += n;
		}
		free(line);
		lseek(fd, consumed, SEEK_SET);
	}
	size_t total = strv_len(lines);
	size_t start = o.tail >= 0 && (size_t)o.tail < total ? total - (size_t)o.tail : 0;
	for (size_t i = start; i < total; i++) {
		if (!emit(lines[i], strlen(lines[i]), &o)) {
			if (fd >= 0)
				close(fd);
			return 0;
		}
	}
	fflush(stdout);
	fflush(stderr);
	if (ino < 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	strbuf pending;
	sb_init(&pending);
	_cleanup_free_ char *dirp = xstrdup(dir);
	_cleanup_close_ int dfd = open(dirp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	bool done = false;
	while (!done) {
		struct pollfd p = {.fd = ino, .events = POLLIN};
		poll(&p, 1, 1000);
		char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		bool reopen = false, check = p.revents == 0;
		ssize_t n = read(ino, evbuf, sizeof(evbuf));
		for (char *e = evbuf; n > 0 && e < evbuf + n;) {
			struct inotify_event *ev = (struct inotify_event *)e;
			if (ev->len && !strcmp(ev->name, CTR_MONITOR_LOCK))
				check = true;
			if (ev->len && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
			    str_has_suffix(ev->name, "-json.log"))
				reopen = true;
			e += sizeof(*ev) + ev->len;
		}
		/* read what is new in the current file */
		for (;;) {
			char buf[65536];
			ssize_t got = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
			if (got <= 0)
				break;
			sb_appendn(&pending, buf, (size_t)got);
		}
		char *nl;
		size_t off = 0;
		while (pending.buf && (nl = memchr(pending.buf + off, '\n', pending.len - off))) {
			size_t l = (size_t)(nl - (pending.buf + off)) + 1;
			if (!emit(pending.buf + off, l, &o))
				done = true;
			off += l;
		}
		if (off) {
			memmove(pending.buf, pending.buf + off, pending.len - off);
			pending.len -= off;
		}
		fflush(stdout);
		fflush(stderr);
		if (reopen) {
			if (fd >= 0)
				close(fd);
			fd = open(base, O_RDONLY | O_CLOEXEC);
		}
		if (check && !ctr_monitor_alive_at(dfd)) {
			/* one last read after the monitor is gone */
			for (;;) {
				char buf[65536];
				ssize_t got = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
				if (got <= 0)
					break;
				sb_appendn(&pending, buf, (size_t)got);
			}
			off = 0;
			while (pending.buf &&
			       (nl = memchr(pending.buf + off, '\n', pending.len - off))) {
				size_t l = (size_t)(nl - (pending.buf + off)) + 1;
				emit(pending.buf + off, l, &o);
				off += l;
			}
			done = true;
		}
	}
	sb_free(&pending);
	if (fd >= 0)
		close(fd);
	fflush(stdout);
	return 0;
}
