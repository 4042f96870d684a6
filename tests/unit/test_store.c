/* Unit tests of src/store: layout, migrations, blobs, layers, staging. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "store/store.h"
#include "test.h"

static berth_store *open_tmp(void)
{
	_cleanup_free_ char *root = xasprintf("%s/root", test_tmpdir());
	_cleanup_free_ char *run = xasprintf("%s/run", test_tmpdir());
	berth_store *s = NULL;
	berth_error *e = NULL;
	if (store_open(root, run, &s, &e) < 0) {
		fprintf(stderr, "store_open: %s\n", e->msg);
		berth_error_free(e);
		return NULL;
	}
	return s;
}

static bool exists(const char *root, const char *rel)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	return lstat(p, &st) == 0;
}

static int count_entries(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	return n;
}

TEST(store_open_creates_layout)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	const char *r = store_root(s);
	CHECK(exists(r, "berth.db"));
	CHECK(exists(r, "blobs/sha256"));
	CHECK(exists(r, "layers"));
	CHECK(exists(r, "containers"));
	CHECK(exists(r, "volumes"));
	CHECK(exists(r, "tmp"));
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(s, "PRAGMA journal_mode", NULL);
	CHECK(st != NULL);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
}

/* A lazy handle (the start process's) has the store's paths at once and
 * opens the database only when something queries it; on a root that does
 * not exist it fails. */
TEST(store_open_lazy_opens_at_first_use)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	CHECK(store_exec(s, "CREATE TABLE lazy_t(v INTEGER); INSERT INTO lazy_t VALUES (7)",
	                 NULL) == 0);
	_cleanup_store_ berth_store *l = NULL;
	CHECK(store_open_lazy(store_root(s), store_runroot(s), &l, NULL) == 0);
	CHECK_STR_EQ(store_root(l), store_root(s));
	CHECK(store_rootfd(l) >= 0);
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(l, "SELECT v FROM lazy_t", NULL);
	CHECK(st != NULL);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK(sqlite3_column_int(st, 0) == 7);
	_cleanup_free_ char *gone = xasprintf("%s/no-such-root", test_tmpdir());
	berth_store *g = NULL;
	berth_error *e = NULL;
	CHECK(store_open_lazy(gone, gone, &g, &e) < 0);
	CHECK(g == NULL && e != NULL);
	berth_error_free(e);
}

TEST(store_migrate_versions)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	store_migration steps[] = {
	    {"CREATE TABLE t1(a INTEGER)"},
	    {"ALTER TABLE t1 ADD COLUMN b TEXT; CREATE TABLE t2(x)"},
	};
	_cleanup_error_ berth_error *e = NULL;
	CHECK(store_migrate(s, "testmod", steps, 1, &e) == 0);
	CHECK(store_table_exists(s, "t1"));
	CHECK(!store_table_exists(s, "t2"));
	CHECK(store_migrate(s, "testmod", steps, 2, &e) == 0);
	CHECK(store_table_exists(s, "t2"));
	/* idempotent */
	CHECK(store_migrate(s, "testmod", steps, 2, &e) == 0);
	/* a newer database is refused */
	CHECK(store_migrate(s, "testmod", steps, 1, &e) < 0);
	CHECK(e != NULL && e->code == BERTH_E_UNSUPPORTED);
	/* other modules are independent */
	store_migration other[] = {{"CREATE TABLE o1(z)"}};
	berth_error_clear(&e);
	CHECK(store_migrate(s, "othermod", other, 1, &e) == 0);
	/* a failing step rolls back the whole migration */
	store_migration bad[] = {{"CREATE TABLE o1(z)"},
	                         {"CREATE TABLE o2(z); CREATE TABLE nonsense("}};
	CHECK(store_migrate(s, "othermod", bad, 2, &e) < 0);
	CHECK(!store_table_exists(s, "o2"));
}

TEST(store_tx_cleanup_rolls_back)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	CHECK(store_exec(s, "CREATE TABLE t(a)", NULL) == 0);
	{
		_cleanup_tx_ berth_store *tx = NULL;
		CHECK(store_tx_begin(s, NULL) == 0);
		tx = s;
		CHECK(store_exec(s, "INSERT INTO t VALUES (1)", NULL) == 0);
	}
	CHECK(!store_in_tx(s));
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(s, "SELECT COUNT(*) FROM t", NULL);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	CHECK_INT_EQ(sqlite3_column_int(st, 0), 0);
}

