/*
 * wait: `vm wait <ID> [--state S] [--timeout SECONDS]` — block until the
 * VM reaches a state (default Stopped), e.g. in scripts after `vm start`
 * of a guest that powers itself off.  Gives up when the VM is deleted.
 */
#include <errno.h>
#include <string.h>

#include "shell_int.h"

#define SLICE_NS (50ull * 1000000ull)	/* how often `deleted` is seen */

enum { O_STATE, O_TIMEOUT };
static const struct sh_opt opts[] = {
	[O_STATE] = { "state", 's', SH_VALUE, "STATE", "Loaded, Running, Suspended, Stopping or Stopped (default Stopped)" },
	[O_TIMEOUT] = { "timeout", 't', SH_VALUE, "SECONDS", "give up after this long (default: never)" },
};

/* 0 reached; -ETIMEDOUT; -ENOENT deleted (or its load failed). */
static int wait_for(struct reg_vm *v, enum vm_state want, uint64_t timeout)
{
	uint64_t deadline = timeout ? sh_now_ns() + timeout : 0;
	if (want != VM_LOADING && reg_vm_wait_loaded(v))
		return -ENOENT;
	for (;;) {
		if (reg_vm_deleted(v))
			return -ENOENT;
		if (reg_vm_state(v) == want)
			return 0;
		uint64_t now = sh_now_ns(), slice = SLICE_NS;
		if (deadline && now >= deadline)
			return -ETIMEDOUT;
		if (deadline && deadline - now < slice)
			slice = deadline - now;
		struct vm *vm = reg_vm_vm(v);
		if (vm && vm_wait_state(vm, want, slice) == 0)
			return reg_vm_deleted(v) ? -ENOENT : 0;
	}
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	enum vm_state want = VM_STOPPED;
	uint64_t timeout = 0;
	if (sh_one_vm(c, a))
		return SH_USAGE;
	if (a->value[O_STATE] && sh_parse_state(a->value[O_STATE], &want))
		return sh_usage_error(c, "--state: expected Loading, Loaded, "
					 "Running, Suspended, Stopping or "
					 "Stopped, got '%s'", a->value[O_STATE]);
	if (a->value[O_TIMEOUT] &&
	    sh_parse_seconds(a->value[O_TIMEOUT], &timeout))
		return sh_usage_error(c, "--timeout: expected seconds "
					 "(0..86400), got '%s'",
				      a->value[O_TIMEOUT]);
	if (a->value[O_TIMEOUT] && !timeout)
		timeout = 1;	/* 0 s: just check */
	struct reg_vm *v;
	if (sh_lookup(c, a->pos[0], &v))
		return SH_FAILED;
	uint32_t id = reg_vm_id(v);
	int rc = wait_for(v, want, timeout);
	if (!rc)
		sh_out(c, "✓ VM[%u] is %s\n", id, vm_state_name(want));
	else if (rc == -ENOENT)
		sh_err(c, "✗ VM[%u] was deleted while waiting\n", id);
	else
		sh_err(c, "✗ VM[%u] did not reach %s within %s s (it is %s)\n",
		       id, vm_state_name(want), a->value[O_TIMEOUT],
		       vm_state_name(reg_vm_state(v)));
	sh_set_result(c, json_pack("{s:I,s:b,s:s}", "id", (json_int_t)id,
				   "ok", !rc, "state",
				   vm_state_name(reg_vm_state(v))));
	reg_vm_put(v);
	return rc ? SH_FAILED : SH_OK;
}

const struct sh_verb sh_verb_wait = {
	.name = "wait",
	.summary = "Wait until a VM reaches a state",
	.usage = "vm wait <ID|NAME> [--state STATE] [--timeout SECONDS]",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
