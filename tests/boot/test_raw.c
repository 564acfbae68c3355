/*
 * test_raw: unit tests of the raw boot layer (src/boot): guest memory
 * contents, GDT and page-table entries, register state in every mode, the
 * real-mode CS:IP rule, and every refusal; format detection of "auto"
 * (the kernel-format loaders have their own tests).
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "boot.h"
#include "bootfix.h"
#include "builtin.h"

#define MB (1ull << 20)

static void use_kernel(struct bootfix *f, size_t len, uint64_t addr)
{
	bootfix_pattern_file(f, "kernel.bin", len, 1, f->cfg->kernel_path,
			     sizeof(f->cfg->kernel_path));
	f->cfg->kernel_load_addr = addr;
}

static void assert_msg_has(const struct bootfix *f, const char *want)
{
	if (!strstr(f->err.msg, want))
		fail_msg("error \"%s\" does not mention \"%s\"", f->err.msg,
			 want);
}

static int plan_has_range(const struct boot_plan *p, uint64_t gpa,
			  uint64_t len)
{
	for (size_t i = 0; i < p->ncode; i++)
		if (p->code[i].gpa == gpa && p->code[i].len == len)
			return 1;
	return 0;
}

/* SPEC §5b: CS = (entry & 0xF0000) >> 4, IP = entry & 0xFFFF */
static void test_real_mode_cs_ip(void **state)
{
	struct bootfix *f = *state;
	static const struct { uint64_t entry; uint16_t cs, ip; } cases[] = {
		{ 0x8000, 0x0000, 0x8000 },
		{ 0x10000, 0x1000, 0x0000 },
		{ 0x12345, 0x1000, 0x2345 },
		{ 0xFFFFF, 0xF000, 0xFFFF },
		{ 0x7C00, 0x0000, 0x7C00 },
	};
	use_kernel(f, 64, 0x8000);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->cfg->entry_point = cases[i].entry;
		assert_int_equal(bootfix_load(f), 0);
		assert_int_equal(f->plan.bsp.mode, VM_CPU_REAL);
		assert_int_equal(f->plan.bsp.real_cs, cases[i].cs);
		assert_int_equal(f->plan.bsp.rip, cases[i].ip);
	}
}

static void test_real_mode_state_and_memory(void **state)
{
	struct bootfix *f = *state;
	use_kernel(f, 5000, 0x8000);
	assert_int_equal(bootfix_load(f), 0);
	const struct boot_cpu_state *s = &f->plan.bsp;
	assert_true(bootfix_has_pattern(f, 0x8000, 5000, 1));
	assert_int_equal(s->rsp, BOOT_STACK_TOP);
	assert_int_equal(s->rflags, 0x2);
	assert_int_equal(s->cr0, BOOT_CR0_ET);
	assert_int_equal(s->cr3 | s->cr4 | s->efer, 0);
	assert_string_equal(f->plan.protocol, "raw");
	assert_int_equal(f->plan.ncode, 1);
	assert_true(plan_has_range(&f->plan, 0x8000, 5000));
	/* real mode writes no GDT: low memory stays untouched */
	assert_int_equal(bootfix_read64(f, BOOT_GDT_ADDR + 8), 0);
}

/* Decode a descriptor: base, limit (in bytes), type/flags. */
static void check_flat(uint64_t d, unsigned access, int l, int db)
{
	uint32_t base = (uint32_t)((d >> 16) & 0xffffff) |
			(uint32_t)((d >> 56) & 0xff) << 24;
	uint32_t limit = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 48) & 0xf) << 16;
	assert_int_equal(base, 0);
	assert_int_equal(limit, 0xfffff);
	assert_int_equal((d >> 40) & 0xff, access);
	assert_int_equal((d >> 55) & 1, 1);		/* G: 4 KiB units */
	assert_int_equal((d >> 53) & 1, l);		/* L */
	assert_int_equal((d >> 54) & 1, db);		/* D/B */
}

