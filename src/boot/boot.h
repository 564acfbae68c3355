/*
 * boot: turns a vm_config into guest memory contents and the boot
 * register state of every vCPU.  Backend-neutral: it writes images, GDT
 * and page tables into guest RAM through struct guest_mem and hands the
 * register state to the backend.
 *
 * Raw images (SPEC §5b): the kernel at kernel_load_addr, entered at
 * entry_point in cpu_mode.  With bios_path the vCPU starts in real mode at
 * entry_point (the BIOS stub) and the kernel is only loaded.
 *
 * Multi-vCPU raw boots (until INIT/SIPI lands): every vCPU starts at the
 * entry point in the same mode with its index in %esi (0 = the BSP) and
 * the vCPU count in %edi; guests pick their own stack from the index.
 */
#ifndef CV_BOOT_H
#define CV_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "memory.h"
#include "vmconfig.h"

/* Guest-physical layout cvisor uses for protected/long-mode raw boots. */
#define BOOT_GDT_ADDR 0x500ull
#define BOOT_PT_ADDR 0x1000ull		/* PML4, PDPT, 4 PDs: 0x1000-0x6fff */
#define BOOT_PT_END 0x7000ull
#define BOOT_SEL_CODE64 0x08
#define BOOT_SEL_CODE32 0x10
#define BOOT_SEL_DATA 0x18

#define BOOT_MAX_CODE_RANGES 8

struct boot_plan {
	struct boot_cpu_state bsp;
	struct boot_cpu_state ap;	/* APs: as the BSP, %esi = index */
	struct { uint64_t gpa, len; } code[BOOT_MAX_CODE_RANGES];
	size_t ncode;			/* ranges the loader wrote */
	char protocol[16];		/* "raw", "axvisor", ... */
};

/*
 * Load the images named by cfg into mem (which the caller has cleared) and
 * compute the vCPU boot states.  Reads image files on every call (a reset
 * reloads them).
 */
int boot_load(const struct vm_config *cfg, struct guest_mem *mem,
	      struct boot_plan *plan, struct cv_err *err);

/* The state vCPU index should start with. */
void boot_vcpu_state(const struct boot_plan *plan, unsigned index,
		     unsigned ncpus, struct boot_cpu_state *out);

#endif
