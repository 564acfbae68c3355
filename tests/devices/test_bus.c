/*
 * test_bus: dispatch, ordering, overlap rejection, unassigned all-ones,
 * width masking, the straddle rule, counters (also under threads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

struct fake {
	uint64_t last_off;
	unsigned last_size;
	uint64_t last_value;
	uint64_t read_value;
	enum bus_action action;
	int reads, writes;
};

static uint64_t fake_read(void *opaque, uint64_t off, unsigned size)
{
	struct fake *f = opaque;
	f->last_off = off;
	f->last_size = size;
	f->reads++;
	return f->read_value;
}

static enum bus_action fake_write(void *opaque, uint64_t off, unsigned size,
				  uint64_t value)
{
	struct fake *f = opaque;
	f->last_off = off;
	f->last_size = size;
	f->last_value = value;
	f->writes++;
	return f->action;
}

static const struct bus_device_ops fake_ops = { fake_read, fake_write };

/* A no-op ops table for ranges whose device is never looked at. */
static uint64_t null_read(void *o, uint64_t off, unsigned size)
{
	(void)o, (void)off, (void)size;
	return 0;
}
static enum bus_action null_write(void *o, uint64_t off, unsigned size,
				  uint64_t v)
{
	(void)o, (void)off, (void)size, (void)v;
	return BUS_CONTINUE;
}
static const struct bus_device_ops null_ops = { null_read, null_write };

static struct bus *new_bus(void)
{
	struct bus *b = malloc(sizeof(*b));
	assert_non_null(b);
	bus_init(b);
	return b;
}

static void test_dispatch_and_order(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct fake a = { .read_value = 0x11 }, c = { .read_value = 0x33 },
		    m = { .read_value = 0x1234567890abcdefull };
	struct cv_err err;

	/* registered out of order: the bus must sort them */
	assert_int_equal(bus_register(b, BUS_PIO, 0x3f8, 8, "c", &fake_ops, &c,
				      &err), 0);
	assert_int_equal(bus_register(b, BUS_PIO, 0x60, 1, "a", &fake_ops, &a,
				      &err), 0);
	assert_int_equal(bus_register(b, BUS_MMIO, 0xfee00000, 0x1000, "m",
				      &fake_ops, &m, &err), 0);
	assert_int_equal(b->pio.n, 2);
	assert_true(b->pio.ranges[0].base < b->pio.ranges[1].base);

	assert_int_equal(bus_read(b, BUS_PIO, 0x3fd, 1), 0x33);
	assert_int_equal(c.last_off, 5);
	assert_int_equal(c.last_size, 1);
	assert_int_equal(bus_read(b, BUS_PIO, 0x60, 1), 0x11);
	assert_int_equal(a.reads, 1);

	/* same address in the other space is a different thing */
	assert_int_equal(bus_read(b, BUS_MMIO, 0x3f8, 1), 0xff);
	assert_int_equal(c.reads, 1);

	assert_int_equal(bus_read(b, BUS_MMIO, 0xfee00020, 8),
			 0x1234567890abcdefull);
	assert_int_equal(m.last_off, 0x20);
	assert_int_equal(m.last_size, 8);

	assert_int_equal(bus_write(b, BUS_PIO, 0x3f9, 2, 0xbeef), BUS_CONTINUE);
	assert_int_equal(c.last_off, 1);
	assert_int_equal(c.last_value, 0xbeef);
	c.action = BUS_EXIT;
	assert_int_equal(bus_write(b, BUS_PIO, 0x3f8, 1, 1), BUS_EXIT);

	assert_ptr_equal(bus_find(b, BUS_PIO, 0x3ff)->opaque, &c);
	assert_null(bus_find(b, BUS_PIO, 0x400));
	assert_null(bus_find(b, BUS_PIO, 0x3f7));
	assert_null(bus_find(b, BUS_PIO, 0));
	free(b);
}

