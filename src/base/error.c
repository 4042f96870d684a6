#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

__attribute__((format(printf, 4, 0))) static int vset(berth_error **err, int code, int errnum,
                                                      const char *fmt, va_list ap)
{
	if (err == NULL || *err != NULL)
		return -1;
	char *msg = xvasprintf(fmt, ap);
	if (errnum) {
		char *full = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	berth_error *e = xcalloc(1, sizeof(*e));
	e->code = code;
	e->sys_errno = errnum;
	e->msg = msg;
	*err = e;
	return -1;
}

int berth_err(berth_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(err, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int berth_err_sys(berth_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int code = BERTH_E_IO;
	if (errnum == ENOENT)
		code = BERTH_E_NOTFOUND;
	else if (errnum == EPERM || errnum == EACCES)
		code = BERTH_E_PERM;
	va_start(ap, fmt);
	vset(err, code, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int berth_err_prefix(berth_error **err, const char *fmt, ...)
{
	if (err == NULL || *err == NULL)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *ctx = xvasprintf(fmt, ap);
	va_end(ap);
	char *full = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = full;
	return -1;
}

void berth_error_free(berth_error *e)
{
	if (e == NULL)
		return;
	free(e->msg);
	free(e);
}

void berth_error_clear(berth_error **err)
{
	if (err == NULL)
		return;
	berth_error_free(*err);
	*err = NULL;
}
