/* Layer ingestion (tar stream -> staged blob + staged unpacked layer, in
 * one pass) and `import` (a rootfs tar -> a one-layer image). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/image_int.h"
#include "image/layer.h"
#include "image/ref.h"

#define BERTH_DOCKER_VERSION "0.1.0"
#define CHUNK (1u << 20)

/* --- decompression of the source stream --- */

enum comp { COMP_NONE, COMP_GZIP, COMP_ZSTD };

struct image_decomp {
	ingest_read_fn read;
	void *opaque;
	enum comp kind;
	bool eof_in;
	unsigned char *in;
	size_t in_len, in_pos;
	z_stream z;
	bool z_init, z_end;
	ZSTD_DStream *zs;
};
typedef struct image_decomp decomp;

static int fill_in(decomp *d, berth_error **err)
{
	if (d->in_pos < d->in_len || d->eof_in)
		return 0;
	ssize_t r = d->read(d->opaque, d->in, CHUNK, err);
	if (r < 0)
		return -1;
	d->in_len = (size_t)r;
	d->in_pos = 0;
	if (r == 0)
		d->eof_in = true;
	return 0;
}

/* Decompressed bytes into buf; 0 at end. */
static ssize_t decomp_read(decomp *d, unsigned char *buf, size_t cap, berth_error **err)
{
	if (d->kind == COMP_NONE) {
		if (d->in_pos < d->in_len) {
			size_t n = d->in_len - d->in_pos;
			if (n > cap)
				n = cap;
			memcpy(buf, d->in + d->in_pos, n);
			d->in_pos += n;
			return (ssize_t)n;
		}
		if (d->eof_in)
			return 0;
		return d->read(d->opaque, buf, cap, err);
	}
	for (;;) {
		if (fill_in(d, err) < 0)
			return -1;
		if (d->kind == COMP_GZIP) {
			if (d->z_end) {
				/* concatenated members */
				if (d->in_pos >= d->in_len && d->eof_in)
					return 0;
				if (d->in_pos >= d->in_len)
					continue;
				inflateReset(&d->z);
				d->z_end = false;
			}
			d->z.next_in = d->in + d->in_pos;
			d->z.avail_in = (uInt)(d->in_len - d->in_pos);
			d->z.next_out = buf;
			d->z.avail_out = (uInt)cap;
			int rc = inflate(&d->z, Z_NO_FLUSH);
			d->in_pos = d->in_len - d->z.avail_in;
			size_t got = cap - d->z.avail_out;
			if (rc == Z_STREAM_END)
				d->z_end = true;
			else if (rc != Z_OK && !(rc == Z_BUF_ERROR && got > 0))
				return berth_err(err, BERTH_E_INVALID, "gzip: %s",
				                 d->z.msg ? d->z.msg : "corrupt data");
			if (got > 0)
				return (ssize_t)got;
			if (d->eof_in && d->in_pos >= d->in_len) {
				if (!d->z_end)
					return berth_err(err, BERTH_E_INVALID,
					                 "gzip: unexpected end of data");
				return 0;
			}
		} else {
			ZSTD_inBuffer in = {d->in + d->in_pos, d->in_len - d->in_pos, 0};
			ZSTD_outBuffer out = {buf, cap, 0};
			size_t rc = ZSTD_decompressStream(d->zs, &out, &in);
			d->in_pos += in.pos;
			if (ZSTD_isError(rc))
				return berth_err(err, BERTH_E_INVALID, "zstd: %s",
				                 ZSTD_getErrorName(rc));
			if (out.pos > 0)
				return (ssize_t)out.pos;
			if (d->eof_in && d->in_pos >= d->in_len)
				return 0;
		}
	}
}

