/* Tar reader (ustar, GNU long names, PAX) and Go-compatible header writer. */
#include "image/tar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

/* ustar header field offsets and sizes */
#define F_NAME 0, 100
#define F_MODE 100, 8
#define F_UID 108, 8
#define F_GID 116, 8
#define F_SIZE 124, 12
#define F_MTIME 136, 12
#define F_CHKSUM 148, 8
#define F_TYPE 156, 1
#define F_LINK 157, 100
#define F_MAGIC 257, 6
#define F_VERSION 263, 2
#define F_UNAME 265, 32
#define F_GNAME 297, 32
#define F_DEVMAJOR 329, 8
#define F_DEVMINOR 337, 8
#define F_PREFIX 345, 155

#define FIELD_OFF(off, len) (off)
#define FIELD_LEN(off, len) (len)
#define FOFF(f) FIELD_OFF(f)
#define FLEN(f) FIELD_LEN(f)

struct tar_reader {
	tar_next_fn next;
	tar_skip_fn skip;
	void *opaque;
	tar_entry e;
	uint64_t pos; /* bytes of the stream consumed */
	uint64_t remaining; /* data bytes of the current entry not yet read */
	uint64_t pad; /* padding after the data */
	bool done;
	strbuf *capture; /* gets every byte not claimed as entry data */
	bool claimed; /* the current entry's data is kept by the caller */
};

static void xattrs_free(tar_xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

static void entry_clear(tar_entry *e)
{
	free(e->path);
	free(e->linkname);
	xattrs_free(e->xattrs, e->nxattrs);
	memset(e, 0, sizeof(*e));
}

void tar_pax_clear(tar_pax *pax)
{
	free(pax->path);
	free(pax->linkpath);
	xattrs_free(pax->xattrs, pax->nxattrs);
	memset(pax, 0, sizeof(*pax));
}

tar_reader *tar_reader_new(tar_next_fn next, void *opaque)
{
	tar_reader *r = xcalloc(1, sizeof(*r));
	r->next = next;
	r->opaque = opaque;
	return r;
}

void tar_reader_set_skip(tar_reader *r, tar_skip_fn skip)
{
	r->skip = skip;
}

void tar_reader_set_capture(tar_reader *r, strbuf *raw)
{
	r->capture = raw;
}

void tar_reader_claim(tar_reader *r)
{
	r->claimed = true;
}

uint64_t tar_reader_offset(const tar_reader *r)
{
	return r->pos;
}

void tar_reader_free(tar_reader *r)
{
	if (r == NULL)
		return;
	entry_clear(&r->e);
	free(r);
}

/* Read exactly n bytes (into buf, or discard when buf is NULL). Returns the
 * number read (< n only at end of stream) or -1. */
static int64_t read_full(tar_reader *r, unsigned char *buf, uint64_t n, berth_error **err)
{
	uint64_t got = 0;
	if (buf == NULL && r->skip && r->capture == NULL) {
		int64_t k = r->skip(r->opaque, n, err);
		if (k < 0)
			return -1;
		r->pos += (uint64_t)k;
		return k;
	}
	while (got < n) {
		const unsigned char *p;
		size_t len;
		uint64_t want = n - got;
		if (r->next(r->opaque, &p, &len, want > SIZE_MAX ? SIZE_MAX : (size_t)want, err) <
		    0)
			return -1;
		if (len == 0)
			break;
		if (buf)
			memcpy(buf + got, p, len);
		if (r->capture)
			sb_appendn(r->capture, (const char *)p, len);
		got += len;
	}
	r->pos += got;
	return (int64_t)got;
}

static int read_exact(tar_reader *r, unsigned char *buf, uint64_t n, berth_error **err)
{
	int64_t got = read_full(r, buf, n, err);
	if (got < 0)
		return -1;
	if ((uint64_t)got < n)
		return berth_err(err, BERTH_E_INVALID, "unexpected end of tar stream");
	return 0;
}

/* Go's parseNumeric: base-256 when the high bit is set, else octal with
 * leading/trailing spaces and NULs. */
static int parse_num(const unsigned char *b, size_t n, uint64_t *out)
{
	if (n > 0 && (b[0] & 0x80)) {
		if (b[0] & 0x40)
			return -1; /* negative */
		uint64_t x = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = i == 0 ? (b[0] & 0x7f) : b[i];
			if (x >> 56)
				return -1;
			x = (x << 8) | c;
		}
		*out = x;
		return 0;
	}
	size_t s = 0, e = n;
	while (s < e && (b[s] == ' ' || b[s] == 0))
		s++;
	while (e > s && (b[e - 1] == ' ' || b[e - 1] == 0))
		e--;
	uint64_t x = 0;
	for (size_t i = s; i < e; i++) {
		if (b[i] < '0' || b[i] > '7')
			return -1;
		if (x >> 61)
			return -1;
		x = x * 8 + (uint64_t)(b[i] - '0');
	}
	*out = x;
	return 0;
}

