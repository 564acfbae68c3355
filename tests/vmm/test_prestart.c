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

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "testutil.h"
#include "uc_lazy.h"
#include "vmconfig.h"

/* Exit codes of the child. */
enum { OK, LOADED_BEFORE, NOT_LOADED, LOAD_FAILED, NO_SPARE, SPARE_TWICE,
       SPARE_UNUSABLE };

static int child(void *arg)
{
	enum vm_accel hint = *(const enum vm_accel *)arg;
	if (uc_lazy_done())
		return LOADED_BEFORE;
	backend_prestart(hint);
	/*
	 * Taking the spare waits for the prestart's thread, which loads the
	 * library first; nothing here loads it.
	 */
	uc_engine *e = uc_lazy_take_spare();
	if (!uc_lazy_done())
		return NOT_LOADED;
	char err[256];
	if (uc_lazy_load(err, sizeof(err)))
		return LOAD_FAILED;
	/* and the spare engine, initialised, for the first vCPU, once */
	if (!e)
		return NO_SPARE;
	uint64_t rip = 0;
	bool usable = uc_reg_read(e, UC_X86_REG_RIP, &rip) == UC_ERR_OK;
	uc_close(e);
	if (!usable)
		return SPARE_UNUSABLE;
	return uc_lazy_take_spare() ? SPARE_TWICE : OK;
}

/* Without a preload there is no spare, and asking does not wait. */
static int child_no_preload(void *arg)
{
	(void)arg;
	return uc_lazy_take_spare() ? SPARE_TWICE : OK;
}

/* fn in a fresh process (the load happens once per process) exits OK. */
static void expect_ok_in_child(int (*fn)(void *), void *arg)
{
	char err[4096];
	int st = tu_fork_capture(fn, arg, err, sizeof(err), 60);
	if (st == -ETIMEDOUT)
		fail_msg("the child hung (stderr: %s)", err);
	assert_true(st >= 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), OK);
}

static void run_child(enum vm_accel hint)
{
	expect_ok_in_child(child, &hint);
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

static void test_no_preload_no_spare(void **state)
{
	(void)state;
	expect_ok_in_child(child_no_preload, NULL);
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
