#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "registry/client.h"
#include "registry/creds.h"
#include "registry/proto.h"
#include "registry/server.h"
#include "test.h"

TEST(registry_names_and_tags)
{
	CHECK(reg_name_valid("busybox"));
	CHECK(reg_name_valid("library/busybox"));
	CHECK(reg_name_valid("a.b_c__d---e/f0"));
	CHECK(!reg_name_valid(""));
	CHECK(!reg_name_valid("Upper"));
	CHECK(!reg_name_valid("a//b"));
	CHECK(!reg_name_valid("/a"));
	CHECK(!reg_name_valid("a/"));
	CHECK(!reg_name_valid("a/../b"));
	CHECK(!reg_name_valid("a___b"));
	CHECK(!reg_name_valid("_a"));
	CHECK(!reg_name_valid("a-"));
	CHECK(reg_tag_valid("latest"));
	CHECK(reg_tag_valid("_x.1-2"));
	CHECK(!reg_tag_valid(".x"));
	CHECK(!reg_tag_valid("-x"));
	CHECK(!reg_tag_valid("a:b"));
	char big[130];
	memset(big, 'a', 129);
	big[129] = 0;
	CHECK(!reg_tag_valid(big));
	big[128] = 0;
	CHECK(reg_tag_valid(big));
}

