/*
 * 64-bit long mode, %eax from the boot state.  The host built tables at
 * 0x100000: 0-2 MiB identity, 2-4 MiB -> physical 0, and the higher half
 * 0xffffffff80000000 -> physical 0.
 *   0  load CR3 = 0x100000, halt: virt != phys for 2-4 MiB
 *   1  load CR3 = 0x100000, jump to the higher half (mapped by the guest,
 *      not by the identity-only engine)
 *   2  jump to 0x400000000000 (mapped nowhere): #PF with no IDT
 */
#include "ports.h"
	.code64
	.globl _start
_start:
	cmp	$2, %eax
	je	2f
	mov	%rax, %rbx
	mov	$0x100000, %rax
	mov	%rax, %cr3
	cmp	$0, %ebx
	jne	1f
	hlt
1:	movabs	$0xffffffff80008000, %rax
	jmp	*%rax
2:	movabs	$0x400000000000, %rax
	jmp	*%rax
