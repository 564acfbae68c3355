/*
 * emu: the software x86 backend on unicorn 2 (emu_backend_ops).  Owns the
 * per-VM state (trampoline choice, the vCPU table), the per-vCPU engines
 * and the run/kick protocol.  Memory/devices: emu_io.c; boot states:
 * emu_boot.c; faults and paging: emu_fault.c.
 *
 * Stopping a run.  uc_emu_stop from another thread is unusable for kicks
 * in unicorn 2.0.1: it is silently lost when it lands before uc_emu_start
 * has reset its stop flag, and when it lands after a guest memory access
 * in the middle of a translated block (unicorn checks for stop requests
 * after every load/store) the engine reports the block's START as RIP
 * while the registers already hold the effects of the instructions before
 * the access: resuming there executes them twice (a counting guest gains
 * one step per kick; measured).  So nobody calls uc_emu_stop
 * asynchronously.  Instead every engine has a UC_HOOK_BLOCK callback (1-2 ns
 * per translated block executed) that calls uc_emu_stop itself when the
 * vCPU's stop_wanted flag is set: the run then ends before the block
 * executes anything, at an exact instruction boundary.
 * Measured alternatives (bench/ucstop.c, 2026-12-06): the hook costs
 * ~1.2 ns per executed block, all of it unicorn's helper call (an empty
 * callback costs the same; the other hooks, the MMIO gaps and exits cost
 * nothing measurable), i.e. a 2-instruction loop runs at ~0.6x.  A block
 * hook whose range matches no block costs nothing, but adding or
 * widening one only affects blocks translated later (flushing the
 * translations needs the engine stopped: the very thing a kick asks
 * for).  uc_emu_stop from a signal handler on the vCPU thread itself
 * (tgkill) re-executes instructions just like the cross-thread call (450
 * of 500 stops): unicorn's exit checks after memory accesses are the
 * cause, whichever thread sets the request.  The `count` argument of
 * uc_emu_start is a per-instruction hook (the loop at ~0.2x), and exits
 * (uc_ctl) are baked in at translation time.  So the per-block hook
 * stays.
 *  - a kick sets kick_pending, then stop_wanted (no lock, any thread);
 *  - vcpu_run clears stop_wanted, THEN checks kick_pending, right before
 *    uc_emu_start: a kick is either seen there or its stop_wanted survives
 *    into the run, so it is never lost;
 *  - round-robin slices (slice_us) and timer deadlines: the same block
 *    hook reads the clock every few blocks and stops the run once the
 *    deadline has passed.  The interval adapts (emu_io.c deadline_over):
 *    about half the time left at the pace of the last interval, between
 *    1 and EMU_CHECK_MAX blocks.  A clock read costs ~27 ns here; one per
 *    32 blocks was ~0.6-0.8 ns per block (15% of a tight loop), one per 256
 *    is lost in the noise.
 *    Measured alternatives: unicorn's own timeout argument creates and
 *    joins a thread on every uc_emu_start (0.1-0.5 ms per call even when
 *    the guest halts at once, and a 1 ms timeout ran 3.5 ms); a per-VM
 *    timer thread needs a free host CPU to fire on time (2 ms slices ran
 *    up to 8 ms on this loaded 2-core host, the hook: 2.0-2.05 ms);
 *  - a device returning BUS_EXIT sets stop_wanted too, so the rest of the
 *    current translated block still executes (possibly more device
 *    accesses, delivered in order) and vcpu_run returns VCPU_EXIT_EVENT at
 *    the next block boundary (or at a HLT in that tail, see below).
 *
 * A run that ends without the block hook having stopped it (and without
 * a fault) ended on HLT: that is exact.  A HLT executed in the tail of a
 * block whose run returns another reason (EVENT, KICK) is kept and
 * returned by the next vcpu_run without running the guest.  A returned
 * HLT leaves RIP after the instruction, as KVM does without an in-kernel
 * irqchip: the vcpu_run after that continues there.
 */
