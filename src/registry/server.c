/* The registry server: request routing, auth, and the distribution API
 * handlers. Bodies stream: blob uploads go straight into the session's
 * temp file (hashed as they arrive), downloads are answered from the blob
 * file (sendfile without TLS). */
#include "registry/server.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#define BERTH_LAZY_MHD
#include "base/lazylib.h"
#include <netdb.h>
#include <netinet/in.h>
/* SHA1_* (deprecated in 3.0): SHA1() goes through EVP, which would link
 * OpenSSL's provider machinery into berth (see base/digest.c) */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "base/digest.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "registry/proto.h"
#include "registry/regstore.h"

#define AUTH_CACHE_MAX 64

struct upload {
	char *uuid;
	char *repo;
	int fd;
	sha256_ctx *sha; /* hash of bytes [0, size) */
	uint64_t size;
	bool busy;
	struct upload *next;
};

struct registry_server {
	struct MHD_Daemon *daemon;
	regstore rs;
	char *address;
	bool read_only;
	char *htpasswd; /* file contents, NULL = no auth */
	char *tls_cert, *tls_key;
	pthread_mutex_t lock; /* uploads, auth cache */
	struct upload *uploads;
	char *auth_cache[AUTH_CACHE_MAX]; /* sha256 of "user\0pass" verified */
	size_t auth_cache_n;
};

enum method { M_OTHER, M_GET, M_HEAD, M_PUT, M_POST, M_PATCH, M_DELETE };
enum body_mode { BODY_NONE, BODY_DISCARD, BODY_MEMORY, BODY_UPLOAD };
enum action {
	A_NONE,
	A_MANIFEST_PUT,
	A_UPLOAD_MONOLITHIC, /* POST ?digest= */
	A_UPLOAD_PATCH,
	A_UPLOAD_PUT,
};

struct req {
	reg_route route;
	int method;
	int mode;
	int action;
	strbuf mem;
	bool too_big;
	bool started;
	struct upload *up;
	berth_error *fail; /* failure while reading the body */
};

/* ---- uploads table ---- */

static void upload_free(struct upload *u)
{
	if (!u)
		return;
	free(u->uuid);
	free(u->repo);
	if (u->fd >= 0)
		close(u->fd);
	sha256_free(u->sha);
	free(u);
}

/* Take the session for this request. Unknown to memory (say, after a
 * restart) → reopened from disk and its data rehashed. */
static int upload_acquire(registry_server *s, const char *name, const char *uuid,
                          struct upload **out, berth_error **err)
{
	pthread_mutex_lock(&s->lock);
	struct upload *u = s->uploads;
	while (u && strcmp(u->uuid, uuid) != 0)
		u = u->next;
	if (u) {
		int r = 0;
		if (strcmp(u->repo, name) != 0)
			r = berth_err(err, BERTH_E_NOTFOUND, "blob upload unknown to registry");
		else if (u->busy)
			r = berth_err(err, BERTH_E_CONFLICT, "upload in use by another request");
		else
			u->busy = true;
		pthread_mutex_unlock(&s->lock);
		if (r == 0)
			*out = u;
		return r;
	}
	pthread_mutex_unlock(&s->lock);

	int fd = -1;
	uint64_t size = 0;
	if (regstore_upload_open(&s->rs, name, uuid, &fd, &size, err) < 0)
		return -1;
	u = xcalloc(1, sizeof(*u));
	u->uuid = xstrdup(uuid);
	u->repo = xstrdup(name);
	u->fd = fd;
	u->sha = sha256_new();
	u->busy = true;
	char buf[1 << 16];
	while (u->size < size) {
		ssize_t r = pread(fd, buf, sizeof(buf), (off_t)u->size);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sha256_update(u->sha, buf, (size_t)r);
		u->size += (uint64_t)r;
	}
	pthread_mutex_lock(&s->lock);
	struct upload *other = s->uploads;
	while (other && strcmp(other->uuid, uuid) != 0)
		other = other->next;
	if (other) { /* lost a race with another request for the same id */
		pthread_mutex_unlock(&s->lock);
		upload_free(u);
		return berth_err(err, BERTH_E_CONFLICT, "upload in use by another request");
	}
	u->next = s->uploads;
	s->uploads = u;
	pthread_mutex_unlock(&s->lock);
	*out = u;
	return 0;
}

static void upload_release(registry_server *s, struct upload *u)
{
	pthread_mutex_lock(&s->lock);
	u->busy = false;
	pthread_mutex_unlock(&s->lock);
}

