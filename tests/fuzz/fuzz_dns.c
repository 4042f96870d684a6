/* libFuzzer harness: DNS queries as the embedded DNS server reads them,
 * and the replies it builds from them. */
#include <stddef.h>
#include <stdint.h>

#include "network/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dns_query q;
	if (dns_parse_query(data, size, &q) == 0) {
		net_addr a[2] = {{.family = 2, .b = {10, 0, 0, 2}}, {.family = 10, .b = {0xfd}}};
		uint8_t out[512];
		(void)dns_build_reply(data, &q, a, 2, DNS_RCODE_OK, out, sizeof(out));
		(void)dns_build_reply(data, &q, NULL, 0, DNS_RCODE_NXDOMAIN, out, sizeof(out));
	}
	return 0;
}
