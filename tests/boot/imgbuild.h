/*
 * imgbuild: synthesizes kernel images for the loader tests and the fuzz
 * seed corpus: ELF32/ELF64 files with chosen segments and notes, bzImages
 * with a chosen setup header, and flat images with a multiboot header.
 * Every builder returns a malloc'd buffer the caller frees.  Segment
 * bytes follow ib_pattern() so tests can check what was copied.
 */
#ifndef IMGBUILD_H
#define IMGBUILD_H

#include <stddef.h>
#include <stdint.h>

struct ib_seg {
	uint32_t type;			/* 0 = PT_LOAD */
	uint64_t paddr, vaddr;
	uint64_t filesz, memsz;
	unsigned seed;			/* ib_pattern seed of the file bytes */
};

struct ib_note {
	const char *name;
	uint32_t type;
	const void *desc;
	uint32_t desclen;
};

/* Byte i of a pattern. */
static inline uint8_t ib_pattern(uint64_t i, unsigned seed)
{
	return (uint8_t)(i * 7 + seed);
}

/*
 * An ELF executable: header, program headers (segments, then one PT_NOTE
 * holding all notes when nnotes > 0), notes, then each segment's file
 * bytes 4 KiB-aligned.  *seg_off gets each segment's file offset (may be
 * NULL).
 */
uint8_t *ib_elf(int bits, uint64_t entry, const struct ib_seg *segs,
		size_t nseg, const struct ib_note *notes, size_t nnotes,
		size_t *len, uint64_t *seg_off);

/* Offsets of ELF fields, for tests that corrupt them. */
size_t ib_phdr_off(int bits, size_t i);
void ib_set_phdr(uint8_t *img, int bits, size_t i, const char *field,
		 uint64_t v);

struct ib_bz {
	uint8_t setup_sects;
	uint16_t version;
	uint8_t loadflags, relocatable;
	uint16_t xloadflags;
	uint32_t code32_start, initrd_addr_max, kernel_alignment;
	uint32_t cmdline_size, init_size;
	uint64_t pref_address;
	size_t pm_len;			/* protected-mode kernel bytes */
};

/* A modern default: 2.15, relocatable, 64-bit entry, 2 MiB alignment. */
struct ib_bz ib_bz_default(void);
uint8_t *ib_bzimage(const struct ib_bz *b, size_t *len);

/* A flat image of len bytes with a multiboot header at hdr_off. */
struct ib_mb {
	uint32_t hdr_off, flags;
	uint32_t header_addr, load_addr, load_end, bss_end, entry;
};
uint8_t *ib_multiboot(const struct ib_mb *m, size_t len);

void ib_put16(uint8_t *p, uint16_t v);
void ib_put32(uint8_t *p, uint32_t v);
void ib_put64(uint8_t *p, uint64_t v);
uint32_t ib_get32(const uint8_t *p);
uint64_t ib_get64(const uint8_t *p);

#endif
