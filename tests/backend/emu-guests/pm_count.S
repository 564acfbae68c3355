/* 32-bit protected mode at 0x200000 (above 64 KiB: a resumed EIP must
 * not be truncated): the counting loop (count.h). */
#include "count.h"
	.code32
	.globl _start
_start:
	COUNT_LOOP
