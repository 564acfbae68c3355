/*
 * The counting loop the kick tests watch.  %ebx/%rbx holds the address of
 * the memory copy.  At every instruction boundary either ecx == edx ==
 * [bx], or ecx == edx + 1 with [bx] equal to one of them: a lost, skipped
 * or repeated step breaks that.  Checked 2026-12-06: with kicks made by
 * unicorn's uc_emu_stop, from another thread or from a signal handler on
 * the vCPU thread, every kick test fails at its first kick (ecx = edx + 2).
 */
#define COUNT_LOOP		\
1:	inc	%ecx;		\
	mov	%ecx, (%ebx);	\
	inc	%edx;		\
	jmp	1b
