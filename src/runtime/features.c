/* `berth runtime features`: what this build and host support. */
#include <stdio.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "runtime/internal.h"

static const char *const mount_options[] = {
    "async",     "atime",      "bind",          "defaults", "dev",         "diratime",
    "dirsync",   "exec",       "iversion",      "lazytime", "loud",        "mand",
    "noatime",   "nodev",      "nodiratime",    "noexec",   "noiversion",  "nolazytime",
    "nomand",    "norelatime", "nostrictatime", "nosuid",   "nosymfollow", "private",
    "rbind",     "rdev",       "rexec",         "relatime", "remount",     "rnodev",
    "rnoexec",   "rnosuid",    "rnosymfollow",  "ro",       "rprivate",    "rro",
    "rrw",       "rshared",    "rslave",        "rsuid",    "rsymfollow",  "runbindable",
    "rw",        "shared",     "silent",        "slave",    "strictatime", "suid",
    "symfollow", "sync",       "unbindable",
};

json_t *rt_features(void)
{
	json_t *f = json_object();
	json_object_set_new(f, "ociVersionMin", json_string("1.0.0"));
	json_object_set_new(f, "ociVersionMax", json_string(RT_OCI_VERSION));
	json_t *hooks = json_pack("[s,s,s,s,s,s]", "prestart", "createRuntime", "createContainer",
	                          "startContainer", "poststart", "poststop");
	json_object_set_new(f, "hooks", hooks);
	json_t *mo = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(mount_options); i++)
		json_array_append_new(mo, json_string(mount_options[i]));
	json_object_set_new(f, "mountOptions", mo);
	json_t *l = json_object();
	json_t *ns = json_array();
	static const char *const nsn[][2] = {{"cgroup", "cgroup"}, {"ipc", "ipc"}, {"mount", "mnt"},
	                                     {"network", "net"},   {"pid", "pid"}, {"time", "time"},
	                                     {"user", "user"},     {"uts", "uts"}};
	for (size_t i = 0; i < ARRAY_SIZE(nsn); i++) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/ns/%s", nsn[i][1]);
		if (access(p, F_OK) == 0)
			json_array_append_new(ns, json_string(nsn[i][0]));
	}
	json_object_set_new(l, "namespaces", ns);
	json_t *caps = json_array();
	for (int c = 0; c <= rt_cap_last(); c++) {
		const char *n = rt_cap_name(c);
		if (n)
			json_array_append_new(caps, json_string(n));
	}
	json_object_set_new(l, "capabilities", caps);
	json_object_set_new(l, "cgroup",
	                    json_pack("{s:b,s:b,s:b,s:b,s:b}", "v1", 1, "v2", 1, "systemd", 0,
	                              "systemdUser", 0, "rdma", 0));
#if __has_include("runtime/seccomp.h")
	json_object_set_new(l, "seccomp",
	                    json_pack("{s:b,s:[s,s,s,s,s,s,s,s],s:[s,s,s,s,s,s,s],s:[s,s,s]}",
	                              "enabled", 1, "actions", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",
	                              "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
	                              "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE",
	                              "SCMP_ACT_TRAP", "operators", "SCMP_CMP_EQ", "SCMP_CMP_GE",
	                              "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
	                              "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", "archs", "SCMP_ARCH_X86",
	                              "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"));
#else
	json_object_set_new(l, "seccomp", json_pack("{s:b}", "enabled", 0));
#endif
	json_object_set_new(l, "apparmor", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(l, "selinux", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(f, "linux", l);
	json_object_set_new(
	    f, "annotations",
	    json_pack("{s:s}", "org.opencontainers.runtime-spec.features.runtime", "berth"));
	return f;
}
