/* berth push: for each layer, the registry's copy is reused when it has one
 * (HEAD), mounted from another repository of the same registry where the
 * layer came from, or sent as the very bytes it was pulled as (kept with
 * the layer), or else compressed (gzip) from the stored tar while it
 * uploads, with its digest computed on the way. A pulled image whose
 * layers and config are unchanged is pushed with the very manifest bytes
 * it was pulled with, so it stays byte-identical. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "registry/client.h"
#include "registry/events.h"
#include "registry/regmeta.h"
#include "registry/registry.h"

#define GZ_CHUNK (1 << 20)

/* ---- gzip while uploading: each 1 MiB of the layer goes out deflated at
 * level 1, or in stored blocks when a trial deflate of its first 16 KiB
 * does not gain 1/32 (random or compressed data: deflating it only costs
 * CPU). Deterministic: the same layer always gives the same bytes. ---- */

#define GZ_SAMPLE (16 << 10)
#define GZ_OUT (128 << 10)

struct gz_src {
	int fd;
	z_stream z;
	z_stream probe; /* raw deflate, level 1, for the trials */
	unsigned char *in, *scratch, *out;
	size_t out_pos, out_len; /* what out holds still to be read */
	bool eof, done;
	int level;
	bool want_change;
	int want_level;
	reg_evq *q;
	const char *id;
	int64_t total;
	uint64_t last_report;
};

