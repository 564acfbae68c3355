/*
 * test_apic_guests: the LAPIC and SMP start by INIT/SIPI end to end
 * through the VM layer, on the backend named by $CVISOR_TEST_ACCEL (emu:
 * cvisor's LAPIC model, src/devices/lapic.c; kvm: the in-kernel LAPIC).
 * Guests and configs come from guests/ (owner: apic).
 *
 *   smp_sipi      the BSP starts the AP with INIT/SIPI/SIPI through its
 *                 ICR; the AP reaches protected mode, reads APIC ID 1,
 *                 prints "ap 1 up" and its ticks; exit 0.  Started twice
 *                 (a restart rebuilds the machine: the AP waits again).
 *   waiting_ap    irqtick with 2 vCPUs and ap_start = "sipi": its BSP never
 *                 sends a SIPI, so the AP waits for good; suspend, resume,
 *                 graceful stop, restart and forced stop must still work
 *                 (the kick reaches an AP blocked waiting for SIPI).
 *   ap_start_cfg  the config loader's ap_start checks and the boot info
 *                 (`vm show --config` AP entry) of each choice.
 *   lapictimer    the LAPIC timer, periodic at 50 Hz (calibrated by the
 *                 guest against the PIT), ticks within 10%.
 *   ioapictick    the PIT through IOAPIC pin 2 (the MADT's override of
 *                 ISA IRQ 0) to the LAPIC, 8259s masked: 50 Hz within
 *                 10%.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"
#include "vmtest.h"

#define SEC 1000000000ull
#define TICK_HZ 100	/* irqtick (guests/meson.build guest_tick_hz) */
#define APIC_TICK_HZ 50	/* lapictimer, ioapictick (guest_apic_tick_hz) */
#define TICK_PRINT 10

static int load_text(const char *text, struct vm_config *cfg,
		     struct vmcfg_diags *d)
{
	return vmcfg_load_string(text, strlen(text), "<test>", GUEST_CONFIG_DIR,
				 cfg, d, NULL);
}

static void test_smp_sipi(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("smp_sipi", &cfg, NULL);
	struct capture cap;
	struct vm *vm = vmtest_create(&cfg, &cap);
	struct cv_err err = { 0 };
	struct vm_boot_info bi;
	for (int round = 0; round < 2; round++) {
		size_t from = capture_len(&cap);
		assert_int_equal(vm_start(vm, &err), 0);
		vm_boot_info(vm, &bi);
		assert_true(bi.ap_sipi);
		int rc = vm_wait_stopped(vm, 60 * SEC * vmtest_slowdown());
		if (rc || vm_stop_reason(vm) != VM_STOP_DEBUG_EXIT ||
		    vm_exit_code(vm) != 0)
			vmtest_fail_vm(vm, &cap, "smp_sipi");
		char *all = capture_copy(&cap);
		const char *out = all + from;
		vmtest_expect_out(out, "smp_sipi: bsp up\n");
		vmtest_expect_out(out, "ap 1 up\n");
		vmtest_expect_out(out, "ap 1 tick 2\n");
		vmtest_expect_out(out, "smp_sipi: ap done\n");
		/* the AP ran only after the BSP sent the IPIs */
		assert_true(strstr(out, "smp_sipi: sending") <
			    strstr(out, "ap 1 up"));
		printf("# smp_sipi round %d on %s: AP started by INIT/SIPI\n",
		       round, vmtest_accel_name());
		free(all);
	}
	vmtest_destroy(vm, &cap);
}

