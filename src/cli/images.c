/* berth images / image ls, image inspect */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "image/image.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
	           "List images\n\n"
	           "Aliases:\n  berth image ls, berth image list, berth images\n\n"
	           "Options:\n"
	           "  -a, --all             Show all images (default hides intermediate images)\n"
	           "      --digests         Show digests\n"
	           "  -f, --filter filter   Filter output based on conditions provided\n"
	           "      --format string   Format output using a custom template:\n"
	           "                        'table':            Print output in table format "
	           "with column headers (default)\n"
	           "                        'table TEMPLATE':   Print output in table format "
	           "using the given Go template\n"
	           "                        'json':             Print in JSON format\n"
	           "                        'TEMPLATE':         Print output using the given Go "
	           "template.\n"
	           "      --no-trunc        Don't truncate output\n"
	           "  -q, --quiet           Only show image IDs\n");
}

/* Split "repo:tag" / "repo@digest" full names into familiar parts. */
static void split_ref(const char *full, char **repo, char **tag)
{
	_cleanup_free_ char *fam = image_familiar(full);
	char *at = strchr(fam, '@');
	if (at) {
		*at = 0;
		*repo = xstrdup(fam);
		*tag = xstrdup(at + 1);
		return;
	}
	char *slash = strrchr(fam, '/');
	char *colon = strrchr(slash ? slash : fam, ':');
	if (colon) {
		*colon = 0;
		*tag = xstrdup(colon + 1);
	} else {
		*tag = xstrdup("<none>");
	}
	*repo = xstrdup(fam);
}

static json_t *row(const image_summary *im, const char *repo, const char *tag, const char *digest,
                   bool no_trunc)
{
	_cleanup_free_ char *id = no_trunc ? xstrdup(im->id) : xstrndup(digest_hex(im->id), 12);
	_cleanup_free_ char *since = cli_since(im->created_unix);
	_cleanup_free_ char *at = cli_time_str(im->created_unix);
	_cleanup_free_ char *size = cli_size3(im->size);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Containers",
	                 "N/A", "CreatedAt", at, "CreatedSince", since, "Digest", digest, "ID", id,
	                 "Repository", repo, "SharedSize", "N/A", "Size", size, "Tag", tag,
	                 "UniqueSize", "N/A", "VirtualSize", size);
}

