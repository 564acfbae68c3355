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

/* Load libunicorn once; 0, or -1 with a sentence in err. Thread-safe. */
int uc_lazy_load(char *err, size_t errlen);
/* The file loaded (the module's path or the library's name); NULL before. */
const char *uc_lazy_path(void);
/*
 * The latch offset (uc_latch.h) the loaded library carries: cvisor's
 * module does; UC_LATCH_UNKNOWN for others.
 */
long uc_lazy_latch_offset(void);

#endif
