/* The cgroup v2 device filter: an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE built from the OCI device rules and
 * attached to the cgroup directory with BPF_PROG_ATTACH.
 *
 * The rules are checked last to first and the first match decides, which
 * is "the last matching rule wins"; no match denies. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "runtime/cgroup_internal.h"

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){
	    .code = code, .dst_reg = dst & 0xf, .src_reg = src & 0xf, .off = off, .imm = imm};
}

struct prog {
	struct bpf_insn *v;
	size_t n;
};

static size_t emit(struct prog *p, struct bpf_insn i)
{
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n] = i;
	return p->n++;
}

/* Registers after the prologue. */
enum { R_TYPE = 2, R_ACCESS = 3, R_MAJOR = 4, R_MINOR = 5, R_TMP = 1 };

static void emit_return(struct prog *p, int v)
{
	emit(p, insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, v));
	emit(p, insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

int cg_bpf_devices_build(json_t *rules, struct bpf_insn **insns, size_t *n, berth_error **err)
{
	if (!json_is_array(rules))
		return berth_err(err, BERTH_E_INVALID, "device rules: expected an array");
	struct prog p = {0};
	/* r2 = type, r3 = access, r4 = major, r5 = minor; r1 = ctx. */
	emit(&p, insn(BPF_LDX | BPF_MEM | BPF_W, R_TYPE, 1,
	              offsetof(struct bpf_cgroup_dev_ctx, access_type), 0));
	emit(&p, insn(BPF_ALU | BPF_MOV | BPF_X, R_ACCESS, R_TYPE, 0, 0));
	emit(&p, insn(BPF_ALU | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff));
	emit(&p, insn(BPF_ALU | BPF_RSH | BPF_K, R_ACCESS, 0, 0, 16));
	emit(&p, insn(BPF_LDX | BPF_MEM | BPF_W, R_MAJOR, 1,
	              offsetof(struct bpf_cgroup_dev_ctx, major), 0));
	emit(&p, insn(BPF_LDX | BPF_MEM | BPF_W, R_MINOR, 1,
	              offsetof(struct bpf_cgroup_dev_ctx, minor), 0));
	bool terminal = false;
	for (size_t k = json_array_size(rules); k > 0 && !terminal; k--) {
		size_t i = k - 1;
		json_t *e = json_array_get(rules, i);
		json_t *a = json_object_get(e, "allow");
		if (!json_is_boolean(a)) {
			free(p.v);
			return berth_err(err, BERTH_E_INVALID,
			                 "devices[%zu]: \"allow\" is required", i);
		}
		const char *t = json_get_str(e, "type"), *acc = json_get_str(e, "access");
		if (t == NULL || !*t)
			t = "a";
		if (acc == NULL || !*acc)
			acc = "rwm";
		if (strlen(t) != 1 || !strchr("abc", t[0]) || strspn(acc, "rwm") != strlen(acc)) {
			free(p.v);
			return berth_err(err, BERTH_E_INVALID, "devices[%zu]: bad type or access",
			                 i);
		}
		int64_t maj = -1, min = -1;
		if (!cg_jint(e, "major", &maj))
			maj = -1;
		if (!cg_jint(e, "minor", &min))
			min = -1;
		if (maj > INT32_MAX || min > INT32_MAX) {
			free(p.v);
			return berth_err(err, BERTH_E_INVALID, "devices[%zu]: bad major/minor", i);
		}
		int32_t mask = 0;
		for (const char *c = acc; *c; c++)
			mask |= *c == 'r' ? BPF_DEVCG_ACC_READ
			                  : (*c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD);
		bool all_acc =
		    mask == (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD);
		size_t jumps[4], nj = 0;
		if (t[0] != 'a')
			jumps[nj++] =
			    emit(&p, insn(BPF_JMP | BPF_JNE | BPF_K, R_TYPE, 0, 0,
			                  t[0] == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
		if (!all_acc) {
			/* match only if the request asks for nothing outside mask */
			emit(&p, insn(BPF_ALU | BPF_MOV | BPF_X, R_TMP, R_ACCESS, 0, 0));
			emit(&p, insn(BPF_ALU | BPF_AND | BPF_K, R_TMP, 0, 0, ~mask & 0xffff));
			jumps[nj++] = emit(&p, insn(BPF_JMP | BPF_JNE | BPF_K, R_TMP, 0, 0, 0));
		}
		if (maj >= 0)
			jumps[nj++] =
			    emit(&p, insn(BPF_JMP | BPF_JNE | BPF_K, R_MAJOR, 0, 0, (int32_t)maj));
		if (min >= 0)
			jumps[nj++] =
			    emit(&p, insn(BPF_JMP | BPF_JNE | BPF_K, R_MINOR, 0, 0, (int32_t)min));
		emit_return(&p, json_is_true(a) ? 1 : 0);
		for (size_t j = 0; j < nj; j++)
			p.v[jumps[j]].off = (int16_t)(p.n - jumps[j] - 1);
		terminal = nj == 0;
	}
	if (!terminal)
		emit_return(&p, 0);
	*insns = p.v;
	*n = p.n;
	return 0;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int cg_bpf_devices_apply(const char *dir, json_t *rules, berth_error **err)
{
	_cleanup_free_ struct bpf_insn *insns = NULL;
	size_t n = 0;
	if (cg_bpf_devices_build(rules, &insns, &n, err) < 0)
		return -1;
	_cleanup_close_ int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return berth_err_sys(err, errno, "opening %s", dir);

	static const char license[] = "Apache-2.0";
	_cleanup_free_ char *log = xcalloc(1, 65536);
	union bpf_attr attr = {0};
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(uintptr_t)license;
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = 65536;
	attr.log_level = 1;
	_cleanup_close_ int prog = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		int e = errno;
		char *nl = strrchr(log, '\n');
		if (nl && nl[1] == '\0')
			*nl = '\0';
		return berth_err_sys(err, e, "loading the device eBPF program (%s)",
		                     *log ? log : "no verifier log");
	}

	/* Programs attached before (an earlier update) are replaced. */
	uint32_t old_ids[64];
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)cgfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)old_ids;
	attr.query.prog_cnt = ARRAY_SIZE(old_ids);
	uint32_t nold = 0, old_flags = 0;
	if (sys_bpf(BPF_PROG_QUERY, &attr) == 0) {
		nold = attr.query.prog_cnt;
		old_flags = attr.query.attach_flags;
	}

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = (nold > 0 && !(old_flags & BPF_F_ALLOW_MULTI)) ? 0 : BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return berth_err_sys(err, errno, "attaching the device eBPF program to %s", dir);
	if (attr.attach_flags == 0)
		return 0; /* a single program was replaced in place */

	for (uint32_t i = 0; i < nold && i < ARRAY_SIZE(old_ids); i++) {
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = old_ids[i];
		_cleanup_close_ int ofd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (ofd < 0)
			continue;
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)cgfd;
		attr.attach_bpf_fd = (uint32_t)ofd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
			return berth_err_sys(err, errno, "detaching the old device program from %s",
			                     dir);
	}
	return 0;
}
