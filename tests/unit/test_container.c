/* Unit tests of src/container: state file, json-file log writer. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/xalloc.h"
#include "container/container.h"
#include "container/internal.h"
#include "container/jsonlog.h"
#include "container/statefile.h"
#include "test.h"

TEST(state_roundtrip)
{
	_cleanup_close_ int dfd = open(test_tmpdir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	struct ctr_state st, back;
	CHECK_INT_EQ(ctr_state_read_at(dfd, &back), -2); /* ENOENT */
	CHECK_STR_EQ(back.status, "created");
	ctr_state_init(&st);
	memcpy(st.status, "exited", 7);
	st.pid = 42;
	st.exit_code = 137;
	st.oom_killed = true;
	st.restart_count = 3;
	st.started_ns = 1700000000123456789LL;
	st.finished_ns = 1700000001000000000LL;
	memcpy(st.error, "multi\nline", 11);
	CHECK_INT_EQ(ctr_state_write_at(dfd, &st), 0);
	CHECK_INT_EQ(ctr_state_read_at(dfd, &back), 0);
	CHECK_STR_EQ(back.status, "exited");
	CHECK_INT_EQ(back.pid, 42);
	CHECK_INT_EQ(back.exit_code, 137);
	CHECK(back.oom_killed);
	CHECK(!back.manual_stop);
	CHECK_INT_EQ(back.restart_count, 3);
	CHECK_INT_EQ(back.started_ns, 1700000000123456789LL);
	CHECK_INT_EQ(back.finished_ns, 1700000001000000000LL);
	CHECK_STR_EQ(back.error, "multi line");
}

TEST(state_parse_ignores_junk)
{
	struct ctr_state st;
	const char *txt = "garbage\nstatus=running\nnewkey=1\npid=7\nstatus_extra=x\n=\n";
	ctr_state_parse(&st, txt, strlen(txt));
	CHECK_STR_EQ(st.status, "running");
	CHECK_INT_EQ(st.pid, 7);
	const char *big = "status=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	ctr_state_parse(&st, big, strlen(big));
	CHECK_INT_EQ(strlen(st.status), sizeof(st.status) - 1);
}