TEST(store_blob_roundtrip)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	char d[DIGEST_STR_LEN + 1];
	_cleanup_error_ berth_error *e = NULL;
	CHECK(blob_put(s, "hello", 5, NULL, d, &e) == 0);
	CHECK_STR_EQ(d, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	CHECK(blob_exists(s, d));
	CHECK_INT_EQ(blob_size(s, d), 5);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	CHECK(blob_read(s, d, &data, &len, &e) == 0);
	CHECK_INT_EQ(len, 5);
	CHECK(memcmp(data, "hello", 5) == 0);
	CHECK(blob_remove(s, d, &e) == 0);
	CHECK(!blob_exists(s, d));
	CHECK(blob_open(s, d, &e) < 0);
	CHECK(e->code == BERTH_E_NOTFOUND);
}

TEST(store_blob_wrong_digest_leaves_nothing)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	const char *wrong =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	_cleanup_error_ berth_error *e = NULL;
	blob_writer *w = NULL;
	CHECK(blob_writer_new(s, &w, &e) == 0);
	CHECK(blob_writer_write(w, "abc", 3, &e) == 0);
	char d[DIGEST_STR_LEN + 1];
	CHECK(blob_writer_commit(w, wrong, d, &e) < 0);
	CHECK(e->code == BERTH_E_CORRUPT);
	blob_writer_free(w);
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", store_root(s));
	CHECK_INT_EQ(count_entries(blobs), 0);
	const char *stage = NULL;
	CHECK(store_staging(s, &stage, &e) >= 0);
	CHECK_INT_EQ(count_entries(stage), 0);
}

TEST(store_staging_swept_after_crash)
{
	_cleanup_free_ char *root = xasprintf("%s/root", test_tmpdir());
	_cleanup_free_ char *run = xasprintf("%s/run", test_tmpdir());
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", root);
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		berth_store *s = NULL;
		if (store_open(root, run, &s, NULL) < 0)
			_exit(1);
		blob_writer *w = NULL;
		if (blob_writer_new(s, &w, NULL) < 0 || blob_writer_write(w, "x", 1, NULL) < 0)
			_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	char c;
	CHECK(read(pfd[0], &c, 1) == 1);
	/* the live owner's staging survives another process's open */
	{
		_cleanup_store_ berth_store *s2 = NULL;
		CHECK(store_open(root, run, &s2, NULL) == 0);
		CHECK_INT_EQ(count_entries(tmp), 1);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	CHECK_INT_EQ(count_entries(tmp), 1);
	/* a creator killed between mkdtemp and its flock leaves ".new-*" */
	_cleanup_free_ char *half = xasprintf("%s/.new-abcdef", tmp);
	CHECK(mkdir(half, 0700) == 0);
	CHECK_INT_EQ(count_entries(tmp), 2);
	_cleanup_store_ berth_store *s3 = NULL;
	CHECK(store_open(root, run, &s3, NULL) == 0);
	CHECK_INT_EQ(count_entries(tmp), 0);
}

static const char *C1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
static const char *C2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

static int stage_layer(berth_store *s, const char *chain, const char *parent, const char *diff,
                       const char *file)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	if (layer_stage_new(s, &name, &fd, NULL) < 0)
		return -1;
	_cleanup_close_ int f = openat(fd, file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0)
		return -1;
	layer_info li = {0};
	memcpy(li.chain_id, chain, DIGEST_STR_LEN);
	memcpy(li.diff_id, diff, DIGEST_STR_LEN);
	if (parent)
		memcpy(li.parent, parent, DIGEST_STR_LEN);
	li.size = 10;
	_cleanup_tx_ berth_store *tx = NULL;
	if (store_lock(s, NULL) < 0)
		return -1;
	int r = -1;
	if (store_tx_begin(s, NULL) == 0) {
		tx = s;
		if (layer_store_adopt(s, name, &li, NULL) == 0 &&
		    layer_store_ref(s, chain, NULL) == 0 && store_tx_commit(s, NULL) == 0)
			r = 0;
		tx = NULL;
	}
	store_unlock(s);
	return r;
}

