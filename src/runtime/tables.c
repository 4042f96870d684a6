/* Sorted name -> constant tables: capabilities, rlimits, signals. */
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "runtime/internal.h"

struct name_val {
	const char *name;
	int val;
};

static int cmp_name_val(const void *k, const void *e)
{
	return strcmp(k, ((const struct name_val *)e)->name);
}

static int lookup(const struct name_val *t, size_t n, const char *name)
{
	const struct name_val *r = bsearch(name, t, n, sizeof(*t), cmp_name_val);
	return r ? r->val : -1;
}

/* Sorted by name. */
static const struct name_val caps[] = {
    {"CAP_AUDIT_CONTROL", 30},  {"CAP_AUDIT_READ", 37},   {"CAP_AUDIT_WRITE", 29},
    {"CAP_BLOCK_SUSPEND", 36},  {"CAP_BPF", 39},          {"CAP_CHECKPOINT_RESTORE", 40},
    {"CAP_CHOWN", 0},           {"CAP_DAC_OVERRIDE", 1},  {"CAP_DAC_READ_SEARCH", 2},
    {"CAP_FOWNER", 3},          {"CAP_FSETID", 4},        {"CAP_IPC_LOCK", 14},
    {"CAP_IPC_OWNER", 15},      {"CAP_KILL", 5},          {"CAP_LEASE", 28},
    {"CAP_LINUX_IMMUTABLE", 9}, {"CAP_MAC_ADMIN", 33},    {"CAP_MAC_OVERRIDE", 32},
    {"CAP_MKNOD", 27},          {"CAP_NET_ADMIN", 12},    {"CAP_NET_BIND_SERVICE", 10},
    {"CAP_NET_BROADCAST", 11},  {"CAP_NET_RAW", 13},      {"CAP_PERFMON", 38},
    {"CAP_SETFCAP", 31},        {"CAP_SETGID", 6},        {"CAP_SETPCAP", 8},
    {"CAP_SETUID", 7},          {"CAP_SYSLOG", 34},       {"CAP_SYS_ADMIN", 21},
    {"CAP_SYS_BOOT", 22},       {"CAP_SYS_CHROOT", 18},   {"CAP_SYS_MODULE", 16},
    {"CAP_SYS_NICE", 23},       {"CAP_SYS_PACCT", 20},    {"CAP_SYS_PTRACE", 19},
    {"CAP_SYS_RAWIO", 17},      {"CAP_SYS_RESOURCE", 24}, {"CAP_SYS_TIME", 25},
    {"CAP_SYS_TTY_CONFIG", 26}, {"CAP_WAKE_ALARM", 35},
};

int rt_cap_from_name(const char *name)
{
	return lookup(caps, ARRAY_SIZE(caps), name);
}

const char *rt_cap_name(int cap)
{
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		if (caps[i].val == cap)
			return caps[i].name;
	return NULL;
}

int rt_cap_last(void)
{
	static int last = -1;
	if (last >= 0)
		return last;
	char *s = NULL;
	berth_error *e = NULL;
	if (read_file("/proc/sys/kernel/cap_last_cap", &s, NULL, &e) == 0) {
		last = atoi(s);
		free(s);
	} else {
		berth_error_free(e);
		last = CAP_LAST_CAP;
	}
	return last;
}

static const struct name_val rlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int rt_rlimit_from_name(const char *name)
{
	return lookup(rlimits, ARRAY_SIZE(rlimits), name);
}

static const struct name_val signals[] = {
    {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"BUS", SIGBUS},       {"CHLD", SIGCHLD},
    {"CLD", SIGCHLD},  {"CONT", SIGCONT}, {"FPE", SIGFPE},       {"HUP", SIGHUP},
    {"ILL", SIGILL},   {"INT", SIGINT},   {"IO", SIGIO},         {"IOT", SIGIOT},
    {"KILL", SIGKILL}, {"PIPE", SIGPIPE}, {"POLL", SIGPOLL},     {"PROF", SIGPROF},
    {"PWR", SIGPWR},   {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV},     {"STKFLT", SIGSTKFLT},
    {"STOP", SIGSTOP}, {"SYS", SIGSYS},   {"TERM", SIGTERM},     {"TRAP", SIGTRAP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
};

int rt_signal_from_name(const char *name)
{
	if (name == NULL || !*name)
		return -1;
	char *end = NULL;
	long v = strtol(name, &end, 10);
	if (*end == 0)
		return (v > 0 && v < NSIG) ? (int)v : -1;
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	char up[16];
	size_t n = strlen(name);
	if (n >= sizeof(up))
		return -1;
	for (size_t i = 0; i <= n; i++)
		up[i] = (char)((name[i] >= 'a' && name[i] <= 'z') ? name[i] - 32 : name[i]);
	if (!strncmp(up, "RTMIN", 5) || !strncmp(up, "RTMAX", 5)) {
		int base = up[4] == 'N' ? SIGRTMIN : SIGRTMAX;
		if (up[5] == 0)
			return base;
		long off = strtol(up + 5, &end, 10);
		if (*end || off == 0)
			return -1;
		int s = base + (int)off;
		return (s >= SIGRTMIN && s <= SIGRTMAX) ? s : -1;
	}
	return lookup(signals, ARRAY_SIZE(signals), up);
}

int rt_parse_signal(const char *s)
{
	return rt_signal_from_name(s);
}
