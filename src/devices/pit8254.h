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
 * Each instance locks itself.  The IRQ hook runs with the PIT locked.
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
 * Fire what is due at time now (IRQ0 edges: at most one per call however
 * many periods passed, as a real PIC would merge them) and return the
 * time of channel 0's next IRQ0 edge, or 0 when none is coming.
 */
uint64_t pit_poll(struct pit *p, uint64_t now);

/* Bus handlers; opaque = struct pit *.  pit_ops at 0x40, pit_port61_ops at
 * 0x61. */
extern const struct bus_device_ops pit_ops;
extern const struct bus_device_ops pit_port61_ops;

#endif
