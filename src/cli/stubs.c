/* Weak fallbacks for commands whose module has not landed yet. A real
 * definition in a command file replaces each of these at link time. */
#include <stdio.h>

#include "cli/cli.h"

#define X(name)                                                                       \
	__attribute__((weak)) int cmd_##name(cli_ctx *ctx, int argc, char **argv)     \
	{                                                                             \
		(void)ctx;                                                            \
		(void)argc;                                                           \
		(void)argv;                                                           \
		fprintf(stderr, "Error: 'berth %s' is not implemented yet\n", #name); \
		return EXIT_BERTH_FAILED;                                             \
	}
BERTH_COMMANDS(X)
X(image_prune)
X(image_inspect)
X(container_prune)
X(container_inspect)
X(system_df)
X(system_prune)
#undef X
