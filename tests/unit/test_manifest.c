/* Manifests, indexes, image configs, platforms and chain IDs. Real blobs
 * come from shared/fixtures (written by Docker 20.10 and skopeo). */
#include <archive.h>
#include <archive_entry.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/digest.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/config.h"
#include "image/manifest.h"
#include "image/platform.h"
#include "test.h"

#define H8(c) c c c c c c c c
#define D(c) "sha256:" H8(c) /* 64 hex digits from 8 */
#define S512(c) "sha512:" H8(c) H8(c)
#define DA D("aaaaaaaa")
#define DB D("bbbbbbbb")
#define DC D("cccccccc")

#define BUSYBOX_ID "sha256:d2cdb43fdcb782df1479598f40621cffd4d3f40cc71156951445bef5c70634b1"
#define LAYERS_ID "sha256:c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1"
#define OCI_MANIFEST "sha256:874e17c66d5ae0d86f9abb0e19cbe3239b333a94b549b2a9cd894a2c9476ccf0"
#define OCI_CONFIG "sha256:013ba93eee3fca51d0212aa06c899bb4c717e5d4ce9f52c2b73cd16755f5a942"

static const char *const layer_diff_ids[] = {
    "sha256:d848b80508bfe8fe971527426066a6e610a0a05f8908e60ddac169324004edb6",
    "sha256:c2c7273b06e4f04251c711df4c3ec1e13e59e050fe06bbcb55c5c44625490536",
    "sha256:42061d1174c14406f7ec339e1ace453c3ec3af97f2a23fd3e45803708d1ed93e",
    "sha256:a41f8662e2e0fe2c4c9d30fc02c7536d93b6a75e7054a4ae5a6c5c4a3dbe70c2",
    "sha256:e0d716a56e591b8672ba52da0d6b443be462176ef49fa6f596d6b0b560dceef4",
    "sha256:bfac5e2d7db9918dc50b75dd985c4904e40fb1d12255de03580e962620bc1f00",
};

/* Computed outside berth (Python hashlib) from the diff IDs above. */
static const char *const layer_chain_ids[] = {
    "sha256:d848b80508bfe8fe971527426066a6e610a0a05f8908e60ddac169324004edb6",
    "sha256:d88b6b9d6afb6e02d56ebb670bf0ad89c29a9195f7889b0d7c9f3ea5ed059ec0",
    "sha256:1bd58e30a986067e26926c089aa316167572f1ad7ce7b7ee4b40970d299d5eb3",
    "sha256:0394adbd0f413f46fa27b6b38c3f33acc686d10b1ef28f8770ceaaa59356bb94",
    "sha256:903e0ebdc9b84baed9705804d42db855a8db1c9ed4f0db41ec2855a02b450abe",
    "sha256:8e8c6f345cacec622ad676f679b3826c0d51c9d1650be30e9eb8dad0d461fef8",
};

/* shared/fixtures: $BERTH_FIXTURES, else next to the repository that holds
 * this binary (REPO/build/tests/unit/berth-unit -> REPO/../shared/fixtures). */
static char *fixture_path(const char *name)
{
	const char *env = getenv("BERTH_FIXTURES");
	if (env && *env)
		return xasprintf("%s/%s", env, name);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	char *d = exe;
	for (int i = 0; i < 5; i++)
		d = dirname(d);
	return xasprintf("%s/shared/fixtures/%s", d, name);
}

/* One member of a fixture tar, in memory; NULL (and a test failure
 * message) when missing. */
static char *tar_member(const char *tarname, const char *member, size_t *len)
{
	_cleanup_free_ char *path = fixture_path(tarname);
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	char *data = NULL;
	if (path == NULL || archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		fprintf(stderr, "  cannot open fixture %s\n", path ? path : tarname);
		archive_read_free(a);
		return NULL;
	}
	struct archive_entry *e;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		if (str_has_prefix(name, "./"))
			name += 2;
		if (strcmp(name, member) != 0)
			continue;
		size_t size = (size_t)archive_entry_size(e);
		data = xmalloc(size + 1);
		la_ssize_t got = archive_read_data(a, data, size);
		if (got < 0 || (size_t)got != size) {
			free(data);
			data = NULL;
			break;
		}
		data[size] = 0;
		*len = size;
		break;
	}
	archive_read_free(a);
	if (data == NULL)
		fprintf(stderr, "  fixture %s has no %s\n", tarname, member);
	return data;
}

static void digest_of(const char *buf, size_t len, char out[DIGEST_STR_LEN + 1])
{
	sha256_digest(buf, len, out);
}

/* ---- JSON as Go writes it ---- */

TEST(json_dump_go_matches_go_encoding)
{
	_cleanup_json_ json_t *j =
	    json_loads("{\"s\":\"a<b>&c\\u2028\\u2029\\u001b\\n\\t\\\"\\\\/é\",\"i\":-12,"
	               "\"f\":[1.5,1e21,1e-7,0.000001,100.0,123456789.0,-0.0,0.1,1.2345e-300,5e20],"
	               "\"e\":{},\"a\":[],\"n\":null,\"t\":true}",
	               0, NULL);
	CHECK(j != NULL);
	_cleanup_free_ char *s = json_dump_go(j, NULL);
	CHECK_STR_EQ(s, "{\"s\":\"a\\u003cb\\u003e\\u0026c\\u2028\\u2029\\u001b\\n\\t\\\"\\\\/é\","
	                "\"i\":-12,"
	                "\"f\":[1.5,1e+21,1e-7,0.000001,100,123456789,-0,0.1,1.2345e-300,"
	                "500000000000000000000],"
	                "\"e\":{},\"a\":[],\"n\":null,\"t\":true}");
	_cleanup_json_ json_t *k =
	    json_loads("{\"a\":[1,{}],\"b\":[],\"c\":{\"d\":\"x\"}}", 0, NULL);
	_cleanup_free_ char *p = json_dump_go(k, "   ");
	CHECK_STR_EQ(p, "{\n   \"a\": [\n      1,\n      {}\n   ],\n   \"b\": [],\n   \"c\": {\n"
	                "      \"d\": \"x\"\n   }\n}");
}

/* ---- image configs from real Docker and skopeo ---- */

