/*
 * test_lapic: the local APIC model on a fake clock - reset values, SVR
 * software enable, fixed interrupts through IRR/ISR/PPR/EOI with TPR,
 * level-triggered EOI broadcast, the timer (one-shot, periodic, divide
 * configuration, current count, masked), ICR messages and destination
 * matching, INIT/SIPI, LINT0 virtual wire, illegal vectors in ESR, and
 * odd-sized accesses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lapic.h"

struct fx {
	struct lapic *bsp, *ap;
	uint64_t now;
	int raised;
	int eois, last_eoi;		/* level-triggered (EOI broadcast) */
	int edge_eois, last_edge;	/* the others */
};

static uint64_t fake_now(void *ctx) { return ((struct fx *)ctx)->now; }
static void on_raised(void *ctx) { ((struct fx *)ctx)->raised++; }
static void on_eoi(void *ctx, uint8_t v, bool level)
{
	struct fx *f = ctx;
	if (level) {
		f->eois++;
		f->last_eoi = v;
	} else {
		f->edge_eois++;
		f->last_edge = v;
	}
}

static int setup(void **state)
{
	static struct fx f;
	f = (struct fx){ .now = 1000000 };
	struct lapic_hooks h = { on_raised, on_eoi, fake_now, &f };
	f.bsp = lapic_create(0, true, h, NULL);
	f.ap = lapic_create(1, false, h, NULL);
	assert_non_null(f.bsp);
	assert_non_null(f.ap);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	lapic_destroy(f->bsp);
	lapic_destroy(f->ap);
	return 0;
}

static uint32_t rd(struct lapic *a, uint32_t off)
{
	return (uint32_t)lapic_read(a, off, 4);
}

static bool wr(struct lapic *a, uint32_t off, uint32_t v,
	       struct lapic_ipi *ipi)
{
	struct lapic_ipi dummy;
	return lapic_write(a, off, 4, v, ipi ? ipi : &dummy);
}

static void test_reset_values(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f->bsp, LAPIC_REG_ID), 0);
	assert_int_equal(rd(f->ap, LAPIC_REG_ID), 1u << 24);
	assert_int_equal(lapic_id(f->ap), 1);
	assert_int_equal(rd(f->ap, LAPIC_REG_VER), LAPIC_VERSION);
	assert_int_equal(rd(f->ap, LAPIC_REG_SVR), 0xff);
	assert_int_equal(rd(f->ap, LAPIC_REG_DFR), 0xffffffffu);
	assert_int_equal(rd(f->ap, LAPIC_REG_LVT_TIMER), LAPIC_LVT_MASKED);
	/* virtual wire on the BSP only */
	assert_int_equal(rd(f->bsp, LAPIC_REG_LVT_LINT0), 0x700);
	assert_true(lapic_accepts_pic(f->bsp));
	assert_false(lapic_accepts_pic(f->ap));
	assert_int_equal(lapic_pending(f->bsp), -1);
	assert_null(lapic_create(255, false, (struct lapic_hooks){ 0 }, NULL));
}

static struct lapic_ipi fixed(uint8_t vec, uint8_t dest)
{
	return (struct lapic_ipi){ .vector = vec, .mode = LAPIC_DM_FIXED,
				   .assert = true, .dest = dest };
}

