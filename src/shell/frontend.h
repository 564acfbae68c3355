/*
 * frontend: the shell as the cvisor binary runs it (SPEC §4) — one
 * registry and one session, fed by the interactive line editor (libedit:
 * prompt `cvisor:$ `, history, tab completion) when stdin is a terminal,
 * else in batch mode by `-c` text, a script file or stdin.  Batch mode
 * runs every command and exits non-zero when any failed.  When the front
 * end ends, the VMs it created are stopped and deleted with their data.
 */
#ifndef CV_SH_FRONTEND_H
#define CV_SH_FRONTEND_H

#include <stdbool.h>

#include "vmconfig.h"

struct shell;

struct shell_main_opts {
	const char *state_dir;	/* data dirs under <state_dir>/vms; history */
	enum vm_accel accel;	/* default backend for accel = "auto" */
	bool no_color;
	const char *commands;	/* -c TEXT */
	const char *script;	/* script FILE ("-": stdin) */
};

/* Returns the process exit status. */
int shell_main(const struct shell_main_opts *o);

/* The interactive loop on the terminal (frontend.c calls it). */
int shell_repl(struct shell *sh, const char *history_path);

/*
 * The same loop for lines that run elsewhere (the daemon's remote
 * shell): run_line runs one line, done says when to leave; completer is
 * the session whose shell_complete() completes words.
 */
struct repl_ops {
	void *ctx;
	int (*run_line)(void *ctx, const char *line);
	bool (*done)(void *ctx);
	struct shell *completer;
};
int shell_repl_ops(const struct repl_ops *ops, const char *history_path);

#endif
