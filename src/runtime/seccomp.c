/* seccomp: compile OCI linux.seccomp with libseccomp in the parent,
 * export the BPF, load it with a bare seccomp(2) in the child. */
#include "runtime/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/digest.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "runtime/seccomp_internal.h"

struct name_val {
	const char *name;
	uint32_t val;
};

static int cmp_name_val(const void *k, const void *e)
{
	return strcmp(k, ((const struct name_val *)e)->name);
}

static const struct name_val *lookup(const struct name_val *t, size_t n, const char *name)
{
	return name ? bsearch(name, t, n, sizeof(*t), cmp_name_val) : NULL;
}

/* Actions before the errno/trace data is added. Sorted. */
enum { ACT_ALLOW, ACT_ERRNO, ACT_KILL, ACT_KILL_PROCESS, ACT_LOG, ACT_NOTIFY, ACT_TRACE, ACT_TRAP };
static const struct name_val actions[] = {
    {"SCMP_ACT_ALLOW", ACT_ALLOW},      {"SCMP_ACT_ERRNO", ACT_ERRNO},
    {"SCMP_ACT_KILL", ACT_KILL},        {"SCMP_ACT_KILL_PROCESS", ACT_KILL_PROCESS},
    {"SCMP_ACT_KILL_THREAD", ACT_KILL}, {"SCMP_ACT_LOG", ACT_LOG},
    {"SCMP_ACT_NOTIFY", ACT_NOTIFY},    {"SCMP_ACT_TRACE", ACT_TRACE},
    {"SCMP_ACT_TRAP", ACT_TRAP},
};

static const struct name_val ops[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE},
};

static const struct name_val filter_flags[] = {
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
};

/* Map an OCI action (+ errnoRet) to libseccomp's value. */
static int action_value(const char *name, json_t *errno_ret, const char *field, uint32_t *out,
                        berth_error **err)
{
	const struct name_val *a = lookup(actions, ARRAY_SIZE(actions), name);
	if (a == NULL)
		return berth_err(err, BERTH_E_INVALID, "%s: unknown action \"%s\"", field,
		                 name ? name : "(none)");
	if (errno_ret && !json_is_null(errno_ret) &&
	    (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0 ||
	     json_integer_value(errno_ret) > 0xffff))
		return berth_err(err, BERTH_E_INVALID, "%s: bad errnoRet", field);
	uint16_t ret = json_is_integer(errno_ret) ? (uint16_t)json_integer_value(errno_ret) : EPERM;
	switch (a->val) {
	case ACT_ALLOW: *out = SCMP_ACT_ALLOW; break;
	case ACT_ERRNO: *out = SCMP_ACT_ERRNO(ret); break;
	case ACT_KILL: *out = SCMP_ACT_KILL_THREAD; break;
	case ACT_KILL_PROCESS: *out = SCMP_ACT_KILL_PROCESS; break;
	case ACT_LOG: *out = SCMP_ACT_LOG; break;
	case ACT_TRACE: *out = SCMP_ACT_TRACE(ret); break;
	case ACT_TRAP: *out = SCMP_ACT_TRAP; break;
	default:
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "%s: %s needs a seccomp listener, which berth does not support",
		                 field, name);
	}
	return 0;
}