TEST(monitor_lock_detects_holder)
{
	_cleanup_close_ int dfd = open(test_tmpdir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(!ctr_monitor_alive_at(dfd));
	int fd = openat(dfd, CTR_MONITOR_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(!ctr_monitor_alive_at(dfd));
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	CHECK(fcntl(fd, F_OFD_SETLK, &fl) == 0);
	CHECK(ctr_monitor_alive_at(dfd));
	close(fd);
	CHECK(!ctr_monitor_alive_at(dfd));
}

TEST(state_new_keys_roundtrip)
{
	_cleanup_close_ int dfd = open(test_tmpdir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	struct ctr_state st, back;
	ctr_state_init(&st);
	memcpy(st.status, "running", 8);
	st.paused = true;
	st.health = true;
	st.locked = true; /* the unlocked writer never claims a lock */
	CHECK_INT_EQ(ctr_state_write_at(dfd, &st), 0);
	CHECK_INT_EQ(ctr_state_read_at(dfd, &back), 0);
	CHECK(back.paused);
	CHECK(back.health);
	CHECK(!back.locked);
	/* an old file has none of the keys */
	const char *old = "status=running\npid=7\nmonitor_pid=6\n";
	ctr_state_parse(&back, old, strlen(old));
	CHECK(!back.paused && !back.health && !back.locked);
}

TEST(state_lock_tells_live_from_dead_monitor)
{
	_cleanup_close_ int dfd = open(test_tmpdir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	struct ctr_state st, back;
	int alive = 7;
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), -2);
	CHECK_INT_EQ(alive, 0);
	ctr_state_init(&st);
	memcpy(st.status, "running", 8);
	/* a monitor's first write: a new file, locked before it is in place */
	int lockfd = -1;
	CHECK_INT_EQ(ctr_state_write_locked_at(dfd, &st, &lockfd), 0);
	CHECK(lockfd >= 0);
	int first = lockfd;
	struct stat a, b;
	CHECK(fstatat(dfd, CTR_STATE_FILE, &a, 0) == 0);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK(back.locked);
	CHECK_INT_EQ(alive, 1);
	/* the next ones rewrite that file in place, shorter or longer */
	st.paused = true;
	snprintf(st.error, sizeof(st.error), "%s", "a longer text than before");
	CHECK_INT_EQ(ctr_state_write_locked_at(dfd, &st, &lockfd), 0);
	CHECK_INT_EQ(lockfd, first);
	CHECK(fstatat(dfd, CTR_STATE_FILE, &b, 0) == 0);
	CHECK(a.st_ino == b.st_ino);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK_INT_EQ(alive, 1);
	CHECK(back.paused);
	CHECK_STR_EQ(back.error, "a longer text than before");
	st.error[0] = 0;
	CHECK_INT_EQ(ctr_state_write_locked_at(dfd, &st, &lockfd), 0);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK_STR_EQ(back.error, "");
	CHECK(back.paused && back.locked);
	/* a reader holding the file sees the same, still locked, inode */
	int oldfd = openat(dfd, CTR_STATE_FILE, O_RDONLY | O_CLOEXEC);
	CHECK(oldfd >= 0);
	CHECK_INT_EQ(ctr_state_write_locked_at(dfd, &st, &lockfd), 0);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	CHECK(fcntl(oldfd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK);
	close(oldfd);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK_INT_EQ(alive, 1);
	/* the monitor dies (however: the kernel drops the lock) */
	close(lockfd);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK_STR_EQ(back.status, "running");
	CHECK_INT_EQ(alive, 0);
	/* not running: nothing to ask */
	memcpy(st.status, "exited", 7);
	CHECK_INT_EQ(ctr_state_write_at(dfd, &st), 0);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK_INT_EQ(alive, 0);
	/* a running state without lock=1 (an older monitor): unknown */
	memcpy(st.status, "running", 8);
	CHECK_INT_EQ(ctr_state_write_at(dfd, &st), 0);
	CHECK_INT_EQ(ctr_state_read_live(dfd, CTR_STATE_FILE, &back, &alive), 0);
	CHECK_INT_EQ(alive, -1);
}

TEST(state_sum_line)
{
	struct ctr_state st, back;
	ctr_state_init(&st);
	memcpy(st.status, "exited", 7);
	st.exit_code = 3;
	char buf[1024];
	size_t n = ctr_state_format(&st, buf, sizeof(buf));
	CHECK(n > 0 && strstr(buf, "\nsum=") != NULL && buf[n - 1] == '\n');
	/* a rewrite that left an older, longer text's tail: read up to the sum */
	char mixed[1200];
	snprintf(mixed, sizeof(mixed), "%sror=an old tail\nstatus=running\n", buf);
	ctr_state_parse(&back, mixed, strlen(mixed));
	CHECK_STR_EQ(back.status, "exited");
	CHECK_INT_EQ(back.exit_code, 3);
	/* a file whose sum does not match (a read mixing two texts) is read
	 * again; one that stays so is still read, after a while */
	_cleanup_close_ int dfd = open(test_tmpdir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	char *sum = strstr(buf, "\nsum=") + 5;
	sum[0] = sum[0] == '0' ? '1' : '0';
	int fd = openat(dfd, "bad-state", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, buf, n) == (ssize_t)n);
	close(fd);
	CHECK_INT_EQ(ctr_state_read_path(dfd, "bad-state", &back), 0);
	CHECK_STR_EQ(back.status, "exited");
}

TEST(jsonlog_format_like_docker)
{
	char out[512];
	struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 120000000};
	size_t n =
	    jsonlog_format(out, sizeof(out), "hi <b>&\"\\\t\x01\n", 12, JSONLOG_STDOUT, NULL, &ts);
	out[n] = 0;
	CHECK_STR_EQ(out, "{\"log\":\"hi \\u003cb\\u003e\\u0026\\\"\\\\\\t\\u0001\\n\","
	                  "\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20.12Z\"}\n");
	/* invalid UTF-8 becomes U+FFFD, valid multibyte passes through */
	n = jsonlog_format(out, sizeof(out), "\xff\xc3\xa9", 3, JSONLOG_STDERR, NULL, &ts);
	out[n] = 0;
	CHECK(strstr(out, "\"log\":\"\\ufffd\xc3\xa9\"") != NULL);
	CHECK(strstr(out, "\"stream\":\"stderr\"") != NULL);
	/* every entry is valid JSON */
	berth_error *e = NULL;
	json_t *j = json_parse_buf(out, n, "log", &e);
	CHECK(j != NULL);
	json_decref(j);
	ts.tv_nsec = 0;
	n = jsonlog_time(out, sizeof(out), &ts);
	CHECK_STR_EQ(out, "2023-11-14T22:13:20Z");
	CHECK(jsonlog_format(out, 20, "too long for the buffer", 23, 0, NULL, &ts) == 0);
}

TEST(log_attrs_from_labels_and_env)
{
	const char *cfg = "{\"Config\":{\"Labels\":{\"b\":\"2\",\"a\":\"<1>\",\"com.x\":\"y\"},"
	                  "\"Env\":[\"FOO=bar\",\"FOO_2=baz=q\",\"NOEQ\",\"OTHER=o\"]},"
	                  "\"HostConfig\":{\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{"
	                  "\"labels\":\"b,missing,a\",\"env-regex\":\"^FOO\",\"env\":\"OTHER\"}}}}";
	berth_error *e = NULL;
	json_t *j = json_parse_buf(cfg, strlen(cfg), "cfg", &e);
	CHECK(j != NULL);
	char *attrs = NULL;
	CHECK_INT_EQ(container_log_attrs(j, &attrs, &e), 0);
	/* keys sorted, Go's HTML-safe escaping */
	CHECK_STR_EQ(attrs, "{\"FOO\":\"bar\",\"FOO_2\":\"baz=q\",\"OTHER\":\"o\",\"a\":"
	                    "\"\\u003c1\\u003e\",\"b\":\"2\"}");
	char out[512];
	struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 0};
	size_t n = jsonlog_format(out, sizeof(out), "x\n", 2, JSONLOG_STDOUT, "{\"k\":\"v\"}", &ts);
	out[n] = 0;
	CHECK_STR_EQ(out, "{\"log\":\"x\\n\",\"stream\":\"stdout\",\"attrs\":{\"k\":\"v\"},"
	                  "\"time\":\"2023-11-14T22:13:20Z\"}\n");
	free(attrs);
	/* no attribute options: no attrs */
	json_object_del(json_object_get(json_object_get(j, "HostConfig"), "LogConfig"), "Config");
	CHECK_INT_EQ(container_log_attrs(j, &attrs, &e), 0);
	CHECK(attrs == NULL);
	/* a bad regex is an error naming the option */
	json_object_set_new(json_object_get(json_object_get(j, "HostConfig"), "LogConfig"),
	                    "Config", json_pack("{s:s}", "labels-regex", "a("));
	CHECK(container_log_attrs(j, &attrs, &e) < 0);
	CHECK(strstr(e->msg, "labels-regex") != NULL);
	berth_error_free(e);
	json_decref(j);
}

static int count_lines(const char *path)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (read_file(path, &data, &len, NULL) < 0)
		return -1;
	int n = 0;
	for (size_t i = 0; i < len; i++)
		n += data[i] == '\n';
	return n;
}

