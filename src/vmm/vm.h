/*
 * vm: one virtual machine — its memory, bus, devices, console, backend
 * state and vCPU threads — and the VM state machine of SPEC §1.  A struct
 * vm owns everything it creates; nothing here is global.
 *
 * Threads: the caller of vm_* functions is the controller.  vCPU threads
 * (one per vCPU on kvm, one per VM on emu) are created parked when the VM
 * is created and joined by vm_destroy().  The controller talks to them only
 * through per-vCPU mailboxes (want/is) under the VM lock plus a kick.
 */
#ifndef CV_VM_H
#define CV_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "err.h"
#include "vmconfig.h"

struct vm;
struct console;
struct vm_devices;

enum vm_state {
	VM_LOADING,
	VM_LOADED,
	VM_RUNNING,
	VM_SUSPENDED,
	VM_STOPPING,
	VM_STOPPED,
};

enum vcpu_state {
	VCPU_INVALID,
	VCPU_CREATED,
	VCPU_FREE,
	VCPU_READY,
	VCPU_RUNNING,
	VCPU_BLOCKED,
};

/* Why the VM last went to Stopped. */
enum vm_stop_reason {
	VM_STOP_NONE,
	VM_STOP_DEBUG_EXIT,	/* guest wrote port 0xf4 */
	VM_STOP_POWEROFF,	/* guest powered off */
	VM_STOP_REBOOT,		/* reboot with on_reboot = stop */
	VM_STOP_REQUESTED,	/* vm stop (graceful or forced) */
	VM_STOP_ERROR,		/* backend error */
};

/* Host-side settings a VM is created with (not part of the guest config). */
struct vm_host_opts {
	const char *data_dir;		/* created if missing; NULL = no files */
	enum vm_accel accel_default;	/* used when the config says auto */
	bool force_reboot_stop;		/* cvisor run --no-reboot */
	uint64_t console_log_cap;	/* 0 = 16 MiB */
	bool no_seccomp;		/* threads run without filters */
	/*
	 * vCPU threads (emu: the runner) raise their nice by this much
	 * (0-19, capped at 19) above the thread that starts the VM, so that
	 * busy guests yield the CPU to the controlling threads (`vm list`,
	 * the daemon's loop).  0 = equal weight.
	 */
	int vcpu_nice;
	/*
	 * Tests only: called on each of the VM's threads right after it
	 * confined itself (what = "vCPU thread" or "reset thread").
	 */
	void (*thread_hook)(void *ctx, const char *what);
	void *thread_hook_ctx;
	/*
	 * Called on every state change after vm_create returned (not for
	 * Loading -> Loaded: the caller of vm_create knows that one), once
	 * per change and in order, with the VM lock held, from the thread
	 * that made it (a controller, or a vCPU thread when the guest stops
	 * or reboots itself): must be quick and must not call into this VM.
	 * reason/exit_code: as vm_stop_reason()/vm_exit_code() when
	 * new_state is Stopping or Stopped, else VM_STOP_NONE/-1.  A guest
	 * reboot in place (on_reboot = restart) is reported with
	 * old_state == new_state and reason VM_STOP_REBOOT.  NULL = none.
	 */
	void (*on_state)(void *ctx, struct vm *vm, enum vm_state old_state,
			 enum vm_state new_state, enum vm_stop_reason reason,
			 int exit_code);
	void *state_ctx;
};

struct vm_vcpu_info {
	enum vcpu_state state;
	int host_tid;			/* 0 until its thread ran */
	uint64_t exits_io, exits_mmio, exits_hlt, exits_shutdown,
		exits_kick, exits_other, runs;
	bool has_regs;			/* regs valid (parked vCPU) */
	struct cpu_regs regs;
};

struct vm_stats {
	uint64_t uptime_ns;		/* since the last start; 0 if never */
	uint64_t console_bytes;
	uint64_t reboots;
	bool has_boot_time;
	uint64_t boot_time_ns;		/* first port 0x80 write - start */
	uint64_t cpu_time_ns;		/* host CPU time of the vCPU threads */
	uint64_t unassigned_pio, unassigned_mmio;
};

/*
 * Create a VM (Loading -> Loaded): select the backend, map memory, build
 * devices and vCPUs, load the images.  Fails cleanly, undoing every step.
 */
int vm_create(const struct vm_config *cfg, uint32_t id,
	      const struct vm_host_opts *opts, struct vm **out,
	      struct cv_err *err);

