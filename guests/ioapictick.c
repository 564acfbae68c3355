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

#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define IOAPIC 0xfec00000u
#define IOAPIC_PIT_PIN 2
#define TIMER_VECTOR 0x30

const char irq_guest_name[] = "ioapictick";

static volatile unsigned long ticks;

static uint32_t mmio_rd(uint32_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}

static void mmio_wr(uint32_t a, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)a = v;
}

static uint32_t ioapic_rd(uint32_t reg)
{
	mmio_wr(IOAPIC, reg);
	return mmio_rd(IOAPIC + 0x10);
}

static void ioapic_wr(uint32_t reg, uint32_t v)
{
	mmio_wr(IOAPIC, reg);
	mmio_wr(IOAPIC + 0x10, v);
}

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
	uint32_t id = mmio_rd(LAPIC + LAPIC_ID) >> 24;
	ioapic_wr(0x10 + 2 * IOAPIC_PIT_PIN + 1, id << 24);
	ioapic_wr(0x10 + 2 * IOAPIC_PIT_PIN, TIMER_VECTOR);	/* unmasked */
	pit_periodic(TICK_HZ);
	print("ioapictick: ");
	print_dec(TICK_HZ);
	print(" Hz through IOAPIC pin 2\n");
	tick_loop(&ticks, TICK_PRINT, "ioapic tick ");
}
