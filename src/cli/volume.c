/* berth volume create / ls / inspect / rm / prune. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "volume/volume.h"

static void kv_into(json_t *obj, const char *kv)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
	json_object_set_new(obj, k, json_string(eq ? eq + 1 : ""));
}

static int vol_create(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"driver", required_argument, NULL, 'd'}, {"label", required_argument, NULL, 'l'},
	    {"opt", required_argument, NULL, 'o'},    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'H'},         {NULL, 0, NULL, 0},
	};
	_cleanup_json_ json_t *labels = json_object();
	_cleanup_json_ json_t *options = json_object();
	const char *driver = "local", *name = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+d:l:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': driver = optarg; break;
		case 'l': kv_into(labels, optarg); break;
		case 'o': kv_into(options, optarg); break;
		case 'n': name = optarg; break;
		case 'H':
			printf(
			    "Usage:  berth volume create [OPTIONS] [VOLUME]\n\nCreate a volume\n\n"
			    "Options:\n  -d, --driver string   Specify volume driver name (default "
			    "\"local\")\n      --label list      Set metadata for a volume\n"
			    "  -o, --opt map         Set driver specific options\n");
			return 0;
		default: return cli_usage_error("volume create", "unknown flag");
		}
	}
	if (optind < argc)
		name = argv[optind];
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_volume_info_ volume_info *v = NULL;
	volume_create_opts o = {.name = name,
	                        .driver = driver,
	                        .labels = labels,
	                        .options = json_object_size(options) ? options : NULL,
	                        .anonymous = false};
	if (volume_create(s, &o, &v, &err) < 0)
		return cli_failf(EXIT_BERTH_FAILED, "Error response from daemon: %s", err->msg);
	printf("%s\n", v->name);
	return 0;
}

static bool vol_match(berth_store *s, volume_info *v, char **filters)
{
	for (size_t i = 0; filters && filters[i]; i++) {
		const char *f = filters[i];
		const char *eq = strchr(f, '=');
		_cleanup_free_ char *k = eq ? xstrndup(f, (size_t)(eq - f)) : xstrdup(f);
		const char *val = eq ? eq + 1 : "";
		if (!strcmp(k, "name")) {
			if (strstr(v->name, val) == NULL)
				return false;
		} else if (!strcmp(k, "label")) {
			if (!volume_label_match(v->labels, val))
				return false;
		} else if (!strcmp(k, "label!")) {
			if (volume_label_match(v->labels, val))
				return false;
		} else if (!strcmp(k, "dangling")) {
			_cleanup_strv_ char **users = volume_users(s, v->name);
			bool dangling = users == NULL || users[0] == NULL;
			bool want = !strcmp(val, "true") || !strcmp(val, "1");
			if (dangling != want)
				return false;
		} else if (!strcmp(k, "driver")) {
			if (strcmp(v->driver, val))
				return false;
		}
	}
	return true;
}

static int vol_ls(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"quiet", no_argument, NULL, 'q'},
	    {"filter", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	bool quiet = false;
	const char *format = NULL;
	_cleanup_strv_ char **filters = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+qf:", opts, NULL)) != -1) {
		switch (c) {
		case 'q': quiet = true; break;
		case 'f': {
			const char *eq = strchr(optarg, '=');
			_cleanup_free_ char *k =
			    eq ? xstrndup(optarg, (size_t)(eq - optarg)) : xstrdup(optarg);
			if (strcmp(k, "name") && strcmp(k, "label") && strcmp(k, "label!") &&
			    strcmp(k, "dangling") && strcmp(k, "driver"))
				return cli_failf(EXIT_BERTH_FAILED, "invalid filter '%s'", k);
			filters = strv_append(filters, optarg);
			break;
		}
		case 'F': format = optarg; break;
		case 'H':
			printf("Usage:  berth volume ls [OPTIONS]\n\nList volumes\n\nOptions:\n"
			       "  -f, --filter filter   Provide filter values (e.g. "
			       "\"dangling=true\")\n"
			       "      --format string   Format output using a custom template\n"
			       "  -q, --quiet           Only display volume names\n");
			return 0;
		default: return cli_usage_error("volume ls", "unknown flag");
		}
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	volume_info **v = NULL;
	size_t n = 0;
	if (volume_list(s, &v, &n, &err) < 0)
		return cli_fail(err);
	_cleanup_free_ char *errmsg = NULL;
	_cleanup_format_ cli_format *f = NULL;
	if (!quiet) {
		f = cli_format_new(format, "table {{.Driver}}\t{{.Name}}", &errmsg);
		if (f == NULL) {
			volume_infos_free(v, n);
			return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
		}
		cli_format_set_type(f, "*formatter.volumeContext");
	}
	for (size_t i = 0; i < n; i++) {
		if (!vol_match(s, v[i], filters))
			continue;
		if (quiet) {
			printf("%s\n", v[i]->name);
			continue;
		}
		_cleanup_json_ json_t *row = json_object();
		json_object_set_new(row, "Driver", json_string(v[i]->driver));
		json_object_set_new(row, "Name", json_string(v[i]->name));
		json_object_set_new(row, "Mountpoint", json_string(v[i]->mountpoint));
		json_object_set_new(row, "Scope", json_string("local"));
		json_object_set(row, "Labels", v[i]->labels);
		/* Docker's local driver reports no usage here either */
		json_object_set_new(row, "Links", json_string("N/A"));
		json_object_set_new(row, "Size", json_string("N/A"));
		if (cli_format_row(f, stdout, row, &errmsg) < 0)
			break;
	}
	volume_infos_free(v, n);
	if (errmsg)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	static const cli_column cols[] = {{"Driver", "DRIVER"},
	                                  {"Name", "VOLUME NAME"},
	                                  {"Mountpoint", "MOUNTPOINT"},
	                                  {"Scope", "SCOPE"},
	                                  {"Labels", "LABELS"}};
	if (f)
		cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	return 0;
}