static void test_protected_gdt_and_state(void **state)
{
	struct bootfix *f = *state;
	f->cfg->cpu_mode = VM_CPU_PROTECTED;
	f->cfg->entry_point = 0x100010;
	use_kernel(f, 300, 0x100000);
	assert_int_equal(bootfix_load(f), 0);
	assert_int_equal(bootfix_read64(f, BOOT_GDT_ADDR), 0);
	check_flat(bootfix_read64(f, BOOT_GDT_ADDR + BOOT_SEL_CODE64), 0x9b, 1, 0);
	check_flat(bootfix_read64(f, BOOT_GDT_ADDR + BOOT_SEL_CODE32), 0x9b, 0, 1);
	check_flat(bootfix_read64(f, BOOT_GDT_ADDR + BOOT_SEL_DATA), 0x93, 0, 1);
	const struct boot_cpu_state *s = &f->plan.bsp;
	assert_int_equal(s->mode, VM_CPU_PROTECTED);
	assert_int_equal(s->rip, 0x100010);
	assert_int_equal(s->rsp, BOOT_STACK_TOP);
	assert_int_equal(s->gdt_base, BOOT_GDT_ADDR);
	assert_int_equal(s->gdt_limit, BOOT_GDT_SIZE - 1);
	assert_int_equal(s->code_sel, BOOT_SEL_CODE32);
	assert_int_equal(s->data_sel, BOOT_SEL_DATA);
	assert_int_equal(s->cr0, BOOT_CR0_PE | BOOT_CR0_ET);
	assert_int_equal(s->cr3 | s->cr4 | s->efer, 0);
	assert_true(bootfix_has_pattern(f, 0x100000, 300, 1));
	assert_true(plan_has_range(&f->plan, 0x100000, 300));
	assert_true(plan_has_range(&f->plan, BOOT_GDT_ADDR, BOOT_GDT_SIZE));
	/* protected mode builds no page tables */
	assert_int_equal(bootfix_read64(f, BOOT_PT_ADDR), 0);
}

static void test_long_page_tables_and_state(void **state)
{
	struct bootfix *f = *state;
	f->cfg->cpu_mode = VM_CPU_LONG;
	f->cfg->entry_point = 0x200000;
	use_kernel(f, 4096, 0x200000);
	assert_int_equal(bootfix_load(f), 0);
	const uint64_t pml4 = BOOT_PT_ADDR, pdpt = pml4 + 0x1000;
	const uint64_t pd = pdpt + 0x1000;
	assert_int_equal(bootfix_read64(f, pml4), pdpt | 0x3);
	for (uint64_t i = 1; i < 512; i++)
		assert_int_equal(bootfix_read64(f, pml4 + 8 * i), 0);
	for (uint64_t i = 0; i < 4; i++)
		assert_int_equal(bootfix_read64(f, pdpt + 8 * i),
				 (pd + 0x1000 * i) | 0x3);
	for (uint64_t i = 4; i < 512; i++)
		assert_int_equal(bootfix_read64(f, pdpt + 8 * i), 0);
	for (uint64_t i = 0; i < 2048; i++)
		assert_int_equal(bootfix_read64(f, pd + 8 * i),
				 (i << 21) | 0x83);
	const struct boot_cpu_state *s = &f->plan.bsp;
	assert_int_equal(s->mode, VM_CPU_LONG);
	assert_int_equal(s->rip, 0x200000);
	assert_int_equal(s->code_sel, BOOT_SEL_CODE64);
	assert_int_equal(s->data_sel, BOOT_SEL_DATA);
	assert_int_equal(s->cr0, BOOT_CR0_PE | BOOT_CR0_ET | BOOT_CR0_PG);
	assert_int_equal(s->cr3, BOOT_PT_ADDR);
	assert_int_equal(s->cr4, BOOT_CR4_PAE);
	assert_int_equal(s->efer, BOOT_EFER_LME | BOOT_EFER_LMA);
	check_flat(bootfix_read64(f, BOOT_GDT_ADDR + BOOT_SEL_CODE64), 0x9b, 1, 0);
	assert_true(plan_has_range(&f->plan, BOOT_PT_ADDR,
				   BOOT_PT_END - BOOT_PT_ADDR));
	assert_true(plan_has_range(&f->plan, 0x200000, 4096));
	assert_true(bootfix_has_pattern(f, 0x200000, 4096, 1));
}

