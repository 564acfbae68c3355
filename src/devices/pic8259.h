/*
 * pic8259: the PC's two cascaded 8259A interrupt controllers (master at
 * 0x20/0x21, slave at 0xa0/0xa1 on the master's IRQ2) and the ELCR pair
 * at 0x4d0/0x4d1 that makes lines level-triggered.  Owns IRR/ISR/IMR,
 * the ICW1-4 init sequence, OCW2 (specific and non-specific EOI,
 * rotation), OCW3 (read IRR/ISR, poll, special mask), auto-EOI and
 * special fully nested mode.  Backend-neutral: the emu backend asks it for
 * the next vector (pic_intack, the CPU's INTA cycle); on kvm the kernel
 * has its own PIC and this model is not created.
 *
 * Each instance locks itself; any thread may raise lines.  The output hook
 * runs with the PIC locked (it must not call back into the PIC).
 */
#ifndef CV_PIC8259_H
#define CV_PIC8259_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"

#define PIC_MASTER_BASE 0x20
#define PIC_SLAVE_BASE 0xa0
#define PIC_ELCR_BASE 0x4d0
#define PIC_PORT_LEN 2
#define PIC_CASCADE_IRQ 2
#define PIC_NO_VECTOR (-1)

/*
 * The CPU side.  raised(ctx): the master's INT output rose (or a re-poll
 * is wanted).  acked(ctx, irq): an edge-triggered irq's interrupt ended -
 * its EOI (specific or not), auto-EOI at the acknowledge, or an ICW1 that
 * dropped it from IRR/ISR - so a source that counts acknowledgements (the
 * PIT's reinjection) may send the next.  unmasked(ctx, irq): OCW1 cleared
 * irq's mask bit.  Each may be NULL; all run with the PIC locked.
 */
struct pic_output {
	void (*raised)(void *ctx);
	void (*acked)(void *ctx, unsigned irq);
	void (*unmasked)(void *ctx, unsigned irq);
	void *ctx;
};

struct pic;

struct pic *pic_create(struct pic_output out, struct cv_err *err);
void pic_destroy(struct pic *p);	/* NULL ok */
void pic_reset(struct pic *p);		/* power-on state; ELCR cleared */

/* Replace the output hook (the CPU side changes on a VM reset). */
void pic_set_output(struct pic *p, struct pic_output out);
/* Call the output hook now (a timer was reprogrammed: the CPU side
 * re-checks its deadline). */
void pic_poke(struct pic *p);

/* Drive ISA line irq (0-15) to level.  Edge lines latch a rise. */
void pic_set_irq(struct pic *p, unsigned irq, bool level);

/* Is the master's INT output high (an unmasked request would win)? */
bool pic_pending(struct pic *p);

/*
 * The CPU's interrupt acknowledge: the vector to deliver, with ISR/IRR
 * updated (and auto-EOI applied).  A request that went away gives the
 * spurious vector (IRQ7 / IRQ15 of the chip).  PIC_NO_VECTOR when the
 * output is low.
 */
int pic_intack(struct pic *p);

/* Bus handlers; opaque = struct pic *.  Offsets within each 2-port range. */
extern const struct bus_device_ops pic_master_ops;
extern const struct bus_device_ops pic_slave_ops;
extern const struct bus_device_ops pic_elcr_ops;

#endif
