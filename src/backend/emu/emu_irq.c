/*
 * emu_irq: interrupt and exception delivery for the emu backend, and the
 * halted-vCPU wait.  unicorn never consults the guest's IVT/IDT: it hands
 * `int n` and exceptions to UC_HOOK_INTR and has no notion of external
 * interrupts.  So cvisor does what the CPU would:
 *
 *  - delivery = push the frame on the guest stack, clear IF/TF as the gate
 *    says, load CS:RIP from the IVT entry (real mode) or the IDT gate
 *    (32-bit interrupt/trap gates in protected mode, 64-bit gates with IST
 *    in long mode).  Register writes do that for handlers in the current
 *    code segment (the usual case: one kernel CS).  unicorn 2.0.1's 64-bit
 *    engine stores a written CS selector without loading the segment, so
 *    a real-mode handler in another segment is entered by letting the CPU
 *    execute a far jump that cvisor patches in at CS:IP for one
 *    instruction (then restored, translations dropped).  Refused with a
 *    clear error: protected/long-mode gates to another code selector
 *    (privilege changes), task gates, 16-bit gates.
 *  - exceptions and `int n`: delivered from the UC_HOOK_INTR callback
 *    when no far jump is needed, else the run stops and the next run
 *    delivers.  unicorn does not expose error codes: 0 is pushed.
 *  - external interrupts: from each vCPU's LAPIC (lapic.h: IPIs, its
 *    timer) and, on the BSP, from the 8259 through LINT0 in virtual-wire
 *    mode (or directly when the VM has no LAPIC).  Delivered between two
 *    uc_emu_start calls when RFLAGS.IF = 1 and the previous instruction
 *    did not open an interrupt shadow (sti, mov/pop ss: then one more
 *    block runs first); the LAPIC's highest vector above its PPR goes
 *    first.  While a request waits for IF, the block hook reads RFLAGS at
 *    each block and stops when it is set.
 *  - time: the run's deadline is the earliest of the round-robin slice,
 *    the next device timer event (PIT IRQ0 edge, RTC interrupt:
 *    emu_timers_poll) and the vCPU's LAPIC timer expiry; the
 *    block hook's clock check ends the run there (no timer thread).  HLT
 *    with IF = 1 sleeps on a condition variable until that deadline, a
 *    line raise (the PIC's output hook, a LAPIC message) or a kick.
 */
#include "emu_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)
#define RFLAGS_AC (1ull << 18)

static bool has_error_code(uint32_t vec)
{
	return vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
}

/* Base of the segment selected by sel in the GDT (protected mode). */
static bool seg_base(struct emu_vcpu *v, uint16_t sel, uint64_t *base,
		     uint64_t *desc)
{
	uc_x86_mmr gdtr = { 0 };
	uint64_t d = 0;
	uc_reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
	if ((sel & ~7u) == 0 || (sel & 4) || (uint32_t)(sel & ~7u) + 7 > gdtr.limit ||
	    guest_mem_read(v->vm->mem, gdtr.base + (sel & ~7u), &d, 8))
		return false;
	*base = ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
	if (desc)
		*desc = d;
	return true;
}

static int push(struct emu_vcpu *v, uint64_t *lin_sp, uint64_t base,
		uint64_t mask, const void *val, unsigned size)
{
	*lin_sp = (*lin_sp - size) & mask;
	return guest_mem_write(v->vm->mem, base + *lin_sp, val, size);
}

static int fail(struct emu_vcpu *v, uint32_t vec, const char *why)
{
	snprintf(v->failed, sizeof(v->failed),
		 "cannot deliver vector %u at %04x:0x%llx: %s", vec,
		 (unsigned)emu_rd(v, UC_X86_REG_CS),
		 (unsigned long long)emu_rd(v, UC_X86_REG_RIP), why);
	return -EINVAL;
}

/*
 * Enter real-mode code at seg:off when seg is not the current CS: the CPU
 * itself executes `ljmp seg:off` patched in at the current CS:IP.
 */
