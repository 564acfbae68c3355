/*
 * tmark: start-up timing marks for bench/tier_bench.sh --trace.  Compiled
 * in only with meson -Dtmark=true (CV_TMARK); otherwise every mark is
 * nothing.  When compiled in and $CVISOR_TMARK is set, each mark prints
 * "TMARK <ms since TIERDRV_T0_NS (or the first mark)> <what>" on stderr:
 * one write(2) each, async-signal-safe, from any thread.
 */
#ifndef CV_TMARK_H
#define CV_TMARK_H

#ifdef CV_TMARK
#include <stdatomic.h>
void cv_tmark(const char *what);
/* A mark only the first time this line runs (in any thread). */
#define CV_TMARK_ONCE(what)                                             \
	do {                                                            \
		static atomic_flag cv_tmark_seen_ = ATOMIC_FLAG_INIT;   \
		if (!atomic_flag_test_and_set(&cv_tmark_seen_))         \
			cv_tmark(what);                                 \
	} while (0)
#else
static inline void cv_tmark(const char *what) { (void)what; }
#define CV_TMARK_ONCE(what) ((void)0)
#endif

#endif
