#include "registry/client.h"

#include <arpa/inet.h>
#include <ctype.h>
#define BERTH_LAZY_CURL
#include "base/lazylib.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "registry/creds.h"
#include "registry/proto.h"

#define ERR_BODY_MAX (1 << 20)
#define SMALL_BODY_MAX (REG_MANIFEST_MAX + 1)
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

const char *const reg_manifest_accept =
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json";

struct token {
	char *scope;
	char *value;
	time_t expires;
};

struct reg_client {
	char *host; /* as the user names it: "docker.io", "127.0.0.1:5000" */
	char *api_host; /* where requests go: "registry-1.docker.io" */
	char *base; /* "https://api_host" once known */
	bool insecure;
	bool verify;
	char *ca_blob; /* system bundle + certs.d CAs, NULL: curl's default */
	char *cert_file, *key_file;
	char *user, *pass;
	int retries;
	bool answered; /* the registry has answered once (atomic): retries only then */
	pthread_mutex_t lock; /* tokens, basic, handles, base */
	struct token *tokens;
	size_t ntokens;
	bool basic;
	char *bearer_realm, *bearer_service; /* the last bearer challenge */
	CURL **handles;
	size_t nhandles;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

/* ---- host classification and certificates ---- */

static char *host_only(const char *hostport)
{
	if (hostport[0] == '[') {
		const char *rb = strchr(hostport, ']');
		return rb ? xstrndup(hostport + 1, (size_t)(rb - hostport - 1)) : xstrdup(hostport);
	}
	const char *colon = strchr(hostport, ':');
	return colon ? xstrndup(hostport, (size_t)(colon - hostport)) : xstrdup(hostport);
}

static bool cidr_contains(const char *cidr, const char *ip)
{
	const char *slash = strchr(cidr, '/');
	if (!slash)
		return false;
	_cleanup_free_ char *net = xstrndup(cidr, (size_t)(slash - cidr));
	int bits = atoi(slash + 1);
	unsigned char a[16], b[16];
	int fam = strchr(net, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, net, a) != 1 || inet_pton(fam, ip, b) != 1)
		return false;
	int max = fam == AF_INET ? 32 : 128;
	if (bits < 0 || bits > max)
		return false;
	for (int i = 0; i < bits; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((a[byte] >> bit) & 1) != ((b[byte] >> bit) & 1))
			return false;
	}
	return true;
}

bool reg_host_insecure(const berth_config *cfg, const char *host)
{
	_cleanup_free_ char *h = host_only(host);
	if (!strcmp(h, "localhost") || !strcmp(h, "::1") || str_has_prefix(h, "127."))
		return true;
	for (char **p = cfg ? cfg->insecure_registries : NULL; p && *p; p++) {
		_cleanup_free_ char *n = reg_normalize_registry(*p);
		if (!strcmp(n, host) || !strcmp(*p, host) || cidr_contains(*p, h))
			return true;
	}
	return false;
}

static void load_certs_dir(reg_client *c, const char *dir, strbuf *cas)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	_cleanup_strv_ char **names = xcalloc(1, sizeof(char *));
	while ((de = readdir(d)) != NULL)
		names = strv_append(names, de->d_name);
	for (char **n = names; *n; n++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, *n);
		if (str_has_suffix(*n, ".crt")) {
			_cleanup_free_ char *pem = NULL;
			_cleanup_error_ berth_error *e = NULL;
			if (read_file(p, &pem, NULL, &e) == 0) {
				sb_append(cas, pem);
				sb_appendc(cas, '\n');
			}
		} else if (str_has_suffix(*n, ".cert") && !c->cert_file) {
			_cleanup_free_ char *stem = xstrndup(*n, strlen(*n) - 5);
			_cleanup_free_ char *key = xasprintf("%s/%s.key", dir, stem);
			if (access(key, R_OK) == 0) {
				c->cert_file = xstrdup(p);
				c->key_file = steal_ptr(key);
			}
		}
	}
}

static void load_certs(reg_client *c)
{
	const char *mine = getenv("BERTH_CERTS_DIR");
	const char *dirs[] = {mine && *mine ? mine : "/etc/berth/certs.d", "/etc/docker/certs.d"};
	strbuf cas;
	sb_init(&cas);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", dirs[i], c->api_host);
		load_certs_dir(c, d, &cas);
	}
	if (cas.len == 0)
		return;
	_cleanup_free_ char *system = NULL;
	_cleanup_error_ berth_error *e = NULL;
	strbuf all;
	sb_init(&all);
	if (read_file(SYSTEM_CA_BUNDLE, &system, NULL, &e) == 0) {
		sb_append(&all, system);
		sb_appendc(&all, '\n');
	}
	sb_appendn(&all, cas.buf, cas.len);
	sb_free(&cas);
	c->ca_blob = sb_steal(&all);
}

