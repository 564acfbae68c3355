/*
 * devices: a VM's standard device set (see devices.h).
 *
 * Every bus registration goes through add_mapping(), which records it in
 * maps[]; that one list drives undo on failure, destroy, and describe.
 * Names live in maps[] because the bus keeps only the pointer.
 */
#include "devices.h"
#include "fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CVPORT_MAPPINGS 5
#define N_ACPI_MAPPINGS 3
#define N_LEGACY_MAPPINGS 6	/* RTC, PIC x2, ELCR, PIT, port 0x61 */
#define MAX_MAPPINGS (VMCFG_MAX_DEVICES + N_CVPORT_MAPPINGS + N_ACPI_MAPPINGS + \
		      N_LEGACY_MAPPINGS)
#define PIO_LIMIT 0x10000ull

struct uart_slot {
	struct uart *uart;
	struct vm_devices *owner;
	unsigned irq;
};

struct mapping {
	char name[VM_DEVICE_NAME_MAX];
	const char *kind;
	enum bus_space space;
	uint64_t base, len;
	int irq;
};

struct vm_devices {
	struct bus *bus;
	struct console *con;
	struct cvports *ports;
	struct acpi_pm *pm;
	struct uart_slot uarts[VMCFG_MAX_DEVICES];
	size_t n_uarts;
	struct mapping maps[MAX_MAPPINGS];
	size_t n_maps;
	vm_devices_irq_fn irq_fn;
	void *irq_ctx;
	void (*rearm_fn)(void *ctx);
	void *rearm_ctx;
	struct rtc *rtc;
	struct pic *pic;
	struct pit *pit;
	bool input_wired;	/* we are con's input handler */
};

static int add_mapping(struct vm_devices *d, enum bus_space space,
		       uint64_t base, uint64_t len, const char *name,
		       const char *kind, int irq,
		       const struct bus_device_ops *ops, void *opaque,
		       struct cv_err *err)
{
	if (d->n_maps == MAX_MAPPINGS)
		return cv_err_set(err, ENOSPC,
				  "Device \"%s\" cannot be added: the VM already has %d device mappings.",
				  name, MAX_MAPPINGS);

	struct mapping *m = &d->maps[d->n_maps];
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->kind = kind;
	m->space = space;
	m->base = base;
	m->len = len;
	m->irq = irq;
	int fe = CV_FAULT("devices.create");
	int rc = fe ? cv_err_set(err, fe, "Device \"%s\" cannot be added: %s.",
				 name, strerror(fe))
		    : bus_register(d->bus, space, base, len, m->name, ops,
				   opaque, err);
	if (rc == 0)
		d->n_maps++;
	return rc;
}

static void uart_line(void *ctx, bool level)
{
	struct uart_slot *s = ctx;
	struct vm_devices *d = s->owner;

	if (d->irq_fn)
		d->irq_fn(d->irq_ctx, s->irq, level);
}

static size_t uart_input(void *ctx, const void *buf, size_t len)
{
	return uart_receive(ctx, buf, len);
}

static int add_uart(struct vm_devices *d, const char *name, uint64_t base,
		    uint64_t len, unsigned irq, struct cv_err *err)
{
	struct uart_slot *s = &d->uarts[d->n_uarts];
	s->owner = d;
	s->irq = irq;

	struct uart_irq line = { .set = uart_line, .ctx = s };
	s->uart = uart_create(d->con, line, err);
	if (!s->uart)
		return err ? -err->code : -ENOMEM;

	enum bus_space space = base < PIO_LIMIT ? BUS_PIO : BUS_MMIO;
	int rc = add_mapping(d, space, base, len, name, "uart16550", (int)irq,
			     &uart_bus_ops, s->uart, err);
	if (rc) {
		uart_destroy(s->uart);
		s->uart = NULL;
		return rc;
	}
	d->n_uarts++;
	return 0;
}

