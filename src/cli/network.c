/* berth network create|ls|inspect|rm|prune|connect|disconnect */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "network/dns.h"
#include "network/network.h"
#include "store/store.h"

/* Open the store and config for a network command; prints on failure. */
typedef struct net_cli {
	berth_store *store;
	berth_config *cfg;
	net_ctx nc;
} net_cli;

static void net_cli_close(net_cli *c)
{
	store_close(c->store);
	berth_config_free(c->cfg);
}

static int net_cli_open(cli_ctx *ctx, net_cli *c)
{
	memset(c, 0, sizeof(*c));
	_cleanup_error_ berth_error *err = NULL;
	if (berth_config_load(ctx->config, &c->cfg, &err) < 0)
		return cli_fail(err);
	if (store_open(ctx->root, ctx->runroot, &c->store, &err) < 0) {
		berth_config_free(c->cfg);
		return cli_fail(err);
	}
	c->nc.store = c->store;
	c->nc.cfg = c->cfg;
	c->nc.argv0 = ctx->argv0;
	if (network_init(&c->nc, &err) < 0) {
		net_cli_close(c);
		return cli_fail(err);
	}
	return 0;
}

static void usage(void)
{
	printf("Usage:  berth network COMMAND\n\n"
	       "Manage networks\n\n"
	       "Commands:\n"
	       "  connect     Connect a container to a network\n"
	       "  create      Create a network\n"
	       "  disconnect  Disconnect a container from a network\n"
	       "  inspect     Display detailed information on one or more networks\n"
	       "  ls          List networks\n"
	       "  prune       Remove all unused networks\n"
	       "  rm          Remove one or more networks\n\n"
	       "Run 'berth network COMMAND --help' for more information on a command.\n");
}

