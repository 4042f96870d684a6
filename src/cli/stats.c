/* berth stats, top, update. */
#include <fcntl.h>
#include <getopt.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "cli/format.h"
#include "container/container.h"
#include "runtime/cgroup.h"

/* Docker's units.BytesSize: binary units, "1.5MiB". */
static char *bytes_size(double b)
{
	static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	return xasprintf("%.4g%s", b, u[i]);
}

/* Docker's units.HumanSizeWithPrecision(b, 3), as its NET I/O and
 * BLOCK I/O columns print sizes: decimal units, 3 significant digits. */
static char *size3(double b)
{
	static const char *u[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
	int i = 0;
	while (b >= 1000.0 && i < 8) {
		b /= 1000.0;
		i++;
	}
	return xasprintf("%.3g%s", b, u[i]);
}

struct sample {
	cgroup_stats st;
	uint64_t net_rx, net_tx;
	int64_t t_ns;
	bool ok;
};

static void take(const ctr_record *r, struct sample *smp)
{
	memset(smp, 0, sizeof(*smp));
	(void)container_net_io(r, &smp->net_rx, &smp->net_tx, NULL);
	_cleanup_cgroup_ cgroup_handle *h = NULL;
	_cleanup_free_ char *path = ctr_cgroups_path(r->id);
	if (cgroup_open(path, r->id, &h, NULL) < 0)
		return;
	smp->ok = cgroup_stats_read(h, &smp->st, NULL) == 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	smp->t_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static json_t *row_for(ctr_record *r, const struct sample *a, const struct sample *b)
{
	char shortid[13];
	memcpy(shortid, r->id, 12);
	shortid[12] = 0;
	double cpu = 0;
	if (a->ok && b->ok && b->t_ns > a->t_ns) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		(void)ncpu;
		cpu = 100.0 * (double)(b->st.cpu_usage_ns - a->st.cpu_usage_ns) /
		      (double)(b->t_ns - a->t_ns);
	}
	uint64_t limit = b->st.mem_limit;
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	uint64_t host = (uint64_t)pages * (uint64_t)psz;
	if (limit == 0 || limit > host)
		limit = host;
	uint64_t used =
	    b->st.mem_usage > b->st.mem_cache ? b->st.mem_usage - b->st.mem_cache : b->st.mem_usage;
	_cleanup_free_ char *u = bytes_size((double)used);
	_cleanup_free_ char *l = bytes_size((double)limit);
	_cleanup_free_ char *mem = xasprintf("%s / %s", u, l);
	_cleanup_free_ char *cpus = xasprintf("%.2f%%", cpu);
	_cleanup_free_ char *memp =
	    xasprintf("%.2f%%", limit ? 100.0 * (double)used / (double)limit : 0.0);
	_cleanup_free_ char *br = size3((double)b->st.blk_read);
	_cleanup_free_ char *bw = size3((double)b->st.blk_write);
	_cleanup_free_ char *blk = xasprintf("%s / %s", br, bw);
	_cleanup_free_ char *nr = size3((double)b->net_rx);
	_cleanup_free_ char *nt = size3((double)b->net_tx);
	_cleanup_free_ char *net = xasprintf("%s / %s", nr, nt);
	_cleanup_free_ char *pids = xasprintf("%llu", (unsigned long long)b->st.pids_current);
	json_t *row = json_object();
	json_object_set_new(row, "ID", json_string(shortid));
	json_object_set_new(row, "Container", json_string(shortid));
	json_object_set_new(row, "Name", json_string(r->name));
	json_object_set_new(row, "CPUPerc", json_string(cpus));
	json_object_set_new(row, "MemUsage", json_string(mem));
	json_object_set_new(row, "MemPerc", json_string(memp));
	json_object_set_new(row, "NetIO", json_string(net));
	json_object_set_new(row, "BlockIO", json_string(blk));
	json_object_set_new(row, "PIDs", json_string(pids));
	return row;
}

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},      {"no-stream", no_argument, NULL, 'n'},
	    {"no-trunc", no_argument, NULL, 'T'}, {"format", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'H'},     {NULL, 0, NULL, 0},
	};
	bool all = false, nostream = false;
	const char *format = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'n': nostream = true; break;
		case 'T': break;
		case 'F': format = optarg; break;
		case 'H':
			printf(
			    "Usage:  berth stats [OPTIONS] [CONTAINER...]\n\nDisplay a live stream "
			    "of container(s) resource usage statistics\n\nOptions:\n"
			    "  -a, --all             Show all containers (default shows just "
			    "running)\n      --format string   Format output using a custom "
			    "template\n      --no-stream       Disable streaming stats and only "
			    "pull the first result\n");
			return 0;
		default: return cli_usage_error("stats", "unknown flag");
		}
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	ctr_record **v = NULL;
	size_t n = 0;
	if (optind < argc) {
		v = xcalloc((size_t)(argc - optind) + 1, sizeof(*v));
		for (int i = optind; i < argc; i++) {
			if (container_lookup(s, argv[i], true, &v[n], &err) < 0) {
				ctr_records_free(v, n);
				return cli_fail(err);
			}
			n++;
		}
	} else if (container_list(s, true, &v, &n, &err) < 0) {
		return cli_fail(err);
	}
	const char *def = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{."
	                  "NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
	static const cli_column cols[] = {
	    {"ID", "CONTAINER ID"}, {"Container", "CONTAINER"},        {"Name", "NAME"},
	    {"CPUPerc", "CPU %"},   {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
	    {"NetIO", "NET I/O"},   {"BlockIO", "BLOCK I/O"},          {"PIDs", "PIDS"},
	};
	struct sample *prev = xcalloc(n + 1, sizeof(*prev));
	for (size_t i = 0; i < n; i++)
		take(v[i], &prev[i]);
	bool explicit_names = optind < argc;
	for (int round = 0;; round++) {
		struct timespec d = {0, 500000000};
		nanosleep(&d, NULL);
		_cleanup_free_ char *errmsg = NULL;
		_cleanup_format_ cli_format *f = cli_format_new(format, def, &errmsg);
		if (f == NULL) {
			rc = cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
			break;
		}
		cli_format_set_type(f, "*container.statsContext");
		if (!nostream)
			fputs("\033[2J\033[H", stdout);
		for (size_t i = 0; i < n; i++) {
			container_load_state(s, v[i]);
			const char *st = container_status(v[i]);
			bool live = !strcmp(st, "running") || !strcmp(st, "paused");
			if (!live && !all && !explicit_names)
				continue;
			struct sample cur;
			take(v[i], &cur);
			if (!live)
				memset(&cur, 0, sizeof(cur));
			_cleanup_json_ json_t *row = row_for(v[i], &prev[i], &cur);
			prev[i] = cur;
			if (cli_format_row(f, stdout, row, &errmsg) < 0)
				break;
		}
		if (errmsg) {
			rc = cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
			break;
		}
		cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
		fflush(stdout);
		if (nostream)
			break;
		(void)round;
	}
	free(prev);
	ctr_records_free(v, n);
	return rc;
}

int cmd_top(cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help")) {
		printf("Usage:  berth top CONTAINER [ps OPTIONS]\n\nDisplay the running processes "
		       "of a container\n");
		return argc < 2 ? EXIT_BERTH_FAILED : 0;
	}
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	pid_t *pids = NULL;
	size_t n = 0;
	if (container_lookup(s, argv[1], false, &r, &err) < 0 ||
	    container_pids(s, r, &pids, &n, &err) < 0)
		return cli_failf(1, "%s", err->msg);
	/* Docker runs the host's ps and keeps the rows of the container's pids */
	char **psargv = strv_append(NULL, "ps");
	if (argc > 2)
		for (int i = 2; i < argc; i++)
			psargv = strv_append(psargv, argv[i]);
	else
		psargv = strv_append(psargv, "-ef");
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0) {
		strv_free(psargv);
		free(pids);
		return cli_failf(EXIT_BERTH_FAILED, "pipe: %m");
	}
	pid_t child = fork();
	if (child == 0) {
		dup2(pp[1], 1);
		execvp("ps", psargv);
		_exit(127);
	}
	close(pp[1]);
	strv_free(psargv);
	FILE *p = fdopen(pp[0], "r");
	if (p == NULL) {
		free(pids);
		return cli_failf(EXIT_BERTH_FAILED, "running ps: %m");
	}
	char line[4096];
	int pidcol = -1;
	char **lines = NULL;
	bool header = true;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		_cleanup_free_ char *copy = xstrdup(line);
		char *save = NULL;
		int col = 0;
		bool keep = header;
		for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
			if (header && !strcmp(t, "PID"))
				pidcol = col;
			if (!header && col == pidcol) {
				long pv = atol(t);
				for (size_t i = 0; i < n; i++)
					keep |= pids[i] == pv;
			}
			col++;
		}
		if (header && pidcol < 0) {
			fclose(p);
			waitpid(child, NULL, 0);
			free(pids);
			return cli_failf(EXIT_BERTH_FAILED, "Couldn't find PID field in ps output");
		}
		header = false;
		if (keep) {
			/* tab-separate the columns for alignment */
			_cleanup_free_ char *c2 = xstrdup(line);
			strbuf sb;
			sb_init(&sb);
			char *sv = NULL;
			int k = 0;
			for (char *t = strtok_r(c2, " \t", &sv); t;
			     t = strtok_r(NULL, " \t", &sv)) {
				if (k++)
					sb_append(&sb, k <= 8 ? "\t" : " ");
				sb_append(&sb, t);
			}
			char *l = sb_steal(&sb);
			lines = strv_append(lines, l);
			free(l);
		}
	}
	fclose(p);
	waitpid(child, NULL, 0);
	free(pids);
	cli_tabwrite(stdout, lines, strv_len(lines));
	strv_free(lines);
	return 0;
}

