/*
 * smp: the multi-vCPU guest (smp4 = 4 vCPUs).  Every vCPU prints its own
 * ticks "cpu<N> tick <K>".  Lines never interleave on either backend
 * because a token passes round the vCPUs: only the holder prints, then
 * hands the token on with a plain store.  No lock prefix is needed (one
 * writer at a time), which matters because the software CPU does not make
 * atomics atomic across vCPUs.  So the output is exactly
 *   smp: <M> vCPUs
 *   cpu0 tick 0, cpu1 tick 0, ..., cpu<M-1> tick 0, cpu0 tick 1, ...
 * and it stalls after "cpu<N-1> tick K" if vCPU N never runs.  vCPU 0
 * checks port 0x5f0 when it holds the token; on a graceful stop it prints
 * "smp: shutdown requested" and exits with 0.  32-bit protected mode.
 */
#include "guest.h"

static volatile uint32_t token;	/* vCPU allowed to print; RAM starts zeroed */

static void wait_token(uint32_t me)
{
	while (token != me)
		cpu_relax();
}

static void pass_token(uint32_t me, uint32_t ncpus)
{
	__asm__ volatile("" : : : "memory");
	token = me + 1 < ncpus ? me + 1 : 0;
}

void guest_main(const struct entry_regs *r)
{
	uint32_t me = r->index, n = r->ncpus;
	if (me >= n)
		halt_forever();
	wait_token(me);
	if (me == 0) {
		boot_mark();
		serial_init();
		print("smp: ");
		print_dec(n);
		print(n == 1 ? " vCPU\n" : " vCPUs\n");
	}
	for (unsigned long k = 0;; k++) {
		if (k)
			wait_token(me);
		if (me == 0 && shutdown_requested()) {
			print("smp: shutdown requested\n");
			guest_exit(0);
		}
		print("cpu");
		print_dec(me);
		print(" tick ");
		print_dec(k);
		print("\n");
		pass_token(me, n);
		delay_cycles(TICK_CYCLES);
	}
}
