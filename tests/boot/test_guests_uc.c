/*
 * test_guests_uc: boots every test guest from its config in guests/configs
 * (through the real config loader, boot_load() and boot_vcpu_state()) on a
 * small stand-alone Unicorn VM (ucvm.c) and checks what it prints and how
 * it exits.  This proves the guests and the boot layer independently of
 * cvisor's VM layer and backends.  longmode is not here: a real-mode
 * Unicorn engine cannot follow it into 64-bit mode (see ucvm.c); the
 * QEMU test (qemu_guests.sh) runs it.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "builtin.h"
#include "testutil.h"
#include "ucvm.h"
#include "vmconfig.h"

#define RUN_MS 10000	/* generous: the emulator may share 2 cores */

static const char *config_dir(void)
{
	const char *d = getenv("GUEST_CONFIG_DIR");
	return d ? d : "guests/configs";
}

static void load_config(const char *name, struct vm_config *cfg)
{
	char path[512];
	struct vmcfg_diags d = { 0 };
	snprintf(path, sizeof(path), "%s/%s.toml", config_dir(), name);
	int rc = vmcfg_load_file(path, cfg, &d, NULL);
	for (size_t i = 0; i < d.n; i++)
		print_message("%s: %s\n", path, d.items[i].msg);
	size_t nerr = d.n_errors;
	vmcfg_diags_free(&d);
	assert_int_equal(rc, 0);
	assert_int_equal(nerr, 0);
}

static struct ucvm *boot(const char *name, struct vm_config *cfg)
{
	load_config(name, cfg);
	struct ucvm *vm = calloc(1, sizeof(*vm));
	assert_non_null(vm);
	if (ucvm_boot(vm, cfg))
		fail_msg("%s: %s", name, vm->err);
	return vm;
}

static void finish(struct ucvm *vm)
{
	ucvm_destroy(vm);
	free(vm);
}

static void expect_stop(struct ucvm *vm, enum ucvm_stop want)
{
	if (vm->stop != want)
		fail_msg("stopped with %d, wanted %d (%s); output:\n%s",
			 vm->stop, want, vm->err, vm->out);
}

static void test_exitcode(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("exitcode", &cfg);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 42);
	assert_string_equal(vm->out, "exitcode: exiting with 42\n");
	assert_int_equal(vm->boot_marks, 1);
	finish(vm);
}

/* The patchable variant: default 7, and a patched copy from a file. */
static void test_exitcode_patch(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("exitcode_patch", &cfg);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 7);
	finish(vm);

	const struct builtin_image *b = builtin_find("exitcode_patch");
	char path[] = "/tmp/cvexit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	uint8_t *copy = malloc(b->size);
	memcpy(copy, b->data, b->size);
	copy[4] = 199;				/* GUEST_PARAM_OFFSET */
	assert_int_equal(write(fd, copy, b->size), (ssize_t)b->size);
	close(fd);
	free(copy);
	load_config("exitcode_patch", &cfg);
	cfg.image_location = VM_IMAGE_FS;
	snprintf(cfg.kernel_path, sizeof(cfg.kernel_path), "%s", path);
	vm = calloc(1, sizeof(*vm));
	assert_int_equal(ucvm_boot(vm, &cfg), 0);
	ucvm_run(vm, RUN_MS);
	unlink(path);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 199);
	assert_string_equal(vm->out, "exitcode: exiting with 199\n");
	finish(vm);
}

/* "tick N" lines numbered 0, 1, 2, ... with nothing in between. */
static long check_ticks(const char *out, const char *prefix)
{
	long n = 0;
	size_t plen = strlen(prefix);
	for (const char *p = out; *p;) {
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		if (!strncmp(p, prefix, plen)) {
			char want[64];
			snprintf(want, sizeof(want), "%s%ld\n", prefix, n);
			if (strncmp(p, want, strlen(want)))
				fail_msg("expected \"%s\" at \"%.*s\"", want,
					 (int)(nl - p), p);
			n++;
		}
		p = nl + 1;
	}
	return n;
}

/* The ticker ticks until its 12th look at port 0x5f0 sees a stop. */
static void test_ticker(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("ticker", &cfg);
	vm->shutdown_after = 12;
	uint64_t t0 = tu_now_ns();
	ucvm_run(vm, RUN_MS);
	uint64_t dt = tu_now_ns() - t0;
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 0);
	assert_int_equal(check_ticks(vm->out, "tick "), 12);
	char want[512];
	size_t n = 0;
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "tick %d\n", i);
	snprintf(want + n, sizeof(want) - n, "ticker: shutdown requested\n");
	assert_string_equal(vm->out, want);
	assert_int_equal(vm->shutdown_reads, 12);
	double rate = 12.0 / ((double)dt / 1e9);
	print_message("ticker: %.1f ticks/s on unicorn\n", rate);
	assert_true(rate > 5 && rate < 500);
	finish(vm);
}

