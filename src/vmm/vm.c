/*
 * vm: lifecycle and state machine of one VM, and its vCPU runner threads.
 *
 * Locking: vm->ctl serializes controller operations (start, stop, ...) on
 * this VM; vm->lock protects the state, the per-vCPU mailboxes and the
 * guest-event fields; vm->cond is broadcast on every change of those.
 * Runner threads never take vm->ctl.  vm->irq_lock keeps device interrupt
 * lines (any thread, e.g. console input raising UART RX) from reaching a
 * backend VM that is being replaced.
 *
 * `vm list` reads no lock: every change of the state or a mailbox goes
 * through changed_locked(), which publishes the VM state and each vCPU's
 * visible state under a sequence counter (a seqlock whose writers are
 * serialized by vm->lock) and then broadcasts.  vm_snapshot() without
 * registers retries until it read one consistent view, so a preempted
 * vCPU thread holding vm->lock cannot delay it.
 *
 * Mailbox protocol (per vCPU): the controller sets `want` under the lock
 * and kicks; the runner acknowledges by setting `is` under the lock and
 * broadcasting.  A vCPU is "parked" (is == IS_PARKED) only while its runner
 * is outside guest execution.  The last vCPU to park moves Stopping to
 * Stopped.  A guest-requested reset is performed by the VM's reset thread
 * once every vCPU has parked: not by a runner, so that the vCPU threads'
 * seccomp filters (sandbox.h) need not allow what rebuilding the machine
 * takes (opening images and /dev/kvm, creating engines).
 *
 * Every thread confines itself at its start (unless the VM was created
 * with no_seccomp) and reports to vm_create, which fails when a filter
 * could not be installed.
 */
#include "vm.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "bus.h"
#include "console.h"
#include "devices.h"
#include "fault.h"
#include "fsutil.h"
#include "memory.h"
#include "sandbox.h"
#include "vmevent.h"
#include "vmstate.h"
#include "tmark.h"

#define SLICE_US 1000u			/* round-robin slice (single_thread) */
#define DEFAULT_LOG_CAP (16ull << 20)
#define RESET_WAIT_NS (5ull * 1000000000ull)

enum mb_want { WANT_PARK, WANT_RUN, WANT_QUIT };
enum mb_is { IS_PARKED, IS_RUNNING, IS_HALTED, IS_EXITED };

struct runner;

struct vcpu {
	struct vm *vm;
	unsigned index;
	struct backend_vcpu *bv;
	struct vcpu_stats stats;
	enum mb_want want;
	enum mb_is is;
	bool halted;		/* executed HLT; cleared by reset */
	struct runner *runner;
	atomic_int pub_vis;	/* published enum vcpu_state (seqlock) */
};

struct runner {
	struct vm *vm;
	pthread_t thread;
	bool started;
	unsigned first, count;
	unsigned rr;
	atomic_int tid;		/* read without the lock by vm_snapshot() */
	clockid_t cpu_clock;
	bool has_cpu_clock;
	/* start-up report to vm_create (under vm->lock) */
	bool ready;
	int sandbox_rc;
	char sandbox_msg[CV_ERR_MAX];
};

struct vm {
	uint32_t id;
	struct vm_config cfg;
	char data_dir[PATH_MAX];
	bool force_reboot_stop;
	uint64_t log_cap;
	bool sandbox;			/* threads confine themselves */
	int vcpu_nice;			/* vm_host_opts.vcpu_nice */
	void (*thread_hook)(void *ctx, const char *what);
	void *thread_hook_ctx;

	const struct backend_ops *ops;
	char backend_why[256];
	struct guest_mem mem;
	struct bus bus;
	struct console *console;
	struct vm_devices *devs;
	struct backend_vm *bvm;	/* replaced under irq_lock */
	pthread_mutex_t irq_lock;	/* device lines vs. bvm replacement */
	struct boot_plan plan;

	struct vcpu *vcpus;
	unsigned nvcpus;
	struct runner *runners;
	unsigned nrunners;
	struct runner resetter;		/* performs guest-requested resets */
	bool quitting;			/* the threads are asked to end */
	/* device timer thread (kvm: RTC interrupts), see timer_main() */
	struct runner timer;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond;	/* CLOCK_MONOTONIC */
	bool timer_rearm, timer_quit;	/* (timer_lock) */

	pthread_mutex_t ctl;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_state state;
	bool reset_requested;
	bool resetting;
	enum vm_stop_reason stop_reason;
	int exit_code;
	char last_error[256];
	uint64_t start_ns;
	uint64_t stop_ns;
	uint64_t reboots;
	struct vm_boot_info boot_info;	/* copy of the plan's, under lock */
	bool force_requested;	/* a forced stop overtakes a graceful one */

	/* the lock-free view (see the top of this file) */
	atomic_uint pub_seq;	/* odd while a writer updates the view */
	atomic_int pub_state;	/* enum vm_state */
	/* state-change hook (vm_host_opts.on_state), fixed at creation */
	void (*on_state)(void *ctx, struct vm *vm, enum vm_state old_state,
			 enum vm_state new_state, enum vm_stop_reason reason,
			 int exit_code);
	void *state_ctx;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t now_ns(void)
{
	return cvports_now_ns();
}

/* Wait on vm->cond until deadline (absolute, CLOCK_MONOTONIC ns; 0 = ever). */
static int cond_wait_until(struct vm *vm, uint64_t deadline)
{
	if (!deadline)
		return pthread_cond_wait(&vm->cond, &vm->lock);
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000ull),
		.tv_nsec = (long)(deadline % 1000000000ull),
	};
	return pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
}

static uint64_t deadline_after(uint64_t timeout_ns)
{
	return timeout_ns ? now_ns() + timeout_ns : 0;
}

static enum vcpu_state visible_state_locked(const struct vm *vm,
					    const struct vcpu *v);

/* Publish the lock-free view (lock held, the only kind of writer). */
static void publish_locked(struct vm *vm)
{
	unsigned seq = atomic_load_explicit(&vm->pub_seq, memory_order_relaxed);
	atomic_store_explicit(&vm->pub_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&vm->pub_state, (int)vm->state,
			      memory_order_relaxed);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		atomic_store_explicit(&vm->vcpus[i].pub_vis,
				      (int)visible_state_locked(vm,
								&vm->vcpus[i]),
				      memory_order_relaxed);
	atomic_store_explicit(&vm->pub_seq, seq + 2, memory_order_release);
}

