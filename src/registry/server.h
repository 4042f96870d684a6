/* berth's registry server: the OCI distribution spec v1.1 over
 * libmicrohttpd, storing into a regstore (regstore.h). */
#ifndef BERTH_REGISTRY_SERVER_H
#define BERTH_REGISTRY_SERVER_H

#include <stdbool.h>

#include "base/error.h"

typedef struct registry_server_opts {
	const char *addr; /* "127.0.0.1:5000", ":5000", "[::1]:5000"; port 0 = any free port */
	const char *root; /* storage directory */
	const char *tls_cert, *tls_key; /* PEM files; both or neither */
	const char
	    *htpasswd; /* basic auth from an Apache htpasswd file (bcrypt, crypt(3), {SHA}) */
	bool read_only;
	unsigned threads; /* worker threads; 0 = a default from the CPU count */
} registry_server_opts;

typedef struct registry_server registry_server;

int registry_server_start(const registry_server_opts *opts, registry_server **out,
                          berth_error **err);
/* The bound address as "HOST:PORT" (the real port when 0 was asked for). */
const char *registry_server_address(const registry_server *s);
void registry_server_stop(registry_server *s);

/* Check user/password against an htpasswd file's contents. Exposed for
 * the unit tests. */
bool htpasswd_check(const char *file_contents, const char *user, const char *pass);

#endif
