/* What each Dockerfile instruction does to a stage: metadata steps change
 * the config and add an empty_layer history entry; RUN, COPY, ADD and
 * WORKDIR (when it creates the directory) add a layer. Every step has a
 * cache key over its parent image, the expanded instruction and what it
 * reads (build args for RUN, source contents and modes for COPY/ADD). */
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
#include "build/step.h"
#include "runtime/runtime.h"

/* ---- helpers ---- */

double bs_elapsed(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

void bs_step_begin(sstate *st, const df_instr *in, bs_step *sp)
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

void bs_step_end(sstate *st, bs_step *sp)
{
	bld_event(st->b, BUILD_EV_DONE, sp->vertex, NULL, bs_elapsed(&sp->t0));
	free(sp->ident);
	sp->ident = NULL;
}

int bs_fail_at(sstate *st, const df_instr *in, berth_error **err)
{
	return berth_err_prefix(err, "%s:%d", st->filename, in->line);
}

void bs_make_key(const char *parent, const json_t *detail, char out[DIGEST_STR_LEN + 1])
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
char *bs_go_quote_list(char *const *v)
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

char *bs_nop_created_by(sstate *st, const char *canon)
{
	_cleanup_strv_ char **sh = bld_shell(st);
	_cleanup_free_ char *j = strv_join(sh, " ");
	return xasprintf("%s #(nop)  %s", j, canon);
}

/* Report a miss and its reason. */
void bs_report_miss(sstate *st, bs_step *sp, const json_t *detail)
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
int bs_meta_commit(sstate *st, bs_step *sp, const char *canon, berth_error **err)
{
	_cleanup_json_ json_t *detail = json_pack("{s:s}", "instr", canon);
	char key[DIGEST_STR_LEN + 1];
	bs_make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		return -1;
	if (hit) {
		bld_event(st->b, BUILD_EV_CACHED, sp->vertex, NULL, 0);
		bs_step_end(st, sp);
		return 0;
	}
	bs_report_miss(st, sp, detail);
	_cleanup_free_ char *cb = bs_nop_created_by(st, canon);
	if (bld_commit(st, cb, NULL, NULL, 0, NULL, key, sp->ident, detail, err) < 0)
		return -1;
	bs_step_end(st, sp);
	return 0;
}

int bs_expand(sstate *st, const char *w, char **out, berth_error **err)
{
	return df_expand(w, st->b->df->escape, bld_lookup, st, out, err);
}

char *bs_expand_flag(sstate *st, const df_instr *in, const char *name, berth_error **err,
                     bool *failed)
{
	*failed = false;
	const char *f = df_flag(in, name);
	if (f == NULL)
		return NULL;
	char *v = NULL;
	if (bs_expand(st, f, &v, err) < 0) {
		*failed = true;
		return NULL;
	}
	return v;
}

/* Set NAME=value in a "K=V" vector (replacing). */
char **bs_env_set(char **env, const char *k, const char *v)
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

const char *bs_env_get(char *const *env, const char *k)
{
	size_t n = strlen(k);
	for (char *const *p = env; p && *p; p++)
		if (!strncmp(*p, k, n) && (*p)[n] == '=')
			return *p + n + 1;
	return NULL;
}

char *bs_workdir_join(sstate *st, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	const char *wd = st->cfg->config.working_dir;
	if (wd == NULL || !*wd)
		wd = "/";
	return xasprintf("%s%s%s", wd, str_has_suffix(wd, "/") ? "" : "/", p);
}

/* "/a/b/../c/" -> "/a/c" */
char *bs_abs_clean(const char *p)
{
	_cleanup_free_ char *c = path_clean_rel(p);
	if (!strcmp(c, "."))
		return xstrdup("/");
	return xasprintf("/%s", c);
}

/* ---- metadata instructions ---- */

static int do_env_label(sstate *st, const df_instr *in, bool env, berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
	_cleanup_strv_ char **keys = NULL, **vals = NULL;
	if (df_parse_kv(in, st->b->df->escape, bld_lookup, st, &keys, &vals, err) < 0)
		return bs_fail_at(st, in, err);
	strbuf canon;
	sb_init(&canon);
	sb_append(&canon, env ? "ENV" : "LABEL");
	_cleanup_strv_ char **e = strv_dup(st->cfg->config.env);
	for (size_t i = 0; keys[i]; i++) {
		if (env) {
			e = bs_env_set(e, keys[i], vals[i]);
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
	return bs_meta_commit(st, &sp, c, err);
}

int bld_labels(sstate *st, char *const *labels, berth_error **err)
{
	df_instr in = {
	    .keyword = (char *)"label", .original = (char *)"LABEL (--label)", .line = 0};
	bs_step sp;
	bs_step_begin(st, &in, &sp);
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
	return bs_meta_commit(st, &sp, c, err);
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
	bs_step sp;
	bs_step_begin(st, in, &sp);
	_cleanup_strv_ char **ports = strv_dup(st->cfg->config.exposed_ports);
	_cleanup_strv_ char **mine = NULL;
	for (char **w = in->args; w && *w; w++) {
		_cleanup_free_ char *x = NULL;
		if (bs_expand(st, *w, &x, err) < 0)
			return bs_fail_at(st, in, err);
		if (port_add(&ports, x, err) < 0 || port_add(&mine, x, err) < 0)
			return bs_fail_at(st, in, err);
	}
	image_config_set_run_set(st->cfg, "ExposedPorts", ports);
	_cleanup_free_ char *j = strv_join(mine, " ");
	_cleanup_free_ char *c = xasprintf("EXPOSE %s", j);
	return bs_meta_commit(st, &sp, c, err);
}

static int do_volume(sstate *st, const df_instr *in, berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
	_cleanup_strv_ char **vols = strv_dup(st->cfg->config.volumes);
	_cleanup_strv_ char **mine = NULL;
	for (char **w = in->args; w && *w; w++) {
		_cleanup_free_ char *x = NULL;
		if (in->exec_form)
			x = xstrdup(*w);
		else if (bs_expand(st, *w, &x, err) < 0)
			return bs_fail_at(st, in, err);
		if (!*x) {
			berth_err(err, BERTH_E_INVALID,
			          "VOLUME specified can not be an empty string");
			return bs_fail_at(st, in, err);
		}
		if (!strv_contains(vols, x))
			vols = strv_append(vols, x);
		mine = strv_append(mine, x);
	}
	image_config_set_run_set(st->cfg, "Volumes", vols);
	_cleanup_free_ char *j = strv_join(mine, " ");
	_cleanup_free_ char *c = xasprintf("VOLUME [%s]", j);
	return bs_meta_commit(st, &sp, c, err);
}

static int do_simple_string(sstate *st, const df_instr *in, const char *field, const char *kw,
                            berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
	_cleanup_free_ char *x = NULL;
	if (bs_expand(st, in->args[0], &x, err) < 0)
		return bs_fail_at(st, in, err);
	if (!strcmp(field, "StopSignal") && rt_parse_signal(x) < 0) {
		berth_err(err, BERTH_E_INVALID, "Invalid signal: %s", x);
		return bs_fail_at(st, in, err);
	}
	image_config_set_run_string(st->cfg, field, x);
	_cleanup_free_ char *c = xasprintf("%s %s", kw, x);
	return bs_meta_commit(st, &sp, c, err);
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
	bs_step sp;
	bs_step_begin(st, in, &sp);
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
	_cleanup_free_ char *q = bs_go_quote_list(cmd);
	_cleanup_free_ char *c = xasprintf("%s %s", entry ? "ENTRYPOINT" : "CMD", q);
	return bs_meta_commit(st, &sp, c, err);
}

static int do_shell(sstate *st, const df_instr *in, berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
	if (strv_len(in->args) == 0) {
		berth_err(err, BERTH_E_INVALID, "SHELL requires at least one argument");
		return bs_fail_at(st, in, err);
	}
	image_config_set_run_strv(st->cfg, "Shell", in->args);
	_cleanup_free_ char *q = bs_go_quote_list(in->args);
	_cleanup_free_ char *c = xasprintf("SHELL %s", q);
	return bs_meta_commit(st, &sp, c, err);
}

static int do_healthcheck(sstate *st, const df_instr *in, berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
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
				return bs_fail_at(st, in, err);
			if (*dst[i] != 0 && *dst[i] < 1000000) {
				berth_err(err, BERTH_E_INVALID,
				          "Interval \"%s\" cannot be less than 1ms", durs[i]);
				return bs_fail_at(st, in, err);
			}
		}
		const char *r = df_flag(in, "retries");
		if (r) {
			char *end = NULL;
			long n = strtol(r, &end, 10);
			if (end == r || *end || n < 0) {
				berth_err(err, BERTH_E_INVALID, "invalid --retries value: %s", r);
				return bs_fail_at(st, in, err);
			}
			h.retries = n;
		}
	}
	h.test = test;
	image_config_set_healthcheck(st->cfg, &h);
	_cleanup_free_ char *q = bs_go_quote_list(test);
	_cleanup_free_ char *c = xasprintf("HEALTHCHECK %s", q);
	return bs_meta_commit(st, &sp, c, err);
}

static int do_onbuild(sstate *st, const df_instr *in, berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
	_cleanup_strv_ char **ob = strv_dup(st->cfg->config.on_build);
	ob = strv_append(ob, in->args[0]);
	image_config_set_run_strv(st->cfg, "OnBuild", ob);
	_cleanup_free_ char *c = xasprintf("ONBUILD %s", in->args[0]);
	return bs_meta_commit(st, &sp, c, err);
}

static int do_maintainer(sstate *st, const df_instr *in, berth_error **err)
{
	bs_step sp;
	bs_step_begin(st, in, &sp);
	image_config_set_string(st->cfg, "author", in->rest);
	_cleanup_free_ char *c = xasprintf("MAINTAINER %s", in->rest);
	return bs_meta_commit(st, &sp, c, err);
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
	bs_step sp;
	bs_step_begin(st, in, &sp);
	strbuf canon;
	sb_init(&canon);
	sb_append(&canon, "ARG");
	for (char **w = in->args; w && *w; w++) {
		char *eq = strchr(*w, '=');
		_cleanup_free_ char *k = xstrndup(*w, eq ? (size_t)(eq - *w) : strlen(*w));
		const char *given = bld_build_arg(b, k);
		_cleanup_free_ char *dflt = NULL;
		if (eq && bs_expand(st, eq + 1, &dflt, err) < 0) {
			sb_free(&canon);
			return bs_fail_at(st, in, err);
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
	return bs_meta_commit(st, &sp, c, err);
}

/* ---- WORKDIR ---- */

int bs_fs_commit(sstate *st, bs_step *sp, steproot *r, const char *created_by, const char *key,
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
	bs_step sp;
	bs_step_begin(st, in, &sp);
	_cleanup_free_ char *x = NULL;
	if (bs_expand(st, in->args[0], &x, err) < 0)
		return bs_fail_at(st, in, err);
	_cleanup_free_ char *j = bs_workdir_join(st, x);
	_cleanup_free_ char *wd = bs_abs_clean(j);
	image_config_set_run_string(st->cfg, "WorkingDir", wd);
	_cleanup_free_ char *canon = xasprintf("WORKDIR %s", wd);
	_cleanup_json_ json_t *detail = json_pack("{s:s}", "instr", canon);
	char key[DIGEST_STR_LEN + 1];
	bs_make_key(st->parent, detail, key);
	bool hit;
	if (bld_cache_try(st, key, &hit, err) < 0)
		return -1;
	if (hit) {
		bld_event(st->b, BUILD_EV_CACHED, sp.vertex, NULL, 0);
		bs_step_end(st, &sp);
		return 0;
	}
	bs_report_miss(st, &sp, detail);
	steproot r;
	if (bld_mount(st, &r, err) < 0) {
		bld_steproot_clear(st->b, &r);
		return bs_fail_at(st, in, err);
	}
	copy_attrs a = {.chmod = -1, .as_root = geteuid() == 0};
	int rc = build_mkdir_root(r.rootfd, wd, &a, err);
	_cleanup_free_ char *cb = bs_nop_created_by(st, canon);
	if (rc == 0)
		rc = bs_fs_commit(st, &sp, &r, cb, key, detail, err);
	bld_steproot_clear(st->b, &r);
	if (rc < 0)
		return bs_fail_at(st, in, err);
	bs_step_end(st, &sp);
	return 0;
}

/* ---- dispatch ---- */

typedef int (*instr_fn)(sstate *st, const df_instr *in, berth_error **err);

static int i_add(sstate *st, const df_instr *in, berth_error **err)
{
	return bld_copy(st, in, true, err);
}
static int i_copy(sstate *st, const df_instr *in, berth_error **err)
{
	return bld_copy(st, in, false, err);
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
    {"run", bld_run},
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