static int vol_inspect(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *format = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+f:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'H':
			printf("Usage:  berth volume inspect [OPTIONS] VOLUME [VOLUME...]\n\n"
			       "Display detailed information on one or more volumes\n\nOptions:\n"
			       "  -f, --format string   Format the output with a Go template\n");
			return 0;
		default: return cli_usage_error("volume inspect", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("volume inspect",
		                       "\"inspect\" requires at least 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_json_ json_t *all = json_array();
	int status = 0;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_volume_info_ volume_info *v = NULL;
		if (volume_get(s, argv[i], &v, &err) < 0) {
			fprintf(stderr, "Error response from daemon: %s\n", err->msg);
			status = 1;
			continue;
		}
		json_array_append_new(all, volume_inspect_json(v));
	}
	if (format) {
		size_t i;
		json_t *v;
		json_array_foreach (all, i, v) {
			_cleanup_free_ char *errmsg = NULL;
			_cleanup_free_ char *out = cli_template_render(format, v, &errmsg);
			if (out == NULL)
				return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
			printf("%s\n", out);
		}
	} else {
		char *t = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", t);
		free(t);
	}
	return status;
}

static int vol_rm(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'H':
			printf("Usage:  berth volume rm [OPTIONS] VOLUME [VOLUME...]\n\n"
			       "Remove one or more volumes. A volume in use cannot be removed.\n\n"
			       "Aliases:\n  berth volume rm, berth volume remove\n\nOptions:\n"
			       "  -f, --force   Do not fail if the volume does not exist\n");
			return 0;
		default: return cli_usage_error("volume rm", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("volume rm", "\"rm\" requires at least 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	int status = 0;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		if (volume_remove(s, argv[i], force, &err) < 0) {
			fprintf(stderr, "Error response from daemon: %s\n", err->msg);
			status = 1;
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return status;
}

static int vol_prune(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"all", no_argument, NULL, 'a'},
	    {"filter", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	bool force = false, all = false;
	_cleanup_strv_ char **labels = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+fa", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'a': all = true; break;
		case 'F':
			if (str_has_prefix(optarg, "label="))
				labels = strv_append(labels, optarg + 6);
			else if (str_has_prefix(optarg, "label!=")) {
				_cleanup_free_ char *neg = xasprintf("!%s", optarg + 7);
				labels = strv_append(labels, neg);
			} else if (!strcmp(optarg, "all=true") || !strcmp(optarg, "all=1"))
				all = true;
			else
				return cli_failf(EXIT_BERTH_FAILED, "invalid filter '%s'", optarg);
			break;
		case 'H':
			printf("Usage:  berth volume prune [OPTIONS]\n\nRemove unused local "
			       "volumes\n\n"
			       "Options:\n"
			       "  -a, --all             Remove unused named volumes too, not only "
			       "anonymous ones\n"
			       "      --filter filter   Only volumes that match (label=, label!=, "
			       "all=true)\n"
			       "  -f, --force           Do not ask for confirmation\n");
			return 0;
		default: return cli_usage_error("volume prune", "unknown flag");
		}
	}
	if (!force && !cli_confirm("WARNING! This will remove anonymous local volumes not used by "
	                           "at least one container."))
		return 0;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_strv_ char **removed = NULL;
	int64_t reclaimed = 0;
	if (volume_prune(s, all, labels, &removed, &reclaimed, &err) < 0)
		return cli_fail(err);
	if (removed) {
		printf("Deleted Volumes:\n");
		for (size_t i = 0; removed[i]; i++)
			printf("%s\n", removed[i]);
		printf("\n");
	}
	_cleanup_free_ char *h = cli_size3(reclaimed);
	printf("Total reclaimed space: %s\n", reclaimed ? h : "0B");
	return 0;
}

int cmd_volume(cli_ctx *ctx, int argc, char **argv)
{
	static const struct {
		const char *name;
		cli_cmd_fn fn;
	} subs[] = {
	    {"create", vol_create}, {"inspect", vol_inspect}, {"list", vol_ls}, {"ls", vol_ls},
	    {"prune", vol_prune},   {"remove", vol_rm},       {"rm", vol_rm},
	};
	if (argc < 2 || !strcmp(argv[1], "--help")) {
		printf("Usage:  berth volume COMMAND\n\nManage volumes\n\nCommands:\n"
		       "  create      Create a volume\n  inspect     Display detailed information "
		       "on one or more volumes\n  ls          List volumes\n  prune       Remove "
		       "unused local volumes\n  rm          Remove one or more volumes\n");
		return argc < 2 ? EXIT_BERTH_FAILED : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		if (!strcmp(subs[i].name, argv[1])) {
			optind = 0;
			return subs[i].fn(ctx, argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "berth: 'volume %s' is not a berth command.\nSee 'berth volume --help'\n",
	        argv[1]);
	return EXIT_BERTH_FAILED;
}