TEST(jsonlog_lines_partials_and_rotation)
{
	const char *dir = test_tmpdir();
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct jsonlog *l = xcalloc(1, sizeof(*l));
	CHECK_INT_EQ(jsonlog_open(l, dfd, "c-json.log", 1000, 3), 0);
	CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDOUT, "one\ntw", 6), 0);
	CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDERR, "err\n", 4), 0);
	CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDOUT, "o\n", 2), 0);
	_cleanup_free_ char *p = xasprintf("%s/c-json.log", dir);
	CHECK_INT_EQ(count_lines(p), 3);
	_cleanup_free_ char *data = NULL;
	size_t len;
	CHECK(read_file(p, &data, &len, NULL) == 0);
	CHECK(strstr(data, "{\"log\":\"two\\n\",\"stream\":\"stdout\"") != NULL);
	CHECK(strstr(data, "{\"log\":\"err\\n\",\"stream\":\"stderr\"") != NULL);
	/* a partial line is written at flush */
	CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDOUT, "tail", 4), 0);
	CHECK_INT_EQ(count_lines(p), 3);
	CHECK_INT_EQ(jsonlog_flush(l), 0);
	CHECK_INT_EQ(count_lines(p), 4);
	/* rotation keeps at most max_file files, each under max_size */
	for (int i = 0; i < 100; i++)
		CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDOUT, "0123456789012345678901234567\n", 29),
		             0);
	jsonlog_close(l);
	struct stat st;
	_cleanup_free_ char *p1 = xasprintf("%s.1", p);
	_cleanup_free_ char *p2 = xasprintf("%s.2", p);
	_cleanup_free_ char *p3 = xasprintf("%s.3", p);
	CHECK(stat(p, &st) == 0 && st.st_size <= 1000);
	CHECK(stat(p1, &st) == 0 && st.st_size <= 1000 && st.st_size > 900);
	CHECK(stat(p2, &st) == 0 && st.st_size <= 1000);
	CHECK(stat(p3, &st) < 0);
	/* a line longer than the limit is split into entries of 16 KiB */
	CHECK_INT_EQ(jsonlog_open(l, dfd, "long.log", 0, 1), 0);
	char *big = xmalloc(40000);
	memset(big, 'x', 40000);
	CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDOUT, big, 40000), 0);
	CHECK_INT_EQ(jsonlog_write(l, JSONLOG_STDOUT, "\n", 1), 0);
	jsonlog_close(l);
	free(big);
	free(l);
	_cleanup_free_ char *pl = xasprintf("%s/long.log", dir);
	CHECK_INT_EQ(count_lines(pl), 3);
}

