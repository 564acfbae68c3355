/*
 * 64-bit long-mode guest for test_kvm.c, loaded at 0x8000 and entered with
 * paging on (identity-mapped 4 GiB, 2 MiB pages) and a 64-bit code segment.
 */
#include "guest.h"
#define LOAD 0x8000

	.code64

GUEST(lm64)
	mov	$P_LOG, %dx
	mov	%cr0, %rax
	out	%eax, %dx
	mov	$0xc0000080, %ecx	/* EFER */
	rdmsr
	mov	$P_LOG, %dx
	out	%eax, %dx
	mov	%cs, %eax
	out	%eax, %dx

	/* 64-bit arithmetic: 0x123456789abcdef0 * 16 */
	movabs	$0x123456789abcdef0, %rax
	mov	$16, %rbx
	mul	%rbx
	mov	%rdx, %rsi
	mov	$P_LOG, %dx
	out	%eax, %dx
	shr	$32, %rax
	out	%eax, %dx
	mov	%esi, %eax
	out	%eax, %dx

	/* 8-byte MMIO both ways */
	mov	$MMIO_DEV, %edi
	movabs	$0x1122334455667788, %rax
	mov	%rax, 0x40(%rdi)
	mov	0x48(%rdi), %rax
	out	%eax, %dx
	shr	$32, %rax
	out	%eax, %dx

	/* the hypervisor leaf and this vCPU's APIC id */
	mov	$0x40000000, %eax
	cpuid
	mov	$P_LOG, %dx
	out	%eax, %dx
	mov	%ebx, %eax
	out	%eax, %dx
	mov	%ecx, %eax
	out	%eax, %dx
	mov	%edx, %eax
	mov	$P_LOG, %dx
	out	%eax, %dx
	mov	$1, %eax
	cpuid
	shr	$24, %ebx
	mov	%ebx, %eax
	mov	$P_LOG, %dx
	out	%eax, %dx
	hlt
GUEST_END(lm64)