/* boot.h: every vCPU starts like the BSP with %esi = index, %edi = count */
static void test_vcpu_state_convention(void **state)
{
	struct bootfix *f = *state;
	f->cfg->cpu_mode = VM_CPU_PROTECTED;
	f->cfg->cpu_num = 4;
	f->cfg->entry_point = 0x100000;
	use_kernel(f, 64, 0x100000);
	assert_int_equal(bootfix_load(f), 0);
	for (unsigned i = 0; i < 4; i++) {
		struct boot_cpu_state s;
		boot_vcpu_state(&f->plan, i, 4, &s);
		assert_int_equal(s.rsi, i);
		assert_int_equal(s.rdi, 4);
		assert_int_equal(s.rip, 0x100000);
		assert_int_equal(s.mode, VM_CPU_PROTECTED);
		assert_int_equal(s.code_sel, BOOT_SEL_CODE32);
	}
}

/* bios_path: real mode at entry_point; the kernel is only loaded */
static void test_bios_boot(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	c->cpu_mode = VM_CPU_LONG;		/* ignored with a BIOS */
	c->boot_protocol = VM_BOOT_AUTO;
	use_kernel(f, 10000, 0x200000);
	bootfix_pattern_file(f, "bios.bin", 200, 9, c->bios_path,
			     sizeof(c->bios_path));
	c->has_bios = true;
	c->bios_load_addr = 0x8000;
	c->entry_point = 0x8000;
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "axvisor");
	assert_int_equal(f->plan.bsp.mode, VM_CPU_REAL);
	assert_int_equal(f->plan.bsp.real_cs, 0);
	assert_int_equal(f->plan.bsp.rip, 0x8000);
	assert_true(bootfix_has_pattern(f, 0x8000, 200, 9));
	assert_true(bootfix_has_pattern(f, 0x200000, 10000, 1));
	assert_int_equal(f->plan.ncode, 2);
	assert_int_equal(bootfix_read64(f, BOOT_GDT_ADDR + 8), 0);
}

static void test_ramdisk_and_dtb(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	use_kernel(f, 100, 0x8000);
	bootfix_pattern_file(f, "initrd", 70000, 3, c->ramdisk_path,
			     sizeof(c->ramdisk_path));
	c->has_ramdisk = true;
	c->ramdisk_load_addr = 0x800000;
	bootfix_pattern_file(f, "x.dtb", 512, 5, c->dtb_path,
			     sizeof(c->dtb_path));
	c->has_dtb = true;
	c->dtb_load_addr = 0x900000;
	assert_int_equal(bootfix_load(f), 0);
	assert_true(bootfix_has_pattern(f, 0x800000, 70000, 3));
	assert_true(bootfix_has_pattern(f, 0x900000, 512, 5));
	assert_int_equal(f->plan.ncode, 3);
	/* a reset reloads: scribble, load again, the images are back */
	memset(guest_mem_ptr(&f->mem, 0x800000, 16), 0xee, 16);
	assert_int_equal(bootfix_load(f), 0);
	assert_true(bootfix_has_pattern(f, 0x800000, 70000, 3));
}

static void test_image_does_not_fit(void **state)
{
	struct bootfix *f = *state;
	use_kernel(f, 100, (16 * MB) - 10);
	f->cfg->entry_point = 0x8000;
	assert_int_equal(bootfix_load(f), -ERANGE);
	assert_msg_has(f, "does not fit");
	assert_msg_has(f, "kernel.bin");
	assert_int_equal(f->err.code, ERANGE);
	/* fits exactly at the very end */
	use_kernel(f, 100, (16 * MB) - 100);
	assert_int_equal(bootfix_load(f), 0);
	/* a ramdisk past RAM */
	use_kernel(f, 100, 0x8000);
	bootfix_pattern_file(f, "rd", 100, 0, f->cfg->ramdisk_path,
			     sizeof(f->cfg->ramdisk_path));
	f->cfg->has_ramdisk = true;
	f->cfg->ramdisk_load_addr = 64 * MB;
	assert_int_equal(bootfix_load(f), -ERANGE);
	assert_msg_has(f, "ramdisk image");
}

