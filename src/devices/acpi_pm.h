/*
 * acpi_pm: the ACPI fixed hardware cvisor's FADT describes (boot/acpi.h),
 * one object per VM:
 *   0x600-0x603  PM1a_EVT_BLK: PM1_STS (16 bits, write 1 to clear) then
 *                PM1_EN (16 bits).  Only the power button is modelled:
 *                PWRBTN_STS (bit 8) is set by acpi_pm_press_power_button().
 *   0x604-0x605  PM1a_CNT_BLK: SCI_EN (bit 0, set at power-on: there is
 *                no SMI_CMD, the machine is always in ACPI mode), SLP_TYP
 *                (bits 10-12), SLP_EN (bit 13, write-only).  Writing
 *                SLP_EN with SLP_TYP = ACPI_SLP_TYP_S5 (the DSDT's \_S5)
 *                posts VM_EVENT_POWEROFF and returns BUS_EXIT; other
 *                sleep types are ignored (cvisor has no S1-S4).
 *   0xcf9        the FADT RESET_REG (and the PC's reset control port):
 *                a write with bit 2 (RST_CPU) set, e.g. RESET_VALUE 0x06,
 *                posts VM_EVENT_RESET and returns BUS_EXIT.
 * The SCI (ISA IRQ 9, level-triggered, active high) is asserted while
 * SCI_EN is set and some status bit has its enable bit set; the level
 * goes to the irq callback only when it changes.
 * Safe to access from several vCPU threads and the controller at once.
 */
#ifndef CV_ACPI_PM_H
#define CV_ACPI_PM_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"
#include "vmevent.h"

#define ACPI_PM1_EVT_PORT 0x600
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_CNT_PORT 0x604
#define ACPI_PM1_CNT_LEN 2
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06
#define ACPI_SCI_IRQ 9
#define ACPI_SLP_TYP_S5 5

#define ACPI_PM1_STS_PWRBTN 0x0100u
#define ACPI_PM1_EN_PWRBTN 0x0100u
#define ACPI_PM1_CNT_SCI_EN 0x0001u
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP_MASK 0x1c00u
#define ACPI_PM1_CNT_SLP_EN 0x2000u
#define ACPI_RESET_RST_CPU 0x04u

struct acpi_pm;

/* The SCI line: set(ctx, level) when the level changes.  set may be NULL. */
struct acpi_pm_irq {
	void (*set)(void *ctx, bool level);
	void *ctx;
};

struct acpi_pm *acpi_pm_create(struct vm_event_sink sink,
			       struct acpi_pm_irq sci, struct cv_err *err);
void acpi_pm_destroy(struct acpi_pm *pm);	/* NULL ok */

/* Power-on state: status and enables 0, SCI_EN set, SCI low.  Counters
 * are kept. */
void acpi_pm_reset(struct acpi_pm *pm);

/* Bus handlers; opaque = struct acpi_pm *. */
extern const struct bus_device_ops acpi_pm_evt_ops;
extern const struct bus_device_ops acpi_pm_cnt_ops;
extern const struct bus_device_ops acpi_pm_reset_ops;

/*
 * Press the fixed-feature power button: PWRBTN_STS is set and the SCI
 * raised when the guest enabled it.  Returns true when PWRBTN_EN and
 * SCI_EN were set (the guest listens), false otherwise (the status bit is
 * still set, for a guest that polls it later).
 */
bool acpi_pm_press_power_button(struct acpi_pm *pm);

struct acpi_pm_info {
	uint16_t sts, en, cnt;		/* PM1 registers as the guest sees them */
	bool sci;			/* current SCI level */
	uint64_t button_presses;	/* since creation */
	uint64_t sleeps, resets;	/* S5 entries, reset-register resets */
};
void acpi_pm_info(struct acpi_pm *pm, struct acpi_pm_info *out);

#endif
