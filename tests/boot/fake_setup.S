/*
 * fake_setup: a stand-in for the Linux setup code, to test cvisor's
 * 16-bit Linux entry and real-mode BIOS stub without a kernel.  It is
 * copied to image offset 0x26c of a synthesized bzImage (where the jump at
 * 0x200 lands), checks the segment registers and stack the boot protocol
 * promises, reads the whole E820 map into ds:0x800 through INT 15h, checks
 * that an unsupported INT 15h call fails with CF set, then writes the
 * number of map entries to port 0xf4.  Any broken promise exits 0xff.
 * Assembled as 16-bit code into the test's data (see rmbios.S).
 */
#define SMAP 0x534d4150

	.section .rodata.fake_setup, "a"
	.code16
	.globl fake_setup_start
	.globl fake_setup_end
fake_setup_start:
	movw %ds, %ax
	cmpw $0x1000, %ax
	jne bad
	movw %es, %bx
	cmpw %ax, %bx
	jne bad
	movw %ss, %bx
	cmpw %ax, %bx
	jne bad
	movw %fs, %bx
	cmpw %ax, %bx
	jne bad
	movw %gs, %bx
	cmpw %ax, %bx
	jne bad
	cmpw $0xe000, %sp
	jne bad
	xorl %ebx, %ebx
	movw $0x800, %di
	xorw %si, %si
1:	movl $0xe820, %eax
	movl $SMAP, %edx
	movl $20, %ecx
	stc
	int $0x15
	jc bad
	cmpl $SMAP, %eax
	jne bad
	cmpl $20, %ecx
	jne bad
	addw $20, %di
	incw %si
	cmpw $64, %si
	ja bad
	testl %ebx, %ebx
	jnz 1b
	movw $0xe801, %ax
	clc
	int $0x15
	jnc bad
	movw %si, %ax
	outb %al, $0xf4
2:	hlt
	jmp 2b
bad:
	movb $0xff, %al
	outb %al, $0xf4
	jmp 2b
fake_setup_end:

	.code64
	.section .note.GNU-stack, "", @progbits
