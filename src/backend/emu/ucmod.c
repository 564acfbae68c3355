/*
 * ucmod: cvisor-unicorn.so, the Unicorn engine as cvisor's own loadable
 * module.  It is Debian's libunicorn.a linked into one shared object that
 * exports only the uc_* API and binds every reference inside it at link
 * time (-Bsymbolic, a version script).  Loading libunicorn.so.2 instead
 * makes the dynamic linker look up ~37,000 symbols (R_X86_64_64,
 * GLOB_DAT, JUMP_SLOT relocations: every one of QEMU's function tables):
 * ~14 ms of CPU here, against ~7 ms for this module, whose ~61,000
 * relocations are all relative ones.  uc_lazy.c loads it when present and
 * falls back to libunicorn.so.2.
 *
 * This file makes the linker take the archive members the backend needs
 * (the functions uc_lazy.c resolves: a missing one fails there, with a
 * message, at the first emu VM), and carries the exception latch's offset
 * that the build found in this archive (uc_latch.h, ucmod_latch.c).
 */
#include <unicorn/unicorn.h>

#include "ucmod_latch.h"	/* the build's uc_latch_find() on this archive */

/* emu_latch.c: where a saved context keeps the exception latch */
__attribute__((visibility("default")))
const long uc_cvisor_latch_offset = UCMOD_LATCH_OFFSET;

__attribute__((used, visibility("default")))
const void *const uc_cvisor_module_api[] = {
	(const void *)uc_arch_supported, (const void *)uc_open,
	(const void *)uc_close, (const void *)uc_ctl,
	(const void *)uc_strerror, (const void *)uc_reg_write,
	(const void *)uc_reg_read, (const void *)uc_emu_start,
	(const void *)uc_emu_stop, (const void *)uc_hook_add,
	(const void *)uc_hook_del,
	(const void *)uc_mem_map_ptr, (const void *)uc_mmio_map,
	(const void *)uc_context_alloc, (const void *)uc_context_free,
	(const void *)uc_context_save, (const void *)uc_context_restore,
	(const void *)uc_context_size,
};
