/* berth run / create / start: Docker's flags -> a ContainerCreate body ->
 * container_create / container_start, and the attached session. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "cli/clistore.h"
#include "container/container.h"
#include "image/ref.h"
#include "network/network.h"
#include "runtime/runtime.h"

enum {
	O_NAME = 256,
	O_RM,
	O_ENTRYPOINT,
	O_ENV_FILE,
	O_LABEL_FILE,
	O_MEM_SWAP,
	O_MEM_RES,
	O_CPUS,
	O_CPUSET,
	O_CPU_PERIOD,
	O_CPU_QUOTA,
	O_PIDS,
	O_ULIMIT,
	O_CAP_ADD,
	O_CAP_DROP,
	O_PRIVILEGED,
	O_SECOPT,
	O_READ_ONLY,
	O_TMPFS,
	O_SHM,
	O_DEVICE,
	O_RESTART,
	O_INIT,
	O_STOP_SIGNAL,
	O_STOP_TIMEOUT,
	O_HCMD,
	O_HINTERVAL,
	O_HTIMEOUT,
	O_HRETRIES,
	O_HSTART,
	O_NOHC,
	O_LOG_DRIVER,
	O_LOG_OPT,
	O_SIG_PROXY,
	O_DETACH_KEYS,
	O_USERNS,
	O_PULL,
	O_PLATFORM,
	O_MOUNT,
	O_VOLUMES_FROM,
	O_NETWORK,
	O_EXPOSE,
	O_DNS,
	O_DNS_SEARCH,
	O_DNS_OPT,
	O_ADD_HOST,
	O_IP,
	O_ALIAS,
	O_IP6,
	O_MAC,
	O_CIDFILE,
	O_OOM_ADJ,
	O_IPC,
	O_PID,
	O_UTS,
	O_GROUP_ADD,
	O_DOMAIN,
	O_HELP,
	O_PUBLISH_ALL,
	O_CPU_SHARES,
	O_MEMORY,
	O_HINTERVAL_START,
	O_NO_STDIN,
};

static const struct option run_opts[] = {
    {"add-host", required_argument, NULL, O_ADD_HOST},
    {"attach", required_argument, NULL, 'a'},
    {"cap-add", required_argument, NULL, O_CAP_ADD},
    {"cap-drop", required_argument, NULL, O_CAP_DROP},
    {"cidfile", required_argument, NULL, O_CIDFILE},
    {"cpu-period", required_argument, NULL, O_CPU_PERIOD},
    {"cpu-quota", required_argument, NULL, O_CPU_QUOTA},
    {"cpu-shares", required_argument, NULL, 'c'},
    {"cpus", required_argument, NULL, O_CPUS},
    {"cpuset-cpus", required_argument, NULL, O_CPUSET},
    {"detach", no_argument, NULL, 'd'},
    {"detach-keys", required_argument, NULL, O_DETACH_KEYS},
    {"device", required_argument, NULL, O_DEVICE},
    {"dns", required_argument, NULL, O_DNS},
    {"dns-opt", required_argument, NULL, O_DNS_OPT},
    {"dns-option", required_argument, NULL, O_DNS_OPT},
    {"dns-search", required_argument, NULL, O_DNS_SEARCH},
    {"domainname", required_argument, NULL, O_DOMAIN},
    {"entrypoint", required_argument, NULL, O_ENTRYPOINT},
    {"env", required_argument, NULL, 'e'},
    {"env-file", required_argument, NULL, O_ENV_FILE},
    {"expose", required_argument, NULL, O_EXPOSE},
    {"group-add", required_argument, NULL, O_GROUP_ADD},
    {"health-cmd", required_argument, NULL, O_HCMD},
    {"health-interval", required_argument, NULL, O_HINTERVAL},
    {"health-retries", required_argument, NULL, O_HRETRIES},
    {"health-start-interval", required_argument, NULL, O_HINTERVAL_START},
    {"health-start-period", required_argument, NULL, O_HSTART},
    {"health-timeout", required_argument, NULL, O_HTIMEOUT},
    {"help", no_argument, NULL, O_HELP},
    {"hostname", required_argument, NULL, 'h'},
    {"init", no_argument, NULL, O_INIT},
    {"interactive", no_argument, NULL, 'i'},
    {"ip", required_argument, NULL, O_IP},
    {"ip6", required_argument, NULL, O_IP6},
    {"ipc", required_argument, NULL, O_IPC},
    {"label", required_argument, NULL, 'l'},
    {"label-file", required_argument, NULL, O_LABEL_FILE},
    {"log-driver", required_argument, NULL, O_LOG_DRIVER},
    {"log-opt", required_argument, NULL, O_LOG_OPT},
    {"mac-address", required_argument, NULL, O_MAC},
    {"memory", required_argument, NULL, 'm'},
    {"memory-reservation", required_argument, NULL, O_MEM_RES},
    {"memory-swap", required_argument, NULL, O_MEM_SWAP},
    {"mount", required_argument, NULL, O_MOUNT},
    {"name", required_argument, NULL, O_NAME},
    {"net", required_argument, NULL, O_NETWORK},
    {"network", required_argument, NULL, O_NETWORK},
    {"network-alias", required_argument, NULL, O_ALIAS},
    {"no-healthcheck", no_argument, NULL, O_NOHC},
    {"oom-score-adj", required_argument, NULL, O_OOM_ADJ},
    {"pid", required_argument, NULL, O_PID},
    {"pids-limit", required_argument, NULL, O_PIDS},
    {"platform", required_argument, NULL, O_PLATFORM},
    {"privileged", no_argument, NULL, O_PRIVILEGED},
    {"publish", required_argument, NULL, 'p'},
    {"publish-all", no_argument, NULL, 'P'},
    {"pull", required_argument, NULL, O_PULL},
    {"quiet", no_argument, NULL, 'q'},
    {"read-only", no_argument, NULL, O_READ_ONLY},
    {"restart", required_argument, NULL, O_RESTART},
    {"rm", no_argument, NULL, O_RM},
    {"security-opt", required_argument, NULL, O_SECOPT},
    {"shm-size", required_argument, NULL, O_SHM},
    {"sig-proxy", optional_argument, NULL, O_SIG_PROXY},
    {"stop-signal", required_argument, NULL, O_STOP_SIGNAL},
    {"stop-timeout", required_argument, NULL, O_STOP_TIMEOUT},
    {"tmpfs", required_argument, NULL, O_TMPFS},
    {"tty", no_argument, NULL, 't'},
    {"ulimit", required_argument, NULL, O_ULIMIT},
    {"user", required_argument, NULL, 'u'},
    {"userns", required_argument, NULL, O_USERNS},
    {"uts", required_argument, NULL, O_UTS},
    {"volume", required_argument, NULL, 'v'},
    {"volumes-from", required_argument, NULL, O_VOLUMES_FROM},
    {"workdir", required_argument, NULL, 'w'},
    {NULL, 0, NULL, 0},
};

typedef struct run_flags {
	json_t *body;
	json_t *host;
	bool detach, interactive, tty, rm, sig_proxy, quiet;
	char **attach; /* -a streams */
	const char *name, *detach_keys, *pull, *platform, *cidfile;
	net_ctr_config net;
} run_flags;