static int far_jump_real(struct emu_vcpu *v, uint16_t seg, uint16_t off)
{
	uint64_t ip = emu_rd(v, UC_X86_REG_RIP) & 0xffff;
	uint64_t lin = ((emu_rd(v, UC_X86_REG_CS) & 0xffff) << 4) + ip;
	uint8_t *p = guest_mem_ptr(v->vm->mem, lin, 5);
	if (!p || ip > 0xfffa)
		return -EFAULT;
	uint8_t save[5], jmp[5] = { 0xea, (uint8_t)off, (uint8_t)(off >> 8),
				    (uint8_t)seg, (uint8_t)(seg >> 8) };
	memcpy(save, p, 5);
	memcpy(p, jmp, 5);
	uc_ctl_remove_cache(v->uc, lin, lin + 5);
	struct emu_trap keep = v->trap;
	memset(&v->trap, 0, sizeof(v->trap));
	v->boot_exit = ((uint64_t)seg << 4) + off;
	v->booting = true;	/* the block hook stops at boot_exit */
	uc_err e = uc_emu_start(v->uc, ip, 0, 0, 0);
	v->booting = false;
	bool ok = e == UC_ERR_OK && !v->trap.exception && !v->trap.badmem &&
		  (emu_rd(v, UC_X86_REG_CS) & 0xffff) == seg &&
		  (emu_rd(v, UC_X86_REG_RIP) & 0xffff) == off;
	v->trap = keep;
	memcpy(p, save, 5);
	uc_ctl_remove_cache(v->uc, lin, lin + 5);
	return ok ? 0 : -EIO;
}

static int deliver_real(struct emu_vcpu *v, uint32_t vec, uint64_t ret_ip,
			bool *need_stop, bool in_hook)
{
	uc_x86_mmr idtr = { 0 };
	uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
	uint16_t ent[2];
	if ((uint64_t)vec * 4 + 3 > idtr.limit ||
	    guest_mem_read(v->vm->mem, idtr.base + vec * 4ull, ent, 4))
		return fail(v, vec, "the IVT entry is beyond the IDT limit or outside RAM");
	uint16_t cs = (uint16_t)emu_rd(v, UC_X86_REG_CS);
	if (ent[1] != cs && in_hook) {
		*need_stop = true;	/* the far jump needs a stopped engine */
		return 0;
	}
	uint64_t fl = emu_rd(v, UC_X86_REG_RFLAGS);
	uint16_t ss = (uint16_t)emu_rd(v, UC_X86_REG_SS);
	uint64_t sp = emu_rd(v, UC_X86_REG_RSP) & 0xffff;
	uint16_t frame[3] = { (uint16_t)fl, cs, (uint16_t)ret_ip };
	for (int i = 0; i < 3; i++)
		if (push(v, &sp, (uint64_t)ss << 4, 0xffff, &frame[i], 2))
			return fail(v, vec, "the real-mode stack is outside RAM");
	emu_wr(v, UC_X86_REG_RSP, (emu_rd(v, UC_X86_REG_RSP) & ~0xffffull) | sp);
	emu_wr(v, UC_X86_REG_RFLAGS, fl & ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC));
	if (ent[1] == cs) {
		emu_wr(v, UC_X86_REG_RIP, ent[0]);
		return 0;
	}
	emu_wr(v, UC_X86_REG_RIP, ret_ip);
	if (far_jump_real(v, ent[1], ent[0]))
		return fail(v, vec, "the far jump to the handler's segment failed");
	return 0;
}

