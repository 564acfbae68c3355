/*
 * acpi_pm: PM1a event/control blocks and the reset register (see
 * acpi_pm.h).  All state sits under one mutex; the SCI callback runs with
 * it held so level changes reach the interrupt controller in order (the
 * callback must not call back into this device).
 */
#include "acpi_pm.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct acpi_pm {
	pthread_mutex_t lock;
	struct vm_event_sink sink;
	struct acpi_pm_irq sci;
	uint16_t sts, en, cnt;
	uint8_t reset_reg;
	bool sci_level;
	uint64_t presses, sleeps, resets;
};

struct acpi_pm *acpi_pm_create(struct vm_event_sink sink,
			       struct acpi_pm_irq sci, struct cv_err *err)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm) {
		cv_err_set(err, ENOMEM, "Out of memory for the ACPI PM device.");
		return NULL;
	}
	int e = pthread_mutex_init(&pm->lock, NULL);
	if (e) {
		free(pm);
		cv_err_set(err, e, "Cannot create the ACPI PM device's lock.");
		return NULL;
	}
	pm->sink = sink;
	pm->sci = sci;
	pm->cnt = ACPI_PM1_CNT_SCI_EN;
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* Recompute the SCI level; tell the line when it changed. */
static void update_sci_locked(struct acpi_pm *pm)
{
	bool level = (pm->cnt & ACPI_PM1_CNT_SCI_EN) && (pm->sts & pm->en);
	if (level == pm->sci_level)
		return;
	pm->sci_level = level;
	if (pm->sci.set)
		pm->sci.set(pm->sci.ctx, level);
}

void acpi_pm_reset(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->sts = 0;
	pm->en = 0;
	pm->cnt = ACPI_PM1_CNT_SCI_EN;
	pm->reset_reg = 0;
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void post(struct acpi_pm *pm, enum vm_event_kind kind)
{
	if (pm->sink.post)
		pm->sink.post(pm->sink.ctx, kind, 0);
}

/*
 * Registers are little-endian byte lanes: an access of `size` bytes at
 * `offset` of a block whose registers are 16 bits wide.  These helpers
 * read or merge the 16-bit register at reg_off.
 */
static uint64_t lane_read(uint16_t reg, unsigned reg_off, uint64_t offset,
			  unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++) {
		uint64_t b = offset + i;
		if (b >= reg_off && b < reg_off + 2u)
			v |= (uint64_t)((reg >> (8 * (b - reg_off))) & 0xff)
			     << (8 * i);
	}
	return v;
}

/* The bits of the 16-bit register at reg_off that this write covers
 * (mask) and their new values (*bits). */
static uint16_t lane_write(unsigned reg_off, uint64_t offset, unsigned size,
			   uint64_t value, uint16_t *bits)
{
	uint16_t mask = 0;
	*bits = 0;
	for (unsigned i = 0; i < size; i++) {
		uint64_t b = offset + i;
		if (b >= reg_off && b < reg_off + 2u) {
			unsigned sh = 8 * (unsigned)(b - reg_off);
			mask |= (uint16_t)(0xffu << sh);
			*bits |= (uint16_t)(((value >> (8 * i)) & 0xff) << sh);
		}
	}
	return mask;
}

/* ---- PM1a_EVT: status (offset 0), enable (offset 2) ---------------------- */

static uint64_t evt_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	pthread_mutex_lock(&pm->lock);
	uint64_t v = lane_read(pm->sts, 0, offset, size) |
		     lane_read(pm->en, 2, offset, size);
	pthread_mutex_unlock(&pm->lock);
	return v;
}

static enum bus_action evt_write(void *opaque, uint64_t offset, unsigned size,
				 uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint16_t bits;
	pthread_mutex_lock(&pm->lock);
	uint16_t mask = lane_write(0, offset, size, value, &bits);
	pm->sts &= (uint16_t)~(bits & mask);		/* write 1 to clear */
	mask = lane_write(2, offset, size, value, &bits);
	pm->en = (uint16_t)((pm->en & ~mask) | (bits & mask));
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
	return BUS_CONTINUE;
}

