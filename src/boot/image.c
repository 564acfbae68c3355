/*
 * image: where boot images come from (host files or the built-in table)
 * and what format they are.  Files are read straight into guest RAM, so
 * a large ramdisk is never copied through a heap buffer.
 */
#include "boot_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void list_builtins(char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (const struct builtin_image *b = builtin_list(); b->name; b++) {
		int n = snprintf(buf + used, len - used, "%s%s",
				 used ? ", " : "", b->name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static int open_builtin(const char *what, const char *name,
			struct boot_src *src, struct cv_err *err)
{
	const struct builtin_image *b = builtin_find(name);
	if (!b) {
		char names[256];
		list_builtins(names, sizeof(names));
		return cv_err_set(err, ENOENT,
				  "%s: there is no built-in image named '%s' (built-in images: %s)",
				  what, name, names[0] ? names : "none");
	}
	snprintf(src->label, sizeof(src->label), "%s image '%s' (built-in)",
		 what, name);
	src->builtin = b;
	src->data = b->data;
	src->size = b->size;
	return 0;
}

static int open_file(const char *what, const char *path,
		     struct boot_src *src, struct cv_err *err)
{
	snprintf(src->label, sizeof(src->label), "%s image '%s'", what, path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return cv_err_set(err, e, "cannot open %s: %s", src->label,
				  strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return cv_err_set(err, e, "cannot stat %s: %s", src->label,
				  strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cv_err_set(err, EINVAL, "%s is not a regular file",
				  src->label);
	}
	if (st.st_size == 0) {
		close(fd);
		return cv_err_set(err, EINVAL, "%s is empty", src->label);
	}
	src->fd = fd;
	src->size = (uint64_t)st.st_size;
	return 0;
}

int boot_src_open(const struct vm_config *cfg, const char *what,
		  const char *path, struct boot_src *src, struct cv_err *err)
{
	memset(src, 0, sizeof(*src));
	src->fd = -1;
	src->what = what;
	if (!path[0])
		return cv_err_set(err, EINVAL, "the %s image path is empty",
				  what);
	if (cfg->image_location == VM_IMAGE_MEMORY)
		return open_builtin(what, path, src, err);
	return open_file(what, path, src, err);
}

void boot_src_close(struct boot_src *src)
{
	if (src->fd >= 0)
		close(src->fd);
	src->fd = -1;
}

/* pread until len bytes or end of file; returns bytes read or -errno. */
static long read_full(const struct boot_src *src, uint64_t off, void *buf,
		      size_t len, struct cv_err *err)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(src->fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			return cv_err_set(err, e, "cannot read %s: %s",
					  src->label, strerror(e));
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

long boot_src_head(const struct boot_src *src, void *buf, size_t len,
		   struct cv_err *err)
{
	if (len > src->size)
		len = (size_t)src->size;
	if (src->fd < 0) {
		memcpy(buf, src->data, len);
		return (long)len;
	}
	return read_full(src, 0, buf, len, err);
}

int boot_src_load(const struct boot_src *src, struct guest_mem *mem,
		  uint64_t gpa, struct cv_err *err)
{
	uint8_t *dst = guest_mem_ptr(mem, gpa, src->size);
	if (!dst)
		return cv_err_set(err, ERANGE,
				  "%s does not fit in guest RAM at 0x%llx",
				  src->label, (unsigned long long)gpa);
	if (src->fd < 0) {
		memcpy(dst, src->data, (size_t)src->size);
		return 0;
	}
	long n = read_full(src, 0, dst, (size_t)src->size, err);
	if (n < 0)
		return (int)n;
	if ((uint64_t)n != src->size)
		return cv_err_set(err, EIO, "%s shrank while it was loaded",
				  src->label);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Multiboot 1: magic + flags + checksum == 0, 4-aligned, first 8 KiB. */
static int has_multiboot1(const uint8_t *h, size_t len)
{
	size_t lim = len < 8192 ? len : 8192;
	for (size_t off = 0; off + 12 <= lim; off += 4)
		if (le32(h + off) == 0x1BADB002u &&
		    (uint32_t)(le32(h + off) + le32(h + off + 4) +
			       le32(h + off + 8)) == 0)
			return 1;
	return 0;
}

/* Multiboot 2: magic + arch + length + checksum == 0, 8-aligned, 32 KiB. */
static int has_multiboot2(const uint8_t *h, size_t len)
{
	size_t lim = len < 32768 ? len : 32768;
	for (size_t off = 0; off + 16 <= lim; off += 8)
		if (le32(h + off) == 0xE85250D6u &&
		    (uint32_t)(le32(h + off) + le32(h + off + 4) +
			       le32(h + off + 8) + le32(h + off + 12)) == 0)
			return 1;
	return 0;
}

enum boot_format boot_detect(const uint8_t *head, size_t len)
{
	if (len >= 4 && !memcmp(head, "\x7f" "ELF", 4))
		return BOOT_FMT_ELF;
	if (len >= 0x206 && head[0x1fe] == 0x55 && head[0x1ff] == 0xaa &&
	    !memcmp(head + 0x202, "HdrS", 4))
		return BOOT_FMT_BZIMAGE;
	if (has_multiboot2(head, len))
		return BOOT_FMT_MULTIBOOT2;
	if (has_multiboot1(head, len))
		return BOOT_FMT_MULTIBOOT;
	return BOOT_FMT_RAW;
}

const char *boot_format_name(enum boot_format f)
{
	switch (f) {
	case BOOT_FMT_RAW:
		return "raw binary";
	case BOOT_FMT_ELF:
		return "ELF";
	case BOOT_FMT_BZIMAGE:
		return "Linux bzImage";
	case BOOT_FMT_MULTIBOOT:
		return "multiboot";
	case BOOT_FMT_MULTIBOOT2:
		return "multiboot2";
	}
	return "unknown";
}
