/*
 * emu_boot: puts a vCPU engine into the boot register state the boot layer
 * asked for (real, protected or long mode), from ANY previous state.
 *
 * The engine is first restored to its state right after uc_open (64-bit
 * mode, paging off) and the translations of all guest RAM are dropped
 * (uc_ctl_flush_tlb would do it in one call, but it touches the whole
 * 1 GiB translation buffer: +1 GiB RSS per engine).  unicorn 2.0.1
 * applies no side effects when the host writes CR0/CR4 or a segment
 * register of a 64-bit engine (they are plain stores), so every mode
 * change is done by the CPU itself in the trampoline (emu_tramp.S), which
 * ends with a far jump to the guest entry, where the block hook stops the
 * engine (an exit address would bake the stop into the entry's
 * translation).  Then the host sets the general registers, RFLAGS and,
 * for long mode, EFER/CR3/CR0.PG (plain stores are right there: the
 * engine is already in long mode).
 */
#include "emu_int.h"
#include "emu_tramp.h"

#include <errno.h>
#include <string.h>

extern const uint8_t emu_tramp_start[], emu_tramp_end[];
extern const uint8_t emu_tramp_lm[], emu_tramp_down[], emu_tramp_compat[];
extern const uint8_t emu_tramp_pm32[], emu_tramp_rm16[];

#define DESC_P (1ull << 47)
#define DESC_S (1ull << 44)
#define DESC_CODE (1ull << 43)
#define DESC_W (1ull << 41)
#define DESC_L (1ull << 53)
#define DESC_D (1ull << 54)

static uint32_t tramp_off(const uint8_t *label)
{
	return (uint32_t)(label - emu_tramp_start);
}

static uint64_t make_desc(uint32_t base, uint32_t limit, uint8_t access,
			  uint8_t flags)
{
	return (limit & 0xffffull) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

void emu_tramp_init(struct emu_vcpu *v)
{
	uint64_t t = v->vm->tramp_gpa, pt = t + TR_PT;
	uint8_t *p = v->tramp;

	memset(p, 0xf4, TR_PAGE_SIZE);	/* hlt everywhere else */
	memcpy(p, emu_tramp_start, (size_t)(emu_tramp_end - emu_tramp_start));
	put64(p + TR_GDT, 0);
	put64(p + TR_GDT + TR_SEL_T32, make_desc((uint32_t)t, 0xffff, 0x9b, 0x4));
	put64(p + TR_GDT + TR_SEL_T16, make_desc((uint32_t)t, 0xffff, 0x9b, 0x0));
	put64(p + TR_GDT + TR_SEL_D16, make_desc(0, 0xffff, 0x93, 0x0));
	put32(p + TR_P_FAR_T32, tramp_off(emu_tramp_compat));
	put16(p + TR_P_FAR_T32 + 4, TR_SEL_T32);
	put16(p + TR_P_D16_SEL, TR_SEL_D16);
	put16(p + TR_P_ZERO, 0);

	/* one page serves as PML4, PDPT and PD (emu_choose_layout made the
	 * indexes distinct); it maps the 2 MiB around the code page */
	memset(p + TR_PT, 0, TR_PAGE_SIZE);
	put64(p + TR_PT, pt | 3);
	put64(p + TR_PT + ((t >> 30) & 511) * 8, pt | 3);
	put64(p + TR_PT + ((t >> 21) & 511) * 8, (t & ~0x1fffffull) | 0x83);
}

/* ---- validation of what the boot layer handed us ---- */

static int guest_desc(struct emu_vcpu *v, const struct boot_cpu_state *s,
		      uint16_t sel, const char *what, uint64_t *desc,
		      struct cv_err *err)
{
	if ((sel & ~7u) == 0 || (sel & 4))
		return cv_err_set(err, EINVAL,
				  "boot %s selector 0x%x is null or in the LDT",
				  what, sel);
	if ((uint32_t)(sel & ~7u) + 7 > s->gdt_limit)
		return cv_err_set(err, EINVAL,
				  "boot %s selector 0x%x lies beyond the GDT limit 0x%x",
				  what, sel, s->gdt_limit);
	if (guest_mem_read(v->vm->mem, s->gdt_base + (sel & ~7u), desc, 8))
		return cv_err_set(err, EINVAL,
				  "boot GDT at 0x%llx is not in guest RAM",
				  (unsigned long long)s->gdt_base);
	if (!(*desc & DESC_P) || !(*desc & DESC_S))
		return cv_err_set(err, EINVAL,
				  "boot %s selector 0x%x is not a present code/data descriptor",
				  what, sel);
	return 0;
}

static uint64_t desc_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 56) & 0xff) << 24;
}

