/*
 * plan: building, checking and applying the load plans of loader.h.  The
 * boot structures a loader builds (info pages, GDT, page tables, command
 * line) live in the plan's arena, so a plan is complete without guest
 * memory; load_plan_apply() is the only function here that writes guest
 * RAM.
 */
#include "boot_int.h"
#include "loader.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PAGE_2M (2ull << 20)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull
#define PHYS_LIMIT (1ull << 52)		/* x86's physical address width */

/* cli; hlt; jmp $-2: where an AP waits until INIT/SIPI lands */
static const uint8_t ap_park_code[] = { 0xfa, 0xf4, 0xeb, 0xfd };

void load_plan_init(struct load_plan *p, const char *protocol)
{
	memset(p, 0, offsetof(struct load_plan, arena));
	snprintf(p->protocol, sizeof(p->protocol), "%s", protocol);
}

uint8_t *load_arena(struct load_plan *p, size_t n, uint64_t *off)
{
	size_t start = (p->arena_used + 15) & ~(size_t)15;
	if (start > LOAD_ARENA_SIZE || n > LOAD_ARENA_SIZE - start)
		return NULL;
	p->arena_used = start + n;
	memset(p->arena + start, 0, n);
	*off = start;
	return p->arena + start;
}

int load_add_copy(struct load_plan *p, uint64_t gpa, uint64_t len,
		  enum load_src src, uint64_t off, uint64_t src_len,
		  const char *what, struct cv_err *err)
{
	if (!len)
		return 0;
	if (gpa >= PHYS_LIMIT || len > PHYS_LIMIT - gpa)
		return cv_err_set(err, EINVAL,
				  "the %s at 0x%llx (0x%llx bytes) reaches past the 52-bit physical address space",
				  what, (unsigned long long)gpa,
				  (unsigned long long)len);
	if (p->ncopy >= LOAD_MAX_COPIES)
		return cv_err_set(err, EINVAL,
				  "the image needs more than %d separate memory ranges",
				  LOAD_MAX_COPIES);
	struct load_copy *c = &p->copy[p->ncopy++];
	c->gpa = gpa;
	c->len = len;
	c->src = src;
	c->off = off;
	c->src_len = src_len < len ? src_len : len;
	snprintf(c->what, sizeof(c->what), "%s", what);
	return 0;
}

int load_add_arena(struct load_plan *p, uint64_t gpa, size_t n,
		   const char *what, uint8_t **out, struct cv_err *err)
{
	uint64_t off;
	*out = load_arena(p, n, &off);
	if (!*out)
		return cv_err_set(err, ENOSPC,
				  "no room left for the %s in the boot plan",
				  what);
	return load_add_copy(p, gpa, n, LOAD_SRC_ARENA, off, n, what, err);
}

int load_add_blob(struct load_plan *p, uint64_t gpa, const void *data,
		  size_t n, const char *what, struct cv_err *err)
{
	uint8_t *dst;
	int rc = load_add_arena(p, gpa, n, what, &dst, err);
	if (!rc)
		memcpy(dst, data, n);
	return rc;
}

void boot_fill_gdt(uint8_t *gdt)
{
	memset(gdt, 0, BOOT_GDT_SIZE);
	ld_put64(gdt + BOOT_SEL_CODE64, BOOT_DESC_CODE64);
	ld_put64(gdt + BOOT_SEL_CODE32, BOOT_DESC_CODE32);
	ld_put64(gdt + BOOT_SEL_DATA, BOOT_DESC_DATA);
}

/* PML4 -> one PDPT -> four PDs of 2 MiB pages: identity map of 4 GiB. */
void boot_fill_page_tables(uint8_t *pt)
{
	const uint64_t pdpt = BOOT_PT_ADDR + 0x1000, pd = pdpt + 0x1000;
	memset(pt, 0, BOOT_PT_END - BOOT_PT_ADDR);
	ld_put64(pt, pdpt | PTE_P | PTE_RW);
	for (uint64_t i = 0; i < 4; i++) {
		ld_put64(pt + (pdpt - BOOT_PT_ADDR) + 8 * i,
			 (pd + 0x1000 * i) | PTE_P | PTE_RW);
		for (uint64_t j = 0; j < 512; j++)
			ld_put64(pt + (pd - BOOT_PT_ADDR) + 0x1000 * i + 8 * j,
				 (i << 30 | j * PAGE_2M) | PTE_P | PTE_RW |
				 PTE_PS);
	}
}

int load_add_gdt(struct load_plan *p, struct cv_err *err)
{
	uint8_t *gdt;
	int rc = load_add_arena(p, BOOT_GDT_ADDR, BOOT_GDT_SIZE, "boot GDT",
				&gdt, err);
	if (!rc)
		boot_fill_gdt(gdt);
	return rc;
}

