/*
 * axbios: an AxVisor-style x86 BIOS stub.  cvisor enters it in real mode
 * at 0x8000 (bios_path/bios_load_addr); it switches to 32-bit protected
 * mode with its own flat GDT and jumps to the kernel at KERNEL_ADDR
 * (0x200000) with the multiboot magic 0x2BADB002 in %eax and %ebx = 0
 * (no boot information).  %esi/%edi (boot.h's vCPU index and count) pass
 * through untouched.  The BSP prints one line first.
 */
#define COM1 0x3f8
#define KERNEL_ADDR 0x200000
#define MB_BOOT_MAGIC 0x2BADB002
#define SEL_CODE32 0x08
#define SEL_DATA 0x10

	.code16
	.section .text.start, "ax"
	.globl _start
_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw $0x7c00, %sp
	testl %esi, %esi
	jnz 1f
	pushl %esi
	movw $msg, %si
	call puts16
	popl %esi
1:	lgdtl gdt_desc
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $pm32

puts16:
	lodsb
	testb %al, %al
	jz 2f
	movb %al, %bl
	movw $COM1 + 5, %dx
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	movb %bl, %al
	movw $COM1, %dx
	outb %al, %dx
	jmp puts16
2:	ret

	.code32
pm32:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $0x7c00, %esp
	movl $MB_BOOT_MAGIC, %eax
	xorl %ebx, %ebx
	movl $KERNEL_ADDR, %ecx
	jmp *%ecx

	.section .rodata
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit flat code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
msg:
	.asciz "axbios: entering protected mode, kernel at 0x200000\n"
