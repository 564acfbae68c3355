/*
 * emu_fault: turns what unicorn reports into what the VM layer needs.
 *
 *  - Guest exceptions and `int n` are delivered by emu_irq.c when their
 *    gate is usable.  Otherwise, an exception whose delivery would fail
 *    architecturally (vector beyond the IDT limit or gate not present,
 *    then the same for #GP/#NP and for #DF) is a triple fault ->
 *    VCPU_EXIT_SHUTDOWN; any other one is an error naming the vector and
 *    RIP (cvisor does not escalate to #GP/#NP/#DF).
 *  - Paging: unicorn walks the guest's page tables (present bits,
 *    permissions, #PF) but then uses the VIRTUAL address as the physical
 *    one.  Accesses above the mapped space fault (reported with that
 *    explanation); for the rest, every time CR0/CR3/CR4/EFER changed
 *    since the last check, the tables are walked when vcpu_run returns
 *    and any present mapping below the mapped top with virt != phys is an
 *    error.  Not caught: edits to live tables without a CR3 reload, and
 *    mappings used before the run returns.
 */
#include "emu_int.h"

#include <stdio.h>
#include <string.h>

#define WALK_BUDGET (1ul << 20)	/* present entries examined per check */
#define CANONICAL_TOP (1ull << 47)

static const char *vector_name(uint32_t vector)
{
	static const char *const names[] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF",
		"coprocessor overrun", "#TS", "#NP", "#SS", "#GP", "#PF",
		"reserved", "#MF", "#AC", "#MC", "#XM", "#VE",
	};
	return vector < sizeof(names) / sizeof(names[0]) ? names[vector]
							 : "interrupt";
}

/* Would the CPU find a usable gate for vector?  *beyond: limit exceeded. */
static bool gate_usable(struct emu_vcpu *v, uint32_t vector, bool *beyond)
{
	uc_x86_mmr idtr = { 0 };
	uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
	bool pe = emu_rd(v, UC_X86_REG_CR0) & EMU_CR0_PE;
	bool lma = emu_rd_msr(v, EMU_MSR_EFER) & EMU_EFER_LMA;
	unsigned size = !pe ? 4 : lma ? 16 : 8;
	uint8_t gate[16];

	*beyond = (uint64_t)vector * size + size - 1 > idtr.limit;
	if (*beyond)
		return false;
	if (!pe)
		return true;	/* an IVT entry is just a far pointer */
	if (guest_mem_read(v->vm->mem, idtr.base + (uint64_t)vector * size,
			   gate, size))
		return false;
	return gate[5] & 0x80;
}

bool emu_gate_usable(struct emu_vcpu *v, uint32_t vector)
{
	bool beyond;
	return gate_usable(v, vector, &beyond);
}

bool emu_is_triple_fault(struct emu_vcpu *v, uint32_t vector)
{
	bool beyond;
	if (gate_usable(v, vector, &beyond))
		return false;
	if (vector == 8)
		return true;
	if (gate_usable(v, beyond ? 13 : 11, &beyond))
		return false;
	return !gate_usable(v, 8, &beyond);
}

void emu_describe_exception(struct emu_vcpu *v, char *buf, size_t len)
{
	uint32_t vec = v->trap.vector;
	snprintf(buf, len,
		 "guest %s %s (vector %u) at %04x:0x%llx: its IDT gate is not usable and the emu backend does not escalate to #GP/#NP",
		 vec < 32 ? "exception" : "software", vector_name(vec), vec,
		 v->trap.cs, (unsigned long long)v->trap.rip);
}

static const char *memtype_name(uc_mem_type t)
{
	switch (t) {
	case UC_MEM_READ_UNMAPPED: return "read from unmapped address";
	case UC_MEM_WRITE_UNMAPPED: return "write to unmapped address";
	case UC_MEM_FETCH_UNMAPPED: return "code fetch from unmapped address";
	case UC_MEM_WRITE_PROT: return "write to protected address";
	case UC_MEM_READ_PROT: return "read from protected address";
	case UC_MEM_FETCH_PROT: return "code fetch from protected address";
	default: return "bad access to address";
	}
}

void emu_describe_badmem(struct emu_vcpu *v, uc_err e, char *buf, size_t len)
{
	uint64_t top = 1ull << v->vm->phys_bits;
	if (!v->trap.badmem) {
		snprintf(buf, len, "the emu engine stopped at RIP 0x%llx: %s",
			 (unsigned long long)emu_rd(v, UC_X86_REG_RIP),
			 uc_strerror(e));
		return;
	}
	bool paging = emu_rd(v, UC_X86_REG_CR0) & EMU_CR0_PG;
	snprintf(buf, len, "guest %s 0x%llx at %04x:0x%llx%s",
		 memtype_name(v->trap.memtype),
		 (unsigned long long)v->trap.memaddr, v->trap.cs,
		 (unsigned long long)v->trap.rip,
		 paging && v->trap.memaddr >= top
			 ? ": the emu backend runs identity-mapped paging only, so virtual addresses must be physical ones (use accel = \"kvm\" for this guest)"
			 : "");
}

