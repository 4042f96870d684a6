/* berth system (df, info), berth info */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/json.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "image/image.h"

static char *pct(int64_t part, int64_t whole)
{
	_cleanup_free_ char *s = human_size((double)part);
	if (whole <= 0)
		return xstrdup(s);
	return xasprintf("%s (%lld%%)", s, (long long)(part * 100 / whole));
}

static int64_t count_table(berth_store *s, const char *sql)
{
	_cleanup_stmt_ sqlite3_stmt *st = store_prepare(s, sql, NULL);
	if (st == NULL || sqlite3_step(st) != SQLITE_ROW)
		return 0;
	return sqlite3_column_int64(st, 0);
}

int cmd_system_df(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_FORMAT = 256, OPT_HELP };
	static const struct option opts[] = {
	    {"verbose", no_argument, NULL, 'v'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	bool verbose = false;
	const char *format = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'v': verbose = true; break;
		case OPT_FORMAT: format = optarg; break;
		case 'h':
		case OPT_HELP:
			printf(
			    "Usage:  berth system df [OPTIONS]\n\nShow berth disk usage\n\n"
			    "Options:\n"
			    "      --format string   Format output using a custom template:\n"
			    "                        'table':            Print output in table "
			    "format with column headers (default)\n"
			    "                        'table TEMPLATE':   Print output in table "
			    "format using the given Go template\n"
			    "                        'json':             Print in JSON format\n"
			    "                        'TEMPLATE':         Print output using the "
			    "given Go template.\n"
			    "  -v, --verbose         Show detailed information on space usage\n");
			return 0;
		default: return cli_usage_error("system df", "unknown flag");
		}
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	image_df df;
	if (image_disk_usage(s, &df, &err) < 0)
		return cli_fail(err);
	int64_t containers = store_table_exists(s, "containers")
	                         ? count_table(s, "SELECT COUNT(*) FROM containers")
	                         : 0;
	int64_t volumes =
	    store_table_exists(s, "volumes") ? count_table(s, "SELECT COUNT(*) FROM volumes") : 0;
	if (verbose && format == NULL) {
		image_list_opts lo = {.all = true, .dangling = -1, .want_shared = true};
		image_summary *ims = NULL;
		size_t n = 0;
		if (image_list(s, &lo, &ims, &n, &err) < 0)
			return cli_fail(err);
		printf("Images space usage:\n\n");
		char **lines = xcalloc(n + 2, sizeof(char *));
		lines[0] = xstrdup("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE "
		                   "SIZE\tCONTAINERS");
		for (size_t i = 0; i < n; i++) {
			/* Docker shows the first tag only */
			_cleanup_free_ char *fam = ims[i].tags[0] ? image_familiar(ims[i].tags[0])
			                                          : xstrdup("<none>:<none>");
			char *colon = strrchr(fam, ':');
			const char *tag = "<none>";
			if (colon && !strchr(colon, '/')) {
				*colon = 0;
				tag = colon + 1;
			}
			_cleanup_free_ char *since = cli_since(ims[i].created_unix);
			_cleanup_free_ char *size = cli_size3(ims[i].size);
			_cleanup_free_ char *shared = cli_size3(ims[i].shared_size);
			_cleanup_free_ char *unique = cli_size3(ims[i].size - ims[i].shared_size);
			int64_t total = 0, running = 0;
			image_containers_count(s, ims[i].id, &total, &running);
			lines[i + 1] = xasprintf("%s\t%s\t%.12s\t%s\t%s\t%s\t%s\t%lld", fam, tag,
			                         digest_hex(ims[i].id), since, size, shared, unique,
			                         (long long)total);
		}
		cli_tabwrite(stdout, lines, n + 1);
		for (size_t i = 0; i <= n; i++)
			free(lines[i]);
		free(lines);
		image_summaries_free(ims, n);
		char *ch[] = {(char *)"CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL "
		                      "VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES"};
		char *vh[] = {(char *)"VOLUME NAME\tLINKS\tSIZE"};
		printf("\nContainers space usage:\n\n");
		cli_tabwrite(stdout, ch, 1);
		printf("\nLocal Volumes space usage:\n\n");
		cli_tabwrite(stdout, vh, 1);
		printf("\nBuild cache usage: 0B\n\n");
		return 0;
	}
	_cleanup_free_ char *errmsg = NULL;
	_cleanup_format_ cli_format *f = cli_format_new(
	    format, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
	    &errmsg);
	if (f == NULL)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	cli_format_set_type(f, "*formatter.diskUsageContext");
	_cleanup_free_ char *isize = human_size((double)df.size);
	_cleanup_free_ char *irec = pct(df.reclaimable, df.size);
	struct {
		const char *type;
		int64_t total, active;
		const char *size, *rec;
	} rows[] = {
	    {"Images", df.images, df.active, isize, irec},
	    {"Containers", containers, 0, "0B", "0B"},
	    {"Local Volumes", volumes, 0, "0B", "0B"},
	    {"Build Cache", 0, 0, "0B", "0B"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		_cleanup_free_ char *tc = xasprintf("%lld", (long long)rows[i].total);
		_cleanup_free_ char *ac = xasprintf("%lld", (long long)rows[i].active);
		_cleanup_json_ json_t *r =
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Active", ac, "Reclaimable", rows[i].rec,
		              "Size", rows[i].size, "TotalCount", tc, "Type", rows[i].type);
		if (cli_format_row(f, stdout, r, &errmsg) < 0)
			return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	}
	static const cli_column cols[] = {
	    {"Type", "TYPE"}, {"TotalCount", "TOTAL"},        {"Active", "ACTIVE"},
	    {"Size", "SIZE"}, {"Reclaimable", "RECLAIMABLE"},
	};
	cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	return 0;
}

