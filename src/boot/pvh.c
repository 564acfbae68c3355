/*
 * pvh: the Xen PVH direct boot, as Linux, FreeBSD and unikernels use it
 * under KVM.  The kernel is an ELF file whose XEN_ELFNOTE_PHYS32_ENTRY
 * note (type 18, owner "Xen") gives a 32-bit physical entry point; its
 * PT_LOAD segments are loaded by physical address.  cvisor builds
 * hvm_start_info (magic 0x336ec578, version 1) in the boot information
 * page with the memory map, the command line and the ramdisk as the one
 * module, and rsdp_paddr = the RSDP of cvisor's ACPI tables (acpi.h) when
 * the VM has them, else 0.  Entry: 32-bit protected
 * mode, flat segments, paging off, EBX = hvm_start_info.
 */
#include "loader.h"

#include <errno.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18u
#define HVM_START_MAGIC 0x336ec578u
#define HVM_START_VERSION 1u
#define SI_OFF_MODLIST 0x40u
#define SI_OFF_MEMMAP 0x80u
#define MEMMAP_ENTRY_SIZE 24u
#define FOUR_GIB (1ull << 32)

static int read_entry_note(const uint8_t *desc, uint32_t desclen,
			   uint64_t *entry, struct cv_err *err)
{
	if (desclen == 4)
		*entry = ld_le32(desc);
	else if (desclen == 8)
		*entry = ld_le64(desc);
	else
		return cv_err_set(err, EINVAL,
				  "the PVH entry note has a %u-byte value, expected 4 or 8",
				  desclen);
	if (*entry >= FOUR_GIB)
		return cv_err_set(err, EINVAL,
				  "the PVH entry point 0x%llx lies above 4 GiB, out of reach of a 32-bit entry",
				  (unsigned long long)*entry);
	return 0;
}

/* 1 and the entry when the note is there, 0 when absent, <0 malformed. */
static int find_entry(const uint8_t *img, uint64_t len,
		      const struct elf_info *e, uint64_t *entry,
		      struct cv_err *err)
{
	const uint8_t *desc = NULL;
	uint32_t desclen = 0;
	int rc = elf_find_note(img, len, e, "Xen", XEN_ELFNOTE_PHYS32_ENTRY,
			       &desc, &desclen, err);
	if (rc <= 0)
		return rc;
	rc = read_entry_note(desc, desclen, entry, err);
	return rc ? rc : 1;
}

bool pvh_has_entry_note(const uint8_t *img, uint64_t len)
{
	struct elf_info e;
	uint64_t entry;
	return elf_parse(img, len, &e, NULL) == 0 &&
	       find_entry(img, len, &e, &entry, NULL) == 1;
}

static int check_entry_loaded(const struct elf_info *e, uint64_t entry,
			      struct cv_err *err)
{
	for (size_t i = 0; i < e->nseg; i++)
		if (entry >= e->seg[i].paddr &&
		    entry - e->seg[i].paddr < e->seg[i].memsz)
			return 0;
	return cv_err_set(err, EINVAL,
			  "the PVH entry point 0x%llx lies outside every loadable segment",
			  (unsigned long long)entry);
}

static void fill_memmap(uint8_t *page, const struct load_map_entry *m,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = page + SI_OFF_MEMMAP + i * MEMMAP_ENTRY_SIZE;
		ld_put64(e, m[i].addr);
		ld_put64(e + 8, m[i].size);
		ld_put32(e + 16, m[i].type);
	}
	ld_put64(page + 40, LOAD_INFO_ADDR + SI_OFF_MEMMAP);
	ld_put32(page + 48, (uint32_t)n);
}

static void fill_module(const struct load_in *in, uint8_t *page)
{
	if (!in->has_ramdisk)
		return;
	uint8_t *mod = page + SI_OFF_MODLIST;
	ld_put32(page + 12, 1);
	ld_put64(page + 16, LOAD_INFO_ADDR + SI_OFF_MODLIST);
	ld_put64(mod, in->ramdisk_addr);
	ld_put64(mod + 8, in->ramdisk_size);
}

/* hvm_start_info, its module list and memory map: one page. */
static int add_start_info(const struct load_in *in, struct load_plan *p,
			  struct cv_err *err)
{
	struct load_map_entry map[LOAD_MAX_MAP];
	size_t n = load_memory_map(in, map, LOAD_MAX_MAP);
	size_t max = (LOAD_INFO_SIZE - SI_OFF_MEMMAP) / MEMMAP_ENTRY_SIZE;
	uint8_t *page;
	int rc = load_add_arena(p, LOAD_INFO_ADDR, LOAD_INFO_SIZE,
				"hvm_start_info", &page, err);
	if (rc)
		return rc;
	ld_put32(page, HVM_START_MAGIC);
	ld_put32(page + 4, HVM_START_VERSION);
	ld_put64(page + 24, LOAD_CMDLINE_ADDR);
	ld_put64(page + 32, in->acpi_rsdp);	/* rsdp_paddr */
	fill_module(in, page);
	fill_memmap(page, map, n < max ? n : max);
	return 0;
}

int load_pvh(const struct load_in *in, struct load_plan *p,
	     struct cv_err *err)
{
	struct elf_info e;
	uint64_t entry = 0;
	load_plan_init(p, "pvh");
	if (load_need_whole_image(in, err))
		return -EINVAL;
	int rc = elf_parse(in->image, in->image_len, &e, err);
	if (!rc) {
		rc = find_entry(in->image, in->image_len, &e, &entry, err);
		if (rc == 0)
			rc = cv_err_set(err, EINVAL,
					"the ELF image has no XEN_ELFNOTE_PHYS32_ENTRY note (type 18), so it has no PVH entry point");
		else if (rc == 1)
			rc = check_entry_loaded(&e, entry, err);
	}
	if (!rc)
		rc = load_add_gdt(p, err);
	if (!rc)
		rc = elf_add_segments(&e, p, "PVH ELF", err);
	if (!rc)
		rc = add_start_info(in, p, err);
	if (!rc)
		rc = load_add_cmdline(in, p, err);
	if (!rc)
		rc = load_add_side_images(in, p, true, err);
	if (rc)
		return rc;
	load_state_flat(&p->bsp, VM_CPU_PROTECTED, entry);
	p->bsp.rbx = LOAD_INFO_ADDR;
	return load_finish(in, p, err);
}