static void test_spinner(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("spinner", &cfg);
	ucvm_run(vm, 300);
	expect_stop(vm, UCVM_TIMEOUT);		/* never exits, never halts */
	assert_string_equal(vm->out, "spinner: start\n");
	assert_false(vm->cpu[0].halted);
	assert_int_equal(vm->exit_code, -1);
	finish(vm);
}

static void test_reboot(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("reboot", &cfg);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_RESET);
	assert_string_equal(vm->out, "reboot: booting\n");
	assert_int_equal(ucvm_reset(vm), 0);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_RESET);
	assert_string_equal(vm->out, "reboot: booting\nreboot: booting\n");
	/* a machine that ignores the reset gets a clear failure */
	assert_int_equal(ucvm_reset(vm), 0);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_RESET);
	vm->stop = UCVM_RUNNING;
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 1);
	assert_non_null(strstr(vm->out, "reboot: reset request ignored\n"));
	finish(vm);
}

static void test_axvisor(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("axvisor", &cfg);
	assert_string_equal(vm->plan.protocol, "axvisor");
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 0);
	assert_string_equal(vm->out,
			    "axbios: entering protected mode, kernel at 0x200000\n"
			    "axkernel: magic ok\n");
	finish(vm);
}

/* The kernel entered some other way sees no magic and says so. */
static void test_axkernel_bad_magic(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_config("axvisor", &cfg);
	cfg.has_bios = false;
	cfg.boot_protocol = VM_BOOT_RAW;
	cfg.cpu_mode = VM_CPU_PROTECTED;
	cfg.entry_point = 0x200000;
	struct ucvm *vm = calloc(1, sizeof(*vm));
	if (ucvm_boot(vm, &cfg))
		fail_msg("%s", vm->err);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 1);
	assert_string_equal(vm->out, "axkernel: bad magic 0x00000000\n");
	finish(vm);
}

/*
 * vCPU 0 reads port 0x5f0 once per round: the 6th read sees the stop, so
 * the output is exactly 5 rounds of whole lines, cpu0..cpu3 in turn.
 */
static void test_smp4(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("smp4", &cfg);
	assert_int_equal(vm->ncpus, 4);
	vm->shutdown_after = 6;
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 0);
	char want[1024];
	size_t n = (size_t)snprintf(want, sizeof(want), "smp: 4 vCPUs\n");
	for (int k = 0; k < 5; k++)
		for (int c = 0; c < 4; c++)
			n += (size_t)snprintf(want + n, sizeof(want) - n,
					      "cpu%d tick %d\n", c, k);
	snprintf(want + n, sizeof(want) - n, "smp: shutdown requested\n");
	assert_string_equal(vm->out, want);
	finish(vm);
}

static void test_demo(void **state)
{
	(void)state;
	struct vm_config cfg;
	struct ucvm *vm = boot("demo", &cfg);
	uint64_t t0 = tu_now_ns();
	ucvm_run(vm, RUN_MS);
	uint64_t dt = tu_now_ns() - t0;
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 0);
	assert_string_equal(vm->out,
			    "Hello from the cvisor demo guest\n"
			    "CPU mode: 64-bit long mode, paging on, vCPU 0 of 1\n"
			    "demo tick 0\ndemo tick 1\ndemo tick 2\n"
			    "demo: powering off\n");
	print_message("demo: %.1f ms from first instruction to exit, "
		      "boot mark after %.3f ms\n", (double)dt / 1e6,
		      (double)vm->first_mark_ns / 1e6);
	assert_true(dt < 500000000ull);
	finish(vm);
}

/* The same guests with more vCPUs than they use: the extras halt. */
static void test_extra_vcpus_halt(void **state)
{
	(void)state;
	struct vm_config cfg;
	load_config("exitcode", &cfg);
	cfg.cpu_num = 3;
	struct ucvm *vm = calloc(1, sizeof(*vm));
	if (ucvm_boot(vm, &cfg))
		fail_msg("%s", vm->err);
	ucvm_run(vm, RUN_MS);
	expect_stop(vm, UCVM_EXIT);
	assert_int_equal(vm->exit_code, 42);
	assert_string_equal(vm->out, "exitcode: exiting with 42\n");
	finish(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exitcode),
		cmocka_unit_test(test_exitcode_patch),
		cmocka_unit_test(test_ticker),
		cmocka_unit_test(test_spinner),
		cmocka_unit_test(test_reboot),
		cmocka_unit_test(test_axvisor),
		cmocka_unit_test(test_axkernel_bad_magic),
		cmocka_unit_test(test_smp4),
		cmocka_unit_test(test_demo),
		cmocka_unit_test(test_extra_vcpus_halt),
	};
	return cmocka_run_group_tests_name("guests-unicorn", tests, NULL, NULL);
}