static void test_missing_empty_and_bad_files(void **state)
{
	struct bootfix *f = *state;
	snprintf(f->cfg->kernel_path, sizeof(f->cfg->kernel_path),
		 "%s/no-such-kernel.bin", f->dir);
	assert_int_equal(bootfix_load(f), -ENOENT);
	assert_msg_has(f, "no-such-kernel.bin");
	bootfix_file(f, "empty.bin", "", 0, f->cfg->kernel_path,
		     sizeof(f->cfg->kernel_path));
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "is empty");
	snprintf(f->cfg->kernel_path, sizeof(f->cfg->kernel_path), "%s",
		 f->dir);
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "not a regular file");
	/* a missing BIOS is reported as the BIOS */
	use_kernel(f, 10, 0x200000);
	f->cfg->has_bios = true;
	f->cfg->bios_load_addr = 0x8000;
	snprintf(f->cfg->bios_path, sizeof(f->cfg->bios_path), "%s/nobios",
		 f->dir);
	assert_int_equal(bootfix_load(f), -ENOENT);
	assert_msg_has(f, "bios image");
}

static void test_overlaps(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	/* kernel over the GDT in protected mode */
	c->cpu_mode = VM_CPU_PROTECTED;
	c->entry_point = 0x400;
	use_kernel(f, 0x200, 0x400);
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "boot GDT");
	/* kernel over the page tables in long mode (fine in protected) */
	c->entry_point = 0x2000;
	use_kernel(f, 0x100, 0x2000);
	assert_int_equal(bootfix_load(f), 0);
	c->cpu_mode = VM_CPU_LONG;
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "page tables");
	/* last byte before BOOT_PT_END still overlaps, BOOT_PT_END does not */
	use_kernel(f, 0x100, BOOT_PT_END - 0xff);
	c->entry_point = BOOT_PT_END;
	assert_int_equal(bootfix_load(f), -EINVAL);
	use_kernel(f, 0x100, BOOT_PT_END);
	assert_int_equal(bootfix_load(f), 0);
	/* real mode owns all of low memory */
	c->cpu_mode = VM_CPU_REAL;
	c->entry_point = 0x500;
	use_kernel(f, 0x8000, 0x500);
	assert_int_equal(bootfix_load(f), 0);
	/* two images on top of each other */
	use_kernel(f, 0x1000, 0x8000);
	c->entry_point = 0x8000;
	bootfix_pattern_file(f, "rd", 0x100, 0, c->ramdisk_path,
			     sizeof(c->ramdisk_path));
	c->has_ramdisk = true;
	c->ramdisk_load_addr = 0x8fff;
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "overlaps kernel image");
	c->ramdisk_load_addr = 0x9000;
	assert_int_equal(bootfix_load(f), 0);
}

static void test_bad_entry_points(void **state)
{
	struct bootfix *f = *state;
	use_kernel(f, 64, 0x8000);
	f->cfg->entry_point = 0x100000;
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "real mode");
	f->cfg->cpu_mode = VM_CPU_PROTECTED;
	f->cfg->entry_point = 0x1ull << 32;
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "4 GiB");
	f->cfg->entry_point = 0x2000000;		/* 32 MiB: no RAM */
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "not in guest RAM");
}

/* protected/long boots need RAM where the GDT and page tables go */
static void test_no_ram_for_boot_structures(void **state)
{
	struct bootfix *f = *state;
	f->cfg->regions[0] = (struct vm_mem_region){ 1 * MB, 15 * MB, 0x7, 0, 0 };
	bootfix_map(f);
	f->cfg->cpu_mode = VM_CPU_PROTECTED;
	f->cfg->entry_point = 0x100000;
	use_kernel(f, 64, 0x100000);
	assert_int_equal(bootfix_load(f), -ERANGE);
	assert_msg_has(f, "boot GDT");
	f->cfg->cpu_mode = VM_CPU_REAL;
	f->cfg->entry_point = 0x100000;
	assert_int_equal(bootfix_load(f), -EINVAL);	/* above 1 MiB */
}