int reg_client_new(const char *host, const reg_client_opts *o, reg_client **out, berth_error **err)
{
	pthread_once(&curl_once, curl_init_once);
	reg_client_opts none = {.retries = -1};
	if (!o)
		o = &none;
	reg_client *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->retries = o->retries < 0 ? 4 : o->retries;
	if (str_has_prefix(host, "http://") || str_has_prefix(host, "https://")) {
		/* a mirror */
		_cleanup_free_ char *b = xstrdup(host);
		size_t n = strlen(b);
		while (n > 0 && b[n - 1] == '/')
			b[--n] = 0;
		c->base = steal_ptr(b);
		const char *h = strstr(c->base, "://") + 3;
		c->api_host = xstrndup(h, strcspn(h, "/"));
		c->host = xstrdup(c->api_host);
	} else {
		c->host = xstrdup(host);
		c->api_host = xstrdup(!strcmp(host, "docker.io") ? "registry-1.docker.io" : host);
		c->insecure = reg_host_insecure(o->config, host);
		if (!c->insecure)
			c->base = xasprintf("https://%s", c->api_host);
	}
	load_certs(c);
	c->verify = !c->insecure || c->ca_blob != NULL;
	if (o->user) {
		c->user = xstrdup(o->user);
		c->pass = xstrdup(o->pass ? o->pass : "");
	} else if (!o->no_creds_lookup) {
		_cleanup_free_ char *reg = reg_normalize_registry(c->host);
		if (reg_creds_lookup(reg, &c->user, &c->pass, err) < 0) {
			reg_client_free(c);
			return -1;
		}
	}
	*out = c;
	return 0;
}

void reg_client_free(reg_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntokens; i++) {
		free(c->tokens[i].scope);
		free(c->tokens[i].value);
	}
	free(c->tokens);
	free(c->bearer_realm);
	free(c->bearer_service);
	for (size_t i = 0; i < c->nhandles; i++)
		curl_easy_cleanup(c->handles[i]);
	free(c->handles);
	pthread_mutex_destroy(&c->lock);
	free(c->host);
	free(c->api_host);
	free(c->base);
	free(c->ca_blob);
	free(c->cert_file);
	free(c->key_file);
	free(c->user);
	free(c->pass);
	free(c);
}

const char *reg_client_scheme(const reg_client *c)
{
	return c->base && str_has_prefix(c->base, "http://") ? "http" : "https";
}

static CURL *handle_get(reg_client *c)
{
	pthread_mutex_lock(&c->lock);
	CURL *h = c->nhandles ? c->handles[--c->nhandles] : NULL;
	pthread_mutex_unlock(&c->lock);
	if (!h)
		h = curl_easy_init();
	else
		curl_easy_reset(h);
	if (!h)
		abort();
	return h;
}

static void handle_put(reg_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	c->handles = xreallocarray(c->handles, c->nhandles + 1, sizeof(CURL *));
	c->handles[c->nhandles++] = h;
	pthread_mutex_unlock(&c->lock);
}

/* ---- one HTTP exchange ---- */

struct resp {
	long status;
	char *content_type, *digest, *location, *range, *www_auth, *content_range, *link;
	int64_t content_length;
	strbuf body;
	size_t body_limit;
	/* streaming a blob */
	reg_sink_fn sink;
	void *sink_opaque;
	sha256_ctx *sha;
	uint64_t delivered, range_from, skip;
	int64_t max_size;
	berth_error *sink_err;
	reg_progress_fn progress;
	void *progress_opaque;
	int64_t total;
};

static void resp_reset_headers(struct resp *r)
{
	free(r->content_type);
	free(r->digest);
	free(r->location);
	free(r->range);
	free(r->www_auth);
	free(r->content_range);
	free(r->link);
	r->content_type = r->digest = r->location = r->range = r->www_auth = r->content_range =
	    r->link = NULL;
	r->content_length = -1;
	r->status = 0;
	sb_free(&r->body);
}

static void resp_free(struct resp *r)
{
	resp_reset_headers(r);
	sha256_free(r->sha);
	r->sha = NULL;
	berth_error_free(r->sink_err);
	r->sink_err = NULL;
}

struct req {
	const char *method;
	char *url;
	const char *scope;
	const char *accept;
	const char *content_type;
	char *range;
	char *content_range;
	bool follow;
	bool sent_basic; /* the last perform sent basic credentials */
	/* body from memory */
	const char *body;
	size_t body_len, body_off;
	bool has_body;
	/* body from a source */
	reg_source_fn source;
	void *source_opaque;
	reg_rewind_fn rewind;
	uint64_t rewind_to; /* offset of this request's first byte in the source */
	int64_t source_len; /* -1: unknown (chunked) */
	uint64_t source_limit; /* stop after this many bytes (chunked PATCH), 0 = none */
	uint64_t sent;
	sha256_ctx *source_sha;
	berth_error *source_err;
	reg_progress_fn progress;
	void *progress_opaque;
	int64_t progress_total;
	uint64_t progress_base;
};