int load_add_page_tables(struct load_plan *p, struct cv_err *err)
{
	uint8_t *pt;
	int rc = load_add_arena(p, BOOT_PT_ADDR, BOOT_PT_END - BOOT_PT_ADDR,
				"boot page tables", &pt, err);
	if (!rc)
		boot_fill_page_tables(pt);
	return rc;
}

int load_add_cmdline(const struct load_in *in, struct load_plan *p,
		     struct cv_err *err)
{
	size_t n = strnlen(in->cmdline, VMCFG_CMDLINE_MAX);
	if (n >= VMCFG_CMDLINE_MAX)
		return cv_err_set(err, EINVAL,
				  "the command line is longer than %d bytes",
				  VMCFG_CMDLINE_MAX - 1);
	return load_add_blob(p, LOAD_CMDLINE_ADDR, in->cmdline, n + 1,
			     "command line", err);
}

int load_add_side_images(const struct load_in *in, struct load_plan *p,
			 bool ramdisk, struct cv_err *err)
{
	int rc = 0;
	if (ramdisk && in->has_ramdisk)
		rc = load_add_copy(p, in->ramdisk_addr, in->ramdisk_size,
				   LOAD_SRC_RAMDISK, 0, in->ramdisk_size,
				   "ramdisk", err);
	if (!rc && in->has_dtb)
		rc = load_add_copy(p, in->dtb_addr, in->dtb_size, LOAD_SRC_DTB,
				   0, in->dtb_size, "dtb", err);
	return rc;
}

void load_state_flat(struct boot_cpu_state *s, enum vm_cpu_mode mode,
		     uint64_t entry)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->rip = entry;
	s->rflags = 0x2;
	s->rsp = BOOT_STACK_TOP;
	s->gdt_base = BOOT_GDT_ADDR;
	s->gdt_limit = BOOT_GDT_SIZE - 1;
	s->data_sel = BOOT_SEL_DATA;
	s->code_sel = BOOT_SEL_CODE32;
	s->cr0 = BOOT_CR0_PE | BOOT_CR0_ET;
	if (mode == VM_CPU_LONG) {
		s->code_sel = BOOT_SEL_CODE64;
		s->cr0 |= BOOT_CR0_PG;
		s->cr3 = BOOT_PT_ADDR;
		s->cr4 = BOOT_CR4_PAE;
		s->efer = BOOT_EFER_LME | BOOT_EFER_LMA;
	}
}

void load_state_real(struct boot_cpu_state *s, uint16_t cs, uint16_t ip)
{
	memset(s, 0, sizeof(*s));
	s->mode = VM_CPU_REAL;
	s->real_cs = cs;
	s->rip = ip;
	s->rflags = 0x2;
	s->rsp = BOOT_STACK_TOP;
	s->cr0 = BOOT_CR0_ET;
}

const struct vm_mem_region *load_find_ram(const struct load_in *in,
					  uint64_t gpa, uint64_t len)
{
	size_t n = in->nregions < VMCFG_MAX_REGIONS ? in->nregions :
		   VMCFG_MAX_REGIONS;
	if (!len)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct vm_mem_region *r = &in->regions[i];
		if (r->map_type == VM_MAP_RESERVED || gpa < r->gpa)
			continue;
		uint64_t into = gpa - r->gpa;
		if (into < r->size && len <= r->size - into)
			return r;
	}
	return NULL;
}

/* Append one entry; the caller guarantees room. */
static void map_push(struct load_map_entry *m, size_t *n, uint64_t addr,
		     uint64_t end, uint32_t type)
{
	if (end <= addr)
		return;
	m[*n] = (struct load_map_entry){ addr, end - addr, type };
	(*n)++;
}

/* A RAM region, with the part inside the legacy hole reserved. */
static void map_add_ram(struct load_map_entry *m, size_t *n, uint64_t a,
			uint64_t end)
{
	uint64_t hs = a > LOAD_HOLE_START ? a : LOAD_HOLE_START;
	uint64_t he = end < LOAD_HOLE_END ? end : LOAD_HOLE_END;
	if (hs >= he) {
		map_push(m, n, a, end, LOAD_MEM_RAM);
		return;
	}
	map_push(m, n, a, hs, LOAD_MEM_RAM);
	map_push(m, n, hs, he, LOAD_MEM_RESERVED);
	map_push(m, n, he, end, LOAD_MEM_RAM);
}

static void map_sort_merge(struct load_map_entry *m, size_t *n)
{
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && m[j].addr < m[j - 1].addr; j--) {
			struct load_map_entry t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	size_t out = 0;
	for (size_t i = 0; i < *n; i++) {
		struct load_map_entry *prev = out ? &m[out - 1] : NULL;
		if (prev && prev->type == m[i].type &&
		    prev->addr + prev->size == m[i].addr)
			prev->size += m[i].size;
		else
			m[out++] = m[i];
	}
	*n = out;
}

