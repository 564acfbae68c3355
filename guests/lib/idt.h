/*
 * idt: interrupt descriptor table, 8259 and 8254 helpers for the
 * interrupt test guests (protected mode: 32-bit gates; long mode: 64-bit
 * gates; real mode, built with -DREAL_MODE: IVT far pointers at 0).
 * Handlers are assembly stubs ending in iret/iretq; gates use the code
 * selector the guest runs with (no privilege change).
 */
#ifndef GUEST_IDT_H
#define GUEST_IDT_H

#include "guest.h"

#define GATE_INT 0x8e		/* present, DPL 0, interrupt gate */
#define GATE_TRAP 0x8f		/* present, DPL 0, trap gate */

#ifdef __x86_64__
struct gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
};
#else
struct gate {
	uint16_t off0, sel;
	uint8_t zero, type;
	uint16_t off1;
};
#endif

static inline uint16_t read_cs(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs;
}

#ifdef REAL_MODE
/* The IVT at linear 0 (DS = 0 in the real-mode guests): CS:offset. */
static inline void set_gate(unsigned vec, void (*fn)(void), uint8_t type)
{
	uintptr_t base = 0;
	__asm__("" : "+r"(base));	/* address 0 is real here, not NULL */
	volatile uint16_t *ivt = (volatile uint16_t *)base;
	(void)type;
	ivt[vec * 2] = (uint16_t)(uintptr_t)fn;
	ivt[vec * 2 + 1] = read_cs();
}

static inline void load_idt(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint32_t base;
	} d = { 0x3ff, 0 };
	__asm__ volatile("lidt %0" : : "m"(d));
}
#else
/* one per source file; unused (and dropped) in lib/irqguest.c */
static struct gate idt[256] __attribute__((aligned(16), unused));

static inline void set_gate(unsigned vec, void (*fn)(void), uint8_t type)
{
	uintptr_t a = (uintptr_t)fn;
	struct gate *g = &idt[vec];
	g->off0 = (uint16_t)a;
	g->sel = read_cs();
	g->type = type;
	g->off1 = (uint16_t)(a >> 16);
#ifdef __x86_64__
	g->off2 = (uint32_t)(a >> 32);
#endif
}

static inline void load_idt(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uintptr_t base;
	} d = { sizeof(idt) - 1, (uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(d));
}
#endif

static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
/* sti; hlt: the shadow makes the pair atomic (no lost wake-up) */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* Both 8259s: vectors base, base + 8; everything masked but `unmask`. */
static inline void pic_init(uint8_t base, uint16_t unmask)
{
	outb(0x20, 0x11); outb(0x21, base); outb(0x21, 0x04); outb(0x21, 0x01);
	outb(0xa0, 0x11); outb(0xa1, (uint8_t)(base + 8)); outb(0xa1, 0x02);
	outb(0xa1, 0x01);
	if (unmask & 0xff00)
		unmask |= 1u << 2;	/* the cascade */
	outb(0x21, (uint8_t)~unmask);
	outb(0xa1, (uint8_t)~(unmask >> 8));
}

static inline void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(0xa0, 0x20);
	outb(0x20, 0x20);
}

/* PIT channel 0, mode 2 (rate generator) at hz. */
static inline void pit_periodic(unsigned hz)
{
	unsigned div = (unsigned)(1193182u + hz / 2) / hz;
	outb(0x43, 0x34);
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

/* Assembly stub names: ISR(name) declares `void name(void)`. */
#define ISR(name) void name(void)

#if defined(REAL_MODE)
/* -m16 code keeps 32-bit C conventions (calll/retl); the frame is 16-bit */
#define IRET "iretw"
#define PUSHA "pushal\n"
#define POPA "popal\n"
#define CALL "calll "
#elif defined(__x86_64__)
#define IRET "iretq"
#define PUSHA "push %rax; push %rcx; push %rdx; push %rsi; push %rdi; " \
	      "push %r8; push %r9; push %r10; push %r11\n"
#define POPA "pop %r11; pop %r10; pop %r9; pop %r8; pop %rdi; pop %rsi; " \
	     "pop %rdx; pop %rcx; pop %rax\n"
#else
#define IRET "iret"
#define PUSHA "pusha\n"
#define POPA "popa\n"
#endif
#ifndef CALL
#define CALL "call "
#endif

/* An ISR stub that saves the caller-saved registers and calls fn(). */
#define ISR_CALLING(name, fn) \
	__asm__(".text\n.globl " #name "\n" #name ":\n" PUSHA \
		"cld\n" CALL #fn "\n" POPA IRET "\n")

#endif