/* ---- identity-paging check ---- */

struct level {
	unsigned shift, count, esize;
	bool large;		/* PS allowed at this level */
};

struct walk {
	struct emu_vcpu *v;
	const struct level *lv;
	unsigned nlevels;
	uint64_t top;
	unsigned long budget;
	uint64_t bad_virt, bad_phys;
	int bad;		/* 1 = non-identity, 2 = table outside RAM */
};

static uint64_t leaf_phys(const struct level *l, uint64_t e)
{
	if (l->esize == 4 && l->shift == 22)	/* PSE-36 4 MiB page */
		return (e & 0xffc00000ull) | ((e >> 13) & 0xff) << 32;
	return e & 0x000fffffffffffffull & ~((1ull << l->shift) - 1);
}

static void walk_table(struct walk *w, uint64_t pa, unsigned depth,
		       uint64_t vbase)
{
	const struct level *l = &w->lv[depth];
	const uint8_t *t = guest_mem_ptr(w->v->vm->mem, pa,
					 (uint64_t)l->count * l->esize);
	if (!t) {
		w->bad = 2;
		w->bad_phys = pa;
		return;
	}
	for (unsigned i = 0; i < l->count && !w->bad && w->budget; i++) {
		uint64_t virt = vbase + ((uint64_t)i << l->shift), e = 0;
		if (virt >= w->top)
			break;
		memcpy(&e, t + (size_t)i * l->esize, l->esize);
		if (!(e & 1))
			continue;
		w->budget--;
		bool leaf = depth + 1 == w->nlevels || (l->large && (e & 0x80));
		if (!leaf) {
			uint64_t next = l->esize == 4 ? (e & 0xfffff000ull)
						      : (e & 0x000ffffffffff000ull);
			walk_table(w, next, depth + 1, virt);
		} else if (leaf_phys(l, e) != virt) {
			w->bad = 1;
			w->bad_virt = virt;
			w->bad_phys = leaf_phys(l, e);
		}
	}
}

int emu_check_paging(struct emu_vcpu *v, char *buf, size_t len)
{
	static const struct level lm[] = {
		{ 39, 512, 8, false }, { 30, 512, 8, true },
		{ 21, 512, 8, true }, { 12, 512, 8, false },
	};
	static const struct level pae[] = {
		{ 30, 4, 8, false }, { 21, 512, 8, true }, { 12, 512, 8, false },
	};
	static const struct level legacy[] = {
		{ 22, 1024, 4, true }, { 12, 1024, 4, false },
	};
	uint64_t cr0 = emu_rd(v, UC_X86_REG_CR0);
	if (!(cr0 & EMU_CR0_PG))
		return 0;
	uint64_t cr3 = emu_rd(v, UC_X86_REG_CR3), cr4 = emu_rd(v, UC_X86_REG_CR4);
	uint64_t efer = emu_rd_msr(v, EMU_MSR_EFER);
	if (v->pg_valid && v->pg_cr0 == cr0 && v->pg_cr3 == cr3 &&
	    v->pg_cr4 == cr4 && v->pg_efer == efer)
		return 0;

	struct walk w = { .v = v, .budget = WALK_BUDGET };
	uint64_t root;
	w.top = 1ull << v->vm->phys_bits;
	if (w.top > CANONICAL_TOP)
		w.top = CANONICAL_TOP;
	if (efer & EMU_EFER_LMA) {
		w.lv = lm, w.nlevels = 4, root = cr3 & 0x000ffffffffff000ull;
	} else if (cr4 & EMU_CR4_PAE) {
		w.lv = pae, w.nlevels = 3, root = cr3 & 0xffffffe0ull;
	} else {
		static const struct level nopse[] = {
			{ 22, 1024, 4, false }, { 12, 1024, 4, false },
		};
		w.lv = (cr4 & EMU_CR4_PSE) ? legacy : nopse;
		w.nlevels = 2, root = cr3 & 0xfffff000ull;
	}
	walk_table(&w, root, 0, 0);
	if (w.bad == 1) {
		snprintf(buf, len,
			 "guest page tables (CR3=0x%llx) map virtual 0x%llx to physical 0x%llx: the emu backend supports identity-mapped paging only (use accel = \"kvm\" for this guest)",
			 (unsigned long long)cr3, (unsigned long long)w.bad_virt,
			 (unsigned long long)w.bad_phys);
		return -1;
	}
	if (w.bad == 2) {
		snprintf(buf, len,
			 "guest page table at 0x%llx (CR3=0x%llx) is outside guest RAM",
			 (unsigned long long)w.bad_phys, (unsigned long long)cr3);
		return -1;
	}
	v->pg_valid = true;
	v->pg_cr0 = cr0, v->pg_cr3 = cr3, v->pg_cr4 = cr4, v->pg_efer = efer;
	return 0;
}
