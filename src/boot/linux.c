/*
 * linux: the Linux x86 boot protocol (Documentation/arch/x86/boot.rst)
 * for bzImage kernels.  The setup header is checked (boot flag, "HdrS",
 * protocol 2.06 or later, LOADED_HIGH, alignment, init_size, command
 * line size), the protected-mode kernel is loaded at kernel_load_addr,
 * the initrd is placed as high as it may go (below initrd_addr_max, in
 * RAM, clear of the kernel and its decompression area) and the command
 * line goes to LOAD_CMDLINE_ADDR.  ramdisk_load_addr is not used: the
 * protocol lets the boot loader choose and the kernel is told where.
 *
 * cpu_mode picks the entry:
 *   long       64-bit entry at load + 0x200 (needs XLF_KERNEL_64), in long
 *              mode on cvisor's identity page tables, RSI = boot_params;
 *   protected  32-bit entry at load, flat segments (the boot GDT's 0x10
 *              and 0x18 are exactly __BOOT_CS and __BOOT_DS), ESI =
 *              boot_params;
 *   real       the 16-bit entry: the boot sector and setup code at
 *              0x10000 (segment 0x1000), heap to 0xe000, and cvisor's
 *              real-mode BIOS stub (rmbios.h) which answers INT 15h E820
 *              and jumps to 0x1020:0000 with the segment registers set.
 * For the 32- and 64-bit entries cvisor builds boot_params (the zero page)
 * from the image's setup header with the e820 map of the RAM regions.
 */
#include "loader.h"
#include "rmbios.h"

#include <errno.h>
#include <string.h>

#define HDR_SETUP_SECTS 0x1f1
#define HDR_VID_MODE 0x1fa
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_CODE32_START 0x214
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260
#define HDR_END 0x26c			/* end of the 2.15 header */
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_HDR_LIMIT 0x290		/* setup header space in boot_params */

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define VID_NORMAL 0xffff
#define LOADER_UNDEFINED 0xff
#define FOUR_GIB (1ull << 32)
#define MIB (1ull << 20)
#define PAGE 0x1000ull

/* Where everything goes; filled by plan_layout(). */
struct linux_layout {
	uint64_t load, pm_len;		/* protected-mode kernel */
	uint64_t run_start, run_len;	/* decompression area (2.10+) */
	uint64_t initrd;
};

bool linux_is_bzimage(const uint8_t *img, uint64_t len)
{
	return len >= HDR_MAGIC + 4 && ld_le16(img + HDR_BOOT_FLAG) == 0xaa55 &&
	       !memcmp(img + HDR_MAGIC, "HdrS", 4);
}

static int parse_sizes(const uint8_t *img, uint64_t len,
		       struct linux_hdr *h, struct cv_err *err)
{
	unsigned sects = img[HDR_SETUP_SECTS] ? img[HDR_SETUP_SECTS] : 4;
	h->rm_size = (uint64_t)(sects + 1) * 512;
	if (h->rm_size >= len)
		return cv_err_set(err, EINVAL,
				  "the bzImage ends inside its %llu bytes of setup code (setup_sects %u), so it has no protected-mode kernel",
				  (unsigned long long)h->rm_size, sects);
	h->hdr_end = HDR_MAGIC + (uint64_t)img[HDR_JUMP + 1];
	if (h->hdr_end > BP_HDR_LIMIT)
		h->hdr_end = BP_HDR_LIMIT;
	return 0;
}

static void parse_fields(const uint8_t *img, struct linux_hdr *h)
{
	h->version = ld_le16(img + HDR_VERSION);
	h->loadflags = img[HDR_LOADFLAGS];
	h->code32_start = ld_le32(img + HDR_CODE32_START);
	h->initrd_addr_max = ld_le32(img + HDR_INITRD_ADDR_MAX);
	h->kernel_alignment = ld_le32(img + HDR_KERNEL_ALIGNMENT);
	h->relocatable = img[HDR_RELOCATABLE];
	h->cmdline_size = ld_le32(img + HDR_CMDLINE_SIZE);
	h->xloadflags = h->version >= 0x20c ? ld_le16(img + HDR_XLOADFLAGS) : 0;
	h->pref_address = h->version >= 0x20a ?
			  ld_le64(img + HDR_PREF_ADDRESS) : 0;
	h->init_size = h->version >= 0x20a ? ld_le32(img + HDR_INIT_SIZE) : 0;
}

