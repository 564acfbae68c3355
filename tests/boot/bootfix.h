/*
 * bootfix: fixtures shared by the boot tests: a config with one RAM
 * region, temporary image files, guest RAM.
 */
#ifndef BOOTFIX_H
#define BOOTFIX_H

#include <stddef.h>
#include <stdint.h>

#include "boot.h"
#include "memory.h"
#include "vmconfig.h"

struct bootfix {
	struct vm_config *cfg;		/* heap: the struct is large */
	struct guest_mem mem;
	struct boot_plan plan;
	struct cv_err err;
	char dir[64];			/* temporary directory for images */
};

/* 16 MiB of RAM at 0, raw boot, real mode, kernel_path unset. */
void bootfix_init(struct bootfix *f);
void bootfix_fini(struct bootfix *f);
/* cmocka setup/teardown: *state is a bootfix (heap), initialized. */
int bootfix_setup(void **state);
int bootfix_teardown(void **state);

/* (Re)map guest RAM from f->cfg (after changing its regions). */
void bootfix_map(struct bootfix *f);

/* Write an image file in f->dir; returns its path (static per name). */
void bootfix_file(struct bootfix *f, const char *name, const void *data,
		  size_t len, char *path, size_t pathlen);

/* A file of len bytes, byte i = (i * 7 + seed) & 0xff. */
void bootfix_pattern_file(struct bootfix *f, const char *name, size_t len,
			  unsigned seed, char *path, size_t pathlen);

/* 1 when guest RAM at gpa holds the pattern of bootfix_pattern_file. */
int bootfix_has_pattern(const struct bootfix *f, uint64_t gpa, size_t len,
			unsigned seed);

/* boot_load() with f's config, RAM and plan. */
int bootfix_load(struct bootfix *f);

uint64_t bootfix_read64(const struct bootfix *f, uint64_t gpa);

#endif
