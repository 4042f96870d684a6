/* RUN: the command (shell or exec form, heredocs), its environment (ENV,
 * then build args), --mount (cache, bind, secret, tmpfs), --network, and a
 * container on the step's overlay root (run.c). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/builder.h"
#include "build/spec.h"
#include "build/step.h"

/* ---- RUN ---- */

static const char *const proxy_args[] = {"ALL_PROXY",   "FTP_PROXY", "HTTPS_PROXY", "HTTP_PROXY",
                                         "NO_PROXY",    "all_proxy", "ftp_proxy",   "http_proxy",
                                         "https_proxy", "no_proxy"};

static bool is_proxy_arg(const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++)
		if (!strcmp(proxy_args[i], k))
			return true;
	return false;
}

/* --secret id=x,src=path | id=x,env=VAR | id=x (env var x or file x) */
static char *secret_source(builder *b, const char *id, char **tmp, berth_error **err)
{
	for (char **s = b->o->secrets; s && *s; s++) {
		_cleanup_free_ char *sid = NULL, *src = NULL, *env = NULL;
		if (build_secret_parse(*s, &sid, &src, &env, err) < 0)
			return NULL;
		if (!sid || strcmp(sid, id))
			continue;
		if (src)
			return realpath(src, NULL);
		const char *val = getenv(env ? env : id);
		if (val == NULL)
			return NULL;
		const char *sp = NULL;
		pthread_mutex_lock(&b->mu);
		int sfd = store_staging(b->s, &sp, err);
		_cleanup_free_ char *name = sfd >= 0 ? store_staging_name(b->s, "secret") : NULL;
		pthread_mutex_unlock(&b->mu);
		if (sfd < 0)
			return NULL;
		*tmp = xasprintf("%s/%s", sp, name);
		if (atomic_write(*tmp, val, strlen(val), 0400, false, err) < 0)
			return NULL;
		return xstrdup(*tmp);
	}
	return NULL;
}

struct line_ctx {
	builder *b;
	int v;
	struct timespec *t0;
};

static void line_cb(void *ud, const char *line)
{
	struct line_ctx *lc = ud;
	bld_event(lc->b, BUILD_EV_OUTPUT, lc->v, line, bs_elapsed(lc->t0));
}

