/*
 * backend: the one small interface between the VM layer and a CPU engine.
 * Two implementations: "kvm" (/dev/kvm) and "emu" (a software x86 CPU on
 * the Unicorn engine).  Everything above this table is backend-neutral.
 *
 * Threading contract:
 *  - vm_create/vcpu_create/vcpu_load_boot_state/destroy run on the
 *    controller thread while no vcpu_run is in progress.
 *  - vcpu_run is called only from the thread that owns the vCPU.  When
 *    ops->single_thread is true, one host thread owns all vCPUs of a VM and
 *    runs them round-robin (slice_us > 0).
 *  - vcpu_kick may be called from any thread at any time.  It makes the
 *    current vcpu_run, or else the next one, return VCPU_EXIT_KICK promptly,
 *    even against a guest that never exits.  A kick is never lost; a kick
 *    may be spurious.  vcpu_run clears the pending kick when it returns
 *    VCPU_EXIT_KICK.
 *  - port I/O and MMIO are dispatched by the backend itself to the VM's
 *    bus (params.bus) on the vCPU's thread; a device that returns BUS_EXIT
 *    makes vcpu_run return VCPU_EXIT_EVENT after that access completes.
 */
#ifndef CV_BACKEND_H
#define CV_BACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"
#include "memory.h"
#include "vmconfig.h"

struct backend_vm;
struct backend_vcpu;
struct pic;
struct pit;

struct backend_vm_params {
	struct guest_mem *mem;	/* mapped RAM; owned by the VM */
	struct bus *bus;	/* the VM's device bus */
	unsigned ncpus;
	bool irqchip;		/* interrupt controllers + PIT wanted */
	/* with irqchip on a userspace_irqchip backend: the VM's models */
	struct pic *pic;
	struct pit *pit;
	/*
	 * userspace_irqchip backends serve the other device clocks (RTC)
	 * themselves: fire what is due at now (CLOCK_MONOTONIC ns), get the
	 * next deadline (0 = none) - like pit_poll().  NULL = none.  Other
	 * backends ignore it (the VM layer runs a timer thread for them).
	 */
	uint64_t (*dev_poll)(void *ctx, uint64_t now);
	void *dev_ctx;
};

/* Per-vCPU counters, owned by the VM layer, updated by the backend. */
struct vcpu_stats {
	atomic_uint_least64_t exits_io;
	atomic_uint_least64_t exits_mmio;
	atomic_uint_least64_t exits_hlt;
	atomic_uint_least64_t exits_shutdown;
	atomic_uint_least64_t exits_kick;
	atomic_uint_least64_t exits_other;
	atomic_uint_least64_t runs;	/* vcpu_run calls */
};

/*
 * One more on a counter of struct vcpu_stats.  Each vCPU's counters have
 * one writer, the thread running it, so no locked read-modify-write;
 * readers on other threads see whole values.
 */