static void req_free(struct req *q)
{
	free(q->url);
	free(q->range);
	free(q->content_range);
	berth_error_free(q->source_err);
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after a redirect or 100 Continue) */
		resp_reset_headers(r);
		const char *sp = memchr(p, ' ', len);
		if (sp)
			r->status = strtol(sp + 1, NULL, 10);
		if (r->status == 200 && r->range_from > 0)
			r->skip = r->range_from; /* Range ignored: skip what we have */
		return len;
	}
	const char *colon = memchr(p, ':', len);
	if (!colon)
		return len;
	size_t klen = (size_t)(colon - p);
	const char *v = colon + 1;
	size_t vlen = len - klen - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
	static const struct {
		const char *name;
		size_t off;
	} keys[] = {
	    {"content-range", offsetof(struct resp, content_range)},
	    {"content-type", offsetof(struct resp, content_type)},
	    {"docker-content-digest", offsetof(struct resp, digest)},
	    {"link", offsetof(struct resp, link)},
	    {"location", offsetof(struct resp, location)},
	    {"range", offsetof(struct resp, range)},
	    {"www-authenticate", offsetof(struct resp, www_auth)},
	};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strlen(keys[i].name) == klen && !strncasecmp(p, keys[i].name, klen)) {
			char **slot = (char **)((char *)r + keys[i].off);
			if (!*slot)
				*slot = xstrndup(v, vlen);
			return len;
		}
	}
	if (klen == 14 && !strncasecmp(p, "content-length", 14))
		r->content_length = strtoll(v, NULL, 10);
	return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;
	if (!r->sink || r->status < 200 || r->status >= 300) {
		size_t limit = r->body_limit ? r->body_limit : ERR_BODY_MAX;
		if (r->body.len + len > limit)
			return 0;
		sb_appendn(&r->body, p, len);
		return len;
	}
	const char *d = p;
	size_t l = len;
	if (r->skip) {
		size_t k = r->skip < l ? (size_t)r->skip : l;
		r->skip -= k;
		d += k;
		l -= k;
	}
	if (l == 0)
		return len;
	if (r->max_size >= 0 && r->delivered + l > (uint64_t)r->max_size) {
		berth_err(&r->sink_err, BERTH_E_CORRUPT, "blob is larger than its descriptor says");
		return 0;
	}
	sha256_update(r->sha, d, l);
	if (r->sink(r->sink_opaque, d, l, &r->sink_err) < 0) {
		if (!r->sink_err)
			berth_err(&r->sink_err, BERTH_E_IO, "storing the download failed");
		return 0;
	}
	r->delivered += l;
	if (r->progress)
		r->progress(r->progress_opaque, r->delivered, r->total);
	return len;
}

static size_t on_read(char *buf, size_t sz, size_t n, void *ud)
{
	struct req *q = ud;
	size_t len = sz * n;
	if (q->has_body) {
		size_t left = q->body_len - q->body_off;
		size_t k = left < len ? left : len;
		memcpy(buf, q->body + q->body_off, k);
		q->body_off += k;
		return k;
	}
	if (q->source_limit && q->sent + len > q->source_limit)
		len = (size_t)(q->source_limit - q->sent);
	if (len == 0)
		return 0;
	ssize_t r = q->source(q->source_opaque, buf, len, &q->source_err);
	if (r < 0) {
		if (!q->source_err)
			berth_err(&q->source_err, BERTH_E_IO, "reading the upload failed");
		return CURL_READFUNC_ABORT;
	}
	if (q->source_sha)
		sha256_update(q->source_sha, buf, (size_t)r);
	q->sent += (uint64_t)r;
	if (q->progress)
		q->progress(q->progress_opaque, q->progress_base + q->sent, q->progress_total);
	return (size_t)r;
}

static bool transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR: return true;
	default: return false;
	}
}

/* Seconds before its expiry when a token is renewed (it is still used
 * when the renewal fails or brings no later expiry). */
#define TOKEN_MARGIN 10

static const char *token_for(reg_client *c, const char *scope)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < c->ntokens; i++)
		if (str_eq(c->tokens[i].scope, scope) && c->tokens[i].expires > now)
			return c->tokens[i].value;
	return NULL;
}

static int fetch_token(reg_client *c, const reg_challenge *ch, const char *scope,
                       berth_error **err);

/* A token for scope that has expired (or is about to): get a new one from
 * the realm that gave it, before sending, rather than after a 401 (which
 * would send an upload's body twice). Failures are left to the 401 flow. */
static void renew_ahead(reg_client *c, const char *scope)
{
	if (!scope)
		return;
	time_t now = time(NULL);
	pthread_mutex_lock(&c->lock);
	bool stale = false;
	for (size_t i = 0; i < c->ntokens; i++)
		if (str_eq(c->tokens[i].scope, scope))
			stale = c->tokens[i].expires - TOKEN_MARGIN <= now;
	_cleanup_free_ char *realm = stale && c->bearer_realm ? xstrdup(c->bearer_realm) : NULL;
	_cleanup_free_ char *service =
	    realm && c->bearer_service ? xstrdup(c->bearer_service) : NULL;
	pthread_mutex_unlock(&c->lock);
	if (!realm)
		return;
	reg_challenge ch = {.scheme = (char *)"Bearer", .realm = realm, .service = service};
	_cleanup_error_ berth_error *e = NULL;
	if (fetch_token(c, &ch, scope, &e) < 0)
		log_debug("registry: renewing the token for %s: %s", scope, e->msg);
}

/* Perform once. Returns 0 with r->status, or -1 with *err (and
 * *transient for network errors worth a retry). */