TEST(config_busybox_fixture_round_trip)
{
	size_t len = 0;
	_cleanup_free_ char *buf = tar_member(
	    "busybox-docker-save.tar",
	    "d2cdb43fdcb782df1479598f40621cffd4d3f40cc71156951445bef5c70634b1.json", &len);
	CHECK(buf != NULL);
	char d[DIGEST_STR_LEN + 1];
	digest_of(buf, len, d);
	CHECK_STR_EQ(d, BUSYBOX_ID);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_image_config_ image_config *c = NULL;
	CHECK(image_config_parse(buf, len, &c, &e) == 0);
	_cleanup_free_ char *out = image_config_dump(c);
	CHECK_INT_EQ(strlen(out), len);
	CHECK(memcmp(out, buf, len) == 0);
	image_config_digest(c, d);
	CHECK_STR_EQ(d, BUSYBOX_ID);
	CHECK_STR_EQ(c->architecture, "amd64");
	CHECK_STR_EQ(c->os, "linux");
	CHECK_STR_EQ(c->comment, "Imported from -");
	CHECK_STR_EQ(c->created, "2026-11-28T23:08:24.190722626Z");
	CHECK(c->author == NULL && c->variant == NULL);
	CHECK(c->config.env == NULL && c->config.entrypoint == NULL);
	CHECK(c->config.user == NULL && c->config.working_dir == NULL);
	CHECK_INT_EQ(strv_len(c->config.cmd), 1);
	CHECK_STR_EQ(c->config.cmd[0], "/bin/sh");
	CHECK_INT_EQ(c->n_diff_ids, 1);
	CHECK_STR_EQ(c->diff_ids[0], layer_diff_ids[0]);
	CHECK_INT_EQ(c->n_history, 1);
	CHECK_STR_EQ(c->history[0].comment, "Imported from -");
	CHECK(!c->history[0].empty_layer);
	CHECK(c->history[0].created_by == NULL);
}

TEST(config_layers_fixture_round_trip)
{
	size_t len = 0;
	_cleanup_free_ char *buf = tar_member(
	    "layers-docker-save.tar",
	    "c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1.json", &len);
	CHECK(buf != NULL);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_image_config_ image_config *c = NULL;
	CHECK(image_config_parse(buf, len, &c, &e) == 0);
	char d[DIGEST_STR_LEN + 1];
	image_config_digest(c, d);
	CHECK_STR_EQ(d, LAYERS_ID); /* the escaped \u0026 and \u003e survive */
	const image_runconfig *r = &c->config;
	CHECK_STR_EQ(r->user, "root");
	CHECK_STR_EQ(r->working_dir, "/data");
	CHECK_INT_EQ(strv_len(r->env), 3);
	CHECK_STR_EQ(r->env[1], "FIXTURE_NAME=layers");
	CHECK_INT_EQ(strv_len(r->entrypoint), 2);
	CHECK_STR_EQ(r->entrypoint[1], "-c");
	CHECK_STR_EQ(r->cmd[0], "cat /data/only");
	CHECK_INT_EQ(strv_len(r->exposed_ports), 1);
	CHECK_STR_EQ(r->exposed_ports[0], "8080/tcp");
	CHECK(r->volumes == NULL);
	CHECK_INT_EQ(r->n_labels, 2);
	CHECK_STR_EQ(r->labels[0].key, "org.example.fixture");
	CHECK_STR_EQ(r->labels[0].value, "layers");
	CHECK_STR_EQ(r->labels[1].value, "format-compat");
	CHECK(r->healthcheck == NULL && r->stop_signal == NULL && r->shell == NULL);
	CHECK_INT_EQ(c->n_diff_ids, 6);
	for (size_t i = 0; i < 6; i++)
		CHECK_STR_EQ(c->diff_ids[i], layer_diff_ids[i]);
	CHECK_INT_EQ(c->n_history, 13);
	size_t nonempty = 0;
	for (size_t i = 0; i < c->n_history; i++)
		nonempty += !c->history[i].empty_layer;
	CHECK_INT_EQ(nonempty, 6);
	CHECK_STR_EQ(c->history[3].created_by,
	             "/bin/sh -c mkdir -p /data/sub && echo a > /data/a && echo b > /data/b && "
	             "echo c > /data/c && echo x > /data/sub/x");
}

TEST(config_chain_ids)
{
	/* Independently: sha256 over "parent diffid" with libcrypto directly. */
	char prev[DIGEST_STR_LEN + 1], got[DIGEST_STR_LEN + 1];
	for (size_t i = 0; i < ARRAY_SIZE(layer_diff_ids); i++) {
		chain_id(i ? prev : NULL, layer_diff_ids[i], got);
		CHECK_STR_EQ(got, layer_chain_ids[i]);
		if (i > 0) {
			_cleanup_free_ char *s =
			    xasprintf("%s %s", layer_chain_ids[i - 1], layer_diff_ids[i]);
			unsigned char md[32];
			unsigned int n = 0;
			CHECK(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) == 1);
			char hex[65];
			for (int k = 0; k < 32; k++)
				snprintf(hex + 2 * k, 3, "%02x", md[k]);
			CHECK_STR_EQ(got + 7, hex);
		}
		memcpy(prev, got, sizeof(prev));
	}
	size_t len = 0;
	_cleanup_free_ char *buf = tar_member(
	    "layers-docker-save.tar",
	    "c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1.json", &len);
	CHECK(buf != NULL);
	_cleanup_image_config_ image_config *c = NULL;
	CHECK(image_config_parse(buf, len, &c, NULL) == 0);
	_cleanup_strv_ char **ids = image_config_chain_ids(c);
	CHECK_INT_EQ(strv_len(ids), 6);
	for (size_t i = 0; i < 6; i++)
		CHECK_STR_EQ(ids[i], layer_chain_ids[i]);
}

/* Without the fields berth does not write (docker_version, container...). */
static char *fixture_without(const char *tarname, const char *member, const char *const *drop)
{
	size_t len = 0;
	_cleanup_free_ char *buf = tar_member(tarname, member, &len);
	if (buf == NULL)
		return NULL;
	_cleanup_json_ json_t *j = json_loadb(buf, len, 0, NULL);
	for (; *drop; drop++)
		json_object_del(j, *drop);
	return json_dump_go(j, NULL);
}

static const char *const not_written[] = {"container", "container_config", "docker_version", NULL};

TEST(config_writer_reproduces_docker_import)
{
	/* berth's writer, fed what `docker import -c 'CMD ["/bin/sh"]'` was
	 * given, must give Docker's bytes (minus the daemon-only fields). */
	_cleanup_free_ char *want = fixture_without(
	    "busybox-docker-save.tar",
	    "d2cdb43fdcb782df1479598f40621cffd4d3f40cc71156951445bef5c70634b1.json", not_written);
	CHECK(want != NULL);
	const char *t = "2026-11-28T23:08:24.190722626Z";
	_cleanup_image_config_ image_config *c = image_config_new("linux", "amd64", NULL, t);
	image_config_set_string(c, "comment", "Imported from -");
	char *cmd[] = {"/bin/sh", NULL};
	image_config_set_run_strv(c, "Cmd", cmd);
	image_config_add_diff_id(c, layer_diff_ids[0]);
	image_config_add_history(
	    c, &(image_history){.created = (char *)t, .comment = "Imported from -"});
	_cleanup_free_ char *got = image_config_dump(c);
	CHECK_STR_EQ(got, want);
	CHECK_STR_EQ(c->comment, "Imported from -");
	CHECK_STR_EQ(c->config.cmd[0], "/bin/sh");
}

