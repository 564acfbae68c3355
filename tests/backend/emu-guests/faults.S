/*
 * Exceptions, picked by %eax from the boot state:
 *   0  real mode, empty IVT (lidt limit 0), int3  -> triple fault
 *   1  real mode: int $0x21 to a handler in this segment, int $0x22 to
 *      one in segment 0x700 (entered by far jump); each logs and irets;
 *      then #DE (div by 0) whose handler skips the div -> logs 0x21, 0x22,
 *      0xde, 0x1 and halts
 *   2  32-bit protected mode, no IDT, ud2          -> triple fault
 *   3  64-bit long mode, no IDT, divide by zero     -> triple fault
 *   4  64-bit long mode, IDT: #UD gate skips the ud2, int3 gate returns,
 *      #BP/#UD log the saved RIP's low byte -> logs 0x6, 0x3, 0x4 + halt
 *   5  32-bit protected mode, IDT: #DE (skip the div), int3, int $0x80
 *      -> logs 0xde, 0x3, 0x80, 0x5 + halt
 *   6  64-bit long mode, IDT gate with a non-present #UD gate -> error
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
c1:	jmp	real_case
later:
	/* protected/long mode: entered at _start + 0x40 */
	.org	0x40
	.code32
	cmp	$2, %eax
	je	c2
	cmp	$5, %eax
	je	pm_case
	jmp	lmode
c2:	ud2
	hlt
lmode:
	.code64
	cmp	$3, %eax
	jne	c4
	xor	%ecx, %ecx
	div	%ecx
	hlt
c4:	cmp	$6, %eax
	je	c6
	mov	$0x7f00, %esp	/* frames must not land on the page tables */
	lidt	idtr64(%rip)
	ud2			/* the #UD handler skips these 2 bytes */
	int3
	mov	$4, %al
	out	%al, $P_LOG
	hlt
c6:	lidt	idtr64np(%rip)
	ud2
	hlt

lm_ud:	mov	$6, %al
	out	%al, $P_LOG
	addq	$2, (%rsp)
	iretq
lm_bp:	mov	$3, %al
	out	%al, $P_LOG
	iretq

	.code32
pm_case:
	mov	$0x7f00, %esp
	lidt	idtr32
	xor	%ecx, %ecx
	mov	$1, %eax
	div	%ecx		/* 2 bytes: f7 f1 */
	int3
	int	$0x80
	mov	$5, %al
	out	%al, $P_LOG
	hlt
pm_de:	mov	$0xde, %al
	out	%al, $P_LOG
	addl	$2, (%esp)
	iret
pm_bp:	mov	$3, %al
	out	%al, $P_LOG
	iret
pm_80:	mov	$0x80, %al
	out	%al, $P_LOG
	iret

	.code16
real_case:
	xor	%ax, %ax
	mov	%ax, %ds
	movw	$rm_21, 0x21 * 4
	movw	$0, 0x21 * 4 + 2
	/* int 0x22: handler copied to 0x7000:0 = linear 0x70000 */
	movw	$0, 0x22 * 4
	movw	$0x7000, 0x22 * 4 + 2
	movw	$rm_de, 0
	movw	$0, 2
	mov	$0x7000, %ax
	mov	%ax, %es
	mov	$rm_22, %si
	xor	%di, %di
	mov	$rm_22_end - rm_22, %cx
	cld
	rep movsb
	int	$0x21
	int	$0x22
	xor	%cx, %cx
	mov	$1, %ax
	div	%cl		/* 2 bytes: f6 f1 */
	mov	$1, %al
	out	%al, $P_LOG
	hlt
rm_21:	mov	$0x21, %al
	out	%al, $P_LOG
	iret
rm_de:	mov	$0xde, %al
	out	%al, $P_LOG
	push	%bp
	mov	%sp, %bp
	addw	$2, 2(%bp)
	pop	%bp
	iret
rm_22:	mov	%cs, %ax	/* 0x7000 */
	cmp	$0x7000, %ax
	jne	1f
	mov	$0x22, %al
	out	%al, $P_LOG
1:	iret
rm_22_end:

	.p2align 4
zero_idtr:
	.word	0
	.long	0
	.p2align 4
idtr64:	.word	16 * 7 - 1
	.quad	idt
	.p2align 4
idtr64np:
	.word	16 * 7 - 1
	.quad	idtnp
	.p2align 4
idtr32:	.word	8 * 0x81 - 1
	.long	idt32
	.p2align 4
idt:	.fill	3 * 16, 1, 0
	/* vector 3: a present 64-bit trap gate */
	.word	lm_bp, 0x08
	.byte	0, 0x8f
	.word	0
	.long	0, 0
	.fill	2 * 16, 1, 0
	/* vector 6: a present 64-bit interrupt gate */
	.word	lm_ud, 0x08
	.byte	0, 0x8e
	.word	0
	.long	0, 0
idtnp:	.fill	7 * 16, 1, 0
	.p2align 3
idt32:	/* vector 0 */
	.word	pm_de, 0x10
	.byte	0, 0x8e
	.word	0
	.fill	2 * 8, 1, 0
	/* vector 3 */
	.word	pm_bp, 0x10
	.byte	0, 0x8f
	.word	0
	.fill	(0x80 - 4) * 8, 1, 0
	/* vector 0x80 */
	.word	pm_80, 0x10
	.byte	0, 0x8e
	.word	0
