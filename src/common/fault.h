/*
 * fault: fault injection for test builds.  A named fault point guards one
 * step that can fail in real life (an mmap, an ioctl, a thread, a file
 * write); a test arms a point to make its Nth hit fail with a chosen errno
 * and checks that the caller fails cleanly.
 *
 * Built in only with `meson setup -Dfault_injection=true` (the CI builds of
 * scripts/test.sh); otherwise CV_FAULT() is the constant 0 and costs
 * nothing.  The armed point and the hit counters are the one piece of
 * process-wide state here, by nature (a fault hits whichever VM is being
 * built); a mutex guards them.  $CVISOR_FAULT="point:nth[:errno]" arms a
 * point at the first check, for the cvisor binary in shell tests.
 *
 * The points (fault.c's table; cv_fault_point() enumerates them):
 *   mem.mmap          guest RAM mmap (memory.c)
 *   kvm.create_vm     KVM_CREATE_VM
 *   kvm.set_memory    KVM_SET_USER_MEMORY_REGION
 *   kvm.create_vcpu   KVM_CREATE_VCPU
 *   kvm.vcpu_mmap     the kvm_run mmap of a vCPU
 *   emu.uc_open       uc_open of a vCPU's engine
 *   emu.mem_map       uc_mem_map_ptr of guest RAM / trampoline
 *   vm.thread         pthread_create of a vCPU runner thread
 *   data.mkdir        data directory creation
 *   reg.config_write  the config copy in the data directory
 *   console.open      console.log open
 *   devices.create    one device mapping on the bus
 *   boot.load         image load into guest RAM
 *   store.open        the daemon's definition temp file (store.c)
 *   store.write       its write
 *   store.fsync       its fsync, then the defs/ directory's
 *   store.rename      its rename to defs/<id>.json
 *   daemon.lock       the daemon's lock file open (server.c)
 *   daemon.accept     accept4 of a client connection
 *   daemon.recv       a read from a client connection
 *   daemon.send       a write to a client connection (session.c)
 *   daemon.worker     pthread_create of a worker thread
 *   daemon.seccomp_probe_worker, daemon.seccomp_probe_loop: not failures
 *                     but test hooks: the worker (main) thread calls a
 *                     forbidden socket(AF_INET) at the Nth request
 *                     (connection), to prove the daemon's filters
 */
#ifndef CV_FAULT_H
#define CV_FAULT_H

#include <stdbool.h>
#include <stddef.h>

/* 0, or the positive errno the armed point fails with (counts the hit). */
int cv_fault_check(const char *point);

#ifdef CV_FAULT_INJECTION
#define CV_FAULT(point) cv_fault_check(point)
#else
#define CV_FAULT(point) 0
#endif

/* Whether this build has fault points at all. */
bool cv_fault_enabled(void);

/* The i-th known point's name, or NULL past the end. */
const char *cv_fault_point(size_t i);

/*
 * Make the nth (1-based) hit of point, counted from now, fail with errnum
 * (0 = ENOMEM).  -ENOENT for an unknown point, -ENOTSUP when not built in.
 */
int cv_fault_arm(const char *point, unsigned nth, int errnum);
void cv_fault_disarm(void);
/* Whether the armed fault fired since cv_fault_arm(). */
bool cv_fault_fired(void);

/* Hits of point since the last cv_fault_reset_counts() (-1 unknown). */
long cv_fault_hits(const char *point);
void cv_fault_reset_counts(void);

#endif
