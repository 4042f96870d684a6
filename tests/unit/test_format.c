/* The --format template engine (src/cli/template.c via format.h): Go
 * text/template semantics for what Docker users write. Expected outputs
 * follow Go's rules (maps range in sorted key order, Go's truth, its error
 * texts as Docker wraps them). */
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "cli/format.h"
#include "test.h"

/* Render tmpl against the JSON text data; NULL and *err on failure. */
static char *render(const char *tmpl, const char *data, char **err)
{
	json_t *v = json_loads(data, JSON_DECODE_ANY, NULL);
	if (v == NULL)
		return NULL;
	*err = NULL;
	char *out = cli_template_render(tmpl, v, err);
	json_decref(v);
	return out;
}

#define CHECK_RENDER(tmpl, data, want)                                        \
	do {                                                                  \
		_cleanup_free_ char *_err = NULL;                             \
		_cleanup_free_ char *_out = render(tmpl, data, &_err);        \
		if (_out == NULL)                                             \
			test_failed(__FILE__, __LINE__, "%s: error %s", tmpl, \
			            _err ? _err : "(bad json)");              \
		CHECK(_out != NULL);                                          \
		CHECK_STR_EQ(_out, want);                                     \
	} while (0)

#define CHECK_ERROR(tmpl, data, want)                                                        \
	do {                                                                                 \
		_cleanup_free_ char *_err = NULL;                                            \
		_cleanup_free_ char *_out = render(tmpl, data, &_err);                       \
		if (_out != NULL)                                                            \
			test_failed(__FILE__, __LINE__, "%s: no error, output \"%s\"", tmpl, \
			            _out);                                                   \
		CHECK(_out == NULL);                                                         \
		CHECK_STR_EQ(_err, want);                                                    \
	} while (0)

static const char *const ctr =
    "{\"Name\":\"/web\",\"State\":{\"Running\":true,\"Status\":\"running\",\"Pid\":42,"
    "\"ExitCode\":0},"
    "\"Config\":{\"Labels\":{\"zeta\":\"1\",\"alpha\":\"2\",\"mid\":\"3\"},\"Env\":[],"
    "\"Cmd\":[\"sleep\",\"100\"]},"
    "\"Mounts\":[{\"Source\":\"/a\",\"Destination\":\"/x\"},"
    "{\"Source\":\"/b\",\"Destination\":\"/y\"}],"
    "\"NetworkSettings\":{\"Networks\":{\"bridge\":{\"IPAddress\":\"10.0.0.2\"},"
    "\"alt\":{\"IPAddress\":\"10.1.0.2\"}}},"
    "\"HostConfig\":{\"LogConfig\":{\"Config\":{}}},\"Nil\":null}";

TEST(format_existing_fields_and_functions)
{
	CHECK_RENDER("{{.Name}} {{.State.Pid}}", ctr, "/web 42");
	CHECK_RENDER("a\\tb\\n{{.State.Status}}", ctr, "a\tb\nrunning");
	CHECK_RENDER("{{json .Config.Cmd}}", ctr, "[\"sleep\",\"100\"]");
	CHECK_RENDER("{{index .Config.Labels \"mid\"}} {{index .Config.Cmd 1}}", ctr, "3 100");
	CHECK_RENDER("{{join .Config.Cmd \",\"}}", ctr, "sleep,100");
	CHECK_RENDER("{{upper .State.Status}} {{lower \"AB\"}} {{len .Config.Cmd}}", ctr,
	             "RUNNING ab 2");
	CHECK_RENDER("{{println .Name \"x\"}}", ctr, "/web x\n");
	CHECK_RENDER("{{.Config.Cmd}} {{.Config.Labels}}", ctr,
	             "[sleep 100] map[alpha:2 mid:3 zeta:1]");
	CHECK_RENDER("{{.Nil}}", "{\"Nil\":null,\"Labels\":null}", "[]");
	CHECK_RENDER("{{.Labels}}", "{\"Labels\":null}", "map[]");
}

