/* berth pull: manifest (and platform choice from an index), config, then
 * the layers in parallel, each streamed from the registry through digest
 * verification into layer_apply (image_ingest_layer) while it downloads.
 * Nothing becomes visible before every blob has been verified: layers are
 * staged, and image_commit moves them into place in one transaction. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/image_int.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "registry/client.h"
#include "registry/events.h"
#include "registry/proto.h"
#include "registry/registry.h"
#include "registry/regmeta.h"

#define CONFIG_MAX (64 << 20)

const char *reg_layer_state_text(int state)
{
	static const char *const t[] = {
	    [RL_WAITING] = "Waiting",
	    [RL_PULLING_FS] = "Pulling fs layer",
	    [RL_ALREADY_EXISTS] = "Already exists",
	    [RL_DOWNLOADING] = "Downloading",
	    [RL_VERIFYING] = "Verifying Checksum",
	    [RL_DOWNLOAD_COMPLETE] = "Download complete",
	    [RL_EXTRACTING] = "Extracting",
	    [RL_PULL_COMPLETE] = "Pull complete",
	    [RL_PREPARING] = "Preparing",
	    [RL_PUSHING] = "Pushing",
	    [RL_PUSHED] = "Pushed",
	    [RL_LAYER_EXISTS] = "Layer already exists",
	    [RL_MOUNTED] = "Mounted from",
	};
	return state > 0 && (size_t)state < ARRAY_SIZE(t) && t[state] ? t[state] : "";
}

/* Serialised event delivery. */
static void short_id(const char *digest, char out[13])
{
	const char *h = digest_valid(digest) ? digest_hex(digest) : digest;
	snprintf(out, 13, "%s", h);
}

/* ---- memory sink (manifests, configs) ---- */

struct memsink {
	strbuf sb;
	size_t limit;
};

static int mem_sink(void *op, const void *buf, size_t n, berth_error **err)
{
	struct memsink *m = op;
	if (m->sb.len + n > m->limit)
		return berth_err(err, BERTH_E_CORRUPT, "blob larger than %zu bytes", m->limit);
	sb_appendn(&m->sb, buf, n);
	return 0;
}

/* ---- one layer: download thread feeding the ingest ---- */

struct layer_job {
	/* in */
	const oci_descriptor *desc;
	const char *diff_id;
	const char *chain_id;
	const char *parent;
	char id[13];
	bool exists;
	/* out */
	char *kept; /* the blob as downloaded, in staging until the pull ends */
	char *kept_split; /* kept as a compressed split of the tar, or NULL */
	image_layer_in in;
	int rc;
	berth_error *err;
};

struct pull_ctx {
	berth_store *s;
	reg_client *cl;
	const char *repo;
	reg_evq *q;
	struct layer_job *jobs;
	size_t njobs, next;
	bool abort;
	bool downloaded_late; /* restage_layer downloaded a layer found stored */
	pthread_mutex_t lock;
};

struct dl {
	struct pull_ctx *p;
	struct layer_job *job;
	blob_writer *w; /* keeps the downloaded bytes */
	int fd;
	bool consumer_gone;
	int rc;
	berth_error *err;
	uint64_t last_report;
};