static void ctx_release(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token. */
static int arch_token(const char *name, uint32_t *tok)
{
	if (name == NULL || !str_has_prefix(name, "SCMP_ARCH_"))
		return -1;
	char low[32];
	size_t n = strlen(name + 10);
	if (n == 0 || n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = name[10 + i];
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	*tok = seccomp_arch_resolve_name(low);
	return *tok == 0 ? -1 : 0;
}

static int add_rule(scmp_filter_ctx ctx, int nr, uint32_t act, const struct scmp_arg_cmp *c,
                    unsigned nc, const char *field, const char *name, berth_error **err)
{
	int r = seccomp_rule_add_array(ctx, act, nr, nc, c);
	if (r < 0)
		return berth_err_sys(err, -r, "%s: adding a rule for %s", field, name);
	return 0;
}

static int add_syscall_rules(scmp_filter_ctx ctx, json_t *rule, size_t ri, uint32_t defact,
                             berth_error **err)
{
	_cleanup_free_ char *field = xasprintf("syscalls[%zu]", ri);
	uint32_t act;
	if (action_value(json_get_str(rule, "action"), json_object_get(rule, "errnoRet"), field,
	                 &act, err) < 0)
		return -1;
	json_t *names = json_object_get(rule, "names");
	const char *one = json_get_str(rule, "name"); /* pre-1.0 spelling */
	if (!json_is_array(names) && one == NULL)
		return berth_err(err, BERTH_E_INVALID, "%s: \"names\" is required", field);

	struct scmp_arg_cmp conds[16];
	unsigned nc = 0, per_index[6] = {0};
	bool split = false;
	json_t *args = json_object_get(rule, "args");
	if (args && !json_is_null(args)) {
		if (!json_is_array(args) || json_array_size(args) > ARRAY_SIZE(conds))
			return berth_err(err, BERTH_E_INVALID, "%s.args: expected an array", field);
		size_t i;
		json_t *a;
		json_array_foreach (args, i, a) {
			json_t *idx = json_object_get(a, "index"), *v = json_object_get(a, "value"),
			       *v2 = json_object_get(a, "valueTwo");
			const struct name_val *op =
			    lookup(ops, ARRAY_SIZE(ops), json_get_str(a, "op"));
			if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
			    json_integer_value(idx) > 5)
				return berth_err(err, BERTH_E_INVALID,
				                 "%s.args[%zu]: index must be 0..5", field, i);
			if (op == NULL)
				return berth_err(
				    err, BERTH_E_INVALID, "%s.args[%zu]: unknown op \"%s\"", field,
				    i, json_get_str(a, "op") ? json_get_str(a, "op") : "(none)");
			if ((v && !json_is_integer(v)) ||
			    (v2 && !json_is_null(v2) && !json_is_integer(v2)))
				return berth_err(err, BERTH_E_INVALID,
				                 "%s.args[%zu]: value/valueTwo must be integers",
				                 field, i);
			unsigned ix = (unsigned)json_integer_value(idx);
			conds[nc++] = (struct scmp_arg_cmp){
			    .arg = ix,
			    .op = (enum scmp_compare)op->val,
			    .datum_a = v ? (scmp_datum_t)json_integer_value(v) : 0,
			    .datum_b =
			        json_is_integer(v2) ? (scmp_datum_t)json_integer_value(v2) : 0,
			};
			if (++per_index[ix] > 1)
				split = true;
		}
	}
	if (act == defact)
		return 0; /* libseccomp refuses rules that repeat the default */

	size_t n = json_is_array(names) ? json_array_size(names) : 1;
	for (size_t k = 0; k < n; k++) {
		const char *name =
		    json_is_array(names) ? json_string_value(json_array_get(names, k)) : one;
		if (name == NULL)
			return berth_err(err, BERTH_E_INVALID, "%s.names[%zu]: expected a string",
			                 field, k);
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR) {
			log_debug("seccomp: unknown syscall \"%s\" skipped", name);
			continue;
		}
		/* Several conditions on one argument: each is its own rule (OR),
		 * as runc does; otherwise all conditions in one rule (AND). */
		if (split) {
			for (unsigned c = 0; c < nc; c++)
				if (add_rule(ctx, nr, act, &conds[c], 1, field, name, err) < 0)
					return -1;
		} else if (add_rule(ctx, nr, act, conds, nc, field, name, err) < 0) {
			return -1;
		}
	}
	return 0;
}

void seccomp_prog_free(struct sock_fprog *p)
{
	free(p); /* the filter lives in the same allocation */
}