TEST(store_layers_refcount_and_gc)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	char blob[DIGEST_STR_LEN + 1];
	CHECK(blob_put(s, "layer-one", 9, NULL, blob, NULL) == 0);
	CHECK(stage_layer(s, C1, NULL, blob, "one") == 0);
	CHECK(stage_layer(s, C2, C1, C2, "two") == 0);
	CHECK(stage_layer(s, C1, NULL, blob, "dup") == 0); /* second ref, staged copy dropped */
	layer_info li;
	CHECK(layer_store_get(s, C1, &li, NULL) == 0);
	CHECK_INT_EQ(li.refcount, 2);
	CHECK_STR_EQ(li.diff_id, blob);
	/* a compressed form of C1's tar, recorded twice (one row) */
	char gz[DIGEST_STR_LEN + 1];
	CHECK(blob_put(s, "gz-of-layer-one", 15, NULL, gz, NULL) == 0);
	for (int i = 0; i < 2; i++) {
		CHECK(store_tx_begin(s, NULL) == 0);
		CHECK(layer_store_add_compressed(s, blob, gz, NULL) == 0);
		CHECK(store_tx_commit(s, NULL) == 0);
	}
	{
		_cleanup_strv_ char **comp = NULL;
		CHECK(layer_store_compressed(s, blob, &comp, NULL) == 0);
		CHECK_INT_EQ(strv_len(comp), 1);
		CHECK_STR_EQ(comp[0], gz);
		_cleanup_strv_ char **none = NULL;
		CHECK(layer_store_compressed(s, C2, &none, NULL) == 0);
		CHECK(none != NULL && none[0] == NULL);
	}
	_cleanup_free_ char *p1 = layer_store_path(s, C1);
	_cleanup_free_ char *one = xasprintf("%s/one", p1);
	_cleanup_free_ char *dup = xasprintf("%s/dup", p1);
	CHECK(access(one, F_OK) == 0);
	CHECK(access(dup, F_OK) != 0);
	/* an orphan directory (crash between rename and commit) */
	_cleanup_free_ char *orphan =
	    xasprintf("%s/layers/3333333333333333333333333333333333333333333333333333333333333333",
	              store_root(s));
	CHECK(mkdir(orphan, 0700) == 0);

	CHECK(store_tx_begin(s, NULL) == 0);
	CHECK(layer_store_unref(s, C1, NULL) == 0);
	CHECK(store_tx_commit(s, NULL) == 0);
	CHECK(store_lock(s, NULL) == 0);
	CHECK(layer_store_gc(s, NULL) == 0);
	store_unlock(s);
	CHECK(access(orphan, F_OK) != 0);
	CHECK(layer_store_exists(s, C1));
	CHECK(blob_exists(s, blob));
	CHECK(blob_exists(s, gz));

	CHECK(store_tx_begin(s, NULL) == 0);
	CHECK(layer_store_unref(s, C1, NULL) == 0);
	CHECK(store_tx_commit(s, NULL) == 0);
	CHECK(store_lock(s, NULL) == 0);
	CHECK(layer_store_gc(s, NULL) == 0);
	store_unlock(s);
	CHECK(!layer_store_exists(s, C1));
	CHECK(access(one, F_OK) != 0);
	CHECK(!blob_exists(s, blob));
	CHECK(!blob_exists(s, gz)); /* the compressed form went with it */
	{
		_cleanup_strv_ char **comp = NULL;
		CHECK(layer_store_compressed(s, blob, &comp, NULL) == 0);
		CHECK(comp[0] == NULL);
	}
	CHECK(layer_store_exists(s, C2));
}

TEST(store_blob_copy_range_in_kernel)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	_cleanup_error_ berth_error *e = NULL;
	/* a source file with the blob's bytes in the middle */
	_cleanup_free_ char *src = xasprintf("%s/src", test_tmpdir());
	char buf[3 * 4096];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7);
	CHECK(atomic_write(src, buf, sizeof(buf), 0644, false, &e) == 0);
	_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	char want[DIGEST_STR_LEN + 1];
	sha256_digest(buf + 100, 5000, want);

	/* an untrusted writer hashes what it writes: no kernel copy for it */
	blob_writer *w = NULL;
	CHECK(blob_writer_new(s, &w, &e) == 0);
	int64_t off = 100;
	CHECK(blob_writer_copy_range(w, fd, &off, 5000, &e) < 0);
	CHECK(strstr(e->msg, "trusted") != NULL);
	berth_error_clear(&e);
	blob_writer_free(w);

	CHECK(blob_writer_new(s, &w, &e) == 0);
	blob_writer_trust(w);
	blob_writer_no_fsync(w);
	off = 100;
	size_t total = 0;
	while (total < 5000) {
		ssize_t n = blob_writer_copy_range(w, fd, &off, 5000 - total, &e);
		CHECK(n > 0);
		total += (size_t)n;
	}
	CHECK_INT_EQ(off, 5100);
	CHECK_INT_EQ(blob_writer_size(w), 5000);
	/* past the end of the source: 0 */
	int64_t end = (int64_t)sizeof(buf);
	CHECK_INT_EQ(blob_writer_copy_range(w, fd, &end, 10, &e), 0);
	/* the copy reads back as written */
	_cleanup_close_ int rfd = blob_writer_reopen(w, &e);
	CHECK(rfd >= 0);
	char back[5000];
	CHECK_INT_EQ(pread(rfd, back, sizeof(back), 0), 5000);
	CHECK(memcmp(back, buf + 100, 5000) == 0);
	char d[DIGEST_STR_LEN + 1];
	CHECK(blob_writer_commit(w, want, d, &e) == 0);
	blob_writer_free(w);
	CHECK_STR_EQ(d, want);
	CHECK_INT_EQ(blob_size(s, want), 5000);
}

