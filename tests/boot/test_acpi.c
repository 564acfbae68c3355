/*
 * test_acpi: the ACPI tables (src/boot/acpi.c) field by field - RSDP
 * checksums and pointers, every table's length/revision/checksum, the
 * RSDT/XSDT entries, the FADT's fixed hardware (PM1 blocks, SCI, reset
 * register, flags), the DSDT's \_S5 AML, the MADT's APICs and overrides
 * for 1..64 vCPUs - and where boot_load() puts them: raw and PVH boots
 * get them at 0xE0000, PVH's start info points at them, and they are
 * skipped (with a reason) when RAM is missing there or an image is there.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acpi.h"
#include "acpi_pm.h"
#include "boot.h"
#include "bootfix.h"

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The table at gpa inside the blob, checked as a valid SDT. */
static const uint8_t *table(const struct acpi_tables *t, uint64_t gpa,
			    const char *sig, uint8_t rev)
{
	assert_true(gpa >= t->base && gpa + ACPI_HDR_SIZE <= t->base + t->len);
	const uint8_t *p = t->bytes + (gpa - t->base);
	assert_memory_equal(p, sig, 4);
	uint32_t len = le32(p + 4);
	assert_true(len >= ACPI_HDR_SIZE);
	assert_true(gpa + len <= t->base + t->len);
	assert_int_equal(p[8], rev);
	assert_int_equal(acpi_checksum(p, len), 0);
	assert_memory_equal(p + 10, "CVISOR", 6);
	assert_memory_equal(p + 28, "CVSR", 4);
	return p;
}

static void build(unsigned ncpus, struct acpi_tables *t)
{
	struct acpi_params p = { .ncpus = ncpus, .madt = true,
				 .base = ACPI_TABLES_ADDR };
	struct cv_err err = { 0 };
	assert_int_equal(acpi_build(&p, t, &err), 0);
	assert_int_equal(t->base, ACPI_TABLES_ADDR);
	assert_true(t->len <= ACPI_TABLES_SIZE);
}

static void test_rsdp(void **state)
{
	(void)state;
	static struct acpi_tables t;
	build(1, &t);
	assert_int_equal(t.rsdp, 0xe0000);
	assert_int_equal(t.rsdp % 16, 0);
	const uint8_t *r = t.bytes;
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(acpi_checksum(r, 20), 0);
	assert_int_equal(acpi_checksum(r, 36), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(le32(r + 16), t.rsdt);
	assert_int_equal(le32(r + 20), 36);
	assert_int_equal(le64(r + 24), t.xsdt);

	const uint8_t *rsdt = table(&t, t.rsdt, "RSDT", 1);
	assert_int_equal(le32(rsdt + 4), 36 + 8);
	assert_int_equal(le32(rsdt + 36), t.fadt);
	assert_int_equal(le32(rsdt + 40), t.madt);
	const uint8_t *xsdt = table(&t, t.xsdt, "XSDT", 1);
	assert_int_equal(le32(xsdt + 4), 36 + 16);
	assert_int_equal(le64(xsdt + 36), t.fadt);
	assert_int_equal(le64(xsdt + 44), t.madt);
}

static void check_gas_io(const uint8_t *g, uint8_t bits, uint64_t port)
{
	assert_int_equal(g[0], 1);		/* system I/O */
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(le64(g + 4), port);
}

static void test_fadt(void **state)
{
	(void)state;
	static struct acpi_tables t;
	build(2, &t);
	const uint8_t *f = table(&t, t.fadt, "FACP", 6);
	assert_int_equal(le32(f + 4), 276);
	assert_int_equal(le32(f + 36), t.facs);
	assert_int_equal(le32(f + 40), t.dsdt);
	assert_int_equal(le64(f + 132), t.facs);
	assert_int_equal(le64(f + 140), t.dsdt);
	assert_int_equal(le16(f + 46), 9);		/* SCI_INT */
	assert_int_equal(le32(f + 48), 0);		/* no SMI_CMD */
	assert_int_equal(le32(f + 56), 0x600);		/* PM1a_EVT_BLK */
	assert_int_equal(le32(f + 60), 0);		/* no PM1b */
	assert_int_equal(le32(f + 64), 0x604);		/* PM1a_CNT_BLK */
	assert_int_equal(le32(f + 76), 0);		/* no PM timer */
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	check_gas_io(f + 148, 32, 0x600);		/* X_PM1a_EVT_BLK */
	check_gas_io(f + 172, 16, 0x604);		/* X_PM1a_CNT_BLK */
	uint32_t flags = le32(f + 112);
	assert_int_equal(flags & (1u << 4), 0);		/* fixed power button */
	assert_int_equal(flags & (1u << 5), 1u << 5);	/* no sleep button */
	assert_int_equal(flags & (1u << 10), 1u << 10);	/* RESET_REG_SUP */
	assert_int_equal(flags & (1u << 20), 0);	/* not HW-reduced */
	check_gas_io(f + 116, 8, 0xcf9);		/* RESET_REG */
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	assert_int_equal(f[128] & ACPI_RESET_RST_CPU, ACPI_RESET_RST_CPU);
	assert_int_equal(le16(f + 109) & 2, 2);		/* 8042 present */
	assert_memory_equal(f + 268, "cvisor\0\0", 8);

	const uint8_t *facs = t.bytes + (t.facs - t.base);
	assert_int_equal(t.facs % 64, 0);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(le32(facs + 4), 64);
}

static void test_dsdt_s5(void **state)
{
	(void)state;
	static struct acpi_tables t;
	build(1, &t);
	const uint8_t *d = table(&t, t.dsdt, "DSDT", 2);
	uint32_t len = le32(d + 4);
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08,
				      0x04, 0x0a, 5, 0x0a, 5, 0x00, 0x00 };
	assert_int_equal(len, 36 + sizeof(s5));
	assert_memory_equal(d + 36, s5, sizeof(s5));
	/* the package's SLP_TYPa is what the PM device powers off on */
	assert_int_equal(d + 36 < d + len ? d[36 + 9] : 0, ACPI_SLP_TYP_S5);
}

