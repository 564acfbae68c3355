/*
 * restart: `vm restart <ID...> [--force|-f]` — a real reset: stop
 * (graceful unless --force; forced after 5 s), then a fresh boot (memory
 * cleared, images reloaded).  Stopped/Loaded VMs just start; Stopping is
 * refused without --force; Loading is refused.  Never attaches a console.
 */
#include <errno.h>

#include "shell_int.h"
#include "vmstate.h"

static const struct sh_opt opts[] = {
	{ "force", 'f', SH_FLAG, NULL, "stop at once instead of asking the guest" },
};

static int restart_one(struct sh_ctx *c, struct reg_vm *v,
		       const struct sh_args *a, json_t *res)
{
	bool force = a->given[0];
	uint32_t id = reg_vm_id(v);
	struct cv_err e = {0};
	int rc;
	/* refuse at once: never queue behind a long stop of this VM */
	const char *why = vm_refusal(VM_CMD_RESTART, reg_vm_state(v), force);
	if (why) {
		rc = cv_err_set(&e, EINVAL, "%s", why);
	} else if (reg_vm_lock_op(v)) {
		rc = cv_err_set(&e, ENOENT, "VM was deleted");
	} else {
		sh_out(c, "Restarting VM[%u]...\n", id);
		fflush(c->out);
		rc = vm_restart(reg_vm_vm(v), force, &e);
		reg_vm_unlock_op(v);
	}
	if (rc)
		sh_refused(c, "restart", id, e.msg);
	else
		sh_out(c, "✓ VM[%u] restarted successfully\n", id);
	json_array_append_new(res, json_pack(
		"{s:I,s:b,s:s}", "id", (json_int_t)id, "ok", !rc,
		"message", rc ? e.msg : "restarted"));
	return rc ? SH_FAILED : SH_OK;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	if (!a->npos)
		return sh_usage_error(c, "which VMs? (expected ids or names)");
	return sh_each_vm(c, a, restart_one);
}

const struct sh_verb sh_verb_restart = {
	.name = "restart",
	.summary = "Restart VMs (a real reset and a fresh boot)",
	.usage = "vm restart <ID|NAME...> [--force|-f]",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
