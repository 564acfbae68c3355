/*
 * main: the cvisor binary — parse the first word and hand over to the
 * command's own file (kvmtool style: one command table).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config_check.h"

#ifndef CVISOR_VERSION
#define CVISOR_VERSION "0.0.0"
#endif

static const char usage[] =
	"Usage: cvisor <command> [args]\n"
	"\n"
	"Commands:\n"
	"  run [CONFIG]            run one VM in the foreground (no CONFIG: the demo)\n"
	"  config check FILE...    validate VM configs and print them normalized\n"
	"  version                 print the version\n"
	"  help                    this help\n"
	"\n"
	"'cvisor <command> --help' describes each command.\n";

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
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("cvisor %s\n", CVISOR_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "cvisor: unknown command '%s'\n\n%s", cmd, usage);
	return 2;
}