TEST(mount_flag_parse_like_docker)
{
	json_t *m = NULL;
	berth_error *e = NULL;
	CHECK(ctr_mount_flag_parse(
	          "type=bind,source=/a,target=/b,readonly,bind-propagation=rshared", &m, &e) == 0);
	CHECK_STR_EQ(json_get_str(m, "Type"), "bind");
	CHECK_STR_EQ(json_get_str(m, "Source"), "/a");
	CHECK_STR_EQ(json_get_str(m, "Target"), "/b");
	CHECK(json_get_bool(m, "ReadOnly", false));
	CHECK_STR_EQ(json_get_str(json_object_get(m, "BindOptions"), "Propagation"), "rshared");
	json_decref(m);
	CHECK(ctr_mount_flag_parse("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770", &m, &e) == 0);
	CHECK_INT_EQ(json_get_int(json_object_get(m, "TmpfsOptions"), "SizeBytes", 0), 1 << 20);
	CHECK_INT_EQ(json_get_int(json_object_get(m, "TmpfsOptions"), "Mode", 0), 01770);
	json_decref(m);
	CHECK(ctr_mount_flag_parse("source=v,target=/d,volume-label=a=b,volume-nocopy", &m, &e) ==
	      0);
	CHECK_STR_EQ(json_get_str(m, "Type"), "volume");
	json_t *vo = json_object_get(m, "VolumeOptions");
	CHECK(json_get_bool(vo, "NoCopy", false));
	CHECK_STR_EQ(json_get_str(json_object_get(vo, "Labels"), "a"), "b");
	json_decref(m);
	CHECK(ctr_mount_flag_parse("type=bind,source=/a", &m, &e) < 0);
	CHECK(e && strstr(e->msg, "target is required"));
	berth_error_clear(&e);
	CHECK(ctr_mount_flag_parse("type=bind,bogus=1,target=/x", &m, &e) < 0);
	berth_error_clear(&e);
}

