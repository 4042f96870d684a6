/* Image references: Docker's rules (distribution/reference + normalize). */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "image/ref.h"
#include "test.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX128 HEX64 HEX64

static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* Normalisation table: input -> full string, familiar string, repo, familiar repo. */
static const struct {
	const char *in, *full, *familiar, *repo, *frepo;
} norm_cases[] = {
    {"busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io/library/busybox",
     "busybox"},
    {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io/library/busybox",
     "busybox"},
    {"library/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox"},
    {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox"},
    {"docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox"},
    {"index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest",
     "docker.io/library/busybox", "busybox"},
    {"index.docker.io/user/x:1", "docker.io/user/x:1", "user/x:1", "docker.io/user/x", "user/x"},
    {"user/repo", "docker.io/user/repo:latest", "user/repo:latest", "docker.io/user/repo",
     "user/repo"},
    {"user/x:1", "docker.io/user/x:1", "user/x:1", "docker.io/user/x", "user/x"},
    {"foo/bar/baz", "docker.io/foo/bar/baz:latest", "foo/bar/baz:latest", "docker.io/foo/bar/baz",
     "foo/bar/baz"},
    {"docker.io/library/foo/bar", "docker.io/library/foo/bar:latest", "library/foo/bar:latest",
     "docker.io/library/foo/bar", "library/foo/bar"},
    /* a first path component that looks like a domain keeps docker.io/ */
    {"docker.io/foo.com/bar", "docker.io/foo.com/bar:latest", "docker.io/foo.com/bar:latest",
     "docker.io/foo.com/bar", "docker.io/foo.com/bar"},
    {"docker.io/localhost/x", "docker.io/localhost/x:latest", "docker.io/localhost/x:latest",
     "docker.io/localhost/x", "docker.io/localhost/x"},
    {"docker.io/library/a.b", "docker.io/library/a.b:latest", "a.b:latest", "docker.io/library/a.b",
     "a.b"},
    {"localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost/x", "localhost/x"},
    {"localhost:5000/a:b", "localhost:5000/a:b", "localhost:5000/a:b", "localhost:5000/a",
     "localhost:5000/a"},
    {"localhost:5000/a/b/c", "localhost:5000/a/b/c:latest", "localhost:5000/a/b/c:latest",
     "localhost:5000/a/b/c", "localhost:5000/a/b/c"},
    /* no '/', so "localhost" is the repository and 5000 the tag */
    {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000",
     "docker.io/library/localhost", "localhost"},
    {"127.0.0.1:5000/myimage", "127.0.0.1:5000/myimage:latest", "127.0.0.1:5000/myimage:latest",
     "127.0.0.1:5000/myimage", "127.0.0.1:5000/myimage"},
    {"[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo:latest", "[2001:db8::1]:5000/repo:latest",
     "[2001:db8::1]:5000/repo", "[2001:db8::1]:5000/repo"},
    {"[::1]/repo:t", "[::1]/repo:t", "[::1]/repo:t", "[::1]/repo", "[::1]/repo"},
    {"Example.COM/foo", "Example.COM/foo:latest", "Example.COM/foo:latest", "Example.COM/foo",
     "Example.COM/foo"},
    {"xn--n3h.com/myimage", "xn--n3h.com/myimage:latest", "xn--n3h.com/myimage:latest",
     "xn--n3h.com/myimage", "xn--n3h.com/myimage"},
    {"registry.example.com:443/team/app:v1.2.3-rc_1",
     "registry.example.com:443/team/app:v1.2.3-rc_1",
     "registry.example.com:443/team/app:v1.2.3-rc_1", "registry.example.com:443/team/app",
     "registry.example.com:443/team/app"},
    {"busybox@sha256:" HEX64, "docker.io/library/busybox@sha256:" HEX64, "busybox@sha256:" HEX64,
     "docker.io/library/busybox", "busybox"},
    {"busybox:1@sha256:" HEX64, "docker.io/library/busybox:1@sha256:" HEX64,
     "busybox:1@sha256:" HEX64, "docker.io/library/busybox", "busybox"},
    {"localhost:5000/a:b@sha256:" HEX64, "localhost:5000/a:b@sha256:" HEX64,
     "localhost:5000/a:b@sha256:" HEX64, "localhost:5000/a", "localhost:5000/a"},
    {"a__b", "docker.io/library/a__b:latest", "a__b:latest", "docker.io/library/a__b", "a__b"},
    {"ab_c-d---e/f.g__h", "docker.io/ab_c-d---e/f.g__h:latest", "ab_c-d---e/f.g__h:latest",
     "docker.io/ab_c-d---e/f.g__h", "ab_c-d---e/f.g__h"},
    {"x:_Tag", "docker.io/library/x:_Tag", "x:_Tag", "docker.io/library/x", "x"},
    {"x:" HEX64, "docker.io/library/x:" HEX64, "x:" HEX64, "docker.io/library/x", "x"},
    {"localhost/" HEX64, "localhost/" HEX64 ":latest", "localhost/" HEX64 ":latest",
     "localhost/" HEX64, "localhost/" HEX64},
};

TEST(ref_normalisation_table)
{
	for (size_t i = 0; i < ARRAY_SIZE(norm_cases); i++) {
		_cleanup_error_ berth_error *e = NULL;
		_cleanup_ref_ image_ref *r = NULL;
		if (ref_parse_normalized(norm_cases[i].in, &r, &e) < 0) {
			test_failed(__FILE__, __LINE__, "%s: %s", norm_cases[i].in, e->msg);
			return;
		}
		_cleanup_free_ char *full = ref_string(r);
		_cleanup_free_ char *fam = ref_familiar(r);
		_cleanup_free_ char *repo = ref_repo(r);
		_cleanup_free_ char *frepo = ref_familiar_repo(r);
		CHECK_STR_EQ(full, norm_cases[i].full);
		CHECK_STR_EQ(fam, norm_cases[i].familiar);
		CHECK_STR_EQ(repo, norm_cases[i].repo);
		CHECK_STR_EQ(frepo, norm_cases[i].frepo);
		/* Normalising the output again is stable. */
		_cleanup_ref_ image_ref *again = NULL;
		CHECK(ref_parse_normalized(full, &again, NULL) == 0);
		_cleanup_free_ char *full2 = ref_string(again);
		CHECK_STR_EQ(full2, full);
		_cleanup_ref_ image_ref *fromfam = NULL;
		CHECK(ref_parse_normalized(fam, &fromfam, NULL) == 0);
		_cleanup_free_ char *full3 = ref_string(fromfam);
		CHECK_STR_EQ(full3, full);
	}
}

TEST(ref_fields_normalized)
{
	_cleanup_ref_ image_ref *r = NULL;
	CHECK(ref_parse_normalized("busybox", &r, NULL) == 0);
	CHECK_STR_EQ(r->domain, "docker.io");
	CHECK_STR_EQ(r->path, "library/busybox");
	CHECK_STR_EQ(r->tag, "latest");
	CHECK(r->digest == NULL);

	_cleanup_ref_ image_ref *d = NULL;
	CHECK(ref_parse_normalized("localhost:5000/x/y@sha256:" HEX64, &d, NULL) == 0);
	CHECK_STR_EQ(d->domain, "localhost:5000");
	CHECK_STR_EQ(d->path, "x/y");
	CHECK(d->tag == NULL); /* digest-only: no default tag */
	CHECK_STR_EQ(d->digest, "sha256:" HEX64);

	_cleanup_ref_ image_ref *c = ref_dup(d);
	CHECK(c != d && c->path != d->path);
	CHECK_STR_EQ(c->digest, d->digest);
}

TEST(ref_parse_raw_has_no_defaults)
{
	_cleanup_ref_ image_ref *a = NULL;
	CHECK(ref_parse("busybox", &a, NULL) == 0);
	CHECK(a->domain == NULL);
	CHECK_STR_EQ(a->path, "busybox");
	CHECK(a->tag == NULL && a->digest == NULL);
	_cleanup_free_ char *s = ref_string(a);
	CHECK_STR_EQ(s, "busybox");

	_cleanup_ref_ image_ref *b = NULL;
	CHECK(ref_parse("user/repo:t", &b, NULL) == 0);
	CHECK(b->domain == NULL);
	CHECK_STR_EQ(b->path, "user/repo");
	CHECK_STR_EQ(b->tag, "t");

	_cleanup_ref_ image_ref *c = NULL;
	CHECK(ref_parse("index.docker.io/foo", &c, NULL) == 0);
	CHECK_STR_EQ(c->domain, "index.docker.io");
	CHECK_STR_EQ(c->path, "foo");

	_cleanup_ref_ image_ref *d = NULL;
	CHECK(ref_parse("localhost/x", &d, NULL) == 0);
	CHECK_STR_EQ(d->domain, "localhost");
	CHECK_STR_EQ(d->path, "x");

	/* "localhostx" is not the special name: a path component. */
	_cleanup_ref_ image_ref *e = NULL;
	CHECK(ref_parse("localhostx/x", &e, NULL) == 0);
	CHECK(e->domain == NULL);
	CHECK_STR_EQ(e->path, "localhostx/x");
}

/* Inputs Docker refuses, with a fragment of the expected message. */
static const struct {
	const char *in, *msg;
} bad_cases[] = {
    {"", "at least one component"},
    {"Busybox", "repository name must be lowercase"},
    {"FOO", "repository name must be lowercase"},
    {"Foo/bar", "repository name must be lowercase"},
    {"foo/Bar:tag", "repository name must be lowercase"},
    {"localhost:5000/Foo", "repository name must be lowercase"},
    {"a..b", "must match [a-z0-9]+"},
    {"a___b", "must match [a-z0-9]+"},
    {"a-", "must match [a-z0-9]+"},
    {"-a", "must match [a-z0-9]+"},
    {"a_", "must match [a-z0-9]+"},
    {".a", "must match [a-z0-9]+"},
    {"a._b", "must match [a-z0-9]+"},
    {"a-.b", "must match [a-z0-9]+"},
    {"a b", "must match [a-z0-9]+"},
    {"a/b+c", "must match [a-z0-9]+"},
    {"foo//bar", "empty path component"},
    {"foo/", "empty path component"},
    {"/foo", "empty path component"},
    {"busybox:", "empty tag"},
    {":tag", "at least one component"},
    {"busybox:-x", "tag \"-x\" must match"},
    {"busybox:.x", "tag \".x\" must match"},
    {"busybox:a+b", "must match"},
    {"busybox@", "empty digest"},
    {"@sha256:" HEX64, "at least one component"},
    {"busybox@sha256:abc", "at least 32 hexadecimal"},
    {"busybox@sha256:" HEX64 "0", "sha256 needs 64"},
    {"busybox@sha256:"
     "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
     "lowercase"},
    {"busybox@sha256:"
     "x123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     "hexadecimal"},
    {"busybox@sha512:" HEX64, "sha512 needs 128"},
    {"busybox@" HEX64, "ALGORITHM:HEX"},
    {"busybox@1sha:" HEX64, "algorithm must match"},
    {"busybox@sha256:" HEX64 "@sha256:" HEX64, "hexadecimal"},
    {HEX64, "cannot specify 64-byte hexadecimal strings"},
    {"example.com:port/x", "invalid domain"},
    {"example.com:/x", "invalid domain"},
    {"-example.com/x", "invalid domain"},
    {"example-.com/x", "invalid domain"},
    {"exa_mple.com/x", "invalid domain"},
    {"a.b_c/x", "invalid domain"},
    {"example..com/x", "invalid domain"},
    {"[fe80::1%eth0]/x", "invalid domain"},
    {"[]:5000/x", "invalid domain"},
    {"[::1/x", "invalid domain"},
    {"[::1]5000/x", "invalid domain"},
    {"foo:tag/bar", "invalid domain"},
};

TEST(ref_invalid_refused_with_rule)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		for (int norm = 0; norm < 2; norm++) {
			_cleanup_error_ berth_error *e = NULL;
			image_ref *r = NULL;
			int rc = norm ? ref_parse_normalized(bad_cases[i].in, &r, &e)
			              : ref_parse(bad_cases[i].in, &r, &e);
			if (rc >= 0) {
				test_failed(__FILE__, __LINE__, "\"%s\" accepted", bad_cases[i].in);
				ref_free(r);
				return;
			}
			CHECK(r == NULL);
			CHECK(e != NULL);
			CHECK_INT_EQ(e->code, BERTH_E_INVALID);
			if (strstr(e->msg, bad_cases[i].msg) == NULL) {
				test_failed(__FILE__, __LINE__,
				            "\"%s\": message \"%s\" lacks \"%s\"", bad_cases[i].in,
				            e->msg, bad_cases[i].msg);
				return;
			}
		}
	}
}

