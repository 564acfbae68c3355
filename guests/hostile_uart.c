/*
 * hostile_uart: programs COM1 with garbage — random values to every
 * register (divisor latch, LCR, FCR, IER, MCR incl. loopback, the scratch
 * register, LSR/MSR writes) and reads of all eight registers in both DLAB
 * settings — forever.  Every 1024 rounds it re-initialises the UART and
 * prints "hostile_uart: round N", so the host sees it is alive and that
 * the UART still works.  Never exits on its own.  32-bit protected mode.
 */
#include "hostile.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	rng_seed();
	for (unsigned long round = 0;; round++) {
		if (!(round % 1024)) {
			serial_init();
			print("\n");	/* end the garbage line */
			progress("hostile_uart", round / 1024);
		}
		uint32_t x = rng();
		outb((uint16_t)(COM1 + (x & 7)), (uint8_t)(x >> 8));
		if (x & 0x10000)
			for (uint16_t reg = 0; reg < 8; reg++)
				(void)inb((uint16_t)(COM1 + reg));
	}
}