static int check_segments(struct emu_vcpu *v, const struct boot_cpu_state *s,
			  uint64_t *code_base, struct cv_err *err)
{
	uint64_t code, data;
	bool lm = s->mode == VM_CPU_LONG;
	int rc = guest_desc(v, s, s->code_sel, "code", &code, err);
	if (!rc)
		rc = guest_desc(v, s, s->data_sel, "data", &data, err);
	if (rc)
		return rc;
	if (!(code & DESC_CODE) || (lm && (!(code & DESC_L) || (code & DESC_D))) ||
	    (!lm && ((code & DESC_L) || !(code & DESC_D))))
		return cv_err_set(err, EINVAL,
				  "boot code selector 0x%x is not a %s code segment",
				  s->code_sel, lm ? "64-bit" : "32-bit");
	if ((data & DESC_CODE) || !(data & DESC_W))
		return cv_err_set(err, EINVAL,
				  "boot data selector 0x%x is not a writable data segment",
				  s->data_sel);
	*code_base = lm ? 0 : desc_base(code);
	return 0;
}

static int check_control(struct emu_vcpu *v, const struct boot_cpu_state *s,
			 struct cv_err *err)
{
	if (s->mode == VM_CPU_LONG) {
		if ((s->cr0 & (EMU_CR0_PG | EMU_CR0_PE)) !=
			    (EMU_CR0_PG | EMU_CR0_PE) ||
		    !(s->cr4 & EMU_CR4_PAE) || !(s->efer & EMU_EFER_LME))
			return cv_err_set(err, EINVAL,
					  "long-mode boot state needs CR0.PG|PE, CR4.PAE and EFER.LME (got CR0=0x%llx CR4=0x%llx EFER=0x%llx)",
					  (unsigned long long)s->cr0,
					  (unsigned long long)s->cr4,
					  (unsigned long long)s->efer);
	} else if (s->mode == VM_CPU_PROTECTED) {
		if (s->efer & EMU_EFER_LME)
			return cv_err_set(err, EINVAL,
					  "protected-mode boot state must not set EFER.LME");
	} else if (s->rip > 0xffff) {
		return cv_err_set(err, EINVAL,
				  "real-mode boot IP 0x%llx does not fit 16 bits",
				  (unsigned long long)s->rip);
	}
	if ((s->cr0 & EMU_CR0_PG) &&
	    !guest_mem_ptr(v->vm->mem, s->cr3 & ~0xfffull, 0x1000))
		return cv_err_set(err, EINVAL,
				  "boot page tables at CR3=0x%llx are not in guest RAM",
				  (unsigned long long)s->cr3);
	return 0;
}

/* ---- the run ---- */

/* Paging on through the trampoline's own tables: the CPU can then leave
 * long mode by clearing CR0.PG (the only way out). */
static void enter_down(struct emu_vcpu *v)
{
	emu_wr(v, UC_X86_REG_CR4, EMU_CR4_PAE);
	emu_wr(v, UC_X86_REG_CR3, v->vm->tramp_gpa + TR_PT);
	emu_wr(v, UC_X86_REG_CR0, EMU_CR0_PG | EMU_CR0_ET | EMU_CR0_PE);
}

static void set_dtr(struct emu_vcpu *v, int reg, uint64_t base, uint32_t limit)
{
	uc_x86_mmr m = { .selector = 0, .base = base, .limit = limit,
			 .flags = 0 };
	uc_reg_write(v->uc, reg, &m);
}

static int run_trampoline(struct emu_vcpu *v, uint64_t start, uint64_t exit_at,
			  struct cv_err *err)
{
	memset(&v->trap, 0, sizeof(v->trap));
	v->boot_exit = exit_at;
	v->booting = true;
	uc_err e = uc_emu_start(v->uc, start, 0, 0, 0);
	v->booting = false;
	if (e != UC_ERR_OK || v->trap.exception || v->trap.badmem)
		return cv_err_set(err, EIO,
				  "the emu boot trampoline failed (%s, vector %d at 0x%llx)",
				  uc_strerror(e),
				  v->trap.exception ? (int)v->trap.vector : -1,
				  (unsigned long long)v->trap.rip);
	return 0;
}

/*
 * Forget translated code in [lo, hi).  unicorn looks the address up with
 * the CPU's current paging, which must not fault outside guest execution:
 * callers do this in the reset state (paging off).
 */
void emu_drop_translations(struct emu_vcpu *v, uint64_t lo, uint64_t hi)
{
	/* per RAM region: unicorn's ram addresses are contiguous only there */
	for (size_t i = 0; i < v->vm->mem->n; i++) {
		const struct guest_region *r = &v->vm->mem->r[i];
		uint64_t a = lo > r->gpa ? lo : r->gpa;
		uint64_t b = hi < r->gpa + r->size ? hi : r->gpa + r->size;
		if (a < b)
			uc_ctl_remove_cache(v->uc, a, b);
	}
}

/* after the trampoline: what plain register stores can still do */
static void set_control(struct emu_vcpu *v, const struct boot_cpu_state *s)
{
	if (s->mode == VM_CPU_LONG)
		emu_wr_msr(v, EMU_MSR_EFER, s->efer);
	if (s->mode == VM_CPU_REAL)
		return;
	emu_wr(v, UC_X86_REG_CR3, s->cr3);
	if (s->cr0 & EMU_CR0_PG)
		emu_wr(v, UC_X86_REG_CR0, s->cr0 | EMU_CR0_PE);
}