static json_t *hc(run_flags *f)
{
	json_t *h = json_object_get(f->body, "Healthcheck");
	if (!json_is_object(h)) {
		h = json_object();
		json_object_set_new(f->body, "Healthcheck", h);
	}
	return h;
}

static void arr_add(json_t *obj, const char *key, const char *val)
{
	json_t *a = json_object_get(obj, key);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(obj, key, a);
	}
	json_array_append_new(a, json_string(val));
}

/* KEY=VALUE (or KEY alone: from our environment, dropped when unset). */
static void add_env(json_t *body, const char *kv)
{
	if (strchr(kv, '=')) {
		arr_add(body, "Env", kv);
		return;
	}
	const char *v = getenv(kv);
	if (v) {
		_cleanup_free_ char *e = xasprintf("%s=%s", kv, v);
		arr_add(body, "Env", e);
	}
}

static int read_lines_file(const char *path, char ***out, berth_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (read_file(path, &data, &len, err) < 0)
		return berth_err_prefix(err, "open %s", path);
	_cleanup_strv_ char **lines = str_split(data, '\n');
	for (size_t i = 0; lines && lines[i]; i++) {
		char *l = lines[i];
		while (*l == ' ' || *l == '\t')
			l++;
		size_t n = strlen(l);
		while (n && (l[n - 1] == '\r' || l[n - 1] == ' '))
			l[--n] = 0;
		if (!*l || *l == '#')
			continue;
		*out = strv_append(*out, l);
	}
	return 0;
}

static int parse_duration_ns(const char *flag, const char *v, int64_t *out, berth_error **err)
{
	if (parse_duration(v, out, err) < 0)
		return berth_err_prefix(err, "invalid argument \"%s\" for \"--%s\" flag", v, flag);
	return 0;
}

static int parse_bytes(const char *flag, const char *v, int64_t *out, berth_error **err)
{
	if (!strcmp(v, "-1")) {
		*out = -1;
		return 0;
	}
	if (parse_size(v, out, err) < 0) {
		berth_error_clear(err);
		return berth_err(err, BERTH_E_INVALID, "invalid argument \"%s\" for \"--%s\" flag",
		                 v, flag);
	}
	return 0;
}

static int parse_ulimit(const char *v, json_t *host, berth_error **err)
{
	const char *eq = strchr(v, '=');
	if (eq == NULL)
		return berth_err(err, BERTH_E_INVALID, "invalid ulimit argument: %s", v);
	_cleanup_free_ char *name = xstrndup(v, (size_t)(eq - v));
	char *end;
	long long soft = strtoll(eq + 1, &end, 10), hard = soft;
	if (*end == ':')
		hard = strtoll(end + 1, &end, 10);
	if (*end || end == eq + 1)
		return berth_err(err, BERTH_E_INVALID, "invalid ulimit argument: %s", v);
	if (soft > hard)
		return berth_err(
		    err, BERTH_E_INVALID,
		    "ulimit soft limit must be less than or equal to hard limit: %lld > "
		    "%lld",
		    soft, hard);
	json_t *a = json_object_get(host, "Ulimits");
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(host, "Ulimits", a);
	}
	json_array_append_new(a, json_pack("{s:s,s:I,s:I}", "Name", name, "Soft", (json_int_t)soft,
	                                   "Hard", (json_int_t)hard));
	return 0;
}

/* --mount ... -> HostConfig.Mounts */
static int parse_mount_flag(const char *v, json_t *host, berth_error **err)
{
	json_t *m = NULL;
	if (ctr_mount_flag_parse(v, &m, err) < 0)
		return -1;
	json_t *a = json_object_get(host, "Mounts");
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(host, "Mounts", a);
	}
	json_array_append_new(a, m);
	return 0;
}

static int parse_device(const char *v, json_t *host, berth_error **err)
{
	_cleanup_strv_ char **p = str_split(v, ':');
	size_t n = strv_len(p);
	if (n == 0 || n > 3)
		return berth_err(err, BERTH_E_INVALID, "invalid device specification: %s", v);
	const char *perms = "rwm", *in = p[0];
	if (n >= 2) {
		if (p[1][0] == '/')
			in = p[1];
		else
			perms = p[1];
	}
	if (n == 3)
		perms = p[2];
	json_t *a = json_object_get(host, "Devices");
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(host, "Devices", a);
	}
	json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "PathOnHost", p[0], "PathInContainer",
	                                   in, "CgroupPermissions", perms));
	return 0;
}

