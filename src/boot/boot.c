/*
 * boot: boot_load() picks the boot path for a config (SPEC §5b) and hands
 * it to the loader for that protocol; boot_vcpu_state() gives each vCPU
 * its start state.  Raw images go to raw.c; kernels in a known format go
 * through a pure loader (loader.h: multiboot.c, elf.c, pvh.c, linux.c)
 * that turns the image bytes into a load plan, which plan.c then writes.
 *
 * "auto" without bios_path detects, in this order: a bzImage ("HdrS" at
 * 0x202 and the 0xAA55 boot flag) -> linux; a multiboot 1 header in the
 * first 8 KiB -> multiboot; an ELF file -> pvh when it carries a
 * XEN_ELFNOTE_PHYS32_ENTRY note, else elf; a multiboot 2 header is
 * refused (no loader); anything else is raw.
 *
 * For every protocol but raw the entry point comes from the image and
 * cfg->entry_point is not used; the BSP starts with the registers the
 * protocol defines (no SMP convention), and APs wait in a cli/hlt loop.
 *
 * ACPI tables (acpi.h) go to ACPI_TABLES_ADDR for every protocol when one
 * RAM region covers that page and nothing cvisor loads overlaps it: for
 * kernel formats they become one more copy of the load plan (and the PVH
 * start info points at them); for raw images they are written after the
 * images.  Otherwise plan->acpi_why tells `vm show` why there are none.
 */
#include "acpi.h"
#include "boot_int.h"
#include "loader.h"
#include "fault.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *protocol_name(enum vm_boot_protocol p)
{
	switch (p) {
	case VM_BOOT_AUTO:
		return "auto";
	case VM_BOOT_RAW:
		return "raw";
	case VM_BOOT_MULTIBOOT:
		return "multiboot";
	case VM_BOOT_ELF:
		return "elf";
	case VM_BOOT_PVH:
		return "pvh";
	case VM_BOOT_LINUX:
		return "linux";
	}
	return "unknown";
}

int boot_plan_add_code(struct boot_plan *plan, uint64_t gpa, uint64_t len,
		       struct cv_err *err)
{
	if (plan->ncode >= BOOT_MAX_CODE_RANGES)
		return cv_err_set(err, ENOSPC,
				  "the boot loader wrote more than %d ranges",
				  BOOT_MAX_CODE_RANGES);
	plan->code[plan->ncode].gpa = gpa;
	plan->code[plan->ncode].len = len;
	plan->ncode++;
	return 0;
}

static uint64_t ram_size(const struct vm_config *cfg)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < cfg->n_regions && i < VMCFG_MAX_REGIONS; i++)
		if (cfg->regions[i].map_type != VM_MAP_RESERVED)
			sum += cfg->regions[i].size;
	return sum;
}

/*
 * The kernel in host memory, for the loaders to parse.  A bzImage's setup
 * code is enough (the kernel proper goes from the file straight to guest
 * RAM); the other formats are read whole.
 */
struct image_buf {
	uint8_t *buf;			/* owned; NULL for built-in images */
	const uint8_t *img;
	uint64_t avail, size;
};

static int read_head(const struct vm_config *cfg,
		     const struct boot_src *kernel, struct image_buf *ib,
		     struct cv_err *err)
{
	memset(ib, 0, sizeof(*ib));
	ib->size = kernel->size;
	if (kernel->fd < 0) {
		ib->img = kernel->data;
		ib->avail = kernel->size;
		return 0;
	}
	if (kernel->size > ram_size(cfg))
		return cv_err_set(err, EFBIG,
				  "%s (%llu bytes) is larger than guest RAM",
				  kernel->label,
				  (unsigned long long)kernel->size);
	ib->avail = kernel->size < LOAD_LINUX_HEAD ? kernel->size :
		    LOAD_LINUX_HEAD;
	ib->buf = malloc(ib->avail);
	if (!ib->buf)
		return cv_err_set(err, ENOMEM, "out of memory reading %s",
				  kernel->label);
	ib->img = ib->buf;
	long n = boot_src_head(kernel, ib->buf, ib->avail, err);
	if (n >= 0 && (uint64_t)n != ib->avail)
		n = cv_err_set(err, EIO, "%s shrank while it was read",
			       kernel->label);
	return n < 0 ? (int)n : 0;
}

