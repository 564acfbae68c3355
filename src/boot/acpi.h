/*
 * acpi: the ACPI tables cvisor gives every guest it can (ACPI 6.0 layout),
 * built by a pure function from the VM's shape (vCPU count) into a byte
 * blob that lives at ACPI_TABLES_ADDR.  They describe the fixed hardware
 * of src/devices/acpi_pm.h:
 *   RSDP  at ACPI_TABLES_ADDR (0xE0000, 16-byte aligned, inside the BIOS
 *         area 0xE0000-0xFFFFF that OSes scan for "RSD PTR "), revision 2,
 *         pointing at both the RSDT and the XSDT
 *   RSDT / XSDT  -> FADT, MADT (the MADT only when the VM has interrupt
 *         controllers, i.e. interrupt_mode is not "no_irq": without them
 *         there is no local APIC or I/O APIC to describe)
 *   FADT  revision 6 (276 bytes), not hardware-reduced: PM1a_EVT_BLK 0x600
 *         (4 bytes), PM1a_CNT_BLK 0x604 (2 bytes), no PM timer, no GPE
 *         blocks, no SMI_CMD (always in ACPI mode), SCI_INT 9, fixed-feature
 *         power button (PWR_BUTTON flag clear), no sleep button,
 *         RESET_REG = system I/O port 0xCF9 (8 bits), RESET_VALUE 0x06,
 *         IAPC_BOOT_ARCH = legacy devices + 8042, hypervisor vendor "cvisor"
 *   FACS  (64 bytes, 64-byte aligned), as non-reduced hardware requires
 *   DSDT  AML: only Name (\_S5, Package (4) { 5, 5, 0, 0 }) - SLP_TYP 5 for
 *         S5 (acpi_pm.h ACPI_SLP_TYP_S5); see acpi.c for the bytes
 *   MADT  revision 4: local APIC at 0xFEE00000, PCAT_COMPAT (8259s
 *         present); one enabled local APIC per vCPU (processor UID and
 *         APIC ID = vCPU index); an I/O APIC (ID 0, 0xFEC00000, GSI base
 *         0); interrupt source overrides IRQ 0 -> GSI 2 (edge, conforming)
 *         and IRQ 9 -> GSI 9 (SCI: level, active high)
 * Table headers: OEMID "CVISOR", OEM table ID "CVISOR  ", OEM revision 1,
 * creator ID "CVSR", creator revision 1.  Every checksum sums to zero.
 *
 * When tables are written (boot.c): on every boot and reset, for every
 * boot protocol, when one RAM region covers [ACPI_TABLES_ADDR,
 * +ACPI_TABLES_SIZE) and no image or boot structure cvisor loads overlaps
 * it; otherwise the VM runs without tables and boot_plan says why.  PVH
 * guests also get the RSDP address in hvm_start_info.rsdp_paddr; Linux
 * and multiboot guests find it by the standard scan of 0xE0000-0xFFFFF
 * (the area is reserved in every memory map cvisor builds).
 */
#ifndef CV_ACPI_H
#define CV_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ACPI_TABLES_ADDR 0xe0000ull
#define ACPI_TABLES_SIZE 0x1000ull
#define ACPI_MAX_CPUS 64

#define ACPI_LAPIC_ADDR 0xfee00000u
#define ACPI_IOAPIC_ADDR 0xfec00000u

/* Sizes the tables have (fixed parts) */
#define ACPI_RSDP_SIZE 36u
#define ACPI_HDR_SIZE 36u
#define ACPI_FADT_SIZE 276u
#define ACPI_FACS_SIZE 64u

struct acpi_params {
	unsigned ncpus;			/* 1..ACPI_MAX_CPUS */
	bool madt;			/* describe LAPICs and the I/O APIC */
	uint64_t base;			/* guest-physical address of the blob */
};

/* The blob and where each table is (guest-physical addresses). */
struct acpi_tables {
	uint8_t bytes[ACPI_TABLES_SIZE];
	size_t len;			/* bytes used from base */
	uint64_t base;
	uint64_t rsdp, rsdt, xsdt, fadt, facs, dsdt;
	uint64_t madt;			/* 0 when not built */
};

/*
 * Build the tables for p.  -EINVAL (with a sentence) when ncpus is out of
 * range or base is not 16-byte aligned or above 4 GiB - 4 KiB (the RSDT
 * and FADT hold 32-bit pointers).
 */
int acpi_build(const struct acpi_params *p, struct acpi_tables *out,
	       struct cv_err *err);

/* Sum of n bytes mod 256 (0 for a valid table). */
uint8_t acpi_checksum(const uint8_t *b, size_t n);

#endif