static inline void vcpu_stat_inc(atomic_uint_least64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

enum vcpu_exit_reason {
	VCPU_EXIT_KICK,		/* kicked: the VM layer has a request */
	VCPU_EXIT_EVENT,	/* a device returned BUS_EXIT */
	VCPU_EXIT_HLT,		/* halted, and the backend cannot wake it */
	VCPU_EXIT_SHUTDOWN,	/* triple fault / shutdown */
	VCPU_EXIT_SLICE,	/* slice_us used up (round-robin) */
	VCPU_EXIT_ERROR,	/* unrecoverable; msg says why */
};

struct vcpu_exit {
	enum vcpu_exit_reason reason;
	char msg[256];		/* VCPU_EXIT_ERROR: a plain sentence */
};

/*
 * Boot register state.  Real mode: CS = real_cs (base real_cs << 4), IP =
 * rip, other segments 0 unless set.  Protected and long mode: flat
 * segments from the GDT cvisor built in guest memory (gdt_base/limit):
 * code_sel is a flat code segment (64-bit in long mode, 32-bit in
 * protected mode), data_sel a flat writable data segment; the backend sets
 * the hidden descriptor parts to match.  Long mode: cr3 points at identity
 * page tables cvisor built; cr0/cr4/efer as given.
 */
struct boot_cpu_state {
	enum vm_cpu_mode mode;
	uint64_t rip, rsp, rflags;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint16_t real_cs;
	uint64_t gdt_base;
	uint16_t gdt_limit;
	uint16_t code_sel, data_sel;
	uint64_t cr0, cr3, cr4, efer;
	/*
	 * An application processor that waits for INIT/SIPI from its LAPIC
	 * instead of starting at rip (KVM_MP_STATE_UNINITIALIZED; on emu the
	 * vCPU sleeps until the start-up IPI): the fields above are then
	 * unused.  Only for irqchip VMs, never for vCPU 0.
	 */
	bool wait_sipi;
};

/* Registers as shown by `vm show --full`. */
struct cpu_regs {
	uint64_t rip, rsp, rflags;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint16_t cs, ds, es, ss;
	uint64_t cs_base;
};

struct backend_ops {
	const char *name;	/* "kvm" or "emu" */
	bool single_thread;	/* one host thread runs all vCPUs of a VM */
	/* irqchip VMs need cvisor's PIC/PIT models (kvm has them in-kernel) */
	bool userspace_irqchip;

	/* 0 when the backend is usable on this host; else why not. */
	int (*probe)(struct cv_err *err);

	int (*vm_create)(const struct backend_vm_params *p,
			 struct backend_vm **out, struct cv_err *err);
	void (*vm_destroy)(struct backend_vm *vm);

	int (*vcpu_create)(struct backend_vm *vm, unsigned index,
			   struct vcpu_stats *stats, struct backend_vcpu **out,
			   struct cv_err *err);
	void (*vcpu_destroy)(struct backend_vcpu *vcpu);
	int (*vcpu_load_boot_state)(struct backend_vcpu *vcpu,
				    const struct boot_cpu_state *s,
				    struct cv_err *err);

	/* Run until an exit for the VM layer (see the contract above). */
	int (*vcpu_run)(struct backend_vcpu *vcpu, uint32_t slice_us,
			struct vcpu_exit *exit);
	void (*vcpu_kick)(struct backend_vcpu *vcpu);

	int (*vcpu_get_regs)(struct backend_vcpu *vcpu, struct cpu_regs *r);

	/* Drive interrupt line gsi (irqchip VMs); -ENOTSUP otherwise. */
	int (*set_irq)(struct backend_vm *vm, unsigned gsi, bool level);

	/*
	 * The host wrote guest code at [gpa, gpa+len) through the shared
	 * mapping (image load): drop stale translations.  May be NULL.
	 */
	void (*code_written)(struct backend_vm *vm, uint64_t gpa, uint64_t len);

	/*
	 * Start, in the background, what this process's first vm_create
	 * will need (kvm: the VM fd itself and the supported-CPUID table;
	 * emu: loading libunicorn), so
	 * it overlaps the caller's own start-up work; the first vm_create
	 * takes it.  Once per process; best effort.  May be NULL.
	 */
	void (*prestart)(void);
	/* Drop a prestart no VM will take (without waiting).  May be NULL. */
	void (*prestart_release)(void);
};

extern const struct backend_ops kvm_backend_ops;
extern const struct backend_ops emu_backend_ops;

/*
 * Pick the backend for a VM.  AUTO = kvm when /dev/kvm opens and a probe VM
 * works, else emu.  *why gets a sentence for `vm show` ("auto: /dev/kvm
 * not present"), always filled.
 */
const struct backend_ops *backend_select(enum vm_accel want, char *why,
					 size_t whylen, struct cv_err *err);

/*
 * The caller will create a VM with accel `hint` (as the command line says;
 * the config may still choose): where that may mean kvm and /dev/kvm is
 * there, prestart the kvm backend (see backend_ops.prestart), and a later
 * backend_select() that picks emu releases it; otherwise (emu, no
 * /dev/kvm, a nested PVM host) prestart the emu backend.
 */
void backend_prestart(enum vm_accel hint);

#endif
