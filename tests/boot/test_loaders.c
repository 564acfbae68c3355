/*
 * test_loaders: unit tests of the kernel-format loaders (src/boot/
 * loader.h) on images synthesized here (imgbuild.c): the load plan each
 * one makes (addresses, register state, boot structures byte by byte,
 * memory maps, command line, initrd placement), every refusal (truncated
 * and malformed images, bad magic/checksum, segments outside RAM or
 * overlapping, absurd counts, integer overflows), and the applier writing
 * a plan into guest memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "boot_int.h"
#include "bootfix.h"
#include "imgbuild.h"
#include "loader.h"
#include "rmbios.h"

#define MIB (1ull << 20)

struct lt {
	struct vm_mem_region regions[4];
	struct load_in in;
	struct load_plan *plan;
	struct cv_err err;
	uint8_t *img;
};

static int setup(void **state)
{
	struct lt *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->plan = malloc(sizeof(*t->plan));
	if (!t->plan)
		return -1;
	t->regions[0] = (struct vm_mem_region){ 0, 16 * MIB, 0x7, 0, 0 };
	t->in.regions = t->regions;
	t->in.nregions = 1;
	t->in.cmdline = "";
	t->in.kernel_load_addr = MIB;
	t->in.cpu_mode = VM_CPU_LONG;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct lt *t = *state;
	free(t->img);
	free(t->plan);
	free(t);
	return 0;
}

static void use_image(struct lt *t, uint8_t *img, size_t len)
{
	free(t->img);
	t->img = img;
	t->in.image = img;
	t->in.image_len = len;
}

static void assert_msg_has(const struct cv_err *err, const char *want)
{
	if (!strstr(err->msg, want))
		fail_msg("error \"%s\" does not mention \"%s\"", err->msg, want);
}

/* The length is read after the builder ran (argument order is unset). */
static void use_image_p(struct lt *t, uint8_t *img, const size_t *len)
{
	use_image(t, img, *len);
}

typedef int (*loader_fn)(const struct load_in *, struct load_plan *,
			 struct cv_err *);

static int run(struct lt *t, loader_fn fn)
{
	cv_err_clear(&t->err);
	int rc = fn(&t->in, t->plan, &t->err);
	if (rc && !t->err.msg[0])
		fail_msg("loader failed (%d) without a message", rc);
	return rc;
}

static void expect_fail(struct lt *t, loader_fn fn, int code,
			const char *msg)
{
	int rc = run(t, fn);
	if (rc != -code)
		fail_msg("expected -%d, got %d (%s)", code, rc, t->err.msg);
	assert_msg_has(&t->err, msg);
}

static void expect_ok(struct lt *t, loader_fn fn)
{
	int rc = run(t, fn);
	if (rc)
		fail_msg("loader failed: %s", t->err.msg);
}

static const struct load_copy *find_copy(const struct load_plan *p,
					 const char *what)
{
	for (size_t i = 0; i < p->ncopy; i++)
		if (!strcmp(p->copy[i].what, what))
			return &p->copy[i];
	fail_msg("the plan has no copy named \"%s\"", what);
	return NULL;
}

static int has_copy(const struct load_plan *p, const char *what)
{
	for (size_t i = 0; i < p->ncopy; i++)
		if (!strcmp(p->copy[i].what, what))
			return 1;
	return 0;
}

static const uint8_t *arena_of(const struct load_plan *p, const char *what)
{
	const struct load_copy *c = find_copy(p, what);
	assert_int_equal(c->src, LOAD_SRC_ARENA);
	return p->arena + c->off;
}

static void assert_flat(const struct boot_cpu_state *s,
			enum vm_cpu_mode mode, uint64_t rip)
{
	assert_int_equal(s->mode, mode);
	assert_int_equal(s->rip, rip);
	assert_int_equal(s->gdt_base, BOOT_GDT_ADDR);
	assert_int_equal(s->data_sel, BOOT_SEL_DATA);
	assert_int_equal(s->rflags, 0x2);
	if (mode == VM_CPU_LONG) {
		assert_int_equal(s->code_sel, BOOT_SEL_CODE64);
		assert_int_equal(s->cr3, BOOT_PT_ADDR);
		assert_int_equal(s->efer, BOOT_EFER_LME | BOOT_EFER_LMA);
		assert_true(s->cr0 & BOOT_CR0_PG);
	} else {
		assert_int_equal(s->code_sel, BOOT_SEL_CODE32);
		assert_int_equal(s->cr0 & BOOT_CR0_PG, 0);
		assert_int_equal(s->efer, 0);
	}
	assert_true(s->cr0 & BOOT_CR0_PE);
}

/* The AP parking loop every loader adds: cli; hlt; jmp back to hlt. */
static void assert_ap_parked(const struct load_plan *p)
{
	static const uint8_t park[] = { 0xfa, 0xf4, 0xeb, 0xfd };
	const struct load_copy *c = find_copy(p, "AP parking loop");
	assert_int_equal(c->gpa, LOAD_AP_PARK_ADDR);
	assert_memory_equal(p->arena + c->off, park, sizeof(park));
	assert_int_equal(p->ap.mode, VM_CPU_REAL);
	assert_int_equal(p->ap.real_cs, 0);
	assert_int_equal(p->ap.rip, LOAD_AP_PARK_ADDR);
}

/* ---------------------------------------------------------------- ELF */

static uint8_t *elf2(int bits, uint64_t entry, size_t *len)
{
	struct ib_seg s[2] = {
		{ 0, 0x200000, 0x200000, 0x1800, 0x1800, 1 },
		{ 0, 0x300000, 0x300000, 0x100, 0x5000, 2 },	/* + bss */
	};
	return ib_elf(bits, entry, s, 2, NULL, 0, len, NULL);
}

static void test_elf64_plan(void **state)
{
	struct lt *t = *state;
	size_t len;
	uint64_t off[2];
	struct ib_seg s[2] = {
		{ 0, 0x200000, 0x200000, 0x1800, 0x1800, 1 },
		{ 0, 0x300000, 0x300000, 0x100, 0x5000, 2 },
	};
	use_image_p(t, ib_elf(64, 0x200010, s, 2, NULL, 0, &len, off), &len);
	expect_ok(t, load_elf);
	assert_string_equal(t->plan->protocol, "elf");
	assert_flat(&t->plan->bsp, VM_CPU_LONG, 0x200010);
	const struct load_copy *c = find_copy(t->plan, "ELF segment 0");
	assert_int_equal(c->gpa, 0x200000);
	assert_int_equal(c->len, 0x1800);
	assert_int_equal(c->src, LOAD_SRC_IMAGE);
	assert_int_equal(c->off, off[0]);
	assert_int_equal(c->src_len, 0x1800);
	c = find_copy(t->plan, "ELF segment 1");
	assert_int_equal(c->gpa, 0x300000);
	assert_int_equal(c->len, 0x5000);		/* bss zero-filled */
	assert_int_equal(c->src_len, 0x100);
	assert_int_equal(c->off, off[1]);
	c = find_copy(t->plan, "boot page tables");
	assert_int_equal(c->gpa, BOOT_PT_ADDR);
	/* PML4[0] -> PDPT, PD entry 1 maps 2 MiB with PS */
	assert_int_equal(ib_get64(t->plan->arena + c->off),
			 (BOOT_PT_ADDR + 0x1000) | 0x3);
	assert_int_equal(ib_get64(t->plan->arena + c->off + 0x2008),
			 0x200000 | 0x83);
	const uint8_t *gdt = arena_of(t->plan, "boot GDT");
	assert_int_equal(ib_get64(gdt + BOOT_SEL_CODE64), BOOT_DESC_CODE64);
	assert_int_equal(ib_get64(gdt + BOOT_SEL_DATA), BOOT_DESC_DATA);
	assert_ap_parked(t->plan);
}

static void test_elf32_plan(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, elf2(32, 0x300004, &len), &len);
	expect_ok(t, load_elf);
	assert_flat(&t->plan->bsp, VM_CPU_PROTECTED, 0x300004);
	assert_false(has_copy(t->plan, "boot page tables"));
	assert_true(has_copy(t->plan, "boot GDT"));
	assert_true(has_copy(t->plan, "ELF segment 1"));
}

/* A higher-half kernel: entered at the physical twin of e_entry. */
static void test_elf_entry_translation(void **state)
{
	struct lt *t = *state;
	size_t len;
	struct ib_seg s = { 0, 0x400000, 0xffffffff80400000ull, 0x2000,
			    0x2000, 4 };
	use_image_p(t, ib_elf(64, 0xffffffff80400123ull, &s, 1, NULL, 0, &len,
			    NULL), &len);
	expect_ok(t, load_elf);
	assert_int_equal(t->plan->bsp.rip, 0x400123);
	/* outside every segment */
	ib_put64(t->img + 24, 0xffffffff80500000ull);
	expect_fail(t, load_elf, EINVAL, "entry point 0xffffffff80500000");
}

static void test_elf_ramdisk_and_dtb(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, elf2(32, 0x200000, &len), &len);
	t->in.has_ramdisk = true;
	t->in.ramdisk_addr = 0x800000;
	t->in.ramdisk_size = 0x1234;
	t->in.has_dtb = true;
	t->in.dtb_addr = 0x900000;
	t->in.dtb_size = 0x100;
	expect_ok(t, load_elf);
	const struct load_copy *c = find_copy(t->plan, "ramdisk");
	assert_int_equal(c->src, LOAD_SRC_RAMDISK);
	assert_int_equal(c->gpa, 0x800000);
	assert_int_equal(c->len, 0x1234);
	c = find_copy(t->plan, "dtb");
	assert_int_equal(c->src, LOAD_SRC_DTB);
	assert_int_equal(c->gpa, 0x900000);
	t->in.ramdisk_addr = 0x200800;			/* on a segment */
	expect_fail(t, load_elf, EINVAL, "overlaps");
}

static void test_elf_header_errors(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, elf2(64, 0x200000, &len), &len);
	uint8_t *img = t->img;

	t->in.image_len = 3;
	expect_fail(t, load_elf, EINVAL, "not an ELF file");
	t->in.image_len = 40;
	expect_fail(t, load_elf, EINVAL, "truncated");
	t->in.image_len = 60;				/* ELF32 size, ELF64 class */
	expect_fail(t, load_elf, EINVAL, "ELF64 header");
	t->in.image_len = len;

	static const struct {
		size_t off;
		uint8_t val;
		const char *msg;
	} bytes[] = {
		{ 0, 0x7e, "not an ELF file" },
		{ 4, 3, "unknown ELF class 3" },
		{ 5, 2, "little-endian" },
		{ 6, 0, "ELF version 0" },
		{ 16, 3, "type 3" },			/* ET_DYN */
		{ 18, 3, "machine 3" },			/* i386 in an ELF64 */
		{ 54, 32, "program headers of 32 bytes" },
	};
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		uint8_t old = img[bytes[i].off];
		img[bytes[i].off] = bytes[i].val;
		expect_fail(t, load_elf, EINVAL, bytes[i].msg);
		img[bytes[i].off] = old;
	}
	ib_put16(img + 56, 0);
	expect_fail(t, load_elf, EINVAL, "no program headers");
	ib_put16(img + 56, 257);
	expect_fail(t, load_elf, EINVAL, "257 program headers");
	ib_put16(img + 56, 0xffff);			/* PN_XNUM */
	expect_fail(t, load_elf, EINVAL, "65535 program headers");
	ib_put16(img + 56, 2);
	ib_put64(img + 32, len - 8);			/* table past the end */
	expect_fail(t, load_elf, EINVAL, "past the end");
	ib_put64(img + 32, UINT64_MAX - 16);		/* offset + size wraps */
	expect_fail(t, load_elf, EINVAL, "past the end");
	ib_put64(img + 32, 64);
	expect_ok(t, load_elf);
}

static void test_elf_segment_errors(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, elf2(64, 0x200000, &len), &len);
	uint8_t *img = t->img;
	struct {
		const char *field;
		uint64_t val;
		int code;
		const char *msg;
	} cases[] = {
		{ "filesz", 0x6000, EINVAL, "larger than p_memsz" },
		{ "offset", 0x100000, EINVAL, "past the end of the" },
		{ "offset", UINT64_MAX - 0x10, EINVAL, "past the end of the" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t save[56];
		memcpy(save, img + ib_phdr_off(64, 1), 56);
		ib_set_phdr(img, 64, 1, cases[i].field, cases[i].val);
		expect_fail(t, load_elf, cases[i].code, cases[i].msg);
		memcpy(img + ib_phdr_off(64, 1), save, 56);
	}
	/* physical range wraps around the 52-bit space */
	ib_set_phdr(img, 64, 1, "paddr", 0xfffffffffffff000ull);
	expect_fail(t, load_elf, EINVAL, "wraps past the end");
	/* outside RAM (16 MiB) */
	ib_set_phdr(img, 64, 1, "paddr", 0x2000000);
	expect_fail(t, load_elf, ERANGE, "not inside guest RAM");
	/* straddling the end of RAM */
	ib_set_phdr(img, 64, 1, "paddr", 16 * MIB - 0x1000);
	expect_fail(t, load_elf, ERANGE, "ELF segment 1");
	/* overlapping segment 0 */
	ib_set_phdr(img, 64, 1, "paddr", 0x201000);
	expect_fail(t, load_elf, EINVAL, "overlaps the ELF segment 0");
	/* on cvisor's page tables and GDT */
	ib_set_phdr(img, 64, 1, "paddr", 0x3000);
	expect_fail(t, load_elf, EINVAL, "boot page tables");
	ib_set_phdr(img, 64, 1, "paddr", 0x400);
	expect_fail(t, load_elf, EINVAL, "boot GDT");
	ib_set_phdr(img, 64, 1, "paddr", 0x300000);
	expect_ok(t, load_elf);
}

static void test_elf32_wrap_and_entry(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, elf2(32, 0x200000, &len), &len);
	ib_set_phdr(t->img, 32, 1, "paddr", 0xfffff000u);
	expect_fail(t, load_elf, EINVAL, "32-bit address space");
	ib_set_phdr(t->img, 32, 1, "paddr", 0x300000);
	/* a 64-bit entry above 4 GiB */
	struct ib_seg s = { 0, 0x100000000ull, 0x100000000ull, 0x100, 0x100,
			    1 };
	use_image_p(t, ib_elf(64, 0x100000000ull, &s, 1, NULL, 0, &len, NULL),
		    &len);
	expect_fail(t, load_elf, EINVAL, "above the 4 GiB");
}

static void test_elf_segment_counts(void **state)
{
	struct lt *t = *state;
	size_t len;
	struct ib_seg s[40];
	for (size_t i = 0; i < 40; i++)
		s[i] = (struct ib_seg){ 0, 0x100000 + i * 0x1000,
					0x100000 + i * 0x1000, 0x10, 0x10,
					(unsigned)i };
	use_image_p(t, ib_elf(32, 0x100000, s, 32, NULL, 0, &len, NULL), &len);
	expect_ok(t, load_elf);
	assert_true(has_copy(t->plan, "ELF segment 31"));
	use_image_p(t, ib_elf(32, 0x100000, s, 33, NULL, 0, &len, NULL), &len);
	expect_fail(t, load_elf, EINVAL, "more than 32 loadable");
	/* no PT_LOAD at all: every header a PT_NOTE-less PT_NULL */
	s[0].type = 6;					/* PT_PHDR */
	use_image_p(t, ib_elf(32, 0x100000, s, 1, NULL, 0, &len, NULL), &len);
	expect_fail(t, load_elf, EINVAL, "no loadable");
	/* empty segments are skipped, not loaded */
	s[0] = (struct ib_seg){ 0, 0x100000, 0x100000, 0, 0, 0 };
	s[1] = (struct ib_seg){ 0, 0x200000, 0x200000, 0x10, 0x10, 0 };
	use_image_p(t, ib_elf(32, 0x200000, s, 2, NULL, 0, &len, NULL), &len);
	expect_ok(t, load_elf);
	assert_int_equal(find_copy(t->plan, "ELF segment 0")->gpa, 0x200000);
}

/* ---------------------------------------------------------------- PVH */

static uint8_t *pvh_image(int bits, uint64_t entry, uint32_t desclen,
			  size_t *len)
{
	uint8_t desc[8];
	ib_put64(desc, entry);
	struct ib_note n[2] = {
		{ "GNU", 3, "abcd", 4 },
		{ "Xen", 18, desc, desclen },
	};
	struct ib_seg s = { 0, 0x100000, 0xffffffff81000000ull, 0x3000,
			    0x4000, 6 };
	return ib_elf(bits, 0xffffffff81000000ull & (bits == 32 ? 0xffffffff :
						     ~0ull),
		      &s, 1, n, 2, len, NULL);
}

static void test_pvh_plan(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, pvh_image(64, 0x100040, 4, &len), &len);
	t->regions[0].size = 0x8000000;			/* 128 MiB */
	t->regions[1] = (struct vm_mem_region){ 0x8000000, 0x100000, 0x7,
						VM_MAP_RESERVED, 0 };
	t->regions[2] = (struct vm_mem_region){ 0x10000000, 0x200000, 0x7, 0,
						0 };
	t->in.nregions = 3;
	t->in.cmdline = "console=ttyS0 pvh";
	t->in.has_ramdisk = true;
	t->in.ramdisk_addr = 0x2000000;
	t->in.ramdisk_size = 0x5000;
	expect_ok(t, load_pvh);
	assert_string_equal(t->plan->protocol, "pvh");
	assert_flat(&t->plan->bsp, VM_CPU_PROTECTED, 0x100040);
	assert_int_equal(t->plan->bsp.rbx, LOAD_INFO_ADDR);
	assert_true(pvh_has_entry_note(t->img, len));

	const uint8_t *si = arena_of(t->plan, "hvm_start_info");
	assert_int_equal(find_copy(t->plan, "hvm_start_info")->gpa,
			 LOAD_INFO_ADDR);
	assert_int_equal(ib_get32(si), 0x336ec578);
	assert_int_equal(ib_get32(si + 4), 1);
	assert_int_equal(ib_get32(si + 8), 0);		/* flags */
	assert_int_equal(ib_get32(si + 12), 1);		/* nr_modules */
	uint64_t modlist = ib_get64(si + 16);
	assert_int_equal(ib_get64(si + 24), LOAD_CMDLINE_ADDR);
	assert_int_equal(ib_get64(si + 32), 0);		/* no ACPI yet */
	uint64_t memmap = ib_get64(si + 40);
	const uint8_t *mod = si + (modlist - LOAD_INFO_ADDR);
	assert_int_equal(ib_get64(mod), 0x2000000);
	assert_int_equal(ib_get64(mod + 8), 0x5000);
	/* memmap: low RAM, hole, RAM to 128 MiB, reserved, RAM */
	static const uint64_t want[][3] = {
		{ 0, 0xa0000, 1 }, { 0xa0000, 0x60000, 2 },
		{ 0x100000, 0x7f00000, 1 }, { 0x8000000, 0x100000, 2 },
		{ 0x10000000, 0x200000, 1 },
	};
	assert_int_equal(ib_get32(si + 48), 5);
	const uint8_t *m = si + (memmap - LOAD_INFO_ADDR);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(ib_get64(m + 24 * i), want[i][0]);
		assert_int_equal(ib_get64(m + 24 * i + 8), want[i][1]);
		assert_int_equal(ib_get32(m + 24 * i + 16), want[i][2]);
	}
	const struct load_copy *c = find_copy(t->plan, "command line");
	assert_int_equal(c->gpa, LOAD_CMDLINE_ADDR);
	assert_int_equal(c->len, strlen(t->in.cmdline) + 1);
	assert_memory_equal(t->plan->arena + c->off, t->in.cmdline, c->len);
	c = find_copy(t->plan, "PVH ELF segment 0");
	assert_int_equal(c->gpa, 0x100000);
	assert_int_equal(c->len, 0x4000);
	assert_ap_parked(t->plan);
}

static void test_pvh_note_forms(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, pvh_image(32, 0x100100, 8, &len), &len);	/* 8-byte value */
	expect_ok(t, load_pvh);
	assert_int_equal(t->plan->bsp.rip, 0x100100);
	use_image_p(t, pvh_image(32, 0x100100, 2, &len), &len);
	expect_fail(t, load_pvh, EINVAL, "2-byte value");
	assert_false(pvh_has_entry_note(t->img, len));
	use_image_p(t, pvh_image(64, 0x100000000ull, 8, &len), &len);
	expect_fail(t, load_pvh, EINVAL, "above 4 GiB");
	use_image_p(t, pvh_image(64, 0x900000, 4, &len), &len);
	expect_fail(t, load_pvh, EINVAL, "outside every loadable segment");
	/* no Xen note: not PVH (auto would pick plain ELF) */
	use_image_p(t, elf2(64, 0x200000, &len), &len);
	expect_fail(t, load_pvh, EINVAL, "no XEN_ELFNOTE_PHYS32_ENTRY");
	assert_false(pvh_has_entry_note(t->img, len));
}

static void test_pvh_malformed_notes(void **state)
{
	struct lt *t = *state;
	size_t len;
	use_image_p(t, pvh_image(64, 0x100040, 4, &len), &len);
	size_t ph = ib_phdr_off(64, 1);			/* the PT_NOTE */
	uint64_t noff = ib_get64(t->img + ph + 8);
	/* namesz of the first note reaching past the segment */
	ib_put32(t->img + noff, 0x1000);
	expect_fail(t, load_pvh, EINVAL, "runs past its PT_NOTE segment");
	ib_put32(t->img + noff, 0xffffffffu);		/* would wrap in 32 bits */
	expect_fail(t, load_pvh, EINVAL, "runs past its PT_NOTE segment");
	ib_put32(t->img + noff, 4);
	ib_put32(t->img + noff + 4, 0xfffffff0u);	/* descsz */
	expect_fail(t, load_pvh, EINVAL, "runs past its PT_NOTE segment");
	ib_put32(t->img + noff + 4, 4);
	expect_ok(t, load_pvh);
	/* the PT_NOTE segment itself past the end of the file */
	ib_put64(t->img + ph + 32, len);
	expect_fail(t, load_pvh, EINVAL, "PT_NOTE segment");
	assert_false(pvh_has_entry_note(t->img, len));
}

/* ---------------------------------------------------------- multiboot */

static const struct ib_mb aout_default = {
	.hdr_off = 0x40, .flags = 0x10003, .header_addr = 0x100040,
	.load_addr = 0x100000, .load_end = 0x101000, .bss_end = 0x104000,
	.entry = 0x100080,
};

static void check_mbi(const struct lt *t, const uint8_t *mbi)
{
	assert_int_equal(ib_get32(mbi), 0x1 | 0x4 | 0x8 | 0x40 | 0x200);
	assert_int_equal(ib_get32(mbi + 4), 640);		/* mem_lower */
	assert_int_equal(ib_get32(mbi + 8), 15 * 1024);		/* mem_upper */
	assert_int_equal(ib_get32(mbi + 16), LOAD_CMDLINE_ADDR);
	uint32_t name = ib_get32(mbi + 64);
	assert_string_equal((const char *)mbi + (name - LOAD_INFO_ADDR),
			    "cvisor");
	/* memory map: 24-byte entries whose size field says 20 */
	static const uint64_t want[][3] = {
		{ 0, 0xa0000, 1 }, { 0xa0000, 0x60000, 2 },
		{ 0x100000, 0xf00000, 1 },
	};
	assert_int_equal(ib_get32(mbi + 44), 3 * 24);
	const uint8_t *m = mbi + (ib_get32(mbi + 48) - LOAD_INFO_ADDR);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ib_get32(m + 24 * i), 20);
		assert_int_equal(ib_get64(m + 24 * i + 4), want[i][0]);
		assert_int_equal(ib_get64(m + 24 * i + 12), want[i][1]);
		assert_int_equal(ib_get32(m + 24 * i + 20), want[i][2]);
	}
	const struct load_copy *c = find_copy(t->plan, "command line");
	assert_string_equal((const char *)t->plan->arena + c->off,
			    t->in.cmdline);
}

static void test_multiboot_aout(void **state)
{
	struct lt *t = *state;
	use_image(t, ib_multiboot(&aout_default, 0x2000), 0x2000);
	t->in.cmdline = "mb kernel args";
	expect_ok(t, load_multiboot);
	assert_string_equal(t->plan->protocol, "multiboot");
	assert_flat(&t->plan->bsp, VM_CPU_PROTECTED, 0x100080);
	assert_int_equal(t->plan->bsp.rax, 0x2BADB002);
	assert_int_equal(t->plan->bsp.rbx, LOAD_INFO_ADDR);
	const struct load_copy *c = find_copy(t->plan, "multiboot kernel");
	assert_int_equal(c->gpa, 0x100000);
	assert_int_equal(c->off, 0);			/* header_addr - 0x40 */
	assert_int_equal(c->src_len, 0x1000);
	assert_int_equal(c->len, 0x4000);		/* to bss_end */
	const uint8_t *mbi = arena_of(t->plan, "multiboot information");
	check_mbi(t, mbi);
	assert_int_equal(ib_get32(mbi + 20), 0);		/* no modules */
	assert_ap_parked(t->plan);

	/* load_end 0 = to the end of the file; bss_end 0 = no bss */
	struct ib_mb m = aout_default;
	m.load_end = 0;
	m.bss_end = 0;
	m.header_addr = 0x100140;		/* file starts 0x100 earlier */
	m.hdr_off = 0x240;
	use_image(t, ib_multiboot(&m, 0x3000), 0x3000);
	expect_ok(t, load_multiboot);
	c = find_copy(t->plan, "multiboot kernel");
	assert_int_equal(c->off, 0x100);
	assert_int_equal(c->len, 0x3000 - 0x100);
	assert_int_equal(c->src_len, c->len);
}

static void test_multiboot_module(void **state)
{
	struct lt *t = *state;
	use_image(t, ib_multiboot(&aout_default, 0x2000), 0x2000);
	t->in.cmdline = "x";
	t->in.has_ramdisk = true;
	t->in.ramdisk_addr = 0x400000;
	t->in.ramdisk_size = 0x1801;
	expect_ok(t, load_multiboot);
	const uint8_t *mbi = arena_of(t->plan, "multiboot information");
	check_mbi(t, mbi);
	assert_int_equal(ib_get32(mbi + 20), 1);
	const uint8_t *mod = mbi + (ib_get32(mbi + 24) - LOAD_INFO_ADDR);
	assert_int_equal(ib_get32(mod), 0x400000);
	assert_int_equal(ib_get32(mod + 4), 0x401801);
	assert_string_equal((const char *)mbi +
			    (ib_get32(mod + 8) - LOAD_INFO_ADDR), "ramdisk");
	assert_int_equal(find_copy(t->plan, "ramdisk (multiboot module)")->src,
			 LOAD_SRC_RAMDISK);
	/* flag 0 asks for page-aligned modules */
	t->in.ramdisk_addr = 0x400100;
	expect_fail(t, load_multiboot, EINVAL, "page-aligned modules");
	t->in.ramdisk_addr = 0xfffff000u;
	expect_fail(t, load_multiboot, EINVAL, "below 4 GiB");
}

static void test_multiboot_elf(void **state)
{
	struct lt *t = *state;
	size_t len;
	uint8_t *img = elf2(32, 0x200020, &len);
	/* a header without flag 16 in the first 8 KiB (segment 0's bytes) */
	size_t at = 0x1000 + 0x10;
	ib_put32(img + at, 0x1BADB002);
	ib_put32(img + at + 4, 0x2);
	ib_put32(img + at + 8, (uint32_t)-(0x1BADB002u + 0x2));
	use_image(t, img, len);
	assert_int_equal(multiboot_find_header(img, len), (long)at);
	expect_ok(t, load_multiboot);
	assert_int_equal(t->plan->bsp.rip, 0x200020);
	assert_true(has_copy(t->plan, "multiboot ELF segment 1"));
	/* without flag 16 the image must be ELF */
	img[0] = 'X';
	expect_fail(t, load_multiboot, EINVAL, "not an ELF file");
}

static void test_multiboot_header_scan(void **state)
{
	struct lt *t = *state;
	struct ib_mb m = aout_default;
	uint8_t *img = ib_multiboot(&m, 0x2000);
	use_image(t, img, 0x2000);
	ib_put32(img + 0x48, 0x12345678);		/* bad checksum */
	assert_int_equal(multiboot_find_header(img, 0x2000), -1);
	expect_fail(t, load_multiboot, EINVAL, "no multiboot header");
	/* past the first 8 KiB: not found */
	m.hdr_off = 8192;
	m.header_addr = 0x100000 + 8192;
	use_image(t, ib_multiboot(&m, 0x4000), 0x4000);
	assert_int_equal(multiboot_find_header(t->img, 0x4000), -1);
	/* the last 4-aligned slot is found, its a.out fields cut off */
	m.hdr_off = 8192 - 12;
	m.header_addr = 0x100000 + 8192 - 12;
	use_image(t, ib_multiboot(&m, 0x4000), 8192);
	assert_int_equal(multiboot_find_header(t->img, 8192), 8192 - 12);
	expect_fail(t, load_multiboot, EINVAL, "cut off by the end of the file");
	/* a misaligned header is not one */
	m.hdr_off = 0x42;
	use_image(t, ib_multiboot(&m, 0x2000), 0x2000);
	assert_int_equal(multiboot_find_header(t->img, 0x2000), -1);
}

static void test_multiboot_aout_errors(void **state)
{
	struct lt *t = *state;
	static const struct {
		uint32_t header_addr, load_addr, load_end, bss_end, entry;
		uint32_t flags;
		const char *msg;
	} cases[] = {
		{ 0x100040, 0x100080, 0, 0, 0x100080, 0x10000,
		  "load_addr 0x100080 lies above header_addr" },
		{ 0x100040, 0x0ff000, 0, 0, 0x100000, 0x10000,
		  "before the beginning of the file" },
		{ 0x100040, 0x100000, 0x0ff000, 0, 0x100000, 0x10000,
		  "load_end_addr 0xff000 lies below" },
		{ 0x100040, 0x100000, 0x103000, 0, 0x100000, 0x10000,
		  "past the end of the 8192-byte file" },
		{ 0x100040, 0x100000, 0x101000, 0x100800, 0x100000, 0x10000,
		  "bss_end_addr 0x100800 lies below" },
		{ 0x100040, 0x100000, 0x101000, 0, 0x101000, 0x10000,
		  "entry_addr 0x101000 lies outside" },
		{ 0x100040, 0x100000, 0x101000, 0, 0x0fffff, 0x10000,
		  "entry_addr 0xfffff lies outside" },
		{ 0x100040, 0x100000, 0x100000, 0, 0x100000, 0x10000,
		  "lies outside the loaded image" },
		{ 0x100040, 0x100000, 0, 0, 0x100000, 0x10008,
		  "requires features cvisor does not provide (flags 0x8)" },
		{ 0x100040, 0x100000, 0, 0, 0x100000, 0x18000,
		  "(flags 0x8000)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ib_mb m = {
			0x40, cases[i].flags, cases[i].header_addr,
			cases[i].load_addr, cases[i].load_end, cases[i].bss_end,
			cases[i].entry,
		};
		use_image(t, ib_multiboot(&m, 0x2000), 0x2000);
		expect_fail(t, load_multiboot, EINVAL, cases[i].msg);
	}
	/* flag 2 (video) is accepted without video information */
	struct ib_mb m = aout_default;
	m.flags |= 0x4;
	use_image(t, ib_multiboot(&m, 0x2000), 0x2000);
	expect_ok(t, load_multiboot);
	/* the kernel where cvisor keeps its information page */
	m = (struct ib_mb){ 0x40, 0x10000, 0x9040, 0x9000, 0, 0, 0x9000 };
	use_image(t, ib_multiboot(&m, 0x2000), 0x2000);
	expect_fail(t, load_multiboot, EINVAL, "multiboot information");
	/* load_addr near 4 GiB, bss to 0xffffffff: outside RAM */
	m = (struct ib_mb){ 0x40, 0x10000, 0xfffff040u, 0xfffff000u,
			    0xfffff800u, 0xffffffffu, 0xfffff000u };
	use_image(t, ib_multiboot(&m, 0x2000), 0x2000);
	expect_fail(t, load_multiboot, ERANGE, "not inside guest RAM");
	/* the rest of the file would be loaded across 4 GiB */
	m.load_end = 0;
	m.bss_end = 0;
	use_image(t, ib_multiboot(&m, 0x2000), 0x2000);
	expect_fail(t, load_multiboot, EINVAL, "reaches past 4 GiB");
}

/* -------------------------------------------------------------- Linux */

static void use_bz(struct lt *t, const struct ib_bz *b)
{
	size_t len;
	use_image_p(t, ib_bzimage(b, &len), &len);
}

static void check_header_copy(const struct lt *t, const uint8_t *hdr)
{
	/* the fields cvisor sets; the rest is the image's header */
	assert_int_equal(hdr[0x1f1], t->img[0x1f1]);
	assert_memory_equal(hdr + 0x202, "HdrS", 4);
	assert_int_equal(hdr[0x206] | hdr[0x207] << 8,
			 t->img[0x206] | t->img[0x207] << 8);
	assert_int_equal(hdr[0x1fa] | hdr[0x1fb] << 8, 0xffff);
	assert_int_equal(hdr[0x210], 0xff);
	assert_int_equal(ib_get32(hdr + 0x214), t->in.kernel_load_addr);
	assert_int_equal(ib_get32(hdr + 0x228), LOAD_CMDLINE_ADDR);
	assert_int_equal(ib_get32(hdr + 0x230), ib_get32(t->img + 0x230));
	assert_int_equal(ib_get32(hdr + 0x260), ib_get32(t->img + 0x260));
}

static void test_linux64_plan(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	t->regions[0].size = 256 * MIB;
	t->regions[1] = (struct vm_mem_region){ 256 * MIB, 16 * MIB, 0x7,
						VM_MAP_RESERVED, 0 };
	t->in.nregions = 2;
	use_bz(t, &b);
	t->in.cmdline = "console=ttyS0 earlyprintk=serial";
	expect_ok(t, load_linux);
	assert_string_equal(t->plan->protocol, "linux");
	assert_flat(&t->plan->bsp, VM_CPU_LONG, MIB + 0x200);
	assert_int_equal(t->plan->bsp.rsi, LOAD_INFO_ADDR);
	const struct load_copy *k = find_copy(t->plan, "Linux kernel");
	assert_int_equal(k->gpa, MIB);
	assert_int_equal(k->off, 5 * 512);			/* after setup */
	assert_int_equal(k->len, b.pm_len);
	const uint8_t *bp = arena_of(t->plan, "Linux boot_params");
	assert_int_equal(find_copy(t->plan, "Linux boot_params")->gpa,
			 LOAD_INFO_ADDR);
	check_header_copy(t, bp);
	assert_int_equal(ib_get32(bp + 0x218), 0);		/* no initrd */
	/* before the header and after it: zero */
	for (size_t i = 0; i < 0x1e8; i++)
		assert_int_equal(bp[i], 0);
	for (size_t i = 0x26c; i < 0x2d0; i++)
		assert_int_equal(bp[i], 0);
	static const uint64_t want[][3] = {
		{ 0, 0xa0000, 1 }, { 0xa0000, 0x60000, 2 },
		{ 0x100000, 255 * MIB, 1 }, { 256 * MIB, 16 * MIB, 2 },
	};
	assert_int_equal(bp[0x1e8], 4);
	for (size_t i = 0; i < 4; i++) {
		const uint8_t *e = bp + 0x2d0 + 20 * i;
		assert_int_equal(ib_get64(e), want[i][0]);
		assert_int_equal(ib_get64(e + 8), want[i][1]);
		assert_int_equal(ib_get32(e + 16), want[i][2]);
	}
	assert_true(has_copy(t->plan, "boot page tables"));
	assert_ap_parked(t->plan);
}

static void test_linux32_plan(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	b.xloadflags = 0;				/* a 32-bit-only kernel */
	t->regions[0].size = 64 * MIB;
	use_bz(t, &b);
	t->in.cpu_mode = VM_CPU_PROTECTED;
	expect_ok(t, load_linux);
	assert_flat(&t->plan->bsp, VM_CPU_PROTECTED, MIB);
	assert_int_equal(t->plan->bsp.rsi, LOAD_INFO_ADDR);
	assert_int_equal(t->plan->bsp.rbx, 0);
	assert_int_equal(t->plan->bsp.rdi, 0);
	assert_int_equal(t->plan->bsp.rbp, 0);
	assert_false(has_copy(t->plan, "boot page tables"));
	check_header_copy(t, arena_of(t->plan, "Linux boot_params"));
	/* its 64-bit entry does not exist */
	t->in.cpu_mode = VM_CPU_LONG;
	expect_fail(t, load_linux, EINVAL, "no 64-bit entry point");
}

static void test_linux_initrd(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	t->regions[0].size = 256 * MIB;
	use_bz(t, &b);
	t->in.has_ramdisk = true;
	t->in.ramdisk_addr = 0x123456;			/* not used */
	t->in.ramdisk_size = 0x100001;
	expect_ok(t, load_linux);
	const struct load_copy *c = find_copy(t->plan, "initrd");
	/* as high as it goes, page aligned */
	assert_int_equal(c->gpa, (256 * MIB - 0x100001) & ~0xfffull);
	assert_int_equal(c->src, LOAD_SRC_RAMDISK);
	const uint8_t *bp = arena_of(t->plan, "Linux boot_params");
	assert_int_equal(ib_get32(bp + 0x218), c->gpa);
	assert_int_equal(ib_get32(bp + 0x21c), 0x100001);

	/* below initrd_addr_max */
	b.initrd_addr_max = 0x4000000 - 1;
	use_bz(t, &b);
	expect_ok(t, load_linux);
	assert_int_equal(find_copy(t->plan, "initrd")->gpa,
			 0x4000000 - 0x101000);

	/* max inside the decompression area [16, 24) MiB: pushed below it */
	b.initrd_addr_max = 0x1400000 - 1;
	use_bz(t, &b);
	expect_ok(t, load_linux);
	c = find_copy(t->plan, "initrd");
	assert_int_equal(c->gpa + c->len <= 0x1000000, 1);
	assert_int_equal(c->gpa, (0x1000000 - 0x100001) & ~0xfffull);

	/* and clear of the kernel itself and of the dtb */
	b.initrd_addr_max = 0x1000000 - 1;
	b.pm_len = 0xe00000;			/* 1 MiB .. 15 MiB */
	use_bz(t, &b);
	t->in.has_dtb = true;
	t->in.dtb_addr = 0xf00000;
	t->in.dtb_size = 0x100000;			/* 15 .. 16 MiB */
	t->in.ramdisk_size = 0x1000;
	expect_fail(t, load_linux, ERANGE, "no free RAM for the 4096-byte initrd");
	t->in.dtb_size = 0x80000;
	expect_ok(t, load_linux);
	assert_int_equal(find_copy(t->plan, "initrd")->gpa, 0xfff000);
}

static void test_linux_real_mode_plan(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	b.setup_sects = 30;
	t->regions[0].size = 64 * MIB;
	use_bz(t, &b);
	t->in.cpu_mode = VM_CPU_REAL;
	t->in.cmdline = "earlyprintk=serial";
	t->in.has_ramdisk = true;
	t->in.ramdisk_size = 0x2000;
	expect_ok(t, load_linux);
	const struct load_copy *c = find_copy(t->plan, "Linux setup code");
	assert_int_equal(c->gpa, LOAD_RM_ADDR);
	assert_int_equal(c->len, 31 * 512);
	const uint8_t *rm = t->plan->arena + c->off;
	check_header_copy(t, rm);
	assert_memory_equal(rm, t->img, 0x1f1);		/* boot sector */
	assert_memory_equal(rm + 0x300, t->img + 0x300, 31 * 512 - 0x300);
	assert_int_equal(rm[0x211], 0x1 | 0x80);		/* CAN_USE_HEAP */
	assert_int_equal(rm[0x224] | rm[0x225] << 8, 0xe000 - 0x200);
	assert_int_equal(ib_get32(rm + 0x218),
			 find_copy(t->plan, "initrd")->gpa);
	assert_int_equal(ib_get32(rm + 0x21c), 0x2000);
	assert_false(has_copy(t->plan, "Linux boot_params"));
	assert_false(has_copy(t->plan, "boot GDT"));

	/* the BIOS stub: its table filled in, vectors point into it */
	const uint8_t *bios = arena_of(t->plan, "real-mode BIOS stub");
	assert_int_equal(find_copy(t->plan, "real-mode BIOS stub")->gpa,
			 0xf0000);
	assert_int_equal(bios[RMBIOS_OFF_E820_COUNT], 3);
	assert_int_equal(ib_get32(bios + RMBIOS_OFF_E820 + 20 * 2 + 16), 1);
	assert_int_equal(ib_get64(bios + RMBIOS_OFF_E820 + 20 * 2 + 8),
			 63 * MIB);
	assert_int_equal(bios[RMBIOS_OFF_RM_SEG] | bios[RMBIOS_OFF_RM_SEG + 1] << 8,
			 0x1000);
	const uint8_t *ivt = arena_of(t->plan, "real-mode interrupt vectors");
	uint16_t iret = (uint16_t)(bios[RMBIOS_OFF_IRET_PTR] |
				   bios[RMBIOS_OFF_IRET_PTR + 1] << 8);
	uint16_t int15 = (uint16_t)(bios[RMBIOS_OFF_INT15_PTR] |
				    bios[RMBIOS_OFF_INT15_PTR + 1] << 8);
	assert_int_equal(ib_get32(ivt + 4 * 0x10), 0xf0000000u | iret);
	assert_int_equal(ib_get32(ivt + 4 * 0x15), 0xf0000000u | int15);
	assert_int_equal(bios[iret], 0xcf);			/* iret */
	/* the vCPU starts in the stub, which jumps to 1020:0000 */
	assert_int_equal(t->plan->bsp.mode, VM_CPU_REAL);
	assert_int_equal(t->plan->bsp.real_cs, 0xf000);
	assert_int_equal(t->plan->bsp.rip,
			 bios[RMBIOS_OFF_ENTRY_PTR] |
			 bios[RMBIOS_OFF_ENTRY_PTR + 1] << 8);

	b.setup_sects = 64;					/* 32.5 KiB */
	use_bz(t, &b);
	expect_fail(t, load_linux, EINVAL, "16-bit entry has room for");
}

static void test_linux_header_errors(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	t->regions[0].size = 64 * MIB;
	use_bz(t, &b);
	t->in.image_len = 0x200;
	expect_fail(t, load_linux, EINVAL, "too short");
	t->in.image_len = 5 * 512;				/* setup only */
	expect_fail(t, load_linux, EINVAL, "ends inside its 2560 bytes of setup code");
	t->in.image_len = 5 * 512 + b.pm_len;
	t->img[0x1fe] = 0;
	expect_fail(t, load_linux, EINVAL, "boot flag 0xAA55");
	t->img[0x1fe] = 0x55;
	t->img[0x204] = 'x';
	expect_fail(t, load_linux, EINVAL, "\"HdrS\"");
	t->img[0x204] = 'r';
	expect_ok(t, load_linux);

	struct { struct ib_bz b; const char *msg; } cases[8];
	size_t n = 0;
	cases[n].b = ib_bz_default();
	cases[n].b.version = 0x205;
	cases[n++].msg = "boot protocol 2.05";
	cases[n].b = ib_bz_default();
	cases[n].b.loadflags = 0;
	cases[n++].msg = "zImage";
	cases[n].b = ib_bz_default();
	cases[n].b.kernel_alignment = 0x300000;
	cases[n++].msg = "not a power of two";
	cases[n].b = ib_bz_default();
	cases[n].b.kernel_alignment = 0;
	cases[n++].msg = "kernel_alignment 0x0";
	cases[n].b = ib_bz_default();
	cases[n].b.version = 0x20b;				/* no xloadflags */
	cases[n++].msg = "no 64-bit entry point";
	cases[n].b = ib_bz_default();
	cases[n].b.cmdline_size = 4;
	cases[n++].msg = "accepts at most 4";
	for (size_t i = 0; i < n; i++) {
		use_bz(t, &cases[i].b);
		t->in.cmdline = "hello";
		expect_fail(t, load_linux, EINVAL, cases[i].msg);
	}
	/* setup_sects 0 means 4 */
	b = ib_bz_default();
	b.setup_sects = 0;
	use_bz(t, &b);
	expect_ok(t, load_linux);
	assert_int_equal(find_copy(t->plan, "Linux kernel")->off, 5 * 512);
}

static void test_linux_load_address(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	t->regions[0].size = 64 * MIB;
	use_bz(t, &b);
	t->in.kernel_load_addr = 0x80000;
	expect_fail(t, load_linux, EINVAL, "below 1 MiB");
	t->in.kernel_load_addr = 0x100000000ull;
	expect_fail(t, load_linux, EINVAL, "past 4 GiB");
	t->in.kernel_load_addr = 0x200000;	/* relocatable 2.10+: anywhere */
	expect_ok(t, load_linux);
	assert_int_equal(t->plan->bsp.rip, 0x200200);
	b.relocatable = 0;
	use_bz(t, &b);
	expect_fail(t, load_linux, EINVAL, "not relocatable and must be loaded at 0x100000");
	t->in.kernel_load_addr = MIB;
	expect_ok(t, load_linux);
	/* before 2.10 a relocatable kernel must be loaded aligned */
	b = ib_bz_default();
	b.version = 0x209;
	b.xloadflags = 0;
	use_bz(t, &b);
	t->in.cpu_mode = VM_CPU_PROTECTED;
	t->in.kernel_load_addr = 0x300000;
	expect_fail(t, load_linux, EINVAL, "not a multiple of the kernel's alignment");
	t->in.kernel_load_addr = 0x400000;
	expect_ok(t, load_linux);
}

static void test_linux_init_size(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	t->regions[0].size = 20 * MIB;		/* decompression needs 16..24 */
	use_bz(t, &b);
	expect_fail(t, load_linux, ERANGE, "init_size");
	assert_msg_has(&t->err, "0x1000000");
	t->regions[0].size = 24 * MIB;
	expect_ok(t, load_linux);
	/* a load address above pref_address runs where it is, aligned up */
	t->regions[0].size = 64 * MIB;
	t->in.kernel_load_addr = 0x2100000;
	expect_ok(t, load_linux);
	t->in.kernel_load_addr = 0x3100000;	/* runs at 0x3200000..0x3a00000 */
	t->regions[0].size = 0x3a00000 - 1;
	expect_fail(t, load_linux, ERANGE, "0x3200000");
	/* nothing of cvisor's may sit in the decompression area */
	t->regions[0].size = 64 * MIB;
	t->in.kernel_load_addr = MIB;
	t->in.has_dtb = true;
	t->in.dtb_addr = 0x1100000;
	t->in.dtb_size = 0x1000;
	expect_fail(t, load_linux, EINVAL, "decompresses itself");
}

/* Only the setup code in memory: the kernel proper comes from the file. */
static void test_linux_head_only(void **state)
{
	struct lt *t = *state;
	struct ib_bz b = ib_bz_default();
	t->regions[0].size = 64 * MIB;
	use_bz(t, &b);
	t->in.image_avail = 5 * 512;
	t->in.cpu_mode = VM_CPU_REAL;
	expect_ok(t, load_linux);
	const struct load_copy *k = find_copy(t->plan, "Linux kernel");
	assert_int_equal(k->off, 5 * 512);
	assert_int_equal(k->len, b.pm_len);
	t->in.image_avail = 5 * 512 - 1;		/* setup code cut short */
	expect_fail(t, load_linux, EINVAL, "less than its 2560 bytes of setup code");
	t->in.image_avail = 0x200;			/* header cut short */
	expect_fail(t, load_linux, EINVAL, "too few for its setup header");
	t->in.image_avail = t->in.image_len + 1;	/* more than there is */
	expect_fail(t, load_linux, EINVAL, "too few for its setup header");
	/* the other loaders need the whole image */
	size_t len;
	use_image_p(t, elf2(64, 0x200000, &len), &len);
	t->in.image_avail = len - 1;
	expect_fail(t, load_elf, EINVAL, "needs the whole");
	expect_fail(t, load_pvh, EINVAL, "needs the whole");
	expect_fail(t, load_multiboot, EINVAL, "needs the whole");
	t->in.image_avail = len;
	expect_ok(t, load_elf);
}

/* ------------------------------------------------- shared machinery */

static void test_memory_map(void **state)
{
	struct lt *t = *state;
	struct load_map_entry m[LOAD_MAX_MAP];
	/* out of order, adjacent RAM merged, a region inside the hole */
	t->regions[0] = (struct vm_mem_region){ 0x200000, 0x100000, 7, 0, 0 };
	t->regions[1] = (struct vm_mem_region){ 0, 0xc0000, 7, 0, 0 };
	t->regions[2] = (struct vm_mem_region){ 0x100000, 0x100000, 7, 0, 0 };
	t->regions[3] = (struct vm_mem_region){ 0xe0000, 0x10000, 7,
						VM_MAP_RESERVED, 0 };
	t->in.nregions = 4;
	size_t n = load_memory_map(&t->in, m, LOAD_MAX_MAP);
	static const uint64_t want[][3] = {
		{ 0, 0xa0000, 1 }, { 0xa0000, 0x20000, 2 },
		{ 0xe0000, 0x10000, 2 }, { 0x100000, 0x200000, 1 },
	};
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(m[i].addr, want[i][0]);
		assert_int_equal(m[i].size, want[i][1]);
		assert_int_equal(m[i].type, want[i][2]);
	}
	assert_int_equal(load_memory_map(&t->in, m, 2), 2);
	/* a region that ends past 2^52 is left out, never wraps */
	t->regions[0] = (struct vm_mem_region){ 0xfffffffffffff000ull,
						0x2000, 7, 0, 0 };
	assert_int_equal(load_memory_map(&t->in, m, LOAD_MAX_MAP), 4);
	assert_int_equal(m[3].addr, 0x100000);
}

static void test_cmdline_limit(void **state)
{
	struct lt *t = *state;
	char *big = malloc(VMCFG_CMDLINE_MAX + 1);
	memset(big, 'a', VMCFG_CMDLINE_MAX);
	big[VMCFG_CMDLINE_MAX] = '\0';
	use_image(t, ib_multiboot(&aout_default, 0x2000), 0x2000);
	t->in.cmdline = big;
	expect_fail(t, load_multiboot, EINVAL, "longer than 4095 bytes");
	big[VMCFG_CMDLINE_MAX - 1] = '\0';
	expect_ok(t, load_multiboot);
	assert_int_equal(find_copy(t->plan, "command line")->len,
			 VMCFG_CMDLINE_MAX);
	free(big);
}

/* A 16-bit boot needs RAM at 0 for the vectors; none there. */
static void test_no_low_ram(void **state)
{
	struct lt *t = *state;
	t->regions[0] = (struct vm_mem_region){ MIB, 64 * MIB, 7, 0, 0 };
	struct ib_bz b = ib_bz_default();
	use_bz(t, &b);
	t->in.cpu_mode = VM_CPU_REAL;
	expect_fail(t, load_linux, ERANGE, "not inside guest RAM");
	t->in.cpu_mode = VM_CPU_LONG;
	expect_fail(t, load_linux, ERANGE, "not inside guest RAM");
}

static void test_detection_probes(void **state)
{
	struct lt *t = *state;
	size_t len;
	struct ib_bz b = ib_bz_default();
	use_bz(t, &b);
	assert_true(linux_is_bzimage(t->img, t->in.image_len));
	assert_false(linux_is_bzimage(t->img, 0x205));
	assert_false(elf_is_elf(t->img, t->in.image_len));
	use_image_p(t, pvh_image(64, 0x100040, 4, &len), &len);
	assert_true(elf_is_elf(t->img, len));
	assert_true(pvh_has_entry_note(t->img, len));
	assert_false(pvh_has_entry_note(t->img, 100));
	assert_false(elf_is_elf(t->img, 3));
	assert_int_equal(multiboot_find_header(t->img, 11), -1);
}

/* ------------------------------------------- applying through boot_load */

static int setup_fix(void **state)
{
	struct bootfix *f = malloc(sizeof(*f));
	if (!f)
		return -1;
	bootfix_init(f);
	*state = f;
	return 0;
}

static int teardown_fix(void **state)
{
	bootfix_fini(*state);
	free(*state);
	return 0;
}

static void fill_ram(struct bootfix *f, uint8_t v)
{
	for (size_t i = 0; i < f->mem.n; i++)
		memset(f->mem.r[i].host, v, f->mem.r[i].size);
}

/* The applier: segment bytes, zeroed bss, boot structures, the ramdisk. */
static void test_apply_pvh(void **state)
{
	struct bootfix *f = *state;
	size_t len;
	struct vm_config *c = f->cfg;
	uint8_t *img = pvh_image(32, 0x100040, 4, &len);
	bootfix_file(f, "pvh.elf", img, len, c->kernel_path,
		     sizeof(c->kernel_path));
	bootfix_pattern_file(f, "initrd", 0x1801, 11, c->ramdisk_path,
			     sizeof(c->ramdisk_path));
	c->has_ramdisk = true;
	c->ramdisk_load_addr = 0x800000;
	c->boot_protocol = VM_BOOT_AUTO;
	snprintf(c->cmdline, sizeof(c->cmdline), "pvh apply");
	fill_ram(f, 0xaa);				/* bss must be cleared */
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "pvh");
	assert_int_equal(f->plan.bsp.rip, 0x100040);
	assert_int_equal(f->plan.bsp.rbx, LOAD_INFO_ADDR);
	const uint8_t *seg = guest_mem_ptr(&f->mem, 0x100000, 0x4000);
	for (size_t i = 0; i < 0x3000; i++)
		if (seg[i] != ib_pattern(i, 6))
			fail_msg("segment byte %zu differs", i);
	for (size_t i = 0x3000; i < 0x4000; i++)
		if (seg[i])
			fail_msg("bss byte 0x%zx is 0x%x, not 0", i, seg[i]);
	assert_true(bootfix_has_pattern(f, 0x800000, 0x1801, 11));
	uint32_t magic = 0;
	guest_mem_read(&f->mem, LOAD_INFO_ADDR, &magic, 4);
	assert_int_equal(magic, 0x336ec578);
	char cmd[16] = { 0 };
	guest_mem_read(&f->mem, LOAD_CMDLINE_ADDR, cmd, 10);
	assert_string_equal(cmd, "pvh apply");
	/* the BSP keeps the protocol's registers; APs are parked */
	struct boot_cpu_state s;
	boot_vcpu_state(&f->plan, 0, 2, &s);
	assert_int_equal(s.rbx, LOAD_INFO_ADDR);
	assert_int_equal(s.rsi, 0);
	boot_vcpu_state(&f->plan, 1, 2, &s);
	assert_int_equal(s.mode, VM_CPU_REAL);
	assert_int_equal(s.rip, LOAD_AP_PARK_ADDR);
	assert_true(f->plan.ncode >= 1);
	free(img);
}

static void test_apply_linux(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	c->regions[0].size = 64 * MIB;
	bootfix_map(f);
	struct ib_bz b = ib_bz_default();
	size_t len;
	uint8_t *img = ib_bzimage(&b, &len);
	bootfix_file(f, "bzImage", img, len, c->kernel_path,
		     sizeof(c->kernel_path));
	bootfix_pattern_file(f, "initrd", 0x3000, 12, c->ramdisk_path,
			     sizeof(c->ramdisk_path));
	c->has_ramdisk = true;
	c->ramdisk_load_addr = 0x800000;
	c->kernel_load_addr = MIB;
	c->boot_protocol = VM_BOOT_LINUX;
	c->cpu_mode = VM_CPU_LONG;
	assert_int_equal(bootfix_load(f), 0);
	assert_true(bootfix_has_pattern(f, 64 * MIB - 0x3000, 0x3000, 12));
	const uint8_t *k = guest_mem_ptr(&f->mem, MIB, b.pm_len);
	for (size_t i = 0; i < b.pm_len; i++)
		if (k[i] != ib_pattern(i, 5))
			fail_msg("kernel byte %zu differs", i);
	assert_int_equal(bootfix_read64(f, BOOT_PT_ADDR),
			 (BOOT_PT_ADDR + 0x1000) | 3);
	struct boot_cpu_state s;
	boot_vcpu_state(&f->plan, 0, 1, &s);
	assert_int_equal(s.rsi, LOAD_INFO_ADDR);	/* not the SMP index */
	assert_int_equal(s.rip, MIB + 0x200);
	free(img);
}

/* A kernel bigger than the in-memory head: read from the file into RAM. */
static void test_apply_linux_streamed(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	c->regions[0].size = 64 * MIB;
	bootfix_map(f);
	struct ib_bz b = ib_bz_default();
	b.pm_len = 3 * LOAD_LINUX_HEAD + 123;
	size_t len;
	uint8_t *img = ib_bzimage(&b, &len);
	bootfix_file(f, "bzImage", img, len, c->kernel_path,
		     sizeof(c->kernel_path));
	c->kernel_load_addr = MIB;
	c->boot_protocol = VM_BOOT_AUTO;
	c->cpu_mode = VM_CPU_PROTECTED;
	fill_ram(f, 0x5a);
	assert_int_equal(bootfix_load(f), 0);
	assert_string_equal(f->plan.protocol, "linux");
	const uint8_t *k = guest_mem_ptr(&f->mem, MIB, b.pm_len + 1);
	for (size_t i = 0; i < b.pm_len; i++)
		if (k[i] != ib_pattern(i, 5))
			fail_msg("kernel byte %zu differs", i);
	assert_int_equal(k[b.pm_len], 0x5a);		/* nothing beyond */
	free(img);
}

/* A file that is bigger than guest RAM is refused before it is read. */
static void test_image_larger_than_ram(void **state)
{
	struct bootfix *f = *state;
	struct vm_config *c = f->cfg;
	c->regions[0].size = 0x100000;
	bootfix_map(f);
	bootfix_pattern_file(f, "big", 0x100001, 1, c->kernel_path,
			     sizeof(c->kernel_path));
	c->boot_protocol = VM_BOOT_ELF;
	assert_int_equal(bootfix_load(f), -EFBIG);
	if (!strstr(f->err.msg, "larger than guest RAM"))
		fail_msg("%s", f->err.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define F(fn) cmocka_unit_test_setup_teardown(fn, setup_fix, teardown_fix)
		T(test_elf64_plan),
		T(test_elf32_plan),
		T(test_elf_entry_translation),
		T(test_elf_ramdisk_and_dtb),
		T(test_elf_header_errors),
		T(test_elf_segment_errors),
		T(test_elf32_wrap_and_entry),
		T(test_elf_segment_counts),
		T(test_pvh_plan),
		T(test_pvh_note_forms),
		T(test_pvh_malformed_notes),
		T(test_multiboot_aout),
		T(test_multiboot_module),
		T(test_multiboot_elf),
		T(test_multiboot_header_scan),
		T(test_multiboot_aout_errors),
		T(test_linux64_plan),
		T(test_linux32_plan),
		T(test_linux_initrd),
		T(test_linux_real_mode_plan),
		T(test_linux_header_errors),
		T(test_linux_load_address),
		T(test_linux_init_size),
		T(test_linux_head_only),
		T(test_memory_map),
		T(test_cmdline_limit),
		T(test_no_low_ram),
		T(test_detection_probes),
		F(test_apply_pvh),
		F(test_apply_linux),
		F(test_apply_linux_streamed),
		F(test_image_larger_than_ram),
#undef T
#undef F
	};
	return cmocka_run_group_tests_name("loaders", tests, NULL, NULL);
}
