/* berth pull / push: flags, then one library call; the progress display
 * (Docker's per-layer lines, redrawn on a terminal, plain lines otherwise). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "image/image.h"
#include "registry/registry.h"
#include "store/store.h"

struct pline {
	char id[16];
	char *text;
};

struct display {
	bool tty, quiet;
	struct pline *lines;
	size_t n, drawn;
	struct timespec last;
};

static void display_reset(struct display *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i].text);
	free(d->lines);
	d->lines = NULL;
	d->n = d->drawn = 0;
}

static void redraw(struct display *d)
{
	if (d->drawn)
		printf("\033[%zuA", d->drawn);
	for (size_t i = 0; i < d->n; i++)
		printf("\033[2K%s: %s\n", d->lines[i].id, d->lines[i].text);
	d->drawn = d->n;
	fflush(stdout);
}

static char *progress_text(int state, uint64_t cur, int64_t total, const char *extra)
{
	const char *word = reg_layer_state_text(state);
	if (state == RL_MOUNTED)
		return xasprintf("%s %s", word, extra ? extra : "");
	if ((state == RL_DOWNLOADING || state == RL_EXTRACTING || state == RL_PUSHING) &&
	    total > 0) {
		int pct = (int)((double)cur / (double)total * 100) / 2;
		if (pct > 50)
			pct = 50;
		char bar[52];
		memset(bar, '=', (size_t)pct);
		bar[pct] = 0;
		_cleanup_free_ char *c = human_size((double)cur);
		_cleanup_free_ char *t = human_size((double)total);
		return xasprintf("%s [%s>%*s] %8s/%s", word, bar, 50 - pct, "", c, t);
	}
	return xstrdup(word);
}

static void on_layer(void *op, const char *id, int state, uint64_t cur, int64_t total,
                     const char *extra)
{
	struct display *d = op;
	if (d->quiet)
		return;
	bool progress = state == RL_DOWNLOADING || state == RL_EXTRACTING || state == RL_PUSHING;
	if (!d->tty) {
		if (progress)
			return;
		_cleanup_free_ char *t = progress_text(state, cur, total, extra);
		printf("%s: %s\n", id, t);
		fflush(stdout);
		return;
	}
	size_t i = 0;
	while (i < d->n && strcmp(d->lines[i].id, id) != 0)
		i++;
	if (i == d->n) {
		d->lines = xreallocarray(d->lines, d->n + 1, sizeof(*d->lines));
		snprintf(d->lines[i].id, sizeof(d->lines[i].id), "%s", id);
		d->lines[i].text = NULL;
		d->n++;
	}
	free(d->lines[i].text);
	d->lines[i].text = progress_text(state, cur, total, extra);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (now.tv_sec - d->last.tv_sec) * 1000 + (now.tv_nsec - d->last.tv_nsec) / 1000000;
	if (progress && ms < 100 && d->drawn == d->n && total > 0 && cur < (uint64_t)total)
		return;
	d->last = now;
	redraw(d);
}

static void on_line(void *op, const char *text)
{
	struct display *d = op;
	if (d->quiet)
		return;
	if (d->tty && d->n)
		redraw(d);
	display_reset(d);
	printf("%s\n", text);
	fflush(stdout);
}

static berth_store *open_store(cli_ctx *ctx, int *rc)
{
	berth_store *s = NULL;
	_cleanup_error_ berth_error *err = NULL;
	if (store_open(ctx->root, ctx->runroot, &s, &err) < 0 || image_store_init(s, &err) < 0 ||
	    registry_store_init(s, &err) < 0) {
		store_close(s);
		*rc = cli_fail(err);
		return NULL;
	}
	return s;
}

static int fail_1(berth_error *err)
{
	fprintf(stderr, "Error: %s\n", err ? err->msg : "unknown failure");
	return err && err->code == BERTH_E_INVALID ? EXIT_BERTH_FAILED : 1;
}

int cmd_pull(cli_ctx *ctx, int argc, char **argv)
{
	bool all = false, quiet = false;
	const char *platform = NULL;
	enum { OPT_PLATFORM = 256, OPT_DCT };
	static const struct option opts[] = {
	    {"all-tags", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"platform", required_argument, NULL, OPT_PLATFORM},
	    {"disable-content-trust", no_argument, NULL, OPT_DCT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'q': quiet = true; break;
		case OPT_PLATFORM: platform = optarg; break;
		case OPT_DCT: break;
		case 'h':
			printf("Usage:  berth pull [OPTIONS] NAME[:TAG|@DIGEST]\n\n"
			       "Download an image from a registry\n\n"
			       "Options:\n"
			       "  -a, --all-tags                Download all tagged images in the "
			       "repository\n"
			       "      --platform string         Set platform if server is "
			       "multi-platform capable\n"
			       "  -q, --quiet                   Suppress verbose output\n");
			return 0;
		default: return cli_usage_error("pull", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("pull", "\"pull\" requires exactly 1 argument.");
	if (!platform)
		platform = getenv("DOCKER_DEFAULT_PLATFORM");
	signal(SIGPIPE, SIG_IGN);
	_cleanup_error_ berth_error *err = NULL;
	berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	int rc = 0;
	berth_store *s = open_store(ctx, &rc);
	if (!s) {
		berth_config_free(cfg);
		return rc;
	}
	struct display d = {.tty = isatty(STDOUT_FILENO) == 1, .quiet = quiet};
	reg_events ev = {.layer = on_layer, .line = on_line, .opaque = &d};
	registry_pull_opts o = {
	    .config = cfg, .platform = platform, .all_tags = all, .events = &ev};
	_cleanup_free_ char *full = NULL;
	if (registry_pull(s, argv[optind], &o, &full, &err) < 0) {
		if (d.tty && d.n)
			redraw(&d);
		rc = fail_1(err);
	} else {
		printf("%s\n", full);
	}
	display_reset(&d);
	store_close(s);
	berth_config_free(cfg);
	return rc;
}

int cmd_push(cli_ctx *ctx, int argc, char **argv)
{
	bool all = false, quiet = false;
	enum { OPT_DCT = 256, OPT_CHUNK };
	uint64_t chunk = 0;
	static const struct option opts[] = {
	    {"all-tags", no_argument, NULL, 'a'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"disable-content-trust", no_argument, NULL, OPT_DCT},
	    {"chunk-size", required_argument, NULL, OPT_CHUNK},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'q': quiet = true; break;
		case OPT_DCT: break;
		case OPT_CHUNK: {
			int64_t v = 0;
			_cleanup_error_ berth_error *e = NULL;
			if (parse_size(optarg, &v, &e) < 0 || v < 0)
				return cli_usage_error("push", "invalid --chunk-size %s", optarg);
			chunk = (uint64_t)v;
			break;
		}
		case 'h':
			printf("Usage:  berth push [OPTIONS] NAME[:TAG]\n\n"
			       "Upload an image to a registry\n\n"
			       "Options:\n"
			       "  -a, --all-tags                Push all tags of an image to the "
			       "repository\n"
			       "      --chunk-size bytes        Upload blobs in PATCH chunks of "
			       "this size (default: one request)\n"
			       "  -q, --quiet                   Suppress verbose output\n");
			return 0;
		default: return cli_usage_error("push", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("push", "\"push\" requires exactly 1 argument.");
	signal(SIGPIPE, SIG_IGN);
	_cleanup_error_ berth_error *err = NULL;
	berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	int rc = 0;
	berth_store *s = open_store(ctx, &rc);
	if (!s) {
		berth_config_free(cfg);
		return rc;
	}
	const char *chunk_env = getenv("BERTH_PUSH_CHUNK_SIZE");
	if (!chunk && chunk_env) {
		int64_t v = 0;
		_cleanup_error_ berth_error *e = NULL;
		if (parse_size(chunk_env, &v, &e) == 0 && v > 0)
			chunk = (uint64_t)v;
	}
	struct display d = {.tty = isatty(STDOUT_FILENO) == 1, .quiet = quiet};
	reg_events ev = {.layer = on_layer, .line = on_line, .opaque = &d};
	registry_push_opts o = {.config = cfg, .all_tags = all, .chunk_size = chunk, .events = &ev};
	if (registry_push(s, argv[optind], &o, &err) < 0) {
		if (d.tty && d.n)
			redraw(&d);
		rc = fail_1(err);
	} else if (quiet) {
		printf("%s\n", argv[optind]);
	}
	display_reset(&d);
	store_close(s);
	berth_config_free(cfg);
	return rc;
}