TEST(config_writer_reproduces_docker_build)
{
	_cleanup_free_ char *want = fixture_without(
	    "layers-docker-save.tar",
	    "c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1.json", not_written);
	CHECK(want != NULL);
	/* Replay the fixture's history through the setters, in build order. */
	size_t len = 0;
	_cleanup_free_ char *buf = tar_member(
	    "layers-docker-save.tar",
	    "c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1.json", &len);
	_cleanup_image_config_ image_config *src = NULL;
	CHECK(image_config_parse(buf, len, &src, NULL) == 0);
	_cleanup_image_config_ image_config *c =
	    image_config_new("linux", "amd64", NULL, "2026-11-28T23:32:47.896503612Z");
	char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	               "FIXTURE_NAME=layers", "FIXTURE_VERSION=1", NULL};
	image_config_set_run_strv(c, "Env", env);
	/* labels given out of order come out sorted, as Go writes maps */
	image_config_set_label(c, "org.example.purpose", "format-compat");
	image_config_set_label(c, "org.example.fixture", "layers");
	image_config_set_run_string(c, "WorkingDir", "/data");
	char *ports[] = {"8080/tcp", NULL};
	image_config_set_run_set(c, "ExposedPorts", ports);
	image_config_set_run_string(c, "User", "root");
	char *ep[] = {"/bin/sh", "-c", NULL};
	image_config_set_run_strv(c, "Entrypoint", ep);
	char *cmd[] = {"cat /data/only", NULL};
	image_config_set_run_strv(c, "Cmd", cmd);
	CHECK(image_config_set_run_json(
	          c, "Image",
	          json_string(
	              "sha256:b2121ed151fafeeee629bd1a73b8a6d79f65d3da4e71af78f295e78ef7ae7659"),
	          NULL) == 0);
	for (size_t i = 0; i < 6; i++)
		image_config_add_diff_id(c, layer_diff_ids[i]);
	for (size_t i = 0; i < src->n_history; i++)
		image_config_add_history(c, &src->history[i]);
	_cleanup_free_ char *got = image_config_dump(c);
	CHECK_STR_EQ(got, want);
}

TEST(config_oci_fixture_round_trip)
{
	size_t len = 0;
	_cleanup_free_ char *buf = tar_member(
	    "layers-oci-archive.tar",
	    "blobs/sha256/013ba93eee3fca51d0212aa06c899bb4c717e5d4ce9f52c2b73cd16755f5a942", &len);
	CHECK(buf != NULL);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_image_config_ image_config *c = NULL;
	CHECK(image_config_parse(buf, len, &c, &e) == 0);
	char d[DIGEST_STR_LEN + 1];
	image_config_digest(c, d);
	CHECK_STR_EQ(d, OCI_CONFIG); /* skopeo's key order is kept */
	CHECK_STR_EQ(c->config.user, "root");
	CHECK_INT_EQ(c->n_diff_ids, 6);
	CHECK_INT_EQ(c->n_history, 13);
	/* A change to a config shaped by skopeo keeps its other bytes. */
	image_config_set_label(c, "org.example.new", "x");
	_cleanup_free_ char *out = image_config_dump(c);
	CHECK(strstr(out,
	             "\"Labels\":{\"org.example.fixture\":\"layers\",\"org.example.new\":\"x\","
	             "\"org.example.purpose\":\"format-compat\"}") != NULL);
	CHECK(str_has_prefix(out, "{\"created\":\"2026-11-28T23:32:47.896503612Z\","
	                          "\"architecture\":\"amd64\""));
}

TEST(config_setters_keep_docker_layout)
{
	_cleanup_image_config_ image_config *c =
	    image_config_new("linux", "arm64", "v8", "2026-01-02T03:04:05Z");
	image_config_set_string(c, "author", "me");
	image_config_set_run_string(c, "StopSignal", "SIGTERM");
	char *shell[] = {"/bin/bash", "-c", NULL};
	image_config_set_run_strv(c, "Shell", shell);
	char *vols[] = {"/z", "/a", NULL};
	image_config_set_run_set(c, "Volumes", vols);
	char *test[] = {"CMD-SHELL", "true", NULL};
	image_healthcheck h = {.test = test, .interval = 30000000000LL, .retries = 3};
	image_config_set_healthcheck(c, &h);
	_cleanup_free_ char *s = image_config_dump(c);
	CHECK_STR_EQ(s,
	             "{\"architecture\":\"arm64\",\"author\":\"me\",\"config\":{\"Hostname\":\"\","
	             "\"Domainname\":\"\",\"User\":\"\",\"AttachStdin\":false,"
	             "\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,"
	             "\"OpenStdin\":false,\"StdinOnce\":false,\"Env\":null,\"Cmd\":null,"
	             "\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":30000000000,"
	             "\"Retries\":3},\"Image\":\"\",\"Volumes\":{\"/a\":{},\"/z\":{}},"
	             "\"WorkingDir\":\"\",\"Entrypoint\":null,\"OnBuild\":null,\"Labels\":null,"
	             "\"StopSignal\":\"SIGTERM\",\"Shell\":[\"/bin/bash\",\"-c\"]},"
	             "\"created\":\"2026-01-02T03:04:05Z\",\"history\":[],\"os\":\"linux\","
	             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"variant\":\"v8\"}");
	CHECK_STR_EQ(c->author, "me");
	CHECK_STR_EQ(c->variant, "v8");
	CHECK(c->config.healthcheck != NULL);
	CHECK_INT_EQ(c->config.healthcheck->interval, 30000000000LL);
	CHECK_INT_EQ(c->config.healthcheck->retries, 3);
	CHECK_STR_EQ(c->config.volumes[0], "/a");
	CHECK_STR_EQ(c->config.stop_signal, "SIGTERM");
	/* Removing: omitempty fields vanish, the others become null. */
	image_config_set_healthcheck(c, NULL);
	image_config_set_run_string(c, "StopSignal", NULL);
	image_config_set_run_set(c, "Volumes", NULL);
	image_config_set_run_strv(c, "Shell", NULL);
	_cleanup_free_ char *s2 = image_config_dump(c);
	CHECK(strstr(s2, "Healthcheck") == NULL && strstr(s2, "StopSignal") == NULL &&
	      strstr(s2, "Shell") == NULL);
	CHECK(strstr(s2, "\"Volumes\":null") != NULL);
	CHECK(c->config.healthcheck == NULL && c->config.volumes == NULL);
	/* The generic setter refuses what would not validate, and changes nothing. */
	_cleanup_error_ berth_error *e = NULL;
	CHECK(image_config_set_run_json(c, "Env", json_integer(5), &e) < 0);
	CHECK(strstr(e->msg, "config.Env must be an array of strings") != NULL);
	_cleanup_free_ char *s3 = image_config_dump(c);
	CHECK_STR_EQ(s3, s2);
}

