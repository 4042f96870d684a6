/* json-file log writer (libc only; see jsonlog.h). */
#include "container/jsonlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t jsonlog_time(char *out, size_t cap, const struct timespec *ts)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	gmtime_r(&t, &tm);
	char frac[16] = "";
	if (ts->tv_nsec != 0) {
		snprintf(frac, sizeof(frac), ".%09ld", ts->tv_nsec);
		size_t n = strlen(frac);
		while (frac[n - 1] == '0')
			frac[--n] = 0;
	}
	int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned int cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

struct out {
	char *p;
	size_t len, cap;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_escaped(struct out *o, const char *msg, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)msg;
	size_t i = 0;
	while (i < n && !o->overflow) {
		unsigned char c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' &&
		    c < 0x80) {
			size_t j = i;
			while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' &&
			       s[j] != '\\' && s[j] != '<' && s[j] != '>' && s[j] != '&')
				j++;
			put(o, msg + i, j - i);
			i = j;
			continue;
		}
		switch (c) {
		case '"':
			put(o, "\\\"", 2);
			i++;
			continue;
		case '\\':
			put(o, "\\\\", 2);
			i++;
			continue;
		case '\n':
			put(o, "\\n", 2);
			i++;
			continue;
		case '\r':
			put(o, "\\r", 2);
			i++;
			continue;
		case '\t':
			put(o, "\\t", 2);
			i++;
			continue;
		default: break;
		}
		if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(o, u, 6);
			i++;
			continue;
		}
		size_t l = utf8_seq(s + i, n - i);
		if (l == 0) {
			put(o, "\\ufffd", 6);
			i++;
		} else if (l == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 &&
		           (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			put(o, s[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
			i += 3;
		} else {
			put(o, msg + i, l);
			i += l;
		}
	}
}

size_t jsonlog_format(char *out, size_t cap, const char *msg, size_t n, int stream,
                      const char *attrs, const struct timespec *ts)
{
	struct out o = {out, 0, cap, false};
	put(&o, "{\"log\":\"", 8);
	put_escaped(&o, msg, n);
	if (stream == JSONLOG_STDERR)
		put(&o, "\",\"stream\":\"stderr\",", 20);
	else
		put(&o, "\",\"stream\":\"stdout\",", 20);
	if (attrs != NULL) {
		put(&o, "\"attrs\":", 8);
		put(&o, attrs, strlen(attrs));
		put(&o, ",", 1);
	}
	put(&o, "\"time\":\"", 8);
	char t[64];
	size_t tl = jsonlog_time(t, sizeof(t), ts);
	put(&o, t, tl);
	put(&o, "\"}\n", 3);
	return o.overflow ? 0 : o.len;
}

static int open_current(struct jsonlog *l)
{
	l->fd = openat(l->dirfd, l->name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	struct stat st;
	l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

int jsonlog_open(struct jsonlog *l, int dirfd, const char *name, int64_t max_size, int max_file)
{
	memset(l, 0, sizeof(*l));
	l->dirfd = dirfd;
	l->fd = -1;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->max_size = max_size;
	l->max_file = max_file < 1 ? 1 : max_file;
	return open_current(l);
}

static int rotate(struct jsonlog *l)
{
	close(l->fd);
	l->fd = -1;
	if (l->max_file <= 1) {
		l->fd = openat(l->dirfd, l->name, O_WRONLY | O_TRUNC | O_APPEND | O_CLOEXEC);
		if (l->fd < 0)
			return -errno;
		l->size = 0;
		return 0;
	}
	char from[160], to[160];
	for (int i = l->max_file - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", l->name);
		else
			snprintf(from, sizeof(from), "%s.%d", l->name, i - 1);
		snprintf(to, sizeof(to), "%s.%d", l->name, i);
		if (renameat(l->dirfd, from, l->dirfd, to) < 0 && errno != ENOENT)
			return -errno;
	}
	return open_current(l);
}

static int emit(struct jsonlog *l, int stream, const char *msg, size_t n)
{
	char buf[JSONLOG_LINE_MAX * 6 + 128 + JSONLOG_ATTRS_MAX];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	size_t len = jsonlog_format(buf, sizeof(buf), msg, n, stream, l->attrs, &ts);
	if (len == 0)
		return -EOVERFLOW;
	if (l->fd < 0)
		return -EBADF;
	if (l->max_size > 0 && l->size > 0 && l->size + (int64_t)len > l->max_size) {
		int r = rotate(l);
		if (r < 0)
			return r;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(l->fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		off += (size_t)w;
	}
	l->size += (int64_t)len;
	return 0;
}

int jsonlog_write(struct jsonlog *l, int stream, const char *buf, size_t n)
{
	int s = stream == JSONLOG_STDERR ? 1 : 0;
	int ret = 0;
	while (n > 0) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) + 1 : n;
		size_t room = JSONLOG_LINE_MAX - l->partlen[s];
		if (take > room)
			take = room;
		memcpy(l->part[s] + l->partlen[s], buf, take);
		l->partlen[s] += take;
		buf += take;
		n -= take;
		if (l->part[s][l->partlen[s] - 1] == '\n' || l->partlen[s] == JSONLOG_LINE_MAX) {
			int r = emit(l, stream, l->part[s], l->partlen[s]);
			if (r < 0)
				ret = r;
			l->partlen[s] = 0;
		}
	}
	return ret;
}

int jsonlog_flush(struct jsonlog *l)
{
	int ret = 0;
	for (int s = 0; s < 2; s++) {
		if (l->partlen[s]) {
			int r = emit(l, s == 1 ? JSONLOG_STDERR : JSONLOG_STDOUT, l->part[s],
			             l->partlen[s]);
			if (r < 0)
				ret = r;
			l->partlen[s] = 0;
		}
	}
	return ret;
}

void jsonlog_close(struct jsonlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