static int net_create(cli_ctx *ctx, int argc, char **argv)
{
	enum { O_SUBNET = 256, O_GATEWAY, O_RANGE, O_IPV6, O_INTERNAL, O_LABEL, O_ATTACH };
	static const struct option opts[] = {
	    {"driver", required_argument, NULL, 'd'},
	    {"subnet", required_argument, NULL, O_SUBNET},
	    {"gateway", required_argument, NULL, O_GATEWAY},
	    {"ip-range", required_argument, NULL, O_RANGE},
	    {"ipv6", no_argument, NULL, O_IPV6},
	    {"internal", no_argument, NULL, O_INTERNAL},
	    {"label", required_argument, NULL, O_LABEL},
	    {"opt", required_argument, NULL, 'o'},
	    {"attachable", no_argument, NULL, O_ATTACH},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	net_create_opts o = {0};
	_cleanup_strv_ char **labels = NULL, **options = NULL, **subnets = NULL, **gateways = NULL,
	                    **ranges = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': o.driver = optarg; break;
		case O_SUBNET: subnets = strv_append(subnets, optarg); break;
		case O_GATEWAY: gateways = strv_append(gateways, optarg); break;
		case O_RANGE: ranges = strv_append(ranges, optarg); break;
		case O_IPV6: o.ipv6 = true; break;
		case O_INTERNAL: o.internal = true; break;
		case O_LABEL: labels = strv_append(labels, optarg); break;
		case 'o': options = strv_append(options, optarg); break;
		case O_ATTACH: break;
		case 'h':
			printf(
			    "Usage:  berth network create [OPTIONS] NETWORK\n\nCreate a network\n\n"
			    "Options:\n"
			    "      --attachable        Accepted for compatibility (bridge networks "
			    "always are)\n"
			    "  -d, --driver string     Network driver (default \"bridge\")\n"
			    "      --gateway strings   Gateway of a subnet\n"
			    "      --internal          No outbound route from the network\n"
			    "      --ip-range strings  Allocate container addresses from this "
			    "range\n"
			    "      --ipv6              Give the network an IPv6 subnet too\n"
			    "      --label list        Set a label on the network\n"
			    "  -o, --opt map           Driver option "
			    "(com.docker.network.bridge.name=, "
			    "...mtu=)\n"
			    "      --subnet strings    Subnet in CIDR form\n");
			return 0;
		default: return cli_usage_error("network create", "invalid option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("network create", "requires exactly 1 argument");
	o.name = argv[optind];
	/* each --subnet pairs with the --gateway/--ip-range of its family */
	for (char **s = subnets; s && *s; s++) {
		bool v6 = strchr(*s, ':') != NULL;
		if (v6 ? o.subnet6 != NULL : o.subnet != NULL)
			return cli_failf(EXIT_BERTH_FAILED,
			                 "berth supports one subnet per address family");
		if (v6)
			o.subnet6 = *s;
		else
			o.subnet = *s;
	}
	for (char **g = gateways; g && *g; g++) {
		if (strchr(*g, ':'))
			o.gateway6 = *g;
		else
			o.gateway = *g;
	}
	for (char **r = ranges; r && *r; r++) {
		if (strchr(*r, ':'))
			o.ip_range6 = *r;
		else
			o.ip_range = *r;
	}
	o.labels = labels;
	o.options = options;
	net_cli nc;
	int rc = net_cli_open(ctx, &nc);
	if (rc)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_network_ network *n = NULL;
	if (network_create(&nc.nc, &o, &n, &err) < 0) {
		rc = cli_fail(err);
	} else {
		printf("%s\n", n->id);
	}
	net_cli_close(&nc);
	return rc;
}

static json_t *ls_row(const network *n)
{
	json_t *row = json_object();
	char *id = xasprintf("%.12s", n->id);
	json_object_set_new(row, "ID", json_string(id));
	free(id);
	json_object_set_new(row, "Name", json_string(n->name));
	json_object_set_new(row, "Driver", json_string(n->driver));
	json_object_set_new(row, "Scope", json_string("local"));
	json_object_set_new(row, "IPv6", json_string(n->ipv6 ? "true" : "false"));
	json_object_set_new(row, "Internal", json_string(n->internal ? "true" : "false"));
	strbuf sb;
	sb_init(&sb);
	const char *k;
	json_t *v;
	json_object_foreach (n->labels, k, v) {
		if (sb.len)
			sb_appendc(&sb, ',');
		sb_printf(&sb, "%s=%s", k, json_string_value(v));
	}
	char *labels = sb_steal(&sb);
	json_object_set_new(row, "Labels", json_string(labels));
	free(labels);
	json_object_set_new(row, "CreatedAt", json_string(n->created));
	return row;
}

static bool filter_match(const network *n, char **filters)
{
	for (char **f = filters; f && *f; f++) {
		const char *eq = strchr(*f, '=');
		if (eq == NULL)
			return false;
		_cleanup_free_ char *key = xstrndup(*f, (size_t)(eq - *f));
		const char *val = eq + 1;
		bool ok = true;
		if (!strcmp(key, "name"))
			ok = strstr(n->name, val) != NULL;
		else if (!strcmp(key, "id"))
			ok = str_has_prefix(n->id, val);
		else if (!strcmp(key, "driver"))
			ok = !strcmp(n->driver, val);
		else if (!strcmp(key, "type"))
			ok = !strcmp(val, n->is_default || n->predefined ? "builtin" : "custom");
		else if (!strcmp(key, "scope"))
			ok = !strcmp(val, "local");
		else if (!strcmp(key, "label")) {
			const char *leq = strchr(val, '=');
			_cleanup_free_ char *lk =
			    leq ? xstrndup(val, (size_t)(leq - val)) : xstrdup(val);
			const char *lv = json_get_str(n->labels, lk);
			ok = lv && (!leq || !strcmp(lv, leq + 1));
		} else
			return false;
		if (!ok)
			return false;
	}
	return true;
}

static int net_ls(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'}, {"quiet", no_argument, NULL, 'q'},
	    {"format", required_argument, NULL, 'F'}, {"no-trunc", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	bool quiet = false, notrunc = false;
	const char *format = NULL;
	_cleanup_strv_ char **filters = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strchr(optarg, '='))
				return cli_failf(EXIT_BERTH_FAILED,
				                 "bad format of filter (expected name=value)");
			filters = strv_append(filters, optarg);
			break;
		case 'q': quiet = true; break;
		case 'F': format = optarg; break;
		case 'n': notrunc = true; break;
		case 'h':
			printf("Usage:  berth network ls [OPTIONS]\n\nList networks\n\nAliases:\n"
			       "  berth network ls, berth network list\n\nOptions:\n"
			       "  -f, --filter filter   Show only matching networks (driver=, id=, "
			       "label=, "
			       "name=, scope=, type=)\n"
			       "      --format string   Format the output with a Go template\n"
			       "      --no-trunc        Print full network IDs\n"
			       "  -q, --quiet           Print network IDs only\n");
			return 0;
		default: return cli_usage_error("network ls", "invalid option");
		}
	}
	for (char **f = filters; f && *f; f++) {
		static const char *known[] = {"driver", "id", "label", "name", "scope", "type"};
		_cleanup_free_ char *key = xstrndup(*f, (size_t)(strchr(*f, '=') - *f));
		bool ok = false;
		for (size_t i = 0; i < ARRAY_SIZE(known); i++)
			ok |= !strcmp(known[i], key);
		if (!ok)
			return cli_failf(EXIT_BERTH_FAILED, "invalid filter '%s'", key);
	}
	net_cli nc;
	int rc = net_cli_open(ctx, &nc);
	if (rc)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	network **v = NULL;
	size_t n = 0;
	if (network_reclaim(&nc.nc, &err) < 0 || network_list(&nc.nc, &v, &n, &err) < 0) {
		net_cli_close(&nc);
		return cli_fail(err);
	}
	char *errmsg = NULL;
	_cleanup_format_ cli_format *f =
	    cli_format_new(quiet ? "{{.ID}}" : format,
	                   "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}", &errmsg);
	if (f == NULL) {
		network_list_free(v, n);
		net_cli_close(&nc);
		rc = cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
		free(errmsg);
		return rc;
	}
	cli_format_set_type(f, "*formatter.networkContext");
	for (size_t i = 0; i < n; i++) {
		if (!filter_match(v[i], filters))
			continue;
		_cleanup_json_ json_t *row = ls_row(v[i]);
		if (notrunc)
			json_object_set_new(row, "ID", json_string(v[i]->id));
		if (cli_format_row(f, stdout, row, &errmsg) < 0) {
			rc = cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
			free(errmsg);
			break;
		}
	}
	static const cli_column cols[] = {
	    {"ID", "NETWORK ID"}, {"Name", "NAME"},
	    {"Driver", "DRIVER"}, {"Scope", "SCOPE"},
	    {"IPv6", "IPV6"},     {"Internal", "INTERNAL"},
	    {"Labels", "LABELS"}, {"CreatedAt", "CREATED AT"},
	};
	cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	network_list_free(v, n);
	net_cli_close(&nc);
	return rc;
}