TEST(config_docker_strslice_and_nulls)
{
	const char *j = "{\"config\":{\"Cmd\":\"echo hi\",\"Env\":[],\"Labels\":null,"
	                "\"Healthcheck\":{\"Test\":[\"NONE\"]},\"StopTimeout\":7},"
	                "\"rootfs\":{\"type\":\"layers\"},\"history\":null,\"Unknown\":{\"x\":1}}";
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_image_config_ image_config *c = NULL;
	CHECK(image_config_parse(j, strlen(j), &c, &e) == 0);
	CHECK_INT_EQ(strv_len(c->config.cmd), 1);
	CHECK_STR_EQ(c->config.cmd[0], "echo hi");
	CHECK(c->config.env != NULL && c->config.env[0] == NULL); /* [] is not null */
	CHECK_INT_EQ(c->config.n_labels, 0);
	CHECK_STR_EQ(c->config.healthcheck->test[0], "NONE");
	CHECK_INT_EQ(c->config.stop_timeout, 7);
	CHECK_INT_EQ(c->n_diff_ids, 0);
	CHECK(c->diff_ids != NULL);
	_cleanup_free_ char *out = image_config_dump(c);
	CHECK_STR_EQ(out, j); /* unknown fields kept, order kept */
}

static const struct {
	const char *json, *msg;
} bad_configs[] = {
    {"[]", "must be a JSON object"},
    {"{", "invalid JSON"},
    {"{}", "rootfs is required"},
    {"{\"rootfs\":{\"type\":\"tar\"}}", "rootfs.type must be \"layers\""},
    {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:abc\"]}}", "not a sha256 digest"},
    {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":\"x\"}}", "diff_ids must be an array"},
    {"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[1]}}", "diff_ids must be an array"},
    {"{\"architecture\":5,\"rootfs\":{\"type\":\"layers\"}}", "architecture must be a string"},
    {"{\"created\":\"yesterday\",\"rootfs\":{\"type\":\"layers\"}}", "not an RFC 3339 time"},
    {"{\"created\":\"2026-11-28T23:08:24+5:3\",\"rootfs\":{\"type\":\"layers\"}}",
     "not an RFC 3339 time"},
    {"{\"config\":[],\"rootfs\":{\"type\":\"layers\"}}", "config must be an object"},
    {"{\"config\":{\"Env\":{}},\"rootfs\":{\"type\":\"layers\"}}",
     "config.Env must be an array of strings"},
    {"{\"config\":{\"Cmd\":[1]},\"rootfs\":{\"type\":\"layers\"}}",
     "config.Cmd must be an array of strings"},
    {"{\"config\":{\"User\":0},\"rootfs\":{\"type\":\"layers\"}}", "config.User must be a string"},
    {"{\"config\":{\"Labels\":{\"a\":1}},\"rootfs\":{\"type\":\"layers\"}}",
     "config.Labels[\"a\"] must be a string"},
    {"{\"config\":{\"ExposedPorts\":[\"80/tcp\"]},\"rootfs\":{\"type\":\"layers\"}}",
     "config.ExposedPorts must be an object"},
    {"{\"config\":{\"Healthcheck\":{\"Retries\":\"3\"}},\"rootfs\":{\"type\":\"layers\"}}",
     "config.Healthcheck.Retries must be an integer"},
    {"{\"history\":{},\"rootfs\":{\"type\":\"layers\"}}", "history must be an array"},
    {"{\"history\":[1],\"rootfs\":{\"type\":\"layers\"}}", "history[0] must be an object"},
    {"{\"history\":[{\"empty_layer\":\"yes\"}],\"rootfs\":{\"type\":\"layers\"}}",
     "history[0].empty_layer must be a boolean"},
};

TEST(config_invalid_refused)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_configs); i++) {
		_cleanup_error_ berth_error *e = NULL;
		image_config *c = NULL;
		if (image_config_parse(bad_configs[i].json, strlen(bad_configs[i].json), &c, &e) ==
		    0) {
			test_failed(__FILE__, __LINE__, "accepted: %s", bad_configs[i].json);
			image_config_free(c);
			return;
		}
		CHECK(c == NULL);
		if (strstr(e->msg, bad_configs[i].msg) == NULL) {
			test_failed(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"",
			            bad_configs[i].json, e->msg, bad_configs[i].msg);
			return;
		}
	}
}

/* ---- manifests ---- */

TEST(manifest_oci_fixture)
{
	size_t len = 0;
	_cleanup_free_ char *idx = tar_member("layers-oci-archive.tar", "index.json", &len);
	CHECK(idx != NULL);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_manifest_ manifest *ix = NULL;
	CHECK(manifest_parse(idx, len, NULL, &ix, &e) == 0);
	CHECK_INT_EQ(ix->kind, MANIFEST_OCI_INDEX); /* no mediaType field: by shape */
	CHECK(manifest_is_index(ix));
	CHECK_INT_EQ(ix->n_manifests, 1);
	const oci_descriptor *md = &ix->manifests[0];
	CHECK_STR_EQ(md->digest, OCI_MANIFEST);
	CHECK_INT_EQ(md->size, 1176);
	CHECK_STR_EQ(json_get_str(md->annotations, ANNOTATION_REF_NAME), "fixture/layers:1");
	CHECK(md->platform == NULL);
	/* The only entry has no platform: it is the choice, whatever the host. */
	CHECK(manifest_choose_platform(ix, NULL, NULL, NULL, NULL) == md);

	_cleanup_free_ char *blob = tar_member(
	    "layers-oci-archive.tar",
	    "blobs/sha256/874e17c66d5ae0d86f9abb0e19cbe3239b333a94b549b2a9cd894a2c9476ccf0", &len);
	CHECK(blob != NULL);
	CHECK_INT_EQ(len, 1176);
	char d[DIGEST_STR_LEN + 1];
	digest_of(blob, len, d);
	CHECK_STR_EQ(d, OCI_MANIFEST);
	_cleanup_manifest_ manifest *m = NULL;
	CHECK(manifest_parse(blob, len, md->media_type, &m, &e) == 0);
	CHECK_INT_EQ(m->kind, MANIFEST_OCI);
	CHECK_STR_EQ(m->media_type, MT_OCI_MANIFEST);
	CHECK_STR_EQ(m->config.media_type, MT_OCI_CONFIG);
	CHECK_STR_EQ(m->config.digest, OCI_CONFIG);
	CHECK_INT_EQ(m->config.size, 2710);
	static const struct {
		const char *digest;
		int64_t size;
	} layers[] = {
	    {"sha256:6929a45ebe2d55ec19fff2d74c8ba83c3ce77ccc8d42deff921b212c8bee744f", 1088416},
	    {"sha256:93d208d6e75510fdcdf0195602f05d8bd9684839084de4b71f011f671429c71c", 219},
	    {"sha256:172d4244eaa0aea2c000a2c15e4efe91e01941e6c1cc6f101f82000bdfa9fef8", 161},
	    {"sha256:c20e00803a8a1fa38d1efd83c5ed95779a467ae0e000226f0334690e67bf5fba", 181},
	    {"sha256:c15f25aff5d3391c9f397413ed408de3d8abc70cf90b2ccab6f325c6ace3893c", 213},
	    {"sha256:91d16ebeb32d84111f597222ae7f20093db152dc8e416672f8263628c4cdad22", 201},
	};
	CHECK_INT_EQ(m->n_layers, 6);
	for (size_t i = 0; i < 6; i++) {
		CHECK_STR_EQ(m->layers[i].digest, layers[i].digest);
		CHECK_INT_EQ(m->layers[i].size, layers[i].size);
		CHECK_INT_EQ(media_type_layer_compression(m->layers[i].media_type), LAYER_GZIP);
	}
	/* Written again by berth's writer it parses to the same thing. */
	_cleanup_free_ char *again =
	    manifest_write_image(MANIFEST_OCI, &m->config, m->layers, m->n_layers, NULL, d);
	_cleanup_manifest_ manifest *m2 = NULL;
	CHECK(manifest_parse(again, strlen(again), MT_OCI_MANIFEST, &m2, &e) == 0);
	CHECK_INT_EQ(m2->n_layers, 6);
	CHECK_STR_EQ(m2->layers[5].digest, layers[5].digest);
	/* skopeo wrote it compact; the bytes of the JSON value are the same. */
	_cleanup_json_ json_t *a = json_loadb(blob, len, 0, NULL);
	_cleanup_json_ json_t *b = json_loads(again, 0, NULL);
	CHECK(json_equal(a, b));
}

