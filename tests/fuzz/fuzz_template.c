/* libFuzzer harness: the --format template parser and evaluator
 * (src/cli/format.c, template.c and template_parse.c, built into this
 * harness: libberth has no cli/). The input's first line is the template,
 * the rest a JSON value to render it against, as a list row (struct
 * semantics) and as inspect's object. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* small limits, so a nest of ranges cannot take the fuzzer's time */
#define CLI_TMPL_MAX_STEPS 100000
#define CLI_TMPL_MAX_OUTPUT (1u << 20)
#include "../../src/cli/format.c"
#include "../../src/cli/template.c"
#include "../../src/cli/template_parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	if (text == NULL)
		return 0;
	char *nl = strchr(text, '\n');
	const char *json = "";
	if (nl) {
		*nl = 0;
		json = nl + 1;
	}
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		v = json_pack("{s:s, s:{s:i}}", "ID", "abc", "State", "Pid", 1);
	char *errmsg = NULL;
	char *out = cli_template_render(text, v, &errmsg);
	free(out);
	free(errmsg);
	errmsg = NULL;
	FILE *null = fopen("/dev/null", "w");
	cli_format *f = cli_format_new(text, "table {{.ID}}", &errmsg);
	if (f && null) {
		cli_format_set_type(f, "*formatter.ContainerContext");
		(void)cli_format_uses(f, "ID");
		cli_format_row(f, null, v, &errmsg);
		static const cli_column cols[] = {{"ID", "CONTAINER ID"}};
		cli_format_flush(f, null, cols, 1);
	}
	cli_format_free(f);
	free(errmsg);
	if (null)
		fclose(null);
	json_decref(v);
	free(text);
	return 0;
}
