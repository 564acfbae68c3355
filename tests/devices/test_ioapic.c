/*
 * test_ioapic: the I/O APIC model - reset state, IOREGSEL/IOWIN, ID and
 * version, redirection entries (read-only bits), edge pins (one message
 * per rising edge, masked pins silent), level pins (remote IRR, EOI
 * re-send while asserted, unmask of an asserted pin), message fields,
 * and the acked/unmasked hooks (an edge pin's EOI, a pin's unmasking).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ioapic.h"

struct fx {
	struct ioapic *io;
	int sent;
	struct lapic_ipi last;
	unsigned acked[IOAPIC_PINS], unmasked[IOAPIC_PINS];
};

static void on_deliver(void *ctx, const struct lapic_ipi *m)
{
	struct fx *f = ctx;
	f->sent++;
	f->last = *m;
}

static void on_acked(void *ctx, unsigned pin)
{
	((struct fx *)ctx)->acked[pin]++;
}

static void on_unmasked(void *ctx, unsigned pin)
{
	((struct fx *)ctx)->unmasked[pin]++;
}

static int setup(void **state)
{
	static struct fx f;
	f = (struct fx){ 0 };
	f.io = ioapic_create((struct ioapic_hooks){ on_deliver, on_acked,
						    on_unmasked, &f }, NULL);
	assert_non_null(f.io);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	ioapic_destroy(((struct fx *)*state)->io);
	return 0;
}

static uint32_t reg_rd(struct ioapic *io, unsigned r)
{
	ioapic_write(io, 0, 4, r);
	return (uint32_t)ioapic_read(io, 0x10, 4);
}

static void reg_wr(struct ioapic *io, unsigned r, uint32_t v)
{
	ioapic_write(io, 0, 4, r);
	ioapic_write(io, 0x10, 4, v);
}

static void test_registers(void **state)
{
	struct fx *f = *state;
	assert_int_equal(reg_rd(f->io, IOAPIC_REG_VER), IOAPIC_VERSION);
	assert_int_equal(reg_rd(f->io, IOAPIC_REG_ID), 0);
	reg_wr(f->io, IOAPIC_REG_ID, 0xffffffffu);
	assert_int_equal(reg_rd(f->io, IOAPIC_REG_ID), 0x0f000000u);
	assert_int_equal(ioapic_read(f->io, 0, 4), IOAPIC_REG_ID);
	for (unsigned p = 0; p < IOAPIC_PINS; p++)
		assert_int_equal(reg_rd(f->io, IOAPIC_REG_REDIR + 2 * p),
				 IOAPIC_RTE_MASKED);
	/* read-only status bits; byte access of IOWIN */
	reg_wr(f->io, IOAPIC_REG_REDIR + 4, 0xffffffffu);
	assert_int_equal(reg_rd(f->io, IOAPIC_REG_REDIR + 4), 0x1afff);
	reg_wr(f->io, IOAPIC_REG_REDIR + 5, 0x12345678);
	assert_int_equal(reg_rd(f->io, IOAPIC_REG_REDIR + 5), 0x12000000);
	ioapic_write(f->io, 0, 1, IOAPIC_REG_VER);
	assert_int_equal(ioapic_read(f->io, 0x12, 1), 0x17);
	/* beyond the table */
	assert_int_equal(reg_rd(f->io, 0x40), 0xffffffffu);
	ioapic_reset(f->io);
	assert_int_equal(reg_rd(f->io, IOAPIC_REG_REDIR + 4),
			 IOAPIC_RTE_MASKED);
	assert_int_equal(f->sent, 0);
}

