/*
 * test_cvports: cvisor's own ports on a real bus - debug-exit (event +
 * BUS_EXIT), the 0x80 boot port (the first write timestamped, the later
 * ones only counted: no clock read per exit), the 0x5f0 shutdown register
 * (zero-extended per width, writes ignored, cleared on reset) and the
 * i8042 stub (status, self-test, CTR, the reset paths).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "cvports.h"

/* ---- clock_gettime interposition (cvports.o's calls are wrapped) ---- */

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);

static int clock_reads;

int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	clock_reads++;
	return __real_clock_gettime(id, ts);
}

#define MAX_EVENTS 16

struct events {
	int n;
	enum vm_event_kind kind[MAX_EVENTS];
	int arg[MAX_EVENTS];
};

static void post(void *ctx, enum vm_event_kind kind, int arg)
{
	struct events *e = ctx;
	if (e->n < MAX_EVENTS) {
		e->kind[e->n] = kind;
		e->arg[e->n] = arg;
	}
	e->n++;
}

struct fixture {
	struct bus bus;
	struct events ev;
	struct cvports *p;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vm_event_sink sink = { .post = post, .ctx = &f->ev };
	bus_init(&f->bus);
	f->p = cvports_create(sink, NULL);
	if (!f->p)
		return -1;
	static const struct {
		uint64_t base, len;
		const struct bus_device_ops *ops;
	} r[] = {
		{ CVPORT_DEBUG_EXIT, 1, &cvports_debug_exit_ops },
		{ CVPORT_BOOT, 1, &cvports_boot_ops },
		{ CVPORT_SHUTDOWN, CVPORT_SHUTDOWN_LEN, &cvports_shutdown_ops },
		{ CVPORT_I8042_DATA, 1, &cvports_i8042_data_ops },
		{ CVPORT_I8042_CMD, 1, &cvports_i8042_cmd_ops },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (bus_register(&f->bus, BUS_PIO, r[i].base, r[i].len, "p",
				 r[i].ops, f->p, NULL))
			return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	cvports_destroy(f->p);
	free(f);
	return 0;
}

static void test_debug_exit(void **state)
{
	struct fixture *f = *state;
	int code = -1;

	assert_false(cvports_exit_code(f->p, &code));
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0xf4, 1, 42), BUS_EXIT);
	assert_int_equal(f->ev.n, 1);
	assert_int_equal(f->ev.kind[0], VM_EVENT_DEBUG_EXIT);
	assert_int_equal(f->ev.arg[0], 42);
	assert_true(cvports_exit_code(f->p, &code));
	assert_int_equal(code, 42);

	/* a wider write: the low byte is the code */
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0xf4, 2, 0x1234),
			 BUS_EXIT);
	assert_int_equal(f->ev.arg[1], 0x34);
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0xf4, 1, 0), BUS_EXIT);
	assert_int_equal(f->ev.arg[2], 0);
	assert_true(cvports_exit_code(f->p, &code));
	assert_int_equal(code, 0);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0xf4, 1), 0);
	assert_int_equal(f->ev.n, 3);	/* reads post nothing */

	cvports_reset(f->p);
	assert_false(cvports_exit_code(f->p, &code));
}

static void test_boot_port(void **state)
{
	struct fixture *f = *state;
	struct cvports_boot_info bi;

	cvports_boot_info(f->p, &bi);
	assert_int_equal(bi.writes, 0);
	assert_false(bi.has_boot_time);

	uint64_t start = cvports_now_ns();
	cvports_set_start_time(f->p, start);
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	uint64_t before = cvports_now_ns();
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x80, 1, 0x11),
			 BUS_CONTINUE);
	uint64_t after = cvports_now_ns();
	nanosleep(&ts, NULL);
	/*
	 * Later writes are counted, not timestamped: a clock read per exit
	 * is a system call wherever the vDSO cannot read the clock source
	 * (hpet, acpi_pm: nested guests), and Linux's outb_p() writes 0x80
	 * after every slow port access.
	 */
	int reads = clock_reads;
	bus_write(&f->bus, BUS_PIO, 0x80, 1, 0x22);
	bus_write(&f->bus, BUS_PIO, 0x80, 1, 0x33);
	assert_int_equal(clock_reads, reads);

	cvports_boot_info(f->p, &bi);
	assert_int_equal(bi.writes, 3);
	assert_true(bi.first_ns >= before && bi.first_ns <= after);
	assert_int_equal(bi.last_value, 0x33);
	assert_true(bi.has_boot_time);
	assert_true(bi.boot_time_ns >= 2 * 1000 * 1000);
	assert_int_equal(bi.boot_time_ns, bi.first_ns - start);
	assert_int_equal(f->ev.n, 0);

	cvports_reset(f->p);
	cvports_boot_info(f->p, &bi);
	assert_int_equal(bi.writes, 0);
	assert_int_equal(bi.first_ns, 0);
	assert_false(bi.has_boot_time);
	assert_int_equal(bi.start_ns, start);	/* kept across reset */
}

