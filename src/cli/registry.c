/* berth registry serve | gc: berth's own registry server. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "cli/cli.h"
#include "registry/regstore.h"
#include "registry/server.h"

#define REGISTRY_DEFAULT_ROOT "/var/lib/berth-registry"

static void registry_usage(FILE *out)
{
	fprintf(out, "Usage:  berth registry COMMAND\n\n"
	             "Run berth's own registry server (OCI distribution spec v1.1)\n\n"
	             "Commands:\n"
	             "  serve       Serve a registry\n"
	             "  gc          Remove blobs no manifest references\n\n"
	             "Run 'berth registry COMMAND --help' for more information on a command.\n");
}

static int registry_serve(cli_ctx *ctx, int argc, char **argv)
{
	registry_server_opts o = {.addr = "127.0.0.1:5000", .root = REGISTRY_DEFAULT_ROOT};
	enum { OPT_ADDR = 256, OPT_ROOT, OPT_CERT, OPT_KEY, OPT_HTPASSWD, OPT_RO, OPT_THREADS };
	static const struct option opts[] = {
	    {"addr", required_argument, NULL, OPT_ADDR},
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"tls-cert", required_argument, NULL, OPT_CERT},
	    {"tls-key", required_argument, NULL, OPT_KEY},
	    {"htpasswd", required_argument, NULL, OPT_HTPASSWD},
	    {"read-only", no_argument, NULL, OPT_RO},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ADDR: o.addr = optarg; break;
		case OPT_ROOT: o.root = optarg; break;
		case OPT_CERT: o.tls_cert = optarg; break;
		case OPT_KEY: o.tls_key = optarg; break;
		case OPT_HTPASSWD: o.htpasswd = optarg; break;
		case OPT_RO: o.read_only = true; break;
		case OPT_THREADS: {
			char *end = NULL;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 1024)
				return cli_usage_error("registry serve", "invalid --threads %s",
				                       optarg);
			o.threads = (unsigned)v;
			break;
		}
		case 'h':
			printf(
			    "Usage:  berth registry serve [OPTIONS]\n\n"
			    "Serve a registry (OCI distribution spec v1.1)\n\n"
			    "Options:\n"
			    "      --addr string       Address to listen on, port 0 picks a free "
			    "one (default \"127.0.0.1:5000\")\n"
			    "      --root string       Storage directory (default \"%s\")\n"
			    "      --tls-cert string   TLS certificate (PEM)\n"
			    "      --tls-key string    TLS private key (PEM)\n"
			    "      --htpasswd string   Require basic auth from an htpasswd file\n"
			    "      --read-only         Refuse pushes and deletes\n"
			    "      --threads int       Worker threads (default: 2 per CPU)\n",
			    REGISTRY_DEFAULT_ROOT);
			return 0;
		default: return cli_usage_error("registry serve", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("registry serve", "unexpected argument %s", argv[optind]);
	(void)ctx;

	/* Block the stop signals in every thread (the server's inherit this
	 * mask) and wait for them here. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	registry_server *srv = NULL;
	berth_error *err = NULL;
	if (registry_server_start(&o, &srv, &err) < 0) {
		int rc = cli_fail(err);
		berth_error_free(err);
		return rc;
	}
	printf("Listening on %s%s\n", registry_server_address(srv), o.tls_cert ? " (TLS)" : "");
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	registry_server_stop(srv);
	return 0;
}

static int registry_gc(cli_ctx *ctx, int argc, char **argv)
{
	const char *root = REGISTRY_DEFAULT_ROOT;
	bool dry_run = false;
	enum { OPT_ROOT = 256, OPT_DRY };
	static const struct option opts[] = {
	    {"root", required_argument, NULL, OPT_ROOT},
	    {"dry-run", no_argument, NULL, OPT_DRY},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: root = optarg; break;
		case OPT_DRY:
		case 'n': dry_run = true; break;
		case 'h':
			printf("Usage:  berth registry gc [OPTIONS]\n\n"
			       "Remove blobs that no manifest of any repository references.\n"
			       "Run it while the registry is stopped or read-only.\n\n"
			       "Options:\n"
			       "  -n, --dry-run       Only report what would be removed\n"
			       "      --root string   Storage directory (default \"%s\")\n",
			       REGISTRY_DEFAULT_ROOT);
			return 0;
		default: return cli_usage_error("registry gc", "invalid option");
		}
	}
	(void)ctx;
	regstore rs;
	regstore_gc_stats st;
	_cleanup_error_ berth_error *err = NULL;
	if (regstore_open(root, false, &rs, &err) < 0)
		return cli_fail(err);
	int r = regstore_gc(&rs, dry_run, &st, &err);
	regstore_close(&rs);
	if (r < 0)
		return cli_fail(err);
	_cleanup_free_ char *freed = human_size((double)st.bytes_removed);
	printf("%u blobs kept, %u blobs %s (%s), %u repository links %s\n", st.blobs_kept,
	       st.blobs_removed, dry_run ? "eligible for deletion" : "deleted", freed,
	       st.links_removed, dry_run ? "to remove" : "removed");
	return 0;
}

int cmd_registry(cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		registry_usage(stdout);
		return argc < 2 ? EXIT_BERTH_FAILED : 0;
	}
	optind = 0;
	if (!strcmp(argv[1], "serve"))
		return registry_serve(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "gc") || !strcmp(argv[1], "garbage-collect"))
		return registry_gc(ctx, argc - 1, argv + 1);
	return cli_usage_error("registry", "unknown command %s", argv[1]);
}
