/* libFuzzer harness: image configs (src/image/config.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Dumping is idempotent: parse(dump(c)) dumps the same bytes. jansson
 * cannot read integers beyond 64 bits back (Go writes 1e20 as digits). */
static void check_round_trip(const image_config *c)
{
	char *s = image_config_dump(c);
	image_config *again = NULL;
	berth_error *e = NULL;
	if (image_config_parse(s, strlen(s), &again, &e) < 0) {
		if (strstr(e->msg, "too big") == NULL)
			abort();
		berth_error_free(e);
		free(s);
		return;
	}
	char *s2 = image_config_dump(again);
	if (strcmp(s, s2) != 0)
		abort();
	free(s2);
	free(s);
	image_config_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	image_config *c = NULL;
	berth_error *e = NULL;
	if (image_config_parse((const char *)data, size, &c, &e) < 0) {
		if (e == NULL || c != NULL)
			abort();
		berth_error_free(e);
		return 0;
	}
	check_round_trip(c);
	char **ids = image_config_chain_ids(c);
	for (size_t i = 0; ids[i]; i++)
		free(ids[i]);
	free(ids);
	/* The setters keep the document valid, whatever shape it had. */
	image_config_set_label(c, "fuzz", "1");
	image_config_set_run_string(c, "User", "nobody");
	char *env[] = {"A=1", NULL};
	image_config_set_run_strv(c, "Env", env);
	char *ports[] = {"80/tcp", "53/udp", NULL};
	image_config_set_run_set(c, "ExposedPorts", ports);
	image_config_add_diff_id(
	    c, "sha256:d848b80508bfe8fe971527426066a6e610a0a05f8908e60ddac169324004edb6");
	image_config_add_history(c, &(image_history){.created_by = "fuzz", .empty_layer = true});
	image_config_set_string(c, "author", "fuzz");
	check_round_trip(c);
	image_config_free(c);
	return 0;
}
