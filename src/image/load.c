/* berth load: docker-save archives (manifest.json, v1 layer dirs, layer.tar
 * possibly a link to another dir's layer.tar, several images) and OCI
 * image layout archives, either optionally gzip/zstd compressed.
 *
 * The archive is read once, as a stream: each docker layer.tar is unpacked
 * and kept as a blob while it streams by; small files (manifests, configs)
 * are kept in memory; OCI blobs that are not small are staged as files and
 * unpacked once index.json told what they are. Nothing is recorded until
 * every image of the archive checked out; then each image is committed
 * under the store lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/config.h"
#include "image/image.h"
#include "image/image_int.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "image/tar.h"

#define SMALL_MAX (8u << 20) /* files kept in memory */
#define READ_CHUNK (1u << 20)

typedef struct member {
	char *name;
	char type; /* TAR_REG, TAR_SYMLINK, TAR_LINK */
	char *link; /* resolved target name for links */
	char *data; /* small files */
	size_t len;
	image_layer_in layer; /* docker layer.tar: ingested */
	bool ingested;
	char *staged_raw; /* big OCI blob staged as a file */
	char *used_chain; /* chain the staged layer dir was given to */
	int src_fd; /* a docker layer.tar at [src_off, +src_len) of the archive */
	int64_t src_off, src_len; /* (src_fd >= 0 only while loading) */
} member;

typedef struct archive {
	berth_store *s;
	member *m;
	size_t n;
} archive;

static void archive_clear(archive *a)
{
	int sfd = store_staging(a->s, NULL, NULL);
	for (size_t i = 0; i < a->n; i++) {
		member *m = &a->m[i];
		free(m->name);
		free(m->link);
		free(m->data);
		image_layer_in_clear(a->s, &m->layer);
		if (m->staged_raw && sfd >= 0)
			unlinkat(sfd, m->staged_raw, 0);
		free(m->staged_raw);
		free(m->used_chain);
	}
	free(a->m);
}