TEST(format_literals)
{
	CHECK_RENDER("{{\"a\\tb\\n\\\"q\\\"\\\\\"}}", "{}", "a\tb\n\"q\"\\");
	CHECK_RENDER("{{`raw\\n`}}", "{}", "raw\\n");
	CHECK_RENDER("{{\"\\x41\\u00e9\\101\"}}", "{}",
	             "A\xc3\xa9"
	             "A");
	CHECK_RENDER("{{42}} {{-7}} {{0x10}} {{1.5}} {{true}} {{false}}", "{}",
	             "42 -7 16 1.5 true false");
	CHECK_RENDER("{{if true}}t{{end}}{{if false}}f{{end}}", "{}", "t");
	CHECK_ERROR("{{\"abc}}", "{}",
	            "template parsing error: template: :1: unterminated quoted string");
	CHECK_ERROR("{{\"\\q\"}}", "{}", "template parsing error: template: :1: invalid syntax");
	CHECK_ERROR("{{1x}}", "{}",
	            "template parsing error: template: :1: bad number syntax: \"1x\"");
	CHECK_ERROR("{{nil}}", "{}",
	            "template parsing error: template: :1:2: executing \"\" at <nil>: nil is not a "
	            "command");
}

TEST(format_if_truthiness)
{
	/* Go: false, 0, nil, "" and empty arrays and maps are false */
	static const char *const falsy[] = {"false", "0", "0.0", "\"\"", "[]", "{}", "null"};
	static const char *const truthy[] = {"true", "1", "-2", "0.5", "\"x\"", "[0]", "{\"a\":0}"};
	for (size_t i = 0; i < ARRAY_SIZE(falsy); i++) {
		_cleanup_free_ char *data = xasprintf("{\"V\":%s}", falsy[i]);
		CHECK_RENDER("{{if .V}}yes{{else}}no{{end}}", data, "no");
	}
	for (size_t i = 0; i < ARRAY_SIZE(truthy); i++) {
		_cleanup_free_ char *data = xasprintf("{\"V\":%s}", truthy[i]);
		CHECK_RENDER("{{if .V}}yes{{else}}no{{end}}", data, "yes");
	}
	CHECK_RENDER("{{if .State.Running}}up{{else}}down{{end}}", ctr, "up");
	CHECK_RENDER("{{if .State.ExitCode}}bad{{end}}", ctr, "");
	/* a key the object does not have is "no value" in a condition
	 * (Docker's typed structs: a nil pointer such as .State.Health) */
	CHECK_RENDER("{{if .State.Health}}h{{else}}none{{end}}", ctr, "none");
	CHECK_RENDER("{{if .State.Health.Status}}h{{else}}none{{end}}", ctr, "none");
}

TEST(format_else_if_chain)
{
	const char *t = "{{if eq .N 1}}one{{else if eq .N 2}}two{{else if eq .N 3}}three"
	                "{{else}}many{{end}}";
	CHECK_RENDER(t, "{\"N\":1}", "one");
	CHECK_RENDER(t, "{\"N\":2}", "two");
	CHECK_RENDER(t, "{\"N\":3}", "three");
	CHECK_RENDER(t, "{\"N\":9}", "many");
	CHECK_RENDER("{{if .A}}a{{else if .B}}b{{end}}", "{\"A\":0,\"B\":0}", "");
	CHECK_RENDER("{{with .A}}a{{else with .B}}{{.}}{{end}}", "{\"A\":\"\",\"B\":\"bee\"}",
	             "bee");
}

