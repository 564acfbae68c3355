/*
 * test_pic: the 8259 pair through its ports - ICW init, masking, edge and
 * level (ELCR) lines, priority and nesting, cascade through IRQ2,
 * specific and non-specific EOI, auto-EOI, rotation, poll, reading IRR
 * and ISR, spurious IRQ7, and the output hooks (raised; acked and
 * unmasked, which the PIT's reinjection counts on).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "pic8259.h"

struct fx {
	struct pic *p;
	int raised;
	unsigned acked[16], unmasked[16];	/* per ISA line */
};

static void on_raise(void *ctx)
{
	((struct fx *)ctx)->raised++;
}

static void on_acked(void *ctx, unsigned irq)
{
	((struct fx *)ctx)->acked[irq]++;
}

static void on_unmasked(void *ctx, unsigned irq)
{
	((struct fx *)ctx)->unmasked[irq]++;
}

static unsigned total(const unsigned *n)
{
	unsigned t = 0;
	for (int i = 0; i < 16; i++)
		t += n[i];
	return t;
}

static void mw(struct fx *f, unsigned port, uint8_t v)
{
	const struct bus_device_ops *ops = port >= 0xa0 ? &pic_slave_ops
							: &pic_master_ops;
	ops->write(f->p, port & 1, 1, v);
}

static uint8_t mr(struct fx *f, unsigned port)
{
	const struct bus_device_ops *ops = port >= 0xa0 ? &pic_slave_ops
							: &pic_master_ops;
	return (uint8_t)ops->read(f->p, port & 1, 1);
}

/* The usual BIOS/Linux programming: vectors 0x20/0x28, cascade on 2. */
static void init_pair(struct fx *f, bool aeoi)
{
	mw(f, 0x20, 0x11); mw(f, 0x21, 0x20); mw(f, 0x21, 0x04);
	mw(f, 0x21, aeoi ? 0x03 : 0x01);
	mw(f, 0xa0, 0x11); mw(f, 0xa1, 0x28); mw(f, 0xa1, 0x02);
	mw(f, 0xa1, aeoi ? 0x03 : 0x01);
	mw(f, 0x21, 0x00); mw(f, 0xa1, 0x00);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->p = pic_create((struct pic_output){ on_raise, on_acked, on_unmasked,
						f }, NULL);
	*state = f;
	return f->p ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pic_destroy(f->p);
	free(f);
	return 0;
}

static void test_edge_priority_eoi(void **state)
{
	struct fx *f = *state;
	init_pair(f, false);
	assert_false(pic_pending(f->p));
	assert_int_equal(pic_intack(f->p), PIC_NO_VECTOR);

	pic_set_irq(f->p, 4, true);
	pic_set_irq(f->p, 0, true);
	assert_true(pic_pending(f->p));
	assert_int_equal(f->raised, 1);
	assert_int_equal(mr(f, 0x20), 0x11);		/* IRR */
	assert_int_equal(pic_intack(f->p), 0x20);	/* IRQ0 first */
	mw(f, 0x20, 0x0b);				/* OCW3: read ISR */
	assert_int_equal(mr(f, 0x20), 0x01);
	/* IRQ4 is lower priority: waits while IRQ0 is in service */
	assert_false(pic_pending(f->p));
	mw(f, 0x20, 0x20);				/* non-specific EOI */
	assert_true(pic_pending(f->p));
	assert_int_equal(pic_intack(f->p), 0x24);
	mw(f, 0x20, 0x64);				/* specific EOI IRQ4 */
	assert_int_equal(mr(f, 0x20), 0x00);		/* ISR empty */

	/* edge: a line held high does not re-request */
	assert_false(pic_pending(f->p));
	pic_set_irq(f->p, 0, true);
	assert_false(pic_pending(f->p));
	pic_set_irq(f->p, 0, false);
	pic_set_irq(f->p, 0, true);
	assert_int_equal(pic_intack(f->p), 0x20);

	/* higher priority nests over lower in service */
	mw(f, 0x20, 0x20);
	pic_set_irq(f->p, 5, true);
	assert_int_equal(pic_intack(f->p), 0x25);
	pic_set_irq(f->p, 1, true);
	assert_int_equal(pic_intack(f->p), 0x21);
	mw(f, 0x20, 0x0b);
	assert_int_equal(mr(f, 0x20), 0x22);		/* 1 and 5 in service */
	mw(f, 0x20, 0x20);				/* EOI goes to IRQ1 */
	assert_int_equal(mr(f, 0x20), 0x20);
}

