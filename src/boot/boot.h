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
 * Multi-vCPU raw boots with ap_start "entry" (the default for raw
 * images): every vCPU starts at the entry point in the same mode with its
 * index in %esi (0 = the BSP) and the vCPU count in %edi; guests pick
 * their own stack from the index.  With ap_start "sipi" the APs wait for
 * INIT/SIPI from the BSP's LAPIC (boot_cpu_state.wait_sipi), as they do
 * for kernel formats on VMs with an interrupt controller.
 *
 * Register state of a raw boot (all modes): RFLAGS = 0x2 (interrupts
 * off), RSP = BOOT_STACK_TOP (SS:SP = 0000:8000 in real mode) so a guest
 * can call before it sets up its own stack; all vCPUs get the same value,
 * so SMP guests must move to a per-vCPU stack first.  Real mode: CS =
 * (entry & 0xF0000) >> 4, IP = entry & 0xFFFF, other segments 0, CR0 = ET.
 * Protected: the GDT below at BOOT_GDT_ADDR, CS = BOOT_SEL_CODE32, data
 * segments BOOT_SEL_DATA, CR0 = PE|ET, no paging.  Long: CS =
 * BOOT_SEL_CODE64, CR3 = BOOT_PT_ADDR (identity map of the low 4 GiB with
 * 2 MiB pages), CR0 = PE|ET|PG, CR4 = PAE, EFER = LME|LMA.
 *
 * Kernel formats (loader.h): boot_protocol "multiboot", "elf", "pvh" and
 * "linux" run a loader that takes the entry point from the image; "auto"
 * without bios_path detects bzImage, multiboot 1, ELF with or without a
 * PVH note (multiboot 2 is refused with -ENOTSUP); anything else is a raw
 * image.  Such boots give the BSP the protocol's registers (no SMP
 * convention); their APs wait for INIT/SIPI when the VM has an interrupt
 * controller, else they park in a cli/hlt loop.  With image_location = "memory"
 * every path (kernel, bios, ramdisk, dtb) names a built-in image, which a
 * raw boot must load at the address it was linked for (builtin.h
 * load_addr).
 *
 * ACPI tables (acpi.h) are written at 0xE0000 on every boot whose RAM
 * covers that page and whose images leave it free; plan->acpi_why says
 * why not otherwise.
 *
 * Every image is checked (it fits in one RAM region, overlaps no other
 * image and, for protected/long boots, not the GDT/page-table area)
 * before anything is written.
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
#define BOOT_GDT_ENTRIES 4		/* null, code64, code32, data */
#define BOOT_GDT_SIZE (BOOT_GDT_ENTRIES * 8ull)
#define BOOT_STACK_TOP 0x8000ull	/* initial RSP of every raw boot */

/* Descriptors of the boot GDT (accessed bits preset: no GDT writes). */
#define BOOT_DESC_CODE64 0x00af9b000000ffffull
#define BOOT_DESC_CODE32 0x00cf9b000000ffffull
#define BOOT_DESC_DATA 0x00cf93000000ffffull

#define BOOT_CR0_PE 0x1ull
#define BOOT_CR0_ET 0x10ull
#define BOOT_CR0_PG 0x80000000ull
#define BOOT_CR4_PAE 0x20ull
#define BOOT_EFER_LME 0x100ull
#define BOOT_EFER_LMA 0x400ull

#define BOOT_MAX_CODE_RANGES 8

struct boot_plan {
	struct boot_cpu_state bsp;
	struct boot_cpu_state ap;	/* APs: as the BSP, %esi = index */
	struct { uint64_t gpa, len; } code[BOOT_MAX_CODE_RANGES];
	size_t ncode;			/* ranges the loader wrote */
	char protocol[16];		/* "raw", "axvisor", ... */
	uint64_t entry;			/* where the BSP starts (linear) */
	uint64_t ap_entry;		/* where the other vCPUs start */
	bool ap_sipi;			/* ... no: they wait for INIT/SIPI */
	uint64_t acpi_rsdp;		/* RSDP of the ACPI tables; 0 = none */
	char acpi_why[120];		/* no tables: why ("" when present) */
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
