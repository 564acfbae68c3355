/*
 * hostile: what the hostile test guests share — a xorshift generator
 * seeded from the TSC and a progress line every so many rounds, so the
 * host can see the flood is going on.
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include "guest.h"

static uint32_t rng_state;

static inline void rng_seed(void)
{
	rng_state = (uint32_t)rdtsc() | 1;
}

static inline uint32_t rng(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static inline void progress(const char *who, unsigned long round)
{
	print(who);
	print(": round ");
	print_dec(round);
	print("\n");
}

#endif
