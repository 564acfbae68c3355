/*
 * emu_io: how a vCPU engine sees the machine.  Guest RAM regions are the
 * VM's host mappings (uc_mem_map_ptr).  Every other address below
 * 2^phys_bits (except the engine-private trampoline pages) is covered by
 * uc_mmio_map'ed "gaps" whose callbacks go to bus_read/bus_write on the
 * VM's MMIO space: registered devices anywhere in a gap get their
 * accesses, unassigned addresses read all-ones (the bus's rule), and
 * devices registered after the vCPU was created are still reached.
 * Also here: IN/OUT, CPUID, the fault hooks and the block hook that is
 * the only place a run is stopped (see emu.c).
 */
#include "cpuid.h"
#include "emu_int.h"
#include "emu_tramp.h"
#include "fault.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define TRAMP_FIRST 0xffff0000ull	/* 4 GiB - 64 KiB, no RAM on PCs */
#define TRAMP_STEP 0x10000ull
#define TRAMP_LOWEST 0x100000ull

uint64_t emu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t emu_rd(struct emu_vcpu *v, int reg)
{
	uint64_t val = 0;
	uc_reg_read(v->uc, reg, &val);
	return val;
}

void emu_wr(struct emu_vcpu *v, int reg, uint64_t val)
{
	uc_reg_write(v->uc, reg, &val);
}

uint64_t emu_rd_msr(struct emu_vcpu *v, uint32_t msr)
{
	uc_x86_msr m = { .rid = msr, .value = 0 };
	uc_reg_read(v->uc, UC_X86_REG_MSR, &m);
	return m.value;
}

void emu_wr_msr(struct emu_vcpu *v, uint32_t msr, uint64_t val)
{
	uc_x86_msr m = { .rid = msr, .value = val };
	uc_reg_write(v->uc, UC_X86_REG_MSR, &m);
}

/* ---- layout: trampoline page and the size of the mapped space ---- */

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool tramp_fits(const struct emu_vm *vm, uint64_t gpa)
{
	/* the page-table page is PML4 (index 0), PDPT and PD at once */
	unsigned pdpt = (gpa >> 30) & 511, pd = (gpa >> 21) & 511;
	if (pd == 0 || pd == pdpt)
		return false;
	for (size_t i = 0; i < vm->mem->n; i++)
		if (overlaps(gpa, TR_SIZE, vm->mem->r[i].gpa,
			     vm->mem->r[i].size))
			return false;
	const struct bus_space_map *m = &vm->bus->mmio;
	for (size_t i = 0; i < m->n; i++)
		if (overlaps(gpa, TR_SIZE, m->ranges[i].base,
			     m->ranges[i].len))
			return false;
	return true;
}

int emu_choose_layout(struct emu_vm *vm, struct cv_err *err)
{
	uint64_t top = 0;
	for (size_t i = 0; i < vm->mem->n; i++) {
		const struct guest_region *r = &vm->mem->r[i];
		if ((r->gpa | r->size) & (TR_PAGE_SIZE - 1))
			return cv_err_set(err, EINVAL,
					  "guest RAM region at 0x%llx is not page aligned",
					  (unsigned long long)r->gpa);
		if (r->gpa + r->size > top)
			top = r->gpa + r->size;
	}
	vm->phys_bits = EMU_MIN_PHYS_BITS;
	while (vm->phys_bits < 52 && top > (1ull << vm->phys_bits))
		vm->phys_bits++;

	/*
	 * The trampoline needs a 32-bit address (it runs in 16- and 32-bit
	 * code with segment base = its page).  Prefer the BIOS ROM area
	 * below 4 GiB, which cvisor guests do not use.  A guest reading
	 * there sees the trampoline instead of all-ones.
	 */
	for (uint64_t gpa = TRAMP_FIRST; gpa >= TRAMP_LOWEST;
	     gpa -= TRAMP_STEP) {
		if (tramp_fits(vm, gpa)) {
			vm->tramp_gpa = gpa;
			return 0;
		}
	}
	return cv_err_set(err, ENOSPC,
			  "no free page below 4 GiB for the emu boot trampoline: guest RAM and MMIO cover it all");
}

