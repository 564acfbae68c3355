/*
 * test_platform: what the platform looks like to a guest, through the VM
 * layer on the backend named by $CVISOR_TEST_ACCEL (emu | kvm):
 *  - graceful stop presses the ACPI power button: acpi_off (finds the PM1
 *    ports through RSDP -> XSDT -> FADT and \_S5 in the DSDT itself)
 *    powers off through S5, so the stop ends with reason "powered off"
 *    well within the timeout;
 *  - acpi_sci does the same from its SCI handler (IRQ 9 through the 8259,
 *    level-triggered by the ELCR: the handler returns once without
 *    clearing PWRBTN_STS and must be re-entered at once);
 *  - acpi_ignore sees the button but never powers off: the stop waits out
 *    the timeout, then forces (reason "stopped by request"), and took
 *    about the timeout;
 *  - acpi_reset resets through the FADT's reset register: the VM reboots
 *    in place and `reboots` counts it (with on_reboot = "stop" it stops);
 *  - the cpuid guest on 3 vCPUs: hypervisor bit, the "cvisor" leaf, APIC
 *    IDs = vCPU index, logical count, leaf 0xB topology.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices.h"
#include "testutil.h"
#include "vmtest.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define T_OUT 20000	/* ms: generous, the kvm tier runs under TCG */

static struct vm *boot(const char *image, unsigned ncpus, const char *extra,
		       struct capture *cap)
{
	struct vm_config cfg;
	struct cv_err err = { 0 };
	vmtest_config(&cfg, image, ncpus, extra);
	struct vm *vm = vmtest_create(&cfg, cap);
	assert_int_equal(vm_start(vm, &err), 0);
	return vm;
}

static void expect_line(struct capture *cap, size_t from, const char *s)
{
	if (capture_wait(cap, from, s, T_OUT))
		return;
	char *out = capture_copy(cap);
	fail_msg("no \"%s\" on %s; output:\n%s", s, vmtest_accel_name(), out);
}

#define TABLES_LINE "acpi: rsdp 0x000e0000 fadt 0x000e0100 " \
		    "pm1a_evt 0x00000600 pm1a_cnt 0x00000604 s5 5\n"

static void test_acpi_power_button_off(void **state)
{
	(void)state;
	struct capture cap;
	struct cv_err err = { 0 };
	struct vm *vm = boot("acpi_off", 1, NULL, &cap);
	expect_line(&cap, 0, TABLES_LINE);
	expect_line(&cap, 0, "acpi_off: waiting for the power button\n");
	uint64_t t0 = tu_now_ns();
	assert_int_equal(vm_stop(vm, false, 10 * SEC, &err), 0);
	uint64_t took = tu_now_ns() - t0;
	print_message("graceful stop by the power button (%s): %.1f ms\n",
		      vmtest_accel_name(), (double)took / 1e6);
	assert_int_equal(vm_state(vm), VM_STOPPED);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_POWEROFF);
	assert_string_equal(vm_stop_reason_text(vm_stop_reason(vm)),
			    "powered off");
	assert_string_equal(vm_stop_reason_name(vm_stop_reason(vm)),
			    "poweroff");
	assert_int_equal(vm_exit_code(vm), -1);
	expect_line(&cap, 0, "acpi_off: power button, powering off\n");
	assert_true(took < 2 * SEC * vmtest_slowdown());
	struct acpi_pm_info pm;
	acpi_pm_info(vm_devices_acpi_pm(vm_device_set(vm)), &pm);
	assert_int_equal(pm.button_presses, 1);
	assert_int_equal(pm.sleeps, 1);

	/* a fresh start finds the tables again (written at every boot) */
	size_t mark = capture_len(&cap);
	assert_int_equal(vm_start(vm, &err), 0);
	expect_line(&cap, mark, TABLES_LINE);
	assert_int_equal(vm_stop(vm, false, 10 * SEC, &err), 0);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_POWEROFF);
	vmtest_destroy(vm, &cap);
}

static void test_acpi_sci_power_off(void **state)
{
	(void)state;
	struct capture cap;
	struct cv_err err = { 0 };
	struct vm_config cfg;
	vmtest_config(&cfg, "acpi_sci", 1, NULL);
	cfg.interrupt_mode = VM_IRQ_EMU;	/* as guests/configs/acpi_sci.toml */
	struct vm *vm = vmtest_create(&cfg, &cap);
	assert_int_equal(vm_start(vm, &err), 0);
	expect_line(&cap, 0, TABLES_LINE);
	expect_line(&cap, 0,
		    "acpi_sci: waiting for the power button (SCI on IRQ 9)\n");
	uint64_t t0 = tu_now_ns();
	assert_int_equal(vm_stop(vm, false, 10 * SEC, &err), 0);
	uint64_t took = tu_now_ns() - t0;
	print_message("graceful stop through the SCI handler (%s): %.1f ms\n",
		      vmtest_accel_name(), (double)took / 1e6);
	if (vm_stop_reason(vm) != VM_STOP_POWEROFF) {
		char *out = capture_copy(&cap);
		fail_msg("stop reason %s on %s; output:\n%s",
			 vm_stop_reason_name(vm_stop_reason(vm)),
			 vmtest_accel_name(), out);
	}
	expect_line(&cap, 0, "acpi_sci: SCI again, level-triggered\n");
	expect_line(&cap, 0, "acpi_sci: power button, powering off\n");
	assert_true(took < 2 * SEC * vmtest_slowdown());
	struct acpi_pm_info pm;
	acpi_pm_info(vm_devices_acpi_pm(vm_device_set(vm)), &pm);
	assert_int_equal(pm.button_presses, 1);
	assert_int_equal(pm.sleeps, 1);
	assert_false(pm.sci);		/* cleared by the handler */
	vmtest_destroy(vm, &cap);
}

