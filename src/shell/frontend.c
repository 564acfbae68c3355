/* frontend: registry + session for the cvisor binary (see frontend.h). */
#include "frontend.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "registry.h"
#include "sandbox.h"
#include "shell.h"

/* Lines of a script or of stdin, each run as it is read. */
static int run_stream(struct shell *sh, FILE *in, const char *name)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int worst = SH_OK;
	while (!shell_exit_requested(sh, NULL) &&
	       (len = getline(&line, &cap, in)) >= 0) {
		char where[PATH_MAX + 32];
		lineno++;
		snprintf(where, sizeof(where), "%s:%lu", name, lineno);
		int st = shell_run_text(sh, line, (size_t)len, where, stdout,
					stderr);
		if (st > worst)
			worst = st;
	}
	free(line);
	return worst;
}

static int run_script(struct shell *sh, const char *path)
{
	if (!strcmp(path, "-"))
		return run_stream(sh, stdin, "<stdin>");
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cvisor: cannot read %s: %s\n", path,
			strerror(errno));
		return SH_FAILED;
	}
	int st = run_stream(sh, f, path);
	fclose(f);
	return st;
}

static bool want_color(const struct shell_main_opts *o)
{
	const char *term = getenv("TERM");
	return !o->no_color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") &&
	       term && strcmp(term, "dumb");
}

static int run_session(struct registry *reg, const struct shell_main_opts *o)
{
	bool repl = !o->commands && !o->script && isatty(STDIN_FILENO);
	struct shell_opts so = {
		.color = want_color(o),
		.interactive = repl,
		.tty_in = STDIN_FILENO,
		.tty_out = STDOUT_FILENO,
	};
	struct shell *sh;
	struct cv_err e = {0};
	if (shell_create(reg, &so, &sh, &e)) {
		fprintf(stderr, "cvisor: %s\n", e.msg);
		return 1;
	}
	int st;
	if (o->commands) {
		st = shell_run_line(sh, o->commands, stdout, stderr);
	} else if (o->script) {
		st = run_script(sh, o->script);
	} else if (repl) {
		char hist[PATH_MAX + 16];
		snprintf(hist, sizeof(hist), "%s/history", o->state_dir);
		st = shell_repl(sh, hist);
	} else {
		st = run_stream(sh, stdin, "<stdin>");
	}
	int asked;
	if (shell_exit_requested(sh, &asked))
		st = asked ? asked : (repl ? 0 : st);
	else if (repl)
		st = 0;
	shell_destroy(sh);
	return st;
}

int shell_main(const struct shell_main_opts *o)
{
	struct registry_opts ro = {
		.state_dir = o->state_dir,
		.accel_default = o->accel,
	};
	registry_opts_set_host(&ro, &o->host);
	struct registry *reg;
	struct cv_err e = {0};
	if (registry_create(&ro, &reg, &e)) {
		fprintf(stderr, "cvisor: %s\n", e.msg);
		return 1;
	}
	/* this thread runs the commands: confine it (docs/security.md) */
	if (!o->host.no_seccomp &&
	    sandbox_enter(SANDBOX_SHELL, "the shell's main thread", &e)) {
		fprintf(stderr, "cvisor: %s\n", e.msg);
		registry_destroy(reg, false);
		return 1;
	}
	/* a reader that went away must not kill us half-way through a stop */
	signal(SIGPIPE, SIG_IGN);
	int st = run_session(reg, o);
	fflush(stdout);
	registry_destroy(reg, false);
	return st;
}