static void check_madt(unsigned ncpus)
{
	static struct acpi_tables t;
	build(ncpus, &t);
	const uint8_t *m = table(&t, t.madt, "APIC", 4);
	uint32_t len = le32(m + 4);
	assert_int_equal(len, 36 + 8 + 8 * ncpus + 12 + 10 + 10);
	assert_int_equal(le32(m + 36), 0xfee00000u);
	assert_int_equal(le32(m + 40), 1);		/* PCAT_COMPAT */
	unsigned lapics = 0, ioapics = 0, isos = 0;
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics);	/* UID */
			assert_int_equal(e[3], lapics);	/* APIC ID */
			assert_int_equal(le32(e + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(le32(e + 4), 0xfec00000u);
			assert_int_equal(le32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0);
			if (e[3] == 0) {
				assert_int_equal(le32(e + 4), 2);
				assert_int_equal(le16(e + 8), 0);
			} else {
				assert_int_equal(e[3], 9);
				assert_int_equal(le32(e + 4), 9);
				assert_int_equal(le16(e + 8), 0xd);
			}
			isos++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 2);
}

static void test_madt(void **state)
{
	(void)state;
	check_madt(1);
	check_madt(4);
	check_madt(ACPI_MAX_CPUS);
}

/* Without interrupt controllers: no MADT, the SDTs list the FADT only. */
static void test_no_madt(void **state)
{
	(void)state;
	static struct acpi_tables t;
	struct acpi_params p = { .ncpus = 2, .madt = false,
				 .base = ACPI_TABLES_ADDR };
	assert_int_equal(acpi_build(&p, &t, NULL), 0);
	assert_int_equal(t.madt, 0);
	const uint8_t *rsdt = table(&t, t.rsdt, "RSDT", 1);
	assert_int_equal(le32(rsdt + 4), 36 + 4);
	assert_int_equal(le32(rsdt + 36), t.fadt);
	const uint8_t *xsdt = table(&t, t.xsdt, "XSDT", 1);
	assert_int_equal(le32(xsdt + 4), 36 + 8);
	assert_int_equal(le64(xsdt + 36), t.fadt);
	table(&t, t.fadt, "FACP", 6);
	table(&t, t.dsdt, "DSDT", 2);
	assert_int_equal(t.len, t.dsdt - t.base + 36 + 14);
}

static void test_refusals(void **state)
{
	(void)state;
	static struct acpi_tables t;
	struct cv_err err = { 0 };
	struct acpi_params p = { .ncpus = 0, .base = ACPI_TABLES_ADDR };
	assert_int_equal(acpi_build(&p, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "vCPUs"));
	p.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(&p, &t, &err), -EINVAL);
	p.ncpus = 1;
	p.base = ACPI_TABLES_ADDR + 8;
	assert_int_equal(acpi_build(&p, &t, &err), -EINVAL);
	p.base = 0xfffff000ull;
	assert_int_equal(acpi_build(&p, &t, &err), -EINVAL);
	p.base = 0x100000ull;	/* elsewhere: pointers follow the base */
	assert_int_equal(acpi_build(&p, &t, &err), 0);
	assert_int_equal(le64(t.bytes + 24), t.xsdt);
	assert_true(t.xsdt > 0x100000ull && t.xsdt < 0x101000ull);
}

/* ---- boot_load() placement --------------------------------------------- */

static const uint8_t *guest(const struct bootfix *f, uint64_t gpa)
{
	const uint8_t *p = guest_mem_ptr(&f->mem, gpa, 36);
	assert_non_null(p);
	return p;
}

