/*
 * irqguest: what the interrupt-driven guests (the timer guests irqtick,
 * ioapictick, lapictimer, rtctick, pitreinj; acpi_sci, uartecho) share:
 * the fault and spurious ISRs (lib/irqguest.c, in their sources in
 * guests/meson.build), the first steps of guest_main, the rest of their
 * IDT and the tick loop (inline here: only the guests that call them
 * carry them); LAPIC and IOAPIC access come with apic.h.  Each guest
 * defines irq_guest_name, the prefix of its own lines ("<name>: unexpected
 * exception", "<name>: shutdown requested").
 */
#ifndef GUEST_IRQGUEST_H
#define GUEST_IRQGUEST_H

#include "apic.h"
#include "idt.h"

extern const char irq_guest_name[];

/* isr_fault prints "<name>: unexpected exception V [error code E] at
 * CS:IP" and exits 3; irq_fault_stubs[V] enter it for vector V.
 * isr_spurious only returns. */
ISR(isr_fault);
ISR(isr_spurious);
extern void (*const irq_fault_stubs[32])(void);

/* isr_fault on vectors 0-31.  Inline: the IDT (idt.h) is the caller's. */
static inline void irq_guest_fault_gates(void)
{
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, irq_fault_stubs[v], GATE_INT);
}

/*
 * guest_main's first steps: APs halt for good; the boot mark, COM1, and
 * the fault gates.  (acpi_sci and uartecho take the steps apart: the
 * former sets its gates later, the latter sends no boot mark.)
 */
static inline void irq_guest_start(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	irq_guest_fault_gates();
}

/* The spurious vectors irq_guest_idt gives to isr_spurious: the 8259s'
 * IRQ7 and IRQ15 (pic_init base 0x20) and the LAPIC's (its SVR 0x1ff). */
#define SPURIOUS_IRQ7 0x1u
#define SPURIOUS_IRQ15 0x2u
#define SPURIOUS_8259 (SPURIOUS_IRQ7 | SPURIOUS_IRQ15)
#define SPURIOUS_LAPIC 0x4u

/*
 * The rest of the IDT after the fault gates: isr on vector vec, the
 * spurious vectors named in `spurious` (SPURIOUS_*); then load it.
 * Inline for the same reason as irq_guest_start.
 */
static inline void irq_guest_idt(unsigned vec, void (*isr)(void),
				 unsigned spurious)
{
	set_gate(vec, isr, GATE_INT);
	if (spurious & SPURIOUS_IRQ7)
		set_gate(0x27, isr_spurious, GATE_INT);
	if (spurious & SPURIOUS_IRQ15)
		set_gate(0x2f, isr_spurious, GATE_INT);
	if (spurious & SPURIOUS_LAPIC)
		set_gate(0xff, isr_spurious, GATE_INT);
	load_idt();
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
