/* resume: `vm resume <ID...>` — Suspended -> Running, exactly where it was. */
#include <errno.h>

#include "shell_int.h"
#include "vmstate.h"

static int resume_one(struct sh_ctx *c, struct reg_vm *v,
		      const struct sh_args *a, json_t *res)
{
	(void)a;
	uint32_t id = reg_vm_id(v);
	struct cv_err e = {0};
	int rc;
	/* refuse at once: never queue behind a long stop of this VM */
	const char *why = vm_refusal(VM_CMD_RESUME, reg_vm_state(v), false);
	if (why) {
		rc = cv_err_set(&e, EINVAL, "%s", why);
	} else if (reg_vm_lock_op(v)) {
		rc = cv_err_set(&e, ENOENT, "VM was deleted");
	} else {
		rc = vm_resume(reg_vm_vm(v), &e);
		reg_vm_unlock_op(v);
	}
	if (rc)
		sh_refused(c, "resume", id, e.msg);
	else
		sh_out(c, "✓ VM[%u] resumed successfully\n", id);
	json_array_append_new(res, json_pack(
		"{s:I,s:b,s:s}", "id", (json_int_t)id, "ok", !rc,
		"message", rc ? e.msg : "resumed"));
	return rc ? SH_FAILED : SH_OK;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	if (!a->npos)
		return sh_usage_error(c, "which VMs? (expected ids or names)");
	return sh_each_vm(c, a, resume_one);
}

const struct sh_verb sh_verb_resume = {
	.name = "resume",
	.summary = "Resume suspended VMs",
	.usage = "vm resume <ID|NAME...>",
	.pos = SH_POS_VMS,
	.run = run,
};
