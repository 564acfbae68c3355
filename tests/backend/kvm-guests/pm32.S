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