/* The state or a mailbox changed: publish it and wake the waiters. */
static void changed_locked(struct vm *vm)
{
	publish_locked(vm);
	pthread_cond_broadcast(&vm->cond);
}

static void kick_all_locked(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].bv)
			vm->ops->vcpu_kick(vm->vcpus[i].bv);
}

static void want_all_locked(struct vm *vm, enum mb_want w)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].want != WANT_QUIT)
			vm->vcpus[i].want = w;
	if (w != WANT_RUN)
		kick_all_locked(vm);
	changed_locked(vm);
}

static bool all_parked_locked(const struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].is != IS_PARKED && vm->vcpus[i].is != IS_EXITED)
			return false;
	return true;
}

/*
 * Every state change after vm_create goes through here (lock held), so the
 * hook sees each one once, in order.  Set stop_reason/exit_code first.
 */
static void set_state_locked(struct vm *vm, enum vm_state s)
{
	enum vm_state old = vm->state;
	if (old == s)
		return;
	vm->state = s;
	if (!vm->on_state)
		return;
	bool stopping = s == VM_STOPPING || s == VM_STOPPED;
	vm->on_state(vm->state_ctx, vm, old, s,
		     stopping ? vm->stop_reason : VM_STOP_NONE,
		     stopping ? vm->exit_code : -1);
}

/* ---- guest-initiated transitions (any thread, lock held) -------------- */

static void guest_stop_locked(struct vm *vm, enum vm_stop_reason why,
			      int exit_code)
{
	if (vm->state != VM_RUNNING && vm->state != VM_SUSPENDED &&
	    vm->state != VM_STOPPING)
		return;
	if (vm->state != VM_STOPPING || vm->stop_reason == VM_STOP_NONE ||
	    vm->stop_reason == VM_STOP_REQUESTED) {
		if (why != VM_STOP_REQUESTED || vm->stop_reason == VM_STOP_NONE)
			vm->stop_reason = why;
	}
	if (exit_code >= 0 && vm->exit_code < 0)
		vm->exit_code = exit_code;
	set_state_locked(vm, VM_STOPPING);
	want_all_locked(vm, WANT_PARK);
}

static void guest_reboot_locked(struct vm *vm)
{
	if (vm->state != VM_RUNNING)
		return;
	if (vm->cfg.on_reboot == VM_ON_REBOOT_STOP || vm->force_reboot_stop) {
		guest_stop_locked(vm, VM_STOP_REBOOT, -1);
		return;
	}
	vm->reset_requested = true;
	want_all_locked(vm, WANT_PARK);
}

static void vm_post_event(void *ctx, enum vm_event_kind kind, int arg)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->lock);
	switch (kind) {
	case VM_EVENT_DEBUG_EXIT:
		guest_stop_locked(vm, VM_STOP_DEBUG_EXIT, arg & 0xff);
		break;
	case VM_EVENT_POWEROFF:
		guest_stop_locked(vm, VM_STOP_POWEROFF, -1);
		break;
	case VM_EVENT_RESET:
		guest_reboot_locked(vm);
		break;
	}
	pthread_mutex_unlock(&vm->lock);
}

static void record_error_locked(struct vm *vm, const char *msg)
{
	snprintf(vm->last_error, sizeof(vm->last_error), "%s", msg);
}

/* ---- (re)building the machine ---------------------------------------- */

static bool wants_irqchip(const struct vm *vm)
{
	return vm->cfg.interrupt_mode != VM_IRQ_NONE;
}

/*
 * A device line (UART IRQ) of an irqchip VM -> the backend's set_irq.
 * Any thread (console input raises RX); irq_lock keeps the backend VM
 * from being replaced meanwhile.
 */
static void vm_irq_line(void *ctx, unsigned irq, bool level)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->irq_lock);
	if (vm->bvm)
		vm->ops->set_irq(vm->bvm, irq, level);
	pthread_mutex_unlock(&vm->irq_lock);
}

static void destroy_backend(struct vm *vm)
{
	if (!vm->ops || !vm->vcpus)
		return;
	pthread_mutex_lock(&vm->irq_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].bv)
			vm->ops->vcpu_destroy(vm->vcpus[i].bv);
		vm->vcpus[i].bv = NULL;
	}
	if (vm->bvm)
		vm->ops->vm_destroy(vm->bvm);
	vm->bvm = NULL;
	pthread_mutex_unlock(&vm->irq_lock);
}

/*
 * Backend VM + vCPUs + images + boot registers.  Guest memory must be
 * clear.  On failure everything this built is gone again.
 */
static int build_backend(struct vm *vm, struct cv_err *err)
{
	struct backend_vm_params p = {
		.mem = &vm->mem,
		.bus = &vm->bus,
		.ncpus = vm->nvcpus,
		.irqchip = wants_irqchip(vm),
		.pic = vm_devices_pic(vm->devs),
		.pit = vm_devices_pit(vm->devs),
		.dev_poll = vm_devices_poll_cb,
		.dev_ctx = vm->devs,
	};
	int rc = boot_load(&vm->cfg, &vm->mem, &vm->plan, err);
	if (rc)
		return rc;
	cv_tmark("build_backend: images loaded");
	struct backend_vm *bvm = NULL;
	rc = vm->ops->vm_create(&p, &bvm, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&vm->irq_lock);
	vm->bvm = bvm;
	pthread_mutex_unlock(&vm->irq_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct boot_cpu_state s;
		rc = vm->ops->vcpu_create(vm->bvm, i, &v->stats, &v->bv, err);
		if (rc)
			goto fail;
		boot_vcpu_state(&vm->plan, i, vm->nvcpus, &s);
		rc = vm->ops->vcpu_load_boot_state(v->bv, &s, err);
		if (rc)
			goto fail;
		v->halted = false;
	}
	cv_tmark("build_backend: vCPUs made");
	if (vm->ops->code_written)
		for (size_t i = 0; i < vm->plan.ncode; i++)
			vm->ops->code_written(vm->bvm, vm->plan.code[i].gpa,
					      vm->plan.code[i].len);
	pthread_mutex_lock(&vm->lock);
	struct vm_boot_info *bi = &vm->boot_info;
	snprintf(bi->protocol, sizeof(bi->protocol), "%s", vm->plan.protocol);
	bi->bsp_entry = vm->plan.entry;
	bi->ap_entry = vm->plan.ap_entry;
	bi->ap_sipi = vm->plan.ap_sipi;
	bi->acpi_rsdp = vm->plan.acpi_rsdp;
	snprintf(bi->acpi_why, sizeof(bi->acpi_why), "%s", vm->plan.acpi_why);
	pthread_mutex_unlock(&vm->lock);
	return 0;
fail:
	destroy_backend(vm);
	return rc;
}

