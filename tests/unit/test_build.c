#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/str.h"
#include "base/xalloc.h"
#include "build/dockerfile.h"
#include "build/dockerignore.h"
#include "test.h"

static dockerfile *parse(const char *src, berth_error **err)
{
	dockerfile *df = NULL;
	if (dockerfile_parse(src, strlen(src), "Dockerfile", &df, err) < 0)
		return NULL;
	return df;
}

static const char *env_lookup(void *ud, const char *name)
{
	char **kv = ud;
	size_t n = strlen(name);
	for (; *kv; kv++)
		if (!strncmp(*kv, name, n) && (*kv)[n] == '=')
			return *kv + n + 1;
	return NULL;
}

TEST(df_every_instruction)
{
	const char *src = "# syntax=docker/dockerfile:1\n"
	                  "ARG BASE=busybox\n"
	                  "FROM ${BASE} AS build\n"
	                  "run echo hi \\\n"
	                  "  # a comment inside\n"
	                  "  && echo there\n"
	                  "CMD [\"/bin/sh\", \"-c\", \"echo x\"]\n"
	                  "ENTRYPOINT /bin/true\n"
	                  "LABEL a=b \"c d\"=\"e f\"\n"
	                  "EXPOSE 80/tcp 53/udp\n"
	                  "ENV A=1 B=\"two words\"\n"
	                  "ENV LEGACY some value\n"
	                  "ADD --chown=1:1 --chmod=644 a.tar /x/\n"
	                  "COPY --from=build /a /b\n"
	                  "VOLUME [\"/data\"]\n"
	                  "USER nobody\n"
	                  "WORKDIR /w\n"
	                  "ONBUILD RUN echo later\n"
	                  "STOPSIGNAL SIGTERM\n"
	                  "HEALTHCHECK --interval=5s CMD true\n"
	                  "SHELL [\"/bin/sh\", \"-c\"]\n"
	                  "MAINTAINER someone\n";
	berth_error *e = NULL;
	dockerfile *df = parse(src, &e);
	CHECK(df != NULL);
	CHECK_STR_EQ(df->syntax, "docker/dockerfile:1");
	CHECK_INT_EQ(df->n, 19);
	CHECK_STR_EQ(df->instrs[0].keyword, "arg");
	CHECK_STR_EQ(df->instrs[2].keyword, "run");
	CHECK_INT_EQ(df->instrs[2].line, 4);
	CHECK_STR_EQ(df->instrs[2].args[0], "echo hi   && echo there");
	CHECK(df->instrs[3].exec_form);
	CHECK_INT_EQ(strv_len(df->instrs[3].args), 3);
	CHECK(!df->instrs[4].exec_form);
	CHECK_STR_EQ(df_flag(&df->instrs[9], "chown"), "1:1");
	CHECK_STR_EQ(df_flag(&df->instrs[9], "chmod"), "644");
	CHECK_STR_EQ(df_flag(&df->instrs[10], "from"), "build");
	CHECK(df->instrs[11].exec_form);
	CHECK_STR_EQ(df->instrs[16].keyword, "healthcheck");
	CHECK_STR_EQ(df_flag(&df->instrs[16], "interval"), "5s");
	CHECK_STR_EQ(df->instrs[18].keyword, "maintainer");
	dockerfile_free(df);
}

