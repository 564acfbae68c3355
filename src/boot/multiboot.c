/*
 * multiboot: the multiboot 1 boot protocol.  The header (magic, flags,
 * checksum) is searched 4-byte aligned in the first 8 KiB; the kernel is
 * loaded from the header's address fields (a.out kludge, flag 16) or else
 * from its ELF segments.  cvisor builds the information structure in the
 * boot information page (loader.h): mem_lower/mem_upper, the memory map,
 * the command line, the boot loader name "cvisor" and the ramdisk as the
 * one module.  Entry: 32-bit protected mode, flat segments (boot GDT),
 * paging off, EAX = 0x2BADB002, EBX = the information structure.
 *
 * Required-feature flags 0 (page-aligned modules) and 1 (memory info) are
 * honoured; flag 2 (video mode) is accepted but no video information is
 * given (cvisor has no display); any other required flag is refused.
 */
#include "loader.h"

#include <errno.h>
#include <string.h>

#define MB_MAGIC 0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_SEARCH 8192u
#define MB_F_PAGE_ALIGN 0x1u
#define MB_F_MEMINFO 0x2u
#define MB_F_VIDEO 0x4u
#define MB_F_AOUT 0x10000u
#define MB_REQUIRED_MASK 0xffffu
#define MB_HDR_AOUT_SIZE 32u

/* multiboot_info flags and layout inside the information page */
#define MBI_F_MEM 0x1u
#define MBI_F_CMDLINE 0x4u
#define MBI_F_MODS 0x8u
#define MBI_F_MMAP 0x40u
#define MBI_F_LOADER_NAME 0x200u
#define MBI_OFF_MODULE 0x80u
#define MBI_OFF_NAME 0xa0u
#define MBI_OFF_MODSTR 0xb0u
#define MBI_OFF_MMAP 0x100u
#define MMAP_ENTRY_SIZE 24u
#define FOUR_GIB (1ull << 32)

long multiboot_find_header(const uint8_t *img, uint64_t len)
{
	uint64_t lim = len < MB_SEARCH ? len : MB_SEARCH;
	for (uint64_t off = 0; off + 12 <= lim; off += 4) {
		uint32_t magic = ld_le32(img + off);
		if (magic == MB_MAGIC &&
		    (uint32_t)(magic + ld_le32(img + off + 4) +
			       ld_le32(img + off + 8)) == 0)
			return (long)off;
	}
	return -1;
}

static int check_flags(uint32_t flags, struct cv_err *err)
{
	uint32_t unknown = flags & MB_REQUIRED_MASK &
			   ~(MB_F_PAGE_ALIGN | MB_F_MEMINFO | MB_F_VIDEO);
	if (unknown)
		return cv_err_set(err, EINVAL,
				  "the multiboot header requires features cvisor does not provide (flags 0x%x)",
				  unknown);
	return 0;
}

struct aout {
	uint32_t header_addr, load_addr, load_end, bss_end, entry;
};

static int aout_file_range(const struct aout *a, uint64_t hdr_off,
			   uint64_t len, uint64_t *file_off,
			   uint64_t *load_len, struct cv_err *err)
{
	if (a->load_addr > a->header_addr)
		return cv_err_set(err, EINVAL,
				  "the multiboot load_addr 0x%x lies above header_addr 0x%x",
				  a->load_addr, a->header_addr);
	uint64_t delta = a->header_addr - a->load_addr;
	if (delta > hdr_off)
		return cv_err_set(err, EINVAL,
				  "the multiboot load_addr 0x%x would start 0x%llx bytes before the beginning of the file",
				  a->load_addr,
				  (unsigned long long)(delta - hdr_off));
	*file_off = hdr_off - delta;
	if (!a->load_end) {
		*load_len = len - *file_off;
		return 0;
	}
	if (a->load_end < a->load_addr)
		return cv_err_set(err, EINVAL,
				  "the multiboot load_end_addr 0x%x lies below load_addr 0x%x",
				  a->load_end, a->load_addr);
	*load_len = (uint64_t)a->load_end - a->load_addr;
	if (*load_len > len - *file_off)
		return cv_err_set(err, EINVAL,
				  "the multiboot load_end_addr 0x%x lies past the end of the %llu-byte file",
				  a->load_end, (unsigned long long)len);
	return 0;
}

