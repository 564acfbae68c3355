/*
 * test_acpi_pm: the ACPI fixed hardware on a real bus - PM1 status
 * write-1-to-clear, enables, byte and word and dword lanes, the SCI level
 * (only on changes, gated by SCI_EN), the power button, S5 through
 * SLP_TYP|SLP_EN (event + BUS_EXIT; other sleep types ignored), the reset
 * register (RST_CPU only) and power-on state after reset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "acpi_pm.h"
#include "bus.h"

#define MAX_LOG 16

struct log {
	int nev;
	enum vm_event_kind ev[MAX_LOG];
	int nsci;
	bool sci[MAX_LOG];
};

static void post(void *ctx, enum vm_event_kind kind, int arg)
{
	struct log *l = ctx;
	(void)arg;
	if (l->nev < MAX_LOG)
		l->ev[l->nev] = kind;
	l->nev++;
}

static void sci(void *ctx, bool level)
{
	struct log *l = ctx;
	if (l->nsci < MAX_LOG)
		l->sci[l->nsci] = level;
	l->nsci++;
}

struct fixture {
	struct bus bus;
	struct log log;
	struct acpi_pm *pm;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	bus_init(&f->bus);
	struct vm_event_sink sink = { .post = post, .ctx = &f->log };
	struct acpi_pm_irq line = { .set = sci, .ctx = &f->log };
	f->pm = acpi_pm_create(sink, line, NULL);
	if (!f->pm ||
	    bus_register(&f->bus, BUS_PIO, ACPI_PM1_EVT_PORT, ACPI_PM1_EVT_LEN,
			 "evt", &acpi_pm_evt_ops, f->pm, NULL) ||
	    bus_register(&f->bus, BUS_PIO, ACPI_PM1_CNT_PORT, ACPI_PM1_CNT_LEN,
			 "cnt", &acpi_pm_cnt_ops, f->pm, NULL) ||
	    bus_register(&f->bus, BUS_PIO, ACPI_RESET_PORT, 1, "rst",
			 &acpi_pm_reset_ops, f->pm, NULL))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	acpi_pm_destroy(f->pm);
	free(f);
	return 0;
}

static uint64_t rd(struct fixture *f, uint16_t port, unsigned size)
{
	return bus_read(&f->bus, BUS_PIO, port, size);
}

static enum bus_action wr(struct fixture *f, uint16_t port, unsigned size,
			  uint64_t v)
{
	return bus_write(&f->bus, BUS_PIO, port, size, v);
}

static void test_power_on_state(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT, 2), 0);
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT + 2, 2), 0);
	/* always in ACPI mode: SCI_EN set, no SMI_CMD to switch */
	assert_int_equal(rd(f, ACPI_PM1_CNT_PORT, 2), ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(f->log.nsci, 0);
	assert_int_equal(f->log.nev, 0);
}

static void test_button_and_w1c(void **state)
{
	struct fixture *f = *state;
	/* not enabled: status set, no SCI, press reports "not listening" */
	assert_false(acpi_pm_press_power_button(f->pm));
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT, 2), ACPI_PM1_STS_PWRBTN);
	assert_int_equal(f->log.nsci, 0);
	/* writing 0 clears nothing; writing 1 clears */
	assert_int_equal(wr(f, ACPI_PM1_EVT_PORT, 2, 0), BUS_CONTINUE);
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT, 2), ACPI_PM1_STS_PWRBTN);
	wr(f, ACPI_PM1_EVT_PORT, 2, ACPI_PM1_STS_PWRBTN);
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT, 2), 0);

	/* enable (high byte of PM1_EN, byte access) then press: SCI up */
	wr(f, ACPI_PM1_EVT_PORT + 3, 1, ACPI_PM1_EN_PWRBTN >> 8);
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT + 2, 2), ACPI_PM1_EN_PWRBTN);
	assert_true(acpi_pm_press_power_button(f->pm));
	assert_int_equal(f->log.nsci, 1);
	assert_true(f->log.sci[0]);
	/* a second press while pending changes no level */
	acpi_pm_press_power_button(f->pm);
	assert_int_equal(f->log.nsci, 1);
	/* dword read: status in the low half, enable in the high half */
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT, 4),
			 ACPI_PM1_STS_PWRBTN | ACPI_PM1_EN_PWRBTN << 16);
	/* dword write clearing status and keeping the enable */
	wr(f, ACPI_PM1_EVT_PORT, 4,
	   ACPI_PM1_STS_PWRBTN | (uint32_t)ACPI_PM1_EN_PWRBTN << 16);
	assert_int_equal(f->log.nsci, 2);
	assert_false(f->log.sci[1]);
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT + 2, 2), ACPI_PM1_EN_PWRBTN);

	struct acpi_pm_info info;
	acpi_pm_info(f->pm, &info);
	assert_int_equal(info.button_presses, 3);
	assert_false(info.sci);
	assert_int_equal(f->log.nev, 0);
}

