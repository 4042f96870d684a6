/* What each Dockerfile instruction does to a stage: metadata steps change
 * the config and add an empty_layer history entry; RUN, COPY, ADD and
 * WORKDIR (when it creates the directory) add a layer. Every step has a
 * cache key over its parent image, the expanded instruction and what it
 * reads (build args for RUN, source contents and modes for COPY/ADD). */
#include <ctype.h>
#include <curl/curl.h>
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
#include "runtime/runtime.h"

/* ---- helpers ---- */

static double elapsed(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

typedef struct step {
	int vertex;
	struct timespec t0;
	char *ident;
} step;

static void step_begin(sstate *st, const df_instr *in, step *sp)
{
	st->step++;
	_cleanup_free_ char *kw = xstrdup(in->keyword);
	for (char *c = kw; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	const char *text = in->original;
	while (*text == ' ' || *text == '\t')
		text++;
	/* the instruction without its keyword, keyword upper-cased */
	const char *rest = text + strlen(in->keyword);
	while (*rest == ' ' || *rest == '\t')
		rest++;
	_cleanup_free_ char *label = NULL;
	if (st->b->n_stages == 1)
		label = xasprintf("[%d/%d]", st->step + 1, st->n_steps);
	else if (st->stage->name)
		label = xasprintf("[%s %d/%d]", st->stage->name, st->step + 1, st->n_steps);
	else
		label = xasprintf("[stage-%zu %d/%d]", st->stage->idx, st->step + 1, st->n_steps);
	_cleanup_free_ char *title = xasprintf("%s %s %s", label, kw, rest);
	/* a long instruction (heredocs) shows its first line */
	char *nl = strchr(title, '\n');
	if (nl)
		*nl = 0;
	sp->vertex = bld_vertex(st->b, title);
	clock_gettime(CLOCK_MONOTONIC, &sp->t0);
	sp->ident = xasprintf("%s %s", kw, rest);
}

static void step_end(sstate *st, step *sp)
{
	bld_event(st->b, BUILD_EV_DONE, sp->vertex, NULL, elapsed(&sp->t0));
	free(sp->ident);
	sp->ident = NULL;
}

static int fail_at(sstate *st, const df_instr *in, berth_error **err)
{
	return berth_err_prefix(err, "%s:%d", st->filename, in->line);
}

static void make_key(const char *parent, const json_t *detail, char out[DIGEST_STR_LEN + 1])
{
	_cleanup_free_ char *d = json_dump_compact(detail);
	_cleanup_free_ char *text = xasprintf("berth-build/1\n%s\n%s", parent, d);
	sha256_digest(text, strlen(text), out);
}

char **bld_shell(sstate *st)
{
	if (st->cfg->config.shell && st->cfg->config.shell[0])
		return strv_dup(st->cfg->config.shell);
	char **v = strv_append(NULL, "/bin/sh");
	return strv_append(v, "-c");
}

/* Go's fmt %q of a []string: ["a" "b"]. */
static char *go_quote_list(char *const *v)
{
	strbuf sb;
	sb_init(&sb);
	sb_appendc(&sb, '[');
	for (size_t i = 0; v && v[i]; i++) {
		json_t *s = json_string(v[i]);
		_cleanup_free_ char *q = json_dumps(s, JSON_ENCODE_ANY);
		json_decref(s);
		if (i)
			sb_appendc(&sb, ' ');
		sb_append(&sb, q);
	}
	sb_appendc(&sb, ']');
	return sb_steal(&sb);
}

static char *nop_created_by(sstate *st, const char *canon)
{
	_cleanup_strv_ char **sh = bld_shell(st);
	_cleanup_free_ char *j = strv_join(sh, " ");
	return xasprintf("%s #(nop)  %s", j, canon);
}

/* Report a miss and its reason. */
static void report_miss(sstate *st, step *sp, const json_t *detail)
{
	builder *b = st->b;
	_cleanup_free_ char *why = NULL;
	if (b->o->no_cache) {
		why = xstrdup("cache disabled (--no-cache)");
	} else {
		pthread_mutex_lock(&b->mu);
		why = build_cache_why(b->s, st->parent, sp->ident, detail);
		pthread_mutex_unlock(&b->mu);
	}
	_cleanup_free_ char *msg = xasprintf("cache miss: %s", why);
	bld_event(b, BUILD_EV_MISS, sp->vertex, msg, 0);
}

/* A metadata step: the config was already changed; look up the cache
 * (a hit replaces the config with the cached one) or commit. */
static int meta_commit(sstate *st, step *sp, const char *canon, berth_error **err)
{
	_cleanup_json_ json_t *detail = json_pack("{s:s}", "instr", canon);
	char key[DIGEST_STR_LEN + 1];
	make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		return -1;
	if (hit) {
		bld_event(st->b, BUILD_EV_CACHED, sp->vertex, NULL, 0);
		step_end(st, sp);
		return 0;
	}
	report_miss(st, sp, detail);
	_cleanup_free_ char *cb = nop_created_by(st, canon);
	if (bld_commit(st, cb, NULL, NULL, 0, NULL, key, sp->ident, detail, err) < 0)
		return -1;
	step_end(st, sp);
	return 0;
}

static int expand(sstate *st, const char *w, char **out, berth_error **err)
{
	return df_expand(w, st->b->df->escape, bld_lookup, st, out, err);
}

static char *expand_flag(sstate *st, const df_instr *in, const char *name, berth_error **err,
                         bool *failed)
{
	*failed = false;
	const char *f = df_flag(in, name);
	if (f == NULL)
		return NULL;
	char *v = NULL;
	if (expand(st, f, &v, err) < 0) {
		*failed = true;
		return NULL;
	}
	return v;
}

/* Set NAME=value in a "K=V" vector (replacing). */
static char **env_set(char **env, const char *k, const char *v)
{
	size_t n = strlen(k);
	_cleanup_free_ char *kv = xasprintf("%s=%s", k, v);
	for (char **p = env; p && *p; p++)
		if (!strncmp(*p, k, n) && ((*p)[n] == '=' || (*p)[n] == 0)) {
			free(*p);
			*p = xstrdup(kv);
			return env;
		}
	return strv_append(env, kv);
}

static const char *env_get(char *const *env, const char *k)
{
	size_t n = strlen(k);
	for (char *const *p = env; p && *p; p++)
		if (!strncmp(*p, k, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

static char *workdir_join(sstate *st, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	const char *wd = st->cfg->config.working_dir;
	if (wd == NULL || !*wd)
		wd = "/";
	return xasprintf("%s%s%s", wd, str_has_suffix(wd, "/") ? "" : "/", p);
}

/* "/a/b/../c/" -> "/a/c" */
static char *abs_clean(const char *p)
{
	_cleanup_free_ char *c = path_clean_rel(p);
	if (!strcmp(c, "."))
		return xstrdup("/");
	return xasprintf("/%s", c);
}

/* ---- metadata instructions ---- */

static int do_env_label(sstate *st, const df_instr *in, bool env, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_strv_ char **keys = NULL, **vals = NULL;
	if (df_parse_kv(in, st->b->df->escape, bld_lookup, st, &keys, &vals, err) < 0)
		return fail_at(st, in, err);
	strbuf canon;
	sb_init(&canon);
	sb_append(&canon, env ? "ENV" : "LABEL");
	_cleanup_strv_ char **e = strv_dup(st->cfg->config.env);
	for (size_t i = 0; keys[i]; i++) {
		if (env) {
			e = env_set(e, keys[i], vals[i]);
			sb_printf(&canon, " %s=%s", keys[i], vals[i]);
		} else {
			image_config_set_label(st->cfg, keys[i], vals[i]);
			json_t *q = json_string(vals[i]);
			_cleanup_free_ char *qs = json_dumps(q, JSON_ENCODE_ANY);
			json_decref(q);
			sb_printf(&canon, " %s=%s", keys[i], qs);
		}
	}
	if (env)
		image_config_set_run_strv(st->cfg, "Env", e);
	_cleanup_free_ char *c = sb_steal(&canon);
	return meta_commit(st, &sp, c, err);
}

int bld_labels(sstate *st, char *const *labels, berth_error **err)
{
	df_instr in = {
	    .keyword = (char *)"label", .original = (char *)"LABEL (--label)", .line = 0};
	step sp;
	step_begin(st, &in, &sp);
	strbuf canon;
	sb_init(&canon);
	sb_append(&canon, "LABEL");
	for (char *const *l = labels; *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *k = xstrndup(*l, eq ? (size_t)(eq - *l) : strlen(*l));
		image_config_set_label(st->cfg, k, eq ? eq + 1 : "");
		json_t *q = json_string(eq ? eq + 1 : "");
		_cleanup_free_ char *qs = json_dumps(q, JSON_ENCODE_ANY);
		json_decref(q);
		sb_printf(&canon, " %s=%s", k, qs);
	}
	_cleanup_free_ char *c = sb_steal(&canon);
	return meta_commit(st, &sp, c, err);
}

static int port_add(char ***ports, const char *spec, berth_error **err)
{
	_cleanup_free_ char *s = xstrdup(spec);
	char *proto = strchr(s, '/');
	if (proto)
		*proto++ = 0;
	if (proto && strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
		return berth_err(err, BERTH_E_INVALID, "invalid proto: %s", proto);
	char *dash = strchr(s, '-');
	char *end = NULL;
	long lo = strtol(s, &end, 10), hi = lo;
	if (end == s || (dash ? end != dash : *end) || lo < 0 || lo > 65535)
		return berth_err(err, BERTH_E_INVALID, "invalid containerPort: %s", s);
	if (dash) {
		hi = strtol(dash + 1, &end, 10);
		if (end == dash + 1 || *end || hi < lo || hi > 65535)
			return berth_err(err, BERTH_E_INVALID,
			                 "invalid range format for --expose: %s", s);
	}
	for (long p = lo; p <= hi; p++) {
		_cleanup_free_ char *k = xasprintf("%ld/%s", p, proto ? proto : "tcp");
		if (!strv_contains(*ports, k))
			*ports = strv_append(*ports, k);
	}
	return 0;
}

static int do_expose(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_strv_ char **ports = strv_dup(st->cfg->config.exposed_ports);
	_cleanup_strv_ char **mine = NULL;
	for (char **w = in->args; w && *w; w++) {
		_cleanup_free_ char *x = NULL;
		if (expand(st, *w, &x, err) < 0)
			return fail_at(st, in, err);
		if (port_add(&ports, x, err) < 0 || port_add(&mine, x, err) < 0)
			return fail_at(st, in, err);
	}
	image_config_set_run_set(st->cfg, "ExposedPorts", ports);
	_cleanup_free_ char *j = strv_join(mine, " ");
	_cleanup_free_ char *c = xasprintf("EXPOSE %s", j);
	return meta_commit(st, &sp, c, err);
}

static int do_volume(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_strv_ char **vols = strv_dup(st->cfg->config.volumes);
	_cleanup_strv_ char **mine = NULL;
	for (char **w = in->args; w && *w; w++) {
		_cleanup_free_ char *x = NULL;
		if (in->exec_form)
			x = xstrdup(*w);
		else if (expand(st, *w, &x, err) < 0)
			return fail_at(st, in, err);
		if (!*x) {
			berth_err(err, BERTH_E_INVALID,
			          "VOLUME specified can not be an empty string");
			return fail_at(st, in, err);
		}
		if (!strv_contains(vols, x))
			vols = strv_append(vols, x);
		mine = strv_append(mine, x);
	}
	image_config_set_run_set(st->cfg, "Volumes", vols);
	_cleanup_free_ char *j = strv_join(mine, " ");
	_cleanup_free_ char *c = xasprintf("VOLUME [%s]", j);
	return meta_commit(st, &sp, c, err);
}

static int do_simple_string(sstate *st, const df_instr *in, const char *field, const char *kw,
                            berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_free_ char *x = NULL;
	if (expand(st, in->args[0], &x, err) < 0)
		return fail_at(st, in, err);
	if (!strcmp(field, "StopSignal") && rt_parse_signal(x) < 0) {
		berth_err(err, BERTH_E_INVALID, "Invalid signal: %s", x);
		return fail_at(st, in, err);
	}
	image_config_set_run_string(st->cfg, field, x);
	_cleanup_free_ char *c = xasprintf("%s %s", kw, x);
	return meta_commit(st, &sp, c, err);
}

static char **command_of(sstate *st, const df_instr *in)
{
	if (in->exec_form)
		return strv_dup(in->args);
	char **v = bld_shell(st);
	return strv_append(v, in->args && in->args[0] ? in->args[0] : "");
}

static int do_cmd_entrypoint(sstate *st, const df_instr *in, bool entry, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_strv_ char **cmd = command_of(st, in);
	if (entry) {
		if (!in->exec_form && (!in->args || !in->args[0] || !*in->args[0])) {
			strv_free(cmd);
			cmd = NULL;
		}
		image_config_set_run_strv(st->cfg, "Entrypoint", cmd);
		if (!st->cmd_set)
			image_config_set_run_strv(st->cfg, "Cmd", NULL);
	} else {
		image_config_set_run_strv(st->cfg, "Cmd", cmd);
		st->cmd_set = true;
	}
	_cleanup_free_ char *q = go_quote_list(cmd);
	_cleanup_free_ char *c = xasprintf("%s %s", entry ? "ENTRYPOINT" : "CMD", q);
	return meta_commit(st, &sp, c, err);
}

static int do_shell(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	if (strv_len(in->args) == 0) {
		berth_err(err, BERTH_E_INVALID, "SHELL requires at least one argument");
		return fail_at(st, in, err);
	}
	image_config_set_run_strv(st->cfg, "Shell", in->args);
	_cleanup_free_ char *q = go_quote_list(in->args);
	_cleanup_free_ char *c = xasprintf("SHELL %s", q);
	return meta_commit(st, &sp, c, err);
}

static int do_healthcheck(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	image_healthcheck h = {0};
	const char *p = in->rest;
	while (isspace((unsigned char)*p))
		p++;
	_cleanup_strv_ char **test = NULL;
	if (!strncasecmp(p, "none", 4)) {
		test = strv_append(NULL, "NONE");
	} else {
		p += 3; /* CMD */
		while (isspace((unsigned char)*p))
			p++;
		json_error_t je;
		_cleanup_json_ json_t *arr = *p == '[' ? json_loads(p, 0, &je) : NULL;
		if (json_is_array(arr)) {
			test = strv_append(NULL, "CMD");
			size_t i;
			json_t *v;
			json_array_foreach (arr, i, v)
				test = strv_append(test, json_string_value(v) ? json_string_value(v)
				                                              : "");
		} else {
			test = strv_append(NULL, "CMD-SHELL");
			test = strv_append(test, p);
		}
		static const char *const durs[] = {"interval", "timeout", "start-period",
		                                   "start-interval"};
		int64_t *dst[] = {&h.interval, &h.timeout, &h.start_period, &h.start_interval};
		for (size_t i = 0; i < ARRAY_SIZE(durs); i++) {
			const char *f = df_flag(in, durs[i]);
			if (f == NULL)
				continue;
			if (parse_duration(f, dst[i], err) < 0)
				return fail_at(st, in, err);
			if (*dst[i] != 0 && *dst[i] < 1000000) {
				berth_err(err, BERTH_E_INVALID,
				          "Interval \"%s\" cannot be less than 1ms", durs[i]);
				return fail_at(st, in, err);
			}
		}
		const char *r = df_flag(in, "retries");
		if (r) {
			char *end = NULL;
			long n = strtol(r, &end, 10);
			if (end == r || *end || n < 0) {
				berth_err(err, BERTH_E_INVALID, "invalid --retries value: %s", r);
				return fail_at(st, in, err);
			}
			h.retries = n;
		}
	}
	h.test = test;
	image_config_set_healthcheck(st->cfg, &h);
	_cleanup_free_ char *q = go_quote_list(test);
	_cleanup_free_ char *c = xasprintf("HEALTHCHECK %s", q);
	return meta_commit(st, &sp, c, err);
}

static int do_onbuild(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_strv_ char **ob = strv_dup(st->cfg->config.on_build);
	ob = strv_append(ob, in->args[0]);
	image_config_set_run_strv(st->cfg, "OnBuild", ob);
	_cleanup_free_ char *c = xasprintf("ONBUILD %s", in->args[0]);
	return meta_commit(st, &sp, c, err);
}

static int do_maintainer(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	image_config_set_string(st->cfg, "author", in->rest);
	_cleanup_free_ char *c = xasprintf("MAINTAINER %s", in->rest);
	return meta_commit(st, &sp, c, err);
}

static void arg_declare(sstate *st, const char *k, const char *v)
{
	for (size_t i = 0; i < st->n_args; i++)
		if (!strcmp(st->arg_keys[i], k)) {
			free(st->arg_vals[i]);
			st->arg_vals[i] = v ? xstrdup(v) : NULL;
			return;
		}
	st->arg_keys = xreallocarray(st->arg_keys, st->n_args + 1, sizeof(char *));
	st->arg_vals = xreallocarray(st->arg_vals, st->n_args + 1, sizeof(char *));
	st->arg_keys[st->n_args] = xstrdup(k);
	st->arg_vals[st->n_args] = v ? xstrdup(v) : NULL;
	st->n_args++;
}

static int do_arg(sstate *st, const df_instr *in, berth_error **err)
{
	builder *b = st->b;
	step sp;
	step_begin(st, in, &sp);
	strbuf canon;
	sb_init(&canon);
	sb_append(&canon, "ARG");
	for (char **w = in->args; w && *w; w++) {
		char *eq = strchr(*w, '=');
		_cleanup_free_ char *k = xstrndup(*w, eq ? (size_t)(eq - *w) : strlen(*w));
		const char *given = bld_build_arg(b, k);
		_cleanup_free_ char *dflt = NULL;
		if (eq && expand(st, eq + 1, &dflt, err) < 0) {
			sb_free(&canon);
			return fail_at(st, in, err);
		}
		const char *val = given ? given : dflt;
		if (!val) {
			for (size_t i = strv_len(b->meta_keys); i-- > 0;)
				if (!strcmp(b->meta_keys[i], k)) {
					val = b->meta_vals[i][0] == '\x01' ? NULL : b->meta_vals[i];
					break;
				}
		}
		arg_declare(st, k, val);
		if (dflt)
			sb_printf(&canon, " %s=%s", k, dflt);
		else
			sb_printf(&canon, " %s", k);
	}
	_cleanup_free_ char *c = sb_steal(&canon);
	return meta_commit(st, &sp, c, err);
}

/* ---- WORKDIR ---- */

static int fs_commit(sstate *st, step *sp, steproot *r, const char *created_by, const char *key,
                     json_t *detail, berth_error **err)
{
	bool empty = true;
	char diff_id[DIGEST_STR_LEN + 1];
	int64_t size = 0;
	char *blob = NULL;
	if (bld_unmount(st, r, &empty, diff_id, &size, &blob, err) < 0)
		return -1;
	int rc = bld_commit(st, created_by, r, empty ? NULL : diff_id, size, blob, key, sp->ident,
	                    detail, err);
	if (rc < 0 && blob) {
		/* bld_commit cleared the staged blob on failure paths it reached */
	}
	return rc;
}

static int do_workdir(sstate *st, const df_instr *in, berth_error **err)
{
	step sp;
	step_begin(st, in, &sp);
	_cleanup_free_ char *x = NULL;
	if (expand(st, in->args[0], &x, err) < 0)
		return fail_at(st, in, err);
	_cleanup_free_ char *j = workdir_join(st, x);
	_cleanup_free_ char *wd = abs_clean(j);
	image_config_set_run_string(st->cfg, "WorkingDir", wd);
	_cleanup_free_ char *canon = xasprintf("WORKDIR %s", wd);
	_cleanup_json_ json_t *detail = json_pack("{s:s}", "instr", canon);
	char key[DIGEST_STR_LEN + 1];
	make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		return -1;
	if (hit) {
		bld_event(st->b, BUILD_EV_CACHED, sp.vertex, NULL, 0);
		step_end(st, &sp);
		return 0;
	}
	report_miss(st, &sp, detail);
	steproot r;
	if (bld_mount(st, &r, err) < 0) {
		bld_steproot_clear(st->b, &r);
		return fail_at(st, in, err);
	}
	copy_attrs a = {.chmod = -1, .as_root = geteuid() == 0};
	int rc = build_mkdir_root(r.rootfd, wd, &a, err);
	_cleanup_free_ char *cb = nop_created_by(st, canon);
	if (rc == 0)
		rc = fs_commit(st, &sp, &r, cb, key, detail, err);
	bld_steproot_clear(st->b, &r);
	if (rc < 0)
		return fail_at(st, in, err);
	step_end(st, &sp);
	return 0;
}

/* ---- COPY / ADD ---- */

static const df_heredoc *heredoc_of(const df_instr *in, const char *word)
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

static void hash_entry(build_context *c, size_t i, json_t *files)
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
	json_object_set_new(files, e->path, json_string(val));
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
	_cleanup_free_ char *clean = abs_clean(src);
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

static int do_copy(sstate *st, const df_instr *in, bool add, berth_error **err)
{
	builder *b = st->b;
	step sp;
	step_begin(st, in, &sp);
	const char *kw = add ? "ADD" : "COPY";
	bool failed = false;
	_cleanup_free_ char *from = expand_flag(st, in, "from", err, &failed);
	if (failed)
		return fail_at(st, in, err);
	_cleanup_free_ char *chown = expand_flag(st, in, "chown", err, &failed);
	if (failed)
		return fail_at(st, in, err);
	_cleanup_free_ char *chmod_s = expand_flag(st, in, "chmod", err, &failed);
	if (failed)
		return fail_at(st, in, err);
	_cleanup_free_ char *checksum = expand_flag(st, in, "checksum", err, &failed);
	if (failed)
		return fail_at(st, in, err);
	if (df_flag(in, "exclude")) {
		berth_err(err, BERTH_E_UNSUPPORTED, "%s --exclude is not supported", kw);
		return fail_at(st, in, err);
	}
	copy_attrs a = {.chmod = -1, .as_root = geteuid() == 0};
	if (chmod_s && parse_chmod(chmod_s, &a.chmod, err) < 0)
		return fail_at(st, in, err);
	_cleanup_strv_ char **words = NULL;
	for (char **w = in->args; w && *w; w++) {
		if (!in->exec_form && heredoc_of(in, *w)) {
			words = strv_append(words, *w);
			continue;
		}
		_cleanup_free_ char *x = NULL;
		if (expand(st, *w, &x, err) < 0)
			return fail_at(st, in, err);
		words = strv_append(words, x);
	}
	size_t nw = strv_len(words);
	if (nw < 2) {
		berth_err(err, BERTH_E_INVALID, "%s requires at least two arguments", kw);
		return fail_at(st, in, err);
	}
	_cleanup_free_ char *dest_j = workdir_join(st, words[nw - 1]);
	/* keep a trailing slash: it means "a directory" */
	_cleanup_free_ char *dest0 = abs_clean(dest_j);
	_cleanup_free_ char *dest = str_has_suffix(words[nw - 1], "/") && strcmp(dest0, "/")
	                                ? xasprintf("%s/", dest0)
	                                : xstrdup(dest0);
	/* the sources, and what the cache key covers */
	_cleanup_json_ json_t *files = json_object();
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
		const df_heredoc *hd = in->exec_form ? NULL : heredoc_of(in, words[i]);
		if (hd) {
			s->kind = 2;
			s->hd = hd;
			s->content =
			    hd->expand ? expand_heredoc(st, hd->content) : xstrdup(hd->content);
			char h[DIGEST_STR_LEN + 1];
			sha256_digest(s->content, strlen(s->content), h);
			_cleanup_free_ char *k = xasprintf("<<%s", hd->name);
			json_object_set_new(files, k, json_string(h));
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
			for (size_t k = 0; k < s->n_roots; k++) {
				size_t root = s->roots[k];
				if (root != SIZE_MAX) {
					if (context_hash(b->ctx, root, err) < 0)
						goto out;
					hash_entry(b->ctx, root, files);
				}
				if (!root_is_dir(b->ctx, root))
					continue;
				size_t first, end;
				context_children(b->ctx, root, &first, &end);
				for (size_t e = first; e < end; e++) {
					if (context_hash(b->ctx, e, err) < 0)
						goto out;
					hash_entry(b->ctx, e, files);
				}
			}
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
	detail = json_pack("{s:s,s:O,s:s}", "instr", canon, "files", files, "extra", from_id);
	char key[DIGEST_STR_LEN + 1];
	make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		goto out;
	if (hit) {
		bld_event(b, BUILD_EV_CACHED, sp.vertex, NULL, 0);
		step_end(st, &sp);
		rc = 0;
		goto out;
	}
	report_miss(st, &sp, detail);
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
		char h[DIGEST_STR_LEN + 1];
		_cleanup_free_ char *fj = json_dump_compact(files);
		sha256_digest(fj, strlen(fj), h);
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
		if (fs_commit(st, &sp, &r, cb, key, detail, err) < 0)
			goto out;
	}
	step_end(st, &sp);
	rc = 0;
out:
	bld_view_clear(b, &view);
	bld_steproot_clear(b, &r);
	image_config_free(from_cfg);
	copy_srcs_free(srcs, ns);
	free(sp.ident);
	if (rc < 0)
		return fail_at(st, in, err);
	return 0;
}

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

typedef struct mount_req {
	char *type, *target, *source, *from, *id, *mode, *uid, *gid, *env;
	bool readonly, required, rw_set;
} mount_req;

static void mount_req_clear(mount_req *m)
{
	free(m->type);
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->mode);
	free(m->uid);
	free(m->gid);
	free(m->env);
}

static int parse_mount(sstate *st, const char *spec, mount_req *m, berth_error **err)
{
	memset(m, 0, sizeof(*m));
	_cleanup_strv_ char **kv = str_split(spec, ',');
	for (char **p = kv; *p; p++) {
		char *eq = strchr(*p, '=');
		_cleanup_free_ char *k = xstrndup(*p, eq ? (size_t)(eq - *p) : strlen(*p));
		_cleanup_free_ char *v = NULL;
		if (expand(st, eq ? eq + 1 : "", &v, err) < 0)
			return -1;
		char **dst = NULL;
		if (!strcmp(k, "type"))
			dst = &m->type;
		else if (!strcmp(k, "target") || !strcmp(k, "dst") || !strcmp(k, "destination"))
			dst = &m->target;
		else if (!strcmp(k, "source") || !strcmp(k, "src"))
			dst = &m->source;
		else if (!strcmp(k, "from"))
			dst = &m->from;
		else if (!strcmp(k, "id"))
			dst = &m->id;
		else if (!strcmp(k, "mode"))
			dst = &m->mode;
		else if (!strcmp(k, "uid"))
			dst = &m->uid;
		else if (!strcmp(k, "gid"))
			dst = &m->gid;
		else if (!strcmp(k, "env"))
			dst = &m->env;
		else if (!strcmp(k, "ro") || !strcmp(k, "readonly"))
			m->readonly = !eq || !strcmp(v, "true");
		else if (!strcmp(k, "rw") || !strcmp(k, "readwrite")) {
			m->readonly = eq && strcmp(v, "true");
			m->rw_set = true;
		} else if (!strcmp(k, "required"))
			m->required = !eq || !strcmp(v, "true");
		else if (!strcmp(k, "sharing") || !strcmp(k, "size"))
			; /* accepted: one builder process shares cache dirs under a lock-free model */
		else
			return berth_err(err, BERTH_E_INVALID, "unexpected key '%s' in '%s'", k,
			                 *p);
		if (dst) {
			free(*dst);
			*dst = steal_ptr(v);
		}
	}
	if (m->type == NULL)
		m->type = xstrdup("bind");
	if (strcmp(m->type, "bind") && strcmp(m->type, "cache") && strcmp(m->type, "tmpfs") &&
	    strcmp(m->type, "secret") && strcmp(m->type, "ssh"))
		return berth_err(err, BERTH_E_INVALID, "unsupported mount type \"%s\"", m->type);
	if (!strcmp(m->type, "ssh"))
		return berth_err(err, BERTH_E_UNSUPPORTED, "--mount=type=ssh is not supported");
	if (!strcmp(m->type, "secret") && m->target == NULL && m->id == NULL && m->env == NULL)
		return berth_err(err, BERTH_E_INVALID, "secret mount needs an id or a target");
	if (strcmp(m->type, "secret") && m->target == NULL)
		return berth_err(err, BERTH_E_INVALID, "mount type=%s requires a target", m->type);
	if (!strcmp(m->type, "bind") && !m->rw_set)
		m->readonly = true;
	return 0;
}

/* --secret id=x,src=path | id=x,env=VAR | id=x (env var x or file x) */
static char *secret_source(builder *b, const char *id, char **tmp, berth_error **err)
{
	for (char **s = b->o->secrets; s && *s; s++) {
		_cleanup_strv_ char **kv = str_split(*s, ',');
		const char *sid = NULL, *src = NULL, *env = NULL;
		for (char **p = kv; *p; p++) {
			if (str_has_prefix(*p, "id="))
				sid = *p + 3;
			else if (str_has_prefix(*p, "src=") || str_has_prefix(*p, "source="))
				src = strchr(*p, '=') + 1;
			else if (str_has_prefix(*p, "env="))
				env = *p + 4;
		}
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
	bld_event(lc->b, BUILD_EV_OUTPUT, lc->v, line, elapsed(lc->t0));
}

static int do_run(sstate *st, const df_instr *in, berth_error **err)
{
	builder *b = st->b;
	step sp;
	step_begin(st, in, &sp);
	int rc = -1;
	_cleanup_free_ char *network = NULL;
	bool failed = false;
	network = expand_flag(st, in, "network", err, &failed);
	if (failed)
		return fail_at(st, in, err);
	if (!network)
		network = xstrdup(b->o->network && *b->o->network ? b->o->network : "default");
	if (strcmp(network, "default") && strcmp(network, "none") && strcmp(network, "host")) {
		berth_err(err, BERTH_E_INVALID,
		          "unsupported network mode \"%s\" (default, none, host)", network);
		return fail_at(st, in, err);
	}
	if (df_flag(in, "security") && strcmp(df_flag(in, "security"), "sandbox")) {
		berth_err(err, BERTH_E_UNSUPPORTED, "RUN --security=%s is not supported",
		          df_flag(in, "security"));
		return fail_at(st, in, err);
	}
	/* the command */
	_cleanup_strv_ char **args = NULL;
	if (in->exec_form) {
		args = strv_dup(in->args);
	} else {
		args = bld_shell(st);
		const char *text = in->args && in->args[0] ? in->args[0] : "";
		if (in->n_heredocs == 1 && heredoc_of(in, text)) {
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
		if (!st->arg_vals[i] || env_get(env, st->arg_keys[i]))
			continue;
		env = env_set(env, st->arg_keys[i], st->arg_vals[i]);
		if (!is_proxy_arg(st->arg_keys[i])) {
			json_object_set_new(argmap, st->arg_keys[i], json_string(st->arg_vals[i]));
			_cleanup_free_ char *kv =
			    xasprintf("%s=%s", st->arg_keys[i], st->arg_vals[i]);
			used = strv_append(used, kv);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++) {
		const char *v = bld_build_arg(b, proxy_args[i]);
		if (v && !env_get(env, proxy_args[i]))
			env = env_set(env, proxy_args[i], v);
	}
	if (!env_get(env, "PATH"))
		env = env_set(env, "PATH",
		              "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	/* mounts */
	_cleanup_strv_ char **mspecs = df_flag_all(in, "mount");
	size_t nm = strv_len(mspecs);
	mount_req *mr = xcalloc(nm + 1, sizeof(*mr));
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
		if (parse_mount(st, mspecs[i], &mr[i], err) < 0)
			goto out;
		sb_printf(&extra, ";mount=%s", mspecs[i]);
	}
	{
		_cleanup_free_ char *q = go_quote_list(args);
		_cleanup_free_ char *e = sb_steal(&extra);
		_cleanup_free_ char *canon = xasprintf("RUN %s", q);
		detail = json_pack("{s:s,s:O,s:s}", "instr", canon, "args", argmap, "extra", e);
	}
	char key[DIGEST_STR_LEN + 1];
	make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		goto out;
	if (hit) {
		bld_event(b, BUILD_EV_CACHED, sp.vertex, NULL, 0);
		step_end(st, &sp);
		rc = 0;
		goto out;
	}
	report_miss(st, &sp, detail);
	if (bld_mount(st, &r, err) < 0)
		goto out;
	for (size_t i = 0; i < nm; i++) {
		mount_req *m = &mr[i];
		run_mount *rm = &rmv[nrm];
		_cleanup_free_ char *tj = m->target ? workdir_join(st, m->target) : NULL;
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
			rm->target = tj ? abs_clean(tj) : xasprintf("/run/secrets/%s", id);
			rm->readonly = true;
		} else if (!strcmp(m->type, "tmpfs")) {
			rm->type = xstrdup("tmpfs");
			rm->target = abs_clean(tj);
		} else if (!strcmp(m->type, "cache")) {
			_cleanup_free_ char *target = abs_clean(tj);
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
			rm->target = abs_clean(tj);
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
		if (!env_get(env, "HOME"))
			env = env_set(env, "HOME", home);
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
		/* remove the mount points the runtime created */
		for (size_t k = strv_len(created); k-- > 0;) {
			struct stat cst;
			if (fstatat(r.rootfd, created[k], &cst, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (S_ISDIR(cst.st_mode))
				unlinkat(r.rootfd, created[k], AT_REMOVEDIR);
			else if (S_ISREG(cst.st_mode) && cst.st_size == 0)
				unlinkat(r.rootfd, created[k], 0);
		}
		for (char **c = created; c && *c; c++) {
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
		if (fs_commit(st, &sp, &r, cb, key, detail, err) < 0)
			goto out;
	}
	step_end(st, &sp);
	rc = 0;
out:
	sb_free(&extra);
	bld_steproot_clear(b, &r);
	for (size_t i = 0; i < nm; i++) {
		mount_req_clear(&mr[i]);
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
		return fail_at(st, in, err);
	return 0;
}

/* ---- dispatch ---- */

typedef int (*instr_fn)(sstate *st, const df_instr *in, berth_error **err);

static int i_add(sstate *st, const df_instr *in, berth_error **err)
{
	return do_copy(st, in, true, err);
}
static int i_copy(sstate *st, const df_instr *in, berth_error **err)
{
	return do_copy(st, in, false, err);
}
static int i_cmd(sstate *st, const df_instr *in, berth_error **err)
{
	return do_cmd_entrypoint(st, in, false, err);
}
static int i_entrypoint(sstate *st, const df_instr *in, berth_error **err)
{
	return do_cmd_entrypoint(st, in, true, err);
}
static int i_env(sstate *st, const df_instr *in, berth_error **err)
{
	return do_env_label(st, in, true, err);
}
static int i_label(sstate *st, const df_instr *in, berth_error **err)
{
	return do_env_label(st, in, false, err);
}
static int i_user(sstate *st, const df_instr *in, berth_error **err)
{
	return do_simple_string(st, in, "User", "USER", err);
}
static int i_stopsignal(sstate *st, const df_instr *in, berth_error **err)
{
	return do_simple_string(st, in, "StopSignal", "STOPSIGNAL", err);
}
static int i_from(sstate *st, const df_instr *in, berth_error **err)
{
	return berth_err(err, BERTH_E_INVALID, "%s:%d: unexpected FROM", st->filename, in->line);
}

static const struct {
	const char *name;
	instr_fn fn;
} instr_table[] = {
    {"add", i_add},
    {"arg", do_arg},
    {"cmd", i_cmd},
    {"copy", i_copy},
    {"entrypoint", i_entrypoint},
    {"env", i_env},
    {"expose", do_expose},
    {"from", i_from},
    {"healthcheck", do_healthcheck},
    {"label", i_label},
    {"maintainer", do_maintainer},
    {"onbuild", do_onbuild},
    {"run", do_run},
    {"shell", do_shell},
    {"stopsignal", i_stopsignal},
    {"user", i_user},
    {"volume", do_volume},
    {"workdir", do_workdir},
};

static int cmp_instr(const void *k, const void *e)
{
	return strcmp(k, *(const char *const *)e);
}

int bld_dispatch(sstate *st, const df_instr *in, berth_error **err)
{
	const void *hit = bsearch(in->keyword, instr_table, ARRAY_SIZE(instr_table),
	                          sizeof(instr_table[0]), cmp_instr);
	if (hit == NULL)
		return berth_err(err, BERTH_E_INVALID, "%s:%d: unknown instruction: %s",
		                 st->filename, in->line, in->keyword);
	size_t i = (size_t)((const char *)hit - (const char *)instr_table) / sizeof(instr_table[0]);
	return instr_table[i].fn(st, in, err);
}
