/*
 * test_pit: the 8254 on a fake clock - counter reads in modes 0, 2 and 3,
 * lobyte/hibyte/word access, the latch and read-back commands, channel 0's
 * IRQ0 edges and deadlines from pit_poll (periodic and one-shot),
 * reinjection (owed edges paid one per pit_ack, the bound, unmask and
 * reprogram forget them), and the port 0x61 gate/OUT2 bits a calibration
 * loop uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "pit8254.h"

struct fx {
	struct pit *p;
	uint64_t now;
	int rises, falls, rearms;
	bool level;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static void on_irq(void *ctx, bool level)
{
	struct fx *f = ctx;
	if (level)
		f->rises++;
	else
		f->falls++;
	f->level = level;
}

static void on_rearm(void *ctx)
{
	((struct fx *)ctx)->rearms++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->now = 1000000000ull;
	struct pit_hooks h = { on_irq, on_rearm, fake_now, f };
	f->p = pit_create(h, NULL);
	*state = f;
	return f->p ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pit_destroy(f->p);
	free(f);
	return 0;
}

static void w(struct fx *f, unsigned reg, uint8_t v)
{
	pit_ops.write(f->p, reg, 1, v);
}

static uint8_t r(struct fx *f, unsigned reg)
{
	return (uint8_t)pit_ops.read(f->p, reg, 1);
}

static uint16_t r16(struct fx *f, unsigned ch)
{
	uint8_t lo = r(f, ch);
	return (uint16_t)(lo | r(f, ch) << 8);
}

/* ns for n PIT clocks (rounded down) */
static uint64_t clk(uint64_t n)
{
	return n * 1000000000ull / PIT_FREQ_HZ;
}

static void test_mode2_periodic_irq(void **state)
{
	struct fx *f = *state;
	const uint16_t div = 11932;		/* ~100 Hz */
	assert_int_equal(pit_poll(f->p, f->now), 0);	/* nothing programmed */
	w(f, 3, 0x34);				/* ch0, lo/hi, mode 2 */
	w(f, 0, div & 0xff);
	assert_int_equal(f->rearms, 0);		/* only after the full count */
	w(f, 0, div >> 8);
	assert_int_equal(f->rearms, 1);
	uint64_t t0 = f->now;
	uint64_t next = pit_poll(f->p, f->now);
	assert_true(next > t0 + clk(div) - 2 && next <= t0 + clk(div) + 2);
	assert_int_equal(f->rises, 0);

	f->now = next - 1;
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 0);
	f->now = next;
	uint64_t n2 = pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 1);
	assert_true(n2 > next + clk(div) - 2 && n2 <= next + clk(div) + 2);

	/* 100 periods in one go: one edge (merged: reinjection is off) */
	f->now = t0 + clk((uint64_t)div * 101) + 10;
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 2);
	/* counter value halfway through a period */
	f->now = t0 + clk((uint64_t)div * 200 + div / 2) + 1;
	uint16_t c = r16(f, 0);
	assert_true(c >= div / 2 - 2 && c <= div / 2 + 2);
}

/*
 * Reinjection on: periods that end while the last edge is unacknowledged
 * are owed, not merged; each ack lets the next poll send one.
 */
static void test_reinject(void **state)
{
	struct fx *f = *state;
	const uint16_t div = 11932;		/* ~100 Hz */
	pit_set_reinject(f->p, true);
	assert_false(pit_ack(f->p));		/* nothing owed: no re-poll */
	w(f, 3, 0x34);
	w(f, 0, div & 0xff);
	w(f, 0, div >> 8);
	uint64_t t0 = f->now;
	f->now = t0 + clk(div) + 1;
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 1);
	/* 100 more periods unacknowledged: no edge, 100 owed */
	f->now = t0 + clk((uint64_t)div * 101) + 1;
	uint64_t next = pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 1);
	assert_true(next > f->now && next <= f->now + clk(div) + 2);
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 1);
	/* an ack before any edge of this poll's does not count */
	for (int i = 0; i < 100; i++) {
		assert_true(pit_ack(f->p));	/* owed: poll again */
		pit_poll(f->p, f->now);
		assert_int_equal(f->rises, 2 + i);
		pit_poll(f->p, f->now);		/* no second edge unacked */
		assert_int_equal(f->rises, 2 + i);
	}
	assert_false(pit_ack(f->p));		/* paid: 101 edges for 101 */
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 101);
	f->now = t0 + clk((uint64_t)div * 102) + 1;
	pit_poll(f->p, f->now);			/* the next period: at once */
	assert_int_equal(f->rises, 102);
	assert_int_equal(f->falls, 101);	/* each one an edge (low first) */

	/* the bound: 1000 periods unacknowledged owe PIT_REINJECT_MAX */
	f->now = t0 + clk((uint64_t)div * 1102) + 1;
	pit_poll(f->p, f->now);
	int base = f->rises, paid = 0;
	while (pit_ack(f->p)) {
		pit_poll(f->p, f->now);
		paid++;
		assert_true(paid <= 2 * (int)PIT_REINJECT_MAX);
	}
	assert_int_equal(paid, PIT_REINJECT_MAX);
	assert_int_equal(f->rises, base + PIT_REINJECT_MAX);

	/* unmasking IRQ0 forgets what is owed (the edges went nowhere) */
	f->now = t0 + clk((uint64_t)div * 1112) + 1;
	pit_poll(f->p, f->now);			/* 10 owed */
	base = f->rises;
	pit_irq_unmasked(f->p);
	f->now = t0 + clk((uint64_t)div * 1113) + 1;
	pit_poll(f->p, f->now);			/* this period's edge */
	assert_int_equal(f->rises, base + 1);
	assert_false(pit_ack(f->p));
	/* and so does reprogramming channel 0 */
	f->now = t0 + clk((uint64_t)div * 1120) + 1;
	pit_poll(f->p, f->now);			/* 7 owed */
	assert_true(pit_ack(f->p));
	w(f, 3, 0x34);
	w(f, 0, div & 0xff);
	w(f, 0, div >> 8);
	assert_false(pit_ack(f->p));
	base = f->rises;
	uint64_t t1 = f->now;
	f->now = t1 + clk(div) + 1;
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, base + 1);

	/* one-shot (mode 0): one edge, acks or not */
	w(f, 3, 0x30);
	w(f, 0, 0x00);
	w(f, 0, 0x10);
	base = f->rises;
	f->now += clk(0x1000 * 5);
	pit_poll(f->p, f->now);
	assert_false(pit_ack(f->p));
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, base + 1);
}