int cmd_update(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"memory", required_argument, NULL, 'm'},
	    {"memory-swap", required_argument, NULL, 'S'},
	    {"memory-reservation", required_argument, NULL, 'R'},
	    {"cpus", required_argument, NULL, 'C'},
	    {"cpu-shares", required_argument, NULL, 'c'},
	    {"cpuset-cpus", required_argument, NULL, 'P'},
	    {"cpu-quota", required_argument, NULL, 'Q'},
	    {"cpu-period", required_argument, NULL, 'D'},
	    {"pids-limit", required_argument, NULL, 'p'},
	    {"restart", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_json_ json_t *u = json_object();
	int c;
	int64_t n;
	while ((c = getopt_long(argc, argv, "+m:c:", opts, NULL)) != -1) {
		_cleanup_error_ berth_error *err = NULL;
		switch (c) {
		case 'm':
		case 'S':
		case 'R':
			if (!strcmp(optarg, "-1"))
				n = -1;
			else if (parse_size(optarg, &n, &err) < 0)
				return cli_failf(EXIT_BERTH_FAILED, "invalid size: %s", optarg);
			json_object_set_new(u,
			                    c == 'm'   ? "Memory"
			                    : c == 'S' ? "MemorySwap"
			                               : "MemoryReservation",
			                    json_integer(n));
			break;
		case 'C':
			json_object_set_new(u, "NanoCpus",
			                    json_integer((json_int_t)(atof(optarg) * 1e9)));
			break;
		case 'c': json_object_set_new(u, "CpuShares", json_integer(atoll(optarg))); break;
		case 'P': json_object_set_new(u, "CpusetCpus", json_string(optarg)); break;
		case 'Q': json_object_set_new(u, "CpuQuota", json_integer(atoll(optarg))); break;
		case 'D': json_object_set_new(u, "CpuPeriod", json_integer(atoll(optarg))); break;
		case 'p': json_object_set_new(u, "PidsLimit", json_integer(atoll(optarg))); break;
		case 'r': {
			_cleanup_free_ char *nm = xstrdup(optarg);
			char *colon = strchr(nm, ':');
			long max = 0;
			if (colon) {
				*colon = 0;
				max = atol(colon + 1);
			}
			json_object_set_new(
			    u, "RestartPolicy",
			    json_pack("{s:s,s:i}", "Name", nm, "MaximumRetryCount", (int)max));
			break;
		}
		case 'H':
			printf("Usage:  berth update [OPTIONS] CONTAINER [CONTAINER...]\n\nUpdate "
			       "configuration of one or more containers\n\nOptions:\n"
			       "      --cpu-period int             CFS period of the CPU quota "
			       "(microseconds)\n"
			       "      --cpu-quota int              CFS quota per period "
			       "(microseconds)\n"
			       "  -c, --cpu-shares int             Relative CPU weight\n"
			       "      --cpus decimal               Number of CPUs\n"
			       "      --cpuset-cpus string         CPUs the container may run on\n"
			       "  -m, --memory bytes               Memory limit\n"
			       "      --memory-reservation bytes   Soft memory limit\n"
			       "      --memory-swap bytes          Memory plus swap limit; -1 for "
			       "unlimited swap\n"
			       "      --pids-limit int             Process limit (-1 for none)\n"
			       "      --restart string             Restart policy\n");
			return 0;
		default: return cli_usage_error("update", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("update", "\"update\" requires at least 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_ctr_record_ ctr_record *r = NULL;
		if (container_lookup(s, argv[i], true, &r, &err) < 0 ||
		    container_update(s, r, u, &err) < 0) {
			fprintf(stderr, "Error response from daemon: %s\n", err->msg);
			rc = 1;
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