#include "emu_int.h"
#include "uc_lazy.h"
#include "emu_tramp.h"
#include "fault.h"
#include "tmark.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define MAX_SPURIOUS 1000	/* unexplained engine returns in a row */

static struct emu_vm *emu_vm_of(struct backend_vm *b)
{
	return (struct emu_vm *)(void *)b;
}

static struct emu_vcpu *emu_vcpu_of(struct backend_vcpu *b)
{
	return (struct emu_vcpu *)(void *)b;
}

static int emu_probe(struct cv_err *err)
{
	char why[256];
	if (uc_lazy_load(why, sizeof(why)))
		return cv_err_set(err, ENODEV, "%s", why);
	/* no throw-away engine: creating one costs ~0.4 ms */
	if (!uc_arch_supported(UC_ARCH_X86))
		return cv_err_set(err, ENODEV,
				  "this libunicorn has no x86 CPU");
	return 0;
}

/* ---- VM ---- */

static void emu_vm_destroy(struct backend_vm *bvm);

static int emu_vm_create(const struct backend_vm_params *p,
			 struct backend_vm **out, struct cv_err *err)
{
	if (!p || !p->mem || !p->bus || p->ncpus == 0 ||
	    p->ncpus > VMCFG_MAX_VCPUS)
		return cv_err_set(err, EINVAL,
				  "emu VM needs guest memory, a bus and 1 to %d vCPUs",
				  VMCFG_MAX_VCPUS);
	struct emu_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return cv_err_set(err, ENOMEM, "out of memory for an emu VM");
	vm->mem = p->mem;
	vm->bus = p->bus;
	vm->ncpus = p->ncpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->wake_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->wake_cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&vm->bsp, NULL);
	atomic_init(&vm->irq_seq, 0);
	if (p->irqchip && p->pic) {
		vm->pic = p->pic;
		vm->pit = p->pit;
		vm->dev_poll = p->dev_poll;
		vm->dev_ctx = p->dev_ctx;
		pic_set_output(vm->pic, (struct pic_output){
					.raised = emu_irq_raised,
					.acked = emu_pic_acked,
					.unmasked = emu_pic_unmasked,
					.ctx = vm });
		vm->ioapic = ioapic_create((struct ioapic_hooks){
						   .deliver = emu_ioapic_deliver,
						   .acked = emu_ioapic_acked,
						   .unmasked = emu_ioapic_unmasked,
						   .ctx = vm }, err);
		if (!vm->ioapic) {
			emu_vm_destroy((struct backend_vm *)(void *)vm);
			return -ENOMEM;
		}
		/* as KVM's in-kernel PIT: the acks above pay owed ticks */
		if (vm->pit)
			pit_set_reinject(vm->pit, true);
	}
	*out = (struct backend_vm *)(void *)vm;
	return 0;
}

