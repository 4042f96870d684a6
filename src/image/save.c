/* berth save: docker-save archives (manifest.json, repositories, the config
 * blob and one v1 dir per layer with VERSION, json and layer.tar; a layer
 * shared with an earlier image is a symlink to its layer.tar, as Docker
 * writes it). The OCI layout variant is in oci_layout.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/image_int.h"
#include "image/ref.h"
#include "image/tar.h"

/* --- tar output --- */

static int put_header(int fd, tar_entry *e, berth_error **err)
{
	strbuf sb;
	sb_init(&sb);
	tar_write_header(&sb, e);
	int r = write_all(fd, sb.buf, sb.len);
	sb_free(&sb);
	if (r < 0)
		return berth_err_sys(err, errno, "writing archive");
	return 0;
}

static int put_padding(int fd, uint64_t size, berth_error **err)
{
	static const char zeros[TAR_BLOCK];
	size_t pad = tar_padding(size);
	if (pad && write_all(fd, zeros, pad) < 0)
		return berth_err_sys(err, errno, "writing archive");
	return 0;
}

int image_tar_dir(int fd, const char *name, int64_t mtime, berth_error **err)
{
	_cleanup_free_ char *n = xasprintf("%s/", name);
	tar_entry e = {.path = n, .linkname = "", .type = TAR_DIR, .mode = 040755, .mtime = mtime};
	return put_header(fd, &e, err);
}

int image_tar_file(int fd, const char *name, const void *data, size_t len, int64_t mtime,
                   berth_error **err)
{
	tar_entry e = {.path = (char *)name,
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0100644,
	               .size = len,
	               .mtime = mtime};
	if (put_header(fd, &e, err) < 0)
		return -1;
	if (write_all(fd, data, len) < 0)
		return berth_err_sys(err, errno, "writing archive");
	return put_padding(fd, len, err);
}

int image_tar_symlink(int fd, const char *name, const char *target, int64_t mtime,
                      berth_error **err)
{
	tar_entry e = {.path = (char *)name,
	               .linkname = (char *)target,
	               .type = TAR_SYMLINK,
	               .mode = 0120777,
	               .mtime = mtime};
	return put_header(fd, &e, err);
}

int image_tar_blob(int fd, berth_store *s, const char *name, const char *digest, int64_t mtime,
                   berth_error **err)
{
	_cleanup_close_ int bfd = blob_open(s, digest, err);
	if (bfd < 0)
		return -1;
	int64_t size = blob_size(s, digest);
	if (size < 0)
		return berth_err(err, BERTH_E_NOTFOUND, "blob %s not found", digest);
	tar_entry e = {.path = (char *)name,
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0100644,
	               .size = (uint64_t)size,
	               .mtime = mtime};
	if (put_header(fd, &e, err) < 0)
		return -1;
	/* copy exactly size bytes, so a damaged blob cannot break the tar */
	char *buf = xmalloc(1 << 20);
	int64_t left = size;
	while (left > 0) {
		ssize_t r = read(bfd, buf, left < (1 << 20) ? (size_t)left : (1 << 20));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			return berth_err(err, BERTH_E_IO, "reading blob %s", digest);
		}
		if (write_all(fd, buf, (size_t)r) < 0) {
			free(buf);
			return berth_err_sys(err, errno, "writing archive");
		}
		left -= r;
	}
	free(buf);
	return put_padding(fd, (uint64_t)size, err);
}

int image_tar_end(int fd, berth_error **err)
{
	strbuf sb;
	sb_init(&sb);
	tar_write_end(&sb);
	int r = write_all(fd, sb.buf, sb.len);
	sb_free(&sb);
	return r < 0 ? berth_err_sys(err, errno, "writing archive") : 0;
}

/* --- which images, with which tags --- */

void image_save_items_free(image_save_item *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		image_info_free(v[i].img);
		strv_free(v[i].tags);
	}
	free(v);
}

