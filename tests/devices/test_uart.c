/*
 * test_uart: 16550 register behaviour through its bus handlers - reset
 * values, DLAB and the divisor latch, LSR, the RX FIFO, loopback and MSR,
 * scratch, FCR, interrupts (IIR priorities, THRE edges, the line hook),
 * wide accesses, and garbage programming that must never break it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "uart16550.h"

struct line {
	int raises, lowers;
	bool level;
	int bad;		/* same level reported twice in a row */
};

static void line_set(void *ctx, bool level)
{
	struct line *l = ctx;
	if (level == l->level)
		l->bad++;
	l->level = level;
	if (level)
		l->raises++;
	else
		l->lowers++;
}

struct fixture {
	struct console *con;
	struct uart *u;
	struct line line;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->con = console_create(NULL, 0, NULL);
	struct uart_irq irq = { .set = line_set, .ctx = &f->line };
	f->u = uart_create(f->con, irq, NULL);
	*state = f;
	return f->con && f->u ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	uart_destroy(f->u);
	console_destroy(f->con);
	free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
	return (uint8_t)uart_bus_ops.read(f->u, reg, 1);
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
	assert_int_equal(uart_bus_ops.write(f->u, reg, 1, v), BUS_CONTINUE);
}

static size_t output(struct fixture *f, char *buf, size_t cap)
{
	return console_snapshot(f->con, buf, cap);
}

static void test_reset_values(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, UART_IER), 0);
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_NO_INT);
	assert_int_equal(rd(f, UART_LCR), 0);
	assert_int_equal(rd(f, UART_MCR), 0);
	assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(rd(f, UART_MSR),
			 UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	assert_int_equal(rd(f, UART_SCR), 0);
	assert_false(f->line.level);
}