const struct bus_device_ops acpi_pm_evt_ops = {
	.read = evt_read,
	.write = evt_write,
};

/* ---- PM1a_CNT --------------------------------------------------------------- */

static uint64_t cnt_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	pthread_mutex_lock(&pm->lock);
	uint64_t v = lane_read(pm->cnt, 0, offset, size);
	pthread_mutex_unlock(&pm->lock);
	return v;
}

static enum bus_action cnt_write(void *opaque, uint64_t offset, unsigned size,
				 uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint16_t bits;
	bool off = false;
	pthread_mutex_lock(&pm->lock);
	uint16_t mask = lane_write(0, offset, size, value, &bits);
	uint16_t v = (uint16_t)((pm->cnt & ~mask) | (bits & mask));
	if ((mask & ACPI_PM1_CNT_SLP_EN) && (v & ACPI_PM1_CNT_SLP_EN)) {
		unsigned typ = (v & ACPI_PM1_CNT_SLP_TYP_MASK) >>
			       ACPI_PM1_CNT_SLP_TYP_SHIFT;
		if (typ == ACPI_SLP_TYP_S5) {
			off = true;
			pm->sleeps++;
		}
	}
	pm->cnt = (uint16_t)(v & ~ACPI_PM1_CNT_SLP_EN);	/* SLP_EN reads 0 */
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
	if (!off)
		return BUS_CONTINUE;
	post(pm, VM_EVENT_POWEROFF);
	return BUS_EXIT;
}

const struct bus_device_ops acpi_pm_cnt_ops = {
	.read = cnt_read,
	.write = cnt_write,
};

/* ---- reset register (0xcf9) --------------------------------------------------- */

static uint64_t reset_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	(void)size;
	pthread_mutex_lock(&pm->lock);
	uint64_t v = offset == 0 ? pm->reset_reg : 0;
	pthread_mutex_unlock(&pm->lock);
	return v;
}

static enum bus_action reset_write(void *opaque, uint64_t offset,
				   unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	(void)size;
	if (offset != 0)
		return BUS_CONTINUE;
	bool reset = value & ACPI_RESET_RST_CPU;
	pthread_mutex_lock(&pm->lock);
	/* RST_CPU self-clears; the other bits (SYS_RST ...) read back */
	pm->reset_reg = (uint8_t)(value & ~ACPI_RESET_RST_CPU);
	if (reset)
		pm->resets++;
	pthread_mutex_unlock(&pm->lock);
	if (!reset)
		return BUS_CONTINUE;
	post(pm, VM_EVENT_RESET);
	return BUS_EXIT;
}

const struct bus_device_ops acpi_pm_reset_ops = {
	.read = reset_read,
	.write = reset_write,
};

/* ---- controller side ------------------------------------------------------------ */

bool acpi_pm_press_power_button(struct acpi_pm *pm)
{
	if (!pm)
		return false;
	pthread_mutex_lock(&pm->lock);
	pm->presses++;
	pm->sts |= ACPI_PM1_STS_PWRBTN;
	bool listens = (pm->en & ACPI_PM1_EN_PWRBTN) &&
		       (pm->cnt & ACPI_PM1_CNT_SCI_EN);
	update_sci_locked(pm);
	pthread_mutex_unlock(&pm->lock);
	return listens;
}

void acpi_pm_info(struct acpi_pm *pm, struct acpi_pm_info *out)
{
	*out = (struct acpi_pm_info){ 0 };
	if (!pm)
		return;
	pthread_mutex_lock(&pm->lock);
	out->sts = pm->sts;
	out->en = pm->en;
	out->cnt = pm->cnt;
	out->sci = pm->sci_level;
	out->button_presses = pm->presses;
	out->sleeps = pm->sleeps;
	out->resets = pm->resets;
	pthread_mutex_unlock(&pm->lock);
}
