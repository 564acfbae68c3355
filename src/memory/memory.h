/*
 * memory: a VM's guest RAM.  One anonymous host mmap per RAM region of the
 * config (reserved regions get none); both backends map these same host
 * pages (KVM_SET_USER_MEMORY_REGION / uc_mem_map_ptr).  Owned by the VM.
 */
#ifndef CV_MEMORY_H
#define CV_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "vmconfig.h"

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;		/* page-aligned host mapping */
	uint32_t flags;		/* VM_MEM_* */
};

struct guest_mem {
	struct guest_region r[VMCFG_MAX_REGIONS];
	size_t n;
};

/* Map every RAM region of cfg.  On failure nothing stays mapped. */
int guest_mem_map(struct guest_mem *mem, const struct vm_config *cfg,
		  struct cv_err *err);
void guest_mem_unmap(struct guest_mem *mem);

/* Give every page back to the kernel: the guest sees zeroes again. */
int guest_mem_clear(struct guest_mem *mem, struct cv_err *err);

/*
 * Host pointer for [gpa, gpa+len) when the whole range lies in one RAM
 * region, else NULL.  Guest-controlled values go through this check.
 */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy in/out with the same bounds check; -EFAULT when out of RAM. */
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa,
		    const void *src, size_t len);
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst,
		   size_t len);

#endif
