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
 * (uc_latch.c; cvisor's own Unicorn module, ucmod.c, carries the offset
 * its build found the same way, and saves every process the ~3 ms the
 * experiment costs.)
 *
 * Process-wide state: the offset, found once (a fact about the loaded
 * libunicorn), like kvm.c's supported-CPUID cache.
 */
#include "emu_int.h"
#include "emu_tramp.h"
#include "uc_lazy.h"
#include "uc_latch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define LATCH_UNSET (-3)	/* not found yet */

static atomic_long latch_off = LATCH_UNSET;
static pthread_mutex_t latch_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * cvisor's own Unicorn module knows its offset (the build found it, the
 * same way); other builds are probed on this fresh engine, in the
 * trampoline page (past its code; emu_tramp_init rewrites it afterwards).
 */
static long calibrate(struct emu_vcpu *v)
{
	long off = uc_lazy_latch_offset();
	if (off != UC_LATCH_UNKNOWN)
		return off;
	off = uc_latch_find(v->uc, v->vm->tramp_gpa + 0xf00, v->tramp + 0xf00);
	/* out of memory: unset, the next engine tries again */
	return off == UC_LATCH_UNKNOWN ? LATCH_UNSET : off;
}

void emu_latch_init(struct emu_vcpu *v)
{
	if (atomic_load(&latch_off) != LATCH_UNSET)
		return;
	pthread_mutex_lock(&latch_lock);
	if (atomic_load(&latch_off) == LATCH_UNSET)
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
	int32_t now;
	memcpy(&now, b + off, 4);
	if (now == none)
		return;
	memcpy(b + off, &none, 4);
	uc_context_restore(v->uc, v->scratch_ctx);
}