TEST(registry_routes)
{
	reg_route r;
	const char *d = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	CHECK(reg_route_parse("/v2/", &r) == 0 && r.kind == REG_ROUTE_BASE);
	CHECK(reg_route_parse("/v2/_catalog", &r) == 0 && r.kind == REG_ROUTE_CATALOG);
	CHECK(reg_route_parse("/v2/a/b/tags/list", &r) == 0 && r.kind == REG_ROUTE_TAGS);
	CHECK_STR_EQ(r.name, "a/b");
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/a/manifests/latest", &r) == 0);
	CHECK(r.kind == REG_ROUTE_MANIFEST);
	CHECK_STR_EQ(r.ref, "latest");
	reg_route_clear(&r);
	/* a repository may itself be called "blobs" or "manifests" */
	CHECK(reg_route_parse("/v2/blobs/manifests/blobs/tags/list", &r) == 0);
	CHECK(r.kind == REG_ROUTE_TAGS);
	CHECK_STR_EQ(r.name, "blobs/manifests/blobs");
	reg_route_clear(&r);
	_cleanup_free_ char *p = NULL;
	p = strdup(
	    "/v2/x/blobs/sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(reg_route_parse(p, &r) == 0 && r.kind == REG_ROUTE_BLOB);
	CHECK_STR_EQ(r.ref, d);
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/x/blobs/uploads/", &r) == 0 && r.kind == REG_ROUTE_UPLOAD_START);
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/x/blobs/uploads/abc-1", &r) == 0 && r.kind == REG_ROUTE_UPLOAD);
	CHECK_STR_EQ(r.ref, "abc-1");
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/x/blobs/uploads/../../etc", &r) < 0);
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/../blobs/uploads/x", &r) == REG_ROUTE_BAD_NAME);
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/x/blobs/sha256:abc", &r) == REG_ROUTE_BAD_REF);
	CHECK(r.kind == REG_ROUTE_BLOB);
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v2/X/manifests/latest", &r) == REG_ROUTE_BAD_NAME);
	reg_route_clear(&r);
	CHECK(reg_route_parse("/v1/x", &r) == REG_ROUTE_NOTFOUND);
	CHECK(reg_route_parse("/v2/x/other/y", &r) == REG_ROUTE_NOTFOUND);
	CHECK(reg_route_parse("/v2/x/tags/nope", &r) == REG_ROUTE_NOTFOUND);
}

TEST(registry_ranges)
{
	uint64_t a = 0, b = 0;
	CHECK(http_range_parse("bytes=0-9", 100, &a, &b) == 1 && a == 0 && b == 9);
	CHECK(http_range_parse("bytes=90-", 100, &a, &b) == 1 && a == 90 && b == 99);
	CHECK(http_range_parse("bytes=90-500", 100, &a, &b) == 1 && b == 99);
	CHECK(http_range_parse("bytes=-10", 100, &a, &b) == 1 && a == 90 && b == 99);
	CHECK(http_range_parse("bytes=100-", 100, &a, &b) == -1);
	CHECK(http_range_parse("bytes=5-1", 100, &a, &b) == 0);
	CHECK(http_range_parse("bytes=0-1,5-6", 100, &a, &b) == 0);
	CHECK(http_range_parse("items=0-1", 100, &a, &b) == 0);
	CHECK(http_range_parse("bytes=99999999999999999999-", 100, &a, &b) == 0);
	CHECK(reg_content_range_parse("0-99", &a, &b) == 0 && a == 0 && b == 99);
	CHECK(reg_content_range_parse("bytes 10-19/100", &a, &b) == 0 && a == 10 && b == 19);
	CHECK(reg_content_range_parse("10-", &a, &b) < 0);
	CHECK(reg_upload_range_parse("0-99", &a) == 0 && a == 100);
	CHECK(reg_upload_range_parse("0-0", &a) == 0 && a == 0);
	CHECK(reg_upload_range_parse("bytes=0-4", &a) == 0 && a == 5);
	CHECK(reg_upload_range_parse("x", &a) < 0);
	size_t n = 0;
	CHECK(reg_parse_page_n("10", &n) == 0 && n == 10);
	CHECK(reg_parse_page_n("-1", &n) < 0);
	CHECK(reg_parse_page_n("1x", &n) < 0);
}

TEST(registry_challenges)
{
	reg_challenge c;
	CHECK(reg_challenge_parse("Bearer realm=\"https://auth.example/token\","
	                          "service=\"registry.example\",scope=\"repository:a/b:pull,push\"",
	                          &c) == 0);
	CHECK_STR_EQ(c.scheme, "Bearer");
	CHECK_STR_EQ(c.realm, "https://auth.example/token");
	CHECK_STR_EQ(c.service, "registry.example");
	CHECK_STR_EQ(c.scope, "repository:a/b:pull,push");
	reg_challenge_clear(&c);
	CHECK(reg_challenge_parse("Basic realm=\"x \\\"y\\\"\"", &c) == 0);
	CHECK_STR_EQ(c.scheme, "Basic");
	CHECK_STR_EQ(c.realm, "x \"y\"");
	reg_challenge_clear(&c);
	CHECK(reg_challenge_parse("Bearer realm=\"unterminated", &c) < 0);
	char *u = NULL, *p = NULL;
	CHECK(http_basic_auth_parse("Basic YWxpY2U6czNjOnJldA==", &u, &p) == 0);
	CHECK_STR_EQ(u, "alice");
	CHECK_STR_EQ(p, "s3c:ret");
	free(u);
	free(p);
	CHECK(http_basic_auth_parse("Bearer abc", &u, &p) < 0);
	CHECK(http_basic_auth_parse("Basic !!!", &u, &p) < 0);
	_cleanup_free_ char *l = reg_link_next("</v2/_catalog?last=b&n=2>; rel=\"next\"");
	CHECK_STR_EQ(l, "/v2/_catalog?last=b&n=2");
	CHECK(reg_link_next("</x>; rel=\"prev\"") == NULL);
}

TEST(registry_htpasswd)
{
	/* "secret" hashed by `htpasswd -B -C 5` and `htpasswd -s` */
	const char *file = "alice:$2y$05$dLWohVx9TMojfVYZ656Cy..1C0eKCy0G7kaUmHcIT8VLXR6.0hPF2\n"
	                   "bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n";
	CHECK(htpasswd_check(file, "bob", "secret"));
	CHECK(!htpasswd_check(file, "bob", "Secret"));
	CHECK(!htpasswd_check(file, "carol", "secret"));
	CHECK(!htpasswd_check(file, "", "secret"));
	CHECK(htpasswd_check(file, "alice", "secret"));
	CHECK(!htpasswd_check(file, "alice", "wrong"));
}

TEST(registry_creds_and_hosts)
{
	_cleanup_free_ char *a = reg_normalize_registry("https://index.docker.io/v1/");
	CHECK_STR_EQ(a, "docker.io");
	_cleanup_free_ char *b = reg_normalize_registry("http://127.0.0.1:5000/v2/");
	CHECK_STR_EQ(b, "127.0.0.1:5000");
	_cleanup_free_ char *c = reg_normalize_registry("");
	CHECK_STR_EQ(c, "docker.io");
	CHECK_STR_EQ(reg_auth_key("docker.io"), "https://index.docker.io/v1/");
	CHECK_STR_EQ(reg_auth_key("r.example:443"), "r.example:443");
	CHECK(reg_host_insecure(NULL, "127.0.0.1:5000"));
	CHECK(reg_host_insecure(NULL, "localhost"));
	CHECK(reg_host_insecure(NULL, "[::1]:5000"));
	CHECK(!reg_host_insecure(NULL, "registry.example"));
	berth_config cfg = {0};
	char *ins[] = {"10.1.0.0/16", "reg.example:5000", NULL};
	cfg.insecure_registries = ins;
	CHECK(reg_host_insecure(&cfg, "10.1.2.3:5000"));
	CHECK(!reg_host_insecure(&cfg, "10.2.2.3:5000"));
	CHECK(reg_host_insecure(&cfg, "reg.example:5000"));
	CHECK(!reg_host_insecure(&cfg, "reg.example"));
}
