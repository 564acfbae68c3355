/*
 * irqguest: the shared part of the interrupt-driven timer guests (see
 * irqguest.h).  Built into each of them in its own code mode.
 */
#include "irqguest.h"

void on_fault(void);
void on_fault(void)
{
	print(irq_guest_name);
	print(": unexpected exception\n");
	guest_exit(3);
}

ISR_CALLING(isr_fault, on_fault);
__asm__(".text\n.globl isr_spurious\nisr_spurious: " IRET "\n");
