/*
 * irqtick: interrupt-driven timer guest.  Builds an IDT, programs the
 * 8259s (vectors 0x20-0x2f, only IRQ0 unmasked) and the 8254 at TICK_HZ
 * (mode 2), then sleeps in `sti; hlt`; the IRQ0 handler counts and sends
 * EOI.  Every TICK_PRINT ticks the main loop prints "irq tick N".  Exits 0
 * on a graceful stop; exits 3 on an unexpected exception.  Built for
 * real mode (IVT), protected mode (32-bit gates) and long mode (64-bit
 * gates).
 */
#include "guest.h"
#include "idt.h"

static volatile unsigned long ticks;

void on_tick(void);
void on_tick(void)
{
	ticks++;
	pic_eoi(0);
}

void on_fault(void);
void on_fault(void)
{
	print("irqtick: unexpected exception\n");
	guest_exit(3);
}

ISR(isr_tick);
ISR(isr_fault);
ISR(isr_spurious);
ISR_CALLING(isr_tick, on_tick);
ISR_CALLING(isr_fault, on_fault);
__asm__(".text\nisr_spurious: " IRET "\n");

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	for (unsigned v = 0; v < 32; v++)
		set_gate(v, isr_fault, GATE_INT);
	set_gate(0x20, isr_tick, GATE_INT);
	set_gate(0x27, isr_spurious, GATE_INT);
	set_gate(0x2f, isr_spurious, GATE_INT);
	load_idt();
	pic_init(0x20, 1u << 0);
	pit_periodic(TICK_HZ);
	print("irqtick: ");
	print_dec(TICK_HZ);
	print(" Hz\n");
	unsigned long shown = 0;
	for (;;) {
		sti_hlt();
		cli();
		unsigned long t = ticks;
		if (t / TICK_PRINT != shown / TICK_PRINT) {
			shown = t;
			print("irq tick ");
			print_dec(t);
			print("\n");
		}
		if (shutdown_requested())
			break;
	}
	print("irqtick: shutdown requested\n");
	guest_exit(0);
}
