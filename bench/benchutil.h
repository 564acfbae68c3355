/*
 * benchutil: what the C benchmarks share — a monotonic clock in ns, the
 * median of a sample of doubles, the latency summary line (p50, p99, max
 * of a sample, in µs) and main's loop over the backends.
 */
#ifndef CV_BENCHUTIL_H
#define CV_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * Sort v[0..n) (n > 0); returns its median, the mean of the two middle
 * values when n is even (bench_stats' median of a u64 sample is v[n / 2]).
 */
static inline double bench_median_double(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * Sort v[0..n) (n > 0) and print "  <what>  <mid> .. us   p99 .. us   max
 * .. us" with what in a column of width; returns the median in ns.
 */
static inline double bench_stats(const char *what, int width,
				 const char *mid, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("  %-*s %s %8.1f us   p99 %8.1f us   max %8.1f us\n", width,
	       what, mid, (double)v[n / 2] / 1e3, (double)v[n * 99 / 100] / 1e3,
	       (double)v[n - 1] / 1e3);
	return (double)v[n / 2];
}

/*
 * main's loop: fn for each backend named on the command line, or for emu
 * and kvm when none is; stdout line-buffered (progress as it happens).
 */
static inline int bench_backends(int argc, char **argv,
				 void (*fn)(const char *accel))
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fn("emu");
		fn("kvm");
	}
	for (int i = 1; i < argc; i++)
		fn(argv[i]);
	return 0;
}

#endif