static void test_waiting_ap(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("irqtick", &cfg, NULL);
	cfg.cpu_num = 2;
	cfg.ap_start = VM_AP_START_SIPI;
	struct capture cap;
	struct vm *vm = vmtest_create(&cfg, &cap);
	struct cv_err err = { 0 };
	unsigned slow = vmtest_slowdown();
	for (int round = 0; round < 2; round++) {
		size_t from = capture_len(&cap);
		assert_int_equal(vm_start(vm, &err), 0);
		if (!vmtest_wait_number(vm, &cap, from, "irq tick ", 20, NULL,
					30 * SEC * slow))
			vmtest_fail_vm(vm, &cap, "no ticks with an AP waiting for SIPI");
		/* both idle (BSP in `sti; hlt`, AP waiting): the thread sleeps */
		struct vm_stats s1, s2;
		vm_get_stats(vm, &s1);
		uint64_t t1 = tu_now_ns();
		usleep(1000000);
		vm_get_stats(vm, &s2);
		double secs = (double)(tu_now_ns() - t1) / 1e9;
		double cpu = (double)(s2.cpu_time_ns - s1.cpu_time_ns) / 1e9;
		printf("# %s: BSP idle at 100 Hz + AP waiting for SIPI: vCPU thread(s) CPU %.3f s in %.3f s (%.1f%%)\n",
		       vmtest_accel_name(), cpu, secs, 100.0 * cpu / secs);
		if (!strcmp(vmtest_accel_name(), "emu") && !vmtest_sanitized())
			assert_true(cpu < secs * 0.10);
		uint64_t parked = 0;
		if (vm_suspend(vm, 5 * SEC * slow, &parked, &err))
			fail_msg("suspend with an AP waiting for SIPI: %s",
				 err.msg);
		printf("# %s: suspend parked the BSP and the waiting AP in %.1f us\n",
		       vmtest_accel_name(), (double)parked / 1e3);
		struct vm_vcpu_info info[2];
		vm_vcpu_info(vm, info, 2);
		assert_int_equal(info[1].state, VCPU_BLOCKED);
		assert_int_equal(vm_resume(vm, &err), 0);
		long t = capture_last_number(&cap, from, "irq tick ");
		if (!vmtest_wait_number(vm, &cap, from, "irq tick ",
					t + 2 * TICK_PRINT, NULL, 30 * SEC * slow))
			vmtest_fail_vm(vm, &cap, "no ticks after resume");
		if (round == 0) {
			assert_int_equal(vm_stop(vm, false, 10 * SEC * slow,
						 &err), 0);
			if (vm_stop_reason(vm) != VM_STOP_DEBUG_EXIT ||
			    vm_exit_code(vm) != 0)
				vmtest_fail_vm(vm, &cap, "graceful stop");
		} else {
			assert_int_equal(vm_stop(vm, true, 0, &err), 0);
			assert_int_equal(vm_stop_reason(vm), VM_STOP_REQUESTED);
		}
	}
	vmtest_destroy(vm, &cap);
}

/*
 * A timer guest printing "<prefix>N" every TICK_PRINT ticks at TICK_HZ:
 * the rate within 10% over ~3 s, the idle emu thread sleeps, suspend
 * freezes the ticks, resume restarts them, a graceful stop exits 0.
 */