/* Every vCPU must have been destroyed before. */
static void emu_vm_destroy(struct backend_vm *bvm)
{
	struct emu_vm *vm = emu_vm_of(bvm);
	if (!vm)
		return;
	if (vm->pic)
		pic_set_output(vm->pic, (struct pic_output){ 0 });
	ioapic_destroy(vm->ioapic);
	pthread_cond_destroy(&vm->wake_cond);
	pthread_mutex_destroy(&vm->wake_lock);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

/* ---- vCPU ---- */

static void vcpu_free(struct emu_vcpu *v)
{
	if (v->reset_ctx)
		uc_context_free(v->reset_ctx);
	if (v->scratch_ctx)
		uc_context_free(v->scratch_ctx);
	if (v->uc)
		uc_close(v->uc);
	lapic_destroy(v->lapic);
	if (v->tramp)
		munmap(v->tramp, TR_SIZE);
	free(v);
}

static int vcpu_open_engine(struct emu_vcpu *v, struct cv_err *err)
{
	/* the prestart's spare, already initialised (uc_lazy.h), or a new one */
	uc_err e = UC_ERR_OK;
	if (CV_FAULT("emu.uc_open"))
		e = UC_ERR_NOMEM;
	else if (!(v->uc = uc_lazy_take_spare()))
		e = uc_open(UC_ARCH_X86, UC_MODE_64, &v->uc);
	if (e != UC_ERR_OK) {
		v->uc = NULL;
		return cv_err_set(err, ENODEV,
				  "unicorn cannot create an x86-64 CPU: %s",
				  uc_strerror(e));
	}
	int rc = emu_map_memory(v, err);
	cv_tmark("emu: engine mapped (unicorn initialised)");
	if (rc)
		return rc;
	/* on the fresh engine: before cvisor's hooks and the trampoline */
	emu_latch_init(v);
	cv_tmark("emu: latch known");
	if ((rc = emu_add_hooks(v, err)))
		return rc;
	emu_tramp_init(v);
	if ((e = uc_context_alloc(v->uc, &v->reset_ctx)) != UC_ERR_OK ||
	    (e = uc_context_save(v->uc, v->reset_ctx)) != UC_ERR_OK ||
	    (e = uc_context_alloc(v->uc, &v->scratch_ctx)) != UC_ERR_OK)
		return cv_err_set(err, ENOMEM,
				  "cannot save the emu engine's reset state: %s",
				  uc_strerror(e));
	return 0;
}

static int emu_vcpu_create(struct backend_vm *bvm, unsigned index,
			   struct vcpu_stats *stats, struct backend_vcpu **out,
			   struct cv_err *err)
{
	struct emu_vm *vm = emu_vm_of(bvm);
	if (index >= vm->ncpus)
		return cv_err_set(err, EINVAL, "vCPU %u does not exist (%u vCPUs)",
				  index, vm->ncpus);
	pthread_mutex_lock(&vm->lock);
	bool taken = vm->vcpus[index] != NULL;
	pthread_mutex_unlock(&vm->lock);
	if (taken)
		return cv_err_set(err, EEXIST, "vCPU %u already exists", index);
	if (!vm->tramp_gpa) {
		int rc = emu_choose_layout(vm, err);
		if (rc)
			return rc;
	}

	struct emu_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return cv_err_set(err, ENOMEM, "out of memory for an emu vCPU");
	v->vm = vm;
	v->index = index;
	v->stats = stats ? stats : &v->own_stats;
	atomic_init(&v->kick_pending, false);
	atomic_init(&v->stop_wanted, false);
	atomic_init(&v->irq_stop, false);
	v->tramp = mmap(NULL, TR_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v->tramp == MAP_FAILED) {
		v->tramp = NULL;
		vcpu_free(v);
		return cv_err_set(err, ENOMEM, "cannot allocate the emu trampoline page");
	}
	if (vm->pic) {	/* irqchip VM: a LAPIC per vCPU, APIC ID = index */
		struct lapic_hooks h = { .raised = emu_lapic_raised,
					 .eoi = emu_lapic_eoi, .ctx = v };
		v->lapic = lapic_create(index, index == 0, h, err);
		if (!v->lapic) {
			vcpu_free(v);
			return -ENOMEM;
		}
	}
	int rc = vcpu_open_engine(v, err);
	if (rc) {
		vcpu_free(v);
		return rc;
	}
	pthread_mutex_lock(&vm->lock);
	vm->vcpus[index] = v;
	pthread_mutex_unlock(&vm->lock);
	if (index == 0)
		atomic_store(&vm->bsp, v);
	*out = (struct backend_vcpu *)(void *)v;
	return 0;
}

static void emu_vcpu_destroy(struct backend_vcpu *bv)
{
	struct emu_vcpu *v = emu_vcpu_of(bv);
	if (!v)
		return;
	if (v->index == 0)
		atomic_store(&v->vm->bsp, NULL);
	pthread_mutex_lock(&v->vm->lock);
	v->vm->vcpus[v->index] = NULL;
	pthread_mutex_unlock(&v->vm->lock);
	vcpu_free(v);
}

static int emu_vcpu_load_boot_state(struct backend_vcpu *bv,
				    const struct boot_cpu_state *s,
				    struct cv_err *err)
{
	struct emu_vcpu *v = emu_vcpu_of(bv);
	int rc = 0;
	if (v->lapic)
		lapic_reset(v->lapic);
	if (s->wait_sipi && (!v->lapic || v->index == 0))
		rc = cv_err_set(err, EINVAL,
				"vCPU %u cannot wait for INIT/SIPI: %s", v->index,
				v->lapic ? "it is the BSP"
					 : "the VM has no LAPIC (interrupt_mode = \"no_irq\")");
	else if (s->wait_sipi)
		lapic_set_wait_sipi(v->lapic);	/* started by emu_vcpu_run */
	else
		rc = emu_boot_load(v, s, err);
	v->shutdown = false;
	v->halted_for_good = false;
	v->halt_pending = false;
	v->halt_irq = false;
	v->failed[0] = '\0';
	v->pg_valid = false;
	memset(&v->trap, 0, sizeof(v->trap));
	/* boot loading dropped every translation: nothing left to invalidate */
	pthread_mutex_lock(&v->vm->lock);
	v->ndirty = 0;
	v->dirty_all = false;
	pthread_mutex_unlock(&v->vm->lock);
	if (rc)
		snprintf(v->failed, sizeof(v->failed),
			 "the vCPU has no valid boot state: %s",
			 err ? err->msg : "boot state rejected");
	return rc;
}

/* ---- code invalidation ---- */

static void emu_code_written(struct backend_vm *bvm, uint64_t gpa,
			     uint64_t len)
{
	struct emu_vm *vm = emu_vm_of(bvm);
	if (!len)
		return;
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct emu_vcpu *v = vm->vcpus[i];
		if (!v)
			continue;
		if (v->ndirty == EMU_MAX_DIRTY) {
			v->dirty_all = true;
			continue;
		}
		v->dirty[v->ndirty].lo = gpa;
		v->dirty[v->ndirty].hi = gpa + len < gpa ? UINT64_MAX : gpa + len;
		v->ndirty++;
	}
	pthread_mutex_unlock(&vm->lock);
}

