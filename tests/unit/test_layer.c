/* Layer apply and diff (src/image/layer_*.c, tar.c, compress.c). Needs root
 * (chown, mknod, trusted.* xattrs). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "base/cleanup.h"
#include "base/digest.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "image/layer.h"
#include "image/tar.h"
#include "test.h"

#define T_MTIME 1700000000

/* Append one entry (header, data, padding) to a tar being built. */
static void add_entry(strbuf *sb, const char *name, char type, uint32_t mode, const char *data)
{
	tar_entry e = {
	    .path = (char *)name,
	    .linkname = "",
	    .type = type,
	    .mode = mode,
	    .mtime = T_MTIME,
	};
	if (type == TAR_REG && data)
		e.size = strlen(data);
	if ((type == TAR_LINK || type == TAR_SYMLINK) && data)
		e.linkname = (char *)data;
	tar_write_header(sb, &e);
	if (type == TAR_REG && data) {
		static const char zero[TAR_BLOCK];
		sb_append(sb, data);
		sb_appendn(sb, zero, tar_padding(e.size));
	}
}

static void add_full(strbuf *sb, const tar_entry *e, const char *data)
{
	tar_write_header(sb, e);
	if (data) {
		static const char zero[TAR_BLOCK];
		sb_appendn(sb, data, e->size);
		sb_appendn(sb, zero, tar_padding(e->size));
	}
}

/* A GNU long-name ('L') entry header for the next entry. */
static void add_gnu_longname(strbuf *sb, const char *name)
{
	unsigned char b[TAR_BLOCK] = {0};
	size_t n = strlen(name) + 1;
	memcpy(b, "././@LongLink", 13);
	snprintf((char *)b + 100, 8, "%07o", 0);
	snprintf((char *)b + 108, 8, "%07o", 0);
	snprintf((char *)b + 116, 8, "%07o", 0);
	snprintf((char *)b + 124, 12, "%011o", (unsigned)n);
	snprintf((char *)b + 136, 12, "%011o", 0);
	b[156] = 'L';
	memcpy(b + 257, "ustar  ", 8);
	memset(b + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
	b[155] = ' ';
	sb_appendn(sb, (const char *)b, TAR_BLOCK);
	static const char zero[TAR_BLOCK];
	sb_appendn(sb, name, n);
	sb_appendn(sb, zero, tar_padding(n));
}

static int mem_fd(const void *data, size_t len)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	return fd;
}

static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", test_tmpdir(), name);
}

/* Apply a tar held in memory into a new directory tmp/<name>. */
static int apply_buf(const void *data, size_t len, const char *name, layer_apply_result *res,
                     berth_error **err)
{
	_cleanup_close_ int fd = mem_fd(data, len);
	_cleanup_free_ char *dir = tmp_path(name);
	return layer_apply_path(fd, dir, NULL, res, err);
}

static int diff_to_buf(const char *name, bool whiteouts, strbuf *out, char diff_id[],
                       uint64_t *size, berth_error **err)
{
	_cleanup_free_ char *dir = tmp_path(name);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ofd = memfd_create("diff", MFD_CLOEXEC);
	if (dfd < 0 || ofd < 0)
		abort();
	layer_diff_opts opts = {.overlay_whiteouts = whiteouts};
	if (layer_diff(dfd, ofd, &opts, diff_id, size, err) < 0)
		return -1;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d", ofd);
	if (read_file(p, &data, &len, err) < 0)
		return -1;
	sb_init(out);
	sb_appendn(out, data, len);
	return 0;
}

static int lst(const char *dir, const char *rel, struct stat *st)
{
	_cleanup_free_ char *p = xasprintf("%s/%s/%s", test_tmpdir(), dir, rel);
	return lstat(p, st);
}

static char *slurp(const char *dir, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s/%s", test_tmpdir(), dir, rel);
	char *data = NULL;
	berth_error *e = NULL;
	if (read_file(p, &data, NULL, &e) < 0) {
		berth_error_free(e);
		return NULL;
	}
	return data;
}

