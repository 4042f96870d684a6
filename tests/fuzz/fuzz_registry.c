/* libFuzzer harness for the registry protocol parsers (src/registry/proto.c):
 * routes, names, tags, ranges, challenges, basic auth and Link headers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/proto.h"
#include "registry/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	reg_route r;
	reg_route_parse(s, &r);
	reg_route_clear(&r);
	(void)reg_name_valid(s);
	(void)reg_tag_valid(s);
	uint64_t a, b;
	(void)http_range_parse(s, 1000, &a, &b);
	(void)reg_content_range_parse(s, &a, &b);
	(void)reg_upload_range_parse(s, &a);
	size_t n;
	(void)reg_parse_page_n(s, &n);
	reg_challenge c;
	if (reg_challenge_parse(s, &c) == 0)
		reg_challenge_clear(&c);
	char *u = NULL, *p = NULL;
	if (http_basic_auth_parse(s, &u, &p) == 0) {
		free(u);
		free(p);
	}
	free(reg_link_next(s));
	free(s);
	return 0;
}