static void tick_rate(const char *name, const char *prefix, int tick_hz)
{
	struct capture cap;
	struct vm *vm = vmtest_start_guest(name, &cap);
	struct cv_err err = { 0 };
	unsigned slow = vmtest_slowdown();
	/*
	 * Two tries of a ~3 s window: a host stall (the loaded kvm tier
	 * under QEMU TCG was seen to lose a fifth of a window) spoils one;
	 * a wrong rate fails both.
	 */
	/*
	 * The kvm tier (KVM inside QEMU TCG on a shared host) cannot keep a
	 * 20 ms timer: KVM merges LAPIC timer expiries its vCPU thread
	 * missed, and the PIT's reinjected ticks come in bursts; loaded runs
	 * measured 40-45 Hz of 50 there, quiet ones 97.6/99.9 Hz of 100.
	 * There a wider band still catches a wrong calibration or routing.
	 */
	bool tier = getenv("CVISOR_TEST_TIER") &&
		    !strcmp(vmtest_accel_name(), "kvm");
	double lo = tier ? 0.6 : 0.9, hi = tier ? 1.4 : 1.1;
	if (tier)
		printf("# %s: kvm tier band %.0f-%.0f%% of the programmed rate\n",
		       name, lo * 100, hi * 100);
	double hz = 0, secs = 0, cpu = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		long n1 = 0, n2 = 0;
		long from = capture_last_number(&cap, 0, prefix);
		uint64_t t1 = vmtest_wait_number(vm, &cap, 0, prefix,
						 (from > 20 ? from : 20) + 1,
						 &n1, 30 * SEC * slow);
		if (!t1)
			vmtest_fail_vm(vm, &cap, "no ticks");
		struct vm_stats s1, s2;
		vm_get_stats(vm, &s1);
		uint64_t t2 = vmtest_wait_number(vm, &cap, 0, prefix,
						 n1 + 3 * tick_hz, &n2,
						 30 * SEC * slow);
		if (!t2)
			vmtest_fail_vm(vm, &cap, "ticks stopped");
		vm_get_stats(vm, &s2);
		secs = (double)(t2 - t1) / 1e9;
		hz = (double)(n2 - n1) / secs;
		cpu = (double)(s2.cpu_time_ns - s1.cpu_time_ns) / 1e9;
		printf("# %s on %s: %ld ticks in %.3f s = %.1f Hz (programmed %d); vCPU thread CPU %.3f s (%.1f%%)\n",
		       name, vmtest_accel_name(), n2 - n1, secs, hz, tick_hz,
		       cpu, 100.0 * cpu / secs);
		if (hz >= tick_hz * lo && hz <= tick_hz * hi)
			break;
	}
	assert_true(hz >= tick_hz * lo && hz <= tick_hz * hi);
	/* idle in `sti; hlt`: the emu vCPU thread sleeps to the deadline */
	if (!strcmp(vmtest_accel_name(), "emu") && !vmtest_sanitized())
		assert_true(cpu < secs * 0.25);
	uint64_t parked = 0;
	assert_int_equal(vm_suspend(vm, 2 * SEC * slow, &parked, &err), 0);
	long frozen = capture_last_number(&cap, 0, prefix);
	usleep(300000);
	assert_int_equal(capture_last_number(&cap, 0, prefix), frozen);
	assert_int_equal(vm_resume(vm, &err), 0);
	long after = 0;
	if (!vmtest_wait_number(vm, &cap, 0, prefix, frozen + 2 * TICK_PRINT,
				&after, 10 * SEC * slow))
		vmtest_fail_vm(vm, &cap, "no ticks after resume");
	assert_int_equal(vm_stop(vm, false, 10 * SEC * slow, &err), 0);
	if (vm_stop_reason(vm) != VM_STOP_DEBUG_EXIT || vm_exit_code(vm) != 0)
		vmtest_fail_vm(vm, &cap, "graceful stop");
	char done[64];
	snprintf(done, sizeof(done), "%s: shutdown requested\n", name);
	assert_true(capture_wait(&cap, 0, done, 1000));
	vmtest_destroy(vm, &cap);
}

static void test_lapictimer(void **state)
{
	(void)state;
	tick_rate("lapictimer", "lapic tick ", APIC_TICK_HZ);
}

static void test_ioapictick(void **state)
{
	(void)state;
	tick_rate("ioapictick", "ioapic tick ", APIC_TICK_HZ);
}

static const char *const base_cfg =
	"[base]\nname = \"t\"\ncpu_num = 2\n"
	"[kernel]\nimage_location = \"memory\"\nkernel_path = \"%s\"\n"
	"entry_point = 0x100000\nkernel_load_addr = 0x100000\n"
	"boot_protocol = \"%s\"\n%s\n"
	"memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n"
	"[devices]\ninterrupt_mode = \"%s\"\n";