size_t load_memory_map(const struct load_in *in, struct load_map_entry *map,
		       size_t max)
{
	struct load_map_entry tmp[VMCFG_MAX_REGIONS * 3];
	size_t n = 0, nreg = in->nregions < VMCFG_MAX_REGIONS ?
			    in->nregions : VMCFG_MAX_REGIONS;
	for (size_t i = 0; i < nreg; i++) {
		const struct vm_mem_region *r = &in->regions[i];
		uint64_t end = r->gpa + r->size;
		if (end < r->gpa || end > PHYS_LIMIT)
			continue;	/* vmconfig refuses these */
		if (r->map_type == VM_MAP_RESERVED)
			map_push(tmp, &n, r->gpa, end, LOAD_MEM_RESERVED);
		else
			map_add_ram(tmp, &n, r->gpa, end);
	}
	map_sort_merge(tmp, &n);
	if (n > max)
		n = max;
	memcpy(map, tmp, n * sizeof(*map));
	return n;
}

static int check_copy_source(const struct load_plan *p,
			     const struct load_copy *c, uint64_t image_len,
			     struct cv_err *err)
{
	uint64_t limit = c->src == LOAD_SRC_IMAGE ? image_len :
			 c->src == LOAD_SRC_ARENA ? p->arena_used : UINT64_MAX;
	if (c->src_len <= c->len && c->off <= limit &&
	    c->src_len <= limit - c->off)
		return 0;
	return cv_err_set(err, EINVAL,
			  "the %s reads bytes [0x%llx, +0x%llx) outside its source",
			  c->what, (unsigned long long)c->off,
			  (unsigned long long)c->src_len);
}

static int check_copy_pair(const struct load_copy *a,
			   const struct load_copy *b, struct cv_err *err)
{
	if (a->gpa >= b->gpa + b->len || b->gpa >= a->gpa + a->len)
		return 0;
	return cv_err_set(err, EINVAL,
			  "the %s at [0x%llx, 0x%llx) overlaps the %s at [0x%llx, 0x%llx)",
			  a->what, (unsigned long long)a->gpa,
			  (unsigned long long)(a->gpa + a->len), b->what,
			  (unsigned long long)b->gpa,
			  (unsigned long long)(b->gpa + b->len));
}

static uint64_t entry_addr(const struct boot_cpu_state *s)
{
	if (s->mode == VM_CPU_REAL)
		return ((uint64_t)s->real_cs << 4) + s->rip;
	return s->rip;
}

