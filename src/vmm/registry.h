/*
 * registry: the set of VMs one hypervisor process manages — the one piece
 * of process-wide state, owned by whoever runs the commands (the shell,
 * later the daemon).  It allocates ids (lowest free; a config's [base] id
 * is honoured, a clash is an error), finds VMs by id or name, hands out
 * consistent snapshots for `vm list`, owns each VM's data directory
 * (<state_dir>/vms/<id>-<name>/: config.toml, console.log) and deletes VMs
 * in the order of SPEC §1.
 *
 * Handles are reference counted: a handle returned by a lookup stays
 * valid (memory, and the struct vm while the VM is listed) until
 * reg_vm_put(), even when another thread deletes the VM meanwhile.  delete
 * removes the VM from the table first (no new lookup finds it), then waits
 * for the other holders to let go before it joins the vCPU threads, so a
 * holder that may block for long (vm wait, console attach) must watch
 * reg_vm_deleted() and let go promptly.  Every function is thread-safe.
 *
 * Events: listeners (registry_add_listener) hear every VM created, state
 * change and deletion, for `cvisor events` and the daemon's log.
 */
#ifndef CV_REGISTRY_H
#define CV_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hostopts.h"
#include "vm.h"
#include "vmconfig.h"

#define REGISTRY_MAX_VMS_DEFAULT 1024u

struct registry;
struct reg_vm;

struct registry_opts {
	const char *state_dir;		/* data dirs under <state_dir>/vms;
					   NULL or "" = no files */
	enum vm_accel accel_default;	/* for configs that say auto */
	uint32_t max_vms;		/* 0 = 1024 */
	uint64_t console_log_cap;	/* 0 = 16 MiB */
	uint64_t max_memory;		/* guest RAM of all VMs; 0 = host RAM */
	uint32_t max_vcpus;		/* per VM; 0 = 64 */
	bool no_seccomp;		/* VM threads without seccomp filters */
	int vcpu_nice;			/* vm_host_opts.vcpu_nice (0 = none) */
	/*
	 * Tests only: called while a new VM is listed as Loading, before its
	 * machine is built (e.g. to hold it there).  NULL = none.
	 */
	void (*loading_hook)(void *ctx, uint32_t id);
	void *hook_ctx;
};

/* Copy the shared host options (--no-seccomp, limits) into ro. */
void registry_opts_set_host(struct registry_opts *ro,
			    const struct host_opts *h);

int registry_create(const struct registry_opts *opts, struct registry **out,
		    struct cv_err *err);

/*
 * Stop (forced) and destroy every VM still listed, removing their data
 * directories unless keep_data.  No command may run concurrently.
 */
void registry_destroy(struct registry *r, bool keep_data);

/*
 * Create a VM from a validated config: reserve its id (listed as Loading
 * meanwhile), prepare its data directory with a copy of the config, build
 * the machine (Loaded).  On failure nothing stays behind.  -ENOSPC when a
 * host limit refuses it (hostopts.h): err says which ("total guest memory
 * would be 5 GiB, limit 4 GiB (--max-memory)") and *id_out gets the id
 * the VM would have had, for "VM[3] refused: ...".
 */
int registry_add(struct registry *r, const struct vm_config *cfg,
		 uint32_t *id_out, struct cv_err *err);

/*
 * Find a listed VM by id (all digits) or by name and take a reference.
 * -ENOENT when there is none, -EEXIST when a name matches several VMs.
 */
int registry_lookup(struct registry *r, const char *key, struct reg_vm **out,
		    struct cv_err *err);
struct reg_vm *registry_get(struct registry *r, uint32_t id);	/* or NULL */
/* Another reference to a handle the caller holds. */
struct reg_vm *reg_vm_ref(struct reg_vm *v);
void reg_vm_put(struct reg_vm *v);

/* References to every listed VM, by id, taken atomically. */
int registry_snapshot(struct registry *r, struct reg_vm ***out, size_t *n);
void registry_snapshot_free(struct reg_vm **vms, size_t n);
size_t registry_count(struct registry *r);

uint32_t reg_vm_id(const struct reg_vm *v);
const char *reg_vm_name(const struct reg_vm *v);
const struct vm_config *reg_vm_config(const struct reg_vm *v);
const char *reg_vm_data_dir(const struct reg_vm *v);	/* "" = none */
bool reg_vm_deleted(struct reg_vm *v);
/*
 * True from the moment a delete passed its checks (it then always
 * succeeds), before it force-stops the VM: a watcher that sees the VM stop
 * can tell a delete from a stop.  reg_vm_deleted() follows once unlisted.
 */
bool reg_vm_deleting(struct reg_vm *v);

/* The machine; NULL while Loading (or after a failed load). */
struct vm *reg_vm_vm(struct reg_vm *v);