static void test_fixed_priority_eoi(void **state)
{
	struct fx *f = *state;
	struct lapic_ipi m = fixed(0x40, 0);
	/* software-disabled: fixed interrupts are dropped (as on KVM) */
	assert_false(lapic_deliver(f->bsp, &m));
	assert_int_equal(lapic_pending(f->bsp), -1);
	wr(f->bsp, LAPIC_REG_SVR, 0x1ff, NULL);
	assert_true(lapic_deliver(f->bsp, &m));
	m.vector = 0x61;
	assert_true(lapic_deliver(f->bsp, &m));
	assert_int_equal(f->raised, 2);
	assert_int_equal(rd(f->bsp, LAPIC_REG_IRR + 0x20), 1u << 0);	/* 0x40 */
	assert_int_equal(rd(f->bsp, LAPIC_REG_IRR + 0x30), 1u << 1);	/* 0x61 */
	/* TPR 0x60 holds back class 6 and below */
	wr(f->bsp, LAPIC_REG_TPR, 0x60, NULL);
	assert_int_equal(lapic_pending(f->bsp), -1);
	wr(f->bsp, LAPIC_REG_TPR, 0x50, NULL);
	assert_int_equal(lapic_intack(f->bsp), 0x61);
	assert_int_equal(rd(f->bsp, LAPIC_REG_ISR + 0x30), 1u << 1);
	assert_int_equal(rd(f->bsp, LAPIC_REG_PPR), 0x60);
	/* 0x40 is below the in-service class */
	assert_int_equal(lapic_pending(f->bsp), -1);
	wr(f->bsp, LAPIC_REG_EOI, 0, NULL);
	assert_int_equal(f->eois, 0);	/* edge: no broadcast */
	assert_int_equal(f->edge_eois, 1);	/* (the IOAPIC's edge pins) */
	assert_int_equal(f->last_edge, 0x61);
	assert_int_equal(rd(f->bsp, LAPIC_REG_PPR), 0x50);
	wr(f->bsp, LAPIC_REG_TPR, 0, NULL);
	assert_int_equal(lapic_intack(f->bsp), 0x40);
	assert_int_equal(lapic_intack(f->bsp), -1);
	wr(f->bsp, LAPIC_REG_EOI, 0, NULL);
	assert_int_equal(rd(f->bsp, LAPIC_REG_ISR + 0x20), 0);
	assert_int_equal(f->edge_eois, 2);
	assert_int_equal(f->last_edge, 0x40);
	/* level-triggered: TMR set, EOI broadcast with the vector */
	m.vector = 0x33;
	m.level_trig = true;
	lapic_deliver(f->bsp, &m);
	assert_int_equal(rd(f->bsp, LAPIC_REG_TMR + 0x10), 1u << 19);
	assert_int_equal(lapic_intack(f->bsp), 0x33);
	wr(f->bsp, LAPIC_REG_EOI, 0, NULL);
	assert_int_equal(f->eois, 1);
	assert_int_equal(f->last_eoi, 0x33);
	assert_int_equal(f->edge_eois, 2);
}

static void test_illegal_vector(void **state)
{
	struct fx *f = *state;
	wr(f->bsp, LAPIC_REG_SVR, 0x1ff, NULL);
	wr(f->bsp, LAPIC_REG_LVT_ERROR, 0xfe, NULL);
	struct lapic_ipi ipi;
	wr(f->bsp, LAPIC_REG_ICR_HI, 1u << 24, NULL);
	assert_false(wr(f->bsp, LAPIC_REG_ICR_LO, 0x4005, &ipi));
	wr(f->bsp, LAPIC_REG_ESR, 0, NULL);	/* latch */
	assert_int_equal(rd(f->bsp, LAPIC_REG_ESR), 0x20);
	assert_int_equal(lapic_intack(f->bsp), 0xfe);
	wr(f->bsp, LAPIC_REG_ESR, 0, NULL);
	assert_int_equal(rd(f->bsp, LAPIC_REG_ESR), 0);
}