TEST(layer_apply_kinds_and_metadata)
{
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	tar_entry d = {.path = "dir/",
	               .linkname = "",
	               .type = TAR_DIR,
	               .mode = 0750,
	               .uid = 1000,
	               .gid = 1001,
	               .mtime = 1600000000};
	add_full(&t, &d, NULL);
	tar_entry f = {.path = "dir/suid",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 04755,
	               .uid = 0,
	               .gid = 0,
	               .size = 5,
	               .mtime = 1500000000};
	add_full(&t, &f, "hello");
	tar_entry g = {.path = "dir/sgid-sticky",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 03711,
	               .uid = 1000,
	               .gid = 50,
	               .mtime = 1500000001};
	add_full(&t, &g, NULL);
	tar_entry o = {.path = "./owned",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 02644,
	               .uid = 1234,
	               .gid = 5678,
	               .size = 2,
	               .mtime = T_MTIME};
	add_full(&t, &o, "ab");
	add_entry(&t, "dir/abs-link", TAR_SYMLINK, 0777, "/etc/passwd");
	add_entry(&t, "dir/rel-link", TAR_SYMLINK, 0777, "../../../../outside");
	add_entry(&t, "hard", TAR_LINK, 0644, "./owned");
	tar_entry c = {.path = "null",
	               .linkname = "",
	               .type = TAR_CHR,
	               .mode = 0666,
	               .devmajor = 1,
	               .devminor = 3,
	               .mtime = T_MTIME};
	add_full(&t, &c, NULL);
	tar_entry b = {.path = "blk",
	               .linkname = "",
	               .type = TAR_BLK,
	               .mode = 0600,
	               .devmajor = 7,
	               .devminor = 200,
	               .mtime = T_MTIME};
	add_full(&t, &b, NULL);
	add_entry(&t, "fifo", TAR_FIFO, 0620, NULL);
	tar_write_end(&t);

	layer_apply_result res;
	berth_error *err = NULL;
	int r = apply_buf(t.buf, t.len, "l", &res, &err);
	if (r < 0)
		fprintf(stderr, "%s\n", err->msg);
	CHECK(r == 0);
	char want[DIGEST_STR_LEN + 1];
	sha256_digest(t.buf, t.len, want);
	CHECK_STR_EQ(res.diff_id, want);
	CHECK_STR_EQ(res.digest, want);
	CHECK_INT_EQ(res.size, 7);

	struct stat st;
	CHECK(lst("l", "dir", &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT_EQ(st.st_mode & 07777, 0750);
	CHECK_INT_EQ(st.st_uid, 1000);
	CHECK_INT_EQ(st.st_gid, 1001);
	CHECK_INT_EQ(st.st_mtim.tv_sec, 1600000000); /* set after its contents */
	CHECK(lst("l", "dir/suid", &st) == 0);
	CHECK_INT_EQ(st.st_mode & 07777, 04755);
	CHECK_INT_EQ(st.st_mtim.tv_sec, 1500000000);
	_cleanup_free_ char *hello = slurp("l", "dir/suid");
	CHECK_STR_EQ(hello, "hello");
	CHECK(lst("l", "dir/sgid-sticky", &st) == 0);
	CHECK_INT_EQ(st.st_mode & 07777, 03711);
	CHECK_INT_EQ(st.st_uid, 1000);
	CHECK_INT_EQ(st.st_gid, 50);
	CHECK_INT_EQ(st.st_size, 0);
	CHECK(lst("l", "owned", &st) == 0);
	CHECK_INT_EQ(st.st_mode & 07777, 02644);
	CHECK_INT_EQ(st.st_uid, 1234);
	CHECK_INT_EQ(st.st_gid, 5678);
	CHECK_INT_EQ(st.st_nlink, 2);
	ino_t ino = st.st_ino;
	CHECK(lst("l", "hard", &st) == 0);
	CHECK_INT_EQ(st.st_ino, ino);

	char target[64] = {0};
	_cleanup_free_ char *lp = tmp_path("l/dir/abs-link");
	CHECK(readlink(lp, target, sizeof(target) - 1) == 11);
	CHECK_STR_EQ(target, "/etc/passwd");
	CHECK(lst("l", "dir/rel-link", &st) == 0);
	CHECK(S_ISLNK(st.st_mode));
	CHECK(lst("l", "null", &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_INT_EQ(st.st_rdev, makedev(1, 3));
	CHECK_INT_EQ(st.st_mode & 07777, 0666);
	CHECK(lst("l", "blk", &st) == 0);
	CHECK(S_ISBLK(st.st_mode));
	CHECK_INT_EQ(st.st_rdev, makedev(7, 200));
	CHECK(lst("l", "fifo", &st) == 0);
	CHECK(S_ISFIFO(st.st_mode));
	CHECK_INT_EQ(st.st_mode & 07777, 0620);
}

TEST(layer_apply_whiteouts_and_opaque)
{
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "data/", TAR_DIR, 0755, NULL);
	add_entry(&t, "data/.wh..wh..opq", TAR_REG, 0755, NULL);
	add_entry(&t, "data/.wh.gone", TAR_REG, 0600, NULL);
	add_entry(&t, "data/keep", TAR_REG, 0644, "k");
	add_entry(&t, ".wh.top", TAR_REG, 0600, NULL);
	/* a whiteout for a directory without its own entry creates it */
	add_entry(&t, "implied/sub/.wh.x", TAR_REG, 0600, NULL);
	add_entry(&t, "data/.wh..wh.plnk", TAR_REG, 0600, NULL);
	tar_write_end(&t);
	berth_error *err = NULL;
	CHECK(apply_buf(t.buf, t.len, "l", NULL, &err) == 0);

	struct stat st;
	CHECK(lst("l", "data/gone", &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK_INT_EQ(st.st_rdev, makedev(0, 0));
	CHECK(lst("l", "top", &st) == 0);
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	CHECK(lst("l", "implied/sub/x", &st) == 0);
	CHECK(S_ISCHR(st.st_mode));
	CHECK(lst("l", "implied", &st) == 0);
	CHECK_INT_EQ(st.st_mode & 07777, 0755);
	CHECK(lst("l", "data/.wh..wh..opq", &st) < 0);
	CHECK(lst("l", "data/.wh.gone", &st) < 0);
	CHECK(lst("l", "data/.wh..wh.plnk", &st) < 0);
	_cleanup_free_ char *d = tmp_path("l/data");
	char v[8] = {0};
	CHECK(getxattr(d, "trusted.overlay.opaque", v, sizeof(v)) == 1);
	CHECK(v[0] == 'y');
	_cleanup_free_ char *root = tmp_path("l");
	CHECK(getxattr(root, "trusted.overlay.opaque", v, sizeof(v)) < 0);
}

TEST(layer_apply_pax_xattrs_and_long_names)
{
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	/* v2 capability: cap_net_bind_service (bit 10) permitted+effective */
	unsigned char capv[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04};
	tar_xattr xs[2] = {
	    {.name = "security.capability", .value = capv, .len = 20},
	    {.name = "user.berth", .value = (unsigned char *)"v\0w", .len = 3},
	};
	tar_entry f = {.path = "bin/ping",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0755,
	               .uid = 1000,
	               .mtime = T_MTIME,
	               .size = 1,
	               .xattrs = xs,
	               .nxattrs = 2};
	add_full(&t, &f, "x");
	/* trusted.overlay.* from a header is never written */
	tar_xattr bad = {
	    .name = "trusted.overlay.redirect", .value = (unsigned char *)"/etc", .len = 4};
	tar_entry f2 = {.path = "bin/redir",
	                .linkname = "",
	                .type = TAR_REG,
	                .mode = 0644,
	                .xattrs = &bad,
	                .nxattrs = 1};
	add_full(&t, &f2, NULL);
	/* 300-byte name: PAX path */
	char longname[400];
	memset(longname, 'a', 300);
	memcpy(longname, "long/", 5);
	longname[150] = '/';
	longname[300] = 0;
	add_entry(&t, longname, TAR_REG, 0644, "p");
	/* GNU long name */
	char gname[400];
	memset(gname, 'g', 250);
	memcpy(gname, "gnu/", 4);
	gname[250] = 0;
	add_gnu_longname(&t, gname);
	add_entry(&t, "ignored-short-name", TAR_REG, 0644, "q");
	/* long ASCII name that fits prefix/name */
	const char *split =
	    "s/0123456789012345678901234567890123456789012345678901234567890123456789/"
	    "0123456789012345678901234567890123456789012345678901234567890123456789";
	add_entry(&t, split, TAR_REG, 0644, "s");
	tar_write_end(&t);

	berth_error *err = NULL;
	int r = apply_buf(t.buf, t.len, "l", NULL, &err);
	if (r < 0)
		fprintf(stderr, "%s\n", err->msg);
	CHECK(r == 0);
	_cleanup_free_ char *p = tmp_path("l/bin/ping");
	unsigned char got[64];
	CHECK(getxattr(p, "security.capability", got, sizeof(got)) == 20);
	CHECK(!memcmp(got, capv, 20));
	CHECK(getxattr(p, "user.berth", got, sizeof(got)) == 3);
	CHECK(!memcmp(got, "v\0w", 3));
	struct stat st;
	CHECK(lst("l", "bin/ping", &st) == 0);
	CHECK_INT_EQ(st.st_uid, 1000); /* chown first: it would clear the capability */
	_cleanup_free_ char *p2 = tmp_path("l/bin/redir");
	CHECK(getxattr(p2, "trusted.overlay.redirect", got, sizeof(got)) < 0);
	_cleanup_free_ char *lc = slurp("l", longname);
	CHECK_STR_EQ(lc, "p");
	_cleanup_free_ char *gc = slurp("l", gname);
	CHECK_STR_EQ(gc, "q");
	CHECK(lst("l", "ignored-short-name", &st) < 0);
	_cleanup_free_ char *sc = slurp("l", split);
	CHECK_STR_EQ(sc, "s");
}

TEST(layer_apply_replaces_entries)
{
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "x", TAR_REG, 0644, "old");
	add_entry(&t, "x", TAR_REG, 0600, "new");
	add_entry(&t, "d/", TAR_DIR, 0755, NULL);
	add_entry(&t, "d/f", TAR_REG, 0644, "f");
	add_entry(&t, "d", TAR_REG, 0644, "file now");
	add_entry(&t, "e", TAR_REG, 0644, "file");
	add_entry(&t, "e/", TAR_DIR, 0700, NULL);
	add_entry(&t, "e/g", TAR_REG, 0644, "g");
	add_entry(&t, "e/", TAR_DIR, 0711, NULL);
	tar_write_end(&t);
	berth_error *err = NULL;
	CHECK(apply_buf(t.buf, t.len, "l", NULL, &err) == 0);
	_cleanup_free_ char *x = slurp("l", "x");
	CHECK_STR_EQ(x, "new");
	_cleanup_free_ char *d = slurp("l", "d");
	CHECK_STR_EQ(d, "file now");
	struct stat st;
	CHECK(lst("l", "e", &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT_EQ(st.st_mode & 07777, 0711);
	_cleanup_free_ char *g = slurp("l", "e/g");
	CHECK_STR_EQ(g, "g");
}

static void check_refused(const char *what, strbuf *t, const char *needle)
{
	berth_error *err = NULL;
	_cleanup_free_ char *dir = tmp_path("hostile");
	_cleanup_close_ int fd = mem_fd(t->buf, t->len);
	int r = layer_apply_path(fd, dir, NULL, NULL, &err);
	if (r == 0) {
		test_failed(__FILE__, __LINE__, "%s: accepted", what);
		return;
	}
	if (strstr(err->msg, needle) == NULL)
		test_failed(__FILE__, __LINE__, "%s: error \"%s\" lacks \"%s\"", what, err->msg,
		            needle);
	struct stat st;
	if (lstat(dir, &st) == 0)
		test_failed(__FILE__, __LINE__, "%s: partial layer left", what);
	berth_error_free(err);
}

TEST(layer_apply_refuses_escapes)
{
	_cleanup_free_ char *outside = tmp_path("outside");
	CHECK(mkdir(outside, 0755) == 0);
	strbuf t;
	sb_init(&t);
	add_entry(&t, "../evil", TAR_REG, 0644, "x");
	check_refused("dotdot", &t, "layer entry \"../evil\": path escapes the layer root");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "a/../../evil", TAR_REG, 0644, "x");
	check_refused("nested dotdot", &t, "layer entry \"a/../../evil\": path escapes");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "/abs/evil", TAR_REG, 0644, "x");
	check_refused("absolute", &t, "layer entry \"/abs/evil\": path escapes");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "s", TAR_SYMLINK, 0777, outside);
	add_entry(&t, "s/evil", TAR_REG, 0644, "x");
	check_refused("through symlink", &t,
	              "layer entry \"s/evil\": path goes through a symbolic");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "d/", TAR_DIR, 0755, NULL);
	add_entry(&t, "d", TAR_SYMLINK, 0777, outside);
	add_entry(&t, "d/evil", TAR_REG, 0644, "x");
	check_refused("swapped symlink", &t, "layer entry \"d/evil\"");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "l", TAR_LINK, 0644, "../outside/f");
	check_refused("hard link out", &t, "layer entry \"l\": hard link target");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "s", TAR_SYMLINK, 0777, outside);
	add_entry(&t, "l", TAR_LINK, 0644, "s/f");
	check_refused("hard link through symlink", &t, "layer entry \"l\": hard link target");
	sb_free(&t);

	sb_init(&t);
	add_entry(&t, "d/.wh...", TAR_REG, 0644, NULL);
	check_refused("whiteout dotdot", &t, "layer entry \"d/.wh...\"");
	sb_free(&t);

	DIR *dd = opendir(outside);
	CHECK(dd != NULL);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dd)) != NULL)
		n++;
	closedir(dd);
	CHECK_INT_EQ(n, 2); /* only . and .. */
}

