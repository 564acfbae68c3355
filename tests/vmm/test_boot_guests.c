/*
 * test_boot_guests: the kernel-format boot protocols end to end through
 * the VM layer, on the backend named by $CVISOR_TEST_ACCEL (emu | kvm):
 *
 *   test_boot_guests          the test guests booted from their configs
 *                             in guests/configs (multiboot ELF, multiboot
 *                             a.out kludge, ELF64 in long mode, ELF32, PVH,
 *                             "auto" detection, a ramdisk as module);
 *   test_boot_guests linux    a stock Debian bzImage ($LINUX_BZIMAGE, see
 *                             tests/boot/fetch_linux.sh; 77 when absent):
 *                             as far as the backend takes it.  kvm: the
 *                             16-bit entry's setup code output and the
 *                             64-bit entry's kernel banner.  emu: the
 *                             32-bit and the 64-bit entry's decompressor
 *                             (its "KASLR disabled" line) up to the jump
 *                             into the kernel proper, which unicorn's
 *                             identity-only paging cannot follow (a clear
 *                             error, not a reset); the 16-bit entry's
 *                             setup code output (its BIOS calls need the
 *                             backend's real-mode interrupt delivery).
 *   test_boot_guests linux-init [INITRD]
 *                             kvm only: the bzImage ($LINUX_BZIMAGE) with
 *                             the project's initramfs (INITRD, else
 *                             $LINUX_INITRD; guests/linux-init) boots to
 *                             its /init, which prints "cvisor-init: hello
 *                             from /init" and powers off.  Run in the
 *                             KVM-inside-QEMU-TCG tier; skipped on a
 *                             nested PVM host, where a stock kernel cannot
 *                             boot (README).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "testutil.h"
#include "vmtest.h"

#define SEC 1000000000ull

/* Boot, wait for the guest's exit, return its console (caller frees). */
static char *run_guest(struct vm_config *cfg, int want_exit)
{
	struct capture cap;
	struct vm *vm = vmtest_create(cfg, &cap);
	struct cv_err err = { 0 };
	assert_int_equal(vm_start(vm, &err), 0);
	int rc = vm_wait_stopped(vm, 60 * SEC);
	char *out = capture_copy(&cap);
	assert_non_null(out);
	char last[256] = "";
	vm_last_error(vm, last, sizeof(last));
	if (rc || vm_stop_reason(vm) != VM_STOP_DEBUG_EXIT ||
	    vm_exit_code(vm) != want_exit)
		fail_msg("%s on %s: wait %d, stop reason %d, exit %d (%s); output:\n%s",
			 cfg->name, vmtest_accel_name(), rc, vm_stop_reason(vm),
			 vm_exit_code(vm), last, out);
	vmtest_destroy(vm, &cap);
	return out;
}

static void test_mboot(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("mboot", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "mboot: magic ok, info at 0x00009000\n");
	vmtest_expect_out(out, "mboot: mem_lower=640 KiB mem_upper=15360 KiB\n");
	vmtest_expect_out(out, "mboot: cmdline=\"mboot hello from cvisor\"\n");
	vmtest_expect_out(out, "mboot: loader=cvisor\n");
	vmtest_expect_out(out, "mboot: modules=0\n");
	vmtest_expect_out(out, "mboot: mmap 0x00000000 len 0x000a0000 type 1\n"
			"mboot: mmap 0x000a0000 len 0x00060000 type 2\n"
			"mboot: mmap 0x00100000 len 0x00f00000 type 1\n");
	vmtest_expect_out(out, "mboot: done\n");
	free(out);
}

/* "auto" finds the multiboot header; the ramdisk becomes a module. */
static void test_mboot_auto_with_module(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("mboot", &cfg,
				 "ramdisk_path = \"ticker\"\n"
				 "ramdisk_load_addr = 0x8000\n");
	cfg.boot_protocol = VM_BOOT_AUTO;
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "mboot: modules=1\n");
	free(out);
}

static void test_mboot_aout(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("mboot_aout", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "axkernel: magic ok\n");
	free(out);
}

static void test_elf64(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("elf64", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "elf64: ok, running at 0x002");
	vmtest_expect_out(out, ", long mode, paging on, bss clear\n");
	free(out);
}

static void test_elf32(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("elf32", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "elf32: ok, running at 0x001");
	vmtest_expect_out(out, ", protected mode, paging off, bss clear\n");
	free(out);
}

