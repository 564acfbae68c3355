/*
 * shell: the hypervisor command set of SPEC §2 (`vm list`, `vm start`, ...,
 * `help`, `exit`, `version`) over a VM registry, independent of where the
 * commands come from.  The interactive shell, batch mode and (later) the
 * control socket all call shell_run_line()/shell_run_argv() with their own
 * output streams; a command never touches the terminal except to attach a
 * console, which only an interactive session on a tty allows.
 *
 * One struct shell is one session (its streams' settings, its exit
 * request); many sessions may share one registry and run concurrently.
 */
#ifndef CV_SHELL_H
#define CV_SHELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"
#include "registry.h"

/* Exit statuses of a command. */
enum {
	SH_OK = 0,
	SH_FAILED = 1,		/* the command (or one of its VMs) failed */
	SH_USAGE = 2,		/* bad syntax, unknown command or option */
};

struct shell;

struct vm_config;

/*
 * What a front end that runs commands for someone else (the daemon) plugs
 * into `vm create`; every member may be NULL.
 */
struct shell_hooks {
	void *ctx;
	/*
	 * Read a config file named on the command line instead of opening
	 * it here (the daemon's client read it and sent the content).  Same
	 * contract as vmcfg_read_file; *dir gets the absolute directory the
	 * file is in (relative image paths resolve against it).
	 */
	int (*read_config)(void *ctx, const char *path, char **text,
			   size_t *len, char *dir, size_t dirlen);
	/*
	 * Before a loaded config is instantiated: may the images it names
	 * be read on behalf of whoever asked?  0, or -errno with err set
	 * (reported as the reason the create failed).
	 */
	int (*check_config)(void *ctx, const struct vm_config *cfg,
			    struct cv_err *err);
};

struct shell_opts {
	bool color;		/* ANSI colour in human output */
	bool interactive;	/* a person at a terminal: console attach */
	int tty_in, tty_out;	/* the terminal for console attach */
	/*
	 * Console attach on tty_in/tty_out even when they are not terminals
	 * (the daemon streams a console over its socket); interactive must
	 * be set too.
	 */
	bool attach_any_fd;
	const struct shell_hooks *hooks;	/* NULL = none */
};

int shell_create(struct registry *reg, const struct shell_opts *opts,
		 struct shell **out, struct cv_err *err);
void shell_destroy(struct shell *sh);
struct registry *shell_registry(struct shell *sh);

/*
 * Run one command; argv[0] is the command ("vm", "help", ...).  Human
 * output goes to out, errors to err.  When result is not NULL it receives
 * the command's structured result (jansson; NULL when the command has
 * none; the caller json_decref()s it).
 */
struct json_t;
int shell_run_argv(struct shell *sh, size_t argc, char *const *argv,
		   FILE *out, FILE *err, struct json_t **result);

/*
 * Tokenize text (SPEC §2 syntax) and run each command in turn, stopping
 * after `exit`.  Returns the highest status of the commands run.
 */
int shell_run_line(struct shell *sh, const char *text, FILE *out, FILE *err);
/* The same for text[0..len); where ("script.cv:3") prefixes syntax errors. */
int shell_run_text(struct shell *sh, const char *text, size_t len,
		   const char *where, FILE *out, FILE *err);

/* True once `exit`/`quit` ran; *status = the status it asked for. */
bool shell_exit_requested(const struct shell *sh, int *status);

/*
 * Completion candidates for the word that ends at the end of line (what a
 * user typed before the cursor): verbs, options, VM ids and names, files
 * for `vm create`.  *word_start = where that word begins in line.
 * Candidates are complete words; free them with shell_completion_free.
 */
struct sh_completion {
	char **items;
	size_t n;
	size_t word_start;
	bool files;		/* the candidates are file names */
};
int shell_complete(struct shell *sh, const char *line,
		   struct sh_completion *out);
void shell_completion_free(struct sh_completion *c);

/*
 * Where completion takes VM ids and names from instead of the shell's
 * registry (a remote shell asks its daemon): fn fills *names with *n
 * malloc'ed strings in a malloc'ed array (the caller frees them) and
 * returns 0, or -errno and then no VM is offered.  fn NULL: the registry.
 */
typedef int (*shell_vm_names_fn)(void *ctx, char ***names, size_t *n);
void shell_set_vm_names(struct shell *sh, shell_vm_names_fn fn, void *ctx);

/* Top-level help (the `help` command). */
void shell_print_help(FILE *out);

#endif
