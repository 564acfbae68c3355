/*
 * pitreinj: does the PIT's tick count keep wall time across a stretch
 * with interrupts off?  KVM's in-kernel PIT reinjects the IRQ0 edges that
 * came while the previous one was unacknowledged (its `reinject` mode);
 * cvisor's emu PIT model does the same (src/devices/pit8254.c).
 *
 * The PIT runs at TICK_HZ (mode 2); the IRQ0 ISR counts.  The window is
 * WINDOW_S whole RTC seconds, from one change of the CMOS seconds
 * register to a later one (each seen at the first tick after it: the two
 * latencies cancel).  0.2 s into it the guest runs CLI_PERIODS periods
 * of PIT channel 0 with interrupts off, counted by polling the channel's
 * own counter (a wrap = one period), then sleeps in `sti; hlt` to the
 * end.  The owed ticks come one per EOI: the rest of the window leaves
 * time for that (with a 1 s window at 100 Hz one kvm tier run counted
 * 92 of 100 through the IOAPIC, others 99-101).  It prints
 *   "<name>: T ticks in S s (E periods), C periods with interrupts off"
 * (E = S * TICK_HZ) and exits 0; 3 on an unexpected exception.
 *
 * Built twice: IRQ0 through the 8259 (vector 0x20, EOI to the PIC), and
 * with -DVIA_IOAPIC through IOAPIC pin 2 (ISA IRQ 0 per the MADT's
 * override) to the LAPIC, 8259s masked (vector 0x30, LAPIC EOI), as in
 * ioapictick.c and at its rate (guests/meson.build says why).
 */
#include "irqguest.h"

#define CLI_PERIODS 30		/* 0.3 s at 100 Hz, 0.6 s at 50 Hz */
#define LEAD_TICKS (TICK_HZ / 5)	/* ticks before the cli stretch */
#define WINDOW_S 3		/* the rest: time to catch up (see header) */

#ifdef VIA_IOAPIC
#define TIMER_VECTOR 0x30
const char irq_guest_name[] = "pitreinj_ioapic";

static void route_irq0(void)
{
	pic_init(0x20, 0);		/* every 8259 line masked */
	mmio_wr(LAPIC + LAPIC_SVR, 0x1ff);
	ioapic_route_here(IOAPIC_PIT_PIN, TIMER_VECTOR);
}

static void eoi(void)
{
	mmio_wr(LAPIC + LAPIC_EOI, 0);
}
#else
#define TIMER_VECTOR 0x20
const char irq_guest_name[] = "pitreinj";

static void route_irq0(void)
{
	pic_init(0x20, 1u << 0);
}

static void eoi(void)
{
	pic_eoi(0);
}
#endif

static volatile unsigned long ticks;

void on_tick(void);
void on_tick(void)
{
	ticks++;
	eoi();
}

ISR(isr_tick);
ISR_CALLING(isr_tick, on_tick);

/* Channel 0's count, latched. */
static uint16_t pit_count0(void)
{
	outb(0x43, 0x00);
	uint8_t lo = inb(0x40);
	return (uint16_t)(lo | inb(0x40) << 8);
}

/* RTC seconds, binary whatever the data mode. */
static unsigned rtc_seconds(void)
{
	uint8_t s = cmos_read(0x00);
	if (!(cmos_read(0x0b) & 0x04))
		s = (uint8_t)((s >> 4) * 10 + (s & 0x0f));
	return s;
}

/* Seconds from `from` to the RTC's seconds now (within a minute). */
static unsigned rtc_since(unsigned from)
{
	return (rtc_seconds() + 60 - from) % 60;
}

/* Sleep tick by tick until n RTC seconds passed `from`; how many did. */
static unsigned wait_seconds(unsigned from, unsigned n)
{
	unsigned d;
	while ((d = rtc_since(from)) < n) {
		sti_hlt();
		cli();
	}
	return d;
}

/* Interrupts off for n periods of channel 0 (a wrap of its count each). */
static unsigned cli_periods(unsigned n)
{
	unsigned seen = 0;
	uint16_t last = pit_count0();
	while (seen < n) {
		uint16_t c = pit_count0();
		if (c > last)
			seen++;
		last = c;
	}
	return seen;
}

void guest_main(const struct entry_regs *r)
{
	irq_guest_start(r);
	irq_guest_idt(TIMER_VECTOR, isr_tick, SPURIOUS_8259 | SPURIOUS_LAPIC);
	route_irq0();
	pit_periodic(TICK_HZ);
	print(irq_guest_name);
	print(": ");
	print_dec(TICK_HZ);
	print(" Hz\n");
	while (ticks < 2) {			/* the timer runs */
		sti_hlt();
		cli();
	}
	unsigned s0 = rtc_seconds();
	s0 = (s0 + wait_seconds(s0, 1)) % 60;
	unsigned long t0 = ticks;
	while (ticks - t0 < LEAD_TICKS) {
		sti_hlt();
		cli();
	}
	unsigned off = cli_periods(CLI_PERIODS);
	unsigned secs = wait_seconds(s0, WINDOW_S);
	unsigned long t1 = ticks;
	print(irq_guest_name);
	print(": ");
	print_dec(t1 - t0);
	print(" ticks in ");
	print_dec(secs);
	print(" s (");
	print_dec((unsigned long)secs * TICK_HZ);
	print(" periods), ");
	print_dec(off);
	print(" periods with interrupts off\n");
	guest_exit(0);
}