static void test_edge(void **state)
{
	struct fx *f = *state;
	ioapic_set_irq(f->io, 2, true);	/* masked: nothing */
	ioapic_set_irq(f->io, 2, false);
	assert_int_equal(f->sent, 0);
	reg_wr(f->io, IOAPIC_REG_REDIR + 5, 1u << 24);		/* APIC 1 */
	reg_wr(f->io, IOAPIC_REG_REDIR + 4, 0x30);		/* edge, fixed */
	assert_int_equal(f->sent, 0);	/* unmasking an edge pin: silent */
	ioapic_set_irq(f->io, 2, true);
	ioapic_set_irq(f->io, 2, true);	/* no new edge */
	assert_int_equal(f->sent, 1);
	assert_int_equal(f->last.vector, 0x30);
	assert_int_equal(f->last.mode, LAPIC_DM_FIXED);
	assert_int_equal(f->last.dest, 1);
	assert_false(f->last.logical);
	assert_false(f->last.level_trig);
	ioapic_set_irq(f->io, 2, false);
	ioapic_set_irq(f->io, 2, true);
	assert_int_equal(f->sent, 2);
	/* logical, lowest priority */
	reg_wr(f->io, IOAPIC_REG_REDIR + 4, 0x31 | 1u << 8 | 1u << 11);
	ioapic_set_irq(f->io, 2, false);
	ioapic_set_irq(f->io, 2, true);
	assert_int_equal(f->sent, 3);
	assert_int_equal(f->last.mode, LAPIC_DM_LOWEST);
	assert_true(f->last.logical);
	/* out-of-range pins are ignored */
	ioapic_set_irq(f->io, 24, true);
	ioapic_set_irq(f->io, 1000, true);
	assert_int_equal(f->sent, 3);
}

static void test_level(void **state)
{
	struct fx *f = *state;
	unsigned r = IOAPIC_REG_REDIR + 2 * 9;
	reg_wr(f->io, r, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | 0x49);
	ioapic_set_irq(f->io, 9, true);
	assert_int_equal(f->sent, 0);
	/* unmasking an asserted level pin sends, remote IRR set */
	reg_wr(f->io, r, IOAPIC_RTE_LEVEL | 0x49);
	assert_int_equal(f->sent, 1);
	assert_true(f->last.level_trig);
	assert_true(reg_rd(f->io, r) & IOAPIC_RTE_REMOTE_IRR);
	/* still asserted: nothing more until the EOI */
	ioapic_set_irq(f->io, 9, true);
	assert_int_equal(f->sent, 1);
	ioapic_eoi(f->io, 0x48, true);	/* another vector */
	assert_int_equal(f->sent, 1);
	ioapic_eoi(f->io, 0x49, false);	/* not an EOI broadcast */
	assert_int_equal(f->sent, 1);
	ioapic_eoi(f->io, 0x49, true);	/* still asserted: again */
	assert_int_equal(f->sent, 2);
	ioapic_set_irq(f->io, 9, false);
	ioapic_eoi(f->io, 0x49, true);
	assert_int_equal(f->sent, 2);
	assert_false(reg_rd(f->io, r) & IOAPIC_RTE_REMOTE_IRR);
	ioapic_set_irq(f->io, 9, true);
	assert_int_equal(f->sent, 3);
	/* switching to edge clears remote IRR */
	reg_wr(f->io, r, 0x49);
	assert_false(reg_rd(f->io, r) & IOAPIC_RTE_REMOTE_IRR);
}

/* The PIT's reinjection hears of its pin's EOIs and unmasking. */
static void test_ack_and_unmask_hooks(void **state)
{
	struct fx *f = *state;
	unsigned r2 = IOAPIC_REG_REDIR + 2 * 2, r9 = IOAPIC_REG_REDIR + 2 * 9;
	reg_wr(f->io, r2, IOAPIC_RTE_MASKED | 0x30);
	assert_int_equal(f->unmasked[2], 0);
	reg_wr(f->io, r2, 0x30);			/* edge, unmasked */
	reg_wr(f->io, r2, 0x30);
	assert_int_equal(f->unmasked[2], 1);
	reg_wr(f->io, r2 + 1, 0x01000000u);		/* high half: no change */
	assert_int_equal(f->unmasked[2], 1);
	reg_wr(f->io, r9, IOAPIC_RTE_LEVEL | 0x30);	/* same vector, level */
	assert_int_equal(f->unmasked[9], 1);

	ioapic_set_irq(f->io, 2, true);
	assert_int_equal(f->sent, 1);
	ioapic_eoi(f->io, 0x31, false);			/* another vector */
	assert_int_equal(f->acked[2], 0);
	ioapic_eoi(f->io, 0x30, false);
	assert_int_equal(f->acked[2], 1);
	assert_int_equal(f->acked[9], 0);		/* level: not an edge end */
	ioapic_eoi(f->io, 0x30, true);			/* a level vector's EOI */
	assert_int_equal(f->acked[2], 1);
	reg_wr(f->io, r2, IOAPIC_RTE_MASKED | 0x30);
	ioapic_eoi(f->io, 0x30, false);			/* masked: not ours */
	assert_int_equal(f->acked[2], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_and_unmask_hooks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