TEST(layer_apply_gzip_zstd_and_digests)
{
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "f", TAR_REG, 0644, "compressed content");
	tar_write_end(&t);
	char diff_id[DIGEST_STR_LEN + 1];
	sha256_digest(t.buf, t.len, diff_id);

	/* gzip, two members (as pigz/concatenation may give) */
	unsigned char gz[8192];
	z_stream z = {0};
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	z.next_in = (unsigned char *)t.buf;
	z.avail_in = 1000;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	size_t n1 = sizeof(gz) - z.avail_out;
	deflateReset(&z);
	z.next_in = (unsigned char *)t.buf + 1000;
	z.avail_in = (uInt)(t.len - 1000);
	z.next_out = gz + n1;
	z.avail_out = (uInt)(sizeof(gz) - n1);
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	size_t gzlen = sizeof(gz) - z.avail_out;
	deflateEnd(&z);
	layer_apply_result res;
	berth_error *err = NULL;
	CHECK(apply_buf(gz, gzlen, "g", &res, &err) == 0);
	CHECK_STR_EQ(res.diff_id, diff_id);
	char want[DIGEST_STR_LEN + 1];
	sha256_digest(gz, gzlen, want);
	CHECK_STR_EQ(res.digest, want);
	_cleanup_free_ char *c1 = slurp("g", "f");
	CHECK_STR_EQ(c1, "compressed content");

	unsigned char zs[8192];
	size_t zlen = ZSTD_compress(zs, sizeof(zs), t.buf, t.len, 3);
	CHECK(!ZSTD_isError(zlen));
	CHECK(apply_buf(zs, zlen, "z", &res, &err) == 0);
	CHECK_STR_EQ(res.diff_id, diff_id);
	sha256_digest(zs, zlen, want);
	CHECK_STR_EQ(res.digest, want);
	_cleanup_free_ char *c2 = slurp("z", "f");
	CHECK_STR_EQ(c2, "compressed content");

	/* truncated gzip: refused, nothing left */
	_cleanup_free_ char *dir = tmp_path("trunc");
	_cleanup_close_ int fd = mem_fd(gz, n1 - 4);
	CHECK(layer_apply_path(fd, dir, NULL, NULL, &err) < 0);
	CHECK(err != NULL);
	berth_error_clear(&err);
	struct stat st;
	CHECK(lstat(dir, &st) < 0);
}