static void test_overlap(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct cv_err err;

	assert_int_equal(bus_register(b, BUS_PIO, 0x100, 0x10, "first",
				      &null_ops, NULL, &err), 0);
	struct { uint64_t base, len; } bad[] = {
		{ 0x100, 0x10 }, { 0xf8, 0x9 }, { 0x10f, 1 }, { 0x104, 2 },
		{ 0x0, 0x1000 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cv_err_clear(&err);
		assert_int_equal(bus_register(b, BUS_PIO, bad[i].base,
					      bad[i].len, "second", &null_ops,
					      NULL, &err), -EEXIST);
		assert_int_equal(err.code, EEXIST);
		assert_non_null(strstr(err.msg, "\"first\""));
		assert_non_null(strstr(err.msg, "\"second\""));
	}
	/* touching but not overlapping is fine on both sides */
	assert_int_equal(bus_register(b, BUS_PIO, 0xf0, 0x10, "below",
				      &null_ops, NULL, &err), 0);
	assert_int_equal(bus_register(b, BUS_PIO, 0x110, 1, "above", &null_ops,
				      NULL, &err), 0);
	/* the failures left nothing behind */
	assert_int_equal(b->pio.n, 3);
	free(b);
}

static void test_bad_ranges(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct cv_err err;

	assert_int_equal(bus_register(b, BUS_PIO, 0x10, 0, "empty", &null_ops,
				      NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(bus_register(b, BUS_PIO, 0xfff8, 0x10, "big",
				      &null_ops, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "0xffff"));
	assert_int_equal(bus_register(b, BUS_MMIO, UINT64_MAX - 4, 0x10, "wrap",
				      &null_ops, NULL, &err), -EINVAL);
	assert_int_equal(bus_register(b, BUS_PIO, 0x10, 1, "noops", NULL, NULL,
				      &err), -EINVAL);
	assert_int_equal(bus_register(b, (enum bus_space)7, 0x10, 1, "space",
				      &null_ops, NULL, &err), -EINVAL);
	/* the very end of both spaces is usable */
	assert_int_equal(bus_register(b, BUS_PIO, 0xffff, 1, "lastport",
				      &null_ops, NULL, &err), 0);
	assert_int_equal(bus_register(b, BUS_MMIO, UINT64_MAX - 0xfff, 0x1000,
				      "top", &null_ops, NULL, &err), 0);
	assert_non_null(bus_find(b, BUS_MMIO, UINT64_MAX));
	assert_int_equal(b->pio.n, 1);
	free(b);
}

static void test_unassigned(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	static const struct { unsigned size; uint64_t ones; } w[] = {
		{ 1, 0xff }, { 2, 0xffff }, { 4, 0xffffffffu },
		{ 8, UINT64_MAX },
	};

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(bus_read(b, BUS_PIO, 0x1234, w[i].size),
				 w[i].ones);
		assert_int_equal(bus_read(b, BUS_MMIO, 0xdead0000, w[i].size),
				 w[i].ones);
		assert_int_equal(bus_write(b, BUS_PIO, 0x1234, w[i].size, 0),
				 BUS_CONTINUE);
	}
	assert_int_equal(b->pio.unassigned_reads, 4);
	assert_int_equal(b->mmio.unassigned_reads, 4);
	assert_int_equal(b->pio.unassigned_writes, 4);
	assert_int_equal(b->mmio.unassigned_writes, 0);
	free(b);
}

static void test_masking_and_sizes(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct fake f = { .read_value = UINT64_MAX };

	assert_int_equal(bus_register(b, BUS_PIO, 0x500, 8, "f", &fake_ops, &f,
				      NULL), 0);
	assert_int_equal(bus_read(b, BUS_PIO, 0x500, 1), 0xff);
	assert_int_equal(bus_read(b, BUS_PIO, 0x500, 2), 0xffff);
	assert_int_equal(bus_read(b, BUS_PIO, 0x500, 4), 0xffffffffu);
	bus_write(b, BUS_PIO, 0x500, 1, 0x12345678);
	assert_int_equal(f.last_value, 0x78);
	bus_write(b, BUS_PIO, 0x500, 2, 0x12345678);
	assert_int_equal(f.last_value, 0x5678);

	/* odd sizes never reach the device */
	int r = f.reads, wr = f.writes;
	assert_int_equal(bus_read(b, BUS_PIO, 0x500, 3), UINT64_MAX);
	assert_int_equal(bus_read(b, BUS_PIO, 0x500, 0), UINT64_MAX);
	bus_write(b, BUS_PIO, 0x500, 16, 1);
	assert_int_equal(f.reads, r);
	assert_int_equal(f.writes, wr);
	assert_int_equal(b->pio.unassigned_reads, 2);
	assert_int_equal(b->pio.unassigned_writes, 1);
	free(b);
}

static void test_straddle(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct fake f = { .read_value = 0x42 }, g = { 0 };

	assert_int_equal(bus_register(b, BUS_PIO, 0x5f0, 4, "f", &fake_ops, &f,
				      NULL), 0);
	assert_int_equal(bus_register(b, BUS_PIO, 0x5f4, 4, "g", &fake_ops, &g,
				      NULL), 0);
	/* first byte in f: f gets all four bytes with its offset */
	assert_int_equal(bus_read(b, BUS_PIO, 0x5f3, 4), 0x42);
	assert_int_equal(f.last_off, 3);
	assert_int_equal(f.last_size, 4);
	assert_int_equal(g.reads, 0);
	/* first byte unassigned: unassigned as a whole */
	assert_int_equal(bus_read(b, BUS_PIO, 0x5ef, 4), 0xffffffffu);
	assert_int_equal(f.reads, 1);
	free(b);
}

static void test_counters(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct fake f = { 0 }, g = { 0 };

	bus_register(b, BUS_PIO, 0x10, 2, "f", &fake_ops, &f, NULL);
	bus_register(b, BUS_PIO, 0x20, 2, "g", &fake_ops, &g, NULL);
	for (int i = 0; i < 5; i++)
		bus_read(b, BUS_PIO, 0x10, 1);
	for (int i = 0; i < 3; i++)
		bus_write(b, BUS_PIO, 0x21, 1, 0);
	const struct bus_range *rf = bus_find(b, BUS_PIO, 0x10);
	const struct bus_range *rg = bus_find(b, BUS_PIO, 0x20);
	assert_int_equal(rf->reads, 5);
	assert_int_equal(rf->writes, 0);
	assert_int_equal(rg->reads, 0);
	assert_int_equal(rg->writes, 3);

	/* inserting before them moves them; counters move along */
	bus_register(b, BUS_PIO, 0x0, 2, "h", &fake_ops, NULL, NULL);
	assert_int_equal(bus_find(b, BUS_PIO, 0x10)->reads, 5);
	assert_int_equal(bus_find(b, BUS_PIO, 0x20)->writes, 3);

	assert_int_equal(bus_unregister(b, BUS_PIO, 0x0), 0);
	assert_int_equal(bus_unregister(b, BUS_PIO, 0x11), -ENOENT);
	assert_int_equal(bus_unregister(b, BUS_MMIO, 0x10), -ENOENT);
	assert_int_equal(bus_find(b, BUS_PIO, 0x21)->writes, 3);
	assert_int_equal(bus_unregister(b, BUS_PIO, 0x10), 0);
	assert_null(bus_find(b, BUS_PIO, 0x10));
	assert_int_equal(bus_read(b, BUS_PIO, 0x10, 1), 0xff);
	assert_int_equal(b->pio.n, 1);
	free(b);
}

static void test_capacity(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	struct cv_err err;

	for (int i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(b, BUS_MMIO, 0x1000ull * i, 0x10,
					      "r", &null_ops, NULL, &err), 0);
	assert_int_equal(bus_register(b, BUS_MMIO, 0x100000, 0x10, "extra",
				      &null_ops, NULL, &err), -ENOSPC);
	assert_non_null(strstr(err.msg, "extra"));
	free(b);
}

/* Binary search vs. a linear scan over random disjoint ranges. */
static void test_lookup_random(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 50; round++) {
		struct bus *b = new_bus();
		uint64_t bases[BUS_MAX_RANGES], lens[BUS_MAX_RANGES];
		size_t n = 0;
		for (int t = 0; t < 200 && n < BUS_MAX_RANGES; t++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			uint64_t base = (seed >> 20) % 0x10000;
			uint64_t len = 1 + (seed >> 50) % 64;
			if (base + len > 0x10000)
				continue;
			if (bus_register(b, BUS_PIO, base, len, "x", &null_ops,
					 NULL, NULL) == 0) {
				bases[n] = base;
				lens[n++] = len;
			}
		}
		assert_int_equal(b->pio.n, n);
		for (uint64_t a = 0; a < 0x10000; a += 7) {
			const struct bus_range *want = NULL;
			for (size_t i = 0; i < n; i++)
				if (a >= bases[i] && a < bases[i] + lens[i])
					want = bus_find(b, BUS_PIO, bases[i]);
			assert_ptr_equal(bus_find(b, BUS_PIO, a), want);
		}
		free(b);
	}
}

#define THREADS 4
#define PER_THREAD 100000

static void *hammer(void *arg)
{
	struct bus *b = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		bus_read(b, BUS_PIO, 0x10, 1);
		bus_write(b, BUS_PIO, 0x10, 1, 0);
		bus_read(b, BUS_PIO, 0x99, 1);
	}
	return NULL;
}

static void test_counters_threads(void **state)
{
	(void)state;
	struct bus *b = new_bus();
	pthread_t t[THREADS];

	bus_register(b, BUS_PIO, 0x10, 1, "n", &null_ops, NULL, NULL);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, b), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	const struct bus_range *r = bus_find(b, BUS_PIO, 0x10);
	assert_int_equal(r->reads, THREADS * PER_THREAD);
	assert_int_equal(r->writes, THREADS * PER_THREAD);
	assert_int_equal(b->pio.unassigned_reads, THREADS * PER_THREAD);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch_and_order),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_unassigned),
		cmocka_unit_test(test_masking_and_sizes),
		cmocka_unit_test(test_straddle),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_lookup_random),
		cmocka_unit_test(test_counters_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
