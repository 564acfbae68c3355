/*
 * irqtick: interrupt-driven timer guest.  Builds an IDT, programs the
 * 8259s (vectors 0x20-0x2f, only IRQ0 unmasked) and the 8254 at TICK_HZ
 * (mode 2), then sleeps in `sti; hlt`; the IRQ0 handler counts and sends
 * EOI.  Every TICK_PRINT ticks the main loop prints "irq tick N".  Exits 0
 * on a graceful stop; exits 3 on an unexpected exception.  Built for
 * real mode (IVT), protected mode (32-bit gates) and long mode (64-bit
 * gates).
 */
#include "irqguest.h"

const char irq_guest_name[] = "irqtick";

static volatile unsigned long ticks;

void on_tick(void);
void on_tick(void)
{
	ticks++;
	pic_eoi(0);
}

ISR(isr_tick);
ISR_CALLING(isr_tick, on_tick);

void guest_main(const struct entry_regs *r)
{
	irq_guest_start(r);
	irq_guest_idt(0x20, isr_tick, SPURIOUS_8259);
	pic_init(0x20, 1u << 0);
	pit_periodic(TICK_HZ);
	print("irqtick: ");
	print_dec(TICK_HZ);
	print(" Hz\n");
	tick_loop(&ticks, TICK_PRINT, "irq tick ");
}
