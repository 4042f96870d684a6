/* libFuzzer harness: manifests and indexes (src/image/manifest.c). The
 * first byte picks the content type the document arrives with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
    NULL,         MT_DOCKER_MANIFEST, MT_DOCKER_MANIFEST_LIST,        MT_OCI_MANIFEST,
    MT_OCI_INDEX, "application/json", MT_OCI_INDEX "; charset=utf-8", MT_DOCKER_MANIFEST_V1_SIGNED,
};

/* What berth writes, berth reads back. */
static void check_rewrite(const manifest *m)
{
	char d[DIGEST_STR_LEN + 1];
	char *s;
	if (manifest_is_index(m))
		s = manifest_write_index(m->kind, m->manifests, m->n_manifests, m->annotations, d);
	else
		s = manifest_write_image(m->kind, &m->config, m->layers, m->n_layers,
		                         m->annotations, d);
	manifest *again = NULL;
	berth_error *e = NULL;
	if (manifest_parse(s, strlen(s), m->media_type, &again, &e) < 0)
		abort();
	if (again->kind != m->kind || again->n_layers != m->n_layers ||
	    again->n_manifests != m->n_manifests)
		abort();
	manifest_free(again);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *ct =
	    content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
	manifest *m = NULL;
	berth_error *e = NULL;
	if (manifest_parse((const char *)data + 1, size - 1, ct, &m, &e) < 0) {
		if (e == NULL || m != NULL)
			abort();
		berth_error_free(e);
		return 0;
	}
	if (manifest_is_index(m)) {
		static const char *const plats[][3] = {
		    {NULL, NULL, NULL},       {"linux", "arm64", NULL},   {"linux", "arm", "v6"},
		    {"linux", "amd64", "v3"}, {"windows", "amd64", NULL},
		};
		for (size_t i = 0; i < sizeof(plats) / sizeof(plats[0]); i++) {
			berth_error *pe = NULL;
			const oci_descriptor *d =
			    manifest_choose_platform(m, plats[i][0], plats[i][1], plats[i][2], &pe);
			if (d == NULL && pe == NULL)
				abort();
			if (d && (d < m->manifests || d >= m->manifests + m->n_manifests))
				abort();
			berth_error_free(pe);
		}
	}
	for (size_t i = 0; i < m->n_layers; i++) {
		oci_descriptor copy;
		oci_descriptor_copy(&copy, &m->layers[i]);
		json_decref(oci_descriptor_to_json(&copy, true));
		oci_descriptor_clear(&copy);
	}
	check_rewrite(m);
	manifest_free(m);
	return 0;
}
