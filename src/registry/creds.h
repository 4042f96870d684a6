/* Registry credentials. `berth login` writes them to berth's own file,
 * $XDG_CONFIG_HOME/berth/auth.json (default ~/.config/berth/auth.json),
 * mode 0600, in Docker's config.json layout ({"auths": {KEY: {"auth":
 * base64("user:pass")}}}). Lookups read that file, then Docker's
 * ~/.docker/config.json (or $DOCKER_CONFIG/config.json) "auths" entries.
 * KEY is the registry host[:port]; Docker Hub's is
 * "https://index.docker.io/v1/", as Docker writes it. */
#ifndef BERTH_REGISTRY_CREDS_H
#define BERTH_REGISTRY_CREDS_H

#include <stdbool.h>

#include "base/error.h"

#define REG_DOCKER_HUB_AUTH_KEY "https://index.docker.io/v1/"

/* The file berth writes (caller frees). */
char *reg_auth_file_path(void);
/* The key under which credentials for a registry host are kept. */
const char *reg_auth_key(const char *registry);
/* Reduce a Docker config key or a login argument ("https://host/v2/",
 * "http://host", "index.docker.io") to a registry host ("docker.io" for
 * Docker Hub). Caller frees. */
char *reg_normalize_registry(const char *s);

/* 1 and allocated user/pass when found, 0 when none, -1 on a broken file. */
int reg_creds_lookup(const char *registry, char **user, char **pass, berth_error **err);
int reg_creds_store(const char *registry, const char *user, const char *pass, berth_error **err);
/* *found tells whether there was anything to remove. */
int reg_creds_erase(const char *registry, bool *found, berth_error **err);

#endif