static int parse_restart(const char *v, json_t *host, berth_error **err)
{
	_cleanup_free_ char *name = xstrdup(v);
	char *colon = strchr(name, ':');
	long max = 0;
	if (colon) {
		*colon++ = 0;
		char *end;
		max = strtol(colon, &end, 10);
		if (*end || strcmp(name, "on-failure"))
			return berth_err(err, BERTH_E_INVALID, "invalid restart policy format: %s",
			                 v);
	}
	if (strcmp(name, "no") && strcmp(name, "always") && strcmp(name, "on-failure") &&
	    strcmp(name, "unless-stopped"))
		return berth_err(err, BERTH_E_INVALID, "invalid restart policy format: %s", v);
	json_object_set_new(host, "RestartPolicy",
	                    json_pack("{s:s,s:i}", "Name", name, "MaximumRetryCount", (int)max));
	return 0;
}

static void usage_run(const char *cmd)
{
	bool run = !strcmp(cmd, "run");
	printf("Usage:  berth %s [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n%s\n\nOptions:\n", cmd,
	       run ? "Create and run a new container from an image" : "Create a new container");
	static const struct {
		bool run_only;
		const char *line;
	} lines[] = {
	    {false, "      --add-host list                    Add a line to /etc/hosts (host:ip, "
	            "or host:host-gateway)"},
	    {false, "  -a, --attach list                      Attach to the given streams: stdin, "
	            "stdout, stderr"},
	    {false,
	     "      --cap-add list                     Give the container a Linux capability"},
	    {false, "      --cap-drop list                    Take a Linux capability away from "
	            "the container"},
	    {false,
	     "      --cidfile string                   Write the container's ID to this file"},
	    {false, "      --cpu-period int                   CFS period of the container's CPU "
	            "quota (microseconds)"},
	    {false, "      --cpu-quota int                    CFS quota per period (microseconds)"},
	    {false, "  -c, --cpu-shares int                   Relative CPU weight"},
	    {false,
	     "      --cpus decimal                     Number of CPUs the container may use"},
	    {false,
	     "      --cpuset-cpus string               CPUs the container may run on (0-3, 0,1)"},
	    {true, "  -d, --detach                           Run in the background and print the "
	           "container ID"},
	    {true, "      --detach-keys string               Key sequence that detaches from the "
	           "container"},
	    {false, "      --device list                      Make a host device available in the "
	            "container"},
	    {false, "      --dns list                         Name server for /etc/resolv.conf"},
	    {false, "      --dns-option list                  Option line for /etc/resolv.conf"},
	    {false, "      --dns-search list                  Search domain for /etc/resolv.conf"},
	    {false, "      --domainname string                NIS domain name of the container"},
	    {false, "      --entrypoint string                Replace the image's ENTRYPOINT"},
	    {false, "  -e, --env list                         Set an environment variable "
	            "(NAME=value, or NAME to copy it)"},
	    {false,
	     "      --env-file list                    Read environment variables from a file"},
	    {false, "      --expose list                      Expose a port or a range of ports"},
	    {false, "      --group-add list                   Add a supplementary group"},
	    {false,
	     "      --health-cmd string                Command that checks the container's health"},
	    {false,
	     "      --health-interval duration         Time between health checks (ms|s|m|h)"},
	    {false, "      --health-retries int               Failures in a row before the "
	            "container is unhealthy"},
	    {false, "      --health-start-interval duration   Time between checks during the start "
	            "period"},
	    {false, "      --health-start-period duration     Grace period before failures count "
	            "(ms|s|m|h)"},
	    {false,
	     "      --health-timeout duration          Longest time one check may run (ms|s|m|h)"},
	    {false, "      --help                             Print usage"},
	    {false, "  -h, --hostname string                  Host name of the container"},
	    {false, "      --init                             Run berth's init as PID 1 (reaps "
	            "zombies, forwards signals)"},
	    {false,
	     "  -i, --interactive                      Keep STDIN open even when not attached"},
	    {false, "      --ip string                        IPv4 address on the network (e.g. "
	            "172.30.100.104)"},
	    {false, "      --ip6 string                       IPv6 address on the network (e.g. "
	            "2001:db8::33)"},
	    {false, "      --ipc string                       IPC namespace: private, host, "
	            "container:NAME"},
	    {false, "  -l, --label list                       Set a label (key=value)"},
	    {false, "      --label-file list                  Read labels from a file"},
	    {false, "      --log-driver string                Logging driver (json-file, none)"},
	    {false, "      --log-opt list                     Logging driver option (max-size=, "
	            "max-file=, labels=, env=)"},
	    {false,
	     "      --mac-address string               MAC address of the container's interface"},
	    {false, "  -m, --memory bytes                     Memory limit"},
	    {false, "      --memory-reservation bytes         Soft memory limit"},
	    {false, "      --memory-swap bytes                Memory plus swap limit; -1 for "
	            "unlimited swap"},
	    {false, "      --mount mount                      Attach a filesystem mount "
	            "(type=bind|volume|tmpfs,...)"},
	    {false, "      --name string                      Name of the container"},
	    {false, "      --network network                  Network: bridge, host, none, "
	            "container:NAME or a network name"},
	    {false, "      --network-alias list               Extra DNS name on the network"},
	    {false, "      --no-healthcheck                   Turn off the image's HEALTHCHECK"},
	    {false,
	     "      --oom-score-adj int                OOM score adjustment (-1000 to 1000)"},
	    {false, "      --pid string                       PID namespace: private, host, "
	            "container:NAME"},
	    {false, "      --pids-limit int                   Limit on the number of processes (-1 "
	            "for none)"},
	    {false,
	     "      --platform string                  Platform of the image (os/arch[/variant])"},
	    {false, "      --privileged                       Give the container every capability "
	            "and device"},
	    {false, "  -p, --publish list                     Publish a container port on the host "
	            "([ip:]host:ctr[/proto])"},
	    {false, "  -P, --publish-all                      Publish every exposed port on a "
	            "random host port"},
	    {false, "      --pull string                      When to pull the image: missing, "
	            "never, always"},
	    {false, "  -q, --quiet                            Print no pull progress"},
	    {false, "      --read-only                        Mount the root filesystem read-only"},
	    {false, "      --restart string                   Restart policy: no, always, "
	            "on-failure[:N], unless-stopped"},
	    {false, "      --rm                               Remove the container and its "
	            "anonymous volumes when it exits"},
	    {false, "      --security-opt list                Security option (no-new-privileges, "
	            "seccomp=FILE|unconfined)"},
	    {false, "      --shm-size bytes                   Size of /dev/shm"},
	    {true, "      --sig-proxy                        Forward received signals to the "
	           "container (default true)"},
	    {false, "      --stop-signal string               Signal that stops the container"},
	    {false,
	     "      --stop-timeout int                 Seconds to wait for a stop before SIGKILL"},
	    {false,
	     "      --tmpfs list                       Mount a tmpfs directory (path[:options])"},
	    {false, "  -t, --tty                              Allocate a pseudo-terminal"},
	    {false,
	     "      --ulimit ulimit                    Set a resource limit (name=soft[:hard])"},
	    {false,
	     "  -u, --user string                      User and group: name|uid[:group|gid]"},
	    {false, "      --userns string                    User namespace mode (host)"},
	    {false, "      --uts string                       UTS namespace: private, host"},
	    {false,
	     "  -v, --volume list                      Mount a volume or host path (src:dst[:ro])"},
	    {false,
	     "      --volumes-from list                Mount the volumes of another container"},
	    {false,
	     "  -w, --workdir string                   Working directory inside the container"},
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (run || !lines[i].run_only)
			puts(lines[i].line);
}

/* Parse run/create flags; *first_arg is the index of IMAGE. */
static int parse_run_flags(const char *cmd, int argc, char **argv, run_flags *f, int *first_arg,
                           berth_error **err)
{
	f->body = json_object();
	f->host = json_object();
	json_object_set_new(f->body, "HostConfig", f->host);
	f->sig_proxy = true;
	net_ctr_config_init(&f->net);
	json_t *body = f->body, *host = f->host;
	json_t *labels = json_object();
	json_object_set_new(body, "Labels", labels);
	int c;
	int64_t n;
	bool create = !strcmp(cmd, "create");
	while ((c = getopt_long(argc, argv, "+a:c:de:h:il:m:p:Pqtu:v:w:", run_opts, NULL)) != -1) {
		/* run's own flags: create has none of them (as docker create) */
		if (create && (c == 'd' || c == O_DETACH_KEYS || c == O_SIG_PROXY)) {
			/* a group of short flags ("-di") is argv[optind] until its
			 * last one is read */
			const char *arg = argv[optind - 1];
			if (c == 'd' && optind < argc && argv[optind][0] == '-' &&
			    argv[optind][1] != '-' && strchr(argv[optind], 'd'))
				arg = argv[optind];
			if (c == 'd' && !str_has_prefix(arg, "--"))
				return berth_err(err, BERTH_E_INVALID,
				                 "unknown shorthand flag: 'd' in %s (see 'berth %s "
				                 "--help')",
				                 arg, cmd);
			return berth_err(err, BERTH_E_INVALID,
			                 "unknown flag: --%s (see 'berth %s --help')",
			                 c == 'd'             ? "detach"
			                 : c == O_DETACH_KEYS ? "detach-keys"
			                                      : "sig-proxy",
			                 cmd);
		}
		switch (c) {
		case 'a': f->attach = strv_append(f->attach, optarg); break;
		case 'c':
			json_object_set_new(host, "CpuShares", json_integer(atoll(optarg)));
			break;
		case 'd': f->detach = true; break;
		case 'e': add_env(body, optarg); break;
		case 'h': json_object_set_new(body, "Hostname", json_string(optarg)); break;
		case 'i': f->interactive = true; break;
		case 'l': {
			const char *eq = strchr(optarg, '=');
			_cleanup_free_ char *k =
			    eq ? xstrndup(optarg, (size_t)(eq - optarg)) : xstrdup(optarg);
			json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
			break;
		}
		case 'm':
			if (parse_bytes("memory", optarg, &n, err) < 0)
				return -1;
			if (n > 0 && n < 6 * 1024 * 1024)
				return berth_err(err, BERTH_E_INVALID,
				                 "Minimum memory limit allowed is 6MB");
			json_object_set_new(host, "Memory", json_integer(n));
			break;
		case 'p':
		case 'P':
			if (net_ctr_config_flag(&f->net, c == 'p' ? "publish" : "publish-all",
			                        c == 'p' ? optarg : "", err) < 0)
				return -1;
			break;
		case 'q': f->quiet = true; break;
		case 't': f->tty = true; break;
		case 'u': json_object_set_new(body, "User", json_string(optarg)); break;
		case 'v': {
			/* -v /ctr is an anonymous volume: Config.Volumes, as Docker's CLI does */
			_cleanup_strv_ char **parts = str_split(optarg, ':');
			if (strv_len(parts) == 1) {
				json_t *vols = json_object_get(body, "Volumes");
				if (!vols) {
					vols = json_object();
					json_object_set_new(body, "Volumes", vols);
				}
				json_object_set_new(vols, optarg, json_object());
			} else if (parts[0][0] == '.' || parts[0][0] == '~') {
				char cwd[4096];
				if (getcwd(cwd, sizeof(cwd)) == NULL)
					return berth_err_sys(err, errno, "getcwd");
				const char *rest = optarg + strlen(parts[0]);
				_cleanup_free_ char *abs =
				    parts[0][0] == '~' ? xasprintf("%s%s%s", getenv("HOME") ?: "/",
				                                   parts[0] + 1, rest)
				                       : xasprintf("%s/%s%s", cwd, parts[0], rest);
				arr_add(host, "Binds", abs);
			} else {
				arr_add(host, "Binds", optarg);
			}
			break;
		}
		case 'w': json_object_set_new(body, "WorkingDir", json_string(optarg)); break;
		case O_NAME: f->name = optarg; break;
		case O_RM: f->rm = true; break;
		case O_ENTRYPOINT:
			json_object_set_new(body, "Entrypoint", json_pack("[s]", optarg));
			break;
		case O_ENV_FILE: {
			_cleanup_strv_ char **lines = NULL;
			if (read_lines_file(optarg, &lines, err) < 0)
				return -1;
			for (size_t i = 0; lines && lines[i]; i++)
				add_env(body, lines[i]);
			break;
		}
		case O_LABEL_FILE: {
			_cleanup_strv_ char **lines = NULL;
			if (read_lines_file(optarg, &lines, err) < 0)
				return -1;
			for (size_t i = 0; lines && lines[i]; i++) {
				const char *eq = strchr(lines[i], '=');
				_cleanup_free_ char *k =
				    eq ? xstrndup(lines[i], (size_t)(eq - lines[i]))
				       : xstrdup(lines[i]);
				json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
			}
			break;
		}
		case O_MEM_SWAP:
			if (parse_bytes("memory-swap", optarg, &n, err) < 0)
				return -1;
			json_object_set_new(host, "MemorySwap", json_integer(n));
			break;
		case O_MEM_RES:
			if (parse_bytes("memory-reservation", optarg, &n, err) < 0)
				return -1;
			json_object_set_new(host, "MemoryReservation", json_integer(n));
			break;
		case O_CPUS: {
			char *end;
			double d = strtod(optarg, &end);
			if (*end || d < 0)
				return berth_err(err, BERTH_E_INVALID,
				                 "invalid argument \"%s\" for \"--cpus\" flag",
				                 optarg);
			json_object_set_new(host, "NanoCpus", json_integer((json_int_t)(d * 1e9)));
			break;
		}
		case O_CPUSET: json_object_set_new(host, "CpusetCpus", json_string(optarg)); break;
		case O_CPU_PERIOD:
			json_object_set_new(host, "CpuPeriod", json_integer(atoll(optarg)));
			break;
		case O_CPU_QUOTA:
			json_object_set_new(host, "CpuQuota", json_integer(atoll(optarg)));
			break;
		case O_PIDS:
			json_object_set_new(host, "PidsLimit", json_integer(atoll(optarg)));
			break;
		case O_ULIMIT:
			if (parse_ulimit(optarg, host, err) < 0)
				return -1;
			break;
		case O_CAP_ADD: arr_add(host, "CapAdd", optarg); break;
		case O_CAP_DROP: arr_add(host, "CapDrop", optarg); break;
		case O_PRIVILEGED: json_object_set_new(host, "Privileged", json_true()); break;
		case O_SECOPT:
			if (str_has_prefix(optarg, "seccomp=") &&
			    strcmp(optarg + 8, "unconfined")) {
				/* inline the profile, as Docker's CLI does */
				_cleanup_free_ char *data = NULL;
				size_t len;
				if (read_file(optarg + 8, &data, &len, err) < 0)
					return berth_err_prefix(
					    err, "opening seccomp profile (%s) failed", optarg + 8);
				_cleanup_free_ char *o = xasprintf("seccomp=%s", data);
				arr_add(host, "SecurityOpt", o);
			} else {
				arr_add(host, "SecurityOpt", optarg);
			}
			break;
		case O_READ_ONLY: json_object_set_new(host, "ReadonlyRootfs", json_true()); break;
		case O_TMPFS: {
			json_t *t = json_object_get(host, "Tmpfs");
			if (!t) {
				t = json_object();
				json_object_set_new(host, "Tmpfs", t);
			}
			const char *colon = strchr(optarg, ':');
			_cleanup_free_ char *d =
			    colon ? xstrndup(optarg, (size_t)(colon - optarg)) : xstrdup(optarg);
			json_object_set_new(t, d, json_string(colon ? colon + 1 : ""));
			break;
		}
		case O_SHM:
			if (parse_bytes("shm-size", optarg, &n, err) < 0)
				return -1;
			json_object_set_new(host, "ShmSize", json_integer(n));
			break;
		case O_DEVICE:
			if (parse_device(optarg, host, err) < 0)
				return -1;
			break;
		case O_RESTART:
			if (parse_restart(optarg, host, err) < 0)
				return -1;
			break;
		case O_INIT: json_object_set_new(host, "Init", json_true()); break;
		case O_STOP_SIGNAL:
			if (rt_parse_signal(optarg) <= 0)
				return berth_err(err, BERTH_E_INVALID, "invalid signal: %s",
				                 optarg);
			json_object_set_new(body, "StopSignal", json_string(optarg));
			break;
		case O_STOP_TIMEOUT:
			json_object_set_new(body, "StopTimeout", json_integer(atoi(optarg)));
			break;
		case O_HCMD:
			json_object_set_new(hc(f), "Test", json_pack("[s,s]", "CMD-SHELL", optarg));
			break;
		case O_HINTERVAL:
		case O_HTIMEOUT:
		case O_HSTART:
		case O_HINTERVAL_START: {
			const char *key = c == O_HINTERVAL  ? "Interval"
			                  : c == O_HTIMEOUT ? "Timeout"
			                  : c == O_HSTART   ? "StartPeriod"
			                                    : "StartInterval";
			if (parse_duration_ns(key, optarg, &n, err) < 0)
				return -1;
			json_object_set_new(hc(f), key, json_integer(n));
			break;
		}
		case O_HRETRIES:
			json_object_set_new(hc(f), "Retries", json_integer(atoi(optarg)));
			break;
		case O_NOHC: json_object_set_new(hc(f), "Test", json_pack("[s]", "NONE")); break;
		case O_LOG_DRIVER: {
			json_t *lc = json_object_get(host, "LogConfig");
			if (!lc) {
				lc = json_pack("{s:s,s:{}}", "Type", "json-file", "Config");
				json_object_set_new(host, "LogConfig", lc);
			}
			if (strcmp(optarg, "json-file") && strcmp(optarg, "none") &&
			    strcmp(optarg, "local"))
				return berth_err(
				    err, BERTH_E_INVALID,
				    "failed to create task for container: logger: no log "
				    "driver named '%s' is registered",
				    optarg);
			json_object_set_new(
			    lc, "Type",
			    json_string(!strcmp(optarg, "local") ? "json-file" : optarg));
			break;
		}
		case O_LOG_OPT: {
			json_t *lc = json_object_get(host, "LogConfig");
			if (!lc) {
				lc = json_pack("{s:s,s:{}}", "Type", "json-file", "Config");
				json_object_set_new(host, "LogConfig", lc);
			}
			const char *eq = strchr(optarg, '=');
			if (eq == NULL)
				return berth_err(
				    err, BERTH_E_INVALID,
				    "invalid key/value pair format in logging opts: %s", optarg);
			_cleanup_free_ char *k = xstrndup(optarg, (size_t)(eq - optarg));
			if (strcmp(k, "max-size") && strcmp(k, "max-file") &&
			    strcmp(k, "compress") && strcmp(k, "labels") && strcmp(k, "env") &&
			    strcmp(k, "labels-regex") && strcmp(k, "env-regex") &&
			    strcmp(k, "tag") && strcmp(k, "mode") && strcmp(k, "max-buffer-size"))
				return berth_err(err, BERTH_E_INVALID,
				                 "unknown log opt '%s' for json-file log driver",
				                 k);
			if (!strcmp(k, "max-size")) {
				int64_t sz;
				if (parse_size(eq + 1, &sz, NULL) < 0)
					return berth_err(err, BERTH_E_INVALID,
					                 "invalid max-size: %s", eq + 1);
			}
			if (!strcmp(k, "max-file") && atoi(eq + 1) < 1)
				return berth_err(err, BERTH_E_INVALID,
				                 "max-file cannot be less than 1");
			json_object_set_new(json_object_get(lc, "Config"), k, json_string(eq + 1));
			break;
		}
		case O_SIG_PROXY:
			f->sig_proxy =
			    optarg == NULL || !strcmp(optarg, "true") || !strcmp(optarg, "1");
			break;
		case O_DETACH_KEYS: f->detach_keys = optarg; break;
		case O_USERNS:
			/* Docker's UsernsMode.Valid(): "" or "host"; remapping is
			 * berth.json's userns-remap */
			if (strcmp(optarg, "host") && *optarg)
				return berth_err(err, BERTH_E_INVALID,
				                 "--userns: invalid USER mode");
			json_object_set_new(host, "UsernsMode", json_string(optarg));
			break;
		case O_PULL:
			if (strcmp(optarg, "never") && strcmp(optarg, "missing") &&
			    strcmp(optarg, "always"))
				return berth_err(
				    err, BERTH_E_INVALID,
				    "invalid pull option: '%s': must be one of \"always\", "
				    "\"missing\" or \"never\"",
				    optarg);
			f->pull = optarg;
			break;
		case O_PLATFORM: f->platform = optarg; break;
		case O_MOUNT:
			if (parse_mount_flag(optarg, host, err) < 0)
				return -1;
			break;
		case O_VOLUMES_FROM: arr_add(host, "VolumesFrom", optarg); break;
		case O_NETWORK:
			if (net_ctr_config_flag(&f->net, "network", optarg, err) < 0)
				return -1;
			break;
		case O_EXPOSE:
		case O_DNS:
		case O_DNS_SEARCH:
		case O_DNS_OPT:
		case O_ADD_HOST:
		case O_IP:
		case O_IP6:
		case O_MAC:
		case O_ALIAS: {
			const char *flag = c == O_EXPOSE       ? "expose"
			                   : c == O_DNS        ? "dns"
			                   : c == O_DNS_SEARCH ? "dns-search"
			                   : c == O_DNS_OPT    ? "dns-option"
			                   : c == O_ADD_HOST   ? "add-host"
			                   : c == O_IP         ? "ip"
			                   : c == O_IP6        ? "ip6"
			                   : c == O_MAC        ? "mac-address"
			                                       : "network-alias";
			if (net_ctr_config_flag(&f->net, flag, optarg, err) < 0)
				return -1;
			break;
		}
		case O_CIDFILE: f->cidfile = optarg; break;
		case O_OOM_ADJ:
			json_object_set_new(host, "OomScoreAdj", json_integer(atoi(optarg)));
			break;
		case O_IPC: json_object_set_new(host, "IpcMode", json_string(optarg)); break;
		case O_PID: json_object_set_new(host, "PidMode", json_string(optarg)); break;
		case O_UTS: json_object_set_new(host, "UTSMode", json_string(optarg)); break;
		case O_GROUP_ADD: arr_add(host, "GroupAdd", optarg); break;
		case O_DOMAIN: json_object_set_new(body, "Domainname", json_string(optarg)); break;
		case O_HELP: usage_run(cmd); return 1;
		default:
			return berth_err(err, BERTH_E_INVALID,
			                 "unknown flag (see 'berth %s --help')", cmd);
		}
	}
	if (optind >= argc)
		return berth_err(err, BERTH_E_INVALID,
		                 "\"%s\" requires at least 1 argument.\nSee 'berth %s --help'.",
		                 cmd, cmd);
	*first_arg = optind;
	json_object_set_new(body, "Image", json_string(argv[optind]));
	if (optind + 1 < argc) {
		json_t *cmdv = json_array();
		for (int i = optind + 1; i < argc; i++)
			json_array_append_new(cmdv, json_string(argv[i]));
		json_object_set_new(body, "Cmd", cmdv);
	}
	json_object_set_new(body, "Tty", json_boolean(f->tty));
	json_object_set_new(body, "OpenStdin", json_boolean(f->interactive));
	bool attach_in = f->interactive && !f->detach;
	json_object_set_new(body, "StdinOnce", json_boolean(attach_in));
	json_object_set_new(body, "AttachStdin", json_boolean(attach_in));
	json_object_set_new(body, "AttachStdout", json_boolean(!f->detach));
	json_object_set_new(body, "AttachStderr", json_boolean(!f->detach));
	if (f->rm)
		json_object_set_new(host, "AutoRemove", json_true());
	if (net_ctr_config_apply_docker(&f->net, body) < 0)
		return berth_err(err, BERTH_E_INVALID, "invalid network options");
	if (f->detach && f->rm && json_object_get(host, "RestartPolicy") &&
	    strcmp(json_get_str(json_object_get(host, "RestartPolicy"), "Name"), "no"))
		return berth_err(err, BERTH_E_INVALID, "Conflicting options: --restart and --rm");
	return 0;
}

static void set_raw(int fd, struct termios *saved, bool *changed)
{
	*changed = false;
	if (!isatty(fd) || tcgetattr(fd, saved) < 0)
		return;
	struct termios t = *saved;
	cfmakeraw(&t);
	t.c_oflag |= OPOST;
	if (tcsetattr(fd, TCSANOW, &t) == 0)
		*changed = true;
}

/* The attached part of run / start -a: relay, then clean up. */
static int attached_session(berth_store *s, ctr_record *r, int sock, bool in, bool tty,
                            const char *detach_keys, bool sig_proxy, bool rm)
{
	struct termios saved;
	bool raw = false;
	if (tty && in)
		set_raw(0, &saved, &raw);
	ctr_relay_opts ro = {.in_fd = in ? 0 : -1,
	                     .out_fd = 1,
	                     .err_fd = 2,
	                     .tty = tty,
	                     .detach_keys = detach_keys,
	                     .sig_proxy = sig_proxy};
	int code = 0;
	bool detached = false;
	_cleanup_error_ berth_error *err = NULL;
	int rc = container_relay(sock, &ro, &code, &detached, &err);
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	if (detached) {
		close(sock);
		return 0;
	}
	if (rc < 0) {
		close(sock);
		return cli_fail(err);
	}
	_cleanup_error_ berth_error *cerr = NULL;
	container_load_state(s, r);
	if (container_cleanup_attached(s, r, rm, sock, &cerr) < 0)
		fprintf(stderr, "Error: %s\n", cerr->msg);
	close(sock);
	return code;
}

/* run/create/start: 126/127 when the command cannot run, else 125. */
static int run_fail(berth_error *err)
{
	fprintf(stderr, "Error: %s\n", err ? err->msg : "failed");
	if (err && err->code == BERTH_E_CMD_NOT_FOUND)
		return EXIT_NOT_FOUND;
	if (err && err->code == BERTH_E_CANNOT_INVOKE)
		return EXIT_CANNOT_INVOKE;
	return EXIT_BERTH_FAILED;
}

/* docker run pulls a missing image: `berth pull IMAGE` (ourselves, in a
 * child), its output on our stderr as Docker's. */
static int pull_image(cli_ctx *ctx, const char *image, const char *platform)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(2, 1);
		char *args[16];
		int a = 0;
		args[a++] = exe;
		args[a++] = "--root";
		args[a++] = (char *)ctx->root;
		args[a++] = "--runroot";
		args[a++] = (char *)ctx->runroot;
		if (ctx->config) {
			args[a++] = "--config";
			args[a++] = (char *)ctx->config;
		}
		args[a++] = "pull";
		if (platform) {
			args[a++] = "--platform";
			args[a++] = (char *)platform;
		}
		args[a++] = (char *)image;
		args[a] = NULL;
		execv(exe, args);
		_exit(127);
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void write_cidfile(const char *path, const char *id)
{
	if (path == NULL)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write_all(fd, id, strlen(id)) < 0)
			(void)0;
		close(fd);
	}
}

