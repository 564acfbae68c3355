/*
 * main: the cvisor binary — global options, then the first word picks the
 * command (kvmtool style: one command table, one file per command).  With
 * no command: the interactive shell on a terminal, else batch commands
 * from stdin.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "config_check.h"
#include "frontend.h"
#include "hostopts.h"
#include "hostpaths.h"
#include "tmark.h"

#ifndef CVISOR_VERSION
#define CVISOR_VERSION "0.0.0"
#endif

static const char usage[] =
	"Usage: cvisor [OPTIONS] [<command> [args]]\n"
	"       cvisor [OPTIONS] -c 'vm create a.toml; vm start 0'\n"
	"\n"
	"Commands:\n"
	"  shell                   the interactive hypervisor shell (prompt cvisor:$)\n"
	"  script FILE             run the shell commands in FILE ('-': stdin)\n"
	"  run [CONFIG]            run one VM in the foreground (no CONFIG: the demo)\n"
	"  config check FILE...    validate VM configs and print them normalized\n"
	"  serve                   run as a daemon behind a Unix socket ('serve --help')\n"
	"  vm <verb> [args]        a `vm` command run by the daemon (client)\n"
	"  events                  stream the daemon's VM events as JSON lines\n"
	"  metrics                 the daemon's metrics (Prometheus text format)\n"
	"  version                 print the version\n"
	"  help                    this help\n"
	"\n"
	"Without a command: the shell when stdin is a terminal, else the commands\n"
	"read from stdin.  Batch modes (-c, script, stdin) exit non-zero when any\n"
	"command failed.\n"
	"\n"
	"Options (for shell, script, -c and stdin; the last six also for run):\n"
	"  -c TEXT                 run the commands in TEXT (';' or newlines apart)\n"
	"  --state-dir DIR         VM data directories (default: /var/lib/cvisor as\n"
	"                          root, else $XDG_STATE_HOME/cvisor)\n"
	"  --accel auto|kvm|emu    backend for configs that say accel = \"auto\"\n"
	"  --no-color              no ANSI colour\n"
	"  --connect PATH          run the commands in the daemon at PATH (also for\n"
	"                          vm, events, metrics: default $CVISOR_SOCKET, else\n"
	"                          the socket 'cvisor serve' uses by default)\n"
	"%s"
	"\n"
	"'cvisor <command> --help' describes each command; 'cvisor -c help' the\n"
	"shell commands.\n";

static void print_usage(FILE *f)
{
	fprintf(f, usage, host_opts_usage);
}

int parse_accel(const char *s, enum vm_accel *out)
{
	if (!strcmp(s, "auto"))
		*out = VM_ACCEL_AUTO;
	else if (!strcmp(s, "kvm"))
		*out = VM_ACCEL_KVM;
	else if (!strcmp(s, "emu"))
		*out = VM_ACCEL_EMU;
	else
		return -EINVAL;
	return 0;
}

static int cmd_config(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_config_check(argc - 1, argv + 1, stdout, stderr);
	fputs("Usage: cvisor config check FILE...\n",
	      argc >= 2 && (!strcmp(argv[1], "--help") ||
			    !strcmp(argv[1], "-h")) ? stdout : stderr);
	return argc >= 2 && (!strcmp(argv[1], "--help") ||
			     !strcmp(argv[1], "-h")) ? 0 : 2;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", cmd_run },
	{ "config", cmd_config },
	{ "serve", cmd_serve },
};

/* Options of the shell modes: before the command or after shell/script. */
struct shell_cli {
	struct shell_main_opts o;
	char state_dir[PATH_MAX];
	bool seen;			/* any shell option given */
	const char *connect;		/* --connect PATH: a daemon runs them */
};

/* 1 = consumed argv[*i] (and maybe its value), 0 = not ours, -1 = error. */
static int shell_option(struct shell_cli *s, int argc, char **argv, int *i)
{
	const char *w = argv[*i];
	const char *val = NULL;
	size_t n;
	struct cv_err e = {0};
	int hrc = host_opt_argv(&s->o.host, argc, argv, i, &e);
	if (hrc < 0) {
		fprintf(stderr, "cvisor: %s\n", e.msg);
		return -1;
	}
	if (hrc)
		return s->seen = true;
	if (!strcmp(w, "--no-color")) {
		s->o.no_color = true;
		return s->seen = true;
	}
	static const char *const names[] = { "--state-dir", "--accel", "-c",
					     "--connect" };
	for (size_t k = 0; k < 4; k++) {
		n = strlen(names[k]);
		if (strncmp(w, names[k], n) || (w[n] && w[n] != '='))
			continue;
		if (w[n] == '=')
			val = w + n + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		if (!val) {
			fprintf(stderr, "cvisor: %s needs a value\n", names[k]);
			return -1;
		}
		if (k == 3) {
			s->connect = val;
			return 1;
		}
		s->seen = true;
		if (k == 0) {
			snprintf(s->state_dir, sizeof(s->state_dir), "%s", val);
		} else if (k == 1 && parse_accel(val, &s->o.accel)) {
			fprintf(stderr, "cvisor: --accel: expected auto, kvm or "
					"emu, got '%s'\n", val);
			return -1;
		} else if (k == 2) {
			s->o.commands = val;
		}
		return 1;
	}
	return 0;
}