static void upload_forget(registry_server *s, struct upload *u)
{
	pthread_mutex_lock(&s->lock);
	for (struct upload **pp = &s->uploads; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	upload_free(u);
}

static int upload_append(struct upload *u, const void *data, size_t len, berth_error **err)
{
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t w = pwrite(u->fd, p, left, (off_t)u->size);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return berth_err_sys(err, errno, "writing upload");
		}
		sha256_update(u->sha, p, (size_t)w);
		u->size += (uint64_t)w;
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

/* ---- auth ---- */

static bool check_hash(const char *hash, const char *pass)
{
	if (str_has_prefix(hash, "{SHA}")) {
		unsigned char md[SHA_DIGEST_LENGTH];
		SHA_CTX c;
		SHA1_Init(&c);
		SHA1_Update(&c, pass, strlen(pass));
		SHA1_Final(md, &c);
		_cleanup_free_ char *b = base64_encode(md, sizeof(md));
		return strlen(b) == strlen(hash + 5) && CRYPTO_memcmp(b, hash + 5, strlen(b)) == 0;
	}
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_r(pass, hash, cd);
	bool ok = out && out[0] != '*' && strlen(out) == strlen(hash) &&
	          CRYPTO_memcmp(out, hash, strlen(hash)) == 0;
	free(cd);
	return ok;
}

bool htpasswd_check(const char *contents, const char *user, const char *pass)
{
	size_t ulen = strlen(user);
	if (ulen == 0)
		return false;
	const char *line = contents;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
			n--;
		if (n > ulen && line[ulen] == ':' && memcmp(line, user, ulen) == 0) {
			_cleanup_free_ char *hash = xstrndup(line + ulen + 1, n - ulen - 1);
			return check_hash(hash, pass);
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static bool authorized(registry_server *s, struct MHD_Connection *c)
{
	if (!s->htpasswd)
		return true;
	const char *hdr =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	_cleanup_free_ char *user = NULL, *pass = NULL;
	if (http_basic_auth_parse(hdr, &user, &pass) < 0)
		return false;
	strbuf key;
	sb_init(&key);
	sb_append(&key, user);
	sb_appendc(&key, 0);
	sb_append(&key, pass);
	char d[DIGEST_STR_LEN + 1];
	sha256_digest(key.buf, key.len, d);
	sb_free(&key);
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->auth_cache_n; i++) {
		if (!strcmp(s->auth_cache[i], d)) {
			pthread_mutex_unlock(&s->lock);
			return true;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!htpasswd_check(s->htpasswd, user, pass))
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->auth_cache_n == AUTH_CACHE_MAX) {
		free(s->auth_cache[0]);
		memmove(s->auth_cache, s->auth_cache + 1, (AUTH_CACHE_MAX - 1) * sizeof(char *));
		s->auth_cache_n--;
	}
	s->auth_cache[s->auth_cache_n++] = xstrdup(d);
	pthread_mutex_unlock(&s->lock);
	return true;
}

/* ---- responses ---- */

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	MHD_add_response_header(r, "Docker-Distribution-API-Version", "registry/2.0");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static struct MHD_Response *resp_empty(void)
{
	return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
}

static struct MHD_Response *resp_json(const json_t *j)
{
	char *body = json_dumps(j, JSON_COMPACT);
	size_t n = strlen(body);
	struct MHD_Response *r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return r;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *code,
                                   const char *msg)
{
	_cleanup_json_ json_t *j =
	    json_pack("{s:[{s:s,s:s}]}", "errors", "code", code, "message", msg ? msg : "");
	struct MHD_Response *r = resp_json(j);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Basic realm=\"berth-registry\"");
	log_debug("registry: %u %s %s", status, code, msg ? msg : "");
	return queue(c, status, r);
}

/* Map a library error onto the spec's codes. */
static enum MHD_Result reply_berr(struct MHD_Connection *c, const berth_error *e,
                                  const char *notfound_code)
{
	switch (e->code) {
	case BERTH_E_NOTFOUND: return reply_error(c, MHD_HTTP_NOT_FOUND, notfound_code, e->msg);
	case BERTH_E_CONFLICT:
		return reply_error(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID",
		                   e->msg);
	case BERTH_E_INVALID: return reply_error(c, MHD_HTTP_BAD_REQUEST, "UNSUPPORTED", e->msg);
	default:
		return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "UNKNOWN",
		                   "internal server error");
	}
}

static const char *query(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

static const char *header(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, key);
}

