#include "base/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

static int get_strv(json_t *doc, const char *key, char ***out, const char *what, berth_error **err)
{
	json_t *v = json_object_get(doc, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return berth_err(err, BERTH_E_INVALID, "%s: \"%s\" must be an array of strings",
		                 what, key);
	size_t i;
	json_t *s;
	json_array_foreach (v, i, s) {
		if (!json_is_string(s))
			return berth_err(err, BERTH_E_INVALID,
			                 "%s: \"%s\" must be an array of strings", what, key);
	}
	*out = json_get_strv(doc, key);
	return 0;
}

static int get_str(json_t *doc, const char *key, char **out, const char *what, berth_error **err)
{
	json_t *v = json_object_get(doc, key);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return berth_err(err, BERTH_E_INVALID, "%s: \"%s\" must be a string", what, key);
	*out = xstrdup(json_string_value(v));
	return 0;
}

int berth_config_parse(const char *buf, size_t len, const char *what, berth_config **out,
                       berth_error **err)
{
	*out = NULL;
	json_t *doc = json_parse_buf(buf, len, what, err);
	if (doc == NULL)
		return -1;
	berth_config *c = xcalloc(1, sizeof(*c));
	c->raw = doc;
	if (!json_is_object(doc)) {
		berth_config_free(c);
		return berth_err(err, BERTH_E_INVALID, "%s: the configuration must be an object",
		                 what);
	}
	json_t *mtu = json_object_get(doc, "mtu");
	if (mtu && !json_is_null(mtu)) {
		if (!json_is_integer(mtu) || json_integer_value(mtu) < 68 ||
		    json_integer_value(mtu) > 65535) {
			berth_config_free(c);
			return berth_err(err, BERTH_E_INVALID, "%s: \"mtu\" must be 68..65535",
			                 what);
		}
		c->mtu = (int)json_integer_value(mtu);
	}
	if (get_str(doc, "bridge", &c->bridge, what, err) < 0 ||
	    get_str(doc, "default-subnet", &c->default_subnet, what, err) < 0 ||
	    get_str(doc, "userns-remap", &c->userns_remap, what, err) < 0 ||
	    get_strv(doc, "default-address-pools", &c->default_address_pools, what, err) < 0 ||
	    get_strv(doc, "dns", &c->dns, what, err) < 0 ||
	    get_strv(doc, "insecure-registries", &c->insecure_registries, what, err) < 0 ||
	    get_strv(doc, "registry-mirrors", &c->registry_mirrors, what, err) < 0) {
		berth_config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int berth_config_load(const char *path, berth_config **out, berth_error **err)
{
	*out = NULL;
	const char *p = path ? path : BERTH_CONFIG_DEFAULT_PATH;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	berth_error *e = NULL;
	if (read_file(p, &data, &len, &e) < 0) {
		if (path == NULL && e->sys_errno == ENOENT) {
			berth_error_free(e);
			berth_config *c = xcalloc(1, sizeof(*c));
			c->raw = json_object();
			*out = c;
			return 0;
		}
		berth_err(err, BERTH_E_INVALID, "reading the configuration file: %s", e->msg);
		berth_error_free(e);
		return -1;
	}
	if (berth_config_parse(data, len, p, out, err) < 0)
		return -1;
	(*out)->path = xstrdup(p);
	return 0;
}

void berth_config_free(berth_config *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->bridge);
	free(c->default_subnet);
	free(c->userns_remap);
	strv_free(c->default_address_pools);
	strv_free(c->dns);
	strv_free(c->insecure_registries);
	strv_free(c->registry_mirrors);
	json_decref(c->raw);
	free(c);
}
