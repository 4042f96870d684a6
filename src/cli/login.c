/* berth login / logout / search */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/config.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "registry/client.h"
#include "registry/creds.h"
#include "registry/search.h"

static char *read_line(FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, in);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	return line;
}

static char *prompt(const char *what, bool echo)
{
	fprintf(stderr, "%s: ", what);
	fflush(stderr);
	struct termios old, t;
	bool tty = !echo && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		t = old;
		t.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	}
	char *s = read_line(stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return s;
}

int cmd_login(cli_ctx *ctx, int argc, char **argv)
{
	const char *user = NULL, *pass = NULL;
	bool pass_stdin = false;
	enum { OPT_PASS_STDIN = 256 };
	static const struct option opts[] = {
	    {"username", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"password-stdin", no_argument, NULL, OPT_PASS_STDIN},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "u:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 'p': pass = optarg; break;
		case OPT_PASS_STDIN: pass_stdin = true; break;
		case 'h':
			printf(
			    "Usage:  berth login [OPTIONS] [SERVER]\n\n"
			    "Log in to a registry.\n"
			    "If no server is specified, the default is defined by the daemon.\n\n"
			    "Options:\n"
			    "  -p, --password string   Password\n"
			    "      --password-stdin    Take the password from stdin\n"
			    "  -u, --username string   Username\n");
			return 0;
		default: return cli_usage_error("login", "invalid option");
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("login", "\"login\" requires at most 1 argument.");
	if (pass && pass_stdin)
		return cli_failf(EXIT_BERTH_FAILED, "--password and --password-stdin are mutually "
		                                    "exclusive");
	if (pass_stdin && !user)
		return cli_failf(EXIT_BERTH_FAILED,
		                 "Must provide --username with --password-stdin");
	_cleanup_free_ char *server = reg_normalize_registry(optind < argc ? argv[optind] : "");
	_cleanup_free_ char *user_buf = NULL, *pass_buf = NULL;
	if (pass)
		fprintf(
		    stderr,
		    "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
	if (pass_stdin) {
		pass_buf = read_line(stdin);
		if (!pass_buf)
			pass_buf = xstrdup("");
		pass = pass_buf;
	}
	if (!user) {
		user_buf = prompt("Username", true);
		if (!user_buf || !*user_buf)
			return cli_failf(1, "Error: Non-null Username Required");
		user = user_buf;
	}
	if (!pass) {
		pass_buf = prompt("Password", false);
		if (!pass_buf || !*pass_buf)
			return cli_failf(1, "Error: Non-null Password Required");
		pass = pass_buf;
	}
	_cleanup_error_ berth_error *err = NULL;
	berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	reg_client_opts o = {.config = cfg, .user = user, .pass = pass, .retries = -1};
	reg_client *cl = NULL;
	int rc = 0;
	if (reg_client_new(server, &o, &cl, &err) < 0 || reg_ping(cl, &err) < 0) {
		fprintf(stderr, "Error response from daemon: login to %s failed: %s\n", server,
		        err->msg);
		rc = 1;
	} else if (reg_creds_store(server, user, pass, &err) < 0) {
		rc = cli_fail(err);
	} else {
		_cleanup_free_ char *path = reg_auth_file_path();
		fprintf(stderr,
		        "WARNING! Your password will be stored unencrypted in %s.\n"
		        "Configure a credential helper to remove this warning. See\n"
		        "https://docs.docker.com/engine/reference/commandline/login/"
		        "#credentials-store\n\n",
		        path);
		printf("Login Succeeded\n");
	}
	reg_client_free(cl);
	berth_config_free(cfg);
	return rc;
}

int cmd_logout(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf(
			    "Usage:  berth logout [SERVER]\n\n"
			    "Log out from a registry.\n"
			    "If no server is specified, the default is defined by the daemon.\n");
			return 0;
		}
		return cli_usage_error("logout", "invalid option");
	}
	if (argc - optind > 1)
		return cli_usage_error("logout", "\"logout\" requires at most 1 argument.");
	_cleanup_free_ char *server = reg_normalize_registry(optind < argc ? argv[optind] : "");
	bool found = false;
	_cleanup_error_ berth_error *err = NULL;
	if (reg_creds_erase(server, &found, &err) < 0)
		return cli_fail(err);
	if (!found) {
		printf("Not logged in to %s\n", reg_auth_key(server));
		return 0;
	}
	printf("Removing login credentials for %s\n", reg_auth_key(server));
	return 0;
}

static void search_usage(FILE *out)
{
	fputs("Usage:  berth search [OPTIONS] TERM\n\n"
	      "Search Docker Hub for images\n\n"
	      "Options:\n"
	      "  -f, --filter filter   Filter output based on conditions provided\n"
	      "      --format string   Pretty-print search using a Go template\n"
	      "      --limit int       Max number of search results\n"
	      "      --no-trunc        Don't truncate output\n",
	      out);
}

/* Go's strings.TrimSpace over ASCII white space, in place. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* A flag error as Docker words it (exit 125). */
static int search_flag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int search_flag_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\nUsage:  berth search [OPTIONS] TERM\n\n"
	      "Run 'berth search --help' for more information\n",
	      stderr);
	return EXIT_BERTH_FAILED;
}

/* The filters in the order Docker's daemon checks them: unknown names
 * first, then is-automated, is-official, stars. */