static int decomp_init(decomp *d, ingest_read_fn rd, void *opaque, berth_error **err)
{
	memset(d, 0, sizeof(*d));
	d->read = rd;
	d->opaque = opaque;
	d->in = xmalloc(CHUNK);
	/* peek at the magic (reads may be short) */
	while (d->in_len < 4 && !d->eof_in) {
		ssize_t r = rd(opaque, d->in + d->in_len, CHUNK - d->in_len, err);
		if (r < 0)
			return -1;
		if (r == 0)
			d->eof_in = true;
		d->in_len += (size_t)r;
	}
	const unsigned char *m = d->in;
	if (d->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
		d->kind = COMP_GZIP;
		if (inflateInit2(&d->z, 15 + 16) != Z_OK)
			return berth_err(err, BERTH_E_GENERIC, "gzip: cannot initialise");
		d->z_init = true;
	} else if (d->in_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
		d->kind = COMP_ZSTD;
		d->zs = ZSTD_createDStream();
		ZSTD_initDStream(d->zs);
	}
	return 0;
}

static void decomp_free(decomp *d)
{
	if (d->z_init)
		inflateEnd(&d->z);
	if (d->zs)
		ZSTD_freeDStream(d->zs);
	free(d->in);
}

image_decomp *image_decomp_new(ingest_read_fn rd, void *opaque, berth_error **err)
{
	decomp *d = xcalloc(1, sizeof(*d));
	if (decomp_init(d, rd, opaque, err) < 0) {
		decomp_free(d);
		free(d);
		return NULL;
	}
	return d;
}

ssize_t image_decomp_read(void *d, void *buf, size_t n, berth_error **err)
{
	return decomp_read(d, buf, n, err);
}

void image_decomp_free(image_decomp *d)
{
	if (d == NULL)
		return;
	decomp_free(d);
	free(d);
}

/* --- ingest --- */

ssize_t image_fd_read(void *opaque, void *buf, size_t n, berth_error **err)
{
	int fd = *(int *)opaque;
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return berth_err_sys(err, errno, "reading");
	}
}

struct apply_job {
	int fd, dirfd;
	tarsplit *split;
	layer_apply_result res;
	berth_error *err;
	int rc;
};

