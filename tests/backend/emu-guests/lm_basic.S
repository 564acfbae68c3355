/* 64-bit long mode at 0x8000: proves 64-bit execution, CPUID, 64-bit
 * MMIO, then an exit write. */
#include "ports.h"
	.code64
	.globl _start
_start:
	mov	$0x123456789, %rax
	shr	$32, %rax
	out	%eax, $P_LOG		/* 1 */
	xor	%eax, %eax
	cpuid
	out	%eax, $P_LOG		/* max leaf */
	mov	%ebx, %eax
	out	%eax, $P_LOG		/* vendor */
	mov	%edx, %eax
	out	%eax, $P_LOG
	mov	%ecx, %eax
	out	%eax, $P_LOG
	mov	$1, %eax
	cpuid
	mov	%ebx, %eax
	shr	$24, %eax
	out	%eax, $P_LOG		/* initial APIC id */
	mov	%ecx, %eax
	out	%eax, $P_LOG		/* ecx: hypervisor bit 31 */
	mov	$0x40000000, %eax
	cpuid
	mov	%ebx, %eax
	out	%eax, $P_LOG		/* "cvis" */
	mov	%ecx, %eax
	out	%eax, $P_LOG		/* "or\0\0" */
	mov	$0x80000001, %eax
	cpuid
	mov	%edx, %eax
	out	%eax, $P_LOG		/* LM bit 29 */
	mov	$MMIO_NONE, %rbx
	mov	(%rbx), %rax
	out	%eax, $P_LOG		/* 0xffffffff */
	shr	$32, %rax
	out	%eax, $P_LOG		/* 0xffffffff */
	mov	$MMIO_DEV, %rbx
	mov	$0x0123456789abcdef, %rax
	mov	%rax, 0x80(%rbx)
	mov	0x80(%rbx), %rax	/* ~ */
	out	%eax, $P_LOG
	shr	$32, %rax
	out	%eax, $P_LOG
	mov	$9, %al
	out	%al, $P_EXIT
	hlt