TEST(ref_error_messages_like_docker)
{
	_cleanup_error_ berth_error *e = NULL;
	image_ref *r = NULL;
	CHECK(ref_parse_normalized("Busybox", &r, &e) < 0);
	CHECK_STR_EQ(e->msg, "invalid reference format: repository name must be lowercase");
	_cleanup_error_ berth_error *e2 = NULL;
	CHECK(ref_parse_normalized(HEX64, &r, &e2) < 0);
	CHECK_STR_EQ(e2->msg, "invalid repository name (" HEX64
	                      "), cannot specify 64-byte hexadecimal strings");
	_cleanup_error_ berth_error *e3 = NULL;
	CHECK(ref_parse_normalized("a..b", &r, &e3) < 0);
	CHECK(strncmp(e3->msg, "invalid reference format", 24) == 0);
}

TEST(ref_tag_length_limit)
{
	_cleanup_free_ char *t128 = repeat('t', 128);
	_cleanup_free_ char *ok = xasprintf("busybox:%s", t128);
	_cleanup_ref_ image_ref *r = NULL;
	CHECK(ref_parse_normalized(ok, &r, NULL) == 0);
	CHECK_STR_EQ(r->tag, t128);
	_cleanup_free_ char *bad = xasprintf("busybox:%st", t128);
	_cleanup_error_ berth_error *e = NULL;
	image_ref *r2 = NULL;
	CHECK(ref_parse_normalized(bad, &r2, &e) < 0);
	CHECK(strstr(e->msg, "tag must not be more than 128 characters") != NULL);
	CHECK(ref_tag_valid(t128));
	CHECK(!ref_tag_valid(bad + 8));
	CHECK(!ref_tag_valid(""));
}