TEST(format_range_arrays_and_maps)
{
	CHECK_RENDER("{{range .Mounts}}{{.Source}} -> {{.Destination}}{{\"\\n\"}}{{end}}", ctr,
	             "/a -> /x\n/b -> /y\n");
	/* maps range in sorted key order */
	CHECK_RENDER("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", ctr,
	             "alpha=2;mid=3;zeta=1;");
	CHECK_RENDER("{{range .Config.Labels}}{{.}}{{end}}", ctr, "231");
	/* "alt" sorts before "bridge" */
	CHECK_RENDER("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", ctr,
	             "10.1.0.2 10.0.0.2 ");
	CHECK_RENDER("{{range $i, $c := .Config.Cmd}}{{$i}}:{{$c}} {{end}}", ctr, "0:sleep 1:100 ");
	CHECK_RENDER("{{range $c := .Config.Cmd}}[{{$c}}]{{end}}", ctr, "[sleep][100]");
	/* else when there is nothing to range over; null ranges as empty */
	CHECK_RENDER("{{range .Config.Env}}x{{else}}empty{{end}}", ctr, "empty");
	CHECK_RENDER("{{range .Nil}}x{{else}}nil{{end}}", ctr, "nil");
	CHECK_RENDER("{{range .HostConfig.LogConfig.Config}}x{{else}}none{{end}}", ctr, "none");
	/* $ stays the top-level value inside */
	CHECK_RENDER("{{range .Config.Cmd}}{{$.Name}}{{end}}", ctr, "/web/web");
	CHECK_RENDER("{{range .A}}{{range .}}{{.}}{{end}};{{end}}", "{\"A\":[[1,2],[3]]}", "12;3;");
	CHECK_RENDER("{{range 3}}{{.}}{{end}}", "{}", "012");
	CHECK_ERROR("{{range .Name}}x{{end}}", ctr,
	            "template parsing error: template: :1:8: executing \"\" at <.Name>: range "
	            "can't iterate over /web");
	CHECK_ERROR("{{range $a, $b, $c := .X}}{{end}}", "{}",
	            "template parsing error: template: :1: too many declarations in range");
}

TEST(format_range_break_continue)
{
	const char *d = "{\"A\":[1,2,3,4,5]}";
	CHECK_RENDER("{{range .A}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", d, "12");
	CHECK_RENDER("{{range .A}}{{if eq . 3}}{{continue}}{{end}}{{.}}{{end}}", d, "1245");
	CHECK_RENDER("{{range .A}}{{range .}}{{break}}{{end}}{{.}}{{end}}", "{\"A\":[[1],[2]]}",
	             "[1][2]");
	CHECK_ERROR("{{break}}", d,
	            "template parsing error: template: :1: {{break}} outside {{range}}");
	CHECK_ERROR("{{range .A}}{{else}}{{continue}}{{end}}", d,
	            "template parsing error: template: :1: {{continue}} outside {{range}}");
}

TEST(format_with)
{
	CHECK_RENDER("{{with .State}}{{.Status}}/{{.Pid}}{{end}}", ctr, "running/42");
	CHECK_RENDER("{{with .State.Health}}{{.Status}}{{else}}none{{end}}", ctr, "none");
	CHECK_RENDER("{{with .State.Health}}{{.Status}}{{else}}none{{end}}",
	             "{\"State\":{\"Health\":{\"Status\":\"healthy\"}}}", "healthy");
	CHECK_RENDER("{{with $s := .State.Status}}{{$s}}{{.}}{{end}}", ctr, "runningrunning");
	CHECK_RENDER("{{with .Config.Env}}x{{end}}", ctr, "");
}

