/*
 * raw: the raw-image boot path (SPEC §5, §5b).  Every image is copied to
 * its load address; for protected and long mode cvisor also writes the
 * boot GDT (and the identity page tables) described in boot.h.  With
 * bios_path this is the AxVisor-style boot: the stub is entered in real
 * mode at entry_point and the kernel is only loaded.
 */
#include "boot_int.h"
#include "loader.h"

#include <errno.h>
#include <string.h>

#define MAX_IMAGES 4		/* kernel, bios, ramdisk, dtb */

struct placed {
	struct boot_src src;
	uint64_t gpa;
};

struct raw_images {
	struct placed img[MAX_IMAGES];
	size_t n;
};

struct area {
	const char *what;
	uint64_t gpa, len;
};

static uint64_t end_of(uint64_t gpa, uint64_t len)
{
	return gpa + len;	/* callers checked the range lies in RAM */
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < end_of(b, blen) && b < end_of(a, alen);
}

static const char *mode_name(enum vm_cpu_mode m)
{
	switch (m) {
	case VM_CPU_REAL:
		return "real";
	case VM_CPU_PROTECTED:
		return "protected";
	case VM_CPU_LONG:
		return "long";
	}
	return "unknown";
}

static int check_entry(const struct guest_mem *mem, uint64_t entry,
		       enum vm_cpu_mode mode, struct cv_err *err)
{
	if (mode == VM_CPU_REAL && entry > 0xFFFFFull)
		return cv_err_set(err, EINVAL,
				  "entry_point 0x%llx is above 1 MiB and cannot be reached in real mode",
				  (unsigned long long)entry);
	if (entry > 0xFFFFFFFFull)
		return cv_err_set(err, EINVAL,
				  "entry_point 0x%llx is above 4 GiB, outside what a %s-mode raw boot maps",
				  (unsigned long long)entry, mode_name(mode));
	if (!guest_mem_ptr(mem, entry, 1))
		return cv_err_set(err, EINVAL,
				  "entry_point 0x%llx is not in guest RAM",
				  (unsigned long long)entry);
	return 0;
}

static int add_image(const struct vm_config *cfg, struct raw_images *ri,
		     const char *what, const char *path, uint64_t gpa,
		     struct cv_err *err)
{
	struct placed *p = &ri->img[ri->n];
	int rc = boot_src_open(cfg, what, path, &p->src, err);
	if (rc)
		return rc;
	p->gpa = gpa;
	ri->n++;
	return 0;
}

/* Images other than the kernel (which the caller opened and owns). */
static int open_images(const struct vm_config *cfg, struct raw_images *ri,
		       struct cv_err *err)
{
	int rc = 0;
	if (cfg->has_bios)
		rc = add_image(cfg, ri, "bios", cfg->bios_path,
			       cfg->bios_load_addr, err);
	if (!rc && cfg->has_ramdisk)
		rc = add_image(cfg, ri, "ramdisk", cfg->ramdisk_path,
			       cfg->ramdisk_load_addr, err);
	if (!rc && cfg->has_dtb)
		rc = add_image(cfg, ri, "dtb", cfg->dtb_path,
			       cfg->dtb_load_addr, err);
	return rc;
}

static void close_images(struct raw_images *ri)
{
	for (size_t i = 1; i < ri->n; i++)	/* [0] is the caller's kernel */
		boot_src_close(&ri->img[i].src);
}

/* A built-in image is linked for one address: refuse to misplace it. */
static int check_builtin_addr(const struct placed *p, struct cv_err *err)
{
	const struct builtin_image *b = p->src.builtin;
	if (!b || b->load_addr == p->gpa)
		return 0;
	return cv_err_set(err, EINVAL,
			  "%s is linked to run at 0x%llx, but the config loads it at 0x%llx",
			  p->src.label, (unsigned long long)b->load_addr,
			  (unsigned long long)p->gpa);
}

static int check_fit(const struct guest_mem *mem, const struct placed *p,
		     struct cv_err *err)
{
	if (guest_mem_ptr(mem, p->gpa, p->src.size))
		return 0;
	unsigned long long end = p->gpa + p->src.size < p->gpa ?
		~0ull : (unsigned long long)(p->gpa + p->src.size);
	return cv_err_set(err, ERANGE,
			  "%s (%llu bytes) does not fit in guest RAM: no RAM region holds all of [0x%llx, 0x%llx)",
			  p->src.label, (unsigned long long)p->src.size,
			  (unsigned long long)p->gpa, end);
}

/* What cvisor itself writes for this mode. */
static size_t reserved_areas(enum vm_cpu_mode mode, struct area *a)
{
	size_t n = 0;
	if (mode == VM_CPU_REAL)
		return 0;
	a[n++] = (struct area){ "boot GDT", BOOT_GDT_ADDR, BOOT_GDT_SIZE };
	if (mode == VM_CPU_LONG)
		a[n++] = (struct area){ "boot page tables", BOOT_PT_ADDR,
					BOOT_PT_END - BOOT_PT_ADDR };
	return n;
}

static int check_reserved_ram(const struct guest_mem *mem,
			      const struct area *res, size_t nres,
			      enum vm_cpu_mode mode, struct cv_err *err)
{
	for (size_t i = 0; i < nres; i++)
		if (!guest_mem_ptr(mem, res[i].gpa, res[i].len))
			return cv_err_set(err, ERANGE,
					  "a %s-mode boot needs guest RAM at [0x%llx, 0x%llx) for the %s",
					  mode_name(mode),
					  (unsigned long long)res[i].gpa,
					  (unsigned long long)end_of(res[i].gpa, res[i].len),
					  res[i].what);
	return 0;
}

