/*
 * The counting loop the kick tests watch.  %ebx/%rbx holds the address of
 * the memory copy.  At every instruction boundary either ecx == edx ==
 * [bx], or ecx == edx + 1 with [bx] equal to one of them: a lost, skipped
 * or repeated step breaks that.
 */
#define COUNT_LOOP		\
1:	inc	%ecx;		\
	mov	%ecx, (%ebx);	\
	inc	%edx;		\
	jmp	1b
