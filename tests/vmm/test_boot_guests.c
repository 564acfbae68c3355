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
 *                             32-bit entry's decompressor (its "KASLR
 *                             disabled" line) up to the jump into the
 *                             kernel proper, which unicorn's identity-only
 *                             paging cannot follow; the 16-bit entry's
 *                             setup code output (its BIOS calls need the
 *                             backend's real-mode interrupt delivery).
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "vmtest.h"

#define SEC 1000000000ull

static void load_guest_config(const char *name, struct vm_config *cfg,
			      const char *extra_kernel)
{
	char path[512], *text = NULL;
	snprintf(path, sizeof(path), "%s/%s.toml", GUEST_CONFIG_DIR, name);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t cap = 65536, len = 0;
	text = calloc(1, cap);
	assert_non_null(text);
	len = fread(text, 1, cap - 512, fp);
	fclose(fp);
	if (extra_kernel) {	/* keys appended to [kernel] */
		char *dev = strstr(text, "\n[devices]");
		assert_non_null(dev);
		size_t tail = strlen(dev);
		size_t add = strlen(extra_kernel);
		memmove(dev + 1 + add, dev + 1, tail);
		memcpy(dev + 1, extra_kernel, add);
		len += add;
	}
	struct vmcfg_diags d = { 0 };
	int rc = vmcfg_load_string(text, len, path, GUEST_CONFIG_DIR, cfg, &d,
				   NULL);
	for (size_t i = 0; i < d.n; i++)
		print_message("%s\n", d.items[i].msg);
	vmcfg_diags_free(&d);
	free(text);
	assert_int_equal(rc, 0);
	cfg->accel = vmtest_accel();
}

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

static void expect_out(const char *out, const char *want)
{
	if (!out || !strstr(out, want))
		fail_msg("output lacks \"%s\":\n%s", want, out ? out : "");
}

static void test_mboot(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("mboot", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	expect_out(out, "mboot: magic ok, info at 0x00009000\n");
	expect_out(out, "mboot: mem_lower=640 KiB mem_upper=15360 KiB\n");
	expect_out(out, "mboot: cmdline=\"mboot hello from cvisor\"\n");
	expect_out(out, "mboot: loader=cvisor\n");
	expect_out(out, "mboot: modules=0\n");
	expect_out(out, "mboot: mmap 0x00000000 len 0x000a0000 type 1\n"
			"mboot: mmap 0x000a0000 len 0x00060000 type 2\n"
			"mboot: mmap 0x00100000 len 0x00f00000 type 1\n");
	expect_out(out, "mboot: done\n");
	free(out);
}

/* "auto" finds the multiboot header; the ramdisk becomes a module. */
static void test_mboot_auto_with_module(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("mboot", &cfg,
			  "ramdisk_path = \"ticker\"\n"
			  "ramdisk_load_addr = 0x8000\n");
	cfg.boot_protocol = VM_BOOT_AUTO;
	char *out = run_guest(&cfg, 0);
	expect_out(out, "mboot: modules=1\n");
	free(out);
}

static void test_mboot_aout(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("mboot_aout", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	expect_out(out, "axkernel: magic ok\n");
	free(out);
}

static void test_elf64(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("elf64", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	expect_out(out, "elf64: ok, running at 0x002");
	expect_out(out, ", long mode, paging on, bss clear\n");
	free(out);
}

static void test_elf32(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("elf32", &cfg, NULL);
	char *out = run_guest(&cfg, 0);
	expect_out(out, "elf32: ok, running at 0x001");
	expect_out(out, ", protected mode, paging off, bss clear\n");
	free(out);
}

static void test_pvh(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("pvh", &cfg, NULL);
	assert_int_equal(cfg.boot_protocol, VM_BOOT_AUTO);
	char *out = run_guest(&cfg, 0);
	expect_out(out, "pvh: magic ok, version 1, start_info at 0x00009000\n");
	expect_out(out, "pvh: cmdline=\"pvh hello from cvisor\"\n");
	expect_out(out, "pvh: modules=0\n");
	expect_out(out, "pvh: memmap 0x00100000 len 0x00f00000 type 1\n");
	expect_out(out, "pvh: done\n");
	free(out);
}

static void test_pvh_module(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_guest_config("pvh", &cfg,
			  "ramdisk_path = \"ticker\"\n"
			  "ramdisk_load_addr = 0x8000\n");
	char *out = run_guest(&cfg, 0);
	expect_out(out, "pvh: modules=1\n");
	free(out);
}

/* ---------------------------------------------------------------- Linux */

static const char *linux_path(void)
{
	const char *p = getenv("LINUX_BZIMAGE");
	return p && *p ? p : "linux/vmlinuz";
}

static void linux_config(struct vm_config *cfg, const char *mode,
			 const char *cmdline)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "[base]\nname = \"linux-%s\"\ncpu_num = 1\n"
		 "[kernel]\nentry_point = 0x100000\nkernel_path = \"%s\"\n"
		 "kernel_load_addr = 0x100000\nboot_protocol = \"linux\"\n"
		 "cpu_mode = \"%s\"\ncmdline = \"%s\"\n"
		 "memory_regions = [[0x0, 0x10000000, 0x7, 0]]\n"
		 "[devices]\ninterrupt_mode = \"emu\"\n"
		 "emu_devices = [[\"com1\", 0x3f8, 0x8, 4, 0x2, []]]\n",
		 mode, linux_path(), mode, cmdline);
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
	r->t0 = vmtest_now_ns();
	assert_int_equal(vm_start(r->vm, &err), 0);
}

/* Wait for text; false on timeout or when the VM stopped without it. */
static bool linux_wait(struct linux_run *r, const char *text, unsigned sec)
{
	uint64_t end = vmtest_now_ns() + sec * SEC;
	bool ok = false;
	while (!ok && vmtest_now_ns() < end) {
		ok = capture_wait(&r->cap, 0, text, 250);
		if (!ok && vm_state(r->vm) == VM_STOPPED) {
			ok = capture_wait(&r->cap, 0, text, 0);
			break;
		}
	}
	print_message("  %s \"%s\" after %.3f s\n", ok ? "saw" : "no",
		      text, (double)(vmtest_now_ns() - r->t0) / 1e9);
	return ok;
}

static void linux_finish(struct linux_run *r)
{
	char last[256] = "";
	vm_stop(r->vm, true, 0, NULL);
	vm_wait_stopped(r->vm, 10 * SEC);
	vm_last_error(r->vm, last, sizeof(last));
	char *out = capture_copy(&r->cap);
	size_t n = out ? strlen(out) : 0;
	print_message("  last error: %s\n  console tail:\n%s\n",
		      last[0] ? last : "(none)",
		      !out ? "" : n > 600 ? out + n - 600 : out);
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

static void test_linux_emu_decompressor(void **state)
{
	(void)state;
	struct linux_run r;
	linux_start(&r, "protected",
		    "earlyprintk=serial,ttyS0,115200 console=ttyS0 nokaslr");
	bool ok = linux_wait(&r, "KASLR disabled: 'nokaslr' on cmdline.", 120);
	/* then the jump to the kernel proper's virtual address stops it */
	assert_int_equal(vm_wait_stopped(r.vm, 240 * SEC), 0);
	char last[256] = "";
	vm_last_error(r.vm, last, sizeof(last));
	print_message("  stopped after %.3f s: %s\n",
		      (double)(vmtest_now_ns() - r.t0) / 1e9, last);
	bool frontier = strstr(last, "0xffffffff81") != NULL;
	linux_finish(&r);
	assert_true(ok);
	assert_true(frontier);
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