static int perform(reg_client *c, struct req *q, struct resp *r, bool *transient, berth_error **err)
{
	*transient = false;
	CURL *h = handle_get(c);
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, q->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/0.1 (docker-compatible)");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	if (q->follow) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	}
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
	if (c->ca_blob) {
		struct curl_blob blob = {
		    .data = c->ca_blob, .len = strlen(c->ca_blob), .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->cert_file) {
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
	}
	/* auth */
	_cleanup_free_ char *bearer = NULL;
	pthread_mutex_lock(&c->lock);
	bool basic = c->basic && c->user;
	q->sent_basic = basic;
	const char *tok = token_for(c, q->scope);
	if (tok && !basic)
		bearer = xasprintf("Authorization: Bearer %s", tok);
	pthread_mutex_unlock(&c->lock);
	if (basic) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass);
	}
	if (bearer)
		hdrs = curl_slist_append(hdrs, bearer);
	_cleanup_free_ char *accept = q->accept ? xasprintf("Accept: %s", q->accept) : NULL;
	_cleanup_free_ char *ct =
	    q->content_type ? xasprintf("Content-Type: %s", q->content_type) : NULL;
	_cleanup_free_ char *range = q->range ? xasprintf("Range: %s", q->range) : NULL;
	_cleanup_free_ char *crange =
	    q->content_range ? xasprintf("Content-Range: %s", q->content_range) : NULL;
	if (accept)
		hdrs = curl_slist_append(hdrs, accept);
	if (range)
		hdrs = curl_slist_append(hdrs, range);
	if (crange)
		hdrs = curl_slist_append(hdrs, crange);
	hdrs = curl_slist_append(hdrs, "Expect:");
	bool upload = q->has_body || q->source;
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, q);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
		int64_t len = q->has_body ? (int64_t)q->body_len : q->source_len;
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
		hdrs = curl_slist_append(hdrs, ct ? ct : "Content-Type: application/octet-stream");
		q->body_off = 0;
	} else if (!strcmp(q->method, "POST") || !strcmp(q->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		hdrs = curl_slist_append(hdrs, "Content-Type:");
	} else if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	handle_put(c, h);
	if (rc == CURLE_OK) {
		__atomic_store_n(&c->answered, true, __ATOMIC_RELAXED);
		return 0;
	}
	if (r->sink_err) {
		berth_error *e = steal_ptr(r->sink_err);
		if (err && !*err)
			*err = e;
		else
			berth_error_free(e);
		return -1;
	}
	if (q->source_err) {
		berth_error *e = steal_ptr(q->source_err);
		if (err && !*err)
			*err = e;
		else
			berth_error_free(e);
		return -1;
	}
	/* a registry that never answered is not there: say so at once, as docker
	 * does, instead of retrying for seconds */
	*transient = transient_curl(rc) &&
	             (__atomic_load_n(&c->answered, __ATOMIC_RELAXED) ||
	              (rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST));
	return berth_err(err, BERTH_E_NETWORK, "%s %s: %s", q->method, q->url,
	                 *errbuf ? errbuf : curl_easy_strerror(rc));
}

/* ---- auth ---- */

static void urlenc(strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~')
			sb_appendc(sb, (char)ch);
		else
			sb_printf(sb, "%%%02X", ch);
	}
}

static int fetch_token(reg_client *c, const reg_challenge *ch, const char *scope, berth_error **err)
{
	if (!ch->realm)
		return berth_err(err, BERTH_E_AUTH, "bearer challenge without a realm");
	strbuf url;
	sb_init(&url);
	sb_append(&url, ch->realm);
	char sep = strchr(ch->realm, '?') ? '&' : '?';
	if (ch->service) {
		sb_appendc(&url, sep);
		sep = '&';
		sb_append(&url, "service=");
		urlenc(&url, ch->service);
	}
	const char *sc = scope ? scope : ch->scope;
	if (sc) {
		/* several scopes are separated by spaces */
		_cleanup_strv_ char **parts = str_split(sc, ' ');
		for (char **p = parts; *p; p++) {
			if (!**p)
				continue;
			sb_appendc(&url, sep);
			sep = '&';
			sb_append(&url, "scope=");
			urlenc(&url, *p);
		}
	}
	if (c->user) {
		sb_appendc(&url, sep);
		sb_append(&url, "account=");
		urlenc(&url, c->user);
	}
	CURL *h = handle_get(c);
	struct resp r = {.body_limit = 1 << 20, .content_length = -1};
	sb_init(&r.body);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url.buf);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
	if (c->ca_blob) {
		struct curl_blob blob = {
		    .data = c->ca_blob, .len = strlen(c->ca_blob), .flags = CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass);
	}
	CURLcode rc = curl_easy_perform(h);
	handle_put(c, h);
	int ret = 0;
	if (rc != CURLE_OK) {
		ret = berth_err(err, BERTH_E_NETWORK, "getting a token from %s: %s", ch->realm,
		                *errbuf ? errbuf : curl_easy_strerror(rc));
	} else if (r.status == 401 || r.status == 403) {
		ret = berth_err(err, BERTH_E_AUTH, "unauthorized: incorrect username or password");
	} else if (r.status != 200) {
		ret = berth_err(err, BERTH_E_AUTH, "getting a token from %s: HTTP %ld", ch->realm,
		                r.status);
	} else {
		_cleanup_json_ json_t *j =
		    json_loadb(r.body.buf ? r.body.buf : "", r.body.len, 0, NULL);
		const char *t = json_get_str(j, "token");
		if (!t || !*t)
			t = json_get_str(j, "access_token");
		if (!t || !*t) {
			ret = berth_err(err, BERTH_E_AUTH, "token server %s sent no token",
			                ch->realm);
		} else {
			/* as Docker: at least 60 s, counted from issued_at when
			 * the server says when that was */
			long long exp = json_get_int(j, "expires_in", 60);
			if (exp < 60)
				exp = 60;
			time_t issued = time(NULL);
			struct timespec ts;
			const char *at = json_get_str(j, "issued_at");
			if (at && time_parse_rfc3339(at, &ts) == 0 && ts.tv_sec <= issued)
				issued = ts.tv_sec;
			pthread_mutex_lock(&c->lock);
			struct token *slot = NULL;
			for (size_t i = 0; i < c->ntokens; i++)
				if (str_eq(c->tokens[i].scope, scope))
					slot = &c->tokens[i];
			if (!slot) {
				c->tokens =
				    xreallocarray(c->tokens, c->ntokens + 1, sizeof(*c->tokens));
				slot = &c->tokens[c->ntokens++];
				slot->scope = scope ? xstrdup(scope) : NULL;
				slot->value = NULL;
			}
			free(slot->value);
			slot->value = xstrdup(t);
			/* renewed a little ahead (renew_ahead), so that no request
			 * goes out with a token about to expire */
			slot->expires = issued + (time_t)exp;
			if (ch->realm && !str_eq(c->bearer_realm, ch->realm)) {
				free(c->bearer_realm);
				c->bearer_realm = xstrdup(ch->realm);
			}
			if (!str_eq(c->bearer_service, ch->service)) {
				free(c->bearer_service);
				c->bearer_service = ch->service ? xstrdup(ch->service) : NULL;
			}
			pthread_mutex_unlock(&c->lock);
		}
	}
	sb_free(&url);
	resp_free(&r);
	return ret;
}

