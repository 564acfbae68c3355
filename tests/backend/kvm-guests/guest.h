/*
 * guest.h: macros for the kvm backend's test guests.  Each guest is flat
 * machine code assembled into the test executable's read-only data, between
 * guest_<name>_start and guest_<name>_end; the test copies it to the guest
 * address it was written for (LOAD).  Nothing is linked at that address, so
 * absolute references go through AT(): a label's distance from the guest's
 * start is an assembly-time constant.
 */
#ifndef KVM_GUEST_H
#define KVM_GUEST_H

#define GUEST(name)                                                     \
	.section .rodata.guest_##name, "a";                             \
	.balign 16;                                                     \
	.globl guest_##name##_start, guest_##name##_end;                \
	guest_##name##_start:

#define GUEST_END(name) guest_##name##_end:

/* absolute guest address of label inside guest name loaded at LOAD */
#define AT(name, label) ((label) - guest_##name##_start + LOAD)

/* ports and addresses shared with test_kvm.c */
#define P_LOG 0x500		/* every write is recorded (value, size) */
#define P_SCRATCH 0x501		/* write stores; read returns stored + 1 */
#define P_EXIT 0x510		/* write is recorded and returns BUS_EXIT */
#define P_STR 0x520		/* write appends; read returns 0x100, 0x101... */
#define P_NOP 0x530		/* does nothing: exit round trip */
#define P_UNASSIGNED 0x600	/* no device */
#define MMIO_DEV 0xe0000000	/* test MMIO device, 4 KiB */
#define MMIO_NONE 0xf0000000	/* no device */
#define STOP_FLAG 0x7f00	/* host writes 1 to stop the counting guest */
#define STR_BUF 0x7d00		/* rep insw lands here */
#define REAL_SP 0x7c00

/* the host executable's stack stays non-executable */
	.section .note.GNU-stack, "", %progbits

#endif
