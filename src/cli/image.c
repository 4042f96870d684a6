/* berth image (group), import, tag, rmi, history, image prune */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "image/image.h"

/* Go's strconv.ParseBool. */
static int go_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int cmd_image(cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		cli_cmd_fn fn;
	} subs[] = {
	    /* sorted */
	    {"history", cmd_history}, {"import", cmd_import}, {"inspect", cmd_image_inspect},
	    {"load", cmd_load},       {"ls", cmd_images},     {"prune", cmd_image_prune},
	    {"pull", cmd_pull},       {"push", cmd_push},     {"rm", cmd_rmi},
	    {"save", cmd_save},       {"tag", cmd_tag},
	};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("Usage:  berth image COMMAND\n\nManage images\n\nCommands:\n"
		       "  history     Show the history of an image\n"
		       "  import      Import the contents from a tarball to create a filesystem "
		       "image\n"
		       "  inspect     Display detailed information on one or more images\n"
		       "  load        Load an image from a tar archive or STDIN\n"
		       "  ls          List images\n"
		       "  prune       Remove unused images\n"
		       "  pull        Download an image from a registry\n"
		       "  push        Upload an image to a registry\n"
		       "  rm          Remove one or more images\n"
		       "  save        Save one or more images to a tar archive (streamed to "
		       "STDOUT by default)\n"
		       "  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n\n"
		       "Run 'berth image COMMAND --help' for more information on a command.\n");
		return 0;
	}
	const char *sub = !strcmp(argv[1], "list")     ? "ls"
	                  : !strcmp(argv[1], "remove") ? "rm"
	                  : !strcmp(argv[1], "rmi")    ? "rm"
	                                               : argv[1];
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (!strcmp(sub, subs[i].name)) {
			optind = 0;
			return subs[i].fn(ctx, argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "berth: 'image %s' is not a berth command.\nSee 'berth image --help'\n",
	        argv[1]);
	return EXIT_BERTH_FAILED;
}

int cmd_import(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_PLATFORM = 256, OPT_HELP };
	static const struct option opts[] = {
	    {"change", required_argument, NULL, 'c'},
	    {"message", required_argument, NULL, 'm'},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_strv_ char **changes = NULL;
	image_import_opts io = {0};
	int c;
	while ((c = getopt_long(argc, argv, "+c:m:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': changes = strv_append(changes, optarg); break;
		case 'm': io.message = optarg; break;
		case OPT_PLATFORM: io.platform = optarg; break;
		case 'h':
		case OPT_HELP:
			printf(
			    "Usage:  berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]\n\n"
			    "Import the contents from a tarball to create a filesystem image\n\n"
			    "Aliases:\n  berth image import, berth import\n\n"
			    "Options:\n"
			    "  -c, --change list       Apply Dockerfile instruction to the created "
			    "image\n"
			    "  -m, --message string    Set commit message for imported image\n"
			    "      --platform string   Set platform if server is multi-platform "
			    "capable\n");
			return 0;
		default: return cli_usage_error("import", "unknown flag");
		}
	}
	int nargs = argc - optind;
	if (nargs < 1 || nargs > 2)
		return cli_usage_error("import", "\"import\" requires at least 1 and at most 2 "
		                                 "arguments.");
	const char *src = argv[optind];
	bool url = str_has_prefix(src, "http://") || str_has_prefix(src, "https://");
	_cleanup_close_ int fd = -1;
	if (!strcmp(src, "-")) {
		io.fd = STDIN_FILENO;
	} else if (!url) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return cli_failf(EXIT_BERTH_FAILED, "open %s: %s", src, strerror(errno));
		io.fd = fd;
	}
	/* Docker's client streams a file as "-", so the comment says so; a URL
	 * is fetched by the daemon and named in the comment. */
	io.source = url ? src : "-";
	io.changes = changes;
	io.reference = nargs == 2 ? argv[optind + 1] : NULL;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	if (url) {
		if (image_fetch_url(s, src, &fd, &err) < 0)
			return cli_fail(err);
		io.fd = fd;
	}
	char id[DIGEST_STR_LEN + 1];
	if (image_import(s, &io, id, &err) < 0)
		return cli_fail(err);
	printf("%s\n", id);
	return 0;
}

int cmd_tag(cli_ctx *ctx, int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n"
		       "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n\n"
		       "Aliases:\n  berth image tag, berth tag\n");
		return 0;
	}
	if (argc != 3)
		return cli_usage_error("tag", "\"tag\" requires exactly 2 arguments.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	if (image_tag(s, argv[1], argv[2], &err) < 0)
		return cli_fail(err);
	return 0;
}

