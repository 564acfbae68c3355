/*
 * suspend: `vm suspend <ID...>` — Running -> Suspended.  Returns once
 * every vCPU is parked outside guest execution (vm_suspend kicks them; no
 * polling) and says how long that took.
 */
#include <errno.h>

#include "shell_int.h"
#include "vmstate.h"

#define SUSPEND_TIMEOUT_NS 1000000000ull	/* SPEC §1: 1 s */

static int suspend_one(struct sh_ctx *c, struct reg_vm *v,
		       const struct sh_args *a, json_t *res)
{
	(void)a;
	uint32_t id = reg_vm_id(v);
	struct cv_err e = {0};
	uint64_t parked_ns = 0;
	int rc;
	/* refuse at once: never queue behind a long stop of this VM */
	const char *why = vm_refusal(VM_CMD_SUSPEND, reg_vm_state(v), false);
	if (why)
		rc = cv_err_set(&e, EINVAL, "%s", why);
	else
		rc = vm_suspend(reg_vm_vm(v), SUSPEND_TIMEOUT_NS, &parked_ns,
				&e);
	unsigned n = reg_vm_config(v)->cpu_num;
	if (rc) {
		sh_refused(c, "suspend", id, e.msg);
	} else {
		sh_out(c, "✓ VM[%u] suspended (%u %s parked in %llu µs)\n", id,
		       n, sh_plural(n, "vCPU", "vCPUs"),
		       (unsigned long long)((parked_ns + 500) / 1000));
	}
	json_array_append_new(res, json_pack(
		"{s:I,s:b,s:s,s:I}", "id", (json_int_t)id, "ok", !rc,
		"message", rc ? e.msg : "suspended", "parked_ns",
		(json_int_t)parked_ns));
	return rc ? SH_FAILED : SH_OK;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	if (!a->npos)
		return sh_usage_error(c, "which VMs? (expected ids or names)");
	return sh_each_vm(c, a, suspend_one);
}

const struct sh_verb sh_verb_suspend = {
	.name = "suspend",
	.summary = "Suspend (pause) running VMs",
	.usage = "vm suspend <ID|NAME...>",
	.about = "Returns once every vCPU is parked outside guest code.",
	.pos = SH_POS_VMS,
	.run = run,
};