static int image_vs_image(const struct placed *p, const struct placed *q,
			  struct cv_err *err)
{
	if (!overlaps(p->gpa, p->src.size, q->gpa, q->src.size))
		return 0;
	return cv_err_set(err, EINVAL,
			  "%s at [0x%llx, 0x%llx) overlaps %s at [0x%llx, 0x%llx)",
			  p->src.label, (unsigned long long)p->gpa,
			  (unsigned long long)end_of(p->gpa, p->src.size),
			  q->src.label, (unsigned long long)q->gpa,
			  (unsigned long long)end_of(q->gpa, q->src.size));
}

static int image_vs_area(const struct placed *p, const struct area *a,
			 enum vm_cpu_mode mode, struct cv_err *err)
{
	if (!overlaps(p->gpa, p->src.size, a->gpa, a->len))
		return 0;
	return cv_err_set(err, EINVAL,
			  "%s at [0x%llx, 0x%llx) overlaps the %s cvisor writes at [0x%llx, 0x%llx) for a %s-mode boot",
			  p->src.label, (unsigned long long)p->gpa,
			  (unsigned long long)end_of(p->gpa, p->src.size),
			  a->what, (unsigned long long)a->gpa,
			  (unsigned long long)end_of(a->gpa, a->len),
			  mode_name(mode));
}

/* Everything is checked before the first byte is written. */
static int check_layout(const struct guest_mem *mem,
			const struct raw_images *ri, enum vm_cpu_mode mode,
			struct cv_err *err)
{
	struct area res[2];
	size_t nres = reserved_areas(mode, res);
	int rc = check_reserved_ram(mem, res, nres, mode, err);
	for (size_t i = 0; !rc && i < ri->n; i++) {
		const struct placed *p = &ri->img[i];
		rc = check_builtin_addr(p, err);
		if (!rc)
			rc = check_fit(mem, p, err);
		for (size_t j = 0; !rc && j < i; j++)
			rc = image_vs_image(p, &ri->img[j], err);
		for (size_t k = 0; !rc && k < nres; k++)
			rc = image_vs_area(p, &res[k], mode, err);
	}
	return rc;
}

/* The shared boot GDT and identity page tables (plan.c), in guest RAM. */
static void write_gdt(const struct guest_mem *mem)
{
	boot_fill_gdt(guest_mem_ptr(mem, BOOT_GDT_ADDR, BOOT_GDT_SIZE));
}

static void write_page_tables(const struct guest_mem *mem)
{
	boot_fill_page_tables(guest_mem_ptr(mem, BOOT_PT_ADDR,
					    BOOT_PT_END - BOOT_PT_ADDR));
}

static void fill_state(struct boot_cpu_state *s, enum vm_cpu_mode mode,
		       uint64_t entry)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->rflags = 0x2;
	s->rsp = BOOT_STACK_TOP;
	s->cr0 = BOOT_CR0_ET;
	if (mode == VM_CPU_REAL) {
		s->real_cs = (uint16_t)((entry & 0xF0000) >> 4);
		s->rip = entry & 0xFFFF;
		return;
	}
	s->rip = entry;
	s->gdt_base = BOOT_GDT_ADDR;
	s->gdt_limit = BOOT_GDT_SIZE - 1;
	s->data_sel = BOOT_SEL_DATA;
	s->cr0 |= BOOT_CR0_PE;
	s->code_sel = BOOT_SEL_CODE32;
	if (mode == VM_CPU_LONG) {
		s->code_sel = BOOT_SEL_CODE64;
		s->cr0 |= BOOT_CR0_PG;
		s->cr3 = BOOT_PT_ADDR;
		s->cr4 = BOOT_CR4_PAE;
		s->efer = BOOT_EFER_LME | BOOT_EFER_LMA;
	}
}

static int write_all(struct guest_mem *mem, const struct raw_images *ri,
		     enum vm_cpu_mode mode, struct boot_plan *plan,
		     struct cv_err *err)
{
	for (size_t i = 0; i < ri->n; i++) {
		const struct placed *p = &ri->img[i];
		int rc = boot_src_load(&p->src, mem, p->gpa, err);
		if (!rc)
			rc = boot_plan_add_code(plan, p->gpa, p->src.size, err);
		if (rc)
			return rc;
	}
	struct area res[2];
	size_t nres = reserved_areas(mode, res);
	if (nres >= 1)
		write_gdt(mem);
	if (nres >= 2)
		write_page_tables(mem);
	for (size_t i = 0; i < nres; i++) {
		int rc = boot_plan_add_code(plan, res[i].gpa, res[i].len, err);
		if (rc)
			return rc;
	}
	return 0;
}

int raw_boot(const struct vm_config *cfg, struct guest_mem *mem,
	     const struct boot_src *kernel, struct boot_plan *plan,
	     struct cv_err *err)
{
	enum vm_cpu_mode mode = cfg->has_bios ? VM_CPU_REAL : cfg->cpu_mode;
	int rc = check_entry(mem, cfg->entry_point, mode, err);
	if (rc)
		return rc;
	struct raw_images ri = { .n = 1 };
	ri.img[0].src = *kernel;
	ri.img[0].gpa = cfg->kernel_load_addr;
	rc = open_images(cfg, &ri, err);
	if (!rc)
		rc = check_layout(mem, &ri, mode, err);
	if (!rc)
		rc = write_all(mem, &ri, mode, plan, err);
	close_images(&ri);
	if (rc)
		return rc;
	fill_state(&plan->bsp, mode, cfg->entry_point);
	plan->ap = plan->bsp;
	strcpy(plan->protocol, cfg->has_bios ? "axvisor" : "raw");
	return 0;
}
