/*
 * apic: the LAPIC and IOAPIC at their default bases (the MADT's), for the
 * guests that program them (the irqguest timer guests, smp_sipi).
 * MMIO through volatile 32-bit accesses; inline, nothing to link.
 */
#ifndef GUEST_APIC_H
#define GUEST_APIC_H

#include "guest.h"

#define LAPIC 0xfee00000u
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define IOAPIC 0xfec00000u
#define IOAPIC_PIT_PIN 2	/* ISA IRQ 0, per the MADT's source override */

static inline uint32_t mmio_rd(uint32_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}

static inline void mmio_wr(uint32_t a, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)a = v;
}

static inline uint32_t lapic_rd(uint32_t off)
{
	return mmio_rd(LAPIC + off);
}

static inline void lapic_wr(uint32_t off, uint32_t v)
{
	mmio_wr(LAPIC + off, v);
}

static inline uint32_t ioapic_rd(uint32_t reg)
{
	mmio_wr(IOAPIC, reg);
	return mmio_rd(IOAPIC + 0x10);
}

static inline void ioapic_wr(uint32_t reg, uint32_t v)
{
	mmio_wr(IOAPIC, reg);
	mmio_wr(IOAPIC + 0x10, v);
}

/* IOAPIC pin `pin` to vector vec of this CPU (its APIC ID, physical
 * destination): fixed, edge, unmasked. */
static inline void ioapic_route_here(unsigned pin, uint32_t vec)
{
	uint32_t id = mmio_rd(LAPIC + LAPIC_ID) >> 24;
	ioapic_wr(0x10 + 2 * pin + 1, id << 24);
	ioapic_wr(0x10 + 2 * pin, vec);
}

#endif
