/*
 * axkernel: the 32-bit kernel of the AxVisor-style boot, linked at
 * 0x200000 and entered by axbios with the multiboot magic in %eax.  It
 * checks the magic, prints "axkernel: magic ok" and exits with 0 (or
 * prints the bad value and exits with 1).  It also carries a multiboot 1
 * header, so a multiboot loader can boot it directly.
 */
#include "guest.h"

#define MB_BOOT_MAGIC 0x2BADB002u

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	if (r->eax == MB_BOOT_MAGIC) {
		print("axkernel: magic ok\n");
		guest_exit(0);
	}
	print("axkernel: bad magic ");
	print_hex(r->eax);
	print("\n");
	guest_exit(1);
}
