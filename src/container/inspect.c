/* Docker's container inspect object. */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/internal.h"
#include "volume/volume.h"

static json_t *time_json(int64_t ns)
{
	if (ns <= 0)
		return json_string("0001-01-01T00:00:00Z");
	struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
	_cleanup_free_ char *t = time_rfc3339nano(&ts);
	return json_string(t);
}

static json_t *public_mounts(json_t *mounts)
{
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach (mounts, i, m) {
		json_t *c = json_object();
		const char *k;
		json_t *v;
		json_object_foreach (m, k, v) {
			if (!str_has_prefix(k, "x-") && strcmp(k, "TmpfsSize") &&
			    strcmp(k, "TmpfsMode"))
				json_object_set(c, k, v);
		}
		json_array_append_new(out, c);
	}
	return out;
}

json_t *container_inspect_json(berth_store *s, ctr_record *r, bool size)
{
	json_t *cfg = r->config;
	json_t *j = json_object();
	json_object_set_new(j, "Id", json_string(r->id));
	json_object_set_new(j, "Created", time_json(r->created_ns));
	json_object_set(j, "Path", json_object_get(cfg, "Path"));
	json_object_set(j, "Args", json_object_get(cfg, "Args"));
	const char *status = container_status(r);
	json_t *st = json_object();
	json_object_set_new(st, "Status", json_string(status));
	json_object_set_new(st, "Running",
	                    json_boolean(!strcmp(status, "running") || !strcmp(status, "paused")));
	json_object_set_new(st, "Paused", json_boolean(!strcmp(status, "paused")));
	json_object_set_new(st, "Restarting", json_boolean(!strcmp(status, "restarting")));
	json_object_set_new(st, "OOMKilled", json_boolean(r->st.oom_killed));
	json_object_set_new(st, "Dead", json_boolean(!strcmp(status, "dead")));
	bool live = !strcmp(status, "running") || !strcmp(status, "paused");
	json_object_set_new(st, "Pid", json_integer(live ? r->st.pid : 0));
	json_object_set_new(st, "ExitCode", json_integer(r->st.exit_code));
	json_object_set_new(st, "Error", json_string(r->st.error));
	json_object_set_new(st, "StartedAt", time_json(r->st.started_ns));
	json_object_set_new(st, "FinishedAt", time_json(r->st.finished_ns));
	_cleanup_free_ char *hpath =
	    xasprintf("%s/containers/%s/health.json", store_root(s), r->id);
	_cleanup_free_ char *hdata = NULL;
	size_t hlen = 0;
	if (read_file(hpath, &hdata, &hlen, NULL) == 0) {
		json_t *h = json_loadb(hdata, hlen, 0, NULL);
		if (h)
			json_object_set_new(st, "Health", h);
	}
	json_object_set_new(j, "State", st);
	json_object_set_new(j, "Image", json_string(r->image_id));
	_cleanup_free_ char *dir = container_dir(s, r->id);
	_cleanup_free_ char *p1 = xasprintf("%s/resolv.conf", dir);
	_cleanup_free_ char *p2 = xasprintf("%s/hostname", dir);
	_cleanup_free_ char *p3 = xasprintf("%s/hosts", dir);
	_cleanup_free_ char *p4 = xasprintf("%s/%s-json.log", dir, r->id);
	json_object_set_new(j, "ResolvConfPath", json_string(p1));
	json_object_set_new(j, "HostnamePath", json_string(p2));
	json_object_set_new(j, "HostsPath", json_string(p3));
	json_object_set_new(j, "LogPath", json_string(p4));
	_cleanup_free_ char *name = xasprintf("/%s", r->name);
	json_object_set_new(j, "Name", json_string(name));
	json_object_set_new(j, "RestartCount", json_integer(r->st.restart_count));
	json_object_set_new(j, "Driver", json_string("overlay2"));
	json_object_set_new(j, "Platform", json_string("linux"));
	json_object_set_new(j, "MountLabel", json_string(""));
	json_object_set_new(j, "ProcessLabel", json_string(""));
	json_object_set_new(j, "AppArmorProfile", json_string(""));
	json_object_set_new(j, "ExecIDs", json_null());
	json_object_set(j, "HostConfig", json_object_get(cfg, "HostConfig"));
	json_t *gd = json_object();
	json_t *gdd = json_object();
	_cleanup_free_ char *up = xasprintf("%s/upper", dir);
	_cleanup_free_ char *wk = xasprintf("%s/work", dir);
	_cleanup_free_ char *mg = xasprintf("%s/merged", dir);
	json_object_set(gdd, "LowerDir", json_object_get(cfg, "LowerDir"));
	json_object_set_new(gdd, "MergedDir", json_string(mg));
	json_object_set_new(gdd, "UpperDir", json_string(up));
	json_object_set_new(gdd, "WorkDir", json_string(wk));
	json_object_set_new(gd, "Data", gdd);
	json_object_set_new(gd, "Name", json_string("overlay2"));
	json_object_set_new(j, "GraphDriver", gd);
	if (size) {
		_cleanup_close_ int ufd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		json_object_set_new(j, "SizeRw",
		                    json_integer(ufd >= 0 ? volume_tree_size(ufd) : 0));
	}
	json_object_set_new(j, "Mounts", public_mounts(json_object_get(cfg, "Mounts")));
	json_object_set(j, "Config", json_object_get(cfg, "Config"));
	json_t *ns = json_object();
	json_object_set_new(ns, "Bridge", json_string(""));
	json_object_set_new(ns, "SandboxID", json_string(""));
	json_object_set_new(ns, "HairpinMode", json_false());
	json_object_set_new(ns, "LinkLocalIPv6Address", json_string(""));
	json_object_set_new(ns, "LinkLocalIPv6PrefixLen", json_integer(0));
	json_t *ports = json_object_get(cfg, "Ports");
	json_object_set_new(ns, "Ports", ports ? json_incref(ports) : json_object());
	_cleanup_free_ char *sk = live ? xasprintf("/proc/%d/ns/net", r->st.pid) : xstrdup("");
	json_object_set_new(ns, "SandboxKey", json_string(sk));
	json_object_set_new(ns, "SecondaryIPAddresses", json_null());
	json_object_set_new(ns, "SecondaryIPv6Addresses", json_null());
	const char *fields[] = {"EndpointID", "Gateway",     "GlobalIPv6Address",
	                        "IPAddress",  "IPv6Gateway", "MacAddress"};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const char *v = json_get_str(cfg, fields[i]);
		json_object_set_new(ns, fields[i], json_string(v ? v : ""));
	}
	json_object_set_new(ns, "GlobalIPv6PrefixLen", json_integer(0));
	json_object_set_new(ns, "IPPrefixLen", json_integer(json_get_int(cfg, "IPPrefixLen", 0)));
	json_t *nets = json_object_get(cfg, "Networks");
	json_object_set_new(ns, "Networks", nets ? json_incref(nets) : json_object());
	json_t *net = container_network_settings(s, r->id);
	if (json_is_object(net))
		json_object_update(ns, net);
	json_decref(net);
	json_object_set_new(j, "NetworkSettings", ns);
	return j;
}