TEST(format_variables_and_scope)
{
	CHECK_RENDER("{{$n := .Name}}{{$n}} {{$}}", "{\"Name\":\"a\"}", "a map[Name:a]");
	CHECK_RENDER("{{$s := .State}}{{$s.Status}} {{$.State.Pid}}", ctr, "running 42");
	CHECK_RENDER("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "{}", "2");
	CHECK_RENDER("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "{}", "21");
	CHECK_RENDER("{{if $v := .A}}{{$v}}{{else}}{{$v}}!{{end}}", "{\"A\":0}", "0!");
	/* a variable lives until the {{end}} of the structure it is declared in */
	CHECK_ERROR("{{if true}}{{$x := 1}}{{end}}{{$x}}", "{}",
	            "template parsing error: template: :1: undefined variable \"$x\"");
	CHECK_ERROR("{{range $i, $v := .A}}{{end}}{{$i}}", "{\"A\":[1]}",
	            "template parsing error: template: :1: undefined variable \"$i\"");
	CHECK_ERROR("{{$y = 1}}", "{}",
	            "template parsing error: template: :1: undefined variable \"$y\"");
	/* range variables are fresh in each iteration */
	CHECK_RENDER("{{range .A}}{{$seen := .}}{{$seen}}{{end}}", "{\"A\":[1,2]}", "12");
}

TEST(format_comparisons)
{
	CHECK_RENDER("{{eq .S \"x\"}} {{eq .S \"y\" \"x\"}} {{eq .N 1 2 3}} {{ne .N 3}}",
	             "{\"S\":\"x\",\"N\":3}", "true true true false");
	CHECK_RENDER("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 3 2}} {{lt \"a\" \"b\"}} {{gt 1.5 1}}",
	             "{}", "true true false true true true");
	CHECK_RENDER("{{eq true true}} {{eq false true}}", "{}", "true false");
	CHECK_ERROR("{{eq .S 1}}", "{\"S\":\"x\"}",
	            "template parsing error: template: :1:2: executing \"\" at <eq .S 1>: error "
	            "calling eq: incompatible types for comparison");
	CHECK_ERROR("{{lt true false}}", "{}",
	            "template parsing error: template: :1:2: executing \"\" at <lt true false>: "
	            "error calling lt: invalid type for comparison");
	CHECK_ERROR("{{eq 1}}", "{}",
	            "template parsing error: template: :1:2: executing \"\" at <eq 1>: error "
	            "calling eq: missing argument for comparison");
	CHECK_ERROR("{{ne 1}}", "{}",
	            "template parsing error: template: :1:2: executing \"\" at <ne>: wrong number "
	            "of args for ne: want 2 got 1");
}

TEST(format_logic_functions)
{
	/* and/or return an argument, as Go's do */
	CHECK_RENDER("{{and 1 \"x\"}} {{and 1 0 2}} {{or 0 \"\" \"z\"}} {{or 0 \"\"}}", "{}",
	             "x 0 z ");
	CHECK_RENDER("{{not 0}} {{not .A}} {{if and .A (not .B)}}ok{{end}}",
	             "{\"A\":[1],\"B\":false}", "true false ok");
	/* and stops at the first false argument: .X.Y is never evaluated */
	CHECK_RENDER("{{and .A .X.Y}}", "{\"A\":0,\"X\":\"s\"}", "0");
}

TEST(format_pipelines_and_printf)
{
	CHECK_RENDER("{{.Name | upper}}", ctr, "/WEB");
	CHECK_RENDER("{{.State.Status | printf \"%s!\"}}", ctr, "running!");
	CHECK_RENDER("{{.Config.Cmd | len | printf \"%d\"}}", ctr, "2");
	CHECK_RENDER("{{printf \"%s=%d %v %q %t %%\" \"a\" 5 .Config.Cmd \"q\\\"\" true}}", ctr,
	             "a=5 [sleep 100] \"q\\\"\" true %");
	CHECK_RENDER("{{printf \"%5s|%-5s|%05d|%.2f|%x\" \"ab\" \"cd\" 42 3.14159 255}}", "{}",
	             "   ab|cd   |00042|3.14|ff");
	CHECK_RENDER("{{printf \"%d %d\" 1}}", "{}", "1 %!d(MISSING)");
	CHECK_RENDER("{{print \"a\" 1 2 \"b\"}}", "{}", "a1 2b");
	CHECK_RENDER("{{(index .Mounts 1).Source}} {{len (index .Mounts 0)}}", ctr, "/b 2");
	CHECK_RENDER("{{index .M \"a\" 1}}", "{\"M\":{\"a\":[5,6]}}", "6");
	CHECK_RENDER("{{split \"a,b\" \",\"}} {{title \"hello world\"}} {{pad \"x\" 1 2}}| "
	             "{{truncate \"abcdef\" 3}}",
	             "{}", "[a b] Hello World  x  | abc");
	CHECK_ERROR("{{.Name .State}}", ctr,
	            "template parsing error: template: :1:2: executing \"\" at <.Name>: can't give "
	            "argument to non-function .Name");
	CHECK_ERROR("{{.Name | \"x\"}}", ctr,
	            "template parsing error: template: :1: non executable command in pipeline "
	            "stage 2");
	CHECK_ERROR("{{index .Config.Cmd 5}}", ctr,
	            "template parsing error: template: :1:2: executing \"\" at <index .Config.Cmd "
	            "5>: error calling index: index out of range: 5");
	CHECK_ERROR("{{len 3}}", ctr,
	            "template parsing error: template: :1:2: executing \"\" at <len 3>: error "
	            "calling len: len of type int");
}

TEST(format_slice)
{
	CHECK_RENDER(
	    "{{slice .Id 0 3}} {{slice .Id 4}} {{slice .Id}} {{slice .L 1 2}} {{slice .L 1 2 3}}",
	    "{\"Id\":\"abcdef\",\"L\":[1,2,3]}", "abc ef abcdef [2] [2]");
	CHECK_ERROR("{{slice .Id 2 1}}", "{\"Id\":\"abc\"}",
	            "template parsing error: template: :1:2: executing \"\" at <slice .Id 2 1>: "
	            "error calling slice: invalid slice index: 2 > 1");
	CHECK_ERROR("{{slice .Id 5}}", "{\"Id\":\"abc\"}",
	            "template parsing error: template: :1:2: executing \"\" at <slice .Id 5>: "
	            "error calling slice: index out of range: 5");
	CHECK_ERROR("{{slice .Id 0 1 2}}", "{\"Id\":\"abc\"}",
	            "template parsing error: template: :1:2: executing \"\" at <slice .Id 0 1 2>: "
	            "error calling slice: cannot 3-index slice a string");
}

TEST(format_trim_markers_and_comments)
{
	CHECK_RENDER("a  {{- .X -}}  \n b", "{\"X\":1}", "a1b");
	CHECK_RENDER("{{range .A -}}\n  {{.}}\n{{- end}}", "{\"A\":[1,2]}", "12");
	CHECK_RENDER("x {{-3}}", "{}", "x -3");
	CHECK_RENDER("a{{/* a comment */}}b {{- /* trimmed */ -}} c", "{}", "abc");
	CHECK_ERROR("{{/* open", "{}", "template parsing error: template: :1: unclosed comment");
}

TEST(format_parse_errors)
{
	CHECK_ERROR("{{if .A}}x", "{}", "template parsing error: template: :1: unexpected EOF");
	CHECK_ERROR("{{range .A}}x{{else}}y", "{}",
	            "template parsing error: template: :1: unexpected EOF");
	CHECK_ERROR("a\n{{with .A}}\nx", "{}",
	            "template parsing error: template: :3: unexpected EOF");
	CHECK_ERROR("x{{end}}", "{}", "template parsing error: template: :1: unexpected {{end}}");
	CHECK_ERROR("x\n{{else}}", "{}",
	            "template parsing error: template: :2: unexpected {{else}}");
	CHECK_ERROR("{{if .A}}{{else}}{{else}}{{end}}", "{}",
	            "template parsing error: template: :1: expected end; found {{else}}");
	CHECK_ERROR("{{if}}{{end}}", "{}",
	            "template parsing error: template: :1: missing value for if");
	CHECK_ERROR("{{range}}{{end}}", "{}",
	            "template parsing error: template: :1: missing value for range");
	CHECK_ERROR("{{}}", "{}",
	            "template parsing error: template: :1: missing value for command");
	CHECK_ERROR("{{nofunc .A}}", "{}",
	            "template parsing error: template: :1: function \"nofunc\" not defined");
	CHECK_ERROR("{{.ID", "{}", "template parsing error: template: :1: unclosed action");
	CHECK_ERROR("{{if .A}}", "{}", "template parsing error: template: :1: unexpected EOF");
	CHECK_ERROR("{{(.A}}", "{}",
	            "template parsing error: template: :1: unexpected \"}\" in command");
	CHECK_ERROR("{{.A)}}", "{}",
	            "template parsing error: template: :1: unexpected right paren");
	CHECK_ERROR("{{$x}}", "{}",
	            "template parsing error: template: :1: undefined variable \"$x\"");
	CHECK_ERROR("{{end x}}", "{}",
	            "template parsing error: template: :1: unexpected \"x\" in end");
	CHECK_ERROR("{{template \"x\"}}", "{}",
	            "template parsing error: template: :1: {{template}} is not supported");
}

TEST(format_exec_errors)
{
	CHECK_ERROR("{{.Nope}}", ctr,
	            "template parsing error: template: :1:2: executing \"\" at <.Nope>: map has no "
	            "entry for key \"Nope\"");
	CHECK_ERROR("x\n {{range .Mounts}}{{.Nope}}{{end}}", ctr,
	            "template parsing error: template: :2:20: executing \"\" at <.Nope>: map has "
	            "no entry for key \"Nope\"");
	CHECK_ERROR("{{$m := .State}}{{$m.Nope}}", ctr,
	            "template parsing error: template: :1:18: executing \"\" at <$m.Nope>: map has "
	            "no entry for key \"Nope\"");
	CHECK_ERROR("{{.Name.X}}", ctr,
	            "template parsing error: template: :1:2: executing \"\" at <.Name.X>: can't "
	            "evaluate field X in type string");
}

static char *nested(const char *open, const char *close, int n)
{
	strbuf sb;
	sb_init(&sb);
	for (int i = 0; i < n; i++)
		sb_append(&sb, open);
	sb_append(&sb, "x");
	for (int i = 0; i < n; i++)
		sb_append(&sb, close);
	return sb_steal(&sb);
}

TEST(format_nesting_cap)
{
	_cleanup_free_ char *ok = nested("{{if true}}", "{{end}}", 100);
	CHECK_RENDER(ok, "{}", "x");
	_cleanup_free_ char *deep = nested("{{if true}}", "{{end}}", 101);
	CHECK_ERROR(
	    deep, "{}",
	    "template parsing error: template: :1: nesting too deep (more than 100 levels)");
	_cleanup_free_ char *parens = nested("{{len (", ")}}", 1);
	CHECK(parens != NULL);
	strbuf sb;
	sb_init(&sb);
	sb_append(&sb, "{{print ");
	for (int i = 0; i < 200; i++)
		sb_append(&sb, "(print ");
	sb_append(&sb, "1");
	for (int i = 0; i < 200; i++)
		sb_appendc(&sb, ')');
	sb_append(&sb, "}}");
	_cleanup_free_ char *p = sb_steal(&sb);
	CHECK_ERROR(
	    p, "{}",
	    "template parsing error: template: :1: nesting too deep (more than 100 levels)");
}

/* A list command's row: fields read anywhere (inside if/range/with too)
 * are "used"; the table header is the template run against the headers. */
TEST(format_table_uses_and_header)
{
	char *err = NULL;
	_cleanup_format_ cli_format *f =
	    cli_format_new("table {{.ID}}\t{{if eq .Status \"x\"}}X{{end}}{{$.Names}}"
	                   "{{range .Mounts}}{{end}}{{with .Size}}{{end}}",
	                   "table {{.ID}}", &err);
	CHECK(f != NULL);
	CHECK(cli_format_uses(f, "ID"));
	CHECK(cli_format_uses(f, "Status"));
	CHECK(cli_format_uses(f, "Mounts"));
	CHECK(cli_format_uses(f, "Size"));
	CHECK(cli_format_uses(f, "Names"));
	CHECK(!cli_format_uses(f, "Command"));
	cli_format_set_type(f, "*formatter.ContainerContext");
	json_t *row = json_pack("{s:s, s:s, s:[], s:s, s:s}", "ID", "abc", "Status", "x", "Mounts",
	                        "Size", "", "Names", "web");
	CHECK(cli_format_row(f, stdout, row, &err) == 0);
	json_decref(row);
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	static const cli_column cols[] = {{"ID", "CONTAINER ID"}, {"Names", "NAMES"}};
	cli_format_flush(f, mem, cols, ARRAY_SIZE(cols));
	fclose(mem);
	/* Docker runs the template on the headers: eq "STATUS" "x" is false,
	 * and the header ends where ranging over "MOUNTS" fails */
	CHECK_STR_EQ(buf, "CONTAINER ID   NAMES\nabc            Xweb\n");
	free(buf);

	_cleanup_format_ cli_format *g = cli_format_new("{{if .A}}{{.B}}{{end}}", "", &err);
	CHECK(g != NULL);
	CHECK(cli_format_uses(g, "B"));
	CHECK(!cli_format_uses(g, "C"));
	_cleanup_format_ cli_format *h = cli_format_new("{{json .}}", "", &err);
	CHECK(h != NULL && cli_format_uses(h, "C"));
	_cleanup_format_ cli_format *k = cli_format_new("{{$}}", "", &err);
	CHECK(k != NULL && cli_format_uses(k, "C"));
}

TEST(format_row_struct_errors)
{
	char *err = NULL;
	_cleanup_format_ cli_format *f =
	    cli_format_new("{{if .Names}}{{.Nope}}{{end}}", "table {{.ID}}", &err);
	CHECK(f != NULL);
	cli_format_set_type(f, "*formatter.ContainerContext");
	json_t *row = json_pack("{s:s}", "Names", "web");
	FILE *null = fopen("/dev/null", "w");
	CHECK(cli_format_row(f, null, row, &err) < 0);
	fclose(null);
	json_decref(row);
	CHECK_STR_EQ(err, "template parsing error: template: :1:15: executing \"\" at <.Nope>: "
	                  "can't evaluate field Nope in type *formatter.ContainerContext");
	free(err);
	err = NULL;
	/* a row's unknown field is an error in a condition too (a struct) */
	_cleanup_format_ cli_format *g = cli_format_new("{{if .Nope}}x{{end}}", "", &err);
	cli_format_set_type(g, "*formatter.ContainerContext");
	row = json_pack("{s:s}", "Names", "web");
	null = fopen("/dev/null", "w");
	CHECK(cli_format_row(g, null, row, &err) < 0);
	fclose(null);
	json_decref(row);
	CHECK(err && strstr(err, "can't evaluate field Nope"));
	free(err);
}

/* Malformed templates never crash and always say why. */
TEST(format_malformed_inputs)
{
	static const char *const bad[] = {"{{",
	                                  "}}{{",
	                                  "{{{{}}",
	                                  "{{if",
	                                  "{{if .A",
	                                  "{{range $",
	                                  "{{range $x :=",
	                                  "{{$x :=}}",
	                                  "{{with}}",
	                                  "{{else if .A}}",
	                                  "{{if .A}}{{else if}}{{end}}",
	                                  "{{(}}",
	                                  "{{)}}",
	                                  "{{\"\\",
	                                  "{{`",
	                                  "{{'a'}}",
	                                  "{{.A.}}",
	                                  "{{$.}}",
	                                  "{{|}}",
	                                  "{{.A|}}",
	                                  "{{- -}}",
	                                  "{{/**/ }}",
	                                  "{{range $a, := .}}{{end}}",
	                                  "{{1e999999}}",
	                                  "{{--1}}",
	                                  "{{printf}}"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *err = NULL;
		_cleanup_free_ char *out = render(bad[i], "{\"A\":1}", &err);
		if (out != NULL)
			test_failed(__FILE__, __LINE__, "%s: no error, output \"%s\"", bad[i], out);
		CHECK(out == NULL);
		CHECK(err != NULL && str_has_prefix(err, "template parsing error: template: :"));
	}
}

/* Docker's header functions return their argument: {{upper .Names}} heads
 * its column "NAMES"; {{json .}} shows the row's JSON view. */
TEST(format_header_functions_and_json_view)
{
	char *err = NULL;
	_cleanup_format_ cli_format *f =
	    cli_format_new("table {{upper .Names}}\t{{json .Size}}\t{{truncate .ID 2}}", "", &err);
	CHECK(f != NULL);
	json_t *row = json_pack("{s:s, s:s, s:s}", "Names", "web", "Size", "1B", "ID", "abcdef");
	CHECK(cli_format_row(f, stdout, row, &err) == 0);
	json_decref(row);
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	static const cli_column cols[] = {{"ID", "CONTAINER ID"}};
	cli_format_flush(f, mem, cols, ARRAY_SIZE(cols));
	fclose(mem);
	CHECK_STR_EQ(buf, "NAMES     SIZE      CONTAINER ID\nWEB       \"1B\"      ab\n");
	free(buf);

	_cleanup_format_ cli_format *g =
	    cli_format_new("{{json .}}|{{range .L}}{{json .}}{{end}}", "", &err);
	CHECK(g != NULL);
	row = json_pack("{s:b, s:[i]}", "Official", 1, "L", 7);
	json_t *view = json_pack("{s:s}", "Official", "[OK]");
	buf = NULL;
	mem = open_memstream(&buf, &len);
	CHECK(cli_format_row_view(g, mem, row, view, &err) == 0);
	fclose(mem);
	json_decref(row);
	json_decref(view);
	CHECK_STR_EQ(buf, "{\"Official\":\"[OK]\"}|7\n");
	free(buf);
}
