/*
 * hostile_triple: triple-faults at once on every boot — an empty IDT
 * (limit 0) and ud2: #UD, #GP and #DF find no gate, the CPU shuts down.
 * With on_reboot = "reset" the VM resets and the guest does it again,
 * forever; each boot prints "hostile_triple: boot".  32-bit protected
 * mode.
 */
#include "hostile.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	print("hostile_triple: boot\n");
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint32_t base;
	} empty = { 0, 0 };
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty));
	__builtin_unreachable();
}