static int create_common(cli_ctx *ctx, const char *cmd, int argc, char **argv, bool run)
{
	run_flags f = {0};
	_cleanup_error_ berth_error *err = NULL;
	int first = 0;
	int pr = parse_run_flags(cmd, argc, argv, &f, &first, &err);
	_cleanup_json_ json_t *body = f.body;
	_cleanup_strv_ char **attach = f.attach;
	net_ctr_config_clear(&f.net);
	if (pr > 0)
		return 0;
	if (pr < 0) {
		fprintf(stderr, "berth: %s\n", err->msg);
		return EXIT_BERTH_FAILED;
	}
	if (f.cidfile && access(f.cidfile, F_OK) == 0)
		return cli_failf(EXIT_BERTH_FAILED,
		                 "Container ID file found, make sure the other "
		                 "container isn't running or delete %s",
		                 f.cidfile);
	if (!run)
		f.detach = true;
	/* the start process is forked now, while we are small, and makes the
	 * runtime's costly parts meanwhile (container_fork_early; a thread of
	 * ours, container_prep, if it cannot be forked) */
	char new_id[CTR_ID_LEN + 1];
	_cleanup_(container_early_freep) ctr_early *early =
	    run ? container_fork_early(ctx->root, ctx->runroot, body, new_id) : NULL;
	_cleanup_(rt_prep_freep) rt_prep *prep =
	    run && !early ? container_prep(body, new_id) : NULL;
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	ctr_env env = {0};
	/* run: how it is started, decided before the record (the start may
	 * begin before the record is committed: container_start_begin) */
	bool want_out = true, want_err = true, want_in = f.interactive;
	if (attach) {
		want_out = strv_contains(attach, "stdout") || strv_contains(attach, "STDOUT");
		want_err = strv_contains(attach, "stderr") || strv_contains(attach, "STDERR");
		want_in = f.interactive &&
		          (strv_contains(attach, "stdin") || strv_contains(attach, "STDIN"));
	}
	/* prep owns the work made ahead until a start takes it over
	 * (container_create's begun one clears so.prep) */
	ctr_start_opts so = {.db_state_set = true, .prep = prep, .early = early};
	if (!f.detach) {
		so.attach = true;
		so.attach_stdin = want_in;
		so.attach_stdout = want_out;
		so.attach_stderr = want_err;
		so.cleanup_by_client = true;
	}
	ctr_start_pending *pending = NULL;
	ctr_create_opts co = {.name = f.name,
	                      .pull = f.pull,
	                      .platform = f.platform,
	                      .start = run,
	                      .id = run ? new_id : NULL,
	                      .start_early = run ? &so : NULL,
	                      .pending = &pending};
	_cleanup_free_ char *id = NULL;
	_cleanup_strv_ char **warnings = NULL;
	int cr = container_create(s, &env, body, &co, &id, &warnings, &err);
	if (cr < 0 && err->code == BERTH_E_NOTFOUND && str_has_prefix(err->msg, "No such image") &&
	    !str_eq(f.pull, "never")) {
		const char *image = json_get_str(body, "Image");
		_cleanup_ref_ image_ref *ref = NULL;
		_cleanup_error_ berth_error *rerr = NULL;
		_cleanup_free_ char *shown = ref_parse_normalized(image, &ref, &rerr) == 0
		                                 ? ref_familiar(ref)
		                                 : xstrdup(image);
		fprintf(stderr, "Unable to find image '%s' locally\n", shown);
		/* the pull printed its own one-line error */
		if (pull_image(ctx, image, f.platform) != 0)
			return EXIT_BERTH_FAILED;
		berth_error_clear(&err);
		cr = container_create(s, &env, body, &co, &id, &warnings, &err);
	}
	if (so.prep == NULL)
		prep = NULL; /* taken (and, if cr < 0, undone) */
	if (cr < 0)
		return run_fail(err);
	for (size_t i = 0; warnings && warnings[i]; i++)
		fprintf(stderr, "WARNING: %s\n", warnings[i]);
	write_cidfile(f.cidfile, id);
	if (!run) {
		printf("%s\n", id);
		return 0;
	}
	_cleanup_ctr_record_ ctr_record *r = NULL;
	if (container_lookup(s, id, true, &r, &err) < 0) {
		if (pending) {
			ctr_record gone = {0};
			snprintf(gone.id, sizeof(gone.id), "%s", id);
			if (container_start_finish(s, &gone, &so, steal_ptr(pending), false, NULL,
			                           NULL) < 0)
				(void)0;
		}
		return run_fail(err);
	}
	int sock = -1;
	prep = NULL; /* the start takes it over */
	int sr = pending ? container_start_finish(s, r, &so, steal_ptr(pending), true,
	                                          f.detach ? NULL : &sock, &err)
	                 : container_start(s, &env, r, &so, f.detach ? NULL : &sock, &err);
	if (sr < 0) {
		/* --rm: a container that never started is removed too */
		if (f.rm)
			container_remove(s, r, true, true, NULL);
		else
			container_set_exit_error(s, r, err);
		return run_fail(err);
	}
	if (f.detach) {
		printf("%s\n", id);
		return 0;
	}
	return attached_session(s, r, sock, want_in, f.tty, f.detach_keys, f.sig_proxy, f.rm);
}

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
	return create_common(ctx, "run", argc, argv, true);
}

