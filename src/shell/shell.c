/*
 * shell: the command table and dispatcher — top-level commands (vm, help,
 * exit/quit, version), `vm <verb>` lookup, option parsing, --help on
 * every verb, and running tokenized command lines (see shell.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shell_int.h"
#include "tokenize.h"

#ifndef CVISOR_VERSION
#define CVISOR_VERSION "0.0.0"
#endif

const struct sh_verb *const sh_verbs[] = {
	&sh_verb_create, &sh_verb_start, &sh_verb_stop, &sh_verb_suspend,
	&sh_verb_resume, &sh_verb_restart, &sh_verb_delete, &sh_verb_list,
	&sh_verb_show, &sh_verb_stats, &sh_verb_log, &sh_verb_console,
	&sh_verb_wait, NULL,
};

const struct sh_verb *sh_find_verb(const char *name)
{
	for (size_t i = 0; sh_verbs[i]; i++)
		if (!strcmp(sh_verbs[i]->name, name))
			return sh_verbs[i];
	return NULL;
}

int shell_create(struct registry *reg, const struct shell_opts *opts,
		 struct shell **out, struct cv_err *err)
{
	struct shell *sh = calloc(1, sizeof(*sh));
	if (!sh)
		return cv_err_set(err, ENOMEM, "out of memory");
	sh->reg = reg;
	if (opts)
		sh->o = *opts;
	else
		sh->o.tty_out = 1;
	*out = sh;
	return 0;
}

void shell_destroy(struct shell *sh)
{
	free(sh);
}

void shell_set_vm_names(struct shell *sh, shell_vm_names_fn fn, void *ctx)
{
	sh->vm_names = fn;
	sh->vm_names_ctx = ctx;
}

struct registry *shell_registry(struct shell *sh)
{
	return sh->reg;
}

bool shell_exit_requested(const struct shell *sh, int *status)
{
	if (sh->exit_requested && status)
		*status = sh->exit_status;
	return sh->exit_requested;
}

/* ---- help ------------------------------------------------------------- */

void shell_print_help(FILE *out)
{
	fputs("cvisor shell commands:\n"
	      "  vm <command> [args]   manage virtual machines ('vm help' lists them)\n"
	      "  metrics               VM and process metrics (Prometheus text)\n"
	      "  help                  this help\n"
	      "  version               print cvisor's version\n"
	      "  exit, quit [STATUS]   leave (the VMs of this shell are stopped and deleted)\n"
	      "\n"
	      "Syntax: words separated by blanks; '...' and \"...\" quote (\\n, \\t,\n"
	      "\\\" and \\\\ work inside \"...\"); # starts a comment; ';' separates\n"
	      "commands.  Options: --opt value, --opt=value, clustered short flags (-cs).\n"
	      "VMs are named by id or by name.\n", out);
}

static void print_vm_help(FILE *out)
{
	static const char *const lifecycle[] = { "create", "start", "stop",
		"suspend", "resume", "restart", "delete", NULL };
	static const char *const info[] = { "list", "show", "stats", "log",
		"console", "wait", NULL };
	fputs("VM - virtual machine management\n\nLifecycle commands:\n", out);
	for (size_t i = 0; lifecycle[i]; i++)
		fprintf(out, "  %-9s %s\n", lifecycle[i],
			sh_find_verb(lifecycle[i])->summary);
	fputs("\nInformation commands:\n", out);
	for (size_t i = 0; info[i]; i++)
		fprintf(out, "  %-9s %s\n", info[i],
			sh_find_verb(info[i])->summary);
	fputs("\nDaemon commands (cvisor serve only: 'cvisor vm ...' or "
	      "'cvisor --connect PATH shell'):\n"
	      "  autostart start the VM whenever the daemon starts: "
	      "vm autostart <ID|NAME> on|off\n", out);
	fputs("\nVMs are named by id or by name.\n"
	      "Use 'vm <command> --help' for more information on a specific "
	      "command.\n", out);
}

/* The daemon's own verb asked of a shell without a daemon: say so. */
static int daemon_only(struct sh_ctx *c, const char *verb)
{
	sh_err(c, "vm %s: only the cvisor daemon keeps VM definitions; use "
	       "'cvisor vm %s ...' or 'cvisor --connect PATH shell' with "
	       "'cvisor serve' running\n", verb, verb);
	return SH_FAILED;
}

void sh_print_verb_help(FILE *out, const struct sh_verb *v)
{
	fprintf(out, "Usage: %s\n\n%s\n", v->usage, v->summary);
	if (v->about)
		fprintf(out, "%s\n", v->about);
	fputs("\nOptions:\n", out);
	for (size_t i = 0; i < v->nopts; i++) {
		const struct sh_opt *o = &v->opts[i];
		char left[64];
		int n = o->short_name
			? snprintf(left, sizeof(left), "-%c, --%s", o->short_name, o->name)
			: snprintf(left, sizeof(left), "    --%s", o->name);
		if (o->type == SH_VALUE && n > 0 && (size_t)n < sizeof(left))
			snprintf(left + n, sizeof(left) - (size_t)n, " %s",
				 o->metavar ? o->metavar : "VALUE");
		fprintf(out, "  %-24s %s\n", left, o->help);
	}
	fprintf(out, "  %-24s %s\n", "-h, --help", "this help");
}

