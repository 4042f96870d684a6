/* berth: global flags, then dispatch to one command file. */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cli/cli.h"

int cli_fail(berth_error *err)
{
	int code = EXIT_BERTH_FAILED;
	if (err) {
		fprintf(stderr, "Error: %s\n", err->msg);
		if (err->code == BERTH_E_CANNOT_INVOKE)
			code = EXIT_CANNOT_INVOKE;
		else if (err->code == BERTH_E_CMD_NOT_FOUND)
			code = EXIT_NOT_FOUND;
		else if (err->code == BERTH_E_NOTFOUND)
			code = 1;
	} else {
		fprintf(stderr, "Error: unknown failure\n");
	}
	return code;
}

bool cli_confirm(const char *warning)
{
	printf("%s\nAre you sure you want to continue? [y/N] ", warning);
	fflush(stdout);
	char line[64] = "";
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	/* Docker: the trimmed answer is exactly "y" or "Y" */
	char *p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strlen(p);
	while (n > 0 &&
	       (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return n == 1 && (p[0] == 'y' || p[0] == 'Y');
}

int cli_failf(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("Error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "berth %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nSee 'berth %s --help'.\n", cmd);
	va_end(ap);
	return EXIT_BERTH_FAILED;
}

struct command {
	const char *name;
	cli_cmd_fn fn;
	const char *help;
};

/* Sorted by name for bsearch. */
static const struct command commands[] = {
    /* hidden (names starting with "_" are not listed), for tests and benchmarks */
    {"__layer-apply", cmd_layer_apply_debug, "Unpack a layer tar into a new directory"},
    {"__layer-diff", cmd_layer_diff_debug, "Write a directory as a layer tar"},
    {"attach", cmd_attach,
     "Attach local standard input, output, and error streams to a running container"},
    {"build", cmd_build, "Build an image from a Dockerfile"},
    {"commit", cmd_commit, "Create a new image from a container's changes"},
    {"compose", cmd_compose, "Define and run multi-container applications"},
    {"container", cmd_container, "Manage containers"},
    {"cp", cmd_cp, "Copy files/folders between a container and the local filesystem"},
    {"create", cmd_create, "Create a new container"},
    {"diff", cmd_diff, "Inspect changes to files or directories on a container's filesystem"},
    {"events", cmd_events, "Get real time events"},
    {"exec", cmd_exec, "Execute a command in a running container"},
    {"export", cmd_export, "Export a container's filesystem as a tar archive"},
    {"history", cmd_history, "Show the history of an image"},
    {"image", cmd_image, "Manage images"},
    {"images", cmd_images, "List images"},
    {"import", cmd_import, "Import the contents from a tarball to create a filesystem image"},
    {"info", cmd_info, "Display system-wide information"},
    {"inspect", cmd_inspect, "Return low-level information on berth objects"},
    {"kill", cmd_kill, "Kill one or more running containers"},
    {"load", cmd_load, "Load an image from a tar archive or STDIN"},
    {"login", cmd_login, "Log in to a registry"},
    {"logout", cmd_logout, "Log out from a registry"},
    {"logs", cmd_logs, "Fetch the logs of a container"},
    {"network", cmd_network, "Manage networks"},
    {"pause", cmd_pause, "Pause all processes within one or more containers"},
    {"port", cmd_port, "List port mappings or a specific mapping for the container"},
    {"ps", cmd_ps, "List containers"},
    {"pull", cmd_pull, "Download an image from a registry"},
    {"push", cmd_push, "Upload an image to a registry"},
    {"registry", cmd_registry, "Run berth's own registry server"},
    {"rename", cmd_rename, "Rename a container"},
    {"restart", cmd_restart, "Restart one or more containers"},
    {"rm", cmd_rm, "Remove one or more containers"},
    {"rmi", cmd_rmi, "Remove one or more images"},
    {"run", cmd_run, "Create and run a new container from an image"},
    {"runtime", cmd_runtime, "The OCI runtime (runc's command line)"},
    {"save", cmd_save, "Save one or more images to a tar archive"},
    {"search", cmd_search, "Search a registry for images"},
    {"serve", cmd_serve, "Serve the Docker Engine API"},
    {"start", cmd_start, "Start one or more stopped containers"},
    {"stats", cmd_stats, "Display a live stream of container resource usage statistics"},
    {"stop", cmd_stop, "Stop one or more running containers"},
    {"system", cmd_system, "Manage berth"},
    {"tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"top", cmd_top, "Display the running processes of a container"},
    {"unpause", cmd_unpause, "Unpause all processes within one or more containers"},
    {"update", cmd_update, "Update configuration of one or more containers"},
    {"version", cmd_version, "Show the berth version information"},
    {"volume", cmd_volume, "Manage volumes"},
    {"wait", cmd_wait, "Block until one or more containers stop, then print their exit codes"},
};

static int cmp_command(const void *key, const void *elem)
{
	return strcmp(key, ((const struct command *)elem)->name);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage:  berth [OPTIONS] COMMAND\n\n"
	    "A fast, small container engine that speaks Docker.\n\n"
	    "Options:\n"
	    "      --root string      Root directory of persistent state (default "
	    "\"/var/lib/berth\")\n"
	    "      --runroot string   Root directory of run-time state (default \"/run/berth\")\n"
	    "      --config string    berth's config file\n"
	    "  -D, --debug            Enable debug mode\n"
	    "  -v, --version          Print version information and quit\n\n"
	    "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].name[0] != '_')
			fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nRun 'berth COMMAND --help' for more information on a command.\n");
}

int main(int argc, char **argv)
{
	/* jansson seeds its hash function from /dev/urandom (open, read,
	 * close) at the first object; getrandom is one call */
	uint32_t seed = 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed) && seed)
		json_object_seed(seed);
	cli_ctx ctx = {0};
	ctx.argv0 = argv[0];
	ctx.root = getenv("BERTH_ROOT");
	ctx.runroot = getenv("BERTH_RUNROOT");
	if (ctx.root == NULL || !*ctx.root)
		ctx.root = "/var/lib/berth";
	if (ctx.runroot == NULL || !*ctx.runroot)
		ctx.runroot = "/run/berth";
	ctx.config = getenv("BERTH_CONFIG");

	enum { OPT_ROOT = 256, OPT_RUNROOT, OPT_CONFIG, OPT_LOGLEVEL };
	static const struct option opts[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"runroot", required_argument, NULL, OPT_RUNROOT},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"log-level", required_argument, NULL, OPT_LOGLEVEL},
	    {"debug", no_argument, NULL, 'D'},
	    {"version", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	/* "+": stop at the first non-option, the command name. */
	while ((c = getopt_long(argc, argv, "+Dvh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: ctx.root = optarg; break;
		case OPT_RUNROOT: ctx.runroot = optarg; break;
		case OPT_CONFIG: ctx.config = optarg; break;
		case OPT_LOGLEVEL:
			if (!strcmp(optarg, "debug"))
				log_set_level(LOG_LVL_DEBUG);
			else if (!strcmp(optarg, "info"))
				log_set_level(LOG_LVL_INFO);
			else if (!strcmp(optarg, "warn"))
				log_set_level(LOG_LVL_WARN);
			else if (!strcmp(optarg, "error") || !strcmp(optarg, "fatal"))
				log_set_level(LOG_LVL_ERROR);
			else
				return cli_failf(EXIT_BERTH_FAILED, "invalid log level: %s",
				                 optarg);
			break;
		case 'D':
			ctx.debug = true;
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'v': {
			char *args[] = {"version", NULL};
			optind = 0;
			return cmd_version(&ctx, 1, args);
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_BERTH_FAILED;
		}
	}
	/* helpers (the container's start process, monitors) read it too */
	if (ctx.config)
		setenv("BERTH_CONFIG", ctx.config, 1);
	if (optind >= argc) {
		usage(stdout);
		return 0;
	}
	const char *name = argv[optind];
	const struct command *cmd =
	    bsearch(name, commands, ARRAY_SIZE(commands), sizeof(commands[0]), cmp_command);
	if (cmd == NULL) {
		fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", name);
		return EXIT_BERTH_FAILED;
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0; /* reset getopt for the command; 0 also re-reads GNU extensions */
	return cmd->fn(&ctx, sub_argc, sub_argv);
}