TEST(ref_name_length_limit)
{
	/* The limit applies to the full name: docker.io/library/ is 18 chars. */
	_cleanup_free_ char *p237 = repeat('a', 237);
	_cleanup_free_ char *p238 = repeat('a', 238);
	_cleanup_ref_ image_ref *r = NULL;
	CHECK(ref_parse_normalized(p237, &r, NULL) == 0);
	_cleanup_free_ char *repo = ref_repo(r);
	CHECK_INT_EQ(strlen(repo), 255);
	_cleanup_error_ berth_error *e = NULL;
	image_ref *r2 = NULL;
	CHECK(ref_parse_normalized(p238, &r2, &e) < 0);
	CHECK(strstr(e->msg, "must not be more than 255 characters") != NULL);
	/* Without normalisation the name as written counts. */
	_cleanup_ref_ image_ref *r3 = NULL;
	CHECK(ref_parse(p238, &r3, NULL) == 0);
	_cleanup_free_ char *p255 = repeat('a', 255);
	_cleanup_free_ char *p256 = repeat('a', 256);
	_cleanup_ref_ image_ref *r4 = NULL;
	CHECK(ref_parse(p255, &r4, NULL) == 0);
	image_ref *r5 = NULL;
	CHECK(ref_parse(p256, &r5, NULL) < 0);
	/* The tag does not count toward the name. */
	_cleanup_free_ char *withtag = xasprintf("%s:%s", p237, "latest");
	_cleanup_ref_ image_ref *r6 = NULL;
	CHECK(ref_parse_normalized(withtag, &r6, NULL) == 0);
}