TEST(df_errors_name_file_and_line)
{
	struct {
		const char *src, *needle;
	} cases[] = {
	    {"FROM busybox\nFOO bar\n", "Dockerfile:2: unknown instruction: FOO"},
	    {"RUN true\n", "Dockerfile:1: no build stage in current context"},
	    {"FROM busybox\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc"},
	    {"FROM busybox\nWORKDIR a b\n", "WORKDIR requires exactly one argument"},
	    {"FROM busybox\nCOPY x\n", "COPY requires at least two arguments"},
	    {"FROM busybox\nSHELL /bin/sh\n", "SHELL requires the arguments to be in JSON form"},
	    {"FROM busybox\nCOPY --bogus=1 a b\n", "Dockerfile:2: unknown flag: bogus"},
	    {"FROM a b\n", "FROM requires either one or three arguments"},
	    {"FROM busybox\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD"},
	    {"# escape=x\nFROM busybox\n", "invalid escape token"},
	    {"", "file with no instructions"},
	    {"FROM busybox\nHEALTHCHECK foo\n", "Unknown type in HEALTHCHECK"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		berth_error *e = NULL;
		dockerfile *df = parse(cases[i].src, &e);
		CHECK(df == NULL);
		CHECK(e != NULL);
		if (strstr(e->msg, cases[i].needle) == NULL) {
			test_failed(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, e->msg,
			            cases[i].needle);
			return;
		}
		berth_error_free(e);
	}
}

TEST(df_heredocs)
{
	const char *src = "FROM busybox\n"
	                  "RUN <<EOF\n"
	                  "echo $HOME\n"
	                  "echo two\n"
	                  "EOF\n"
	                  "COPY <<-\"END\" /etc/x\n"
	                  "\t\tliteral $X\n"
	                  "\tEND\n"
	                  "RUN cat /etc/x\n";
	berth_error *e = NULL;
	_cleanup_dockerfile_ dockerfile *df = parse(src, &e);
	CHECK(df != NULL);
	CHECK_INT_EQ(df->n, 4);
	CHECK_INT_EQ(df->instrs[1].n_heredocs, 1);
	CHECK_STR_EQ(df->instrs[1].heredocs[0].name, "EOF");
	CHECK_STR_EQ(df->instrs[1].heredocs[0].content, "echo $HOME\necho two\n");
	CHECK(df->instrs[1].heredocs[0].expand);
	CHECK_INT_EQ(df->instrs[1].end_line, 5);
	CHECK_INT_EQ(df->instrs[2].n_heredocs, 1);
	CHECK(!df->instrs[2].heredocs[0].expand);
	CHECK(df->instrs[2].heredocs[0].chomp);
	CHECK_STR_EQ(df->instrs[2].heredocs[0].content, "literal $X\n");
	CHECK_STR_EQ(df->instrs[3].keyword, "run");
	CHECK_INT_EQ(df->instrs[3].line, 9);
}

TEST(df_escape_directive_backtick)
{
	const char *src = "# escape=`\n"
	                  "FROM busybox\n"
	                  "RUN dir c:\\ `\n"
	                  "  && echo ok\n";
	berth_error *e = NULL;
	_cleanup_dockerfile_ dockerfile *df = parse(src, &e);
	CHECK(df != NULL);
	CHECK_INT_EQ(df->escape, '`');
	CHECK_STR_EQ(df->instrs[1].args[0], "dir c:\\   && echo ok");
}

TEST(df_directive_after_comment_is_comment)
{
	const char *src = "# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n";
	berth_error *e = NULL;
	_cleanup_dockerfile_ dockerfile *df = parse(src, &e);
	CHECK(df != NULL);
	CHECK_INT_EQ(df->escape, '\\');
	CHECK_INT_EQ(df->n, 2);
}

TEST(df_variable_substitution_forms)
{
	char *env[] = {"A=apple", "EMPTY=", "P=/usr/bin", NULL};
	struct {
		const char *in, *out;
	} cases[] = {
	    {"$A", "apple"},
	    {"${A}", "apple"},
	    {"x${A}y", "xappley"},
	    {"${NOPE:-def}", "def"},
	    {"${EMPTY:-def}", "def"},
	    {"${EMPTY-def}", ""},
	    {"${NOPE-def}", "def"},
	    {"${A:+alt}", "alt"},
	    {"${EMPTY:+alt}", ""},
	    {"${EMPTY+alt}", "alt"},
	    {"${NOPE:+alt}", ""},
	    {"'$A'", "$A"},
	    {"\"$A\"", "apple"},
	    {"\\$A", "$A"},
	    {"\"\\$A\"", "$A"},
	    {"\"a\\b\"", "a\\b"},
	    {"${NOPE:-${A}}", "apple"},
	    {"$P:/bin", "/usr/bin:/bin"},
	    {"$", "$"},
	    {"a$-b", "a$-b"},
	    {"$NOPE", ""},
	    {"\"quoted string\"", "quoted string"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *out = NULL;
		berth_error *e = NULL;
		CHECK(df_expand(cases[i].in, '\\', env_lookup, env, &out, &e) == 0);
		if (strcmp(out, cases[i].out)) {
			test_failed(__FILE__, __LINE__, "%s -> \"%s\", want \"%s\"", cases[i].in,
			            out, cases[i].out);
			return;
		}
		free(out);
	}
	char *out = NULL;
	berth_error *e = NULL;
	CHECK(df_expand("${NOPE:?must be set}", '\\', env_lookup, env, &out, &e) < 0);
	CHECK(strstr(e->msg, "must be set") != NULL);
	berth_error_free(e);
	e = NULL;
	CHECK(df_expand("'open", '\\', env_lookup, env, &out, &e) < 0);
	CHECK(strstr(e->msg, "single-quote") != NULL);
	berth_error_free(e);
}

TEST(df_expand_words_and_kv)
{
	char *env[] = {"V=1.0", NULL};
	_cleanup_strv_ char **w = NULL;
	CHECK(df_expand_words("80/tcp \"a b\" $V", '\\', env_lookup, env, &w, NULL) == 0);
	CHECK_INT_EQ(strv_len(w), 3);
	CHECK_STR_EQ(w[1], "a b");
	CHECK_STR_EQ(w[2], "1.0");
	berth_error *e = NULL;
	_cleanup_dockerfile_ dockerfile *df =
	    parse("FROM x\nENV A=$V B=\"x y\" C=c\\ d\nENV OLD hello world\n", &e);
	CHECK(df != NULL);
	_cleanup_strv_ char **k = NULL, **v = NULL;
	CHECK(df_parse_kv(&df->instrs[1], '\\', env_lookup, env, &k, &v, NULL) == 0);
	CHECK_INT_EQ(strv_len(k), 3);
	CHECK_STR_EQ(v[0], "1.0");
	CHECK_STR_EQ(v[1], "x y");
	CHECK_STR_EQ(v[2], "c d");
	_cleanup_strv_ char **k2 = NULL, **v2 = NULL;
	CHECK(df_parse_kv(&df->instrs[2], '\\', env_lookup, env, &k2, &v2, NULL) == 0);
	CHECK_STR_EQ(k2[0], "OLD");
	CHECK_STR_EQ(v2[0], "hello world");
}

TEST(dockerignore_rules)
{
	const char *src = "# comment\n"
	                  "*.log\n"
	                  "!keep.log\n"
	                  "/build\n"
	                  "**/*.tmp\n"
	                  "docs/??.md\n"
	                  "secret[0-9]\n"
	                  "./vendor/\n";
	berth_error *e = NULL;
	_cleanup_dockerignore_ dockerignore *di = NULL;
	CHECK(dockerignore_parse(src, strlen(src), &di, &e) == 0);
	CHECK(dockerignore_excluded(di, "a.log"));
	CHECK(!dockerignore_excluded(di, "keep.log"));
	CHECK(!dockerignore_excluded(di, "sub/a.log")); /* '*' does not cross '/' */
	CHECK(dockerignore_excluded(di, "build"));
	CHECK(dockerignore_excluded(di, "build/x/y.c")); /* parent dir matches */
	CHECK(dockerignore_excluded(di, "x.tmp"));
	CHECK(dockerignore_excluded(di, "a/b/c.tmp"));
	CHECK(dockerignore_excluded(di, "docs/ab.md"));
	CHECK(!dockerignore_excluded(di, "docs/abc.md"));
	CHECK(dockerignore_excluded(di, "secret7"));
	CHECK(!dockerignore_excluded(di, "secretx"));
	CHECK(dockerignore_excluded(di, "vendor/lib.c"));
	CHECK(!dockerignore_excluded(di, "src/main.c"));
	CHECK(dockerignore_has_exceptions(di));
}

TEST(dockerignore_last_match_wins)
{
	const char *src = "docs\n!docs/README.md\ndocs/README.md\n";
	_cleanup_dockerignore_ dockerignore *di = NULL;
	CHECK(dockerignore_parse(src, strlen(src), &di, NULL) == 0);
	CHECK(dockerignore_excluded(di, "docs/README.md"));
	const char *src2 = "*\n!src\n";
	_cleanup_dockerignore_ dockerignore *di2 = NULL;
	CHECK(dockerignore_parse(src2, strlen(src2), &di2, NULL) == 0);
	CHECK(dockerignore_excluded(di2, "Dockerfile"));
	CHECK(!dockerignore_excluded(di2, "src"));
	CHECK(!dockerignore_excluded(di2, "src/a.c"));
}

TEST(path_clean)
{
	_cleanup_free_ char *a = path_clean_rel("/a/./b//c/../d/");
	CHECK_STR_EQ(a, "a/b/d");
	_cleanup_free_ char *b = path_clean_rel("./");
	CHECK_STR_EQ(b, ".");
}

/* ---- the corpus: tests/unit/dockerfiles ---- */

#ifdef BERTH_UNIT_DATA

static char *corpus_path(const char *name)
{
	return xasprintf("%s/dockerfiles/%s", BERTH_UNIT_DATA, name);
}

/* One line per instruction: "LINE-END keyword[ exec] flags args heredocs". */
static char *dump_dockerfile(const dockerfile *df)
{
	strbuf sb;
	sb_init(&sb);
	sb_printf(&sb, "escape=%c syntax=%s\n", df->escape, df->syntax ? df->syntax : "");
	for (size_t i = 0; i < df->n; i++) {
		const df_instr *in = &df->instrs[i];
		_cleanup_json_ json_t *f = json_from_strv(in->flags);
		_cleanup_json_ json_t *a = json_from_strv(in->args);
		_cleanup_free_ char *fs = json_dump_compact(f);
		_cleanup_free_ char *as = json_dump_compact(a);
		sb_printf(&sb, "%d-%d %s%s flags=%s args=%s", in->line, in->end_line, in->keyword,
		          in->exec_form ? " exec" : "", fs, as);
		for (size_t k = 0; k < in->n_heredocs; k++) {
			const df_heredoc *h = &in->heredocs[k];
			json_t *hj = json_pack("[s,s,b,b]", h->name, h->content ? h->content : "",
			                       h->expand, h->chomp);
			_cleanup_free_ char *hs = json_dump_compact(hj);
			json_decref(hj);
			sb_printf(&sb, " heredoc=%s", hs);
		}
		sb_appendc(&sb, '\n');
	}
	return sb_steal(&sb);
}

TEST(df_corpus)
{
	_cleanup_free_ char *dir = corpus_path("");
	_cleanup_closedir_ DIR *d = opendir(dir);
	CHECK(d != NULL);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)) != NULL) {
		if (!str_has_suffix(de->d_name, ".Dockerfile"))
			continue;
		_cleanup_free_ char *base =
		    xstrndup(de->d_name, strlen(de->d_name) - strlen(".Dockerfile"));
		_cleanup_free_ char *src_p = corpus_path(de->d_name);
		_cleanup_free_ char *exp_n = xasprintf("%s.expected", base);
		_cleanup_free_ char *err_n = xasprintf("%s.error", base);
		_cleanup_free_ char *exp_p = corpus_path(exp_n);
		_cleanup_free_ char *err_p = corpus_path(err_n);
		_cleanup_free_ char *src = NULL, *want = NULL, *want_err = NULL;
		size_t len = 0, l2 = 0;
		CHECK(read_file(src_p, &src, &len, NULL) == 0);
		bool have_exp = read_file(exp_p, &want, &l2, NULL) == 0;
		bool have_err = read_file(err_p, &want_err, &l2, NULL) == 0;
		dockerfile *df = NULL;
		berth_error *e = NULL;
		int rc = dockerfile_parse(src, len, "Dockerfile", &df, &e);
		if (have_err) {
			want_err[strcspn(want_err, "\n")] = 0;
			if (rc == 0 || strstr(e->msg, want_err) == NULL) {
				test_failed(__FILE__, __LINE__, "%s: error \"%s\", want \"%s\"",
				            de->d_name, rc == 0 ? "(none)" : e->msg, want_err);
				dockerfile_free(df);
				berth_error_free(e);
				return;
			}
			berth_error_free(e);
		} else {
			if (rc < 0) {
				test_failed(__FILE__, __LINE__, "%s: %s", de->d_name, e->msg);
				berth_error_free(e);
				return;
			}
			_cleanup_free_ char *got = dump_dockerfile(df);
			dockerfile_free(df);
			if (!have_exp || strcmp(got, want)) {
				test_failed(__FILE__, __LINE__, "%s: got\n%s\nwant\n%s", de->d_name,
				            got, have_exp ? want : "(no .expected file)");
				return;
			}
		}
		n++;
	}
	CHECK(n >= 20);
}