static member *add_member(archive *a, const char *name)
{
	a->m = xreallocarray(a->m, a->n + 1, sizeof(member));
	member *m = &a->m[a->n++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->src_fd = -1;
	return m;
}

static member *find_member(archive *a, const char *name)
{
	for (size_t i = a->n; i > 0; i--)
		if (!strcmp(a->m[i - 1].name, name))
			return &a->m[i - 1];
	return NULL;
}

/* Follow links (up to 16). */
static member *resolve_member(archive *a, const char *name)
{
	member *m = find_member(a, name);
	for (int i = 0; m && m->type != TAR_REG && i < 16; i++)
		m = m->link ? find_member(a, m->link) : NULL;
	return m && m->type == TAR_REG ? m : NULL;
}

/* "./a/b" -> "a/b"; collapse "dir/../x" for link targets. */
static char *clean_path(const char *p)
{
	_cleanup_strv_ char **parts = str_split(p, '/');
	char **out = xcalloc(strv_len(parts) + 1, sizeof(char *));
	size_t n = 0;
	for (char **x = parts; *x; x++) {
		if (!**x || !strcmp(*x, "."))
			continue;
		if (!strcmp(*x, "..")) {
			if (n > 0)
				free(out[--n]);
			out[n] = NULL;
			continue;
		}
		out[n++] = xstrdup(*x);
	}
	out[n] = NULL;
	char *r = strv_join(out, "/");
	strv_free(out);
	return r;
}

/* --- byte sources --- */

typedef struct outer_src {
	image_decomp *d;
	unsigned char *buf;
	size_t len, pos;
} outer_src;

static int outer_next(void *opaque, const unsigned char **p, size_t *len, size_t max,
                      berth_error **err)
{
	outer_src *o = opaque;
	if (o->pos >= o->len) {
		ssize_t r = image_decomp_read(o->d, o->buf, READ_CHUNK, err);
		if (r < 0)
			return -1;
		o->len = (size_t)r;
		o->pos = 0;
		if (r == 0) {
			*len = 0;
			return 0;
		}
	}
	size_t n = o->len - o->pos;
	if (n > max)
		n = max;
	*p = o->buf + o->pos;
	*len = n;
	o->pos += n;
	return 0;
}

/* A regular, uncompressed archive: read with pread from a position, entry
 * data skipped by seeking, so a layer is read only where it is unpacked. */
#define FILE_CHUNK (128u << 10)

typedef struct file_src {
	int fd;
	int64_t fpos, end; /* file offset of buf's end; end of the file */
	unsigned char *buf;
	size_t len, pos;
} file_src;

static int file_next(void *opaque, const unsigned char **p, size_t *len, size_t max,
                     berth_error **err)
{
	file_src *f = opaque;
	if (f->pos >= f->len) {
		size_t want = FILE_CHUNK;
		if ((int64_t)want > f->end - f->fpos)
			want = (size_t)(f->end - f->fpos);
		ssize_t r = 0;
		while (want > 0 && (r = pread(f->fd, f->buf, want, f->fpos)) < 0 && errno == EINTR)
			;
		if (r < 0)
			return berth_err_sys(err, errno, "reading archive");
		f->fpos += r;
		f->len = (size_t)r;
		f->pos = 0;
		if (r == 0) {
			*len = 0;
			return 0;
		}
	}
	size_t n = f->len - f->pos;
	if (n > max)
		n = max;
	*p = f->buf + f->pos;
	*len = n;
	f->pos += n;
	return 0;
}

static int64_t file_skip(void *opaque, uint64_t n, berth_error **err)
{
	file_src *f = opaque;
	uint64_t avail = f->len - f->pos;
	if (n <= avail) {
		f->pos += n;
		return (int64_t)n;
	}
	f->pos = f->len;
	uint64_t more = n - avail;
	if (more > (uint64_t)(f->end - f->fpos))
		more = (uint64_t)(f->end - f->fpos);
	f->fpos += (int64_t)more;
	return (int64_t)(avail + more);
}

typedef struct entry_src {
	tar_reader *r;
	const unsigned char *p;
	size_t len;
} entry_src;

static ssize_t entry_read(void *opaque, void *buf, size_t n, berth_error **err)
{
	entry_src *e = opaque;
	if (e->len == 0) {
		if (tar_reader_data(e->r, &e->p, &e->len, err) < 0)
			return -1;
		if (e->len == 0)
			return 0;
	}
	size_t k = e->len < n ? e->len : n;
	memcpy(buf, e->p, k);
	e->p += k;
	e->len -= k;
	return (ssize_t)k;
}

typedef struct mem_src {
	const char *p;
	size_t len;
} mem_src;

static ssize_t mem_read(void *opaque, void *buf, size_t n, berth_error **err)
{
	mem_src *m = opaque;
	size_t k = m->len < n ? m->len : n;
	memcpy(buf, m->p, k);
	m->p += k;
	m->len -= k;
	return (ssize_t)k;
}

/* --- reading the archive --- */

static bool is_docker_layer(const char *name)
{
	return !strcmp(name, "layer.tar") || str_has_suffix(name, "/layer.tar");
}

static int read_all_entry(tar_reader *r, const tar_entry *e, char **data, size_t *len,
                          berth_error **err)
{
	char *buf = xmalloc(e->size + 1);
	size_t n = 0;
	for (;;) {
		const unsigned char *p;
		size_t l;
		if (tar_reader_data(r, &p, &l, err) < 0) {
			free(buf);
			return -1;
		}
		if (l == 0)
			break;
		memcpy(buf + n, p, l);
		n += l;
	}
	buf[n] = 0;
	*data = buf;
	*len = n;
	return 0;
}

/* A regular file holding an uncompressed archive from its current
 * offset: fills f for seeking through it. */
static bool seekable_archive(int fd, file_src *f)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	off_t at = lseek(fd, 0, SEEK_CUR);
	if (at < 0)
		return false;
	unsigned char m[4];
	ssize_t n = pread(fd, m, sizeof(m), at);
	if (n < 0 || (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) ||
	    (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd))
		return false;
	*f = (file_src){.fd = fd, .fpos = at, .end = st.st_size};
	return true;
}

