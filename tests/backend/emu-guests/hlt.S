/* Real mode: log 1, halt, log 2, halt, and so on. */
#include "ports.h"
	.code16
	.globl _start
_start:
	mov	$1, %al
1:	out	%al, $P_LOG
	hlt
	inc	%al
	jmp	1b