static void test_timer_oneshot(void **state)
{
	struct fx *f = *state;
	wr(f->bsp, LAPIC_REG_SVR, 0x1ff, NULL);
	wr(f->bsp, LAPIC_REG_TIMER_DIV, 0x3, NULL);	/* divide by 16 */
	wr(f->bsp, LAPIC_REG_LVT_TIMER, 0x30, NULL);	/* one-shot, 0x30 */
	wr(f->bsp, LAPIC_REG_TIMER_INIT, 1000, NULL);	/* 16 us */
	uint64_t t0 = f->now;
	assert_int_equal(lapic_poll(f->bsp, f->now), t0 + 16000);
	f->now += 8000;
	assert_int_equal(rd(f->bsp, LAPIC_REG_TIMER_CUR), 500);
	assert_int_equal(lapic_poll(f->bsp, f->now), t0 + 16000);
	assert_int_equal(lapic_pending(f->bsp), -1);
	f->now += 8000;
	assert_int_equal(lapic_poll(f->bsp, f->now), 0);
	assert_int_equal(rd(f->bsp, LAPIC_REG_TIMER_CUR), 0);
	assert_int_equal(lapic_intack(f->bsp), 0x30);
	f->now += 100000;
	assert_int_equal(lapic_poll(f->bsp, f->now), 0);
	assert_int_equal(lapic_pending(f->bsp), -1);	/* fired once */
	/* divide by 1 (0xb) */
	wr(f->bsp, LAPIC_REG_TIMER_DIV, 0xb, NULL);
	wr(f->bsp, LAPIC_REG_TIMER_INIT, 100, NULL);
	assert_int_equal(lapic_poll(f->bsp, f->now), f->now + 100);
	/* a zero count stops it */
	wr(f->bsp, LAPIC_REG_TIMER_INIT, 0, NULL);
	assert_int_equal(lapic_poll(f->bsp, f->now), 0);
}

static void test_timer_periodic(void **state)
{
	struct fx *f = *state;
	wr(f->bsp, LAPIC_REG_SVR, 0x1ff, NULL);
	wr(f->bsp, LAPIC_REG_TIMER_DIV, 0x0, NULL);	/* divide by 2 */
	wr(f->bsp, LAPIC_REG_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x41, NULL);
	wr(f->bsp, LAPIC_REG_TIMER_INIT, 500000, NULL);	/* 1 ms */
	uint64_t t0 = f->now;
	int fired = 0;
	for (int ms = 0; ms < 10; ms++) {
		f->now = t0 + (uint64_t)ms * 1000000 + 999999;
		assert_int_equal(lapic_poll(f->bsp, f->now),
				 t0 + (uint64_t)(ms + 1) * 1000000);
		f->now++;
		lapic_poll(f->bsp, f->now);
		if (lapic_intack(f->bsp) == 0x41) {
			fired++;
			wr(f->bsp, LAPIC_REG_EOI, 0, NULL);
		}
	}
	assert_int_equal(fired, 10);
	/* current count wraps within the period */
	f->now = t0 + 10 * 1000000ull + 250000;
	assert_int_equal(rd(f->bsp, LAPIC_REG_TIMER_CUR), 500000 - 125000);
	/* missed periods merge into one interrupt */
	f->now += 5 * 1000000ull;
	lapic_poll(f->bsp, f->now);
	assert_int_equal(lapic_intack(f->bsp), 0x41);
	assert_int_equal(lapic_intack(f->bsp), -1);
	/* masked: counts on, no interrupt */
	wr(f->bsp, LAPIC_REG_EOI, 0, NULL);
	wr(f->bsp, LAPIC_REG_LVT_TIMER,
	   LAPIC_LVT_MASKED | LAPIC_TIMER_PERIODIC | 0x41, NULL);
	f->now += 3 * 1000000ull;
	assert_true(lapic_poll(f->bsp, f->now) > f->now);
	assert_int_equal(lapic_pending(f->bsp), -1);
	/* software disable masks every LVT */
	wr(f->bsp, LAPIC_REG_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x41, NULL);
	wr(f->bsp, LAPIC_REG_SVR, 0xff, NULL);
	assert_true(rd(f->bsp, LAPIC_REG_LVT_TIMER) & LAPIC_LVT_MASKED);
	assert_true(rd(f->bsp, LAPIC_REG_LVT_LINT0) & LAPIC_LVT_MASKED);
	assert_false(lapic_accepts_pic(f->bsp));
	/* while disabled, LVT writes stay masked */
	wr(f->bsp, LAPIC_REG_LVT_TIMER, 0x41, NULL);
	assert_true(rd(f->bsp, LAPIC_REG_LVT_TIMER) & LAPIC_LVT_MASKED);
}

