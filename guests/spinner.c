/*
 * spinner: prints one line, then every vCPU spins with interrupts off and
 * never exits again: only a kick can take the vCPUs out of the guest.
 * Real mode.
 * Built with -DPROMPT as "prompt": prints "prompt: start\n" and then a
 * prompt without '\n', "prompt> ", before it spins: nothing ever flushes
 * that partial line but a live viewer (console.h: partial lines).
 */
#include "guest.h"

void guest_main(const struct entry_regs *r)
{
	if (!r->index) {
		boot_mark();
		serial_init();
#ifdef PROMPT
		print("prompt: start\n");
		print("prompt> ");
#else
		print("spinner: start\n");
#endif
	}
	__asm__ volatile("cli\n1: jmp 1b");
	__builtin_unreachable();
}