/* ---- dispatch --------------------------------------------------------- */

static int run_verb(struct sh_ctx *c, const struct sh_verb *v, size_t argc,
		    char *const *argv)
{
	struct sh_args a;
	struct cv_err e = {0};
	c->verb = v;
	if (sh_args_parse(v->opts, v->nopts, argc, argv, &a, &e))
		return sh_usage_error(c, "%s", e.msg);
	int status;
	if (a.help) {
		sh_print_verb_help(c->out, v);
		status = SH_OK;
	} else {
		status = v->run(c, &a);
	}
	sh_args_free(&a);
	return status;
}

static int cmd_vm(struct sh_ctx *c, size_t argc, char *const *argv)
{
	if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "-h")) {
		const struct sh_verb *v = argc >= 3 && !strcmp(argv[1], "help")
					  ? sh_find_verb(argv[2]) : NULL;
		if (v)
			sh_print_verb_help(c->out, v);
		else
			print_vm_help(c->out);
		return SH_OK;
	}
	const struct sh_verb *v = sh_find_verb(argv[1]);
	if (!v && !strcmp(argv[1], "autostart"))
		return daemon_only(c, argv[1]);
	if (!v) {
		fflush(c->out);
		fputs("vm: unknown command '", c->err);
		sh_put_text(c->err, argv[1]);
		fputs("'\nUse 'vm help' to list the commands.\n", c->err);
		fflush(c->err);
		return SH_USAGE;
	}
	return run_verb(c, v, argc - 2, argv + 2);
}

static int cmd_exit(struct sh_ctx *c, size_t argc, char *const *argv)
{
	uint64_t status = 0;
	if (argc > 2 || (argc == 2 && sh_parse_uint(argv[1], 255, &status))) {
		sh_err(c, "%s: expected at most one status (0..255)\n", argv[0]);
		return SH_USAGE;
	}
	c->sh->exit_requested = true;
	c->sh->exit_status = (int)status;
	return SH_OK;
}

int shell_run_argv(struct shell *sh, size_t argc, char *const *argv,
		   FILE *out, FILE *err, struct json_t **result)
{
	struct sh_ctx c = { .sh = sh, .reg = sh->reg, .out = out, .err = err,
			    .color = sh->o.color };
	int status = SH_OK;
	if (result)
		*result = NULL;
	if (!argc)
		return SH_OK;
	const char *cmd = argv[0];
	if (!strcmp(cmd, "vm")) {
		status = cmd_vm(&c, argc, argv);
	} else if (!strcmp(cmd, "help") || !strcmp(cmd, "?") ||
		   !strcmp(cmd, "--help")) {
		if (argc >= 2 && !strcmp(argv[1], "vm"))
			status = cmd_vm(&c, argc - 1, argv + 1);
		else
			shell_print_help(out);
	} else if (!strcmp(cmd, "exit") || !strcmp(cmd, "quit")) {
		status = cmd_exit(&c, argc, argv);
	} else if (!strcmp(cmd, "metrics")) {
		status = sh_cmd_metrics(&c, argc, argv);
	} else if (!strcmp(cmd, "version")) {
		fprintf(out, "cvisor %s\n", CVISOR_VERSION);
	} else {
		fflush(out);
		fputs("Unknown command '", err);
		sh_put_text(err, cmd);
		fputs("'. Type 'help' for the list of commands.\n", err);
		status = SH_USAGE;
	}
	fflush(out);
	fflush(err);
	if (result)
		*result = c.result;
	else if (c.result)
		json_decref(c.result);
	return status;
}

int shell_run_text(struct shell *sh, const char *text, size_t len,
		   const char *where, FILE *out, FILE *err)
{
	struct sh_script s;
	struct cv_err e = {0};
	if (sh_tokenize(text, len, &s, &e)) {
		fflush(out);
		fprintf(err, "%s%s%s\n", where ? where : "", where ? ": " : "✗ ",
			e.msg);
		fflush(err);
		return SH_USAGE;
	}
	int worst = SH_OK;
	for (size_t i = 0; i < s.n && !sh->exit_requested; i++) {
		int st = shell_run_argv(sh, s.cmds[i].n, s.cmds[i].v, out, err,
					NULL);
		if (st > worst)
			worst = st;
	}
	sh_script_free(&s);
	return worst;
}

int shell_run_line(struct shell *sh, const char *text, FILE *out, FILE *err)
{
	return shell_run_text(sh, text, strlen(text), NULL, out, err);
}