static int gz_init(struct gz_src *g)
{
	g->level = 1;
	if (deflateInit2(&g->z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	if (deflateInit2(&g->probe, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		deflateEnd(&g->z);
		return -1;
	}
	g->in = xmalloc(GZ_CHUNK);
	g->out = xmalloc(GZ_OUT);
	g->scratch = xmalloc(deflateBound(&g->probe, GZ_SAMPLE));
	return 0;
}

static void gz_end(struct gz_src *g)
{
	deflateEnd(&g->z);
	deflateEnd(&g->probe);
	free(g->in);
	free(g->out);
	free(g->scratch);
}

/* The level for a chunk: 0 (stored) unless its sample deflates well. */
static int gz_choose_level(struct gz_src *g, const unsigned char *buf, size_t n)
{
	size_t k = n < GZ_SAMPLE ? n : GZ_SAMPLE;
	if (k < 512)
		return g->level; /* too little to tell: keep going as we are */
	deflateReset(&g->probe);
	g->probe.next_in = (unsigned char *)buf;
	g->probe.avail_in = (uInt)k;
	g->probe.next_out = g->scratch;
	g->probe.avail_out = (uInt)deflateBound(&g->probe, GZ_SAMPLE);
	if (deflate(&g->probe, Z_FINISH) != Z_STREAM_END)
		return 1;
	return g->probe.total_out > k - k / 32 ? 0 : 1;
}

/* Deflate into g->out, always offered whole: zlib's stored blocks follow
 * the room it is given, so the room must not depend on the reader. */
static int gz_fill(struct gz_src *g, berth_error **err)
{
	g->z.next_out = g->out;
	g->z.avail_out = GZ_OUT;
	while (g->z.avail_out > 0 && !g->done) {
		if (g->want_change) {
			/* the new level applies from the chunk just read */
			unsigned char *next = g->z.next_in;
			uInt avail = g->z.avail_in;
			g->z.avail_in = 0;
			int rc = deflateParams(&g->z, g->want_level, Z_DEFAULT_STRATEGY);
			g->z.next_in = next;
			g->z.avail_in = avail;
			if (rc == Z_OK) {
				g->level = g->want_level;
				g->want_change = false;
			} else if (rc != Z_BUF_ERROR) {
				return berth_err(err, BERTH_E_GENERIC, "gzip: %d", rc);
			} else {
				break; /* needs output room first */
			}
		}
		if (g->z.avail_in == 0 && !g->eof) {
			size_t got = 0;
			while (got < GZ_CHUNK) {
				ssize_t r = read(g->fd, g->in + got, GZ_CHUNK - got);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					return berth_err_sys(err, errno, "reading layer");
				if (r == 0)
					break;
				got += (size_t)r;
			}
			if (got == 0) {
				g->eof = true;
			} else {
				g->z.next_in = g->in;
				g->z.avail_in = (uInt)got;
				int lvl = gz_choose_level(g, g->in, got);
				if (lvl != g->level) {
					g->want_level = lvl;
					g->want_change = true;
					continue;
				}
			}
		}
		int rc = deflate(&g->z, g->eof ? Z_FINISH : Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			g->done = true;
		else if (rc != Z_OK && rc != Z_BUF_ERROR)
			return berth_err(err, BERTH_E_GENERIC, "gzip: %d", rc);
	}
	g->out_pos = 0;
	g->out_len = GZ_OUT - g->z.avail_out;
	if (g->out_len == 0 && !g->done)
		return berth_err(err, BERTH_E_GENERIC, "gzip made no progress");
	return 0;
}

static ssize_t gz_read(void *op, void *buf, size_t n, berth_error **err)
{
	struct gz_src *g = op;
	size_t k = 0;
	while (k < n) {
		if (g->out_pos == g->out_len) {
			if (g->done)
				break;
			if (gz_fill(g, err) < 0)
				return -1;
			continue;
		}
		size_t m = g->out_len - g->out_pos < n - k ? g->out_len - g->out_pos : n - k;
		memcpy((char *)buf + k, g->out + g->out_pos, m);
		g->out_pos += m;
		k += m;
	}
	uint64_t done = g->z.total_in;
	if (done - g->last_report >= 512 * 1024 || (g->done && g->out_pos == g->out_len)) {
		g->last_report = done;
		reg_ev_layer(g->q, g->id, RL_PUSHING, done, g->total, NULL);
	}
	return (ssize_t)k;
}

static int gz_rewind(void *op, berth_error **err)
{
	struct gz_src *g = op;
	if (lseek(g->fd, 0, SEEK_SET) < 0)
		return berth_err_sys(err, errno, "rewinding layer");
	if (deflateReset(&g->z) != Z_OK || deflateParams(&g->z, 1, Z_DEFAULT_STRATEGY) != Z_OK)
		return berth_err(err, BERTH_E_GENERIC, "gzip reset failed");
	g->z.avail_in = 0;
	g->eof = g->done = g->want_change = false;
	g->out_pos = g->out_len = 0;
	g->level = 1;
	g->last_report = 0;
	return 0;
}

/* ---- plain file source (config, known blobs) ---- */

struct mem_src {
	const char *data;
	size_t len, off;
};

static ssize_t mem_read(void *op, void *buf, size_t n, berth_error **err)
{
	struct mem_src *m = op;
	size_t k = m->len - m->off < n ? m->len - m->off : n;
	memcpy(buf, m->data + m->off, k);
	m->off += k;
	return (ssize_t)k;
}

static int mem_rewind(void *op, berth_error **err)
{
	((struct mem_src *)op)->off = 0;
	return 0;
}

/* ---- a stored blob (a layer's compressed form as pulled) ---- */

struct file_src {
	int fd;
	reg_evq *q;
	const char *id;
	int64_t total;
	uint64_t done, last_report;
};

static ssize_t file_read(void *op, void *buf, size_t n, berth_error **err)
{
	struct file_src *f = op;
	for (;;) {
		ssize_t r = read(f->fd, buf, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return berth_err_sys(err, errno, "reading layer");
		f->done += (uint64_t)r;
		if (f->done - f->last_report >= 512 * 1024 || r == 0) {
			f->last_report = f->done;
			reg_ev_layer(f->q, f->id, RL_PUSHING, f->done, f->total, NULL);
		}
		return r;
	}
}

static int file_rewind(void *op, berth_error **err)
{
	struct file_src *f = op;
	if (lseek(f->fd, 0, SEEK_SET) < 0)
		return berth_err_sys(err, errno, "rewinding layer");
	f->done = f->last_report = 0;
	return 0;
}

/* ---- layers ---- */

struct push_layer {
	const char *diff_id;
	char id[13];
	oci_descriptor desc; /* the result */
	bool made_here; /* desc is what berth's gzip makes of the layer */
	int rc;
	berth_error *err;
};

struct push_ctx {
	berth_store *s;
	reg_client *cl;
	const char *domain, *repo;
	uint64_t chunk;
	reg_evq *q;
	struct push_layer *layers;
	size_t n, next;
	bool abort;
	pthread_mutex_t lock;
};

static void set_desc(oci_descriptor *d, const char *mt, const char *digest, int64_t size)
{
	oci_descriptor_clear(d);
	d->media_type = xstrdup(mt);
	d->digest = xstrdup(digest);
	d->size = size;
}

static int push_layer(struct push_ctx *p, struct push_layer *l, berth_error **err)
{
	regmeta_layer *src = NULL;
	size_t nsrc = 0;
	if (regmeta_layer_sources(p->s, l->diff_id, &src, &nsrc, err) < 0)
		return -1;
	int ret = 1; /* 1: still to do */
	/* what berth's gzip made of this layer before, if it did */
	const regmeta_layer *made = NULL;
	for (size_t i = 0; i < nsrc; i++)
		if (!strcmp(src[i].registry, "") && !strcmp(src[i].repo, REGMETA_MADE_HERE))
			made = &src[i];
	/* the registry may have it already, under any name we know */
	for (size_t i = 0; i < nsrc && ret == 1; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(src[j].digest, src[i].digest);
		if (seen)
			continue;
		int64_t size = -1;
		_cleanup_error_ berth_error *e = NULL;
		if (reg_blob_exists(p->cl, p->repo, src[i].digest, &size, &e) == 1) {
			set_desc(&l->desc, src[i].media_type, src[i].digest, src[i].size);
			reg_ev_layer(p->q, l->id, RL_LAYER_EXISTS, 0, -1, NULL);
			ret = 0;
		}
	}
	/* or in another repository of this registry: mount it (at most 3
	 * tries, as Docker) */
	int tries = 0;
	for (size_t i = 0; i < nsrc && ret == 1 && tries < 3; i++) {
		if (strcmp(src[i].registry, p->domain) != 0 || !strcmp(src[i].repo, p->repo))
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(src[j].registry, p->domain) &&
			       !strcmp(src[j].repo, src[i].repo) &&
			       !strcmp(src[j].digest, src[i].digest);
		if (seen)
			continue;
		tries++;
		bool mounted = false;
		_cleanup_error_ berth_error *e = NULL;
		reg_upload_opts uo = {.mount_from = src[i].repo};
		if (reg_upload_blob(p->cl, p->repo, src[i].digest, src[i].size, NULL, NULL, &uo,
		                    NULL, NULL, &mounted, &e) == 0 &&
		    mounted) {
			set_desc(&l->desc, src[i].media_type, src[i].digest, src[i].size);
			reg_ev_layer(p->q, l->id, RL_MOUNTED, 0, -1, src[i].repo);
			ret = 0;
		}
	}
	/* or the very bytes it was pulled as, kept with the layer */
	for (size_t i = 0; i < nsrc && ret == 1; i++) {
		/* (an uncompressed one is regenerated from its tar-split) */
		if (blob_size(p->s, src[i].digest) != src[i].size)
			continue;
		_cleanup_close_ int bfd = blob_open(p->s, src[i].digest, NULL);
		if (bfd < 0)
			continue; /* removed meanwhile: compress the tar */
		struct file_src f = {.fd = bfd, .q = p->q, .id = l->id, .total = src[i].size};
		reg_upload_opts uo = {.chunk_size = p->chunk, .rewind = file_rewind};
		if (reg_upload_blob(p->cl, p->repo, src[i].digest, src[i].size, file_read, &f, &uo,
		                    NULL, NULL, NULL, err) < 0) {
			regmeta_layers_free(src, nsrc);
			return -1;
		}
		set_desc(&l->desc, src[i].media_type, src[i].digest, src[i].size);
		reg_ev_layer(p->q, l->id, RL_PUSHED, 0, -1, NULL);
		ret = 0;
	}
	_cleanup_free_ char *known = made ? xstrdup(made->digest) : NULL;
	int64_t known_size = made ? made->size : -1;
	regmeta_layers_free(src, nsrc);
	if (ret == 0)
		return 0;
	/* compress the stored tar while uploading it */
	_cleanup_close_ int fd = blob_open(p->s, l->diff_id, err);
	if (fd < 0)
		return berth_err_prefix(err, "layer %s", l->diff_id);
	struct gz_src g = {.fd = fd, .q = p->q, .id = l->id, .total = blob_size(p->s, l->diff_id)};
	if (gz_init(&g) < 0)
		return berth_err(err, BERTH_E_GENERIC, "gzip init failed");
	char digest[DIGEST_STR_LEN + 1];
	uint64_t size = 0;
	ret = 1;
	if (known) {
		/* the same bytes again (the compression is deterministic): one
		 * monolithic PUT of known digest and length */
		_cleanup_error_ berth_error *e = NULL;
		reg_upload_opts uo = {.rewind = gz_rewind};
		if (reg_upload_blob(p->cl, p->repo, known, known_size, gz_read, &g, &uo, NULL, NULL,
		                    NULL, &e) == 0) {
			snprintf(digest, sizeof(digest), "%s", known);
			size = (uint64_t)known_size;
			ret = 0;
		} else if (e->code == BERTH_E_AUTH || gz_rewind(&g, err) < 0) {
			/* not a different zlib: the registry's answer stands */
			if (err && !*err)
				*err = steal_ptr(e);
			ret = -1;
		}
	}
	if (ret == 1) {
		ret = reg_upload_stream(p->cl, p->repo, gz_read, &g, gz_rewind, NULL, NULL, digest,
		                        &size, err);
		l->made_here = ret == 0;
	}
	gz_end(&g);
	if (ret < 0)
		return -1;
	set_desc(&l->desc, MT_DOCKER_LAYER_GZIP, digest, (int64_t)size);
	reg_ev_layer(p->q, l->id, RL_PUSHED, 0, -1, NULL);
	return 0;
}

static void *push_worker(void *op)
{
	struct push_ctx *p = op;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next++;
		bool stop = p->abort || i >= p->n;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		/* top layer first, as Docker lists them */
		struct push_layer *l = &p->layers[p->n - 1 - i];
		l->rc = push_layer(p, l, &l->err);
		if (l->rc < 0)
			__atomic_store_n(&p->abort, true, __ATOMIC_RELAXED);
	}
}

static bool manifest_matches(const char *body, size_t len, const char *mt, const char *id,
                             const struct push_layer *layers, size_t n)
{
	_cleanup_manifest_ manifest *m = NULL;
	_cleanup_error_ berth_error *e = NULL;
	if (manifest_parse(body, len, mt, &m, &e) < 0 || manifest_is_index(m))
		return false;
	if (strcmp(m->config.digest, id) != 0 || m->n_layers != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->layers[i].digest, layers[i].desc.digest) != 0)
			return false;
	return true;
}

static int push_tag(berth_store *s, reg_client *cl, const image_ref *ref,
                    const registry_push_opts *o, reg_evq *q, berth_error **err)
{
	_cleanup_free_ char *full = ref_string(ref);
	_cleanup_image_info_ image_info *info = NULL;
	if (image_resolve(s, full, &info, err) < 0) {
		_cleanup_free_ char *fam = ref_familiar(ref);
		berth_error_clear(err);
		return berth_err(err, BERTH_E_NOTFOUND,
		                 "An image does not exist locally with the "
		                 "tag: %s",
		                 fam);
	}
	size_t n = info->n_layers;
	struct push_layer *layers = xcalloc(n ? n : 1, sizeof(*layers));
	for (size_t i = 0; i < n; i++) {
		layers[i].diff_id = info->diff_ids[i];
		snprintf(layers[i].id, sizeof(layers[i].id), "%s", digest_hex(info->diff_ids[i]));
	}
	int maxc = o->max_concurrent;
	if (maxc <= 0) {
		long long v = o->config && o->config->raw
		                  ? json_get_int(o->config->raw, "max-concurrent-uploads", 5)
		                  : 5;
		maxc = v < 1 ? 1 : v > 64 ? 64 : (int)v;
	}
	for (size_t i = n; i-- > 0;)
		reg_ev_layer(q, layers[i].id, RL_PREPARING, 0, -1, NULL);
	for (size_t i = n; i-- > 0;)
		if (n - i > (size_t)maxc)
			reg_ev_layer(q, layers[i].id, RL_WAITING, 0, -1, NULL);
	struct push_ctx p = {.s = s,
	                     .cl = cl,
	                     .domain = ref->domain,
	                     .repo = ref->path,
	                     .chunk = o->chunk_size,
	                     .q = q,
	                     .layers = layers,
	                     .n = n};
	pthread_mutex_init(&p.lock, NULL);
	size_t nth = n < (size_t)maxc ? n : (size_t)maxc;
	pthread_t *th = xcalloc(nth ? nth : 1, sizeof(pthread_t));
	size_t started = 0;
	for (; started < nth; started++)
		if (pthread_create(&th[started], NULL, push_worker, &p) != 0)
			break;
	if (started == 0 && n > 0)
		push_worker(&p);
	/* the config, while the layers go up */
	_cleanup_error_ berth_error *cerr = NULL;
	int crc = reg_blob_exists(cl, ref->path, info->id, NULL, &cerr);
	if (crc == 0) {
		struct mem_src ms = {.data = info->config, .len = info->config_len};
		reg_upload_opts uo = {.chunk_size = o->chunk_size, .rewind = mem_rewind};
		crc = reg_upload_blob(cl, ref->path, info->id, (int64_t)info->config_len, mem_read,
		                      &ms, &uo, NULL, NULL, NULL, &cerr);
	}
	if (crc < 0)
		__atomic_store_n(&p.abort, true, __ATOMIC_RELAXED);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	pthread_mutex_destroy(&p.lock);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (layers[i].rc < 0) {
			ret = -1;
			if (err && !*err)
				*err = steal_ptr(layers[i].err);
		}
	}
	if (ret == 0 && crc < 0) {
		ret = -1;
		if (err && !*err)
			*err = steal_ptr(cerr);
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		if (layers[i].made_here)
			ret = regmeta_record_made(s, layers[i].diff_id, &layers[i].desc, err);
	/* the manifest: the recorded bytes when they still describe the image */
	_cleanup_free_ char *body = NULL, *mt = NULL;
	size_t len = 0;
	if (ret == 0) {
		int have =
		    regmeta_manifest(s, info->id, ref->domain, ref->path, &mt, &body, &len, err);
		if (have < 0)
			ret = -1;
		else if (have == 0 || !manifest_matches(body, len, mt, info->id, layers, n)) {
			free(body);
			free(mt);
			bool oci = false;
			oci_descriptor *ld = xcalloc(n ? n : 1, sizeof(*ld));
			for (size_t i = 0; i < n; i++) {
				oci_descriptor_copy(&ld[i], &layers[i].desc);
				if (str_has_prefix(ld[i].media_type, "application/vnd.oci."))
					oci = true;
			}
			oci_descriptor cfg = {.media_type = oci ? MT_OCI_CONFIG : MT_DOCKER_CONFIG,
			                      .digest = info->id,
			                      .size = (int64_t)info->config_len};
			enum manifest_kind kind = oci ? MANIFEST_OCI : MANIFEST_DOCKER_V2;
			body = manifest_write_image(kind, &cfg, ld, n, NULL, NULL);
			len = strlen(body);
			mt = xstrdup(oci ? MT_OCI_MANIFEST : MT_DOCKER_MANIFEST);
			for (size_t i = 0; i < n; i++)
				oci_descriptor_clear(&ld[i]);
			free(ld);
		}
	}
	_cleanup_free_ char *digest = NULL;
	if (ret == 0)
		ret = reg_put_manifest(cl, ref->path, ref->tag, mt, body, len, &digest, err);
	if (ret == 0) {
		_cleanup_manifest_ manifest *m = NULL;
		_cleanup_free_ char *repo_full = ref_repo(ref);
		_cleanup_free_ char *dname = xasprintf("%s@%s", repo_full, digest);
		ret = manifest_parse(body, len, mt, &m, err);
		if (ret == 0)
			ret = regmeta_record(s, info->id, ref->domain, ref->path, dname, digest, mt,
			                     body, len, m, info->diff_ids, err);
	}
	for (size_t i = 0; i < n; i++) {
		oci_descriptor_clear(&layers[i].desc);
		berth_error_free(layers[i].err);
	}
	free(layers);
	if (ret < 0)
		return -1;
	reg_ev_line(q, "%s: digest: %s size: %zu", ref->tag, digest, len);
	return 0;
}

int registry_push(berth_store *s, const char *name, const registry_push_opts *o, berth_error **err)
{
	if (registry_store_init(s, err) < 0 || image_store_init(s, err) < 0)
		return -1;
	_cleanup_ref_ image_ref *ref = NULL;
	if (ref_parse_normalized(name, &ref, err) < 0)
		return -1;
	if (ref->digest)
		return berth_err(err, BERTH_E_INVALID, "cannot push a digest reference");
	reg_evq q;
	reg_evq_init(&q, o->events);
	_cleanup_free_ char *repo_full = ref_repo(ref);
	_cleanup_strv_ char **tags = xcalloc(1, sizeof(char *));
	if (o->all_tags) {
		image_summary *sum = NULL;
		size_t ns = 0;
		image_list_opts lo = {.dangling = -1};
		if (image_list(s, &lo, &sum, &ns, err) < 0)
			return -1;
		_cleanup_free_ char *prefix = xasprintf("%s:", repo_full);
		for (size_t i = 0; i < ns; i++)
			for (char **t = sum[i].tags; t && *t; t++)
				if (str_has_prefix(*t, prefix))
					tags = strv_append(tags, *t + strlen(prefix));
		image_summaries_free(sum, ns);
		if (!tags[0]) {
			_cleanup_free_ char *fam = ref_familiar_repo(ref);
			return berth_err(err, BERTH_E_NOTFOUND,
			                 "An image does not exist locally with the tag: %s", fam);
		}
	} else {
		const char *last = strrchr(name, '/');
		if (!strchr(last ? last : name, ':'))
			reg_ev_line(&q, "Using default tag: %s", REF_DEFAULT_TAG);
		tags = strv_append(tags, ref->tag);
	}
	reg_ev_line(&q, "The push refers to repository [%s]", repo_full);
	reg_client_opts co = {.config = o->config, .retries = -1};
	_cleanup_reg_client_ reg_client *cl = NULL;
	if (reg_client_new(ref->domain, &co, &cl, err) < 0)
		return -1;
	int ret = 0;
	for (char **t = tags; *t && ret == 0; t++) {
		image_ref *r = ref_dup(ref);
		free(r->tag);
		r->tag = xstrdup(*t);
		ret = push_tag(s, cl, r, o, &q, err);
		ref_free(r);
	}
	reg_evq_destroy(&q);
	return ret;
}