static char *field_str(const unsigned char *b, size_t n)
{
	size_t l = 0;
	while (l < n && b[l])
		l++;
	return xstrndup((const char *)b, l);
}

static bool block_is_zero(const unsigned char *b)
{
	for (size_t i = 0; i < TAR_BLOCK; i++)
		if (b[i])
			return false;
	return true;
}

static bool checksum_ok(const unsigned char *b)
{
	uint64_t want;
	if (parse_num(b + FOFF(F_CHKSUM), FLEN(F_CHKSUM), &want) < 0)
		return false;
	uint64_t usum = 0;
	int64_t ssum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		unsigned char c = b[i];
		if (i >= FOFF(F_CHKSUM) && i < FOFF(F_CHKSUM) + FLEN(F_CHKSUM))
			c = ' ';
		usum += c;
		ssum += (signed char)c;
	}
	return want == usum || (int64_t)want == ssum;
}

static void xattr_set(tar_xattr **xs, size_t *n, const char *name, size_t namelen, const char *val,
                      size_t vlen)
{
	for (size_t i = 0; i < *n; i++) {
		if (strlen((*xs)[i].name) == namelen && !memcmp((*xs)[i].name, name, namelen)) {
			free((*xs)[i].value);
			(*xs)[i].value = xmemdup(val, vlen ? vlen : 1);
			(*xs)[i].len = vlen;
			return;
		}
	}
	*xs = xreallocarray(*xs, *n + 1, sizeof(**xs));
	(*xs)[*n].name = xstrndup(name, namelen);
	(*xs)[*n].value = xmemdup(val, vlen ? vlen : 1);
	(*xs)[*n].len = vlen;
	(*n)++;
}

static int parse_dec_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 20)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

/* PAX time: [-]SECONDS[.FRACTION] */
static int parse_pax_time(const char *s, size_t n, int64_t *sec, uint32_t *nsec)
{
	bool neg = false;
	if (n > 0 && s[0] == '-') {
		neg = true;
		s++;
		n--;
	}
	const char *dot = memchr(s, '.', n);
	size_t il = dot ? (size_t)(dot - s) : n;
	uint64_t secs;
	if (parse_dec_u64(s, il, &secs) < 0 || secs > INT64_MAX)
		return -1;
	uint32_t ns = 0;
	if (dot) {
		size_t fl = n - il - 1;
		uint32_t scale = 100000000;
		for (size_t i = 0; i < fl; i++) {
			char c = dot[1 + i];
			if (c < '0' || c > '9')
				return -1;
			ns += (uint32_t)(c - '0') * scale;
			scale /= 10;
		}
	}
	if (neg) {
		/* -1.25 is 1.25 s before the epoch: sec -2, nsec 750000000 */
		*sec = -(int64_t)secs;
		if (ns) {
			*sec -= 1;
			ns = 1000000000u - ns;
		}
	} else {
		*sec = (int64_t)secs;
	}
	*nsec = ns;
	return 0;
}