static void test_pvh(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("pvh", &cfg, NULL);
	assert_int_equal(cfg.boot_protocol, VM_BOOT_AUTO);
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "pvh: magic ok, version 1, start_info at 0x00009000\n");
	vmtest_expect_out(out, "pvh: cmdline=\"pvh hello from cvisor\"\n");
	vmtest_expect_out(out, "pvh: modules=0\n");
	vmtest_expect_out(out, "pvh: memmap 0x00100000 len 0x00f00000 type 1\n");
	vmtest_expect_out(out, "pvh: done\n");
	free(out);
}

static void test_pvh_module(void **state)
{
	(void)state;
	struct vm_config cfg;
	vmtest_load_guest_config("pvh", &cfg,
				 "ramdisk_path = \"ticker\"\n"
				 "ramdisk_load_addr = 0x8000\n");
	char *out = run_guest(&cfg, 0);
	vmtest_expect_out(out, "pvh: modules=1\n");
	free(out);
}

/* ---------------------------------------------------------------- Linux */

static const char *linux_initrd;	/* linux-init only */

static const char *linux_path(void)
{
	const char *p = getenv("LINUX_BZIMAGE");
	return p && *p ? p : "linux/vmlinuz";
}

static void linux_config(struct vm_config *cfg, const char *mode,
			 const char *cmdline)
{
	char text[4096], ramdisk[1200] = "";
	if (linux_initrd)
		snprintf(ramdisk, sizeof(ramdisk), "ramdisk_path = \"%s\"\nramdisk_load_addr = 0x8000000\n",
			 linux_initrd);
	snprintf(text, sizeof(text),
		 "[base]\nname = \"linux-%s\"\ncpu_num = 1\n"
		 "on_reboot = \"stop\"\n"
		 "[kernel]\nentry_point = 0x100000\nkernel_path = \"%s\"\n"
		 "kernel_load_addr = 0x100000\nboot_protocol = \"linux\"\n"
		 "cpu_mode = \"%s\"\ncmdline = \"%s\"\n%s"
		 "memory_regions = [[0x0, 0x10000000, 0x7, 0]]\n"
		 "[devices]\ninterrupt_mode = \"emu\"\n"
		 "emu_devices = [[\"com1\", 0x3f8, 0x8, 4, 0x2, []]]\n",
		 mode, linux_path(), mode, cmdline, ramdisk);
	struct vmcfg_diags d = { 0 };
	int rc = vmcfg_load_string(text, strlen(text), "<linux>", NULL, cfg,
				   &d, NULL);
	for (size_t i = 0; i < d.n; i++)
		print_message("%s\n", d.items[i].msg);
	vmcfg_diags_free(&d);
	assert_int_equal(rc, 0);
	cfg->accel = vmtest_accel();
}

struct linux_run {
	struct capture cap;
	struct vm *vm;
	uint64_t t0;
};

static void linux_start(struct linux_run *r, const char *mode,
			const char *cmdline)
{
	struct vm_config cfg;
	linux_config(&cfg, mode, cmdline);
	r->vm = vmtest_create(&cfg, &r->cap);
	struct cv_err err = { 0 };
	r->t0 = tu_now_ns();
	assert_int_equal(vm_start(r->vm, &err), 0);
}

/* Wait for text; false on timeout or when the VM stopped without it. */
static bool linux_wait(struct linux_run *r, const char *text, unsigned sec)
{
	uint64_t end = tu_now_ns() + sec * SEC;
	bool ok = false;
	while (!ok && tu_now_ns() < end) {
		ok = capture_wait(&r->cap, 0, text, 250);
		if (!ok && vm_state(r->vm) == VM_STOPPED) {
			ok = capture_wait(&r->cap, 0, text, 0);
			break;
		}
	}
	print_message("  %s \"%s\" after %.3f s\n", ok ? "saw" : "no",
		      text, (double)(tu_now_ns() - r->t0) / 1e9);
	return ok;
}

static size_t linux_tail = 600;	/* console bytes linux_finish prints */

static void linux_finish(struct linux_run *r)
{
	char last[256] = "";
	vm_stop(r->vm, true, 0, NULL);
	vm_wait_stopped(r->vm, 10 * SEC);
	vm_last_error(r->vm, last, sizeof(last));
	char *out = capture_copy(&r->cap);
	size_t n = out ? strlen(out) : 0;
	/* stdout directly: cmocka's print_message truncates long text */
	printf("  last error: %s\n  console tail:\n%s\n",
	       last[0] ? last : "(none)",
	       !out ? "" : n > linux_tail ? out + n - linux_tail : out);
	fflush(stdout);
	free(out);
	vmtest_destroy(r->vm, &r->cap);
}

