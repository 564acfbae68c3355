/*
 * elfmode: the ELF test guests, loaded from their program headers by
 * cvisor's ELF loader.  elf64 (built -m64) is entered in long mode on
 * cvisor's page tables, elf32 (-m32) in protected mode.  Each prints
 * "<name>: ok", where its code runs and the CPU mode it finds, and exits
 * with 0 (1 when the mode is not the one its ELF class asks for).  It
 * also checks that its bss (never in the file) reads as zero.
 */
#include "guest.h"

#define CR0_PE 0x1ul
#define CR0_PG 0x80000000ul
#define MSR_EFER 0xC0000080u
#define EFER_LMA (1u << 10)

static volatile uint32_t bss_word[1024];

static unsigned long read_cr0(void)
{
	unsigned long v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static int long_mode_active(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_EFER));
	return (lo & EFER_LMA) != 0;
}

static int bss_is_zero(void)
{
	for (unsigned i = 0; i < 1024; i++)
		if (bss_word[i])
			return 0;
	return 1;
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	unsigned long cr0 = read_cr0();
	int lm = (cr0 & CR0_PG) && long_mode_active();
	int want_lm = sizeof(void *) == 8;
	print(GUEST_NAME ": ok, running at ");
	print_hex((uint32_t)(uintptr_t)&guest_main);
	print(lm ? ", long mode" : ", protected mode");
	print(cr0 & CR0_PG ? ", paging on" : ", paging off");
	print(bss_is_zero() ? ", bss clear\n" : ", bss NOT clear\n");
	guest_exit(lm == want_lm && (cr0 & CR0_PE) && bss_is_zero() ? 0 : 1);
}
