/* berth login / logout / search */
#include <getopt.h>
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
#include "registry/client.h"
#include "registry/creds.h"

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

int cmd_search(cli_ctx *ctx, int argc, char **argv)
{
	int limit = 25;
	bool no_trunc = false;
	const char *format = NULL;
	enum { OPT_LIMIT = 256, OPT_NOTRUNC, OPT_FORMAT };
	static const struct option opts[] = {
	    {"limit", required_argument, NULL, OPT_LIMIT},
	    {"no-trunc", no_argument, NULL, OPT_NOTRUNC},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"filter", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LIMIT: limit = atoi(optarg); break;
		case OPT_NOTRUNC: no_trunc = true; break;
		case OPT_FORMAT: format = optarg; break;
		case 'f': break;
		case 'h':
			printf("Usage:  berth search [OPTIONS] TERM\n\n"
			       "Search a registry for images (TERM may be REGISTRY/TERM)\n\n"
			       "Options:\n"
			       "      --limit int   Max number of search results (default 25)\n"
			       "      --no-trunc    Don't truncate output\n");
			return 0;
		default: return cli_usage_error("search", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("search", "\"search\" requires exactly 1 argument.");
	if (limit < 1 || limit > 100)
		return cli_failf(EXIT_BERTH_FAILED, "Limit %d is outside the range of [1, 100]",
		                 limit);
	const char *term = argv[optind];
	_cleanup_free_ char *server = xstrdup("docker.io");
	const char *slash = strchr(term, '/');
	if (slash) {
		_cleanup_free_ char *first = xstrndup(term, (size_t)(slash - term));
		if (strchr(first, '.') || strchr(first, ':') || !strcmp(first, "localhost")) {
			free(server);
			server = steal_ptr(first);
			term = slash + 1;
		}
	}
	_cleanup_error_ berth_error *err = NULL;
	berth_config *cfg = NULL;
	if (berth_config_load(ctx->config, &cfg, &err) < 0)
		return cli_fail(err);
	reg_client_opts o = {.config = cfg, .retries = -1};
	reg_client *cl = NULL;
	_cleanup_free_ char *json = NULL;
	if (strcmp(server, "docker.io") == 0) {
		free(server);
		server = xstrdup("https://index.docker.io");
	}
	int rc = reg_client_new(server, &o, &cl, &err);
	if (rc == 0)
		rc = reg_search(cl, term, limit, &json, &err);
	reg_client_free(cl);
	berth_config_free(cfg);
	if (rc < 0)
		return cli_fail(err);
	_cleanup_json_ json_t *j = json_loads(json, 0, NULL);
	json_t *results = json_object_get(j, "results");
	if (!format)
		printf("%-46s %-45s %-5s %-9s\n", "NAME", "DESCRIPTION", "STARS", "OFFICIAL");
	size_t i;
	json_t *r;
	json_array_foreach (results, i, r) {
		const char *name = json_get_str(r, "name");
		const char *desc = json_get_str(r, "description");
		long long stars = json_get_int(r, "star_count", 0);
		bool official = json_get_bool(r, "is_official", false);
		_cleanup_free_ char *d = xstrdup(desc ? desc : "");
		for (char *p = d; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		if (!no_trunc && strlen(d) > 45) {
			d[44] = 0;
			char *t = xasprintf("%s…", d);
			free(d);
			d = t;
		}
		if (format && !strcmp(format, "{{.Name}}"))
			printf("%s\n", name ? name : "");
		else
			printf("%-46s %-45s %-5lld %-9s\n", name ? name : "", d, stars,
			       official ? "[OK]" : "");
	}
	return 0;
}