TEST(manifest_docker_writer_like_docker_push)
{
	oci_descriptor cfg = {.media_type = MT_DOCKER_CONFIG, .digest = DA, .size = 1469};
	oci_descriptor layers[] = {
	    {.media_type = MT_DOCKER_LAYER_GZIP, .digest = DB, .size = 2818413},
	    {.media_type = MT_DOCKER_LAYER_GZIP, .digest = DC, .size = 0},
	};
	char d[DIGEST_STR_LEN + 1];
	_cleanup_free_ char *s = manifest_write_image(MANIFEST_DOCKER_V2, &cfg, layers, 2, NULL, d);
	CHECK_STR_EQ(
	    s, "{\n"
	       "   \"schemaVersion\": 2,\n"
	       "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
	       "   \"config\": {\n"
	       "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
	       "      \"size\": 1469,\n"
	       "      \"digest\": \"" DA "\"\n"
	       "   },\n"
	       "   \"layers\": [\n"
	       "      {\n"
	       "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	       "         \"size\": 2818413,\n"
	       "         \"digest\": \"" DB "\"\n"
	       "      },\n"
	       "      {\n"
	       "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
	       "         \"size\": 0,\n"
	       "         \"digest\": \"" DC "\"\n"
	       "      }\n"
	       "   ]\n"
	       "}");
	char want[DIGEST_STR_LEN + 1];
	digest_of(s, strlen(s), want);
	CHECK_STR_EQ(d, want);
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_manifest_ manifest *m = NULL;
	CHECK(manifest_parse(s, strlen(s), MT_DOCKER_MANIFEST, &m, &e) == 0);
	CHECK_INT_EQ(m->kind, MANIFEST_DOCKER_V2);
	CHECK_INT_EQ(m->layers[0].size, 2818413);

	oci_platform amd = {.os = "linux", .architecture = "amd64"};
	oci_platform arm = {.os = "linux", .architecture = "arm", .variant = "v7"};
	oci_descriptor ms[] = {
	    {.media_type = MT_DOCKER_MANIFEST, .digest = DA, .size = 528, .platform = &amd},
	    {.media_type = MT_DOCKER_MANIFEST, .digest = DB, .size = 527, .platform = &arm},
	};
	_cleanup_free_ char *l = manifest_write_index(MANIFEST_DOCKER_LIST, ms, 2, NULL, NULL);
	CHECK(strstr(l, "\"manifests\": [\n      {\n         \"mediaType\": "
	                "\"application/vnd.docker.distribution.manifest.v2+json\",\n"
	                "         \"size\": 528,\n         \"digest\": \"" DA "\",\n"
	                "         \"platform\": {\n            \"architecture\": \"amd64\",\n"
	                "            \"os\": \"linux\"\n         }\n      },") != NULL);
	_cleanup_manifest_ manifest *lm = NULL;
	CHECK(manifest_parse(l, strlen(l), NULL, &lm, &e) == 0);
	CHECK_INT_EQ(lm->kind, MANIFEST_DOCKER_LIST);
	CHECK_STR_EQ(lm->manifests[1].platform->variant, "v7");

	_cleanup_json_ json_t *ann = json_pack("{s:s}", "com.example.key", "v");
	_cleanup_free_ char *oi = manifest_write_index(MANIFEST_OCI_INDEX, ms, 2, ann, NULL);
	_cleanup_manifest_ manifest *om = NULL;
	CHECK(manifest_parse(oi, strlen(oi), MT_OCI_INDEX, &om, &e) == 0);
	CHECK_STR_EQ(json_get_str(om->annotations, "com.example.key"), "v");
	/* OCI's descriptor order: digest before size */
	CHECK(strstr(oi, "\"digest\": \"" DA "\",\n         \"size\": 528") != NULL);
}

/* The examples of the OCI image spec (manifest.md, image-index.md). */
static const char oci_spec_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7\","
    "\"size\":7023},\"layers\":["
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0\","
    "\"size\":32654},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b\","
    "\"size\":16724},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
    "\"digest\":\"sha256:ec4b8955958665577945c89419d1af06b5f7636b4ac3da7f12184802ad867736\","
    "\"size\":73109}],"
    "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"digest\":\"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270\","
    "\"size\":7682},"
    "\"annotations\":{\"com.example.key1\":\"value1\",\"com.example.key2\":\"value2\"}}";

static const char oci_spec_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"size\":7143,"
    "\"digest\":\"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f\","
    "\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":7682,"
    "\"digest\":\"sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270\","
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}],"
    "\"annotations\":{\"com.example.key1\":\"value1\",\"com.example.key2\":\"value2\"}}";