static void add_upload_headers(struct MHD_Response *r, const char *name, const char *uuid,
                               uint64_t size)
{
	_cleanup_free_ char *loc = xasprintf("/v2/%s/blobs/uploads/%s", name, uuid);
	_cleanup_free_ char *range =
	    xasprintf("0-%llu", (unsigned long long)(size > 0 ? size - 1 : 0));
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, loc);
	MHD_add_response_header(r, MHD_HTTP_HEADER_RANGE, range);
	MHD_add_response_header(r, "Docker-Upload-UUID", uuid);
}

static enum MHD_Result reply_blob_created(struct MHD_Connection *c, const char *name,
                                          const char *digest)
{
	struct MHD_Response *r = resp_empty();
	_cleanup_free_ char *loc = xasprintf("/v2/%s/blobs/%s", name, digest);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, loc);
	MHD_add_response_header(r, "Docker-Content-Digest", digest);
	return queue(c, MHD_HTTP_CREATED, r);
}

/* ---- handlers without a body ---- */

static enum MHD_Result paginate(struct MHD_Connection *c, char **items, const char *path,
                                json_t *obj, const char *key)
{
	const char *n_s = query(c, "n");
	const char *last = query(c, "last");
	size_t n = (size_t)-1;
	if (n_s && reg_parse_page_n(n_s, &n) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "PAGINATION_NUMBER_INVALID",
		                   "invalid number of results requested");
	json_t *arr = json_array();
	size_t count = 0;
	const char *last_sent = NULL;
	bool more = false;
	for (char **it = items; *it; it++) {
		if (last && *last && strcmp(*it, last) <= 0)
			continue;
		if (count == n) {
			more = true;
			break;
		}
		json_array_append_new(arr, json_string(*it));
		last_sent = *it;
		count++;
	}
	json_object_set_new(obj, key, arr);
	struct MHD_Response *r = resp_json(obj);
	if (more && last_sent) {
		_cleanup_free_ char *link =
		    xasprintf("<%s?last=%s&n=%zu>; rel=\"next\"", path, last_sent, n);
		MHD_add_response_header(r, "Link", link);
	}
	return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result h_catalog(registry_server *s, struct MHD_Connection *c)
{
	_cleanup_strv_ char **repos = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_catalog(&s->rs, &repos, &e) < 0)
		return reply_berr(c, e, "NAME_UNKNOWN");
	_cleanup_json_ json_t *obj = json_object();
	return paginate(c, repos, "/v2/_catalog", obj, "repositories");
}

static enum MHD_Result h_tags(registry_server *s, struct MHD_Connection *c, const char *name)
{
	_cleanup_strv_ char **tags = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_tags(&s->rs, name, &tags, &e) < 0)
		return reply_berr(c, e, "NAME_UNKNOWN");
	_cleanup_json_ json_t *obj = json_pack("{s:s}", "name", name);
	_cleanup_free_ char *path = xasprintf("/v2/%s/tags/list", name);
	return paginate(c, tags, path, obj, "tags");
}

static enum MHD_Result h_manifest_get(registry_server *s, struct MHD_Connection *c,
                                      const reg_route *rt)
{
	_cleanup_free_ char *digest = NULL, *mt = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_manifest_get(&s->rs, rt->name, rt->ref, &digest, &mt, &e) < 0)
		return reply_berr(c, e, "MANIFEST_UNKNOWN");
	int fd = -1;
	uint64_t size = 0;
	if (regstore_blob_open(&s->rs, digest, &fd, &size, &e) < 0)
		return reply_berr(c, e, "MANIFEST_UNKNOWN");
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(size, fd, 0);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mt);
	MHD_add_response_header(r, "Docker-Content-Digest", digest);
	_cleanup_free_ char *etag = xasprintf("\"%s\"", digest);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result h_manifest_delete(registry_server *s, struct MHD_Connection *c,
                                         const reg_route *rt)
{
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_manifest_delete(&s->rs, rt->name, rt->ref, &e) < 0)
		return reply_berr(c, e, "MANIFEST_UNKNOWN");
	return queue(c, MHD_HTTP_ACCEPTED, resp_empty());
}