static int deliver_pm(struct emu_vcpu *v, uint32_t vec, uint64_t ret_ip,
		      bool lma)
{
	uc_x86_mmr idtr = { 0 };
	uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
	unsigned gsz = lma ? 16 : 8;
	uint8_t g[16];
	if ((uint64_t)vec * gsz + gsz - 1 > idtr.limit ||
	    guest_mem_read(v->vm->mem, idtr.base + (uint64_t)vec * gsz, g, gsz))
		return fail(v, vec, "the gate is beyond the IDT limit or outside RAM");
	unsigned type = g[5] & 0x1f;
	if (!(g[5] & 0x80))
		return fail(v, vec, "the IDT gate is not present");
	if (type != 0x0e && type != 0x0f)
		return fail(v, vec, "only 32/64-bit interrupt and trap gates are supported (no task or 16-bit gates)");
	uint16_t sel = (uint16_t)(g[2] | g[3] << 8);
	uint16_t cs = (uint16_t)emu_rd(v, UC_X86_REG_CS);
	if (sel != cs)
		return fail(v, vec, "the gate's code selector differs from CS (the emu backend delivers only to the current code segment: no privilege change)");
	uint64_t off = (uint64_t)(g[0] | g[1] << 8) |
		       (uint64_t)(g[6] | g[7] << 8) << 16;
	uint64_t fl = emu_rd(v, UC_X86_REG_RFLAGS);
	uint64_t rsp = emu_rd(v, UC_X86_REG_RSP);
	uint16_t ss = (uint16_t)emu_rd(v, UC_X86_REG_SS);
	uint64_t err = 0;
	if (lma) {
		uint32_t hi;
		memcpy(&hi, g + 8, 4);
		off |= (uint64_t)hi << 32;
		unsigned ist = g[4] & 7;
		uint64_t sp = rsp;
		if (ist) {
			uc_x86_mmr tr = { 0 };
			uc_reg_read(v->uc, UC_X86_REG_TR, &tr);
			if (guest_mem_read(v->vm->mem, tr.base + 0x24 + 8ull * (ist - 1),
					   &sp, 8))
				return fail(v, vec, "the TSS IST entry is outside RAM");
		}
		sp &= ~0xfull;
		uint64_t frame[6] = { ss, rsp, fl, cs, ret_ip, err };
		int n = has_error_code(vec) ? 6 : 5;
		for (int i = 0; i < n; i++)
			if (push(v, &sp, 0, ~0ull, &frame[i], 8))
				return fail(v, vec, "the stack is outside RAM");
		rsp = sp;
	} else {
		uint64_t ss_base = 0;
		if (!seg_base(v, ss, &ss_base, NULL))
			return fail(v, vec, "SS is not a usable GDT segment");
		uint64_t sp = rsp & 0xffffffffull;
		uint32_t frame[4] = { (uint32_t)fl, cs, (uint32_t)ret_ip, 0 };
		int n = has_error_code(vec) ? 4 : 3;
		for (int i = 0; i < n; i++)
			if (push(v, &sp, ss_base, 0xffffffffull, &frame[i], 4))
				return fail(v, vec, "the stack is outside RAM");
		rsp = (rsp & ~0xffffffffull) | sp;
	}
	fl &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (type == 0x0e)
		fl &= ~RFLAGS_IF;
	emu_wr(v, UC_X86_REG_RSP, rsp);
	emu_wr(v, UC_X86_REG_RFLAGS, fl);
	emu_wr(v, UC_X86_REG_RIP, off);
	return 0;
}

/*
 * Deliver vector vec returning to ret_ip.  in_hook: called from
 * UC_HOOK_INTR, where a far jump cannot run (*need_stop asks the caller
 * to stop and deliver again between runs).  0, or -errno with v->failed
 * set.
 */
int emu_deliver(struct emu_vcpu *v, uint32_t vec, uint64_t ret_ip,
		bool in_hook, bool *need_stop)
{
	bool dummy = false;
	if (!need_stop)
		need_stop = &dummy;
	*need_stop = false;
	if (!(emu_rd(v, UC_X86_REG_CR0) & EMU_CR0_PE))
		return deliver_real(v, vec, ret_ip, need_stop, in_hook);
	return deliver_pm(v, vec, ret_ip,
			  emu_rd_msr(v, EMU_MSR_EFER) & EMU_EFER_LMA);
}

/* ---- external interrupts ---- */

bool emu_irq_enabled(struct emu_vcpu *v)
{
	return emu_rd(v, UC_X86_REG_RFLAGS) & RFLAGS_IF;
}