/*
 * Drop translations of code the host rewrote.  Runs on the vCPU thread.
 * unicorn translates the address with the CPU's current paging, which can
 * fault outside guest execution; so the lookup is done in the reset state
 * (paging off) and the guest's state is put back afterwards.
 */
static void apply_dirty(struct emu_vcpu *v)
{
	struct { uint64_t lo, hi; } d[EMU_MAX_DIRTY];
	pthread_mutex_lock(&v->vm->lock);
	bool all = v->dirty_all;
	size_t n = v->ndirty;
	memcpy(d, v->dirty, n * sizeof(d[0]));
	v->ndirty = 0;
	v->dirty_all = false;
	pthread_mutex_unlock(&v->vm->lock);
	if (!all && !n)
		return;
	if (uc_context_save(v->uc, v->scratch_ctx) != UC_ERR_OK ||
	    uc_context_restore(v->uc, v->reset_ctx) != UC_ERR_OK)
		return;	/* cannot happen: both contexts were allocated */
	if (all)
		emu_drop_translations(v, 0, UINT64_MAX);
	for (size_t i = 0; !all && i < n; i++)
		emu_drop_translations(v, d[i].lo, d[i].hi);
	uc_context_restore(v->uc, v->scratch_ctx);
}

/* ---- run ---- */

