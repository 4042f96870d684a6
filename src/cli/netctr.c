/* berth port CONTAINER [PRIVATE_PORT[/PROTO]], and the network commands that
 * need a container (network connect / disconnect). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "container/container.h"
#include "network/network.h"

int cmd_port(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("Usage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\n"
			       "List port mappings or a specific mapping for the container\n");
			return 0;
		default: return cli_usage_error("port", "invalid option");
		}
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage_error("port", "requires at least 1 and at most 2 arguments");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_store_init(s, &err) < 0 ||
	    container_lookup(s, argv[optind], false, &r, &err) < 0)
		return cli_fail(err);
	_cleanup_json_ json_t *ns = container_network_settings(s, r->id);
	json_t *ports = json_object_get(ns, "Ports");
	_cleanup_free_ char *want = NULL;
	if (optind + 1 < argc)
		want = strchr(argv[optind + 1], '/') ? xstrdup(argv[optind + 1])
		                                     : xasprintf("%s/tcp", argv[optind + 1]);
	bool found = false;
	const char *key;
	json_t *arr;
	json_object_foreach (ports, key, arr) {
		if (want && strcmp(want, key) != 0)
			continue;
		size_t i;
		json_t *b;
		json_array_foreach (arr, i, b) {
			const char *hip = json_get_str(b, "HostIp");
			const char *hp = json_get_str(b, "HostPort");
			bool v6 = hip && strchr(hip, ':');
			if (want)
				printf(v6 ? "[%s]:%s\n" : "%s:%s\n", hip, hp);
			else
				printf(v6 ? "%s -> [%s]:%s\n" : "%s -> %s:%s\n", key, hip, hp);
			found = true;
		}
	}
	if (want && !found)
		return cli_failf(1, "No public port '%s' published for %s", want, argv[optind]);
	return 0;
}

/* --- berth network connect / disconnect: they need the container --- */

int cli_network_connect(cli_ctx *ctx, int argc, char **argv);
int cli_network_disconnect(cli_ctx *ctx, int argc, char **argv);

static int connect_common(cli_ctx *ctx, bool connect, int argc, char **argv)
{
	const char *cmd = connect ? "network connect" : "network disconnect";
	enum { O_ALIAS = 256, O_IP, O_IP6 };
	static const struct option opts[] = {
	    {"alias", required_argument, NULL, O_ALIAS},
	    {"ip", required_argument, NULL, O_IP},
	    {"ip6", required_argument, NULL, O_IP6},
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_strv_ char **aliases = NULL;
	const char *ip = NULL, *ip6 = NULL;
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case O_ALIAS: aliases = strv_append(aliases, optarg); break;
		case O_IP: ip = optarg; break;
		case O_IP6: ip6 = optarg; break;
		case 'f': force = true; break;
		case 'h':
			if (connect)
				printf(
				    "Usage:  berth network connect [OPTIONS] NETWORK CONTAINER\n\n"
				    "Connect a container to a network\n\nOptions:\n"
				    "      --alias strings   Extra DNS name of the container on "
				    "this network\n"
				    "      --ip string       IPv4 address (e.g. 172.30.100.104)\n"
				    "      --ip6 string      IPv6 address (e.g. 2001:db8::33)\n");
			else
				printf("Usage:  berth network disconnect [OPTIONS] NETWORK "
				       "CONTAINER\n\n"
				       "Disconnect a container from a network\n\nOptions:\n"
				       "  -f, --force   Disconnect even if the container is not "
				       "running\n");
			return 0;
		default: return cli_usage_error(cmd, "invalid option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(cmd, "requires exactly 2 arguments");
	const char *net = argv[optind], *ref = argv[optind + 1];
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_store_init(s, &err) < 0 || container_lookup(s, ref, true, &r, &err) < 0)
		return cli_fail(err);
	berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	net_ctx nc = {.store = s, .cfg = cfg, .argv0 = ctx->argv0};
	if (network_init(&nc, &err) < 0) {
		berth_config_free(cfg);
		return cli_fail(err);
	}
	int res;
	if (connect) {
		const char *mode =
		    json_get_str(json_object_get(r->config, "HostConfig"), "NetworkMode");
		if (mode && (!strcmp(mode, "host") || !strcmp(mode, "none") ||
		             str_has_prefix(mode, "container:"))) {
			berth_config_free(cfg);
			return cli_failf(EXIT_BERTH_FAILED,
			                 "container cannot be disconnected from host network or "
			                 "connected to host network");
		}
		_cleanup_close_ int nsfd = -1;
		_cleanup_free_ char *dir = container_dir(s, r->id);
		bool running = !strcmp(container_status(r), "running");
		if (running) {
			_cleanup_free_ char *p = xasprintf("/proc/%d/ns/net", (int)r->st.pid);
			nsfd = open(p, O_RDONLY | O_CLOEXEC);
			if (nsfd < 0) {
				berth_config_free(cfg);
				return cli_failf(EXIT_BERTH_FAILED, "opening %s: %s", p,
				                 strerror(errno));
			}
		}
		const char *hn = json_get_str(json_object_get(r->config, "Config"), "Hostname");
		net_connect_opts o = {.aliases = aliases,
		                      .ipv4 = ip,
		                      .ipv6 = ip6,
		                      .netns_fd = nsfd,
		                      .owner = r->st.pid,
		                      .etc_dir = running ? dir : NULL,
		                      .hostname = hn && *hn ? hn : NULL};
		res = network_connect(&nc, net, r->id, r->name, &o, &err);
	} else {
		res = network_disconnect(&nc, net, r->id, force, &err);
	}
	berth_config_free(cfg);
	if (res < 0) {
		fprintf(stderr, "Error response from daemon: %s\n", err->msg);
		return err->code == BERTH_E_NOTFOUND ? 1 : EXIT_BERTH_FAILED;
	}
	return 0;
}

int cli_network_connect(cli_ctx *ctx, int argc, char **argv)
{
	return connect_common(ctx, true, argc, argv);
}

int cli_network_disconnect(cli_ctx *ctx, int argc, char **argv)
{
	return connect_common(ctx, false, argc, argv);
}
