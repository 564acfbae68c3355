/*
 * pit8254: the PC's 8254 programmable interval timer (ports 0x40-0x43)
 * and the port 0x61 bits that belong to it (channel 2 gate, speaker
 * enable, channel 2 output, refresh toggle).  Counters are computed from
 * a monotonic clock (1193182 Hz), never ticked by a thread: a reader gets
 * the value for "now", and the owner calls pit_poll() to fire channel 0's
 * IRQ0 edges that are due and learn when the next one is.
 *
 * Modes: 0 (interrupt on terminal count), 1 and 5 (retriggered by the
 * gate, only meaningful on channel 2), 2 (rate generator), 3 (square
 * wave), 4 (software strobe).  Access modes lobyte, hibyte, lo/hi; the
 * counter latch command and the read-back command (count and status).
 * BCD counting is accepted but counted in binary.
 *
 * Reinjection (pit_set_reinject, off after create; the emu backend turns
 * it on), as KVM's in-kernel PIT does by default: in the periodic modes
 * (2, 3), periods that end while IRQ0's last edge is still unacknowledged
 * are owed (up to PIT_REINJECT_MAX) instead of merged, and each
 * acknowledgement (pit_ack: the EOI of IRQ0 at the 8259, auto-EOI, or the
 * LAPIC's EOI of IOAPIC pin 2's vector) lets the next poll send one.  A
 * guest that keeps interrupts off for a while so still gets every tick.
 * Unmasking IRQ0 (pit_irq_unmasked) forgets what was owed, as KVM's mask
 * notifier does: those ticks had nowhere to go.  Reprogramming channel 0
 * and a reset forget it too.
 *
 * Each instance locks itself.  The IRQ hook runs with the PIT locked.
 * pit_ack and pit_irq_unmasked take no lock (the interrupt controllers
 * call them with theirs held).
 */
#ifndef CV_PIT8254_H
#define CV_PIT8254_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"

#define PIT_BASE 0x40
#define PIT_LEN 4
#define PIT_PORT61 0x61
#define PIT_FREQ_HZ 1193182ull
#define PIT_IRQ 0
#define PIT_REINJECT_MAX 128u	/* owed IRQ0 edges: 1.28 s at 100 Hz */

struct pit_hooks {
	/* channel 0's output line (IRQ0) */
	void (*irq)(void *ctx, bool level);
	/* channel 0 was reprogrammed: the next deadline may be earlier */
	void (*rearmed)(void *ctx);
	/* the clock (CLOCK_MONOTONIC ns when NULL); tests pass their own */
	uint64_t (*now)(void *ctx);
	void *ctx;
};

struct pit;

struct pit *pit_create(struct pit_hooks hooks, struct cv_err *err);
void pit_destroy(struct pit *p);	/* NULL ok */
void pit_reset(struct pit *p);

/*
 * Fire what is due at time now and return the time of channel 0's next
 * IRQ0 edge (0 when none is coming).  At most one edge per call however
 * many periods passed: merged as a real PIC would, or with reinjection
 * on, sent only once the previous one was acknowledged and the rest owed.
 */
uint64_t pit_poll(struct pit *p, uint64_t now);

/* Reinjection on or off (off after create); either way nothing is owed. */
void pit_set_reinject(struct pit *p, bool on);
/*
 * IRQ0's last edge was acknowledged.  True when edges are owed: the
 * caller makes the owner poll again soon (the ack alone does not).  Any
 * thread, any lock held; NULL ok.
 */
bool pit_ack(struct pit *p);
/* IRQ0 was unmasked (8259 IMR bit 0, IOAPIC pin 2): forget what is owed. */
void pit_irq_unmasked(struct pit *p);

/* Bus handlers; opaque = struct pit *.  pit_ops at 0x40, pit_port61_ops at
 * 0x61. */
extern const struct bus_device_ops pit_ops;
extern const struct bus_device_ops pit_port61_ops;

#endif
