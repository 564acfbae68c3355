/*
 * args: option parsing for one shell command (SPEC §2), a pure function.
 *
 *   --name value, --name=value     an option with a value
 *   --flag                         a flag (--flag=x is an error)
 *   -abc                           clustered short flags; a short option
 *                                  with a value takes the rest of the
 *                                  cluster or the next word (-t5, -t 5)
 *   --                             everything after is positional
 *   -h, --help                     sets help (unless the command defines
 *                                  its own -h)
 * Options and positional words may be mixed; unknown options are errors.
 */
#ifndef CV_SH_ARGS_H
#define CV_SH_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SH_MAX_OPTS 16

enum sh_opt_type { SH_FLAG, SH_VALUE };

struct sh_opt {
	const char *name;	/* long name without "--" */
	char short_name;	/* 0 = none */
	enum sh_opt_type type;
	const char *metavar;	/* SH_VALUE: shown in help ("SECONDS") */
	const char *help;
};

struct sh_args {
	bool given[SH_MAX_OPTS];	/* by index in the option table */
	const char *value[SH_MAX_OPTS];	/* SH_VALUE: the last one given */
	const char **pos;		/* positional words (into argv) */
	size_t npos;
	bool help;
};

/*
 * Parse argv[0..argc) (the words after the command name).  On error *a
 * is empty and err says which word is wrong.  Free with sh_args_free.
 */
int sh_args_parse(const struct sh_opt *opts, size_t nopts, size_t argc,
		  char *const *argv, struct sh_args *a, struct cv_err *err);
void sh_args_free(struct sh_args *a);

/* Index of the option with this long name (for reading *a), or -1. */
int sh_opt_index(const struct sh_opt *opts, size_t nopts, const char *name);

#endif
