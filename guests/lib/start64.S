/*
 * start64: entry of the 64-bit C guests that cvisor enters in long mode
 * (its GDT and identity page tables, boot.h).  A 4 KiB stack per vCPU
 * from %esi, then guest_main().
 */
#define MAX_CPUS 64
#define STACK_SHIFT 12

	.code64
	.section .text.start, "ax"
	.globl _start
_start:
	jmp 1f
	.org 4				/* GUEST_PARAM_OFFSET */
	.globl guest_param
guest_param:
	.long GUEST_PARAM
1:
	cli
	cld
	movl %eax, %ebp
	movl %esi, %eax
	cmpl $MAX_CPUS, %eax
	jae 2f
	incl %eax
	shll $STACK_SHIFT, %eax
	addq $stacks, %rax
	movq %rax, %rsp
	subq $16, %rsp
	movl %esi, 0(%rsp)
	movl %edi, 4(%rsp)
	movl %ebp, 8(%rsp)
	movl %ebx, 12(%rsp)
	movq %rsp, %rdi			/* struct entry_regs * */
	call guest_main
2:	cli
	hlt
	jmp 2b

	.section .bss
	.balign 16
stacks:
	.space MAX_CPUS << STACK_SHIFT