/* Did the instruction before RIP open an interrupt shadow (sti, mov ss,
 * pop ss)?  A false positive only delays delivery by one block. */
static bool shadow_suspect(struct emu_vcpu *v)
{
	uint64_t rip = emu_rd(v, UC_X86_REG_RIP);
	uint64_t lin = !(emu_rd(v, UC_X86_REG_CR0) & EMU_CR0_PE)
		       ? ((emu_rd(v, UC_X86_REG_CS) & 0xffff) << 4) + (rip & 0xffff)
		       : rip;	/* flat code segments in protected/long mode */
	uint8_t b[2] = { 0, 0 };
	if (lin < 2 || guest_mem_read(v->vm->mem, lin - 2, b, 2))
		return false;
	return b[1] == 0xfb || b[1] == 0x17 ||
	       (b[0] == 0x8e && (b[1] & 0xf8) == 0xd0);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* Does the 8259's INTR reach v (the BSP, through LINT0 in virtual wire)? */
static bool pic_wired(struct emu_vcpu *v)
{
	return v->index == 0 && (!v->lapic || lapic_accepts_pic(v->lapic));
}

/*
 * Fire due PIT edges and LAPIC timer expiries; *next = the earlier of the
 * two next deadlines (0 = none).  True when an interrupt waits for v: a
 * LAPIC vector above its PPR, or the PIC's INTR on the BSP.
 */
bool emu_irq_pending(struct emu_vcpu *v, uint64_t *next)
{
	struct emu_vm *vm = v->vm;
	*next = 0;
	if (!vm->pic)
		return false;
	uint64_t now = emu_now_ns();
	*next = emu_timers_poll(vm, now);
	if (v->lapic) {
		*next = earliest(*next, lapic_poll(v->lapic, now));
		if (lapic_pending(v->lapic) >= 0)
			return true;
	}
	return pic_wired(v) && pic_pending(vm->pic);
}

/*
 * Between runs: fire due timer events, deliver a pending interrupt (the
 * LAPIC's first, then the PIC's) when the vCPU can take it, arm the block
 * hook to watch for IF otherwise.  Returns the next timer deadline (0 =
 * none), or UINT64_MAX on a delivery failure (v->failed is set).
 */
uint64_t emu_irq_prepare(struct emu_vcpu *v)
{
	struct emu_vm *vm = v->vm;
	v->irq_watch = false;
	v->shadow_blocks = 0;
	uint64_t next = 0;
	if (!emu_irq_pending(v, &next))
		return next;
	v->irq_watch = true;		/* stop as soon as it can be taken */
	if (!emu_irq_enabled(v))
		return next;
	if (shadow_suspect(v)) {
		v->shadow_blocks = 2;	/* let the shadowed block run */
		return next;
	}
	int vec = v->lapic ? lapic_intack(v->lapic) : -1;
	if (vec < 0 && pic_wired(v))
		vec = pic_intack(vm->pic);
	v->irq_watch = false;
	if (vec < 0)
		return next;
	if (emu_deliver(v, (uint32_t)vec, emu_rd(v, UC_X86_REG_RIP), false, NULL))
		return UINT64_MAX;
	v->halt_irq = false;
	vcpu_stat_inc(&v->stats->exits_other);
	return next;
}

/* A LAPIC got an interrupt, INIT or SIPI (any thread): wake its vCPU. */
void emu_lapic_raised(void *ctx)
{
	struct emu_vcpu *v = ctx;
	struct emu_vm *vm = v->vm;
	atomic_fetch_add(&vm->irq_seq, 1);
	atomic_store(&v->irq_stop, true);
	atomic_store(&v->stop_wanted, true);
	pthread_mutex_lock(&vm->wake_lock);
	pthread_cond_broadcast(&vm->wake_cond);
	pthread_mutex_unlock(&vm->wake_lock);
}

/*
 * Route a message (from an ICR or the IOAPIC) to every LAPIC it names
 * (lowest priority: the first one that accepts, lowest APIC ID first).
 */
static void route(struct emu_vm *vm, const struct lapic_ipi *m)
{
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct emu_vcpu *t = vm->vcpus[i];
		if (!t || !t->lapic || !lapic_accepts(t->lapic, m))
			continue;
		lapic_deliver(t->lapic, m);
		if (m->mode == LAPIC_DM_LOWEST)
			break;
	}
	pthread_mutex_unlock(&vm->lock);
}