/* A process killed with the store lock between renaming files into place
 * and committing their records (or between a collection's commit and its
 * removals) leaves root/dirty: the next store_open (with the lock free)
 * removes the unrecorded layer directory and the tar-split without a layer
 * (it cannot give its bytes back); a live holder's files are left alone. */
TEST(store_killed_lock_holder_cleaned_up)
{
	_cleanup_free_ char *root = xasprintf("%s/root", test_tmpdir());
	_cleanup_free_ char *run = xasprintf("%s/run", test_tmpdir());
	const char *hex = "4444444444444444444444444444444444444444444444444444444444444444";
	_cleanup_free_ char *split = xasprintf("%s/blobs/tarsplit/%s", root, hex);
	_cleanup_free_ char *dir = xasprintf("%s/layers/%s", root, hex);
	_cleanup_free_ char *dirty = xasprintf("%s/dirty", root);
	int pfd[2], hold[2];
	CHECK(pipe(pfd) == 0);
	CHECK(pipe2(hold, O_CLOEXEC) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(hold[1]);
		berth_store *s = NULL;
		if (store_open(root, run, &s, NULL) < 0 || store_lock(s, NULL) < 0)
			_exit(1);
		_cleanup_free_ char *sd = xasprintf("%s/blobs/tarsplit", root);
		if (mkdir(sd, 0700) < 0 || mkdir(dir, 0700) < 0 ||
		    atomic_write(split, "BERTHTS1\0\0\0\0\0\0\0\0", 16, 0644, false, NULL) < 0)
			_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		/* until killed, or until the test process is gone (EOF) */
		if (read(hold[0], &hold[1], 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	close(hold[0]);
	char c;
	CHECK(read(pfd[0], &c, 1) == 1);
	close(pfd[0]);
	CHECK(access(dirty, F_OK) == 0);
	{
		/* the holder lives: its files stay */
		_cleanup_store_ berth_store *s2 = NULL;
		CHECK(store_open(root, run, &s2, NULL) == 0);
		CHECK(access(split, F_OK) == 0);
		CHECK(access(dir, F_OK) == 0);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(hold[1]);
	CHECK(access(dirty, F_OK) == 0);
	_cleanup_store_ berth_store *s3 = NULL;
	CHECK(store_open(root, run, &s3, NULL) == 0);
	CHECK(access(split, F_OK) != 0);
	CHECK(access(dir, F_OK) != 0);
	CHECK(access(dirty, F_OK) != 0);
	/* a normal lock leaves no mark behind */
	CHECK(store_lock(s3, NULL) == 0);
	CHECK(access(dirty, F_OK) == 0);
	store_unlock(s3);
	CHECK(access(dirty, F_OK) != 0);
}

/* The orphan collection keeps a compressed blob's tar-split (named by the
 * compressed digest) while layer_compressed ties it to a stored layer, and
 * removes it once that layer is gone. */
TEST(store_orphan_gc_keeps_compressed_splits)
{
	_cleanup_store_ berth_store *s = open_tmp();
	CHECK(s != NULL);
	const char *D = "sha256:5555555555555555555555555555555555555555555555555555555555555555";
	const char *X = "sha256:6666666666666666666666666666666666666666666666666666666666666666";
	CHECK(stage_layer(s, C1, NULL, D, "f") == 0);
	_cleanup_free_ char *sd = xasprintf("%s/blobs/tarsplit", store_root(s));
	mkdir(sd, 0700);
	_cleanup_free_ char *split = xasprintf("%s/%s", sd, X + 7);
	CHECK(atomic_write(split, "BERTHCS1\0\0\0\0\0\0\0\0", 16, 0644, false, NULL) == 0);
	CHECK(store_tx_begin(s, NULL) == 0);
	CHECK(layer_store_add_compressed(s, D, X, NULL) == 0);
	CHECK(store_tx_commit(s, NULL) == 0);
	CHECK(store_lock(s, NULL) == 0);
	CHECK(layer_store_gc_orphans(s, NULL) == 0);
	store_unlock(s);
	CHECK(access(split, F_OK) == 0);
	/* the layer goes: so does the split, as an orphan */
	CHECK(store_tx_begin(s, NULL) == 0);
	CHECK(layer_store_unref(s, C1, NULL) == 0);
	CHECK(store_tx_commit(s, NULL) == 0);
	CHECK(store_lock(s, NULL) == 0);
	CHECK(layer_store_gc(s, NULL) == 0);
	store_unlock(s);
	CHECK(access(split, F_OK) != 0);
}
