/*
 * hostile_flood: unbounded console output — a numbered 64-byte line
 * "flood N ....", as fast as the UART takes it, forever.  The host must
 * keep its ring buffer and console.log within their caps.  Never exits on
 * its own.  32-bit protected mode.
 */
#include "hostile.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	for (unsigned long n = 0;; n++) {
		print("flood ");
		print_dec(n);
		print(" ..................................................\n");
	}
}
