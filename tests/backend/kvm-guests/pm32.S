/*
 * 32-bit protected-mode guests for test_kvm.c, loaded at 0x8000 and entered
 * with flat segments (code 0x10, data 0x18) from the GDT the test builds.
 */
#include "guest.h"
#define LOAD 0x8000

	.code32

/* Report CR0, CS and a 32-bit constant; MMIO of sizes 1, 2, 4; HLT. */
GUEST(pm32)
	mov	$P_LOG, %dx
	mov	%cr0, %eax
	out	%eax, %dx
	xor	%eax, %eax
	mov	%cs, %ax
	out	%eax, %dx
	mov	$0x12345678, %eax
	out	%eax, %dx

	mov	$MMIO_DEV, %edi
	movb	$0xab, 0x10(%edi)
	movw	$0xbeef, 0x20(%edi)
	movl	$0xdeadbeef, 0x30(%edi)
	movzbl	0x1(%edi), %eax
	out	%eax, %dx
	movzwl	0x2(%edi), %eax
	out	%eax, %dx
	movl	0x4(%edi), %eax
	out	%eax, %dx
	mov	$MMIO_NONE, %edi
	movl	(%edi), %eax
	out	%eax, %dx
	hlt
GUEST_END(pm32)

/* No IDT (limit 0): #UD -> #GP -> #DF -> triple fault. */
GUEST(pm32_triple)
	ud2
GUEST_END(pm32_triple)

/* Execute from an address with no RAM: KVM cannot fetch the instruction. */
GUEST(pm32_exec_mmio)
	mov	$MMIO_NONE, %eax
	jmp	*%eax
GUEST_END(pm32_exec_mmio)

/*
 * A 16-byte SSE store to the test device's BUS_EXIT window: KVM splits it
 * into two 8-byte MMIO exits.  Then one OUT on P_LOG and HLT.
 */
GUEST(pm32_wide)
	mov	%cr4, %eax
	or	$0x600, %eax		/* OSFXSR | OSXMMEXCPT */
	mov	%eax, %cr4
	mov	%cr0, %eax
	and	$~0x4, %eax		/* no x87 emulation */
	or	$0x2, %eax
	mov	%eax, %cr0
	movdqu	AT(pm32_wide, pattern), %xmm0
	mov	$(MMIO_DEV + 0x800), %edi
	movdqu	%xmm0, (%edi)
	mov	$P_LOG, %dx
	out	%al, %dx
	hlt
	.balign	16
pattern: .quad	0x1111111111111111, 0x2222222222222222
GUEST_END(pm32_wide)
