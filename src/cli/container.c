/* berth container …, and the lifecycle verbs: stop, kill, rm, wait, rename,
 * pause, unpause, restart, attach, port, container prune; plus the hidden
 * helpers berth-monitor runs (__cleanup, __restart, __health). */
#include <errno.h>
#include <getopt.h>
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
#include "container/container.h"
#include "runtime/runtime.h"

typedef int (*ctr_verb)(berth_store *s, ctr_record *r, void *arg, berth_error **err);

/* Apply fn to every named container, printing the argument on success and
 * "Error response…" lines as Docker does; exit 1 if any failed. */
static int for_each(cli_ctx *ctx, int argc, char **argv, int first, bool with_config, ctr_verb fn,
                    void *arg, bool print)
{
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	for (int i = first; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_ctr_record_ ctr_record *r = NULL;
		if (container_lookup(s, argv[i], with_config, &r, &err) < 0 ||
		    fn(s, r, arg, &err) < 0) {
			fprintf(stderr, "Error response from daemon: %s\n",
			        err ? err->msg : "failed");
			rc = 1;
			continue;
		}
		if (print)
			printf("%s\n", argv[i]);
	}
	return rc;
}

static int simple_opts(const char *cmd, int argc, char **argv, const char *usage)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'H') {
			printf("%s", usage);
			return -2;
		}
		return cli_usage_error(cmd, "unknown flag");
	}
	if (optind >= argc) {
		fprintf(stderr, "\"%s\" requires at least 1 argument.\nSee 'berth %s --help'.\n",
		        cmd, cmd);
		return -EXIT_BERTH_FAILED;
	}
	return 0;
}

/* ---- stop / restart ---- */

static int do_stop(berth_store *s, ctr_record *r, void *arg, berth_error **err)
{
	return container_stop(s, r, *(int *)arg, err);
}

static int do_restart(berth_store *s, ctr_record *r, void *arg, berth_error **err)
{
	if (container_stop(s, r, *(int *)arg, err) < 0)
		return -1;
	container_load_state(s, r);
	_cleanup_error_ berth_error *e2 = NULL;
	container_cleanup(s, r, false, NULL);
	ctr_env env = {0};
	return container_start(s, &env, r, NULL, NULL, err);
}

