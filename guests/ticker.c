/*
 * ticker: prints "tick 0", "tick 1", ... steadily (TICK_CYCLES TSC cycles
 * apart, set in guests/meson.build) until cvisor requests a graceful stop
 * through port 0x5f0; then says so and exits with code 0.  Extra vCPUs
 * halt.  Real mode.
 */
#include "guest.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	for (unsigned long n = 0;; n++) {
		print("tick ");
		print_dec(n);
		print("\n");
		delay_cycles(TICK_CYCLES);
		if (shutdown_requested())
			break;
	}
	print("ticker: shutdown requested\n");
	guest_exit(0);
}