static void write_header_file(struct bootfix *f, const uint8_t *hdr,
			      size_t len)
{
	uint8_t buf[16384] = { 0 };
	memcpy(buf, hdr, len);
	bootfix_file(f, "k.img", buf, sizeof(buf), f->cfg->kernel_path,
		     sizeof(f->cfg->kernel_path));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * "auto" hands recognised formats to their loaders (which refuse these
 * header-only images, naming the format) and loads the rest raw.
 */
static void test_auto_detection(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	c->boot_protocol = VM_BOOT_AUTO;
	uint8_t h[2048] = { 0 };

	memcpy(h, "\x7f" "ELF\x02\x01\x01", 7);
	write_header_file(f, h, sizeof(h));
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "ELF");
	assert_msg_has(f, "boot_protocol \"elf\"");
	c->boot_protocol = VM_BOOT_RAW;			/* raw loads it */
	assert_int_equal(bootfix_load(f), 0);
	c->boot_protocol = VM_BOOT_AUTO;

	memset(h, 0, sizeof(h));
	h[0x1fe] = 0x55, h[0x1ff] = 0xaa;
	memcpy(h + 0x202, "HdrS", 4);
	write_header_file(f, h, sizeof(h));
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "bzImage");
	assert_msg_has(f, "boot_protocol \"linux\"");

	memset(h, 0, sizeof(h));
	put32(h + 0x40, 0x1BADB002);
	put32(h + 0x44, 0x3);
	put32(h + 0x48, (uint32_t)-(0x1BADB002u + 0x3));
	write_header_file(f, h, sizeof(h));
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "multiboot header has no load addresses");
	put32(h + 0x48, 0x12345678);			/* bad checksum: raw */
	write_header_file(f, h, sizeof(h));
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "raw");

	memset(h, 0, sizeof(h));
	put32(h + 0x100, 0xE85250D6);
	put32(h + 0x104, 0);
	put32(h + 0x108, 16);
	put32(h + 0x10c, (uint32_t)-(0xE85250D6u + 16));
	write_header_file(f, h, sizeof(h));
	assert_int_equal(bootfix_load(f), -ENOTSUP);
	assert_msg_has(f, "multiboot2");

	memset(h, 0x90, sizeof(h));			/* plain code */
	write_header_file(f, h, sizeof(h));
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "raw");
}

/* An explicit protocol checks the image is in its format. */
static void test_explicit_protocols(void **state)
{
	struct bootfix *f = *state;
	use_kernel(f, 4096, 0x100000);
	static const struct {
		enum vm_boot_protocol p;
		const char *msg;
	} cases[] = {
		{ VM_BOOT_MULTIBOOT, "no multiboot header" },
		{ VM_BOOT_ELF, "not an ELF file" },
		{ VM_BOOT_PVH, "not an ELF file" },
		{ VM_BOOT_LINUX, "no boot flag 0xAA55" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->cfg->boot_protocol = cases[i].p;
		assert_int_equal(bootfix_load(f), -EINVAL);
		assert_msg_has(f, cases[i].msg);
		assert_msg_has(f, "kernel image '");
	}
	f->cfg->has_bios = true;
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "bios_path");
}

static void test_builtin_table(void **state)
{
	(void)state;
	static const char *const want[] = {
		"ticker", "exitcode", "exitcode_patch", "spinner", "prompt",
		"lastwords", "lastwords_exit",
		"reboot",
		"longmode", "axbios", "axkernel", "smp4", "irqtick",
		"irqtick64", "irqtick16", "rtctick", "exc", "exc64", "rtcdate", "uartecho", "demo",
		"mboot", "elf64", "elf32", "pvh", "acpi_off", "acpi_ignore",
		"acpi_reset", "acpi_sci", "cpuid",
		"hostile_io", "hostile_uart", "hostile_flood", "hostile_triple",
		"hostile_hlt", "smp_sipi", "lapictimer", "ioapictick",
		"pitreinj", "pitreinj_ioapic",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct builtin_image *b = builtin_find(want[i]);
		if (!b)
			fail_msg("no built-in image %s", want[i]);
		assert_true(b->size > 0 && b->data && b->description);
		assert_true(b->entry >= b->load_addr &&
			    b->entry < b->load_addr + b->size);
		if (strcmp(b->name, "axbios"))
			assert_non_null(b->config_toml);
	}
	assert_null(builtin_find("no-such-image"));
	assert_null(builtin_find(""));
	size_t n = 0;
	for (const struct builtin_image *b = builtin_list(); b->name; b++)
		n++;
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	const struct builtin_image *d = builtin_find("demo");
	assert_int_equal(d->cpu_mode, VM_CPU_LONG);
	assert_non_null(strstr(d->config_toml, "kernel_path = \"demo\""));
}

