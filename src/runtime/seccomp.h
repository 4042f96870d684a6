/* seccomp: OCI linux.seccomp -> classic BPF through libseccomp, loading
 * the program in the container child, and Docker's default profile. */
#ifndef BERTH_RUNTIME_SECCOMP_H
#define BERTH_RUNTIME_SECCOMP_H

#include <linux/filter.h>

#include "base/error.h"
#include "base/json.h"

/* Compile an OCI linux.seccomp object (defaultAction, defaultErrnoRet,
 * architectures, flags, syscalls[] with names, action, errnoRet and
 * args[] {index, value, valueTwo, op}) into a BPF program. Syscall names
 * this libseccomp does not know are skipped (logged at debug), as runc
 * and crun do; unknown actions, ops, arches and flags are errors.
 * *prog is one allocation (the filter follows the header): free it with
 * seccomp_prog_free() or free(); never free prog->filter on its own.
 * *flags are SECCOMP_FILTER_FLAG_* for seccomp(2). Runs in the parent:
 * libseccomp allocates. */
int seccomp_compile(json_t *seccomp, struct sock_fprog **prog, unsigned int *flags,
                    berth_error **err);
/* Same, through a cache of compiled programs in cache_dir (created 0700
 * if missing; e.g. under the runroot): compiling Docker's profile for three
 * x86 ABIs takes tens of milliseconds, reading it back well under one. Keyed
 * by the profile's canonical JSON, the libseccomp version and the native
 * arch. cache_dir NULL: no cache. */
int seccomp_compile_cached(json_t *seccomp, const char *cache_dir, struct sock_fprog **prog,
                           unsigned int *flags, berth_error **err);
void seccomp_prog_free(struct sock_fprog *prog);
/* In the container child just before execve: seccomp(SECCOMP_SET_MODE_FILTER,
 * flags, prog), nothing else (no allocation). Returns 0 or -errno. The
 * caller sets no_new_privs first unless it keeps CAP_SYS_ADMIN. */
int seccomp_load_prog(const struct sock_fprog *prog, unsigned int flags);
/* Docker's default profile as an OCI linux.seccomp object for this host's
 * architecture, with the capability (CAP_* names, the bounding set),
 * architecture and kernel-version includes/excludes resolved. */
json_t *seccomp_default_profile(char *const *capabilities);

#endif