int tar_parse_pax(const char *buf, size_t len, tar_pax *pax, berth_error **err)
{
	size_t pos = 0;
	while (pos < len) {
		/* "%d %s=%s\n", the length counting the whole record */
		size_t i = pos;
		while (i < len && buf[i] >= '0' && buf[i] <= '9')
			i++;
		uint64_t rl;
		if (i == pos || i >= len || buf[i] != ' ' ||
		    parse_dec_u64(buf + pos, i - pos, &rl) < 0 || rl > len - pos ||
		    rl <= i - pos + 1)
			return berth_err(err, BERTH_E_INVALID, "invalid PAX record");
		const char *rec = buf + i + 1;
		size_t reclen = (size_t)rl - (i - pos + 1);
		if (rec[reclen - 1] != '\n')
			return berth_err(err, BERTH_E_INVALID, "invalid PAX record");
		reclen--;
		const char *eq = memchr(rec, '=', reclen);
		if (eq == NULL || eq == rec)
			return berth_err(err, BERTH_E_INVALID, "invalid PAX record");
		size_t kl = (size_t)(eq - rec);
		const char *v = eq + 1;
		size_t vl = reclen - kl - 1;
		pos += (size_t)rl;

#define KEY_IS(k) (kl == strlen(k) && !memcmp(rec, k, kl))
		if (KEY_IS("path") || KEY_IS("linkpath")) {
			if (memchr(v, 0, vl))
				return berth_err(err, BERTH_E_INVALID, "invalid PAX path");
			char **dst = KEY_IS("path") ? &pax->path : &pax->linkpath;
			free(*dst);
			*dst = xstrndup(v, vl);
		} else if (KEY_IS("size") || KEY_IS("uid") || KEY_IS("gid")) {
			uint64_t x;
			if (parse_dec_u64(v, vl, &x) < 0)
				return berth_err(err, BERTH_E_INVALID, "invalid PAX number");
			if (KEY_IS("size")) {
				if (x > INT64_MAX)
					return berth_err(err, BERTH_E_INVALID, "invalid PAX size");
				pax->size = x;
				pax->has_size = true;
			} else if (KEY_IS("uid")) {
				pax->uid = x;
				pax->has_uid = true;
			} else {
				pax->gid = x;
				pax->has_gid = true;
			}
		} else if (KEY_IS("mtime")) {
			if (parse_pax_time(v, vl, &pax->mtime, &pax->mtime_nsec) < 0)
				return berth_err(err, BERTH_E_INVALID, "invalid PAX mtime");
			pax->has_mtime = true;
		} else if (kl > 13 && !memcmp(rec, "SCHILY.xattr.", 13)) {
			if (memchr(rec + 13, 0, kl - 13))
				return berth_err(err, BERTH_E_INVALID, "invalid PAX xattr name");
			xattr_set(&pax->xattrs, &pax->nxattrs, rec + 13, kl - 13, v, vl);
		} else if (kl >= 11 && !memcmp(rec, "GNU.sparse.", 11)) {
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "sparse files are not supported");
		}
		/* anything else (atime, ctime, uname, gname, comments...) is ignored */
#undef KEY_IS
	}
	return 0;
}

/* Read the data of a special entry (PAX header, GNU long name) whole. */
static int read_special(tar_reader *r, uint64_t size, char **out, berth_error **err)
{
	if (size > TAR_MAX_SPECIAL)
		return berth_err(err, BERTH_E_INVALID, "tar extended header too large");
	_cleanup_free_ char *buf = xmalloc((size_t)size + 1);
	if (read_exact(r, (unsigned char *)buf, size, err) < 0)
		return -1;
	buf[size] = 0;
	if (read_exact(r, NULL, tar_padding(size), err) < 0)
		return -1;
	*out = steal_ptr(buf);
	return 0;
}

