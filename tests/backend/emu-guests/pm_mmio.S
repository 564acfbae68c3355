/* 32-bit protected mode, flat segments, at 0x8000: MMIO of every width to
 * a device and to unassigned space, then an exit write. */
#include "ports.h"
	.code32
	.globl _start
_start:
	mov	$0x11, %al
	mov	%al, MMIO_DEV + 0x10
	movb	MMIO_DEV + 0x10, %al	/* ~0x11 = 0xee */
	out	%al, $P_LOG
	movw	$0x2233, MMIO_DEV + 0x20
	movw	MMIO_DEV + 0x20, %ax	/* 0xddcc */
	out	%ax, $P_LOG
	movl	$0x44556677, MMIO_DEV + 0x40
	movl	MMIO_DEV + 0x40, %eax	/* 0xbbaa9988 */
	out	%eax, $P_LOG
	movb	MMIO_NONE, %al
	out	%al, $P_LOG		/* 0xff */
	movw	MMIO_NONE + 2, %ax
	out	%ax, $P_LOG		/* 0xffff */
	movl	MMIO_NONE + 4, %eax
	out	%eax, $P_LOG		/* 0xffffffff */
	movl	$0x12345678, MMIO_NONE	/* dropped */
	movl	MMIO_NONE, %eax
	out	%eax, $P_LOG		/* 0xffffffff */
	mov	%cs, %ax
	out	%ax, $P_LOG		/* 0x10 */
	mov	%ss, %ax
	out	%ax, $P_LOG		/* 0x18 */
	mov	$7, %al
	out	%al, $P_EXIT
	hlt
