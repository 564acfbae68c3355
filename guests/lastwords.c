/*
 * lastwords: last words without a newline (tests/cli/run_test.sh: such a
 * partial line must show while `cvisor run` stops the VM, and at its end).
 *   lastwords       prints "lastwords: start\n", then on a graceful stop
 *                   request (port 0x5f0) "lastwords: bye" without '\n',
 *                   and spins with interrupts off: it never powers off,
 *                   cvisor forces it after --stop-timeout.
 *   lastwords_exit  (-DEXIT_AT_ONCE) prints "lastwords_exit: start\n" and
 *                   "lastwords_exit: bye" without '\n', then exits with
 *                   EXIT_CODE (a guest-initiated stop).
 * Real mode, one vCPU.
 */
#include "guest.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
#ifdef EXIT_AT_ONCE
	print("lastwords_exit: start\n");
	print("lastwords_exit: bye");
	guest_exit(EXIT_CODE);
#else
	print("lastwords: start\n");
	while (!shutdown_requested())
		delay_cycles(POLL_CYCLES);
	print("lastwords: bye");
	__asm__ volatile("cli\n1: jmp 1b");
	__builtin_unreachable();
#endif
}