/* The a.out kludge: one range straight from the header's addresses. */
static int load_aout(const struct load_in *in, uint64_t hdr_off,
		     struct load_plan *p, struct cv_err *err)
{
	const uint8_t *h = in->image + hdr_off;
	if (in->image_len - hdr_off < MB_HDR_AOUT_SIZE)
		return cv_err_set(err, EINVAL,
				  "the multiboot header at offset 0x%llx is cut off by the end of the file",
				  (unsigned long long)hdr_off);
	struct aout a = { ld_le32(h + 12), ld_le32(h + 16), ld_le32(h + 20),
			  ld_le32(h + 24), ld_le32(h + 28) };
	uint64_t file_off = 0, load_len = 0;
	int rc = aout_file_range(&a, hdr_off, in->image_len, &file_off,
				 &load_len, err);
	if (rc)
		return rc;
	uint64_t mem_len = load_len;
	if (load_len > FOUR_GIB - a.load_addr)
		return cv_err_set(err, EINVAL,
				  "the multiboot image loaded at 0x%x (0x%llx bytes) reaches past 4 GiB",
				  a.load_addr, (unsigned long long)load_len);
	if (a.bss_end) {
		if (a.bss_end < a.load_addr + load_len)
			return cv_err_set(err, EINVAL,
					  "the multiboot bss_end_addr 0x%x lies below the end of the loaded image 0x%llx",
					  a.bss_end,
					  (unsigned long long)(a.load_addr + load_len));
		mem_len = (uint64_t)a.bss_end - a.load_addr;
	}
	if (!mem_len || a.entry < a.load_addr ||
	    a.entry - a.load_addr >= mem_len)
		return cv_err_set(err, EINVAL,
				  "the multiboot entry_addr 0x%x lies outside the loaded image [0x%x, 0x%llx)",
				  a.entry, a.load_addr,
				  (unsigned long long)(a.load_addr + mem_len));
	p->bsp.rip = a.entry;
	return load_add_copy(p, a.load_addr, mem_len, LOAD_SRC_IMAGE, file_off,
			     load_len, "multiboot kernel", err);
}

static int load_elf_kernel(const struct load_in *in, struct load_plan *p,
			   struct cv_err *err)
{
	struct elf_info e;
	if (!elf_is_elf(in->image, in->image_len))
		return cv_err_set(err, EINVAL,
				  "the multiboot header has no load addresses (flag 16) and the image is not an ELF file");
	int rc = elf_parse(in->image, in->image_len, &e, err);
	if (!rc)
		rc = elf_entry(&e, &p->bsp.rip, err);
	if (!rc)
		rc = elf_add_segments(&e, p, "multiboot ELF", err);
	return rc;
}

static int add_module(const struct load_in *in, uint32_t flags,
		      struct load_plan *p, struct cv_err *err)
{
	if (!in->has_ramdisk)
		return 0;
	if ((flags & MB_F_PAGE_ALIGN) && (in->ramdisk_addr & 0xfff))
		return cv_err_set(err, EINVAL,
				  "the kernel wants page-aligned modules, but ramdisk_load_addr 0x%llx is not a multiple of 4096",
				  (unsigned long long)in->ramdisk_addr);
	if (in->ramdisk_addr >= FOUR_GIB ||
	    in->ramdisk_size > FOUR_GIB - in->ramdisk_addr)
		return cv_err_set(err, EINVAL,
				  "a multiboot module must lie below 4 GiB, but the ramdisk ends at 0x%llx",
				  (unsigned long long)(in->ramdisk_addr +
						       in->ramdisk_size));
	return load_add_copy(p, in->ramdisk_addr, in->ramdisk_size,
			     LOAD_SRC_RAMDISK, 0, in->ramdisk_size,
			     "ramdisk (multiboot module)", err);
}

static void fill_mem_info(uint8_t *mbi, const struct load_map_entry *m,
			  size_t n)
{
	uint64_t lower = 0, upper = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i].type != LOAD_MEM_RAM)
			continue;
		if (m[i].addr == 0)
			lower = m[i].size < LOAD_HOLE_START ? m[i].size :
				LOAD_HOLE_START;
		if (m[i].addr == LOAD_HOLE_END)
			upper = m[i].size;
	}
	upper /= 1024;
	ld_put32(mbi + 4, (uint32_t)(lower / 1024));
	ld_put32(mbi + 8, upper > UINT32_MAX ? UINT32_MAX : (uint32_t)upper);
}