static void test_mask_and_level(void **state)
{
	struct fx *f = *state;
	init_pair(f, false);
	mw(f, 0x21, 0x08);				/* mask IRQ3 */
	assert_int_equal(mr(f, 0x21), 0x08);
	pic_set_irq(f->p, 3, true);
	assert_false(pic_pending(f->p));
	mw(f, 0x21, 0x00);
	assert_true(pic_pending(f->p));
	assert_int_equal(pic_intack(f->p), 0x23);
	mw(f, 0x20, 0x20);

	/* level-triggered IRQ10 via ELCR: stays requested while high */
	pic_elcr_ops.write(f->p, 1, 1, 0x04);
	assert_int_equal(pic_elcr_ops.read(f->p, 0, 2), 0x0400);
	pic_elcr_ops.write(f->p, 0, 1, 0x07);		/* IRQ0-2 can't be level */
	assert_int_equal(pic_elcr_ops.read(f->p, 0, 1), 0x00);
	pic_set_irq(f->p, 10, true);
	assert_int_equal(pic_intack(f->p), 0x2a);
	mw(f, 0xa0, 0x20);
	mw(f, 0x20, 0x20);
	assert_true(pic_pending(f->p));			/* still high */
	assert_int_equal(pic_intack(f->p), 0x2a);
	mw(f, 0xa0, 0x20);
	mw(f, 0x20, 0x20);
	/* the line drops after the cascade edge was latched: INTA finds
	 * nothing on the slave and gets its spurious IRQ15 vector */
	pic_set_irq(f->p, 10, false);
	assert_int_equal(pic_intack(f->p), 0x2f);
	mw(f, 0x20, 0x20);
	assert_false(pic_pending(f->p));
}

static void test_cascade(void **state)
{
	struct fx *f = *state;
	init_pair(f, false);
	pic_set_irq(f->p, 12, true);
	pic_set_irq(f->p, 9, true);
	assert_true(pic_pending(f->p));
	assert_int_equal(pic_intack(f->p), 0x29);	/* 9 beats 12 */
	mw(f, 0x20, 0x0b);
	assert_int_equal(mr(f, 0x20), 0x04);		/* master: IRQ2 */
	mw(f, 0xa0, 0x0b);
	assert_int_equal(mr(f, 0xa0), 0x02);		/* slave: IRQ9 */
	assert_false(pic_pending(f->p));
	mw(f, 0xa0, 0x20);
	mw(f, 0x20, 0x20);
	assert_true(pic_pending(f->p));
	assert_int_equal(pic_intack(f->p), 0x2c);
	/* a masked slave line does not reach the master */
	mw(f, 0xa0, 0x20);
	mw(f, 0x20, 0x20);
	mw(f, 0xa1, 0x80);
	pic_set_irq(f->p, 15, true);
	assert_false(pic_pending(f->p));
}

static void test_auto_eoi_rotate_poll(void **state)
{
	struct fx *f = *state;
	init_pair(f, true);
	pic_set_irq(f->p, 6, true);
	assert_int_equal(pic_intack(f->p), 0x26);
	mw(f, 0x20, 0x0b);
	assert_int_equal(mr(f, 0x20), 0x00);		/* nothing in service */

	/* rotate: after "set priority 3", IRQ4 is the highest */
	mw(f, 0x20, 0xc3);
	pic_set_irq(f->p, 1, true);
	pic_set_irq(f->p, 5, true);
	assert_int_equal(pic_intack(f->p), 0x25);
	assert_int_equal(pic_intack(f->p), 0x21);

	/* poll mode: the read acknowledges */
	mw(f, 0x20, 0xc7);				/* priority back to 0 */
	pic_set_irq(f->p, 3, false);
	pic_set_irq(f->p, 3, true);
	mw(f, 0x20, 0x0c);
	assert_int_equal(mr(f, 0x20), 0x83);
	mw(f, 0x20, 0x0c);
	assert_int_equal(mr(f, 0x20), 0x00);		/* none left */
	mw(f, 0x20, 0x0a);				/* back to IRR reads */
	assert_int_equal(mr(f, 0x20), 0x00);
}

