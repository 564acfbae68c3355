/*
 * bootfix: fixtures shared by the boot tests (see bootfix.h).
 */
#include "bootfix.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

void bootfix_init(struct bootfix *f)
{
	memset(f, 0, sizeof(*f));
	f->cfg = calloc(1, sizeof(*f->cfg));
	assert_non_null(f->cfg);
	struct vm_config *c = f->cfg;
	snprintf(c->name, sizeof(c->name), "boottest");
	c->cpu_num = 1;
	c->image_location = VM_IMAGE_FS;
	c->boot_protocol = VM_BOOT_RAW;
	c->cpu_mode = VM_CPU_REAL;
	c->entry_point = 0x8000;
	c->kernel_load_addr = 0x8000;
	c->regions[0] = (struct vm_mem_region){ 0, 16u << 20, 0x7, 0, 0 };
	c->n_regions = 1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cvboot-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	bootfix_map(f);
}

void bootfix_map(struct bootfix *f)
{
	guest_mem_unmap(&f->mem);
	assert_int_equal(guest_mem_map(&f->mem, f->cfg, &f->err), 0);
}

void bootfix_fini(struct bootfix *f)
{
	char cmd[128];
	guest_mem_unmap(&f->mem);
	free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", f->dir);
}

int bootfix_setup(void **state)
{
	struct bootfix *f = malloc(sizeof(*f));
	if (!f)
		return -1;
	bootfix_init(f);
	*state = f;
	return 0;
}

int bootfix_teardown(void **state)
{
	bootfix_fini(*state);
	free(*state);
	return 0;
}

void bootfix_file(struct bootfix *f, const char *name, const void *data,
		  size_t len, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "%s/%s", f->dir, name);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

void bootfix_pattern_file(struct bootfix *f, const char *name, size_t len,
			  unsigned seed, char *path, size_t pathlen)
{
	uint8_t *buf = malloc(len ? len : 1);
	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed);
	bootfix_file(f, name, buf, len, path, pathlen);
	free(buf);
}

int bootfix_has_pattern(const struct bootfix *f, uint64_t gpa, size_t len,
			unsigned seed)
{
	const uint8_t *p = guest_mem_ptr(&f->mem, gpa, len);
	if (!p)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] != (uint8_t)(i * 7 + seed))
			return 0;
	return 1;
}

int bootfix_load(struct bootfix *f)
{
	cv_err_clear(&f->err);
	return boot_load(f->cfg, &f->mem, &f->plan, &f->err);
}

uint64_t bootfix_read64(const struct bootfix *f, uint64_t gpa)
{
	uint64_t v = 0;
	assert_int_equal(guest_mem_read(&f->mem, gpa, &v, sizeof(v)), 0);
	return v;
}