static void test_linux_kvm_16bit(void **state)
{
	(void)state;
	struct linux_run r;
	linux_start(&r, "real", "earlyprintk=serial,ttyS0,115200 console=ttyS0");
	bool ok = linux_wait(&r, "Probing EDD (edd=off to disable)... ok", 60);
	linux_finish(&r);
	assert_true(ok);
}

static void test_linux_kvm_64bit(void **state)
{
	(void)state;
	struct linux_run r;
	linux_start(&r, "long", "earlyprintk=serial,ttyS0,115200 console=ttyS0");
	bool ok = linux_wait(&r, "Linux version", 400) &&
		  linux_wait(&r, "BIOS-e820: [mem 0x0000000000100000-0x000000000fffffff] usable", 10);
	linux_finish(&r);
	assert_true(ok);
}

/*
 * The decompressor from one entry (cpu_mode "protected": 32-bit, "long":
 * 64-bit) up to the emu frontier: it prints "KASLR disabled", decompresses
 * and jumps to the kernel proper at its virtual address 0xffffffff81...,
 * which identity-only paging cannot follow, so the VM must stop with
 * cvisor's error naming that address (not reset: on_reboot = "stop" would
 * turn a triple fault into a stop without that error).
 */
static void linux_emu_frontier(const char *mode)
{
	struct linux_run r;
	linux_start(&r, mode,
		    "earlyprintk=serial,ttyS0,115200 console=ttyS0 nokaslr");
	bool ok = linux_wait(&r, "KASLR disabled: 'nokaslr' on cmdline.", 120);
	/* then the jump to the kernel proper's virtual address stops it */
	assert_int_equal(vm_wait_stopped(r.vm, 240 * SEC), 0);
	char last[256] = "";
	vm_last_error(r.vm, last, sizeof(last));
	enum vm_stop_reason why = vm_stop_reason(r.vm);
	print_message("  %s entry stopped after %.3f s (stop reason %d): %s\n",
		      mode, (double)(tu_now_ns() - r.t0) / 1e9, (int)why,
		      last);
	bool frontier = strstr(last, "0xffffffff81") != NULL;
	linux_finish(&r);
	assert_true(ok);
	assert_int_equal(why, VM_STOP_ERROR);
	assert_true(frontier);
}

static void test_linux_emu_decompressor(void **state)
{
	(void)state;
	linux_emu_frontier("protected");
}

static void test_linux_emu_64bit(void **state)
{
	(void)state;
	linux_emu_frontier("long");
}

static void test_linux_emu_16bit(void **state)
{
	(void)state;
	struct linux_run r;
	linux_start(&r, "real", "earlyprintk=serial,ttyS0,115200 console=ttyS0");
	bool ok = linux_wait(&r, "Probing EDD (edd=off to disable)... ok", 60);
	char last[256] = "";
	vm_last_error(r.vm, last, sizeof(last));
	linux_finish(&r);
	assert_true(ok);
}

/*
 * The whole boot to the project's /init.  The 64-bit entry (no setup
 * code, like kvmtool's and QEMU's direct boot) with a plain command line:
 * "console=ttyS0" (the kernel's console is the UART) and "panic=-1" (a
 * panic reboots, which on_reboot = "stop" turns into a stop the test sees
 * at once instead of a hang).  No "nolapic"/"noapic": the kernel finds
 * cvisor's MADT, runs its LAPIC and I/O APIC, and takes the PIT's IRQ 0
 * on I/O APIC pin 2 as the MADT's override says (which needs the kvm
 * backend's GSI routing to agree: src/backend/kvm/kvm.c).
 *
 * /init then asks for a power-off.  A kernel that found ACPI tables
 * ("ACPI: RSDP" in its log) powers off through ACPI S5 and the VM must
 * stop by itself with VM_STOP_POWEROFF.  Without ACPI tables (cvisor
 * before its ACPI support) the kernel has no way to power off: it prints
 * "reboot: System halted" and halts; the test checks that line and ends
 * the VM with a forced stop, saying so.
 */
