/*
 * A guest that enters long mode by itself: real mode at 0000:8000 ->
 * protected mode -> PAE + EFER.LME + paging (identity tables the host put
 * at 0x1000) -> 64-bit code, which reports and then counts (count.h).
 */
#include "count.h"
#include "ports.h"
	.code16
	.globl _start
_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	lgdtl	gdtr
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $pm
	.code32
pm:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$GUEST_SP, %esp
	mov	%cr4, %eax
	or	$0x20, %eax		/* PAE */
	mov	%eax, %cr4
	mov	$0x1000, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx
	rdmsr
	or	$0x100, %eax		/* LME */
	wrmsr
	mov	%cr0, %eax
	or	$0x80000000, %eax	/* PG */
	mov	%eax, %cr0
	ljmpl	$0x18, $lm
	.code64
lm:
	mov	$0xc0000080, %ecx
	rdmsr
	out	%eax, $P_LOG		/* EFER with LMA */
	mov	$0x9000, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	COUNT_LOOP
	.p2align 3
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08 code32 */
	.quad	0x00cf92000000ffff	/* 0x10 data */
	.quad	0x00af9a000000ffff	/* 0x18 code64 */
gdtr:	.word	gdtr - gdt - 1
	.long	gdt
