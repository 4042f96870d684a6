/* The default config: Docker's security defaults in runtime-spec form. */
#include <unistd.h>

#include "base/cleanup.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/internal.h"
#if __has_include("runtime/seccomp.h")
#include "runtime/seccomp.h"
#define HAVE_RT_SECCOMP 1
#endif

/* Docker's default capability set (NULL-terminated). */
static const char *const docker_caps_v[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

static const char *const masked_paths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};

static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static json_t *strarr(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mount(const char *dest, const char *type, const char *src, const char *opts)
{
	json_t *m = json_object();
	json_object_set_new(m, "destination", json_string(dest));
	json_object_set_new(m, "type", json_string(type));
	json_object_set_new(m, "source", json_string(src));
	if (opts) {
		_cleanup_strv_ char **v = str_split(opts, ',');
		json_object_set_new(m, "options", json_from_strv(v));
	}
	return m;
}

static json_t *ns(const char *type)
{
	return json_pack("{s:s}", "type", type);
}

static json_t *idmap(unsigned host)
{
	return json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (json_int_t)host, "size",
	                 1);
}

json_t *rt_default_spec(bool rootless)
{
	json_t *caps = strarr(docker_caps_v, ARRAY_SIZE(docker_caps_v) - 1);
	json_t *process = json_pack(
	    "{s:b,s:{s:i,s:i},s:[s],s:[s,s],s:s,s:{s:o,s:O,s:O},s:[{s:s,s:i,s:i}],s:b}", "terminal",
	    0, "user", "uid", 0, "gid", 0, "args", "sh", "env",
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
	    "cwd", "/", "capabilities", "bounding", caps, "effective", caps, "permitted", caps,
	    "rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
	json_t *mounts = json_array();
	json_array_append_new(mounts, mount("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(
	    mounts, mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts,
	                      mount("/dev/pts", "devpts", "devpts",
	                            rootless ? "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"
	                                     : "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,"
	                                       "gid=5"));
	json_array_append_new(
	    mounts, mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts,
	                      mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
	if (rootless)
		json_array_append_new(
		    mounts, mount("/sys", "none", "/sys", "rbind,nosuid,noexec,nodev,ro"));
	else
		json_array_append_new(mounts,
		                      mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_array_append_new(
	    mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro"));
	json_t *nss = json_array();
	json_array_append_new(nss, ns("pid"));
	json_array_append_new(nss, ns("network"));
	json_array_append_new(nss, ns("ipc"));
	json_array_append_new(nss, ns("uts"));
	json_array_append_new(nss, ns("mount"));
	json_array_append_new(nss, ns("cgroup"));
	json_t *lnx = json_object();
	if (rootless) {
		json_array_append_new(nss, ns("user"));
		json_object_set_new(lnx, "uidMappings", idmap((unsigned)getuid()));
		json_object_set_new(lnx, "gidMappings", idmap((unsigned)getgid()));
	} else {
		json_object_set_new(
		    lnx, "resources",
		    json_pack("{s:[{s:b,s:s}]}", "devices", "allow", 0, "access", "rwm"));
	}
	json_object_set_new(lnx, "namespaces", nss);
	json_object_set_new(lnx, "maskedPaths", strarr(masked_paths, ARRAY_SIZE(masked_paths)));
	json_object_set_new(lnx, "readonlyPaths",
	                    strarr(readonly_paths, ARRAY_SIZE(readonly_paths)));
#ifdef HAVE_RT_SECCOMP
	json_t *sc = seccomp_default_profile((char *const *)docker_caps_v);
	if (sc)
		json_object_set_new(lnx, "seccomp", sc);
#endif
	json_t *spec = json_object();
	json_object_set_new(spec, "ociVersion", json_string(RT_OCI_VERSION));
	json_object_set_new(spec, "process", process);
	json_object_set_new(spec, "root", json_pack("{s:s,s:b}", "path", "rootfs", "readonly", 1));
	json_object_set_new(spec, "hostname", json_string("berth"));
	json_object_set_new(spec, "mounts", mounts);
	json_object_set_new(spec, "linux", lnx);
	return spec;
}