/* Linear address of CS:rip (paging is identity on this engine). */
static uint64_t code_linear(struct emu_vcpu *v, uint64_t rip)
{
	uint16_t cs = (uint16_t)emu_rd(v, UC_X86_REG_CS);
	if (!(emu_rd(v, UC_X86_REG_CR0) & EMU_CR0_PE))
		return ((uint64_t)cs << 4) + (rip & 0xffff);
	uc_x86_mmr gdtr = { 0 };
	uint64_t d = 0;
	uc_reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
	if ((cs & ~7u) == 0 || (cs & 4) ||
	    guest_mem_read(v->vm->mem, gdtr.base + (cs & ~7u), &d, 8))
		return rip;
	if ((emu_rd_msr(v, EMU_MSR_EFER) & EMU_EFER_LMA) && (d & (1ull << 53)))
		return rip;	/* 64-bit code: base 0 */
	uint64_t base = ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
	return (base + rip) & 0xffffffffull;
}

enum outcome { OUT_DONE, OUT_AGAIN, OUT_HALT_IRQ, OUT_SPURIOUS };

static enum outcome set_error(struct emu_vcpu *v, struct vcpu_exit *exit)
{
	exit->reason = VCPU_EXIT_ERROR;
	snprintf(exit->msg, sizeof(exit->msg), "%s", v->failed);
	vcpu_stat_inc(&v->stats->exits_other);
	return OUT_DONE;
}

/*
 * HLT that an interrupt can end: IF = 1 on a vCPU with a LAPIC, or on
 * the BSP of an irqchip VM (the 8259).
 */
static bool halt_waits_for_irq(struct emu_vcpu *v)
{
	return v->vm->pic && (v->index == 0 || v->lapic) &&
	       emu_irq_enabled(v);
}

static enum outcome classify(struct emu_vcpu *v, uc_err e,
			     struct vcpu_exit *exit)
{
	if (v->trap.exception) {
		if (emu_is_triple_fault(v, v->trap.vector)) {
			v->shutdown = true;
			exit->reason = VCPU_EXIT_SHUTDOWN;
			vcpu_stat_inc(&v->stats->exits_shutdown);
			return OUT_DONE;
		}
		emu_describe_exception(v, v->failed, sizeof(v->failed));
		return set_error(v, exit);
	}
	if (v->trap.deliver_failed)
		return set_error(v, exit);
	if (v->trap.redeliver) {	/* the engine was stopped for it */
		if (emu_deliver(v, v->trap.vector, v->trap.rip, false, NULL))
			return set_error(v, exit);
		return OUT_AGAIN;
	}
	if (e != UC_ERR_OK) {
		emu_describe_badmem(v, e, v->failed, sizeof(v->failed));
		return set_error(v, exit);
	}
	/* nothing else ends a run without our block hook: the guest halted */
	bool halted = !v->trap.hook_stop;
	bool irq_stop = atomic_exchange(&v->irq_stop, false);
	if (v->trap.event) {
		v->halt_pending = halted;
		exit->reason = VCPU_EXIT_EVENT;
		return OUT_DONE;
	}
	if (emu_check_paging(v, v->failed, sizeof(v->failed)))
		return set_error(v, exit);
	if (atomic_exchange(&v->kick_pending, false)) {
		v->halt_pending = halted;
		exit->reason = VCPU_EXIT_KICK;
		vcpu_stat_inc(&v->stats->exits_kick);
		return OUT_DONE;
	}
	if (halted) {
		if (halt_waits_for_irq(v))
			return OUT_HALT_IRQ;
		v->halted_for_good = true;
		exit->reason = VCPU_EXIT_HLT;
		vcpu_stat_inc(&v->stats->exits_hlt);
		return OUT_DONE;
	}
	if (v->trap.sliced) {
		exit->reason = VCPU_EXIT_SLICE;
		vcpu_stat_inc(&v->stats->exits_other);
		return OUT_DONE;
	}
	if (v->trap.timer || v->trap.irq || irq_stop)
		return OUT_AGAIN;
	return OUT_SPURIOUS;
}

