/*
 * ports.h: what the emu backend's test guests and test_emu.c agree on.
 * Each guest is a flat binary linked at the address it is loaded at
 * (guest.ld + -Ttext); it talks to the host only through these ports.
 */
#ifndef EMU_GUEST_PORTS_H
#define EMU_GUEST_PORTS_H

#define P_ECHO 0x10		/* write stores; read returns stored + 1 */
#define P_NOP 0x40		/* does nothing (exit round trip) */
#define P_LOG 0xe9		/* every write is recorded (value, size) */
#define P_EXIT 0xf4		/* write is recorded and returns BUS_EXIT */
#define P_UNASSIGNED 0x300	/* no device */
#define MMIO_DEV 0xd0000000	/* 4 KiB: stores bytes, reads back ~stored */
#define MMIO_NONE 0xe0000000	/* no device */
#define GUEST_SP 0x7000

#endif
