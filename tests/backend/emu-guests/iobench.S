/* Real mode: %ecx OUTs to P_NOP, then %ecx INs from P_NOP, each loop
 * ended by a log write, then an exit write. */
#include "ports.h"
	.code16
	.globl _start
_start:
	mov	%ecx, %esi
1:	out	%al, $P_NOP
	dec	%ecx
	jnz	1b
	out	%al, $P_LOG
	mov	%esi, %ecx
2:	in	$P_NOP, %al
	dec	%ecx
	jnz	2b
	out	%al, $P_LOG
	out	%al, $P_EXIT
	hlt
