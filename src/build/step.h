/* Helpers shared by the instruction files (instructions.c, copy.c,
 * runstep.c). src/build only. */
#ifndef BERTH_BUILD_STEP_H
#define BERTH_BUILD_STEP_H

#include "build/builder.h"

typedef struct bs_step {
	int vertex;
	struct timespec t0;
	char *ident;
} bs_step;

double bs_elapsed(const struct timespec *t0);
/* A step's vertex, title "[stage k/n] KEYWORD ...", and cache ident. */
void bs_step_begin(sstate *st, const df_instr *in, bs_step *sp);
void bs_step_end(sstate *st, bs_step *sp);
/* Prefix "FILE:LINE" to *err; returns -1. */
int bs_fail_at(sstate *st, const df_instr *in, berth_error **err);
void bs_make_key(const char *parent, const json_t *detail, char out[DIGEST_STR_LEN + 1]);
char *bs_go_quote_list(char *const *v);
char *bs_nop_created_by(sstate *st, const char *canon);
void bs_report_miss(sstate *st, bs_step *sp, const json_t *detail);
int bs_meta_commit(sstate *st, bs_step *sp, const char *canon, berth_error **err);
int bs_expand(sstate *st, const char *w, char **out, berth_error **err);
char *bs_expand_flag(sstate *st, const df_instr *in, const char *name, berth_error **err,
                     bool *failed);
char **bs_env_set(char **env, const char *k, const char *v);
const char *bs_env_get(char *const *env, const char *k);
char *bs_workdir_join(sstate *st, const char *p);
char *bs_abs_clean(const char *p);
int bs_fs_commit(sstate *st, bs_step *sp, steproot *r, const char *created_by, const char *key,
                 json_t *detail, berth_error **err);
const df_heredoc *bs_heredoc_of(const df_instr *in, const char *word);

int bld_copy(sstate *st, const df_instr *in, bool add, berth_error **err);
int bld_run(sstate *st, const df_instr *in, berth_error **err);

#endif