int tar_reader_next(tar_reader *r, const tar_entry **out, berth_error **err)
{
	if (r->done)
		return 0;
	if (r->remaining + r->pad > 0) {
		if (read_exact(r, NULL, r->remaining + r->pad, err) < 0)
			return -1;
		r->remaining = r->pad = 0;
	}
	r->claimed = false;
	entry_clear(&r->e);

	tar_pax pax = {0};
	_cleanup_free_ char *longname = NULL, *longlink = NULL;
	bool pending = false;
	int ret = -1;
	unsigned char b[TAR_BLOCK];
	for (;;) {
		int64_t got = read_full(r, b, TAR_BLOCK, err);
		if (got < 0)
			goto out;
		if (got == 0 && !pending) {
			/* end of stream without end-of-archive blocks: accepted, as Go */
			r->done = true;
			ret = 0;
			goto out;
		}
		if (got < TAR_BLOCK) {
			berth_err(err, BERTH_E_INVALID, "unexpected end of tar stream");
			goto out;
		}
		if (block_is_zero(b)) {
			if (pending) {
				berth_err(err, BERTH_E_INVALID,
				          "tar extended header without entry");
				goto out;
			}
			got = read_full(r, b, TAR_BLOCK, err);
			if (got < 0)
				goto out;
			if (got == 0 || (got == TAR_BLOCK && block_is_zero(b))) {
				r->done = true;
				ret = 0;
				goto out;
			}
			berth_err(err, BERTH_E_INVALID, "invalid tar header after a zero block");
			goto out;
		}
		if (!checksum_ok(b)) {
			berth_err(err, BERTH_E_INVALID, "invalid tar header checksum");
			goto out;
		}
		uint64_t size;
		if (parse_num(b + FOFF(F_SIZE), FLEN(F_SIZE), &size) < 0 || size > INT64_MAX) {
			berth_err(err, BERTH_E_INVALID, "invalid tar header size");
			goto out;
		}
		char type = (char)b[FOFF(F_TYPE)];
		if (type == 'x') {
			_cleanup_free_ char *data = NULL;
			if (read_special(r, size, &data, err) < 0 ||
			    tar_parse_pax(data, (size_t)size, &pax, err) < 0)
				goto out;
			pending = true;
			continue;
		}
		if (type == 'g' || type == 'V') {
			/* global PAX header (ignored, as Docker does), volume label */
			_cleanup_free_ char *data = NULL;
			if (read_special(r, size, &data, err) < 0)
				goto out;
			continue;
		}
		if (type == 'L' || type == 'K') {
			char **dst = type == 'L' ? &longname : &longlink;
			free(*dst);
			*dst = NULL;
			if (read_special(r, size, dst, err) < 0)
				goto out;
			pending = true;
			continue;
		}

		tar_entry *e = &r->e;
		switch (type) {
		case 0:
		case '7':
		case TAR_REG: e->type = TAR_REG; break;
		case TAR_LINK:
		case TAR_SYMLINK:
		case TAR_CHR:
		case TAR_BLK:
		case TAR_DIR:
		case TAR_FIFO: e->type = type; break;
		case 'S':
			berth_err(err, BERTH_E_UNSUPPORTED, "sparse files are not supported");
			goto out;
		default:
			berth_err(err, BERTH_E_UNSUPPORTED, "unsupported tar entry type '%c'",
			          type >= 32 && type < 127 ? type : '?');
			goto out;
		}
		uint64_t mode, uid, gid, mtime, dmaj = 0, dmin = 0;
		if (parse_num(b + FOFF(F_MODE), FLEN(F_MODE), &mode) < 0 ||
		    parse_num(b + FOFF(F_UID), FLEN(F_UID), &uid) < 0 ||
		    parse_num(b + FOFF(F_GID), FLEN(F_GID), &gid) < 0 ||
		    parse_num(b + FOFF(F_MTIME), FLEN(F_MTIME), &mtime) < 0 || mtime > INT64_MAX) {
			berth_err(err, BERTH_E_INVALID, "invalid tar header");
			goto out;
		}
		bool ustar = !memcmp(b + FOFF(F_MAGIC), "ustar\0", 6);
		bool gnu = !memcmp(b + FOFF(F_MAGIC), "ustar ", 6);
		if ((ustar || gnu) && (e->type == TAR_CHR || e->type == TAR_BLK)) {
			if (parse_num(b + FOFF(F_DEVMAJOR), FLEN(F_DEVMAJOR), &dmaj) < 0 ||
			    parse_num(b + FOFF(F_DEVMINOR), FLEN(F_DEVMINOR), &dmin) < 0 ||
			    dmaj > UINT32_MAX || dmin > UINT32_MAX) {
				berth_err(err, BERTH_E_INVALID, "invalid tar device number");
				goto out;
			}
		}
		e->mode = (uint32_t)(mode & 07777);
		e->uid = pax.has_uid ? pax.uid : uid;
		e->gid = pax.has_gid ? pax.gid : gid;
		e->size = pax.has_size ? pax.size : size;
		if (pax.has_mtime) {
			e->mtime = pax.mtime;
			e->mtime_nsec = pax.mtime_nsec;
		} else {
			e->mtime = (int64_t)mtime;
		}
		e->devmajor = (uint32_t)dmaj;
		e->devminor = (uint32_t)dmin;
		if (pax.path) {
			e->path = steal_ptr(pax.path);
		} else if (longname) {
			e->path = steal_ptr(longname);
		} else {
			_cleanup_free_ char *name = field_str(b + FOFF(F_NAME), FLEN(F_NAME));
			_cleanup_free_ char *prefix =
			    ustar ? field_str(b + FOFF(F_PREFIX), FLEN(F_PREFIX)) : NULL;
			if (prefix && *prefix)
				e->path = xasprintf("%s/%s", prefix, name);
			else
				e->path = steal_ptr(name);
		}
		if (pax.linkpath)
			e->linkname = steal_ptr(pax.linkpath);
		else if (longlink)
			e->linkname = steal_ptr(longlink);
		else
			e->linkname = field_str(b + FOFF(F_LINK), FLEN(F_LINK));
		e->xattrs = steal_ptr(pax.xattrs);
		e->nxattrs = pax.nxattrs;
		pax.nxattrs = 0;
		/* Header-only types carry no data whatever the size field says (Go). */
		if (e->type != TAR_REG) {
			r->remaining = r->pad = 0;
			e->size = 0;
		} else {
			r->remaining = e->size;
			r->pad = tar_padding(e->size);
		}
		*out = e;
		ret = 1;
		goto out;
	}
out:
	tar_pax_clear(&pax);
	return ret;
}