static int read_archive(archive *a, int fd, berth_error **err)
{
	int infd = fd;
	file_src fs;
	bool seekable = seekable_archive(fd, &fs);
	int64_t base = seekable ? fs.fpos : 0;
	image_decomp *d = NULL;
	outer_src o = {0};
	_cleanup_tar_reader_ tar_reader *r = NULL;
	if (seekable) {
		fs.buf = xmalloc(FILE_CHUNK);
		r = tar_reader_new(file_next, &fs);
		tar_reader_set_skip(r, file_skip);
	} else {
		d = image_decomp_new(image_fd_read, &infd, err);
		if (d == NULL)
			return -1;
		o = (outer_src){.d = d, .buf = xmalloc(READ_CHUNK)};
		r = tar_reader_new(outer_next, &o);
	}
	int rc = 0;
	size_t entries = 0;
	for (;;) {
		const tar_entry *e;
		int k = tar_reader_next(r, &e, err);
		if (k < 0) {
			rc = -1;
			break;
		}
		if (k == 0)
			break;
		entries++;
		_cleanup_free_ char *name = clean_path(e->path);
		if (!*name)
			continue;
		if (e->type == TAR_SYMLINK || e->type == TAR_LINK) {
			member *m = add_member(a, name);
			m->type = e->type;
			if (e->type == TAR_SYMLINK && e->linkname[0] != '/') {
				_cleanup_free_ char *dir = xstrdup(name);
				char *sl = strrchr(dir, '/');
				if (sl)
					*sl = 0;
				else
					dir[0] = 0;
				_cleanup_free_ char *joined = xasprintf("%s/%s", dir, e->linkname);
				m->link = clean_path(joined);
			} else {
				m->link = clean_path(e->linkname);
			}
			continue;
		}
		if (e->type != TAR_REG)
			continue;
		if (is_docker_layer(name)) {
			member *m = add_member(a, name);
			m->type = TAR_REG;
			entry_src es = {.r = r};
			int ir = seekable ? image_ingest_layer_range(
			                        a->s, fd, base + (int64_t)tar_reader_offset(r),
			                        (int64_t)e->size, true, NULL, &m->layer, err)
			                  : image_ingest_layer(a->s, entry_read, &es, true, NULL,
			                                       &m->layer, err);
			if (ir < 0) {
				berth_err_prefix(err, "loading layer %s", name);
				rc = -1;
				break;
			}
			if (seekable) {
				m->src_fd = fd;
				m->src_off = base + (int64_t)tar_reader_offset(r);
				m->src_len = (int64_t)e->size;
			}
			m->ingested = true;
			continue;
		}
		if (e->size <= SMALL_MAX) {
			member *m = add_member(a, name);
			m->type = TAR_REG;
			if (read_all_entry(r, e, &m->data, &m->len, err) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (str_has_prefix(name, "blobs/sha256/")) {
			member *m = add_member(a, name);
			m->type = TAR_REG;
			_cleanup_free_ char *expect = xasprintf("sha256:%s", name + 13);
			if (!digest_valid(expect)) {
				rc = berth_err(err, BERTH_E_INVALID, "invalid blob name %s", name);
				break;
			}
			_cleanup_blob_writer_ blob_writer *w = NULL;
			entry_src es = {.r = r};
			if (blob_writer_new(a->s, &w, err) < 0) {
				rc = -1;
				break;
			}
			char buf[65536];
			ssize_t got;
			while ((got = entry_read(&es, buf, sizeof(buf), err)) > 0)
				if (blob_writer_write(w, buf, (size_t)got, err) < 0) {
					got = -1;
					break;
				}
			char dg[DIGEST_STR_LEN + 1];
			if (got < 0 || blob_writer_finish(w, expect, dg, &m->staged_raw, err) < 0) {
				berth_err_prefix(err, "blob %s", name);
				rc = -1;
				break;
			}
		}
	}
	free(o.buf);
	if (seekable)
		free(fs.buf);
	image_decomp_free(d);
	if (rc == 0 && entries == 0)
		return berth_err(err, BERTH_E_INVALID, "empty archive");
	return rc;
}

/* --- images to commit --- */

/* A new staged dir for l, unpacked again from the archive (a layer.tar in
 * a seekable one), else from m's staged blob (kept in staging until the
 * load ends) or the stored blob. */
static int restage_dir(berth_store *s, member *m, image_layer_in *l, berth_error **err)
{
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	image_layer_in again;
	if (m->src_fd >= 0) {
		if (image_ingest_layer_range(s, m->src_fd, m->src_off, m->src_len, false,
		                             m->layer.diff_id, &again, err) < 0)
			return -1;
	} else {
		_cleanup_close_ int fd =
		    m->layer.staged_blob && !m->layer.blob_split
		        ? openat(sfd, m->layer.staged_blob, O_RDONLY | O_CLOEXEC)
		        : -1;
		if (fd < 0)
			fd = blob_open(s, m->layer.diff_id, err);
		if (fd < 0)
			return -1;
		if (image_ingest_layer(s, image_fd_read, &fd, false, m->layer.diff_id, &again,
		                       err) < 0)
			return -1;
	}
	if (l->staged_dir &&
	    strcmp(l->staged_dir, m->layer.staged_dir ? m->layer.staged_dir : "")) {
		berth_error *e = NULL;
		if (rm_rf_at(sfd, l->staged_dir, &e) < 0)
			berth_error_free(e);
	}
	free(l->staged_dir);
	l->staged_dir = again.staged_dir;
	return 0;
}

/* Link m's staged blob under a new staging name for l (commit adopts that
 * name; m's stays, for another image or a retry). */
static int link_blob(berth_store *s, member *m, image_layer_in *l, berth_error **err)
{
	if (m->layer.staged_blob == NULL || l->staged_blob)
		return 0;
	int sfd = store_staging(s, NULL, err);
	if (sfd < 0)
		return -1;
	char *name = store_staging_name(s, "bloblink");
	if (linkat(sfd, m->layer.staged_blob, sfd, name, 0) < 0) {
		int e = errno;
		free(name);
		return berth_err_sys(err, e, "linking staged blob");
	}
	l->staged_blob = name;
	l->blob_split = m->layer.blob_split;
	return 0;
}

typedef struct pending {
	berth_store *s;
	char id[DIGEST_STR_LEN + 1];
	char *config;
	size_t config_len;
	image_layer_in *layers; /* staged names owned here (see commit_pending) */
	member **srcs; /* the archive member each layer comes from */
	size_t n;
	char **tags; /* full names */
} pending;

static void pending_free(berth_store *s, pending *p)
{
	free(p->config);
	for (size_t i = 0; i < p->n; i++)
		image_layer_in_clear(s, &p->layers[i]);
	free(p->layers);
	free(p->srcs);
	strv_free(p->tags);
}

/* Layer i of an image: the member's staged dir for its first chain (also
 * when that layer is stored already: rmi may remove it before we commit),
 * a re-extraction for another chain unless stored. The staged blob is
 * linked in by commit_pending. */
static int layer_for(archive *a, member *m, const char *chain, const char *parent,
                     image_layer_in *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->diff_id, m->layer.diff_id, sizeof(out->diff_id));
	memcpy(out->chain_id, chain, DIGEST_STR_LEN + 1);
	if (parent)
		memcpy(out->parent, parent, DIGEST_STR_LEN + 1);
	out->size = m->layer.size;
	if (m->used_chain == NULL || !strcmp(m->used_chain, chain)) {
		if (m->used_chain == NULL)
			m->used_chain = xstrdup(chain);
		out->staged_dir = m->layer.staged_dir ? xstrdup(m->layer.staged_dir) : NULL;
		return 0;
	}
	if (layer_store_exists(a->s, chain))
		return 0; /* commit_pending re-extracts it if it vanishes */
	return restage_dir(a->s, m, out, err);
}

static char *normalize_tag(const char *t, berth_error **err)
{
	_cleanup_ref_ image_ref *r = NULL;
	if (ref_parse_normalized(t, &r, err) < 0)
		return NULL;
	if (r->digest) {
		berth_err(err, BERTH_E_INVALID, "invalid tag %s: digest references are not tags",
		          t);
		return NULL;
	}
	return ref_string(r);
}

static int prepare_image(archive *a, const char *config, size_t len, member **layer_members,
                         size_t nl, char **tags, pending *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_image_config_ image_config *cfg = NULL;
	if (image_config_parse(config, len, &cfg, err) < 0)
		return -1;
	if (cfg->n_diff_ids != nl)
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid manifest: %zu layers but the config lists %zu diff IDs",
		                 nl, cfg->n_diff_ids);
	sha256_digest(config, len, out->id);
	out->config = xmemdup(config, len + 1);
	out->config[len] = 0;
	out->config_len = len;
	out->layers = xcalloc(nl + 1, sizeof(image_layer_in));
	out->srcs = xcalloc(nl + 1, sizeof(member *));
	out->n = nl;
	char parent[DIGEST_STR_LEN + 1] = "";
	for (size_t i = 0; i < nl; i++) {
		member *m = layer_members[i];
		if (strcmp(m->layer.diff_id, cfg->diff_ids[i]) != 0)
			return berth_err(err, BERTH_E_CORRUPT,
			                 "invalid diffID for layer %zu: calculated %s, expected %s",
			                 i, m->layer.diff_id, cfg->diff_ids[i]);
		char chain[DIGEST_STR_LEN + 1];
		chain_id(i ? parent : NULL, m->layer.diff_id, chain);
		out->srcs[i] = m;
		if (layer_for(a, m, chain, i ? parent : NULL, &out->layers[i], err) < 0)
			return -1;
		memcpy(parent, chain, sizeof(parent));
	}
	for (char **t = tags; t && *t; t++) {
		char *full = normalize_tag(*t, err);
		if (full == NULL)
			return -1;
		out->tags = strv_append(out->tags, full);
		free(full);
	}
	return 0;
}