static int check_header(const struct linux_hdr *h, struct cv_err *err)
{
	if (h->version < 0x206)
		return cv_err_set(err, EINVAL,
				  "the bzImage speaks boot protocol %u.%02u, but cvisor needs 2.06 or later",
				  h->version >> 8, h->version & 0xff);
	if (!(h->loadflags & LOADED_HIGH))
		return cv_err_set(err, EINVAL,
				  "the image is a zImage (LOADED_HIGH clear in loadflags), which must load at 0x10000; only bzImage kernels are supported");
	if (h->relocatable && (h->kernel_alignment == 0 ||
			       (h->kernel_alignment & (h->kernel_alignment - 1))))
		return cv_err_set(err, EINVAL,
				  "the bzImage has kernel_alignment 0x%x, which is not a power of two",
				  h->kernel_alignment);
	return 0;
}

int linux_parse(const uint8_t *img, uint64_t avail, uint64_t len,
		struct linux_hdr *h, struct cv_err *err)
{
	memset(h, 0, sizeof(*h));
	if (avail > len || avail < (len < BP_HDR_LIMIT ? len : BP_HDR_LIMIT))
		return cv_err_set(err, EINVAL,
				  "only %llu of the bzImage's %llu bytes were read, too few for its setup header",
				  (unsigned long long)avail,
				  (unsigned long long)len);
	if (len < HDR_MAGIC + 6)
		return cv_err_set(err, EINVAL,
				  "the image is too short (%llu bytes) to hold a Linux setup header",
				  (unsigned long long)len);
	if (ld_le16(img + HDR_BOOT_FLAG) != 0xaa55)
		return cv_err_set(err, EINVAL,
				  "the image has no boot flag 0xAA55 at offset 0x1fe, so it is not a bzImage");
	if (memcmp(img + HDR_MAGIC, "HdrS", 4))
		return cv_err_set(err, EINVAL,
				  "the image has no \"HdrS\" setup header signature at offset 0x202");
	int rc = parse_sizes(img, len, h, err);
	if (rc)
		return rc;
	if (h->rm_size > avail)
		return cv_err_set(err, EINVAL,
				  "only %llu bytes of the bzImage were read, less than its %llu bytes of setup code",
				  (unsigned long long)avail,
				  (unsigned long long)h->rm_size);
	parse_fields(img, h);
	return check_header(h, err);
}

static int check_entry_mode(const struct linux_hdr *h, enum vm_cpu_mode m,
			    struct cv_err *err)
{
	if (m == VM_CPU_LONG && !(h->xloadflags & XLF_KERNEL_64))
		return cv_err_set(err, EINVAL,
				  "the bzImage has no 64-bit entry point (XLF_KERNEL_64 not set, protocol %u.%02u); use cpu_mode = \"protected\" or \"real\"",
				  h->version >> 8, h->version & 0xff);
	if (m == VM_CPU_REAL && h->rm_size > LOAD_RM_MAX)
		return cv_err_set(err, EINVAL,
				  "the bzImage setup code is %llu bytes, more than the %llu the 16-bit entry has room for",
				  (unsigned long long)h->rm_size,
				  (unsigned long long)LOAD_RM_MAX);
	return 0;
}

static int check_cmdline(const struct load_in *in, const struct linux_hdr *h,
			 struct cv_err *err)
{
	size_t n = strnlen(in->cmdline, VMCFG_CMDLINE_MAX);
	if (n > h->cmdline_size)
		return cv_err_set(err, EINVAL,
				  "the command line is %zu bytes, but this kernel accepts at most %u (cmdline_size)",
				  n, h->cmdline_size);
	return 0;
}

