/*
 * shell_int: what the command files share — the session object, one
 * command invocation's context, the verb table entry and the output
 * helpers (format.c).  Not for users of the shell (see shell.h).
 */
#ifndef CV_SHELL_INT_H
#define CV_SHELL_INT_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "args.h"
#include "registry.h"
#include "shell.h"
#include "vm.h"

struct shell {
	struct registry *reg;
	struct shell_opts o;
	bool exit_requested;
	int exit_status;
	shell_vm_names_fn vm_names;	/* completion's VMs, NULL: reg */
	void *vm_names_ctx;
};

/* One command invocation. */
struct sh_ctx {
	struct shell *sh;
	struct registry *reg;
	const struct sh_verb *verb;
	FILE *out, *err;
	bool color;
	json_t *result;		/* structured result, owned until returned */
};

/* What the positional words of a verb are (for completion). */
enum sh_pos_kind { SH_POS_NONE, SH_POS_VMS, SH_POS_FILES };

/* One `vm <verb>`: its usage text, options and handler. */
struct sh_verb {
	const char *name;
	const char *summary;	/* one line for `vm help` */
	const char *usage;	/* "vm stop <ID...> [--force|-f] ..." */
	const char *about;	/* extra --help text, may be NULL */
	const struct sh_opt *opts;
	size_t nopts;
	enum sh_pos_kind pos;
	int (*run)(struct sh_ctx *c, const struct sh_args *a);
};

#define SH_NOPTS(a) (sizeof(a) / sizeof((a)[0]))

extern const struct sh_verb sh_verb_list, sh_verb_show, sh_verb_create,
	sh_verb_start, sh_verb_stop, sh_verb_suspend, sh_verb_resume,
	sh_verb_restart, sh_verb_delete, sh_verb_console, sh_verb_log,
	sh_verb_stats, sh_verb_wait;

/* The top-level `metrics` command (metrics.c). */
int sh_cmd_metrics(struct sh_ctx *c, size_t argc, char *const *argv);

/* The verbs in `vm help` order; NULL-terminated. */
extern const struct sh_verb *const sh_verbs[];
const struct sh_verb *sh_find_verb(const char *name);
void sh_print_verb_help(FILE *out, const struct sh_verb *v);

/* ---- output (format.c) ------------------------------------------------ */

void sh_out(struct sh_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* To the error stream, after flushing out (keeps the two in order). */
void sh_err(struct sh_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "vm <verb>: <msg>" + the usage line on err; returns SH_USAGE. */
int sh_usage_error(struct sh_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A verb of one VM: 0 when exactly one was named, else sh_usage_error. */
int sh_one_vm(struct sh_ctx *c, const struct sh_args *a);

/*
 * Look a VM up by id or name; on failure print "✗ VM[5] not found" (or
 * the name's problem) and return SH_FAILED.
 */
int sh_lookup(struct sh_ctx *c, const char *key, struct reg_vm **out);

/*
 * The verbs that act on a list of VMs: look up each positional argument
 * and call one() with it (a lookup failure is reported and counted); the
 * per-VM results go into the command's result as {"vms": [...]}.
 * Returns SH_OK when every VM succeeded, else SH_FAILED.
 */
typedef int (*sh_vm_fn)(struct sh_ctx *c, struct reg_vm *v,
			const struct sh_args *a, json_t *res);
int sh_each_vm(struct sh_ctx *c, const struct sh_args *a, sh_vm_fn one);

/* "✗ Failed to <verb> VM[<id>]: <why>" */
void sh_refused(struct sh_ctx *c, const char *verb, uint32_t id,
		const char *why);

/* 256MB, 3GB, 512KB, 17B: floor to the largest unit (AxVisor's rule). */
void sh_fmt_mem(uint64_t bytes, char *buf, size_t len);
/* Text for people: control characters shown as \xNN. */
void sh_put_text(FILE *f, const char *s);
/* The same, left-aligned in width columns (UTF-8 aware; never cut). */
void sh_put_cell(FILE *f, const char *s, int width);
const char *sh_plural(uint64_t n, const char *one, const char *many);

const char *sh_state_icon(enum vm_state s);
/* ANSI colour sequence for a state ("" without colour). */
const char *sh_state_color(const struct sh_ctx *c, enum vm_state s);
const char *sh_color_reset(const struct sh_ctx *c);

/* "1.5" seconds -> ns; -EINVAL for junk, negatives, > 1 day. */
int sh_parse_seconds(const char *s, uint64_t *ns);
/* A non-negative decimal integer <= max. */
int sh_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* "Running" etc. (case-insensitive) -> state; -EINVAL otherwise. */
int sh_parse_state(const char *s, enum vm_state *out);
/* "table" or "json"; usage error printed otherwise. */
int sh_parse_format(struct sh_ctx *c, const char *s, bool *json);

uint64_t sh_now_ns(void);

/* Print a JSON value on out (indented) and keep it as the result. */
void sh_emit_json(struct sh_ctx *c, json_t *v);
/* A JSON string for any text (invalid UTF-8 bytes become '?'). */
json_t *sh_json_text(const char *s);
/* Set the structured result (replacing any earlier one). */
void sh_set_result(struct sh_ctx *c, json_t *v);

/* ---- console attach (attach.c) ---------------------------------------- */

/*
 * Attach the session's terminal to v's console until Ctrl-] (or the VM
 * stops or is deleted).  Only for interactive sessions on a tty.
 */
int sh_console_attach(struct sh_ctx *c, struct reg_vm *v);

/* ---- show/stats pieces shared by show.c and stats.c (vminfo.c) -------- */

json_t *sh_vm_stats_json(struct reg_vm *v);
void sh_print_stats(struct sh_ctx *c, struct reg_vm *v);

#endif
