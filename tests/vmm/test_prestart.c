/*
 * backend_prestart() for VMs that will run on emu: libunicorn (a 19 MB
 * library, ~11 ms of dlopen) starts loading on a helper thread at once,
 * so `cvisor run` overlaps it with its config and the VM's
 * backend-independent set-up, then makes the first vCPU's engine (its
 * first-use initialisation, ~4 ms).  Each case runs in a fresh child process:
 * the load happens once per process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "uc_lazy.h"
#include "vmconfig.h"

/* Exit codes of the child. */
enum { OK, LOADED_BEFORE, NOT_LOADED, LOAD_FAILED, NO_SPARE, SPARE_TWICE,
       SPARE_UNUSABLE };

static int child(enum vm_accel hint)
{
	if (uc_lazy_done())
		return LOADED_BEFORE;
	backend_prestart(hint);
	/* nothing here loads it: only the prestart's thread can */
	struct timespec t0, t, ms = { 0, 1000000 };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!uc_lazy_done()) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 30)
			return NOT_LOADED;
		nanosleep(&ms, NULL);
	}
	char err[256];
	if (uc_lazy_load(err, sizeof(err)))
		return LOAD_FAILED;
	/* and the spare engine, initialised, for the first vCPU, once */
	uc_engine *e = uc_lazy_take_spare();
	if (!e)
		return NO_SPARE;
	uint64_t rip = 0;
	bool usable = uc_reg_read(e, UC_X86_REG_RIP, &rip) == UC_ERR_OK;
	uc_close(e);
	if (!usable)
		return SPARE_UNUSABLE;
	return uc_lazy_take_spare() ? SPARE_TWICE : OK;
}

static void run_child(enum vm_accel hint)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(hint));
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), OK);
}

static void test_emu_hint_loads_unicorn(void **state)
{
	(void)state;
	run_child(VM_ACCEL_EMU);
}

/* auto without a usable /dev/kvm means emu: the same preload. */
static void test_auto_without_kvm_loads_unicorn(void **state)
{
	(void)state;
	if (!access("/dev/kvm", R_OK | W_OK)) {
		print_message("skipped: /dev/kvm is usable here, so auto "
			      "prestarts kvm instead\n");
		skip();
	}
	run_child(VM_ACCEL_AUTO);
}

/* Without a preload there is no spare, and asking does not wait. */
static void test_no_preload_no_spare(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(uc_lazy_take_spare() ? SPARE_TWICE : OK);
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emu_hint_loads_unicorn),
		cmocka_unit_test(test_auto_without_kvm_loads_unicorn),
		cmocka_unit_test(test_no_preload_no_spare),
	};
	return cmocka_run_group_tests_name("backend-prestart", tests, NULL,
					   NULL);
}
