/* args: option parsing for shell commands (rules in args.h). */
#include "args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sh_opt_index(const struct sh_opt *opts, size_t nopts, const char *name)
{
	for (size_t i = 0; i < nopts && i < SH_MAX_OPTS; i++)
		if (!strcmp(opts[i].name, name))
			return (int)i;
	return -1;
}

static int find_long(const struct sh_opt *opts, size_t nopts,
		     const char *name, size_t len)
{
	for (size_t i = 0; i < nopts && i < SH_MAX_OPTS; i++)
		if (strlen(opts[i].name) == len &&
		    !strncmp(opts[i].name, name, len))
			return (int)i;
	return -1;
}

static int find_short(const struct sh_opt *opts, size_t nopts, char c)
{
	for (size_t i = 0; i < nopts && i < SH_MAX_OPTS; i++)
		if (opts[i].short_name == c)
			return (int)i;
	return -1;
}

/* A word as it appears in a message: bounded, so a huge word stays short. */
#define QW(s) (strlen(s) > 64 ? 64 : (int)strlen(s)), (s)

static int parse_long(const struct sh_opt *opts, size_t nopts, size_t argc,
		      char *const *argv, size_t *i, struct sh_args *a,
		      struct cv_err *err)
{
	const char *w = argv[*i] + 2;
	const char *eq = strchr(w, '=');
	size_t len = eq ? (size_t)(eq - w) : strlen(w);
	int k = find_long(opts, nopts, w, len);
	if (k < 0) {
		if (len == 4 && !strncmp(w, "help", 4) && !eq) {
			a->help = true;
			return 0;
		}
		return cv_err_set(err, EINVAL, "unknown option '--%.*s'",
				  len > 64 ? 64 : (int)len, w);
	}
	if (opts[k].type == SH_FLAG) {
		if (eq)
			return cv_err_set(err, EINVAL,
					  "option '--%s' takes no value",
					  opts[k].name);
		a->given[k] = true;
		return 0;
	}
	if (eq) {
		a->value[k] = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return cv_err_set(err, EINVAL,
					  "option '--%s' needs a value (%s)",
					  opts[k].name,
					  opts[k].metavar ? opts[k].metavar
							  : "VALUE");
		a->value[k] = argv[++*i];
	}
	a->given[k] = true;
	return 0;
}

static int parse_short(const struct sh_opt *opts, size_t nopts, size_t argc,
		       char *const *argv, size_t *i, struct sh_args *a,
		       struct cv_err *err)
{
	const char *w = argv[*i];
	for (const char *p = w + 1; *p; p++) {
		int k = find_short(opts, nopts, *p);
		if (k < 0) {
			if (*p == 'h') {
				a->help = true;
				continue;
			}
			unsigned char c = (unsigned char)*p;
			if (c < 0x20 || c >= 0x7f)
				return cv_err_set(err, EINVAL,
						  "unknown option '-\\x%02x' in "
						  "'%.*s'", c, QW(w));
			return cv_err_set(err, EINVAL,
					  "unknown option '-%c' in '%.*s'",
					  *p, QW(w));
		}
		a->given[k] = true;
		if (opts[k].type == SH_FLAG)
			continue;
		if (p[1]) {
			a->value[k] = p + 1;
		} else if (*i + 1 < argc) {
			a->value[k] = argv[++*i];
		} else {
			return cv_err_set(err, EINVAL,
					  "option '-%c' needs a value (%s)", *p,
					  opts[k].metavar ? opts[k].metavar
							  : "VALUE");
		}
		return 0;
	}
	return 0;
}

void sh_args_free(struct sh_args *a)
{
	free(a->pos);
	memset(a, 0, sizeof(*a));
}

int sh_args_parse(const struct sh_opt *opts, size_t nopts, size_t argc,
		  char *const *argv, struct sh_args *a, struct cv_err *err)
{
	memset(a, 0, sizeof(*a));
	a->pos = calloc(argc ? argc : 1, sizeof(*a->pos));
	if (!a->pos)
		return cv_err_set(err, ENOMEM, "out of memory");
	bool only_pos = false;
	for (size_t i = 0; i < argc; i++) {
		const char *w = argv[i];
		int rc = 0;
		if (only_pos || w[0] != '-' || !w[1])
			a->pos[a->npos++] = w;
		else if (!strcmp(w, "--"))
			only_pos = true;
		else if (w[1] == '-')
			rc = parse_long(opts, nopts, argc, argv, &i, a, err);
		else
			rc = parse_short(opts, nopts, argc, argv, &i, a, err);
		if (rc) {
			sh_args_free(a);
			return rc;
		}
	}
	return 0;
}
