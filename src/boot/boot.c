/*
 * boot: boot_load() picks the boot path for a config (SPEC §5b) and hands
 * it to the loader for that protocol; boot_vcpu_state() applies the
 * multi-vCPU convention of boot.h.  Loaders live in their own files
 * (raw.c; ELF, multiboot and bzImage come later).
 */
#include "boot_int.h"

#include <errno.h>
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

/* "auto": refuse formats whose loader has not landed instead of misbooting. */
static int check_auto_format(const struct boot_src *kernel,
			     struct cv_err *err)
{
	/* heap, not stack: boot_load may run on a small worker stack */
	uint8_t *buf = malloc(BOOT_DETECT_BYTES);
	if (!buf)
		return cv_err_set(err, ENOMEM,
				  "out of memory reading the kernel header");
	long n = boot_src_head(kernel, buf, BOOT_DETECT_BYTES, err);
	enum boot_format f = n < 0 ? BOOT_FMT_RAW : boot_detect(buf, (size_t)n);
	free(buf);
	if (n < 0)
		return (int)n;
	if (f == BOOT_FMT_RAW)
		return 0;
	return cv_err_set(err, ENOTSUP,
			  "%s is a %s image, which cvisor cannot boot yet (set boot_protocol = \"raw\" to load it as a flat binary)",
			  kernel->label, boot_format_name(f));
}

static int load_with_kernel(const struct vm_config *cfg,
			    struct guest_mem *mem, struct boot_plan *plan,
			    struct cv_err *err)
{
	struct boot_src kernel;
	int rc = boot_src_open(cfg, "kernel", cfg->kernel_path, &kernel, err);
	if (rc)
		return rc;
	if (!cfg->has_bios && cfg->boot_protocol == VM_BOOT_AUTO)
		rc = check_auto_format(&kernel, err);
	if (!rc)
		rc = raw_boot(cfg, mem, &kernel, plan, err);
	boot_src_close(&kernel);
	return rc;
}

int boot_load(const struct vm_config *cfg, struct guest_mem *mem,
	      struct boot_plan *plan, struct cv_err *err)
{
	memset(plan, 0, sizeof(*plan));
	enum vm_boot_protocol p = cfg->boot_protocol;
	if (p != VM_BOOT_AUTO && p != VM_BOOT_RAW) {
		if (cfg->has_bios)
			return cv_err_set(err, EINVAL,
					  "bios_path cannot be combined with boot_protocol = \"%s\" (a BIOS stub boots the kernel itself)",
					  protocol_name(p));
		return cv_err_set(err, ENOTSUP,
				  "boot_protocol = \"%s\" is not implemented yet (use \"raw\")",
				  protocol_name(p));
	}
	return load_with_kernel(cfg, mem, plan, err);
}

void boot_vcpu_state(const struct boot_plan *plan, unsigned index,
		     unsigned ncpus, struct boot_cpu_state *out)
{
	*out = index ? plan->ap : plan->bsp;
	out->rsi = index;
	out->rdi = ncpus;
}