static const char oci_spec_artifact[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"artifactType\":\"application/vnd.example+type\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
    "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
    "\"size\":2,\"data\":\"e30=\"},"
    "\"layers\":[{\"mediaType\":\"application/vnd.example+type\","
    "\"digest\":\"sha256:e258d248fda94c63753607f7c4494ee0fcbe92f1a76bfdac795c9d84101eb317\","
    "\"size\":1234}]}";

TEST(manifest_oci_spec_examples)
{
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_manifest_ manifest *m = NULL;
	CHECK(manifest_parse(oci_spec_manifest, strlen(oci_spec_manifest), NULL, &m, &e) == 0);
	CHECK_INT_EQ(m->kind, MANIFEST_OCI);
	CHECK_INT_EQ(m->n_layers, 3);
	CHECK_INT_EQ(m->layers[2].size, 73109);
	CHECK(m->subject != NULL);
	CHECK_INT_EQ(m->subject->size, 7682);
	CHECK_STR_EQ(json_get_str(m->annotations, "com.example.key2"), "value2");

	_cleanup_manifest_ manifest *ix = NULL;
	CHECK(manifest_parse(oci_spec_index, strlen(oci_spec_index),
	                     "application/vnd.oci.image.index.v1+json; charset=utf-8", &ix,
	                     &e) == 0);
	CHECK_INT_EQ(ix->kind, MANIFEST_OCI_INDEX);
	CHECK_INT_EQ(ix->n_manifests, 2);
	CHECK_STR_EQ(ix->manifests[0].platform->architecture, "ppc64le");
	const oci_descriptor *d = manifest_choose_platform(ix, "linux", "amd64", NULL, &e);
	CHECK(d == &ix->manifests[1]);
	d = manifest_choose_platform(ix, "linux", "ppc64le", NULL, &e);
	CHECK(d == &ix->manifests[0]);

	/* An artifact (non-image config): any layer media type is allowed. */
	_cleanup_manifest_ manifest *art = NULL;
	CHECK(manifest_parse(oci_spec_artifact, strlen(oci_spec_artifact), NULL, &art, &e) == 0);
	CHECK_STR_EQ(art->artifact_type, "application/vnd.example+type");
	CHECK_STR_EQ(art->config.media_type, MT_OCI_EMPTY);
}

TEST(manifest_layer_media_types)
{
	static const struct {
		const char *mt;
		enum layer_compression comp;
		bool foreign;
	} t[] = {
	    {MT_DOCKER_LAYER, LAYER_UNCOMPRESSED, false},
	    {MT_DOCKER_LAYER_GZIP, LAYER_GZIP, false},
	    {MT_DOCKER_LAYER_ZSTD, LAYER_ZSTD, false},
	    {MT_DOCKER_LAYER_FOREIGN, LAYER_UNCOMPRESSED, true},
	    {MT_DOCKER_LAYER_FOREIGN_GZIP, LAYER_GZIP, true},
	    {MT_OCI_LAYER, LAYER_UNCOMPRESSED, false},
	    {MT_OCI_LAYER_GZIP, LAYER_GZIP, false},
	    {MT_OCI_LAYER_ZSTD, LAYER_ZSTD, false},
	    {MT_OCI_LAYER_ND, LAYER_UNCOMPRESSED, true},
	    {MT_OCI_LAYER_ND_GZIP, LAYER_GZIP, true},
	    {MT_OCI_LAYER_ND_ZSTD, LAYER_ZSTD, true},
	    {MT_OCI_CONFIG, LAYER_UNKNOWN, false},
	    {"application/vnd.oci.image.layer.v1.tar+bzip2", LAYER_UNKNOWN, false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		CHECK_INT_EQ(media_type_layer_compression(t[i].mt), t[i].comp);
		CHECK(media_type_is_foreign_layer(t[i].mt) == t[i].foreign);
	}
	CHECK(media_type_is_manifest(MT_DOCKER_MANIFEST) &&
	      media_type_is_manifest(MT_OCI_MANIFEST));
	CHECK(media_type_is_index(MT_DOCKER_MANIFEST_LIST) && media_type_is_index(MT_OCI_INDEX));
	CHECK(media_type_is_config(MT_DOCKER_CONFIG) && media_type_is_config(MT_OCI_CONFIG));
	CHECK(!media_type_is_manifest(MT_OCI_INDEX) && !media_type_is_index(MT_OCI_MANIFEST));
	CHECK(!media_type_is_manifest(MT_DOCKER_MANIFEST_V1) && !media_type_is_config(NULL));

	/* A Windows-style image: foreign layers with URLs, and every other kind. */
	const char *j =
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"size\":10,\"digest\":\"" DA "\"},"
	    "\"layers\":[{\"mediaType\":\"" MT_DOCKER_LAYER_FOREIGN_GZIP "\",\"size\":5,"
	    "\"digest\":\"" DB "\",\"urls\":[\"https://example.com/a\",\"https://example.com/b\"]},"
	    "{\"mediaType\":\"" MT_DOCKER_LAYER_ZSTD "\",\"size\":0,\"digest\":\"" DC "\"},"
	    "{\"mediaType\":\"" MT_OCI_LAYER_ND "\",\"size\":1,\"digest\":\"" DC "\"},"
	    "{\"mediaType\":\"" MT_DOCKER_LAYER
	    "\",\"size\":1,\"digest\":\"" S512("12345678") "\"}]}";
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_manifest_ manifest *m = NULL;
	if (manifest_parse(j, strlen(j), NULL, &m, &e) < 0) {
		test_failed(__FILE__, __LINE__, "%s", e->msg);
		return;
	}
	CHECK_INT_EQ(m->n_layers, 4);
	CHECK_INT_EQ(strv_len(m->layers[0].urls), 2);
	CHECK_STR_EQ(m->layers[0].urls[1], "https://example.com/b");
	CHECK(str_has_prefix(m->layers[3].digest, "sha512:"));
}

static const struct {
	const char *json, *ct, *msg;
	int code;
} bad_manifests[] = {
    {"not json", NULL, "invalid JSON", BERTH_E_INVALID},
    {"[]", NULL, "must be a JSON object", BERTH_E_INVALID},
    {"{}", NULL, "\"schemaVersion\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":\"2\"}", NULL, "\"schemaVersion\" must be an integer", BERTH_E_INVALID},
    {"{\"schemaVersion\":1,\"fsLayers\":[]}", NULL, "schema 1 is not supported",
     BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST_V1_SIGNED "\"}", NULL,
     "schema 1 is not supported", BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":3,\"layers\":[]}", NULL, "unsupported schemaVersion 3",
     BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", NULL,
     "unsupported manifest media type \"text/html\"", BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_CONFIG "\"}", NULL,
     "unsupported manifest media type", BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":2,\"mediaType\":5}", NULL, "\"mediaType\" must be a string",
     BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{},\"layers\":[]}",
     MT_OCI_INDEX, "media type mismatch", BERTH_E_INVALID},
    {"{\"schemaVersion\":2}", NULL, "neither a manifest nor an index", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"layers\":[]}", NULL,
     "\"config\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"config\":{\"mediaType\":"
     "\"" MT_DOCKER_CONFIG "\",\"size\":1,\"digest\":\"" DA "\"}}",
     NULL, "\"layers\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"" DA "\"},\"layers\":{}}",
     NULL, "\"layers\" must be an array", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"sha256:xyz\"},\"layers\":[]}",
     NULL, "config: \"sha256:xyz\" is not a valid digest", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"" DA "\"},\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER "\",\"size\":1,"
     "\"digest\":\"sha256:AAAAAAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
     NULL, "layers[0]: \"sha256:AAAA", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"" DA "\"},\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER "\",\"size\":-1,"
     "\"digest\":\"" DB "\"}]}",
     NULL, "layers[0]: \"size\" must not be negative", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":\"1\","
     "\"digest\":\"" DA "\"},\"layers\":[]}",
     NULL, "config: \"size\" must be an integer", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1.5,"
     "\"digest\":\"" DA "\"},\"layers\":[]}",
     NULL, "config: \"size\" must be an integer", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\","
     "\"digest\":\"" DA "\"},\"layers\":[]}",
     NULL, "config: \"size\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"size\":1,\"digest\":\"" DA "\"},\"layers\":[]}", NULL,
     "config: \"mediaType\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1},"
     "\"layers\":[]}",
     NULL, "config: \"digest\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"" DA "\"},\"layers\":[{\"mediaType\":\"application/x-tar\",\"size\":1,"
     "\"digest\":\"" DB "\"}]}",
     NULL, "unsupported layer media type \"application/x-tar\"", BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"config\":{\"mediaType\":"
     "\"application/x-other\",\"size\":1,\"digest\":\"" DA "\"},\"layers\":[]}",
     NULL, "unsupported config media type", BERTH_E_UNSUPPORTED},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"" DA "\",\"urls\":[1]},\"layers\":[]}",
     NULL, "\"urls\" must be an array of strings", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"size\":1,"
     "\"digest\":\"" DA "\",\"annotations\":{\"a\":1}},\"layers\":[]}",
     NULL, "annotations[\"a\"] must be a string", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"config\":{\"mediaType\":"
     "\"" MT_OCI_CONFIG "\",\"size\":1,\"digest\":\"" DA "\"},\"layers\":[],\"manifests\":[]}",
     NULL, "must not have \"manifests\"", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[],\"layers\":[]}",
     NULL, "an index must not have", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"}", NULL, "\"manifests\" is required",
     BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST_LIST "\",\"manifests\":[{"
     "\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"size\":1,\"digest\":\"" DA "\"}]}",
     NULL, "manifests[0]: \"platform\" is required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"size\":1,"
     "\"digest\":\"" DA "\",\"platform\":{\"architecture\":\"amd64\"}}]}",
     NULL, "manifests[0].platform: \"architecture\" and \"os\" are required", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"size\":1,"
     "\"digest\":\"" DA "\",\"platform\":[]}]}",
     NULL, "manifests[0].platform: must be an object", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"manifests\":[5]}", NULL, "manifests[0]: must be an object",
     BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"manifests\":[],\"annotations\":[]}", NULL,
     "\"annotations\" must be an object", BERTH_E_INVALID},
    {"{\"schemaVersion\":2,\"manifests\":[],\"subject\":{}}", NULL,
     "subject: \"mediaType\" is required", BERTH_E_INVALID},
};

TEST(manifest_invalid_refused)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_manifests); i++) {
		_cleanup_error_ berth_error *e = NULL;
		manifest *m = NULL;
		const char *j = bad_manifests[i].json;
		if (manifest_parse(j, strlen(j), bad_manifests[i].ct, &m, &e) == 0) {
			test_failed(__FILE__, __LINE__, "accepted: %s", j);
			manifest_free(m);
			return;
		}
		CHECK(m == NULL);
		if (strstr(e->msg, bad_manifests[i].msg) == NULL ||
		    !str_has_prefix(e->msg, "invalid manifest: ") ||
		    e->code != bad_manifests[i].code) {
			test_failed(__FILE__, __LINE__, "%s: \"%s\" (code %d) lacks \"%s\"", j,
			            e->msg, e->code, bad_manifests[i].msg);
			return;
		}
	}
}

