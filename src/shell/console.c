/*
 * console: `vm console <ID>` — attach the terminal to a VM's serial
 * console (the last 64 KiB replayed, then live; Ctrl-] detaches).  Needs
 * an interactive shell on a terminal; elsewhere use `vm log`.
 */
#include "shell_int.h"

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	if (sh_one_vm(c, a))
		return SH_USAGE;
	struct reg_vm *v;
	if (sh_lookup(c, a->pos[0], &v))
		return SH_FAILED;
	int status = sh_console_attach(c, v);
	reg_vm_put(v);
	return status;
}

const struct sh_verb sh_verb_console = {
	.name = "console",
	.summary = "Attach to a VM's serial console (Ctrl-] detaches)",
	.usage = "vm console <ID|NAME>",
	.pos = SH_POS_VMS,
	.run = run,
};