struct mem_src {
	const unsigned char *p;
	size_t left;
};

/* A tar_next_fn over memory, in small chunks so headers straddle them. */
static int mem_next(void *opaque, const unsigned char **p, size_t *len, size_t max,
                    berth_error **err)
{
	(void)err;
	struct mem_src *s = opaque;
	size_t n = s->left < max ? s->left : max;
	if (n > 1000)
		n = 1000;
	*p = s->p;
	*len = n;
	s->p += n;
	s->left -= n;
	return 0;
}

/* Entries of a tar, one line each: name type mode uid gid mtime size link
 * major,minor xNXATTRS; "ERROR msg" on a parse error. */
static char *list_tar(const void *data, size_t len)
{
	strbuf out;
	sb_init(&out);
	struct mem_src s = {data, len};
	_cleanup_tar_reader_ tar_reader *r = tar_reader_new(mem_next, &s);
	for (;;) {
		const tar_entry *e;
		berth_error *err = NULL;
		int rc = tar_reader_next(r, &e, &err);
		if (rc < 0) {
			sb_printf(&out, "ERROR %s\n", err->msg);
			berth_error_free(err);
			break;
		}
		if (rc == 0)
			break;
		sb_printf(&out, "%s %c %o %llu %llu %lld %llu %s %u,%u x%zu\n", e->path, e->type,
		          e->mode, (unsigned long long)e->uid, (unsigned long long)e->gid,
		          (long long)e->mtime, (unsigned long long)e->size, e->linkname,
		          e->devmajor, e->devminor, e->nxattrs);
	}
	return sb_steal(&out);
}