static int add_config_uarts(struct vm_devices *d, const struct vm_config *cfg,
			    struct cv_err *err)
{
	for (size_t i = 0; cfg && i < cfg->n_emu_devices &&
			   i < VMCFG_MAX_DEVICES; i++) {
		const struct vm_emu_device *e = &cfg->emu_devices[i];
		if (e->type != VM_DEV_CONSOLE)
			continue;

		char name[VM_DEVICE_NAME_MAX];
		if (e->name[0])
			snprintf(name, sizeof(name), "%.*s",
				 (int)sizeof(name) - 1, e->name);
		else
			snprintf(name, sizeof(name), "uart%zu", d->n_uarts);
		int rc = add_uart(d, name, e->base, e->len, e->irq, err);
		if (rc)
			return rc;
	}
	if (d->n_uarts == 0)
		return add_uart(d, "com1", VM_DEVICES_COM1_BASE,
				VM_DEVICES_COM1_LEN, VM_DEVICES_COM1_IRQ, err);
	return 0;
}

static void ram_split(const struct vm_config *cfg, uint64_t *below,
		      uint64_t *above)
{
	*below = *above = 0;
	for (size_t i = 0; cfg && i < cfg->n_regions; i++) {
		uint64_t gpa = cfg->regions[i].gpa;
		uint64_t end = gpa + cfg->regions[i].size;
		uint64_t g4 = 1ull << 32;
		if (gpa < g4)
			*below += (end < g4 ? end : g4) - gpa;
		if (end > g4)
			*above += end - (gpa > g4 ? gpa : g4);
	}
}

static void rtc_line(void *ctx, bool level)
{
	struct vm_devices *d = ctx;

	if (d->irq_fn)
		d->irq_fn(d->irq_ctx, RTC_IRQ, level);
}

/* A device deadline may have moved earlier: whoever polls re-polls. */
static void dev_rearmed(void *ctx)
{
	struct vm_devices *d = ctx;

	if (d->pic)
		pic_poke(d->pic);	/* emu: the vCPU loop re-polls */
	if (d->rearm_fn)
		d->rearm_fn(d->rearm_ctx);
}

static int add_rtc(struct vm_devices *d, const struct vm_config *cfg,
		   struct cv_err *err)
{
	uint64_t below, above;
	ram_split(cfg, &below, &above);
	struct rtc_hooks h = { .irq = rtc_line, .rearmed = dev_rearmed,
			       .ctx = d };
	d->rtc = rtc_create(h, below, above, err);
	if (!d->rtc)
		return err ? -err->code : -ENOMEM;
	return add_mapping(d, BUS_PIO, RTC_BASE, RTC_LEN, "rtc-cmos",
			   "rtc-cmos", RTC_IRQ, &rtc_ops, d->rtc, err);
}

/*
 * IRQ0 goes where every other device line goes (the backend's set_irq:
 * the 8259 and, on emu, the IOAPIC's pin 2), or straight to the 8259
 * before a handler is set.
 */
static void pit_irq0(void *ctx, bool level)
{
	struct vm_devices *d = ctx;
	if (d->irq_fn)
		d->irq_fn(d->irq_ctx, PIT_IRQ, level);
	else
		pic_set_irq(d->pic, PIT_IRQ, level);
}

static void pit_rearmed(void *ctx)
{
	struct vm_devices *d = ctx;
	pic_poke(d->pic);
}

int vm_devices_add_pic_pit(struct vm_devices *d, struct cv_err *err)
{
	if (!d || d->pic)
		return cv_err_set(err, EINVAL,
				  "The PIC and PIT can be added once per device set.");
	d->pic = pic_create((struct pic_output){ 0 }, err);
	if (!d->pic)
		return err ? -err->code : -ENOMEM;
	struct pit_hooks h = { .irq = pit_irq0, .rearmed = pit_rearmed,
			       .ctx = d };
	d->pit = pit_create(h, err);
	if (!d->pit)
		return err ? -err->code : -ENOMEM;
	int rc = add_mapping(d, BUS_PIO, PIC_MASTER_BASE, PIC_PORT_LEN,
			     "pic-master", "pic8259", -1, &pic_master_ops,
			     d->pic, err);
	if (!rc)
		rc = add_mapping(d, BUS_PIO, PIC_SLAVE_BASE, PIC_PORT_LEN,
				 "pic-slave", "pic8259", 2, &pic_slave_ops,
				 d->pic, err);
	if (!rc)
		rc = add_mapping(d, BUS_PIO, PIC_ELCR_BASE, PIC_PORT_LEN,
				 "pic-elcr", "pic8259", -1, &pic_elcr_ops,
				 d->pic, err);
	if (!rc)
		rc = add_mapping(d, BUS_PIO, PIT_BASE, PIT_LEN, "pit",
				 "pit8254", PIT_IRQ, &pit_ops, d->pit, err);
	if (!rc)
		rc = add_mapping(d, BUS_PIO, PIT_PORT61, 1, "port61",
				 "pit8254", -1, &pit_port61_ops, d->pit, err);
	return rc;	/* on failure vm_devices_destroy undoes it all */
}