static enum MHD_Result h_blob_get(registry_server *s, struct MHD_Connection *c, const reg_route *rt)
{
	if (!regstore_repo_has_blob(&s->rs, rt->name, rt->ref))
		return reply_error(c, MHD_HTTP_NOT_FOUND, "BLOB_UNKNOWN",
		                   "blob unknown to registry");
	int fd = -1;
	uint64_t size = 0;
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_blob_open(&s->rs, rt->ref, &fd, &size, &e) < 0)
		return reply_berr(c, e, "BLOB_UNKNOWN");
	uint64_t a = 0, b = 0;
	int rr = http_range_parse(header(c, MHD_HTTP_HEADER_RANGE), size, &a, &b);
	if (rr < 0) {
		close(fd);
		struct MHD_Response *r = resp_empty();
		_cleanup_free_ char *cr = xasprintf("bytes */%llu", (unsigned long long)size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return queue(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
	}
	uint64_t off = 0, len = size;
	if (rr > 0) {
		off = a;
		len = b - a + 1;
	}
	struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, fd, (int64_t)off);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
	MHD_add_response_header(r, "Docker-Content-Digest", rt->ref);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	_cleanup_free_ char *etag = xasprintf("\"%s\"", rt->ref);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	if (rr > 0) {
		_cleanup_free_ char *cr =
		    xasprintf("bytes %llu-%llu/%llu", (unsigned long long)a, (unsigned long long)b,
		              (unsigned long long)size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return queue(c, MHD_HTTP_PARTIAL_CONTENT, r);
	}
	return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result h_blob_delete(registry_server *s, struct MHD_Connection *c,
                                     const reg_route *rt)
{
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_unlink_blob(&s->rs, rt->name, rt->ref, &e) < 0)
		return reply_berr(c, e, "BLOB_UNKNOWN");
	return queue(c, MHD_HTTP_ACCEPTED, resp_empty());
}

static enum MHD_Result h_referrers(registry_server *s, struct MHD_Connection *c,
                                   const reg_route *rt)
{
	const char *at = query(c, "artifactType");
	json_t *descs = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (regstore_referrers(&s->rs, rt->name, rt->ref, at, &descs, &e) < 0)
		return reply_berr(c, e, "NAME_UNKNOWN");
	_cleanup_json_ json_t *idx = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType",
	                                       MT_OCI_INDEX, "manifests", descs);
	struct MHD_Response *r = resp_json(idx);
	MHD_del_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, MT_OCI_INDEX);
	if (at)
		MHD_add_response_header(r, "OCI-Filters-Applied", "artifactType");
	return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result h_upload_status(registry_server *s, struct MHD_Connection *c,
                                       const reg_route *rt)
{
	struct upload *u = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (upload_acquire(s, rt->name, rt->ref, &u, &e) < 0)
		return reply_berr(c, e, "BLOB_UPLOAD_UNKNOWN");
	uint64_t size = u->size;
	upload_release(s, u);
	struct MHD_Response *r = resp_empty();
	add_upload_headers(r, rt->name, rt->ref, size);
	return queue(c, MHD_HTTP_NO_CONTENT, r);
}

static enum MHD_Result h_upload_delete(registry_server *s, struct MHD_Connection *c,
                                       const reg_route *rt)
{
	struct upload *u = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (upload_acquire(s, rt->name, rt->ref, &u, &e) < 0)
		return reply_berr(c, e, "BLOB_UPLOAD_UNKNOWN");
	regstore_upload_cancel(&s->rs, u->uuid, NULL);
	upload_forget(s, u);
	return queue(c, MHD_HTTP_NO_CONTENT, resp_empty());
}

static enum MHD_Result reply_upload_started(struct MHD_Connection *c, const char *name,
                                            const char *uuid)
{
	struct MHD_Response *r = resp_empty();
	add_upload_headers(r, name, uuid, 0);
	return queue(c, MHD_HTTP_ACCEPTED, r);
}

/* ---- request bodies: the start ---- */

static bool content_length_over(struct MHD_Connection *c, uint64_t limit)
{
	const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (!cl)
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(cl, &end, 10);
	return errno != 0 || end == cl || v > limit;
}

static enum MHD_Result begin_post_upload(registry_server *s, struct MHD_Connection *c,
                                         struct req *q)
{
	const reg_route *rt = &q->route;
	const char *mount = query(c, "mount");
	const char *from = query(c, "from");
	const char *digest = query(c, "digest");
	_cleanup_error_ berth_error *e = NULL;
	if (mount) {
		if (!digest_valid(mount))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "DIGEST_INVALID",
			                   "invalid mount digest");
		if (from && reg_name_valid(from) && regstore_repo_has_blob(&s->rs, from, mount)) {
			if (regstore_link_blob(&s->rs, rt->name, mount, &e) < 0)
				return reply_berr(c, e, "BLOB_UNKNOWN");
			return reply_blob_created(c, rt->name, mount);
		}
		if (regstore_repo_has_blob(&s->rs, rt->name, mount))
			return reply_blob_created(c, rt->name, mount);
		/* fall through: an ordinary upload session, as the spec says */
	}
	if (digest && !digest_valid(digest))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "DIGEST_INVALID",
		                   "invalid or unsupported digest");
	_cleanup_free_ char *uuid = NULL;
	if (regstore_upload_create(&s->rs, rt->name, &uuid, &e) < 0)
		return reply_berr(c, e, "BLOB_UPLOAD_UNKNOWN");
	if (!digest)
		return reply_upload_started(c, rt->name, uuid);
	if (upload_acquire(s, rt->name, uuid, &q->up, &e) < 0)
		return reply_berr(c, e, "BLOB_UPLOAD_UNKNOWN");
	q->mode = BODY_UPLOAD;
	q->action = A_UPLOAD_MONOLITHIC;
	return MHD_YES;
}

