/*
 * Guest-level tests of the VM layer over real test guests, on the backend
 * named by $CVISOR_TEST_ACCEL (emu | kvm).  Each test watches the guest's
 * own output, so it proves behaviour, not only return codes.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "console.h"
#include "testutil.h"
#include "vmtest.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define T_OUT 20000	/* ms: generous, the kvm tier runs under TCG */

static void run_to_stop(const char *image, struct capture *cap,
			struct vm **out)
{
	struct vm_config cfg;
	vmtest_config(&cfg, image, 1, NULL);
	struct vm *vm = vmtest_create(&cfg, cap);
	struct cv_err err = {0};
	assert_int_equal(vm_start(vm, &err), 0);
	assert_int_equal(vm_wait_stopped(vm, 30 * SEC), 0);
	*out = vm;
}

static void test_demo(void **state)
{
	(void)state;
	struct capture cap;
	struct vm *vm;
	run_to_stop("demo", &cap, &vm);
	assert_true(capture_wait(&cap, 0, "Hello from the cvisor demo guest", 1));
	assert_int_equal(vm_state(vm), VM_STOPPED);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm_exit_code(vm), 0);
	vmtest_destroy(vm, &cap);
}

static void test_exitcode(void **state)
{
	(void)state;
	struct capture cap;
	struct vm *vm;
	run_to_stop("exitcode", &cap, &vm);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm_exit_code(vm), 42);
	struct vm_vcpu_info vi;
	vm_vcpu_info(vm, &vi, 1);
	assert_int_equal(vi.state, VCPU_FREE);
	vmtest_destroy(vm, &cap);
}

static void test_longmode(void **state)
{
	(void)state;
	struct capture cap;
	struct vm *vm;
	run_to_stop("longmode", &cap, &vm);
	assert_true(capture_wait(&cap, 0, "longmode: ok", 1));
	assert_int_equal(vm_exit_code(vm), 0);
	vmtest_destroy(vm, &cap);
}

/* AxVisor's x86 layout: BIOS stub at 0x8000 -> protected mode -> 0x200000 */
static void test_axvisor_layout(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct vmcfg_diags d = {0};
	int rc = vmcfg_load_file(GUEST_CONFIG_DIR "/axvisor.toml", &cfg, &d,
				 NULL);
	vmcfg_diags_free(&d);
	assert_int_equal(rc, 0);
	cfg.accel = vmtest_accel();
	struct capture cap;
	struct cv_err err = {0};
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_int_equal(vm_wait_stopped(vm, 30 * SEC), 0);
	assert_true(capture_wait(&cap, 0, "axkernel: magic ok", 1));
	assert_int_equal(vm_exit_code(vm), 0);
	vmtest_destroy(vm, &cap);
}

/* suspend parks the ticker: no output for 300 ms; resume continues at N+1 */
static void test_ticker_suspend_resume(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "ticker", 1, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "tick 2\n", T_OUT));

	enum { rounds = 11 };
	uint64_t lat[rounds];
	for (int i = 0; i < rounds; i++) {
		uint64_t parked = 0;
		assert_int_equal(vm_suspend(vm, SEC, &parked, &err), 0);
		assert_int_equal(vm_state(vm), VM_SUSPENDED);
		struct vm_vcpu_info vi;
		vm_vcpu_info(vm, &vi, 1);
		assert_int_equal(vi.state, VCPU_BLOCKED);
		assert_true(vi.has_regs);
		lat[i] = parked;
		console_flush(vm_console(vm));
		size_t before = capture_len(&cap);
		long last = capture_last_number(&cap, 0, "tick ");
		if (i == 0) {
			usleep(300000);
			assert_int_equal(capture_len(&cap), before);
		}
		assert_int_equal(vm_resume(vm, &err), 0);
		char next[32];
		snprintf(next, sizeof(next), "tick %ld\n", last + 1);
		assert_true(capture_wait(&cap, before, next, T_OUT));
		/* the first tick after resume is exactly last+1 */
		assert_int_equal(capture_first_number(&cap, before, "tick "),
				 last + 1);
	}
	uint64_t med = vmtest_median(lat, rounds);
	print_message("suspend (%s): median %.1f us, worst %.1f us over %d\n",
		      vmtest_accel_name(), (double)med / 1e3,
		      (double)lat[rounds - 1] / 1e3, rounds);
	assert_true(med < 1 * MS * vmtest_slowdown());
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	vmtest_destroy(vm, &cap);
}

static void test_ticker_graceful_stop(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "ticker", 1, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "tick 1\n", T_OUT));
	assert_int_equal(vm_stop(vm, false, 10 * SEC, &err), 0);
	assert_int_equal(vm_state(vm), VM_STOPPED);
	assert_true(capture_wait(&cap, 0, "ticker: shutdown requested", 1));
	/* the guest shut itself down: it wrote its exit code */
	assert_int_equal(vm_exit_code(vm), 0);
	vmtest_destroy(vm, &cap);
}

/*
 * vm_stop_begin: the graceful stop's request alone (cvisor run waits by
 * itself).  It returns at once with the VM Stopping: lastwords answers
 * the request with "lastwords: bye" and never powers off, so the VM stays
 * Stopping until forced; ticker answers it by exiting.
 */