/* ---- mapping ---- */

/* The LAPIC page of an irqchip VM: each vCPU sees its own LAPIC there. */
static bool in_lapic(const struct emu_gap *g, uint64_t addr)
{
	return g->v->lapic && addr >= LAPIC_BASE &&
	       addr < LAPIC_BASE + LAPIC_SIZE;
}

/* The IOAPIC's registers of an irqchip VM. */
static bool in_ioapic(const struct emu_gap *g, uint64_t addr)
{
	return g->v->vm->ioapic && addr >= IOAPIC_BASE &&
	       addr < IOAPIC_BASE + IOAPIC_SIZE;
}

static uint64_t gap_read(uc_engine *uc, uint64_t off, unsigned size,
			 void *opaque)
{
	struct emu_gap *g = opaque;
	(void)uc;
	vcpu_stat_inc(&g->v->stats->exits_mmio);
	if (in_lapic(g, g->base + off))
		return lapic_read(g->v->lapic, g->base + off - LAPIC_BASE, size);
	if (in_ioapic(g, g->base + off))
		return ioapic_read(g->v->vm->ioapic, g->base + off - IOAPIC_BASE,
				   size);
	return bus_read(g->v->vm->bus, BUS_MMIO, g->base + off, size);
}

static void gap_write(uc_engine *uc, uint64_t off, unsigned size,
		      uint64_t value, void *opaque)
{
	struct emu_gap *g = opaque;
	vcpu_stat_inc(&g->v->stats->exits_mmio);
	(void)uc;
	if (in_lapic(g, g->base + off)) {
		struct lapic_ipi m;
		if (lapic_write(g->v->lapic, g->base + off - LAPIC_BASE, size,
				value, &m))
			emu_lapic_ipi(g->v, &m);
		return;
	}
	if (in_ioapic(g, g->base + off)) {
		ioapic_write(g->v->vm->ioapic, g->base + off - IOAPIC_BASE,
			     size, value);
		return;
	}
	if (bus_write(g->v->vm->bus, BUS_MMIO, g->base + off, size, value) ==
	    BUS_EXIT)
		emu_request_event(g->v);
}

struct span {
	uint64_t base, size;
};

static void sort_spans(struct span *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && s[j - 1].base > s[j].base; j--) {
			struct span t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
}

static int map_gap(struct emu_vcpu *v, uint64_t base, uint64_t end,
		   struct cv_err *err)
{
	if (end <= base)
		return 0;
	struct emu_gap *g = &v->gaps[v->ngaps];
	g->v = v;
	g->base = base;
	g->size = end - base;
	uc_err e = uc_mmio_map(v->uc, base, g->size, gap_read, g, gap_write, g);
	if (e != UC_ERR_OK)
		return cv_err_set(err, ENOMEM,
				  "cannot map the MMIO space 0x%llx-0x%llx into the emu engine: %s",
				  (unsigned long long)base,
				  (unsigned long long)end - 1, uc_strerror(e));
	v->ngaps++;
	return 0;
}

int emu_map_memory(struct emu_vcpu *v, struct cv_err *err)
{
	struct emu_vm *vm = v->vm;
	struct span used[VMCFG_MAX_REGIONS + 1];
	size_t n = 0;

	for (size_t i = 0; i < vm->mem->n; i++) {
		const struct guest_region *r = &vm->mem->r[i];
		uc_err e = CV_FAULT("emu.mem_map")
			   ? UC_ERR_NOMEM
			   : uc_mem_map_ptr(v->uc, r->gpa, r->size,
					    UC_PROT_ALL, r->host);
		if (e != UC_ERR_OK)
			return cv_err_set(err, ENOMEM,
					  "cannot map guest RAM 0x%llx+0x%llx into the emu engine: %s",
					  (unsigned long long)r->gpa,
					  (unsigned long long)r->size,
					  uc_strerror(e));
		used[n++] = (struct span){ r->gpa, r->size };
	}
	uc_err e = CV_FAULT("emu.mem_map")
		   ? UC_ERR_NOMEM
		   : uc_mem_map_ptr(v->uc, vm->tramp_gpa, TR_SIZE, UC_PROT_ALL,
				    v->tramp);
	if (e != UC_ERR_OK)
		return cv_err_set(err, ENOMEM,
				  "cannot map the emu boot trampoline at 0x%llx: %s",
				  (unsigned long long)vm->tramp_gpa,
				  uc_strerror(e));
	used[n++] = (struct span){ vm->tramp_gpa, TR_SIZE };
	sort_spans(used, n);

	uint64_t top = 1ull << vm->phys_bits, at = 0;
	for (size_t i = 0; i < n; i++) {
		int rc = map_gap(v, at, used[i].base, err);
		if (rc)
			return rc;
		at = used[i].base + used[i].size;
	}
	return map_gap(v, at, top, err);
}

