/* berth load / save */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/clistore.h"
#include "image/image.h"

int cmd_load(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_HELP = 256, OPT_PLATFORM };
	static const struct option opts[] = {
	    {"input", required_argument, NULL, 'i'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	const char *input = NULL;
	bool quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'q': quiet = true; break;
		case OPT_PLATFORM: break;
		case 'h':
		case OPT_HELP:
			printf(
			    "Usage:  berth load [OPTIONS]\n\nLoad an image from a tar archive or "
			    "STDIN\n\nAliases:\n  berth image load, berth load\n\nOptions:\n  -i, "
			    "--input string   Read from tar archive file, "
			    "instead of STDIN\n  -q, --quiet          Suppress the load output\n");
			return 0;
		default: return cli_usage_error("load", "unknown flag");
		}
	}
	if (optind < argc)
		return cli_usage_error("load", "\"load\" accepts no arguments.");
	(void)quiet; /* berth prints no progress bars; -q changes nothing else */
	_cleanup_close_ int fd = -1;
	int in = STDIN_FILENO;
	if (input && strcmp(input, "-") != 0) {
		fd = open(input, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_failf(EXIT_BERTH_FAILED, "open %s: %s", input, strerror(errno));
		in = fd;
	} else if (isatty(STDIN_FILENO)) {
		return cli_failf(EXIT_BERTH_FAILED,
		                 "requested load from stdin, but stdin is empty");
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_strv_ char **report = NULL;
	if (image_load(s, in, &report, &err) < 0)
		return cli_fail(err);
	for (char **l = report; l && *l; l++)
		printf("%s\n", *l);
	return 0;
}

int cmd_save(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_HELP = 256, OPT_FORMAT, OPT_PLATFORM };
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	enum image_save_format fmt = IMAGE_SAVE_DOCKER;
	int c;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "oci"))
				fmt = IMAGE_SAVE_OCI;
			else if (!strcmp(optarg, "docker") || !strcmp(optarg, "docker-archive"))
				fmt = IMAGE_SAVE_DOCKER;
			else
				return cli_failf(EXIT_BERTH_FAILED,
				                 "unknown format %s (use docker or oci)", optarg);
			break;
		case OPT_PLATFORM: break;
		case 'h':
		case OPT_HELP:
			printf("Usage:  berth save [OPTIONS] IMAGE [IMAGE...]\n\nSave one or more "
			       "images to a tar archive (streamed to STDOUT by default)\n\n"
			       "Aliases:\n  berth image save, berth save\n\nOptions:\n"
			       "  -o, --output string   Write to a file, instead of STDOUT\n"
			       "      --format string   docker (default) or oci\n");
			return 0;
		default: return cli_usage_error("save", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("save", "\"save\" requires at least 1 argument.");
	if (output == NULL && isatty(STDOUT_FILENO))
		return cli_failf(EXIT_BERTH_FAILED,
		                 "cowardly refusing to save to a terminal. Use the -o flag or "
		                 "redirect");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	if (output == NULL) {
		if (image_save(s, argv + optind, fmt, STDOUT_FILENO, &err) < 0)
			return cli_fail(err);
		return 0;
	}
	/* write next to the target, rename when complete */
	_cleanup_free_ char *tmp = xasprintf("%s.berth-tmp-%d", output, getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return cli_failf(EXIT_BERTH_FAILED, "failed to save image: open %s: %s", output,
		                 strerror(errno));
	if (image_save(s, argv + optind, fmt, fd, &err) < 0) {
		unlink(tmp);
		return cli_fail(err);
	}
	if (fsync(fd) < 0 || rename(tmp, output) < 0) {
		int e = errno;
		unlink(tmp);
		return cli_failf(EXIT_BERTH_FAILED, "failed to save image: %s", strerror(e));
	}
	return 0;
}