static void *apply_thread(void *p)
{
	struct apply_job *j = p;
	layer_apply_opts o = {.split = j->split};
	j->rc = layer_apply(j->fd, j->dirfd, &o, &j->res, &j->err);
	/* drain what the writer still sends, so it never blocks on a dead reader */
	char buf[65536];
	while (read(j->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static int send_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void image_layer_in_clear(berth_store *s, image_layer_in *l)
{
	int sfd = store_staging(s, NULL, NULL);
	if (sfd >= 0) {
		berth_error *e = NULL;
		if (l->staged_dir && rm_rf_at(sfd, l->staged_dir, &e) < 0)
			berth_error_free(e);
		if (l->staged_blob)
			unlinkat(sfd, l->staged_blob, 0);
		if (l->staged_compressed)
			unlinkat(sfd, l->staged_compressed, 0);
	}
	free(l->staged_dir);
	free(l->staged_blob);
	free(l->staged_compressed);
	l->staged_dir = l->staged_blob = l->staged_compressed = NULL;
}

enum keep { KEEP_NONE, KEEP_COPY, KEEP_SPLIT };

static int ingest(berth_store *s, ingest_read_fn rd, void *opaque, enum keep keep,
                  const char *expected_diff_id, image_layer_in *out, berth_error **err)
{
	_cleanup_free_ char *staged = NULL;
	_cleanup_close_ int diff_fd = -1;
	if (layer_stage_new(s, &staged, &diff_fd, err) < 0)
		return -1;
	_cleanup_blob_writer_ blob_writer *w = NULL;
	if (keep == KEEP_COPY && blob_writer_new(s, &w, err) < 0)
		return -1;
	tarsplit ts;
	tarsplit_init(&ts);
	/* layer_apply hashes every byte we send it: the blob's digest */
	if (w) {
		blob_writer_trust(w);
		blob_writer_no_fsync(w);
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		tarsplit_free(&ts);
		return berth_err_sys(err, errno, "socketpair");
	}
	int sz = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct apply_job job = {
	    .fd = sv[1], .dirfd = diff_fd, .split = keep == KEEP_SPLIT ? &ts : NULL};
	pthread_t th;
	if (pthread_create(&th, NULL, apply_thread, &job) != 0) {
		close(sv[0]);
		close(sv[1]);
		tarsplit_free(&ts);
		return berth_err(err, BERTH_E_GENERIC, "cannot start a thread");
	}
	decomp d;
	int rc = decomp_init(&d, rd, opaque, err);
	_cleanup_free_ unsigned char *buf = xmalloc(CHUNK);
	bool peer_gone = false;
	while (rc == 0) {
		ssize_t n = decomp_read(&d, buf, CHUNK, err);
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (w && blob_writer_write(w, buf, (size_t)n, err) < 0) {
			rc = -1;
			break;
		}
		if (!peer_gone && send_all(sv[0], buf, (size_t)n) < 0)
			peer_gone = true; /* layer_apply failed: its error tells why */
	}
	shutdown(sv[0], SHUT_WR);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	decomp_free(&d);
	if (rc < 0 || job.rc < 0 || peer_gone ||
	    (expected_diff_id && strcmp(expected_diff_id, job.res.diff_id) != 0))
		tarsplit_free(&ts);
	if (rc < 0) {
		berth_error_free(job.err);
		rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
		return -1;
	}
	if (job.rc < 0) {
		if (err && *err == NULL)
			*err = job.err;
		else
			berth_error_free(job.err);
		rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
		return -1;
	}
	if (peer_gone) {
		/* the unpacker stopped reading: its digest does not cover the blob */
		rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
		return berth_err(err, BERTH_E_INVALID, "layer data after the end of the archive");
	}
	if (expected_diff_id && strcmp(expected_diff_id, job.res.diff_id) != 0) {
		rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
		return berth_err(err, BERTH_E_CORRUPT,
		                 "layer diff ID mismatch: expected %s, got %s", expected_diff_id,
		                 job.res.diff_id);
	}
	memset(out, 0, sizeof(*out));
	if (w) {
		char got[DIGEST_STR_LEN + 1];
		if (blob_writer_finish(w, job.res.diff_id, got, &out->staged_blob, err) < 0) {
			rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
			tarsplit_free(&ts);
			return -1;
		}
	}
	if (keep == KEEP_SPLIT && job.res.split_ok) {
		if (tarsplit_stage(s, &ts, &out->staged_blob, err) < 0) {
			rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
			tarsplit_free(&ts);
			return -1;
		}
		out->blob_split = true;
	}
	tarsplit_free(&ts);
	memcpy(out->diff_id, job.res.diff_id, sizeof(out->diff_id));
	out->size = (int64_t)job.res.size;
	out->staged_dir = steal_ptr(staged);
	return 0;
}

int image_ingest_layer(berth_store *s, ingest_read_fn rd, void *opaque, bool keep_blob,
                       const char *expected_diff_id, image_layer_in *out, berth_error **err)
{
	return ingest(s, rd, opaque, keep_blob ? KEEP_COPY : KEEP_NONE, expected_diff_id, out, err);
}

int image_ingest_layer_split(berth_store *s, ingest_read_fn rd, void *opaque,
                             const char *expected_diff_id, image_layer_in *out, berth_error **err)
{
	return ingest(s, rd, opaque, KEEP_SPLIT, expected_diff_id, out, err);
}

int image_stage_tar(berth_store *s, ingest_read_fn rd, void *opaque, const char *diff_id,
                    char **staged_name, berth_error **err)
{
	_cleanup_blob_writer_ blob_writer *w = NULL;
	if (blob_writer_new(s, &w, err) < 0)
		return -1;
	blob_writer_no_fsync(w);
	decomp d;
	int rc = decomp_init(&d, rd, opaque, err);
	_cleanup_free_ unsigned char *buf = xmalloc(CHUNK);
	while (rc == 0) {
		ssize_t n = decomp_read(&d, buf, CHUNK, err);
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		rc = blob_writer_write(w, buf, (size_t)n, err);
	}
	decomp_free(&d);
	char got[DIGEST_STR_LEN + 1];
	if (rc < 0 || blob_writer_finish(w, diff_id, got, staged_name, err) < 0)
		return -1;
	return 0;
}

/* --- ingest from a region of a regular file --- */

typedef struct range_src {
	int fd;
	int64_t pos, end;
} range_src;

/* ingest_read_fn over a region of a file. */
static ssize_t range_read(void *opaque, void *buf, size_t n, berth_error **err)
{
	range_src *r = opaque;
	if (r->pos >= r->end)
		return 0;
	if ((int64_t)n > r->end - r->pos)
		n = (size_t)(r->end - r->pos);
	for (;;) {
		ssize_t k = pread(r->fd, buf, n, r->pos);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return berth_err_sys(err, errno, "reading");
		if (k == 0)
			return berth_err(err, BERTH_E_INVALID, "unexpected end of the archive");
		r->pos += k;
		return k;
	}
}

static bool compressed_magic(const unsigned char *m, size_t n)
{
	return (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) ||
	       (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd);
}

/* Unpack [off, off + len) of fd (an uncompressed tar) into diff_fd and
 * stage its tar-split as the blob, or, when the layer cannot give its bytes
 * back, a copy of the region (hashed again: it must be what was unpacked).
 * Fills out but staged_dir. */
static int ingest_split(berth_store *s, int fd, int64_t off, int64_t len, int diff_fd,
                        const char *expected_diff_id, image_layer_in *out, berth_error **err)
{
	range_src r = {fd, off, off + len};
	layer_source src = {.read = range_read, .opaque = &r};
	tarsplit ts;
	tarsplit_init(&ts);
	layer_apply_opts o = {.split = &ts};
	layer_apply_result res;
	int rc = layer_apply_source(&src, diff_fd, &o, &res, err);
	if (rc == 0 && expected_diff_id && strcmp(expected_diff_id, res.diff_id) != 0)
		rc = berth_err(err, BERTH_E_CORRUPT, "layer diff ID mismatch: expected %s, got %s",
		               expected_diff_id, res.diff_id);
	memset(out, 0, sizeof(*out));
	if (rc == 0 && res.split_ok) {
		rc = tarsplit_stage(s, &ts, &out->staged_blob, err);
		out->blob_split = true;
	} else if (rc == 0) {
		_cleanup_blob_writer_ blob_writer *w = NULL;
		range_src again = {fd, off, off + len};
		_cleanup_free_ unsigned char *buf = xmalloc(CHUNK);
		ssize_t n = 0;
		rc = blob_writer_new(s, &w, err);
		if (rc == 0)
			blob_writer_no_fsync(w);
		while (rc == 0 && (n = range_read(&again, buf, CHUNK, err)) > 0)
			rc = blob_writer_write(w, buf, (size_t)n, err);
		if (rc == 0 && n < 0)
			rc = -1;
		char dg[DIGEST_STR_LEN + 1];
		if (rc == 0)
			rc = blob_writer_finish(w, res.diff_id, dg, &out->staged_blob, err);
	}
	tarsplit_free(&ts);
	if (rc < 0)
		return -1;
	memcpy(out->diff_id, res.diff_id, sizeof(out->diff_id));
	out->size = (int64_t)res.size;
	return 0;
}

int image_ingest_layer_range(berth_store *s, int fd, int64_t off, int64_t len, bool keep_blob,
                             const char *expected_diff_id, image_layer_in *out, berth_error **err)
{
	posix_fadvise(fd, off, len, POSIX_FADV_SEQUENTIAL);
	unsigned char magic[4];
	ssize_t got = len >= 4 ? pread(fd, magic, 4, off) : 0;
	if (!keep_blob || got < 0 || compressed_magic(magic, got < 0 ? 0 : (size_t)got)) {
		/* the blob is the uncompressed tar: written from user space */
		range_src r = {fd, off, off + len};
		return image_ingest_layer(s, range_read, &r, keep_blob, expected_diff_id, out, err);
	}
	_cleanup_free_ char *staged = NULL;
	_cleanup_close_ int diff_fd = -1;
	if (layer_stage_new(s, &staged, &diff_fd, err) < 0)
		return -1;
	if (ingest_split(s, fd, off, len, diff_fd, expected_diff_id, out, err) < 0) {
		rm_rf_at(store_staging(s, NULL, NULL), staged, NULL);
		return -1;
	}
	out->staged_dir = steal_ptr(staged);
	return 0;
}

/* --- Dockerfile-style changes --- */

/* Split words honouring quotes and backslashes (for ENV, LABEL, EXPOSE). */
static char **split_words(const char *s)
{
	char **v = xcalloc(1, sizeof(char *));
	strbuf cur;
	sb_init(&cur);
	bool in_word = false;
	char quote = 0;
	for (const char *p = s;; p++) {
		char c = *p;
		if (c == 0 || (!quote && isspace((unsigned char)c))) {
			if (in_word) {
				char *w = sb_steal(&cur);
				v = strv_append(v, w);
				free(w);
				in_word = false;
			}
			if (c == 0)
				break;
			continue;
		}
		in_word = true;
		if (quote) {
			if (c == quote)
				quote = 0;
			else if (c == '\\' && quote == '"' && p[1])
				sb_appendc(&cur, *++p);
			else
				sb_appendc(&cur, c);
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '\\' && p[1]) {
			sb_appendc(&cur, *++p);
		} else {
			sb_appendc(&cur, c);
		}
	}
	sb_free(&cur);
	return v;
}

/* JSON array of strings or shell form. */
static json_t *exec_or_shell(const char *args)
{
	if (args[0] == '[') {
		json_t *a = json_loads(args, 0, NULL);
		if (a && json_is_array(a)) {
			size_t i;
			json_t *x;
			bool ok = true;
			json_array_foreach (a, i, x) {
				if (!json_is_string(x))
					ok = false;
			}
			if (ok)
				return a;
		}
		json_decref(a);
	}
	return json_pack("[s, s, s]", "/bin/sh", "-c", args);
}

static int set_env(json_t *cfg, const char *key, const char *val)
{
	json_t *env = json_object_get(cfg, "Env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg, "Env", env);
	}
	_cleanup_free_ char *kv = xasprintf("%s=%s", key, val);
	size_t klen = strlen(key);
	size_t i;
	json_t *x;
	json_array_foreach (env, i, x) {
		const char *e = json_string_value(x);
		if (e && !strncmp(e, key, klen) && e[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return 0;
		}
	}
	json_array_append_new(env, json_string(kv));
	return 0;
}

static json_t *obj_get_or_new(json_t *cfg, const char *key)
{
	json_t *o = json_object_get(cfg, key);
	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(cfg, key, o);
	}
	return o;
}

static int kv_pairs(json_t *cfg, const char *args, bool env, const char *what, berth_error **err)
{
	_cleanup_strv_ char **words = split_words(args);
	if (!words[0])
		return berth_err(err, BERTH_E_INVALID, "%s requires at least one argument", what);
	if (!strchr(words[0], '=')) {
		/* legacy "KEY VALUE..." */
		const char *sp = args;
		while (*sp && !isspace((unsigned char)*sp))
			sp++;
		while (isspace((unsigned char)*sp))
			sp++;
		if (env)
			return set_env(cfg, words[0], sp);
		json_object_set_new(obj_get_or_new(cfg, "Labels"), words[0], json_string(sp));
		return 0;
	}
	for (char **w = words; *w; w++) {
		char *eq = strchr(*w, '=');
		if (eq == NULL || eq == *w)
			return berth_err(err, BERTH_E_INVALID, "%s names can not be blank", what);
		*eq = 0;
		if (env)
			set_env(cfg, *w, eq + 1);
		else
			json_object_set_new(obj_get_or_new(cfg, "Labels"), *w, json_string(eq + 1));
	}
	return 0;
}

static int ch_cmd(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	json_object_set_new(cfg, "Cmd", exec_or_shell(args));
	return 0;
}

static int ch_entrypoint(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	json_object_set_new(cfg, "Entrypoint", exec_or_shell(args));
	return 0;
}

static int ch_env(json_t *cfg, const char *args, berth_error **err)
{
	return kv_pairs(cfg, args, true, "ENV", err);
}

static int ch_label(json_t *cfg, const char *args, berth_error **err)
{
	return kv_pairs(cfg, args, false, "LABEL", err);
}

static int ch_expose(json_t *cfg, const char *args, berth_error **err)
{
	_cleanup_strv_ char **ports = split_words(args);
	json_t *ep = obj_get_or_new(cfg, "ExposedPorts");
	for (char **p = ports; *p; p++) {
		_cleanup_free_ char *k = strchr(*p, '/') ? xstrdup(*p) : xasprintf("%s/tcp", *p);
		for (char *c = k; *c && *c != '/'; c++)
			if (!isdigit((unsigned char)*c) && *c != '-')
				return berth_err(err, BERTH_E_INVALID, "invalid containerPort: %s",
				                 *p);
		json_object_set_new(ep, k, json_object());
	}
	return 0;
}

static int ch_user(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	json_object_set_new(cfg, "User", json_string(args));
	return 0;
}

static int ch_workdir(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	const char *cur = json_get_str(cfg, "WorkingDir");
	_cleanup_free_ char *wd = NULL;
	if (args[0] == '/' || cur == NULL || !*cur)
		wd = args[0] == '/' ? xstrdup(args) : xasprintf("/%s", args);
	else
		wd = xasprintf("%s/%s", cur, args);
	json_object_set_new(cfg, "WorkingDir", json_string(wd));
	return 0;
}

static int ch_volume(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	json_t *vols = obj_get_or_new(cfg, "Volumes");
	json_t *a = args[0] == '[' ? json_loads(args, 0, NULL) : NULL;
	if (a && json_is_array(a)) {
		size_t i;
		json_t *x;
		json_array_foreach (a, i, x) {
			if (json_is_string(x))
				json_object_set_new(vols, json_string_value(x), json_object());
		}
	} else {
		_cleanup_strv_ char **vs = split_words(args);
		for (char **p = vs; *p; p++)
			json_object_set_new(vols, *p, json_object());
	}
	json_decref(a);
	return 0;
}

static int ch_stopsignal(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	json_object_set_new(cfg, "StopSignal", json_string(args));
	return 0;
}

static int ch_onbuild(json_t *cfg, const char *args, berth_error **err)
{
	(void)err;
	json_t *ob = json_object_get(cfg, "OnBuild");
	if (!json_is_array(ob)) {
		ob = json_array();
		json_object_set_new(cfg, "OnBuild", ob);
	}
	json_array_append_new(ob, json_string(args));
	return 0;
}

/* HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D]
 * [--start-interval=D] [--retries=N] CMD command | HEALTHCHECK NONE */
static int ch_healthcheck(json_t *cfg, const char *args, berth_error **err)
{
	static const char *const durs[] = {
	    "--interval=", "--timeout=", "--start-period=", "--start-interval="};
	static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval"};
	_cleanup_json_ json_t *hc = json_object();
	const char *p = args;
	while (str_has_prefix(p, "--")) {
		const char *end = p;
		while (*end && !isspace((unsigned char)*end))
			end++;
		_cleanup_free_ char *flag = xstrndup(p, (size_t)(end - p));
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
			if (!str_has_prefix(flag, durs[i]))
				continue;
			int64_t ns;
			if (parse_duration(flag + strlen(durs[i]), &ns, err) < 0)
				return -1;
			if (ns != 0 && ns < 1000000)
				return berth_err(err, BERTH_E_INVALID,
				                 "Interval \"%.*s\" cannot be less than 1ms",
				                 (int)(strlen(durs[i]) - 3), durs[i] + 2);
			if (ns)
				json_object_set_new(hc, keys[i], json_integer(ns));
			known = true;
		}
		if (str_has_prefix(flag, "--retries=")) {
			char *e = NULL;
			long n = strtol(flag + 10, &e, 10);
			if (e == flag + 10 || *e || n < 0)
				return berth_err(err, BERTH_E_INVALID,
				                 "invalid --retries value: %s", flag + 10);
			if (n)
				json_object_set_new(hc, "Retries", json_integer(n));
			known = true;
		}
		if (!known)
			return berth_err(err, BERTH_E_INVALID, "Unknown flag: %s", flag + 2);
		p = end;
		while (isspace((unsigned char)*p))
			p++;
	}
	const char *sp = p;
	while (*sp && !isspace((unsigned char)*sp))
		sp++;
	_cleanup_free_ char *type = xstrndup(p, (size_t)(sp - p));
	while (isspace((unsigned char)*sp))
		sp++;
	if (!strcasecmp(type, "NONE")) {
		if (*sp || json_object_size(hc) > 0)
			return berth_err(err, BERTH_E_INVALID,
			                 "HEALTHCHECK NONE takes no arguments");
		json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
	} else if (!strcasecmp(type, "CMD")) {
		if (!*sp)
			return berth_err(err, BERTH_E_INVALID,
			                 "Missing command after HEALTHCHECK CMD");
		json_t *test = NULL;
		if (*sp == '[') {
			json_t *a = json_loads(sp, 0, NULL);
			if (json_is_array(a)) {
				test = json_pack("[s]", "CMD");
				json_array_extend(test, a);
			}
			json_decref(a);
		}
		if (test == NULL)
			test = json_pack("[s, s]", "CMD-SHELL", sp);
		json_object_set_new(hc, "Test", test);
	} else {
		return berth_err(err, BERTH_E_INVALID,
		                 "Unknown type \"%s\" in HEALTHCHECK (try CMD)", type);
	}
	json_object_set(cfg, "Healthcheck", hc);
	return 0;
}

/* Docker's validCommitCommands, sorted for bsearch. */
static const struct change_cmd {
	const char *kw;
	int (*fn)(json_t *cfg, const char *args, berth_error **err);
} change_cmds[] = {
    {"CMD", ch_cmd},         {"ENTRYPOINT", ch_entrypoint},   {"ENV", ch_env},
    {"EXPOSE", ch_expose},   {"HEALTHCHECK", ch_healthcheck}, {"LABEL", ch_label},
    {"ONBUILD", ch_onbuild}, {"STOPSIGNAL", ch_stopsignal},   {"USER", ch_user},
    {"VOLUME", ch_volume},   {"WORKDIR", ch_workdir},
};

static int change_cmd_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct change_cmd *)elem)->kw);
}

