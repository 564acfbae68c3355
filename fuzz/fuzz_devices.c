/*
 * fuzz_devices: libFuzzer target for device emulation.  Each input builds
 * a fresh device set (three UARTs - two on ports, one MMIO - plus
 * cvisor's ports, the i8042, the RTC/CMOS, the 8259/8254 pair with the
 * UART lines wired to the PIC, and the ACPI PM blocks) on a fresh bus and
 * replays the input as a stream of guest accesses mixed with host-side
 * actions (RX input, flush, reset, shutdown requests and the power
 * button, describe, INTA, PIT and RTC timer polls at arbitrary times).
 * Beside the bus: two LAPICs (BSP, AP) and an IOAPIC
 * wired as the emu backend wires them (IPIs and IOAPIC messages routed to
 * the accepting LAPICs, level EOIs back to the IOAPIC), on a clock the
 * input advances, fed MMIO accesses and the CPU side (INTA, timer polls,
 * SIPI take, IOAPIC pins).  Invariants are checked with
 * __builtin_trap so libFuzzer reports them as crashes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "ioapic.h"
#include "lapic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct stream {
	const uint8_t *p;
	size_t n;
};

static uint8_t take8(struct stream *s)
{
	if (!s->n)
		return 0;
	s->n--;
	return *s->p++;
}

static uint64_t take(struct stream *s, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)take8(s) << (8 * i);
	return v;
}

/* Addresses where something lives, so most accesses hit a device. */
static const struct { enum bus_space space; uint64_t base; } hot[] = {
	{ BUS_PIO, 0x3f8 }, { BUS_PIO, 0x2f8 }, { BUS_MMIO, 0x9000000 },
	{ BUS_PIO, 0xf4 }, { BUS_PIO, 0x80 }, { BUS_PIO, 0x5f0 },
	{ BUS_PIO, 0x60 }, { BUS_PIO, 0x64 }, { BUS_PIO, 0x70 },
	{ BUS_PIO, 0x20 }, { BUS_PIO, 0xa0 }, { BUS_PIO, 0x4d0 },
	{ BUS_PIO, 0x40 }, { BUS_PIO, 0x61 },
	{ BUS_PIO, ACPI_PM1_EVT_PORT }, { BUS_PIO, ACPI_PM1_CNT_PORT },
	{ BUS_PIO, ACPI_RESET_PORT },
};
#define N_HOT (sizeof(hot) / sizeof(hot[0]))

static void count_event(void *ctx, enum vm_event_kind kind, int arg)
{
	(void)kind;
	if (arg < 0 || arg > 255)
		__builtin_trap();
	(*(unsigned *)ctx)++;
}

static void listener(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(size_t *)ctx += len;
}

static void check_width(uint64_t v, unsigned size)
{
	if (size < 8 && (v >> (8 * size)) != 0)
		__builtin_trap();
}

static void guest_access(struct bus *bus, struct stream *s, uint8_t op)
{
	static const unsigned sizes[8] = { 1, 1, 1, 2, 4, 8, 3, 1 };
	unsigned size = sizes[(op >> 2) & 7];
	uint8_t sel = take8(s);
	enum bus_space space;
	uint64_t addr;

	if (sel & 0x80) {	/* anywhere */
		space = (sel & 0x40) ? BUS_MMIO : BUS_PIO;
		addr = space == BUS_PIO ? take(s, 2) : take(s, 8);
	} else {		/* near a device, possibly straddling it */
		space = hot[sel % N_HOT].space;
		addr = hot[sel % N_HOT].base + (take8(s) & 0x0f);
	}
	if (op & 0x20) {
		uint64_t v = bus_read(bus, space, addr, size);
		if (size == 1 || size == 2 || size == 4 || size == 8)
			check_width(v, size);
	} else {
		bus_write(bus, space, addr, size, take(s, size > 8 ? 8 : size));
	}
}

static void host_action(struct vm_devices *d, struct console *con,
			struct stream *s, uint8_t op)
{
	uint8_t buf[32];
	struct vm_device_info info[16];

	switch ((op >> 2) & 7) {
	case 0: {
		size_t n = take8(s) % sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = take8(s);
		if (uart_receive(vm_devices_uart(d, take8(s) % 3), buf, n) > n)
			__builtin_trap();
		break;
	}
	case 1: console_flush(con); break;
	case 2: vm_devices_reset(d); break;
	case 3:
		cvports_request_shutdown(vm_devices_cvports(d));
		acpi_pm_press_power_button(vm_devices_acpi_pm(d));
		break;
	case 4:
		if (vm_devices_describe(d, info, 16) != 17)
			__builtin_trap();
		break;
	case 5: console_input(con, "k", 1); break;
	case 6: {	/* the CPU side: INTA and timer polls */
		int v = pic_intack(vm_devices_pic(d));
		if (v != PIC_NO_VECTOR && (v < 0 || v > 255))
			__builtin_trap();
		(void)pit_poll(vm_devices_pit(d), take(s, 8));
		/* the RTC's interrupts: a deadline is always in the future */
		uint64_t t = take(s, 8) >> 2;
		uint64_t next = vm_devices_poll(d, t);
		if (next && next <= t)
			__builtin_trap();
		break;
	}
	default: {
		uint8_t snap[64];
		if (console_snapshot(con, snap, sizeof(snap)) > sizeof(snap))
			__builtin_trap();
	}
	}
}

/* ---- LAPICs + IOAPIC, wired like the emu backend ---- */

struct apics {
	struct lapic *l[2];
	struct ioapic *io;
	uint64_t now;
	unsigned depth;		/* EOI -> IOAPIC -> deliver recursion */
};

static uint64_t apic_now(void *ctx) { return ((struct apics *)ctx)->now; }
static void apic_raised(void *ctx) { (void)ctx; }