static void test_tx_to_console(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	const char *msg = "hi there\n";

	for (size_t i = 0; i < strlen(msg); i++) {
		assert_int_equal(rd(f, UART_LSR) & UART_LSR_THRE,
				 UART_LSR_THRE);
		wr(f, UART_RBR_THR, (uint8_t)msg[i]);
	}
	assert_int_equal(output(f, buf, sizeof(buf)), strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	struct uart_stats st;
	uart_get_stats(f->u, &st);
	assert_int_equal(st.tx_bytes, strlen(msg));
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;
	char buf[8];

	wr(f, UART_IER, 0x05);
	wr(f, UART_LCR, UART_LCR_DLAB | 0x03);
	wr(f, UART_RBR_THR, 0x01);	/* DLL, not a transmitted byte */
	wr(f, UART_IER, 0x02);		/* DLM */
	assert_int_equal(rd(f, UART_RBR_THR), 0x01);
	assert_int_equal(rd(f, UART_IER), 0x02);
	assert_int_equal(rd(f, UART_LCR), 0x83);
	wr(f, UART_LCR, 0x03);
	assert_int_equal(rd(f, UART_IER), 0x05);	/* IER untouched */
	assert_int_equal(output(f, buf, sizeof(buf)), 0);
	wr(f, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(rd(f, UART_RBR_THR), 0x01);	/* latch kept */

	/* a 16-bit write of the divisor fills DLL and DLM */
	assert_int_equal(uart_bus_ops.write(f->u, 0, 2, 0x0c30), BUS_CONTINUE);
	assert_int_equal(rd(f, 0), 0x30);
	assert_int_equal(rd(f, 1), 0x0c);
	assert_int_equal(uart_bus_ops.read(f->u, 0, 2), 0x0c30);
}

static void test_rx_fifo_and_lsr(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(uart_receive(f->u, "abc", 3), 3);
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(rd(f, UART_RBR_THR), 'a');
	assert_int_equal(rd(f, UART_RBR_THR), 'b');
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(rd(f, UART_RBR_THR), 'c');
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(rd(f, UART_RBR_THR), 'c');	/* empty: repeats */

	/* full FIFO: the host keeps the rest */
	uint8_t big[UART_RX_FIFO_SIZE + 44];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	assert_int_equal(uart_receive(f->u, big, sizeof(big)),
			 UART_RX_FIFO_SIZE);
	assert_int_equal(uart_receive(f->u, big, 1), 0);
	for (size_t i = 0; i < UART_RX_FIFO_SIZE; i++)
		assert_int_equal(rd(f, UART_RBR_THR), (uint8_t)i);
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);

	/* FCR clear-RX empties it */
	uart_receive(f->u, "zz", 2);
	wr(f, UART_IIR_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(rd(f, UART_IIR_FCR) & UART_IIR_FIFO, UART_IIR_FIFO);

	struct uart_stats st;
	uart_get_stats(f->u, &st);
	assert_int_equal(st.rx_bytes, 3 + UART_RX_FIFO_SIZE);
	assert_int_equal(st.rx_queued, 3 + UART_RX_FIFO_SIZE + 2);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;
	char buf[8];

	wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_OUT2 | UART_MCR_RTS);
	/* Linux's probe: MSR upper nibble mirrors MCR -> DCD|CTS */
	assert_int_equal(rd(f, UART_MSR) & 0xf0, UART_MSR_DCD | UART_MSR_CTS);
	wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
	assert_int_equal(rd(f, UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);

	wr(f, UART_RBR_THR, 0x5a);
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(rd(f, UART_RBR_THR), 0x5a);
	assert_int_equal(output(f, buf, sizeof(buf)), 0);	/* not sent */

	/* host input is cut off in loopback */
	assert_int_equal(uart_receive(f->u, "q", 1), 1);
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_DR, 0);

	/* overrun: one byte too many sets OE once */
	for (int i = 0; i < UART_RX_FIFO_SIZE + 1; i++)
		wr(f, UART_RBR_THR, (uint8_t)i);
	uint8_t lsr = rd(f, UART_LSR);
	assert_int_equal(lsr & (UART_LSR_OE | UART_LSR_DR),
			 UART_LSR_OE | UART_LSR_DR);
	assert_int_equal(rd(f, UART_LSR) & UART_LSR_OE, 0);

	wr(f, UART_MCR, 0);
	assert_int_equal(rd(f, UART_MSR) & 0xf0,
			 UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	struct uart_stats st;
	uart_get_stats(f->u, &st);
	assert_int_equal(st.loop_bytes, 1 + UART_RX_FIFO_SIZE);
	assert_int_equal(st.overruns, 1);
	assert_int_equal(st.rx_dropped, 1);
	assert_int_equal(st.tx_bytes, 0);
}

static void test_msr_deltas(void **state)
{
	struct fixture *f = *state;

	wr(f, UART_MCR, UART_MCR_LOOP);
	rd(f, UART_MSR);	/* clear the deltas of entering loopback */
	wr(f, UART_IER, UART_IER_MSI);
	assert_false(f->line.level);
	wr(f, UART_MCR, UART_MCR_LOOP | UART_MCR_RTS);
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_MSI);
	assert_true(f->line.level);
	assert_int_equal(rd(f, UART_MSR), UART_MSR_CTS | 0x01);	/* DCTS */
	assert_false(f->line.level);
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_NO_INT);
}

static void test_scratch(void **state)
{
	struct fixture *f = *state;
	for (int v = 0; v < 256; v++) {
		wr(f, UART_SCR, (uint8_t)v);
		assert_int_equal(rd(f, UART_SCR), v);
	}
	wr(f, UART_LSR, 0x00);	/* read-only */
	assert_int_equal(rd(f, UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, UART_IER, UART_IER_THRI);	/* THR empty: raises at once */
	assert_true(f->line.level);
	assert_int_equal(f->line.raises, 1);
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_THRI);
	assert_false(f->line.level);	/* IIR read acknowledged it */
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_NO_INT);

	wr(f, UART_RBR_THR, 'x');	/* every THR write gives a fresh edge */
	assert_true(f->line.level);
	wr(f, UART_RBR_THR, 'y');
	assert_int_equal(f->line.raises, 3);
	assert_true(f->line.level);

	wr(f, UART_IER, 0);
	assert_false(f->line.level);
	assert_int_equal(f->line.bad, 0);
	struct uart_stats st;
	uart_get_stats(f->u, &st);
	assert_int_equal(st.irq_raises, 3);
}