TEST(manifest_digest_grammar)
{
	CHECK(oci_digest_valid(DA));
	CHECK(oci_digest_valid(S512("12345678")));
	CHECK(!oci_digest_valid("sha512:" H8("12345678")));
	CHECK(oci_digest_valid("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"));
	CHECK(oci_digest_valid("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564"));
	CHECK(oci_digest_valid("md5:d41d8cd98f00b204e9800998ecf8427e"));
	CHECK(!oci_digest_valid("SHA256:" H8("aaaaaaaa")));
	CHECK(!oci_digest_valid("sha256:"));
	CHECK(!oci_digest_valid(":abc"));
	CHECK(!oci_digest_valid("sha256"));
	CHECK(!oci_digest_valid("sha+:abc"));
	CHECK(!oci_digest_valid("+sha:abc"));
	CHECK(!oci_digest_valid("sha256:abc/def"));
	CHECK(!oci_digest_valid(NULL));
}

/* ---- platform choice ---- */

static const char multi_arch[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"size\":1,\"digest\":\"" D(
        "00000000") "\","
                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"variant\":\"v3\"}}"
                    ","
                    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"size\":1,\"digest\":\"" D(
                        "11111111") "\","
                                    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                                    "{\"mediaType\":\"" MT_OCI_MANIFEST
                                    "\",\"size\":1,\"digest\":\"" D(
                                        "22222222") "\","
                                                    "\"platform\":{\"os\":\"linux\","
                                                    "\"architecture\":\"arm64\",\"variant\":\"v8\"}"
                                                    "},"
                                                    "{\"mediaType\":\"" MT_OCI_MANIFEST
                                                    "\",\"size\":1,\"digest\":\"" D(
                                                        "33333333") "\","
                                                                    "\"platform\":{\"os\":"
                                                                    "\"linux\",\"architecture\":"
                                                                    "\"arm\",\"variant\":\"v6\"}},"
                                                                    "{\"mediaType\":"
                                                                    "\"" MT_OCI_MANIFEST
                                                                    "\",\"size\":1,\"digest\":\"" D(
                                                                        "44444444") "\","
                                                                                    "\"platform\":{"
                                                                                    "\"os\":"
                                                                                    "\"linux\","
                                                                                    "\"architecture"
                                                                                    "\":\"arm\","
                                                                                    "\"variant\":"
                                                                                    "\"v7\"}},"
                                                                                    "{\"mediaType\""
                                                                                    ":"
                                                                                    "\"" MT_OCI_MANIFEST
                                                                                    "\",\"size\":1,"
                                                                                    "\"digest\":"
                                                                                    "\"" D(
                                                                                        "5555555"
                                                                                        "5") "\""
                                                                                             ","
                                                                                             "\""
                                                                                             "pl"
                                                                                             "at"
                                                                                             "fo"
                                                                                             "rm"
                                                                                             "\""
                                                                                             ":{"
                                                                                             "\""
                                                                                             "os"
                                                                                             "\""
                                                                                             ":"
                                                                                             "\""
                                                                                             "wi"
                                                                                             "nd"
                                                                                             "ow"
                                                                                             "s"
                                                                                             "\""
                                                                                             ","
                                                                                             "\""
                                                                                             "ar"
                                                                                             "ch"
                                                                                             "it"
                                                                                             "ec"
                                                                                             "tu"
                                                                                             "re"
                                                                                             "\""
                                                                                             ":"
                                                                                             "\""
                                                                                             "am"
                                                                                             "d6"
                                                                                             "4"
                                                                                             "\""
                                                                                             ","
                                                                                             "\""
                                                                                             "os"
                                                                                             ".v"
                                                                                             "er"
                                                                                             "si"
                                                                                             "on"
                                                                                             "\""
                                                                                             ":"
                                                                                             "\""
                                                                                             "10"
                                                                                             ".0"
                                                                                             ".1"
                                                                                             "77"
                                                                                             "63"
                                                                                             ".1"
                                                                                             "04"
                                                                                             "0"
                                                                                             "\""
                                                                                             "}}"
                                                                                             ","
                                                                                             "{"
                                                                                             "\""
                                                                                             "me"
                                                                                             "di"
                                                                                             "aT"
                                                                                             "yp"
                                                                                             "e"
                                                                                             "\""
                                                                                             ":"
                                                                                             "\"" MT_OCI_MANIFEST
                                                                                             "\""
                                                                                             ","
                                                                                             "\""
                                                                                             "si"
                                                                                             "ze"
                                                                                             "\""
                                                                                             ":1"
                                                                                             ","
                                                                                             "\""
                                                                                             "di"
                                                                                             "ge"
                                                                                             "st"
                                                                                             "\""
                                                                                             ":"
                                                                                             "\"" D(
                                                                                                 "6"
                                                                                                 "6"
                                                                                                 "6"
                                                                                                 "6"
                                                                                                 "6"
                                                                                                 "6"
                                                                                                 "6"
                                                                                                 "6") "\","
                                                                                                      "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"},"
                                                                                                      "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
                                                                                                      "{\"mediaType\":\"" MT_OCI_MANIFEST
                                                                                                      "\",\"size\":1,\"digest\":\"" D(
                                                                                                          "77777777") "\","
                                                                                                                      "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}"
                                                                                                                      "]}";

