/*
 * test_rtc: RTC/CMOS on a fake wall clock - BCD and binary, 24 h and
 * 12 h, update-in-progress, NMI bit ignored, writes moving the guest's
 * clock, status registers and the memory-size bytes; the interrupts
 * (periodic, update-ended, alarm), register C and the deadlines
 * rtc_poll() gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "rtc_cmos.h"

#define NS 1000000000ull
/* 2026-11-25 16:05:48 UTC, a Wednesday */
#define T0 1795622748ull

struct fx {
	struct rtc *r;
	uint64_t now;
	bool line;
	unsigned raises, rearms;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static void fake_irq(void *ctx, bool level)
{
	struct fx *f = ctx;
	assert_true(level != f->line);	/* only changes are reported */
	f->line = level;
	f->raises += level;
}

static void fake_rearmed(void *ctx)
{
	((struct fx *)ctx)->rearms++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->now = T0 * NS + 100;
	f->r = rtc_create((struct rtc_hooks){ .now = fake_now, .irq = fake_irq,
					      .rearmed = fake_rearmed, .ctx = f },
			  256ull << 20,
			  1ull << 30, NULL);
	*state = f;
	return f->r ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	rtc_destroy(f->r);
	free(f);
	return 0;
}

static uint8_t rd(struct fx *f, uint8_t idx)
{
	rtc_ops.write(f->r, 0, 1, idx | 0x80);	/* NMI-off bit: ignored */
	return (uint8_t)rtc_ops.read(f->r, 1, 1);
}

static void wr(struct fx *f, uint8_t idx, uint8_t v)
{
	rtc_ops.write(f->r, 0, 1, idx);
	rtc_ops.write(f->r, 1, 1, v);
}

static void test_bcd_24h(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, RTC_SEC), 0x48);
	assert_int_equal(rd(f, RTC_MIN), 0x05);
	assert_int_equal(rd(f, RTC_HOUR), 0x16);
	assert_int_equal(rd(f, RTC_MDAY), 0x25);
	assert_int_equal(rd(f, RTC_MONTH), 0x11);
	assert_int_equal(rd(f, RTC_YEAR), 0x26);
	assert_int_equal(rd(f, RTC_CENTURY), 0x20);
	assert_int_equal(rd(f, RTC_WDAY), 4);		/* Sunday = 1 */
	assert_int_equal(rd(f, RTC_REG_B), RTC_B_24H);
	assert_int_equal(rd(f, RTC_REG_D), RTC_D_VRT);
	assert_int_equal(rd(f, RTC_REG_C), 0);
	/* time moves with the host */
	f->now += 13 * NS;
	assert_int_equal(rd(f, RTC_SEC), 0x01);
	assert_int_equal(rd(f, RTC_MIN), 0x06);
}

static void test_binary_12h_and_uip(void **state)
{
	struct fx *f = *state;
	wr(f, RTC_REG_B, RTC_B_DM_BINARY);		/* binary, 12 h */
	assert_int_equal(rd(f, RTC_SEC), 48);
	assert_int_equal(rd(f, RTC_HOUR), 0x80 | 4);	/* 4 PM */
	assert_int_equal(rd(f, RTC_YEAR), 26);
	assert_int_equal(rd(f, RTC_REG_A) & RTC_A_UIP, 0);
	f->now = T0 * NS + NS - 100000;			/* last 244 us */
	assert_int_equal(rd(f, RTC_REG_A) & RTC_A_UIP, RTC_A_UIP);
	assert_int_equal(rd(f, RTC_REG_A) & 0x7f, 0x26);
	wr(f, RTC_REG_A, 0xa6);				/* UIP is read-only */
	f->now = T0 * NS + 5;
	assert_int_equal(rd(f, RTC_REG_A), 0x26);
}

static void test_guest_sets_time(void **state)
{
	struct fx *f = *state;
	wr(f, RTC_REG_B, RTC_B_SET | RTC_B_24H);
	wr(f, RTC_YEAR, 0x30);
	wr(f, RTC_HOUR, 0x08);
	wr(f, RTC_MIN, 0x30);
	wr(f, RTC_REG_B, RTC_B_24H);
	assert_int_equal(rd(f, RTC_YEAR), 0x30);
	assert_int_equal(rd(f, RTC_HOUR), 0x08);
	assert_int_equal(rd(f, RTC_MIN), 0x30);
	f->now += 60 * NS;
	assert_int_equal(rd(f, RTC_MIN), 0x31);
	/* the offset survives a reset (battery); registers do not */
	wr(f, 0x40, 0x5a);
	rtc_reset(f->r);
	assert_int_equal(rd(f, RTC_YEAR), 0x30);
	assert_int_equal(rd(f, 0x40), 0);
}

