/* .dockerignore patterns with Docker's rules: '*', '?', '[...]', '**',
 * '!' exceptions (the last matching pattern wins), leading '/' and
 * "./" dropped, paths cleaned, comments, and a pattern that matches a
 * directory excludes everything below it. */
#ifndef BERTH_BUILD_DOCKERIGNORE_H
#define BERTH_BUILD_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

typedef struct dockerignore dockerignore;

int dockerignore_parse(const char *buf, size_t len, dockerignore **out, berth_error **err);
void dockerignore_free(dockerignore *di);
static inline void dockerignore_freep(dockerignore **d)
{
	dockerignore_free(*d);
}
#define _cleanup_dockerignore_ __attribute__((cleanup(dockerignore_freep)))

/* Is the context-relative path (no leading "/" or "./") excluded? */
bool dockerignore_excluded(const dockerignore *di, const char *path);
/* Could anything below dir be re-included by an exception? (When false,
 * an excluded directory need not be walked.) */
bool dockerignore_has_exceptions(const dockerignore *di);

/* Glob match of a whole path: '*' and '?' do not cross '/', "**" does. */
bool glob_match_path(const char *pattern, const char *path);

/* Clean a path as Go's filepath.Clean (no leading '/', "." for empty). */
char *path_clean_rel(const char *p);

#endif