static int stop_like(cli_ctx *ctx, const char *cmd, int argc, char **argv, ctr_verb fn)
{
	static const struct option opts[] = {
	    {"time", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 't'},
	    {"signal", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	int timeout = -1;
	int c;
	while ((c = getopt_long(argc, argv, "+t:s:", opts, NULL)) != -1) {
		switch (c) {
		case 't': timeout = atoi(optarg); break;
		case 's': break;
		case 'H':
			printf("Usage:  berth %s [OPTIONS] CONTAINER [CONTAINER...]\n\n"
			       "Options:\n  -t, --time int   Seconds to wait before killing the "
			       "container\n",
			       cmd);
			return 0;
		default: return cli_usage_error(cmd, "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error(cmd, "\"%s\" requires at least 1 argument.", cmd);
	return for_each(ctx, argc, argv, optind, true, fn, &timeout, true);
}

int cmd_stop(cli_ctx *ctx, int argc, char **argv)
{
	return stop_like(ctx, "stop", argc, argv, do_stop);
}

int cmd_restart(cli_ctx *ctx, int argc, char **argv)
{
	return stop_like(ctx, "restart", argc, argv, do_restart);
}

/* ---- kill ---- */

static int do_kill(berth_store *s, ctr_record *r, void *arg, berth_error **err)
{
	return container_kill(s, r, *(int *)arg, err);
}

int cmd_kill(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"signal", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	int sig = SIGKILL;
	int c;
	while ((c = getopt_long(argc, argv, "+s:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sig = rt_parse_signal(optarg);
			if (sig <= 0)
				return cli_failf(EXIT_BERTH_FAILED, "Invalid signal: %s", optarg);
			break;
		case 'H':
			printf(
			    "Usage:  berth kill [OPTIONS] CONTAINER [CONTAINER...]\n\n"
			    "Options:\n  -s, --signal string   Signal to send to the container\n");
			return 0;
		default: return cli_usage_error("kill", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("kill", "\"kill\" requires at least 1 argument.");
	return for_each(ctx, argc, argv, optind, false, do_kill, &sig, true);
}

/* ---- rm ---- */

struct rm_args {
	bool force, volumes;
};

static int do_rm(berth_store *s, ctr_record *r, void *arg, berth_error **err)
{
	struct rm_args *a = arg;
	return container_remove(s, r, a->force, a->volumes, err);
}

int cmd_rm(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"volumes", no_argument, NULL, 'v'},
	    {"link", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	struct rm_args a = {0};
	int c;
	while ((c = getopt_long(argc, argv, "+fvl", opts, NULL)) != -1) {
		switch (c) {
		case 'f': a.force = true; break;
		case 'v': a.volumes = true; break;
		case 'l': break;
		case 'H':
			printf(
			    "Usage:  berth rm [OPTIONS] CONTAINER [CONTAINER...]\n\n"
			    "Options:\n  -f, --force     Force the removal of a running container\n"
			    "  -v, --volumes   Remove anonymous volumes associated with the "
			    "container\n");
			return 0;
		default: return cli_usage_error("rm", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("rm", "\"rm\" requires at least 1 argument.");
	return for_each(ctx, argc, argv, optind, true, do_rm, &a, true);
}

/* ---- wait ---- */

static int do_wait(berth_store *s, ctr_record *r, void *arg, berth_error **err)
{
	int code = 0;
	if (container_wait(s, r, &code, err) < 0)
		return -1;
	printf("%d\n", code);
	fflush(stdout);
	(void)arg;
	return 0;
}

int cmd_wait(cli_ctx *ctx, int argc, char **argv)
{
	int r = simple_opts("wait", argc, argv,
	                    "Usage:  berth wait CONTAINER [CONTAINER...]\n\n"
	                    "Block until one or more containers stop, then print their exit "
	                    "codes\n");
	if (r == -2)
		return 0;
	if (r < 0)
		return -r;
	return for_each(ctx, argc, argv, optind, false, do_wait, NULL, false);
}

/* ---- pause / unpause ---- */

static int do_pause(berth_store *s, ctr_record *r, void *arg, berth_error **err)
{
	return container_pause(s, r, arg != NULL, err);
}

int cmd_pause(cli_ctx *ctx, int argc, char **argv)
{
	int r = simple_opts("pause", argc, argv, "Usage:  berth pause CONTAINER [CONTAINER...]\n");
	if (r == -2)
		return 0;
	if (r < 0)
		return -r;
	return for_each(ctx, argc, argv, optind, false, do_pause, (void *)1, true);
}

int cmd_unpause(cli_ctx *ctx, int argc, char **argv)
{
	int r =
	    simple_opts("unpause", argc, argv, "Usage:  berth unpause CONTAINER [CONTAINER...]\n");
	if (r == -2)
		return 0;
	if (r < 0)
		return -r;
	return for_each(ctx, argc, argv, optind, false, do_pause, NULL, true);
}

/* ---- rename ---- */

int cmd_rename(cli_ctx *ctx, int argc, char **argv)
{
	int r = simple_opts("rename", argc, argv, "Usage:  berth rename CONTAINER NEW_NAME\n");
	if (r == -2)
		return 0;
	if (r < 0)
		return -r;
	if (argc - optind != 2)
		return cli_usage_error("rename", "\"rename\" requires exactly 2 arguments.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *c = NULL;
	if (container_lookup(s, argv[optind], false, &c, &err) < 0 ||
	    container_rename(s, c, argv[optind + 1], &err) < 0)
		return cli_failf(1, "%s", err->msg);
	return 0;
}

/* ---- attach ---- */

int cmd_attach(cli_ctx *ctx, int argc, char **argv)
{
	enum { O_DK = 256, O_NOSTDIN, O_SIGPROXY };
	static const struct option opts[] = {
	    {"detach-keys", required_argument, NULL, O_DK},
	    {"no-stdin", no_argument, NULL, O_NOSTDIN},
	    {"sig-proxy", optional_argument, NULL, O_SIGPROXY},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	const char *dk = NULL;
	bool nostdin = false, sig_proxy = true;
	int c;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case O_DK: dk = optarg; break;
		case O_NOSTDIN: nostdin = true; break;
		case O_SIGPROXY:
			sig_proxy =
			    optarg == NULL || !strcmp(optarg, "true") || !strcmp(optarg, "1");
			break;
		case 'H':
			printf(
			    "Usage:  berth attach [OPTIONS] CONTAINER\n\n"
			    "Options:\n      --detach-keys string   Override the key sequence for "
			    "detaching a container\n      --no-stdin             Do not attach "
			    "STDIN\n      --sig-proxy            Proxy all received signals to the "
			    "process (default true)\n");
			return 0;
		default: return cli_usage_error("attach", "unknown flag");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("attach", "\"attach\" requires exactly 1 argument.");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, argv[optind], true, &r, &err) < 0)
		return cli_fail(err);
	const char *st = container_status(r);
	if (strcmp(st, "running") && strcmp(st, "paused"))
		return cli_failf(1, "You cannot attach to a stopped container, start it first");
	json_t *cfg = json_object_get(r->config, "Config");
	bool tty = json_get_bool(cfg, "Tty", false);
	bool in = !nostdin && json_get_bool(cfg, "OpenStdin", false);
	_cleanup_free_ char *req = xasprintf("attach stdout,stderr%s", in ? ",stdin" : "");
	int sock = container_monitor_connect(s, r->id, req, &err);
	if (sock < 0)
		return cli_fail(err);
	ctr_relay_opts ro = {.in_fd = in ? 0 : -1,
	                     .out_fd = 1,
	                     .err_fd = 2,
	                     .tty = tty,
	                     .detach_keys = dk,
	                     .sig_proxy = sig_proxy && !tty};
	int code = 0;
	bool detached = false;
	rc = container_relay(sock, &ro, &code, &detached, &err);
	close(sock);
	if (rc < 0)
		return cli_fail(err);
	if (detached)
		return 0;
	return code;
}

/* ---- prune ---- */

int cmd_container_prune(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"filter", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	ctr_prune_opts po = {0};
	_cleanup_strv_ char **labels = NULL, **not_labels = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+f", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'F': {
			const char *eq = strchr(optarg, '=');
			if (eq == NULL || eq == optarg)
				return cli_failf(EXIT_BERTH_FAILED,
				                 "bad format of filter (expected name=value)");
			_cleanup_free_ char *key = xstrndup(optarg, (size_t)(eq - optarg));
			const char *val = eq + 1;
			if (!strcmp(key, "until")) {
				struct timespec now;
				clock_gettime(CLOCK_REALTIME, &now);
				if (po.has_until)
					return cli_failf(EXIT_BERTH_FAILED,
					                 "more than one until filter specified");
				if (time_parse_docker(val, &now, &po.until_ns) < 0)
					return cli_failf(
					    EXIT_BERTH_FAILED,
					    "failed to parse value as time or duration: "
					    "\"%s\"",
					    val);
				po.has_until = true;
			} else if (!strcmp(key, "label")) {
				labels = strv_append(labels, val);
			} else if (!strcmp(key, "label!")) {
				not_labels = strv_append(not_labels, val);
			} else {
				return cli_failf(EXIT_BERTH_FAILED, "invalid filter '%s'", key);
			}
			break;
		}
		case 'H':
			printf("Usage:  berth container prune [OPTIONS]\n\nRemove all stopped "
			       "containers\n\nOptions:\n"
			       "      --filter filter   Provide filter values (e.g. "
			       "\"until=<timestamp>\")\n"
			       "  -f, --force           Do not prompt for confirmation\n");
			return 0;
		default: return cli_usage_error("container prune", "unknown flag");
		}
	}
	if (optind < argc)
		return cli_usage_error("container prune",
		                       "'berth container prune' accepts no arguments");
	po.labels = labels;
	po.not_labels = not_labels;
	if (!force && !cli_confirm("WARNING! This will remove all stopped containers."))
		return 0;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_strv_ char **removed = NULL;
	int64_t reclaimed = 0;
	if (container_prune(s, &po, &removed, &reclaimed, &err) < 0)
		return cli_fail(err);
	if (removed) {
		printf("Deleted Containers:\n");
		for (char **id = removed; *id; id++)
			printf("%s\n", *id);
		printf("\n");
	}
	_cleanup_free_ char *h = cli_size3(reclaimed);
	printf("Total reclaimed space: %s\n", reclaimed ? h : "0B");
	return 0;
}

/* ---- the monitor's helpers ---- */

static int helper(cli_ctx *ctx, const char *verb, int argc, char **argv)
{
	bool rm = false;
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--rm")) {
		rm = true;
		i++;
	}
	if (i >= argc)
		return EXIT_BERTH_FAILED;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, argv[i], true, &r, &err) < 0) {
		if (!strcmp(verb, "__cleanup") && err->code == BERTH_E_NOTFOUND &&
		    container_cleanup_orphan(s, argv[i]) == 0)
			return 0;
		return cli_fail(err);
	}
	ctr_env env = {0};
	if (!strcmp(verb, "__cleanup"))
		rc = container_cleanup(s, r, rm, &err);
	else if (!strcmp(verb, "__restart"))
		rc = container_restart_for_monitor(s, &env, r, &err);
	else if (!strcmp(verb, "__health"))
		rc = container_healthcheck_run(s, r, &err);
	if (rc < 0) {
		if (!strcmp(verb, "__restart")) {
			_cleanup_free_ char *m = xasprintf("err %s\n", err->msg);
			if (write(3, m, strlen(m)) < 0)
				(void)0;
		}
		return cli_fail(err);
	}
	return 0;
}

int cmd_exec(cli_ctx *ctx, int argc, char **argv);
int cmd_logs(cli_ctx *ctx, int argc, char **argv);
int cmd_ps(cli_ctx *ctx, int argc, char **argv);

int cmd_container_inspect(cli_ctx *ctx, int argc, char **argv);

struct sub {
	const char *name;
	cli_cmd_fn fn;
};

/* sorted */
static const struct sub subs[] = {
    {"attach", cmd_attach},
    {"commit", cmd_commit},
    {"cp", cmd_cp},
    {"create", cmd_create},
    {"diff", cmd_diff},
    {"exec", cmd_exec},
    {"export", cmd_export},
    {"inspect", cmd_container_inspect},
    {"kill", cmd_kill},
    {"list", cmd_ps},
    {"logs", cmd_logs},
    {"ls", cmd_ps},
    {"pause", cmd_pause},
    {"port", cmd_port},
    {"prune", cmd_container_prune},
    {"ps", cmd_ps},
    {"rename", cmd_rename},
    {"restart", cmd_restart},
    {"rm", cmd_rm},
    {"run", cmd_run},
    {"start", cmd_start},
    {"stats", cmd_stats},
    {"stop", cmd_stop},
    {"top", cmd_top},
    {"unpause", cmd_unpause},
    {"update", cmd_update},
    {"wait", cmd_wait},
};

static int cmp_sub(const void *k, const void *e)
{
	return strcmp(k, ((const struct sub *)e)->name);
}

int cmd_container(cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help")) {
		printf("Usage:  berth container COMMAND\n\nManage containers\n\nCommands:\n");
		for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
			printf("  %s\n", subs[i].name);
		return argc < 2 ? EXIT_BERTH_FAILED : 0;
	}
	if (!strcmp(argv[1], "__cleanup") || !strcmp(argv[1], "__restart") ||
	    !strcmp(argv[1], "__health"))
		return helper(ctx, argv[1], argc - 1, argv + 1);
	const struct sub *s = bsearch(argv[1], subs, ARRAY_SIZE(subs), sizeof(subs[0]), cmp_sub);
	if (s == NULL) {
		fprintf(stderr,
		        "berth: 'container %s' is not a berth command.\n"
		        "See 'berth container --help'\n",
		        argv[1]);
		return EXIT_BERTH_FAILED;
	}
	optind = 0;
	return s->fn(ctx, argc - 1, argv + 1);
}
