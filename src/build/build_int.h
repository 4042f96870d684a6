/* Internals of the builder (src/build only). */
#ifndef BERTH_BUILD_BUILD_INT_H
#define BERTH_BUILD_BUILD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/digest.h"
#include "base/error.h"
#include "base/json.h"
#include "build/build.h"
#include "build/dockerignore.h"
#include "store/store.h"

/* ---- context.c: the build context, indexed once ---- */

typedef struct ctx_entry {
	char *path; /* relative, cleaned ("a/b"); "" is never stored */
	struct stat st; /* lstat */
	char *link; /* symlink target, else NULL */
	char hash[DIGEST_STR_LEN + 1]; /* content hash of a regular file, "" until computed */
	bool fresh; /* hashed by this build (to remember) */
	int64_t recorded; /* when a remembered hash was taken (ns since the epoch) */
} ctx_entry;

typedef struct build_context {
	char *dir; /* the context directory (possibly extracted from a tar) */
	int dirfd;
	char *extracted; /* staging name when extracted from a tar */
	ctx_entry *v; /* sorted by path */
	size_t n;
	pthread_mutex_t lock; /* lazy hashing */
	char *abs; /* realpath of dir, for the hash cache (NULL: no cache) */
} build_context;

/* Index dir (every path not excluded by di). */
int context_open_dir(const char *dir, const dockerignore *di, build_context **out,
                     berth_error **err);
/* Extract a tar stream into staging and index it (the Dockerfile and the
 * ignore file are read by the caller from out->dir before filtering, so
 * the index is made by context_index). */
int context_extract_tar(berth_store *s, int fd, char **dir, char **staged_name, berth_error **err);
void context_free(berth_store *s, build_context *c);

/* Sources of COPY/ADD: the entries a source argument names (wildcards
 * matched per path component). Returns indices of the roots matched
 * (files or directories; SIZE_MAX for the whole context). */
int context_match(build_context *c, const char *src, size_t **roots, size_t *n, berth_error **err);
/* Range [*first, *end) of the entries below root (exclusive of root). */
void context_children(build_context *c, size_t root, size_t *first, size_t *end);
/* Content hash of entry i (computed once). */
int context_hash(build_context *c, size_t i, berth_error **err);
/* The stat-keyed hash cache (a file per context directory in the store):
 * fill hashes of files whose stat (device, inode, size, mtime, ctime,
 * mode) is unchanged since they were hashed; remember fresh ones. */
void context_load_hashes(build_context *c, berth_store *s);
void context_save_hashes(build_context *c, berth_store *s);

/* ---- fsops.c: copying into a root, users, archives ---- */

typedef struct copy_attrs {
	bool chown; /* set uid/gid (else 0:0 for context files, kept for --from) */
	uid_t uid;
	gid_t gid;
	bool keep_owner; /* --from: keep the source's owners */
	int chmod; /* -1: keep the source's mode */
	bool as_root; /* we run as root: new files are 0:0 already */
} copy_attrs;

/* Resolve "user[:group]" (names or numbers) against rootfd's /etc/passwd
 * and /etc/group. home may be NULL. Docker's rules: a missing user name is
 * an error; a numeric uid need not exist; gid defaults to the user's. */
int build_lookup_user(int rootfd, const char *spec, uid_t *uid, gid_t *gid, gid_t **groups,
                      size_t *n_groups, char **home, berth_error **err);

/* Create (or replace) one filesystem object at dest (a path inside rootfd,
 * absolute or relative to "/") shaped as st, with src_fd's bytes for a
 * regular file (-1: empty) and link for a symlink. Directories are created
 * or merged (not recursed). */
int build_put_entry(int rootfd, const char *dest, int src_fd, const struct stat *st,
                    const char *link, const copy_attrs *a, berth_error **err);
/* The same, relative to an open parent directory (no path resolution). */
int build_put_at(int pfd, const char *name, int src_fd, const struct stat *st, const char *link,
                 const copy_attrs *a, berth_error **err);
/* Recursively copy srcroot's path src (confined to srcroot) to dest in
 * dstroot. contents: when src is a directory copy what is inside it. */
int build_copy_tree(int srcroot, const char *src, int dstroot, const char *dest,
                    const copy_attrs *a, berth_error **err);
/* mkdir -p inside the root (confined); owner applied to created dirs. */
int build_mkdir_root(int rootfd, const char *path, const copy_attrs *a, berth_error **err);
/* Is the file fd a tar archive (plain, gzip, bzip2, xz, zstd)? */
bool build_is_archive(int fd);
/* Extract an archive fd into dest (a dir inside rootfd), confined. */
int build_extract_archive(int fd, int rootfd, const char *dest, const copy_attrs *a,
                          berth_error **err);

/* ---- run.c: RUN steps as containers ---- */

typedef struct run_mount {
	char *type; /* bind, cache, tmpfs, secret */
	char *target;
	char *source; /* host path (bind source, cache dir, secret file) */
	bool readonly;
} run_mount;

typedef struct run_spec {
	char **args;
	char **env;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t n_groups;
	const char *network; /* default, none, host */
	run_mount *mounts;
	size_t n_mounts;
	const char *state_root;
	const char *id;
	/* every output line goes here */
	void (*line)(void *ud, const char *line);
	void *line_ud;
} run_spec;

/* Run the process in rootfs (a mounted overlay). *exit_code gets its exit
 * status (128+signal when killed). Mount points the runtime had to create
 * are listed in *created (paths relative to the root) for the caller to
 * remove from the layer. */
int build_run_process(const char *rootfs, const run_spec *r, int *exit_code, char ***created,
                      char **tail, berth_error **err);
/* Remove the runtime state of build containers whose builder is gone. */
void build_reap_orphans(const char *state_root);

/* ---- cache.c ---- */

typedef struct build_cache_hit {
	char image_id[DIGEST_STR_LEN + 1];
} build_cache_hit;

/* *stmt: the prepared lookup, kept between calls (NULL at first; the
 * caller finalizes it). */
int build_cache_get(berth_store *s, sqlite3_stmt **stmt, const char *key,
                    char image_id[DIGEST_STR_LEN + 1], berth_error **err);
int build_cache_put(berth_store *s, const char *key, const char *image_id, const char *parent,
                    const char *ident, const json_t *detail, berth_error **err);
/* Why did key miss? A sentence, from the last entry with the same parent
 * and instruction. */
char *build_cache_why(berth_store *s, const char *parent, const char *ident, const json_t *detail);

#endif