static int prepare_docker(archive *a, member *mf, pending **out, size_t *nout, berth_error **err)
{
	_cleanup_json_ json_t *j = json_parse_buf(mf->data, mf->len, "manifest.json", err);
	if (j == NULL)
		return -1;
	if (!json_is_array(j) || json_array_size(j) == 0)
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid manifest.json: not a list of images");
	size_t n = json_array_size(j);
	pending *v = xcalloc(n, sizeof(*v));
	*out = v;
	size_t i;
	json_t *ent;
	json_array_foreach (j, i, ent) {
		const char *cfgname = json_get_str(ent, "Config");
		json_t *layers = json_object_get(ent, "Layers");
		if (cfgname == NULL || !json_is_array(layers))
			return berth_err(err, BERTH_E_INVALID,
			                 "invalid manifest.json: entry %zu lacks Config or Layers",
			                 i);
		_cleanup_free_ char *cn = clean_path(cfgname);
		member *cm = resolve_member(a, cn);
		if (cm == NULL || cm->data == NULL)
			return berth_err(err, BERTH_E_INVALID,
			                 "invalid archive: config %s is missing", cfgname);
		size_t nl = json_array_size(layers);
		member **lm = xcalloc(nl + 1, sizeof(member *));
		size_t k;
		json_t *ln;
		json_array_foreach (layers, k, ln) {
			_cleanup_free_ char *name =
			    clean_path(json_is_string(ln) ? json_string_value(ln) : "");
			member *m = resolve_member(a, name);
			if (m == NULL || !m->ingested) {
				free(lm);
				return berth_err(err, BERTH_E_INVALID,
				                 "invalid archive: layer %s is missing",
				                 json_is_string(ln) ? json_string_value(ln) : "?");
			}
			lm[k] = m;
		}
		_cleanup_strv_ char **tags = json_get_strv(ent, "RepoTags");
		int rc = prepare_image(a, cm->data, cm->len, lm, nl, tags, &v[i], err);
		free(lm);
		*nout = i + 1;
		if (rc < 0)
			return berth_err_prefix(err, "image %zu of manifest.json", i);
	}
	return 0;
}

