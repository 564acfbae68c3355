/*
 * stop: `vm stop <ID...> [--force|-f] [--timeout SECONDS]` — graceful (the
 * guest is asked through the shutdown-request port; forced after the
 * timeout, default 10 s) or forced at once.  Several VMs are stopped in
 * parallel, one thread each, so N graceful stops take one timeout, not N.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "shell_int.h"
#include "vmstate.h"

#define DEFAULT_TIMEOUT_NS (10ull * 1000000000ull)

enum { O_FORCE, O_TIMEOUT };
static const struct sh_opt opts[] = {
	[O_FORCE] = { "force", 'f', SH_FLAG, NULL, "kick every vCPU out at once" },
	[O_TIMEOUT] = { "timeout", 't', SH_VALUE, "SECONDS", "graceful: force after this long (default 10)" },
};

struct stop_job {
	struct reg_vm *v;
	bool force;
	uint64_t timeout_ns;
	pthread_t thread;
	bool threaded;
	int rc;
	struct cv_err e;
};

/*
 * No registry op lock here: a stop never makes delete's validation wrong
 * (it only moves towards Stopped), and `stop --force` must be able to
 * overtake a graceful stop that is still waiting for the guest.
 */
static void *stop_main(void *arg)
{
	struct stop_job *j = arg;
	/* Loading: stop is allowed and takes effect once it is Loaded */
	if (reg_vm_wait_loaded(j->v)) {
		j->rc = cv_err_set(&j->e, ENOENT, "VM failed to load");
	} else {
		/* vm.c: 0 means its default; "--timeout 0" means at once */
		uint64_t t = j->timeout_ns ? j->timeout_ns : 1;
		j->rc = vm_stop(reg_vm_vm(j->v), j->force, t, &j->e);
	}
	return NULL;
}

/* Look every VM up (once each); the jobs that may proceed are returned. */
static size_t collect(struct sh_ctx *c, const struct sh_args *a, bool force,
		      uint64_t timeout, struct stop_job *jobs, int *status)
{
	size_t n = 0;
	for (size_t i = 0; i < a->npos; i++) {
		struct reg_vm *v;
		if (sh_lookup(c, a->pos[i], &v)) {
			*status = SH_FAILED;
			continue;
		}
		bool dup = false;
		for (size_t k = 0; k < n; k++)
			dup |= jobs[k].v == v;
		const char *why = vm_refusal(VM_CMD_STOP, reg_vm_state(v),
					     force);
		if (dup || why) {
			if (why) {
				sh_refused(c, "stop", reg_vm_id(v), why);
				*status = SH_FAILED;
			}
			reg_vm_put(v);
			continue;
		}
		jobs[n++] = (struct stop_job){ .v = v, .force = force,
					       .timeout_ns = timeout };
		sh_out(c, "%s stopping VM[%u]...\n",
		       force ? "Force" : "Gracefully", reg_vm_id(v));
	}
	fflush(c->out);
	return n;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	bool force = a->given[O_FORCE];
	uint64_t timeout = DEFAULT_TIMEOUT_NS;
	if (!a->npos)
		return sh_usage_error(c, "which VMs? (expected ids or names)");
	if (a->value[O_TIMEOUT] &&
	    sh_parse_seconds(a->value[O_TIMEOUT], &timeout))
		return sh_usage_error(c, "--timeout: expected seconds "
					 "(0..86400), got '%s'",
				      a->value[O_TIMEOUT]);
	struct stop_job *jobs = calloc(a->npos, sizeof(*jobs));
	if (!jobs) {
		sh_err(c, "✗ Failed to stop VMs: out of memory\n");
		return SH_FAILED;
	}
	int status = SH_OK;
	size_t n = collect(c, a, force, timeout, jobs, &status);
	for (size_t i = 0; n > 1 && i < n; i++)
		jobs[i].threaded = !pthread_create(&jobs[i].thread, NULL,
						    stop_main, &jobs[i]);
	for (size_t i = 0; i < n; i++)
		if (!jobs[i].threaded)
			stop_main(&jobs[i]);
	json_t *res = json_array();
	for (size_t i = 0; i < n; i++) {
		struct stop_job *j = &jobs[i];
		uint32_t id = reg_vm_id(j->v);
		if (j->threaded)
			pthread_join(j->thread, NULL);
		if (j->rc) {
			sh_refused(c, "stop", id, j->e.msg);
			status = SH_FAILED;
		} else {
			sh_out(c, "✓ VM[%u] stopped\n", id);
		}
		json_array_append_new(res, json_pack(
			"{s:I,s:b,s:s}", "id", (json_int_t)id, "ok", !j->rc,
			"message", j->rc ? j->e.msg : "stopped"));
		reg_vm_put(j->v);
	}
	free(jobs);
	sh_set_result(c, json_pack("{s:o}", "vms", res));
	return status;
}

const struct sh_verb sh_verb_stop = {
	.name = "stop",
	.summary = "Stop VMs (graceful, or --force)",
	.usage = "vm stop <ID|NAME...> [--force|-f] [--timeout SECONDS]",
	.about = "Graceful: the guest sees a shutdown request (port 0x5f0) and is\n"
		 "forced after the timeout.  Several VMs stop in parallel.",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
