/* berth build [OPTIONS] PATH | - */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/build.h"
#include "cli/cli.h"
#include "cli/clistore.h"

static void usage(FILE *f)
{
	fputs(
	    "\nUsage:  berth build [OPTIONS] PATH | -\n\n"
	    "Build an image from a Dockerfile\n\n"
	    "Options:\n"
	    "      --build-arg list          Set build-time variables\n"
	    "  -f, --file string             Name of the Dockerfile (default: "
	    "\"PATH/Dockerfile\")\n"
	    "      --iidfile string          Write the image ID to the file\n"
	    "      --label list              Set metadata for an image\n"
	    "      --network string          Networking mode for the RUN instructions during "
	    "build (default \"default\")\n"
	    "      --no-cache                Do not use cache when building the image\n"
	    "  -o, --output stringArray      Output destination (format: "
	    "\"type=local,dest=path\")\n"
	    "      --progress string         Set type of progress output (\"auto\", \"plain\", "
	    "\"tty\") (default \"auto\")\n"
	    "  -q, --quiet                   Suppress the build output and print image ID on "
	    "success\n"
	    "      --secret stringArray      Secret to expose to the build (format: "
	    "\"id=mysecret[,src=/local/secret]\")\n"
	    "  -t, --tag list                Name and optionally a tag in the \"name:tag\" format\n"
	    "      --target string           Set the target build stage to build\n",
	    f);
}

/* ---- progress output ---- */

struct progress {
	int mode; /* 0 quiet, 1 plain, 2 tty */
	FILE *f;
	pthread_mutex_t mu;
	/* tty: the open status line */
	bool line_open;
	int cur_vertex;
	char *cur_text;
	bool cur_cached;
	struct timespec cur_t0;
	struct timespec t0;
	bool stop;
	char **texts; /* by vertex */
	size_t n_texts;
};

static double now_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static void set_text(struct progress *p, int v, const char *text)
{
	if ((size_t)v >= p->n_texts) {
		p->texts = xreallocarray(p->texts, (size_t)v + 16, sizeof(char *));
		for (size_t i = p->n_texts; i < (size_t)v + 16; i++)
			p->texts[i] = NULL;
		p->n_texts = (size_t)v + 16;
	}
	free(p->texts[v]);
	p->texts[v] = xstrdup(text);
}

static const char *text_of(struct progress *p, int v)
{
	return (size_t)v < p->n_texts && p->texts[v] ? p->texts[v] : "";
}

static void tty_close_line(struct progress *p)
{
	if (p->line_open) {
		fputc('\n', p->f);
		p->line_open = false;
	}
}