/* An OCI blob's bytes (small, in memory) checked against its digest. */
static member *oci_blob(archive *a, const char *digest, berth_error **err)
{
	if (!digest_valid(digest)) {
		berth_err(err, BERTH_E_UNSUPPORTED, "unsupported digest %s", digest);
		return NULL;
	}
	_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest_hex(digest));
	member *m = resolve_member(a, name);
	if (m == NULL) {
		berth_err(err, BERTH_E_INVALID, "invalid archive: blob %s is missing", digest);
		return NULL;
	}
	if (m->data) {
		char got[DIGEST_STR_LEN + 1];
		sha256_digest(m->data, m->len, got);
		if (strcmp(got, digest) != 0) {
			berth_err(err, BERTH_E_CORRUPT, "blob %s: digest mismatch (got %s)", digest,
			          got);
			return NULL;
		}
	}
	return m;
}

static int oci_image(archive *a, const char *mdigest, const char *refname, pending *out,
                     berth_error **err)
{
	member *mm = oci_blob(a, mdigest, err);
	if (mm == NULL)
		return -1;
	if (mm->data == NULL)
		return berth_err(err, BERTH_E_INVALID, "manifest %s is too large", mdigest);
	_cleanup_manifest_ manifest *m = NULL;
	if (manifest_parse(mm->data, mm->len, NULL, &m, err) < 0)
		return -1;
	if (manifest_is_index(m)) {
		const oci_descriptor *d = manifest_choose_platform(m, NULL, NULL, NULL, err);
		if (d == NULL)
			return -1;
		return oci_image(a, d->digest, refname, out, err);
	}
	member *cm = oci_blob(a, m->config.digest, err);
	if (cm == NULL)
		return -1;
	if (cm->data == NULL)
		return berth_err(err, BERTH_E_INVALID, "config %s is too large", m->config.digest);
	_cleanup_image_config_ image_config *cfg = NULL;
	if (image_config_parse(cm->data, cm->len, &cfg, err) < 0)
		return -1;
	if (cfg->n_diff_ids != m->n_layers)
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid manifest: %zu layers but the config lists %zu diff IDs",
		                 m->n_layers, cfg->n_diff_ids);
	member **lm = xcalloc(m->n_layers + 1, sizeof(member *));
	for (size_t i = 0; i < m->n_layers; i++) {
		member *lb = oci_blob(a, m->layers[i].digest, err);
		if (lb == NULL) {
			free(lm);
			return -1;
		}
		if (!lb->ingested) {
			int rc;
			if (lb->data) {
				mem_src ms = {lb->data, lb->len};
				rc = image_ingest_layer(a->s, mem_read, &ms, true, cfg->diff_ids[i],
				                        &lb->layer, err);
			} else {
				int sfd = store_staging(a->s, NULL, err);
				_cleanup_close_ int fd =
				    sfd < 0 ? -1
				            : openat(sfd, lb->staged_raw, O_RDONLY | O_CLOEXEC);
				if (fd < 0) {
					free(lm);
					return berth_err_sys(err, errno, "opening staged blob");
				}
				rc = image_ingest_layer(a->s, image_fd_read, &fd, true,
				                        cfg->diff_ids[i], &lb->layer, err);
			}
			if (rc < 0) {
				free(lm);
				return berth_err_prefix(err, "layer %s", m->layers[i].digest);
			}
			lb->ingested = true;
		}
		lm[i] = lb;
	}
	char *tags[2] = {NULL, NULL};
	_cleanup_free_ char *tagbuf = NULL;
	if (refname) {
		/* a full reference names the image; a bare tag cannot */
		_cleanup_ref_ image_ref *r = NULL;
		berth_error *e = NULL;
		if (strpbrk(refname, ":/") && ref_parse_normalized(refname, &r, &e) == 0 &&
		    !r->digest)
			tags[0] = tagbuf = xstrdup(refname);
		berth_error_free(e);
	}
	int rc =
	    prepare_image(a, cm->data, cm->len, lm, m->n_layers, tags[0] ? tags : NULL, out, err);
	free(lm);
	return rc;
}