static int run_shell(struct shell_cli *s)
{
	if (!s->state_dir[0])
		default_state_dir(s->state_dir, sizeof(s->state_dir));
	s->o.state_dir = s->state_dir;
	if (s->connect)
		return client_shell(s->connect, &s->o);
	return shell_main(&s->o);
}

/* `cvisor shell [options]` and `cvisor script FILE [options]` */
static int cmd_shell_like(struct shell_cli *s, int argc, char **argv,
			  bool script)
{
	for (int i = 1; i < argc; i++) {
		int rc = shell_option(s, argc, argv, &i);
		if (rc < 0)
			return 2;
		if (rc)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_usage(stdout);
			return 0;
		}
		if (script && !s->o.script && (argv[i][0] != '-' ||
					       !strcmp(argv[i], "-"))) {
			s->o.script = argv[i];
			continue;
		}
		fprintf(stderr, "cvisor %s: unexpected argument '%s'\n\n",
			argv[0], argv[i]);
		print_usage(stderr);
		return 2;
	}
	if (script && !s->o.script) {
		fprintf(stderr, "cvisor script: which FILE? ('-' for stdin)\n");
		return 2;
	}
	if (s->o.commands && (script || !strcmp(argv[0], "shell"))) {
		fprintf(stderr, "cvisor: -c cannot be combined with %s\n",
			argv[0]);
		return 2;
	}
	return run_shell(s);
}

int main(int argc, char **argv)
{
	cv_tmark("main");
	struct shell_cli s = { .o.accel = VM_ACCEL_AUTO };
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *w = argv[i];
		if (!strcmp(w, "help") || !strcmp(w, "--help") ||
		    !strcmp(w, "-h")) {
			print_usage(stdout);
			return 0;
		}
		if (!strcmp(w, "--version")) {
			printf("cvisor %s\n", CVISOR_VERSION);
			return 0;
		}
		int rc = shell_option(&s, argc, argv, &i);
		if (rc < 0)
			return 2;
		if (!rc) {
			fprintf(stderr, "cvisor: unknown option '%s'\n\n", w);
			print_usage(stderr);
			return 2;
		}
	}
	if (s.o.commands) {
		if (i < argc) {
			fprintf(stderr, "cvisor: -c takes the commands as one "
					"argument; unexpected '%s'\n", argv[i]);
			return 2;
		}
		return run_shell(&s);
	}
	if (i >= argc)
		return run_shell(&s);
	const char *cmd = argv[i];
	if (!strcmp(cmd, "shell") || !strcmp(cmd, "script"))
		return cmd_shell_like(&s, argc - i, argv + i,
				      !strcmp(cmd, "script"));
	if (!strcmp(cmd, "vm") || !strcmp(cmd, "events") ||
	    !strcmp(cmd, "metrics")) {
		if (s.seen && (s.o.commands || s.state_dir[0] ||
			       s.o.accel != VM_ACCEL_AUTO)) {
			fprintf(stderr, "cvisor: only --connect and --no-color "
					"go with '%s'\n", cmd);
			return 2;
		}
		return client_command(s.connect, s.o.no_color, argc - i,
				      argv + i);
	}
	if (s.seen || s.connect) {
		fprintf(stderr, "cvisor: the options before '%s' belong to the "
				"shell modes; give them after '%s'\n", cmd, cmd);
		return 2;
	}
	if (!strcmp(cmd, "help")) {
		print_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version")) {
		printf("cvisor %s\n", CVISOR_VERSION);
		return 0;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(cmd, commands[k].name))
			return commands[k].fn(argc - i, argv + i);
	fprintf(stderr, "cvisor: unknown command '%s'\n\n", cmd);
	print_usage(stderr);
	return 2;
}