int image_save_collect(berth_store *s, char *const *names, image_save_item **out, size_t *n,
                       berth_error **err)
{
	image_save_item *v = NULL;
	size_t cnt = 0;
	for (char *const *nm = names; *nm; nm++) {
		image_info *img = NULL;
		if (image_resolve(s, *nm, &img, err) < 0) {
			image_save_items_free(v, cnt);
			return -1;
		}
		size_t k;
		for (k = 0; k < cnt; k++)
			if (!strcmp(v[k].img->id, img->id))
				break;
		if (k == cnt) {
			v = xreallocarray(v, cnt + 1, sizeof(*v));
			v[cnt].img = img;
			v[cnt].tags = xcalloc(1, sizeof(char *));
			cnt++;
		} else {
			image_info_free(img);
		}
		/* tags that the name stands for: name:tag -> that tag; a bare
		 * repository name -> all its tags; an ID -> none */
		_cleanup_ref_ image_ref *raw = NULL;
		berth_error *e = NULL;
		if (ref_parse(*nm, &raw, &e) < 0) {
			berth_error_free(e);
			continue;
		}
		_cleanup_ref_ image_ref *r = NULL;
		if (ref_parse_normalized(*nm, &r, &e) < 0) {
			berth_error_free(e);
			continue;
		}
		_cleanup_free_ char *full = ref_string(r);
		_cleanup_free_ char *repo = ref_repo(r);
		for (char **t = v[k].img->repo_tags; t && *t; t++) {
			_cleanup_ref_ image_ref *tr = NULL;
			if (ref_parse_normalized(*t, &tr, &e) < 0) {
				berth_error_free(e);
				e = NULL;
				continue;
			}
			_cleanup_free_ char *tfull = ref_string(tr);
			_cleanup_free_ char *trepo = ref_repo(tr);
			bool match = raw->tag ? !strcmp(tfull, full) : !strcmp(trepo, repo);
			if (!raw->digest && match && !strv_contains(v[k].tags, tfull))
				v[k].tags = strv_append(v[k].tags, tfull);
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* --- docker format --- */

static void v1_id(const char *chain, const char *extra, char out[DIGEST_HEX_LEN + 1])
{
	_cleanup_free_ char *s = xasprintf("berth-v1 %s %s", chain, extra ? extra : "");
	char d[DIGEST_STR_LEN + 1];
	sha256_digest(s, strlen(s), d);
	memcpy(out, digest_hex(d), DIGEST_HEX_LEN + 1);
}

static json_t *v1_json(const image_info *img, size_t k, const char *id, const char *parent)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(id));
	if (parent)
		json_object_set_new(o, "parent", json_string(parent));
	if (k + 1 < img->n_layers) {
		json_object_set_new(o, "created", json_string("1970-01-01T00:00:00Z"));
		json_object_set_new(o, "container_config", image_canonical_config(NULL));
		json_object_set_new(o, "os", json_string("linux"));
		return o;
	}
	const char *key;
	json_t *v;
	json_object_foreach (img->config_json, key, v) {
		if (strcmp(key, "history") != 0 && strcmp(key, "rootfs") != 0 &&
		    strcmp(key, "id") != 0 && strcmp(key, "parent") != 0)
			json_object_set(o, key, v);
	}
	return o;
}

static int save_docker(berth_store *s, image_save_item *items, size_t n, int fd, berth_error **err)
{
	_cleanup_json_ json_t *manifest = json_array();
	_cleanup_json_ json_t *repos = json_object();
	_cleanup_strv_ char **written = NULL; /* "diff_id path" */
	_cleanup_strv_ char **dirs = NULL;
	for (size_t i = 0; i < n; i++) {
		image_info *img = items[i].img;
		int64_t mtime = img->created_unix;
		json_t *layers = json_array();
		char parent[DIGEST_HEX_LEN + 1] = "";
		char top[DIGEST_HEX_LEN + 1] = "";
		for (size_t k = 0; k < img->n_layers; k++) {
			char id[DIGEST_HEX_LEN + 1];
			v1_id(img->chain_ids[k], k + 1 == img->n_layers ? img->id : parent, id);
			_cleanup_free_ char *path = xasprintf("%s/layer.tar", id);
			json_array_append_new(layers, json_string(path));
			memcpy(top, id, sizeof(top));
			if (strv_contains(dirs, id)) {
				memcpy(parent, id, sizeof(parent));
				continue;
			}
			dirs = strv_append(dirs, id);
			_cleanup_json_ json_t *vj = v1_json(img, k, id, k ? parent : NULL);
			_cleanup_free_ char *vjs = json_dump_go(vj, NULL);
			_cleanup_free_ char *ver = xasprintf("%s/VERSION", id);
			_cleanup_free_ char *jsn = xasprintf("%s/json", id);
			if (image_tar_dir(fd, id, mtime, err) < 0 ||
			    image_tar_file(fd, ver, "1.0", 3, mtime, err) < 0 ||
			    image_tar_file(fd, jsn, vjs, strlen(vjs), mtime, err) < 0) {
				json_decref(layers);
				return -1;
			}
			const char *prev = NULL;
			size_t dl = strlen(img->diff_ids[k]);
			for (char **w = written; w && *w; w++)
				if (!strncmp(*w, img->diff_ids[k], dl) && (*w)[dl] == ' ')
					prev = *w + dl + 1;
			if (prev) {
				_cleanup_free_ char *target = xasprintf("../%s", prev);
				if (image_tar_symlink(fd, path, target, mtime, err) < 0) {
					json_decref(layers);
					return -1;
				}
			} else {
				if (image_tar_blob(fd, s, path, img->diff_ids[k], mtime, err) < 0) {
					json_decref(layers);
					return -1;
				}
				_cleanup_free_ char *rec =
				    xasprintf("%s %s", img->diff_ids[k], path);
				written = strv_append(written, rec);
			}
			memcpy(parent, id, sizeof(parent));
		}
		_cleanup_free_ char *cfgname = xasprintf("%s.json", digest_hex(img->id));
		if (image_tar_file(fd, cfgname, img->config, img->config_len, mtime, err) < 0) {
			json_decref(layers);
			return -1;
		}
		json_t *tags = json_array();
		for (char **t = items[i].tags; t && *t; t++) {
			_cleanup_free_ char *fam = image_familiar(*t);
			json_array_append_new(tags, json_string(fam));
			char *colon = strrchr(fam, ':');
			if (colon && !strchr(colon, '/') && top[0]) {
				*colon = 0;
				json_t *rp = json_object_get(repos, fam);
				if (rp == NULL) {
					rp = json_object();
					json_object_set_new(repos, fam, rp);
				}
				json_object_set_new(rp, colon + 1, json_string(top));
			}
		}
		json_array_append_new(manifest,
		                      json_pack("{s:s, s:o, s:o}", "Config", cfgname, "RepoTags",
		                                json_array_size(tags) ? tags : json_null(),
		                                "Layers", layers));
		if (json_array_size(tags) == 0)
			json_decref(tags);
	}
	_cleanup_free_ char *mj = json_dump_go(manifest, NULL);
	if (image_tar_file(fd, "manifest.json", mj, strlen(mj), 0, err) < 0)
		return -1;
	if (json_object_size(repos)) {
		_cleanup_free_ char *rj = json_dump_go(repos, NULL);
		if (image_tar_file(fd, "repositories", rj, strlen(rj), 0, err) < 0)
			return -1;
	}
	return image_tar_end(fd, err);
}

int image_save(berth_store *s, char *const *names, enum image_save_format format, int out_fd,
               berth_error **err)
{
	if (image_store_init(s, err) < 0)
		return -1;
	image_save_item *items = NULL;
	size_t n = 0;
	if (image_save_collect(s, names, &items, &n, err) < 0)
		return -1;
	int rc = format == IMAGE_SAVE_OCI ? image_save_oci(s, items, n, out_fd, err)
	                                  : save_docker(s, items, n, out_fd, err);
	image_save_items_free(items, n);
	return rc;
}