/* ---- port I/O ---- */

static uint32_t pio_in(uc_engine *uc, uint32_t port, int size, void *opaque)
{
	struct emu_vcpu *v = opaque;
	(void)uc;
	vcpu_stat_inc(&v->stats->exits_io);
	return (uint32_t)bus_read(v->vm->bus, BUS_PIO, port & 0xffff,
				  (unsigned)size);
}

static void pio_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
		    void *opaque)
{
	struct emu_vcpu *v = opaque;
	(void)uc;
	vcpu_stat_inc(&v->stats->exits_io);
	if (bus_write(v->vm->bus, BUS_PIO, port & 0xffff, (unsigned)size,
		      value) == BUS_EXIT)
		emu_request_event(v);
}

/* ---- CPUID ---- */

#define SIG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | \
			 (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/*
 * A small honest set: only features the unicorn 2.0.1 CPU executes.  The
 * feature words are unicorn's own (its decoder rejects instructions whose
 * bit it does not set) plus FPU/PSE/TSC/MSR/PAE/PGE, which it implements
 * without advertising; NX and SYSCALL are absent (unicorn masks them).
 * The identity and topology parts (leaf 1 APIC ID and counts, the
 * hypervisor bit and leaf, 0xB/0x1F, 0x80000008 ECX) come from
 * src/common/cpuid.h, as on the kvm backend.
 */
static struct cv_cpuid_regs cpuid_leaf(const struct emu_vcpu *v,
				       uint32_t leaf, uint32_t sub)
{
	struct cv_cpuid_regs r = { 0, 0, 0, 0 };
	unsigned n = v->vm->ncpus;
	switch (leaf) {
	case 0:	/* max leaf, vendor "cvisorcvisor" (EBX, EDX, ECX) */
		r = (struct cv_cpuid_regs){ CV_CPUID_TOPO_LEAF,
					    SIG('c', 'v', 'i', 's'),
					    SIG('i', 's', 'o', 'r'),
					    SIG('o', 'r', 'c', 'v') };
		break;
	case 1:
		r = (struct cv_cpuid_regs){
			0x663,
			8u << 8,			/* clflush 64 */
			0x02182200u,
			0x07088100u | 0x2079u,	/* + FPU PSE TSC MSR PAE PGE */
		};
		if (v->lapic)
			r.edx |= 1u << 9;	/* APIC (xAPIC only: no x2APIC bit) */
		cv_cpuid_leaf1(&r, v->index, n);
		break;
	case 7:
		if (sub == 0)
			r.ebx = 0x00180108u;
		break;
	case CV_CPUID_TOPO_LEAF:
		cv_cpuid_topology(&r, sub, v->index, n);
		break;
	case CV_CPUID_HV_BASE:
		cv_cpuid_hv_leaf(&r);
		break;
	case 0x80000000:
		r.eax = 0x80000008;
		break;
	case 0x80000001:	/* LAHF/ABM; RDTSCP, LM */
		r = (struct cv_cpuid_regs){ 0x663, 0, 0x00001031u,
					    1u << 27 | 1u << 29 };
		break;
	case 0x80000008:
		r.eax = v->vm->phys_bits | 48u << 8;
		cv_cpuid_ext8(&r, n);
		break;
	default:
		break;
	}
	return r;
}

/*
 * Unicorn 2.0.1 calls the UC_HOOK_INSN CPUID callback before its own
 * CPUID emulation and skips that emulation when the callback returns 1.
 * Measured (a probe: the hook writes 0x11111111.. to EAX-EDX, then `xor
 * eax,eax; cpuid`): returning 1 leaves the hook's values, returning 0 lets
 * unicorn's minimal CPUID overwrite all four registers (EAX-EDX = 0 for
 * leaf 0).  The cpuid guest (tests/vmm/test_platform.c) checks the result.
 */
static int on_cpuid(uc_engine *uc, void *opaque)
{
	struct emu_vcpu *v = opaque;
	(void)uc;
	struct cv_cpuid_regs r = cpuid_leaf(v,
		(uint32_t)emu_rd(v, UC_X86_REG_RAX),
		(uint32_t)emu_rd(v, UC_X86_REG_RCX));
	emu_wr(v, UC_X86_REG_RAX, r.eax);
	emu_wr(v, UC_X86_REG_RBX, r.ebx);
	emu_wr(v, UC_X86_REG_RCX, r.ecx);
	emu_wr(v, UC_X86_REG_RDX, r.edx);
	return 1;	/* skip unicorn's own CPUID */
}

/* ---- stops ---- */

/*
 * A device asked to leave the run.  The current translated block runs to
 * its end (see emu.c for why the stop waits for the next block).
 */
void emu_request_event(struct emu_vcpu *v)
{
	v->trap.event = true;
	atomic_store_explicit(&v->stop_wanted, true, memory_order_relaxed);
}

/*
 * Blocks until the next clock read: about half of the time left at the
 * pace of the last interval, so the reads thin out far from the deadline
 * and close in on it; 1 to EMU_CHECK_MAX (see emu.c).
 */
static unsigned next_check(const struct emu_vcpu *v, uint64_t now)
{
	if (!v->check_ns || now <= v->check_ns || !v->check_blocks)
		return EMU_CHECK_FIRST;
	uint64_t per_block = (now - v->check_ns) / v->check_blocks;
	uint64_t n = (v->deadline_ns - now) / 2 / (per_block ? per_block : 1);
	return n < 1 ? 1 : n > EMU_CHECK_MAX ? EMU_CHECK_MAX : (unsigned)n;
}

/* The slice or the timer deadline passed (clock read every few blocks). */
static bool deadline_over(struct emu_vcpu *v)
{
	if (!v->deadline_ns || --v->slice_countdown)
		return false;
	uint64_t now = emu_now_ns();
	if (now < v->deadline_ns) {
		v->slice_countdown = v->check_blocks = next_check(v, now);
		v->check_ns = now;
		return false;
	}
	if (v->slice_end && now >= v->slice_end)
		v->trap.sliced = true;
	else
		v->trap.timer = true;
	return true;
}

/* A waiting interrupt can be taken at this block boundary. */
static bool irq_window(struct emu_vcpu *v)
{
	if (v->shadow_blocks)
		return --v->shadow_blocks == 0;
	return emu_irq_enabled(v);
}

/*
 * Called by unicorn at the start of every translated block (~1 ns).  A
 * stop requested here ends the run before the block executes anything, so
 * RIP and every register describe one exact instruction boundary.
 */
static void on_block(uc_engine *uc, uint64_t addr, uint32_t size,
		     void *opaque)
{
	struct emu_vcpu *v = opaque;
	(void)size;
	if (v->booting) {
		/* the trampoline reached the guest entry (see emu_boot.c) */
		if (addr == v->boot_exit)
			uc_emu_stop(uc);
		return;
	}
	if (atomic_load_explicit(&v->stop_wanted, memory_order_relaxed)) {
		v->trap.hook_stop = true;
		uc_emu_stop(uc);
	} else if (v->irq_watch && irq_window(v)) {
		v->trap.hook_stop = v->trap.irq = true;
		uc_emu_stop(uc);
	} else if (deadline_over(v)) {
		v->trap.hook_stop = true;
		uc_emu_stop(uc);
	}
}

/* ---- faults ---- */

static void record_exception(struct emu_vcpu *v, uint32_t vector)
{
	if (!v->trap.exception) {
		v->trap.exception = true;
		v->trap.vector = vector;
		v->trap.rip = emu_rd(v, UC_X86_REG_RIP);
		v->trap.cs = (uint16_t)emu_rd(v, UC_X86_REG_CS);
	}
	uc_emu_stop(v->uc);
}

/*
 * Exceptions and `int n`: delivered right here through the guest's
 * IVT/IDT (unicorn left RIP at a faulting instruction, after a trapping
 * one), or between runs when that needs the engine stopped.  A vector
 * whose gate is unusable ends the run (emu_fault.c decides what it means).
 */
static void on_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct emu_vcpu *v = opaque;
	if (v->booting || !emu_gate_usable(v, intno)) {
		record_exception(v, intno);
		return;
	}
	emu_latch_clear(v, intno);	/* this one is being delivered */
	uint64_t rip = emu_rd(v, UC_X86_REG_RIP);
	bool need_stop = false;
	if (emu_deliver(v, intno, rip, true, &need_stop)) {
		v->trap.deliver_failed = true;
		uc_emu_stop(uc);
	} else if (need_stop) {
		v->trap.redeliver = true;
		v->trap.vector = intno;
		v->trap.rip = rip;
		uc_emu_stop(uc);
	}
}

