/*
 * emu_int: the emu backend's private state, shared by its .c files.  One
 * UC_MODE_64 unicorn engine per vCPU (the only engine kind that resumes
 * correctly at any RIP in any guest mode), all mapping the VM's guest RAM.
 * Nothing here is visible outside the backend.
 */
#ifndef CV_EMU_INT_H
#define CV_EMU_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

#include "backend.h"
#include "ioapic.h"
#include "lapic.h"
#include "pic8259.h"
#include "pit8254.h"

/* RAM regions + the trampoline pages split the address space in at most
 * this many unassigned gaps, each one uc_mmio_map'ed to the bus. */
#define EMU_MAX_GAPS (VMCFG_MAX_REGIONS + 2)
#define EMU_PIT_IOAPIC_PIN 2	/* ISA IRQ 0 (the MADT's override) */
#define EMU_MAX_DIRTY 8		/* pending code_written ranges per vCPU */
#define EMU_MIN_PHYS_BITS 36	/* MMIO/unassigned space covered: 64 GiB */
#define EMU_CHECK_FIRST 32	/* blocks between the first two clock reads */
#define EMU_CHECK_MAX 256	/* most blocks between two clock reads */

struct emu_vcpu;

struct emu_gap {
	struct emu_vcpu *v;
	uint64_t base, size;
};

struct emu_vm {
	struct guest_mem *mem;
	struct bus *bus;
	unsigned ncpus;
	uint64_t tramp_gpa;	/* boot trampoline pages; 0 until chosen */
	unsigned phys_bits;	/* CPUID 0x80000008 and the mapped space */

	pthread_mutex_t lock;	/* guards the fields marked (L) */
	struct emu_vcpu *vcpus[VMCFG_MAX_VCPUS];	/* (L) */

	/* userspace irqchip (NULL without one): see emu_irq.c */
	struct pic *pic;
	struct pit *pit;
	struct ioapic *ioapic;		/* with the PIC: fed the same lines */
	uint64_t (*dev_poll)(void *ctx, uint64_t now);	/* or NULL */
	void *dev_ctx;
	_Atomic(struct emu_vcpu *) bsp;	/* vCPU 0 once created */
	atomic_uint irq_seq;		/* bumped on every line raise */
	pthread_mutex_t wake_lock;	/* halted vCPUs sleep on wake_cond */
	pthread_cond_t wake_cond;
};

/* What the hooks saw during one uc_emu_start (vCPU thread only). */
struct emu_trap {
	bool event;		/* a device returned BUS_EXIT */
	bool hook_stop;		/* the block hook ended the run */
	bool sliced;		/* ... because the slice was used up */
	bool timer;		/* ... because a PIT deadline passed */
	bool irq;		/* ... because a waiting interrupt can go in */
	bool redeliver;		/* UC_HOOK_INTR: deliver `vector` between runs */
	bool deliver_failed;	/* UC_HOOK_INTR: v->failed says why */
	bool exception;		/* UC_HOOK_INTR / invalid opcode */
	uint32_t vector;
	uint64_t rip;
	uint16_t cs;
	bool badmem;		/* UC_HOOK_MEM_INVALID */
	uc_mem_type memtype;
	uint64_t memaddr;
};

struct emu_vcpu {
	struct emu_vm *vm;
	unsigned index;
	struct vcpu_stats *stats;
	struct vcpu_stats own_stats;	/* when the caller passes none */
	uc_engine *uc;
	struct lapic *lapic;	/* irqchip VMs: this vCPU's local APIC */
	uc_context *reset_ctx;	/* the engine's state right after uc_open */
	uc_context *scratch_ctx;
	uint8_t *tramp;		/* host pages mapped at vm->tramp_gpa */
	struct emu_gap gaps[EMU_MAX_GAPS];
	size_t ngaps;

	atomic_bool kick_pending;	/* a kick not yet returned as KICK */
	atomic_bool stop_wanted;	/* end the run at the next block */
	atomic_bool irq_stop;		/* ... because a line was raised */
	bool busy;		/* (L) inside vcpu_run */
	struct { uint64_t lo, hi; } dirty[EMU_MAX_DIRTY];	/* (L) */
	size_t ndirty;		/* (L) */
	bool dirty_all;		/* (L) */

