/* COPY and ADD: sources from the context (indexed, .dockerignore applied,
 * hashed for the cache key), from another stage or image (--from), from
 * URLs (ADD, libcurl, --checksum), from heredocs; local tar archives are
 * extracted by ADD. */
#include <ctype.h>
#define BERTH_LAZY_CURL
#include "base/lazylib.h"
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/builder.h"
#include "build/step.h"

/* ---- COPY / ADD ---- */

const df_heredoc *bs_heredoc_of(const df_instr *in, const char *word)
{
	if (!str_has_prefix(word, "<<"))
		return NULL;
	const char *n = word + 2;
	if (*n == '-')
		n++;
	_cleanup_free_ char *name = xstrdup(n);
	size_t l = strlen(name);
	if (l >= 2 && (name[0] == '"' || name[0] == '\'') && name[l - 1] == name[0]) {
		memmove(name, name + 1, l - 2);
		name[l - 2] = 0;
	}
	for (size_t i = 0; i < in->n_heredocs; i++)
		if (!strcmp(in->heredocs[i].name, name))
			return &in->heredocs[i];
	return NULL;
}

/* $VAR and ${VAR} in heredoc bodies (quotes kept, as BuildKit does). */
static char *expand_heredoc(sstate *st, const char *s)
{
	strbuf sb;
	sb_init(&sb);
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && p[1] == '$') {
			sb_appendc(&sb, '$');
			p++;
			continue;
		}
		if (*p != '$') {
			sb_appendc(&sb, *p);
			continue;
		}
		const char *q = p + 1;
		bool brace = *q == '{';
		if (brace)
			q++;
		const char *ns = q;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		if (q == ns || (brace && *q != '}')) {
			sb_appendc(&sb, '$');
			continue;
		}
		_cleanup_free_ char *name = xstrndup(ns, (size_t)(q - ns));
		const char *v = bld_lookup(st, name);
		if (v)
			sb_append(&sb, v);
		p = brace ? q : q - 1;
	}
	return sb_steal(&sb);
}

struct url_dl {
	char *path;
	char *name;
	char hash[DIGEST_STR_LEN + 1];
	long mtime;
};

static size_t curl_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	int fd = *(int *)ud;
	return write_all(fd, ptr, size * nmemb) < 0 ? 0 : size * nmemb;
}

static bool is_url(const char *s)
{
	return str_has_prefix(s, "http://") || str_has_prefix(s, "https://");
}

static int download(sstate *st, const char *url, struct url_dl *d, berth_error **err)
{
	builder *b = st->b;
	const char *sp = NULL;
	pthread_mutex_lock(&b->mu);
	int sfd = store_staging(b->s, &sp, err);
	_cleanup_free_ char *name = sfd >= 0 ? store_staging_name(b->s, "url") : NULL;
	pthread_mutex_unlock(&b->mu);
	if (sfd < 0)
		return -1;
	d->path = xasprintf("%s/%s", sp, name);
	_cleanup_close_ int fd = open(d->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return berth_err_sys(err, errno, "creating %s", d->path);
	CURL *c = curl_easy_init();
	if (c == NULL)
		return berth_err(err, BERTH_E_GENERIC, "curl init failed");
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &fd);
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-build");
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	long ft = -1;
	curl_easy_getinfo(c, CURLINFO_FILETIME, &ft);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return berth_err(err, BERTH_E_NETWORK, "failed to download %s: %s", url,
		                 *ebuf ? ebuf : curl_easy_strerror(rc));
	d->mtime = ft;
	if (lseek(fd, 0, SEEK_SET) < 0 || sha256_fd(fd, d->hash, err) < 0)
		return -1;
	/* the file name: the URL path's last segment */
	_cleanup_free_ char *u = xstrdup(url);
	u[strcspn(u, "?#")] = 0;
	const char *slash = strrchr(u + 8, '/');
	d->name = xstrdup(slash && slash[1] ? slash + 1 : "index.html");
	return 0;
}

typedef struct copy_src {
	int kind; /* 0 context roots, 1 url, 2 heredoc, 3 from-image path */
	char *arg; /* as expanded */
	size_t *roots;
	size_t n_roots;
	struct url_dl dl;
	const df_heredoc *hd;
	char *content;
} copy_src;