static enum MHD_Result reply_range_invalid(struct MHD_Connection *c, const reg_route *rt,
                                           uint64_t size, const char *msg)
{
	_cleanup_json_ json_t *j =
	    json_pack("{s:[{s:s,s:s}]}", "errors", "code", "BLOB_UPLOAD_INVALID", "message", msg);
	struct MHD_Response *r = resp_json(j);
	add_upload_headers(r, rt->name, rt->ref, size);
	return queue(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
}

static enum MHD_Result begin_upload_write(registry_server *s, struct MHD_Connection *c,
                                          struct req *q)
{
	_cleanup_error_ berth_error *e = NULL;
	if (q->method == M_PUT) {
		const char *digest = query(c, "digest");
		if (!digest || !digest_valid(digest))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "DIGEST_INVALID",
			                   "missing or invalid digest");
	}
	if (upload_acquire(s, q->route.name, q->route.ref, &q->up, &e) < 0)
		return reply_berr(c, e, "BLOB_UPLOAD_UNKNOWN");
	const char *cr = header(c, MHD_HTTP_HEADER_CONTENT_RANGE);
	if (cr && q->method == M_PATCH) {
		uint64_t a = 0, b = 0;
		if (reg_content_range_parse(cr, &a, &b) < 0 || a != q->up->size) {
			uint64_t size = q->up->size;
			upload_release(s, q->up);
			q->up = NULL;
			return reply_range_invalid(c, &q->route, size, "invalid content range");
		}
	}
	q->mode = BODY_UPLOAD;
	q->action = q->method == M_PATCH ? A_UPLOAD_PATCH : A_UPLOAD_PUT;
	return MHD_YES;
}

static enum MHD_Result begin(registry_server *s, struct MHD_Connection *c, struct req *q,
                             const char *url)
{
	int rc = reg_route_parse(url, &q->route);
	reg_route *rt = &q->route;
	if (rc == REG_ROUTE_NOTFOUND)
		return reply_error(c, MHD_HTTP_NOT_FOUND, "NOT_FOUND", "no such API endpoint");
	if (!authorized(s, c))
		return reply_error(c, MHD_HTTP_UNAUTHORIZED, "UNAUTHORIZED",
		                   "authentication required");
	if (rc == REG_ROUTE_BAD_NAME)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "NAME_INVALID",
		                   "invalid repository name");
	if (rc == REG_ROUTE_BAD_REF) {
		if (rt->kind == REG_ROUTE_MANIFEST)
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "TAG_INVALID",
			                   "invalid tag or digest");
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "DIGEST_INVALID", "invalid digest");
	}
	bool read = q->method == M_GET || q->method == M_HEAD;
	if (!read && s->read_only)
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "UNSUPPORTED",
		                   "the registry is read-only");
	switch (rt->kind) {
	case REG_ROUTE_BASE:
		if (read) {
			_cleanup_json_ json_t *j = json_object();
			return queue(c, MHD_HTTP_OK, resp_json(j));
		}
		break;
	case REG_ROUTE_CATALOG:
		if (read)
			return h_catalog(s, c);
		break;
	case REG_ROUTE_TAGS:
		if (read)
			return h_tags(s, c, rt->name);
		break;
	case REG_ROUTE_MANIFEST:
		if (read)
			return h_manifest_get(s, c, rt);
		if (q->method == M_DELETE)
			return h_manifest_delete(s, c, rt);
		if (q->method == M_PUT) {
			if (content_length_over(c, REG_MANIFEST_MAX))
				return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "SIZE_INVALID",
				                   "manifest too large");
			q->mode = BODY_MEMORY;
			q->action = A_MANIFEST_PUT;
			return MHD_YES;
		}
		break;
	case REG_ROUTE_BLOB:
		if (read)
			return h_blob_get(s, c, rt);
		if (q->method == M_DELETE)
			return h_blob_delete(s, c, rt);
		break;
	case REG_ROUTE_UPLOAD_START:
		if (q->method == M_POST)
			return begin_post_upload(s, c, q);
		break;
	case REG_ROUTE_UPLOAD:
		if (q->method == M_GET)
			return h_upload_status(s, c, rt);
		if (q->method == M_DELETE)
			return h_upload_delete(s, c, rt);
		if (q->method == M_PATCH || q->method == M_PUT)
			return begin_upload_write(s, c, q);
		break;
	case REG_ROUTE_REFERRERS:
		if (read)
			return h_referrers(s, c, rt);
		break;
	}
	return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "UNSUPPORTED",
	                   "method not allowed on this endpoint");
}

