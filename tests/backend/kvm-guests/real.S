/*
 * Real-mode guests for test_kvm.c, loaded at 0x8000 and entered at
 * 0000:8000 with interrupts off and a stack at REAL_SP.
 */
#include "guest.h"
#define LOAD 0x8000

	.code16

/* Port I/O round trip, all widths, unassigned ports, string I/O, then HLT. */
GUEST(real_io)
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$REAL_SP, %sp
	mov	$P_LOG, %dx
	mov	$0x11, %al
	out	%al, %dx
	mov	$0x2233, %ax
	out	%ax, %dx
	mov	$0x44556677, %eax
	out	%eax, %dx

	mov	$P_SCRATCH, %dx
	mov	$0x5a, %al
	out	%al, %dx
	in	%dx, %al
	mov	$P_LOG, %dx
	out	%al, %dx
	mov	$P_SCRATCH, %dx
	mov	$0x12345678, %eax
	out	%eax, %dx
	in	%dx, %eax
	mov	$P_LOG, %dx
	out	%eax, %dx

	mov	$P_UNASSIGNED, %dx
	in	%dx, %al
	mov	$P_LOG, %dx
	out	%al, %dx
	mov	$P_UNASSIGNED, %dx
	in	%dx, %ax
	mov	$P_LOG, %dx
	out	%ax, %dx
	mov	$P_UNASSIGNED, %dx
	in	%dx, %eax
	mov	$P_LOG, %dx
	out	%eax, %dx

	cld
	mov	$AT(real_io, hello), %si
	mov	$(hello_end - hello), %cx
	mov	$P_STR, %dx
	rep outsb
	mov	$STR_BUF, %di
	mov	$8, %cx
	rep insw
	hlt
hello:	.ascii	"hello, kvm"
hello_end:
GUEST_END(real_io)

/* Device asks for an exit: single OUT, then a string OUT, then HLT. */
GUEST(real_event)
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$REAL_SP, %sp
	mov	$P_EXIT, %dx
	mov	$7, %al
	out	%al, %dx
	.globl	guest_real_event_after_out
guest_real_event_after_out:
	mov	$8, %al
	out	%al, %dx
	cld
	mov	$AT(real_event, abc), %si
	mov	$3, %cx
	rep outsb
	hlt
abc:	.ascii	"abc"
GUEST_END(real_event)

/* HLT at once. */
GUEST(real_hlt)
	hlt
GUEST_END(real_hlt)

/* Tell the host we started, then spin forever without exits. */
GUEST(real_spin)
	mov	$P_LOG, %dx
	out	%al, %dx
1:	inc	%ecx
	jmp	1b
GUEST_END(real_spin)

/*
 * Count until the host sets STOP_FLAG, mixing the count into eax/ebx, then
 * report ecx, eax, ebx on P_LOG and halt.  The host recomputes eax/ebx from
 * ecx: any register lost across a kick shows up.
 */
GUEST(real_count)
	xor	%ax, %ax
	mov	%ax, %ds
	xor	%eax, %eax
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	mov	$0x9e3779b9, %esi
1:	inc	%ecx
	add	%ecx, %eax
	xor	%eax, %ebx
	rol	$3, %ebx
	add	%esi, %ebx
	cmpb	$0, STOP_FLAG
	je	1b
	mov	$P_LOG, %dx
	mov	%ecx, %edi
	xchg	%eax, %edi
	out	%eax, %dx
	mov	%edi, %eax
	out	%eax, %dx
	mov	%ebx, %eax
	out	%eax, %dx
	hlt
GUEST_END(real_count)

/* ecx OUTs to a port nobody handles specially: the exit round trip. */
GUEST(real_pio_loop)
	mov	$P_NOP, %dx
1:	out	%al, %dx
	dec	%ecx
	jnz	1b
	hlt
GUEST_END(real_pio_loop)

/*
 * In-kernel PIC: IRQ 5 -> vector 0x25, whose handler reports on P_EXIT.
 * The guest says "ready" on P_LOG, then halts with interrupts on.
 */
GUEST(real_irq)
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %ss
	mov	$REAL_SP, %sp
	movw	$AT(real_irq, isr), 0x25 * 4
	movw	$0, 0x25 * 4 + 2
	mov	$0x11, %al		/* ICW1: edge, cascade, ICW4 */
	out	%al, $0x20
	mov	$0x20, %al		/* ICW2: vectors 0x20.. */
	out	%al, $0x21
	mov	$0x04, %al		/* ICW3: slave on IRQ2 */
	out	%al, $0x21
	mov	$0x01, %al		/* ICW4: 8086 mode */
	out	%al, $0x21
	mov	$0xdf, %al		/* only IRQ5 unmasked */
	out	%al, $0x21
	mov	$0xff, %al
	out	%al, $0xa1
	mov	$P_LOG, %dx
	out	%al, %dx
	sti
	.globl	guest_real_irq_loop
guest_real_irq_loop:
	hlt
	jmp	guest_real_irq_loop
isr:	mov	$P_EXIT, %dx
	mov	$0x55, %al
	out	%al, %dx
	mov	$0x20, %al		/* EOI */
	out	%al, $0x20
	iret
GUEST_END(real_irq)