static void test_icr_and_destinations(void **state)
{
	struct fx *f = *state;
	struct lapic_ipi ipi;
	wr(f->bsp, LAPIC_REG_ICR_HI, 1u << 24, NULL);
	assert_true(wr(f->bsp, LAPIC_REG_ICR_LO, 0x4000 | 0x50, &ipi));
	assert_int_equal(ipi.vector, 0x50);
	assert_int_equal(ipi.mode, LAPIC_DM_FIXED);
	assert_int_equal(ipi.dest, 1);
	assert_int_equal(ipi.src_id, 0);
	assert_false(lapic_accepts(f->bsp, &ipi));
	assert_true(lapic_accepts(f->ap, &ipi));
	assert_int_equal(rd(f->bsp, LAPIC_REG_ICR_LO) & 0x1000, 0);	/* idle */
	assert_int_equal(rd(f->bsp, LAPIC_REG_ICR_HI), 1u << 24);
	/* shorthands */
	wr(f->bsp, LAPIC_REG_ICR_LO, (1u << 18) | 0x50, &ipi);	/* self */
	assert_true(lapic_accepts(f->bsp, &ipi));
	assert_false(lapic_accepts(f->ap, &ipi));
	wr(f->bsp, LAPIC_REG_ICR_LO, (3u << 18) | 0x50, &ipi);	/* others */
	assert_false(lapic_accepts(f->bsp, &ipi));
	assert_true(lapic_accepts(f->ap, &ipi));
	wr(f->bsp, LAPIC_REG_ICR_LO, (2u << 18) | 0x50, &ipi);	/* all */
	assert_true(lapic_accepts(f->bsp, &ipi));
	assert_true(lapic_accepts(f->ap, &ipi));
	/* physical broadcast */
	struct lapic_ipi m = fixed(0x50, 0xff);
	assert_true(lapic_accepts(f->bsp, &m) && lapic_accepts(f->ap, &m));
	/* logical, flat model */
	wr(f->ap, LAPIC_REG_LDR, 0x02000000, NULL);
	m = fixed(0x50, 0x02);
	m.logical = true;
	assert_true(lapic_accepts(f->ap, &m));
	assert_false(lapic_accepts(f->bsp, &m));
	/* cluster model: cluster 1, member bit 1 */
	wr(f->ap, LAPIC_REG_DFR, 0x0fffffff, NULL);
	wr(f->ap, LAPIC_REG_LDR, 0x12000000, NULL);
	m.dest = 0x12;
	assert_true(lapic_accepts(f->ap, &m));
	m.dest = 0x22;
	assert_false(lapic_accepts(f->ap, &m));
}

