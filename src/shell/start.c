/*
 * start: `vm start [ID...] [--detach|-d]` — Loaded/Stopped -> Running (a
 * fresh boot from Stopped).  Without ids every startable VM is started.
 * In an interactive shell on a terminal, starting a single VM without
 * --detach attaches its console (Ctrl-] detaches; the VM keeps running).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "shell_int.h"
#include "vmstate.h"

static const struct sh_opt opts[] = {
	{ "detach", 'd', SH_FLAG, NULL, "do not attach the console" },
};

/* Start one VM; prints the outcome.  true when it started. */
static bool start_one(struct sh_ctx *c, struct reg_vm *v, json_t *res)
{
	uint32_t id = reg_vm_id(v);
	struct cv_err e = {0};
	bool ok = false;
	/* refuse at once: never queue behind a long stop of this VM */
	const char *why = vm_refusal(VM_CMD_START, reg_vm_state(v), false);
	if (why) {
		cv_err_set(&e, EINVAL, "%s", why);
	} else if (reg_vm_lock_op(v)) {
		cv_err_set(&e, ENOENT, "VM was deleted");
	} else {
		ok = vm_start(reg_vm_vm(v), &e) == 0;
		reg_vm_unlock_op(v);
	}
	if (ok)
		sh_out(c, "✓ VM[%u] started successfully\n", id);
	else
		sh_refused(c, "start", id, e.msg);
	json_array_append_new(res, json_pack("{s:I,s:b,s:s}", "id",
				(json_int_t)id, "ok", ok, "message",
				ok ? "started" : e.msg));
	return ok;
}

static void lower(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)s[i]);
	buf[i] = '\0';
}

/* No ids: every Loaded or Stopped VM, the others are skipped. */
static int start_all(struct sh_ctx *c, json_t *res, struct reg_vm **single)
{
	struct reg_vm **vms;
	size_t n, started = 0, failed = 0;
	if (registry_snapshot(c->reg, &vms, &n)) {
		sh_err(c, "✗ Failed to start VMs: out of memory\n");
		return SH_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		enum vm_state s = reg_vm_state(vms[i]);
		char st[16];
		if (s == VM_RUNNING) {
			sh_out(c, "⚠ VM[%u] is already running, skipping\n",
			       reg_vm_id(vms[i]));
			continue;
		}
		if (s != VM_LOADED && s != VM_STOPPED) {
			lower(vm_state_name(s), st, sizeof(st));
			sh_out(c, "⚠ VM[%u] is %s, skipping\n",
			       reg_vm_id(vms[i]), st);
			continue;
		}
		if (start_one(c, vms[i], res)) {
			started++;
			*single = vms[i];
		} else {
			failed++;
		}
	}
	sh_out(c, "Started %zu VM(s)\n", started);
	*single = started == 1 ? reg_vm_ref(*single) : NULL;
	registry_snapshot_free(vms, n);
	return failed ? SH_FAILED : SH_OK;
}

static int start_listed(struct sh_ctx *c, const struct sh_args *a,
			json_t *res, struct reg_vm **single)
{
	int status = SH_OK;
	for (size_t i = 0; i < a->npos; i++) {
		struct reg_vm *v;
		if (sh_lookup(c, a->pos[i], &v)) {
			status = SH_FAILED;
			continue;
		}
		if (!start_one(c, v, res))
			status = SH_FAILED;
		else if (a->npos == 1)
			*single = reg_vm_ref(v);
		reg_vm_put(v);
	}
	return status;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	json_t *res = json_array();
	struct reg_vm *single = NULL;
	int status = a->npos ? start_listed(c, a, res, &single)
			     : start_all(c, res, &single);
	sh_set_result(c, json_pack("{s:o}", "vms", res));
	if (single && !a->given[0] && c->sh->o.interactive)
		sh_console_attach(c, single);
	reg_vm_put(single);
	return status;
}

const struct sh_verb sh_verb_start = {
	.name = "start",
	.summary = "Start VMs (all startable ones without ids)",
	.usage = "vm start [ID|NAME...] [--detach|-d]",
	.about = "In the interactive shell, starting one VM attaches its console\n"
		 "(Ctrl-] detaches, the VM keeps running) unless --detach.",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