static int change_one(json_t *cfg, const char *line, berth_error **err)
{
	while (isspace((unsigned char)*line))
		line++;
	const char *sp = line;
	while (*sp && !isspace((unsigned char)*sp))
		sp++;
	_cleanup_free_ char *kw = xstrndup(line, (size_t)(sp - line));
	for (char *p = kw; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	while (isspace((unsigned char)*sp))
		sp++;
	_cleanup_free_ char *args = xstrdup(sp);
	for (size_t n = strlen(args); n > 0 && isspace((unsigned char)args[n - 1]); n--)
		args[n - 1] = 0;
	const struct change_cmd *c = bsearch(kw, change_cmds, ARRAY_SIZE(change_cmds),
	                                     sizeof(change_cmds[0]), change_cmd_cmp);
	if (c == NULL)
		return berth_err(err, BERTH_E_INVALID, "%s is not a valid change command", kw);
	if (!*args && c->fn != ch_cmd)
		return berth_err(err, BERTH_E_INVALID, "%s requires at least one argument", kw);
	return c->fn(cfg, args, err);
}

/* Container config in Docker's field order (container.Config). */
json_t *image_canonical_config(json_t *c)
{
	static const struct {
		const char *key;
		int kind; /* 0 "", 1 false, 2 null, 3 omitempty */
	} fields[] = {
	    {"Hostname", 0},        {"Domainname", 0},   {"User", 0},
	    {"AttachStdin", 1},     {"AttachStdout", 1}, {"AttachStderr", 1},
	    {"ExposedPorts", 3},    {"Tty", 1},          {"OpenStdin", 1},
	    {"StdinOnce", 1},       {"Env", 2},          {"Cmd", 2},
	    {"Healthcheck", 3},     {"ArgsEscaped", 3},  {"Image", 0},
	    {"Volumes", 2},         {"WorkingDir", 0},   {"Entrypoint", 2},
	    {"NetworkDisabled", 3}, {"MacAddress", 3},   {"OnBuild", 2},
	    {"Labels", 2},          {"StopSignal", 3},   {"StopTimeout", 3},
	    {"Shell", 3},
	};
	json_t *o = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_t *v = c ? json_object_get(c, fields[i].key) : NULL;
		if (v) {
			json_object_set(o, fields[i].key, v);
			continue;
		}
		switch (fields[i].kind) {
		case 0: json_object_set_new(o, fields[i].key, json_string("")); break;
		case 1: json_object_set_new(o, fields[i].key, json_false()); break;
		case 2: json_object_set_new(o, fields[i].key, json_null()); break;
		default: break;
		}
	}
	return o;
}