/* React to a 401: 1 = retry, -1 = give up with *err. */
static int handle_401(reg_client *c, const struct req *q, const struct resp *r, bool *have_err,
                      berth_error **err)
{
	*have_err = false;
	reg_challenge ch;
	if (!r->www_auth || reg_challenge_parse(r->www_auth, &ch) < 0)
		return -1;
	int ret = -1;
	if (!strcasecmp(ch.scheme, "Bearer")) {
		if (fetch_token(c, &ch, q->scope ? q->scope : ch.scope, err) < 0)
			*have_err = true;
		else
			ret = 1;
	} else if (!strcasecmp(ch.scheme, "Basic") && c->user) {
		/* refused with the credentials: wrong; without them (sent before
		 * another thread learnt that this registry wants them): retry */
		pthread_mutex_lock(&c->lock);
		c->basic = true;
		pthread_mutex_unlock(&c->lock);
		ret = q->sent_basic ? -1 : 1;
	}
	reg_challenge_clear(&ch);
	return ret;
}

/* The error a registry response carries, as Docker words it:
 * "<code lowercased>: <message>" from the first error of the JSON. */
static char *registry_error_text(const struct resp *r)
{
	_cleanup_json_ json_t *j =
	    r->body.len ? json_loadb(r->body.buf, r->body.len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_get_str(e0, "code");
	const char *msg = json_get_str(e0, "message");
	if (code) {
		_cleanup_free_ char *lc = xstrdup(code);
		for (char *p = lc; *p; p++)
			*p = *p == '_' ? ' ' : (char)tolower((unsigned char)*p);
		return xasprintf("%s: %s", lc, msg && *msg ? msg : lc);
	}
	/* no error body (a HEAD, or a terse server): the spec's wording for
	 * the statuses that mean something to the user */
	if (r->status == 401)
		return xstrdup("unauthorized: authentication required");
	if (r->status == 403)
		return xstrdup("denied: requested access to the resource is denied");
	return xasprintf("HTTP %ld", r->status);
}

static bool retryable_status(long s)
{
	return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static void backoff(int attempt)
{
	long ms = 200L << (attempt < 6 ? attempt : 6);
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int ensure_base(reg_client *c, berth_error **err);

/* Put a request's source back to where this request started. */
static int source_rewind(struct req *q, berth_error **err)
{
	if (q->rewind(q->source_opaque, err) < 0)
		return -1;
	char buf[65536];
	uint64_t skip = q->rewind_to;
	while (skip > 0) {
		size_t k = skip < sizeof(buf) ? (size_t)skip : sizeof(buf);
		ssize_t r = q->source(q->source_opaque, buf, k, err);
		if (r <= 0)
			return r < 0 ? -1 : berth_err(err, BERTH_E_IO, "upload source shrank");
		skip -= (uint64_t)r;
	}
	q->sent = 0;
	if (q->source_sha) {
		sha256_free(q->source_sha);
		q->source_sha = sha256_new();
	}
	return 0;
}

/* Send with auth and retries. A request whose body streams from a source
 * is sent once (the caller restarts it). */
static int request(reg_client *c, struct req *q, struct resp *r, berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	/* a download into a sink resumes in reg_get_blob, at the right offset */
	bool replayable = q->source == NULL && r->sink == NULL;
	int auth_tries = 0;
	for (int attempt = 0;; attempt++) {
		bool transient = false;
		_cleanup_error_ berth_error *e = NULL;
		resp_reset_headers(r);
		renew_ahead(c, q->scope);
		if (perform(c, q, r, &transient, &e) < 0) {
			if (transient && replayable && attempt < c->retries) {
				log_debug("registry: %s, retrying", e->msg);
				backoff(attempt);
				continue;
			}
			if (err && !*err)
				*err = steal_ptr(e);
			return -1;
		}
		if (r->status == 401 && (q->source == NULL || q->rewind) && auth_tries < 2) {
			bool have_err = false;
			int h = handle_401(c, q, r, &have_err, err);
			if (h > 0 && q->source) {
				if (source_rewind(q, err) < 0)
					return -1;
			}
			if (h > 0) {
				auth_tries++;
				continue;
			}
			if (have_err)
				return -1;
			return 0; /* the caller reports the 401 */
		}
		if (retryable_status(r->status) && replayable && attempt < c->retries) {
			backoff(attempt);
			continue;
		}
		return 0;
	}
}

static int ensure_base(reg_client *c, berth_error **err)
{
	pthread_mutex_lock(&c->lock);
	bool known = c->base != NULL;
	pthread_mutex_unlock(&c->lock);
	if (known)
		return 0;
	/* Insecure registry: HTTPS first, plain HTTP after a TLS failure. */
	_cleanup_free_ char *https = xasprintf("https://%s", c->api_host);
	struct req q = {.method = "GET", .url = xasprintf("%s/v2/", https)};
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	bool transient = false;
	_cleanup_error_ berth_error *e = NULL;
	int rc = perform(c, &q, &r, &transient, &e);
	req_free(&q);
	resp_free(&r);
	const char *scheme = "https";
	if (rc < 0) {
		if (c->verify && e && strstr(e->msg, "certificate")) {
			if (err && !*err)
				*err = steal_ptr(e);
			return -1;
		}
		scheme = "http";
	}
	pthread_mutex_lock(&c->lock);
	if (!c->base)
		c->base = xasprintf("%s://%s", scheme, c->api_host);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* ---- API ---- */

static char *url_for(reg_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *url_for(reg_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *path = xvasprintf(fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->lock);
	char *u = xasprintf("%s%s", c->base ? c->base : "", path);
	pthread_mutex_unlock(&c->lock);
	return u;
}

static char *scope_pull(const char *repo)
{
	return xasprintf("repository:%s:pull", repo);
}

static char *scope_push(const char *repo)
{
	return xasprintf("repository:%s:pull,push", repo);
}

static int status_error(const struct resp *r, int code_default, berth_error **err, const char *what)
{
	_cleanup_free_ char *t = registry_error_text(r);
	int code = code_default;
	if (r->status == 401 || r->status == 403)
		code = BERTH_E_AUTH;
	else if (r->status == 404)
		code = BERTH_E_NOTFOUND;
	return berth_err(err, code, "%s: %s", what, t);
}

int reg_ping(reg_client *c, berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	struct req q = {.method = "GET"};
	q.url = url_for(c, "/v2/");
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status == 401) {
		ret = berth_err(err, BERTH_E_AUTH, "unauthorized: %s",
		                c->user ? "incorrect username or password"
		                        : "authentication required");
	} else if (ret == 0 && (r.status < 200 || r.status >= 300)) {
		ret = status_error(&r, BERTH_E_NETWORK, err, "pinging the registry");
	}
	req_free(&q);
	resp_free(&r);
	return ret;
}

void reg_manifest_clear(reg_manifest *m)
{
	free(m->body);
	free(m->media_type);
	memset(m, 0, sizeof(*m));
}

int reg_get_manifest(reg_client *c, const char *repo, const char *ref, reg_manifest *out,
                     berth_error **err)
{
	memset(out, 0, sizeof(*out));
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_pull(repo);
	struct req q = {
	    .method = "GET", .scope = scope, .accept = reg_manifest_accept, .follow = true};
	q.url = url_for(c, "/v2/%s/manifests/%s", repo, ref);
	struct resp r = {.content_length = -1, .body_limit = SMALL_BODY_MAX};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status != 200) {
		ret = status_error(&r, BERTH_E_NETWORK, err, "fetching manifest");
	} else if (ret == 0) {
		out->len = r.body.len;
		out->body = sb_steal(&r.body);
		out->media_type = r.content_type
		                      ? xstrndup(r.content_type, strcspn(r.content_type, ";"))
		                      : xstrdup("");
		sha256_digest(out->body, out->len, out->digest);
		if (digest_valid(ref) && strcmp(ref, out->digest) != 0) {
			ret = berth_err(err, BERTH_E_CORRUPT,
			                "manifest verification failed for digest %s", ref);
			reg_manifest_clear(out);
		}
	}
	req_free(&q);
	resp_free(&r);
	return ret;
}

int reg_head_manifest(reg_client *c, const char *repo, const char *ref, char **digest,
                      berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_pull(repo);
	struct req q = {
	    .method = "HEAD", .scope = scope, .accept = reg_manifest_accept, .follow = true};
	q.url = url_for(c, "/v2/%s/manifests/%s", repo, ref);
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status == 200 && r.digest && digest_valid(r.digest))
		*digest = xstrdup(r.digest);
	else if (ret == 0)
		ret = status_error(&r, BERTH_E_NETWORK, err, "manifest unknown");
	req_free(&q);
	resp_free(&r);
	return ret;
}

int reg_put_manifest(reg_client *c, const char *repo, const char *ref, const char *media_type,
                     const void *body, size_t len, char **digest_out, berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_push(repo);
	struct req q = {.method = "PUT",
	                .scope = scope,
	                .content_type = media_type,
	                .body = body,
	                .body_len = len,
	                .has_body = true};
	q.url = url_for(c, "/v2/%s/manifests/%s", repo, ref);
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status != 201 && r.status != 200 && r.status != 202)
		ret = status_error(&r, BERTH_E_NETWORK, err, "pushing manifest");
	if (ret == 0 && digest_out) {
		char d[DIGEST_STR_LEN + 1];
		sha256_digest(body, len, d);
		*digest_out = xstrdup(d);
	}
	req_free(&q);
	resp_free(&r);
	return ret;
}

int reg_get_blob(reg_client *c, const char *repo, const char *digest, int64_t size,
                 reg_sink_fn sink, void *sink_opaque, reg_progress_fn progress,
                 void *progress_opaque, berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_pull(repo);
	struct resp r = {.content_length = -1,
	                 .sink = sink,
	                 .sink_opaque = sink_opaque,
	                 .max_size = size,
	                 .progress = progress,
	                 .progress_opaque = progress_opaque,
	                 .total = size};
	sb_init(&r.body);
	r.sha = sha256_new();
	int ret = -1;
	for (int attempt = 0;; attempt++) {
		struct req q = {.method = "GET", .scope = scope, .follow = true};
		q.url = url_for(c, "/v2/%s/blobs/%s", repo, digest);
		r.range_from = r.delivered;
		r.skip = 0;
		if (r.delivered > 0)
			q.range = xasprintf("bytes=%llu-", (unsigned long long)r.delivered);
		_cleanup_error_ berth_error *e = NULL;
		uint64_t before = r.delivered;
		int rc = request(c, &q, &r, &e);
		req_free(&q);
		if (rc < 0) {
			/* request() retried connection failures already; one that
			 * broke mid-body is retried here, from where it stopped */
			bool progressed = r.delivered > before;
			if (e && e->code == BERTH_E_NETWORK &&
			    (progressed || attempt < c->retries) && attempt < c->retries + 8) {
				log_debug("registry: blob %s interrupted at %llu: %s", digest,
				          (unsigned long long)r.delivered, e->msg);
				backoff(progressed ? 0 : attempt);
				continue;
			}
			if (err && !*err)
				*err = steal_ptr(e);
			break;
		}
		if (r.status == 200 || r.status == 206) {
			ret = 0;
			break;
		}
		if (r.status == 416 && size >= 0 && r.delivered == (uint64_t)size) {
			ret = 0;
			break;
		}
		if (retryable_status(r.status) && attempt < c->retries) {
			backoff(attempt);
			continue;
		}
		status_error(&r, BERTH_E_NETWORK, err, "fetching blob");
		break;
	}
	if (ret == 0) {
		char got[DIGEST_STR_LEN + 1];
		sha256_final(r.sha, got);
		if (strcmp(got, digest) != 0 || (size >= 0 && r.delivered != (uint64_t)size))
			ret =
			    berth_err(err, BERTH_E_CORRUPT,
			              "filesystem layer verification failed for digest %s", digest);
	}
	resp_free(&r);
	return ret;
}

int reg_blob_exists(reg_client *c, const char *repo, const char *digest, int64_t *size,
                    berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_push(repo);
	struct req q = {.method = "HEAD", .scope = scope, .follow = true};
	q.url = url_for(c, "/v2/%s/blobs/%s", repo, digest);
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0) {
		if (r.status == 200) {
			if (size)
				*size = r.content_length;
			ret = 1;
		} else if (r.status == 404) {
			ret = 0;
		} else {
			ret = status_error(&r, BERTH_E_NETWORK, err, "checking blob");
		}
	}
	req_free(&q);
	resp_free(&r);
	return ret;
}