/* ---- request bodies: the end ---- */

static bool is_index_type(const char *mt)
{
	return str_eq(mt, MT_OCI_INDEX) || str_eq(mt, MT_DOCKER_LIST);
}

static bool known_manifest_type(const char *mt)
{
	return str_eq(mt, MT_OCI_INDEX) || str_eq(mt, MT_DOCKER_LIST) ||
	       str_eq(mt, MT_OCI_MANIFEST) || str_eq(mt, MT_DOCKER_MANIFEST);
}

static enum MHD_Result finish_manifest_put(registry_server *s, struct MHD_Connection *c,
                                           struct req *q)
{
	const reg_route *rt = &q->route;
	if (q->too_big)
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "SIZE_INVALID",
		                   "manifest too large");
	const char *body = q->mem.buf ? q->mem.buf : "";
	size_t len = q->mem.len;
	json_error_t je;
	_cleanup_json_ json_t *m = json_loadb(body, len, 0, &je);
	if (!json_is_object(m))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
		                   "manifest is not a JSON object");
	if (json_get_int(m, "schemaVersion", 0) != 2)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
		                   "unsupported schemaVersion (only 2)");
	_cleanup_free_ char *ct = NULL;
	const char *cth = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (cth) {
		size_t n = strcspn(cth, ";");
		while (n > 0 && cth[n - 1] == ' ')
			n--;
		ct = xstrndup(cth, n);
	}
	const char *field = json_get_str(m, "mediaType");
	if (json_object_get(m, "mediaType") && !field)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
		                   "mediaType is not a string");
	if (ct && field && known_manifest_type(ct) && strcmp(ct, field) != 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
		                   "mediaType does not match Content-Type");
	const char *mt = NULL;
	if (ct && *ct && strcmp(ct, "application/json") != 0 &&
	    strcmp(ct, "application/octet-stream") != 0)
		mt = ct;
	else if (field)
		mt = field;
	else if (json_object_get(m, "manifests"))
		mt = MT_OCI_INDEX;
	else
		mt = MT_OCI_MANIFEST;
	_cleanup_error_ berth_error *e = NULL;
	if (is_index_type(mt) || (!known_manifest_type(mt) && json_object_get(m, "manifests"))) {
		json_t *ms = json_object_get(m, "manifests");
		if (!json_is_array(ms))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
			                   "index without a manifests array");
		size_t i;
		json_t *d;
		json_array_foreach (ms, i, d) {
			const char *dg = json_get_str(d, "digest");
			if (!dg || !digest_valid(dg))
				return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
				                   "invalid digest in manifests");
			if (!regstore_manifest_exists(&s->rs, rt->name, dg))
				return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN",
				                   "index references an unknown manifest");
		}
	} else {
		json_t *cfg = json_object_get(m, "config");
		json_t *layers = json_object_get(m, "layers");
		const char *cd = cfg ? json_get_str(cfg, "digest") : NULL;
		if (!cd || !digest_valid(cd) || (layers && !json_is_array(layers)))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
			                   "manifest without a valid config");
		if (!regstore_repo_has_blob(&s->rs, rt->name, cd))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN",
			                   "config blob unknown to registry");
		size_t i;
		json_t *l;
		json_array_foreach (layers, i, l) {
			const char *ld = json_get_str(l, "digest");
			if (!ld || !digest_valid(ld))
				return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
				                   "invalid layer digest");
			if (json_array_size(json_object_get(l, "urls")) > 0)
				continue; /* non-distributable layer, fetched from elsewhere */
			if (!regstore_repo_has_blob(&s->rs, rt->name, ld))
				return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN",
				                   "layer blob unknown to registry");
		}
	}
	const char *subject = NULL;
	json_t *subj = json_object_get(m, "subject");
	if (subj) {
		subject = json_get_str(subj, "digest");
		if (!subject || !digest_valid(subject))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "MANIFEST_INVALID",
			                   "invalid subject");
	}
	char digest[DIGEST_STR_LEN + 1];
	sha256_digest(body, len, digest);
	bool by_digest = digest_valid(rt->ref);
	if (by_digest && strcmp(rt->ref, digest) != 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "DIGEST_INVALID",
		                   "manifest digest does not match the reference");
	if (regstore_manifest_put(&s->rs, rt->name, by_digest ? NULL : rt->ref, digest, mt, body,
	                          len, subject, &e) < 0)
		return reply_berr(c, e, "MANIFEST_UNKNOWN");
	struct MHD_Response *r = resp_empty();
	_cleanup_free_ char *loc = xasprintf("/v2/%s/manifests/%s", rt->name, digest);
	MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, loc);
	MHD_add_response_header(r, "Docker-Content-Digest", digest);
	if (subject)
		MHD_add_response_header(r, "OCI-Subject", subject);
	return queue(c, MHD_HTTP_CREATED, r);
}