int image_apply_changes(json_t *config, char *const *changes, berth_error **err)
{
	for (char *const *c = changes; c && *c; c++)
		if (change_one(config, *c, err) < 0)
			return -1;
	return 0;
}

int image_import(berth_store *s, const image_import_opts *opts, char id[DIGEST_STR_LEN + 1],
                 berth_error **err)
{
	if (image_store_init(s, err) < 0)
		return -1;
	_cleanup_free_ char *full = NULL;
	if (opts->reference && *opts->reference) {
		_cleanup_ref_ image_ref *r = NULL;
		if (ref_parse_normalized(opts->reference, &r, err) < 0)
			return -1;
		if (r->digest)
			return berth_err(err, BERTH_E_INVALID,
			                 "refusing to create a tag with a digest reference");
		full = ref_string(r);
	}
	const char *os = "linux", *arch = "amd64";
	_cleanup_free_ char *plat = opts->platform ? xstrdup(opts->platform) : NULL;
	char *variant = NULL;
	if (plat) {
		char *sl = strchr(plat, '/');
		if (sl) {
			*sl = 0;
			arch = sl + 1;
			char *sl2 = strchr(arch, '/');
			if (sl2) {
				*sl2 = 0;
				variant = sl2 + 1;
			}
		}
		os = plat;
	}
	_cleanup_json_ json_t *cc = json_object();
	if (image_apply_changes(cc, opts->changes, err) < 0)
		return -1;
	int fd = opts->fd;
	image_layer_in layer = {0};
	if (image_ingest_layer(s, image_fd_read, &fd, true, NULL, &layer, err) < 0)
		return berth_err_prefix(err, "importing %s", opts->source ? opts->source : "-");
	memcpy(layer.chain_id, layer.diff_id, sizeof(layer.chain_id));

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	_cleanup_free_ char *created = time_rfc3339nano(&now);
	_cleanup_free_ char *comment =
	    opts->message && *opts->message
	        ? xstrdup(opts->message)
	        : xasprintf("Imported from %s", opts->source ? opts->source : "-");
	_cleanup_json_ json_t *cfg = json_object();
	json_object_set_new(cfg, "architecture", json_string(arch));
	json_object_set_new(cfg, "comment", json_string(comment));
	json_object_set_new(cfg, "config", image_canonical_config(cc));
	json_object_set_new(cfg, "container_config", image_canonical_config(NULL));
	json_object_set_new(cfg, "created", json_string(created));
	json_object_set_new(cfg, "docker_version", json_string(BERTH_DOCKER_VERSION));
	json_object_set_new(cfg, "history",
	                    json_pack("[{s:s, s:s}]", "created", created, "comment", comment));
	json_object_set_new(cfg, "os", json_string(os));
	json_object_set_new(cfg, "rootfs",
	                    json_pack("{s:s, s:[s]}", "type", "layers", "diff_ids", layer.diff_id));
	if (variant)
		json_object_set_new(cfg, "variant", json_string(variant));
	_cleanup_free_ char *bytes = json_dump_go(cfg, NULL);
	sha256_digest(bytes, strlen(bytes), id);
	char *tags[] = {full, NULL};
	int rc = -1;
	for (int attempt = 0; attempt < 3; attempt++) {
		berth_error *e = NULL;
		rc = image_commit(s, bytes, strlen(bytes), id, &layer, 1, full ? tags : NULL, NULL,
		                  &e);
		if (rc == 0 || e->code != BERTH_E_NOTFOUND || attempt == 2) {
			if (rc < 0 && err && *err == NULL)
				*err = e;
			else
				berth_error_free(e);
			break;
		}
		berth_error_free(e);
	}
	image_layer_in_clear(s, &layer);
	return rc;
}
