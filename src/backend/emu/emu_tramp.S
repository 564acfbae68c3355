/*
 * emu_tramp: the boot trampoline of the emu backend.  Every vCPU engine is
 * a UC_MODE_64 engine (the only kind that can later resume at any RIP and
 * enter long mode), but unicorn 2.0.1 neither loads the hidden part of
 * CS/SS/DS nor applies CR0/CR4 side effects (leaving long mode, hidden
 * flags, TLB flushes) when the host writes those registers of such an
 * engine.  So the CPU does it: this code runs in pages only the engine
 * sees (emu_tramp.h), switches mode, loads the guest's GDT and selectors
 * (or real-mode segments) and far-jumps to the guest entry, where an exit
 * address stops the engine.  The host then sets the general registers and
 * flags, so this code may clobber them; it never touches guest memory
 * other than reading the guest's GDT.
 *
 * Entry points (offsets from emu_tramp_start = page offset 0):
 *   emu_tramp_lm    engine reset state (64-bit, paging off) -> long mode
 *   emu_tramp_down  64-bit with the trampoline's page tables -> compat
 *                   mode -> paging off (leaves long mode) -> TR_P_FAR_NEXT:
 *                   emu_tramp_pm32 (protected) or emu_tramp_rm16 (real)
 */
#include "emu_tramp.h"

#define P(x) (.Lbase + (x))

	.section .rodata.emu_tramp, "a"
	.globl	emu_tramp_start, emu_tramp_end
	.globl	emu_tramp_lm, emu_tramp_down, emu_tramp_compat
	.globl	emu_tramp_pm32, emu_tramp_rm16
	.p2align 4
emu_tramp_start:
.Lbase:

	.code64
emu_tramp_lm:
	mov	%cr0, %rax		/* a CR0.WP change flushes the TLB */
	xor	$0x10000, %eax
	mov	%rax, %cr0
	mov	P(TR_P_CR0)(%rip), %eax	/* the guest's CR0, PG still off */
	mov	%rax, %cr0
	mov	P(TR_P_CR4)(%rip), %eax
	mov	%rax, %cr4
	lgdt	P(TR_P_GUEST_GDTR)(%rip)
	mov	P(TR_P_DATA_SEL)(%rip), %ds
	mov	P(TR_P_DATA_SEL)(%rip), %es
	mov	P(TR_P_DATA_SEL)(%rip), %fs
	mov	P(TR_P_DATA_SEL)(%rip), %gs
	mov	P(TR_P_DATA_SEL)(%rip), %ss
	rex64 ljmp *P(TR_P_FAR_GUEST)(%rip)

emu_tramp_down:
	ljmpl	*P(TR_P_FAR_T32)(%rip)

	/* compat mode, CS = TR_SEL_T32 (base = page) */
	.code32
emu_tramp_compat:
	mov	%cr0, %eax
	and	$0x7fffffff, %eax
	mov	%eax, %cr0		/* PG off: long mode ends */
	mov	$0xc0000080, %ecx
	rdmsr
	and	$0xfffffeff, %eax
	wrmsr				/* EFER.LME off */
	mov	%cs:TR_P_CR4, %eax
	mov	%eax, %cr4
	xor	%eax, %eax
	mov	%eax, %cr3
	ljmpl	*%cs:TR_P_FAR_NEXT

	/* legacy protected mode, CS = TR_SEL_T32 */
emu_tramp_pm32:
	mov	%cs:TR_P_CR0, %eax
	mov	%eax, %cr0
	lgdtl	%cs:TR_P_GUEST_GDTR
	mov	%cs:TR_P_DATA_SEL, %ds
	mov	%cs:TR_P_DATA_SEL, %es
	mov	%cs:TR_P_DATA_SEL, %fs
	mov	%cs:TR_P_DATA_SEL, %gs
	mov	%cs:TR_P_DATA_SEL, %ss
	ljmpl	*%cs:TR_P_FAR_GUEST

	/*
	 * CS = TR_SEL_T16: 16-bit protected mode.  Load real-mode-like
	 * hidden state (limit 0xffff, 16-bit) into the data segments first:
	 * a real-mode segment load only changes selector and base.
	 */
	.code16
emu_tramp_rm16:
	mov	%cs:TR_P_D16_SEL, %ds
	mov	%cs:TR_P_D16_SEL, %es
	mov	%cs:TR_P_D16_SEL, %fs
	mov	%cs:TR_P_D16_SEL, %gs
	mov	%cs:TR_P_D16_SEL, %ss
	movl	%cs:TR_P_CR0, %eax
	movl	%eax, %cr0		/* PE off: real mode, CS base stays */
	lgdtl	%cs:TR_P_GUEST_GDTR
	mov	%cs:TR_P_ZERO, %ds
	mov	%cs:TR_P_ZERO, %es
	mov	%cs:TR_P_ZERO, %fs
	mov	%cs:TR_P_ZERO, %gs
	mov	%cs:TR_P_ZERO, %ss
	ljmpw	*%cs:TR_P_FAR_GUEST
emu_tramp_end:
	.if	(emu_tramp_end - emu_tramp_start) > TR_GDT
	.error	"the trampoline code runs into its GDT"
	.endif

	.section .note.GNU-stack, "", @progbits