struct pic *vm_devices_pic(struct vm_devices *d)
{
	return d ? d->pic : NULL;
}

struct pit *vm_devices_pit(struct vm_devices *d)
{
	return d ? d->pit : NULL;
}

struct rtc *vm_devices_rtc(struct vm_devices *d)
{
	return d ? d->rtc : NULL;
}

static int add_cvports(struct vm_devices *d, struct cv_err *err)
{
	static const struct {
		uint64_t base, len;
		const char *name;
		const struct bus_device_ops *ops;
	} ports[N_CVPORT_MAPPINGS] = {
		{ CVPORT_DEBUG_EXIT, 1, "debug-exit", &cvports_debug_exit_ops },
		{ CVPORT_BOOT, 1, "boot-port", &cvports_boot_ops },
		{ CVPORT_SHUTDOWN, CVPORT_SHUTDOWN_LEN, "shutdown-request",
		  &cvports_shutdown_ops },
		{ CVPORT_I8042_DATA, 1, "i8042-data", &cvports_i8042_data_ops },
		{ CVPORT_I8042_CMD, 1, "i8042-cmd", &cvports_i8042_cmd_ops },
	};

	for (size_t i = 0; i < N_CVPORT_MAPPINGS; i++) {
		int rc = add_mapping(d, BUS_PIO, ports[i].base, ports[i].len,
				     ports[i].name, ports[i].name, -1,
				     ports[i].ops, d->ports, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void sci_line(void *ctx, bool level)
{
	struct vm_devices *d = ctx;

	if (d->irq_fn)
		d->irq_fn(d->irq_ctx, ACPI_SCI_IRQ, level);
}

static int add_acpi_pm(struct vm_devices *d, struct vm_event_sink sink,
		       struct cv_err *err)
{
	static const struct {
		uint64_t base, len;
		const char *name;
		const struct bus_device_ops *ops;
		int irq;
	} ports[N_ACPI_MAPPINGS] = {
		{ ACPI_PM1_EVT_PORT, ACPI_PM1_EVT_LEN, "acpi-pm1a-evt",
		  &acpi_pm_evt_ops, ACPI_SCI_IRQ },
		{ ACPI_PM1_CNT_PORT, ACPI_PM1_CNT_LEN, "acpi-pm1a-cnt",
		  &acpi_pm_cnt_ops, -1 },
		{ ACPI_RESET_PORT, 1, "acpi-reset", &acpi_pm_reset_ops, -1 },
	};
	struct acpi_pm_irq sci = { .set = sci_line, .ctx = d };
	d->pm = acpi_pm_create(sink, sci, err);
	if (!d->pm)
		return err ? -err->code : -ENOMEM;
	for (size_t i = 0; i < N_ACPI_MAPPINGS; i++) {
		int rc = add_mapping(d, BUS_PIO, ports[i].base, ports[i].len,
				     ports[i].name, "acpi-pm", ports[i].irq,
				     ports[i].ops, d->pm, err);
		if (rc)
			return rc;
	}
	return 0;
}

int vm_devices_create(struct vm_devices **out, struct bus *bus,
		      const struct vm_config *cfg, struct console *con,
		      struct vm_event_sink sink, struct cv_err *err)
{
	if (!out || !bus)
		return cv_err_set(err, EINVAL,
				  "The device set needs a bus to register on.");
	*out = NULL;

	struct vm_devices *d = calloc(1, sizeof(*d));
	if (!d)
		return cv_err_set(err, ENOMEM, "Out of memory for the device set.");
	d->bus = bus;
	d->con = con;

	int rc = -ENOMEM;
	d->ports = cvports_create(sink, err);
	if (d->ports)
		rc = add_cvports(d, err);
	if (rc == 0)
		rc = add_acpi_pm(d, sink, err);
	if (rc == 0)
		rc = add_config_uarts(d, cfg, err);
	if (rc == 0)
		rc = add_rtc(d, cfg, err);
	if (rc) {
		vm_devices_destroy(d);
		return rc;
	}
	if (con) {
		console_set_input(con, uart_input, d->uarts[0].uart);
		d->input_wired = true;
	}
	*out = d;
	return 0;
}

void vm_devices_destroy(struct vm_devices *d)
{
	if (!d)
		return;
	if (d->input_wired)
		console_set_input(d->con, NULL, NULL);
	for (size_t i = d->n_maps; i-- > 0;)
		bus_unregister(d->bus, d->maps[i].space, d->maps[i].base);
	for (size_t i = 0; i < d->n_uarts; i++)
		uart_destroy(d->uarts[i].uart);
	cvports_destroy(d->ports);
	acpi_pm_destroy(d->pm);
	rtc_destroy(d->rtc);
	pit_destroy(d->pit);
	pic_destroy(d->pic);
	free(d);
}

void vm_devices_reset(struct vm_devices *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_uarts; i++)
		uart_reset(d->uarts[i].uart);
	cvports_reset(d->ports);
	acpi_pm_reset(d->pm);
	rtc_reset(d->rtc);
	pit_reset(d->pit);
	pic_reset(d->pic);
}

void vm_devices_set_irq_handler(struct vm_devices *d, vm_devices_irq_fn fn,
				void *ctx)
{
	if (!d)
		return;
	d->irq_fn = fn;
	d->irq_ctx = fn ? ctx : NULL;
}

void vm_devices_set_rearm_handler(struct vm_devices *d,
				  void (*fn)(void *ctx), void *ctx)
{
	if (!d)
		return;
	d->rearm_fn = fn;
	d->rearm_ctx = fn ? ctx : NULL;
}

uint64_t vm_devices_poll(struct vm_devices *d, uint64_t now)
{
	return d ? rtc_poll(d->rtc, now) : 0;
}

uint64_t vm_devices_poll_cb(void *ctx, uint64_t now)
{
	return vm_devices_poll(ctx, now);
}

struct cvports *vm_devices_cvports(struct vm_devices *d)
{
	return d ? d->ports : NULL;
}

struct acpi_pm *vm_devices_acpi_pm(struct vm_devices *d)
{
	return d ? d->pm : NULL;
}

size_t vm_devices_uart_count(const struct vm_devices *d)
{
	return d ? d->n_uarts : 0;
}

struct uart *vm_devices_uart(struct vm_devices *d, size_t i)
{
	return d && i < d->n_uarts ? d->uarts[i].uart : NULL;
}

static void describe_one(const struct vm_devices *d, const struct mapping *m,
			 struct vm_device_info *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", m->name);
	o->kind = m->kind;
	o->space = m->space;
	o->base = m->base;
	o->len = m->len;
	o->irq = m->irq;

	struct bus_range *r = (struct bus_range *)bus_find(d->bus, m->space,
							   m->base);
	if (r) {
		o->reads = atomic_load_explicit(&r->reads,
						memory_order_relaxed);
		o->writes = atomic_load_explicit(&r->writes,
						 memory_order_relaxed);
	}
}

size_t vm_devices_describe(const struct vm_devices *d,
			   struct vm_device_info *out, size_t cap)
{
	if (!d)
		return 0;
	for (size_t i = 0; out && i < d->n_maps && i < cap; i++)
		describe_one(d, &d->maps[i], &out[i]);
	return d->n_maps;
}
