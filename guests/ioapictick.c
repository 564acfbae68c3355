/*
 * ioapictick: the PIT's IRQ0 through the IOAPIC to the LAPIC, the way an
 * APIC-mode kernel routes its timer.  Masks both 8259s, software-enables
 * the LAPIC, programs IOAPIC pin 2 (ISA IRQ 0 per the MADT's interrupt
 * source override) as fixed, edge, physical destination = this CPU's
 * APIC ID, vector 0x30, and the 8254 at TICK_HZ (mode 2).  The ISR counts
 * and writes the LAPIC EOI; the main loop sleeps in `sti; hlt` and prints
 * "ioapic tick N" every TICK_PRINT ticks.  Exits 0 on a graceful stop, 3
 * on an unexpected exception, 6 when the IOAPIC version register is not
 * a 24-pin IOAPIC's.
 */
#include "irqguest.h"

#define TIMER_VECTOR 0x30

const char irq_guest_name[] = "ioapictick";

static volatile unsigned long ticks;

void on_tick(void);
void on_tick(void)
{
	ticks++;
	mmio_wr(LAPIC + LAPIC_EOI, 0);
}

ISR(isr_tick);
ISR_CALLING(isr_tick, on_tick);

void guest_main(const struct entry_regs *r)
{
	irq_guest_start(r);
	irq_guest_idt(TIMER_VECTOR, isr_tick, SPURIOUS_8259 | SPURIOUS_LAPIC);
	pic_init(0x20, 0);		/* every 8259 line masked */
	mmio_wr(LAPIC + LAPIC_SVR, 0x1ff);
	uint32_t ver = ioapic_rd(0x01);
	if (((ver >> 16) & 0xff) != 23) {
		print("ioapictick: IOAPIC version ");
		print_hex(ver);
		print("\n");
		guest_exit(6);
	}
	ioapic_route_here(IOAPIC_PIT_PIN, TIMER_VECTOR);
	pit_periodic(TICK_HZ);
	print("ioapictick: ");
	print_dec(TICK_HZ);
	print(" Hz through IOAPIC pin 2\n");
	tick_loop(&ticks, TICK_PRINT, "ioapic tick ");
}
