/*
 * hostile_io: floods the host with accesses nobody handles — IN/OUT of
 * random sizes to random unassigned ports (0x1000-0x8fff) and MMIO reads
 * and writes to random unassigned addresses above RAM (0xd0000000-
 * 0xd00fffff) — forever, with a "hostile_io: round N" line every 4096
 * accesses.  Never exits on its own.  32-bit protected mode.
 */
#include "hostile.h"

static void pio(uint32_t r)
{
	uint16_t port = (uint16_t)(0x1000 + (r >> 8 & 0x7fff));
	switch (r & 7) {
	case 0: __asm__ volatile("outb %b0, %w1" : : "a"(r), "Nd"(port)); break;
	case 1: __asm__ volatile("outw %w0, %w1" : : "a"(r), "Nd"(port)); break;
	case 2: __asm__ volatile("outl %0, %w1" : : "a"(r), "Nd"(port)); break;
	case 3: { uint8_t v; __asm__ volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port)); break; }
	case 4: { uint16_t v; __asm__ volatile("inw %w1, %w0" : "=a"(v) : "Nd"(port)); break; }
	default: { uint32_t v; __asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"(port)); break; }
	}
}

static void mmio(uint32_t r)
{
	uintptr_t a = 0xd0000000u + (r >> 4 & 0xffffc);
	switch (r & 7) {
	case 0: *(volatile uint8_t *)a = (uint8_t)r; break;
	case 1: *(volatile uint16_t *)a = (uint16_t)r; break;
	case 2: *(volatile uint32_t *)a = r; break;
	case 3: (void)*(volatile uint8_t *)a; break;
	case 4: (void)*(volatile uint16_t *)a; break;
	default: (void)*(volatile uint32_t *)a; break;
	}
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	rng_seed();
	for (unsigned long round = 0;; round++) {
		progress("hostile_io", round);
		for (int i = 0; i < 4096; i++) {
			uint32_t x = rng();
			if (x & 0x80000000u)
				mmio(x);
			else
				pio(x);
		}
	}
}