/* A program from len bytes of sock_filter instructions. */
static int prog_from_bytes(const void *buf, size_t len, struct sock_fprog **prog, berth_error **err)
{
	if (len == 0 || len % sizeof(struct sock_filter) != 0)
		return berth_err(err, BERTH_E_CORRUPT, "seccomp: program has a bad size");
	if (len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return berth_err(err, BERTH_E_INVALID,
		                 "seccomp: the profile compiles to more than %d instructions",
		                 BPF_MAXINSNS);
	struct sock_fprog *p = xmalloc(sizeof(*p) + len);
	p->len = (unsigned short)(len / sizeof(struct sock_filter));
	p->filter = (struct sock_filter *)(p + 1);
	memcpy(p->filter, buf, len);
	*prog = p;
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct sock_fprog **prog, berth_error **err)
{
	_cleanup_close_ int fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return berth_err_sys(err, errno, "seccomp: memfd_create");
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return berth_err_sys(err, -r, "seccomp: exporting the BPF program");
	off_t end = lseek(fd, 0, SEEK_END);
	if (end <= 0 || end > (off_t)(BPF_MAXINSNS * 8 * sizeof(struct sock_filter)))
		return berth_err(err, BERTH_E_IO, "seccomp: exported program has a bad size");
	_cleanup_free_ char *buf = xmalloc((size_t)end);
	size_t len = 0;
	while (len < (size_t)end) {
		ssize_t n = pread(fd, buf + len, (size_t)end - len, (off_t)len);
		if (n <= 0)
			return berth_err_sys(err, n < 0 ? errno : EIO,
			                     "seccomp: reading the program");
		len += (size_t)n;
	}
	return prog_from_bytes(buf, len, prog, err);
}

int seccomp_compile(json_t *sc, struct sock_fprog **prog, unsigned int *flags, berth_error **err)
{
	if (!json_is_object(sc))
		return berth_err(err, BERTH_E_INVALID, "seccomp: expected an object");
	uint32_t defact;
	if (action_value(json_get_str(sc, "defaultAction"), json_object_get(sc, "defaultErrnoRet"),
	                 "defaultAction", &defact, err) < 0)
		return -1;
	if (json_get_str(sc, "listenerPath") && *json_get_str(sc, "listenerPath"))
		return berth_err(err, BERTH_E_UNSUPPORTED,
		                 "listenerPath: seccomp listeners are not supported");
	unsigned fl = 0;
	json_t *jf = json_object_get(sc, "flags"), *f;
	size_t i;
	if (jf && !json_is_null(jf) && !json_is_array(jf))
		return berth_err(err, BERTH_E_INVALID, "flags: expected an array");
	json_array_foreach (jf, i, f) {
		const struct name_val *nv =
		    lookup(filter_flags, ARRAY_SIZE(filter_flags), json_string_value(f));
		if (nv == NULL)
			return berth_err(err, BERTH_E_UNSUPPORTED,
			                 "flags[%zu]: unsupported flag \"%s\"", i,
			                 json_string_value(f) ? json_string_value(f) : "?");
		fl |= nv->val;
	}

	_cleanup_(ctx_release) scmp_filter_ctx ctx = seccomp_init(defact);
	if (ctx == NULL)
		return berth_err(err, BERTH_E_INVALID,
		                 "seccomp: libseccomp refused the default action");
	/* Binary-tree dispatch keeps long allow lists cheap per syscall. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	json_t *arches = json_object_get(sc, "architectures"), *a;
	if (arches && !json_is_null(arches) && !json_is_array(arches))
		return berth_err(err, BERTH_E_INVALID, "architectures: expected an array");
	json_array_foreach (arches, i, a) {
		uint32_t tok;
		if (arch_token(json_string_value(a), &tok) < 0)
			return berth_err(err, BERTH_E_INVALID, "architectures[%zu]: unknown \"%s\"",
			                 i, json_string_value(a) ? json_string_value(a) : "?");
		int r = seccomp_arch_add(ctx, tok);
		if (r < 0 && r != -EEXIST)
			return berth_err_sys(err, -r, "architectures[%zu]", i);
	}
	json_t *calls = json_object_get(sc, "syscalls"), *c;
	if (calls && !json_is_null(calls) && !json_is_array(calls))
		return berth_err(err, BERTH_E_INVALID, "syscalls: expected an array");
	json_array_foreach (calls, i, c) {
		if (!json_is_object(c))
			return berth_err(err, BERTH_E_INVALID, "syscalls[%zu]: expected an object",
			                 i);
		if (add_syscall_rules(ctx, c, i, defact, err) < 0)
			return -1;
	}
	if (export_bpf(ctx, prog, err) < 0)
		return -1;
	*flags = fl;
	return 0;
}

/* Cache file: magic, flags, then the instructions. */
static const char cache_magic[8] = "BSCMP01";
#define HDR (12 + DIGEST_HEX_LEN)

static char *cache_key(json_t *sc)
{
	_cleanup_free_ char *canon = json_dumps(sc, JSON_COMPACT | JSON_SORT_KEYS);
	const struct scmp_version *v = seccomp_version();
	_cleanup_free_ char *salt =
	    xasprintf("berth-seccomp-1|libseccomp %u.%u.%u|arch %u|", v ? v->major : 0,
	              v ? v->minor : 0, v ? v->micro : 0, seccomp_arch_native());
	_cleanup_sha256_ sha256_ctx *c = sha256_new();
	sha256_update(c, salt, strlen(salt));
	if (canon)
		sha256_update(c, canon, strlen(canon));
	char d[DIGEST_STR_LEN + 1];
	sha256_final(c, d);
	return xasprintf("%s.bpf", digest_hex(d));
}

int seccomp_compile_cached(json_t *sc, const char *cache_dir, struct sock_fprog **prog,
                           unsigned int *flags, berth_error **err)
{
	if (cache_dir == NULL || !json_is_object(sc))
		return seccomp_compile(sc, prog, flags, err);
	_cleanup_free_ char *name = cache_key(sc);
	_cleanup_close_ int dfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		berth_error *e = NULL;
		/* magic(8) flags(4) sha256-of-instructions(64 hex) instructions */
		if (read_file_at(dfd, name, &buf, &len, &e) == 0 && len > HDR &&
		    memcmp(buf, cache_magic, 8) == 0) {
			char d[DIGEST_STR_LEN + 1];
			sha256_digest(buf + HDR, len - HDR, d);
			uint32_t fl;
			memcpy(&fl, buf + 8, 4);
			if (memcmp(buf + 12, digest_hex(d), DIGEST_HEX_LEN) == 0 &&
			    prog_from_bytes(buf + HDR, len - HDR, prog, NULL) == 0) {
				*flags = fl;
				return 0;
			}
			log_debug("seccomp cache: %s is damaged, recompiling", name);
		}
		berth_error_free(e);
	}
	if (seccomp_compile(sc, prog, flags, err) < 0)
		return -1;
	/* Best effort: a cache that cannot be written only costs time. */
	berth_error *e = NULL;
	if (dfd < 0 && mkdir_p(cache_dir, 0700, &e) == 0)
		dfd = open(cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		size_t n = (*prog)->len * sizeof(struct sock_filter);
		_cleanup_free_ char *out = xmalloc(HDR + n);
		uint32_t fl = *flags;
		char d[DIGEST_STR_LEN + 1];
		sha256_digest((*prog)->filter, n, d);
		memcpy(out, cache_magic, 8);
		memcpy(out + 8, &fl, 4);
		memcpy(out + 12, digest_hex(d), DIGEST_HEX_LEN);
		memcpy(out + HDR, (*prog)->filter, n);
		if (atomic_write_at(dfd, name, out, HDR + n, 0600, false, &e) < 0)
			log_debug("seccomp cache: %s", e->msg);
	}
	berth_error_free(e);
	return 0;
}

int seccomp_load_prog(const struct sock_fprog *prog, unsigned int flags)
{
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog) < 0)
		return -errno;
	return 0;
}