static void test_memory_bytes(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, 0x15) | rd(f, 0x16) << 8, 640);
	assert_int_equal(rd(f, 0x17) | rd(f, 0x18) << 8, 0xffff); /* capped */
	assert_int_equal(rd(f, 0x34) | rd(f, 0x35) << 8, (256 - 16) * 16);
	assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16,
			 (1 << 30) >> 16);
	/* scratch CMOS bytes keep what is written; index masks to 7 bits */
	wr(f, 0x7f, 0xaa);
	assert_int_equal(rd(f, 0xff), 0xaa);
}


/* ---- interrupts ---- */

static void test_periodic(void **state)
{
	struct fx *f = *state;
	wr(f, RTC_REG_A, 0x2f);				/* 2 Hz */
	unsigned r0 = f->rearms;
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	assert_true(f->rearms > r0);
	/* edges sit on the half seconds */
	assert_int_equal(rtc_poll(f->r, f->now), T0 * NS + NS / 2);
	assert_false(f->line);
	assert_int_equal(rtc_poll(f->r, T0 * NS + NS / 2 - 1), T0 * NS + NS / 2);
	assert_false(f->line);
	assert_int_equal(rtc_poll(f->r, T0 * NS + NS / 2), 0);	/* line up */
	assert_true(f->line);
	assert_int_equal(f->raises, 1);
	/* more edges while IRQF is set: no new raise */
	f->now = T0 * NS + 3 * NS / 2;
	assert_int_equal(rtc_poll(f->r, f->now), 0);
	assert_int_equal(f->raises, 1);
	r0 = f->rearms;
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_IRQF | RTC_C_PF | RTC_C_UF);
	assert_true(f->rearms > r0);			/* deadline again */
	/* the two edges merged into PF are owed: one per read of C */
	assert_true(f->line);
	assert_int_equal(f->raises, 2);
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
	assert_int_equal(f->raises, 3);
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
	assert_false(f->line);
	assert_int_equal(rd(f, RTC_REG_C), 0);
	assert_int_equal(rtc_poll(f->r, f->now), T0 * NS + 2 * NS);
	/* 1024 Hz: the deadlines come at 1024 per second exactly */
	wr(f, RTC_REG_A, 0x26);
	unsigned n = 0;
	uint64_t t = f->now, end = f->now + NS;
	for (;;) {
		uint64_t d = rtc_poll(f->r, t);
		assert_true(d > t);
		if (d > end)
			break;
		assert_false(f->line);
		assert_int_equal(rtc_poll(f->r, d), 0);
		assert_true(f->line);
		n++;
		f->now = t = d;
		assert_true(rd(f, RTC_REG_C) & RTC_C_PF);
	}
	assert_int_equal(n, 1024);
	/* a long stall owes at most 16; a new rate forgets the debt */
	f->now += 10 * NS;
	assert_int_equal(rtc_poll(f->r, f->now), 0);
	unsigned acks = 0;
	while (rd(f, RTC_REG_C) & RTC_C_PF)
		acks++;
	assert_int_equal(acks, 1 + 16);
	f->now += NS / 10;
	assert_int_equal(rtc_poll(f->r, f->now), 0);
	wr(f, RTC_REG_A, 0x27);
	assert_int_equal(rd(f, RTC_REG_C) & RTC_C_PF, RTC_C_PF);
	assert_int_equal(rd(f, RTC_REG_C), 0);
	/* no debts without PIE */
	wr(f, RTC_REG_B, RTC_B_24H);
	f->now += NS / 10;
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_PF);
	assert_int_equal(rd(f, RTC_REG_C), 0);
	/* rate select 0 stops it */
	wr(f, RTC_REG_A, 0x20);
	assert_int_equal(rtc_poll(f->r, f->now), 0);
}