/* One uc_emu_start; false when a pending kick made it unnecessary. */
static bool run_once(struct emu_vcpu *v, uint64_t deadline, uc_err *e)
{
	/* this order: a kick is seen here or its stop_wanted stays set */
	atomic_store(&v->stop_wanted, false);
	if (atomic_load(&v->kick_pending))
		return false;
	memset(&v->trap, 0, sizeof(v->trap));
	v->deadline_ns = deadline;
	v->slice_countdown = 1;	/* look at the clock in the first block */
	v->check_ns = 0;
	*e = uc_emu_start(v->uc, emu_rd(v, UC_X86_REG_RIP), 0, 0, 0);
	return true;
}

static void set_busy(struct emu_vcpu *v, bool busy)
{
	pthread_mutex_lock(&v->vm->lock);
	v->busy = busy;
	pthread_mutex_unlock(&v->vm->lock);
}

static bool return_kick(struct emu_vcpu *v, struct vcpu_exit *exit)
{
	if (!atomic_exchange(&v->kick_pending, false))
		return false;
	exit->reason = VCPU_EXIT_KICK;
	vcpu_stat_inc(&v->stats->exits_kick);
	return true;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/*
 * The other vCPUs sharing this thread: are they all idle - halted for an
 * interrupt with none pending, waiting for a SIPI that has not come, or
 * halted for good?  *next = the earliest of their timer deadlines.  Then
 * a waiting vCPU may sleep instead of handing the thread round (the
 * wake-ups of every vCPU bump irq_seq).  Same thread as every vCPU of
 * the VM, so their thread-only fields are ours to read; vm->lock is not
 * held while polling (a timer edge takes the device locks).
 */
static bool others_idle(struct emu_vcpu *v, uint64_t *next)
{
	struct emu_vm *vm = v->vm;
	struct emu_vcpu *all[VMCFG_MAX_VCPUS];
	*next = 0;
	pthread_mutex_lock(&vm->lock);
	memcpy(all, vm->vcpus, vm->ncpus * sizeof(all[0]));
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct emu_vcpu *u = all[i];
		if (!u || u == v || u->halted_for_good)
			continue;
		if (u->lapic && lapic_wait_sipi(u->lapic)) {
			if (lapic_sipi_latched(u->lapic))
				return false;
			continue;
		}
		uint64_t n = 0;
		if (!u->halt_irq || emu_irq_pending(u, &n))
			return false;
		*next = earliest(*next, n);
	}
	return true;
}

/* The PIT and the other device clocks, polled by the vCPU loop alone. */
uint64_t emu_timers_poll(struct emu_vm *vm, uint64_t now)
{
	uint64_t next = pit_poll(vm->pit, now);
	if (vm->dev_poll)
		next = earliest(next, vm->dev_poll(vm->dev_ctx, now));
	return next;
}

/*
 * Halted with IF = 1: sleep until an interrupt is pending (then the loop
 * delivers it), a kick, or - when other vCPUs want the thread - hand it
 * on at once.  false = return *exit.
 */
static bool halt_wait(struct emu_vcpu *v, struct vcpu_exit *exit)
{
	v->halt_irq = true;
	for (;;) {
		unsigned seq0 = atomic_load(&v->vm->irq_seq);
		uint64_t next = 0, others = 0;
		if (emu_irq_pending(v, &next))
			return true;
		if (return_kick(v, exit))
			return false;
		if (v->slice_end && !others_idle(v, &others)) {
			exit->reason = VCPU_EXIT_SLICE;	/* let them run */
			vcpu_stat_inc(&v->stats->exits_other);
			return false;
		}
		emu_irq_wait(v, seq0, earliest(next, others));
	}
}

/*
 * An AP in wait-for-SIPI (lapic.h): sleep until a start-up IPI, then
 * enter real mode at vector << 12 (CS = vector << 8, IP = 0).  A kick
 * returns KICK, other runnable vCPUs on this thread get it back (SLICE),
 * as in halt_wait.  false = return *exit.
 */
