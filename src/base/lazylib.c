#include "base/lazylib.h"

#include "base/cleanup.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const sonames[] = {
    [LAZY_CURL] = "libcurl.so.4",
    [LAZY_NFTABLES] = "libnftables.so.1",
    [LAZY_MHD] = "libmicrohttpd.so.12",
    [LAZY_ARCHIVE] = "libarchive.so.13",
};

static void *handles[ARRAY_SIZE(sonames)];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void __attribute__((noreturn)) fatal(const char *what, const char *detail)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "berth: cannot load %s: %s\n", what,
	                 detail ? detail : "unknown error");
	if (n > 0 && write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nothing more to do */
	}
	abort();
}

void *lazy_sym(enum lazy_lib lib, const char *name)
{
	if ((size_t)lib >= ARRAY_SIZE(sonames) || sonames[lib] == NULL)
		fatal(name, "no library registered for it");
	pthread_mutex_lock(&lock);
	if (handles[lib] == NULL) {
		handles[lib] = dlopen(sonames[lib], RTLD_NOW | RTLD_LOCAL);
		if (handles[lib] == NULL) {
			pthread_mutex_unlock(&lock);
			fatal(sonames[lib], dlerror());
		}
	}
	void *p = dlsym(handles[lib], name);
	pthread_mutex_unlock(&lock);
	if (p == NULL)
		fatal(name, dlerror());
	return p;
}
