/*
 * elf: ELF32/ELF64 parsing (program headers, PT_LOAD segments by physical
 * address, PT_NOTE notes) shared by the ELF, multiboot and PVH loaders,
 * and the plain ELF boot: segments loaded at p_paddr with their bss
 * zeroed, then ELF32 entered in protected mode and ELF64 in long mode on
 * cvisor's identity page tables (boot.h), at e_entry translated through
 * the segment that holds it.  Nothing is passed to the kernel.
 */
#include "loader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define EM_386 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_NOTE 4
#define EHDR32_SIZE 52u
#define EHDR64_SIZE 64u
#define PHDR32_SIZE 32u
#define PHDR64_SIZE 56u
#define FOUR_GIB (1ull << 32)

bool elf_is_elf(const uint8_t *img, uint64_t len)
{
	return len >= 4 && !memcmp(img, "\x7f" "ELF", 4);
}

static int check_ident(const uint8_t *img, uint64_t len, struct elf_info *e,
		       struct cv_err *err)
{
	if (!elf_is_elf(img, len))
		return cv_err_set(err, EINVAL,
				  "the image is not an ELF file (no \\x7fELF magic)");
	if (len < EHDR32_SIZE)
		return cv_err_set(err, EINVAL,
				  "the image is truncated: %llu bytes cannot hold an ELF header",
				  (unsigned long long)len);
	if (img[4] != ELFCLASS32 && img[4] != ELFCLASS64)
		return cv_err_set(err, EINVAL,
				  "the image has an unknown ELF class %u (expected 1 for ELF32 or 2 for ELF64)",
				  img[4]);
	e->bits = img[4] == ELFCLASS32 ? 32 : 64;
	if (e->bits == 64 && len < EHDR64_SIZE)
		return cv_err_set(err, EINVAL,
				  "the image is truncated: %llu bytes cannot hold an ELF64 header",
				  (unsigned long long)len);
	if (img[5] != ELFDATA2LSB)
		return cv_err_set(err, EINVAL,
				  "the image is not a little-endian ELF file (EI_DATA %u)",
				  img[5]);
	if (img[6] != 1)
		return cv_err_set(err, EINVAL,
				  "the image has ELF version %u, expected 1", img[6]);
	return 0;
}

static int check_type(const uint8_t *img, const struct elf_info *e,
		      struct cv_err *err)
{
	uint16_t type = ld_le16(img + 16), machine = ld_le16(img + 18);
	uint16_t want = e->bits == 32 ? EM_386 : EM_X86_64;
	if (type != ET_EXEC)
		return cv_err_set(err, EINVAL,
				  "the image is an ELF file of type %u, but only executables (ET_EXEC) can be booted",
				  type);
	if (machine != want)
		return cv_err_set(err, EINVAL,
				  "the image is an ELF%d file for machine %u, expected %u (%s)",
				  e->bits, machine, want,
				  e->bits == 32 ? "i386" : "x86-64");
	return 0;
}

static int read_ehdr(const uint8_t *img, uint64_t len, struct elf_info *e,
		     struct cv_err *err)
{
	unsigned want = e->bits == 32 ? PHDR32_SIZE : PHDR64_SIZE;
	if (e->bits == 32) {
		e->entry = ld_le32(img + 24);
		e->phoff = ld_le32(img + 28);
		e->phentsize = ld_le16(img + 42);
		e->phnum = ld_le16(img + 44);
	} else {
		e->entry = ld_le64(img + 24);
		e->phoff = ld_le64(img + 32);
		e->phentsize = ld_le16(img + 54);
		e->phnum = ld_le16(img + 56);
	}
	if (e->phentsize != want)
		return cv_err_set(err, EINVAL,
				  "the image has program headers of %u bytes, expected %u",
				  e->phentsize, want);
	if (e->phnum == 0)
		return cv_err_set(err, EINVAL, "the image has no program headers");
	if (e->phnum > ELF_MAX_PHDRS)
		return cv_err_set(err, EINVAL,
				  "the image has %u program headers, more than the %d cvisor accepts",
				  e->phnum, ELF_MAX_PHDRS);
	uint64_t table = (uint64_t)e->phnum * e->phentsize;
	if (e->phoff > len || table > len - e->phoff)
		return cv_err_set(err, EINVAL,
				  "the image has its program header table at offset 0x%llx (0x%llx bytes), past the end of the %llu-byte file",
				  (unsigned long long)e->phoff,
				  (unsigned long long)table,
				  (unsigned long long)len);
	return 0;
}

