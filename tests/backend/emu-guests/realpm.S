/*
 * AxVisor's x86 boot path: a real-mode stub at 0000:8000 switches to
 * 32-bit protected mode with its own GDT and far-jumps to the kernel at
 * 0x200000 (pm_count.bin).
 */
#include "ports.h"
	.code16
	.globl _start
_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	mov	$0x5e, %al
	out	%al, $P_LOG
	lgdtl	gdtr
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$GUEST_SP, %esp
	mov	$0x9000, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	ljmpl	$0x08, $0x200000
	.p2align 3
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08 code32 */
	.quad	0x00cf92000000ffff	/* 0x10 data32 */
gdtr:	.word	gdtr - gdt - 1
	.long	gdt