static void on_event(void *ud, const build_event *ev)
{
	struct progress *p = ud;
	pthread_mutex_lock(&p->mu);
	if (p->mode == 0) {
		if (ev->kind == BUILD_EV_ERROR && ev->text)
			fputs(ev->text, stderr);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	if (ev->kind == BUILD_EV_STEP)
		set_text(p, ev->vertex, ev->text);
	if (p->mode == 1) {
		switch (ev->kind) {
		case BUILD_EV_STEP: fprintf(p->f, "#%d %s\n", ev->vertex, ev->text); break;
		case BUILD_EV_CACHED: fprintf(p->f, "#%d CACHED\n", ev->vertex); break;
		case BUILD_EV_MISS: fprintf(p->f, "#%d %s\n", ev->vertex, ev->text); break;
		case BUILD_EV_OUTPUT:
			fprintf(p->f, "#%d %.3f %s\n", ev->vertex, ev->elapsed, ev->text);
			break;
		case BUILD_EV_INFO: fprintf(p->f, "#%d %s\n", ev->vertex, ev->text); break;
		case BUILD_EV_ERROR:
			fprintf(p->f, "#%d ERROR: process output:\n", ev->vertex);
			fputs(ev->text, p->f);
			break;
		case BUILD_EV_DONE:
			fprintf(p->f, "#%d DONE %.1fs\n\n", ev->vertex, ev->elapsed);
			break;
		default: break;
		}
		fflush(p->f);
		pthread_mutex_unlock(&p->mu);
		return;
	}
	/* tty: one line per step, its elapsed time ticking while it runs */
	switch (ev->kind) {
	case BUILD_EV_STEP:
		tty_close_line(p);
		fprintf(p->f, "\r\033[K => %s", ev->text);
		p->line_open = true;
		p->cur_vertex = ev->vertex;
		p->cur_cached = false;
		clock_gettime(CLOCK_MONOTONIC, &p->cur_t0);
		break;
	case BUILD_EV_CACHED:
		if (p->line_open && p->cur_vertex == ev->vertex)
			p->cur_cached = true;
		break;
	case BUILD_EV_MISS: break;
	case BUILD_EV_OUTPUT:
		tty_close_line(p);
		fprintf(p->f, "\033[2m => => # %s\033[0m\n", ev->text);
		break;
	case BUILD_EV_INFO:
		tty_close_line(p);
		fprintf(p->f, " => => %s\n", ev->text);
		break;
	case BUILD_EV_ERROR:
		tty_close_line(p);
		fputs(ev->text, p->f);
		break;
	case BUILD_EV_DONE:
		if (p->line_open && p->cur_vertex == ev->vertex) {
			fprintf(p->f, "\r\033[K => %s%s %.1fs\n", p->cur_cached ? "CACHED " : "",
			        text_of(p, ev->vertex), ev->elapsed);
			p->line_open = false;
		} else {
			tty_close_line(p);
			fprintf(p->f, " => %s %.1fs\n", text_of(p, ev->vertex), ev->elapsed);
		}
		break;
	default: break;
	}
	fflush(p->f);
	pthread_mutex_unlock(&p->mu);
}

static void *ticker(void *ud)
{
	struct progress *p = ud;
	for (;;) {
		struct timespec d = {0, 100 * 1000 * 1000};
		nanosleep(&d, NULL);
		pthread_mutex_lock(&p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		if (p->line_open) {
			fprintf(p->f, "\r\033[K => %s %.1fs", text_of(p, p->cur_vertex),
			        now_since(&p->cur_t0));
			fflush(p->f);
		}
		pthread_mutex_unlock(&p->mu);
	}
}

int cmd_build(cli_ctx *ctx, int argc, char **argv)
{
	enum {
		OPT_BUILD_ARG = 256,
		OPT_IIDFILE,
		OPT_LABEL,
		OPT_NETWORK,
		OPT_NO_CACHE,
		OPT_PROGRESS,
		OPT_SECRET,
		OPT_TARGET,
		OPT_PLATFORM,
		OPT_IGNORED,
		OPT_IGNORED_ARG,
		OPT_HELP
	};
	static const struct option opts[] = {
	    {"build-arg", required_argument, NULL, OPT_BUILD_ARG},
	    {"file", required_argument, NULL, 'f'},
	    {"iidfile", required_argument, NULL, OPT_IIDFILE},
	    {"label", required_argument, NULL, OPT_LABEL},
	    {"network", required_argument, NULL, OPT_NETWORK},
	    {"no-cache", no_argument, NULL, OPT_NO_CACHE},
	    {"output", required_argument, NULL, 'o'},
	    {"progress", required_argument, NULL, OPT_PROGRESS},
	    {"quiet", no_argument, NULL, 'q'},
	    {"secret", required_argument, NULL, OPT_SECRET},
	    {"tag", required_argument, NULL, 't'},
	    {"target", required_argument, NULL, OPT_TARGET},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"pull", no_argument, NULL, OPT_IGNORED},
	    {"rm", no_argument, NULL, OPT_IGNORED},
	    {"force-rm", no_argument, NULL, OPT_IGNORED},
	    {"cache-from", required_argument, NULL, OPT_IGNORED_ARG},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_strv_ char **tags = NULL, **bargs = NULL, **labels = NULL, **secrets = NULL;
	const char *file = NULL, *iidfile = NULL, *network = NULL, *output = NULL,
	           *progress = "auto", *target = NULL;
	bool no_cache = false, quiet = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:o:qt:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'o': output = optarg; break;
		case 'q': quiet = true; break;
		case 't': tags = strv_append(tags, optarg); break;
		case OPT_BUILD_ARG: bargs = strv_append(bargs, optarg); break;
		case OPT_IIDFILE: iidfile = optarg; break;
		case OPT_LABEL: labels = strv_append(labels, optarg); break;
		case OPT_NETWORK: network = optarg; break;
		case OPT_NO_CACHE: no_cache = true; break;
		case OPT_PROGRESS: progress = optarg; break;
		case OPT_SECRET: secrets = strv_append(secrets, optarg); break;
		case OPT_TARGET: target = optarg; break;
		case OPT_PLATFORM:
			if (strcmp(optarg, "linux/amd64") && strcmp(optarg, "linux"))
				return cli_failf(
				    EXIT_BERTH_FAILED,
				    "--platform %s: only the host platform can be built", optarg);
			break;
		case OPT_IGNORED:
		case OPT_IGNORED_ARG: break;
		case OPT_HELP: usage(stdout); return 0;
		default: return cli_usage_error("build", "unknown flag");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("build", "\"build\" requires exactly 1 argument.");
	const char *path = argv[optind];
	if (strcmp(progress, "auto") && strcmp(progress, "plain") && strcmp(progress, "tty") &&
	    strcmp(progress, "quiet"))
		return cli_failf(EXIT_BERTH_FAILED,
		                 "invalid progress mode \"%s\" (auto, plain, tty, quiet)",
		                 progress);
	if (network && strcmp(network, "default") && strcmp(network, "none") &&
	    strcmp(network, "host"))
		return cli_failf(
		    EXIT_BERTH_FAILED,
		    "network mode \"%s\" not supported by buildkit (default, none, host)", network);
	if (!strcmp(path, "-") && file && !strcmp(file, "-"))
		return cli_failf(EXIT_BERTH_FAILED,
		                 "invalid argument: can't use stdin for both build context and "
		                 "dockerfile");
	if (str_has_prefix(path, "http://") || str_has_prefix(path, "https://") ||
	    str_has_prefix(path, "git@"))
		return cli_failf(EXIT_BERTH_FAILED, "remote build contexts are not supported: %s",
		                 path);
	_cleanup_error_ berth_error *err = NULL;
	build_opts o = {.context_fd = -1,
	                .tags = tags,
	                .build_args = bargs,
	                .labels = labels,
	                .secrets = secrets,
	                .target = target,
	                .network = network,
	                .output = output,
	                .no_cache = no_cache};
	_cleanup_free_ char *dftext = NULL;
	if (!strcmp(path, "-")) {
		o.context_fd = 0;
		o.dockerfile = file;
	} else {
		o.context_dir = path;
		if (file && !strcmp(file, "-")) {
			if (read_file("/dev/stdin", &dftext, &o.dockerfile_len, &err) < 0)
				return cli_fail(err);
			o.dockerfile_text = dftext;
		} else {
			o.dockerfile = file;
		}
	}
	struct progress p = {.f = stderr};
	pthread_mutex_init(&p.mu, NULL);
	if (quiet || !strcmp(progress, "quiet"))
		p.mode = 0;
	else if (!strcmp(progress, "plain"))
		p.mode = 1;
	else if (!strcmp(progress, "tty"))
		p.mode = 2;
	else
		p.mode = isatty(2) ? 2 : 1;
	o.progress = on_event;
	o.progress_ud = &p;
	if (build_prepare_process(&err) < 0)
		return cli_fail(err);
	_cleanup_config_ berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	o.config = cfg;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	pthread_t tick;
	bool ticking = p.mode == 2 && pthread_create(&tick, NULL, ticker, &p) == 0;
	char id[DIGEST_STR_LEN + 1];
	int r = build_image(s, &o, id, &err);
	if (ticking) {
		pthread_mutex_lock(&p.mu);
		p.stop = true;
		tty_close_line(&p);
		pthread_mutex_unlock(&p.mu);
		pthread_join(tick, NULL);
	}
	for (size_t i = 0; i < p.n_texts; i++)
		free(p.texts[i]);
	free(p.texts);
	if (r < 0) {
		fprintf(stderr, "Error: %s\n", err ? err->msg : "build failed");
		return 1; /* docker build: 1 for every failure */
	}
	if (iidfile && id[0] && atomic_write(iidfile, id, strlen(id), 0644, false, &err) < 0)
		return cli_fail(err);
	if (quiet && id[0])
		printf("%s\n", id);
	return 0;
}
