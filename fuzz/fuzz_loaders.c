/*
 * fuzz_loaders: libFuzzer target for the kernel-format loaders (multiboot,
 * ELF, PVH, Linux bzImage; src/boot/loader.h).  Input byte 0 picks the
 * machine (RAM layout, Linux entry mode, ramdisk, dtb, command line),
 * whether only the image's first 4 KiB are in memory (a separate heap
 * block, so reading past it is caught) and whether the plan is also
 * written to guest memory; the rest is the kernel image.  Every format
 * probe and every loader runs on each input.
 *
 * Besides "no crash, no UB, no out-of-bounds access", each plan a loader
 * accepts is checked against the contract by code independent of plan.c:
 * every copy lies inside one RAM region, no two copies overlap, every
 * source range lies inside its source, and the entry point is in RAM.
 * A broken contract traps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot_int.h"
#include "loader.h"

#define MIB (1ull << 20)
#define APPLY_RAM (16 * MIB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct vm_mem_region regions[3];
	struct load_in in;
	char cmdline[VMCFG_CMDLINE_MAX + 8];
};

static void set_regions(struct machine *m, unsigned layout)
{
	struct vm_mem_region *r = m->regions;
	switch (layout) {
	case 0:
		r[0] = (struct vm_mem_region){ 0, APPLY_RAM, 7, 0, 0 };
		m->in.nregions = 1;
		break;
	case 1:
		r[0] = (struct vm_mem_region){ 0, 256 * MIB, 7, 0, 0 };
		m->in.nregions = 1;
		break;
	case 2:
		r[0] = (struct vm_mem_region){ 0, 32 * MIB, 7, 0, 0 };
		r[1] = (struct vm_mem_region){ 32 * MIB, MIB, 7,
					       VM_MAP_RESERVED, 0 };
		r[2] = (struct vm_mem_region){ 0xfff00000ull, 2 * MIB, 7, 0,
					       0 };
		m->in.nregions = 3;
		break;
	default:
		r[0] = (struct vm_mem_region){ MIB, 64 * MIB, 7, 0, 0 };
		m->in.nregions = 1;
		break;
	}
}

static void set_machine(struct machine *m, uint8_t sel, const uint8_t *img,
			size_t len)
{
	static const enum vm_cpu_mode modes[] = {
		VM_CPU_LONG, VM_CPU_PROTECTED, VM_CPU_REAL, VM_CPU_LONG,
	};
	memset(m, 0, sizeof(*m));
	set_regions(m, sel & 3);
	m->in.regions = m->regions;
	m->in.image = img;
	m->in.image_len = len;
	m->in.cpu_mode = modes[(sel >> 2) & 3];
	m->in.kernel_load_addr = (sel & 0x40) ? 0x200000 : MIB;
	m->in.has_ramdisk = (sel & 0x10) != 0;
	m->in.ramdisk_addr = 0x800000;
	m->in.ramdisk_size = 0x1801;
	m->in.has_dtb = (sel & 0x20) != 0;
	m->in.dtb_addr = 0x900000;
	m->in.dtb_size = 0x100;
	/* the bzImage head-only case: only the setup code is in memory */
	if ((sel & 0xc0) == 0xc0 && len > 4096)
		m->in.image_avail = 4096;
	size_t n = (sel & 0x40) ? VMCFG_CMDLINE_MAX - 1 : 12;
	memset(m->cmdline, 'c', n);
	m->in.cmdline = m->cmdline;
}

