/*
 * emu_tramp: layout of the boot trampoline (shared by emu_tramp.S and
 * emu_boot.c).  Two pages mapped only into each vCPU's engine, at an
 * address the VM chose outside guest RAM and MMIO (emu_vm.tramp_gpa): the
 * code page, whose own segments have base = its address (so the code is
 * position independent and reaches its parameters %cs-relative), and one
 * self-referencing page-table page that maps the code page while the
 * engine leaves long mode.
 */
#ifndef CV_EMU_TRAMP_H
#define CV_EMU_TRAMP_H

#define TR_PAGE_SIZE 0x1000
#define TR_SIZE 0x2000		/* code page + page-table page */
#define TR_PT 0x1000		/* PML4 = PDPT = PD, one page */

/* trampoline GDT, loaded by the host before the run */
#define TR_GDT 0x400
#define TR_GDT_LIMIT 0x1f
#define TR_SEL_T32 0x08		/* 32-bit code, base = page */
#define TR_SEL_T16 0x10		/* 16-bit code, base = page */
#define TR_SEL_D16 0x18		/* 16-bit data, base 0, limit 0xffff */

/* parameters, written by the host before each boot run */
#define TR_P_FAR_T32 0x480	/* m16:32 -> compat-mode code */
#define TR_P_FAR_NEXT 0x488	/* m16:32 -> protected or real-mode path */
#define TR_P_GUEST_GDTR 0x490	/* limit16 + base64 (lgdt reads 6 or 10) */
#define TR_P_DATA_SEL 0x4a0	/* protected/long: the guest's data_sel */
#define TR_P_D16_SEL 0x4a2	/* real: TR_SEL_D16 */
#define TR_P_ZERO 0x4a4		/* real: selector 0 for DS..SS */
#define TR_P_CR0 0x4a8		/* the guest's CR0 without PG */
#define TR_P_CR4 0x4ac		/* the guest's CR4 */
#define TR_P_FAR_GUEST 0x4b0	/* m16:64 / m16:32 / m16:16 guest entry */

#endif
