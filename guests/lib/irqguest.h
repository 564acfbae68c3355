/*
 * irqguest: what the interrupt-driven timer guests (irqtick, ioapictick,
 * lapictimer, rtctick) share: the fault and spurious ISRs (lib/irqguest.c,
 * in their sources in guests/meson.build), the first steps of guest_main
 * and the tick loop (inline here: only the guests that call them carry
 * them).  Each guest defines irq_guest_name, the prefix of its own lines
 * ("<name>: unexpected exception", "<name>: shutdown requested").
 */
#ifndef GUEST_IRQGUEST_H
#define GUEST_IRQGUEST_H

#include "idt.h"

extern const char irq_guest_name[];

/* isr_fault prints "<name>: unexpected exception" and exits 3;
 * isr_spurious only returns. */
ISR(isr_fault);
ISR(isr_spurious);

/*
 * guest_main's first steps: APs halt for good; the boot mark, COM1, and
 * isr_fault on vectors 0-31.  Inline: the IDT (idt.h) is the caller's.
 */
static inline void irq_guest_start(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, isr_fault, GATE_INT);
}

/*
 * Sleep in `sti; hlt`; print "<label>N" whenever *ticks has passed a
 * multiple of `every` since the last line.  On a graceful stop print
 * "<name>: shutdown requested" and exit 0.
 */
__attribute__((noreturn)) static inline void
tick_loop(const volatile unsigned long *ticks, unsigned long every,
	  const char *label)
{
	unsigned long shown = 0;
	for (;;) {
		sti_hlt();
		cli();
		unsigned long t = *ticks;
		if (t / every != shown / every) {
			shown = t;
			print(label);
			print_dec(t);
			print("\n");
		}
		if (shutdown_requested())
			break;
	}
	print(irq_guest_name);
	print(": shutdown requested\n");
	guest_exit(0);
}

#endif