static bool sipi_wait(struct emu_vcpu *v, uint32_t slice_us,
		      struct vcpu_exit *exit)
{
	for (;;) {
		unsigned seq0 = atomic_load(&v->vm->irq_seq);
		int vec = lapic_take_sipi(v->lapic);
		if (vec >= 0) {
			struct boot_cpu_state s = {
				.mode = VM_CPU_REAL,
				.real_cs = (uint16_t)(vec << 8),
				.rflags = 0x2,
			};
			struct cv_err err = { 0 };
			if (emu_boot_load(v, &s, &err)) {
				snprintf(v->failed, sizeof(v->failed),
					 "cannot start the AP at the SIPI vector 0x%02x: %s",
					 (unsigned)vec, err.msg);
				set_error(v, exit);
				return false;
			}
			v->halt_pending = v->halt_irq = false;
			v->pg_valid = false;
			atomic_store(&v->irq_stop, false);
			return true;
		}
		if (return_kick(v, exit))
			return false;
		uint64_t others = 0;
		if (slice_us && !others_idle(v, &others)) {
			exit->reason = VCPU_EXIT_SLICE;	/* let them run */
			vcpu_stat_inc(&v->stats->exits_other);
			return false;
		}
		emu_irq_wait(v, seq0, others);
	}
}

static void run_loop(struct emu_vcpu *v, uint32_t slice_us,
		     struct vcpu_exit *exit)
{
	v->slice_end = slice_us ? emu_now_ns() + slice_us * 1000ull : 0;
	if (v->halt_irq && !halt_wait(v, exit))
		return;
	for (unsigned spurious = 0;; spurious++) {
		uc_err e = UC_ERR_OK;
		uint64_t timer = emu_irq_prepare(v);
		if (timer == UINT64_MAX) {
			set_error(v, exit);
			return;
		}
		if (!run_once(v, earliest(v->slice_end, timer), &e)) {
			return_kick(v, exit);
			return;
		}
		enum outcome o = classify(v, e, exit);
		if (o == OUT_DONE)
			return;
		if (o == OUT_HALT_IRQ) {
			if (!halt_wait(v, exit))
				return;
			spurious = 0;
			continue;
		}
		if (o == OUT_AGAIN) {
			spurious = 0;
			continue;
		}
		if (spurious == MAX_SPURIOUS) {
			snprintf(v->failed, sizeof(v->failed),
				 "the emu engine keeps stopping without a reason at RIP 0x%llx",
				 (unsigned long long)emu_rd(v, UC_X86_REG_RIP));
			set_error(v, exit);
			return;
		}
	}
}

static int emu_vcpu_run(struct backend_vcpu *bv, uint32_t slice_us,
			struct vcpu_exit *exit)
{
	struct emu_vcpu *v = emu_vcpu_of(bv);
	exit->msg[0] = '\0';
	vcpu_stat_inc(&v->stats->runs);
	if (v->failed[0]) {
		set_error(v, exit);
		return 0;
	}
	if (v->shutdown) {
		exit->reason = VCPU_EXIT_SHUTDOWN;
		vcpu_stat_inc(&v->stats->exits_shutdown);
		return 0;
	}
	if (v->lapic && lapic_wait_sipi(v->lapic)) {
		set_busy(v, true);
		bool started = sipi_wait(v, slice_us, exit);
		set_busy(v, false);
		if (!started)
			return 0;
	}
	if (v->halt_pending && !atomic_load(&v->kick_pending)) {
		/* the HLT happened in the tail of an earlier run */
		v->halt_pending = false;
		if (halt_waits_for_irq(v)) {
			v->halt_irq = true;
		} else {
			v->halted_for_good = true;
			exit->reason = VCPU_EXIT_HLT;
			vcpu_stat_inc(&v->stats->exits_hlt);
			return 0;
		}
	}
	set_busy(v, true);
	apply_dirty(v);
	run_loop(v, slice_us, exit);
	set_busy(v, false);
	return 0;
}

