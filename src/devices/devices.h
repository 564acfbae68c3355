/*
 * devices: builds a VM's standard device set on its bus and owns it.
 *
 * One call registers the UART(s) - COM1 at 0x3f8/IRQ 4, or one 16550 per
 * console-type (0x2) entry of [devices] emu_devices - plus cvisor's own
 * ports, the i8042 stub (cvports.h), the RTC/CMOS (rtc_cmos.h) and the
 * ACPI fixed hardware (acpi_pm.h: PM1a event/control blocks, reset
 * register, SCI on IRQ 9).  For backends without an in-kernel irqchip,
 * vm_devices_add_pic_pit() adds the 8259 pair and the 8254 (pic8259.h,
 * pit8254.h), PIT channel 0 wired to IRQ0.  UART, SCI and RTC (IRQ 8)
 * lines go wherever vm_devices_set_irq_handler says.
 *
 * Device clocks (today the RTC's interrupts; the PIT has its own poll)
 * never tick by themselves: somebody calls vm_devices_poll() at the
 * deadlines it returns and again whenever the rearm hook fires.  On emu
 * that is the vCPU loop (backend_vm_params.dev_poll; rearm = pic_poke,
 * which stops the run), on kvm the VM's device timer thread (vm.c,
 * vm_devices_set_rearm_handler wakes it).  Other emu_devices types are
 * skipped here (the config loader warns about them).  The set remembers
 * what it registered, so destroy (and a failed create) leave the bus as
 * they found it, and `vm show` can list every mapping with its counters.
 *
 * create/destroy/reset/set_irq_handler run while no vCPU is inside the
 * devices (reset: the VM is stopped); the accessors may run any time.
 */
#ifndef CV_DEVICES_H
#define CV_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi_pm.h"
#include "bus.h"
#include "console.h"
#include "cvports.h"
#include "pic8259.h"
#include "pit8254.h"
#include "rtc_cmos.h"
#include "err.h"
#include "uart16550.h"
#include "vmconfig.h"
#include "vmevent.h"

#define VM_DEVICES_COM1_BASE 0x3f8
#define VM_DEVICES_COM1_LEN 8
#define VM_DEVICES_COM1_IRQ 4
#define VM_DEVICE_NAME_MAX 32

struct vm_devices;

/*
 * cfg may be NULL (= no emu_devices: COM1 only).  con may be NULL (UART
 * output discarded).  The first UART also becomes con's input handler.
 * On failure nothing stays registered on bus and err names the device.
 */
int vm_devices_create(struct vm_devices **out, struct bus *bus,
		      const struct vm_config *cfg, struct console *con,
		      struct vm_event_sink sink, struct cv_err *err);
/* Unregisters everything it registered, then frees.  NULL ok. */
void vm_devices_destroy(struct vm_devices *d);

/* Power-on device state (UART registers, shutdown flag, i8042, boot
 * stamps).  Access counters are cumulative and kept. */
void vm_devices_reset(struct vm_devices *d);

/*
 * Where the UARTs' and the ACPI SCI's interrupt lines go (e.g. the backend's set_irq): fn is
 * called with the entry's IRQ number and the new level.  NULL = not wired
 * (the UARTs still track their line).  Set before vCPUs run.
 */
typedef void (*vm_devices_irq_fn)(void *ctx, unsigned irq, bool level);
void vm_devices_set_irq_handler(struct vm_devices *d, vm_devices_irq_fn fn,
				void *ctx);

/*
 * Fire the device events due at now (CLOCK_MONOTONIC ns) and return the
 * earliest next deadline, 0 = none.  Any thread; _cb takes the set as
 * void * (for backend_vm_params.dev_poll).
 */
uint64_t vm_devices_poll(struct vm_devices *d, uint64_t now);
uint64_t vm_devices_poll_cb(void *ctx, uint64_t now);
/*
 * fn(ctx) runs (with a device locked: it must only wake somebody) when a
 * deadline may have become earlier than the last poll said.  Set before
 * vCPUs run; NULL = none.
 */
void vm_devices_set_rearm_handler(struct vm_devices *d,
				  void (*fn)(void *ctx), void *ctx);

/*
 * Add the userspace PIC pair and PIT (emu backend).  Before vCPUs run; at
 * most once.  The PIT's IRQ0 goes to the PIC.
 */
int vm_devices_add_pic_pit(struct vm_devices *d, struct cv_err *err);
struct pic *vm_devices_pic(struct vm_devices *d);	/* or NULL */
struct pit *vm_devices_pit(struct vm_devices *d);	/* or NULL */
struct rtc *vm_devices_rtc(struct vm_devices *d);

struct cvports *vm_devices_cvports(struct vm_devices *d);
struct acpi_pm *vm_devices_acpi_pm(struct vm_devices *d);
size_t vm_devices_uart_count(const struct vm_devices *d);
struct uart *vm_devices_uart(struct vm_devices *d, size_t i);	/* or NULL */

/* One bus mapping, for `vm show --stats/--full`. */
struct vm_device_info {
	char name[VM_DEVICE_NAME_MAX];
	const char *kind;	/* "uart16550", "debug-exit", "boot-port", ... */
	enum bus_space space;
	uint64_t base, len;
	int irq;		/* -1: none */
	uint64_t reads, writes;	/* accesses dispatched to it */
};

/*
 * Fill up to cap entries (in registration order) and return how many
 * mappings there are in total (may exceed cap; out may be NULL with cap 0).
 */
size_t vm_devices_describe(const struct vm_devices *d,
			   struct vm_device_info *out, size_t cap);

#endif