static void build_sample(strbuf *t)
{
	sb_init(t);
	tar_entry d = {
	    .path = "etc/", .linkname = "", .type = TAR_DIR, .mode = 0755, .mtime = 1600000000};
	add_full(t, &d, NULL);
	tar_entry f = {.path = "etc/passwd",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0644,
	               .size = 5,
	               .mtime = 1600000001};
	add_full(t, &f, "root\n");
	tar_entry h = {.path = "etc/passwd-",
	               .linkname = "etc/passwd",
	               .type = TAR_LINK,
	               .mode = 0644,
	               .mtime = 1600000001};
	add_full(t, &h, NULL);
	tar_entry s = {.path = "etc/mtab",
	               .linkname = "/proc/mounts",
	               .type = TAR_SYMLINK,
	               .mode = 0777,
	               .mtime = 1600000002};
	add_full(t, &s, NULL);
	tar_entry u = {.path = "usr/bin/su",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 04755,
	               .uid = 0,
	               .gid = 0,
	               .size = 2,
	               .mtime = 1600000003};
	add_full(t, &u, "su");
	tar_entry o = {.path = "home/user/",
	               .linkname = "",
	               .type = TAR_DIR,
	               .mode = 0700,
	               .uid = 1000,
	               .gid = 1000,
	               .mtime = 1600000004};
	add_full(t, &o, NULL);
	unsigned char capv[20] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x20};
	tar_xattr x = {.name = "security.capability", .value = capv, .len = 20};
	tar_entry p = {.path = "bin/ping",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0755,
	               .size = 4,
	               .mtime = 1600000005,
	               .xattrs = &x,
	               .nxattrs = 1};
	add_full(t, &p, "ping");
	tar_entry c = {.path = "dev/null",
	               .linkname = "",
	               .type = TAR_CHR,
	               .mode = 0666,
	               .devmajor = 1,
	               .devminor = 3,
	               .mtime = 1600000006};
	add_full(t, &c, NULL);
	tar_entry w = {.path = "var/.wh.cache",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0600,
	               .mtime = 1600000007};
	add_full(t, &w, NULL);
	tar_entry q = {
	    .path = "opt/", .linkname = "", .type = TAR_DIR, .mode = 0755, .mtime = 1600000008};
	add_full(t, &q, NULL);
	tar_entry qo = {.path = "opt/.wh..wh..opq", .linkname = "", .type = TAR_REG, .mode = 0755};
	add_full(t, &qo, NULL);
	char longname[300];
	memset(longname, 'n', 250);
	memcpy(longname, "opt/", 4);
	longname[250] = 0;
	tar_entry l = {.path = longname,
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0644,
	               .size = 1,
	               .mtime = 1600000009};
	add_full(t, &l, "l");
	tar_write_end(t);
}

TEST(layer_diff_round_trip)
{
	_cleanup_sb_ strbuf t;
	build_sample(&t);
	berth_error *err = NULL;
	int r = apply_buf(t.buf, t.len, "a", NULL, &err);
	if (r < 0)
		fprintf(stderr, "%s\n", err->msg);
	CHECK(r == 0);

	/* diff with overlay whiteouts: the same entries (implied dirs added) */
	_cleanup_sb_ strbuf d1;
	char id1[DIGEST_STR_LEN + 1];
	uint64_t size1 = 0;
	CHECK(diff_to_buf("a", true, &d1, id1, &size1, &err) == 0);
	char want[DIGEST_STR_LEN + 1];
	sha256_digest(d1.buf, d1.len, want);
	CHECK_STR_EQ(id1, want);
	CHECK_INT_EQ(size1, 5 + 2 + 4 + 1);
	_cleanup_free_ char *list = list_tar(d1.buf, d1.len);
	char *l = list;
	/* in name order, Docker's conventions: dirs with '/', type bits in mode */
	const char *expect[] = {
	    "bin/ 5 755 0 0",
	    "bin/ping 0 755 0 0 1600000005 4  0,0 x1",
	    "dev/ 5 755 0 0",
	    "dev/null 3 666 0 0 1600000006 0  1,3 x0",
	    "etc/ 5 755 0 0 1600000000 0  0,0 x0",
	    "etc/mtab 2 777 0 0 1600000002 0 /proc/mounts 0,0 x0",
	    "etc/passwd 0 644 0 0 1600000001 5  0,0 x0",
	    "etc/passwd- 1 644 0 0 1600000001 0 etc/passwd 0,0 x0",
	    "home/ 5 755",
	    "home/user/ 5 700 1000 1000 1600000004 0  0,0 x0",
	    "opt/ 5 755 0 0 1600000008 0  0,0 x0",
	    "opt/.wh..wh..opq 0 755 0 0 0 0  0,0 x0",
	    "opt/nnnn",
	    "usr/ 5 755",
	    "usr/bin/ 5 755",
	    "usr/bin/su 0 4755 0 0 1600000003 2  0,0 x0",
	    "var/ 5 755",
	    "var/.wh.cache 0 600 0 0 1600000007 0  0,0 x0",
	};
	for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
		char *nl = strchr(l, '\n');
		CHECK(nl != NULL);
		*nl = 0;
		if (!str_has_prefix(l, expect[i])) {
			test_failed(__FILE__, __LINE__, "entry %zu: \"%s\" does not start \"%s\"",
			            i, l, expect[i]);
			return;
		}
		l = nl + 1;
	}
	CHECK_STR_EQ(l, "");

	/* apply the diff again and diff that: the same bytes */
	CHECK(apply_buf(d1.buf, d1.len, "b", NULL, &err) == 0);
	_cleanup_sb_ strbuf d2;
	char id2[DIGEST_STR_LEN + 1];
	CHECK(diff_to_buf("b", true, &d2, id2, NULL, &err) == 0);
	CHECK_STR_EQ(id1, id2);
	CHECK_INT_EQ(d1.len, d2.len);
	CHECK(!memcmp(d1.buf, d2.buf, d1.len));

	/* and a second diff of the same tree is byte-identical */
	_cleanup_sb_ strbuf d3;
	char id3[DIGEST_STR_LEN + 1];
	CHECK(diff_to_buf("a", true, &d3, id3, NULL, &err) == 0);
	CHECK_STR_EQ(id1, id3);
}

TEST(layer_diff_without_whiteout_conversion)
{
	_cleanup_sb_ strbuf t;
	build_sample(&t);
	berth_error *err = NULL;
	CHECK(apply_buf(t.buf, t.len, "a", NULL, &err) == 0);
	_cleanup_sb_ strbuf d;
	char id[DIGEST_STR_LEN + 1];
	CHECK(diff_to_buf("a", false, &d, id, NULL, &err) == 0);
	_cleanup_free_ char *list = list_tar(d.buf, d.len);
	/* the whiteout stays a device node, no opaque marker */
	CHECK(strstr(list, "var/cache 3 600 0 0 1600000007 0  0,0") != NULL);
	CHECK(strstr(list, ".wh.") == NULL);
}

