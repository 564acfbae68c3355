/*
 * emu_latch: works around unicorn's "exception in flight" latch.
 *
 * QEMU's x86 CPU remembers the exception it is delivering (the field
 * env->old_exception) to turn a fault during delivery into #DF, and a
 * fault during #DF delivery into a triple fault; its own delivery code
 * clears the field once the handler is entered.  unicorn 2 hands every
 * exception to UC_HOOK_INTR instead of delivering it, so nothing ever
 * clears it (unicorn issue #1883): after one #PF (or #DE, #TS, #NP, #SS,
 * #GP) that cvisor delivered, the NEXT #PF or contributory fault arrives
 * as #DF, and the one after that resets the engine.  A guest that takes
 * page faults on purpose (Linux's decompressor maps memory from its #PF
 * handler on the 64-bit entry) then dies with a spurious triple fault.
 *
 * The field has no register id, but uc_context_save/restore copy the CPU
 * state as one block.  So the field's offset in a saved context is found
 * once per process by experiment on a fresh engine (before: -1; after a
 * #DE: 0; after a #GP: 13: exactly one 32-bit slot must match all three),
 * and after each delivery cvisor saves the context, writes -1 there and
 * restores it.  If the experiment finds no unique slot (another unicorn
 * build) the work-around stays off and exceptions behave as before.
 *
 * Process-wide state: the offset, computed once (a fact about the loaded
 * libunicorn), like kvm.c's supported-CPUID cache.
 */
#include "emu_int.h"
#include "emu_tramp.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LATCH_UNKNOWN (-2)
#define LATCH_NONE (-1)		/* calibration failed: work-around off */

static atomic_long latch_off = LATCH_UNKNOWN;
static pthread_mutex_t latch_lock = PTHREAD_MUTEX_INITIALIZER;

/* Where the code under test goes: the trampoline page, which
 * emu_tramp_init rewrites afterwards (offsets past its code; one per
 * probe, since the engine keeps its translations between runs). */
#define PROBE_OFF(vec) (0xf00u + 0x40u * ((vec) != 0))

/* Run one faulting instruction; the hooks record the vector (booting). */
static bool probe(struct emu_vcpu *v, const uint8_t *code, size_t len,
		  uint32_t want_vec)
{
	uint64_t at = v->vm->tramp_gpa + PROBE_OFF(want_vec);
	memcpy(v->tramp + PROBE_OFF(want_vec), code, len);
	uint64_t zero = 0, one = 1, sel = 0x1234;
	uc_reg_write(v->uc, UC_X86_REG_RCX, &zero);
	uc_reg_write(v->uc, UC_X86_REG_RDX, &zero);
	uc_reg_write(v->uc, UC_X86_REG_RAX, want_vec == 0 ? &one : &sel);
	memset(&v->trap, 0, sizeof(v->trap));
	v->booting = true;
	v->boot_exit = 0;
	/*
	 * No instruction count: a count > 0 installs unicorn's counting hook,
	 * and the next start without one removes it and flushes every
	 * translation (tb_flush -> tcg_region_reset_all), which memsets the
	 * whole 1 GiB code buffer: ~1-2 s and 1 GiB RSS per process.  The
	 * fault stops the engine (booting mode), or `until` does.
	 */
	uc_emu_start(v->uc, at, at + len, 0, 0);
	v->booting = false;
	uc_ctl_remove_cache(v->uc, at, at + len);	/* the page changes */
	bool ok = v->trap.exception && v->trap.vector == want_vec;
	memset(&v->trap, 0, sizeof(v->trap));
	return ok;
}

static int32_t slot(const uint8_t *b, size_t off)
{
	int32_t x;
	memcpy(&x, b + off, 4);
	return x;
}

static long calibrate(struct emu_vcpu *v)
{
	static const uint8_t div_ecx[] = { 0xf7, 0xf1 };	/* #DE */
	static const uint8_t mov_ds_ax[] = { 0x8e, 0xd8 };	/* #GP */
	size_t size = uc_context_size(v->uc);
	uc_context *c0 = NULL, *c1 = NULL, *c2 = NULL;
	long found = LATCH_UNKNOWN;	/* out of memory: the next engine tries */
	if (!size || uc_context_alloc(v->uc, &c0) ||
	    uc_context_alloc(v->uc, &c1) || uc_context_alloc(v->uc, &c2) ||
	    uc_context_save(v->uc, c0))
		goto out;
	found = LATCH_NONE;
	bool ok = probe(v, div_ecx, sizeof(div_ecx), 0) &&
		  !uc_context_save(v->uc, c1) &&
		  !uc_context_restore(v->uc, c0) &&
		  probe(v, mov_ds_ax, sizeof(mov_ds_ax), 13) &&
		  !uc_context_save(v->uc, c2);
	uc_context_restore(v->uc, c0);
	if (!ok)
		goto out;
	const uint8_t *b0 = (const uint8_t *)c0, *b1 = (const uint8_t *)c1,
		      *b2 = (const uint8_t *)c2;
	for (size_t off = 0; off + 4 <= size; off += 4) {
		if (slot(b0, off) != -1 || slot(b1, off) != 0 ||
		    slot(b2, off) != 13)
			continue;
		if (found != LATCH_NONE) {	/* not unique: do not guess */
			found = LATCH_NONE;
			break;
		}
		found = (long)off;
	}
out:
	if (c0)
		uc_context_free(c0);
	if (c1)
		uc_context_free(c1);
	if (c2)
		uc_context_free(c2);
	return found;
}

void emu_latch_init(struct emu_vcpu *v)
{
	if (atomic_load(&latch_off) != LATCH_UNKNOWN)
		return;
	pthread_mutex_lock(&latch_lock);
	if (atomic_load(&latch_off) == LATCH_UNKNOWN)
		atomic_store(&latch_off, calibrate(v));
	pthread_mutex_unlock(&latch_lock);
}

bool emu_latch_known(void)
{
	return atomic_load(&latch_off) >= 0;
}

void emu_latch_clear(struct emu_vcpu *v, uint32_t vector)
{
	long off = atomic_load(&latch_off);
	/* only these set the latch (QEMU's check_exception) */
	bool sets = vector == 0 || (vector >= 8 && vector <= 14);
	if (off < 0 || !sets || !v->scratch_ctx)
		return;
	if (uc_context_save(v->uc, v->scratch_ctx))
		return;
	uint8_t *b = (uint8_t *)v->scratch_ctx;
	int32_t none = -1;
	if (slot(b, (size_t)off) == none)
		return;
	memcpy(b + off, &none, 4);
	uc_context_restore(v->uc, v->scratch_ctx);
}