static int try_cfg(const char *image, const char *proto, const char *ap,
		   const char *irq, struct vm_config *cfg, char *msg,
		   size_t len)
{
	char text[1024];
	snprintf(text, sizeof(text), base_cfg, image, proto, ap, irq);
	struct vmcfg_diags d = { 0 };
	int rc = load_text(text, cfg, &d);
	msg[0] = '\0';
	for (size_t i = 0; i < d.n; i++)
		if (d.items[i].is_error)
			snprintf(msg, len, "%s", d.items[i].msg);
	vmcfg_diags_free(&d);
	return rc;
}

/* Boot info of a config without starting it (the plan is made at create). */
static void boot_info_of(struct vm_config *cfg, struct vm_boot_info *bi)
{
	cfg->accel = vmtest_accel();
	struct capture cap;
	struct vm *vm = vmtest_create(cfg, &cap);
	vm_boot_info(vm, bi);
	vmtest_destroy(vm, &cap);
}

static void test_ap_start_cfg(void **state)
{
	(void)state;
	struct vm_config cfg;
	char msg[512];
	assert_int_not_equal(try_cfg("smp_sipi", "raw", "ap_start = \"sipi\"",
				     "no_irq", &cfg, msg, sizeof(msg)), 0);
	printf("# %s\n", msg);
	assert_non_null(strstr(msg, "ap_start"));
	assert_non_null(strstr(msg, "interrupt_mode"));
	assert_int_not_equal(try_cfg("mboot", "multiboot",
				     "ap_start = \"entry\"", "emu", &cfg, msg,
				     sizeof(msg)), 0);
	printf("# %s\n", msg);
	assert_non_null(strstr(msg, "raw image"));
	assert_int_not_equal(try_cfg("smp_sipi", "raw", "ap_start = \"later\"",
				     "emu", &cfg, msg, sizeof(msg)), 0);
	printf("# %s\n", msg);

	/* raw + auto: APs at the entry point with the BSP */
	struct vm_boot_info bi;
	assert_int_equal(try_cfg("smp_sipi", "raw", "cpu_mode = \"protected\"",
				 "emu", &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.ap_start, VM_AP_START_AUTO);
	boot_info_of(&cfg, &bi);
	assert_false(bi.ap_sipi);
	assert_int_equal(bi.ap_entry, 0x100000);
	/* raw + sipi */
	assert_int_equal(try_cfg("smp_sipi", "raw",
				 "cpu_mode = \"protected\"\nap_start = \"sipi\"",
				 "emu", &cfg, msg, sizeof(msg)), 0);
	boot_info_of(&cfg, &bi);
	assert_true(bi.ap_sipi);
	/* a kernel format with an irqchip: INIT/SIPI; without: parked */
	assert_int_equal(try_cfg("mboot", "multiboot", "", "emu", &cfg, msg,
				 sizeof(msg)), 0);
	boot_info_of(&cfg, &bi);
	assert_true(bi.ap_sipi);
	assert_int_equal(try_cfg("mboot", "multiboot", "", "no_irq", &cfg, msg,
				 sizeof(msg)), 0);
	boot_info_of(&cfg, &bi);
	assert_false(bi.ap_sipi);
	assert_true(bi.ap_entry != 0 && bi.ap_entry < 0x100000);
	/* printed back only when set */
	assert_int_equal(try_cfg("smp_sipi", "raw",
				 "cpu_mode = \"protected\"\nap_start = \"sipi\"",
				 "emu", &cfg, msg, sizeof(msg)), 0);
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	vmcfg_print(f, &cfg);
	fclose(f);
	assert_non_null(strstr(buf, "ap_start = \"sipi\""));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ap_start_cfg, vmtest_teardown),
		cmocka_unit_test_teardown(test_smp_sipi, vmtest_teardown),
		cmocka_unit_test_teardown(test_waiting_ap, vmtest_teardown),
		cmocka_unit_test_teardown(test_lapictimer, vmtest_teardown),
		cmocka_unit_test_teardown(test_ioapictick, vmtest_teardown),
	};
	vmtest_accel();
	return cmocka_run_group_tests_name("apic", tests, NULL, NULL);
}