/* The VM state (Loading while the machine is being built). */
enum vm_state reg_vm_state(struct reg_vm *v);

/* State and vCPU states read together (n = cpu_num entries). */
enum vm_state reg_vm_snapshot(struct reg_vm *v, struct vm_vcpu_info *out,
			      unsigned n, bool regs);

/* Wait until the VM left Loading; -ENOENT when its load failed. */
int reg_vm_wait_loaded(struct reg_vm *v);

/*
 * Serialize the commands that can make a VM Running (start, resume,
 * restart) with delete's validation: after a successful lock the VM is
 * not deleted until the matching unlock.  -ENOENT when it was deleted
 * meanwhile (nothing is locked then).  Stop and suspend need not take it:
 * they only move a VM towards states delete accepts or refuses anyway.
 */
int reg_vm_lock_op(struct reg_vm *v);
void reg_vm_unlock_op(struct reg_vm *v);

/*
 * Delete (SPEC §1 order): validate the state (Running, Suspended,
 * Stopping and Loading refused without force; *state_seen gets the state
 * that was judged), force-stop a live VM, remove it from the table, wait
 * for the other references, join its vCPU threads and release it, then
 * remove its data directory unless keep_data.  The caller's reference
 * stays valid (put it afterwards).
 * Returns 0 when deleted; 1 when deleted but the data directory could not
 * be removed (err says why); -EBUSY/-EINVAL when refused (err = the
 * refusal text of vmstate.h); -ENOENT when it was already gone.
 */
int registry_delete(struct registry *r, struct reg_vm *v, bool force,
		    bool keep_data, enum vm_state *state_seen,
		    struct cv_err *err);

/* ---- events ------------------------------------------------------------ */

enum reg_event_kind {
	REG_EVENT_CREATED,	/* listed (state = Loading) by registry_add */
	REG_EVENT_STATE,		/* old_state -> new_state */
	REG_EVENT_REBOOTED,	/* the guest rebooted in place (on_reboot =
				   restart); the state stays Running */
	REG_EVENT_DELETED,	/* unlisted by delete, or its load failed */
};

/*
 * One event.  Per VM, events come in the order the changes happened:
 * CREATED (Loading), then STATE Loading -> Loaded (or DELETED when the
 * load failed), then one STATE per transition of the SPEC §1 machine
 * (e.g. Running -> Stopping -> Stopped when the guest powers off, with
 * reason poweroff; Loaded -> Running; Stopped -> Running on a restart),
 * REBOOTED for each in-place guest reboot, and finally DELETED when
 * delete takes it out of the table (a live VM is force-stopped first, so
 * its Stopping/Stopped come before).  Nothing of that VM follows DELETED
 * (a change racing with the delete is dropped), and a new VM that reuses
 * the id gets its CREATED after the old one's DELETED.
 */
struct reg_event {
	enum reg_event_kind kind;
	uint64_t seq;			/* per registry, 1, 2, 3, ... in
					   delivery order */
	uint64_t time_ns;		/* CLOCK_REALTIME */
	uint32_t id;
	const char *name;		/* valid during the call only */
	/*
	 * STATE: the transition.  CREATED: both Loading.  REBOOTED: both the
	 * current state.  DELETED: both the last state the VM had.
	 */
	enum vm_state old_state, new_state;
	/*
	 * STATE to Stopping/Stopped: why (poweroff, debug-exit, reboot with
	 * on_reboot = stop, requested, error).  REBOOTED: VM_STOP_REBOOT.
	 * Else VM_STOP_NONE.
	 */
	enum vm_stop_reason reason;
	int exit_code;			/* debug-exit code, -1 = none */
};

typedef void (*registry_listener_fn)(void *ctx, const struct reg_event *e);

/*
 * Register fn(ctx, event) for every later event.  fn is called from the
 * thread that caused the change (a command's thread, or a vCPU thread when
 * the guest powers off or reboots by itself), possibly while that thread
 * holds the VM's lock, and never concurrently with another call of any
 * listener of this registry (deliveries are serialized, in seq order).
 * So fn must be quick and must not call into the registry (listener
 * functions included) or a struct vm: copy what it needs (e.g. queue it and wake a
 * loop).  -ENOMEM, or -EEXIST when (fn, ctx) is registered already.
 */
int registry_add_listener(struct registry *r, registry_listener_fn fn,
			  void *ctx);
/*
 * Unregister (fn, ctx).  When it returns, no call of fn with ctx is
 * running or will start.  Must not be called from a listener.
 */
void registry_remove_listener(struct registry *r, registry_listener_fn fn,
			      void *ctx);

/* "created", "state", "rebooted", "deleted" */
const char *reg_event_kind_name(enum reg_event_kind k);

#endif