static int read_whole(const struct boot_src *kernel, struct image_buf *ib,
		      struct cv_err *err)
{
	if (ib->avail == ib->size)
		return 0;
	uint8_t *nb = realloc(ib->buf, ib->size);
	if (!nb)
		return cv_err_set(err, ENOMEM, "out of memory reading %s",
				  kernel->label);
	ib->buf = nb;
	ib->img = nb;
	long n = boot_src_head(kernel, nb, ib->size, err);
	if (n >= 0 && (uint64_t)n != ib->size)
		n = cv_err_set(err, EIO, "%s shrank while it was read",
			       kernel->label);
	if (n < 0)
		return (int)n;
	ib->avail = ib->size;
	return 0;
}

/* The protocol "auto" stands for, from the image's first bytes. */
static int detect(const struct boot_src *kernel, struct image_buf *ib,
		  enum vm_boot_protocol *out, struct cv_err *err)
{
	int rc = 0;
	if (linux_is_bzimage(ib->img, ib->avail))
		*out = VM_BOOT_LINUX;
	else if (multiboot_find_header(ib->img, ib->avail) >= 0)
		*out = VM_BOOT_MULTIBOOT;
	else if (elf_is_elf(ib->img, ib->avail)) {
		rc = read_whole(kernel, ib, err);
		*out = !rc && pvh_has_entry_note(ib->img, ib->avail) ?
		       VM_BOOT_PVH : VM_BOOT_ELF;
	} else if (boot_detect(ib->img, ib->avail < BOOT_DETECT_BYTES ?
			       (size_t)ib->avail : BOOT_DETECT_BYTES) ==
		   BOOT_FMT_MULTIBOOT2)
		return cv_err_set(err, ENOTSUP,
				  "%s is a multiboot2 image, which cvisor cannot boot (set boot_protocol = \"raw\" to load it as a flat binary)",
				  kernel->label);
	else
		*out = VM_BOOT_RAW;
	return rc;
}

struct side_images {
	struct boot_src ramdisk, dtb;
};

static int open_side_images(const struct vm_config *cfg,
			    struct side_images *s, struct load_in *in,
			    struct cv_err *err)
{
	memset(s, 0, sizeof(*s));
	s->ramdisk.fd = s->dtb.fd = -1;
	int rc = 0;
	if (cfg->has_ramdisk) {
		rc = boot_src_open(cfg, "ramdisk", cfg->ramdisk_path,
				   &s->ramdisk, err);
		in->has_ramdisk = !rc;
		in->ramdisk_addr = cfg->ramdisk_load_addr;
		in->ramdisk_size = s->ramdisk.size;
	}
	if (!rc && cfg->has_dtb) {
		rc = boot_src_open(cfg, "dtb", cfg->dtb_path, &s->dtb, err);
		in->has_dtb = !rc;
		in->dtb_addr = cfg->dtb_load_addr;
		in->dtb_size = s->dtb.size;
	}
	return rc;
}

static void close_side_images(struct side_images *s)
{
	boot_src_close(&s->ramdisk);
	boot_src_close(&s->dtb);
}

static int run_loader(enum vm_boot_protocol p, const struct load_in *in,
		      struct load_plan *lp, struct cv_err *err)
{
	switch (p) {
	case VM_BOOT_MULTIBOOT:
		return load_multiboot(in, lp, err);
	case VM_BOOT_ELF:
		return load_elf(in, lp, err);
	case VM_BOOT_PVH:
		return load_pvh(in, lp, err);
	case VM_BOOT_LINUX:
		return load_linux(in, lp, err);
	case VM_BOOT_AUTO:
	case VM_BOOT_RAW:
		break;
	}
	return cv_err_set(err, EINVAL, "no loader for boot_protocol \"%s\"",
			  protocol_name(p));
}

static bool overlaps_acpi(uint64_t gpa, uint64_t len)
{
	return gpa < ACPI_TABLES_ADDR + ACPI_TABLES_SIZE &&
	       ACPI_TABLES_ADDR < gpa + len;
}

static void acpi_skip(struct boot_plan *plan, const char *why)
{
	plan->acpi_rsdp = 0;
	snprintf(plan->acpi_why, sizeof(plan->acpi_why), "%s", why);
}

#define ACPI_NO_RAM "no RAM region covers 0xe0000-0xe0fff"

