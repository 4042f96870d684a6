/* Internals shared by cgroup.c, cgroup_v1.c, cgroup_v2.c and
 * cgroup_bpf.c (and the unit tests). Not for other modules. */
#ifndef BERTH_RUNTIME_CGROUP_INTERNAL_H
#define BERTH_RUNTIME_CGROUP_INTERNAL_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/cgroup.h"

/* One mounted hierarchy, as the host shows it. */
struct cg_hier {
	char *mountpoint; /* e.g. /sys/fs/cgroup/memory */
	char *root; /* the mount's root inside the hierarchy (mountinfo field 4) */
	char **ctrls; /* v1: controllers and "name=..."; v2: root cgroup.controllers */
	char *own; /* the caller's cgroup in this hierarchy (/proc/self/cgroup) */
	unsigned dev_major, dev_minor;
	bool v2;
};

struct cg_layout {
	struct cg_hier *h;
	size_t n;
	char **known; /* controllers the kernel has (/proc/cgroups, enabled) */
	bool unified; /* no v1 hierarchy with a controller: a pure v2 host */
};

void cg_layout_clear(struct cg_layout *l);
/* Parsers, separate so they can be fuzzed and tested on fixed text. */
int cg_parse_proc_cgroups(const char *buf, struct cg_layout *l, berth_error **err);
int cg_parse_mountinfo(const char *buf, struct cg_layout *l, berth_error **err);
int cg_parse_proc_self_cgroup(const char *buf, struct cg_layout *l, berth_error **err);
/* Read the three files of this process and fill l. */
int cg_detect(struct cg_layout *l, berth_error **err);

/* The container's cgroup in one hierarchy. */
struct cg_dir {
	char **ctrls; /* as in cg_hier; for v2, the cgroup's own cgroup.controllers */
	char *fs; /* absolute directory */
	char *mountpoint;
	int dfd; /* O_PATH directory fd, -1 until opened */
	bool v2;
	bool premade; /* v1: cgroup_premake made this directory */
	int tasks_fd; /* premade: its tasks file, opened ahead (-1: none) */
};

struct cgroup_handle {
	struct cg_dir *d;
	size_t n;
	bool v2host;
	char *path;
};

/* A handle over one directory that stands in for a cgroup2 cgroup on a
 * pure-v2 host (used by the unit tests on a temporary tree). */
int cg_handle_v2_dir(const char *dir, cgroup_handle **out, berth_error **err);
/* Apply linux.resources through whichever hierarchy holds each controller. */
int cg_apply(cgroup_handle *h, json_t *res, berth_error **err);

/* The dir of the hierarchy holding controller c (v1 first), or NULL. */
struct cg_dir *cg_find(cgroup_handle *h, const char *c);
struct cg_dir *cg_v2dir(cgroup_handle *h);

/* File helpers. field names the spec field for error messages. */
/* cg_write through *fdp, opened by the first call (the caller closes it):
 * for files that take one value per write, as devices.allow. */
int cg_write_keep(int dfd, const char *file, int *fdp, const char *val, const char *field,
                  berth_error **err);
int cg_write(int dfd, const char *file, const char *val, const char *field, berth_error **err);
int cg_writef(int dfd, const char *file, const char *field, berth_error **err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int cg_read(int dfd, const char *file, char **out, berth_error **err);
bool cg_exists(int dfd, const char *file);
/* Read a single number ("max" -> UINT64_MAX); 0 and no error if missing. */
uint64_t cg_read_u64(int dfd, const char *file);
/* "key value" lines (memory.stat, cpu.stat, ...): the value of key or 0. */
uint64_t cg_read_keyed(int dfd, const char *file, const char *key);

/* JSON accessors: true when key present and of the right type. */
bool cg_jint(const json_t *o, const char *k, int64_t *v);
/* Error for a field the JSON has with a wrong type. */
int cg_jcheck_int(const json_t *o, const char *k, const char *field, berth_error **err);

/* Per-version appliers: each takes the cgroup dir fd and the resources
 * sub-object. */
int cg_v1_memory(int dfd, json_t *mem, berth_error **err);
int cg_v1_cpu(int dfd, json_t *cpu, berth_error **err);
int cg_v1_cpuset(int dfd, json_t *cpu, berth_error **err);
int cg_v1_pids(int dfd, json_t *pids, berth_error **err);
int cg_v1_blkio(int dfd, json_t *blk, berth_error **err);
int cg_v1_hugetlb(int dfd, json_t *arr, berth_error **err);
int cg_v1_net_cls(int dfd, json_t *net, berth_error **err);
int cg_v1_net_prio(int dfd, json_t *net, berth_error **err);
int cg_v1_devices(int dfd, json_t *arr, berth_error **err);
int cg_rdma(int dfd, json_t *rdma, berth_error **err);
/* Copy cpuset.cpus / cpuset.mems from the parent when empty. */
int cg_v1_cpuset_init(int dfd, int parentfd, berth_error **err);

int cg_v2_memory(int dfd, json_t *mem, berth_error **err);
int cg_v2_cpu(int dfd, json_t *cpu, berth_error **err);
int cg_v2_cpuset(int dfd, json_t *cpu, berth_error **err);
int cg_v2_pids(int dfd, json_t *pids, berth_error **err);
int cg_v2_io(int dfd, json_t *blk, berth_error **err);
int cg_v2_hugetlb(int dfd, json_t *arr, berth_error **err);
int cg_v2_unified(int dfd, json_t *obj, berth_error **err);

/* runc's conversions. */
uint64_t cg_shares_to_weight(uint64_t shares);
uint64_t cg_blkio_to_io_weight(uint64_t w);

/* eBPF device filter for cgroup v2: build the program for the OCI rule
 * list (last matching rule wins, default deny), load it and attach it to
 * the cgroup directory (replacing programs attached before). */
int cg_bpf_devices_build(json_t *rules, struct bpf_insn **insns, size_t *n, berth_error **err);
int cg_bpf_devices_apply(const char *dir, json_t *rules, berth_error **err);

#endif
