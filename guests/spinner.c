/*
 * spinner: prints one line, then every vCPU spins with interrupts off and
 * never exits again: only a kick can take the vCPUs out of the guest.
 * Real mode.
 */
#include "guest.h"

void guest_main(const struct entry_regs *r)
{
	if (!r->index) {
		boot_mark();
		serial_init();
		print("spinner: start\n");
	}
	__asm__ volatile("cli\n1: jmp 1b");
	__builtin_unreachable();
}
