/*
 * reboot: prints "reboot: booting" and asks for a reset through the i8042
 * (0xFE to port 0x64).  Memory is cleared on reset, so each boot prints
 * the same line.  The OUT is followed by hlt; if the machine resumes it
 * anyway and no reset happens within ~RESET_WAIT_CYCLES, it says so and
 * exits with code 1 (a test then fails clearly instead of hanging).
 * Real mode.
 */
#include "guest.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	print("reboot: booting\n");
	outb(PORT_I8042_CMD, 0xFE);
	__asm__ volatile("hlt");		/* an exit OUT is followed by hlt */
	delay_cycles(RESET_WAIT_CYCLES);
	print("reboot: reset request ignored\n");
	guest_exit(1);
}