static void test_acpi_ignored_times_out(void **state)
{
	(void)state;
	struct capture cap;
	struct cv_err err = { 0 };
	struct vm *vm = boot("acpi_ignore", 1, NULL, &cap);
	expect_line(&cap, 0, "acpi_ignore: waiting for the power button\n");
	const uint64_t timeout = 1 * SEC;
	uint64_t t0 = tu_now_ns();
	assert_int_equal(vm_stop(vm, false, timeout, &err), 0);
	uint64_t took = tu_now_ns() - t0;
	print_message("graceful stop of a guest that ignores it (%s): %.1f ms "
		      "(timeout %.0f ms)\n", vmtest_accel_name(),
		      (double)took / 1e6, (double)timeout / 1e6);
	assert_int_equal(vm_state(vm), VM_STOPPED);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_REQUESTED);
	/* it saw the button: the press reached it, it just did not obey */
	expect_line(&cap, 0, "acpi_ignore: power button, ignored\n");
	/* the forced part takes microseconds; the margin is for host load */
	assert_true(took >= timeout);
	assert_true(took < timeout + 1000 * MS * vmtest_slowdown());
	vmtest_destroy(vm, &cap);
}

static void test_acpi_reset_register(void **state)
{
	(void)state;
	struct capture cap;
	struct cv_err err = { 0 };
	struct vm *vm = boot("acpi_reset", 1, NULL, &cap);
	expect_line(&cap, 0, "acpi_reset: booting\n");
	size_t mark = capture_len(&cap);
	expect_line(&cap, mark, "acpi_reset: booting\n");
	struct vm_stats st;
	vm_get_stats(vm, &st);
	assert_true(st.reboots >= 1);
	struct acpi_pm_info pm;
	acpi_pm_info(vm_devices_acpi_pm(vm_device_set(vm)), &pm);
	assert_true(pm.resets >= 1);
	char *out = capture_copy(&cap);
	assert_null(strstr(out, "reset request ignored"));
	free(out);
	assert_int_equal(vm_stop(vm, true, 0, &err), 0);
	vmtest_destroy(vm, &cap);

	/* on_reboot = "stop": the first reset request stops the VM */
	vm = boot("acpi_reset", 1, "on_reboot = \"stop\"", &cap);
	assert_int_equal(vm_wait_stopped(vm, 30 * SEC), 0);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_REBOOT);
	vmtest_destroy(vm, &cap);
}

static void test_cpuid(void **state)
{
	(void)state;
	struct capture cap;
	struct vm *vm = boot("cpuid", 3, NULL, &cap);
	assert_int_equal(vm_wait_stopped(vm, 60 * SEC), 0);
	char *out = capture_copy(&cap);
	const char *want =
		"cpuid: hypervisor 1\n"
		"cpuid: hv max 0x40000000 sig \"cvisor\"\n"
		"cpuid: leaf1 apic 0 logical 4 htt 1\n"
		"cpuid: leaf 0xb.0 type 1 shift 0 count 1 x2apic 0\n"
		"cpuid: leaf 0xb.1 type 2 shift 2 count 3 x2apic 0\n"
		"cpuid: leaf 0xb.2 type 0 shift 0 count 0 x2apic 0\n"
		"cpuid: vcpu 1 apic 1 x2apic 1\n"
		"cpuid: vcpu 2 apic 2 x2apic 2\n"
		"cpuid: done\n";
	if (!strstr(out, want))
		fail_msg("cpuid on %s printed:\n%s\nwanted:\n%s",
			 vmtest_accel_name(), out, want);
	free(out);
	assert_int_equal(vm_stop_reason(vm), VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm_exit_code(vm), 0);
	vmtest_destroy(vm, &cap);

	/*
	 * One vCPU: a logical count and a core level of one.  cvisor clears
	 * HTT then (unit-tested in tests/backend/test_cpuid.c), but this
	 * host's nested PVM KVM reports HTT = 1 whatever KVM_SET_CPUID2 says
	 * (seen: the table had leaf 1 EDX 0x0f8bfbff), so the line is checked
	 * up to the HTT value.
	 */
	vm = boot("cpuid", 1, NULL, &cap);
	assert_int_equal(vm_wait_stopped(vm, 60 * SEC), 0);
	out = capture_copy(&cap);
	if (!strstr(out, "cpuid: leaf1 apic 0 logical 1 htt ") ||
	    !strstr(out, "cpuid: leaf 0xb.1 type 2 shift 0 count 1 x2apic 0\n"))
		fail_msg("cpuid (1 vCPU) on %s printed:\n%s",
			 vmtest_accel_name(), out);
	if (vmtest_accel() == VM_ACCEL_EMU &&
	    !strstr(out, "cpuid: leaf1 apic 0 logical 1 htt 0\n"))
		fail_msg("cpuid (1 vCPU) on emu sets HTT:\n%s", out);
	free(out);
	vmtest_destroy(vm, &cap);
}

int main(void)
{
	vmtest_accel();
	printf("backend under test: %s\n", vmtest_accel_name());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_acpi_power_button_off,
					  vmtest_teardown),
		cmocka_unit_test_teardown(test_acpi_sci_power_off,
					  vmtest_teardown),
		cmocka_unit_test_teardown(test_acpi_ignored_times_out,
					  vmtest_teardown),
		cmocka_unit_test_teardown(test_acpi_reset_register,
					  vmtest_teardown),
		cmocka_unit_test_teardown(test_cpuid, vmtest_teardown),
	};
	return cmocka_run_group_tests_name(vmtest_accel_name(), tests, NULL,
					   NULL);
}
