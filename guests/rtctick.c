/*
 * rtctick: interrupt-driven RTC guest.  Builds a 32-bit IDT, programs the
 * 8259s (vectors 0x20-0x2f, only IRQ8 and the cascade unmasked), sets the
 * RTC's periodic rate to RTC_HZ (register A rate select) and enables the
 * periodic and update-ended interrupts (register B PIE | UIE), then sleeps
 * in `sti; hlt`.  The IRQ8 handler reads register C (which acknowledges
 * the RTC and lets IRQ8 rise again), counts PF and UF, and sends EOI to
 * both PICs.  After every update-ended interrupt (once a second) the
 * main loop prints the periodic count then, "rtc ticks T" and "rtc
 * update N".  Exits 0 on a graceful stop, 3 on an unexpected exception, 4
 * when an IRQ8 came with IRQF clear.
 */
#include "irqguest.h"

#define RTC_C_IRQF 0x80
#define RTC_C_PF 0x40
#define RTC_C_UF 0x10

const char irq_guest_name[] = "rtctick";

static volatile unsigned long ticks, updates, bogus;

/* RTC_HZ must be a rate select: 32768 >> (rs - 1) */
static uint8_t rate_select(unsigned hz)
{
	uint8_t rs = 3;
	while (rs < 15 && (65536u >> rs) > hz)
		rs++;
	return rs;
}

void on_rtc(void);
void on_rtc(void)
{
	uint8_t c = cmos_read(0x0c);
	if (!(c & RTC_C_IRQF))
		bogus++;
	if (c & RTC_C_PF)
		ticks++;
	if (c & RTC_C_UF)
		updates++;
	pic_eoi(8);
}

ISR(isr_rtc);
ISR_CALLING(isr_rtc, on_rtc);

void guest_main(const struct entry_regs *r)
{
	irq_guest_start(r);
	irq_guest_idt(0x28, isr_rtc, SPURIOUS_8259);
	pic_init(0x20, 1u << 8);
	cmos_write(0x0a, (uint8_t)(0x20 | rate_select(RTC_HZ)));
	(void)cmos_read(0x0c);			/* drop stale flags */
	cmos_write(0x0b, (uint8_t)(cmos_read(0x0b) | 0x40 | 0x10));
	print("rtctick: ");
	print_dec(RTC_HZ);
	print(" Hz\n");
	unsigned long shown_u = 0;
	for (;;) {
		sti_hlt();
		cli();
		unsigned long t = ticks, u = updates;
		if (bogus) {
			print("rtctick: IRQ8 without IRQF\n");
			guest_exit(4);
		}
		if (u != shown_u) {
			shown_u = u;
			print("rtc ticks ");
			print_dec(t);
			print("\nrtc update ");
			print_dec(u);
			print("\n");
		}
		if (shutdown_requested())
			break;
	}
	cmos_write(0x0b, (uint8_t)(cmos_read(0x0b) & ~0x50));
	print("rtctick: shutdown requested\n");
	guest_exit(0);
}
