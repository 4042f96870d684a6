/* berth version */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli/cli.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "0.1.0"
#endif

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	const char *format = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--format") || !strcmp(argv[i], "-f")) && i + 1 < argc)
			format = argv[++i];
		else if (!strncmp(argv[i], "--format=", 9))
			format = argv[i] + 9;
		else if (!strcmp(argv[i], "--help")) {
			printf("Usage:  berth version [OPTIONS]\n\nShow the berth version "
			       "information\n");
			return 0;
		} else
			return cli_usage_error("version", "unknown flag: %s", argv[i]);
	}
	struct utsname u;
	uname(&u);
	if (format && !strcmp(format, "json")) {
		printf("{\"Client\":{\"Version\":\"%s\",\"ApiVersion\":\"1.41\",\"Os\":\"linux\","
		       "\"Arch\":\"amd64\"},"
		       "\"Server\":{\"Version\":\"%s\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":"
		       "\"1.12\","
		       "\"Os\":\"linux\",\"Arch\":\"amd64\",\"KernelVersion\":\"%s\"}}\n",
		       BERTH_VERSION, BERTH_VERSION, u.release);
		return 0;
	}
	if (format &&
	    (!strcmp(format, "{{.Client.Version}}") || !strcmp(format, "{{.Server.Version}}"))) {
		printf("%s\n", BERTH_VERSION);
		return 0;
	}
	printf("Client:\n"
	       " Version:           %s\n"
	       " API version:       1.41\n"
	       " OS/Arch:           linux/amd64\n"
	       "\n"
	       "Server: berth (daemonless)\n"
	       " Engine:\n"
	       "  Version:          %s\n"
	       "  API version:      1.41 (minimum version 1.12)\n"
	       "  OS/Arch:          linux/amd64\n"
	       "  Kernel Version:   %s\n",
	       BERTH_VERSION, BERTH_VERSION, u.release);
	return 0;
}