static void copy_srcs_free(copy_src *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].arg);
		free(v[i].roots);
		if (v[i].dl.path)
			unlink(v[i].dl.path);
		free(v[i].dl.path);
		free(v[i].dl.name);
		free(v[i].content);
	}
	free(v);
}

/* One source entry: into the streaming key digest and/or the files map. */
static void hash_entry(build_context *c, size_t i, json_t *files, sha256_ctx *h)
{
	ctx_entry *e = &c->v[i];
	char val[DIGEST_STR_LEN + 64];
	if (S_ISREG(e->st.st_mode))
		snprintf(val, sizeof(val), "%o %s", e->st.st_mode, e->hash);
	else if (S_ISLNK(e->st.st_mode))
		snprintf(val, sizeof(val), "%o -> %.*s", e->st.st_mode, DIGEST_STR_LEN,
		         e->link ? e->link : "");
	else
		snprintf(val, sizeof(val), "%o", e->st.st_mode);
	if (files)
		json_object_set_new(files, e->path, json_string(val));
	if (h) {
		/* path NUL val LF, in one update when it fits */
		size_t pl = strlen(e->path) + 1, vl = strlen(val);
		char one[512];
		if (pl + vl + 1 <= sizeof(one)) {
			memcpy(one, e->path, pl);
			memcpy(one + pl, val, vl);
			one[pl + vl] = '\n';
			sha256_update(h, one, pl + vl + 1);
		} else {
			sha256_update(h, e->path, pl);
			sha256_update(h, val, vl);
			sha256_update(h, "\n", 1);
		}
	}
}

/* The context entries of a source (its roots and everything below them). */
static int each_context_entry(build_context *c, const size_t *roots, size_t n, json_t *files,
                              sha256_ctx *h, berth_error **err)
{
	for (size_t k = 0; k < n; k++) {
		size_t root = roots[k];
		if (root != SIZE_MAX) {
			if (context_hash(c, root, err) < 0)
				return -1;
			hash_entry(c, root, files, h);
		}
		if (!(root == SIZE_MAX || S_ISDIR(c->v[root].st.st_mode)))
			continue;
		size_t first, end;
		context_children(c, root, &first, &end);
		for (size_t e = first; e < end; e++) {
			if (context_hash(c, e, err) < 0)
				return -1;
			hash_entry(c, e, files, h);
		}
	}
	return 0;
}

static bool root_is_dir(build_context *c, size_t r)
{
	return r == SIZE_MAX || S_ISDIR(c->v[r].st.st_mode);
}

static int parse_chmod(const char *s, int *mode, berth_error **err)
{
	char *end = NULL;
	long m = strtol(s, &end, 8);
	if (!*s || *end || m < 0 || m > 07777)
		return berth_err(err, BERTH_E_INVALID, "invalid chmod parameter: %s", s);
	*mode = (int)m;
	return 0;
}

static bool dest_is_dir(int rootfd, const char *dest)
{
	if (str_has_suffix(dest, "/"))
		return true;
	_cleanup_close_ int fd =
	    open_in_root(rootfd, dest, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, NULL);
	return fd >= 0;
}

static char *join_dest(const char *dest, const char *name)
{
	return xasprintf("%s%s%s", dest, str_has_suffix(dest, "/") ? "" : "/", name);
}