static char *os_name(void)
{
	_cleanup_free_ char *data = NULL;
	if (read_file("/etc/os-release", &data, NULL, NULL) == 0) {
		char *p = strstr(data, "PRETTY_NAME=");
		if (p) {
			p += 12;
			if (*p == '"')
				p++;
			size_t n = strcspn(p, "\"\n");
			return xstrndup(p, n);
		}
	}
	return xstrdup("Linux");
}

int cmd_info(cli_ctx *ctx, int argc, char **argv)
{
	const char *format = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-f") || !strcmp(argv[i], "--format")) && i + 1 < argc)
			format = argv[++i];
		else if (str_has_prefix(argv[i], "--format="))
			format = argv[i] + 9;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("Usage:  berth info [OPTIONS]\n\nDisplay system-wide information\n\n"
			       "Aliases:\n  berth system info, berth info\n\n"
			       "Options:\n"
			       "  -f, --format string   Format output using a custom template:\n"
			       "                        'json':             Print in JSON format\n"
			       "                        'TEMPLATE':         Print output using the "
			       "given Go template.\n");
			return 0;
		} else
			return cli_usage_error("info", "unknown flag: %s", argv[i]);
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	int64_t images = count_table(s, "SELECT COUNT(*) FROM images");
	int64_t containers = store_table_exists(s, "containers")
	                         ? count_table(s, "SELECT COUNT(*) FROM containers")
	                         : 0;
	struct utsname u;
	uname(&u);
	struct sysinfo si;
	sysinfo(&si);
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	_cleanup_free_ char *osn = os_name();
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int64_t mem = (int64_t)si.totalram * (int64_t)si.mem_unit;
	_cleanup_json_ json_t *j = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, "
	    "s:[[s,s]]}",
	    "Containers", (json_int_t)containers, "ContainersRunning", (json_int_t)0,
	    "ContainersPaused", (json_int_t)0, "ContainersStopped", (json_int_t)containers,
	    "Images", (json_int_t)images, "ServerVersion", "0.1.0", "Driver", "overlay2",
	    "KernelVersion", u.release, "OperatingSystem", osn, "OSType", "linux", "Architecture",
	    u.machine, "NCPU", (json_int_t)cpus, "MemTotal", (json_int_t)mem, "Name", host,
	    "DockerRootDir", ctx->root, "DriverStatus", "Backing Filesystem", "extfs");
	if (format) {
		_cleanup_free_ char *errmsg = NULL;
		_cleanup_free_ char *out = cli_template_render(format, j, &errmsg);
		if (out == NULL)
			return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
		printf("%s\n", out);
		return 0;
	}
	double gib = (double)mem / (1024.0 * 1024.0 * 1024.0);
	printf("Client:\n Context:    default\n Debug Mode: %s\n\nServer:\n",
	       ctx->debug ? "true" : "false");
	printf(" Containers: %lld\n  Running: 0\n  Paused: 0\n  Stopped: %lld\n",
	       (long long)containers, (long long)containers);
	printf(" Images: %lld\n Server Version: 0.1.0\n Storage Driver: overlay2\n"
	       "  Backing Filesystem: extfs\n Cgroup Driver: cgroupfs\n",
	       (long long)images);
	printf(" Kernel Version: %s\n Operating System: %s\n OSType: linux\n Architecture: %s\n",
	       u.release, osn, u.machine);
	printf(" CPUs: %ld\n Total Memory: %.4gGiB\n Name: %s\n Docker Root Dir: %s\n", cpus, gib,
	       host, ctx->root);
	return 0;
}

int cmd_system(cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help")) {
		printf("Usage:  berth system COMMAND\n\nManage berth\n\nCommands:\n  df          "
		       "Show berth disk usage\n  info        Display system-wide information\n"
		       "  prune       Remove unused data\n");
		return 0;
	}
	optind = 0;
	if (!strcmp(argv[1], "df"))
		return cmd_system_df(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "prune"))
		return cmd_system_prune(ctx, argc - 1, argv + 1);
	fprintf(stderr, "berth: 'system %s' is not a berth command.\nSee 'berth system --help'\n",
	        argv[1]);
	return EXIT_BERTH_FAILED;
}
