/*
 * cpuid: prints the CPU identity cvisor gives its vCPUs (see
 * src/common/cpuid.h) and exits with 0.  The BSP prints
 *   cpuid: hypervisor 1
 *   cpuid: hv max 0x40000000 sig "cvisor"
 *   cpuid: leaf1 apic 0 logical <L> htt <0|1>
 *   cpuid: leaf 0xb.<S> type <T> shift <X> count <C> x2apic 0  (S = 0, 1, 2)
 * then, for every other vCPU (which only run CPUID and report through a
 * slot in shared memory, a plain store each), in order
 *   cpuid: vcpu <i> apic <leaf-1 APIC ID> x2apic <leaf-0xB x2APIC ID>
 * and "cpuid: done".  If a vCPU never reports, it says
 * "cpuid: vcpu <i> silent" after ~SILENT_CYCLES.  32-bit protected mode.
 */
#include "guest.h"

#define MAX_CPUS 64
#define SILENT_CYCLES 20000000000ull

struct regs {
	uint32_t a, b, c, d;
};

static struct regs cpuid(uint32_t leaf, uint32_t sub)
{
	struct regs r;
	__asm__ volatile("cpuid"
			 : "=a"(r.a), "=b"(r.b), "=c"(r.c), "=d"(r.d)
			 : "a"(leaf), "c"(sub));
	return r;
}

/* per AP: 0 = not yet; else 0x10000 | apic << 8 | x2apic (both < 256) */
static volatile uint32_t report[MAX_CPUS];

static void print_sig(const struct regs *r)
{
	char s[13];
	uint32_t w[3] = { r->b, r->c, r->d };
	for (int i = 0; i < 12; i++)
		s[i] = (char)(w[i / 4] >> (8 * (i % 4)));
	s[12] = 0;
	print("\"");
	print(s);		/* stops at the first NUL */
	print("\"");
}

static void wait_report(uint32_t i)
{
	uint64_t t0 = rdtsc();
	while (!report[i]) {
		if (rdtsc() - t0 > SILENT_CYCLES) {
			print("cpuid: vcpu ");
			print_dec(i);
			print(" silent\n");
			return;
		}
		cpu_relax();
	}
	print("cpuid: vcpu ");
	print_dec(i);
	print(" apic ");
	print_dec((report[i] >> 8) & 0xff);
	print(" x2apic ");
	print_dec(report[i] & 0xff);
	print("\n");
}

void guest_main(const struct entry_regs *r)
{
	uint32_t me = r->index, n = r->ncpus;
	if (me) {
		uint32_t apic = cpuid(1, 0).b >> 24;
		uint32_t x2 = cpuid(0xb, 0).d;
		if (me < MAX_CPUS)
			report[me] = 0x10000u | (apic & 0xff) << 8 | (x2 & 0xff);
		halt_forever();
	}
	boot_mark();
	serial_init();
	struct regs l1 = cpuid(1, 0);
	print("cpuid: hypervisor ");
	print_dec(l1.c >> 31);
	print("\n");
	struct regs hv = cpuid(0x40000000, 0);
	print("cpuid: hv max ");
	print_hex(hv.a);
	print(" sig ");
	print_sig(&hv);
	print("\n");
	print("cpuid: leaf1 apic ");
	print_dec(l1.b >> 24);
	print(" logical ");
	print_dec((l1.b >> 16) & 0xff);
	print(" htt ");
	print_dec((l1.d >> 28) & 1);
	print("\n");
	if (cpuid(0, 0).a >= 0xb) {
		for (uint32_t s = 0; s < 3; s++) {
			struct regs t = cpuid(0xb, s);
			print("cpuid: leaf 0xb.");
			print_dec(s);
			print(" type ");
			print_dec((t.c >> 8) & 0xff);
			print(" shift ");
			print_dec(t.a & 0x1f);
			print(" count ");
			print_dec(t.b & 0xffff);
			print(" x2apic ");
			print_dec(t.d);
			print("\n");
		}
	} else {
		print("cpuid: no leaf 0xb\n");
	}
	for (uint32_t i = 1; i < n && i < MAX_CPUS; i++)
		wait_report(i);
	print("cpuid: done\n");
	guest_exit(0);
}
