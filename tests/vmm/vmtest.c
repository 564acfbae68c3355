#include "vmtest.h"

#include <dirent.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "builtin.h"
#include "console.h"
#include "testutil.h"

bool vmtest_sanitized(void)
{
#if CV_TEST_SANITIZED
	return true;
#else
	return false;
#endif
}

unsigned vmtest_slowdown(void)
{
	/* KVM nested under QEMU's TCG: every exit costs ~50 µs, kicks ~0.2 ms */
	const char *tier = getenv("CVISOR_TEST_TIER");
	if (vmtest_sanitized() || (tier && *tier))
		return 20;
	return 1;
}

const char *vmtest_accel_name(void)
{
	const char *a = getenv("CVISOR_TEST_ACCEL");
	return a && *a ? a : "emu";
}

enum vm_accel vmtest_accel(void)
{
	const char *a = vmtest_accel_name();
	enum vm_accel acc = !strcmp(a, "kvm") ? VM_ACCEL_KVM : VM_ACCEL_EMU;
	char why[256];
	struct cv_err err = {0};
	if (!backend_select(acc, why, sizeof(why), &err)) {
		printf("SKIP: backend %s not usable here: %s\n", a, err.msg);
		exit(77);
	}
	return acc;
}

void vmtest_config(struct vm_config *cfg, const char *image,
		   unsigned cpu_num, const char *extra_base)
{
	const struct builtin_image *b = builtin_find(image);
	if (!b)
		fail_msg("no built-in image %s", image);
	static const char *const modes[] = { "real", "protected", "long" };
	char text[2048];
	snprintf(text, sizeof(text),
		 "[base]\nname = \"%s\"\ncpu_num = %u\naccel = \"%s\"\n%s\n"
		 "[kernel]\nimage_location = \"memory\"\nkernel_path = \"%s\"\n"
		 "entry_point = 0x%llx\nkernel_load_addr = 0x%llx\n"
		 "boot_protocol = \"raw\"\ncpu_mode = \"%s\"\n"
		 "memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n",
		 image, cpu_num, vmtest_accel_name(),
		 extra_base ? extra_base : "", image,
		 (unsigned long long)b->entry, (unsigned long long)b->load_addr,
		 modes[b->cpu_mode >= 0 && b->cpu_mode <= 2 ? b->cpu_mode : 0]);
	struct vmcfg_diags d = {0};
	int rc = vmcfg_load_string(text, strlen(text), "<test>", NULL, cfg, &d,
				   NULL);
	for (size_t i = 0; i < d.n; i++)
		print_message("config: %s\n", d.items[i].msg);
	vmcfg_diags_free(&d);
	assert_int_equal(rc, 0);
}

/* VMs alive in the current test (see vmtest_teardown) */
#define VMTEST_MAX_LIVE 128
static struct {
	struct vm *vm;
	int listener;		/* -1: none */
} live[VMTEST_MAX_LIVE];

static void live_add(struct vm *vm, int listener)
{
	for (size_t i = 0; i < VMTEST_MAX_LIVE; i++)
		if (!live[i].vm) {
			live[i].vm = vm;
			live[i].listener = listener;
			return;
		}
	fail_msg("more than %d live test VMs", VMTEST_MAX_LIVE);
}

static void live_del(struct vm *vm)
{
	for (size_t i = 0; i < VMTEST_MAX_LIVE; i++)
		if (live[i].vm == vm)
			live[i].vm = NULL;
}

int vmtest_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < VMTEST_MAX_LIVE; i++) {
		if (!live[i].vm)
			continue;
		struct vm *vm = live[i].vm;
		/* its capture may be gone with the failed test's stack */
		if (live[i].listener >= 0)
			console_remove_listener(vm_console(vm),
						live[i].listener);
		live[i].vm = NULL;
		vm_destroy(vm);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t vmtest_median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n ? v[n / 2] : 0;
}

void vmtest_fail_vm(struct vm *vm, struct capture *cap, const char *what)
{
	char last[256] = "";
	vm_last_error(vm, last, sizeof(last));
	char *out = capture_copy(cap);
	fail_msg("%s on %s: state %s, stop reason %d, exit %d (%s); output:\n%s",
		 what, vmtest_accel_name(), vm_state_name(vm_state(vm)),
		 vm_stop_reason(vm), vm_exit_code(vm), last, out ? out : "");
}

void vmtest_expect_out(const char *out, const char *want)
{
	if (!out || !strstr(out, want))
		fail_msg("output lacks \"%s\":\n%s", want, out ? out : "");
}

uint64_t vmtest_wait_number(struct vm *vm, struct capture *cap, size_t from,
			    const char *prefix, long n, long *seen,
			    uint64_t timeout_ns)
{
	uint64_t end = tu_now_ns() + timeout_ns;
	while (tu_now_ns() < end) {
		long t = capture_last_number(cap, from, prefix);
		if (t >= n) {
			if (seen)
				*seen = t;
			return tu_now_ns();
		}
		if (vm_state(vm) != VM_RUNNING)
			return 0;
		usleep(500);
	}
	return 0;
}

struct vm *vmtest_create(const struct vm_config *cfg, struct capture *cap)
{
	/* $VMTEST_NO_SECCOMP: the same tests without filters, to compare */
	struct vm_host_opts opts = {
		.accel_default = VM_ACCEL_AUTO,
		.no_seccomp = getenv("VMTEST_NO_SECCOMP") != NULL,
	};
	struct vm *vm = NULL;
	struct cv_err err = {0};
	int rc = vm_create(cfg, 0, &opts, &vm, &err);
	if (rc)
		fail_msg("vm_create(%s): %s", cfg->name, err.msg);
	if (cap)
		capture_attach(cap, vm_console(vm));
	live_add(vm, cap ? cap->listener : -1);
	return vm;
}

void vmtest_destroy(struct vm *vm, struct capture *cap)
{
	live_del(vm);
	if (cap)
		capture_detach(cap);
	vm_destroy(vm);
}

struct vm *vmtest_start_guest(const char *name, struct capture *cap)
{
	struct vm_config cfg;
	vmtest_load_guest_config(name, &cfg, NULL);
	struct vm *vm = vmtest_create(&cfg, cap);
	struct cv_err err = { 0 };
	if (vm_start(vm, &err))
		fail_msg("vm_start(%s) on %s: %s", name, vmtest_accel_name(),
			 err.msg);
	return vm;
}

void vmtest_load_guest_config(const char *name, struct vm_config *cfg,
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