TEST(bind_spec_parse)
{
	ctr_bind_spec b;
	berth_error *e = NULL;
	CHECK(ctr_bind_spec_parse("/host:/ctr:ro,rshared", &b, &e) == 0);
	CHECK_STR_EQ(b.src, "/host");
	CHECK_STR_EQ(b.dst, "/ctr");
	CHECK(!b.rw);
	CHECK_STR_EQ(b.propagation, "rshared");
	ctr_bind_spec_clear(&b);
	CHECK(ctr_bind_spec_parse("name:/d:nocopy", &b, &e) == 0);
	CHECK_STR_EQ(b.src, "name");
	CHECK(b.nocopy && b.rw);
	ctr_bind_spec_clear(&b);
	CHECK(ctr_bind_spec_parse("/anon", &b, &e) == 0);
	CHECK(b.src == NULL);
	CHECK_STR_EQ(b.dst, "/anon");
	ctr_bind_spec_clear(&b);
	CHECK(ctr_bind_spec_parse("/a:relative", &b, &e) < 0);
	berth_error_clear(&e);
	CHECK(ctr_bind_spec_parse("/a:/", &b, &e) < 0);
	berth_error_clear(&e);
	CHECK(ctr_bind_spec_parse("/a:/b:bogus", &b, &e) < 0);
	berth_error_clear(&e);
	CHECK(ctr_bind_spec_parse("a:b:c:d", &b, &e) < 0);
	berth_error_clear(&e);
}

TEST(detach_keys_parse)
{
	unsigned char k[8];
	CHECK_INT_EQ(ctr_parse_detach_keys("ctrl-p,ctrl-q", k, sizeof(k)), 2);
	CHECK(k[0] == 16 && k[1] == 17);
	CHECK_INT_EQ(ctr_parse_detach_keys("a,ctrl-@,ctrl-[", k, sizeof(k)), 3);
	CHECK(k[0] == 'a' && k[1] == 0 && k[2] == 27);
	CHECK(ctr_parse_detach_keys("ctrl-1", k, sizeof(k)) < 0);
	CHECK(ctr_parse_detach_keys("abc", k, sizeof(k)) < 0);
	CHECK(ctr_parse_detach_keys("", k, sizeof(k)) < 0);
}

TEST(netdev_sum_skips_lo_and_junk)
{
	const char *text = "Inter-|   Receive                            "
	                   "                    |  Transmit\n"
	                   " face |bytes    packets errs drop fifo frame compressed multicast|"
	                   "bytes    packets errs drop fifo colls carrier compressed\n"
	                   "    lo:  999999      10    0    0    0     0          0         0"
	                   "   999999      10    0    0    0     0       0          0\n"
	                   "  eth0:    1500      12    0    0    0     0          0         0"
	                   "      700       8    0    0    0     0       0          0\n"
	                   "  eth1: 18446744073709551615 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n"
	                   "  bad: 12 x\n"
	                   "  eth2:99999999999999999999999 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0";
	uint64_t rx, tx;
	CHECK_INT_EQ(container_netdev_sum(text, strlen(text), &rx, &tx), 2);
	CHECK(rx == 1500 + 18446744073709551615ULL); /* wraps as Docker's uint64 sum */
	CHECK(tx == 705);
	CHECK_INT_EQ(container_netdev_sum("", 0, &rx, &tx), 0);
	CHECK(rx == 0 && tx == 0);
}

TEST(subid_ranges_by_name_or_number_stacked)
{
	const char *text = "alice:300000:65536\n"
	                   "# comment:1:1\n"
	                   "dockremap:200000:1000\n"
	                   "1234:100000:10\n"
	                   "dockremap:x:5\n"
	                   "dockremap:500000:0\n"
	                   "dockremap";
	json_t *m = NULL;
	/* sorted by start, container ids stacked (Docker's createIDMap) */
	CHECK_INT_EQ(ctr_subid_mappings(text, strlen(text), "dockremap", "1234", &m), 2);
	char *s = json_dump_compact(m);
	CHECK_STR_EQ(s, "[{\"containerID\":0,\"hostID\":100000,\"size\":10},"
	                "{\"containerID\":10,\"hostID\":200000,\"size\":1000}]");
	json_t *idm = json_pack("{s:O}", "uidMappings", m);
	CHECK(ctr_idmap_root(idm, "uidMappings") == 100000);
	json_decref(idm);
	free(s);
	json_decref(m);
	CHECK_INT_EQ(ctr_subid_mappings(text, strlen(text), "bob", "77", &m), 0);
	CHECK(m == NULL);
}