static int net_inspect(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *format = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "f:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'v': break;
		case 'h':
			printf("Usage:  berth network inspect [OPTIONS] NETWORK [NETWORK...]\n\n"
			       "Display detailed information on one or more networks\n\nOptions:\n"
			       "  -f, --format string   Format the output with a Go template\n"
			       "  -v, --verbose         Verbose output\n");
			return 0;
		default: return cli_usage_error("network inspect", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("network inspect", "requires at least 1 argument");
	net_cli nc;
	int rc = net_cli_open(ctx, &nc);
	if (rc)
		return rc;
	_cleanup_error_ berth_error *rerr = NULL;
	if (network_reclaim(&nc.nc, &rerr) < 0) {
		net_cli_close(&nc);
		return cli_fail(rerr);
	}
	_cleanup_json_ json_t *arr = json_array();
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_network_ network *n = NULL;
		json_t *j = NULL;
		if (network_get(&nc.nc, argv[i], &n, &err) < 0 ||
		    (j = network_inspect_json(&nc.nc, n, &err)) == NULL) {
			fprintf(stderr, "Error: %s\n", err->msg);
			rc = 1;
			continue;
		}
		json_array_append_new(arr, j);
	}
	if (format) {
		size_t i;
		json_t *j;
		json_array_foreach (arr, i, j) {
			char *errmsg = NULL;
			_cleanup_free_ char *out = !strcmp(format, "json")
			                               ? json_dump_compact(j)
			                               : cli_template_render(format, j, &errmsg);
			if (out == NULL) {
				rc = cli_failf(EXIT_BERTH_FAILED, "%s",
				               errmsg ? errmsg : "template");
				free(errmsg);
				break;
			}
			printf("%s\n", out);
		}
	} else {
		_cleanup_free_ char *s = json_dump_pretty(arr);
		printf("%s\n", s);
	}
	net_cli_close(&nc);
	return rc;
}

