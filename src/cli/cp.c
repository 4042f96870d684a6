/* berth cp, export, diff. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "container/container.h"

/* "CONTAINER:PATH" -> container part and path; NULL if a local path. */
static char *split_ctr(const char *arg, const char **path)
{
	if (arg[0] == '/' || arg[0] == '.' || !strcmp(arg, "-"))
		return NULL;
	const char *colon = strchr(arg, ':');
	if (colon == NULL)
		return NULL;
	*path = colon + 1;
	return xstrndup(arg, (size_t)(colon - arg));
}

int cmd_cp(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"archive", no_argument, NULL, 'a'},
	    {"follow-link", no_argument, NULL, 'L'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	bool archive = false;
	int c;
	while ((c = getopt_long(argc, argv, "+aLq", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = true; break;
		case 'L':
		case 'q': break;
		case 'H':
			printf("Usage:  berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
			       "        berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\n"
			       "Copy files/folders between a container and the local filesystem\n\n"
			       "Options:\n  -a, --archive       Archive mode (copy all uid/gid "
			       "information)\n");
			return 0;
		default: return cli_usage_error("cp", "unknown flag");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("cp", "\"cp\" requires exactly 2 arguments.");
	const char *spath = NULL, *dpath = NULL;
	_cleanup_free_ char *sctr = split_ctr(argv[optind], &spath);
	_cleanup_free_ char *dctr = split_ctr(argv[optind + 1], &dpath);
	if ((sctr == NULL) == (dctr == NULL))
		return cli_failf(EXIT_BERTH_FAILED,
		                 sctr ? "copying between containers is not supported"
		                      : "must specify at least one container source");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, sctr ? sctr : dctr, true, &r, &err) < 0)
		return cli_fail(err);
	fflush(stdout);
	if (sctr)
		rc = container_cp_from(s, r, spath, argv[optind + 1], archive, &err);
	else
		rc = container_cp_to(s, r, argv[optind], dpath, archive, &err);
	if (rc < 0)
		return cli_fail(err);
	return 0;
}

int cmd_export(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+o:", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'H':
			printf("Usage:  berth export [OPTIONS] CONTAINER\n\nExport a container's "
			       "filesystem as a tar archive\n\nOptions:\n  -o, --output string   "
			       "Write to a file, instead of STDOUT\n");
			return 0;
		default: return cli_usage_error("export", "unknown flag");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("export", "\"export\" requires exactly 1 argument.");
	if (out == NULL && isatty(1))
		return cli_failf(1, "cowardly refusing to save to a terminal. Use the -o flag or "
		                    "redirect");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, argv[optind], true, &r, &err) < 0)
		return cli_fail(err);
	_cleanup_close_ int fd = -1;
	if (out) {
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return cli_failf(1, "failed to export container: %s: %m", out);
	}
	if (container_export(s, r, fd >= 0 ? fd : 1, &err) < 0)
		return cli_fail(err);
	return 0;
}

int cmd_diff(cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2 && !strcmp(argv[1], "--help")) {
			printf("Usage:  berth diff CONTAINER\n\nInspect changes to files or "
			       "directories on a container's filesystem\n");
			return 0;
		}
		return cli_usage_error("diff", "\"diff\" requires exactly 1 argument.");
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	_cleanup_strv_ char **lines = NULL;
	if (container_lookup(s, argv[1], true, &r, &err) < 0 ||
	    container_diff(s, r, &lines, &err) < 0)
		return cli_fail(err);
	for (size_t i = 0; lines && lines[i]; i++)
		printf("%s\n", lines[i]);
	return 0;
}

int cmd_commit(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"author", required_argument, NULL, 'a'},  {"change", required_argument, NULL, 'c'},
	    {"message", required_argument, NULL, 'm'}, {"pause", optional_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'H'},          {NULL, 0, NULL, 0},
	};
	ctr_commit_opts o = {.pause = true};
	_cleanup_strv_ char **changes = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+a:c:m:p", opts, NULL)) != -1) {
		switch (c) {
		case 'a': o.author = optarg; break;
		case 'c': changes = strv_append(changes, optarg); break;
		case 'm': o.message = optarg; break;
		case 'p':
			o.pause = optarg == NULL || !strcmp(optarg, "true") || !strcmp(optarg, "1");
			break;
		case 'H':
			printf(
			    "Usage:  berth commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\n"
			    "Create a new image from a container's changes\n\nOptions:\n"
			    "  -a, --author string    Author\n"
			    "  -c, --change list      Apply Dockerfile instruction to the created "
			    "image\n"
			    "  -m, --message string   Commit message\n"
			    "  -p, --pause            Pause container during commit (default "
			    "true)\n");
			return 0;
		default: return cli_usage_error("commit", "unknown flag");
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage_error("commit", "\"commit\" requires at least 1 and at most 2 "
		                                 "arguments.");
	o.changes = changes;
	o.reference = optind + 1 < argc ? argv[optind + 1] : NULL;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	char id[DIGEST_STR_LEN + 1];
	if (container_lookup(s, argv[optind], true, &r, &err) < 0 ||
	    container_commit(s, r, &o, id, &err) < 0)
		return cli_fail(err);
	printf("%s\n", id);
	return 0;
}