/* A fresh boot: every vCPU must be parked and no controller racing. */
static int reset_machine(struct vm *vm, struct cv_err *err)
{
	destroy_backend(vm);
	int rc = guest_mem_clear(&vm->mem, err);
	if (rc)
		return rc;
	vm_devices_reset(vm->devs);
	return build_backend(vm, err);
}

/* ---- runner threads -------------------------------------------------- */

static void handle_exit_locked(struct vm *vm, struct vcpu *v,
			       const struct vcpu_exit *ex, int rc)
{
	if (rc < 0 && ex->reason != VCPU_EXIT_ERROR) {
		char msg[sizeof(vm->last_error)];
		snprintf(msg, sizeof(msg), "vCPU %u: run failed: %s", v->index,
			 strerror(-rc));
		record_error_locked(vm, msg);
		guest_stop_locked(vm, VM_STOP_ERROR, -1);
		return;
	}
	switch (ex->reason) {
	case VCPU_EXIT_KICK:
	case VCPU_EXIT_SLICE:
	case VCPU_EXIT_EVENT:	/* the device already posted the event */
		break;
	case VCPU_EXIT_HLT:
		v->halted = true;
		break;
	case VCPU_EXIT_SHUTDOWN:
		guest_reboot_locked(vm);
		break;
	case VCPU_EXIT_ERROR: {
		char msg[sizeof(vm->last_error)];
		snprintf(msg, sizeof(msg), "vCPU %u: %s", v->index, ex->msg);
		record_error_locked(vm, msg);
		guest_stop_locked(vm, VM_STOP_ERROR, -1);
		break;
	}
	}
}

/* Called with the lock held whenever a vCPU changed `is`. */
static void settle_locked(struct vm *vm)
{
	if (vm->state == VM_STOPPING && all_parked_locked(vm)) {
		vm->stop_ns = now_ns();
		vm->reset_requested = false;
		console_flush(vm->console);
		set_state_locked(vm, VM_STOPPED);
	}
	changed_locked(vm);
}

/* A guest-requested reset is due: every vCPU parked, none in flight. */
static bool reset_due_locked(const struct vm *vm)
{
	return vm->reset_requested && !vm->resetting && all_parked_locked(vm);
}

/* The reset thread performs it (lock held; dropped meanwhile). */
static void do_reset_locked(struct vm *vm)
{
	vm->resetting = true;
	pthread_mutex_unlock(&vm->lock);
	struct cv_err err = {0};
	console_flush(vm->console);
	int rc = reset_machine(vm, &err);
	pthread_mutex_lock(&vm->lock);
	vm->resetting = false;
	vm->reset_requested = false;
	if (rc) {
		record_error_locked(vm, err.msg);
		vm->stop_reason = VM_STOP_ERROR;
		set_state_locked(vm, VM_STOPPING);
		settle_locked(vm);
		return;
	}
	vm->reboots++;
	vm->start_ns = now_ns();
	cvports_set_start_time(vm_devices_cvports(vm->devs), vm->start_ns);
	if (vm->on_state)	/* rebooted in place: same state, reason reboot */
		vm->on_state(vm->state_ctx, vm, vm->state, vm->state,
			     VM_STOP_REBOOT, -1);
	if (vm->state == VM_RUNNING)
		want_all_locked(vm, WANT_RUN);
	changed_locked(vm);
}

static void block_host_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGPIPE);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * A new thread confines itself with profile p (when the VM wants it),
 * runs the test hook, and reports to vm_create.  Returns with the lock
 * held.
 */
static void thread_start_locked(struct runner *r, enum sandbox_profile p,
				const char *what)
{
	struct vm *vm = r->vm;
	struct cv_err err = {0};
	char label[96];
	int rc = 0;

	block_host_signals();
	if (p != SANDBOX_RESET && vm->vcpu_nice > 0) {
		/* this thread only (Linux: nice is per thread); raising it
		   needs no privilege, a failure leaves equal weight */
		id_t tid = (id_t)syscall(SYS_gettid);
		errno = 0;
		int cur = getpriority(PRIO_PROCESS, tid);
		if (errno == 0) {
			int want = cur + vm->vcpu_nice;
			if (setpriority(PRIO_PROCESS, tid, want > 19 ? 19 : want)) {
				/* stays at the creator's nice */
			}
		}
	}
	if (vm->sandbox) {
		snprintf(label, sizeof(label), "%s of VM %u (%s)", what, vm->id,
			 vm->ops->name);
		rc = sandbox_enter(p, label, &err);
	}
	if (!rc && vm->thread_hook)
		vm->thread_hook(vm->thread_hook_ctx, what);
	pthread_mutex_lock(&vm->lock);
	atomic_store(&r->tid, (int)syscall(SYS_gettid));
	r->has_cpu_clock = !pthread_getcpuclockid(pthread_self(), &r->cpu_clock);
	r->sandbox_rc = rc;
	snprintf(r->sandbox_msg, sizeof(r->sandbox_msg), "%s", err.msg);
	r->ready = true;
	pthread_cond_broadcast(&vm->cond);
}