static int net_rm(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'h':
			printf(
			    "Usage:  berth network rm NETWORK [NETWORK...]\n\nRemove one or more "
			    "networks\n\nAliases:\n  berth network rm, berth network remove\n\n"
			    "Options:\n  -f, --force   Do not fail if the network does not "
			    "exist\n");
			return 0;
		default: return cli_usage_error("network rm", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("network rm", "requires at least 1 argument");
	net_cli nc;
	int rc = net_cli_open(ctx, &nc);
	if (rc)
		return rc;
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		if (network_remove(&nc.nc, argv[i], &err) < 0) {
			if (force && err->code == BERTH_E_NOTFOUND)
				continue;
			fprintf(stderr, "Error response from daemon: %s\n", err->msg);
			rc = 1;
			continue;
		}
		printf("%s\n", argv[i]);
	}
	net_cli_close(&nc);
	return rc;
}

static int net_prune(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"filter", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'F': break;
		case 'h':
			printf("Usage:  berth network prune [OPTIONS]\n\nRemove all unused "
			       "networks\n\n"
			       "Options:\n"
			       "      --filter filter   Only networks that match (until=, label=, "
			       "label!=)\n"
			       "  -f, --force           Do not ask for confirmation\n");
			return 0;
		default: return cli_usage_error("network prune", "invalid option");
		}
	}
	if (!force && !cli_confirm("WARNING! This will remove all custom networks not used by at "
	                           "least one container."))
		return 0;
	net_cli nc;
	int rc = net_cli_open(ctx, &nc);
	if (rc)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	_cleanup_strv_ char **removed = NULL;
	if (network_prune(&nc.nc, &removed, &err) < 0)
		rc = cli_fail(err);
	if (removed && removed[0]) {
		printf("Deleted Networks:\n");
		for (char **r = removed; *r; r++)
			printf("%s\n", *r);
	}
	net_cli_close(&nc);
	return rc;
}

static int net_dns_serve(cli_ctx *ctx, int argc, char **argv)
{
	if (argc != 2)
		return cli_usage_error("network dns-serve", "requires exactly 1 argument");
	net_cli nc;
	int rc = net_cli_open(ctx, &nc);
	if (rc)
		return rc;
	_cleanup_error_ berth_error *err = NULL;
	if (network_dns_serve(&nc.nc, argv[1], 3, &err) < 0)
		rc = cli_fail(err);
	net_cli_close(&nc);
	return rc;
}

/* connect/disconnect need the container module to find the container;
 * it provides these (weak here until it lands). */
__attribute__((weak)) int cli_network_connect(cli_ctx *ctx, int argc, char **argv);
__attribute__((weak)) int cli_network_disconnect(cli_ctx *ctx, int argc, char **argv);

int cmd_network(cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage();
		return 0;
	}
	const char *sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (!strcmp(sub, "create"))
		return net_create(ctx, argc, argv);
	if (!strcmp(sub, "ls") || !strcmp(sub, "list"))
		return net_ls(ctx, argc, argv);
	if (!strcmp(sub, "inspect"))
		return net_inspect(ctx, argc, argv);
	if (!strcmp(sub, "rm") || !strcmp(sub, "remove"))
		return net_rm(ctx, argc, argv);
	if (!strcmp(sub, "prune"))
		return net_prune(ctx, argc, argv);
	if (!strcmp(sub, "dns-serve"))
		return net_dns_serve(ctx, argc, argv);
	if (!strcmp(sub, "connect") || !strcmp(sub, "disconnect")) {
		int (*fn)(cli_ctx *, int, char **) =
		    !strcmp(sub, "connect") ? cli_network_connect : cli_network_disconnect;
		if (fn == NULL)
			return cli_failf(EXIT_BERTH_FAILED,
			                 "'berth network %s' needs containers, which are not built "
			                 "yet",
			                 sub);
		return fn(ctx, argc, argv);
	}
	fprintf(stderr, "berth network: unknown command \"%s\"\nSee 'berth network --help'.\n",
	        sub);
	return EXIT_BERTH_FAILED;
}
