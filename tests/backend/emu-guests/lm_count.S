/* 64-bit long mode at 0x8000: the counting loop (count.h), plus a
 * 64-bit register that has to survive every kick. */
#include "count.h"
	.code64
	.globl _start
_start:
	mov	$0x0123456789abcdef, %r12
	COUNT_LOOP