int bld_run(sstate *st, const df_instr *in, berth_error **err)
{
	builder *b = st->b;
	bs_step sp;
	bs_step_begin(st, in, &sp);
	int rc = -1;
	_cleanup_free_ char *network = NULL;
	bool failed = false;
	network = bs_expand_flag(st, in, "network", err, &failed);
	if (failed)
		return bs_fail_at(st, in, err);
	if (!network)
		network = xstrdup(b->o->network && *b->o->network ? b->o->network : "default");
	if (strcmp(network, "default") && strcmp(network, "none") && strcmp(network, "host")) {
		berth_err(err, BERTH_E_INVALID,
		          "unsupported network mode \"%s\" (default, none, host)", network);
		return bs_fail_at(st, in, err);
	}
	if (df_flag(in, "security") && strcmp(df_flag(in, "security"), "sandbox")) {
		berth_err(err, BERTH_E_UNSUPPORTED, "RUN --security=%s is not supported",
		          df_flag(in, "security"));
		return bs_fail_at(st, in, err);
	}
	/* the command */
	_cleanup_strv_ char **args = NULL;
	if (in->exec_form) {
		args = strv_dup(in->args);
	} else {
		args = bld_shell(st);
		const char *text = in->args && in->args[0] ? in->args[0] : "";
		if (in->n_heredocs == 1 && bs_heredoc_of(in, text)) {
			args = strv_append(args, in->heredocs[0].content);
		} else if (in->n_heredocs) {
			strbuf sb;
			sb_init(&sb);
			sb_append(&sb, text);
			sb_appendc(&sb, '\n');
			for (size_t i = 0; i < in->n_heredocs; i++)
				sb_printf(&sb, "%s%s\n", in->heredocs[i].content,
				          in->heredocs[i].name);
			_cleanup_free_ char *t = sb_steal(&sb);
			args = strv_append(args, t);
		} else {
			args = strv_append(args, text);
		}
	}
	/* the environment: config Env, then build args that ENV does not override */
	_cleanup_strv_ char **env = strv_dup(st->cfg->config.env);
	_cleanup_json_ json_t *argmap = json_object();
	_cleanup_strv_ char **used = NULL;
	for (size_t i = 0; i < st->n_args; i++) {
		if (!st->arg_vals[i] || bs_env_get(env, st->arg_keys[i]))
			continue;
		env = bs_env_set(env, st->arg_keys[i], st->arg_vals[i]);
		if (!is_proxy_arg(st->arg_keys[i])) {
			json_object_set_new(argmap, st->arg_keys[i], json_string(st->arg_vals[i]));
			_cleanup_free_ char *kv =
			    xasprintf("%s=%s", st->arg_keys[i], st->arg_vals[i]);
			used = strv_append(used, kv);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++) {
		const char *v = bld_build_arg(b, proxy_args[i]);
		if (v && !bs_env_get(env, proxy_args[i]))
			env = bs_env_set(env, proxy_args[i], v);
	}
	if (!bs_env_get(env, "PATH"))
		env = bs_env_set(env, "PATH",
		                 "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	/* mounts */
	_cleanup_strv_ char **mspecs = df_flag_all(in, "mount");
	size_t nm = strv_len(mspecs);
	build_mount_spec *mr = xcalloc(nm + 1, sizeof(*mr));
	run_mount *rmv = xcalloc(nm + 1, sizeof(*rmv));
	size_t nrm = 0;
	roview *views = xcalloc(nm + 1, sizeof(*views));
	for (size_t i = 0; i <= nm; i++)
		views[i].rootfd = -1;
	_cleanup_strv_ char **tmpfiles = NULL;
	steproot r = {.rootfd = -1};
	_cleanup_json_ json_t *detail = NULL;
	_cleanup_free_ char *tail = NULL;
	_cleanup_strv_ char **created = NULL;
	strbuf extra;
	sb_init(&extra);
	sb_printf(&extra, "network=%s", network);
	for (size_t i = 0; i < nm; i++) {
		if (build_mount_parse(mspecs[i], st->b->df->escape, bld_lookup, st, &mr[i], err) <
		    0)
			goto out;
		sb_printf(&extra, ";mount=%s", mspecs[i]);
	}
	{
		_cleanup_free_ char *q = bs_go_quote_list(args);
		_cleanup_free_ char *e = sb_steal(&extra);
		_cleanup_free_ char *canon = xasprintf("RUN %s", q);
		detail = json_pack("{s:s,s:O,s:s}", "instr", canon, "args", argmap, "extra", e);
	}
	char key[DIGEST_STR_LEN + 1];
	bs_make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		goto out;
	if (hit) {
		bld_event(b, BUILD_EV_CACHED, sp.vertex, NULL, 0);
		bs_step_end(st, &sp);
		rc = 0;
		goto out;
	}
	bs_report_miss(st, &sp, detail);
	if (bld_mount(st, &r, err) < 0)
		goto out;
	for (size_t i = 0; i < nm; i++) {
		build_mount_spec *m = &mr[i];
		run_mount *rm = &rmv[nrm];
		_cleanup_free_ char *tj = m->target ? bs_workdir_join(st, m->target) : NULL;
		if (!strcmp(m->type, "secret")) {
			const char *id = m->id ? m->id : strrchr(m->target, '/') + 1;
			char *tmp = NULL;
			char *src = secret_source(b, id, &tmp, err);
			if (tmp) {
				tmpfiles = strv_append(tmpfiles, tmp);
				free(tmp);
			}
			if (src == NULL) {
				if (m->required) {
					berth_err(err, BERTH_E_NOTFOUND, "secret %s: not provided",
					          id);
					goto out;
				}
				continue;
			}
			rm->type = xstrdup("bind");
			rm->source = src;
			rm->target = tj ? bs_abs_clean(tj) : xasprintf("/run/secrets/%s", id);
			rm->readonly = true;
		} else if (!strcmp(m->type, "tmpfs")) {
			rm->type = xstrdup("tmpfs");
			rm->target = bs_abs_clean(tj);
		} else if (!strcmp(m->type, "cache")) {
			_cleanup_free_ char *target = bs_abs_clean(tj);
			const char *id = m->id ? m->id : target;
			char h[DIGEST_STR_LEN + 1];
			sha256_digest(id, strlen(id), h);
			_cleanup_free_ char *dir = xasprintf("%s/build-cache-mounts/%.16s",
			                                     store_root(b->s), digest_hex(h));
			struct stat dst;
			if (stat(dir, &dst) < 0) {
				if (mkdir_p(dir, 0755, err) < 0)
					goto out;
				uid_t u = m->uid ? (uid_t)strtoul(m->uid, NULL, 10) : 0;
				gid_t g = m->gid ? (gid_t)strtoul(m->gid, NULL, 10) : 0;
				if (chown(dir, u, g) < 0 ||
				    chmod(dir, m->mode ? (mode_t)strtoul(m->mode, NULL, 8) : 0755) <
				        0) {
					berth_err_sys(err, errno, "preparing cache mount %s", id);
					goto out;
				}
			}
			rm->type = xstrdup("bind");
			rm->source = steal_ptr(dir);
			rm->target = steal_ptr(target);
			rm->readonly = m->readonly;
		} else { /* bind */
			_cleanup_free_ char *src = path_clean_rel(m->source ? m->source : ".");
			if (m->from) {
				bool sfailed = false;
				bstage *fs =
				    bld_stage_ref(b, m->from, st->stage->idx, err, &sfailed);
				if (sfailed)
					goto out;
				_cleanup_strv_ char **chain = NULL;
				image_config *icfg = NULL;
				char iid[DIGEST_STR_LEN + 1];
				if (fs) {
					chain = strv_dup(fs->chain_ids);
				} else if (bld_image(b, m->from, iid, &icfg, &chain, err) < 0) {
					goto out;
				}
				image_config_free(icfg);
				if (!chain)
					chain = xcalloc(1, sizeof(char *));
				if (bld_view(b, chain, &views[i], err) < 0)
					goto out;
				rm->source = xasprintf("%s/%s", views[i].root, src);
			} else {
				rm->source = xasprintf("%s/%s", b->ctx->dir, src);
			}
			rm->type = xstrdup("bind");
			rm->target = bs_abs_clean(tj);
			rm->readonly = m->readonly;
		}
		nrm++;
	}
	{
		uid_t uid;
		gid_t gid;
		_cleanup_free_ gid_t *groups = NULL;
		size_t ngroups = 0;
		_cleanup_free_ char *home = NULL;
		if (build_lookup_user(r.rootfd, st->cfg->config.user, &uid, &gid, &groups, &ngroups,
		                      &home, err) < 0)
			goto out;
		if (!bs_env_get(env, "HOME"))
			env = bs_env_set(env, "HOME", home);
		/* Docker creates a missing WORKDIR before RUN */
		const char *wd = st->cfg->config.working_dir;
		copy_attrs wa = {.chmod = -1, .as_root = geteuid() == 0};
		if (wd && *wd && build_mkdir_root(r.rootfd, wd, &wa, err) < 0)
			goto out;
		pthread_mutex_lock(&b->mu);
		_cleanup_free_ char *cid = xasprintf("b%d-%d", (int)getpid(), ++b->run_counter);
		pthread_mutex_unlock(&b->mu);
		struct line_ctx lc = {b, sp.vertex, &sp.t0};
		run_spec rs = {.args = args,
		               .env = env,
		               .cwd = wd && *wd ? wd : "/",
		               .uid = uid,
		               .gid = gid,
		               .groups = groups,
		               .n_groups = ngroups,
		               .network = network,
		               .mounts = rmv,
		               .n_mounts = nrm,
		               .state_root = b->state_root,
		               .id = cid};
		rs.line = line_cb;
		rs.line_ud = &lc;
		int code = 0;
		if (build_run_process(r.merged, &rs, &code, &created, &tail, err) < 0)
			goto out;
		/* the mount points the runtime created are removed from the
		 * upper after the unmount (bld_unmount) */
		for (char **c = created; c && *c; c++) {
			if (!strv_contains(r.created, *c))
				r.created = strv_append(r.created, *c);
			_cleanup_free_ char *d = xstrdup(*c);
			for (char *sl = strrchr(d, '/'); sl; sl = strrchr(d, '/')) {
				*sl = 0;
				if (!strv_contains(r.prune, d))
					r.prune = strv_append(r.prune, d);
			}
		}
		if (code != 0) {
			_cleanup_free_ char *cmdline = strv_join(args, " ");
			if (tail && *tail)
				bld_event(b, BUILD_EV_ERROR, sp.vertex, tail, 0);
			berth_err(
			    err, BERTH_E_GENERIC,
			    "RUN: process \"%s\" did not complete successfully: exit code: %d",
			    cmdline, code);
			goto out;
		}
	}
	{
		_cleanup_free_ char *cmdline = strv_join(args, " ");
		_cleanup_free_ char *cb = NULL;
		if (used) {
			_cleanup_free_ char *uj = strv_join(used, " ");
			cb = xasprintf("|%zu %s %s", strv_len(used), uj, cmdline);
		} else {
			cb = xstrdup(cmdline);
		}
		if (bs_fs_commit(st, &sp, &r, cb, key, detail, err) < 0)
			goto out;
	}
	bs_step_end(st, &sp);
	rc = 0;
out:
	sb_free(&extra);
	bld_steproot_clear(b, &r);
	for (size_t i = 0; i < nm; i++) {
		build_mount_spec_clear(&mr[i]);
		bld_view_clear(b, &views[i]);
	}
	for (size_t i = 0; i < nrm; i++) {
		free(rmv[i].type);
		free(rmv[i].target);
		free(rmv[i].source);
	}
	for (char **t = tmpfiles; t && *t; t++)
		unlink(*t);
	free(mr);
	free(rmv);
	free(views);
	free(sp.ident);
	if (rc < 0)
		return bs_fail_at(st, in, err);
	return 0;
}
