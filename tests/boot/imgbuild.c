/*
 * imgbuild: synthesized kernel images for the loader tests (imgbuild.h).
 */
#include "imgbuild.h"

#include <stdlib.h>
#include <string.h>

void ib_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void ib_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void ib_put64(uint8_t *p, uint64_t v)
{
	ib_put32(p, (uint32_t)v);
	ib_put32(p + 4, (uint32_t)(v >> 32));
}

uint32_t ib_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t ib_get64(const uint8_t *p)
{
	return ib_get32(p) | (uint64_t)ib_get32(p + 4) << 32;
}

static size_t ehdr_size(int bits)
{
	return bits == 32 ? 52 : 64;
}

static size_t phent(int bits)
{
	return bits == 32 ? 32 : 56;
}

size_t ib_phdr_off(int bits, size_t i)
{
	return ehdr_size(bits) + i * phent(bits);
}

static size_t notes_size(const struct ib_note *n, size_t nn)
{
	size_t s = 0;
	for (size_t i = 0; i < nn; i++)
		s += 12 + ((strlen(n[i].name) + 1 + 3) & ~3u) +
		     ((n[i].desclen + 3) & ~3u);
	return s;
}

static void write_notes(uint8_t *p, const struct ib_note *n, size_t nn)
{
	for (size_t i = 0; i < nn; i++) {
		size_t namesz = strlen(n[i].name) + 1;
		ib_put32(p, (uint32_t)namesz);
		ib_put32(p + 4, n[i].desclen);
		ib_put32(p + 8, n[i].type);
		memcpy(p + 12, n[i].name, namesz);
		p += 12 + ((namesz + 3) & ~3u);
		memcpy(p, n[i].desc, n[i].desclen);
		p += (n[i].desclen + 3) & ~3u;
	}
}

void ib_set_phdr(uint8_t *img, int bits, size_t i, const char *field,
		 uint64_t v)
{
	uint8_t *p = img + ib_phdr_off(bits, i);
	static const struct { const char *name; size_t off32, off64; } f[] = {
		{ "type", 0, 0 }, { "offset", 4, 8 }, { "vaddr", 8, 16 },
		{ "paddr", 12, 24 }, { "filesz", 16, 32 }, { "memsz", 20, 40 },
		{ "align", 28, 48 },
	};
	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		if (strcmp(f[k].name, field))
			continue;
		if (bits == 32 || !strcmp(field, "type"))
			ib_put32(p + (bits == 32 ? f[k].off32 : f[k].off64),
				 (uint32_t)v);
		else
			ib_put64(p + f[k].off64, v);
	}
}

static void write_ehdr(uint8_t *img, int bits, uint64_t entry, size_t phnum)
{
	memcpy(img, "\x7f" "ELF", 4);
	img[4] = bits == 32 ? 1 : 2;
	img[5] = 1;
	img[6] = 1;
	ib_put16(img + 16, 2);				/* ET_EXEC */
	ib_put16(img + 18, bits == 32 ? 3 : 62);
	ib_put32(img + 20, 1);
	if (bits == 32) {
		ib_put32(img + 24, (uint32_t)entry);
		ib_put32(img + 28, 52);
		ib_put16(img + 40, 52);
		ib_put16(img + 42, 32);
		ib_put16(img + 44, (uint16_t)phnum);
	} else {
		ib_put64(img + 24, entry);
		ib_put64(img + 32, 64);
		ib_put16(img + 52, 64);
		ib_put16(img + 54, 56);
		ib_put16(img + 56, (uint16_t)phnum);
	}
}