#define LINUX_INIT_MARKER "cvisor-init: hello from /init"
#define LINUX_INIT_CMDLINE "console=ttyS0 panic=-1"

/* $LINUX_INIT_CMDLINE replaces the command line (experiments) */
static const char *linux_init_cmdline(void)
{
	const char *c = getenv("LINUX_INIT_CMDLINE");
	return c && *c ? c : LINUX_INIT_CMDLINE;
}

/*
 * One boot up to the /init marker (both copies).  false: it stalled
 * before; the run is finished then and its whole console printed.
 */
static bool linux_init_boot(struct linux_run *r, unsigned limit_s)
{
	linux_start(r, "long", linux_init_cmdline());
	/* milestones, for the timings in the log */
	static const char *const steps[] = {
		"Linux version", "Memory: ", "console [ttyS0] enabled",
		"Freeing unused kernel image", "Run /init as init process",
	};
	bool ok = true;
	uint64_t end = tu_now_ns() + limit_s * SEC;
	for (size_t i = 0; ok && i < sizeof(steps) / sizeof(steps[0]); i++) {
		uint64_t now = tu_now_ns();
		ok = now < end && linux_wait(r, steps[i],
					     (unsigned)((end - now) / SEC) + 1);
	}
	ok = ok && linux_wait(r, LINUX_INIT_MARKER, 30);
	/* the tty copy too (not only /dev/kmsg's): the UART's THRE interrupt
	 * reached the 8250 driver through the in-kernel PIC */
	ok = ok && linux_wait(r, "\n" LINUX_INIT_MARKER, 30);
	if (!ok) {
		linux_tail = 32768;
		linux_finish(r);
	}
	return ok;
}

static void test_linux_init(void **state)
{
	(void)state;
	struct linux_run r;
	print_message("  cmdline: %s\n", linux_init_cmdline());
	/*
	 * A normal boot reaches /init in 8-21 s in the tier.  KNOWN ISSUE
	 * (2026-11-25, open): about one boot in a few stalls in the tier with
	 * the kvm-clock timestamps frozen (after "Switched to clocksource
	 * kvm-clock") and the tier's own kernel reporting a soft lockup in
	 * KVM_RUN; not reproduced outside nested TCG yet.  So a boot that has
	 * not reached /init after 100 s is printed, counted and tried once
	 * more; the second boot must make it.
	 */
	bool ok = linux_init_boot(&r, 100);
	if (!ok) {
		print_message("  NOTE: boot 1 stalled before /init (known intermittent stall in the nested tier, see the comment); booting again\n");
		ok = linux_init_boot(&r, 100);
		assert_true(ok);
	}
	/*
	 * With the plain command line the kernel must run its I/O APIC from
	 * cvisor's MADT and find the PIT's IRQ 0 where the MADT's override
	 * says (GSI 2).  Without the kvm backend's GSI routing (KVM's default
	 * sends GSI 0 to pin 0) check_timer() complains with "..MP-BIOS bug:
	 * 8254 timer not connected to IO-APIC" and falls back to other paths.
	 */
	const char *cl = linux_init_cmdline();
	bool apic_on = !strstr(cl, "noapic") && !strstr(cl, "nolapic");
	bool ioapic = capture_wait(&r.cap, 0, "IOAPIC[0]: apic_id", 0);
	bool override = capture_wait(&r.cap, 0, "INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2", 0);
	bool mpbug = capture_wait(&r.cap, 0, "8254 timer not connected to IO-APIC", 0) ||
		     capture_wait(&r.cap, 0, "..MP-BIOS bug", 0);
	/* /init's copy of /proc/interrupts: the timer on pin 2 (edge), the
	 * SCI on pin 9 (level: fasteoi) */
	linux_wait(&r, "cvisor-init: powering off", 30);
	bool timer2 = capture_wait(&r.cap, 0, "IO-APIC 2-edge timer", 0);
	bool sci9 = capture_wait(&r.cap, 0, "IO-APIC 9-fasteoi acpi", 0);
	print_message("  I/O APIC found: %s, IRQ0 -> GSI 2 override: %s, timer on the I/O APIC: %s, /proc/interrupts: timer on pin 2 %s, SCI on pin 9 (level) %s\n",
		      ioapic ? "yes" : "no", override ? "yes" : "no",
		      mpbug ? "NO (MP-BIOS bug message)" : "yes",
		      timer2 ? "yes" : "no", sci9 ? "yes" : "no");
	bool acpi = capture_wait(&r.cap, 0, "ACPI: RSDP", 0);
	bool down = linux_wait(&r, acpi ? "reboot: Power down"
				       : "reboot: System halted", 30);
	int rc = -1;
	enum vm_stop_reason why = VM_STOP_NONE;
	char last[256] = "";
	if (acpi) {
		rc = vm_wait_stopped(r.vm, 20 * SEC);
		why = vm_stop_reason(r.vm);
		vm_last_error(r.vm, last, sizeof(last));
		print_message("  VM %s after %.3f s (stop reason %d%s%s)\n",
			      rc ? "still running" : "stopped by itself",
			      (double)(tu_now_ns() - r.t0) / 1e9, (int)why,
			      last[0] ? ": " : "", last);
	} else if (down) {
		print_message("  NOTE: no ACPI tables, so the kernel halted instead of powering off; stopping the VM with a forced stop\n");
	}
	linux_tail = down ? 600 : 32768;	/* all of it on failure */
	linux_finish(&r);
	assert_true(down);
	if (apic_on) {
		assert_true(ioapic);
		assert_true(override);
		assert_false(mpbug);
		assert_true(timer2);
		assert_true(sci9);
	}
	if (acpi) {
		assert_int_equal(rc, 0);
		assert_int_equal(why, VM_STOP_POWEROFF);
	}
}

