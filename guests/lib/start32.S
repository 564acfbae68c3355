/*
 * start32: entry of the 32-bit protected-mode C guests.  cvisor (or a BIOS
 * stub) enters with flat segments; we only pick a 4 KiB stack per vCPU
 * from %esi (boot.h) and call guest_main().  With MULTIBOOT_HEADER the
 * image also carries a multiboot 1 header (a.out kludge: addresses given),
 * so a multiboot loader can boot it as it is.  With MULTIBOOT_ELF the
 * header asks for memory information and has no addresses: the loader
 * must load the ELF file's segments.
 */
#define MAX_CPUS 64
#define STACK_SHIFT 12

#define MB_MAGIC 0x1BADB002
#ifdef MULTIBOOT_ELF
#define MULTIBOOT_HEADER
#define MB_FLAGS 0x00000003		/* page-aligned modules, memory info */
#else
#define MB_FLAGS 0x00010000		/* bit 16: the address fields are valid */
#endif

	.code32
	.section .text.start, "ax"
	.globl _start
_start:
	jmp 1f
	.org 4				/* GUEST_PARAM_OFFSET */
	.globl guest_param
guest_param:
	.long GUEST_PARAM
#ifdef MULTIBOOT_HEADER
	.balign 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
#ifndef MULTIBOOT_ELF
	.long mb_header			/* header_addr */
	.long __image_start		/* load_addr */
	.long __data_end		/* load_end_addr */
	.long __bss_end			/* bss_end_addr */
	.long _start			/* entry_addr */
#endif
#endif
1:
	cli
	cld
	movl %eax, %ebp
	movl %esi, %eax
	cmpl $MAX_CPUS, %eax
	jae 2f
	incl %eax
	shll $STACK_SHIFT, %eax
	addl $stacks, %eax
	movl %eax, %esp
	pushl %ebx
	pushl %ebp
	pushl %edi
	pushl %esi
	pushl %esp			/* struct entry_regs * */
	call guest_main
2:	cli
	hlt
	jmp 2b

	.section .bss
	.balign 16
stacks:
	.space MAX_CPUS << STACK_SHIFT