TEST(layer_diff_hard_links_and_sockets)
{
	_cleanup_free_ char *root = tmp_path("h");
	CHECK(mkdir(root, 0755) == 0);
	_cleanup_free_ char *a = tmp_path("h/b-first");
	_cleanup_free_ char *b = tmp_path("h/a-second");
	berth_error *err = NULL;
	CHECK(atomic_write(a, "x", 1, 0644, false, &err) == 0);
	CHECK(link(a, b) == 0);
	_cleanup_free_ char *fifo = tmp_path("h/zz-fifo");
	CHECK(mkfifo(fifo, 0600) == 0);
	_cleanup_sb_ strbuf d;
	char id[DIGEST_STR_LEN + 1];
	CHECK(diff_to_buf("h", false, &d, id, NULL, &err) == 0);
	_cleanup_free_ char *list = list_tar(d.buf, d.len);
	/* the first name in order carries the data, the later one links to it */
	CHECK(strstr(list, "a-second 0 644") != NULL);
	CHECK(strstr(list, "b-first 1 644 0 0") != NULL);
	CHECK(strstr(list, " a-second 0,0") != NULL);
	CHECK(strstr(list, "zz-fifo 6 600") != NULL);
}

TEST(tar_writer_pax_and_numbers)
{
	/* uid beyond octal, size, negative mtime, non-ASCII name: PAX records */
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	tar_entry e = {.path = "caf\xc3\xa9",
	               .linkname = "",
	               .type = TAR_REG,
	               .mode = 0644,
	               .uid = 3000000,
	               .gid = 7,
	               .mtime = -5};
	add_full(&t, &e, NULL);
	tar_write_end(&t);
	_cleanup_free_ char *list = list_tar(t.buf, t.len);
	CHECK_STR_EQ(list, "caf\xc3\xa9 0 644 3000000 7 -5 0  0,0 x0\n");
	/* Go's record layout: "%d key=value\n" with the length counting itself */
	CHECK(memmem(t.buf, t.len, "gid=", 4) == NULL);
	CHECK(memmem(t.buf, t.len, "15 uid=3000000\n", 15) != NULL);
	CHECK(memmem(t.buf, t.len, "12 mtime=-5\n", 12) != NULL);
	CHECK(memmem(t.buf, t.len, "PaxHeaders.0/caf", 16) != NULL);
}

TEST(tar_reader_rejects_garbage)
{
	unsigned char b[TAR_BLOCK * 3];
	memset(b, 'A', sizeof(b));
	_cleanup_free_ char *list = list_tar(b, sizeof(b));
	CHECK(str_has_prefix(list, "ERROR invalid tar header checksum"));
	/* a truncated entry */
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "f", TAR_REG, 0644, "some data");
	_cleanup_free_ char *l2 = list_tar(t.buf, TAR_BLOCK + 3);
	CHECK(strstr(l2, "f 0 644") != NULL);
	berth_error *err = NULL;
	CHECK(apply_buf(t.buf, TAR_BLOCK + 3, "tr", NULL, &err) < 0);
	CHECK(strstr(err->msg, "unexpected end of tar stream") != NULL);
	berth_error_free(err);
}

struct seek_src {
	const unsigned char *base;
	size_t pos, len;
	size_t read_bytes; /* handed out by next */
};

static int seek_next(void *opaque, const unsigned char **p, size_t *len, size_t max,
                     berth_error **err)
{
	(void)err;
	struct seek_src *s = opaque;
	size_t n = s->len - s->pos;
	if (n > max)
		n = max;
	if (n > 700)
		n = 700;
	*p = s->base + s->pos;
	*len = n;
	s->pos += n;
	s->read_bytes += n;
	return 0;
}

static int64_t seek_skip(void *opaque, uint64_t n, berth_error **err)
{
	(void)err;
	struct seek_src *s = opaque;
	if (n > s->len - s->pos)
		n = s->len - s->pos;
	s->pos += n;
	return (int64_t)n;
}

