/*
 * lapictimer: the LAPIC timer as a kernel uses it.  Masks both 8259s,
 * software-enables the LAPIC (spurious vector 0xff), calibrates the
 * timer against the 8254 (LAPIC counts, divide by 16, against channel 2
 * counting down in mode 0, read back with the latch command: pairs read
 * close together, the median of three runs; see calibrate_once()), then
 * runs it periodic at TICK_HZ on vector 0x40.  The ISR counts and
 * writes the LAPIC EOI; the main loop sleeps in `sti; hlt` and prints
 * "lapic tick N" every TICK_PRINT ticks.  Exits 0 on a graceful stop, 3 on
 * an unexpected exception, 5 when the calibration fails.  Nothing here
 * depends on the bus clock of either backend.
 */
#include "irqguest.h"

#include <stdbool.h>

#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define TIMER_VECTOR 0x40
#define PIT_HZ 1193182u
#define CAL_CLOCKS (PIT_HZ * 3 / 100)	/* 30 ms of channel 2's 55 ms */

const char irq_guest_name[] = "lapictimer";

static volatile unsigned long ticks;

void on_tick(void);
void on_tick(void)
{
	ticks++;
	lapic_wr(LAPIC_EOI, 0);
}

ISR(isr_tick);
ISR_CALLING(isr_tick, on_tick);

/* (a * b) / c with a 64-bit product; the quotient must fit 32 bits. */
static uint32_t muldiv(uint32_t a, uint32_t b, uint32_t c)
{
	uint64_t p = (uint64_t)a * b;
	uint32_t q, r;
	__asm__("divl %4" : "=a"(q), "=d"(r)
	        : "a"((uint32_t)p), "d"((uint32_t)(p >> 32)), "rm"(c));
	(void)r;
	return q;
}

/* PIT channel 2's count, latched. */
static uint16_t pit_read2(void)
{
	outb(0x43, 0x80);
	uint8_t lo = inb(0x42);
	return (uint16_t)(lo | inb(0x42) << 8);
}

/*
 * A (PIT channel 2 count, LAPIC current count) pair read close together:
 * the PIT reads around the LAPIC read at most CLOSE clocks apart (a vCPU
 * thread preempted on a loaded host - tens of ms seen - spoils a pair,
 * which is then read again).  false once channel 2 reached its terminal
 * count (OUT2 high: the count wrapped).
 */
#define CLOSE 600	/* ~0.5 ms: several exits under a nested KVM */

static bool sample(uint16_t *pit, uint32_t *cur)
{
	for (;;) {
		uint16_t a = pit_read2();
		*cur = lapic_rd(LAPIC_TIMER_CUR);
		uint16_t b = pit_read2();
		if (inb(0x61) & 0x20)
			return false;
		*pit = a;
		if ((uint16_t)(a - b) <= CLOSE)
			return true;
	}
}

/*
 * LAPIC counts (divide 16) per period of TICK_HZ: two close pairs about
 * CAL_CLOCKS apart while channel 2 counts down once from 65535
 * in mode 0 (55 ms: no wrap to miss; a run that reaches it fails).  0 on
 * failure.
 */
static uint32_t calibrate_once(void)
{
	const uint16_t want = CAL_CLOCKS;
	lapic_wr(LAPIC_TIMER_INIT, 0xffffffffu);
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));	/* gate 2 on */
	outb(0x43, 0xb0);		/* channel 2, lo/hi, mode 0 */
	outb(0x42, 0xff);
	outb(0x42, 0xff);
	uint16_t p0, p1;
	uint32_t c0, c1;
	if (!sample(&p0, &c0))
		return 0;
	while ((uint16_t)(p0 - pit_read2()) < want)
		if (inb(0x61) & 0x20)
			return 0;
	if (!sample(&p1, &c1) || p1 >= p0 || c1 >= c0)
		return 0;
	return muldiv(c0 - c1, PIT_HZ / TICK_HZ, p0 - p1);
}

/* The median of three good calibrations (at most 20 tries). */
static uint32_t calibrate(void)
{
	lapic_wr(LAPIC_TIMER_DIV, 0x3);
	lapic_wr(LAPIC_LVT_TIMER, 1u << 16 | TIMER_VECTOR);	/* masked */
	uint32_t c[3];
	int n = 0;
	for (int tries = 0; tries < 20 && n < 3; tries++) {
		uint32_t v = calibrate_once();
		if (v)
			c[n++] = v;
	}
	if (n < 3)
		return 0;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2 - i; j++)
			if (c[j] > c[j + 1]) {
				uint32_t t = c[j];
				c[j] = c[j + 1];
				c[j + 1] = t;
			}
	return c[1];
}

void guest_main(const struct entry_regs *r)
{
	irq_guest_start(r);
	irq_guest_idt(TIMER_VECTOR, isr_tick, SPURIOUS_IRQ7 | SPURIOUS_LAPIC);
	pic_init(0x20, 0);		/* every 8259 line masked */
	lapic_wr(LAPIC_SVR, 0x1ff);
	uint32_t count = calibrate();
	if (count < 16) {
		print("lapictimer: calibration failed\n");
		guest_exit(5);
	}
	print("lapictimer: ");
	print_dec(TICK_HZ);
	print(" Hz, initial count ");
	print_dec(count);
	print("\n");
	lapic_wr(LAPIC_LVT_TIMER, 1u << 17 | TIMER_VECTOR);	/* periodic */
	lapic_wr(LAPIC_TIMER_INIT, count);
	tick_loop(&ticks, TICK_PRINT, "lapic tick ");
}
