#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "base/digest.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/sock.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "test.h"

TEST(digest_sha256_known)
{
	char d[DIGEST_STR_LEN + 1];
	sha256_digest("abc", 3, d);
	CHECK_STR_EQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(digest_valid(d));
	CHECK(!digest_valid(
	    "sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(!digest_valid("sha256:abc"));
	CHECK(
	    !digest_valid("md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

/* sha256_new/update/final in pieces that cross block boundaries agree
 * with the one-shot digest (both are OpenSSL's SHA256_* since the static
 * link; this pins the streaming path against FIPS 180-4's "abc" too). */
TEST(digest_sha256_streaming)
{
	static const size_t lens[] = {0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 128, 1000, 4099};
	char buf[4099];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		char one[DIGEST_STR_LEN + 1], parts[DIGEST_STR_LEN + 1];
		sha256_digest(buf, lens[k], one);
		sha256_ctx *c = sha256_new();
		sha256_update(c, buf, lens[k] / 3);
		sha256_update(c, buf + lens[k] / 3, lens[k] - lens[k] / 3);
		sha256_final(c, parts);
		sha256_free(c);
		CHECK_STR_EQ(parts, one);
	}
	char abc[DIGEST_STR_LEN + 1];
	sha256_ctx *c = sha256_new();
	sha256_update(c, "ab", 2);
	sha256_update(c, "c", 1);
	sha256_final(c, abc);
	sha256_free(c);
	CHECK_STR_EQ(abc,
	             "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(human_size_like_docker)
{
	_cleanup_free_ char *a = human_size(1982256);
	CHECK_STR_EQ(a, "1.982MB");
	_cleanup_free_ char *b = human_size(512);
	CHECK_STR_EQ(b, "512B");
	_cleanup_free_ char *c = human_size(4200000000.0);
	CHECK_STR_EQ(c, "4.2GB");
}

TEST(human_duration_like_docker)
{
	_cleanup_free_ char *a = human_duration(0);
	CHECK_STR_EQ(a, "Less than a second");
	_cleanup_free_ char *b = human_duration(150);
	CHECK_STR_EQ(b, "2 minutes");
	_cleanup_free_ char *c = human_duration(3600);
	CHECK_STR_EQ(c, "About an hour");
	_cleanup_free_ char *d = human_duration(3 * 86400);
	CHECK_STR_EQ(d, "3 days");
}

TEST(parse_size_units)
{
	int64_t v = 0;
	CHECK(parse_size("32m", &v, NULL) == 0);
	CHECK_INT_EQ(v, 32 * 1024 * 1024);
	CHECK(parse_size("1g", &v, NULL) == 0);
	CHECK_INT_EQ(v, 1024LL * 1024 * 1024);
	CHECK(parse_size("100", &v, NULL) == 0);
	CHECK_INT_EQ(v, 100);
	berth_error *e = NULL;
	CHECK(parse_size("12q", &v, &e) < 0);
	CHECK(e != NULL);
	berth_error_free(e);
	CHECK(parse_size("1.5k", &v, NULL) == 0);
	CHECK_INT_EQ(v, 1536);
	/* out of int64_t range (the fuzzer's find: a UBSan report), and what
	 * strtod takes but Docker does not */
	static const char *const bad[] = {
	    "222222232222222222222222", "9000000000t", "inf", "nan", "0x10", " 5", "+5", "1e3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = NULL;
		if (parse_size(bad[i], &v, &e) == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(e != NULL);
		berth_error_free(e);
	}
}

TEST(parse_duration_go)
{
	int64_t ns = 0;
	CHECK(parse_duration("1m30s", &ns, NULL) == 0);
	CHECK_INT_EQ(ns, 90LL * 1000000000);
	CHECK(parse_duration("500ms", &ns, NULL) == 0);
	CHECK_INT_EQ(ns, 500LL * 1000000);
	CHECK(parse_duration("10", &ns, NULL) < 0);
	static const char *const bad[] = {
	    "1e300h", "99999999999999999999h", "infs", "nans", "0x10s", "1e3s", "1s 2s", "+-1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		berth_error *e = NULL;
		if (parse_duration(bad[i], &ns, &e) == 0)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK(e != NULL);
		berth_error_free(e);
	}
	CHECK(parse_duration("1.5s", &ns, NULL) == 0);
	CHECK_INT_EQ(ns, 1500000000LL);
	CHECK(parse_duration("-2m3.5s", &ns, NULL) == 0);
	CHECK_INT_EQ(ns, -123500000000LL);
}

TEST(time_parse_docker_forms)
{
	struct timespec now = {.tv_sec = 1795824000, .tv_nsec = 5};
	int64_t ns = 0;
	CHECK(time_parse_docker("10m", &now, &ns) == 0);
	CHECK_INT_EQ(ns, (1795824000LL - 600) * 1000000000 + 5);
	CHECK(time_parse_docker("1h30m", &now, &ns) == 0);
	CHECK_INT_EQ(ns, (1795824000LL - 5400) * 1000000000 + 5);
	CHECK(time_parse_docker("2026-11-28T00:00:00Z", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 1795824000LL * 1000000000);
	CHECK(time_parse_docker("2026-11-28T01:00:00+01:00", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 1795824000LL * 1000000000);
	CHECK(time_parse_docker("2026-11-28T00:00:00.25Z", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 1795824000LL * 1000000000 + 250000000);
	CHECK(time_parse_docker("2026-11-28", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 1795824000LL * 1000000000);
	CHECK(time_parse_docker("2026-11-28T02", &now, &ns) == 0);
	CHECK_INT_EQ(ns, (1795824000LL + 7200) * 1000000000);
	CHECK(time_parse_docker("2026-11-28T02:30", &now, &ns) == 0);
	CHECK_INT_EQ(ns, (1795824000LL + 9000) * 1000000000);
	CHECK(time_parse_docker("1700000000", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 1700000000LL * 1000000000);
	CHECK(time_parse_docker("1700000000.5", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 1700000000LL * 1000000000 + 500000000);
	/* "0" is the epoch, not a zero duration */
	CHECK(time_parse_docker("0", &now, &ns) == 0);
	CHECK_INT_EQ(ns, 0);
	CHECK(time_parse_docker("", &now, &ns) < 0);
	CHECK(time_parse_docker("yesterday", &now, &ns) < 0);
	CHECK(time_parse_docker("12x", &now, &ns) < 0);
	CHECK(time_parse_docker("1700000000.", &now, &ns) < 0);
	CHECK(time_parse_docker("-5", &now, &ns) < 0);
	CHECK(time_parse_docker("99999999999999999999", &now, &ns) < 0);
}

TEST(rfc3339_roundtrip)
{
	struct timespec ts = {.tv_sec = 1795824000, .tv_nsec = 123400000};
	_cleanup_free_ char *s = time_rfc3339nano(&ts);
	CHECK_STR_EQ(s, "2026-11-28T00:00:00.1234Z");
	struct timespec back;
	CHECK(time_parse_rfc3339(s, &back) == 0);
	CHECK_INT_EQ(back.tv_sec, ts.tv_sec);
	CHECK_INT_EQ(back.tv_nsec, ts.tv_nsec);
}

TEST(rfc3339_offsets)
{
	struct timespec ts;
	CHECK(time_parse_rfc3339("2026-11-28T02:00:00+02:00", &ts) == 0);
	CHECK_INT_EQ(ts.tv_sec, 1795824000);
	CHECK(time_parse_rfc3339("2026-11-27T22:30:00-01:30", &ts) == 0);
	CHECK_INT_EQ(ts.tv_sec, 1795824000);
	/* malformed offsets are refused, never read past the end */
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+5:3", &ts) < 0);
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+05:3", &ts) < 0);
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+05", &ts) < 0);
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+", &ts) < 0);
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+0500", &ts) < 0);
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+24:00", &ts) < 0);
	CHECK(time_parse_rfc3339("2026-11-28T00:00:00+05:00x", &ts) < 0);
}

TEST(send_all_to_a_gone_peer_is_epipe_not_sigpipe)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(send_all(sv[0], "ping\n", 5) == 0);
	close(sv[1]);
	/* with write() this would end the test binary with SIGPIPE */
	CHECK(send_all(sv[0], "wait\n", 5) < 0);
	CHECK_INT_EQ(errno, EPIPE);
	close(sv[0]);
}

TEST(atomic_write_and_read)
{
	_cleanup_free_ char *p = xasprintf("%s/f", test_tmpdir());
	CHECK(atomic_write(p, "hello", 5, 0640, true, NULL) == 0);
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	CHECK(read_file(p, &data, &n, NULL) == 0);
	CHECK_INT_EQ(n, 5);
	CHECK_STR_EQ(data, "hello");
	struct stat st;
	CHECK(stat(p, &st) == 0);
	CHECK_INT_EQ(st.st_mode & 0777, 0640);
}

TEST(write_file_in_place)
{
	_cleanup_free_ char *p = xasprintf("%s/w", test_tmpdir());
	mode_t old = umask(077);
	CHECK(write_file(p, "hello world", 11, 0644, NULL) == 0);
	umask(old);
	struct stat st, st2;
	CHECK(stat(p, &st) == 0);
	CHECK_INT_EQ(st.st_mode & 0777, 0644);
	/* a shorter rewrite truncates, keeps the inode (bind mounts see it) */
	CHECK(write_file(p, "bye", 3, 0644, NULL) == 0);
	CHECK(stat(p, &st2) == 0);
	CHECK_INT_EQ(st2.st_ino, st.st_ino);
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	CHECK(read_file(p, &data, &n, NULL) == 0);
	CHECK_INT_EQ(n, 3);
	CHECK_STR_EQ(data, "bye");
	/* never through a symlink */
	_cleanup_free_ char *l = xasprintf("%s/wl", test_tmpdir());
	CHECK(symlink(p, l) == 0);
	berth_error *e = NULL;
	CHECK(write_file(l, "x", 1, 0644, &e) < 0);
	berth_error_free(e);
}

TEST(open_in_root_confines_symlinks)
{
	const char *t = test_tmpdir();
	_cleanup_free_ char *root = xasprintf("%s/root", t);
	_cleanup_free_ char *outside = xasprintf("%s/secret", t);
	CHECK(mkdir_p(root, 0755, NULL) == 0);
	CHECK(atomic_write(outside, "outside", 7, 0644, false, NULL) == 0);
	_cleanup_free_ char *inside = xasprintf("%s/secret", root);
	CHECK(atomic_write(inside, "inside", 6, 0644, false, NULL) == 0);
	_cleanup_free_ char *l1 = xasprintf("%s/abs", root);
	CHECK(symlink("/secret", l1) == 0);
	_cleanup_free_ char *l2 = xasprintf("%s/rel", root);
	CHECK(symlink("../../../secret", l2) == 0);
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY);
	CHECK(rfd >= 0);
	char buf[16] = {0};
	_cleanup_close_ int f1 = open_in_root(rfd, "abs", O_RDONLY, 0, NULL);
	CHECK(f1 >= 0);
	CHECK(read(f1, buf, sizeof(buf) - 1) == 6);
	CHECK_STR_EQ(buf, "inside");
	memset(buf, 0, sizeof(buf));
	_cleanup_close_ int f2 = open_in_root(rfd, "rel", O_RDONLY, 0, NULL);
	CHECK(f2 >= 0);
	CHECK(read(f2, buf, sizeof(buf) - 1) == 6);
	CHECK_STR_EQ(buf, "inside");
	berth_error *e = NULL;
	CHECK(open_beneath_nofollow(rfd, "abs", O_RDONLY, 0, &e) < 0);
	berth_error_free(e);
}

TEST(json_helpers)
{
	const char *src = "{\"a\":\"x\",\"n\":3,\"v\":[\"p\",\"q\"]}";
	_cleanup_json_ json_t *j = json_parse_buf(src, strlen(src), "t", NULL);
	CHECK(j != NULL);
	CHECK_STR_EQ(json_get_str(j, "a"), "x");
	CHECK_INT_EQ(json_get_int(j, "n", 0), 3);
	_cleanup_strv_ char **v = json_get_strv(j, "v");
	CHECK_INT_EQ(strv_len(v), 2);
	CHECK_STR_EQ(v[1], "q");
	berth_error *e = NULL;
	CHECK(json_parse_buf("{", 1, "broken", &e) == NULL);
	CHECK(e && strstr(e->msg, "broken") != NULL);
	berth_error_free(e);
}

TEST(base64_roundtrip)
{
	_cleanup_free_ char *a = base64_encode("user:pass", 9);
	CHECK_STR_EQ(a, "dXNlcjpwYXNz");
	_cleanup_free_ char *b = base64_encode("ab", 2);
	CHECK_STR_EQ(b, "YWI=");
	char *out = NULL;
	size_t n = 0;
	CHECK(base64_decode("YWI=", 4, &out, &n) == 0);
	CHECK_INT_EQ(n, 2);
	CHECK_STR_EQ(out, "ab");
	free(out);
	CHECK(base64_decode("YWI", 3, &out, &n) == 0);
	CHECK_STR_EQ(out, "ab");
	free(out);
	CHECK(base64_decode("Y!I=", 4, &out, &n) < 0);
	CHECK(base64_decode("Y", 1, &out, &n) < 0);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static int send_fds(int sock, const int *fds, size_t n)
{
	char byte = 'x';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n > 0) {
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

TEST(recv_with_fd_one_none_and_too_many)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	char buf[8];
	int fd = -2;
	/* one fd: it arrives, close-on-exec, and is the same pipe */
	CHECK(send_fds(sp[0], &p[1], 1) == 0);
	CHECK_INT_EQ(recv_with_fd(sp[1], buf, sizeof(buf), &fd, NULL), 1);
	CHECK(fd >= 0 && fd != p[1]);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(write(fd, "z", 1) == 1);
	CHECK(read(p[0], buf, 1) == 1 && buf[0] == 'z');
	close(fd);
	/* none: fd is -1 */
	CHECK(send_fds(sp[0], NULL, 0) == 0);
	CHECK_INT_EQ(recv_with_fd(sp[1], buf, sizeof(buf), &fd, NULL), 1);
	CHECK_INT_EQ(fd, -1);
	/* two: refused, and neither stays open here */
	int two[2] = {p[0], p[1]};
	CHECK(send_fds(sp[0], two, 2) == 0);
	int before = count_fds();
	berth_error *e = NULL;
	CHECK(recv_with_fd(sp[1], buf, sizeof(buf), &fd, &e) < 0);
	CHECK(e != NULL && strstr(e->msg, "one file descriptor"));
	berth_error_free(e);
	CHECK_INT_EQ(fd, -1);
	CHECK_INT_EQ(count_fds(), before);
	/* EOF */
	close(sp[0]);
	CHECK_INT_EQ(recv_with_fd(sp[1], buf, sizeof(buf), &fd, NULL), 0);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
}

TEST(send_with_fd_round_trip_and_closed_peer)
{
	int sp[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	char buf[16] = {0};
	int fd = -2;
	/* message and fd arrive together */
	CHECK(send_with_fd(sp[0], "hello", 5, p[1]) == 0);
	CHECK_INT_EQ(recv_with_fd(sp[1], buf, sizeof(buf), &fd, NULL), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	CHECK(fd >= 0 && fd != p[1]);
	CHECK(write(fd, "q", 1) == 1);
	CHECK(read(p[0], buf, 1) == 1 && buf[0] == 'q');
	close(fd);
	/* fd -1: the message alone */
	CHECK(send_with_fd(sp[0], "abc", 3, -1) == 0);
	CHECK_INT_EQ(recv_with_fd(sp[1], buf, sizeof(buf), &fd, NULL), 3);
	CHECK_INT_EQ(fd, -1);
	/* a peer that went away: EPIPE, not SIGPIPE */
	close(sp[1]);
	errno = 0;
	CHECK(send_with_fd(sp[0], "x", 1, p[0]) < 0);
	CHECK_INT_EQ(errno, EPIPE);
	close(sp[0]);
	close(p[0]);
	close(p[1]);
}
