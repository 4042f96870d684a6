/* berth's config file: JSON, by default /etc/berth/berth.json (a missing
 * default file is fine; a missing file named with --config is an error).
 *
 *   {
 *     "bridge": "berth0",                 name of the default bridge
 *     "default-subnet": "10.77.0.0/16",   subnet of the default bridge
 *     "default-address-pools": ["10.78.0.0/15"],  for user networks
 *     "dns": ["192.0.2.53"],              resolvers for containers and for
 *                                         forwarding by the embedded DNS
 *     "mtu": 1500,
 *     "insecure-registries": ["localhost:5000"],
 *     "registry-mirrors": ["https://mirror.example"],
 *     "userns-remap": "default"           containers in a user namespace
 *                                         mapped to the subordinate ids of
 *                                         "default" (dockremap) or
 *                                         "user[:group]", as dockerd's
 *   }
 *
 * Unknown keys are kept in "raw" for modules that add their own. */
#ifndef BERTH_BASE_CONFIG_H
#define BERTH_BASE_CONFIG_H

#include <jansson.h>

#include "base/error.h"

#define BERTH_CONFIG_DEFAULT_PATH "/etc/berth/berth.json"

typedef struct berth_config {
	char *path; /* the file read, NULL if none */
	char *bridge; /* NULL: "berth0" */
	char *default_subnet; /* NULL: chosen by berth */
	char **default_address_pools; /* NULL-terminated, may be NULL */
	char **dns;
	char **insecure_registries;
	char **registry_mirrors;
	char *userns_remap; /* NULL: no remapping */
	int mtu; /* 0: unset */
	json_t *raw; /* the whole document (an empty object when no file) */
} berth_config;

/* path NULL: the default path, which may be missing. */
int berth_config_load(const char *path, berth_config **out, berth_error **err);
/* Parse a document held in memory (what = name for messages). */
int berth_config_parse(const char *buf, size_t len, const char *what, berth_config **out,
                       berth_error **err);
void berth_config_free(berth_config *c);
static inline void berth_config_freep(berth_config **c)
{
	berth_config_free(*c);
}
#define _cleanup_config_ __attribute__((cleanup(berth_config_freep)))

#endif
