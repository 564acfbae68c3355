/*
 * hostile_hlt: prints "hostile_hlt: halting", then halts with interrupts
 * off — a vCPU that can never wake up by itself and never reads the
 * shutdown port.  A graceful stop must time out and force it; a forced
 * stop must work at once.  32-bit protected mode.
 */
#include "hostile.h"

void guest_main(const struct entry_regs *r)
{
	if (!r->index) {
		boot_mark();
		serial_init();
		print("hostile_hlt: halting\n");
	}
	for (;;)
		__asm__ volatile("cli\n\thlt");
}