static void emu_vcpu_kick(struct backend_vcpu *bv)
{
	struct emu_vcpu *v = emu_vcpu_of(bv);
	atomic_store(&v->kick_pending, true);
	atomic_store(&v->stop_wanted, true);
	emu_wake(v->vm);	/* a vCPU halted with IF = 1 sleeps */
}

static void read_regs(struct emu_vcpu *v, struct cpu_regs *r)
{
	static const struct { int reg; size_t off; } map[] = {
#define R(u, f) { UC_X86_REG_##u, offsetof(struct cpu_regs, f) }
		R(RIP, rip), R(RSP, rsp), R(RFLAGS, rflags), R(RAX, rax),
		R(RBX, rbx), R(RCX, rcx), R(RDX, rdx), R(RSI, rsi),
		R(RDI, rdi), R(RBP, rbp), R(R8, r8), R(R9, r9), R(R10, r10),
		R(R11, r11), R(R12, r12), R(R13, r13), R(R14, r14),
		R(R15, r15), R(CR0, cr0), R(CR2, cr2), R(CR3, cr3),
		R(CR4, cr4),
#undef R
	};
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		uint64_t val = emu_rd(v, map[i].reg);
		memcpy((char *)r + map[i].off, &val, sizeof(val));
	}
	r->efer = emu_rd_msr(v, EMU_MSR_EFER);
	r->cs = (uint16_t)emu_rd(v, UC_X86_REG_CS);
	r->ds = (uint16_t)emu_rd(v, UC_X86_REG_DS);
	r->es = (uint16_t)emu_rd(v, UC_X86_REG_ES);
	r->ss = (uint16_t)emu_rd(v, UC_X86_REG_SS);
	r->cs_base = code_linear(v, 0);
}

/* Only while the vCPU is outside vcpu_run (parked): else -EBUSY. */
static int emu_vcpu_get_regs(struct backend_vcpu *bv, struct cpu_regs *r)
{
	struct emu_vcpu *v = emu_vcpu_of(bv);
	int rc = 0;
	pthread_mutex_lock(&v->vm->lock);
	if (v->busy)
		rc = -EBUSY;
	else
		read_regs(v, r);
	pthread_mutex_unlock(&v->vm->lock);
	return rc;
}

/*
 * ISA IRQs 0-15 go to the 8259 pair and to the IOAPIC as the MADT says
 * (src/boot/acpi.c): IRQ 0 -> pin 2, IRQ n -> pin n; GSIs 16-23 to the
 * IOAPIC only.  The same table as the kvm backend's GSI routing.
 */
static int emu_set_irq(struct backend_vm *bvm, unsigned gsi, bool level)
{
	struct emu_vm *vm = emu_vm_of(bvm);
	if (!vm->pic)
		return -ENOTSUP;
	if (gsi >= IOAPIC_PINS)
		return -EINVAL;
	if (gsi < 16)
		pic_set_irq(vm->pic, gsi, level);
	if (gsi != 2)
		ioapic_set_irq(vm->ioapic, gsi == 0 ? EMU_PIT_IOAPIC_PIN : gsi,
			       level);
	return 0;
}

const struct backend_ops emu_backend_ops = {
	.name = "emu",
	.single_thread = true,
	.userspace_irqchip = true,
	.probe = emu_probe,
	.prestart = uc_lazy_preload,
	.vm_create = emu_vm_create,
	.vm_destroy = emu_vm_destroy,
	.vcpu_create = emu_vcpu_create,
	.vcpu_destroy = emu_vcpu_destroy,
	.vcpu_load_boot_state = emu_vcpu_load_boot_state,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.vcpu_get_regs = emu_vcpu_get_regs,
	.set_irq = emu_set_irq,
	.code_written = emu_code_written,
};