static enum MHD_Result finish_upload(registry_server *s, struct MHD_Connection *c, struct req *q)
{
	struct upload *u = steal_ptr(q->up);
	const reg_route *rt = &q->route;
	if (q->fail) {
		upload_release(s, u);
		return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "UNKNOWN", q->fail->msg);
	}
	if (q->action == A_UPLOAD_PATCH) {
		uint64_t size = u->size;
		upload_release(s, u);
		struct MHD_Response *r = resp_empty();
		add_upload_headers(r, rt->name, rt->ref, size);
		return queue(c, MHD_HTTP_ACCEPTED, r);
	}
	/* PUT ?digest= or POST ?digest=: verify, then commit. */
	const char *want = query(c, "digest");
	char got[DIGEST_STR_LEN + 1];
	sha256_final(u->sha, got);
	_cleanup_error_ berth_error *e = NULL;
	int ftr = ftruncate(u->fd, (off_t)u->size);
	if (ftr < 0 || !want || strcmp(want, got) != 0) {
		regstore_upload_cancel(&s->rs, u->uuid, NULL);
		upload_forget(s, u);
		if (ftr < 0)
			return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "UNKNOWN",
			                   "truncating upload");
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "DIGEST_INVALID",
		                   "provided digest did not match uploaded content");
	}
	int rc = regstore_upload_commit(&s->rs, rt->name, u->uuid, got, &e);
	upload_forget(s, u);
	if (rc < 0)
		return reply_berr(c, e, "BLOB_UPLOAD_UNKNOWN");
	return reply_blob_created(c, rt->name, got);
}

/* ---- libmicrohttpd glue ---- */

static int method_of(const char *m)
{
	static const struct {
		const char *name;
		int m;
	} t[] = {{"DELETE", M_DELETE}, {"GET", M_GET},   {"HEAD", M_HEAD},
	         {"PATCH", M_PATCH},   {"POST", M_POST}, {"PUT", M_PUT}};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (!strcmp(m, t[i].name))
			return t[i].m;
	return M_OTHER;
}

static bool has_body(struct MHD_Connection *c)
{
	const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (header(c, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return true;
	return cl && strcmp(cl, "0") != 0;
}

static enum MHD_Result finish(registry_server *s, struct MHD_Connection *c, struct req *q)
{
	if (q->action == A_MANIFEST_PUT)
		return finish_manifest_put(s, c, q);
	if (q->up)
		return finish_upload(s, c, q);
	return MHD_YES;
}

static enum MHD_Result start(registry_server *s, struct MHD_Connection *c, struct req *q,
                             const char *url)
{
	q->started = true;
	if (q->method == M_OTHER)
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "UNSUPPORTED",
		                   "method not allowed");
	return begin(s, c, q, url);
}

/* Requests without a body are answered on the final call, so that the
 * connection stays open for the next request; those with a body are
 * started on the first call, so that a refusal (auth, size, range) comes
 * before the body is sent. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls)
{
	registry_server *s = cls;
	struct req *q = *req_cls;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		sb_init(&q->mem);
		*req_cls = q;
		q->method = method_of(method);
		log_debug("registry: %s %s", method, url);
		if (!has_body(c))
			return MHD_YES;
		enum MHD_Result r = start(s, c, q, url);
		if (q->mode == BODY_NONE)
			q->mode = BODY_DISCARD; /* answered already; ignore the body */
		return r;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (q->mode == BODY_MEMORY) {
			if (q->mem.len + n > REG_MANIFEST_MAX)
				q->too_big = true;
			else
				sb_appendn(&q->mem, upload_data, n);
		} else if (q->mode == BODY_UPLOAD && q->up && !q->fail) {
			upload_append(q->up, upload_data, n, &q->fail);
		}
		return MHD_YES;
	}
	if (!q->started) {
		enum MHD_Result r = start(s, c, q, url);
		if (q->mode != BODY_UPLOAD && q->mode != BODY_MEMORY)
			return r;
	}
	return finish(s, c, q);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
	registry_server *s = cls;
	struct req *q = *req_cls;
	if (!q)
		return;
	if (q->up) /* connection died mid-body: keep what arrived, free the session */
		upload_release(s, q->up);
	reg_route_clear(&q->route);
	sb_free(&q->mem);
	berth_error_free(q->fail);
	free(q);
	*req_cls = NULL;
}

