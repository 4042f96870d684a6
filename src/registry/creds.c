#include "registry/creds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base64.h"
#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"

static char *config_home(void)
{
	const char *x = getenv("XDG_CONFIG_HOME");
	if (x && *x == '/')
		return xstrdup(x);
	const char *home = getenv("HOME");
	return xasprintf("%s/.config", home && *home ? home : "/root");
}

char *reg_auth_file_path(void)
{
	_cleanup_free_ char *ch = config_home();
	return xasprintf("%s/berth/auth.json", ch);
}

static char *docker_config_path(void)
{
	const char *d = getenv("DOCKER_CONFIG");
	if (d && *d)
		return xasprintf("%s/config.json", d);
	const char *home = getenv("HOME");
	return xasprintf("%s/.docker/config.json", home && *home ? home : "/root");
}

char *reg_normalize_registry(const char *s)
{
	const char *p = s;
	if (str_has_prefix(p, "https://"))
		p += 8;
	else if (str_has_prefix(p, "http://"))
		p += 7;
	size_t n = strcspn(p, "/");
	_cleanup_free_ char *host = xstrndup(p, n);
	if (!strcmp(host, "index.docker.io") || !strcmp(host, "registry-1.docker.io") ||
	    !strcmp(host, "registry.hub.docker.com") || !strcmp(host, "docker.io") || !*host)
		return xstrdup("docker.io");
	return steal_ptr(host);
}

const char *reg_auth_key(const char *registry)
{
	return !strcmp(registry, "docker.io") ? REG_DOCKER_HUB_AUTH_KEY : registry;
}

/* Find the entry of `auths` whose key normalises to registry. */
static json_t *find_entry(json_t *auths, const char *registry, const char **key_out)
{
	const char *key;
	json_t *v;
	json_object_foreach (auths, key, v) {
		_cleanup_free_ char *n = reg_normalize_registry(key);
		if (!strcmp(n, registry)) {
			if (key_out)
				*key_out = key;
			return v;
		}
	}
	return NULL;
}

static int lookup_in(const char *path, const char *registry, char **user, char **pass,
                     berth_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	_cleanup_json_ json_t *doc = json_parse_file(path, err);
	if (!doc)
		return -1;
	json_t *e = find_entry(json_object_get(doc, "auths"), registry, NULL);
	if (!e)
		return 0;
	const char *auth = json_get_str(e, "auth");
	if (auth && *auth) {
		_cleanup_free_ char *dec = NULL;
		size_t n = 0;
		if (base64_decode(auth, strlen(auth), &dec, &n) < 0 || !strchr(dec, ':'))
			return berth_err(err, BERTH_E_INVALID, "%s: invalid auth entry for %s",
			                 path, registry);
		char *colon = strchr(dec, ':');
		*user = xstrndup(dec, (size_t)(colon - dec));
		*pass = xstrdup(colon + 1);
		return 1;
	}
	const char *u = json_get_str(e, "username");
	const char *p = json_get_str(e, "password");
	if (u && p) {
		*user = xstrdup(u);
		*pass = xstrdup(p);
		return 1;
	}
	return 0;
}

int reg_creds_lookup(const char *registry, char **user, char **pass, berth_error **err)
{
	_cleanup_free_ char *mine = reg_auth_file_path();
	int r = lookup_in(mine, registry, user, pass, err);
	if (r != 0)
		return r;
	_cleanup_free_ char *docker = docker_config_path();
	return lookup_in(docker, registry, user, pass, err);
}

static json_t *load_mine(const char *path, berth_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return json_object();
	return json_parse_file(path, err);
}

static int save_mine(const char *path, json_t *doc, berth_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	strbuf sb;
	sb_init(&sb);
	sb_append(&sb, text);
	sb_appendc(&sb, '\n');
	int r = atomic_write(path, sb.buf, sb.len, 0600, true, err);
	sb_free(&sb);
	return r;
}

int reg_creds_store(const char *registry, const char *user, const char *pass, berth_error **err)
{
	_cleanup_free_ char *path = reg_auth_file_path();
	_cleanup_json_ json_t *doc = load_mine(path, err);
	if (!doc)
		return -1;
	json_t *auths = json_object_get(doc, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(doc, "auths", auths);
	}
	const char *old = NULL;
	if (find_entry(auths, registry, &old)) {
		_cleanup_free_ char *k = xstrdup(old);
		json_object_del(auths, k);
	}
	_cleanup_free_ char *up = xasprintf("%s:%s", user, pass);
	_cleanup_free_ char *b = base64_encode(up, strlen(up));
	json_object_set_new(auths, reg_auth_key(registry), json_pack("{s:s}", "auth", b));
	return save_mine(path, doc, err);
}

int reg_creds_erase(const char *registry, bool *found, berth_error **err)
{
	*found = false;
	_cleanup_free_ char *path = reg_auth_file_path();
	_cleanup_json_ json_t *doc = load_mine(path, err);
	if (!doc)
		return -1;
	json_t *auths = json_object_get(doc, "auths");
	const char *old = NULL;
	if (!json_is_object(auths) || !find_entry(auths, registry, &old))
		return 0;
	_cleanup_free_ char *k = xstrdup(old);
	json_object_del(auths, k);
	*found = true;
	return save_mine(path, doc, err);
}