int cmd_create(cli_ctx *ctx, int argc, char **argv)
{
	return create_common(ctx, "create", argc, argv, false);
}

int cmd_start(cli_ctx *ctx, int argc, char **argv)
{
	enum { OPT_HELP = 256, OPT_DK };
	static const struct option opts[] = {
	    {"attach", no_argument, NULL, 'a'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"detach-keys", required_argument, NULL, OPT_DK},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	bool attach = false, interactive = false;
	const char *dk = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "+ai", opts, NULL)) != -1) {
		switch (c) {
		case 'a': attach = true; break;
		case 'i': interactive = true; break;
		case OPT_DK: dk = optarg; break;
		case OPT_HELP:
			printf(
			    "Usage:  berth start [OPTIONS] CONTAINER [CONTAINER...]\n\n"
			    "Start one or more stopped containers\n\nOptions:\n"
			    "  -a, --attach               Attach STDOUT/STDERR and forward "
			    "signals\n"
			    "      --detach-keys string   Override the key sequence for detaching\n"
			    "  -i, --interactive          Attach container's STDIN\n");
			return 0;
		default: return cli_usage_error("start", "unknown flag");
		}
	}
	if (optind >= argc)
		return cli_usage_error("start", "\"start\" requires at least 1 argument.");
	if ((attach || interactive) && argc - optind > 1)
		return cli_failf(EXIT_BERTH_FAILED,
		                 "you cannot start and attach multiple containers at once");
	int rc = 0;
	_cleanup_store_ berth_store *s = cli_store_open(ctx, &rc);
	if (s == NULL)
		return rc;
	ctr_env env = {0};
	for (int i = optind; i < argc; i++) {
		_cleanup_error_ berth_error *err = NULL;
		_cleanup_ctr_record_ ctr_record *r = NULL;
		if (container_lookup(s, argv[i], true, &r, &err) < 0) {
			cli_fail(err);
			rc = 1;
			continue;
		}
		const char *st = container_status(r);
		bool running =
		    !strcmp(st, "running") || !strcmp(st, "paused") || !strcmp(st, "restarting");
		if (attach || interactive) {
			json_t *cfg = json_object_get(r->config, "Config");
			bool tty = json_get_bool(cfg, "Tty", false);
			bool in = interactive && json_get_bool(cfg, "OpenStdin", false);
			bool rm = json_get_bool(json_object_get(r->config, "HostConfig"),
			                        "AutoRemove", false);
			int sock = -1;
			if (running) {
				_cleanup_free_ char *req =
				    xasprintf("attach stdout,stderr%s", in ? ",stdin" : "");
				sock = container_monitor_connect(s, r->id, req, &err);
				if (sock < 0)
					return run_fail(err);
				return attached_session(s, r, sock, in, tty, dk, true, false);
			}
			ctr_start_opts so = {.attach = true,
			                     .attach_stdin = in,
			                     .attach_stdout = true,
			                     .attach_stderr = true,
			                     .cleanup_by_client = true};
			if (container_start(s, &env, r, &so, &sock, &err) < 0)
				return run_fail(err);
			return attached_session(s, r, sock, in, tty, dk, true, rm);
		}
		if (!running && container_start(s, &env, r, NULL, NULL, &err) < 0) {
			cli_fail(err);
			rc = 1; /* docker start: 1 whatever the cause */
			continue;
		}
		printf("%s\n", argv[i]);
	}
	return rc;
}