/* Absolute URL of a Location header (relative ones are on our base). */
static char *absolute(reg_client *c, const char *loc)
{
	if (str_has_prefix(loc, "http://") || str_has_prefix(loc, "https://"))
		return xstrdup(loc);
	return url_for(c, "%s%s", loc[0] == '/' ? "" : "/", loc);
}

static char *with_digest(const char *loc, const char *digest)
{
	return xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
}

/* POST an upload session (or mount). Returns 1 mounted, 0 with *location. */
static int start_upload(reg_client *c, const char *repo, const char *scope, const char *digest,
                        const char *mount_from, char **location, berth_error **err)
{
	struct req q = {.method = "POST", .scope = scope};
	if (mount_from && digest)
		q.url =
		    url_for(c, "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, mount_from);
	else
		q.url = url_for(c, "/v2/%s/blobs/uploads/", repo);
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0) {
		if (r.status == 201 && mount_from) {
			ret = 1;
		} else if (r.status == 202 && r.location) {
			*location = absolute(c, r.location);
		} else {
			ret = status_error(&r, BERTH_E_NETWORK, err, "starting upload");
		}
	}
	req_free(&q);
	resp_free(&r);
	return ret;
}

int reg_upload_blob(reg_client *c, const char *repo, const char *digest, int64_t size,
                    reg_source_fn source, void *source_opaque, const reg_upload_opts *opts,
                    reg_progress_fn progress, void *progress_opaque, bool *mounted,
                    berth_error **err)
{
	if (mounted)
		*mounted = false;
	if (ensure_base(c, err) < 0)
		return -1;
	reg_upload_opts none = {0};
	if (!opts)
		opts = &none;
	_cleanup_free_ char *scope = NULL;
	if (opts->mount_from)
		scope =
		    xasprintf("repository:%s:pull,push repository:%s:pull", repo, opts->mount_from);
	else
		scope = scope_push(repo);
	_cleanup_free_ char *loc = NULL;
	int s = start_upload(c, repo, scope, digest, opts->mount_from, &loc, err);
	if (s < 0)
		return -1;
	if (s == 1) {
		if (mounted)
			*mounted = true;
		if (progress)
			progress(progress_opaque, (uint64_t)size, size);
		return 0;
	}
	if (!source) {
		/* only a mount was asked for: drop the session the registry
		 * opened instead (best effort) */
		struct req q = {.method = "DELETE", .scope = scope, .url = xstrdup(loc)};
		struct resp r = {.content_length = -1};
		sb_init(&r.body);
		_cleanup_error_ berth_error *e = NULL;
		(void)request(c, &q, &r, &e);
		req_free(&q);
		resp_free(&r);
		return 0;
	}
	uint64_t chunk = opts->chunk_size;
	uint64_t off = 0;
	if (chunk > 0 && (uint64_t)size > chunk) {
		while (off < (uint64_t)size) {
			uint64_t n = (uint64_t)size - off < chunk ? (uint64_t)size - off : chunk;
			struct req q = {.method = "PATCH",
			                .scope = scope,
			                .source = source,
			                .source_opaque = source_opaque,
			                .source_len = (int64_t)n,
			                .source_limit = n,
			                .progress = progress,
			                .progress_opaque = progress_opaque,
			                .progress_total = size,
			                .progress_base = off};
			q.url = xstrdup(loc);
			q.content_range = xasprintf("%llu-%llu", (unsigned long long)off,
			                            (unsigned long long)(off + n - 1));
			struct resp r = {.content_length = -1};
			sb_init(&r.body);
			int ret = request(c, &q, &r, err);
			if (ret == 0 && r.status != 202)
				ret = status_error(&r, BERTH_E_NETWORK, err, "uploading chunk");
			if (ret == 0 && q.sent != n)
				ret = berth_err(err, BERTH_E_IO, "upload source ended early");
			if (ret == 0 && r.location) {
				free(loc);
				loc = absolute(c, r.location);
			}
			req_free(&q);
			resp_free(&r);
			if (ret < 0)
				return -1;
			off += n;
		}
	}
	struct req q = {.method = "PUT", .scope = scope};
	if (off < (uint64_t)size) {
		q.source = source;
		q.source_opaque = source_opaque;
		q.rewind = opts->rewind;
		q.rewind_to = off;
		q.source_len = size - (int64_t)off;
		q.progress = progress;
		q.progress_opaque = progress_opaque;
		q.progress_total = size;
		q.progress_base = off;
	}
	q.url = with_digest(loc, digest);
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status != 201)
		ret = status_error(&r, BERTH_E_NETWORK, err, "completing upload");
	req_free(&q);
	resp_free(&r);
	return ret;
}