TEST(tar_reader_offsets_and_skip)
{
	/* a PAX entry, a GNU long name and a plain entry, with data of
	 * several blocks: each data offset is where its bytes are */
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	_cleanup_free_ char *big = xmalloc(5000);
	memset(big, 'b', 4999);
	big[4999] = 0;
	tar_entry e = {.path = "caf\xc3\xa9", .linkname = "", .type = TAR_REG, .mode = 0644};
	e.size = 4999;
	add_full(&t, &e, big);
	add_gnu_longname(&t, "d/a-name-longer-than-one-hundred-characters-"
	                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	add_entry(&t,
	          "d/a-name-longer-than-one-hundred-characters-"
	          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	          TAR_REG, 0600, "long");
	add_entry(&t, "last", TAR_REG, 0600, "tail data");
	tar_write_end(&t);
	const char *want[] = {big, "long", "tail data"};
	struct seek_src src = {(const unsigned char *)t.buf, 0, t.len, 0};
	_cleanup_tar_reader_ tar_reader *r = tar_reader_new(seek_next, &src);
	tar_reader_set_skip(r, seek_skip);
	berth_error *err = NULL;
	const tar_entry *got;
	for (int i = 0; i < 3; i++) {
		CHECK(tar_reader_next(r, &got, &err) == 1);
		uint64_t off = tar_reader_offset(r);
		CHECK(off % TAR_BLOCK == 0);
		CHECK_INT_EQ(got->size, strlen(want[i]));
		CHECK(memcmp(t.buf + off, want[i], got->size) == 0);
	}
	CHECK(tar_reader_next(r, &got, &err) == 0);
	/* entry data was skipped, not read */
	CHECK(src.read_bytes < t.len - 4999);

	/* a truncated archive fails also when the data is skipped */
	struct seek_src cut = {(const unsigned char *)t.buf, 0, TAR_BLOCK * 3, 0};
	_cleanup_tar_reader_ tar_reader *r2 = tar_reader_new(seek_next, &cut);
	tar_reader_set_skip(r2, seek_skip);
	CHECK(tar_reader_next(r2, &got, &err) == 1);
	CHECK(tar_reader_next(r2, &got, &err) < 0);
	CHECK(strstr(err->msg, "unexpected end of tar stream") != NULL);
	berth_error_free(err);
}

struct chunk_src {
	const unsigned char *p;
	size_t left;
	size_t first; /* size of the first chunk */
	int calls;
};

/* layer_next_fn handing out a short first chunk, then up to 3000 bytes */
static int chunk_next(void *opaque, const unsigned char **p, size_t *len, size_t max,
                      berth_error **err)
{
	(void)err;
	struct chunk_src *s = opaque;
	size_t n = s->left < max ? s->left : max;
	size_t cap = s->calls++ == 0 ? s->first : 3000;
	if (n > cap)
		n = cap;
	*p = s->p;
	*len = n;
	s->p += n;
	s->left -= n;
	return 0;
}

static ssize_t chunk_read(void *opaque, void *buf, size_t n, berth_error **err)
{
	const unsigned char *p;
	size_t len;
	if (chunk_next(opaque, &p, &len, n, err) < 0)
		return -1;
	memcpy(buf, p, len);
	return (ssize_t)len;
}

TEST(layer_apply_from_sources)
{
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "dir/", TAR_DIR, 0755, NULL);
	_cleanup_free_ char *data = xmalloc(20001);
	for (int i = 0; i < 20000; i++)
		data[i] = (char)('a' + i % 26);
	data[20000] = 0;
	add_entry(&t, "dir/f", TAR_REG, 0644, data);
	tar_write_end(&t);
	char diff_id[DIGEST_STR_LEN + 1];
	sha256_digest(t.buf, t.len, diff_id);
	unsigned char zs[65536];
	size_t zlen = ZSTD_compress(zs, sizeof(zs), t.buf, t.len, 3);
	CHECK(!ZSTD_isError(zlen));
	char zdigest[DIGEST_STR_LEN + 1];
	sha256_digest(zs, zlen, zdigest);
	struct {
		const void *p;
		size_t len, first;
		bool next;
		const char *digest;
	} cases[] = {
	    {t.buf, t.len, 1, true, diff_id}, /* magic gathered from short chunks */
	    {t.buf, t.len, 3000, true, diff_id}, {t.buf, t.len, 2, false, diff_id},
	    {zs, zlen, 3, true, zdigest},        {zs, zlen, 3000, false, zdigest},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct chunk_src cs = {cases[i].p, cases[i].len, cases[i].first, 0};
		layer_source src = {.opaque = &cs};
		if (cases[i].next)
			src.next = chunk_next;
		else
			src.read = chunk_read;
		_cleanup_free_ char *name = xasprintf("src%zu", i);
		_cleanup_free_ char *dir = tmp_path(name);
		CHECK(mkdir(dir, 0755) == 0);
		_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		layer_apply_result res;
		berth_error *err = NULL;
		CHECK(layer_apply_source(&src, dfd, NULL, &res, &err) == 0);
		CHECK_STR_EQ(res.diff_id, diff_id);
		CHECK_STR_EQ(res.digest, cases[i].digest);
		CHECK_INT_EQ(res.size, 20000);
		_cleanup_free_ char *got = slurp(name, "dir/f");
		CHECK(got && !strcmp(got, data));
	}
	/* empty source: an empty layer */
	struct chunk_src none = {NULL, 0, 1, 0};
	layer_source src = {.next = chunk_next, .opaque = &none};
	_cleanup_free_ char *dir = tmp_path("srcempty");
	CHECK(mkdir(dir, 0755) == 0);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	layer_apply_result res;
	berth_error *err = NULL;
	CHECK(layer_apply_source(&src, dfd, NULL, &res, &err) == 0);
}

TEST(layer_apply_whiteout_edge_cases)
{
	/* a whiteout and then the same name again in one layer: the entry
	 * wins, as when Docker's applier replaces what is in its way */
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "d/", TAR_DIR, 0755, NULL);
	add_entry(&t, "d/.wh.again", TAR_REG, 0600, NULL);
	add_entry(&t, "d/again/", TAR_DIR, 0750, NULL);
	add_entry(&t, "d/again/f", TAR_REG, 0644, "f");
	add_entry(&t, ".wh.file", TAR_REG, 0600, NULL);
	add_entry(&t, "file", TAR_REG, 0640, "new");
	/* the root's opaque marker makes the layer root opaque */
	add_entry(&t, ".wh..wh..opq", TAR_REG, 0600, NULL);
	/* a whiteout name in a long (PAX/GNU) header is still a whiteout */
	add_gnu_longname(&t, "long/"
	                     "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	                     "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/.wh.x");
	add_entry(&t, "placeholder-replaced-by-longname", TAR_REG, 0600, NULL);
	tar_write_end(&t);
	berth_error *err = NULL;
	int r = apply_buf(t.buf, t.len, "w", NULL, &err);
	if (r < 0)
		fprintf(stderr, "%s\n", err->msg);
	CHECK(r == 0);
	struct stat st;
	CHECK(lst("w", "d/again", &st) == 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT_EQ(st.st_mode & 07777, 0750);
	CHECK(lst("w", "d/again/f", &st) == 0 && S_ISREG(st.st_mode));
	CHECK(lst("w", "file", &st) == 0 && S_ISREG(st.st_mode));
	_cleanup_free_ char *body = slurp("w", "file");
	CHECK_STR_EQ(body, "new");
	_cleanup_free_ char *root = tmp_path("w");
	char v[8] = {0};
	CHECK(getxattr(root, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
	CHECK(lst("w",
	          "long/"
	          "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	          "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd/x",
	          &st) == 0);
	CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));

	/* whiteouts that name no entry, or the directory itself, are refused */
	static const char *const bad[] = {"d/.wh.", "d/.wh..", ".wh.."};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		strbuf b;
		sb_init(&b);
		add_entry(&b, "d/", TAR_DIR, 0755, NULL);
		add_entry(&b, bad[i], TAR_REG, 0600, NULL);
		tar_write_end(&b);
		_cleanup_free_ char *needle = xasprintf("layer entry \"%s\"", bad[i]);
		check_refused(bad[i], &b, needle);
		sb_free(&b);
	}
}

