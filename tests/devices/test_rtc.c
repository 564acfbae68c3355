/*
 * test_rtc: RTC/CMOS on a fake wall clock - BCD and binary, 24 h and
 * 12 h, update-in-progress, NMI bit ignored, writes moving the guest's
 * clock, status registers and the memory-size bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->now = T0 * NS + 100;
	f->r = rtc_create((struct rtc_hooks){ fake_now, f }, 256ull << 20,
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bcd_24h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_12h_and_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_sets_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memory_bytes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