static int build_acpi(const struct vm_config *cfg, struct acpi_tables *t,
		      struct cv_err *err)
{
	struct acpi_params ap = { .ncpus = cfg->cpu_num,
				  .madt = cfg->interrupt_mode != VM_IRQ_NONE,
				  .base = ACPI_TABLES_ADDR };
	return acpi_build(&ap, t, err);
}

/*
 * Add the ACPI tables to a load plan when the page is RAM and free.  The
 * loader ran with in->acpi_rsdp set; when the tables cannot go in, it runs
 * again without (so no structure points at missing tables).
 */
static int plan_acpi(const struct vm_config *cfg, enum vm_boot_protocol p,
		     struct load_in *in, struct load_plan *lp,
		     struct boot_plan *plan, struct cv_err *err)
{
	const char *why = NULL;
	if (!in->acpi_rsdp)
		why = ACPI_NO_RAM;
	for (size_t i = 0; !why && i < lp->ncopy; i++)
		if (overlaps_acpi(lp->copy[i].gpa, lp->copy[i].len))
			why = "the kernel's load plan uses 0xe0000-0xe0fff";
	if (why) {
		acpi_skip(plan, why);
		if (!in->acpi_rsdp)
			return 0;
		in->acpi_rsdp = 0;
		return run_loader(p, in, lp, err);
	}
	struct acpi_tables *t = malloc(sizeof(*t));
	if (!t)
		return cv_err_set(err, ENOMEM, "out of memory for the ACPI tables");
	int rc = build_acpi(cfg, t, err);
	if (!rc)
		rc = load_add_blob(lp, t->base, t->bytes, t->len,
				   "ACPI tables", err);
	if (!rc)
		plan->acpi_rsdp = t->rsdp;
	free(t);
	return rc;
}

/* Plan with the protocol's loader, then write the plan. */
static int load_kernel(const struct vm_config *cfg, enum vm_boot_protocol p,
		       const struct boot_src *kernel,
		       const struct image_buf *ib, struct guest_mem *mem,
		       struct boot_plan *plan, struct cv_err *err)
{
	struct load_in in = {
		.image = ib->img, .image_len = ib->size,
		.image_avail = ib->avail,
		.regions = cfg->regions, .nregions = cfg->n_regions,
		.cmdline = cfg->cmdline,
		.kernel_load_addr = cfg->kernel_load_addr,
		.cpu_mode = cfg->cpu_mode,
	};
	in.acpi_rsdp = load_find_ram(&in, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE)
		       ? ACPI_TABLES_ADDR : 0;
	struct side_images side;
	struct load_plan *lp = malloc(sizeof(*lp));
	if (!lp)
		return cv_err_set(err, ENOMEM, "out of memory for the boot plan");
	int rc = open_side_images(cfg, &side, &in, err);
	if (!rc) {
		rc = run_loader(p, &in, lp, err);
		if (rc)
			cv_err_prefix(err, "%s (boot_protocol \"%s\")",
				      kernel->label, protocol_name(p));
	}
	if (!rc)
		rc = plan_acpi(cfg, p, &in, lp, plan, err);
	if (!rc)
		rc = load_plan_apply(lp, &in, kernel, &side.ramdisk,
				     &side.dtb, mem, plan, err);
	close_side_images(&side);
	free(lp);
	return rc;
}

static int load_formatted(const struct vm_config *cfg,
			  const struct boot_src *kernel,
			  struct guest_mem *mem, struct boot_plan *plan,
			  struct cv_err *err)
{
	struct image_buf ib;
	enum vm_boot_protocol p = cfg->boot_protocol;
	int rc = read_head(cfg, kernel, &ib, err);
	if (!rc && p == VM_BOOT_AUTO)
		rc = detect(kernel, &ib, &p, err);
	if (!rc && p != VM_BOOT_LINUX && p != VM_BOOT_RAW)
		rc = read_whole(kernel, &ib, err);
	if (!rc)
		rc = p == VM_BOOT_RAW ? raw_boot(cfg, mem, kernel, plan, err) :
		     load_kernel(cfg, p, kernel, &ib, mem, plan, err);
	free(ib.buf);
	return rc;
}

/* Raw boots share one entry among all vCPUs (boot.h's SMP convention). */
static bool is_raw_plan(const struct boot_plan *plan)
{
	return !strcmp(plan->protocol, "raw") ||
	       !strcmp(plan->protocol, "axvisor");
}

/*
 * How the APs start (vmconfig.h ap_start): at the entry point (raw
 * images), by INIT/SIPI (needs the LAPIC of an irqchip VM), or parked in
 * the loaders' cli/hlt loop (kernel formats without an irqchip).
 */
