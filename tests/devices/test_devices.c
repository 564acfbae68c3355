/*
 * test_devices: the VM's standard device set - default COM1, two UARTs
 * from emu_devices (others skipped), describe() with live counters, IRQ
 * routing, console input, reset, and clean undo when creation fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

struct irqlog {
	int n;
	unsigned irq[32];
	bool level[32];
};

static void irq_fn(void *ctx, unsigned irq, bool level)
{
	struct irqlog *l = ctx;
	if (l->n < 32) {
		l->irq[l->n] = irq;
		l->level[l->n] = level;
	}
	l->n++;
}

static struct vm_config *new_cfg(void)
{
	struct vm_config *cfg = calloc(1, sizeof(*cfg));
	assert_non_null(cfg);
	return cfg;
}

static void add_dev(struct vm_config *cfg, const char *name, uint64_t base,
		    uint64_t len, uint32_t irq, uint32_t type)
{
	struct vm_emu_device *e = &cfg->emu_devices[cfg->n_emu_devices++];
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->base = base;
	e->len = len;
	e->irq = irq;
	e->type = type;
}

static const struct vm_device_info *find(const struct vm_device_info *v,
					 size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static void test_default_set(void **state)
{
	(void)state;
	struct bus *bus = malloc(sizeof(*bus));
	bus_init(bus);
	struct vm_devices *d = NULL;
	struct cv_err err = { 0 };

	assert_int_equal(vm_devices_create(&d, bus, NULL, NULL,
					   (struct vm_event_sink){ 0 }, &err), 0);
	assert_int_equal(vm_devices_uart_count(d), 1);
	struct vm_device_info info[16];
	size_t n = vm_devices_describe(d, info, 16);
	assert_int_equal(n, 7);
	const struct vm_device_info *rtc = find(info, n, "rtc-cmos");
	assert_non_null(rtc);
	assert_int_equal(rtc->base, 0x70);
	assert_int_equal(rtc->len, 2);
	assert_null(find(info, n, "pic-master"));	/* only on request */
	const struct vm_device_info *com1 = find(info, n, "com1");
	assert_non_null(com1);
	assert_int_equal(com1->base, 0x3f8);
	assert_int_equal(com1->len, 8);
	assert_int_equal(com1->irq, 4);
	assert_int_equal(com1->space, BUS_PIO);
	assert_string_equal(com1->kind, "uart16550");
	for (size_t i = 0; i < 5; i++) {
		static const char *names[] = { "debug-exit", "boot-port",
					       "shutdown-request", "i8042-data",
					       "i8042-cmd" };
		const struct vm_device_info *p = find(info, n, names[i]);
		assert_non_null(p);
		assert_int_equal(p->irq, -1);
	}
	assert_int_equal(find(info, n, "shutdown-request")->base, 0x5f0);
	/* describe with a short array still reports the total */
	assert_int_equal(vm_devices_describe(d, info, 2), 7);
	assert_int_equal(vm_devices_describe(d, NULL, 0), 7);

	vm_devices_destroy(d);
	assert_int_equal(bus->pio.n, 0);
	assert_int_equal(bus->mmio.n, 0);
	free(bus);
}

