/* Real mode: log the immediate at offset 1, halt, repeat.  The host
 * rewrites the immediate between runs (code_written). */
#include "ports.h"
	.code16
	.globl _start
_start:
	mov	$0x1111, %ax
	out	%ax, $P_LOG
	hlt
	jmp	_start