struct phdr {
	uint32_t type;
	uint64_t off, vaddr, paddr, filesz, memsz, align;
};

static void read_phdr(const uint8_t *img, const struct elf_info *e,
		      unsigned i, struct phdr *ph)
{
	const uint8_t *p = img + e->phoff + (uint64_t)i * e->phentsize;
	ph->type = ld_le32(p);
	if (e->bits == 32) {
		ph->off = ld_le32(p + 4);
		ph->vaddr = ld_le32(p + 8);
		ph->paddr = ld_le32(p + 12);
		ph->filesz = ld_le32(p + 16);
		ph->memsz = ld_le32(p + 20);
		ph->align = ld_le32(p + 28);
	} else {
		ph->off = ld_le64(p + 8);
		ph->vaddr = ld_le64(p + 16);
		ph->paddr = ld_le64(p + 24);
		ph->filesz = ld_le64(p + 32);
		ph->memsz = ld_le64(p + 40);
		ph->align = ld_le64(p + 48);
	}
}

static int check_load(const struct phdr *ph, unsigned i, uint64_t len,
		      int bits, struct cv_err *err)
{
	uint64_t limit = bits == 32 ? FOUR_GIB : 1ull << 52;
	if (ph->filesz > ph->memsz)
		return cv_err_set(err, EINVAL,
				  "the image has segment %u with p_filesz 0x%llx larger than p_memsz 0x%llx",
				  i, (unsigned long long)ph->filesz,
				  (unsigned long long)ph->memsz);
	if (ph->off > len || ph->filesz > len - ph->off)
		return cv_err_set(err, EINVAL,
				  "the image has segment %u whose file bytes [0x%llx, +0x%llx) reach past the end of the %llu-byte file",
				  i, (unsigned long long)ph->off,
				  (unsigned long long)ph->filesz,
				  (unsigned long long)len);
	if (ph->paddr >= limit || ph->memsz > limit - ph->paddr)
		return cv_err_set(err, EINVAL,
				  "the image has segment %u at physical 0x%llx (0x%llx bytes), which wraps past the end of the %d-bit address space",
				  i, (unsigned long long)ph->paddr,
				  (unsigned long long)ph->memsz,
				  bits == 32 ? 32 : 52);
	if (ph->vaddr + ph->memsz < ph->vaddr && bits == 64)
		return cv_err_set(err, EINVAL,
				  "the image has segment %u whose virtual range wraps around",
				  i);
	return 0;
}

