/* `berth`: a small launcher. `berth runtime ...` (the OCI runtime, started
 * once per container by containerd, CRI-O or berth itself) runs right here,
 * linked against libc, jansson and libseccomp only, so that its start-up
 * time and memory stay below crun's. Every other command is the full CLI,
 * berth-engine, installed next to this binary: we execve it with the same
 * arguments. */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"

#define ENGINE_NAME "berth-engine"

/* Global options that take a value (as main.c's). */
static int takes_value(const char *opt)
{
	static const char *const with_value[] = {"--config", "--log-level", "--root", "--runroot"};
	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (!strcmp(opt, with_value[i]))
			return 1;
	return 0;
}

#define CTR_NAME "berth-ctr"

/* Commands served by berth-ctr, the container front end that links only
 * what containers need (sorted, for bsearch). */
static const char *const ctr_commands[] = {
    "attach", "container", "cp",    "create", "diff",    "exec",   "export",  "images", "inspect",
    "kill",   "logs",      "pause", "port",   "ps",      "rename", "restart", "rm",     "run",
    "start",  "stats",     "stop",  "top",    "unpause", "update", "volume",  "wait",
};

/* `image` subcommands berth-ctr serves (read-only, sorted). */
static const char *const ctr_image_commands[] = {"inspect", "list", "ls"};

static int cmp_name(const void *k, const void *e)
{
	return strcmp(k, *(const char *const *)e);
}

static int exec_engine(char **argv, const char *cmd, const char *sub)
{
	bool ctr = cmd && bsearch(cmd, ctr_commands, sizeof(ctr_commands) / sizeof(ctr_commands[0]),
	                          sizeof(ctr_commands[0]), cmp_name) != NULL;
	if (cmd && !strcmp(cmd, "image"))
		ctr = sub && bsearch(sub, ctr_image_commands,
		                     sizeof(ctr_image_commands) / sizeof(ctr_image_commands[0]),
		                     sizeof(ctr_image_commands[0]), cmp_name) != NULL;
	const char *name = ctr ? CTR_NAME : ENGINE_NAME;
	const char *env = ctr ? getenv("BERTH_CTR") : getenv("BERTH_ENGINE");
	char path[PATH_MAX];
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		ssize_t n =
		    readlink("/proc/self/exe", path, sizeof(path) - sizeof(ENGINE_NAME) - 1);
		if (n < 0) {
			fprintf(stderr, "Error: cannot find berth's own path: %s\n",
			        strerror(errno));
			return EXIT_BERTH_FAILED;
		}
		path[n] = 0;
		char *slash = strrchr(path, '/');
		snprintf(slash + 1, sizeof(path) - (size_t)(slash + 1 - path), "%s", name);
	}
	execv(path, argv);
	fprintf(stderr, "Error: running %s: %s\n", path, strerror(errno));
	return EXIT_BERTH_FAILED;
}

int main(int argc, char **argv)
{
	int i = 1;
	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
		if (takes_value(argv[i]))
			i++;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "runtime") != 0)
		return exec_engine(argv, i < argc ? argv[i] : NULL,
		                   i + 1 < argc ? argv[i + 1] : NULL);

	cli_ctx ctx = {0};
	ctx.argv0 = argv[0];
	ctx.root = getenv("BERTH_ROOT");
	ctx.runroot = getenv("BERTH_RUNROOT");
	if (ctx.root == NULL || !*ctx.root)
		ctx.root = "/var/lib/berth";
	if (ctx.runroot == NULL || !*ctx.runroot)
		ctx.runroot = "/run/berth";
	for (int k = 1; k < i; k++) {
		const char *o = argv[k];
		const char *v = k + 1 < i ? argv[k + 1] : NULL;
		if (!strcmp(o, "--root") && v)
			ctx.root = v;
		else if (!strcmp(o, "--runroot") && v)
			ctx.runroot = v;
		else if (!strcmp(o, "--config") && v)
			ctx.config = v;
		else if (!strcmp(o, "-D") || !strcmp(o, "--debug")) {
			ctx.debug = true;
			log_set_level(LOG_LVL_DEBUG);
		} else if (!strncmp(o, "--root=", 7))
			ctx.root = o + 7;
		else if (!strncmp(o, "--runroot=", 10))
			ctx.runroot = o + 10;
		if (takes_value(o))
			k++;
	}
	optind = 0;
	return cmd_runtime(&ctx, argc - i, argv + i);
}
