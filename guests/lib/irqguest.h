/*
 * irqguest: what the interrupt-driven timer guests (irqtick, ioapictick,
 * lapictimer, rtctick, pitreinj) share: the fault and spurious ISRs
 * (lib/irqguest.c, in their sources in guests/meson.build), the first
 * steps of guest_main, the rest of their IDT, LAPIC and IOAPIC access
 * and the tick loop (inline here: only the guests that call them carry
 * them).  Each guest defines
 * irq_guest_name, the prefix of its own lines ("<name>: unexpected
 * exception", "<name>: shutdown requested").
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

/* The spurious vectors irq_guest_idt gives to isr_spurious: the 8259s'
 * IRQ7 and IRQ15 (pic_init base 0x20) and the LAPIC's (its SVR 0x1ff). */
#define SPURIOUS_IRQ7 0x1u
#define SPURIOUS_IRQ15 0x2u
#define SPURIOUS_8259 (SPURIOUS_IRQ7 | SPURIOUS_IRQ15)
#define SPURIOUS_LAPIC 0x4u

/*
 * The rest of the IDT after irq_guest_start: isr on vector vec, the
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

/* The LAPIC and IOAPIC at their default bases (the MADT's). */
#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define IOAPIC 0xfec00000u
#define IOAPIC_PIT_PIN 2	/* ISA IRQ 0, per the MADT's source override */

static inline uint32_t mmio_rd(uint32_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}

static inline void mmio_wr(uint32_t a, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)a = v;
}

static inline uint32_t ioapic_rd(uint32_t reg)
{
	mmio_wr(IOAPIC, reg);
	return mmio_rd(IOAPIC + 0x10);
}

static inline void ioapic_wr(uint32_t reg, uint32_t v)
{
	mmio_wr(IOAPIC, reg);
	mmio_wr(IOAPIC + 0x10, v);
}

/* IOAPIC pin `pin` to vector vec of this CPU (its APIC ID, physical
 * destination): fixed, edge, unmasked. */
static inline void ioapic_route_here(unsigned pin, uint32_t vec)
{
	uint32_t id = mmio_rd(LAPIC + LAPIC_ID) >> 24;
	ioapic_wr(0x10 + 2 * pin + 1, id << 24);
	ioapic_wr(0x10 + 2 * pin, vec);
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
