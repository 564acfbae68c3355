/*
 * lapic: one x86 local APIC (xAPIC, MMIO page at 0xFEE00000), the model
 * the emu backend gives every vCPU of an irqchip VM (kvm has its own in
 * the kernel).  Pure: no backend calls; the owner routes the MMIO page of
 * the current vCPU here, delivers what lapic_intack() hands out, routes
 * the IPIs lapic_write() reports to the target LAPICs, and starts an AP
 * whose lapic_take_sipi() says so.
 *
 * Modelled: ID, version (0x14, 6 LVT entries), TPR/APR/PPR, EOI (every
 * vector's through hooks.eoi, which says whether it was level-triggered:
 * the EOI broadcast; the IOAPIC's edge pins count the others), LDR/DFR,
 * SVR (software enable; disabling masks every LVT), ISR/TMR/IRR, ESR
 * (illegal vectors), ICR (fixed, lowest priority, INIT, start-up, with
 * the destination shorthands; delivery is instant so the busy bit always
 * reads 0), the LVT timer (one-shot and periodic with the divide
 * configuration; TSC-deadline mode is not offered: CPUID says so) whose
 * counts follow from a monotonic clock at LAPIC_BUS_HZ (no thread, like
 * pit8254.c), LVT LINT0 in ExtINT mode (virtual wire: the 8259's INTR
 * passes through, the reset state of the BSP as on KVM), LINT1, error,
 * thermal, performance and CMCI entries as storage.  Not modelled: NMI
 * and SMI delivery, x2APIC, the APIC base MSR (the page is always at
 * 0xFEE00000 and hardware-enabled).
 *
 * INIT/SIPI: lapic_deliver() of an INIT puts the LAPIC (and so its CPU)
 * in wait-for-SIPI; the next start-up IPI is latched and lapic_take_sipi()
 * returns its vector once; start-up IPIs to a running CPU are ignored,
 * as is an INIT level de-assert.
 *
 * Each instance locks itself; any thread may deliver.  Hooks run without
 * the lock held.
 */
#ifndef CV_LAPIC_H
#define CV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_SIZE 0x1000ull
#define LAPIC_BUS_HZ 1000000000ull	/* timer input clock (KVM's too) */
#define LAPIC_VERSION 0x00050014u

/* register offsets */
#define LAPIC_REG_ID 0x20
#define LAPIC_REG_VER 0x30
#define LAPIC_REG_TPR 0x80
#define LAPIC_REG_APR 0x90
#define LAPIC_REG_PPR 0xa0
#define LAPIC_REG_EOI 0xb0
#define LAPIC_REG_RRD 0xc0
#define LAPIC_REG_LDR 0xd0
#define LAPIC_REG_DFR 0xe0
#define LAPIC_REG_SVR 0xf0
#define LAPIC_REG_ISR 0x100
#define LAPIC_REG_TMR 0x180
#define LAPIC_REG_IRR 0x200
#define LAPIC_REG_ESR 0x280
#define LAPIC_REG_LVT_CMCI 0x2f0
#define LAPIC_REG_ICR_LO 0x300
#define LAPIC_REG_ICR_HI 0x310
#define LAPIC_REG_LVT_TIMER 0x320
#define LAPIC_REG_LVT_THERMAL 0x330
#define LAPIC_REG_LVT_PERF 0x340
#define LAPIC_REG_LVT_LINT0 0x350
#define LAPIC_REG_LVT_LINT1 0x360
#define LAPIC_REG_LVT_ERROR 0x370
#define LAPIC_REG_TIMER_INIT 0x380
#define LAPIC_REG_TIMER_CUR 0x390
#define LAPIC_REG_TIMER_DIV 0x3e0

/* ICR / LVT fields */
#define LAPIC_DM_FIXED 0u
#define LAPIC_DM_LOWEST 1u
#define LAPIC_DM_SMI 2u
#define LAPIC_DM_NMI 4u
#define LAPIC_DM_INIT 5u
#define LAPIC_DM_STARTUP 6u
#define LAPIC_DM_EXTINT 7u
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_SVR_ENABLE (1u << 8)

#define LAPIC_SH_NONE 0u
#define LAPIC_SH_SELF 1u
#define LAPIC_SH_ALL 2u
#define LAPIC_SH_OTHERS 3u

/* An interrupt message (from the ICR, or an IOAPIC redirection entry). */
struct lapic_ipi {
	uint8_t vector;
	uint8_t mode;		/* LAPIC_DM_* */
	bool logical;		/* destination mode */
	bool assert;		/* level: assert (INIT de-assert is ignored) */
	bool level_trig;	/* trigger mode */
	uint8_t shorthand;	/* LAPIC_SH_* */
	uint8_t dest;		/* APIC ID or logical destination */
	uint32_t src_id;	/* sender's APIC ID (shorthands) */
};

struct lapic_hooks {
	/* an interrupt, INIT or SIPI became pending (wake the vCPU) */
	void (*raised)(void *ctx);
	/* EOI of vector; level: its TMR bit was set (IOAPIC remote IRR) */
	void (*eoi)(void *ctx, uint8_t vector, bool level);
	/* the clock (CLOCK_MONOTONIC ns when NULL); tests pass their own */
	uint64_t (*now)(void *ctx);
	void *ctx;
};

struct lapic;

/* bsp: LINT0 starts in ExtINT mode (virtual wire) and INIT is ignored. */
struct lapic *lapic_create(uint32_t id, bool bsp, struct lapic_hooks hooks,
			   struct cv_err *err);
void lapic_destroy(struct lapic *a);	/* NULL ok */
void lapic_reset(struct lapic *a);	/* power-on state, ID kept */
uint32_t lapic_id(struct lapic *a);

/*
 * A guest access at offset off of the page, size 1/2/4/8.  Reads of
 * undefined or write-only offsets give 0.  A write to ICR low that sends
 * a message fills *ipi and returns true: the owner routes it (targets:
 * lapic_accepts(), then lapic_deliver()).
 */
uint64_t lapic_read(struct lapic *a, uint64_t off, unsigned size);
bool lapic_write(struct lapic *a, uint64_t off, unsigned size, uint64_t val,
		 struct lapic_ipi *ipi);

/* Is this LAPIC a destination of m? */
bool lapic_accepts(struct lapic *a, const struct lapic_ipi *m);
/* Take m (fixed/lowest: IRR, INIT, start-up).  Returns true if it changed
 * anything (then hooks.raised was called). */
bool lapic_deliver(struct lapic *a, const struct lapic_ipi *m);

/*
 * Fire the timer if due at now and return its next expiry (ns, 0 = none).
 * Periods that passed unseen are merged into one interrupt.
 */
uint64_t lapic_poll(struct lapic *a, uint64_t now);

/* Highest pending vector that can interrupt now (IRR above PPR), or -1. */
int lapic_pending(struct lapic *a);
/* The CPU takes it: IRR -> ISR.  Returns the vector, or -1. */
int lapic_intack(struct lapic *a);

/* Does the 8259's INTR reach this CPU (LINT0 unmasked ExtINT)? */
bool lapic_accepts_pic(struct lapic *a);

/* INIT/SIPI: waiting for a start-up IPI?  Put it there (boot: an AP). */
bool lapic_wait_sipi(struct lapic *a);
void lapic_set_wait_sipi(struct lapic *a);
/* A start-up IPI arrived while waiting: its vector (once), else -1. */
int lapic_take_sipi(struct lapic *a);
/* The same without taking it: is one latched? */
bool lapic_sipi_latched(struct lapic *a);

#endif
