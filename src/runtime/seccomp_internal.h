/* The table generated from Docker's default profile
 * (src/runtime/seccomp-default.json) by scripts/gen-seccomp-default.py at
 * build time. */
#ifndef BERTH_RUNTIME_SECCOMP_INTERNAL_H
#define BERTH_RUNTIME_SECCOMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct seccomp_default_arg {
	unsigned index;
	uint64_t value, value_two;
	const char *op;
};

/* String lists end with NULL; absent lists are NULL. */
struct seccomp_default_rule {
	const char *const *names;
	const char *action;
	long errno_ret; /* -1: none */
	const struct seccomp_default_arg *args;
	size_t nargs;
	const char *const *inc_caps, *const *inc_arches, *const *exc_caps, *const *exc_arches;
	const char *min_kernel; /* NULL: none */
};

struct seccomp_default_arch {
	const char *arch;
	const char *const *sub;
};

extern const char seccomp_default_action[];
extern const long seccomp_default_errno_ret; /* -1: none */
extern const struct seccomp_default_rule seccomp_default_rules[];
extern const size_t seccomp_default_nrules;
extern const struct seccomp_default_arch seccomp_default_archmap[];
extern const size_t seccomp_default_narch;

#endif