TEST(ref_digest_rules)
{
	CHECK(ref_digest_valid("sha256:" HEX64));
	CHECK(ref_digest_valid("sha512:" HEX128));
	CHECK(!ref_digest_valid("sha512:" HEX64));
	CHECK(!ref_digest_valid("sha256:" HEX128));
	/* Other algorithms: only the grammar applies. */
	CHECK(ref_digest_valid("multihash+base58:0123456789abcdef0123456789ABCDEF"));
	CHECK(ref_digest_valid("md5:0123456789abcdef0123456789abcdef"));
	CHECK(!ref_digest_valid("md5:0123456789abcdef"));
	CHECK(!ref_digest_valid("sha256+:" HEX64));
	CHECK(!ref_digest_valid(":" HEX64));
	CHECK(!ref_digest_valid("sha256"));
	_cleanup_ref_ image_ref *r = NULL;
	CHECK(ref_parse_normalized("x@sha512:" HEX128, &r, NULL) == 0);
	CHECK_STR_EQ(r->digest, "sha512:" HEX128);
	CHECK(r->tag == NULL);
}

TEST(ref_path_and_domain_validators)
{
	CHECK(ref_path_valid("library/busybox"));
	CHECK(ref_path_valid("a/b/c/d"));
	CHECK(ref_path_valid("a__b"));
	CHECK(ref_path_valid("a--b"));
	CHECK(!ref_path_valid("a___b"));
	CHECK(!ref_path_valid("a/"));
	CHECK(!ref_path_valid("A"));
	CHECK(!ref_path_valid(""));
	CHECK(ref_domain_valid("localhost"));
	CHECK(ref_domain_valid("localhost:5000"));
	CHECK(ref_domain_valid("[::1]:5000"));
	CHECK(ref_domain_valid("My-Registry.Example.com"));
	CHECK(!ref_domain_valid("a_b.com"));
	CHECK(!ref_domain_valid("host:"));
	CHECK(!ref_domain_valid(""));
}
