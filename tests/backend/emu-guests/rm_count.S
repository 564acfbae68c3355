/* Real mode at 0000:8000: the counting loop (count.h). */
#include "count.h"
	.code16
	.globl _start
_start:
	xor	%ax, %ax
	mov	%ax, %ds
	COUNT_LOOP
