/*
 * ioapic: the 82093AA-style I/O APIC at 0xFEC00000 (IOREGSEL at +0x00,
 * IOWIN at +0x10), the model the emu backend gives an irqchip VM (kvm has
 * its own in the kernel).  24 pins, version 0x11, ID and arbitration
 * registers, redirection entries with vector, delivery mode, logical or
 * physical destination, trigger mode, mask, and the read-only delivery
 * status and remote IRR bits.
 *
 * Input pins are GSIs 0-23 driven by ioapic_set_irq() with the asserted
 * level (the polarity bit is stored, not applied: callers pass "asserted",
 * as KVM's in-kernel IOAPIC takes them).  Edge pins send one message per
 * rising edge while unmasked; level pins send one while asserted and
 * unmasked with remote IRR clear, set remote IRR, and send again after
 * the LAPIC's EOI broadcast (ioapic_eoi) if still asserted.  Unmasking an
 * asserted level pin sends.  Messages go to hooks.deliver, which the
 * owner routes to the LAPICs (lapic_accepts/lapic_deliver).  Like KVM's
 * IOAPIC, it also reports the EOI of an edge pin's vector (hooks.acked:
 * the PIT's reinjection counts them) and a pin's unmasking
 * (hooks.unmasked); ioapic_eoi takes every EOI for that.
 *
 * Pure: no backend calls.  Each instance locks itself; the hook runs
 * without the lock held.
 */
#ifndef CV_IOAPIC_H
#define CV_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "lapic.h"

#define IOAPIC_BASE 0xfec00000ull
#define IOAPIC_SIZE 0x20ull
#define IOAPIC_PINS 24
#define IOAPIC_VERSION 0x00170011u	/* max redirection entry 23, v0x11 */

#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDIR 0x10		/* + 2 * pin (low), + 1 (high) */

#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14)
#define IOAPIC_RTE_DELIVS (1ull << 12)

struct ioapic_hooks {
	void (*deliver)(void *ctx, const struct lapic_ipi *m);
	/* a LAPIC's EOI of the vector of edge pin `pin` (NULL: not told) */
	void (*acked)(void *ctx, unsigned pin);
	/* the guest cleared pin's mask bit (NULL: not told) */
	void (*unmasked)(void *ctx, unsigned pin);
	void *ctx;
};

struct ioapic;

struct ioapic *ioapic_create(struct ioapic_hooks hooks, struct cv_err *err);
void ioapic_destroy(struct ioapic *io);	/* NULL ok */
void ioapic_reset(struct ioapic *io);	/* every pin masked, edge */

/* Guest access at offset off (of IOAPIC_BASE), size 1/2/4/8. */
uint64_t ioapic_read(struct ioapic *io, uint64_t off, unsigned size);
void ioapic_write(struct ioapic *io, uint64_t off, unsigned size,
		  uint64_t val);

/* Drive pin (GSI) to level (asserted = true).  Pins >= 24 are ignored. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
/*
 * A LAPIC's EOI of vector; level: the vector was level-triggered (its TMR
 * bit: the EOI broadcast that clears remote IRR).  Unmasked edge pins
 * with that vector get hooks.acked.
 */
void ioapic_eoi(struct ioapic *io, uint8_t vector, bool level);

#endif