static void test_flags_without_enable(void **state)
{
	struct fx *f = *state;
	/* 1024 Hz by default, PIE off: PF is set, the line stays low */
	assert_int_equal(rtc_poll(f->r, f->now), 0);	/* nothing enabled */
	f->now += NS / 100;
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_PF);
	assert_int_equal(f->raises, 0);
	/* a pending flag raises the line as soon as its enable is set */
	f->now += NS / 100;
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	assert_true(f->line);
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_IRQF | RTC_C_PF);
	assert_false(f->line);
	/* a reset disables and lowers */
	f->now += NS / 100;
	assert_int_equal(rtc_poll(f->r, f->now), 0);
	assert_true(f->line);
	rtc_reset(f->r);
	assert_false(f->line);
	assert_int_equal(rd(f, RTC_REG_B), RTC_B_24H);
}

static void test_update_ended(void **state)
{
	struct fx *f = *state;
	wr(f, RTC_REG_A, 0x20);				/* no periodic */
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	uint64_t d = rtc_poll(f->r, f->now);
	assert_int_equal(d, (T0 + 1) * NS);
	assert_int_equal(rtc_poll(f->r, d), 0);
	assert_true(f->line);
	f->now = d;
	assert_int_equal(rd(f, RTC_SEC), 0x49);		/* the new second */
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_IRQF | RTC_C_UF);
	assert_int_equal(rtc_poll(f->r, d), (T0 + 2) * NS);
	/* SET stops updates and clears UIE; so does a divider reset */
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_SET | RTC_B_UIE);
	assert_int_equal(rd(f, RTC_REG_B), RTC_B_24H | RTC_B_SET);
	f->now += 3 * NS;
	assert_int_equal(rd(f, RTC_REG_C), 0);
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_UIE);
	wr(f, RTC_REG_A, 0x70);
	assert_int_equal(rtc_poll(f->r, f->now), 0);
	f->now += 3 * NS;
	assert_int_equal(rd(f, RTC_REG_C), 0);
	assert_int_equal(rd(f, RTC_REG_A) & RTC_A_UIP, 0);
	wr(f, RTC_REG_A, 0x20);
	assert_true(rtc_poll(f->r, f->now) > f->now);
}

static void test_alarm(void **state)
{
	struct fx *f = *state;
	wr(f, RTC_REG_A, 0x20);
	/* every minute at :50 (hour and minute "don't care") */
	wr(f, RTC_SEC_ALARM, 0x50);
	wr(f, RTC_MIN_ALARM, 0xc0);
	wr(f, RTC_HOUR_ALARM, 0xff);
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
	uint64_t d = rtc_poll(f->r, f->now);
	assert_int_equal(d, (T0 + 2) * NS);		/* 16:05:50 */
	assert_int_equal(rtc_poll(f->r, d - 1), d);
	assert_false(f->line);
	assert_int_equal(rtc_poll(f->r, d), 0);
	assert_true(f->line);
	f->now = d;
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_IRQF | RTC_C_AF | RTC_C_UF);
	assert_int_equal(rtc_poll(f->r, d), (T0 + 62) * NS);	/* 16:06:50 */
	/* 17:00:00 exactly, set in 12 h binary mode (5 PM) */
	wr(f, RTC_REG_B, RTC_B_DM_BINARY | RTC_B_AIE);
	wr(f, RTC_SEC_ALARM, 0);
	wr(f, RTC_MIN_ALARM, 0);
	wr(f, RTC_HOUR_ALARM, 0x80 | 5);
	assert_int_equal(rtc_poll(f->r, f->now),
			 (T0 + 54 * 60 + 12) * NS);
	/* 16:05:49 already passed today: tomorrow */
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
	wr(f, RTC_SEC_ALARM, 0x49);
	wr(f, RTC_MIN_ALARM, 0x05);
	wr(f, RTC_HOUR_ALARM, 0x16);
	assert_int_equal(rtc_poll(f->r, f->now), (T0 + 1 + 86400) * NS);
	/* impossible values never match */
	wr(f, RTC_HOUR_ALARM, 0x25);
	assert_int_equal(rtc_poll(f->r, f->now), 0);
	/* the alarm follows the guest's clock: set it an hour back */
	wr(f, RTC_HOUR_ALARM, 0x16);
	wr(f, RTC_HOUR, 0x15);
	assert_int_equal(rtc_poll(f->r, f->now), (T0 + 1 + 3600) * NS);
	/* a gap longer than the poll interval still sets AF */
	wr(f, RTC_REG_B, RTC_B_24H);
	f->now += 2 * 3600 * NS;
	assert_int_equal(rd(f, RTC_REG_C), RTC_C_AF | RTC_C_UF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_24h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_12h_and_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_sets_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_without_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_ended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
