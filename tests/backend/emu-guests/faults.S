/*
 * Exceptions, picked by %eax from the boot state:
 *   0  real mode, empty IVT (lidt limit 0), int3  -> triple fault
 *   1  real mode, int $0x21 through the normal IVT -> not deliverable yet
 *   2  32-bit protected mode, no IDT, ud2          -> triple fault
 *   3  64-bit long mode, no IDT, divide by zero     -> triple fault
 *   4  64-bit long mode, IDT with a present #UD gate, ud2 -> error
 * The same bytes are entered in each mode, so each case is written for
 * the mode it is entered in.
 */
#include "ports.h"
	.globl _start
	.code16
_start:
	cmp	$1, %ax
	je	c1
	cmp	$0, %ax
	jne	later
	lidt	zero_idtr
	int3
	hlt
c1:	int	$0x21
	hlt
later:
	/* protected/long mode: entered at _start + 0x40 */
	.org	0x40
	.code32
	cmp	$2, %eax
	jne	lmode
	ud2
	hlt
lmode:
	.code64
	cmp	$3, %eax
	jne	c4
	xor	%ecx, %ecx
	div	%ecx
	hlt
c4:	lidt	idtr64(%rip)
	ud2
	hlt
	.p2align 4
zero_idtr:
	.word	0
	.long	0
	.p2align 4
idtr64:	.word	16 * 7 - 1
	.quad	idt
	.p2align 4
idt:	.fill	6 * 16, 1, 0
	/* vector 6: a present 64-bit interrupt gate to _start */
	.word	0x8000, 0x08
	.byte	0, 0x8e
	.word	0
	.long	0, 0