static int check_copies(const struct load_in *in, const struct load_plan *p,
			struct cv_err *err)
{
	for (size_t i = 0; i < p->ncopy; i++) {
		const struct load_copy *c = &p->copy[i];
		int rc = check_copy_source(p, c, in->image_len, err);
		if (rc)
			return rc;
		if (!load_find_ram(in, c->gpa, c->len))
			return cv_err_set(err, ERANGE,
					  "the %s at [0x%llx, 0x%llx) is not inside guest RAM (no RAM region holds all of it)",
					  c->what, (unsigned long long)c->gpa,
					  (unsigned long long)(c->gpa + c->len));
		for (size_t j = 0; j < i; j++) {
			rc = check_copy_pair(c, &p->copy[j], err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int load_plan_check(const struct load_in *in, const struct load_plan *p,
		    struct cv_err *err)
{
	int rc = check_copies(in, p, err);
	if (rc)
		return rc;
	uint64_t entry = entry_addr(&p->bsp);
	if (!load_find_ram(in, entry, 1))
		return cv_err_set(err, ERANGE,
				  "the entry point 0x%llx is not in guest RAM",
				  (unsigned long long)entry);
	return 0;
}

int load_need_whole_image(const struct load_in *in, struct cv_err *err)
{
	if (!in->image_avail || in->image_avail >= in->image_len)
		return 0;
	return cv_err_set(err, EINVAL,
			  "this loader needs the whole %llu-byte image in memory, not %llu bytes",
			  (unsigned long long)in->image_len,
			  (unsigned long long)in->image_avail);
}

/* APs wait in a cli/hlt loop: only the BSP runs the kernel's entry. */
int load_finish(const struct load_in *in, struct load_plan *p,
		struct cv_err *err)
{
	load_state_real(&p->ap, 0, (uint16_t)LOAD_AP_PARK_ADDR);
	int rc = load_add_blob(p, LOAD_AP_PARK_ADDR, ap_park_code,
			       sizeof(ap_park_code), "AP parking loop", err);
	return rc ? rc : load_plan_check(in, p, err);
}

/* ---- writing a plan into guest memory ---- */

static const struct boot_src *file_source(const struct load_copy *c,
					  const struct boot_src *ramdisk,
					  const struct boot_src *dtb)
{
	return c->src == LOAD_SRC_RAMDISK ? ramdisk : dtb;
}

static int apply_file(const struct load_copy *c, const struct boot_src *src,
		      struct guest_mem *mem, struct cv_err *err)
{
	if (!src || src->size != c->src_len)
		return cv_err_set(err, EINVAL,
				  "the %s changed size since the boot plan was made",
				  c->what);
	return boot_src_load(src, mem, c->gpa, err);
}

/* Image bytes the loader did not have in memory: from the file. */
static int pread_image(const struct boot_src *kernel, uint8_t *dst,
		       uint64_t off, uint64_t len, const char *what,
		       struct cv_err *err)
{
	if (!kernel || kernel->fd < 0)
		return cv_err_set(err, EINVAL,
				  "the %s needs image bytes the boot plan does not have",
				  what);
	while (len) {
		ssize_t n = pread(kernel->fd, dst, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			return cv_err_set(err, e, "cannot read %s: %s",
					  kernel->label, strerror(e));
		}
		if (n == 0)
			return cv_err_set(err, EIO,
					  "%s shrank while it was loaded",
					  kernel->label);
		dst += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int apply_image(const struct load_in *in, const struct load_copy *c,
		       const struct boot_src *kernel, uint8_t *dst,
		       struct cv_err *err)
{
	uint64_t avail = in->image_avail ? in->image_avail : in->image_len;
	uint64_t have = c->off >= avail ? 0 :
			avail - c->off < c->src_len ? avail - c->off :
			c->src_len;
	memcpy(dst, in->image + c->off, have);
	if (have == c->src_len)
		return 0;
	return pread_image(kernel, dst + have, c->off + have,
			   c->src_len - have, c->what, err);
}

static int apply_copy(const struct load_plan *p, const struct load_in *in,
		      const struct load_copy *c,
		      const struct boot_src *kernel,
		      const struct boot_src *ramdisk,
		      const struct boot_src *dtb, struct guest_mem *mem,
		      struct cv_err *err)
{
	uint8_t *dst = guest_mem_ptr(mem, c->gpa, c->len);
	if (!dst)
		return cv_err_set(err, ERANGE,
				  "the %s at 0x%llx does not fit in guest RAM",
				  c->what, (unsigned long long)c->gpa);
	int rc = check_copy_source(p, c, in->image_len, err);
	if (rc)
		return rc;
	switch (c->src) {
	case LOAD_SRC_IMAGE:
		rc = apply_image(in, c, kernel, dst, err);
		break;
	case LOAD_SRC_ARENA:
		memcpy(dst, p->arena + c->off, c->src_len);
		break;
	case LOAD_SRC_RAMDISK:
	case LOAD_SRC_DTB:
		rc = apply_file(c, file_source(c, ramdisk, dtb), mem, err);
		break;
	case LOAD_SRC_ZERO:
		break;
	}
	if (!rc)
		memset(dst + c->src_len, 0, c->len - c->src_len);
	return rc;
}

/* One range per copy, or one covering range when they do not fit. */
static int note_ranges(const struct load_plan *p, struct boot_plan *out,
		       struct cv_err *err)
{
	if (p->ncopy <= BOOT_MAX_CODE_RANGES) {
		for (size_t i = 0; i < p->ncopy; i++) {
			int rc = boot_plan_add_code(out, p->copy[i].gpa,
						    p->copy[i].len, err);
			if (rc)
				return rc;
		}
		return 0;
	}
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < p->ncopy; i++) {
		if (p->copy[i].gpa < lo)
			lo = p->copy[i].gpa;
		if (p->copy[i].gpa + p->copy[i].len > hi)
			hi = p->copy[i].gpa + p->copy[i].len;
	}
	return boot_plan_add_code(out, lo, hi - lo, err);
}

int load_plan_apply(const struct load_plan *p, const struct load_in *in,
		    const struct boot_src *kernel,
		    const struct boot_src *ramdisk, const struct boot_src *dtb,
		    struct guest_mem *mem, struct boot_plan *out,
		    struct cv_err *err)
{
	for (size_t i = 0; i < p->ncopy; i++) {
		int rc = apply_copy(p, in, &p->copy[i], kernel, ramdisk, dtb,
				    mem, err);
		if (rc)
			return rc;
	}
	out->bsp = p->bsp;
	out->ap = p->ap;
	snprintf(out->protocol, sizeof(out->protocol), "%s", p->protocol);
	return note_ranges(p, out, err);
}
