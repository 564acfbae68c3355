/*
 * guest: the tiny freestanding runtime every C test guest shares.  The
 * same source compiles for real mode (-m16), protected mode (-m32) and
 * long mode (-m64).  It talks to the outside only through port I/O:
 * COM1 (polled, no interrupts) and cvisor's own ports (SPEC §5b), so a
 * guest runs unchanged on the kvm and the emu backend.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>

#define COM1 0x3f8
#define PORT_BOOT 0x80		/* boot/debug port: first write = boot time */
#define PORT_DEBUG_EXIT 0xf4	/* a byte written = the guest's exit code */
#define PORT_SHUTDOWN_REQ 0x5f0	/* reads 1 once a graceful stop is wanted */
#define PORT_I8042_CMD 0x64	/* 0xFE written = reset the machine */

/* What the start code hands to guest_main (boot.h's SMP convention). */
struct entry_regs {
	uint32_t index;		/* %esi: this vCPU, 0 = the BSP */
	uint32_t ncpus;		/* %edi: vCPUs in the VM */
	uint32_t eax, ebx;	/* as the guest was entered (multiboot) */
};

/* Each guest defines this; the start code calls it on its own stack. */
void guest_main(const struct entry_regs *r);

/* Patchable 32-bit value at image offset 4 (GUEST_PARAM_OFFSET). */
extern volatile const uint32_t guest_param;
#define GUEST_PARAM_OFFSET 4

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* CMOS / RTC register idx (port 0x70 selects, 0x71 is the data). */
static inline uint8_t cmos_read(uint8_t idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static inline void cmos_write(uint8_t idx, uint8_t v)
{
	outb(0x70, idx);
	outb(0x71, v);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

void serial_init(void);
void serial_putc(char c);
void print(const char *s);
void print_dec(unsigned long v);
void print_hex(uint32_t v);

/* Mark "booted" on the boot port (cvisor reports it as boot time). */
void boot_mark(void);

/* 1 when cvisor asked for a graceful shutdown (port 0x5f0). */
int shutdown_requested(void);

/*
 * Busy-wait about `cycles` TSC cycles.  The TSC runs at the host's rate on
 * both backends, so a delay takes the same wall time on kvm and emu.
 */
void delay_cycles(uint64_t cycles);

/* Write the exit code to the debug-exit port and halt for good. */
__attribute__((noreturn)) void guest_exit(uint8_t code);

/* Halt forever with interrupts off (no exit on purpose). */
__attribute__((noreturn)) void halt_forever(void);

#endif
