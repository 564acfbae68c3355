/*
 * wait: `vm wait <ID> [--state S] [--timeout SECONDS]` — block until the
 * VM reaches a state (default Stopped), e.g. in scripts after `vm start`
 * of a guest that powers itself off.  Gives up when the VM is deleted.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "shell_int.h"

enum { O_STATE, O_TIMEOUT };
static const struct sh_opt opts[] = {
	[O_STATE] = { "state", 's', SH_VALUE, "STATE", "Loaded, Running, Suspended, Stopping or Stopped (default Stopped)" },
	[O_TIMEOUT] = { "timeout", 't', SH_VALUE, "SECONDS", "give up after this long (default: never)" },
};

/*
 * Woken by the registry's events of this VM (every state change, the
 * delete): `seq` counts them, so one that comes between a look at the
 * state and the sleep is not lost.  No timer but the caller's deadline.
 */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC */
	uint32_t id;
	enum vm_state want;
	uint64_t seq;
	bool reached;		/* an event said the VM entered `want` */
};

/* registry listener (its delivery lock, maybe a VM's lock, held) */
static void on_event(void *ctx, const struct reg_event *e)
{
	struct waiter *w = ctx;
	if (e->id != w->id)
		return;
	pthread_mutex_lock(&w->lock);
	w->seq++;
	if (e->kind == REG_EVENT_STATE && e->new_state == w->want)
		w->reached = true;	/* even if it left it again since */
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Sleep until an event after `seen` or the deadline (0 = none). */
static void sleep_until_event(struct waiter *w, uint64_t seen,
			      uint64_t deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000ull),
		.tv_nsec = (long)(deadline % 1000000000ull),
	};
	pthread_mutex_lock(&w->lock);
	while (w->seq == seen) {
		if (!deadline)
			pthread_cond_wait(&w->cond, &w->lock);
		else if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) ==
			 ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&w->lock);
}

static uint64_t seq_of(struct waiter *w, bool *reached)
{
	pthread_mutex_lock(&w->lock);
	uint64_t s = w->seq;
	*reached = w->reached;
	pthread_mutex_unlock(&w->lock);
	return s;
}

/* 0 reached; -ETIMEDOUT; -ENOENT deleted (or its load failed). */
static int wait_events(struct reg_vm *v, struct waiter *w, enum vm_state want,
		       uint64_t deadline)
{
	if (want != VM_LOADING && reg_vm_wait_loaded(v))
		return -ENOENT;
	for (;;) {
		bool reached;
		uint64_t seen = seq_of(w, &reached);
		if (reg_vm_deleted(v))
			return -ENOENT;
		if (reached || reg_vm_state(v) == want)
			return 0;
		if (deadline && sh_now_ns() >= deadline)
			return -ETIMEDOUT;
		sleep_until_event(w, seen, deadline);
	}
}

static int wait_for(struct sh_ctx *c, struct reg_vm *v, enum vm_state want,
		    uint64_t timeout)
{
	uint64_t deadline = timeout ? sh_now_ns() + timeout : 0;
	struct waiter w = { .id = reg_vm_id(v), .want = want };
	pthread_condattr_t ca;
	int rc = -pthread_condattr_init(&ca);
	if (rc)
		return rc;
	rc = -pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = -pthread_cond_init(&w.cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return rc;
	pthread_mutex_init(&w.lock, NULL);
	/* before the first look at the state: no change goes unseen */
	rc = registry_add_listener(c->reg, on_event, &w);
	if (!rc) {
		rc = wait_events(v, &w, want, deadline);
		registry_remove_listener(c->reg, on_event, &w);
	}
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return rc;
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
	int rc = wait_for(c, v, want, timeout);
	if (!rc)
		sh_out(c, "✓ VM[%u] is %s\n", id, vm_state_name(want));
	else if (rc == -ENOENT)
		sh_err(c, "✗ VM[%u] was deleted while waiting\n", id);
	else if (rc != -ETIMEDOUT)
		sh_err(c, "✗ Cannot wait for VM[%u]: %s\n", id,
		       strerror(-rc));
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