/* Stop every vCPU (forced), join the threads, release everything. */
void vm_destroy(struct vm *vm);

/* Loaded/Stopped -> Running.  From Stopped this is a fresh boot. */
int vm_start(struct vm *vm, struct cv_err *err);

/*
 * Running -> Suspended: returns once every vCPU is parked outside guest
 * execution, or -ETIMEDOUT.  *parked_ns (optional) = time it took.
 */
int vm_suspend(struct vm *vm, uint64_t timeout_ns, uint64_t *parked_ns,
	       struct cv_err *err);
int vm_resume(struct vm *vm, struct cv_err *err);

/*
 * Stop.  Graceful: ask the guest (shutdown-request port 0x5f0 and the ACPI
 * power button: PWRBTN_STS, SCI when enabled), wait up to timeout_ns
 * (0 = 10 s) for it to power off, then force.  force: kick every vCPU out
 * at once.  Returns when the VM is Stopped.
 */
int vm_stop(struct vm *vm, bool force, uint64_t timeout_ns,
	    struct cv_err *err);

/*
 * The first half of a graceful stop, for a caller that waits by itself
 * (`cvisor run`: its main thread keeps flushing the console meanwhile):
 * asks the guest as vm_stop() does and returns at once, the VM Stopping
 * (Stopped when it never started).  Nothing forces it later: the caller
 * waits for Stopped and, past its own deadline, calls vm_stop(force).
 * Refused like vm_stop() (e.g. -EINVAL when the VM is Stopping already).
 */
int vm_stop_begin(struct vm *vm, struct cv_err *err);

/* Restart = stop (force or graceful with timeout), reset, start. */
int vm_restart(struct vm *vm, bool force, struct cv_err *err);

/* Wait until the VM is in state s; -ETIMEDOUT after timeout_ns (0 = ever). */
int vm_wait_state(struct vm *vm, enum vm_state s, uint64_t timeout_ns);

/* Wait until the VM is Stopped or the deadline passes. */
int vm_wait_stopped(struct vm *vm, uint64_t timeout_ns);

enum vm_state vm_state(struct vm *vm);
uint32_t vm_id(const struct vm *vm);
const struct vm_config *vm_config(const struct vm *vm);
const char *vm_backend_name(const struct vm *vm);
const char *vm_backend_why(const struct vm *vm);
struct console *vm_console(struct vm *vm);
enum vm_stop_reason vm_stop_reason(struct vm *vm);
/* The guest's debug-exit code, or -1 when it wrote none. */
int vm_exit_code(struct vm *vm);
/* Last backend error sentence ("" when none). */
void vm_last_error(struct vm *vm, char *buf, size_t len);

/*
 * The same reasons in words for people (`vm show --stats`): "powered
 * off", "debug exit", ...; "" for VM_STOP_NONE.
 */
const char *vm_stop_reason_text(enum vm_stop_reason r);

/* What the last boot load did (for `vm show --config`). */
struct vm_boot_info {
	char protocol[16];		/* "raw", "pvh", ... */
	uint64_t bsp_entry, ap_entry;	/* linear addresses */
	bool ap_sipi;			/* APs wait for INIT/SIPI (no ap_entry) */
	uint64_t acpi_rsdp;		/* 0: no ACPI tables, see acpi_why */
	char acpi_why[120];
};
void vm_boot_info(struct vm *vm, struct vm_boot_info *out);

/* Snapshot of the vCPUs (n = cpu_num entries) and counters. */
void vm_vcpu_info(struct vm *vm, struct vm_vcpu_info *out, unsigned n);
/*
 * The same, plus the VM state read under the same lock (one view);
 * regs = false skips the registers (cheaper: `vm list` needs none).
 */
enum vm_state vm_snapshot(struct vm *vm, struct vm_vcpu_info *out,
			  unsigned n, bool regs);
/* The device set and guest RAM, for `vm show --stats/--full`. */
struct vm_devices *vm_device_set(struct vm *vm);
const struct guest_mem *vm_guest_memory(const struct vm *vm);
void vm_get_stats(struct vm *vm, struct vm_stats *out);

const char *vm_state_name(enum vm_state s);
/* "none", "debug-exit", "poweroff", "reboot", "requested", "error". */
const char *vm_stop_reason_name(enum vm_stop_reason r);
const char *vcpu_state_name(enum vcpu_state s);
const char *vcpu_state_abbrev(enum vcpu_state s);

#endif
