/*
 * loader: the kernel-format boot protocols (multiboot 1, ELF32/ELF64, PVH,
 * Linux bzImage).  Each loader is a pure function from the image bytes and
 * a description of the machine (struct load_in) to a load plan: a list of
 * guest-physical copies (from the image, from the plan's own arena of boot
 * structures, from the ramdisk/dtb file, or zero fill) and the BSP register
 * state.  Loaders never touch guest memory; load_plan_apply() writes a
 * finished plan.  So the parsers can be fuzzed on their own.
 *
 * Every value that comes from the image (offsets, sizes, counts,
 * addresses) is bounds-checked; a bad image gives one sentence in the
 * cv_err and -EINVAL (or -ERANGE when it does not fit in guest RAM).
 *
 * Guest-physical layout cvisor uses for these boots (below 1 MiB):
 *   0x00000-0x003ff  real-mode IVT (Linux 16-bit entry only)
 *   0x00500-0x0051f  boot GDT (boot.h), protected and long mode
 *   0x00520-0x00523  AP parking loop (cli; hlt; jmp) until INIT/SIPI
 *   0x01000-0x06fff  identity page tables (boot.h), long mode
 *   0x09000-0x09fff  boot information page: multiboot info + memory map,
 *                    hvm_start_info + memory map, or Linux boot_params
 *   0x10000-0x17fff  Linux real-mode setup code (16-bit entry), heap to
 *                    0x1dfff, stack top 0x1e000
 *   0x20000-0x20fff  kernel command line
 *   0xe0000-0xe0fff  ACPI tables (acpi.h), when RAM is there
 *   0xf0000-0xfffff  cvisor's real-mode BIOS stub (Linux 16-bit entry)
 * Images may not overlap any of these; the memory map given to the guest
 * marks 0xa0000-0xfffff reserved (the PC's legacy hole).
 */
#ifndef CV_LOADER_H
#define CV_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "err.h"
#include "memory.h"
#include "vmconfig.h"

#define LOAD_IVT_ADDR 0x0ull
#define LOAD_AP_PARK_ADDR 0x520ull
#define LOAD_INFO_ADDR 0x9000ull
#define LOAD_INFO_SIZE 0x1000ull
#define LOAD_RM_ADDR 0x10000ull		/* Linux real-mode code, seg 0x1000 */
#define LOAD_RM_MAX 0x8000ull		/* boot sector + setup, at most */
#define LOAD_RM_HEAP_END 0xe000ull	/* offset from LOAD_RM_ADDR */
#define LOAD_CMDLINE_ADDR 0x20000ull
#define LOAD_BIOS_ADDR 0xf0000ull
#define LOAD_HOLE_START 0xa0000ull	/* legacy VGA/ROM hole */
#define LOAD_HOLE_END 0x100000ull

#define LOAD_LINUX_HEAD 0x20000ull	/* 255 setup sectors + boot sector */
#define LOAD_MAX_COPIES 48
#define LOAD_ARENA_SIZE (96u * 1024u)
#define LOAD_MAX_MAP 128		/* memory map entries */

/* e820 / multiboot / PVH memory types (they agree) */
#define LOAD_MEM_RAM 1u
#define LOAD_MEM_RESERVED 2u

enum load_src {
	LOAD_SRC_ZERO,		/* zero fill */
	LOAD_SRC_IMAGE,		/* kernel image bytes at off */
	LOAD_SRC_ARENA,		/* the plan's arena at off */
	LOAD_SRC_RAMDISK,	/* the whole ramdisk file */
	LOAD_SRC_DTB,		/* the whole dtb file */
};

/* Write [gpa, gpa+len): src_len bytes from the source, then zeroes. */
struct load_copy {
	uint64_t gpa, len;
	enum load_src src;
	uint64_t off, src_len;
	char what[40];		/* "ELF segment 2", for messages */
};