	/* vCPU thread only */
	struct emu_trap trap;
	uint64_t deadline_ns;	/* end of the slice or timer, 0 = none */
	uint64_t slice_end;	/* end of the round-robin slice, 0 = none */
	bool irq_watch;		/* an interrupt waits: watch IF per block */
	unsigned shadow_blocks;	/* blocks to run before it may go in */
	bool halt_irq;		/* halted with IF = 1, waiting for an irq */
	bool halted_for_good;	/* returned VCPU_EXIT_HLT; until boot load */
	unsigned slice_countdown;	/* blocks until the next clock read */
	unsigned check_blocks;	/* ... counted from the last read */
	uint64_t check_ns;	/* time of the last read, 0 = none this run */
	bool booting;		/* the trampoline is running */
	uint64_t boot_exit;	/* linear guest entry that ends it */
	bool halt_pending;	/* HLT seen in a run that returned another
				   reason: the next run reports it */
	bool shutdown;		/* triple fault seen; sticky until boot load */
	char failed[256];	/* unrecoverable error; sticky until boot load */
	bool pg_valid;		/* paging state below was verified */
	uint64_t pg_cr0, pg_cr3, pg_cr4, pg_efer;
};

/* emu_io.c: memory map, port I/O, MMIO gaps, CPUID, block/fault hooks */
int emu_choose_layout(struct emu_vm *vm, struct cv_err *err);
int emu_map_memory(struct emu_vcpu *v, struct cv_err *err);
int emu_add_hooks(struct emu_vcpu *v, struct cv_err *err);
uint64_t emu_now_ns(void);
void emu_request_event(struct emu_vcpu *v);

/* emu_boot.c: boot register state through the trampoline */
void emu_tramp_init(struct emu_vcpu *v);
void emu_drop_translations(struct emu_vcpu *v, uint64_t lo, uint64_t hi);
int emu_boot_load(struct emu_vcpu *v, const struct boot_cpu_state *s,
		  struct cv_err *err);

/* emu_latch.c: clears unicorn's exception-in-flight latch after a
 * delivery (else the next fault turns into #DF); init once per engine,
 * before its reset state is saved */
void emu_latch_init(struct emu_vcpu *v);
bool emu_latch_known(void);
void emu_latch_clear(struct emu_vcpu *v, uint32_t vector);

/* emu_fault.c: what a guest exception or bad paging means */
bool emu_is_triple_fault(struct emu_vcpu *v, uint32_t vector);
void emu_describe_exception(struct emu_vcpu *v, char *buf, size_t len);
void emu_describe_badmem(struct emu_vcpu *v, uc_err e, char *buf,
			 size_t len);
int emu_check_paging(struct emu_vcpu *v, char *buf, size_t len);

/* emu_irq.c: delivery through the IVT/IDT, external interrupts, HLT */
int emu_deliver(struct emu_vcpu *v, uint32_t vec, uint64_t ret_ip,
		bool in_hook, bool *need_stop);
bool emu_irq_enabled(struct emu_vcpu *v);
uint64_t emu_irq_prepare(struct emu_vcpu *v);
bool emu_irq_pending(struct emu_vcpu *v, uint64_t *next);
void emu_lapic_raised(void *ctx);
void emu_lapic_ipi(struct emu_vcpu *v, const struct lapic_ipi *m);
void emu_lapic_eoi(void *ctx, uint8_t vector, bool level);
void emu_ioapic_deliver(void *ctx, const struct lapic_ipi *m);
/* IRQ0's acks and unmasks for the PIT's reinjection (ctx = the emu_vm) */
void emu_pic_acked(void *ctx, unsigned irq);
void emu_pic_unmasked(void *ctx, unsigned irq);
void emu_ioapic_acked(void *ctx, unsigned pin);
void emu_ioapic_unmasked(void *ctx, unsigned pin);
/* emu.c: fire due PIT edges and device (RTC) events; the next deadline */
uint64_t emu_timers_poll(struct emu_vm *vm, uint64_t now);
void emu_irq_raised(void *ctx);
void emu_wake(struct emu_vm *vm);
void emu_irq_wait(struct emu_vcpu *v, unsigned seq0, uint64_t deadline);
bool emu_gate_usable(struct emu_vcpu *v, uint32_t vector);

/* register helpers that cannot fail on a valid x86 engine */
uint64_t emu_rd(struct emu_vcpu *v, int reg);
void emu_wr(struct emu_vcpu *v, int reg, uint64_t val);
uint64_t emu_rd_msr(struct emu_vcpu *v, uint32_t msr);
void emu_wr_msr(struct emu_vcpu *v, uint32_t msr, uint64_t val);

#define EMU_MSR_EFER 0xc0000080u
#define EMU_EFER_LME (1ull << 8)
#define EMU_EFER_LMA (1ull << 10)
#define EMU_CR0_PE 0x1ull
#define EMU_CR0_ET 0x10ull
#define EMU_CR0_PG 0x80000000ull
#define EMU_CR4_PSE 0x10ull
#define EMU_CR4_PAE 0x20ull

#endif
