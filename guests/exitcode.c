/*
 * exitcode: prints one line and exits through the debug-exit port.  The
 * code is EXIT_CODE (built in), or with EXIT_FROM_PARAM the low byte of
 * the patchable word at image offset 4 (GUEST_PARAM_OFFSET), so a test can
 * patch a copy of the binary.  Real mode.
 */
#include "guest.h"

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
#ifdef EXIT_FROM_PARAM
	uint8_t code = (uint8_t)guest_param;
#else
	uint8_t code = EXIT_CODE;
#endif
	boot_mark();
	serial_init();
	print("exitcode: exiting with ");
	print_dec(code);
	print("\n");
	guest_exit(code);
}