static void test_mode3_and_latch(void **state)
{
	struct fx *f = *state;
	w(f, 3, 0x36);				/* ch0, lo/hi, mode 3 */
	w(f, 0, 0x00);
	w(f, 0, 0x10);				/* 4096 */
	uint64_t t0 = f->now;
	f->now = t0 + clk(1000) + 1;
	/* mode 3 counts down by two */
	uint16_t c = r16(f, 0);
	assert_true(c >= 4096 - 2002 && c <= 4096 - 1998);
	/* latch: the value stays while time passes */
	w(f, 3, 0x00);
	f->now += clk(500);
	uint16_t l = r16(f, 0);
	assert_int_equal(l, c);
	uint16_t live = r16(f, 0);
	assert_true(live != l);
	/* periodic IRQ0 edges in mode 3 too */
	f->now = t0 + clk(4096 * 3) + 1;
	pit_poll(f->p, f->now);
	assert_int_equal(f->rises, 1);
}

static void test_mode0_oneshot_and_bytes(void **state)
{
	struct fx *f = *state;
	w(f, 3, 0x30);				/* ch0 lo/hi mode 0 */
	w(f, 0, 0xe8);
	w(f, 0, 0x03);				/* 1000 */
	uint64_t t0 = f->now;
	uint64_t next = pit_poll(f->p, f->now);
	assert_true(next >= t0 + clk(1000) && next <= t0 + clk(1000) + 2);
	f->now = t0 + clk(1001);
	assert_int_equal(pit_poll(f->p, f->now), 0);	/* one shot: no more */
	assert_int_equal(f->rises, 1);
	assert_true(f->level);				/* OUT stays high */
	/* wraps after terminal count */
	f->now = t0 + clk(1100);
	uint16_t c = r16(f, 0);
	assert_true(c >= 0xffff - 101 && c <= 0xffff - 98);
	/* a new count lowers OUT again */
	w(f, 0, 0x10);
	w(f, 0, 0x00);
	assert_false(f->level);

	/* lobyte-only and hibyte-only access on channel 1 */
	w(f, 3, 0x50);				/* ch1 lobyte mode 0 */
	w(f, 1, 0x80);
	assert_int_equal(r(f, 1), 0x80);
	w(f, 3, 0x60);				/* ch1 hibyte mode 0 */
	w(f, 1, 0x12);
	assert_int_equal(r(f, 1), 0x12);
}

static void test_readback(void **state)
{
	struct fx *f = *state;
	w(f, 3, 0xb4);				/* ch2 lo/hi mode 2 */
	w(f, 2, 0x00);
	w(f, 2, 0x01);				/* 256 */
	f->now += clk(16) + 1;
	w(f, 3, 0xc8);				/* read-back count+status ch2 */
	uint8_t st = r(f, 2);
	assert_int_equal(st & 0x3f, 0x34);	/* lo/hi, mode 2, binary */
	uint16_t c = r16(f, 2);
	assert_true(c >= 256 - 17 && c <= 256 - 15);
	/* status only */
	w(f, 3, 0xe8);
	assert_int_equal(r(f, 2) & 0x3f, 0x34);
}

static void test_port61_calibration(void **state)
{
	struct fx *f = *state;
	/* Linux-style: gate on, speaker off, ch2 mode 0, wait for OUT2 */
	pit_port61_ops.write(f->p, 0, 1, 0x01);
	assert_int_equal(pit_port61_ops.read(f->p, 0, 1) & 0x03, 0x01);
	w(f, 3, 0xb0);
	w(f, 2, 0x9b);
	w(f, 2, 0x2e);				/* 11931: 10 ms */
	uint64_t t0 = f->now;
	assert_int_equal(pit_port61_ops.read(f->p, 0, 1) & 0x20, 0);
	f->now = t0 + clk(11930);
	assert_int_equal(pit_port61_ops.read(f->p, 0, 1) & 0x20, 0);
	f->now = t0 + clk(11932) + 1;
	assert_int_equal(pit_port61_ops.read(f->p, 0, 1) & 0x20, 0x20);
	/* channel 2 never touches IRQ0 */
	assert_int_equal(f->rises, 0);
	/* refresh bit toggles with time */
	uint8_t a = (uint8_t)pit_port61_ops.read(f->p, 0, 1);
	f->now += 15085;
	uint8_t b = (uint8_t)pit_port61_ops.read(f->p, 0, 1);
	assert_int_equal((a ^ b) & 0x10, 0x10);

	/* garbage never breaks it */
	for (unsigned i = 0; i < 5000; i++) {
		w(f, i % 4, (uint8_t)(i * 91));
		(void)r(f, i % 4);
		f->now += i;
		(void)pit_poll(f->p, f->now);
	}
	pit_reset(f->p);
	assert_int_equal(pit_poll(f->p, f->now), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mode2_periodic_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reinject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode3_and_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode0_oneshot_and_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port61_calibration, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
