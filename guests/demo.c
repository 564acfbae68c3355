/*
 * demo: the guest `cvisor run` boots when given no config.  cvisor enters
 * it in 64-bit long mode (its own GDT and identity page tables); it says
 * hello, reports the CPU mode it finds, prints a few ticks and powers off
 * with exit code 0.  Well under 0.5 s on either backend.
 */
#include "guest.h"

#define MSR_EFER 0xC0000080u
#define EFER_LMA (1u << 10)
#define CR0_PG (1ul << 31)

static uint64_t read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void print_mode(const struct entry_regs *r)
{
	print("CPU mode: ");
	if (rdmsr(MSR_EFER) & EFER_LMA)
		print("64-bit long mode");
	else
		print("not long mode (unexpected)");
	print(read_cr0() & CR0_PG ? ", paging on" : ", paging off");
	print(", vCPU ");
	print_dec(r->index);
	print(" of ");
	print_dec(r->ncpus);
	print("\n");
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	print("Hello from the cvisor demo guest\n");
	print_mode(r);
	for (unsigned long n = 0; n < 3; n++) {
		print("demo tick ");
		print_dec(n);
		print("\n");
		delay_cycles(DEMO_TICK_CYCLES);
	}
	print("demo: powering off\n");
	guest_exit(0);
}
