/*
 * vmtest: helpers for guest-level tests — make a VM from a built-in guest
 * on the backend named by $CVISOR_TEST_ACCEL (emu by default), capture its
 * console, wait for text, count host threads/fds/RSS.
 */
#ifndef CV_VMTEST_H
#define CV_VMTEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "vm.h"
#include "vmconfig.h"


/* The accel under test; exits 77 (skip) with a reason when unusable. */
enum vm_accel vmtest_accel(void);
const char *vmtest_accel_name(void);

/* Load a config for built-in image `image` with extra TOML lines. */
void vmtest_config(struct vm_config *cfg, const char *image,
		   unsigned cpu_num, const char *extra_base);

/*
 * Load guests/configs/NAME.toml (GUEST_CONFIG_DIR) for the backend under
 * test; extra_kernel, when not NULL, is TOML lines appended to its
 * [kernel] table (before [devices]).  Fails the test on any error.
 */
void vmtest_load_guest_config(const char *name, struct vm_config *cfg,
			      const char *extra_kernel);

/*
 * Create a VM (fails the test on error) and attach a capture.  Its threads
 * are confined (seccomp) unless $VMTEST_NO_SECCOMP is set.
 */
struct vm *vmtest_create(const struct vm_config *cfg, struct capture *cap);
void vmtest_destroy(struct vm *vm, struct capture *cap);

/*
 * vmtest_load_guest_config(name), vmtest_create with `cap` attached, then
 * vm_start: the running VM.  Fails the test on any error.
 */
struct vm *vmtest_start_guest(const char *name, struct capture *cap);

/*
 * cmocka teardown: destroys every VM a failed test left behind, so one
 * failure cannot run into the next test (its capture lived on the failed
 * test's stack).
 */
int vmtest_teardown(void **state);

/*
 * Sanitizer builds run several times slower and ASan's quarantine keeps
 * freed memory resident; the kvm tier ($CVISOR_TEST_TIER) runs KVM nested
 * under a software CPU.  They check correctness with the same tests, but
 * latency bounds are multiplied by this factor (1 in plain builds on a
 * real host) and, in sanitizer builds, RSS growth is left to LeakSanitizer.
 */
unsigned vmtest_slowdown(void);
bool vmtest_sanitized(void);

/* Median of n samples (sorts them). */
uint64_t vmtest_median(uint64_t *v, size_t n);

/*
 * Fail the test: `what` on the backend under test, with the VM's state,
 * stop reason, exit code, last error and the console output so far.
 */
void vmtest_fail_vm(struct vm *vm, struct capture *cap, const char *what);

/* Fail the test unless `out` contains `want`. */
void vmtest_expect_out(const char *out, const char *want);

/*
 * Wait until the last "<prefix>N" in the console output from offset
 * `from` on has N >= n: returns tu_now_ns() then, with N in *seen
 * (when not NULL); 0 once the VM is no longer running or after timeout_ns.
 */
uint64_t vmtest_wait_number(struct vm *vm, struct capture *cap, size_t from,
			    const char *prefix, long n, long *seen,
			    uint64_t timeout_ns);

#endif