static int check_load_addr(const struct linux_hdr *h, uint64_t load,
			   uint64_t pm_len, struct cv_err *err)
{
	if (load < MIB)
		return cv_err_set(err, EINVAL,
				  "kernel_load_addr 0x%llx is below 1 MiB; a bzImage kernel loads high (normally at 0x100000)",
				  (unsigned long long)load);
	if (load >= FOUR_GIB || pm_len > FOUR_GIB - load)
		return cv_err_set(err, EINVAL,
				  "the kernel at kernel_load_addr 0x%llx (0x%llx bytes) would reach past 4 GiB",
				  (unsigned long long)load,
				  (unsigned long long)pm_len);
	if (!h->relocatable && load != h->code32_start)
		return cv_err_set(err, EINVAL,
				  "the kernel is not relocatable and must be loaded at 0x%x (code32_start), not at kernel_load_addr 0x%llx",
				  h->code32_start, (unsigned long long)load);
	/* 2.10+ kernels realign themselves; older ones need it done */
	if (h->relocatable && h->version < 0x20a &&
	    (load & (h->kernel_alignment - 1)))
		return cv_err_set(err, EINVAL,
				  "kernel_load_addr 0x%llx is not a multiple of the kernel's alignment 0x%x",
				  (unsigned long long)load, h->kernel_alignment);
	return 0;
}

/* Where the decompressor runs: boot.rst's init_size rule (head_64.S). */
static void runtime_area(const struct linux_hdr *h, struct linux_layout *l)
{
	if (h->version < 0x20a || !h->init_size)
		return;
	uint64_t start = h->pref_address;
	if (h->relocatable) {
		uint64_t a = h->kernel_alignment;
		uint64_t up = (l->load + a - 1) & ~(a - 1);
		if (up > start)
			start = up;
	}
	l->run_start = start;
	l->run_len = h->init_size;
}

