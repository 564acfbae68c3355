/* Real mode at 0000:8000: port I/O of every width, unassigned ports,
 * string I/O, then an exit write. */
#include "ports.h"
	.code16
	.globl _start
_start:
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	$P_ECHO, %dx
	mov	$0x5a, %al
	out	%al, %dx
	in	%dx, %al		/* 0x5b */
	out	%al, $P_LOG
	mov	$0x1234, %ax
	out	%ax, %dx
	in	%dx, %ax		/* 0x1235 */
	out	%ax, $P_LOG
	mov	$0x89abcdef, %eax
	out	%eax, %dx
	in	%dx, %eax		/* 0x89abcdf0 */
	out	%eax, $P_LOG
	mov	$P_UNASSIGNED, %dx
	in	%dx, %al
	out	%al, $P_LOG		/* 0xff */
	in	%dx, %ax
	out	%ax, $P_LOG		/* 0xffff */
	in	%dx, %eax
	out	%eax, $P_LOG		/* 0xffffffff */
	mov	$msg, %si
	mov	$3, %cx
	mov	$P_LOG, %dx
	cld
	rep outsb			/* 'a' 'b' 'c' */
	mov	$0x2a, %al
	out	%al, $P_EXIT
	hlt
msg:	.ascii	"abc"
