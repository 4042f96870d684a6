/* berth save --format oci: an OCI image layout as a tar (oci-layout,
 * index.json, blobs/sha256/...), layers uncompressed. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/image.h"
#include "image/image_int.h"
#include "image/manifest.h"
#include "image/ref.h"

static int put_blob(int fd, berth_store *s, char ***written, const char *digest, int64_t mtime,
                    berth_error **err)
{
	if (strv_contains(*written, digest))
		return 0;
	_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest_hex(digest));
	if (image_tar_blob(fd, s, name, digest, mtime, err) < 0)
		return -1;
	*written = strv_append(*written, digest);
	return 0;
}

int image_save_oci(berth_store *s, image_save_item *items, size_t n, int fd, berth_error **err)
{
	_cleanup_strv_ char **written = NULL;
	_cleanup_json_ json_t *index_list = json_array();
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	if (image_tar_file(fd, "oci-layout", layout, strlen(layout), 0, err) < 0 ||
	    image_tar_dir(fd, "blobs", 0, err) < 0 || image_tar_dir(fd, "blobs/sha256", 0, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		image_info *img = items[i].img;
		int64_t mtime = img->created_unix;
		oci_descriptor cfg = {.media_type = (char *)MT_OCI_CONFIG,
		                      .digest = img->id,
		                      .size = (int64_t)img->config_len};
		oci_descriptor *layers = xcalloc(img->n_layers + 1, sizeof(oci_descriptor));
		for (size_t k = 0; k < img->n_layers; k++) {
			layers[k].media_type = (char *)MT_OCI_LAYER;
			layers[k].digest = img->diff_ids[k];
			layers[k].size = blob_size(s, img->diff_ids[k]);
			if (layers[k].size < 0) {
				free(layers);
				return berth_err(err, BERTH_E_NOTFOUND, "layer blob %s is missing",
				                 img->diff_ids[k]);
			}
			if (put_blob(fd, s, &written, img->diff_ids[k], mtime, err) < 0) {
				free(layers);
				return -1;
			}
		}
		if (put_blob(fd, s, &written, img->id, mtime, err) < 0) {
			free(layers);
			return -1;
		}
		char mdigest[DIGEST_STR_LEN + 1];
		_cleanup_free_ char *mbytes =
		    manifest_write_image(MANIFEST_OCI, &cfg, layers, img->n_layers, NULL, mdigest);
		free(layers);
		if (!strv_contains(written, mdigest)) {
			_cleanup_free_ char *mname =
			    xasprintf("blobs/sha256/%s", digest_hex(mdigest));
			if (image_tar_file(fd, mname, mbytes, strlen(mbytes), mtime, err) < 0)
				return -1;
			written = strv_append(written, mdigest);
		}
		size_t msize = strlen(mbytes);
		if (items[i].tags == NULL || items[i].tags[0] == NULL) {
			json_array_append_new(
			    index_list, json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_MANIFEST,
			                          "digest", mdigest, "size", (json_int_t)msize));
			continue;
		}
		for (char **t = items[i].tags; *t; t++) {
			_cleanup_ref_ image_ref *r = NULL;
			if (ref_parse(*t, &r, err) < 0)
				return -1;
			json_array_append_new(
			    index_list,
			    json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType", MT_OCI_MANIFEST,
			              "digest", mdigest, "size", (json_int_t)msize, "annotations",
			              "io.containerd.image.name", *t, ANNOTATION_REF_NAME,
			              r->tag ? r->tag : "latest"));
		}
	}
	_cleanup_json_ json_t *index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType",
	                                         MT_OCI_INDEX, "manifests", index_list);
	_cleanup_free_ char *ij = json_dump_go(index, NULL);
	if (image_tar_file(fd, "index.json", ij, strlen(ij), 0, err) < 0)
		return -1;
	return image_tar_end(fd, err);
}
