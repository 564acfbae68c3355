/*
 * uc_latch: finds where unicorn keeps QEMU's "exception in flight" latch
 * (env->old_exception) in a saved context, by experiment (emu_latch.c says
 * why cvisor must clear it).  Uses only the Unicorn API, so that the
 * build can run it too: src/cli/meson.build bakes the result for
 * cvisor's own Unicorn module (ucmod.c) into the module.
 */
#ifndef CV_UC_LATCH_H
#define CV_UC_LATCH_H

#include <stdint.h>
#include <unicorn/unicorn.h>

#define UC_LATCH_NONE (-1)	/* no unique slot: leave the work-around off */
#define UC_LATCH_UNKNOWN (-2)	/* could not tell (out of memory; not known) */
#define UC_LATCH_PROBE_SIZE 0x80u	/* bytes of code space the probes use */

/*
 * uc: a fresh x86-64 engine (long mode, no code run yet), with guest
 * memory at gpa whose host copy `code` is writable; the probes overwrite
 * UC_LATCH_PROBE_SIZE bytes there.  Adds (and removes) its own interrupt
 * hook; the engine's registers end as they were.  The offset (>= 0), or
 * UC_LATCH_NONE / UC_LATCH_UNKNOWN.
 */
long uc_latch_find(uc_engine *uc, uint64_t gpa, uint8_t *code);

#endif