static int run_linux_init(void)
{
	struct stat st;
	if (!linux_initrd)
		linux_initrd = getenv("LINUX_INITRD");
	const char *need[] = { linux_path(), linux_initrd };
	for (size_t i = 0; i < 2; i++)
		if (!need[i] || stat(need[i], &st) || !S_ISREG(st.st_mode)) {
			printf("SKIP: no %s at %s (tests/boot/fetch_linux.sh fetches the kernel; the initramfs is built as guests/linux-init/initramfs.cpio)\n",
			       i ? "initramfs" : "Linux kernel",
			       need[i] ? need[i] : "(unset $LINUX_INITRD)");
			return 77;
		}
	if (vmtest_accel() != VM_ACCEL_KVM) {
		printf("SKIP: the emu backend cannot run the kernel proper (identity-only paging; see boot-linux-emu)\n");
		return 77;
	}
	const char *force = getenv("LINUX_INIT_ON_PVM");	/* to see the frontier */
	if (!stat("/sys/module/kvm_pvm", &st) && !(force && *force == '1')) {
		printf("SKIP: this host's /dev/kvm is nested PVM, where a stock kernel stops after \"Memory: ...\" (README, Linux frontier); the kvm tier runs this test; LINUX_INIT_ON_PVM=1 runs it anyway\n");
		return 77;
	}
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_linux_init),
	};
	return cmocka_run_group_tests_name("linux-init", t, NULL, NULL);
}

static int run_linux(void)
{
	struct stat st;
	if (stat(linux_path(), &st) || !S_ISREG(st.st_mode)) {
		printf("SKIP: no Linux kernel at %s (run `ninja fetch-linux` in the build dir)\n",
		       linux_path());
		return 77;
	}
	const struct CMUnitTest kvm[] = {
		cmocka_unit_test(test_linux_kvm_16bit),
		cmocka_unit_test(test_linux_kvm_64bit),
	};
	const struct CMUnitTest emu[] = {
		cmocka_unit_test(test_linux_emu_decompressor),
		cmocka_unit_test(test_linux_emu_64bit),
		cmocka_unit_test(test_linux_emu_16bit),
	};
	if (vmtest_accel() == VM_ACCEL_KVM)
		return cmocka_run_group_tests_name("linux-kvm", kvm, NULL, NULL);
	return cmocka_run_group_tests_name("linux-emu", emu, NULL, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "linux"))
		return run_linux();
	if (argc > 1 && !strcmp(argv[1], "linux-init")) {
		if (argc > 2)
			linux_initrd = argv[2];
		return run_linux_init();
	}
	vmtest_accel();		/* 77 when the backend is not usable */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mboot),
		cmocka_unit_test(test_mboot_auto_with_module),
		cmocka_unit_test(test_mboot_aout),
		cmocka_unit_test(test_elf64),
		cmocka_unit_test(test_elf32),
		cmocka_unit_test(test_pvh),
		cmocka_unit_test(test_pvh_module),
	};
	return cmocka_run_group_tests_name("boot-guests", tests, NULL, NULL);
}