int reg_upload_stream(reg_client *c, const char *repo, reg_source_fn source, void *source_opaque,
                      reg_rewind_fn rewind, reg_progress_fn progress, void *progress_opaque,
                      char digest[DIGEST_STR_LEN + 1], uint64_t *size, berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_push(repo);
	_cleanup_free_ char *loc = NULL;
	if (start_upload(c, repo, scope, NULL, NULL, &loc, err) < 0)
		return -1;
	struct req q = {.method = "PATCH",
	                .scope = scope,
	                .source = source,
	                .source_opaque = source_opaque,
	                .rewind = rewind,
	                .source_len = -1,
	                .source_sha = sha256_new(),
	                .progress = progress,
	                .progress_opaque = progress_opaque,
	                .progress_total = -1};
	q.url = xstrdup(loc);
	struct resp r = {.content_length = -1};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status != 202)
		ret = status_error(&r, BERTH_E_NETWORK, err, "uploading");
	if (ret == 0 && r.location) {
		free(loc);
		loc = absolute(c, r.location);
	}
	uint64_t sent = q.sent;
	_cleanup_sha256_ sha256_ctx *sha = steal_ptr(q.source_sha);
	req_free(&q);
	resp_free(&r);
	if (ret < 0)
		return -1;
	sha256_final(sha, digest);
	*size = sent;
	struct req p = {.method = "PUT", .scope = scope};
	p.url = with_digest(loc, digest);
	struct resp pr = {.content_length = -1};
	sb_init(&pr.body);
	ret = request(c, &p, &pr, err);
	if (ret == 0 && pr.status != 201)
		ret = status_error(&pr, BERTH_E_NETWORK, err, "completing upload");
	req_free(&p);
	resp_free(&pr);
	return ret;
}

