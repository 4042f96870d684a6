/* Parsers of the user's mount specifications (outside input: fuzzed by
 * tests/fuzz/fuzz_mountspec.c): --mount key=value lists, -v/Binds
 * "SRC:DST[:MODE]", and detach key sequences. No side effects. */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/container.h"

int ctr_mount_flag_parse(const char *v, json_t **out, berth_error **err)
{
	*out = NULL;
	json_t *m = json_object();
	_cleanup_json_ json_t *guard = m;
	_cleanup_strv_ char **kvs = str_split(v, ',');
	json_object_set_new(m, "Type", json_string("volume"));
	for (size_t i = 0; kvs && kvs[i]; i++) {
		char *kv = kvs[i];
		char *eq = strchr(kv, '=');
		const char *val = eq ? eq + 1 : NULL;
		if (eq)
			*eq = 0;
		if (!strcmp(kv, "type")) {
			json_object_set_new(m, "Type", json_string(val ? val : ""));
		} else if (!strcmp(kv, "source") || !strcmp(kv, "src")) {
			json_object_set_new(m, "Source", json_string(val ? val : ""));
		} else if (!strcmp(kv, "target") || !strcmp(kv, "destination") ||
		           !strcmp(kv, "dst")) {
			json_object_set_new(m, "Target", json_string(val ? val : ""));
		} else if (!strcmp(kv, "readonly") || !strcmp(kv, "ro")) {
			bool ro = val == NULL || !strcmp(val, "true") || !strcmp(val, "1");
			json_object_set_new(m, "ReadOnly", json_boolean(ro));
		} else if (!strcmp(kv, "bind-propagation")) {
			json_object_set_new(m, "BindOptions",
			                    json_pack("{s:s}", "Propagation", val ? val : ""));
		} else if (!strcmp(kv, "volume-nocopy")) {
			json_t *vo = json_object_get(m, "VolumeOptions");
			if (!vo) {
				vo = json_object();
				json_object_set_new(m, "VolumeOptions", vo);
			}
			json_object_set_new(vo, "NoCopy",
			                    json_boolean(val == NULL || !strcmp(val, "true")));
		} else if (!strcmp(kv, "volume-label")) {
			json_t *vo = json_object_get(m, "VolumeOptions");
			if (!vo) {
				vo = json_object();
				json_object_set_new(m, "VolumeOptions", vo);
			}
			json_t *l = json_object_get(vo, "Labels");
			if (!l) {
				l = json_object();
				json_object_set_new(vo, "Labels", l);
			}
			const char *e2 = val ? strchr(val, '=') : NULL;
			if (e2) {
				_cleanup_free_ char *k = xstrndup(val, (size_t)(e2 - val));
				json_object_set_new(l, k, json_string(e2 + 1));
			} else if (val) {
				json_object_set_new(l, val, json_string(""));
			}
		} else if (!strcmp(kv, "tmpfs-size")) {
			int64_t sz;
			if (parse_size(val ? val : "", &sz, err) < 0)
				return -1;
			json_object_set_new(m, "TmpfsOptions", json_pack("{s:I}", "SizeBytes", sz));
		} else if (!strcmp(kv, "tmpfs-mode")) {
			json_t *to = json_object_get(m, "TmpfsOptions");
			if (!to) {
				to = json_object();
				json_object_set_new(m, "TmpfsOptions", to);
			}
			json_object_set_new(to, "Mode",
			                    json_integer(strtol(val ? val : "0", NULL, 8)));
		} else {
			return berth_err(
			    err, BERTH_E_INVALID,
			    "invalid argument \"%s\" for \"--mount\" flag: unexpected key "
			    "'%s' in '%s'",
			    v, kv, v);
		}
	}
	if (!json_get_str(m, "Target"))
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid argument \"%s\" for \"--mount\" flag: target is required",
		                 v);
	*out = steal_ptr(guard);
	return 0;
}

void ctr_bind_spec_clear(ctr_bind_spec *b)
{
	free(b->src);
	free(b->dst);
	free(b->mode);
	memset(b, 0, sizeof(*b));
}

int ctr_bind_spec_parse(const char *spec, ctr_bind_spec *out, berth_error **err)
{
	memset(out, 0, sizeof(*out));
	out->rw = true;
	_cleanup_strv_ char **parts = str_split(spec, ':');
	size_t n = strv_len(parts);
	if (n == 0 || n > 3 || !*parts[0])
		return berth_err(err, BERTH_E_INVALID, "invalid volume specification: '%s'", spec);
	const char *dst = n >= 2 ? parts[1] : parts[0];
	if (dst[0] != '/')
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid mount config: mount path must be absolute");
	if (!strcmp(dst, "/"))
		return berth_err(err, BERTH_E_INVALID,
		                 "invalid specification: destination can't be '/'");
	const char *mode = n == 3 ? parts[2] : "";
	_cleanup_strv_ char **mv = str_split(mode, ',');
	for (size_t i = 0; mv && mv[i]; i++) {
		const char *o = mv[i];
		if (!strcmp(o, "ro"))
			out->rw = false;
		else if (!strcmp(o, "rw") || !strcmp(o, "z") || !strcmp(o, "Z") || !*o)
			;
		else if (!strcmp(o, "nocopy"))
			out->nocopy = true;
		else if (!strcmp(o, "shared") || !strcmp(o, "rshared") || !strcmp(o, "slave") ||
		         !strcmp(o, "rslave") || !strcmp(o, "private") || !strcmp(o, "rprivate"))
			; /* recorded below */
		else
			return berth_err(err, BERTH_E_INVALID, "invalid mode: %s", o);
	}
	out->src = n >= 2 ? xstrdup(parts[0]) : NULL;
	out->dst = xstrdup(dst);
	out->mode = xstrdup(mode);
	out->propagation = NULL;
	for (size_t i = 0; mv && mv[i]; i++) {
		static const char *const props[] = {"shared", "rshared", "slave",
		                                    "rslave", "private", "rprivate"};
		for (size_t k = 0; k < ARRAY_SIZE(props); k++)
			if (!strcmp(mv[i], props[k]))
				out->propagation = props[k];
	}
	return 0;
}

int ctr_parse_detach_keys(const char *spec, unsigned char *keys, size_t cap)
{
	size_t n = 0;
	_cleanup_strv_ char **v = str_split(spec, ',');
	for (size_t i = 0; v && v[i]; i++) {
		if (n >= cap)
			return -1;
		const char *k = v[i];
		if (str_has_prefix(k, "ctrl-") && strlen(k) == 6) {
			char c = k[5];
			if (c >= 'a' && c <= 'z')
				keys[n++] = (unsigned char)(c - 'a' + 1);
			else if (c == '@')
				keys[n++] = 0;
			else if (c >= '[' && c <= '_')
				keys[n++] = (unsigned char)(c - '[' + 27);
			else
				return -1;
		} else if (strlen(k) == 1) {
			keys[n++] = (unsigned char)k[0];
		} else {
			return -1;
		}
	}
	return n ? (int)n : -1;
}
