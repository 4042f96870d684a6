/* `berth image` in berth-ctr: the launcher sends only the read-only
 * subcommands here (image ls/list/inspect), so that listing and inspecting
 * images does not load curl, libarchive and TLS at every start. The full
 * group is in image.c (berth-engine). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int cmd_image(cli_ctx *ctx, int argc, char **argv)
{
	optind = 0;
	if (argc >= 2 && (!strcmp(argv[1], "ls") || !strcmp(argv[1], "list")))
		return cmd_images(ctx, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "inspect"))
		return cmd_image_inspect(ctx, argc - 1, argv + 1);
	fprintf(stderr, "Error: 'image %s' is served by berth-engine (run it through berth)\n",
	        argc >= 2 ? argv[1] : "");
	return EXIT_BERTH_FAILED;
}