/* ---- Docker's default profile ---- */

/* libseccomp's native arch -> profile name and Go's GOARCH name. */
static const struct {
	uint32_t token;
	const char *scmp, *goarch;
} native_names[] = {
    {SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64", "amd64"},
    {SCMP_ARCH_X86, "SCMP_ARCH_X86", "x86"},
    {SCMP_ARCH_X32, "SCMP_ARCH_X32", "x32"},
    {SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64", "arm64"},
    {SCMP_ARCH_ARM, "SCMP_ARCH_ARM", "arm"},
    {SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE", "ppc64le"},
    {SCMP_ARCH_S390X, "SCMP_ARCH_S390X", "s390x"},
    {SCMP_ARCH_S390, "SCMP_ARCH_S390", "s390"},
    {SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64", "riscv64"},
};

static bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static bool kernel_at_least(const char *want)
{
	struct utsname u;
	unsigned hmaj = 0, hmin = 0, wmaj = 0, wmin = 0;
	if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &hmaj, &hmin) < 1 ||
	    sscanf(want, "%u.%u", &wmaj, &wmin) < 1)
		return false;
	return hmaj > wmaj || (hmaj == wmaj && hmin >= wmin);
}

json_t *seccomp_default_profile(char *const *caps)
{
	const char *scmp = NULL, *goarch = NULL;
	uint32_t native = seccomp_arch_native();
	for (size_t i = 0; i < ARRAY_SIZE(native_names); i++)
		if (native_names[i].token == native) {
			scmp = native_names[i].scmp;
			goarch = native_names[i].goarch;
		}
	json_t *prof = json_object();
	json_object_set_new(prof, "defaultAction", json_string(seccomp_default_action));
	if (seccomp_default_errno_ret >= 0)
		json_object_set_new(prof, "defaultErrnoRet",
		                    json_integer(seccomp_default_errno_ret));
	json_t *arches = json_array();
	for (size_t i = 0; scmp && i < seccomp_default_narch; i++) {
		if (strcmp(seccomp_default_archmap[i].arch, scmp) != 0)
			continue;
		json_array_append_new(arches, json_string(scmp));
		for (const char *const *s = seccomp_default_archmap[i].sub; s && *s; s++)
			json_array_append_new(arches, json_string(*s));
	}
	json_object_set_new(prof, "architectures", arches);
	json_t *calls = json_array();
	for (size_t i = 0; i < seccomp_default_nrules; i++) {
		const struct seccomp_default_rule *r = &seccomp_default_rules[i];
		bool ok = true;
		for (const char *const *c = r->inc_caps; ok && c && *c; c++)
			ok = strv_contains(caps, *c);
		if (ok && r->inc_arches)
			ok = goarch && in_list(r->inc_arches, goarch);
		if (ok && r->min_kernel)
			ok = kernel_at_least(r->min_kernel);
		for (const char *const *c = r->exc_caps; ok && c && *c; c++)
			ok = !strv_contains(caps, *c);
		if (ok && r->exc_arches && goarch)
			ok = !in_list(r->exc_arches, goarch);
		if (!ok)
			continue;
		json_t *o = json_object();
		json_t *names = json_array();
		for (const char *const *n = r->names; n && *n; n++)
			json_array_append_new(names, json_string(*n));
		json_object_set_new(o, "names", names);
		json_object_set_new(o, "action", json_string(r->action));
		if (r->errno_ret >= 0)
			json_object_set_new(o, "errnoRet", json_integer(r->errno_ret));
		if (r->nargs) {
			json_t *args = json_array();
			for (size_t k = 0; k < r->nargs; k++) {
				json_t *a = json_object();
				json_object_set_new(a, "index", json_integer(r->args[k].index));
				json_object_set_new(a, "value",
				                    json_integer((json_int_t)r->args[k].value));
				json_object_set_new(a, "valueTwo",
				                    json_integer((json_int_t)r->args[k].value_two));
				json_object_set_new(a, "op", json_string(r->args[k].op));
				json_array_append_new(args, a);
			}
			json_object_set_new(o, "args", args);
		}
		json_array_append_new(calls, o);
	}
	json_object_set_new(prof, "syscalls", calls);
	return prof;
}