static void fill_mmap(uint8_t *page, const struct load_map_entry *m,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = page + MBI_OFF_MMAP + i * MMAP_ENTRY_SIZE;
		ld_put32(e, MMAP_ENTRY_SIZE - 4);
		ld_put64(e + 4, m[i].addr);
		ld_put64(e + 12, m[i].size);
		ld_put32(e + 20, m[i].type);
	}
	ld_put32(page + 44, (uint32_t)(n * MMAP_ENTRY_SIZE));
	ld_put32(page + 48, (uint32_t)(LOAD_INFO_ADDR + MBI_OFF_MMAP));
}

static void fill_module(const struct load_in *in, uint8_t *page)
{
	if (!in->has_ramdisk)
		return;
	uint8_t *mod = page + MBI_OFF_MODULE;
	ld_put32(page + 20, 1);
	ld_put32(page + 24, (uint32_t)(LOAD_INFO_ADDR + MBI_OFF_MODULE));
	ld_put32(mod, (uint32_t)in->ramdisk_addr);
	ld_put32(mod + 4, (uint32_t)(in->ramdisk_addr + in->ramdisk_size));
	ld_put32(mod + 8, (uint32_t)(LOAD_INFO_ADDR + MBI_OFF_MODSTR));
	memcpy(page + MBI_OFF_MODSTR, "ramdisk", 8);
}

/* The multiboot_info structure and what it points to, one page. */
static int add_info(const struct load_in *in, struct load_plan *p,
		    struct cv_err *err)
{
	struct load_map_entry map[LOAD_MAX_MAP];
	size_t n = load_memory_map(in, map, LOAD_MAX_MAP);
	size_t max = (LOAD_INFO_SIZE - MBI_OFF_MMAP) / MMAP_ENTRY_SIZE;
	uint8_t *page;
	int rc = load_add_arena(p, LOAD_INFO_ADDR, LOAD_INFO_SIZE,
				"multiboot information", &page, err);
	if (rc)
		return rc;
	if (n > max)
		n = max;
	ld_put32(page, MBI_F_MEM | MBI_F_CMDLINE | MBI_F_MODS | MBI_F_MMAP |
		       MBI_F_LOADER_NAME);
	fill_mem_info(page, map, n);
	ld_put32(page + 16, (uint32_t)LOAD_CMDLINE_ADDR);
	fill_module(in, page);
	fill_mmap(page, map, n);
	memcpy(page + MBI_OFF_NAME, "cvisor", 7);
	ld_put32(page + 64, (uint32_t)(LOAD_INFO_ADDR + MBI_OFF_NAME));
	return 0;
}

int load_multiboot(const struct load_in *in, struct load_plan *p,
		   struct cv_err *err)
{
	load_plan_init(p, "multiboot");
	if (load_need_whole_image(in, err))
		return -EINVAL;
	long off = multiboot_find_header(in->image, in->image_len);
	if (off < 0)
		return cv_err_set(err, EINVAL,
				  "the image has no multiboot header (magic 0x1BADB002 with a valid checksum) in its first 8 KiB");
	uint32_t flags = ld_le32(in->image + off + 4);
	int rc = check_flags(flags, err);
	if (!rc)
		rc = (flags & MB_F_AOUT) ? load_aout(in, (uint64_t)off, p, err)
					 : load_elf_kernel(in, p, err);
	uint64_t entry = p->bsp.rip;
	if (!rc)
		rc = load_add_gdt(p, err);
	if (!rc)
		rc = add_info(in, p, err);
	if (!rc)
		rc = load_add_cmdline(in, p, err);
	if (!rc)
		rc = add_module(in, flags, p, err);
	if (!rc)
		rc = load_add_side_images(in, p, false, err);
	if (rc)
		return rc;
	load_state_flat(&p->bsp, VM_CPU_PROTECTED, entry);
	p->bsp.rax = MB_BOOT_MAGIC;
	p->bsp.rbx = LOAD_INFO_ADDR;
	return load_finish(in, p, err);
}