static int search_filters(char **kv, reg_search_filter *f, berth_error **err)
{
	static const char *const order[] = {"is-automated", "is-official", "stars"};
	for (char **p = kv; p && *p; p++) {
		size_t k = strcspn(*p, "=");
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(order); i++)
			known |= strlen(order[i]) == k && !strncmp(*p, order[i], k);
		if (!known) {
			_cleanup_free_ char *key = xstrndup(*p, k);
			return berth_err(err, BERTH_E_INVALID, "Invalid filter '%s'", key);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		size_t k = strlen(order[i]);
		for (char **p = kv; p && *p; p++)
			if (!strncmp(*p, order[i], k) && (*p)[k] == '=' &&
			    reg_search_filter_add(f, order[i], *p + k + 1, err) < 0)
				return -1;
	}
	return 0;
}

int cmd_search(cli_ctx *ctx, int argc, char **argv)
{
	int limit = 0;
	bool no_trunc = false;
	const char *format = NULL;
	_cleanup_strv_ char **filters = NULL;
	enum { OPT_LIMIT = 256, OPT_NOTRUNC, OPT_FORMAT };
	static const struct option opts[] = {
	    {"filter", required_argument, NULL, 'f'},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, 'h'},
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"no-trunc", no_argument, NULL, OPT_NOTRUNC},
	    {NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LIMIT: {
			char *end = NULL;
			errno = 0;
			long v = strtol(optarg, &end, 0);
			if (!*optarg || *end || errno || v < INT_MIN || v > INT_MAX)
				return search_flag_error(
				    "invalid argument \"%s\" for \"--limit\" flag: "
				    "strconv.ParseInt: parsing \"%s\": %s",
				    optarg, optarg,
				    *optarg && !*end ? "value out of range" : "invalid syntax");
			limit = (int)v;
			break;
		}
		case OPT_NOTRUNC: no_trunc = true; break;
		case OPT_FORMAT: format = optarg; break;
		case 'f': {
			/* Docker's FilterOpt: NAME=VALUE, both trimmed, the name
			 * lower-cased */
			const char *eq = strchr(optarg, '=');
			if (!eq)
				return search_flag_error(
				    "invalid argument \"%s\" for \"-f, --filter\" "
				    "flag: bad format of filter (expected name=value)",
				    optarg);
			_cleanup_free_ char *k = xstrndup(optarg, (size_t)(eq - optarg));
			_cleanup_free_ char *v = xstrdup(eq + 1);
			char *kt = trim(k);
			for (char *p = kt; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			_cleanup_free_ char *kv = xasprintf("%s=%s", kt, trim(v));
			filters = strv_append(filters, kv);
			break;
		}
		case 'h': search_usage(stdout); return 0;
		case ':': return search_flag_error("flag needs an argument: %s", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				return search_flag_error("unknown shorthand flag: '%c' in -%c",
				                         optopt, optopt);
			return search_flag_error("unknown flag: %s", argv[optind - 1]);
		}
	}
	if (argc - optind != 1) {
		fputs("berth: 'berth search' requires 1 argument\n\n"
		      "Usage:  berth search [OPTIONS] TERM\n\n"
		      "Run 'berth search --help' for more information\n",
		      stderr);
		return 1;
	}
	_cleanup_free_ char *errmsg = NULL;
	_cleanup_format_ cli_format *f = cli_format_new(
	    format, "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}", &errmsg);
	if (f == NULL)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	cli_format_set_type(f, "*registry.searchContext");
	for (char **p = filters; p && *p; p++)
		if (str_has_prefix(*p, "is-automated=")) {
			fputs(
			    "WARNING: the \"is-automated\" filter is deprecated, and searching for "
			    "\"is-automated=true\" will not yield any results in future.\n",
			    stderr);
			break;
		}
	_cleanup_error_ berth_error *err = NULL;
	reg_search_filter flt = REG_SEARCH_FILTER_INIT;
	if (search_filters(filters, &flt, &err) < 0) {
		cli_fail(err);
		return 1;
	}
	berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	reg_search_result *res = NULL;
	size_t n = 0;
	int rc = registry_search(cfg, argv[optind], limit, &flt, &res, &n, &err);
	berth_config_free(cfg);
	if (rc < 0) {
		cli_fail(err);
		return 1;
	}
	for (size_t i = 0; i < n && !errmsg; i++) {
		_cleanup_free_ char *desc = xstrdup(res[i].description);
		for (char *p = desc; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		if (!no_trunc) {
			char *t = reg_ellipsis(desc, 45);
			free(desc);
			desc = t;
		}
		_cleanup_free_ char *stars = xasprintf("%lld", res[i].star_count);
		/* Docker's fields (no IsAutomated since v25); IsOfficial is
		 * "[OK]" or "" in tables, "true" or "false" in JSON, whose keys
		 * Go sorts */
		_cleanup_json_ json_t *row = json_pack(
		    "{s:s, s:s, s:s, s:s}", "Description", desc, "IsOfficial",
		    res[i].is_official ? "[OK]" : "", "Name", res[i].name, "StarCount", stars);
		_cleanup_json_ json_t *view = json_pack(
		    "{s:s, s:s, s:s, s:s}", "Description", desc, "IsOfficial",
		    res[i].is_official ? "true" : "false", "Name", res[i].name, "StarCount", stars);
		cli_format_row_view(f, stdout, row, view, &errmsg);
	}
	reg_search_results_free(res, n);
	if (errmsg)
		return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
	static const cli_column cols[] = {
	    {"Name", "NAME"},
	    {"Description", "DESCRIPTION"},
	    {"StarCount", "STARS"},
	    {"IsOfficial", "OFFICIAL"},
	};
	cli_format_flush(f, stdout, cols, ARRAY_SIZE(cols));
	return 0;
}
