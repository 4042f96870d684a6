/* libFuzzer harness: `berth load` of arbitrary bytes (docker-save and OCI
 * layout archives, compressed or not) into a scratch store. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "base/fs.h"
#include "image/image.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/berth-fuzz-load-XXXXXX";

/* libFuzzer ends a timed run with exit(): remove the scratch store then */
static void remove_dir(void)
{
	berth_error *err = NULL;
	if (rm_rf(dir, &err) < 0)
		berth_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool made;
	if (!made) {
		if (mkdtemp(dir) == NULL)
			abort();
		made = true;
		atexit(remove_dir);
	}
	char root[64], run[64];
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	berth_store *s = NULL;
	berth_error *err = NULL;
	if (store_open(root, run, &s, &err) < 0)
		abort();
	int fd = memfd_create("archive", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	char **report = NULL;
	if (image_load(s, fd, &report, &err) < 0)
		berth_error_free(err);
	strv_free(report);
	close(fd);
	store_close(s);
	return 0;
}
