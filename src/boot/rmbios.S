/*
 * rmbios: the real-mode BIOS stub for the Linux 16-bit entry (see
 * rmbios.h).  Assembled as 16-bit code into cvisor's read-only data;
 * linux.c copies it to 0xf0000 and runs it as segment 0xf000, so every
 * address here is an offset from cv_rmbios_start.
 */
#include "rmbios.h"

#define SMAP 0x534d4150

	.section .rodata.cv_rmbios, "a"
	.code16
	.balign 16
	.globl cv_rmbios_start
	.globl cv_rmbios_end
cv_rmbios_start:
	.word 0					/* E820_COUNT */
	.word 0x1000				/* RM_SEG */
	.word 0xe000				/* RM_SP */
	.word boot_stub - cv_rmbios_start	/* ENTRY_PTR */
	.word int_iret - cv_rmbios_start	/* IRET_PTR */
	.word int15 - cv_rmbios_start		/* INT15_PTR */
	.org RMBIOS_OFF_E820
	.space RMBIOS_E820_MAX * RMBIOS_E820_ENTRY

/* boot.rst: ds = es = fs = gs = ss = seg, sp = heap top, cs = seg + 0x20 */
boot_stub:
	cli
	cld
	movw %cs:RMBIOS_OFF_RM_SEG, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
	movw %ax, %ss
	movw %cs:RMBIOS_OFF_RM_SP, %sp
	addw $0x20, %ax
	pushw %ax
	pushw $0
	lret

int_iret:
	iret

/* INT 15h: only E820 (EDX = 'SMAP', EBX = index, ES:DI = 20+ bytes). */
int15:
	cmpl $0xe820, %eax
	jne int15_fail
	cmpl $SMAP, %edx
	jne int15_fail
	cmpl $RMBIOS_E820_ENTRY, %ecx
	jb int15_fail
	movzwl %cs:RMBIOS_OFF_E820_COUNT, %eax
	cmpl %eax, %ebx
	jae int15_fail
	pushw %ds
	pushl %esi
	pushl %edi
	imull $RMBIOS_E820_ENTRY, %ebx, %esi
	addl $RMBIOS_OFF_E820, %esi
	pushw %cs
	popw %ds
	movl $RMBIOS_E820_ENTRY, %ecx
	cld
	rep movsb
	popl %edi
	popl %esi
	popw %ds
	incl %ebx
	cmpl %eax, %ebx
	jb 1f
	xorl %ebx, %ebx
1:	movl $SMAP, %eax
	movl $RMBIOS_E820_ENTRY, %ecx
	pushw %bp
	movw %sp, %bp
	andw $0xfffe, 6(%bp)			/* CF = 0 in the saved FLAGS */
	popw %bp
	iret
int15_fail:
	pushw %bp
	movw %sp, %bp
	orw $1, 6(%bp)				/* CF = 1: not supported */
	popw %bp
	movb $0x86, %ah
	iret
cv_rmbios_end:

	.code64
	.section .note.GNU-stack, "", @progbits