static void test_shutdown_port(void **state)
{
	struct fixture *f = *state;
	static const struct { unsigned size; } w[] = { { 1 }, { 2 }, { 4 } };

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x5f0, w[i].size),
				 0);
	assert_false(cvports_shutdown_requested(f->p));
	cvports_request_shutdown(f->p);
	assert_true(cvports_shutdown_requested(f->p));
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x5f0, w[i].size),
				 1);
	/* the high bytes of the 32-bit register are zero */
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x5f1, 1), 0);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x5f2, 2), 0);
	/* writes are ignored */
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x5f0, 4, 0),
			 BUS_CONTINUE);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x5f0, 4), 1);
	assert_int_equal(f->ev.n, 0);

	cvports_reset(f->p);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x5f0, 4), 0);
	assert_false(cvports_shutdown_requested(f->p));
}

static uint8_t kbc_status(struct fixture *f)
{
	return (uint8_t)bus_read(&f->bus, BUS_PIO, 0x64, 1);
}

static void test_i8042_basics(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(kbc_status(f), 0x1c);	/* SYS | CMD | unlocked */
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xaa),
			 BUS_CONTINUE);
	assert_int_equal(kbc_status(f) & I8042_STR_OBF, I8042_STR_OBF);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x60, 1), 0x55);
	assert_int_equal(kbc_status(f) & I8042_STR_OBF, 0);

	/* write then read back the command byte */
	bus_write(&f->bus, BUS_PIO, 0x64, 1, 0x60);
	bus_write(&f->bus, BUS_PIO, 0x60, 1, 0x61);
	assert_int_equal(kbc_status(f) & I8042_STR_CMD, 0);
	bus_write(&f->bus, BUS_PIO, 0x64, 1, 0x20);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x60, 1), 0x61);

	/* D2 loops a byte back through the output buffer */
	bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xd2);
	bus_write(&f->bus, BUS_PIO, 0x60, 1, 0x9c);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x60, 1), 0x9c);

	/* keyboard bytes with nothing pending: no keyboard, no reply */
	bus_write(&f->bus, BUS_PIO, 0x60, 1, 0xf2);
	assert_int_equal(kbc_status(f) & I8042_STR_OBF, 0);
	assert_int_equal(f->ev.n, 0);

	cvports_reset(f->p);
	bus_write(&f->bus, BUS_PIO, 0x64, 1, 0x20);
	assert_int_equal(bus_read(&f->bus, BUS_PIO, 0x60, 1), 0x45);
}

/* A status read as Linux's i8042 driver reads it: never "absent". */
static uint8_t kbc_status_sane(struct fixture *f)
{
	uint8_t st = kbc_status(f);
	assert_int_not_equal(st, 0xff);
	assert_int_equal(st & I8042_STR_IBF, 0);	/* writes never wait */
	return st;
}

/* One i8042_command(): command, parameter bytes, reply bytes. */
static int kbc_cmd(struct fixture *f, uint8_t cmd, const uint8_t *in,
		   unsigned nin, uint8_t *out, unsigned nout, uint8_t *st)
{
	bus_write(&f->bus, BUS_PIO, 0x64, 1, cmd);
	for (unsigned i = 0; i < nin; i++) {
		kbc_status_sane(f);
		bus_write(&f->bus, BUS_PIO, 0x60, 1, in[i]);
	}
	for (unsigned i = 0; i < nout; i++) {
		uint8_t s = kbc_status_sane(f);
		if (!(s & I8042_STR_OBF))
			return -1;		/* Linux: timeout */
		if (st)
			*st = s;
		out[i] = (uint8_t)bus_read(&f->bus, BUS_PIO, 0x60, 1);
	}
	return 0;
}

/*
 * The sequence Linux's drivers/input/serio/i8042.c runs at probe:
 * i8042_flush (read while OBF, give up after 16 bytes), the CTR read,
 * the self test, the CTR write, the keyboard interface test, the AUX
 * loopback (its reply must carry AUXDATA), disable/enable of both ports
 * seen in the CTR.
 */