/* What a loader knows about the machine and the config. */
struct load_in {
	const uint8_t *image;
	uint64_t image_len;		/* the whole image (file size) */
	/*
	 * Bytes present at `image`; 0 means all of them.  The multiboot, ELF
	 * and PVH loaders need the whole image; the Linux loader only its
	 * first LOAD_LINUX_HEAD bytes (the setup code): the kernel proper is
	 * read from the file straight into guest RAM when the plan is applied.
	 */
	uint64_t image_avail;
	const struct vm_mem_region *regions;
	size_t nregions;
	const char *cmdline;		/* never NULL */
	uint64_t kernel_load_addr;	/* Linux: the protected-mode kernel */
	enum vm_cpu_mode cpu_mode;	/* Linux: real = 16-bit entry,
					   protected = 32-bit, long = 64-bit */
	bool has_ramdisk;
	uint64_t ramdisk_addr, ramdisk_size;
	bool has_dtb;
	uint64_t dtb_addr, dtb_size;
	uint64_t acpi_rsdp;		/* where the RSDP will be; 0 = none */
};

struct load_map_entry {
	uint64_t addr, size;
	uint32_t type;			/* LOAD_MEM_* */
};

struct load_plan {
	char protocol[16];		/* "multiboot", "elf", "pvh", "linux" */
	struct boot_cpu_state bsp;
	struct boot_cpu_state ap;	/* parked until INIT/SIPI */
	struct load_copy copy[LOAD_MAX_COPIES];
	size_t ncopy;
	size_t arena_used;
	uint8_t arena[LOAD_ARENA_SIZE];
};

/* --- the loaders (each starts from a fresh plan) --- */
int load_multiboot(const struct load_in *in, struct load_plan *p,
		   struct cv_err *err);
int load_elf(const struct load_in *in, struct load_plan *p,
	     struct cv_err *err);
int load_pvh(const struct load_in *in, struct load_plan *p,
	     struct cv_err *err);
int load_linux(const struct load_in *in, struct load_plan *p,
	       struct cv_err *err);

/* --- format probes (cheap, never fail) --- */
/* Offset of a valid multiboot 1 header in the first 8 KiB, or -1. */
long multiboot_find_header(const uint8_t *img, uint64_t len);
bool linux_is_bzimage(const uint8_t *img, uint64_t len);
bool elf_is_elf(const uint8_t *img, uint64_t len);
/* An ELF with a parseable XEN_ELFNOTE_PHYS32_ENTRY note. */
bool pvh_has_entry_note(const uint8_t *img, uint64_t len);

/* --- ELF parsing shared by the ELF, multiboot and PVH loaders --- */
#define ELF_MAX_PHDRS 256
#define ELF_MAX_LOAD 32

struct elf_seg {
	uint64_t paddr, vaddr, off, filesz, memsz;
};

struct elf_info {
	int bits;			/* 32 or 64 */
	uint64_t entry;			/* e_entry as written */
	uint64_t phoff;
	unsigned phnum, phentsize;
	size_t nseg;			/* PT_LOAD with memsz > 0 */
	struct elf_seg seg[ELF_MAX_LOAD];
};

int elf_parse(const uint8_t *img, uint64_t len, struct elf_info *e,
	      struct cv_err *err);
/* The physical address of virtual address va (inside some PT_LOAD). */
int elf_virt_to_phys(const struct elf_info *e, uint64_t va, uint64_t *pa);
/* e_entry through the segment holding it; must lie below 4 GiB. */
int elf_entry(const struct elf_info *e, uint64_t *entry, struct cv_err *err);
/* Add one copy per segment; their labels start with `who`. */
int elf_add_segments(const struct elf_info *e, struct load_plan *p,
		     const char *who, struct cv_err *err);
/*
 * Look for note (name, type) in the PT_NOTE segments: 1 and the
 * descriptor when found, 0 when absent, -EINVAL when a note is malformed.
 */
int elf_find_note(const uint8_t *img, uint64_t len, const struct elf_info *e,
		  const char *name, uint32_t type, const uint8_t **desc,
		  uint32_t *desclen, struct cv_err *err);

/* --- the bzImage setup header (linux.c) --- */
struct linux_hdr {
	uint16_t version;
	uint8_t loadflags, relocatable;
	uint16_t xloadflags;
	uint32_t code32_start, initrd_addr_max, kernel_alignment;
	uint32_t cmdline_size, init_size;
	uint64_t pref_address;
	uint64_t rm_size;		/* boot sector + setup code */
	uint64_t hdr_end;		/* end of the header in the image */
};

/*
 * Read and check the setup header (protocol 2.06+, LOADED_HIGH, ...) of a
 * len-byte image of which the first avail bytes are at img.
 */
