/*
 * rmbios: the tiny real-mode BIOS stub cvisor puts at 0xf0000 for the
 * Linux 16-bit entry (rmbios.S).  It is just enough for the kernel's
 * setup code: every interrupt vector returns at once (so an unsupported
 * BIOS call fails the way the setup code expects: the carry flag it set
 * stays set), INT 15h AX=E820h returns the memory map, and a boot stub
 * loads the segment registers the boot protocol wants before it jumps to
 * the setup code (the backends start real mode with data segments 0).
 *
 * The blob starts with a small table the loader fills in or reads; the
 * offsets below are shared by the assembly and linux.c.
 */
#ifndef CV_RMBIOS_H
#define CV_RMBIOS_H

#define RMBIOS_SEG 0xf000
#define RMBIOS_OFF_E820_COUNT 0x00	/* u16, set by the loader */
#define RMBIOS_OFF_RM_SEG 0x02		/* u16: segment of the setup code */
#define RMBIOS_OFF_RM_SP 0x04		/* u16: its initial stack pointer */
#define RMBIOS_OFF_ENTRY_PTR 0x06	/* u16: offset of the boot stub */
#define RMBIOS_OFF_IRET_PTR 0x08	/* u16: offset of the plain handler */
#define RMBIOS_OFF_INT15_PTR 0x0a	/* u16: offset of the INT 15h handler */
#define RMBIOS_OFF_E820 0x10		/* 20-byte e820 entries */
#define RMBIOS_E820_MAX 128
#define RMBIOS_E820_ENTRY 20

#ifndef __ASSEMBLER__
#include <stdint.h>
/* The assembled stub (rmbios.S), in cvisor's read-only data. */
extern const uint8_t cv_rmbios_start[];
extern const uint8_t cv_rmbios_end[];
#endif

#endif
