/* berth inspect (containers, images, volumes) and container inspect. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "container/container.h"
#include "volume/volume.h"

static int inspect_common(cli_ctx *ctx, const char *cmd, int argc, char **argv, bool any_type)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"size", no_argument, NULL, 's'},
	    {"type", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *format = NULL, *type = NULL;
	bool size = false;
	int c;
	while ((c = getopt_long(argc, argv, "+f:s", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 's': size = true; break;
		case 'T': type = optarg; break;
		case 'H':
			printf("Usage:  berth %s [OPTIONS] NAME|ID [NAME|ID...]\n\n"
			       "Return low-level information on berth objects\n\nOptions:\n"
			       "  -f, --format string   Format output using a custom template\n"
			       "  -s, --size            Display total file sizes if the type is "
			       "container\n"
			       "      --type string     Return JSON for specified type\n",
			       cmd);
			return 0;
		default: return cli_usage_error(cmd, "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "\"%s\" requires at least 1 argument.", cmd);
	if (!any_type)
		type = "container";
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_json_ json_t *all = json_array();
	int status = 0;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		json_t *obj = NULL;
		if (type == NULL || !strcmp(type, "container")) {
			_cleanup_ctr_record_ ctr_record *r = NULL;
			if (container_lookup(s, argv[i], true, &r, NULL) == 0)
				obj = container_inspect_json(s, r, size);
		}
		if (obj == NULL && (type == NULL || !strcmp(type, "image"))) {
			_cleanup_image_info_ image_info *img = NULL;
			if (image_resolve(s, argv[i], &img, NULL) == 0)
				obj = image_inspect_json(s, img);
		}
		if (obj == NULL && (type == NULL || !strcmp(type, "volume"))) {
			_cleanup_volume_info_ volume_info *v = NULL;
			if (volume_get(s, argv[i], &v, NULL) == 0)
				obj = volume_inspect_json(v);
		}
		if (obj == NULL) {
			if (type && !strcmp(type, "container"))
				fprintf(stderr, "Error: No such container: %s\n", argv[i]);
			else
				fprintf(stderr, "Error: No such object: %s\n", argv[i]);
			status = 1;
			continue;
		}
		json_array_append_new(all, obj);
	}
	if (format && *format) {
		size_t i;
		json_t *v;
		json_array_foreach (all, i, v) {
			_cleanup_free_ char *errmsg = NULL;
			_cleanup_free_ char *out = NULL;
			if (!strcmp(format, "json"))
				out = json_dump_compact(v);
			else
				out = cli_template_render(format, v, &errmsg);
			if (out == NULL)
				return cli_failf(EXIT_BERTH_FAILED, "%s",
				                 errmsg ? errmsg : "template");
			printf("%s\n", out);
		}
	} else {
		char *txt = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", txt ? txt : "[]");
		free(txt);
	}
	return status;
}

int cmd_inspect(cli_ctx *ctx, int argc, char **argv)
{
	return inspect_common(ctx, "inspect", argc, argv, true);
}

int cmd_container_inspect(cli_ctx *ctx, int argc, char **argv)
{
	return inspect_common(ctx, "container inspect", argc, argv, false);
}