static void test_i8042_linux_probe(void **state)
{
	struct fixture *f = *state;
	uint8_t b[2] = { 0, 0 }, st = 0;

	unsigned flushed = 0;
	while ((kbc_status_sane(f) & I8042_STR_OBF) && flushed < 16) {
		bus_read(&f->bus, BUS_PIO, 0x60, 1);
		flushed++;
	}
	assert_int_equal(flushed, 0);
	assert_int_equal(kbc_cmd(f, 0x20, NULL, 0, b, 1, NULL), 0);
	uint8_t ctr = b[0];
	assert_int_equal(ctr, 0x45);
	assert_int_equal(kbc_cmd(f, 0xaa, NULL, 0, b, 1, NULL), 0);
	assert_int_equal(b[0], 0x55);
	ctr = (uint8_t)((ctr & ~0x03) | 0x30);	/* ints off, ports off */
	assert_int_equal(kbc_cmd(f, 0x60, &ctr, 1, NULL, 0, NULL), 0);
	assert_int_equal(kbc_cmd(f, 0x20, NULL, 0, b, 1, NULL), 0);
	assert_int_equal(b[0], ctr);
	assert_int_equal(kbc_cmd(f, 0xab, NULL, 0, b, 1, NULL), 0);
	assert_int_equal(b[0], 0x00);
	b[1] = 0x5a;
	assert_int_equal(kbc_cmd(f, 0xd3, &b[1], 1, b, 1, &st), 0);
	assert_int_equal(b[0], 0x5a);
	assert_true(st & I8042_STR_AUXDATA);
	assert_int_equal(kbc_status_sane(f) & (I8042_STR_OBF | I8042_STR_AUXDATA), 0);
	assert_int_equal(kbc_cmd(f, 0xa9, NULL, 0, b, 1, &st), 0);
	assert_int_equal(b[0], 0xff);		/* Linux accepts 0xff */
	assert_int_equal(st & I8042_STR_AUXDATA, 0);
	static const struct { uint8_t cmd, set, clear; } toggles[] = {
		{ 0xa7, 0x20, 0 }, { 0xa8, 0, 0x20 },
		{ 0xad, 0x10, 0 }, { 0xae, 0, 0x10 },
	};
	for (size_t i = 0; i < sizeof(toggles) / sizeof(toggles[0]); i++) {
		assert_int_equal(kbc_cmd(f, toggles[i].cmd, NULL, 0, NULL, 0,
					 NULL), 0);
		assert_int_equal(kbc_cmd(f, 0x20, NULL, 0, b, 1, NULL), 0);
		assert_int_equal(b[0] & toggles[i].set, toggles[i].set);
		assert_int_equal(b[0] & toggles[i].clear, 0);
	}
	/* idle again: nothing to read, nothing pending */
	assert_int_equal(kbc_status_sane(f) & I8042_STR_OBF, 0);
	assert_int_equal(f->ev.n, 0);
}

static void test_i8042_reset(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xfe), BUS_EXIT);
	assert_int_equal(f->ev.n, 1);
	assert_int_equal(f->ev.kind[0], VM_EVENT_RESET);

	/* pulse commands only reset when bit 0 is among the pulsed lines */
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xff),
			 BUS_CONTINUE);
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xf1),
			 BUS_CONTINUE);
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xf0), BUS_EXIT);
	assert_int_equal(f->ev.n, 2);

	/* the output-port path: dropping bit 0 is a reset, keeping it not */
	bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xd1);
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x60, 1, 0x03),
			 BUS_CONTINUE);
	bus_write(&f->bus, BUS_PIO, 0x64, 1, 0xd1);
	assert_int_equal(bus_write(&f->bus, BUS_PIO, 0x60, 1, 0x02), BUS_EXIT);
	assert_int_equal(f->ev.n, 3);
	assert_int_equal(f->ev.kind[2], VM_EVENT_RESET);
}

static void test_null_sink(void **state)
{
	(void)state;
	struct cvports *p = cvports_create((struct vm_event_sink){ 0 }, NULL);
	assert_non_null(p);
	assert_int_equal(cvports_debug_exit_ops.write(p, 0, 1, 7), BUS_EXIT);
	assert_int_equal(cvports_i8042_cmd_ops.write(p, 0, 1, 0xfe), BUS_EXIT);
	/* offsets past the port (straddling accesses) are ignored */
	assert_int_equal(cvports_debug_exit_ops.write(p, 1, 1, 7),
			 BUS_CONTINUE);
	cvports_destroy(p);
	cvports_destroy(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_debug_exit),
		T(test_boot_port),
		T(test_shutdown_port),
		T(test_i8042_basics),
		T(test_i8042_linux_probe),
		T(test_i8042_reset),
		cmocka_unit_test(test_null_sink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