static void set_general(struct emu_vcpu *v, const struct boot_cpu_state *s)
{
	static const int zero[] = {
		UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
		UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
	};
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		emu_wr(v, zero[i], 0);
	emu_wr(v, UC_X86_REG_RAX, s->rax);
	emu_wr(v, UC_X86_REG_RBX, s->rbx);
	emu_wr(v, UC_X86_REG_RCX, s->rcx);
	emu_wr(v, UC_X86_REG_RDX, s->rdx);
	emu_wr(v, UC_X86_REG_RSI, s->rsi);
	emu_wr(v, UC_X86_REG_RDI, s->rdi);
	emu_wr(v, UC_X86_REG_RBP, s->rbp);
	emu_wr(v, UC_X86_REG_RSP, s->rsp);
	emu_wr(v, UC_X86_REG_RFLAGS, s->rflags | 2);
	/* real mode: the IVT at 0 (as after reset); else none until lidt */
	set_dtr(v, UC_X86_REG_IDTR, 0, s->mode == VM_CPU_REAL ? 0xffff : 0);
}

int emu_boot_load(struct emu_vcpu *v, const struct boot_cpu_state *s,
		  struct cv_err *err)
{
	uint64_t code_base = 0, start, exit_at, want_cs, t = v->vm->tramp_gpa;
	uint8_t *p = v->tramp;
	int rc = check_control(v, s, err);
	if (!rc && s->mode != VM_CPU_REAL)
		rc = check_segments(v, s, &code_base, err);
	if (rc)
		return rc;

	uc_err e = uc_context_restore(v->uc, v->reset_ctx);
	if (e != UC_ERR_OK)
		return cv_err_set(err, EIO, "cannot reset the emu engine: %s",
				  uc_strerror(e));
	emu_drop_translations(v, 0, UINT64_MAX);

	put16(p + TR_P_GUEST_GDTR, s->gdt_limit);
	put64(p + TR_P_GUEST_GDTR + 2, s->gdt_base);
	put16(p + TR_P_DATA_SEL, s->data_sel);
	put32(p + TR_P_CR4, (uint32_t)s->cr4);
	if (s->mode == VM_CPU_LONG) {
		put32(p + TR_P_CR0, (uint32_t)(s->cr0 & ~EMU_CR0_PG));
		put64(p + TR_P_FAR_GUEST, s->rip);
		put16(p + TR_P_FAR_GUEST + 8, s->code_sel);
		start = t + tramp_off(emu_tramp_lm);
		exit_at = s->rip;
		want_cs = s->code_sel;
	} else if (s->mode == VM_CPU_PROTECTED) {
		uint64_t cr0 = s->cr0 ? s->cr0 : EMU_CR0_ET;
		put32(p + TR_P_CR0, (uint32_t)((cr0 | EMU_CR0_PE) & ~EMU_CR0_PG));
		put32(p + TR_P_FAR_NEXT, tramp_off(emu_tramp_pm32));
		put16(p + TR_P_FAR_NEXT + 4, TR_SEL_T32);
		put32(p + TR_P_FAR_GUEST, (uint32_t)s->rip);
		put16(p + TR_P_FAR_GUEST + 4, s->code_sel);
		start = t + tramp_off(emu_tramp_down);
		exit_at = (code_base + s->rip) & 0xffffffffull;
		want_cs = s->code_sel;
	} else {
		put32(p + TR_P_CR0, (uint32_t)((s->cr0 & ~(EMU_CR0_PE |
			EMU_CR0_PG)) | EMU_CR0_ET));
		put32(p + TR_P_FAR_NEXT, tramp_off(emu_tramp_rm16));
		put16(p + TR_P_FAR_NEXT + 4, TR_SEL_T16);
		put16(p + TR_P_FAR_GUEST, (uint16_t)s->rip);
		put16(p + TR_P_FAR_GUEST + 2, s->real_cs);
		start = t + tramp_off(emu_tramp_down);
		exit_at = ((uint64_t)s->real_cs << 4) + s->rip;
		want_cs = s->real_cs;
	}
	if (s->mode != VM_CPU_LONG) {
		set_dtr(v, UC_X86_REG_GDTR, t + TR_GDT, TR_GDT_LIMIT);
		enter_down(v);
	}
	rc = run_trampoline(v, start, exit_at, err);
	if (rc)
		return rc;
	uint64_t rip = emu_rd(v, UC_X86_REG_RIP), cs = emu_rd(v, UC_X86_REG_CS);
	bool lma = emu_rd_msr(v, EMU_MSR_EFER) & EMU_EFER_LMA;
	if (rip != s->rip || cs != want_cs || lma != (s->mode == VM_CPU_LONG))
		return cv_err_set(err, EIO,
				  "the emu boot trampoline stopped at %04llx:%llx (long mode %d) instead of %04llx:%llx",
				  (unsigned long long)cs, (unsigned long long)rip,
				  lma, (unsigned long long)want_cs,
				  (unsigned long long)s->rip);
	set_control(v, s);
	set_general(v, s);
	return 0;
}
