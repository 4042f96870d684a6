/* libFuzzer harness: the container module's small text parsers: /etc/subuid
 * and /etc/subgid lines (userns-remap) and /proc/<pid>/net/dev (stats). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container/container.h"
#include "container/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	json_t *m = NULL;
	if (ctr_subid_mappings(text, size, "dockremap", "999", &m) > 0)
		json_decref(m);
	uint64_t rx, tx;
	(void)container_netdev_sum(text, size, &rx, &tx);
	return 0;
}
