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

#include "vm.h"
#include "vmconfig.h"

struct capture {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *buf;
	size_t len, cap;
	int listener;
	struct vm *vm;
};

/* The accel under test; exits 77 (skip) with a reason when unusable. */
enum vm_accel vmtest_accel(void);
const char *vmtest_accel_name(void);

/* Load a config for built-in image `image` with extra TOML lines. */
void vmtest_config(struct vm_config *cfg, const char *image,
		   unsigned cpu_num, const char *extra_base);

/*
 * Create a VM (fails the test on error) and attach a capture.  Its threads
 * are confined (seccomp) unless $VMTEST_NO_SECCOMP is set.
 */
struct vm *vmtest_create(const struct vm_config *cfg, struct capture *cap);
void vmtest_destroy(struct vm *vm, struct capture *cap);

/*
 * cmocka teardown: destroys every VM a failed test left behind, so one
 * failure cannot run into the next test (its capture lived on the failed
 * test's stack).
 */
int vmtest_teardown(void **state);

/* Wait until the output from offset `from` contains s; false on timeout. */
bool capture_wait(struct capture *c, size_t from, const char *s,
		  uint64_t timeout_ms);
size_t capture_len(struct capture *c);
/* Copy of the output (NUL-terminated, caller frees). */
char *capture_copy(struct capture *c);
/* The largest N in lines "<prefix>N" at or after offset from; -1 if none. */
long capture_last_number(struct capture *c, size_t from, const char *prefix);
/* The first N in lines "<prefix>N" at or after offset from; -1 if none. */
long capture_first_number(struct capture *c, size_t from, const char *prefix);

uint64_t vmtest_now_ns(void);

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

#endif