static int copy_context_root(builder *b, steproot *r, size_t root, const char *dest, bool add,
                             bool multi, const copy_attrs *a, berth_error **err)
{
	build_context *c = b->ctx;
	if (root_is_dir(c, root)) {
		if (build_mkdir_root(r->rootfd, dest, a, err) < 0)
			return -1;
		size_t first, end;
		context_children(c, root, &first, &end);
		size_t plen = root == SIZE_MAX ? 0 : strlen(c->v[root].path) + 1;
		/* directories created so far (relative to dest) and their fds: the
		 * entries are sorted, so a parent always comes before its children */
		size_t nd = 1, cap = 16;
		char **dn = xcalloc(cap, sizeof(char *));
		int *dfd = xcalloc(cap, sizeof(int));
		size_t *didx = xcalloc(cap, sizeof(size_t));
		dn[0] = xstrdup("");
		didx[0] = SIZE_MAX;
		dfd[0] = open_in_root(r->rootfd, dest, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, err);
		int rc = dfd[0] < 0 ? -1 : 0;
		for (size_t i = first; i < end && rc == 0; i++) {
			ctx_entry *e = &c->v[i];
			const char *rel = e->path + plen;
			const char *slash = strrchr(rel, '/');
			size_t pl = slash ? (size_t)(slash - rel) : 0;
			const char *name = slash ? slash + 1 : rel;
			int pfd = -1;
			for (size_t k = nd; k-- > 0;)
				if (strlen(dn[k]) == pl && !strncmp(dn[k], rel, pl)) {
					pfd = dfd[k];
					break;
				}
			if (pfd < 0) {
				rc = berth_err(err, BERTH_E_IO, "copying %s: parent missing",
				               e->path);
				break;
			}
			_cleanup_close_ int fd = -1;
			if (S_ISREG(e->st.st_mode)) {
				fd = openat(c->dirfd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				if (fd < 0) {
					rc = berth_err_sys(err, errno, "reading %s", e->path);
					break;
				}
			}
			if (build_put_at(pfd, name, fd, &e->st, e->link, a, err) < 0) {
				rc = berth_err_prefix(err, "%s", e->path);
				break;
			}
			if (S_ISDIR(e->st.st_mode)) {
				int nfd = openat(pfd, name,
				                 O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (nfd < 0) {
					rc = berth_err_sys(err, errno, "opening %s", rel);
					break;
				}
				if (nd == cap) {
					cap *= 2;
					dn = xreallocarray(dn, cap, sizeof(char *));
					dfd = xreallocarray(dfd, cap, sizeof(int));
					didx = xreallocarray(didx, cap, sizeof(size_t));
				}
				dn[nd] = xstrdup(rel);
				didx[nd] = i;
				dfd[nd++] = nfd;
			}
		}
		/* directory mtimes, after their children were written */
		for (size_t k = nd; k-- > 1;) {
			if (rc == 0) {
				struct timespec t[2] = {c->v[didx[k]].st.st_atim,
				                        c->v[didx[k]].st.st_mtim};
				_cleanup_free_ char *pp = xasprintf("/proc/self/fd/%d", dfd[k]);
				utimensat(AT_FDCWD, pp, t, 0);
			}
		}
		for (size_t k = 0; k < nd; k++) {
			free(dn[k]);
			if (dfd[k] >= 0)
				close(dfd[k]);
		}
		free(dn);
		free(dfd);
		free(didx);
		return rc;
	}
	ctx_entry *e = &c->v[root];
	_cleanup_close_ int fd = -1;
	if (S_ISREG(e->st.st_mode)) {
		fd = openat(c->dirfd, e->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return berth_err_sys(err, errno, "reading %s", e->path);
		if (add && build_is_archive(fd))
			return build_extract_archive(fd, r->rootfd, dest, a, err);
	}
	const char *base = strrchr(e->path, '/') ? strrchr(e->path, '/') + 1 : e->path;
	_cleanup_free_ char *d =
	    multi || dest_is_dir(r->rootfd, dest) ? join_dest(dest, base) : xstrdup(dest);
	return build_put_entry(r->rootfd, d, fd, &e->st, e->link, a, err);
}

/* Sources of COPY --from in a view: wildcards in the last component. */
static int from_sources(int rootfd, const char *src, char ***out, berth_error **err)
{
	_cleanup_free_ char *clean = bs_abs_clean(src);
	const char *base = strrchr(clean, '/') + 1;
	if (!strpbrk(base, "*?[")) {
		_cleanup_close_ int fd = open_in_root(rootfd, clean, O_PATH | O_CLOEXEC, 0, NULL);
		if (fd < 0)
			return berth_err(err, BERTH_E_NOTFOUND,
			                 "failed to compute cache key: \"%s\": not found", clean);
		*out = strv_append(*out, clean);
		return 0;
	}
	_cleanup_free_ char *dir = xstrndup(clean, (size_t)(base - clean));
	int dfd = open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, err);
	if (dfd < 0)
		return -1;
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return berth_err_sys(err, errno, "reading %s", dir);
	}
	struct dirent *de;
	char **found = NULL;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fnmatch(base, de->d_name, FNM_PATHNAME) == 0) {
			_cleanup_free_ char *p = xasprintf("%s%s", dir, de->d_name);
			found = strv_append(found, p);
		}
	}
	if (found == NULL)
		return berth_err(err, BERTH_E_NOTFOUND, "no source files were specified: %s",
		                 clean);
	for (char **p = found; *p; p++)
		*out = strv_append(*out, *p);
	strv_free(found);
	return 0;
}