int tar_reader_data(tar_reader *r, const unsigned char **p, size_t *len, berth_error **err)
{
	if (r->remaining == 0) {
		*len = 0;
		return 0;
	}
	size_t max = r->remaining > SIZE_MAX ? SIZE_MAX : (size_t)r->remaining;
	if (r->next(r->opaque, p, len, max, err) < 0)
		return -1;
	if (*len == 0)
		return berth_err(err, BERTH_E_INVALID, "unexpected end of tar stream");
	if (r->capture && !r->claimed)
		sb_appendn(r->capture, (const char *)*p, *len);
	r->remaining -= *len;
	r->pos += *len;
	return 0;
}

/* --- writer --- */

size_t tar_padding(uint64_t size)
{
	return (size_t)((TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK);
}

void tar_write_end(strbuf *out)
{
	static const char zero[2 * TAR_BLOCK];
	sb_appendn(out, zero, sizeof(zero));
}

/* Go's fitsInOctal for a field of n bytes (n-1 digits and a NUL). */
static bool fits_octal(size_t n, uint64_t x)
{
	unsigned bits = (unsigned)(n - 1) * 3;
	return bits >= 64 || x < (1ull << bits);
}

/* Go's formatOctal: zero-padded digits, NUL-terminated when there is room;
 * a value that does not fit is written as 0. */
static void put_octal(unsigned char *b, size_t n, uint64_t x)
{
	if (!fits_octal(n, x))
		x = 0;
	char digits[24];
	size_t nd = 0;
	do {
		digits[nd++] = (char)('0' + (x & 7));
		x >>= 3;
	} while (x);
	size_t width = n - 1;
	size_t i = 0;
	for (; i + nd < width; i++)
		b[i] = '0';
	while (nd)
		b[i++] = (unsigned char)digits[--nd];
	if (i < n)
		b[i] = 0;
}

/* Go's formatString: copy, truncating; NUL-terminate when shorter. */
static void put_str(unsigned char *b, size_t n, const char *s)
{
	size_t l = strlen(s);
	memcpy(b, s, l < n ? l : n);
	if (l < n)
		b[l] = 0;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

static char *to_ascii(const char *s)
{
	char *o = xmalloc(strlen(s) + 1);
	size_t n = 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x80)
			o[n++] = *s;
	o[n] = 0;
	return o;
}

/* Go's splitUSTARPath: prefix (<= 155) "/" name (<= 100). */
static bool split_ustar(const char *name, size_t *split)
{
	size_t len = strlen(name);
	if (len <= 100 || !is_ascii(name))
		return false;
	size_t l = len;
	if (l > 156)
		l = 156;
	else if (name[l - 1] == '/')
		l--;
	ssize_t i = -1;
	for (size_t k = 0; k < l; k++)
		if (name[k] == '/')
			i = (ssize_t)k;
	if (i <= 0)
		return false;
	size_t nlen = len - (size_t)i - 1, plen = (size_t)i;
	if (nlen > 100 || nlen == 0 || plen > 155)
		return false;
	*split = (size_t)i;
	return true;
}

static void set_checksum(unsigned char *b)
{
	memset(b + FOFF(F_CHKSUM), ' ', FLEN(F_CHKSUM));
	unsigned sum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += b[i];
	put_octal(b + FOFF(F_CHKSUM), 7, sum);
	b[FOFF(F_CHKSUM) + 7] = ' ';
}

static void set_magic(unsigned char *b)
{
	memcpy(b + FOFF(F_MAGIC), "ustar\0", 6);
	memcpy(b + FOFF(F_VERSION), "00", 2);
}

typedef struct pax_rec {
	const char *key;
	char *keybuf; /* owned key when built */
	const char *val;
	size_t vlen;
	char *valbuf;
} pax_rec;

static int cmp_pax_rec(const void *a, const void *b)
{
	return strcmp(((const pax_rec *)a)->key, ((const pax_rec *)b)->key);
}

/* Go's formatPAXRecord */
static void append_pax_record(strbuf *sb, const char *k, const char *v, size_t vl)
{
	size_t size = strlen(k) + vl + 3;
	char tmp[32];
	int dl = snprintf(tmp, sizeof(tmp), "%zu", size);
	size += (size_t)dl;
	dl = snprintf(tmp, sizeof(tmp), "%zu", size);
	if ((size_t)dl + strlen(k) + vl + 3 != size)
		size = (size_t)dl + strlen(k) + vl + 3;
	sb_printf(sb, "%zu %s=", size, k);
	sb_appendn(sb, v, vl);
	sb_appendc(sb, '\n');
}

static char *pax_header_name(const char *name)
{
	/* path.Join(dir, "PaxHeaders.0", file) with dir/file from path.Split */
	const char *slash = strrchr(name, '/');
	strbuf sb;
	sb_init(&sb);
	if (slash) {
		size_t dl = (size_t)(slash - name);
		while (dl > 0 && name[dl - 1] == '/')
			dl--;
		if (dl > 0) {
			sb_appendn(&sb, name, dl);
			sb_appendc(&sb, '/');
		} else if (name[0] == '/') {
			sb_appendc(&sb, '/');
		}
	}
	sb_append(&sb, "PaxHeaders.0");
	const char *file = slash ? slash + 1 : name;
	if (*file) {
		sb_appendc(&sb, '/');
		sb_append(&sb, file);
	}
	char *joined = sb_steal(&sb);
	char *ascii = to_ascii(joined);
	free(joined);
	if (strlen(ascii) > 100)
		ascii[100] = 0;
	size_t l = strlen(ascii);
	while (l > 0 && ascii[l - 1] == '/')
		ascii[--l] = 0;
	return ascii;
}

static void fill_common(unsigned char *b, const tar_entry *e)
{
	put_octal(b + FOFF(F_MODE), FLEN(F_MODE), e->mode);
	put_octal(b + FOFF(F_UID), FLEN(F_UID), e->uid);
	put_octal(b + FOFF(F_GID), FLEN(F_GID), e->gid);
	put_octal(b + FOFF(F_SIZE), FLEN(F_SIZE), e->size);
	put_octal(b + FOFF(F_MTIME), FLEN(F_MTIME), e->mtime < 0 ? 0 : (uint64_t)e->mtime);
	b[FOFF(F_TYPE)] = (unsigned char)e->type;
	put_str(b + FOFF(F_UNAME), FLEN(F_UNAME), "");
	put_str(b + FOFF(F_GNAME), FLEN(F_GNAME), "");
	put_octal(b + FOFF(F_DEVMAJOR), FLEN(F_DEVMAJOR), e->devmajor);
	put_octal(b + FOFF(F_DEVMINOR), FLEN(F_DEVMINOR), e->devminor);
	set_magic(b);
}

void tar_write_header(strbuf *out, const tar_entry *e)
{
	const char *name = e->path;
	const char *link = e->linkname ? e->linkname : "";
	pax_rec recs[8 + 64];
	size_t nrec = 0;
	bool ustar_ok = true;
	char numbuf[5][32];

	bool name_long = strlen(name) > 100 || !is_ascii(name);
	size_t split = 0;
	bool can_split = split_ustar(name, &split);
	if (name_long) {
		recs[nrec++] = (pax_rec){.key = "path", .val = name, .vlen = strlen(name)};
		if (!can_split)
			ustar_ok = false;
	}
	if (strlen(link) > 100 || !is_ascii(link)) {
		recs[nrec++] = (pax_rec){.key = "linkpath", .val = link, .vlen = strlen(link)};
		ustar_ok = false;
	}
	if (!fits_octal(8, e->uid)) {
		snprintf(numbuf[0], sizeof(numbuf[0]), "%llu", (unsigned long long)e->uid);
		recs[nrec++] = (pax_rec){.key = "uid", .val = numbuf[0], .vlen = strlen(numbuf[0])};
		ustar_ok = false;
	}
	if (!fits_octal(8, e->gid)) {
		snprintf(numbuf[1], sizeof(numbuf[1]), "%llu", (unsigned long long)e->gid);
		recs[nrec++] = (pax_rec){.key = "gid", .val = numbuf[1], .vlen = strlen(numbuf[1])};
		ustar_ok = false;
	}
	if (!fits_octal(12, e->size)) {
		snprintf(numbuf[2], sizeof(numbuf[2]), "%llu", (unsigned long long)e->size);
		recs[nrec++] =
		    (pax_rec){.key = "size", .val = numbuf[2], .vlen = strlen(numbuf[2])};
		ustar_ok = false;
	}
	if (e->mtime < 0 || !fits_octal(12, (uint64_t)e->mtime)) {
		snprintf(numbuf[3], sizeof(numbuf[3]), "%lld", (long long)e->mtime);
		recs[nrec++] =
		    (pax_rec){.key = "mtime", .val = numbuf[3], .vlen = strlen(numbuf[3])};
		ustar_ok = false;
	}
	size_t nx = e->nxattrs < 64 ? e->nxattrs : 64;
	for (size_t i = 0; i < nx; i++) {
		char *k = xasprintf("SCHILY.xattr.%s", e->xattrs[i].name);
		recs[nrec++] = (pax_rec){.key = k,
		                         .keybuf = k,
		                         .val = (const char *)e->xattrs[i].value,
		                         .vlen = e->xattrs[i].len};
		ustar_ok = false;
	}

	unsigned char b[TAR_BLOCK];
	if (ustar_ok) {
		memset(b, 0, sizeof(b));
		if (name_long) {
			_cleanup_free_ char *prefix = xstrndup(name, split);
			put_str(b + FOFF(F_NAME), FLEN(F_NAME), name + split + 1);
			put_str(b + FOFF(F_PREFIX), FLEN(F_PREFIX), prefix);
		} else {
			put_str(b + FOFF(F_NAME), FLEN(F_NAME), name);
		}
		put_str(b + FOFF(F_LINK), FLEN(F_LINK), link);
		fill_common(b, e);
		set_checksum(b);
		sb_appendn(out, (const char *)b, sizeof(b));
		return;
	}

	/* PAX: the extended header (records sorted by key), then the main one */
	qsort(recs, nrec, sizeof(recs[0]), cmp_pax_rec);
	strbuf data;
	sb_init(&data);
	for (size_t i = 0; i < nrec; i++)
		append_pax_record(&data, recs[i].key, recs[i].val, recs[i].vlen);
	for (size_t i = 0; i < nrec; i++)
		free(recs[i].keybuf);

	memset(b, 0, sizeof(b));
	_cleanup_free_ char *pname = pax_header_name(name);
	put_str(b + FOFF(F_NAME), FLEN(F_NAME), pname);
	put_octal(b + FOFF(F_MODE), FLEN(F_MODE), 0);
	put_octal(b + FOFF(F_UID), FLEN(F_UID), 0);
	put_octal(b + FOFF(F_GID), FLEN(F_GID), 0);
	put_octal(b + FOFF(F_SIZE), FLEN(F_SIZE), data.len);
	put_octal(b + FOFF(F_MTIME), FLEN(F_MTIME), 0);
	b[FOFF(F_TYPE)] = 'x';
	set_magic(b);
	set_checksum(b);
	sb_appendn(out, (const char *)b, sizeof(b));
	sb_appendn(out, data.buf ? data.buf : "", data.len);
	static const char zero[TAR_BLOCK];
	sb_appendn(out, zero, tar_padding(data.len));
	sb_free(&data);

	memset(b, 0, sizeof(b));
	_cleanup_free_ char *aname = to_ascii(name);
	_cleanup_free_ char *alink = to_ascii(link);
	put_str(b + FOFF(F_NAME), FLEN(F_NAME), aname);
	put_str(b + FOFF(F_LINK), FLEN(F_LINK), alink);
	fill_common(b, e);
	set_checksum(b);
	sb_appendn(out, (const char *)b, sizeof(b));
}
