/* Network counters of a container for `berth stats` (Docker's NET I/O):
 * the interfaces of its network namespace, read from its init's
 * /proc/<pid>/net/dev, loopback excluded (Docker counts its endpoints'
 * interfaces only). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "container/container.h"

/* One "  eth0: rx_bytes rx_packets ... tx_bytes ..." line: receive has 8
 * columns, transmit's first is the 9th. */
static bool netdev_line(const char *line, size_t len, char *name, size_t namecap, uint64_t *rx,
                        uint64_t *tx)
{
	const char *colon = memchr(line, ':', len);
	if (colon == NULL)
		return false;
	const char *a = line;
	while (a < colon && (*a == ' ' || *a == '\t'))
		a++;
	size_t nl = (size_t)(colon - a);
	if (nl == 0 || nl >= namecap)
		return false;
	memcpy(name, a, nl);
	name[nl] = 0;
	uint64_t col[9];
	const char *p = colon + 1, *end = line + len;
	for (int i = 0; i < 9; i++) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return false;
		uint64_t v = 0;
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p - '0');
			if (v > (UINT64_MAX - d) / 10)
				return false;
			v = v * 10 + d;
			p++;
		}
		col[i] = v;
	}
	*rx = col[0];
	*tx = col[8];
	return true;
}

int container_netdev_sum(const char *text, size_t len, uint64_t *rx, uint64_t *tx)
{
	*rx = *tx = 0;
	int n = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char name[64];
		uint64_t r, t;
		if (netdev_line(p, ll, name, sizeof(name), &r, &t) && strcmp(name, "lo") != 0) {
			*rx += r;
			*tx += t;
			n++;
		}
		p += ll + (nl ? 1 : 0);
	}
	return n;
}

int container_net_io(const ctr_record *r, uint64_t *rx, uint64_t *tx, berth_error **err)
{
	*rx = *tx = 0;
	const char *mode = json_get_str(json_object_get(r->config, "HostConfig"), "NetworkMode");
	/* the host's interfaces are not the container's (Docker shows 0B / 0B) */
	if (mode != NULL && !strcmp(mode, "host"))
		return 0;
	if (r->st.pid <= 0)
		return 0;
	_cleanup_free_ char *path = xasprintf("/proc/%d/net/dev", r->st.pid);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (read_file(path, &text, &len, err) < 0)
		return -1;
	container_netdev_sum(text, len, rx, tx);
	return 0;
}