static void apic_route(struct apics *a, const struct lapic_ipi *m)
{
	for (int i = 0; i < 2; i++) {
		if (!lapic_accepts(a->l[i], m))
			continue;
		lapic_deliver(a->l[i], m);
		if (m->mode == LAPIC_DM_LOWEST)
			break;
	}
}

static void ioapic_out(void *ctx, const struct lapic_ipi *m)
{
	apic_route(ctx, m);
}

static void lapic_eoi(void *ctx, uint8_t vector, bool level)
{
	struct apics *a = ctx;
	if (++a->depth > 64)	/* an EOI re-sends at most once per pin */
		__builtin_trap();
	ioapic_eoi(a->io, vector, level);
	a->depth--;
}

/* The IOAPIC's reports for the PIT's reinjection: pins in range only. */
static void ioapic_pin_report(void *ctx, unsigned pin)
{
	(void)ctx;
	if (pin >= 24)
		__builtin_trap();
}

static void check_vector(int v)
{
	if (v < -1 || v > 255)
		__builtin_trap();
}

static void apic_op(struct apics *a, struct stream *s, uint8_t op)
{
	static const unsigned sizes[8] = { 4, 4, 4, 1, 2, 8, 3, 4 };
	unsigned size = sizes[(op >> 4) & 7];
	unsigned which = (op >> 2) & 3;
	uint64_t off = take(s, 2) & 0x1fff;
	bool write = take8(s) & 1;
	a->now += take8(s) * 1000ull;
	if (which < 2) {
		struct lapic *l = a->l[which];
		if (write) {
			struct lapic_ipi m;
			if (lapic_write(l, off & ~3ull, size, take(s, 4), &m))
				apic_route(a, &m);
		} else if (size == 1 || size == 2 || size == 4 || size == 8) {
			check_width(lapic_read(l, off, size), size);
		}
	} else if (which == 2) {
		if (write)
			ioapic_write(a->io, off & 0x1f, size, take(s, 4));
		else if (size == 1 || size == 2 || size == 4 || size == 8)
			check_width(ioapic_read(a->io, off & 0x1f, size), size);
	} else {
		uint8_t x = take8(s);
		struct lapic *l = a->l[x & 1];
		switch ((x >> 1) & 7) {
		case 0: ioapic_set_irq(a->io, take8(s) % 26, take8(s) & 1); break;
		case 1: check_vector(lapic_intack(l)); break;
		case 2: check_vector(lapic_pending(l)); break;
		case 3:
			if (lapic_poll(l, a->now) && lapic_poll(l, a->now) <= a->now)
				__builtin_trap();	/* due expiries fired */
			break;
		case 4: check_vector(lapic_take_sipi(l)); break;
		case 5: (void)lapic_accepts_pic(l); (void)lapic_wait_sipi(l); break;
		case 6: lapic_reset(l); break;
		default: ioapic_reset(a->io); break;
		}
	}
}

static void add_uart(struct vm_config *cfg, const char *name, uint64_t base,
		     uint64_t len, uint32_t irq)
{
	struct vm_emu_device *e = &cfg->emu_devices[cfg->n_emu_devices++];
	strcpy(e->name, name);
	e->base = base;
	e->len = len;
	e->irq = irq;
	e->type = VM_DEV_CONSOLE;
}

static void line_to_pic(void *ctx, unsigned irq, bool level)
{
	pic_set_irq(vm_devices_pic(ctx), irq, level);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config *cfg = calloc(1, sizeof(*cfg));
	struct bus *bus = malloc(sizeof(*bus));
	struct console *con = console_create(NULL, 0, NULL);
	struct vm_devices *d = NULL;
	unsigned events = 0;
	size_t heard = 0;
	struct vm_event_sink sink = { .post = count_event, .ctx = &events };

	if (!cfg || !bus || !con)
		__builtin_trap();
	add_uart(cfg, "com1", 0x3f8, 8, 4);
	add_uart(cfg, "com2", 0x2f8, 8, 3);
	add_uart(cfg, "mmio", 0x9000000, 0x1000, 33);
	bus_init(bus);
	if (vm_devices_create(&d, bus, cfg, con, sink, NULL) ||
	    vm_devices_add_pic_pit(d, NULL))
		__builtin_trap();
	vm_devices_set_irq_handler(d, line_to_pic, d);
	free(cfg);
	console_add_listener(con, listener, &heard);

	struct apics *ap = calloc(1, sizeof(*ap));
	if (!ap)
		__builtin_trap();
	struct lapic_hooks lh = { apic_raised, lapic_eoi, apic_now, ap };
	ap->l[0] = lapic_create(0, true, lh, NULL);
	ap->l[1] = lapic_create(1, false, lh, NULL);
	ap->io = ioapic_create((struct ioapic_hooks){
				       .deliver = ioapic_out,
				       .acked = ioapic_pin_report,
				       .unmasked = ioapic_pin_report,
				       .ctx = ap }, NULL);
	if (!ap->l[0] || !ap->l[1] || !ap->io)
		__builtin_trap();

	struct stream s = { data, size };
	while (s.n) {
		uint8_t op = take8(&s);
		if ((op & 3) == 3)
			host_action(d, con, &s, op);
		else if ((op & 0x83) == 0x82)
			apic_op(ap, &s, op);
		else
			guest_access(bus, &s, op);
	}
	lapic_destroy(ap->l[0]);
	lapic_destroy(ap->l[1]);
	ioapic_destroy(ap->io);
	free(ap);

	vm_devices_destroy(d);
	if (bus->pio.n || bus->mmio.n)
		__builtin_trap();
	console_destroy(con);
	free(bus);
	return 0;
}
