/* berth version */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "cli/cli.h"
#include "cli/format.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0"
#endif

/* Docker's types.Version layout (Client and Server), so that templates
 * such as {{.Server.Version}} or {{json .}} work as with docker. */
static json_t *version_json(const struct utsname *u)
{
	const char *arch = !strcmp(u->machine, "x86_64")    ? "amd64"
	                   : !strcmp(u->machine, "aarch64") ? "arm64"
	                                                    : u->machine;
	json_t *engine = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "Name", "Engine",
	                           "Version", BERTH_VERSION, "Details", "ApiVersion", "1.41",
	                           "MinAPIVersion", "1.12", "Os", "linux", "Arch", arch);
	return json_pack("{s:{s:{s:s}, s:s, s:s, s:s, s:s, s:s, s:s}, "
	                 "s:{s:{s:s}, s:[o], s:s, s:s, s:s, s:s, s:s, s:s}}",
	                 "Client", "Platform", "Name", "berth", "Version", BERTH_VERSION,
	                 "ApiVersion", "1.41", "DefaultAPIVersion", "1.41", "Os", "linux", "Arch",
	                 arch, "Context", "default", "Server", "Platform", "Name",
	                 "berth (daemonless)", "Components", engine, "Version", BERTH_VERSION,
	                 "ApiVersion", "1.41", "MinAPIVersion", "1.12", "Os", "linux", "Arch", arch,
	                 "KernelVersion", u->release);
}

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	const char *format = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--format") || !strcmp(argv[i], "-f")) && i + 1 < argc)
			format = argv[++i];
		else if (!strncmp(argv[i], "--format=", 9))
			format = argv[i] + 9;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("Usage:  berth version [OPTIONS]\n\n"
			       "Show the berth version information\n\n"
			       "Options:\n"
			       "  -f, --format string   Format output using a custom template:\n"
			       "                        'json':             Print in JSON format\n"
			       "                        'TEMPLATE':         Print output using the "
			       "given Go template.\n");
			return 0;
		} else
			return cli_usage_error("version", "unknown flag: %s", argv[i]);
	}
	struct utsname u;
	uname(&u);
	_cleanup_json_ json_t *v = version_json(&u);
	if (format && *format) {
		_cleanup_free_ char *out = NULL;
		if (!strcmp(format, "json")) {
			out = json_dumps(v, JSON_COMPACT);
		} else {
			_cleanup_free_ char *errmsg = NULL;
			out = cli_template_render(format, v, &errmsg);
			if (out == NULL)
				return cli_failf(EXIT_BERTH_FAILED, "%s", errmsg);
		}
		printf("%s\n", out);
		return 0;
	}
	const char *arch = json_string_value(json_object_get(json_object_get(v, "Client"), "Arch"));
	printf("Client:\n"
	       " Version:           %s\n"
	       " API version:       1.41\n"
	       " OS/Arch:           linux/%s\n"
	       " Context:           default\n"
	       "\n"
	       "Server: berth (daemonless)\n"
	       " Engine:\n"
	       "  Version:          %s\n"
	       "  API version:      1.41 (minimum version 1.12)\n"
	       "  OS/Arch:          linux/%s\n"
	       "  Kernel Version:   %s\n",
	       BERTH_VERSION, arch, BERTH_VERSION, arch, u.release);
	return 0;
}