static int check_runtime_area(const struct load_in *in,
			      const struct linux_layout *l,
			      struct cv_err *err)
{
	if (!l->run_len)
		return 0;
	if (l->run_start >= FOUR_GIB || l->run_len > FOUR_GIB - l->run_start ||
	    !load_find_ram(in, l->run_start, l->run_len))
		return cv_err_set(err, ERANGE,
				  "the kernel needs 0x%llx bytes of RAM at 0x%llx to decompress itself (init_size), but no RAM region holds them",
				  (unsigned long long)l->run_len,
				  (unsigned long long)l->run_start);
	return 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* The first busy range [a, a+len) touches, or NULL. */
static const struct load_copy *busy_at(const struct load_plan *p,
				       const struct linux_layout *l,
				       uint64_t a, uint64_t len,
				       struct load_copy *run)
{
	if (overlaps(a, len, l->run_start, l->run_len)) {
		run->gpa = l->run_start;
		run->len = l->run_len;
		return run;
	}
	for (size_t i = 0; i < p->ncopy; i++)
		if (overlaps(a, len, p->copy[i].gpa, p->copy[i].len))
			return &p->copy[i];
	return NULL;
}

/* Highest page-aligned spot in one RAM entry below top, or 0. */
static uint64_t place_in(const struct load_plan *p,
			 const struct linux_layout *l,
			 const struct load_map_entry *m, uint64_t top,
			 uint64_t size)
{
	struct load_copy run;
	uint64_t end = m->addr + m->size < top ? m->addr + m->size : top;
	for (size_t tries = 0; tries <= p->ncopy + 1; tries++) {
		if (end < size || ((end - size) & ~(PAGE - 1)) < m->addr)
			return 0;
		uint64_t a = (end - size) & ~(PAGE - 1);
		const struct load_copy *b = busy_at(p, l, a, size, &run);
		if (!b)
			return a;
		end = b->gpa;
	}
	return 0;
}

static int place_initrd(const struct load_in *in, const struct linux_hdr *h,
			const struct load_plan *p, struct linux_layout *l,
			struct cv_err *err)
{
	struct load_map_entry map[LOAD_MAX_MAP];
	size_t n = load_memory_map(in, map, LOAD_MAX_MAP);
	uint64_t top = (uint64_t)h->initrd_addr_max + 1;
	if (top > FOUR_GIB)
		top = FOUR_GIB;
	for (size_t i = n; i-- > 0;) {
		if (map[i].type != LOAD_MEM_RAM || map[i].addr < MIB)
			continue;
		l->initrd = place_in(p, l, &map[i], top, in->ramdisk_size);
		if (l->initrd)
			return 0;
	}
	return cv_err_set(err, ERANGE,
			  "there is no free RAM for the %llu-byte initrd below initrd_addr_max 0x%x, above 1 MiB and clear of the kernel",
			  (unsigned long long)in->ramdisk_size,
			  h->initrd_addr_max);
}

/* Fields a boot loader fills in, in a header at hdr (image offsets). */
static void patch_header(uint8_t *base, const struct load_in *in,
			 const struct linux_layout *l)
{
	ld_put16(base + HDR_VID_MODE, VID_NORMAL);
	base[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	ld_put32(base + HDR_CODE32_START, (uint32_t)l->load);
	ld_put32(base + HDR_CMD_LINE_PTR, (uint32_t)LOAD_CMDLINE_ADDR);
	ld_put32(base + HDR_RAMDISK_IMAGE,
		 in->has_ramdisk ? (uint32_t)l->initrd : 0);
	ld_put32(base + HDR_RAMDISK_SIZE,
		 in->has_ramdisk ? (uint32_t)in->ramdisk_size : 0);
}

static void fill_e820(uint8_t *entries, size_t max,
		      const struct load_map_entry *m, size_t n, size_t *count)
{
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = entries + i * 20;
		ld_put64(e, m[i].addr);
		ld_put64(e + 8, m[i].size);
		ld_put32(e + 16, m[i].type);
	}
	*count = n;
}

/* boot_params for the 32- and 64-bit entries. */
static int add_zero_page(const struct load_in *in, const struct linux_hdr *h,
			 const struct linux_layout *l, struct load_plan *p,
			 struct cv_err *err)
{
	struct load_map_entry map[LOAD_MAX_MAP];
	size_t n = load_memory_map(in, map, LOAD_MAX_MAP), count;
	uint8_t *bp;
	int rc = load_add_arena(p, LOAD_INFO_ADDR, LOAD_INFO_SIZE,
				"Linux boot_params", &bp, err);
	if (rc)
		return rc;
	memcpy(bp + HDR_SETUP_SECTS, in->image + HDR_SETUP_SECTS,
	       h->hdr_end - HDR_SETUP_SECTS);
	patch_header(bp, in, l);
	fill_e820(bp + BP_E820_TABLE, BP_E820_MAX, map, n, &count);
	bp[BP_E820_ENTRIES] = (uint8_t)count;
	return 0;
}

/* The 16-bit entry: setup code, IVT and the BIOS stub. */
static int add_real_mode(const struct load_in *in, const struct linux_hdr *h,
			 const struct linux_layout *l, struct load_plan *p,
			 uint16_t *stub_ip, struct cv_err *err)
{
	uint8_t *rm, *ivt, *bios;
	size_t bios_len = (size_t)(cv_rmbios_end - cv_rmbios_start);
	int rc = load_add_arena(p, LOAD_RM_ADDR, h->rm_size,
				"Linux setup code", &rm, err);
	if (!rc)
		rc = load_add_arena(p, LOAD_IVT_ADDR, 1024,
				    "real-mode interrupt vectors", &ivt, err);
	if (!rc)
		rc = load_add_arena(p, LOAD_BIOS_ADDR, bios_len,
				    "real-mode BIOS stub", &bios, err);
	if (rc)
		return rc;
	memcpy(rm, in->image, h->rm_size);
	patch_header(rm, in, l);
	rm[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	ld_put16(rm + HDR_HEAP_END_PTR, (uint16_t)(LOAD_RM_HEAP_END - 0x200));

	memcpy(bios, cv_rmbios_start, bios_len);
	struct load_map_entry map[LOAD_MAX_MAP];
	size_t n = load_memory_map(in, map, LOAD_MAX_MAP), count;
	fill_e820(bios + RMBIOS_OFF_E820, RMBIOS_E820_MAX, map, n, &count);
	ld_put16(bios + RMBIOS_OFF_E820_COUNT, (uint16_t)count);
	ld_put16(bios + RMBIOS_OFF_RM_SEG, (uint16_t)(LOAD_RM_ADDR >> 4));
	ld_put16(bios + RMBIOS_OFF_RM_SP, (uint16_t)LOAD_RM_HEAP_END);
	for (unsigned v = 0; v < 256; v++) {
		uint16_t off = ld_le16(bios + (v == 0x15 ? RMBIOS_OFF_INT15_PTR :
					       RMBIOS_OFF_IRET_PTR));
		ld_put16(ivt + 4 * v, off);
		ld_put16(ivt + 4 * v + 2, RMBIOS_SEG);
	}
	*stub_ip = ld_le16(bios + RMBIOS_OFF_ENTRY_PTR);
	return 0;
}

static int plan_layout(const struct load_in *in, const struct linux_hdr *h,
		       struct linux_layout *l, struct cv_err *err)
{
	memset(l, 0, sizeof(*l));
	l->load = in->kernel_load_addr;
	l->pm_len = in->image_len - h->rm_size;
	int rc = check_entry_mode(h, in->cpu_mode, err);
	if (!rc)
		rc = check_cmdline(in, h, err);
	if (!rc)
		rc = check_load_addr(h, l->load, l->pm_len, err);
	if (rc)
		return rc;
	runtime_area(h, l);
	return check_runtime_area(in, l, err);
}

/* Nothing else may sit where the kernel decompresses itself. */
static int check_clear_of_runtime(const struct load_plan *p,
				  const struct linux_layout *l,
				  struct cv_err *err)
{
	for (size_t i = 1; i < p->ncopy; i++)	/* [0] is the kernel */
		if (overlaps(p->copy[i].gpa, p->copy[i].len, l->run_start,
			     l->run_len))
			return cv_err_set(err, EINVAL,
					  "the %s at 0x%llx lies where the kernel decompresses itself [0x%llx, 0x%llx)",
					  p->copy[i].what,
					  (unsigned long long)p->copy[i].gpa,
					  (unsigned long long)l->run_start,
					  (unsigned long long)(l->run_start +
							       l->run_len));
	return 0;
}

static int add_boot_data(const struct load_in *in, const struct linux_hdr *h,
			 struct linux_layout *l, struct load_plan *p,
			 uint16_t *stub_ip, struct cv_err *err)
{
	int rc = load_add_cmdline(in, p, err);
	if (!rc && in->cpu_mode != VM_CPU_REAL)
		rc = load_add_gdt(p, err);
	if (!rc && in->cpu_mode == VM_CPU_LONG)
		rc = load_add_page_tables(p, err);
	if (!rc)
		rc = load_add_side_images(in, p, false, err);
	if (!rc && in->has_ramdisk)
		rc = place_initrd(in, h, p, l, err);
	if (!rc && in->has_ramdisk)
		rc = load_add_copy(p, l->initrd, in->ramdisk_size,
				   LOAD_SRC_RAMDISK, 0, in->ramdisk_size,
				   "initrd", err);
	if (!rc)
		rc = in->cpu_mode == VM_CPU_REAL ?
		     add_real_mode(in, h, l, p, stub_ip, err) :
		     add_zero_page(in, h, l, p, err);
	return rc ? rc : check_clear_of_runtime(p, l, err);
}

static void set_entry(const struct load_in *in, const struct linux_layout *l,
		      uint16_t stub_ip, struct load_plan *p)
{
	switch (in->cpu_mode) {
	case VM_CPU_REAL:
		load_state_real(&p->bsp, RMBIOS_SEG, stub_ip);
		return;
	case VM_CPU_PROTECTED:
		load_state_flat(&p->bsp, VM_CPU_PROTECTED, l->load);
		break;
	case VM_CPU_LONG:
		load_state_flat(&p->bsp, VM_CPU_LONG, l->load + 0x200);
		break;
	}
	p->bsp.rsi = LOAD_INFO_ADDR;
}

int load_linux(const struct load_in *in, struct load_plan *p,
	       struct cv_err *err)
{
	struct linux_hdr h;
	struct linux_layout l;
	uint16_t stub_ip = 0;
	load_plan_init(p, "linux");
	uint64_t avail = in->image_avail ? in->image_avail : in->image_len;
	int rc = linux_parse(in->image, avail, in->image_len, &h, err);
	if (!rc)
		rc = plan_layout(in, &h, &l, err);
	if (!rc)
		rc = load_add_copy(p, l.load, l.pm_len, LOAD_SRC_IMAGE,
				   h.rm_size, l.pm_len, "Linux kernel", err);
	if (!rc)
		rc = add_boot_data(in, &h, &l, p, &stub_ip, err);
	if (rc)
		return rc;
	set_entry(in, &l, stub_ip, p);
	return load_finish(in, p, err);
}