/* The reset thread: rebuilds the machine when the guest asked for it. */
static void *resetter_main(void *arg)
{
	struct runner *r = arg;
	struct vm *vm = r->vm;

	thread_start_locked(r, SANDBOX_RESET, "reset thread");
	for (;;) {
		while (!vm->quitting && !reset_due_locked(vm))
			pthread_cond_wait(&vm->cond, &vm->lock);
		if (vm->quitting)
			break;
		do_reset_locked(vm);
	}
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/*
 * The device timer thread, for backends whose vCPU loop does not poll
 * the device clocks (kvm: its in-kernel PIT ticks itself, the RTC's
 * interrupts are cvisor's).  It polls the device set, sleeps until the
 * deadline it returns or a rearm (a guest write that may make it earlier),
 * and polls again; due events raise their line through vm_irq_line.  No
 * deadline, no wake-ups: an idle VM costs nothing.  Confined like a kvm
 * vCPU thread (futex, clocks, KVM_IRQ_LINE).
 */
static void *timer_main(void *arg)
{
	struct runner *r = arg;
	struct vm *vm = r->vm;

	thread_start_locked(r, SANDBOX_VCPU_KVM, "device timer thread");
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_lock(&vm->timer_lock);
	while (!vm->timer_quit) {
		vm->timer_rearm = false;
		pthread_mutex_unlock(&vm->timer_lock);
		uint64_t next = vm_devices_poll(vm->devs, now_ns());
		pthread_mutex_lock(&vm->timer_lock);
		struct timespec ts = {
			.tv_sec = (time_t)(next / 1000000000ull),
			.tv_nsec = (long)(next % 1000000000ull),
		};
		while (!vm->timer_quit && !vm->timer_rearm) {
			if (!next)
				pthread_cond_wait(&vm->timer_cond, &vm->timer_lock);
			else if (now_ns() >= next ||
				 pthread_cond_timedwait(&vm->timer_cond,
							&vm->timer_lock,
							&ts) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&vm->timer_lock);
	return NULL;
}

/* A device deadline may be earlier now (any thread, a device locked). */
static void timer_rearm(void *ctx)
{
	struct vm *vm = ctx;
	pthread_mutex_lock(&vm->timer_lock);
	vm->timer_rearm = true;
	pthread_cond_signal(&vm->timer_cond);
	pthread_mutex_unlock(&vm->timer_lock);
}

static bool needs_timer_thread(const struct vm *vm)
{
	return wants_irqchip(vm) && !vm->ops->userspace_irqchip;
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	struct vm *vm = r->vm;

	thread_start_locked(r, vm->ops->single_thread ? SANDBOX_VCPU_EMU
						      : SANDBOX_VCPU_KVM,
			    "vCPU thread");
	cv_tmark("runner: thread ready");
	for (;;) {
		bool changed = false, all_quit = true;
		unsigned runnable = 0;

		for (unsigned k = 0; k < r->count; k++) {
			struct vcpu *v = &vm->vcpus[r->first + k];
			enum mb_is target;
			if (v->want == WANT_QUIT)
				target = IS_EXITED;
			else if (v->want == WANT_PARK || vm->resetting)
				target = IS_PARKED;
			else
				target = v->halted ? IS_HALTED : IS_RUNNING;
			if (v->want != WANT_QUIT)
				all_quit = false;
			if (target == IS_RUNNING)
				runnable++;
			if (v->is != target) {
				v->is = target;
				changed = true;
			}
		}
		if (changed)
			settle_locked(vm);
		if (all_quit)
			break;
		if (!runnable) {
			pthread_cond_wait(&vm->cond, &vm->lock);
			continue;
		}

		struct vcpu *v = NULL;
		for (unsigned k = 0; k < r->count && !v; k++) {
			struct vcpu *c = &vm->vcpus[r->first +
						    (r->rr + k) % r->count];
			if (c->want == WANT_RUN && !c->halted)
				v = c;
		}
		r->rr = (v->index - r->first + 1) % r->count;
		pthread_mutex_unlock(&vm->lock);

		CV_TMARK_ONCE("runner: first vcpu_run");
		struct vcpu_exit ex = { .reason = VCPU_EXIT_KICK };
		int rc = vm->ops->vcpu_run(v->bv, runnable > 1 ? SLICE_US : 0,
					   &ex);
		console_flush(vm->console);

		pthread_mutex_lock(&vm->lock);
		handle_exit_locked(vm, v, &ex, rc);
	}
	changed_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* Wait for every started thread's start-up report; the first failure. */
static int wait_threads_ready(struct vm *vm, struct cv_err *err)
{
	int rc = 0;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i <= vm->nrunners + 1; i++) {
		struct runner *r = i < vm->nrunners ? &vm->runners[i]
				 : i == vm->nrunners ? &vm->resetter
						     : &vm->timer;
		while (r->started && !r->ready)
			pthread_cond_wait(&vm->cond, &vm->lock);
		if (r->started && r->sandbox_rc && !rc)
			rc = cv_err_set(err, -r->sandbox_rc, "%s",
					r->sandbox_msg);
	}
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

/*
 * The vCPU runner threads, then the reset thread.  They need no backend
 * and no devices yet: they confine themselves and wait parked (vm_create
 * builds the machine meanwhile, wait_threads_ready collects their reports).
 */
static int start_runners(struct vm *vm, struct cv_err *err)
{
	bool shared = vm->ops->single_thread;
	vm->nrunners = shared ? 1 : vm->nvcpus;
	vm->runners = calloc(vm->nrunners, sizeof(*vm->runners));
	if (!vm->runners)
		return cv_err_set(err, ENOMEM, "out of memory");
	int e;
	for (unsigned i = 0; i < vm->nrunners; i++) {
		struct runner *r = &vm->runners[i];
		r->vm = vm;
		r->first = shared ? 0 : i;
		r->count = shared ? vm->nvcpus : 1;
		for (unsigned k = 0; k < r->count; k++)
			vm->vcpus[r->first + k].runner = r;
		e = CV_FAULT("vm.thread");
		if (!e)
			e = pthread_create(&r->thread, NULL, runner_main, r);
		if (e)
			return cv_err_set(err, e, "cannot create a vCPU thread: %s",
					  strerror(e));
		r->started = true;
		/* affinity from phys_cpu_sets: best effort (host may differ);
		 * one thread for all vCPUs (emu) gets the union of the sets */
		uint64_t mask = 0;
		for (unsigned k = 0; k < r->count; k++)
			if (r->first + k < vm->cfg.n_phys_cpu_sets)
				mask |= vm->cfg.phys_cpu_sets[r->first + k];
		if (mask) {
			cpu_set_t set;
			CPU_ZERO(&set);
			for (unsigned b = 0; b < 64; b++)
				if (mask & (1ull << b))
					CPU_SET(b, &set);
			pthread_setaffinity_np(r->thread, sizeof(set), &set);
		}
	}
	vm->resetter.vm = vm;
	e = pthread_create(&vm->resetter.thread, NULL, resetter_main,
			   &vm->resetter);
	if (e)
		return cv_err_set(err, e, "cannot create a VM thread: %s",
				  strerror(e));
	vm->resetter.started = true;
	return 0;
}

/* The device timer thread (kvm irqchip VMs): polls the devices at once. */
static int start_timer(struct vm *vm, struct cv_err *err)
{
	if (!needs_timer_thread(vm))
		return 0;
	vm->timer.vm = vm;
	int e = pthread_create(&vm->timer.thread, NULL, timer_main, &vm->timer);
	if (e)
		return cv_err_set(err, e, "cannot create a VM thread: %s",
				  strerror(e));
	vm->timer.started = true;
	return 0;
}

static void stop_runners(struct vm *vm)
{
	if (!vm->runners)
		return;
	pthread_mutex_lock(&vm->lock);
	vm->quitting = true;
	want_all_locked(vm, WANT_QUIT);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nrunners; i++)
		if (vm->runners[i].started)
			pthread_join(vm->runners[i].thread, NULL);
	if (vm->resetter.started)
		pthread_join(vm->resetter.thread, NULL);
	vm->resetter.started = false;
	if (vm->timer.started) {
		pthread_mutex_lock(&vm->timer_lock);
		vm->timer_quit = true;
		pthread_cond_signal(&vm->timer_cond);
		pthread_mutex_unlock(&vm->timer_lock);
		pthread_join(vm->timer.thread, NULL);
	}
	vm->timer.started = false;
	free(vm->runners);
	vm->runners = NULL;
}

/* ---- create / destroy ------------------------------------------------- */

static int init_sync(struct vm *vm)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int e = pthread_cond_init(&vm->cond, &ca);
	if (!e) {
		e = pthread_cond_init(&vm->timer_cond, &ca);
		if (e)
			pthread_cond_destroy(&vm->cond);
	}
	pthread_condattr_destroy(&ca);
	if (e)
		return -e;
	pthread_mutex_init(&vm->timer_lock, NULL);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->ctl, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	return 0;
}

/*
 * Pick the backend (kvm: its prestart starts now if it has not), then
 * start the VM's threads: they confine themselves and wait parked while
 * vm_create builds the machine.
 */
static int choose_backend(struct vm *vm, enum vm_accel want,
			  struct cv_err *err)
{
	vm->ops = backend_select(want, vm->backend_why,
				 sizeof(vm->backend_why), err);
	if (!vm->ops)
		return -(err && err->code ? err->code : ENODEV);
	if (vm->ops->prestart)
		vm->ops->prestart();	/* overlaps vm_create's next steps */
	int rc = start_runners(vm, err);
	cv_tmark("vm_create: threads started");
	return rc;
}

int vm_create(const struct vm_config *cfg, uint32_t id,
	      const struct vm_host_opts *opts, struct vm **out,
	      struct cv_err *err)
{
	*out = NULL;
	if (cfg->cpu_num == 0 || cfg->cpu_num > VMCFG_MAX_VCPUS)
		return cv_err_set(err, EINVAL, "cpu_num must be 1..%d",
				  VMCFG_MAX_VCPUS);
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return cv_err_set(err, ENOMEM, "out of memory");
	int rc = init_sync(vm);
	if (rc) {
		free(vm);
		return cv_err_set(err, -rc, "cannot initialise VM locks");
	}
	vm->id = id;
	vm->cfg = *cfg;
	vm->state = VM_LOADING;
	vm->exit_code = -1;
	vm->force_reboot_stop = opts && opts->force_reboot_stop;
	vm->sandbox = !(opts && opts->no_seccomp);
	vm->vcpu_nice = opts ? opts->vcpu_nice : 0;
	if (opts) {
		vm->thread_hook = opts->thread_hook;
		vm->thread_hook_ctx = opts->thread_hook_ctx;
		vm->on_state = opts->on_state;
		vm->state_ctx = opts->state_ctx;
	}
	vm->log_cap = opts && opts->console_log_cap ? opts->console_log_cap
						   : DEFAULT_LOG_CAP;
	if (opts && opts->data_dir)
		snprintf(vm->data_dir, sizeof(vm->data_dir), "%s",
			 opts->data_dir);
	vm->nvcpus = cfg->cpu_num;
	bus_init(&vm->bus);

	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		rc = cv_err_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].index = i;
		vm->vcpus[i].want = WANT_PARK;
		vm->vcpus[i].is = IS_PARKED;
	}

	/*
	 * The backend and the VM's threads: kvm at once, so the threads
	 * start while the steps below run; "auto" may wait for the kvm probe
	 * (the prestarted VM, backend_select) and emu for its library (the
	 * prestart's dlopen, ~11 ms), so they come after the steps that need
	 * no backend, which overlap that wait.
	 */
	enum vm_accel want = cfg->accel;
	if (want == VM_ACCEL_AUTO && opts)
		want = opts->accel_default;
	bool early = want == VM_ACCEL_KVM;
	if (early && (rc = choose_backend(vm, want, err)))
		goto fail;

	char log_path[PATH_MAX + 16];
	const char *logp = NULL;
	if (vm->data_dir[0]) {
		int fe = CV_FAULT("data.mkdir");
		rc = fe ? cv_err_set(err, fe, "cannot create %s: %s",
				     vm->data_dir, strerror(fe))
			: cv_mkdir_p(vm->data_dir, err);
		if (rc)
			goto fail;
		snprintf(log_path, sizeof(log_path), "%s/console.log",
			 vm->data_dir);
		logp = log_path;
	}
	vm->console = console_create(logp, vm->log_cap, err);
	if (!vm->console) {
		rc = -(err && err->code ? err->code : ENOMEM);
		goto fail;
	}
	rc = guest_mem_map(&vm->mem, cfg, err);
	if (rc)
		goto fail;
	struct vm_event_sink sink = { .post = vm_post_event, .ctx = vm };
	rc = vm_devices_create(&vm->devs, &vm->bus, cfg, vm->console, sink,
			       err);
	if (rc)
		goto fail;

	if (!early && (rc = choose_backend(vm, want, err)))
		goto fail;
	if (wants_irqchip(vm)) {
		/* kvm brings its own PIC/PIT; emu uses cvisor's models */
		if (vm->ops->userspace_irqchip &&
		    (rc = vm_devices_add_pic_pit(vm->devs, err)))
			goto fail;
		vm_devices_set_irq_handler(vm->devs, vm_irq_line, vm);
		if (needs_timer_thread(vm))
			vm_devices_set_rearm_handler(vm->devs, timer_rearm, vm);
	}
	rc = start_timer(vm, err);
	if (rc)
		goto fail;
	rc = build_backend(vm, err);
	if (rc)
		goto fail;
	cv_tmark("vm_create: backend built");
	rc = wait_threads_ready(vm, err);
	cv_tmark("vm_create: threads ready");
	if (rc)
		goto fail;
	pthread_mutex_lock(&vm->lock);
	vm->state = VM_LOADED;	/* no hook: the caller reports this one */
	changed_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return rc < 0 ? rc : -EINVAL;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&vm->ctl);
	stop_runners(vm);
	destroy_backend(vm);
	if (vm->devs)
		vm_devices_destroy(vm->devs);
	guest_mem_unmap(&vm->mem);
	if (vm->console)
		console_destroy(vm->console);
	free(vm->vcpus);
	pthread_mutex_unlock(&vm->ctl);
	pthread_mutex_destroy(&vm->ctl);
	pthread_mutex_destroy(&vm->irq_lock);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->timer_lock);
	pthread_cond_destroy(&vm->timer_cond);
	free(vm);
}

