/* RUN --mount, --secret and --output specs. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/spec.h"

void build_mount_spec_clear(build_mount_spec *m)
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
	memset(m, 0, sizeof(*m));
}

static bool is_true(const char *v)
{
	return !strcmp(v, "true") || !strcmp(v, "1");
}

int build_mount_parse(const char *spec, char escape, df_lookup_fn lookup, void *ud,
                      build_mount_spec *m, berth_error **err)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
	    {"destination", offsetof(build_mount_spec, target)},
	    {"dst", offsetof(build_mount_spec, target)},
	    {"env", offsetof(build_mount_spec, env)},
	    {"from", offsetof(build_mount_spec, from)},
	    {"gid", offsetof(build_mount_spec, gid)},
	    {"id", offsetof(build_mount_spec, id)},
	    {"mode", offsetof(build_mount_spec, mode)},
	    {"source", offsetof(build_mount_spec, source)},
	    {"src", offsetof(build_mount_spec, source)},
	    {"target", offsetof(build_mount_spec, target)},
	    {"type", offsetof(build_mount_spec, type)},
	    {"uid", offsetof(build_mount_spec, uid)},
	};
	memset(m, 0, sizeof(*m));
	_cleanup_strv_ char **kv = str_split(spec, ',');
	for (char **p = kv; *p; p++) {
		char *eq = strchr(*p, '=');
		_cleanup_free_ char *k = xstrndup(*p, eq ? (size_t)(eq - *p) : strlen(*p));
		_cleanup_free_ char *v = NULL;
		if (df_expand(eq ? eq + 1 : "", escape, lookup, ud, &v, err) < 0)
			goto fail;
		bool done = false;
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
			if (!strcmp(fields[i].key, k)) {
				char **dst = (char **)((char *)m + fields[i].off);
				free(*dst);
				*dst = steal_ptr(v);
				done = true;
				break;
			}
		if (done)
			continue;
		if (!strcmp(k, "ro") || !strcmp(k, "readonly")) {
			m->readonly = !eq || is_true(v);
		} else if (!strcmp(k, "rw") || !strcmp(k, "readwrite")) {
			m->readonly = eq && !is_true(v);
			m->rw_set = true;
		} else if (!strcmp(k, "required")) {
			m->required = !eq || is_true(v);
		} else if (!strcmp(k, "sharing") || !strcmp(k, "size")) {
			/* accepted: one builder shares a cache dir as "shared" does */
		} else {
			berth_err(err, BERTH_E_INVALID, "unexpected key '%s' in '%s'", k, *p);
			goto fail;
		}
	}
	if (m->type == NULL)
		m->type = xstrdup("bind");
	if (strcmp(m->type, "bind") && strcmp(m->type, "cache") && strcmp(m->type, "tmpfs") &&
	    strcmp(m->type, "secret") && strcmp(m->type, "ssh")) {
		berth_err(err, BERTH_E_INVALID, "unsupported mount type \"%s\"", m->type);
		goto fail;
	}
	if (!strcmp(m->type, "ssh")) {
		berth_err(err, BERTH_E_UNSUPPORTED, "--mount=type=ssh is not supported");
		goto fail;
	}
	if (!strcmp(m->type, "secret")) {
		if ((m->target == NULL || !*m->target) && (m->id == NULL || !*m->id)) {
			berth_err(err, BERTH_E_INVALID, "secret mount needs an id or a target");
			goto fail;
		}
	} else if (m->target == NULL || !*m->target) {
		berth_err(err, BERTH_E_INVALID, "mount type=%s requires a target", m->type);
		goto fail;
	}
	if (!strcmp(m->type, "bind") && !m->rw_set)
		m->readonly = true;
	return 0;
fail:
	build_mount_spec_clear(m);
	return -1;
}

int build_secret_parse(const char *spec, char **id, char **src, char **env, berth_error **err)
{
	*id = *src = *env = NULL;
	_cleanup_strv_ char **kv = str_split(spec, ',');
	_cleanup_free_ char *type = NULL;
	for (char **p = kv; *p; p++) {
		char *eq = strchr(*p, '=');
		if (eq == NULL)
			goto bad;
		_cleanup_free_ char *k = xstrndup(*p, (size_t)(eq - *p));
		char **dst = NULL;
		if (!strcmp(k, "id"))
			dst = id;
		else if (!strcmp(k, "src") || !strcmp(k, "source"))
			dst = src;
		else if (!strcmp(k, "env"))
			dst = env;
		else if (!strcmp(k, "type"))
			dst = &type;
		if (dst == NULL)
			goto bad;
		free(*dst);
		*dst = xstrdup(eq + 1);
	}
	if (type && strcmp(type, "file") && strcmp(type, "env"))
		goto bad;
	if (*id == NULL || !**id) {
		/* BuildKit: the id defaults to the file name of src */
		if (*src && **src) {
			const char *sl = strrchr(*src, '/');
			free(*id);
			*id = xstrdup(sl ? sl + 1 : *src);
		} else {
			goto bad;
		}
	}
	if (type && !strcmp(type, "env") && *env == NULL && *src) {
		*env = steal_ptr(*src);
	}
	return 0;
bad:
	free(*id);
	free(*src);
	free(*env);
	*id = *src = *env = NULL;
	return berth_err(err, BERTH_E_INVALID,
	                 "invalid secret \"%s\" (want id=ID[,src=PATH|,env=VAR])", spec);
}

int build_output_parse(const char *spec, char **type, char **dest, berth_error **err)
{
	*type = *dest = NULL;
	if (!strchr(spec, '=')) {
		*type = xstrdup("local");
		*dest = xstrdup(spec);
	} else {
		_cleanup_strv_ char **kv = str_split(spec, ',');
		for (char **p = kv; *p; p++) {
			char **dst = NULL;
			if (str_has_prefix(*p, "type="))
				dst = type;
			else if (str_has_prefix(*p, "dest="))
				dst = dest;
			if (dst == NULL) {
				free(*type);
				free(*dest);
				*type = *dest = NULL;
				return berth_err(err, BERTH_E_INVALID,
				                 "invalid --output: unknown key in \"%s\"", *p);
			}
			free(*dst);
			*dst = xstrdup(strchr(*p, '=') + 1);
		}
	}
	if (*type == NULL || *dest == NULL || !**dest ||
	    (strcmp(*type, "local") && strcmp(*type, "tar"))) {
		bool bad_type = *type && strcmp(*type, "local") && strcmp(*type, "tar");
		free(*type);
		free(*dest);
		*type = *dest = NULL;
		if (bad_type)
			return berth_err(
			    err, BERTH_E_UNSUPPORTED,
			    "--output \"%s\": only type=local and type=tar are supported", spec);
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid --output \"%s\": type and dest are needed", spec);
	}
	return 0;
}