static void test_stop_begin(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "lastwords", 1, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "lastwords: start\n", T_OUT));
	assert_int_equal(vm_stop_begin(vm, &err), 0);
	assert_int_equal(vm_state(vm), VM_STOPPING);
	assert_true(capture_wait(&cap, 0, "lastwords: bye", T_OUT));
	assert_int_equal(vm_state(vm), VM_STOPPING);
	/* asked already: refused, like vm_stop */
	assert_int_equal(vm_stop_begin(vm, &err), -EINVAL);
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	assert_int_equal(vm_state(vm), VM_STOPPED);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_REQUESTED);
	vmtest_destroy(vm, &cap);

	vmtest_config(&cfg, "ticker", 1, NULL);
	vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "tick 1\n", T_OUT));
	assert_int_equal(vm_stop_begin(vm, &err), 0);
	assert_int_equal(vm_wait_stopped(vm, 10 * SEC * vmtest_slowdown()), 0);
	assert_true(capture_wait(&cap, 0, "ticker: shutdown requested", 1));
	assert_int_equal(vm_exit_code(vm), 0);
	vmtest_destroy(vm, &cap);
}

static void test_ticker_restart_from_zero(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "ticker", 1, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "tick 3\n", T_OUT));
	/*
	 * The new boot may print before vm_restart returns, so mark first:
	 * the old run was past tick 3, so a "tick 0" after the mark is the
	 * fresh boot, and nothing of the old run follows it.
	 */
	console_flush(vm_console(vm));
	size_t mark = capture_len(&cap);
	assert_int_equal(vm_restart(vm, true, &err), 0);
	assert_int_equal(vm_state(vm), VM_RUNNING);
	assert_true(capture_wait(&cap, mark, "tick 0\n", T_OUT));
	char *out = capture_copy(&cap);
	size_t zero = (size_t)(strstr(out + mark, "tick 0\n") - out);
	free(out);
	assert_true(capture_wait(&cap, zero, "tick 1\n", T_OUT));
	/* the tick right after the fresh "tick 0" is 1: no old output */
	assert_int_equal(capture_first_number(&cap, zero + strlen("tick 0\n"),
					      "tick "), 1);
	/* stop, then start again: also a fresh boot */
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	mark = capture_len(&cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, mark, "tick 1\n", T_OUT));
	assert_int_equal(capture_first_number(&cap, mark, "tick "), 0);
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	vmtest_destroy(vm, &cap);
}

static void test_spinner_force_stop(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "spinner", 1, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "spinner: start", T_OUT));
	usleep(50000);
	/* kicking a guest that never exits */
	enum { rounds = 11 };
	uint64_t lat[rounds];
	for (int i = 0; i < rounds; i++) {
		assert_int_equal(vm_suspend(vm, SEC, &lat[i], &err), 0);
		assert_int_equal(vm_resume(vm, &err), 0);
		usleep(2000);
	}
	uint64_t med = vmtest_median(lat, rounds);
	print_message("spinner suspend: median %.1f us, worst %.1f us\n",
		      (double)med / 1e3, (double)lat[rounds - 1] / 1e3);
	assert_true(med < 1 * MS * vmtest_slowdown());
	usleep(20000);
	uint64_t t0 = tu_now_ns();
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	uint64_t dt = tu_now_ns() - t0;
	print_message("spinner force stop: %.1f us\n", (double)dt / 1e3);
	assert_true(dt < 100 * MS * vmtest_slowdown());
	assert_int_equal(vm_state(vm), VM_STOPPED);
	vmtest_destroy(vm, &cap);
}

static void test_reboot_resets(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "reboot", 1, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_true(capture_wait(&cap, 0, "reboot: booting", T_OUT));
	size_t mark = capture_len(&cap);
	assert_true(capture_wait(&cap, mark, "reboot: booting", T_OUT));
	struct vm_stats st;
	vm_get_stats(vm, &st);
	assert_true(st.reboots >= 1);
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	vmtest_destroy(vm, &cap);

	/* on_reboot = "stop": the first reboot request stops the VM */
	vmtest_config(&cfg, "reboot", 1, "on_reboot = \"stop\"");
	vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	assert_int_equal(vm_wait_stopped(vm, 30 * SEC), 0);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_REBOOT);
	vmtest_destroy(vm, &cap);
}

static void test_smp4(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct capture cap;
	struct cv_err err = {0};
	vmtest_config(&cfg, "smp4", 4, NULL);
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	for (int c = 0; c < 4; c++) {
		char want[32];
		snprintf(want, sizeof(want), "cpu%d tick 1", c);
		assert_true(capture_wait(&cap, 0, want, T_OUT));
	}
	uint64_t parked = 0;
	assert_int_equal(vm_suspend(vm, SEC, &parked, &err), 0);
	print_message("smp4 suspend: %.1f us\n", (double)parked / 1e3);
	struct vm_vcpu_info vi[4];
	vm_vcpu_info(vm, vi, 4);
	for (int c = 0; c < 4; c++)
		assert_int_equal(vi[c].state, VCPU_BLOCKED);
	assert_int_equal(vm_resume(vm, &err), 0);
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	vmtest_destroy(vm, &cap);
}

