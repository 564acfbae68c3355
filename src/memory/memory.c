#include "memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "fault.h"

int guest_mem_map(struct guest_mem *mem, const struct vm_config *cfg,
		  struct cv_err *err)
{
	memset(mem, 0, sizeof(*mem));
	for (size_t i = 0; i < cfg->n_regions; i++) {
		const struct vm_mem_region *cr = &cfg->regions[i];
		if (cr->map_type == VM_MAP_RESERVED)
			continue;
		int fe = CV_FAULT("mem.mmap");
		void *p = fe ? MAP_FAILED
			     : mmap(NULL, cr->size, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				    -1, 0);
		if (p == MAP_FAILED) {
			int e = fe ? fe : errno;
			guest_mem_unmap(mem);
			return cv_err_set(err, e,
					  "cannot map %llu bytes of guest RAM at 0x%llx: %s",
					  (unsigned long long)cr->size,
					  (unsigned long long)cr->gpa, strerror(e));
		}
		struct guest_region *r = &mem->r[mem->n++];
		r->gpa = cr->gpa;
		r->size = cr->size;
		r->host = p;
		r->flags = cr->flags;
	}
	return 0;
}

void guest_mem_unmap(struct guest_mem *mem)
{
	for (size_t i = 0; i < mem->n; i++)
		munmap(mem->r[i].host, mem->r[i].size);
	mem->n = 0;
}

int guest_mem_clear(struct guest_mem *mem, struct cv_err *err)
{
	for (size_t i = 0; i < mem->n; i++) {
		/* private anonymous pages read back as zero after DONTNEED */
		if (madvise(mem->r[i].host, mem->r[i].size, MADV_DONTNEED)) {
			int e = errno;
			return cv_err_set(err, e, "cannot clear guest RAM: %s",
					  strerror(e));
		}
	}
	return 0;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < mem->n; i++) {
		const struct guest_region *r = &mem->r[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa,
		    const void *src, size_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst,
		   size_t len)
{
	const void *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