static void test_spurious_and_reset(void **state)
{
	struct fx *f = *state;
	init_pair(f, false);
	pic_set_irq(f->p, 3, true);
	assert_true(pic_pending(f->p));
	mw(f, 0x21, 0x08);		/* masked after the request was seen */
	assert_false(pic_pending(f->p));
	assert_int_equal(pic_intack(f->p), PIC_NO_VECTOR);

	/* the vector base follows ICW2 */
	mw(f, 0x20, 0x11); mw(f, 0x21, 0x08); mw(f, 0x21, 0x04);
	mw(f, 0x21, 0x01);
	pic_set_irq(f->p, 1, true);
	assert_int_equal(pic_intack(f->p), 0x09);
	pic_reset(f->p);
	assert_false(pic_pending(f->p));
	assert_int_equal(mr(f, 0x21), 0x00);

	/* garbage programming never crashes and keeps state masked */
	for (unsigned i = 0; i < 4096; i++) {
		mw(f, (i & 1) ? 0x21 : 0xa0, (uint8_t)(i * 37));
		pic_set_irq(f->p, i % 17, i & 2);
		(void)pic_intack(f->p);
		(void)mr(f, (i & 2) ? 0x20 : 0xa1);
	}
	int v = pic_intack(f->p);
	assert_true(v == PIC_NO_VECTOR || (v >= 0 && v < 256));
}

/*
 * acked: an edge line's interrupt ended (EOI of an in-service line,
 * auto-EOI, ICW1 dropping it); unmasked: OCW1 cleared its mask bit.
 */
static void test_ack_and_unmask_hooks(void **state)
{
	struct fx *f = *state;
	init_pair(f, false);
	assert_int_equal(total(f->acked), 0);
	assert_int_equal(total(f->unmasked), 0);	/* IMR was 0 already */
	mw(f, 0x21, 0x01);
	mw(f, 0x21, 0x01);
	assert_int_equal(total(f->unmasked), 0);
	mw(f, 0x21, 0x00);
	mw(f, 0x21, 0x00);
	assert_int_equal(f->unmasked[0], 1);		/* 1 -> 0 only */
	mw(f, 0xa1, 0x80);
	mw(f, 0xa1, 0x00);
	assert_int_equal(f->unmasked[15], 1);
	assert_int_equal(total(f->unmasked), 2);

	/* non-specific EOI: at the EOI, not at the acknowledge */
	pic_set_irq(f->p, 0, true);
	assert_int_equal(pic_intack(f->p), 0x20);
	assert_int_equal(total(f->acked), 0);
	mw(f, 0x20, 0x20);
	assert_int_equal(f->acked[0], 1);
	mw(f, 0x20, 0x20);				/* nothing in service */
	mw(f, 0x20, 0x63);				/* IRQ3 not in service */
	assert_int_equal(total(f->acked), 1);
	/* specific EOI */
	pic_set_irq(f->p, 0, false);
	pic_set_irq(f->p, 0, true);
	assert_int_equal(pic_intack(f->p), 0x20);
	mw(f, 0x20, 0x60);
	assert_int_equal(f->acked[0], 2);
	/* cascade: the slave's line and the master's IRQ2 each end */
	pic_set_irq(f->p, 8, true);
	assert_int_equal(pic_intack(f->p), 0x28);
	mw(f, 0xa0, 0x20);
	mw(f, 0x20, 0x20);
	assert_int_equal(f->acked[8], 1);
	assert_int_equal(f->acked[2], 1);
	/* a level line's EOI is not an edge's end */
	pic_elcr_ops.write(f->p, 0, 1, 0x20);		/* IRQ5 level */
	pic_set_irq(f->p, 5, true);
	assert_int_equal(pic_intack(f->p), 0x25);
	pic_set_irq(f->p, 5, false);
	mw(f, 0x20, 0x20);
	assert_int_equal(f->acked[5], 0);
	pic_elcr_ops.write(f->p, 0, 1, 0x00);

	/* ICW1 drops IRQ0 from IRR: it ended too */
	pic_set_irq(f->p, 0, false);
	pic_set_irq(f->p, 0, true);
	assert_int_equal(f->acked[0], 2);
	init_pair(f, true);
	assert_int_equal(f->acked[0], 3);
	/* auto-EOI: at the acknowledge */
	pic_set_irq(f->p, 0, false);
	pic_set_irq(f->p, 0, true);
	assert_int_equal(pic_intack(f->p), 0x20);
	assert_int_equal(f->acked[0], 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_edge_priority_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_and_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto_eoi_rotate_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spurious_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_and_unmask_hooks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
