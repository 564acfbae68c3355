/*
 * delete: `vm delete <ID...> [--force] [--keep-data]` — in SPEC §1's order
 * (validate, signal shutdown, unlist, join the vCPUs, release, remove the
 * data directory unless --keep-data); registry_delete does the work.
 */
#include <errno.h>

#include "shell_int.h"

enum { O_FORCE, O_KEEP };
static const struct sh_opt opts[] = {
	[O_FORCE] = { "force", 'f', SH_FLAG, NULL, "delete even a running VM" },
	[O_KEEP] = { "keep-data", 0, SH_FLAG, NULL, "keep the data directory (config copy, console.log)" },
};

static int delete_one(struct sh_ctx *c, struct reg_vm *v,
		      const struct sh_args *a, json_t *res)
{
	bool force = a->given[O_FORCE], keep = a->given[O_KEEP];
	uint32_t id = reg_vm_id(v);
	struct cv_err e = {0};
	enum vm_state seen = VM_LOADED;
	int rc = registry_delete(c->reg, v, force, keep, &seen, &e);
	const char *msg = "deleted";
	if (rc == -EBUSY && (seen == VM_RUNNING || seen == VM_SUSPENDED ||
			     seen == VM_STOPPING)) {
		sh_err(c, "✗ VM[%u] is currently running\n"
			  "  Use 'vm stop %u' first, or use '--force' to force "
			  "delete\n", id, id);
		msg = "refused: VM is currently running";
	} else if (rc == -ENOENT) {
		sh_err(c, "✗ VM[%u] not found\n", id);
		msg = "not found";
	} else if (rc < 0) {
		sh_refused(c, "delete", id, e.msg);
		msg = e.msg;
	} else if (rc > 0) {
		sh_err(c, "⚠ VM[%u] deleted, but its data stays: %s\n", id,
		       e.msg);
		msg = e.msg;
	} else if (keep) {
		sh_out(c, "✓ VM[%u] deleted (configuration and data "
			  "preserved)\n", id);
	} else {
		sh_out(c, "✓ VM[%u] deleted completely\n", id);
	}
	json_array_append_new(res, json_pack("{s:I,s:b,s:s}", "id",
				(json_int_t)id, "ok", rc == 0, "message",
				msg));
	return rc ? SH_FAILED : SH_OK;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	if (!a->npos)
		return sh_usage_error(c, "which VM? (expected an id or a name)");
	return sh_each_vm(c, a, delete_one);
}

const struct sh_verb sh_verb_delete = {
	.name = "delete",
	.summary = "Delete VMs (and their data unless --keep-data)",
	.usage = "vm delete <ID|NAME...> [--force|-f] [--keep-data]",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