static const struct vm_mem_region *ram_for(const struct machine *m,
					   uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < m->in.nregions; i++) {
		const struct vm_mem_region *r = &m->regions[i];
		if (r->map_type != VM_MAP_RESERVED && len && gpa >= r->gpa &&
		    gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

static void check_copy(const struct machine *m, const struct load_plan *p,
		       const struct load_copy *c)
{
	if (!ram_for(m, c->gpa, c->len) || c->src_len > c->len)
		__builtin_trap();
	uint64_t limit = c->src == LOAD_SRC_IMAGE ? m->in.image_len :
			 c->src == LOAD_SRC_ARENA ? p->arena_used :
			 c->src == LOAD_SRC_RAMDISK ? m->in.ramdisk_size :
			 c->src == LOAD_SRC_DTB ? m->in.dtb_size : c->len;
	if (p->arena_used > LOAD_ARENA_SIZE || c->off > limit ||
	    c->src_len > limit - c->off)
		__builtin_trap();
}

static void check_plan(const struct machine *m, const struct load_plan *p)
{
	if (p->ncopy > LOAD_MAX_COPIES)
		__builtin_trap();
	for (size_t i = 0; i < p->ncopy; i++) {
		const struct load_copy *a = &p->copy[i];
		check_copy(m, p, a);
		for (size_t j = 0; j < i; j++) {
			const struct load_copy *b = &p->copy[j];
			if (a->gpa < b->gpa + b->len && b->gpa < a->gpa + a->len)
				__builtin_trap();
		}
	}
	const struct boot_cpu_state *s = &p->bsp;
	uint64_t entry = s->mode == VM_CPU_REAL ?
			 ((uint64_t)s->real_cs << 4) + s->rip : s->rip;
	if (!ram_for(m, entry, 1))
		__builtin_trap();
}

/* Write the plan into a 16 MiB guest (layout 0 only). */
static void apply(const struct machine *m, const struct load_plan *p)
{
	static uint8_t *ram;
	static const uint8_t side[0x1801];
	if (!ram && !(ram = malloc(APPLY_RAM)))
		return;
	struct guest_mem mem = { .n = 1 };
	mem.r[0] = (struct guest_region){ 0, APPLY_RAM, ram, 7 };
	struct boot_src rd = { .what = "ramdisk", .fd = -1, .data = side,
			       .size = m->in.ramdisk_size };
	struct boot_src dtb = { .what = "dtb", .fd = -1, .data = side,
				.size = m->in.dtb_size };
	struct boot_plan out;
	memset(&out, 0, sizeof(out));
	if (m->in.image_avail && m->in.image_avail < m->in.image_len)
		return;			/* the rest would come from a file */
	if (load_plan_apply(p, &m->in, NULL, &rd, &dtb, &mem, &out, NULL))
		__builtin_trap();	/* a checked plan must apply */
}

static void probes(const uint8_t *img, size_t len)
{
	struct elf_info e;
	struct linux_hdr h;
	const uint8_t *desc;
	uint32_t dlen;
	(void)linux_is_bzimage(img, len);
	(void)multiboot_find_header(img, len);
	(void)pvh_has_entry_note(img, len);
	(void)linux_parse(img, len, len, &h, NULL);
	if (elf_is_elf(img, len) && elf_parse(img, len, &e, NULL) == 0)
		(void)elf_find_note(img, len, &e, "Xen", 18, &desc, &dlen,
				    NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	static int (*const loaders[])(const struct load_in *,
				      struct load_plan *, struct cv_err *) = {
		load_multiboot, load_elf, load_pvh, load_linux,
	};
	struct machine *m = malloc(sizeof(*m));
	struct load_plan *p = malloc(sizeof(*p));
	uint8_t *head = NULL;
	struct cv_err err;
	if (m && p) {
		set_machine(m, data[0], data + 1, size - 1);
		if (m->in.image_avail) {
			head = malloc(m->in.image_avail);
			if (!head)
				goto out;
			memcpy(head, data + 1, m->in.image_avail);
			m->in.image = head;
		}
		probes(data + 1, size - 1);
		for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++) {
			cv_err_clear(&err);
			int rc = loaders[i](&m->in, p, &err);
			if (rc > 0 || (rc < 0 && !err.msg[0]))
				__builtin_trap();	/* -errno + a sentence */
			if (rc)
				continue;
			check_plan(m, p);
			if ((data[0] & 0x83) == 0x80)
				apply(m, p);
		}
	}
out:
	free(head);
	free(m);
	free(p);
	return 0;
}
