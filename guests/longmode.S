/*
 * longmode: proves a backend follows a guest's own mode switches.  cvisor
 * enters it in real mode; it switches itself real -> 32-bit protected ->
 * 64-bit long mode with its own GDT and identity page tables (1 GiB in
 * 2 MiB pages), checks EFER.LMA, prints "longmode: ok" and exits with 0.
 * It prints one line per mode on COM1.  Extra vCPUs halt.
 */
#define COM1 0x3f8
#define MSR_EFER 0xC0000080
#define SEL_CODE32 0x08
#define SEL_DATA 0x10
#define SEL_CODE64 0x18

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
	movl $stack_top, %esp
	testl %esi, %esi
	jnz halt16
	movb $1, %al
	outb %al, $0x80
	movw $msg_real, %si
	call puts16
	lgdtl gdt_desc
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE32, $pm32
halt16:
	cli
	hlt
	jmp halt16

/* %si = NUL-terminated string; polls LSR.THRE before each byte */
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
	movl $stack_top, %esp
	movl $msg_prot, %esi
	call puts32

	/* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i * 2 MiB (P|RW|PS) */
	movl $pml4, %edi
	xorl %eax, %eax
	movl $3 * 4096 / 4, %ecx
	rep stosl
	movl $pdpt + 3, pml4
	movl $pd + 3, pdpt
	movl $pd, %edi
	movl $0x83, %eax
	movl $512, %ecx
1:	movl %eax, (%edi)
	addl $0x200000, %eax
	addl $8, %edi
	loop 1b

	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $0x100, %eax		/* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax		/* PG: long mode becomes active */
	movl %eax, %cr0
	ljmp $SEL_CODE64, $lm64

puts32:
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
	jmp puts32
2:	ret

	.code64
lm64:
	movw $SEL_DATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $stack_top, %esp		/* zero-extends: the image is below 4 GiB */
	movl $MSR_EFER, %ecx
	rdmsr
	testl $0x400, %eax		/* LMA */
	jz bad
	movl $msg_ok, %esi
	call puts64
	xorb %al, %al
	outb %al, $0xf4
halt64:
	cli
	hlt
	jmp halt64
bad:
	movl $msg_bad, %esi
	call puts64
	movb $1, %al
	outb %al, $0xf4
	jmp halt64

puts64:
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
	jmp puts64
2:	ret

	.section .rodata
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit flat code */
	.quad 0x00cf92000000ffff	/* 0x10: flat data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
msg_real:
	.asciz "longmode: real mode\n"
msg_prot:
	.asciz "longmode: protected mode\n"
msg_ok:
	.asciz "longmode: ok\n"
msg_bad:
	.asciz "longmode: EFER.LMA is not set\n"

	.section .bss
	.balign 4096
pml4:
	.space 4096
pdpt:
	.space 4096
pd:
	.space 4096
	.space 1024
stack_top:
