/*
 * mkseeds: writes the seed corpus of fuzz_loaders (tests/fuzz/loader-
 * seeds): valid and malformed multiboot, ELF, PVH and bzImage images made
 * with imgbuild.c, each behind the machine-selector byte fuzz_loaders
 * reads first.  Usage: mkseeds DIR.  The committed corpus also holds the
 * built guests (mboot, elf64, elf32, pvh, axkernel) the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imgbuild.h"

/* selector bits (fuzz_loaders.c) */
#define SEL_RAM256 0x01
#define SEL_PROTECTED 0x04
#define SEL_REAL 0x08
#define SEL_RAMDISK 0x10
#define SEL_DTB 0x20
#define SEL_APPLY 0x80

static int save(const char *dir, const char *name, uint8_t sel,
		const uint8_t *img, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fputc(sel, f) == EOF || fwrite(img, 1, len, f) != len ||
	    fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

static int elf_seeds(const char *dir)
{
	struct ib_seg s[2] = {
		{ 0, 0x200000, 0x200000, 0x300, 0x300, 1 },
		{ 0, 0x300000, 0x300000, 0x40, 0x2000, 2 },
	};
	size_t len;
	int bad = 0;
	uint8_t *img = ib_elf(64, 0x200010, s, 2, NULL, 0, &len, NULL);
	bad |= save(dir, "elf64-ok", SEL_APPLY, img, len);
	ib_put16(img + 56, 0xffff);
	bad |= save(dir, "elf64-phnum-huge", 0, img, len);
	ib_put16(img + 56, 2);
	ib_put64(img + 32, UINT64_MAX - 8);
	bad |= save(dir, "elf64-phoff-wrap", 0, img, len);
	ib_put64(img + 32, 64);
	ib_set_phdr(img, 64, 1, "filesz", 0x3000);
	bad |= save(dir, "elf64-filesz-gt-memsz", 0, img, len);
	ib_set_phdr(img, 64, 1, "filesz", 0x40);
	ib_set_phdr(img, 64, 1, "paddr", 0x200100);
	bad |= save(dir, "elf64-overlap", 0, img, len);
	ib_set_phdr(img, 64, 1, "paddr", 0xfffffffffffff000ull);
	bad |= save(dir, "elf64-paddr-wrap", 0, img, len);
	bad |= save(dir, "elf64-truncated", 0, img, 50);
	free(img);
	img = ib_elf(32, 0x300000, s, 2, NULL, 0, &len, NULL);
	bad |= save(dir, "elf32-ok", SEL_APPLY | SEL_RAMDISK, img, len);
	ib_set_phdr(img, 32, 0, "offset", 0xfffffff0u);
	bad |= save(dir, "elf32-offset-past-end", 0, img, len);
	free(img);
	return bad;
}

static int pvh_seeds(const char *dir)
{
	uint8_t desc[8] = { 0x40, 0x00, 0x10, 0x00, 0, 0, 0, 0 };
	struct ib_note n[2] = { { "GNU", 3, "abcd", 4 },
				{ "Xen", 18, desc, 4 } };
	struct ib_seg s = { 0, 0x100000, 0xffffffff81000000ull, 0x200, 0x800,
			    6 };
	size_t len;
	int bad = 0;
	uint8_t *img = ib_elf(64, 0xffffffff81000000ull, &s, 1, n, 2, &len,
			      NULL);
	bad |= save(dir, "pvh64-ok", SEL_APPLY | SEL_RAMDISK, img, len);
	uint64_t noff = ib_get64(img + 64 + 56 + 8);
	ib_put32(img + noff, 0xfffffffcu);
	bad |= save(dir, "pvh64-namesz-huge", 0, img, len);
	free(img);
	n[1].desclen = 8;
	img = ib_elf(32, 0x81000000u, &s, 1, n, 2, &len, NULL);
	bad |= save(dir, "pvh32-desc8", SEL_APPLY, img, len);
	free(img);
	return bad;
}

static int multiboot_seeds(const char *dir)
{
	struct ib_mb m = { 0x40, 0x10003, 0x100040, 0x100000, 0x100800,
			   0x102000, 0x100080 };
	int bad = 0;
	uint8_t *img = ib_multiboot(&m, 0x1000);
	bad |= save(dir, "mb-aout-ok", SEL_APPLY, img, 0x1000);
	bad |= save(dir, "mb-aout-module", SEL_APPLY | SEL_RAMDISK | SEL_DTB,
		    img, 0x1000);
	bad |= save(dir, "mb-aout-truncated", 0, img, 0x50);
	ib_put32(img + 0x48, 1);
	bad |= save(dir, "mb-bad-checksum", 0, img, 0x1000);
	free(img);
	m.load_end = 0x200000;
	img = ib_multiboot(&m, 0x1000);
	bad |= save(dir, "mb-load-end-past-file", 0, img, 0x1000);
	free(img);
	m.load_end = 0x100800;
	m.entry = 0x300000;
	img = ib_multiboot(&m, 0x1000);
	bad |= save(dir, "mb-entry-outside", 0, img, 0x1000);
	free(img);
	/* an ELF with a header and no flag 16 */
	struct ib_seg s = { 0, 0x200000, 0x200000, 0x100, 0x100, 1 };
	size_t len;
	img = ib_elf(32, 0x200000, &s, 1, NULL, 0, &len, NULL);
	ib_put32(img + 0x1000, 0x1BADB002);
	ib_put32(img + 0x1004, 0x3);
	ib_put32(img + 0x1008, (uint32_t)-(0x1BADB002u + 3));
	bad |= save(dir, "mb-elf-ok", SEL_APPLY, img, len);
	free(img);
	return bad;
}

static int bz_seeds(const char *dir)
{
	struct ib_bz b = ib_bz_default();
	b.pm_len = 0x800;
	size_t len;
	int bad = 0;
	uint8_t *img = ib_bzimage(&b, &len);
	bad |= save(dir, "bz-long", SEL_APPLY, img, len);
	bad |= save(dir, "bz-long-ramdisk", SEL_RAM256 | SEL_RAMDISK, img, len);
	bad |= save(dir, "bz-protected", SEL_PROTECTED, img, len);
	bad |= save(dir, "bz-real", SEL_REAL | SEL_APPLY | SEL_RAMDISK, img,
		    len);
	bad |= save(dir, "bz-truncated-setup", 0, img, 0x300);
	free(img);
	b.version = 0x209;
	b.xloadflags = 0;
	img = ib_bzimage(&b, &len);
	bad |= save(dir, "bz-2.09", SEL_PROTECTED, img, len);
	free(img);
	b = ib_bz_default();
	b.pm_len = 0x400;
	b.loadflags = 0;
	img = ib_bzimage(&b, &len);
	bad |= save(dir, "bz-zimage", 0, img, len);
	free(img);
	b.loadflags = 1;
	b.kernel_alignment = 0x123;
	b.init_size = 0xffffffffu;
	img = ib_bzimage(&b, &len);
	bad |= save(dir, "bz-bad-align-init", 0, img, len);
	free(img);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	int bad = elf_seeds(argv[1]) | pvh_seeds(argv[1]) |
		  multiboot_seeds(argv[1]) | bz_seeds(argv[1]);
	return bad ? 1 : 0;
}
