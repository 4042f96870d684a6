/* libFuzzer: the cgroup host-layout parsers (/proc/cgroups, mountinfo,
 * /proc/self/cgroup) on arbitrary text, split into three parts at NULs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "runtime/cgroup_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *buf = xmalloc(size + 3);
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	const char *parts[3] = {buf, NULL, NULL};
	for (int i = 1; i < 3; i++)
		parts[i] = parts[i - 1] + strlen(parts[i - 1]) + 1;
	struct cg_layout l = {0};
	berth_error *e = NULL;
	cg_parse_proc_cgroups(parts[0], &l, &e);
	berth_error_clear(&e);
	cg_parse_mountinfo(parts[1], &l, &e);
	berth_error_clear(&e);
	cg_parse_proc_self_cgroup(parts[2], &l, &e);
	berth_error_clear(&e);
	cg_layout_clear(&l);
	return 0;
}