int cmd_rmi(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_NOPRUNE = 256, OPT_HELP };
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"no-prune", no_argument, NULL, OPT_NOPRUNE},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	image_remove_opts ro = {0};
	int c;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': ro.force = true; break;
		case OPT_NOPRUNE: ro.no_prune = true; break;
		case 'h':
		case OPT_HELP:
			printf("Usage:  berth rmi [OPTIONS] IMAGE [IMAGE...]\n\nRemove one or more "
			       "images\n\nAliases:\n  berth image rm, berth image remove, berth "
			       "rmi\n\n"
			       "Options:\n  -f, --force      Force removal of the image\n"
			       "      --no-prune   Do not delete untagged parents\n");
			return 0;
		default: return cli_usage_error("rmi", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("rmi", "\"rmi\" requires at least 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_strv_ char **report = NULL;
		if (image_remove(s, argv[i], &ro, &report, &err) < 0) {
			fprintf(stderr, "Error: %s\n", err->msg);
			rc = 1;
			continue;
		}
		for (char **l = report; l && *l; l++)
			printf("%s\n", *l);
	}
	fflush(stdout);
	return rc;
}

int cmd_history(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_FORMAT = 256, OPT_NOTRUNC, OPT_HELP };
	static const struct option opts[] = {
	    {"human", optional_argument, NULL, 'H'},
	    {"no-trunc", no_argument, NULL, OPT_NOTRUNC},
	    {"quiet", no_argument, NULL, 'q'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	bool human = true, no_trunc = false, quiet = false;
	const char *format = NULL;
	/* Go's bool flags take "-H=false"; getopt only knows "--human=false" */
	_cleanup_strv_ char **rewritten = NULL;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (str_has_prefix(argv[i], "-H=")) {
			_cleanup_free_ char *a = xasprintf("--human=%s", argv[i] + 3);
			rewritten = strv_append(rewritten, a);
			argv[i] = rewritten[strv_len(rewritten) - 1];
		}
	}
	int c;
	while ((c = getopt_long(argc, argv, "+Hqh", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (optarg && go_parse_bool(optarg, &human) < 0)
				return cli_usage_error(
				    "history",
				    "invalid argument \"%s\" for \"-H, --human\" "
				    "flag: strconv.ParseBool: parsing \"%s\": invalid "
				    "syntax",
				    optarg, optarg);
			if (!optarg)
				human = true;
			break;
		case 'q': quiet = true; break;
		case OPT_NOTRUNC: no_trunc = true; break;
		case OPT_FORMAT: format = optarg; break;
		case 'h':
		case OPT_HELP:
			printf("Usage:  berth history [OPTIONS] IMAGE\n\n"
			       "Show the history of an image\n\n"
			       "Aliases:\n  berth image history, berth history\n\n"
			       "Options:\n"
			       "      --format string   Format output using a custom template:\n"
			       "                        'table':            Print output in table "
			       "format with column headers (default)\n"
			       "                        'table TEMPLATE':   Print output in table "
			       "format using the given Go template\n"
			       "                        'json':             Print in JSON format\n"
			       "                        'TEMPLATE':         Print output using the "
			       "given Go template.\n"
			       "  -H, --human           Print sizes and dates in human readable "
			       "format (default true)\n"
			       "      --no-trunc        Don't truncate output\n"
			       "  -q, --quiet           Only show image IDs\n");
			return 0;
		default: return cli_usage_error("history", "unknown flag");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("history", "\"history\" requires exactly 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	image_history_entry *h = NULL;
	size_t n = 0;
	if (image_get_history(s, argv[optind], &h, &n, &err) < 0)
		return cli_fail(err);
	if (quiet) {
		for (size_t i = 0; i < n; i++) {
			if (no_trunc)
				printf("%s\n", h[i].id);
			else if (str_has_prefix(h[i].id, "sha256:"))
				printf("%.12s\n", digest_hex(h[i].id));
			else
				printf("%s\n", h[i].id);
		}
		image_history_free(h, n);
		return 0;
	}
	_cleanup_free_ char *errmsg = NULL;
	_cleanup_format_ cli_format *f = cli_format_new(
	    format, "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
	    &errmsg);
	if (f == NULL) {
		image_history_free(h, n);
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	}
	cli_format_set_type(f, "*image.historyContext");
	for (size_t i = 0; i < n && !errmsg; i++) {
		_cleanup_free_ char *id = NULL;
		if (str_has_prefix(h[i].id, "sha256:") && !no_trunc)
			id = xstrndup(digest_hex(h[i].id), 12);
		else
			id = xstrdup(h[i].id);
		_cleanup_free_ char *since = NULL, *at = NULL, *size = NULL;
		if (human) {
			since = cli_since(h[i].created_unix);
			size = cli_size3(h[i].size);
		} else {
			since = cli_time_rfc3339(h[i].created_unix);
			size = xasprintf("%lld", (long long)h[i].size);
		}
		at = cli_time_rfc3339(h[i].created_unix);
		_cleanup_free_ char *by = xstrdup(h[i].created_by);
		for (char *p = by; *p; p++)
			if (*p == '\t')
				*p = ' ';
		if (!no_trunc && strlen(by) > 45) {
			/* Docker's Ellipsis: 44 characters and "…" */
			_cleanup_free_ char *cut = xstrndup(by, 44);
			free(by);
			by = xasprintf("%s…", cut);
		}
		_cleanup_json_ json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "Comment",
		                                     h[i].comment, "CreatedAt", at, "CreatedBy", by,
		                                     "CreatedSince", since, "ID", id, "Size", size);
		cli_format_row(f, stdout, r, &errmsg);
	}
	image_history_free(h, n);
	if (errmsg)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	static const cli_column cols[] = {
	    {"ID", "IMAGE"},
	    {"CreatedSince", "CREATED"},
	    {"CreatedAt", "CREATED AT"},
	    {"CreatedBy", "CREATED BY"},
	    {"Size", "SIZE"},
	    {"Comment", "COMMENT"},
	};
	cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	return 0;
}

int cmd_image_prune(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_HELP = 256, OPT_FILTER };
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"force", no_argument, NULL, 'f'},
	    {"filter", required_argument, NULL, OPT_FILTER},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	image_prune_opts po = {0};
	_cleanup_strv_ char **labels = NULL, **not_labels = NULL;
	int nuntil = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': po.all = true; break;
		case 'f': force = true; break;
		case OPT_FILTER: {
			char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg)
				return cli_failf(EXIT_BERTH_FAILED,
				                 "bad format of filter (expected name=value)");
			_cleanup_free_ char *key = xstrndup(optarg, (size_t)(eq - optarg));
			const char *val = eq + 1;
			if (!strcmp(key, "until")) {
				struct timespec now;
				clock_gettime(CLOCK_REALTIME, &now);
				int64_t ns;
				if (time_parse_docker(val, &now, &ns) < 0)
					return cli_failf(
					    EXIT_BERTH_FAILED,
					    "failed to parse value as time or duration: "
					    "\"%s\"",
					    val);
				if (++nuntil > 1)
					return cli_failf(EXIT_BERTH_FAILED,
					                 "more than one until filter specified");
				po.has_until = true;
				/* an image created in the same second as "until"
				 * counts as before it only if the fraction is 0 */
				po.until_unix = ns / 1000000000;
			} else if (!strcmp(key, "label")) {
				labels = strv_append(labels, val);
			} else if (!strcmp(key, "label!")) {
				not_labels = strv_append(not_labels, val);
			} else if (!strcmp(key, "dangling")) {
				/* the CLI adds dangling=true; false widens it to -a */
				if (!strcmp(val, "false") || !strcmp(val, "0"))
					po.all = true;
				else if (strcmp(val, "true") != 0 && strcmp(val, "1") != 0)
					return cli_failf(EXIT_BERTH_FAILED,
					                 "invalid filter 'dangling=%s'", val);
			} else {
				return cli_failf(EXIT_BERTH_FAILED, "invalid filter '%s'", key);
			}
			break;
		}
		case 'h':
		case OPT_HELP:
			printf(
			    "Usage:  berth image prune [OPTIONS]\n\nRemove unused images\n\n"
			    "Options:\n"
			    "  -a, --all             Remove all unused images, not just dangling "
			    "ones\n"
			    "      --filter filter   Provide filter values (e.g. "
			    "\"until=<timestamp>\")\n"
			    "  -f, --force           Do not prompt for confirmation\n");
			return 0;
		default: return cli_usage_error("image prune", "unknown flag");
		}
	}
	if (optind < argc)
		return cli_usage_error("image prune", "'berth image prune' accepts no arguments");
	po.labels = labels;
	po.not_labels = not_labels;
	if (!force && !cli_confirm(po.all ? "WARNING! This will remove all images without at least "
	                                    "one container associated to them."
	                                  : "WARNING! This will remove all dangling images."))
		return 0;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_strv_ char **report = NULL;
	int64_t reclaimed = 0;
	if (image_prune(s, &po, &report, &reclaimed, &err) < 0)
		return cli_fail(err);
	if (report) {
		printf("Deleted Images:\n");
		for (char **l = report; *l; l++)
			printf("%s\n", *l);
		printf("\n");
	}
	_cleanup_free_ char *sz = human_size((double)reclaimed);
	printf("Total reclaimed space: %s\n", sz);
	return 0;
}
