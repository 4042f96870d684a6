/* The small option grammars of berth build: RUN --mount=..., --secret and
 * --output. Pure parsers (fuzzed by tests/fuzz/fuzz_buildspec.c). */
#ifndef BERTH_BUILD_SPEC_H
#define BERTH_BUILD_SPEC_H

#include <stdbool.h>

#include "base/error.h"
#include "build/dockerfile.h"

typedef struct build_mount_spec {
	char *type; /* bind (default), cache, tmpfs, secret */
	char *target, *source, *from, *id, *mode, *uid, *gid, *env;
	bool readonly; /* bind mounts are read-only unless rw */
	bool required;
	bool rw_set;
} build_mount_spec;

/* "type=cache,target=/x,id=y,..." with each value expanded by lookup
 * (NULL: quotes and escapes only). */
int build_mount_parse(const char *spec, char escape, df_lookup_fn lookup, void *ud,
                      build_mount_spec *m, berth_error **err);
void build_mount_spec_clear(build_mount_spec *m);

/* --secret "id=x,src=path" | "id=x,env=VAR" | "id=x" (type=file|env accepted). */
int build_secret_parse(const char *spec, char **id, char **src, char **env, berth_error **err);

/* --output "type=local,dest=DIR" | "type=tar,dest=FILE" | "DIR" (local). */
int build_output_parse(const char *spec, char **type, char **dest, berth_error **err);

#endif