static void test_two_uarts(void **state)
{
	(void)state;
	struct bus *bus = malloc(sizeof(*bus));
	bus_init(bus);
	struct vm_config *cfg = new_cfg();
	add_dev(cfg, "com1", 0x3f8, 8, 4, VM_DEV_CONSOLE);
	add_dev(cfg, "vblk", 0xa000000, 0x200, 5, VM_DEV_VIRTIO_BLK);
	add_dev(cfg, "com2", 0x2f8, 8, 3, VM_DEV_CONSOLE);
	add_dev(cfg, "uart-mmio", 0x9000000, 0x1000, 33, VM_DEV_CONSOLE);
	struct console *con = console_create(NULL, 0, NULL);
	struct vm_devices *d = NULL;
	struct cv_err err = { 0 };
	struct irqlog irqs = { 0 };

	assert_int_equal(vm_devices_create(&d, bus, cfg, con,
					   (struct vm_event_sink){ 0 }, &err), 0);
	vm_devices_set_irq_handler(d, irq_fn, &irqs);
	assert_int_equal(vm_devices_uart_count(d), 3);
	assert_null(vm_devices_uart(d, 3));

	/* virtio-blk is not built here: nothing at its address */
	assert_null(bus_find(bus, BUS_MMIO, 0xa000000));
	assert_int_equal(bus->mmio.n, 1);

	/* both port UARTs feed the one console */
	bus_write(bus, BUS_PIO, 0x3f8, 1, 'A');
	bus_write(bus, BUS_PIO, 0x2f8, 1, 'B');
	bus_write(bus, BUS_MMIO, 0x9000000, 1, 'C');
	char buf[8];
	assert_int_equal(console_snapshot(con, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "ABC", 3);

	/* com2's interrupt goes out as IRQ 3 */
	bus_write(bus, BUS_PIO, 0x2f9, 1, UART_IER_THRI);
	assert_int_equal(irqs.n, 1);
	assert_int_equal(irqs.irq[0], 3);
	assert_true(irqs.level[0]);
	bus_read(bus, BUS_PIO, 0x2fa, 1);	/* IIR read acks THRE */
	assert_int_equal(irqs.n, 2);
	assert_false(irqs.level[1]);

	/* console input reaches the first UART */
	bus_write(bus, BUS_PIO, 0x3f9, 1, UART_IER_RDI);
	assert_int_equal(console_input(con, "hi", 2), 2);
	assert_int_equal(irqs.irq[2], 4);
	assert_true(irqs.level[2]);
	assert_int_equal(bus_read(bus, BUS_PIO, 0x3fd, 1) & UART_LSR_DR,
			 UART_LSR_DR);
	assert_int_equal(bus_read(bus, BUS_PIO, 0x3f8, 1), 'h');
	assert_int_equal(bus_read(bus, BUS_PIO, 0x3f8, 1), 'i');

	struct vm_device_info info[16];
	size_t n = vm_devices_describe(d, info, 16);
	assert_int_equal(n, 9);
	const struct vm_device_info *c1 = find(info, n, "com1");
	const struct vm_device_info *c2 = find(info, n, "com2");
	const struct vm_device_info *mm = find(info, n, "uart-mmio");
	assert_non_null(c1);
	assert_non_null(c2);
	assert_non_null(mm);
	assert_null(find(info, n, "vblk"));
	assert_int_equal(c1->irq, 4);
	assert_int_equal(c2->irq, 3);
	assert_int_equal(c2->base, 0x2f8);
	assert_int_equal(mm->space, BUS_MMIO);
	assert_int_equal(mm->len, 0x1000);
	assert_int_equal(c1->writes, 2);
	assert_int_equal(c1->reads, 3);
	assert_int_equal(c2->writes, 2);
	assert_int_equal(c2->reads, 1);

	vm_devices_destroy(d);
	assert_int_equal(console_input(con, "x", 1), 0);	/* unwired */
	assert_int_equal(bus->pio.n, 0);
	assert_int_equal(bus->mmio.n, 0);
	console_destroy(con);
	free(cfg);
	free(bus);
}

struct events {
	int n;
	enum vm_event_kind last;
	int arg;
};

static void post(void *ctx, enum vm_event_kind kind, int arg)
{
	struct events *e = ctx;
	e->n++;
	e->last = kind;
	e->arg = arg;
}

static void test_ports_and_reset(void **state)
{
	(void)state;
	struct bus *bus = malloc(sizeof(*bus));
	bus_init(bus);
	struct events ev = { 0 };
	struct vm_event_sink sink = { .post = post, .ctx = &ev };
	struct vm_devices *d = NULL;

	assert_int_equal(vm_devices_create(&d, bus, NULL, NULL, sink, NULL), 0);
	struct cvports *p = vm_devices_cvports(d);
	assert_non_null(p);

	assert_int_equal(bus_write(bus, BUS_PIO, 0xf4, 1, 3), BUS_EXIT);
	assert_int_equal(ev.last, VM_EVENT_DEBUG_EXIT);
	assert_int_equal(ev.arg, 3);
	assert_int_equal(bus_write(bus, BUS_PIO, 0x64, 1, 0xfe), BUS_EXIT);
	assert_int_equal(ev.last, VM_EVENT_RESET);

	cvports_request_shutdown(p);
	assert_int_equal(bus_read(bus, BUS_PIO, 0x5f0, 2), 1);
	bus_write(bus, BUS_PIO, 0x3ff, 1, 0x5a);	/* scratch */
	bus_write(bus, BUS_PIO, 0x80, 1, 1);

	vm_devices_reset(d);
	assert_int_equal(bus_read(bus, BUS_PIO, 0x5f0, 2), 0);
	assert_int_equal(bus_read(bus, BUS_PIO, 0x3ff, 1), 0);
	struct cvports_boot_info bi;
	cvports_boot_info(p, &bi);
	assert_int_equal(bi.writes, 0);

	/* counters survive a reset */
	struct vm_device_info info[8];
	size_t n = vm_devices_describe(d, info, 8);
	assert_int_equal(find(info, n, "debug-exit")->writes, 1);
	assert_int_equal(find(info, n, "shutdown-request")->reads, 2);
	vm_devices_destroy(d);
	vm_devices_destroy(NULL);
	free(bus);
}

static void test_failure_undoes(void **state)
{
	(void)state;
	struct bus *bus = malloc(sizeof(*bus));
	bus_init(bus);
	struct vm_config *cfg = new_cfg();
	struct vm_devices *d = (struct vm_devices *)1;
	struct cv_err err = { 0 };

	/* a UART on top of the i8042 */
	add_dev(cfg, "com1", 0x3f8, 8, 4, VM_DEV_CONSOLE);
	add_dev(cfg, "badcom", 0x60, 8, 3, VM_DEV_CONSOLE);
	assert_int_equal(vm_devices_create(&d, bus, cfg, NULL,
					   (struct vm_event_sink){ 0 }, &err),
			 -EEXIST);
	assert_null(d);
	assert_non_null(strstr(err.msg, "badcom"));
	assert_non_null(strstr(err.msg, "i8042-data"));
	assert_int_equal(bus->pio.n, 0);

	/* zero length and a range past the port space */
	cfg->n_emu_devices = 0;
	add_dev(cfg, "empty", 0x2f8, 0, 3, VM_DEV_CONSOLE);
	assert_true(vm_devices_create(&d, bus, cfg, NULL,
				      (struct vm_event_sink){ 0 }, &err) < 0);
	assert_int_equal(bus->pio.n, 0);
	cfg->n_emu_devices = 0;
	add_dev(cfg, "edge", 0xfffc, 8, 3, VM_DEV_CONSOLE);
	assert_true(vm_devices_create(&d, bus, cfg, NULL,
				      (struct vm_event_sink){ 0 }, &err) < 0);
	assert_non_null(strstr(err.msg, "edge"));
	assert_int_equal(bus->pio.n, 0);

	/* a second device set on the same bus collides by name */
	struct vm_devices *first = NULL;
	assert_int_equal(vm_devices_create(&first, bus, NULL, NULL,
					   (struct vm_event_sink){ 0 }, &err), 0);
	size_t before = bus->pio.n;
	assert_int_equal(vm_devices_create(&d, bus, NULL, NULL,
					   (struct vm_event_sink){ 0 }, &err),
			 -EEXIST);
	assert_non_null(strstr(err.msg, "debug-exit"));
	assert_int_equal(bus->pio.n, before);
	vm_devices_destroy(first);
	assert_int_equal(bus->pio.n, 0);

	assert_int_equal(vm_devices_create(NULL, bus, NULL, NULL,
					   (struct vm_event_sink){ 0 }, &err),
			 -EINVAL);
	free(cfg);
	free(bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_set),
		cmocka_unit_test(test_two_uarts),
		cmocka_unit_test(test_ports_and_reset),
		cmocka_unit_test(test_failure_undoes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