static void test_sci_en_gates(void **state)
{
	struct fixture *f = *state;
	wr(f, ACPI_PM1_EVT_PORT + 2, 2, ACPI_PM1_EN_PWRBTN);
	wr(f, ACPI_PM1_CNT_PORT, 2, 0);		/* SCI_EN off */
	assert_false(acpi_pm_press_power_button(f->pm));
	assert_int_equal(f->log.nsci, 0);
	wr(f, ACPI_PM1_CNT_PORT, 1, ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(f->log.nsci, 1);
	assert_true(f->log.sci[0]);
	/* disabling the enable bit lowers it too */
	wr(f, ACPI_PM1_EVT_PORT + 2, 2, 0);
	assert_int_equal(f->log.nsci, 2);
	assert_false(f->log.sci[1]);
}

static void test_sleep_states(void **state)
{
	struct fixture *f = *state;
	uint16_t s5 = ACPI_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT;
	/* SLP_TYP alone does nothing and reads back; SLP_EN reads 0 */
	assert_int_equal(wr(f, ACPI_PM1_CNT_PORT, 2, s5 | ACPI_PM1_CNT_SCI_EN),
			 BUS_CONTINUE);
	assert_int_equal(rd(f, ACPI_PM1_CNT_PORT, 2), s5 | ACPI_PM1_CNT_SCI_EN);
	/* S3 is not modelled: ignored */
	assert_int_equal(wr(f, ACPI_PM1_CNT_PORT, 2,
			    3 << ACPI_PM1_CNT_SLP_TYP_SHIFT |
			    ACPI_PM1_CNT_SLP_EN | ACPI_PM1_CNT_SCI_EN),
			 BUS_CONTINUE);
	assert_int_equal(f->log.nev, 0);
	assert_int_equal(rd(f, ACPI_PM1_CNT_PORT, 2) & ACPI_PM1_CNT_SLP_EN, 0);
	/* S5: power-off event, the vCPU leaves the run */
	assert_int_equal(wr(f, ACPI_PM1_CNT_PORT, 2,
			    s5 | ACPI_PM1_CNT_SLP_EN | ACPI_PM1_CNT_SCI_EN),
			 BUS_EXIT);
	assert_int_equal(f->log.nev, 1);
	assert_int_equal(f->log.ev[0], VM_EVENT_POWEROFF);
	/* the high byte alone (SLP_EN is bit 13) works too */
	assert_int_equal(wr(f, ACPI_PM1_CNT_PORT + 1, 1,
			    (s5 | ACPI_PM1_CNT_SLP_EN) >> 8), BUS_EXIT);
	assert_int_equal(f->log.nev, 2);
	struct acpi_pm_info info;
	acpi_pm_info(f->pm, &info);
	assert_int_equal(info.sleeps, 2);
}

static void test_reset_register(void **state)
{
	struct fixture *f = *state;
	/* SYS_RST alone selects the reset kind but does not reset */
	assert_int_equal(wr(f, ACPI_RESET_PORT, 1, 0x02), BUS_CONTINUE);
	assert_int_equal(rd(f, ACPI_RESET_PORT, 1), 0x02);
	assert_int_equal(f->log.nev, 0);
	assert_int_equal(wr(f, ACPI_RESET_PORT, 1, ACPI_RESET_VALUE), BUS_EXIT);
	assert_int_equal(f->log.nev, 1);
	assert_int_equal(f->log.ev[0], VM_EVENT_RESET);
	/* RST_CPU self-clears */
	assert_int_equal(rd(f, ACPI_RESET_PORT, 1), 0x02);
	struct acpi_pm_info info;
	acpi_pm_info(f->pm, &info);
	assert_int_equal(info.resets, 1);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;
	wr(f, ACPI_PM1_EVT_PORT + 2, 2, ACPI_PM1_EN_PWRBTN);
	acpi_pm_press_power_button(f->pm);
	wr(f, ACPI_PM1_CNT_PORT, 2, 0x1c00 | ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(f->log.nsci, 1);
	acpi_pm_reset(f->pm);
	assert_int_equal(f->log.nsci, 2);
	assert_false(f->log.sci[1]);
	assert_int_equal(rd(f, ACPI_PM1_EVT_PORT, 4), 0);
	assert_int_equal(rd(f, ACPI_PM1_CNT_PORT, 2), ACPI_PM1_CNT_SCI_EN);
	struct acpi_pm_info info;
	acpi_pm_info(f->pm, &info);
	assert_int_equal(info.button_presses, 1);	/* counters kept */
	acpi_pm_reset(NULL);
	acpi_pm_destroy(NULL);
	assert_false(acpi_pm_press_power_button(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_on_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_button_and_w1c, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sci_en_gates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sleep_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