static int prepare_oci(archive *a, member *idx, pending **out, size_t *nout, berth_error **err)
{
	_cleanup_manifest_ manifest *m = NULL;
	if (manifest_parse(idx->data, idx->len, MT_OCI_INDEX, &m, err) < 0)
		return berth_err_prefix(err, "index.json");
	if (!manifest_is_index(m))
		return berth_err(err, BERTH_E_INVALID, "index.json is not an image index");
	if (m->n_manifests == 0)
		return berth_err(err, BERTH_E_INVALID, "index.json lists no images");
	pending *v = xcalloc(m->n_manifests, sizeof(*v));
	*out = v;
	for (size_t i = 0; i < m->n_manifests; i++) {
		const oci_descriptor *d = &m->manifests[i];
		const char *refname = NULL;
		if (d->annotations) {
			refname = json_get_str(d->annotations, "io.containerd.image.name");
			if (refname == NULL)
				refname = json_get_str(d->annotations, ANNOTATION_REF_NAME);
		}
		int rc = oci_image(a, d->digest, refname, &v[i], err);
		*nout = i + 1;
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Commit one image. Each layer is either stored or staged, but rmi may
 * remove a stored layer (and its blob) before we hold the store lock:
 * image_commit_retry then unpacks the layers missing now again from the
 * member's staged blob, which stays in staging until the load ends (each
 * attempt adopts only a link to it). */
static int pending_link(void *opaque, size_t k, image_layer_in *l, berth_error **err)
{
	pending *p = opaque;
	return link_blob(p->s, p->srcs[k], l, err);
}

static int pending_restage(void *opaque, size_t k, image_layer_in *l, berth_error **err)
{
	pending *p = opaque;
	if (l->staged_dir)
		return 0; /* only the blob is missing: pending_link links it again */
	return restage_dir(p->s, p->srcs[k], l, err);
}

static int commit_pending(berth_store *s, pending *p, char ***old, berth_error **err)
{
	p->s = s;
	return image_commit_retry(s, p->config, p->config_len, p->id, p->layers, p->n, p->tags, old,
	                          pending_link, pending_restage, p, err);
}

int image_load(berth_store *s, int fd, char ***report, berth_error **err)
{
	if (image_store_init(s, err) < 0)
		return -1;
	archive a = {.s = s};
	pending *p = NULL;
	size_t np = 0;
	int rc = read_archive(&a, fd, err);
	if (rc == 0) {
		member *mf = resolve_member(&a, "manifest.json");
		member *idx = resolve_member(&a, "index.json");
		if (mf && mf->data)
			rc = prepare_docker(&a, mf, &p, &np, err);
		else if (idx && idx->data)
			rc = prepare_oci(&a, idx, &p, &np, err);
		else
			rc = berth_err(err, BERTH_E_INVALID,
			               "invalid archive: no manifest.json or index.json (is it a "
			               "docker save or OCI layout archive?)");
	}
	for (size_t i = 0; rc == 0 && i < np; i++) {
		_cleanup_strv_ char **old = NULL;
		if (commit_pending(s, &p[i], &old, err) < 0) {
			rc = -1;
			break;
		}
		for (char **o = old; o && *o; o++) {
			/* Docker's notice when a tag moves to the loaded image */
			for (char **t = p[i].tags; t && *t; t++) {
				_cleanup_free_ char *fam = image_familiar(*t);
				_cleanup_free_ char *line = xasprintf(
				    "The image %s already exists, renaming the old one with ID "
				    "%s to empty string",
				    fam, *o);
				*report = strv_append(*report, line);
				break;
			}
		}
		if (p[i].tags) {
			for (char **t = p[i].tags; *t; t++) {
				_cleanup_free_ char *fam = image_familiar(*t);
				_cleanup_free_ char *line = xasprintf("Loaded image: %s", fam);
				*report = strv_append(*report, line);
			}
		} else {
			_cleanup_free_ char *line = xasprintf("Loaded image ID: %s", p[i].id);
			*report = strv_append(*report, line);
		}
	}
	for (size_t i = 0; i < np; i++)
		pending_free(s, &p[i]);
	free(p);
	archive_clear(&a);
	return rc;
}