static const char *corpus_env(void *ud, const char *name)
{
	static const char *const kv[][2] = {
	    {"A", "apple"}, {"EMPTY", ""}, {"P", "/usr/bin"}, {"SP", "a b"}};
	(void)ud;
	for (size_t i = 0; i < ARRAY_SIZE(kv); i++)
		if (!strcmp(kv[i][0], name))
			return kv[i][1];
	return NULL;
}

TEST(df_expand_corpus)
{
	static const char *const files[] = {"expand.txt", "expand-errors.txt"};
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		_cleanup_free_ char *p = corpus_path(files[f]);
		_cleanup_free_ char *text = NULL;
		size_t len;
		CHECK(read_file(p, &text, &len, NULL) == 0);
		_cleanup_strv_ char **lines = str_split(text, '\n');
		int n = 0;
		for (char **l = lines; *l; l++) {
			if (!**l || **l == '#')
				continue;
			char *tab = strchr(*l, '\t');
			CHECK(tab != NULL);
			*tab = 0;
			char *out = NULL;
			berth_error *e = NULL;
			int rc = df_expand(*l, '\\', corpus_env, NULL, &out, &e);
			if (f == 0 && (rc < 0 || strcmp(out, tab + 1))) {
				test_failed(__FILE__, __LINE__, "%s -> \"%s\", want \"%s\"", *l,
				            rc < 0 ? e->msg : out, tab + 1);
				return;
			}
			if (f == 1 && (rc == 0 || !strstr(e->msg, tab + 1))) {
				test_failed(__FILE__, __LINE__, "%s: error \"%s\", want \"%s\"", *l,
				            rc == 0 ? "(none)" : e->msg, tab + 1);
				return;
			}
			free(out);
			berth_error_free(e);
			n++;
		}
		CHECK(n >= 5);
	}
}
#endif