static int listen_on(const char *addr, char **bound, berth_error **err)
{
	_cleanup_free_ char *host = NULL;
	const char *port = NULL;
	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');
		if (!rb || rb[1] != ':')
			return berth_err(err, BERTH_E_INVALID, "invalid address %s", addr);
		host = xstrndup(addr + 1, (size_t)(rb - addr - 1));
		port = rb + 2;
	} else {
		const char *colon = strrchr(addr, ':');
		if (!colon)
			return berth_err(err, BERTH_E_INVALID,
			                 "invalid address %s (want HOST:PORT)", addr);
		host = xstrndup(addr, (size_t)(colon - addr));
		port = colon + 1;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gr = getaddrinfo(*host ? host : NULL, port, &hints, &res);
	if (gr != 0)
		return berth_err(err, BERTH_E_INVALID, "address %s: %s", addr, gai_strerror(gr));
	int fd = -1, last_errno = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 512) == 0)
			break;
		last_errno = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return berth_err_sys(err, last_errno, "listening on %s", addr);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[INET6_ADDRSTRLEN] = "?";
	unsigned p = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, h, sizeof(h));
			p = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, h, sizeof(h));
			p = ntohs(in6->sin6_port);
		}
	}
	*bound = ss.ss_family == AF_INET6 ? xasprintf("[%s]:%u", h, p) : xasprintf("%s:%u", h, p);
	return fd;
}

int registry_server_start(const registry_server_opts *o, registry_server **out, berth_error **err)
{
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
		return berth_err(err, BERTH_E_INVALID, "--tls-cert and --tls-key go together");
	registry_server *s = xcalloc(1, sizeof(*s));
	s->rs.rootfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->read_only = o->read_only;
	int lfd = -1;
	if (regstore_open(o->root, true, &s->rs, err) < 0)
		goto fail;
	if (o->htpasswd && read_file(o->htpasswd, &s->htpasswd, NULL, err) < 0)
		goto fail;
	if (o->tls_cert) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			berth_err(err, BERTH_E_UNSUPPORTED, "libmicrohttpd was built without TLS");
			goto fail;
		}
		if (read_file(o->tls_cert, &s->tls_cert, NULL, err) < 0 ||
		    read_file(o->tls_key, &s->tls_key, NULL, err) < 0)
			goto fail;
	}
	lfd = listen_on(o->addr ? o->addr : "127.0.0.1:5000", &s->address, err);
	if (lfd < 0)
		goto fail;
	unsigned threads = o->threads;
	if (threads == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n * 2 : 4;
		if (threads < 4)
			threads = 4;
		if (threads > 32)
			threads = 32;
	}
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, lfd, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, s};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 512 * 1024, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 600, NULL};
	if (s->tls_cert) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (s->tls_cert)
		flags |= MHD_USE_TLS;
	s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handler, s, MHD_OPTION_ARRAY, opts,
	                             MHD_OPTION_END);
	if (!s->daemon) {
		close(lfd);
		berth_err(err, BERTH_E_GENERIC, "starting the HTTP server on %s failed%s",
		          s->address, s->tls_cert ? " (check the TLS certificate and key)" : "");
		goto fail;
	}
	*out = s;
	return 0;
fail:
	registry_server_stop(s);
	return -1;
}

const char *registry_server_address(const registry_server *s)
{
	return s->address;
}

void registry_server_stop(registry_server *s)
{
	if (!s)
		return;
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	while (s->uploads) {
		struct upload *u = s->uploads;
		s->uploads = u->next;
		upload_free(u);
	}
	for (size_t i = 0; i < s->auth_cache_n; i++)
		free(s->auth_cache[i]);
	regstore_close(&s->rs);
	pthread_mutex_destroy(&s->lock);
	free(s->address);
	free(s->htpasswd);
	free(s->tls_cert);
	free(s->tls_key);
	free(s);
}