static void test_raw_boot_gets_tables(void **state)
{
	struct bootfix *f = *state;
	bootfix_pattern_file(f, "k.bin", 4096, 1, f->cfg->kernel_path,
			     sizeof(f->cfg->kernel_path));
	f->cfg->kernel_load_addr = 0x8000;
	f->cfg->entry_point = 0x8000;
	f->cfg->cpu_num = 3;
	f->cfg->interrupt_mode = VM_IRQ_EMU;	/* interrupt controllers: MADT */
	assert_int_equal(bootfix_load(f), 0);
	assert_int_equal(f->plan.acpi_rsdp, 0xe0000);
	assert_string_equal(f->plan.acpi_why, "");
	assert_int_equal(f->plan.entry, 0x8000);
	const uint8_t *r = guest(f, 0xe0000);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(acpi_checksum(r, 36), 0);
	const uint8_t *madt = guest(f, le32(guest(f, le32(r + 16)) + 40));
	assert_memory_equal(madt, "APIC", 4);
	assert_int_equal(le32(madt + 4), 36 + 8 + 8 * 3 + 32);

	/* no_irq: the XSDT lists the FADT only */
	f->cfg->interrupt_mode = VM_IRQ_NONE;
	assert_int_equal(bootfix_load(f), 0);
	const uint8_t *x = guest(f, le64(guest(f, 0xe0000) + 24));
	assert_memory_equal(x, "XSDT", 4);
	assert_int_equal(le32(x + 4), 36 + 8);

	/* an image over the page: no tables, the image intact */
	bootfix_pattern_file(f, "big.bin", 0x10000, 2, f->cfg->kernel_path,
			     sizeof(f->cfg->kernel_path));
	f->cfg->kernel_load_addr = 0xd8000;
	f->cfg->entry_point = 0xd8000;
	assert_int_equal(guest_mem_clear(&f->mem, NULL), 0);
	assert_int_equal(bootfix_load(f), 0);
	assert_int_equal(f->plan.acpi_rsdp, 0);
	assert_non_null(strstr(f->plan.acpi_why, "image"));
	assert_true(bootfix_has_pattern(f, 0xd8000, 0x10000, 2));
}

static void test_no_ram_no_tables(void **state)
{
	struct bootfix *f = *state;
	/* RAM at 0-512 KiB and from 1 MiB: the BIOS area is a hole */
	f->cfg->regions[0] = (struct vm_mem_region){ 0, 0x80000, 0x7, 0, 0 };
	f->cfg->regions[1] = (struct vm_mem_region){ 0x100000, 0x100000, 0x7,
						     0, 0 };
	f->cfg->n_regions = 2;
	bootfix_map(f);
	bootfix_pattern_file(f, "k.bin", 512, 1, f->cfg->kernel_path,
			     sizeof(f->cfg->kernel_path));
	f->cfg->kernel_load_addr = 0x8000;
	f->cfg->entry_point = 0x8000;
	assert_int_equal(bootfix_load(f), 0);
	assert_int_equal(f->plan.acpi_rsdp, 0);
	assert_non_null(strstr(f->plan.acpi_why, "no RAM"));
}

static void test_pvh_rsdp(void **state)
{
	struct bootfix *f = *state;
	f->cfg->image_location = VM_IMAGE_MEMORY;
	snprintf(f->cfg->kernel_path, sizeof(f->cfg->kernel_path), "pvh");
	f->cfg->boot_protocol = VM_BOOT_AUTO;
	f->cfg->cpu_num = 2;
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "pvh");
	assert_int_equal(f->plan.acpi_rsdp, 0xe0000);
	assert_int_equal(f->plan.entry, f->plan.bsp.rip);
	/* hvm_start_info (EBX) .rsdp_paddr */
	const uint8_t *si = guest(f, f->plan.bsp.rbx);
	assert_int_equal(le32(si), 0x336ec578u);
	assert_int_equal(le64(si + 32), 0xe0000);
	assert_memory_equal(guest(f, 0xe0000), "RSD PTR ", 8);

	/* without RAM there, rsdp_paddr is 0 */
	f->cfg->regions[0] = (struct vm_mem_region){ 0, 0xa0000, 0x7, 0, 0 };
	f->cfg->regions[1] = (struct vm_mem_region){ 0x100000, 0xf00000, 0x7,
						     0, 0 };
	f->cfg->n_regions = 2;
	bootfix_map(f);
	assert_int_equal(bootfix_load(f), 0);
	assert_int_equal(f->plan.acpi_rsdp, 0);
	assert_int_equal(le64(guest(f, f->plan.bsp.rbx) + 32), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_dsdt_s5),
		cmocka_unit_test(test_madt),
		cmocka_unit_test(test_no_madt),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test_setup_teardown(test_raw_boot_gets_tables,
						bootfix_setup, bootfix_teardown),
		cmocka_unit_test_setup_teardown(test_no_ram_no_tables,
						bootfix_setup, bootfix_teardown),
		cmocka_unit_test_setup_teardown(test_pvh_rsdp, bootfix_setup,
						bootfix_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