/* ---- controller operations ------------------------------------------ */

static int refuse(enum vm_cmd cmd, struct vm *vm, bool force,
		  struct cv_err *err)
{
	const char *why = vm_refusal(cmd, vm->state, force);
	if (!why)
		return 0;
	return cv_err_set(err, vm->state == VM_RUNNING ? EBUSY : EINVAL,
			  "%s", why);
}

/* Wait (lock held) until no guest reset is in flight. */
static void wait_reset_locked(struct vm *vm)
{
	while (vm->reset_requested || vm->resetting)
		pthread_cond_wait(&vm->cond, &vm->lock);
}

static void begin_running_locked(struct vm *vm)
{
	vm->stop_reason = VM_STOP_NONE;
	vm->exit_code = -1;
	vm->last_error[0] = '\0';
	vm->start_ns = now_ns();
	cvports_set_start_time(vm_devices_cvports(vm->devs), vm->start_ns);
	set_state_locked(vm, VM_RUNNING);
	want_all_locked(vm, WANT_RUN);
}

static int start_locked_ctl(struct vm *vm, struct cv_err *err)
{
	pthread_mutex_lock(&vm->lock);
	wait_reset_locked(vm);
	int rc = refuse(VM_CMD_START, vm, false, err);
	bool fresh = vm->state == VM_STOPPED;
	pthread_mutex_unlock(&vm->lock);
	if (rc)
		return rc;
	/*
	 * From Stopped every vCPU is parked: rebuild without racing them.
	 * `resetting` also keeps vm_vcpu_info() from reading the registers
	 * of vCPUs being destroyed and re-created meanwhile.
	 */
	if (fresh) {
		pthread_mutex_lock(&vm->lock);
		vm->resetting = true;
		pthread_mutex_unlock(&vm->lock);
		rc = reset_machine(vm, err);
		pthread_mutex_lock(&vm->lock);
		vm->resetting = false;
		changed_locked(vm);
		pthread_mutex_unlock(&vm->lock);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&vm->lock);
	begin_running_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

int vm_start(struct vm *vm, struct cv_err *err)
{
	pthread_mutex_lock(&vm->ctl);
	int rc = start_locked_ctl(vm, err);
	pthread_mutex_unlock(&vm->ctl);
	return rc;
}

int vm_suspend(struct vm *vm, uint64_t timeout_ns, uint64_t *parked_ns,
	       struct cv_err *err)
{
	pthread_mutex_lock(&vm->ctl);
	pthread_mutex_lock(&vm->lock);
	wait_reset_locked(vm);
	int rc = refuse(VM_CMD_SUSPEND, vm, false, err);
	if (rc)
		goto out;
	uint64_t t0 = now_ns();
	uint64_t deadline = t0 + (timeout_ns ? timeout_ns : 1000000000ull);
	want_all_locked(vm, WANT_PARK);
	while (!all_parked_locked(vm) && vm->state == VM_RUNNING &&
	       !vm->reset_requested) {
		if (cond_wait_until(vm, deadline) == ETIMEDOUT &&
		    !all_parked_locked(vm)) {
			want_all_locked(vm, WANT_RUN);
			rc = cv_err_set(err, ETIMEDOUT,
					"timed out waiting for the vCPUs to park");
			goto out;
		}
	}
	if (vm->state != VM_RUNNING || vm->reset_requested) {
		rc = cv_err_set(err, EAGAIN,
				"the guest stopped or rebooted while suspending");
		goto out;
	}
	set_state_locked(vm, VM_SUSPENDED);
	changed_locked(vm);
	if (parked_ns)
		*parked_ns = now_ns() - t0;
	console_flush(vm->console);
out:
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_unlock(&vm->ctl);
	return rc;
}

int vm_resume(struct vm *vm, struct cv_err *err)
{
	pthread_mutex_lock(&vm->ctl);
	pthread_mutex_lock(&vm->lock);
	int rc = refuse(VM_CMD_RESUME, vm, false, err);
	if (!rc) {
		set_state_locked(vm, VM_RUNNING);
		want_all_locked(vm, WANT_RUN);
	}
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_unlock(&vm->ctl);
	return rc;
}

/* Force every vCPU out and wait for Stopped (lock held). */
static void force_stop_locked(struct vm *vm)
{
	if (vm->stop_reason == VM_STOP_NONE)
		vm->stop_reason = VM_STOP_REQUESTED;
	set_state_locked(vm, VM_STOPPING);
	want_all_locked(vm, WANT_PARK);
	settle_locked(vm);
	while (vm->state != VM_STOPPED)
		pthread_cond_wait(&vm->cond, &vm->lock);
}

/*
 * Running/Suspended -> Stopping: ask the guest to shut down (ctl and the
 * lock held; the lock is dropped meanwhile: callers re-check the state).
 */
static void ask_guest_to_stop_locked(struct vm *vm)
{
	vm->stop_reason = VM_STOP_REQUESTED;
	set_state_locked(vm, VM_STOPPING);
	vm->force_requested = false;
	cvports_request_shutdown(vm_devices_cvports(vm->devs));
	want_all_locked(vm, WANT_RUN);	/* wake parked vCPUs */
	/*
	 * The ACPI power button raises the SCI through the backend's
	 * interrupt controller: not under vm->lock (ctl still keeps other
	 * controllers out).
	 */
	pthread_mutex_unlock(&vm->lock);
	acpi_pm_press_power_button(vm_devices_acpi_pm(vm->devs));
	pthread_mutex_lock(&vm->lock);
}

/*
 * What every stop begins with (ctl and the lock held): refused, or a VM
 * that never ran is Stopped at once (both: *done), or, unless forced,
 * the guest is asked to shut down (the VM Stopping).
 */
static int stop_begin_locked(struct vm *vm, bool force, bool *done,
			     struct cv_err *err)
{
	wait_reset_locked(vm);
	int rc = refuse(VM_CMD_STOP, vm, force, err);
	*done = rc != 0;
	if (!rc && (vm->state == VM_LOADING || vm->state == VM_LOADED)) {
		vm->stop_reason = VM_STOP_REQUESTED;
		set_state_locked(vm, VM_STOPPED);
		changed_locked(vm);
		*done = true;
	} else if (!rc && !force) {
		ask_guest_to_stop_locked(vm);
	}
	return rc;
}

static int stop_locked_ctl(struct vm *vm, bool force, uint64_t timeout_ns,
			   struct cv_err *err)
{
	bool done;
	pthread_mutex_lock(&vm->lock);
	int rc = stop_begin_locked(vm, force, &done, err);
	if (!done) {
		uint64_t deadline = deadline_after(timeout_ns ? timeout_ns
						   : 10000000000ull);
		while (!force && vm->state != VM_STOPPED &&
		       !vm->force_requested &&
		       cond_wait_until(vm, deadline) != ETIMEDOUT)
			;
		if (vm->state != VM_STOPPED)
			force_stop_locked(vm);
	}
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

/*
 * SPEC §1: with --force a Stopping VM is forced at once.  A graceful stop
 * waiting for the guest holds ctl, so the forced one first tells it to
 * stop waiting; when it then finds the VM Stopped, that was its doing.
 */
static bool overtake_graceful(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	bool stopping = vm->state == VM_STOPPING;
	if (stopping) {
		vm->force_requested = true;
		changed_locked(vm);
	}
	pthread_mutex_unlock(&vm->lock);
	return stopping;
}

int vm_stop(struct vm *vm, bool force, uint64_t timeout_ns,
	    struct cv_err *err)
{
	bool overtook = force && overtake_graceful(vm);
	pthread_mutex_lock(&vm->ctl);
	int rc = overtook && vm_state(vm) == VM_STOPPED
		 ? 0 : stop_locked_ctl(vm, force, timeout_ns, err);
	pthread_mutex_unlock(&vm->ctl);
	return rc;
}

int vm_stop_begin(struct vm *vm, struct cv_err *err)
{
	bool done;
	pthread_mutex_lock(&vm->ctl);
	pthread_mutex_lock(&vm->lock);
	int rc = stop_begin_locked(vm, false, &done, err);
	if (!done)
		changed_locked(vm);
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_unlock(&vm->ctl);
	return rc;
}

int vm_restart(struct vm *vm, bool force, struct cv_err *err)
{
	pthread_mutex_lock(&vm->ctl);
	pthread_mutex_lock(&vm->lock);
	int rc = refuse(VM_CMD_RESTART, vm, force, err);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	if (!rc && s != VM_STOPPED && s != VM_LOADED)
		rc = stop_locked_ctl(vm, force, RESET_WAIT_NS, err);
	if (!rc)
		rc = start_locked_ctl(vm, err);
	pthread_mutex_unlock(&vm->ctl);
	return rc;
}

int vm_wait_state(struct vm *vm, enum vm_state s, uint64_t timeout_ns)
{
	uint64_t deadline = deadline_after(timeout_ns);
	int rc = 0;
	pthread_mutex_lock(&vm->lock);
	while (vm->state != s) {
		if (cond_wait_until(vm, deadline) == ETIMEDOUT &&
		    vm->state != s) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

int vm_wait_stopped(struct vm *vm, uint64_t timeout_ns)
{
	return vm_wait_state(vm, VM_STOPPED, timeout_ns);
}

/* ---- queries ---------------------------------------------------------- */

enum vm_state vm_state(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

uint32_t vm_id(const struct vm *vm) { return vm->id; }
const struct vm_config *vm_config(const struct vm *vm) { return &vm->cfg; }
const char *vm_backend_name(const struct vm *vm) { return vm->ops->name; }
const char *vm_backend_why(const struct vm *vm) { return vm->backend_why; }
struct console *vm_console(struct vm *vm) { return vm->console; }

enum vm_stop_reason vm_stop_reason(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	enum vm_stop_reason r = vm->stop_reason;
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_exit_code(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	int c = vm->exit_code;
	pthread_mutex_unlock(&vm->lock);
	return c;
}

void vm_last_error(struct vm *vm, char *buf, size_t len)
{
	pthread_mutex_lock(&vm->lock);
	snprintf(buf, len, "%s", vm->last_error);
	pthread_mutex_unlock(&vm->lock);
}

static enum vcpu_state visible_state_locked(const struct vm *vm,
					    const struct vcpu *v)
{
	switch (vm->state) {
	case VM_LOADING:
		return VCPU_CREATED;
	case VM_LOADED:
	case VM_STOPPED:
		return VCPU_FREE;
	case VM_SUSPENDED:
		return VCPU_BLOCKED;
	case VM_RUNNING:
	case VM_STOPPING:
		break;
	}
	if (v->is == IS_HALTED || (v->is == IS_PARKED && v->want == WANT_PARK))
		return VCPU_BLOCKED;
	return v->is == IS_RUNNING || v->want == WANT_RUN ? VCPU_RUNNING
							  : VCPU_READY;
}

static void vcpu_info_locked(struct vm *vm, struct vm_vcpu_info *out,
			     unsigned n, bool regs)
{
	bool quiet = regs &&
		     (vm->state == VM_SUSPENDED || vm->state == VM_STOPPED ||
		      vm->state == VM_LOADED) &&
		     all_parked_locked(vm) && !vm->resetting;
	for (unsigned i = 0; i < n && i < vm->nvcpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];
		struct vm_vcpu_info *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->state = visible_state_locked(vm, v);
		o->host_tid = v->runner ? atomic_load(&v->runner->tid) : 0;
		o->exits_io = atomic_load(&v->stats.exits_io);
		o->exits_mmio = atomic_load(&v->stats.exits_mmio);
		o->exits_hlt = atomic_load(&v->stats.exits_hlt);
		o->exits_shutdown = atomic_load(&v->stats.exits_shutdown);
		o->exits_kick = atomic_load(&v->stats.exits_kick);
		o->exits_other = atomic_load(&v->stats.exits_other);
		o->runs = atomic_load(&v->stats.runs);
		/* registers only while no runner can touch the vCPU */
		if (quiet && v->bv && !vm->ops->vcpu_get_regs(v->bv, &o->regs))
			o->has_regs = true;
	}
}

void vm_vcpu_info(struct vm *vm, struct vm_vcpu_info *out, unsigned n)
{
	pthread_mutex_lock(&vm->lock);
	vcpu_info_locked(vm, out, n, true);
	pthread_mutex_unlock(&vm->lock);
}

/* The published view: one consistent state, no lock (see the top). */
static enum vm_state snapshot_lockfree(struct vm *vm,
				       struct vm_vcpu_info *out, unsigned n)
{
	if (n > vm->nvcpus)
		n = vm->nvcpus;
	for (unsigned tries = 0;; tries++) {
		unsigned s1 = atomic_load_explicit(&vm->pub_seq,
						   memory_order_acquire);
		if (s1 & 1) {
			if (tries > 16)
				sched_yield();	/* the writer was preempted */
			continue;
		}
		enum vm_state st = (enum vm_state)atomic_load_explicit(
			&vm->pub_state, memory_order_relaxed);
		for (unsigned i = 0; i < n; i++)
			out[i].state = (enum vcpu_state)atomic_load_explicit(
				&vm->vcpus[i].pub_vis, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&vm->pub_seq, memory_order_relaxed) ==
		    s1)
			return st;
	}
}

enum vm_state vm_snapshot(struct vm *vm, struct vm_vcpu_info *out,
			  unsigned n, bool regs)
{
	if (!regs) {
		for (unsigned i = 0; i < n; i++) {
			struct vm_vcpu_info *o = &out[i];
			memset(o, 0, sizeof(*o));
			if (i >= vm->nvcpus)
				continue;
			const struct vcpu *v = &vm->vcpus[i];
			o->host_tid = v->runner ? atomic_load(&v->runner->tid)
						: 0;
			o->exits_io = atomic_load(&v->stats.exits_io);
			o->exits_mmio = atomic_load(&v->stats.exits_mmio);
			o->exits_hlt = atomic_load(&v->stats.exits_hlt);
			o->exits_shutdown =
				atomic_load(&v->stats.exits_shutdown);
			o->exits_kick = atomic_load(&v->stats.exits_kick);
			o->exits_other = atomic_load(&v->stats.exits_other);
			o->runs = atomic_load(&v->stats.runs);
		}
		return snapshot_lockfree(vm, out, n);
	}
	pthread_mutex_lock(&vm->lock);
	vcpu_info_locked(vm, out, n, regs);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

const char *vm_stop_reason_text(enum vm_stop_reason r)
{
	switch (r) {
	case VM_STOP_NONE:
		return "";
	case VM_STOP_DEBUG_EXIT:
		return "debug exit";
	case VM_STOP_POWEROFF:
		return "powered off";
	case VM_STOP_REBOOT:
		return "reboot (on_reboot = stop)";
	case VM_STOP_REQUESTED:
		return "stopped by request";
	case VM_STOP_ERROR:
		return "error";
	}
	return "?";
}

void vm_boot_info(struct vm *vm, struct vm_boot_info *out)
{
	pthread_mutex_lock(&vm->lock);
	*out = vm->boot_info;
	pthread_mutex_unlock(&vm->lock);
}

struct vm_devices *vm_device_set(struct vm *vm) { return vm->devs; }
const struct guest_mem *vm_guest_memory(const struct vm *vm)
{
	return &vm->mem;
}

void vm_get_stats(struct vm *vm, struct vm_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&vm->lock);
	if (vm->start_ns) {
		uint64_t end = vm->state == VM_STOPPED ? vm->stop_ns : now_ns();
		out->uptime_ns = end > vm->start_ns ? end - vm->start_ns : 0;
	}
	out->reboots = vm->reboots;
	for (unsigned i = 0; i < vm->nrunners; i++) {
		struct runner *r = &vm->runners[i];
		struct timespec ts;
		if (r->has_cpu_clock && !clock_gettime(r->cpu_clock, &ts))
			out->cpu_time_ns += (uint64_t)ts.tv_sec * 1000000000ull +
					    (uint64_t)ts.tv_nsec;
	}
	pthread_mutex_unlock(&vm->lock);
	out->console_bytes = console_bytes(vm->console);
	struct cvports_boot_info bi;
	cvports_boot_info(vm_devices_cvports(vm->devs), &bi);
	out->has_boot_time = bi.has_boot_time;
	out->boot_time_ns = bi.boot_time_ns;
	out->unassigned_pio = atomic_load(&vm->bus.pio.unassigned_reads) +
			      atomic_load(&vm->bus.pio.unassigned_writes);
	out->unassigned_mmio = atomic_load(&vm->bus.mmio.unassigned_reads) +
			       atomic_load(&vm->bus.mmio.unassigned_writes);
}

const char *vm_state_name(enum vm_state s)
{
	static const char *const n[] = {
		[VM_LOADING] = "Loading", [VM_LOADED] = "Loaded",
		[VM_RUNNING] = "Running", [VM_SUSPENDED] = "Suspended",
		[VM_STOPPING] = "Stopping", [VM_STOPPED] = "Stopped",
	};
	return (unsigned)s <= VM_STOPPED ? n[s] : "?";
}

const char *vm_stop_reason_name(enum vm_stop_reason r)
{
	static const char *const n[] = {
		[VM_STOP_NONE] = "none", [VM_STOP_DEBUG_EXIT] = "debug-exit",
		[VM_STOP_POWEROFF] = "poweroff", [VM_STOP_REBOOT] = "reboot",
		[VM_STOP_REQUESTED] = "requested", [VM_STOP_ERROR] = "error",
	};
	return (unsigned)r <= VM_STOP_ERROR ? n[r] : "?";
}

const char *vcpu_state_name(enum vcpu_state s)
{
	static const char *const n[] = {
		[VCPU_INVALID] = "Invalid", [VCPU_CREATED] = "Created",
		[VCPU_FREE] = "Free", [VCPU_READY] = "Ready",
		[VCPU_RUNNING] = "Running", [VCPU_BLOCKED] = "Blocked",
	};
	return (unsigned)s <= VCPU_BLOCKED ? n[s] : "?";
}

const char *vcpu_state_abbrev(enum vcpu_state s)
{
	static const char *const n[] = {
		[VCPU_INVALID] = "Inv", [VCPU_CREATED] = "Cre",
		[VCPU_FREE] = "Free", [VCPU_READY] = "Rdy",
		[VCPU_RUNNING] = "Run", [VCPU_BLOCKED] = "Blk",
	};
	return (unsigned)s <= VCPU_BLOCKED ? n[s] : "?";
}
