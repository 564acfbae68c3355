/*
 * ucvm: a minimal stand-alone VM on the Unicorn engine, only for the boot
 * tests: it boots a config through boot_load()/boot_vcpu_state(), puts
 * each vCPU in the state the plan asks for, and emulates just the ports
 * the test guests use (COM1 output, 0xf4, 0x80, 0x5f0, i8042 reset).  It
 * checks the boot layer and the guests independently of cvisor's VM layer
 * and backends.  vCPUs run round-robin in time slices on one thread; a
 * single vCPU runs in one piece (see ucvm.c for why).  Tests make a run
 * end deterministically with shutdown_after: the guest sees a graceful
 * stop request at its Nth read of port 0x5f0.
 *
 * Unicorn never delivers `int n` itself (it only calls UC_HOOK_INTR), so
 * ucvm delivers real-mode software interrupts through the guest's IVT as
 * a CPU would (enough for the Linux setup code and cvisor's BIOS stub);
 * an interrupt or exception in protected mode stops the run as an error.
 * stop_at (when non-zero) ends a run as UCVM_STOP_AT when the BSP is about
 * to execute that linear address, e.g. a kernel's 32-bit entry.  CPUID
 * answers as a 64-bit CPU (qemu64-like) would, long mode included.
 */
#ifndef UCVM_H
#define UCVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#include "boot.h"
#include "memory.h"
#include "vmconfig.h"

#define UCVM_MAX_CPUS 8
#define UCVM_OUT_MAX 65536

struct ucvm;

struct ucvm_cpu {
	struct ucvm *vm;
	unsigned index;
	uc_engine *uc;
	uc_hook hooks[5];
	enum vm_cpu_mode mode;		/* the engine's mode at creation */
	bool halted;
};

enum ucvm_stop {
	UCVM_RUNNING,
	UCVM_EXIT,		/* the guest wrote 0xf4 */
	UCVM_RESET,		/* the guest asked the i8042 for a reset */
	UCVM_ALL_HALTED,	/* every vCPU halted: nothing can wake them */
	UCVM_TIMEOUT,		/* the time budget ran out */
	UCVM_ERROR,		/* the engine refused (msg in err) */
	UCVM_STOP_AT,		/* the BSP reached stop_at */
};

struct ucvm {
	const struct vm_config *cfg;
	struct guest_mem mem;
	struct boot_plan plan;
	unsigned ncpus;
	struct ucvm_cpu cpu[UCVM_MAX_CPUS];
	char out[UCVM_OUT_MAX + 1];	/* COM1 output, NUL-terminated */
	size_t outlen;
	int exit_code;			/* -1 until the guest writes 0xf4 */
	unsigned boot_marks;		/* writes to port 0x80 */
	uint64_t first_mark_ns;		/* since ucvm_boot */
	uint64_t boot_ns;
	bool shutdown_request;		/* what port 0x5f0 reads... */
	unsigned shutdown_after;	/* ...or 1 from this read on (0: off) */
	unsigned shutdown_reads;
	uint8_t com1_lcr;		/* DLAB set: 0x3f8 is the divisor */
	uint64_t stop_at;		/* set before ucvm_boot; 0 = none */
	unsigned interrupts;		/* software interrupts delivered */
	enum ucvm_stop stop;
	char err[256];
};

/* Map RAM, boot_load(), create the vCPUs.  0 or -errno (msg in vm->err). */
int ucvm_boot(struct ucvm *vm, const struct vm_config *cfg);

/* Run until a stop reason or max_ms of wall time. */
enum ucvm_stop ucvm_run(struct ucvm *vm, unsigned max_ms);

/* A reset as cvisor does it: clear RAM, reload, fresh vCPUs. */
int ucvm_reset(struct ucvm *vm);

void ucvm_destroy(struct ucvm *vm);

/* Read a general register of vCPU i (for the tests' own checks). */
uint64_t ucvm_reg(const struct ucvm *vm, unsigned i, int regid);

#endif
