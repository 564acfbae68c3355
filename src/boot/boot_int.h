/*
 * boot_int: what the boot loaders share inside src/boot (not for other
 * modules): image sources (a host file or a built-in image), format
 * detection and the per-protocol loaders.
 */
#ifndef CV_BOOT_INT_H
#define CV_BOOT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "builtin.h"

/* One image to load: a host file or a built-in image, opened lazily. */
struct boot_src {
	const char *what;		/* "kernel", "bios", "ramdisk", "dtb" */
	char label[160];		/* "kernel image '/x/y.bin'" for messages */
	int fd;				/* -1 for built-in images */
	const uint8_t *data;		/* built-in image bytes */
	uint64_t size;
	const struct builtin_image *builtin;
};

/*
 * Open path as the image `what`: a built-in image name when
 * cfg->image_location is memory, else a host file (must be a non-empty
 * regular file).  On failure src holds nothing to close.
 */
int boot_src_open(const struct vm_config *cfg, const char *what,
		  const char *path, struct boot_src *src, struct cv_err *err);
void boot_src_close(struct boot_src *src);

/* Read up to len bytes from offset 0; returns the count or -errno. */
long boot_src_head(const struct boot_src *src, void *buf, size_t len,
		   struct cv_err *err);

/* Copy the whole image to guest RAM at gpa (bounds already checked). */
int boot_src_load(const struct boot_src *src, struct guest_mem *mem,
		  uint64_t gpa, struct cv_err *err);

enum boot_format {
	BOOT_FMT_RAW,
	BOOT_FMT_ELF,
	BOOT_FMT_BZIMAGE,
	BOOT_FMT_MULTIBOOT,
	BOOT_FMT_MULTIBOOT2,
};

/* How many leading bytes boot_detect() looks at. */
#define BOOT_DETECT_BYTES 32768u

enum boot_format boot_detect(const uint8_t *head, size_t len);
const char *boot_format_name(enum boot_format f);

/* Record a range the loader wrote; -ENOSPC when the plan is full. */
int boot_plan_add_code(struct boot_plan *plan, uint64_t gpa, uint64_t len,
		       struct cv_err *err);

/*
 * Raw boot (and the AxVisor BIOS-stub boot when cfg->has_bios): load
 * every image at its address and compute the register state.  kernel is
 * already open; raw_boot does not close it.
 */
int raw_boot(const struct vm_config *cfg, struct guest_mem *mem,
	     const struct boot_src *kernel, struct boot_plan *plan,
	     struct cv_err *err);

#endif