static void test_rx_interrupt_priority(void **state)
{
	struct fixture *f = *state;

	wr(f, UART_IER, UART_IER_RDI | UART_IER_THRI);
	assert_true(f->line.level);
	uart_receive(f->u, "k", 1);
	/* RX data outranks THRE */
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_RDI);
	assert_int_equal(rd(f, UART_RBR_THR), 'k');
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_THRI);
	assert_int_equal(rd(f, UART_IIR_FCR), UART_IIR_NO_INT);
	assert_false(f->line.level);

	uart_receive(f->u, "m", 1);
	assert_true(f->line.level);
	wr(f, UART_IER, UART_IER_THRI);	/* masking RX drops the line */
	assert_false(f->line.level);
	wr(f, UART_IER, UART_IER_RDI);
	assert_true(f->line.level);
	rd(f, UART_RBR_THR);
	assert_false(f->line.level);
	assert_int_equal(f->line.bad, 0);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;

	wr(f, UART_LCR, 0x9b);
	wr(f, UART_RBR_THR, 0x77);
	wr(f, UART_LCR, 0x1b);
	wr(f, UART_IER, 0x0f);
	wr(f, UART_MCR, 0x1f);
	wr(f, UART_SCR, 0x42);
	wr(f, UART_IIR_FCR, 0xc1);
	wr(f, UART_RBR_THR, 1);
	assert_true(f->line.level);
	uart_reset(f->u);
	assert_false(f->line.level);
	test_reset_values(state);
	wr(f, UART_LCR, UART_LCR_DLAB);
	assert_int_equal(rd(f, 0), 0x0c);
	assert_int_equal(rd(f, 1), 0x00);
}

/* Wide and out-of-range accesses are split into bytes and bounded. */
static void test_wide_and_out_of_range(void **state)
{
	struct fixture *f = *state;
	char buf[16];

	/* 4-byte write at 0: THR='A', IER=0, FCR=0, LCR=3 */
	uart_bus_ops.write(f->u, 0, 4, 0x03000041);
	assert_int_equal(output(f, buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'A');
	assert_int_equal(rd(f, UART_LCR), 3);
	/* straddling the end: bytes past 7 are dropped / read 0 */
	uart_bus_ops.write(f->u, 7, 4, 0xffffff99);
	assert_int_equal(rd(f, UART_SCR), 0x99);
	assert_int_equal(uart_bus_ops.read(f->u, 7, 4), 0x99);
	assert_int_equal(uart_bus_ops.read(f->u, 0x1000, 8), 0);
	uart_bus_ops.write(f->u, UINT64_MAX, 8, UINT64_MAX);
	assert_int_equal(uart_bus_ops.read(f->u, UINT64_MAX - 3, 8), 0);
}

/* Random programming: invariants hold, nothing crashes, reset recovers. */
static void test_garbage(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = 12345;

	for (int i = 0; i < 200000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		unsigned off = (unsigned)(seed >> 33) % 10;
		unsigned size = 1u << ((seed >> 40) % 4);
		uint64_t val = seed ^ (seed >> 17);
		switch ((seed >> 50) % 8) {
		case 0:
			uart_receive(f->u, &val, (seed >> 44) % 8);
			break;
		case 1:
		case 2:
		case 3:
			uart_bus_ops.write(f->u, off, size, val);
			break;
		default: {
			uint64_t v = uart_bus_ops.read(f->u, off, size);
			if (size < 8)
				assert_int_equal(v >> (8 * size), 0);
			if (off == UART_LSR && size == 1)
				assert_int_equal(v & 0x60, 0x60);
		}
		}
	}
	assert_int_equal(f->line.bad, 0);
	uart_reset(f->u);
	test_reset_values(state);
}

static void test_no_console_no_irq(void **state)
{
	(void)state;
	struct uart *u = uart_create(NULL, (struct uart_irq){ 0 }, NULL);
	assert_non_null(u);
	uart_bus_ops.write(u, UART_IER, 1, 0x0f);
	uart_bus_ops.write(u, UART_RBR_THR, 1, 'x');
	uart_receive(u, "abc", 3);
	assert_int_equal(uart_bus_ops.read(u, UART_RBR_THR, 1), 'a');
	struct uart_stats st;
	uart_get_stats(u, &st);
	assert_int_equal(st.tx_bytes, 1);
	uart_destroy(u);
	uart_destroy(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_values),
		T(test_tx_to_console),
		T(test_dlab),
		T(test_rx_fifo_and_lsr),
		T(test_loopback),
		T(test_msr_deltas),
		T(test_scratch),
		T(test_thre_interrupt),
		T(test_rx_interrupt_priority),
		T(test_reset),
		T(test_wide_and_out_of_range),
		T(test_garbage),
		cmocka_unit_test(test_no_console_no_irq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