uint8_t *ib_elf(int bits, uint64_t entry, const struct ib_seg *segs,
		size_t nseg, const struct ib_note *notes, size_t nnotes,
		size_t *len, uint64_t *seg_off)
{
	size_t phnum = nseg + (nnotes ? 1 : 0);
	size_t note_off = ib_phdr_off(bits, phnum), nsz = notes_size(notes,
								      nnotes);
	size_t off = (note_off + nsz + 0xfff) & ~(size_t)0xfff;
	size_t total = off;
	for (size_t i = 0; i < nseg; i++)
		total += (segs[i].filesz + 0xfff) & ~(size_t)0xfff;
	uint8_t *img = calloc(1, total ? total : 1);
	if (!img)
		return NULL;
	write_ehdr(img, bits, entry, phnum);
	for (size_t i = 0; i < nseg; i++) {
		ib_set_phdr(img, bits, i, "type", segs[i].type ? segs[i].type : 1);
		ib_set_phdr(img, bits, i, "offset", off);
		ib_set_phdr(img, bits, i, "vaddr", segs[i].vaddr);
		ib_set_phdr(img, bits, i, "paddr", segs[i].paddr);
		ib_set_phdr(img, bits, i, "filesz", segs[i].filesz);
		ib_set_phdr(img, bits, i, "memsz", segs[i].memsz);
		ib_set_phdr(img, bits, i, "align", 0x1000);
		for (uint64_t b = 0; b < segs[i].filesz; b++)
			img[off + b] = ib_pattern(b, segs[i].seed);
		if (seg_off)
			seg_off[i] = off;
		off += (segs[i].filesz + 0xfff) & ~(size_t)0xfff;
	}
	if (nnotes) {
		ib_set_phdr(img, bits, nseg, "type", 4);
		ib_set_phdr(img, bits, nseg, "offset", note_off);
		ib_set_phdr(img, bits, nseg, "filesz", nsz);
		ib_set_phdr(img, bits, nseg, "memsz", nsz);
		ib_set_phdr(img, bits, nseg, "align", 4);
		write_notes(img + note_off, notes, nnotes);
	}
	*len = total;
	return img;
}

struct ib_bz ib_bz_default(void)
{
	return (struct ib_bz){
		.setup_sects = 4, .version = 0x20f, .loadflags = 0x1,
		.relocatable = 1, .xloadflags = 0x1 | 0x2,
		.code32_start = 0x100000, .initrd_addr_max = 0x7fffffff,
		.kernel_alignment = 0x200000, .cmdline_size = 2047,
		.init_size = 0x800000, .pref_address = 0x1000000,
		.pm_len = 0x3000,
	};
}

uint8_t *ib_bzimage(const struct ib_bz *b, size_t *len)
{
	size_t rm = ((size_t)(b->setup_sects ? b->setup_sects : 4) + 1) * 512;
	size_t total = rm + b->pm_len;
	uint8_t *img = malloc(total);
	if (!img)
		return NULL;
	for (size_t i = 0; i < total; i++)
		img[i] = i < rm ? ib_pattern(i, 3) : ib_pattern(i - rm, 5);
	memset(img + 0x1f1, 0, 0x26c - 0x1f1);
	img[0x1f1] = b->setup_sects;
	ib_put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;				/* jmp over the header */
	img[0x201] = 0x26c - 0x202;
	memcpy(img + 0x202, "HdrS", 4);
	ib_put16(img + 0x206, b->version);
	img[0x211] = b->loadflags;
	ib_put32(img + 0x214, b->code32_start);
	ib_put32(img + 0x22c, b->initrd_addr_max);
	ib_put32(img + 0x230, b->kernel_alignment);
	img[0x234] = b->relocatable;
	ib_put16(img + 0x236, b->xloadflags);
	ib_put32(img + 0x238, b->cmdline_size);
	ib_put64(img + 0x258, b->pref_address);
	ib_put32(img + 0x260, b->init_size);
	*len = total;
	return img;
}

uint8_t *ib_multiboot(const struct ib_mb *m, size_t len)
{
	uint8_t *img = malloc(len);
	if (!img)
		return NULL;
	for (size_t i = 0; i < len; i++)
		img[i] = ib_pattern(i, 9);
	uint8_t *h = img + m->hdr_off;
	ib_put32(h, 0x1BADB002);
	ib_put32(h + 4, m->flags);
	ib_put32(h + 8, (uint32_t)-(0x1BADB002u + m->flags));
	ib_put32(h + 12, m->header_addr);
	ib_put32(h + 16, m->load_addr);
	ib_put32(h + 20, m->load_end);
	ib_put32(h + 24, m->bss_end);
	ib_put32(h + 28, m->entry);
	return img;
}
