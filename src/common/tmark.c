/* tmark: see tmark.h */
#include "tmark.h"

#ifdef CV_TMARK
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/*
 * Marks are recorded in memory (two clock reads and a store: printing
 * on the path would distort what it measures) and printed at exit, each
 * with the CPU time the whole process had used by then.
 */
#define NMARKS 256
static struct { uint64_t ns, cpu_ns; const char *what; } marks[NMARKS];
static atomic_uint nmarks;
static atomic_int enabled = -1;	/* -1: $CVISOR_TMARK not read yet */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void dump(void)
{
	const char *e = getenv("TIERDRV_T0_NS");
	unsigned n = atomic_load(&nmarks);
	uint64_t t0 = e ? strtoull(e, NULL, 10) : n ? marks[0].ns : 0;
	for (unsigned i = 0; i < n && i < NMARKS; i++)
		fprintf(stderr, "TMARK %9.3f %s (process CPU %.3f ms)\n",
			(double)(marks[i].ns - t0) / 1e6, marks[i].what,
			(double)marks[i].cpu_ns / 1e6);
}

void cv_tmark(const char *what)
{
	int on = atomic_load(&enabled);
	if (on < 0) {
		on = getenv("CVISOR_TMARK") != NULL;
		if (on)
			atexit(dump);
		atomic_store(&enabled, on);
	}
	if (!on)
		return;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	unsigned i = atomic_fetch_add(&nmarks, 1);
	if (i < NMARKS) {
		marks[i].ns = now;
		marks[i].cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		marks[i].what = what;
	}
}
#endif