int cmd_images(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_DIGESTS = 256, OPT_FORMAT, OPT_NOTRUNC, OPT_HELP };
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},
	    {"digests", no_argument, NULL, OPT_DIGESTS},
	    {"filter", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"no-trunc", no_argument, NULL, OPT_NOTRUNC},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	image_list_opts lo = {.dangling = -1};
	bool quiet = false, digests = false, no_trunc = false;
	const char *format = NULL;
	_cleanup_strv_ char **refs = NULL;
	_cleanup_strv_ char **labels = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+af:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': lo.all = true; break;
		case 'q': quiet = true; break;
		case OPT_DIGESTS: digests = true; break;
		case OPT_NOTRUNC: no_trunc = true; break;
		case OPT_FORMAT: format = optarg; break;
		case 'h':
		case OPT_HELP: usage(stdout); return 0;
		case 'f': {
			char *eq = strchr(optarg, '=');
			if (eq == NULL)
				return cli_failf(EXIT_BERTH_FAILED,
				                 "bad format of filter (expected "
				                 "name=value)");
			_cleanup_free_ char *key = xstrndup(optarg, (size_t)(eq - optarg));
			const char *val = eq + 1;
			if (!strcmp(key, "dangling")) {
				if (!strcmp(val, "true") || !strcmp(val, "1"))
					lo.dangling = 1;
				else if (!strcmp(val, "false") || !strcmp(val, "0"))
					lo.dangling = 0;
				else
					return cli_failf(EXIT_BERTH_FAILED,
					                 "Invalid filter 'dangling=%s'", val);
			} else if (!strcmp(key, "reference")) {
				refs = strv_append(refs, val);
			} else if (!strcmp(key, "label")) {
				labels = strv_append(labels, val);
			} else if (!strcmp(key, "before")) {
				lo.before = (char *)val;
			} else if (!strcmp(key, "since")) {
				lo.since = (char *)val;
			} else {
				return cli_failf(EXIT_BERTH_FAILED, "Invalid filter '%s'", key);
			}
			break;
		}
		default: return cli_usage_error("images", "unknown flag");
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("images", "\"images\" requires at most 1 argument.");
	if (optind < argc)
		refs = strv_append(refs, argv[optind]);
	lo.references = refs;
	lo.labels = labels;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	image_summary *ims = NULL;
	size_t n = 0;
	if (image_list(s, &lo, &ims, &n, &err) < 0)
		return cli_fail(err);
	if (quiet && format == NULL) {
		_cleanup_strv_ char **seen = NULL;
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *id =
			    no_trunc ? xstrdup(ims[i].id) : xstrndup(digest_hex(ims[i].id), 12);
			if (strv_contains(seen, id))
				continue;
			seen = strv_append(seen, id);
			printf("%s\n", id);
		}
		image_summaries_free(ims, n);
		return 0;
	}
	const char *def = digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{."
	                            "CreatedSince}}\t{{.Size}}"
	                          : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{"
	                            "{.Size}}";
	_cleanup_free_ char *errmsg = NULL;
	_cleanup_format_ cli_format *f = cli_format_new(format, def, &errmsg);
	if (f == NULL) {
		image_summaries_free(ims, n);
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	}
	cli_format_set_type(f, "*formatter.ImageContext");
	for (size_t i = 0; i < n && !errmsg; i++) {
		image_summary *im = &ims[i];
		if (im->tags[0] == NULL) {
			const char *d = "<none>";
			_cleanup_free_ char *repo = NULL, *dig = NULL;
			if (im->digests[0])
				split_ref(im->digests[0], &repo, &dig);
			_cleanup_json_ json_t *r =
			    row(im, repo ? repo : "<none>", "<none>", dig ? dig : d, no_trunc);
			cli_format_row(f, stdout, r, &errmsg);
			continue;
		}
		for (char **t = im->tags; *t && !errmsg; t++) {
			_cleanup_free_ char *repo = NULL, *tag = NULL;
			split_ref(*t, &repo, &tag);
			const char *dig = "<none>";
			_cleanup_free_ char *dbuf = NULL;
			for (char **d = im->digests; *d; d++) {
				_cleanup_free_ char *drepo = NULL, *dd = NULL;
				split_ref(*d, &drepo, &dd);
				if (!strcmp(drepo, repo)) {
					dbuf = steal_ptr(dd);
					dig = dbuf;
					break;
				}
			}
			_cleanup_json_ json_t *r = row(im, repo, tag, dig, no_trunc);
			cli_format_row(f, stdout, r, &errmsg);
		}
	}
	image_summaries_free(ims, n);
	if (errmsg)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	static const cli_column cols[] = {
	    {"Repository", "REPOSITORY"},
	    {"Tag", "TAG"},
	    {"ID", "IMAGE ID"},
	    {"Digest", "DIGEST"},
	    {"CreatedSince", "CREATED"},
	    {"CreatedAt", "CREATED AT"},
	    {"Size", "SIZE"},
	    {"Containers", "CONTAINERS"},
	    {"SharedSize", "SHARED SIZE"},
	    {"UniqueSize", "UNIQUE SIZE"},
	    {"VirtualSize", "VIRTUAL SIZE"},
	};
	cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	return 0;
}

int cmd_image_inspect(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_HELP = 256 };
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	const char *format = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'h':
		case OPT_HELP:
			printf("Usage:  berth image inspect [OPTIONS] IMAGE [IMAGE...]\n\n"
			       "Display detailed information on one or more images\n\nOptions:\n"
			       "  -f, --format string   Format output using a custom template:\n"
			       "                        'json':             Print in JSON format\n"
			       "                        'TEMPLATE':         Print output using the "
			       "given Go template.\n");
			return 0;
		default: return cli_usage_error("image inspect", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("image inspect",
		                       "\"inspect\" requires at least 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_json_ json_t *all = json_array();
	_cleanup_strv_ char **errors = NULL;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_image_info_ image_info *img = NULL;
		if (image_resolve(s, argv[i], &img, &err) < 0) {
			errors = strv_append(errors, err->msg);
			continue;
		}
		json_t *o = image_inspect_json(s, img);
		if (format && *format && strcmp(format, "json") != 0) {
			_cleanup_free_ char *errmsg = NULL;
			_cleanup_free_ char *out = cli_template_render(format, o, &errmsg);
			json_decref(o);
			if (out == NULL)
				return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
			printf("%s\n", out);
			continue;
		}
		json_array_append_new(all, o);
	}
	if (!format || !*format || !strcmp(format, "json")) {
		_cleanup_free_ char *out = json_dumps(all, JSON_INDENT(4));
		printf("%s\n", out ? out : "[]");
	}
	fflush(stdout);
	for (char **e = errors; e && *e; e++)
		fprintf(stderr, "Error: %s\n", *e);
	return errors ? 1 : 0;
}