int bld_copy(sstate *st, const df_instr *in, bool add, berth_error **err)
{
	builder *b = st->b;
	bs_step sp;
	bs_step_begin(st, in, &sp);
	const char *kw = add ? "ADD" : "COPY";
	bool failed = false;
	_cleanup_free_ char *from = bs_expand_flag(st, in, "from", err, &failed);
	if (failed)
		return bs_fail_at(st, in, err);
	_cleanup_free_ char *chown = bs_expand_flag(st, in, "chown", err, &failed);
	if (failed)
		return bs_fail_at(st, in, err);
	_cleanup_free_ char *chmod_s = bs_expand_flag(st, in, "chmod", err, &failed);
	if (failed)
		return bs_fail_at(st, in, err);
	_cleanup_free_ char *checksum = bs_expand_flag(st, in, "checksum", err, &failed);
	if (failed)
		return bs_fail_at(st, in, err);
	if (df_flag(in, "exclude")) {
		berth_err(err, BERTH_E_UNSUPPORTED, "%s --exclude is not supported", kw);
		return bs_fail_at(st, in, err);
	}
	copy_attrs a = {.chmod = -1, .as_root = geteuid() == 0};
	if (chmod_s && parse_chmod(chmod_s, &a.chmod, err) < 0)
		return bs_fail_at(st, in, err);
	_cleanup_strv_ char **words = NULL;
	for (char **w = in->args; w && *w; w++) {
		if (!in->exec_form && bs_heredoc_of(in, *w)) {
			words = strv_append(words, *w);
			continue;
		}
		_cleanup_free_ char *x = NULL;
		if (bs_expand(st, *w, &x, err) < 0)
			return bs_fail_at(st, in, err);
		words = strv_append(words, x);
	}
	size_t nw = strv_len(words);
	if (nw < 2) {
		berth_err(err, BERTH_E_INVALID, "%s requires at least two arguments", kw);
		return bs_fail_at(st, in, err);
	}
	_cleanup_free_ char *dest_j = bs_workdir_join(st, words[nw - 1]);
	/* keep a trailing slash: it means "a directory" */
	_cleanup_free_ char *dest0 = bs_abs_clean(dest_j);
	_cleanup_free_ char *dest = str_has_suffix(words[nw - 1], "/") && strcmp(dest0, "/")
	                                ? xasprintf("%s/", dest0)
	                                : xstrdup(dest0);
	/* the sources, and what the cache key covers */
	_cleanup_json_ json_t *files = json_object();
	_cleanup_sha256_ sha256_ctx *fh = sha256_new();
	char files_digest[DIGEST_STR_LEN + 1];
	size_t ns = nw - 1;
	copy_src *srcs = xcalloc(ns, sizeof(*srcs));
	size_t total_roots = 0;
	int rc = -1;
	bstage *fstage = NULL;
	char from_id[DIGEST_STR_LEN + 1] = "";
	_cleanup_strv_ char **from_chain = NULL;
	image_config *from_cfg = NULL;
	roview view = {.rootfd = -1};
	steproot r = {.rootfd = -1};
	_cleanup_json_ json_t *detail = NULL;
	_cleanup_free_ char *canon = NULL;
	if (from) {
		bool sfailed = false;
		fstage = bld_stage_ref(b, from, st->stage->idx, err, &sfailed);
		if (sfailed)
			goto out;
		if (fstage) {
			memcpy(from_id, fstage->image_id, sizeof(from_id));
			from_chain = strv_dup(fstage->chain_ids);
		} else {
			/* an image; a name that looks like a later stage is an error */
			for (size_t k = 0; k < b->n_stages; k++)
				if (b->stages[k].name && !strcasecmp(b->stages[k].name, from)) {
					berth_err(
					    err, BERTH_E_INVALID,
					    "%s --from=%s: stage \"%s\" is not defined before this "
					    "instruction",
					    kw, from, from);
					goto out;
				}
			if (bld_image(b, from, from_id, &from_cfg, &from_chain, err) < 0) {
				berth_err_prefix(err, "%s --from=%s", kw, from);
				goto out;
			}
		}
		if (!from_chain)
			from_chain = xcalloc(1, sizeof(char *));
		a.keep_owner = true;
	}
	for (size_t i = 0; i < ns; i++) {
		copy_src *s = &srcs[i];
		s->arg = xstrdup(words[i]);
		const df_heredoc *hd = in->exec_form ? NULL : bs_heredoc_of(in, words[i]);
		if (hd) {
			s->kind = 2;
			s->hd = hd;
			s->content =
			    hd->expand ? expand_heredoc(st, hd->content) : xstrdup(hd->content);
			char h[DIGEST_STR_LEN + 1];
			sha256_digest(s->content, strlen(s->content), h);
			_cleanup_free_ char *k = xasprintf("<<%s", hd->name);
			json_object_set_new(files, k, json_string(h));
			sha256_update(fh, k, strlen(k) + 1);
			sha256_update(fh, h, strlen(h));
			total_roots++;
		} else if (from) {
			s->kind = 3;
			total_roots++;
		} else if (is_url(words[i])) {
			if (!add) {
				berth_err(err, BERTH_E_INVALID, "source can't be a URL for COPY");
				goto out;
			}
			s->kind = 1;
			if (download(st, words[i], &s->dl, err) < 0)
				goto out;
			if (checksum && strcmp(checksum, s->dl.hash)) {
				berth_err(err, BERTH_E_CORRUPT, "digest mismatch %s: %s",
				          s->dl.hash, checksum);
				goto out;
			}
			json_object_set_new(files, words[i], json_string(s->dl.hash));
			sha256_update(fh, words[i], strlen(words[i]) + 1);
			sha256_update(fh, s->dl.hash, strlen(s->dl.hash));
			total_roots++;
		} else {
			if (checksum) {
				berth_err(err, BERTH_E_INVALID,
				          "checksum can't be specified for non-HTTP(S) sources");
				goto out;
			}
			s->kind = 0;
			if (context_match(b->ctx, words[i], &s->roots, &s->n_roots, err) < 0)
				goto out;
			total_roots += s->n_roots;
			if (each_context_entry(b->ctx, s->roots, s->n_roots, NULL, fh, err) < 0)
				goto out;
		}
	}
	if (total_roots > 1 && !str_has_suffix(dest, "/")) {
		berth_err(err, BERTH_E_INVALID,
		          "When using %s with more than one source file, the destination must be a "
		          "directory and end with a /",
		          kw);
		goto out;
	}
	{
		strbuf cb;
		sb_init(&cb);
		sb_append(&cb, kw);
		if (from)
			sb_printf(&cb, " --from=%s", from);
		if (chown)
			sb_printf(&cb, " --chown=%s", chown);
		if (chmod_s)
			sb_printf(&cb, " --chmod=%s", chmod_s);
		for (size_t i = 0; i < ns; i++)
			sb_printf(&cb, " %s", srcs[i].arg);
		sb_printf(&cb, " %s", dest);
		canon = sb_steal(&cb);
	}
	/* the key covers a digest of the sources; the full list of files goes
	 * into the entry only when the step is built (it says what changed) */
	sha256_final(fh, files_digest);
	char key[DIGEST_STR_LEN + 1];
	{
		_cleanup_json_ json_t *kd = json_pack("{s:s,s:s,s:s}", "instr", canon, "files",
		                                      files_digest, "extra", from_id);
		bs_make_key(st->parent, kd, key);
	}
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		goto out;
	if (hit) {
		bld_event(b, BUILD_EV_CACHED, sp.vertex, NULL, 0);
		bs_step_end(st, &sp);
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < ns; i++)
		if (srcs[i].kind == 0 && each_context_entry(b->ctx, srcs[i].roots, srcs[i].n_roots,
		                                            files, NULL, err) < 0)
			goto out;
	detail = json_pack("{s:s,s:O,s:s}", "instr", canon, "files", files, "extra", from_id);
	bs_report_miss(st, &sp, detail);
	if (bld_mount(st, &r, err) < 0)
		goto out;
	if (chown) {
		a.chown = true;
		if (build_lookup_user(r.rootfd, chown, &a.uid, &a.gid, NULL, NULL, NULL, err) < 0)
			goto out;
	}
	if (from && bld_view(b, from_chain, &view, err) < 0)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		copy_src *s = &srcs[i];
		if (s->kind == 0) {
			for (size_t k = 0; k < s->n_roots; k++)
				if (copy_context_root(b, &r, s->roots[k], dest, add,
				                      total_roots > 1, &a, err) < 0)
					goto out;
		} else if (s->kind == 1) {
			_cleanup_close_ int fd = open(s->dl.path, O_RDONLY | O_CLOEXEC);
			struct stat fst;
			if (fd < 0 || fstat(fd, &fst) < 0) {
				berth_err_sys(err, errno, "reading %s", s->dl.path);
				goto out;
			}
			fst.st_mode = S_IFREG | 0600;
			if (s->dl.mtime > 0) {
				fst.st_mtim.tv_sec = s->dl.mtime;
				fst.st_mtim.tv_nsec = 0;
			}
			_cleanup_free_ char *d = dest_is_dir(r.rootfd, dest)
			                             ? join_dest(dest, s->dl.name)
			                             : xstrdup(dest);
			if (build_put_entry(r.rootfd, d, fd, &fst, NULL, &a, err) < 0)
				goto out;
		} else if (s->kind == 2) {
			struct stat fst = {.st_mode = S_IFREG | 0644};
			clock_gettime(CLOCK_REALTIME, &fst.st_mtim);
			fst.st_atim = fst.st_mtim;
			_cleanup_close_ int mfd = memfd_create("heredoc", MFD_CLOEXEC);
			if (mfd < 0 || write_all(mfd, s->content, strlen(s->content)) < 0 ||
			    lseek(mfd, 0, SEEK_SET) < 0) {
				berth_err_sys(err, errno, "heredoc");
				goto out;
			}
			_cleanup_free_ char *d = dest_is_dir(r.rootfd, dest)
			                             ? join_dest(dest, s->hd->name)
			                             : xstrdup(dest);
			if (build_put_entry(r.rootfd, d, mfd, &fst, NULL, &a, err) < 0)
				goto out;
		} else {
			_cleanup_strv_ char **paths = NULL;
			if (from_sources(view.rootfd, s->arg, &paths, err) < 0)
				goto out;
			bool multi = total_roots > 1 || strv_len(paths) > 1;
			for (char **p = paths; *p; p++) {
				_cleanup_close_ int fd =
				    open_in_root(view.rootfd, *p, O_PATH | O_CLOEXEC, 0, err);
				struct stat fst;
				if (fd < 0 || fstat(fd, &fst) < 0)
					goto out;
				_cleanup_free_ char *d = NULL;
				if (S_ISDIR(fst.st_mode))
					d = xstrdup(dest);
				else if (multi || dest_is_dir(r.rootfd, dest))
					d = join_dest(dest, strrchr(*p, '/') + 1);
				else
					d = xstrdup(dest);
				if (build_copy_tree(view.rootfd, *p, r.rootfd, d, &a, err) < 0)
					goto out;
			}
		}
	}
	{
		/* created_by as Docker's classic builder writes it */
		const char *h = files_digest;
		const char *k = total_roots > 1 ? "multi"
		                : (ns == 1 && srcs[0].kind == 0 && srcs[0].n_roots == 1 &&
		                   root_is_dir(b->ctx, srcs[0].roots[0]))
		                    ? "dir"
		                    : "file";
		_cleanup_free_ char *what =
		    from ? xasprintf("%s --from=%s %s:%s in %s ", kw, from, k, digest_hex(h), dest)
		         : xasprintf("%s %s:%s in %s ", kw, k, digest_hex(h), dest);
		_cleanup_strv_ char **sh = bld_shell(st);
		_cleanup_free_ char *shj = strv_join(sh, " ");
		_cleanup_free_ char *cb = xasprintf("%s #(nop) %s", shj, what);
		if (bs_fs_commit(st, &sp, &r, cb, key, detail, err) < 0)
			goto out;
	}
	bs_step_end(st, &sp);
	rc = 0;
out:
	bld_view_clear(b, &view);
	bld_steproot_clear(b, &r);
	image_config_free(from_cfg);
	copy_srcs_free(srcs, ns);
	free(sp.ident);
	if (rc < 0)
		return bs_fail_at(st, in, err);
	return 0;
}