int linux_parse(const uint8_t *img, uint64_t avail, uint64_t len,
		struct linux_hdr *h, struct cv_err *err);

/* --- plan building (plan.c) --- */
void load_plan_init(struct load_plan *p, const char *protocol);
/* Reserve n zeroed arena bytes; NULL when the arena is full. */
uint8_t *load_arena(struct load_plan *p, size_t n, uint64_t *off);
int load_add_copy(struct load_plan *p, uint64_t gpa, uint64_t len,
		  enum load_src src, uint64_t off, uint64_t src_len,
		  const char *what, struct cv_err *err);
/* Plan n zeroed arena bytes at gpa; *out is where to fill them in. */
int load_add_arena(struct load_plan *p, uint64_t gpa, size_t n,
		   const char *what, uint8_t **out, struct cv_err *err);
/* Copy n bytes of data to the arena and plan them at gpa. */
int load_add_blob(struct load_plan *p, uint64_t gpa, const void *data,
		  size_t n, const char *what, struct cv_err *err);
/* The boot GDT (and page tables for long mode) as copies. */
int load_add_gdt(struct load_plan *p, struct cv_err *err);
int load_add_page_tables(struct load_plan *p, struct cv_err *err);

/*
 * The contents themselves, shared with the raw boot path: gdt is
 * BOOT_GDT_SIZE bytes, pt is BOOT_PT_END - BOOT_PT_ADDR bytes that will
 * live at BOOT_PT_ADDR.  Both are overwritten completely.
 */
void boot_fill_gdt(uint8_t *gdt);
void boot_fill_page_tables(uint8_t *pt);
/* The command line at LOAD_CMDLINE_ADDR (NUL-terminated). */
int load_add_cmdline(const struct load_in *in, struct load_plan *p,
		     struct cv_err *err);
/* The ramdisk / dtb at their configured addresses, when present. */
int load_add_side_images(const struct load_in *in, struct load_plan *p,
			 bool ramdisk, struct cv_err *err);

/* Register states: flat protected / long mode (boot GDT), real mode. */
void load_state_flat(struct boot_cpu_state *s, enum vm_cpu_mode mode,
		     uint64_t entry);
void load_state_real(struct boot_cpu_state *s, uint16_t cs, uint16_t ip);

/*
 * The guest's memory map from the RAM regions: sorted, adjacent entries
 * of one type merged, the legacy hole reserved.  Returns the count.
 */
size_t load_memory_map(const struct load_in *in, struct load_map_entry *map,
		       size_t max);
/* RAM region holding [gpa, gpa+len) whole, or NULL. */
const struct vm_mem_region *load_find_ram(const struct load_in *in,
					  uint64_t gpa, uint64_t len);

/*
 * Final checks every loader runs: each copy inside one RAM region, no
 * two copies overlapping, the image ranges inside the image, the entry
 * inside RAM.
 */
int load_plan_check(const struct load_in *in, const struct load_plan *p,
		    struct cv_err *err);

/* -EINVAL unless in holds the whole image (image_avail). */
int load_need_whole_image(const struct load_in *in, struct cv_err *err);
/* The AP parking loop, then load_plan_check(): every loader's last step. */
int load_finish(const struct load_in *in, struct load_plan *p,
		struct cv_err *err);

/*
 * Write a checked plan into guest memory.  Image bytes come from `in`
 * (what is in memory) or else from the kernel file; the ramdisk and dtb
 * from their files.  kernel, ramdisk and dtb may be NULL when the plan
 * does not need them.
 */
struct boot_src;
int load_plan_apply(const struct load_plan *p, const struct load_in *in,
		    const struct boot_src *kernel,
		    const struct boot_src *ramdisk, const struct boot_src *dtb,
		    struct guest_mem *mem, struct boot_plan *out,
		    struct cv_err *err);

/* Little-endian access to image and structure bytes. */
static inline uint16_t ld_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t ld_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t ld_le64(const uint8_t *p)
{
	return (uint64_t)ld_le32(p) | (uint64_t)ld_le32(p + 4) << 32;
}

static inline void ld_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void ld_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void ld_put64(uint8_t *p, uint64_t v)
{
	ld_put32(p, (uint32_t)v);
	ld_put32(p + 4, (uint32_t)(v >> 32));
}

#endif
