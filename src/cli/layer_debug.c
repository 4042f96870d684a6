/* Hidden commands for tests and benchmarks:
 *   berth __layer-apply SRC DIR   unpack a layer (SRC "-" = stdin) into the new
 *                                 directory DIR; prints diff ID, digest, size
 *   berth __layer-diff [--whiteouts] DIR   write DIR as a layer tar to stdout;
 *                                 prints diff ID and size to stderr */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "cli/cli.h"
#include "image/layer.h"

int cmd_layer_apply_debug(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	bool userns = false;
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--userns")) {
		userns = true;
		i++;
	}
	if (argc - i != 2)
		return cli_usage_error("__layer-apply", "requires exactly 2 arguments: SRC DIR");
	const char *src = argv[i], *dir = argv[i + 1];
	_cleanup_close_ int fd = -1;
	if (strcmp(src, "-") != 0) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_failf(EXIT_BERTH_FAILED, "opening %s: %m", src);
	}
	layer_apply_opts opts = {.in_userns = userns};
	layer_apply_result res;
	berth_error *err = NULL;
	if (layer_apply_path(fd >= 0 ? fd : STDIN_FILENO, dir, &opts, &res, &err) < 0) {
		int code = cli_fail(err);
		berth_error_free(err);
		return code;
	}
	printf("{\"diff_id\":\"%s\",\"digest\":\"%s\",\"size\":%" PRIu64 "}\n", res.diff_id,
	       res.digest, res.size);
	return 0;
}

int cmd_layer_diff_debug(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	layer_diff_opts opts = {0};
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--whiteouts")) {
		opts.overlay_whiteouts = true;
		i++;
	}
	if (argc - i != 1)
		return cli_usage_error("__layer-diff", "requires exactly 1 argument: DIR");
	_cleanup_close_ int dfd = open(argv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cli_failf(EXIT_BERTH_FAILED, "opening %s: %m", argv[i]);
	if (isatty(STDOUT_FILENO))
		return cli_failf(EXIT_BERTH_FAILED, "refusing to write a tar to a terminal");
	char diff_id[DIGEST_STR_LEN + 1];
	uint64_t size = 0;
	berth_error *err = NULL;
	if (layer_diff(dfd, STDOUT_FILENO, &opts, diff_id, &size, &err) < 0) {
		int code = cli_fail(err);
		berth_error_free(err);
		return code;
	}
	fprintf(stderr, "{\"diff_id\":\"%s\",\"size\":%" PRIu64 "}\n", diff_id, size);
	return 0;
}