void emu_lapic_ipi(struct emu_vcpu *v, const struct lapic_ipi *m)
{
	route(v->vm, m);
}

/* The IOAPIC sends (any thread that drives a line, or an EOI). */
void emu_ioapic_deliver(void *ctx, const struct lapic_ipi *m)
{
	route(ctx, m);
}

/* A LAPIC's EOI: the IOAPIC's remote IRR (level), its edge pins' acks. */
void emu_lapic_eoi(void *ctx, uint8_t vector, bool level)
{
	struct emu_vcpu *v = ctx;
	if (v->vm->ioapic)
		ioapic_eoi(v->vm->ioapic, vector, level);
}

/*
 * ISA IRQ 0 reaches the CPU through the 8259 (line 0) and IOAPIC pin 2
 * (emu_set_irq): its end (EOI) and its unmasking on either go to the
 * PIT's reinjection.  An ack that leaves edges owed makes the BSP's run
 * end so the loop polls the PIT again (any lock held: atomics only).
 */
static void pit_acked(struct emu_vm *vm)
{
	if (pit_ack(vm->pit))
		emu_irq_raised(vm);
}

void emu_pic_acked(void *ctx, unsigned irq)
{
	if (irq == PIT_IRQ)
		pit_acked(ctx);
}

void emu_pic_unmasked(void *ctx, unsigned irq)
{
	struct emu_vm *vm = ctx;
	if (irq == PIT_IRQ)
		pit_irq_unmasked(vm->pit);
}

void emu_ioapic_acked(void *ctx, unsigned pin)
{
	if (pin == EMU_PIT_IOAPIC_PIN)
		pit_acked(ctx);
}

void emu_ioapic_unmasked(void *ctx, unsigned pin)
{
	struct emu_vm *vm = ctx;
	if (pin == EMU_PIT_IOAPIC_PIN)
		pit_irq_unmasked(vm->pit);
}

/* The PIC's output rose or the PIT was reprogrammed (any thread). */
void emu_irq_raised(void *ctx)
{
	struct emu_vm *vm = ctx;
	struct emu_vcpu *bsp = atomic_load(&vm->bsp);
	atomic_fetch_add(&vm->irq_seq, 1);
	if (bsp) {
		atomic_store(&bsp->irq_stop, true);
		atomic_store(&bsp->stop_wanted, true);
	}
	pthread_mutex_lock(&vm->wake_lock);
	pthread_cond_broadcast(&vm->wake_cond);
	pthread_mutex_unlock(&vm->wake_lock);
}

void emu_wake(struct emu_vm *vm)
{
	pthread_mutex_lock(&vm->wake_lock);
	pthread_cond_broadcast(&vm->wake_cond);
	pthread_mutex_unlock(&vm->wake_lock);
}

/* Sleep until deadline (0 = none), a raise after seq0, or a kick. */
void emu_irq_wait(struct emu_vcpu *v, unsigned seq0, uint64_t deadline)
{
	struct emu_vm *vm = v->vm;
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000ull),
		.tv_nsec = (long)(deadline % 1000000000ull),
	};
	pthread_mutex_lock(&vm->wake_lock);
	while (!atomic_load(&v->kick_pending) &&
	       atomic_load(&vm->irq_seq) == seq0) {
		if (!deadline) {
			pthread_cond_wait(&vm->wake_cond, &vm->wake_lock);
		} else if (emu_now_ns() >= deadline ||
			   pthread_cond_timedwait(&vm->wake_cond, &vm->wake_lock,
						  &ts) == ETIMEDOUT) {
			break;
		}
	}
	pthread_mutex_unlock(&vm->wake_lock);
}
