/* The berth command line: shared context and helpers for command files.
 * Each command file parses its flags, makes one library call and prints. */
#ifndef BERTH_CLI_CLI_H
#define BERTH_CLI_CLI_H

#include <stdbool.h>

#include "base/error.h"

/* Exit codes as Docker's. */
#define EXIT_BERTH_FAILED 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_NOT_FOUND 127

typedef struct cli_ctx {
	const char *root; /* --root / BERTH_ROOT, default /var/lib/berth */
	const char *runroot; /* --runroot / BERTH_RUNROOT, default /run/berth */
	const char *config; /* --config FILE (berth's config), may be NULL */
	bool debug;
	const char *argv0; /* path of the running berth binary */
} cli_ctx;

typedef int (*cli_cmd_fn)(cli_ctx *ctx, int argc, char **argv);

/* Print "Error: <msg>" (or with prefix) to stderr and return exit code. */
int cli_fail(berth_error *err);
int cli_failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The prune commands' prompt, on stdout as Docker's: "<warning>\nAre you
 * sure you want to continue? [y/N] "; true when the answer is y or Y. */
bool cli_confirm(const char *warning);
/* Usage error: "<cmd>: <msg>\nSee 'berth <cmd> --help'." exit 125 (Docker's). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every command entry point. Not-yet-built commands fall back to a weak
 * definition in stubs.c that reports that plainly. */
/* clang-format off */
#define BERTH_COMMANDS(X)                                                             \
	X(attach) X(build) X(commit) X(compose) X(container) X(cp) X(create) X(diff)  \
	X(events) X(exec) X(export) X(history) X(image) X(images) X(import) X(info)   \
	X(inspect) X(kill) X(load) X(login) X(logout) X(logs) X(network) X(pause)     \
	X(port) X(ps) X(pull) X(push) X(registry) X(rename) X(restart) X(rm) X(rmi)   \
	X(run) X(runtime) X(save) X(search) X(serve) X(start) X(stats) X(stop)        \
	X(system) X(tag) X(top) X(unpause) X(update) X(version) X(volume) X(wait)
/* clang-format on */

#define X(name) int cmd_##name(cli_ctx *ctx, int argc, char **argv);
BERTH_COMMANDS(X)
#undef X

/* Sub-commands of "image" and "container" that map onto top-level ones. */
int cmd_image_prune(cli_ctx *ctx, int argc, char **argv);
int cmd_image_inspect(cli_ctx *ctx, int argc, char **argv);
int cmd_container_prune(cli_ctx *ctx, int argc, char **argv);
int cmd_container_inspect(cli_ctx *ctx, int argc, char **argv);
int cmd_system_df(cli_ctx *ctx, int argc, char **argv);
int cmd_system_prune(cli_ctx *ctx, int argc, char **argv);
/* Hidden commands (layer_debug.c). */
int cmd_layer_apply_debug(cli_ctx *ctx, int argc, char **argv);
int cmd_layer_diff_debug(cli_ctx *ctx, int argc, char **argv);

#endif
