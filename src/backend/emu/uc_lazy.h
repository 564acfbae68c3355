/*
 * uc_lazy: libunicorn is loaded when the emu backend is first used, not at
 * process start.  The library is 19 MB: linked normally it costs every
 * cvisor process ~5 ms of relocations and ~6 MB of RSS before main(), also
 * processes that only run KVM guests.  uc_lazy.c defines the uc_* functions
 * the backend calls and forwards them to the dlopen()ed library: cvisor's
 * own module cvisor-unicorn.so (ucmod.c: faster to load) from beside the
 * executable or its installed path, else libunicorn.so.2, or always
 * $CVISOR_LIBUNICORN when set.
 */
#ifndef CV_UC_LAZY_H
#define CV_UC_LAZY_H

#include <stddef.h>
#include <unicorn/unicorn.h>

#include <stdbool.h>

/* Load libunicorn once; 0, or -1 with a sentence in err. Thread-safe. */
int uc_lazy_load(char *err, size_t errlen);
/* The file loaded (the module's path or the library's name); NULL before. */
const char *uc_lazy_path(void);
/*
 * The latch offset (uc_latch.h) the loaded library carries: cvisor's
 * module does; UC_LATCH_UNKNOWN for others.
 */
long uc_lazy_latch_offset(void);

/*
 * Start that load on a detached helper thread and return at once, and
 * let the thread then make a spare x86-64 engine (the load and the
 * engine's first-use initialisation take ~7 + ~4 ms).  A later
 * uc_lazy_load() or uc_* call waits for the load.  Best effort: if no
 * thread can be made, the first use loads as before.
 */
void uc_lazy_preload(void);

/*
 * The preload's spare engine (UC_ARCH_X86, UC_MODE_64, initialised,
 * never run), once: waits for the preload thread if it is still making
 * it; NULL without a preload, or after the first call.
 */
uc_engine *uc_lazy_take_spare(void);

/* The load has finished (well or not); never waits. */
bool uc_lazy_done(void);

#endif