/* #UD comes here, not to UC_HOOK_INTR: delivered between runs. */
static bool on_invalid_insn(uc_engine *uc, void *opaque)
{
	struct emu_vcpu *v = opaque;
	if (v->booting || !emu_gate_usable(v, 6)) {
		record_exception(v, 6);
		return true;
	}
	v->trap.redeliver = true;
	v->trap.vector = 6;
	v->trap.rip = emu_rd(v, UC_X86_REG_RIP);
	uc_emu_stop(uc);
	return true;
}

static bool on_badmem(uc_engine *uc, uc_mem_type type, uint64_t addr,
		      int size, int64_t value, void *opaque)
{
	struct emu_vcpu *v = opaque;
	(void)uc;
	(void)size;
	(void)value;
	if (!v->trap.badmem) {
		v->trap.badmem = true;
		v->trap.memtype = type;
		v->trap.memaddr = addr;
		v->trap.rip = emu_rd(v, UC_X86_REG_RIP);
		v->trap.cs = (uint16_t)emu_rd(v, UC_X86_REG_CS);
	}
	return false;	/* uc_emu_start fails with the access error */
}

int emu_add_hooks(struct emu_vcpu *v, struct cv_err *err)
{
	uc_hook h;
	uc_err e;

	if ((e = uc_hook_add(v->uc, &h, UC_HOOK_BLOCK, (void *)on_block, v, 1,
			     0)) != UC_ERR_OK ||
	    (e = uc_hook_add(v->uc, &h, UC_HOOK_INSN, (void *)pio_in, v, 1, 0,
			     UC_X86_INS_IN)) != UC_ERR_OK ||
	    (e = uc_hook_add(v->uc, &h, UC_HOOK_INSN, (void *)pio_out, v, 1, 0,
			     UC_X86_INS_OUT)) != UC_ERR_OK ||
	    (e = uc_hook_add(v->uc, &h, UC_HOOK_INSN, (void *)on_cpuid, v, 1, 0,
			     UC_X86_INS_CPUID)) != UC_ERR_OK ||
	    (e = uc_hook_add(v->uc, &h, UC_HOOK_INTR, (void *)on_intr, v, 1,
			     0)) != UC_ERR_OK ||
	    (e = uc_hook_add(v->uc, &h, UC_HOOK_INSN_INVALID,
			     (void *)on_invalid_insn, v, 1, 0)) != UC_ERR_OK ||
	    (e = uc_hook_add(v->uc, &h, UC_HOOK_MEM_INVALID, (void *)on_badmem,
			     v, 1, 0)) != UC_ERR_OK)
		return cv_err_set(err, EIO, "cannot install emu engine hooks: %s",
				  uc_strerror(e));
	/* no stop addresses: only hooks and kicks end a run */
	if ((e = uc_ctl_exits_enable(v->uc)) != UC_ERR_OK)
		return cv_err_set(err, EIO, "cannot configure the emu engine: %s",
				  uc_strerror(e));
	return 0;
}