static int dl_sink(void *op, const void *buf, size_t n, berth_error **err)
{
	struct dl *d = op;
	if (__atomic_load_n(&d->p->abort, __ATOMIC_RELAXED))
		return berth_err(err, BERTH_E_GENERIC, "pull aborted");
	if (blob_writer_write(d->w, buf, n, err) < 0)
		return -1;
	const char *p = buf;
	while (n > 0 && !d->consumer_gone) {
		ssize_t w = send(d->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE || errno == ECONNRESET) {
				/* extraction failed; keep hashing so that a corrupt
				 * blob is reported as such */
				d->consumer_gone = true;
				break;
			}
			return berth_err_sys(err, errno, "feeding the layer to extraction");
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void dl_progress(void *op, uint64_t done, int64_t total)
{
	struct dl *d = op;
	if (done - d->last_report < 256 * 1024 && (total < 0 || done != (uint64_t)total))
		return;
	d->last_report = done;
	reg_ev_layer(d->p->q, d->job->id, RL_DOWNLOADING, done, total, NULL);
}

static void *dl_thread(void *op)
{
	struct dl *d = op;
	d->rc = reg_get_blob(d->p->cl, d->p->repo, d->job->desc->digest, d->job->desc->size,
	                     dl_sink, d, dl_progress, d, &d->err);
	shutdown(d->fd, SHUT_WR);
	return NULL;
}

/* The layer in as tar-split plus staged directory, from the kept blob
 * (the download, verified): unpacked again, and copied uncompressed when
 * its files cannot give the tar back. */
/* The kept download of a layer, in staging. */
static int open_kept(berth_store *s, const struct layer_job *job, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	int fd = openat(sfd, job->kept, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "opening the downloaded layer");
	return fd;
}

static int ingest_kept(berth_store *s, struct layer_job *job, image_layer_in *in, berth_error **err)
{
	_cleanup_close_ int fd = open_kept(s, job, err);
	if (fd < 0)
		return -1;
	if (image_ingest_layer_split(s, image_fd_read, &fd, job->diff_id, in, err) < 0)
		return -1;
	return 0;
}

/* A copy of the uncompressed tar for a layer whose tar-split cannot be
 * made (its entries replace each other): from the kept blob. */
static int copy_if_unsplit(berth_store *s, struct layer_job *job, image_layer_in *in,
                           berth_error **err)
{
	if (in->staged_blob)
		return 0;
	_cleanup_close_ int fd = open_kept(s, job, err);
	if (fd < 0)
		return -1;
	return image_stage_tar(s, image_fd_read, &fd, job->diff_id, &in->staged_blob, err);
}

/* A gzip layer made mostly of stored blocks (incompressible data) is
 * stored as a compressed split of its tar (store.h): a few bytes per
 * 64 KiB instead of a second copy of the data. Failing that, the kept
 * download itself is stored. */
static void split_kept(berth_store *s, struct layer_job *job, const image_layer_in *in)
{
	int64_t n = job->desc->size;
	if (n < (64 << 10) || n < in->size / 2 || !strcmp(job->desc->digest, job->diff_id))
		return;
	int sfd = store_staging(s, NULL, NULL);
	_cleanup_close_ int fd = sfd < 0 ? -1 : openat(sfd, job->kept, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	void *map = mmap(NULL, (size_t)n, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return;
	tarsplit ts;
	tarsplit_init_compressed(&ts, job->diff_id);
	uint64_t referenced = 0;
	berth_error *e = NULL;
	if (image_gzip_split(map, (size_t)n, &ts, &referenced, true, &e) == 0 &&
	    referenced >= (uint64_t)n / 4 && tarsplit_stage(s, &ts, &job->kept_split, &e) < 0)
		job->kept_split = NULL;
	berth_error_free(e);
	tarsplit_free(&ts);
	munmap(map, (size_t)n);
}

/* Download a layer: the bytes go to a staged blob (kept) and, through a
 * socket, to the unpacker, which stages the directory and the tar-split. */
static int pull_layer(struct pull_ctx *p, struct layer_job *job, berth_error **err)
{
	_cleanup_blob_writer_ blob_writer *w = NULL;
	if (blob_writer_new(p->s, &w, err) < 0)
		return -1;
	/* reg_get_blob verifies the digest of exactly these bytes */
	blob_writer_trust(w);
	blob_writer_no_fsync(w);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return berth_err_sys(err, errno, "socketpair");
	int sz = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct dl d = {.p = p, .job = job, .w = w, .fd = sv[0]};
	pthread_t th;
	if (pthread_create(&th, NULL, dl_thread, &d) != 0) {
		close(sv[0]);
		close(sv[1]);
		return berth_err(err, BERTH_E_GENERIC, "cannot start a download thread");
	}
	int rfd = sv[1];
	_cleanup_error_ berth_error *ierr = NULL;
	image_layer_in in = {0};
	int irc = image_ingest_layer_split(p->s, image_fd_read, &rfd, job->diff_id, &in, &ierr);
	close(sv[1]); /* a writer still going gets EPIPE */
	pthread_join(th, NULL);
	close(sv[0]);
	_cleanup_error_ berth_error *derr = d.err;
	char got[DIGEST_STR_LEN + 1];
	if (d.rc == 0 && blob_writer_finish(w, job->desc->digest, got, &job->kept, &derr) < 0)
		d.rc = -1;
	if (d.rc < 0) {
		/* the download's error wins: a digest mismatch explains a broken
		 * extraction, not the other way round */
		if (irc == 0)
			image_layer_in_clear(p->s, &in);
		if (err && !*err)
			*err = steal_ptr(derr);
		return -1;
	}
	if (irc == 0 && copy_if_unsplit(p->s, job, &in, &ierr) < 0) {
		image_layer_in_clear(p->s, &in);
		irc = -1;
	}
	if (irc < 0) {
		/* bad content from the registry (not gzip, not a tar, ...) is
		 * no failure of berth's: Docker's words and exit status 1 */
		if (ierr && ierr->code == BERTH_E_INVALID) {
			ierr->code = BERTH_E_CORRUPT;
			berth_err_prefix(&ierr, "failed to register layer");
		}
		if (err && !*err)
			*err = steal_ptr(ierr);
		return -1;
	}
	split_kept(p->s, job, &in);
	image_layer_in_clear(p->s, &job->in);
	job->in = in;
	reg_ev_layer(p->q, job->id, RL_VERIFYING, 0, -1, NULL);
	reg_ev_layer(p->q, job->id, RL_DOWNLOAD_COMPLETE, 0, -1, NULL);
	reg_ev_layer(p->q, job->id, RL_EXTRACTING, (uint64_t)job->desc->size, job->desc->size,
	             NULL);
	reg_ev_layer(p->q, job->id, RL_PULL_COMPLETE, 0, -1, NULL);
	return 0;
}

static void *worker(void *op)
{
	struct pull_ctx *p = op;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		size_t i = p->next;
		while (i < p->njobs && p->jobs[i].exists)
			i++;
		p->next = i + 1;
		bool stop = p->abort || i >= p->njobs;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
		struct layer_job *job = &p->jobs[i];
		job->rc = pull_layer(p, job, &job->err);
		if (job->rc < 0)
			__atomic_store_n(&p->abort, true, __ATOMIC_RELAXED);
	}
}

/* ---- commit ---- */

static void fill_names(const struct layer_job *job, image_layer_in *l)
{
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", job->diff_id);
	snprintf(l->chain_id, sizeof(l->chain_id), "%s", job->chain_id);
	snprintf(l->parent, sizeof(l->parent), "%s", job->parent);
}

/* Before each commit attempt: a link to the kept download, when it is a
 * compressed form of the layer, for the commit to adopt (the download
 * stays, for another attempt). */
static int link_kept(void *opaque, size_t k, image_layer_in *l, berth_error **err)
{
	struct pull_ctx *p = opaque;
	struct layer_job *job = &p->jobs[k];
	if (job->kept == NULL || l->staged_compressed || !strcmp(job->desc->digest, job->diff_id))
		return 0;
	int sfd = store_staging(p->s, NULL, err);
	if (sfd < 0)
		return -1;
	char *name = store_staging_name(p->s, "pulled");
	if (linkat(sfd, job->kept_split ? job->kept_split : job->kept, sfd, name, 0) < 0) {
		int e = errno;
		free(name);
		return berth_err_sys(err, e, "linking the downloaded layer");
	}
	l->staged_compressed = name;
	l->compressed_split = job->kept_split != NULL;
	snprintf(l->compressed, sizeof(l->compressed), "%s", job->desc->digest);
	return 0;
}

/* The layer is neither stored nor staged any more (rmi removed it after
 * we found it stored, or after an attempt adopted it): unpack the kept
 * download again, or download it now if it was stored when we began. */
static int restage_layer(void *opaque, size_t k, image_layer_in *l, berth_error **err)
{
	struct pull_ctx *p = opaque;
	struct layer_job *job = &p->jobs[k];
	image_layer_in in = {0};
	if (job->kept == NULL) {
		reg_ev_layer(p->q, job->id, RL_PULLING_FS, 0, -1, NULL);
		if (pull_layer(p, job, err) < 0)
			return -1;
		p->downloaded_late = true;
		in = job->in;
		memset(&job->in, 0, sizeof(job->in));
	} else if (ingest_kept(p->s, job, &in, err) < 0 ||
	           copy_if_unsplit(p->s, job, &in, err) < 0) {
		image_layer_in_clear(p->s, &in);
		return -1;
	}
	/* the new names replace what is left of the old ones */
	int sfd = store_staging(p->s, NULL, NULL);
	if (sfd >= 0 && l->staged_dir) {
		berth_error *e = NULL;
		if (rm_rf_at(sfd, l->staged_dir, &e) < 0)
			berth_error_free(e);
	}
	if (sfd >= 0 && l->staged_blob)
		unlinkat(sfd, l->staged_blob, 0);
	free(l->staged_dir);
	free(l->staged_blob);
	l->staged_dir = steal_ptr(in.staged_dir);
	l->staged_blob = steal_ptr(in.staged_blob);
	l->blob_split = in.blob_split;
	l->size = in.size;
	return 0;
}

/* ---- the image ---- */

static int fetch_config(reg_client *cl, const char *repo, const oci_descriptor *d, char **out,
                        size_t *len, berth_error **err)
{
	struct memsink m = {.limit = CONFIG_MAX};
	sb_init(&m.sb);
	if (reg_get_blob(cl, repo, d->digest, d->size, mem_sink, &m, NULL, NULL, err) < 0) {
		sb_free(&m.sb);
		return berth_err_prefix(err, "fetching image config");
	}
	*len = m.sb.len;
	*out = sb_steal(&m.sb);
	return 0;
}

static int split_platform(const char *spec, char **os, char **arch, char **variant,
                          berth_error **err)
{
	*os = *arch = *variant = NULL;
	if (!spec || !*spec)
		return 0;
	_cleanup_strv_ char **parts = str_split(spec, '/');
	size_t n = strv_len(parts);
	if (n < 1 || n > 3 || !*parts[0])
		return berth_err(err, BERTH_E_INVALID, "invalid platform %s", spec);
	*os = xstrdup(parts[0]);
	if (n > 1)
		*arch = xstrdup(parts[1]);
	if (n > 2)
		*variant = xstrdup(parts[2]);
	return 0;
}

static int max_from_config(const berth_config *cfg, const char *key, int def)
{
	long long v = cfg && cfg->raw ? json_get_int(cfg->raw, key, def) : def;
	return v < 1 ? 1 : v > 64 ? 64 : (int)v;
}

static void manifest_clearp(reg_manifest **m)
{
	if (*m)
		reg_manifest_clear(*m);
}

/* rootfs.diff_ids of an image config and the chain IDs over them:
 * ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
static int config_diff_ids(const char *config, size_t len, char ***diff_ids, char ***chains,
                           berth_error **err)
{
	_cleanup_json_ json_t *j = json_parse_buf(config, len, "image config", err);
	if (!j)
		return -1;
	json_t *ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
	if (!json_is_array(ids))
		return berth_err(err, BERTH_E_CORRUPT, "image config without rootfs.diff_ids");
	char **d = xcalloc(1, sizeof(char *)), **c = xcalloc(1, sizeof(char *));
	char prev[DIGEST_STR_LEN + 1] = "";
	size_t i;
	json_t *v;
	json_array_foreach (ids, i, v) {
		const char *id = json_string_value(v);
		if (!id || !digest_valid(id)) {
			strv_free(d);
			strv_free(c);
			return berth_err(err, BERTH_E_CORRUPT, "invalid diff ID in image config");
		}
		char cur[DIGEST_STR_LEN + 1];
		if (i == 0) {
			snprintf(cur, sizeof(cur), "%s", id);
		} else {
			_cleanup_free_ char *cat = xasprintf("%s %s", prev, id);
			sha256_digest(cat, strlen(cat), cur);
		}
		d = strv_append(d, id);
		c = strv_append(c, cur);
		memcpy(prev, cur, sizeof(prev));
	}
	*diff_ids = d;
	*chains = c;
	return 0;
}

/* Pull one reference (tag or digest) of repo from cl. */
static int pull_ref(berth_store *s, reg_client *cl, const image_ref *ref,
                    const registry_pull_opts *o, reg_evq *q, berth_error **err)
{
	_cleanup_free_ char *familiar_repo = ref_familiar_repo(ref);
	_cleanup_free_ char *full = ref_string(ref);
	_cleanup_free_ char *familiar = ref_familiar(ref);
	const char *repo = ref->path;
	const char *what = ref->digest ? ref->digest : ref->tag;
	/* Docker shows the path without the registry: "library/busybox" */
	reg_ev_line(q, "%s: Pulling from %s", what, repo);

	reg_manifest top = {0};
	if (reg_get_manifest(cl, repo, what, &top, err) < 0) {
		if (err && *err && (*err)->code == BERTH_E_NOTFOUND)
			return berth_err_prefix(err, "manifest for %s not found", familiar);
		if (err && *err && (*err)->code == BERTH_E_AUTH)
			return berth_err_prefix(err,
			                        "pull access denied for %s, repository does not "
			                        "exist or may require 'berth login'",
			                        familiar_repo);
		return -1;
	}
	_cleanup_(manifest_clearp) reg_manifest *topp = &top;
	_cleanup_manifest_ manifest *m = NULL;
	if (manifest_parse(top.body, top.len, top.media_type, &m, err) < 0)
		return berth_err_prefix(err, "manifest for %s", familiar);
	reg_manifest child = {0};
	_cleanup_(manifest_clearp) reg_manifest *childp = &child;
	const reg_manifest *img = &top;
	if (manifest_is_index(m)) {
		_cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
		if (split_platform(o->platform, &os, &arch, &variant, err) < 0)
			return -1;
		const oci_descriptor *d = manifest_choose_platform(m, os, arch, variant, err);
		if (!d)
			return -1;
		if (reg_get_manifest(cl, repo, d->digest, &child, err) < 0)
			return -1;
		manifest_free(m);
		m = NULL;
		if (manifest_parse(child.body, child.len, child.media_type, &m, err) < 0)
			return -1;
		if (manifest_is_index(m))
			return berth_err(err, BERTH_E_UNSUPPORTED, "nested image indexes");
		img = &child;
	}
	_cleanup_free_ char *config = NULL;
	size_t config_len = 0;
	if (fetch_config(cl, repo, &m->config, &config, &config_len, err) < 0)
		return -1;
	_cleanup_strv_ char **diff_ids = NULL;
	_cleanup_strv_ char **chains = NULL;
	if (config_diff_ids(config, config_len, &diff_ids, &chains, err) < 0)
		return -1;
	size_t n = strv_len(diff_ids);
	if (n != m->n_layers)
		return berth_err(err, BERTH_E_CORRUPT,
		                 "manifest has %zu layers but the image config %zu diff IDs",
		                 m->n_layers, n);
	const char *id = m->config.digest;
	_cleanup_image_info_ image_info *before = NULL;
	{
		_cleanup_error_ berth_error *e = NULL;
		if (image_resolve(s, full, &before, &e) < 0)
			before = NULL;
	}

	struct layer_job *jobs = xcalloc(n ? n : 1, sizeof(*jobs));
	for (size_t i = 0; i < n; i++) {
		struct layer_job *j = &jobs[i];
		j->desc = &m->layers[i];
		j->diff_id = diff_ids[i];
		j->chain_id = chains[i];
		j->parent = i > 0 ? chains[i - 1] : "";
		short_id(j->desc->digest, j->id);
		j->exists = layer_store_exists(s, chains[i]);
	}
	for (size_t i = 0; i < n; i++)
		reg_ev_layer(q, jobs[i].id, jobs[i].exists ? RL_ALREADY_EXISTS : RL_PULLING_FS, 0,
		             -1, NULL);
	int maxc = o->max_concurrent > 0
	               ? o->max_concurrent
	               : max_from_config(o->config, "max-concurrent-downloads", 3);
	size_t todo = 0;
	for (size_t i = 0; i < n; i++)
		if (!jobs[i].exists && ++todo > (size_t)maxc)
			reg_ev_layer(q, jobs[i].id, RL_WAITING, 0, -1, NULL);

	int ret = 0;
	if (store_staging(s, NULL, err) < 0) {
		free(jobs);
		return -1;
	}
	struct pull_ctx p = {.s = s, .cl = cl, .repo = repo, .q = q, .jobs = jobs, .njobs = n};
	pthread_mutex_init(&p.lock, NULL);
	if (todo > 0) {
		size_t nthreads = todo < (size_t)maxc ? todo : (size_t)maxc;
		pthread_t *th = xcalloc(nthreads, sizeof(pthread_t));
		size_t started = 0;
		for (; started < nthreads; started++)
			if (pthread_create(&th[started], NULL, worker, &p) != 0)
				break;
		if (started == 0)
			worker(&p);
		for (size_t i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		free(th);
		for (size_t i = 0; i < n && ret == 0; i++) {
			if (jobs[i].rc < 0) {
				ret = -1;
				if (err && !*err)
					*err = steal_ptr(jobs[i].err);
			}
		}
	}
	image_layer_in *ins = xcalloc(n ? n : 1, sizeof(*ins));
	for (size_t i = 0; i < n; i++) {
		ins[i] = jobs[i].in;
		memset(&jobs[i].in, 0, sizeof(jobs[i].in));
		fill_names(&jobs[i], &ins[i]);
	}
	if (ret == 0) {
		char *tags[2] = {ref->digest ? NULL : full, NULL};
		_cleanup_strv_ char **untagged = NULL;
		_cleanup_free_ char *repo_full = ref_repo(ref);
		_cleanup_free_ char *dname = xasprintf("%s@%s", repo_full, top.digest);
		ret = image_commit_retry(s, config, config_len, id, ins, n, tags, &untagged,
		                         link_kept, restage_layer, &p, err);
		if (ret == 0)
			ret =
			    regmeta_record(s, id, ref->domain, repo, dname, img->digest,
			                   img->media_type, img->body, img->len, m, diff_ids, err);
	}
	int sfd = store_staging(s, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		image_layer_in_clear(s, &ins[i]);
		image_layer_in_clear(s, &jobs[i].in);
		berth_error_free(jobs[i].err);
		if (jobs[i].kept && sfd >= 0)
			unlinkat(sfd, jobs[i].kept, 0);
		if (jobs[i].kept_split && sfd >= 0)
			unlinkat(sfd, jobs[i].kept_split, 0);
		free(jobs[i].kept);
		free(jobs[i].kept_split);
	}
	pthread_mutex_destroy(&p.lock);
	free(ins);
	free(jobs);
	if (ret < 0)
		return -1;
	reg_ev_line(q, "Digest: %s", top.digest);
	bool up_to_date = before && !strcmp(before->id, id) && todo == 0 && !p.downloaded_late;
	reg_ev_line(q, "Status: %s for %s",
	            up_to_date ? "Image is up to date" : "Downloaded newer image", familiar);
	return 0;
}

/* Registries to try for a domain: docker.io's mirrors first. */
static char **endpoints(const berth_config *cfg, const char *domain)
{
	char **v = xcalloc(1, sizeof(char *));
	if (!strcmp(domain, REF_DEFAULT_DOMAIN) && cfg)
		for (char **m = cfg->registry_mirrors; m && *m; m++)
			v = strv_append(v, *m);
	v = strv_append(v, domain);
	return v;
}

static int tags_list(reg_client *cl, const char *repo, char ***out, berth_error **err);

int registry_pull(berth_store *s, const char *name, const registry_pull_opts *o, char **full_name,
                  berth_error **err)
{
	if (registry_store_init(s, err) < 0 || image_store_init(s, err) < 0)
		return -1;
	_cleanup_ref_ image_ref *ref = NULL;
	if (ref_parse_normalized(name, &ref, err) < 0)
		return -1;
	reg_evq q;
	reg_evq_init(&q, o->events);
	bool tag_given = strchr(name, '@') != NULL;
	{
		const char *last = strrchr(name, '/');
		if (strchr(last ? last : name, ':'))
			tag_given = true;
	}
	if (o->all_tags && ref->digest)
		return berth_err(err, BERTH_E_INVALID, "tag can't be used with --all-tags/-a");
	if (!tag_given && !o->all_tags)
		reg_ev_line(&q, "Using default tag: %s", REF_DEFAULT_TAG);
	_cleanup_strv_ char **eps = endpoints(o->config, ref->domain);
	int ret = -1;
	for (char **ep = eps; *ep; ep++) {
		bool last = ep[1] == NULL;
		_cleanup_error_ berth_error *e = NULL;
		reg_client_opts co = {.config = o->config, .retries = -1};
		_cleanup_reg_client_ reg_client *cl = NULL;
		if (reg_client_new(*ep, &co, &cl, &e) < 0) {
			if (last) {
				if (err && !*err)
					*err = steal_ptr(e);
				break;
			}
			continue;
		}
		if (o->all_tags) {
			_cleanup_strv_ char **tags = NULL;
			ret = tags_list(cl, ref->path, &tags, &e);
			for (char **t = tags; ret == 0 && t && *t; t++) {
				image_ref *r = ref_dup(ref);
				free(r->tag);
				r->tag = xstrdup(*t);
				ret = pull_ref(s, cl, r, o, &q, &e);
				ref_free(r);
			}
		} else {
			ret = pull_ref(s, cl, ref, o, &q, &e);
		}
		if (ret == 0 || last || (e && e->code == BERTH_E_CORRUPT)) {
			if (ret < 0 && err && !*err)
				*err = steal_ptr(e);
			break;
		}
	}
	reg_evq_destroy(&q);
	if (ret == 0 && full_name) {
		if (o->all_tags) {
			*full_name = ref_repo(ref);
		} else {
			*full_name = ref_string(ref);
		}
	}
	return ret;
}

static int tags_list(reg_client *cl, const char *repo, char ***out, berth_error **err)
{
	return reg_list_tags(cl, repo, out, err);
}