static int choose_ap_start(const struct vm_config *cfg,
			   struct boot_plan *plan, struct cv_err *err)
{
	bool raw = is_raw_plan(plan);
	bool irqchip = cfg->interrupt_mode != VM_IRQ_NONE;
	switch (cfg->ap_start) {
	case VM_AP_START_ENTRY:
		if (!raw)
			return cv_err_set(err, EINVAL,
					  "ap_start = \"entry\" needs a raw image, but the kernel is a %s image (use \"sipi\" or \"auto\")",
					  plan->protocol);
		plan->ap_sipi = false;
		return 0;
	case VM_AP_START_SIPI:
		if (!irqchip)
			return cv_err_set(err, EINVAL,
					  "ap_start = \"sipi\" needs interrupt_mode \"emu\" (a LAPIC to receive INIT/SIPI)");
		plan->ap_sipi = true;
		return 0;
	case VM_AP_START_AUTO:
	default:
		plan->ap_sipi = !raw && irqchip;
		return 0;
	}
}

/* Raw boots: write the tables after the images when the page is free. */
static int raw_acpi(const struct vm_config *cfg, struct guest_mem *mem,
		    struct boot_plan *plan, struct cv_err *err)
{
	uint8_t *dst = guest_mem_ptr(mem, ACPI_TABLES_ADDR, ACPI_TABLES_SIZE);
	if (!dst) {
		acpi_skip(plan, ACPI_NO_RAM);
		return 0;
	}
	for (size_t i = 0; i < plan->ncode; i++)
		if (overlaps_acpi(plan->code[i].gpa, plan->code[i].len)) {
			acpi_skip(plan, "an image is loaded at 0xe0000-0xe0fff");
			return 0;
		}
	struct acpi_tables *t = malloc(sizeof(*t));
	if (!t)
		return cv_err_set(err, ENOMEM, "out of memory for the ACPI tables");
	int rc = build_acpi(cfg, t, err);
	if (!rc) {
		memcpy(dst, t->bytes, t->len);
		plan->acpi_rsdp = t->rsdp;
	}
	free(t);
	return rc;
}

static uint64_t entry_of(const struct boot_cpu_state *s)
{
	return s->mode == VM_CPU_REAL ? ((uint64_t)s->real_cs << 4) + s->rip
				      : s->rip;
}

int boot_load(const struct vm_config *cfg, struct guest_mem *mem,
	      struct boot_plan *plan, struct cv_err *err)
{
	memset(plan, 0, sizeof(*plan));
	enum vm_boot_protocol p = cfg->boot_protocol;
	if (cfg->has_bios && p != VM_BOOT_AUTO && p != VM_BOOT_RAW)
		return cv_err_set(err, EINVAL,
				  "bios_path cannot be combined with boot_protocol = \"%s\" (a BIOS stub boots the kernel itself)",
				  protocol_name(p));
	struct boot_src kernel;
	int rc = boot_src_open(cfg, "kernel", cfg->kernel_path, &kernel, err);
	if (rc)
		return rc;
	int fe = CV_FAULT("boot.load");
	if (fe) {
		boot_src_close(&kernel);
		return cv_err_set(err, fe, "cannot load the kernel image %s: %s",
				  cfg->kernel_path, strerror(fe));
	}
	if (cfg->has_bios || p == VM_BOOT_RAW)
		rc = raw_boot(cfg, mem, &kernel, plan, err);
	else
		rc = load_formatted(cfg, &kernel, mem, plan, err);
	boot_src_close(&kernel);
	if (!rc && is_raw_plan(plan))
		rc = raw_acpi(cfg, mem, plan, err);
	if (!rc)
		rc = choose_ap_start(cfg, plan, err);
	if (!rc) {
		plan->entry = entry_of(&plan->bsp);
		plan->ap_entry = plan->ap_sipi ? 0 : entry_of(&plan->ap);
	}
	return rc;
}

void boot_vcpu_state(const struct boot_plan *plan, unsigned index,
		     unsigned ncpus, struct boot_cpu_state *out)
{
	*out = index ? plan->ap : plan->bsp;
	out->wait_sipi = index && plan->ap_sipi;
	if (!is_raw_plan(plan) || out->wait_sipi)
		return;
	out->rsi = index;
	out->rdi = ncpus;
}