int reg_list_tags(reg_client *c, const char *repo, char ***tags, berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	_cleanup_free_ char *scope = scope_pull(repo);
	char **v = xcalloc(1, sizeof(char *));
	_cleanup_free_ char *next = url_for(c, "/v2/%s/tags/list", repo);
	int ret = 0;
	for (int page = 0; next && page < 10000 && ret == 0; page++) {
		struct req q = {.method = "GET", .scope = scope, .follow = true};
		q.url = steal_ptr(next);
		struct resp r = {.content_length = -1, .body_limit = 64 << 20};
		sb_init(&r.body);
		ret = request(c, &q, &r, err);
		if (ret == 0 && r.status != 200)
			ret = status_error(&r, BERTH_E_NETWORK, err, "listing tags");
		if (ret == 0) {
			_cleanup_json_ json_t *j =
			    json_loadb(r.body.buf ? r.body.buf : "", r.body.len, 0, NULL);
			size_t i;
			json_t *t;
			json_array_foreach (json_object_get(j, "tags"), i, t) {
				if (json_is_string(t))
					v = strv_append(v, json_string_value(t));
			}
			_cleanup_free_ char *link = reg_link_next(r.link);
			if (link)
				next = absolute(c, link);
		}
		req_free(&q);
		resp_free(&r);
	}
	if (ret < 0) {
		strv_free(v);
		return -1;
	}
	*tags = v;
	return 0;
}

int reg_search(reg_client *c, const char *term, int limit, char **json_out, size_t *len,
               berth_error **err)
{
	if (ensure_base(c, err) < 0)
		return -1;
	strbuf path;
	sb_init(&path);
	sb_append(&path, "/v1/search?q=");
	urlenc(&path, term);
	sb_printf(&path, "&n=%d", limit);
	struct req q = {.method = "GET", .follow = true};
	q.url = url_for(c, "%s", path.buf);
	sb_free(&path);
	struct resp r = {.content_length = -1, .body_limit = 16 << 20};
	sb_init(&r.body);
	int ret = request(c, &q, &r, err);
	if (ret == 0 && r.status != 200) {
		/* as Docker words it, whatever the body says */
		ret = berth_err(err,
		                r.status == 401 || r.status == 403 ? BERTH_E_AUTH : BERTH_E_NETWORK,
		                "Unexpected status code %ld", r.status);
	} else if (ret == 0) {
		*len = r.body.len;
		*json_out = sb_steal(&r.body);
	}
	req_free(&q);
	resp_free(&r);
	return ret;
}
