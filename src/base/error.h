/* berth error convention: functions return < 0 and fill *err. */
#ifndef BERTH_BASE_ERROR_H
#define BERTH_BASE_ERROR_H

#include <stdarg.h>

/* Error codes. Front ends map these to exit codes / HTTP statuses. */
enum berth_errcode {
	BERTH_E_GENERIC = 1,
	BERTH_E_INVALID, /* bad user input: flags, references, files */
	BERTH_E_NOTFOUND, /* no such image/container/volume/network/blob */
	BERTH_E_CONFLICT, /* name in use, image in use, wrong state */
	BERTH_E_IO, /* system call failed */
	BERTH_E_CORRUPT, /* digest mismatch, malformed stored data */
	BERTH_E_UNSUPPORTED,
	BERTH_E_PERM,
	BERTH_E_NETWORK,
	BERTH_E_AUTH,
	BERTH_E_CANNOT_INVOKE, /* exec: permission denied (126) */
	BERTH_E_CMD_NOT_FOUND, /* exec: not found (127) */
};

typedef struct berth_error {
	int code; /* enum berth_errcode */
	int sys_errno; /* errno at the failure, 0 if none */
	char *msg;
} berth_error;

/* Fill *err (if err != NULL and *err == NULL) and return -1. */
int berth_err(berth_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)". */
int berth_err_sys(berth_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix context to an existing error: "ctx: old message". Returns -1. */
int berth_err_prefix(berth_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void berth_error_free(berth_error *e);
void berth_error_clear(berth_error **err);

static inline void berth_error_freep(berth_error **e)
{
	berth_error_free(*e);
}
#define _cleanup_error_ __attribute__((cleanup(berth_error_freep)))

#endif