/* The table embeds exactly what the build produced in guests/. */
static void test_builtin_matches_build(void **state)
{
	(void)state;
	const char *dir = getenv("GUEST_BIN_DIR");
	if (!dir)
		skip();
	for (const struct builtin_image *b = builtin_list(); b->name; b++) {
		char path[512];
		int elf = b->size >= 4 && !memcmp(b->data, "\x7f" "ELF", 4);
		snprintf(path, sizeof(path), "%s/%s.%s", dir, b->name,
			 elf ? "elf" : "bin");
		FILE *fp = fopen(path, "rb");
		if (!fp)
			fail_msg("cannot open %s", path);
		uint8_t buf[65536];
		size_t n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		assert_int_equal(n, b->size);
		assert_memory_equal(buf, b->data, n);
	}
}

static void test_builtin_boot(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	const struct builtin_image *t = builtin_find("ticker");
	c->image_location = VM_IMAGE_MEMORY;
	snprintf(c->kernel_path, sizeof(c->kernel_path), "ticker");
	assert_int_equal(bootfix_load(f), 0);
	assert_memory_equal(guest_mem_ptr(&f->mem, 0x8000, t->size), t->data,
			    t->size);
	/* the AxVisor pair, both from the table */
	snprintf(c->kernel_path, sizeof(c->kernel_path), "axkernel");
	c->kernel_load_addr = 0x200000;
	snprintf(c->bios_path, sizeof(c->bios_path), "axbios");
	c->has_bios = true;
	c->bios_load_addr = 0x8000;
	c->boot_protocol = VM_BOOT_AUTO;
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "axvisor");
	/* without the BIOS, "auto" boots axkernel by its multiboot header */
	c->has_bios = false;
	c->cpu_mode = VM_CPU_PROTECTED;
	c->entry_point = 0x200000;
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "multiboot");
	assert_int_equal(f->plan.bsp.rax, 0x2BADB002);
	assert_int_equal(f->plan.bsp.rip, 0x200000);
	/* a built-in image is linked for one address */
	c->boot_protocol = VM_BOOT_RAW;
	c->kernel_load_addr = 0x300000;
	c->entry_point = 0x300000;
	assert_int_equal(bootfix_load(f), -EINVAL);
	assert_msg_has(f, "0x200000");
	/* unknown names list what exists */
	snprintf(c->kernel_path, sizeof(c->kernel_path), "nope");
	assert_int_equal(bootfix_load(f), -ENOENT);
	assert_msg_has(f, "'nope'");
	assert_msg_has(f, "ticker");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, bootfix_setup, bootfix_teardown)
		T(test_real_mode_cs_ip),
		T(test_real_mode_state_and_memory),
		T(test_protected_gdt_and_state),
		T(test_long_page_tables_and_state),
		T(test_vcpu_state_convention),
		T(test_bios_boot),
		T(test_ramdisk_and_dtb),
		T(test_image_does_not_fit),
		T(test_missing_empty_and_bad_files),
		T(test_overlaps),
		T(test_bad_entry_points),
		T(test_no_ram_for_boot_structures),
		T(test_auto_detection),
		T(test_explicit_protocols),
		T(test_builtin_table),
		T(test_builtin_matches_build),
		T(test_builtin_boot),
#undef T
	};
	return cmocka_run_group_tests_name("boot", tests, NULL, NULL);
}