static void test_init_sipi(void **state)
{
	struct fx *f = *state;
	struct lapic_ipi ipi;
	assert_false(lapic_wait_sipi(f->ap));
	/* SIPI to a running CPU: ignored */
	wr(f->bsp, LAPIC_REG_ICR_HI, 1u << 24, NULL);
	assert_true(wr(f->bsp, LAPIC_REG_ICR_LO, 0x4600 | 0x10, &ipi));
	assert_false(lapic_deliver(f->ap, &ipi));
	assert_int_equal(lapic_take_sipi(f->ap), -1);
	/* INIT assert, then the de-assert (ignored) */
	wr(f->ap, LAPIC_REG_SVR, 0x1ff, NULL);
	wr(f->bsp, LAPIC_REG_ICR_LO, 0xc500, &ipi);
	assert_int_equal(ipi.mode, LAPIC_DM_INIT);
	assert_true(lapic_deliver(f->ap, &ipi));
	assert_true(lapic_wait_sipi(f->ap));
	assert_int_equal(rd(f->ap, LAPIC_REG_SVR), 0xff);	/* INIT reset it */
	assert_int_equal(rd(f->ap, LAPIC_REG_ID), 1u << 24);	/* ID kept */
	wr(f->bsp, LAPIC_REG_ICR_LO, 0x8500, &ipi);
	assert_false(lapic_deliver(f->ap, &ipi));
	assert_int_equal(lapic_take_sipi(f->ap), -1);
	/* first SIPI latched, the second ignored */
	assert_false(lapic_sipi_latched(f->ap));
	wr(f->bsp, LAPIC_REG_ICR_LO, 0x4600 | 0x10, &ipi);
	assert_true(lapic_deliver(f->ap, &ipi));
	assert_true(lapic_sipi_latched(f->ap));
	wr(f->bsp, LAPIC_REG_ICR_LO, 0x4600 | 0x20, &ipi);
	assert_false(lapic_deliver(f->ap, &ipi));
	assert_int_equal(lapic_take_sipi(f->ap), 0x10);
	assert_false(lapic_wait_sipi(f->ap));
	assert_int_equal(lapic_take_sipi(f->ap), -1);
	/* INIT never resets the BSP */
	wr(f->ap, LAPIC_REG_ICR_HI, 0, NULL);
	wr(f->ap, LAPIC_REG_ICR_LO, 0x4500, &ipi);
	assert_false(lapic_deliver(f->bsp, &ipi));
	assert_false(lapic_wait_sipi(f->bsp));
	/* boot: an AP put in wait-for-SIPI */
	lapic_set_wait_sipi(f->ap);
	assert_true(lapic_wait_sipi(f->ap));
}

static void test_odd_accesses(void **state)
{
	struct fx *f = *state;
	/* byte reads of the version register */
	assert_int_equal(lapic_read(f->ap, LAPIC_REG_VER, 1), 0x14);
	assert_int_equal(lapic_read(f->ap, LAPIC_REG_VER + 2, 1), 0x05);
	assert_int_equal(lapic_read(f->ap, LAPIC_REG_VER + 2, 2), 0x05);
	assert_int_equal(lapic_read(f->ap, LAPIC_REG_VER + 4, 4), 0);
	assert_int_equal(lapic_read(f->ap, LAPIC_REG_VER, 3), 0);
	/* offsets wrap within the page; unaligned writes do nothing */
	assert_int_equal(lapic_read(f->ap, LAPIC_SIZE + LAPIC_REG_ID, 4),
			 1u << 24);
	struct lapic_ipi ipi;
	assert_false(lapic_write(f->ap, LAPIC_REG_TPR + 1, 4, 0x20, &ipi));
	assert_false(lapic_write(f->ap, LAPIC_REG_TPR, 2, 0x20, &ipi));
	assert_int_equal(rd(f->ap, LAPIC_REG_TPR), 0);
	/* read-only registers */
	wr(f->ap, LAPIC_REG_VER, 0, NULL);
	wr(f->ap, LAPIC_REG_PPR, 0xff, NULL);
	assert_int_equal(rd(f->ap, LAPIC_REG_VER), LAPIC_VERSION);
	assert_int_equal(rd(f->ap, LAPIC_REG_PPR), 0);
	/* EOI with nothing in service */
	int edge = f->edge_eois;
	wr(f->ap, LAPIC_REG_EOI, 0, NULL);
	assert_int_equal(f->eois, 0);
	assert_int_equal(f->edge_eois, edge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_reset_values),
		T(test_fixed_priority_eoi),
		T(test_illegal_vector),
		T(test_timer_oneshot),
		T(test_timer_periodic),
		T(test_icr_and_destinations),
		T(test_init_sipi),
		T(test_odd_accesses),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