/* create/run/destroy cycles leave threads, fds and RSS at baseline */
static void test_cycles_no_leak(void **state)
{
	(void)state;
	const char *env = getenv("CVISOR_TEST_CYCLES");
	int n = env ? atoi(env) : 500;
	struct vm_config cfg;
	vmtest_config(&cfg, "exitcode", 1, NULL);
	struct cv_err err = {0};

	/* warm up allocator and libraries first */
	for (int i = 0; i < 20; i++) {
		struct vm *vm = vmtest_create(&cfg, NULL);
		assert_int_equal(vm_start(vm, &err), 0);
		assert_int_equal(vm_wait_stopped(vm, 30 * SEC), 0);
		vmtest_destroy(vm, NULL);
	}
	int th0 = tu_thread_count(), fd0 = tu_fd_count();
	long rss0 = tu_rss_kb();
	uint64_t t0 = tu_now_ns();
	for (int i = 0; i < n; i++) {
		struct vm *vm = vmtest_create(&cfg, NULL);
		assert_int_equal(vm_start(vm, &err), 0);
		assert_int_equal(vm_wait_stopped(vm, 30 * SEC), 0);
		assert_int_equal(vm_exit_code(vm), 42);
		vmtest_destroy(vm, NULL);
	}
	double secs = (double)(tu_now_ns() - t0) / 1e9;
	int th1 = tu_thread_count(), fd1 = tu_fd_count();
	long rss1 = tu_rss_kb();
	print_message("%d cycles in %.2f s (%.0f/s); threads %d->%d, fds %d->%d, "
		      "RSS %ld->%ld KiB\n", n, secs, n / secs, th0, th1, fd0,
		      fd1, rss0, rss1);
	assert_int_equal(th1, th0);
	assert_int_equal(fd1, fd0);
	if (!vmtest_sanitized())
		assert_true(rss1 - rss0 < 8 * 1024);
}

static void test_fifty_vms(void **state)
{
	(void)state;
	/*
	 * The kvm tier's own kernel (6.1, nested SVM under QEMU TCG) panicked
	 * here under TSan in 2 of 6 TSan tier runs of 2026-12-06/07
	 * ("corrupted stack end detected inside scheduler"; none in the
	 * release and ASan tier runs of those days).  The tier's retry boots
	 * cover one or two; three in a row would fail CI.  The test still
	 * runs under TSan on emu and on kvm in the release and ASan tiers.
	 */
	if (CV_TEST_TSAN && getenv("CVISOR_TEST_TIER") &&
	    !strcmp(vmtest_accel_name(), "kvm")) {
		print_message("skipped: 50 VMs under TSan panic the kvm tier's "
			      "kernel (the test runs on emu under TSan and on "
			      "kvm in the release and ASan tiers)\n");
		skip();
	}
	enum { N = 50 };
	struct vm *vms[N];
	struct capture *caps = calloc(N, sizeof(*caps));
	struct cv_err err = {0};
	struct vm_config cfg;
	vmtest_config(&cfg, "ticker", 1, NULL);
	for (int i = 0; i < N; i++) {
		vms[i] = vmtest_create(&cfg, &caps[i]);
		assert_int_equal(vm_start(vms[i], &err), 0);
	}
	for (int i = 0; i < N; i++)
		assert_true(capture_wait(&caps[i], 0, "tick 1\n", 4 * T_OUT));
	for (int i = 0; i < N; i++)
		assert_int_equal(vm_state(vms[i]), VM_RUNNING);
	for (int i = 0; i < N; i++) {
		assert_int_equal(vm_stop(vms[i], true, 0, &err), 0);
		vmtest_destroy(vms[i], &caps[i]);
	}
	free(caps);
}

int main(void)
{
	vmtest_accel();
	printf("backend under test: %s\n", vmtest_accel_name());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_demo, vmtest_teardown),
		cmocka_unit_test_teardown(test_exitcode, vmtest_teardown),
		cmocka_unit_test_teardown(test_longmode, vmtest_teardown),
		cmocka_unit_test_teardown(test_axvisor_layout, vmtest_teardown),
		cmocka_unit_test_teardown(test_ticker_suspend_resume, vmtest_teardown),
		cmocka_unit_test_teardown(test_ticker_graceful_stop, vmtest_teardown),
		cmocka_unit_test_teardown(test_stop_begin, vmtest_teardown),
		cmocka_unit_test_teardown(test_ticker_restart_from_zero, vmtest_teardown),
		cmocka_unit_test_teardown(test_spinner_force_stop, vmtest_teardown),
		cmocka_unit_test_teardown(test_reboot_resets, vmtest_teardown),
		cmocka_unit_test_teardown(test_smp4, vmtest_teardown),
		cmocka_unit_test_teardown(test_cycles_no_leak, vmtest_teardown),
		cmocka_unit_test_teardown(test_fifty_vms, vmtest_teardown),
	};
	return cmocka_run_group_tests_name(vmtest_accel_name(), tests, NULL,
					   NULL);
}
