/*
 * start16: entry of the real-mode C guests (cvisor enters them at CS:IP =
 * 0000:<load address>, SPEC §5b).  Zero segments, a stack per vCPU (index
 * in %esi, boot.h), then guest_main() compiled with -m16.  Everything must
 * stay below 64 KiB, so real-mode guests support up to MAX_CPUS vCPUs.
 */
#define MAX_CPUS 16
#define STACK_SHIFT 10			/* 1 KiB per vCPU */

	.code16
	.section .text.start, "ax"
	.globl _start
_start:
	jmp 1f
	.org 4				/* GUEST_PARAM_OFFSET */
	.globl guest_param
guest_param:
	.long GUEST_PARAM
1:
	cli
	cld
	movl %eax, %ebp
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %esi, %eax
	cmpl $MAX_CPUS, %eax
	jae 2f
	incl %eax
	shll $STACK_SHIFT, %eax
	addl $stacks, %eax
	movl %eax, %esp
	pushl %ebx
	pushl %ebp
	pushl %edi
	pushl %esi
	pushl %esp			/* struct entry_regs * */
	calll guest_main
2:	cli
	hlt
	jmp 2b

	.section .bss
	.balign 16
stacks:
	.space MAX_CPUS << STACK_SHIFT