static const char *choose(const manifest *m, const char *os, const char *arch, const char *variant)
{
	const oci_descriptor *d = manifest_choose_platform(m, os, arch, variant, NULL);
	return d ? d->digest : "none";
}

TEST(manifest_choose_platform_rules)
{
	_cleanup_error_ berth_error *e = NULL;
	_cleanup_manifest_ manifest *m = NULL;
	CHECK(manifest_parse(multi_arch, strlen(multi_arch), NULL, &m, &e) == 0);
	CHECK_INT_EQ(m->n_manifests, 8);
	/* amd64 without variant: the plain amd64 entry, not v3; first of equals. */
	CHECK_STR_EQ(choose(m, "linux", "amd64", NULL), D("11111111"));
	CHECK_STR_EQ(choose(m, "linux", "x86_64", NULL), D("11111111"));
	CHECK_STR_EQ(choose(m, "linux", "amd64", "v1"), D("11111111"));
	/* exact variant first, although listed before */
	CHECK_STR_EQ(choose(m, "linux", "amd64", "v3"), D("00000000"));
	/* v2 host: v3 is too new, falls back to no variant */
	CHECK_STR_EQ(choose(m, "linux", "amd64", "v2"), D("11111111"));
	CHECK_STR_EQ(choose(m, "linux", "amd64", "v4"), D("00000000"));
	/* arm64: v8 is the same as no variant */
	CHECK_STR_EQ(choose(m, "linux", "arm64", NULL), D("22222222"));
	CHECK_STR_EQ(choose(m, "linux", "aarch64", "v8"), D("22222222"));
	/* arm: no variant means v7; v7 hosts fall back to v6, v6 hosts don't go up */
	CHECK_STR_EQ(choose(m, "linux", "arm", NULL), D("44444444"));
	CHECK_STR_EQ(choose(m, "linux", "arm", "v7"), D("44444444"));
	CHECK_STR_EQ(choose(m, "linux", "arm", "v8"), D("44444444"));
	CHECK_STR_EQ(choose(m, "linux", "armel", NULL), D("33333333"));
	CHECK_STR_EQ(choose(m, "linux", "arm", "v6"), D("33333333"));
	CHECK_STR_EQ(choose(m, "linux", "arm", "v5"), "none");
	CHECK_STR_EQ(choose(m, "windows", "amd64", NULL), D("55555555"));
	CHECK_STR_EQ(choose(m, "LINUX", "amd64", NULL), D("11111111"));
	/* the host default */
	CHECK_STR_EQ(choose(m, NULL, NULL, NULL),
	             choose(m, platform_host_os(), platform_host_arch(), platform_host_variant()));
#if defined(__x86_64__)
	CHECK_STR_EQ(choose(m, NULL, NULL, NULL), D("11111111"));
#endif
	/* No match: Docker's message, plus what there is. */
	_cleanup_error_ berth_error *e2 = NULL;
	CHECK(manifest_choose_platform(m, "linux", "s390x", NULL, &e2) == NULL);
	CHECK_INT_EQ(e2->code, BERTH_E_NOTFOUND);
	CHECK_STR_EQ(e2->msg, "no matching manifest for linux/s390x in the manifest list entries "
	                      "(available: linux/amd64/v3, linux/amd64, linux/arm64/v8, "
	                      "linux/arm/v6, linux/arm/v7, windows/amd64, unknown/unknown, "
	                      "linux/amd64)");
	/* Not an index. */
	_cleanup_manifest_ manifest *img = NULL;
	CHECK(manifest_parse(oci_spec_manifest, strlen(oci_spec_manifest), NULL, &img, &e) == 0);
	_cleanup_error_ berth_error *e3 = NULL;
	CHECK(manifest_choose_platform(img, NULL, NULL, NULL, &e3) == NULL);
	CHECK(strstr(e3->msg, "is not a manifest list or index") != NULL);
}

TEST(platform_normalisation)
{
	CHECK_STR_EQ(platform_normalize_arch("x86_64"), "amd64");
	CHECK_STR_EQ(platform_normalize_arch("aarch64"), "arm64");
	CHECK_STR_EQ(platform_normalize_arch("i386"), "386");
	CHECK_STR_EQ(platform_normalize_arch("riscv64"), "riscv64");
	CHECK(platform_normalize_variant("arm64", "v8") == NULL);
	CHECK(platform_normalize_variant("amd64", "v1") == NULL);
	CHECK_STR_EQ(platform_normalize_variant("amd64", "v2"), "v2");
	CHECK_STR_EQ(platform_normalize_variant("arm", NULL), "v7");
	CHECK_STR_EQ(platform_normalize_variant("armhf", NULL), "v7");
	CHECK_STR_EQ(platform_normalize_variant("arm", "6"), "v6");
	CHECK_STR_EQ(platform_normalize_os("macos"), "darwin");
	_cleanup_free_ char *s = platform_format("linux", "arm", "v7");
	CHECK_STR_EQ(s, "linux/arm/v7");
	_cleanup_free_ char *s2 = platform_format("linux", "amd64", "");
	CHECK_STR_EQ(s2, "linux/amd64");
	CHECK_INT_EQ(platform_match_rank("linux", "amd64", "v3", "linux", "amd64", NULL), 2);
	CHECK_INT_EQ(platform_match_rank("linux", "amd64", NULL, "linux", "amd64", "v2"), -1);
	CHECK_INT_EQ(platform_match_rank("linux", "arm64", "v8.2", "linux", "arm64", NULL), 1);
	CHECK_INT_EQ(platform_match_rank("linux", "ppc64le", NULL, "linux", "amd64", NULL), -1);
}