/* Apply t with a tar-split into tmp/<name>; the split in a memfd. */
static int apply_split(const strbuf *t, const char *name, layer_apply_result *res, int *split_fd,
                       berth_error **err)
{
	_cleanup_close_ int fd = mem_fd(t->buf, t->len);
	_cleanup_free_ char *dir = tmp_path(name);
	tarsplit ts;
	tarsplit_init(&ts);
	layer_apply_opts o = {.split = &ts};
	int r = layer_apply_path(fd, dir, &o, res, err);
	tarsplit_finish(&ts);
	*split_fd = r == 0 ? mem_fd(ts.out.buf, ts.out.len) : -1;
	tarsplit_free(&ts);
	return r;
}

static int regenerate(int split_fd, const char *name, const char *digest, strbuf *out,
                      berth_error **err)
{
	_cleanup_free_ char *dir = tmp_path(name);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int ofd = memfd_create("regen", MFD_CLOEXEC);
	if (dfd < 0 || ofd < 0 || lseek(split_fd, 0, SEEK_SET) < 0)
		abort();
	if (tarsplit_regenerate(split_fd, dfd, digest, ofd, err) < 0)
		return -1;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	_cleanup_free_ char *p = xasprintf("/proc/self/fd/%d", ofd);
	if (read_file(p, &data, &len, err) < 0)
		return -1;
	sb_init(out);
	sb_appendn(out, data, len);
	return 0;
}

TEST(layer_apply_tarsplit_gives_the_stream_back)
{
	/* every kind of bytes: PAX and GNU long-name headers, empty and
	 * block-sized files, links, a whiteout and aufs metadata with data,
	 * the end blocks and what follows them */
	_cleanup_sb_ strbuf t;
	sb_init(&t);
	add_entry(&t, "d/", TAR_DIR, 0755, NULL);
	add_entry(&t, "d/empty", TAR_REG, 0644, "");
	add_entry(&t, "d/small", TAR_REG, 0600, "hello\n");
	_cleanup_free_ char *block = xmalloc(TAR_BLOCK * 3 + 1);
	memset(block, 'b', TAR_BLOCK * 3);
	block[TAR_BLOCK * 3] = 0;
	add_entry(&t, "d/blocks", TAR_REG, 0644, block);
	tar_xattr xa = {.name = "user.k", .value = (unsigned char *)"v", .len = 1};
	tar_entry px = {.path = "d/\xc3\xa9t\xc3\xa9",
	                .linkname = "",
	                .type = TAR_REG,
	                .mode = 0644,
	                .mtime = T_MTIME,
	                .size = 3,
	                .xattrs = &xa,
	                .nxattrs = 1};
	add_full(&t, &px, "pax");
	add_gnu_longname(&t, "d/long-"
	                     "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	                     "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn");
	add_entry(&t, "placeholder", TAR_REG, 0644, "long");
	add_entry(&t, "d/sym", TAR_SYMLINK, 0777, "small");
	add_entry(&t, "d/hard", TAR_LINK, 0644, "d/small");
	add_entry(&t, "d/.wh.gone", TAR_REG, 0600, "whiteout data");
	add_entry(&t, ".wh..wh.plnk", TAR_REG, 0600, "aufs");
	tar_write_end(&t);
	sb_append(&t, "trailing bytes");
	char want[DIGEST_STR_LEN + 1];
	sha256_digest(t.buf, t.len, want);

	layer_apply_result res;
	berth_error *err = NULL;
	_cleanup_close_ int sfd = -1;
	CHECK(apply_split(&t, "ts", &res, &sfd, &err) == 0);
	CHECK(res.split_ok);
	CHECK_STR_EQ(res.diff_id, want);
	_cleanup_sb_ strbuf back;
	int r = regenerate(sfd, "ts", want, &back, &err);
	if (r < 0)
		fprintf(stderr, "%s\n", err->msg);
	CHECK(r == 0);
	CHECK(back.len == t.len && memcmp(back.buf, t.buf, t.len) == 0);
	/* the split holds the headers, not the file contents */
	struct stat st;
	CHECK(fstat(sfd, &st) == 0 && (size_t)st.st_size < t.len - TAR_BLOCK * 2);

	/* a changed file: the bytes are refused, never given out */
	_cleanup_free_ char *dir = tmp_path("ts");
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	CHECK(atomic_write_at(dfd, "d/small", "HELLO\n", 6, 0600, false, &err) == 0);
	_cleanup_sb_ strbuf bad;
	sb_init(&bad);
	CHECK(regenerate(sfd, "ts", want, &bad, &err) < 0);
	CHECK(err && err->code == BERTH_E_CORRUPT);
	berth_error_free(err);
	err = NULL;
	CHECK(atomic_write_at(dfd, "d/small", "longer\n", 7, 0600, false, &err) == 0);
	CHECK(regenerate(sfd, "ts", want, &bad, &err) < 0);
	CHECK(err && err->code == BERTH_E_CORRUPT);
	berth_error_free(err);
	err = NULL;

	/* an entry that replaces an earlier one of the layer: its bytes are
	 * gone, the split is not usable */
	_cleanup_sb_ strbuf t2;
	sb_init(&t2);
	add_entry(&t2, "f", TAR_REG, 0644, "first");
	add_entry(&t2, "f", TAR_REG, 0644, "second");
	tar_write_end(&t2);
	_cleanup_close_ int sfd2 = -1;
	CHECK(apply_split(&t2, "ts2", &res, &sfd2, &err) == 0);
	CHECK(!res.split_ok);
}
