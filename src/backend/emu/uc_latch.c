#include "uc_latch.h"

#include <stdbool.h>
#include <string.h>

struct probe_trap {
	bool hit;
	uint32_t vector;
};

static void on_probe_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct probe_trap *t = opaque;
	if (!t->hit) {
		t->hit = true;
		t->vector = intno;
	}
	uc_emu_stop(uc);
}

/* Run one faulting instruction at gpa; did it raise want_vec? */
static bool probe(uc_engine *uc, struct probe_trap *t, uint64_t gpa,
		  uint8_t *code, const uint8_t *insn, size_t len,
		  uint32_t want_vec)
{
	memcpy(code, insn, len);
	uint64_t zero = 0, one = 1, sel = 0x1234;
	uc_reg_write(uc, UC_X86_REG_RCX, &zero);
	uc_reg_write(uc, UC_X86_REG_RDX, &zero);
	uc_reg_write(uc, UC_X86_REG_RAX, want_vec == 0 ? &one : &sel);
	*t = (struct probe_trap){ 0 };
	/*
	 * No instruction count: a count > 0 installs unicorn's counting hook,
	 * and the next start without one removes it and flushes every
	 * translation (tb_flush -> tcg_region_reset_all), which memsets the
	 * whole 1 GiB code buffer: ~1-2 s and 1 GiB RSS per process.  The
	 * fault stops the engine (the hook), or `until` does.
	 */
	uc_emu_start(uc, gpa, gpa + len, 0, 0);
	uc_ctl_remove_cache(uc, gpa, gpa + len);	/* the bytes change */
	return t->hit && t->vector == want_vec;
}

static int32_t slot(const uint8_t *b, size_t off)
{
	int32_t x;
	memcpy(&x, b + off, 4);
	return x;
}

/*
 * The latch before any fault: -1; after a #DE: 0; after a #GP: 13.
 * Exactly one 32-bit slot of the saved contexts must match all three.
 */
long uc_latch_find(uc_engine *uc, uint64_t gpa, uint8_t *code)
{
	static const uint8_t div_ecx[] = { 0xf7, 0xf1 };	/* #DE */
	static const uint8_t mov_ds_ax[] = { 0x8e, 0xd8 };	/* #GP */
	size_t size = uc_context_size(uc);
	uc_context *c0 = NULL, *c1 = NULL, *c2 = NULL;
	uc_hook hook = 0;
	struct probe_trap t = { 0 };
	long found = UC_LATCH_UNKNOWN;
	if (!size || uc_context_alloc(uc, &c0) || uc_context_alloc(uc, &c1) ||
	    uc_context_alloc(uc, &c2) || uc_context_save(uc, c0) ||
	    uc_hook_add(uc, &hook, UC_HOOK_INTR, (void *)on_probe_intr, &t,
			1, 0))
		goto out;
	found = UC_LATCH_NONE;
	/* two places: the engine keeps its translations between runs */
	bool ok = probe(uc, &t, gpa, code, div_ecx, sizeof(div_ecx), 0) &&
		  !uc_context_save(uc, c1) && !uc_context_restore(uc, c0) &&
		  probe(uc, &t, gpa + 0x40, code + 0x40, mov_ds_ax,
			sizeof(mov_ds_ax), 13) &&
		  !uc_context_save(uc, c2);
	uc_context_restore(uc, c0);
	if (!ok)
		goto out;
	const uint8_t *b0 = (const uint8_t *)c0, *b1 = (const uint8_t *)c1,
		      *b2 = (const uint8_t *)c2;
	for (size_t off = 0; off + 4 <= size; off += 4) {
		if (slot(b0, off) != -1 || slot(b1, off) != 0 ||
		    slot(b2, off) != 13)
			continue;
		if (found != UC_LATCH_NONE) {	/* not unique: do not guess */
			found = UC_LATCH_NONE;
			break;
		}
		found = (long)off;
	}
out:
	if (hook)
		uc_hook_del(uc, hook);
	if (c0)
		uc_context_free(c0);
	if (c1)
		uc_context_free(c1);
	if (c2)
		uc_context_free(c2);
	return found;
}