static int collect_segments(const uint8_t *img, uint64_t len,
			    struct elf_info *e, struct cv_err *err)
{
	e->nseg = 0;
	for (unsigned i = 0; i < e->phnum; i++) {
		struct phdr ph;
		read_phdr(img, e, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		int rc = check_load(&ph, i, len, e->bits, err);
		if (rc)
			return rc;
		if (e->nseg >= ELF_MAX_LOAD)
			return cv_err_set(err, EINVAL,
					  "the image has more than %d loadable segments",
					  ELF_MAX_LOAD);
		e->seg[e->nseg++] = (struct elf_seg){
			ph.paddr, ph.vaddr, ph.off, ph.filesz, ph.memsz };
	}
	if (!e->nseg)
		return cv_err_set(err, EINVAL,
				  "the image has no loadable (PT_LOAD) segment");
	return 0;
}

int elf_parse(const uint8_t *img, uint64_t len, struct elf_info *e,
	      struct cv_err *err)
{
	memset(e, 0, sizeof(*e));
	int rc = check_ident(img, len, e, err);
	if (!rc)
		rc = check_type(img, e, err);
	if (!rc)
		rc = read_ehdr(img, len, e, err);
	if (!rc)
		rc = collect_segments(img, len, e, err);
	return rc;
}

int elf_virt_to_phys(const struct elf_info *e, uint64_t va, uint64_t *pa)
{
	for (size_t i = 0; i < e->nseg; i++) {
		const struct elf_seg *s = &e->seg[i];
		if (va >= s->vaddr && va - s->vaddr < s->memsz) {
			*pa = s->paddr + (va - s->vaddr);
			return 0;
		}
	}
	return -EINVAL;
}

int elf_add_segments(const struct elf_info *e, struct load_plan *p,
		     const char *who, struct cv_err *err)
{
	for (size_t i = 0; i < e->nseg; i++) {
		const struct elf_seg *s = &e->seg[i];
		char what[40];
		snprintf(what, sizeof(what), "%s segment %zu", who, i);
		int rc = load_add_copy(p, s->paddr, s->memsz, LOAD_SRC_IMAGE,
				       s->off, s->filesz, what, err);
		if (rc)
			return rc;
	}
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* One note at pos in [pos, end): 1 = match, 0 = next, <0 = malformed. */
static int read_note(const uint8_t *img, uint64_t *pos, uint64_t end,
		     uint64_t align, const char *name, uint32_t type,
		     const uint8_t **desc, uint32_t *desclen,
		     struct cv_err *err)
{
	uint64_t namesz = ld_le32(img + *pos), descsz = ld_le32(img + *pos + 4);
	uint32_t ntype = ld_le32(img + *pos + 8);
	uint64_t name_off = *pos + 12;
	uint64_t desc_off = name_off + align_up(namesz, align);
	if (desc_off > end || descsz > end - desc_off)
		return cv_err_set(err, EINVAL,
				  "the image has an ELF note at offset 0x%llx whose name or descriptor runs past its PT_NOTE segment",
				  (unsigned long long)*pos);
	*pos = desc_off + align_up(descsz, align);
	size_t want = strlen(name) + 1;
	if (ntype != type || namesz != want ||
	    memcmp(img + name_off, name, want))
		return 0;
	*desc = img + desc_off;
	*desclen = (uint32_t)descsz;
	return 1;
}

static int scan_notes(const uint8_t *img, const struct phdr *ph,
		      const char *name, uint32_t type, const uint8_t **desc,
		      uint32_t *desclen, struct cv_err *err)
{
	uint64_t align = ph->align == 8 ? 8 : 4;
	uint64_t pos = ph->off, end = ph->off + ph->filesz;
	while (pos < end && end - pos >= 12) {
		int rc = read_note(img, &pos, end, align, name, type, desc,
				   desclen, err);
		if (rc)
			return rc;
	}
	return 0;
}

int elf_find_note(const uint8_t *img, uint64_t len, const struct elf_info *e,
		  const char *name, uint32_t type, const uint8_t **desc,
		  uint32_t *desclen, struct cv_err *err)
{
	for (unsigned i = 0; i < e->phnum; i++) {
		struct phdr ph;
		read_phdr(img, e, i, &ph);
		if (ph.type != PT_NOTE)
			continue;
		if (ph.off > len || ph.filesz > len - ph.off)
			return cv_err_set(err, EINVAL,
					  "the image has a PT_NOTE segment (header %u) that reaches past the end of the file",
					  i);
		int rc = scan_notes(img, &ph, name, type, desc, desclen, err);
		if (rc)
			return rc;
	}
	return 0;
}

int elf_entry(const struct elf_info *e, uint64_t *entry, struct cv_err *err)
{
	if (elf_virt_to_phys(e, e->entry, entry))
		return cv_err_set(err, EINVAL,
				  "the image has its entry point 0x%llx outside every loadable segment",
				  (unsigned long long)e->entry);
	if (*entry >= FOUR_GIB)
		return cv_err_set(err, EINVAL,
				  "the image has its entry point at physical 0x%llx, above the 4 GiB cvisor maps",
				  (unsigned long long)*entry);
	return 0;
}

int load_elf(const struct load_in *in, struct load_plan *p,
	     struct cv_err *err)
{
	struct elf_info e;
	uint64_t entry = 0;
	load_plan_init(p, "elf");
	if (load_need_whole_image(in, err))
		return -EINVAL;
	int rc = elf_parse(in->image, in->image_len, &e, err);
	if (!rc)
		rc = elf_entry(&e, &entry, err);
	if (!rc)
		rc = load_add_gdt(p, err);
	if (!rc && e.bits == 64)
		rc = load_add_page_tables(p, err);
	if (!rc)
		rc = elf_add_segments(&e, p, "ELF", err);
	if (!rc)
		rc = load_add_side_images(in, p, true, err);
	if (rc)
		return rc;
	load_state_flat(&p->bsp, e.bits == 64 ? VM_CPU_LONG : VM_CPU_PROTECTED,
			entry);
	return load_finish(in, p, err);
}
