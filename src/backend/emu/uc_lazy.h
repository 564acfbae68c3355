/*
 * uc_lazy: libunicorn is loaded when the emu backend is first used, not at
 * process start.  The library is 19 MB: linked normally it costs every
 * cvisor process ~5 ms of relocations and ~6 MB of RSS before main(), also
 * processes that only run KVM guests.  uc_lazy.c defines the uc_* functions
 * the backend calls and forwards them to the dlopen()ed library
 * (libunicorn.so.2, or $CVISOR_LIBUNICORN).
 */
#ifndef CV_UC_LAZY_H
#define CV_UC_LAZY_H

#include <stddef.h>

/* Load libunicorn once; 0, or -1 with a sentence in err. Thread-safe. */
int uc_lazy_load(char *err, size_t errlen);

#endif
