/*
 * Fault injection through the registry (src/common/fault.h): every fault
 * point on the VM creation and start paths, and every hit of it, is made
 * to fail in turn.  Each time the command must fail with a sentence, and
 * nothing may stay behind: threads, fds, guest-RAM and kvm_run mappings,
 * data directories, RSS (within a margin), and the VM list must be what it
 * was (the failed VM not listed, a bystander VM still Running and ticking).
 * Then the same VM config must work again.  The same for `vm start` from
 * Stopped and for a guest reboot (the machine rebuilt on a vCPU thread).
 * Runs on the backend named by
 * $CVISOR_TEST_ACCEL; skips (77) in builds without -Dfault_injection=true.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "builtin.h"
#include "console.h"
#include "fault.h"
#include "fsutil.h"
#include "registry.h"
#include "testutil.h"
#include "vmtest.h"

/* An unusual RAM size, so that its mappings can be counted exactly. */
#define RAM_SIZE 0x1230000ull
#define MAX_POINTS 32

struct counts {
	int threads, fds, ram_maps, vcpu_maps, maps, dirs;
	long rss_kb;
};

/*
 * The sanitizers' own heaps (x86-64: ASan's allocator space at
 * 0x600000000000, TSan's heap at 0x7b0000000000) grow in steps and can
 * pass through exactly RAM_SIZE (seen: 603000000000-603001230000 under
 * ASan, counted as a "leaked" RAM map).  Guest RAM is never mapped there.
 */
static bool sanitizer_heap(unsigned long long a)
{
	return (a >= 0x600000000000ull && a < 0x640000000000ull) ||
	       (a >= 0x7b0000000000ull && a < 0x7c0000000000ull);
}

/* /proc/self/maps: RAM-sized mappings, kvm_run mappings, all lines. */
static void count_maps(int *ram, int *vcpu, int *all)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	*ram = *vcpu = *all = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long a, b;
		(*all)++;
		if (sscanf(line, "%llx-%llx", &a, &b) == 2 && b - a == RAM_SIZE &&
		    !sanitizer_heap(a))
			(*ram)++;
		if (strstr(line, "kvm-vcpu"))
			(*vcpu)++;
	}
	if (f)
		fclose(f);
}

static int count_dirs(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

struct fx {
	char state_dir[128];
	char vms_dir[160];
	struct registry *reg;
	struct vm_config cfg;		/* the VM that is made to fail */
	struct vm_config ticker;	/* the bystander */
	uint32_t bystander;
};

static void take(struct fx *fx, struct counts *c)
{
	c->threads = tu_thread_count();
	c->fds = tu_fd_count();
	count_maps(&c->ram_maps, &c->vcpu_maps, &c->maps);
	c->dirs = count_dirs(fx->vms_dir);
	c->rss_kb = tu_rss_kb();
}

static void config_for(struct vm_config *cfg, const char *image,
		       unsigned ncpu, uint64_t ram)
{
	const struct builtin_image *b = builtin_find(image);
	assert_non_null(b);
	char text[2048];
	snprintf(text, sizeof(text),
		 "[base]\nname = \"%s\"\ncpu_num = %u\naccel = \"%s\"\n"
		 "[kernel]\nimage_location = \"memory\"\nkernel_path = \"%s\"\n"
		 "entry_point = 0x%llx\nkernel_load_addr = 0x%llx\n"
		 "boot_protocol = \"raw\"\ncpu_mode = \"real\"\n"
		 "memory_regions = [[0x0, 0x%llx, 0x7, 0]]\n",
		 image, ncpu, vmtest_accel_name(), image,
		 (unsigned long long)b->entry,
		 (unsigned long long)b->load_addr, (unsigned long long)ram);
	struct vmcfg_diags d = {0};
	int rc = vmcfg_load_string(text, strlen(text), "<test>", NULL, cfg, &d,
				   NULL);
	vmcfg_diags_free(&d);
	assert_int_equal(rc, 0);
}

static struct vm *vm_of(struct registry *r, uint32_t id)
{
	struct reg_vm *v = registry_get(r, id);
	assert_non_null(v);
	struct vm *vm = reg_vm_vm(v);
	reg_vm_put(v);		/* listed: the table keeps it alive */
	return vm;
}

static void delete_id(struct registry *r, uint32_t id)
{
	struct reg_vm *v = registry_get(r, id);
	assert_non_null(v);
	struct cv_err e = {0};
	assert_int_equal(registry_delete(r, v, true, false, NULL, &e), 0);
	reg_vm_put(v);
}

/* The bystander is listed, Running and still printing ticks. */
static void check_bystander(struct fx *fx)
{
	struct vm *vm = vm_of(fx->reg, fx->bystander);
	assert_int_equal(vm_state(vm), VM_RUNNING);
	uint64_t b0 = console_bytes(vm_console(vm));
	uint64_t deadline = tu_now_ns() + 5000000000ull * vmtest_slowdown();
	while (console_bytes(vm_console(vm)) == b0) {
		if (tu_now_ns() > deadline)
			fail_msg("the bystander VM stopped printing");
		usleep(1000);
	}
}

/* Create + start + run to its exit; returns the new id. */
static uint32_t good_cycle(struct fx *fx, bool delete)
{
	uint32_t id;
	struct cv_err e = {0};
	int rc = registry_add(fx->reg, &fx->cfg, &id, &e);
	if (rc)
		fail_msg("create without a fault failed: %s", e.msg);
	struct vm *vm = vm_of(fx->reg, id);
	assert_int_equal(vm_start(vm, &e), 0);
	assert_int_equal(vm_wait_stopped(vm, 10000000000ull * vmtest_slowdown()),
			 0);
	assert_int_equal(vm_exit_code(vm), GUEST_EXIT_CODE);
	if (delete)
		delete_id(fx->reg, id);
	return id;
}

/*
 * exact: every counter back at base.  Otherwise at most base: a start that
 * failed leaves the VM Stopped without a backend (its fds, kvm_run maps
 * and KVM's per-VM kernel worker thread are gone until the next start).
 */
static void leak_check_mode(struct fx *fx, const struct counts *base,
			    const char *what, bool exact)
{
	struct counts now;
	take(fx, &now);
	bool bad = exact ? now.threads != base->threads ||
			   now.fds != base->fds ||
			   now.ram_maps != base->ram_maps ||
			   now.vcpu_maps != base->vcpu_maps ||
			   now.dirs != base->dirs
			 : now.threads > base->threads ||
			   now.fds > base->fds ||
			   now.ram_maps > base->ram_maps ||
			   now.vcpu_maps > base->vcpu_maps ||
			   now.dirs > base->dirs;
	if (bad)
		fail_msg("%s leaked: threads %d->%d fds %d->%d RAM maps %d->%d "
			 "kvm_run maps %d->%d data dirs %d->%d", what,
			 base->threads, now.threads, base->fds, now.fds,
			 base->ram_maps, now.ram_maps, base->vcpu_maps,
			 now.vcpu_maps, base->dirs, now.dirs);
	/* malloc arenas of new threads may add a few mappings, not more;
	 * the sanitizers' per-thread state adds more (TSan: +24 seen) */
	if (now.maps > base->maps + (vmtest_sanitized() ? 64 : 16))
		fail_msg("%s: mappings grew %d -> %d", what, base->maps,
			 now.maps);
	if (!vmtest_sanitized() && now.rss_kb > base->rss_kb + 16384)
		fail_msg("%s: RSS grew %ld -> %ld KiB", what, base->rss_kb,
			 now.rss_kb);
}

static void leak_check(struct fx *fx, const struct counts *base,
		       const char *what)
{
	leak_check_mode(fx, base, what, true);
}

static int setup(void **state)
{
	if (!cv_fault_enabled()) {
		printf("SKIP: built without -Dfault_injection=true\n");
		exit(77);
	}
	vmtest_accel();
	struct fx *fx = calloc(1, sizeof(*fx));
	snprintf(fx->state_dir, sizeof(fx->state_dir), "/tmp/cvisor-faults-XXXXXX");
	assert_non_null(mkdtemp(fx->state_dir));
	snprintf(fx->vms_dir, sizeof(fx->vms_dir), "%s/vms", fx->state_dir);
	struct registry_opts ro = { .state_dir = fx->state_dir };
	assert_int_equal(registry_create(&ro, &fx->reg, NULL), 0);
	config_for(&fx->cfg, "exitcode", 2, RAM_SIZE);
	config_for(&fx->ticker, "ticker", 1, 0x1000000);
	struct cv_err e = {0};
	assert_int_equal(registry_add(fx->reg, &fx->ticker, &fx->bystander, &e),
			 0);
	assert_int_equal(vm_start(vm_of(fx->reg, fx->bystander), &e), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	cv_fault_disarm();
	registry_destroy(fx->reg, false);
	cv_remove_tree(fx->state_dir);
	free(fx);
	return 0;
}

/* Hits of every point while the ops run: {point, hits} pairs. */
struct hitmap {
	const char *name[MAX_POINTS];
	long hits[MAX_POINTS];
	size_t n;
};

static void hits_now(struct hitmap *h)
{
	h->n = 0;
	for (size_t i = 0; cv_fault_point(i) && i < MAX_POINTS; i++) {
		h->name[h->n] = cv_fault_point(i);
		h->hits[h->n++] = cv_fault_hits(cv_fault_point(i));
	}
}

/* `vm create` fails at every hit of every point in turn. */
static void test_create_faults(void **state)
{
	struct fx *fx = *state;
	good_cycle(fx, true);		/* warm-up: arenas, probes, caches */
	cv_fault_reset_counts();
	uint32_t id = good_cycle(fx, false);
	(void)id;
	struct hitmap h;
	hits_now(&h);
	delete_id(fx->reg, id);
	/* the creation path must pass the points of its backend */
	bool kvm = !strcmp(vmtest_accel_name(), "kvm");
	static const char *const must_kvm[] = { "mem.mmap", "kvm.create_vm",
		"kvm.set_memory", "kvm.create_vcpu", "kvm.vcpu_mmap",
		"vm.thread", "data.mkdir", "reg.config_write", "console.open",
		"devices.create", "boot.load" };
	static const char *const must_emu[] = { "mem.mmap", "emu.uc_open",
		"emu.mem_map", "vm.thread", "data.mkdir", "reg.config_write",
		"console.open", "devices.create", "boot.load" };
	const char *const *must = kvm ? must_kvm : must_emu;
	size_t nmust = kvm ? sizeof(must_kvm) / sizeof(must_kvm[0])
			   : sizeof(must_emu) / sizeof(must_emu[0]);
	for (size_t i = 0; i < nmust; i++)
		if (cv_fault_hits(must[i]) <= 0)
			fail_msg("point %s was not reached", must[i]);

	struct counts base;
	take(fx, &base);
	size_t runs = 0;
	for (size_t p = 0; p < h.n; p++) {
		for (long nth = 1; nth <= h.hits[p]; nth++) {
			char what[96];
			snprintf(what, sizeof(what), "create with %s #%ld",
				 h.name[p], nth);
			size_t listed = registry_count(fx->reg);
			assert_int_equal(cv_fault_arm(h.name[p], (unsigned)nth,
						      ENOMEM), 0);
			struct cv_err e = {0};
			uint32_t nid = 12345;
			int rc = registry_add(fx->reg, &fx->cfg, &nid, &e);
			bool fired = cv_fault_fired();
			cv_fault_disarm();
			if (!fired) {
				/* a later hit in the start phase only */
				if (!rc)
					delete_id(fx->reg, nid);
				continue;
			}
			if (rc >= 0)
				fail_msg("%s: succeeded", what);
			if (!e.msg[0])
				fail_msg("%s: failed without a sentence", what);
			print_message("%-32s -> %s\n", what, e.msg);
			assert_int_equal(registry_count(fx->reg), listed);
			assert_int_equal(nid, 12345);
			check_bystander(fx);
			leak_check(fx, &base, what);
			runs++;
		}
	}
	print_message("%zu injected create failures, all clean\n", runs);
	assert_true(runs >= nmust);
	good_cycle(fx, true);		/* and it works again */
	leak_check(fx, &base, "the final good cycle");
}

/*
 * `vm start` from Stopped rebuilds the machine (image, backend VM,
 * vCPUs): each failing hit leaves the VM listed and Stopped with the
 * reason recorded, and the next start works.
 */
static void test_start_faults(void **state)
{
	struct fx *fx = *state;
	uint32_t id = good_cycle(fx, false);
	struct vm *vm = vm_of(fx->reg, id);
	struct cv_err e = {0};
	cv_fault_reset_counts();
	assert_int_equal(vm_start(vm, &e), 0);
	assert_int_equal(vm_wait_stopped(vm, 10000000000ull * vmtest_slowdown()),
			 0);
	struct hitmap h;
	hits_now(&h);
	struct counts base;
	take(fx, &base);
	size_t runs = 0;
	for (size_t p = 0; p < h.n; p++) {
		for (long nth = 1; nth <= h.hits[p]; nth++) {
			char what[96];
			snprintf(what, sizeof(what), "start with %s #%ld",
				 h.name[p], nth);
			assert_int_equal(cv_fault_arm(h.name[p], (unsigned)nth,
						      EIO), 0);
			memset(&e, 0, sizeof(e));
			int rc = vm_start(vm, &e);
			bool fired = cv_fault_fired();
			cv_fault_disarm();
			if (!fired)
				fail_msg("%s: the point was not reached", what);
			if (rc >= 0)
				fail_msg("%s: succeeded", what);
			if (!e.msg[0])
				fail_msg("%s: failed without a sentence", what);
			print_message("%-32s -> %s\n", what, e.msg);
			assert_int_equal(vm_state(vm), VM_STOPPED);
			struct reg_vm *rv = registry_get(fx->reg, id);
			assert_non_null(rv);
			reg_vm_put(rv);
			check_bystander(fx);
			leak_check_mode(fx, &base, what, false);
			/* the next start works, and all is as before */
			assert_int_equal(vm_start(vm, &e), 0);
			assert_int_equal(vm_wait_stopped(vm, 10000000000ull *
							     vmtest_slowdown()), 0);
			assert_int_equal(vm_exit_code(vm), GUEST_EXIT_CODE);
			leak_check(fx, &base, what);
			runs++;
		}
	}
	print_message("%zu injected start failures, all clean\n", runs);
	assert_true(runs >= 3);
	delete_id(fx->reg, id);
}

/*
 * A guest reboot rebuilds the machine on the vCPU thread that parked
 * last: each point on that path failing there must stop the VM with the
 * reason recorded (Stopped, stop reason error, the sentence as its last
 * error), and the next start must boot it again.
 */
static void test_reboot_faults(void **state)
{
	struct fx *fx = *state;
	struct vm_config cfg;
	config_for(&cfg, "reboot", 2, RAM_SIZE);
	struct counts base;
	take(fx, &base);
	uint32_t id;
	struct cv_err e = {0};
	assert_int_equal(registry_add(fx->reg, &cfg, &id, &e), 0);
	struct vm *vm = vm_of(fx->reg, id);
	bool kvm = !strcmp(vmtest_accel_name(), "kvm");
	static const char *const pts_kvm[] = { "kvm.create_vm",
		"kvm.set_memory", "kvm.create_vcpu", "kvm.vcpu_mmap",
		"boot.load" };
	static const char *const pts_emu[] = { "emu.uc_open", "emu.mem_map",
		"boot.load" };
	const char *const *pts = kvm ? pts_kvm : pts_emu;
	size_t npts = kvm ? 5 : 3;
	uint64_t wait = 10000000000ull * vmtest_slowdown();
	for (size_t i = 0; i < npts; i++) {
		assert_int_equal(vm_start(vm, &e), 0);
		struct vm_stats st;
		uint64_t until = tu_now_ns() + wait;
		do {	/* resetting steadily */
			usleep(1000);
			vm_get_stats(vm, &st);
		} while (st.reboots < 2 && tu_now_ns() < until);
		assert_true(st.reboots >= 2);
		assert_int_equal(cv_fault_arm(pts[i], 1, EIO), 0);
		assert_int_equal(vm_wait_stopped(vm, wait), 0);
		assert_true(cv_fault_fired());
		char msg[256];
		vm_last_error(vm, msg, sizeof(msg));
		print_message("reboot with %-16s -> Stopped: %s\n", pts[i], msg);
		assert_int_equal(vm_stop_reason(vm), VM_STOP_ERROR);
		assert_true(msg[0] != '\0');
		check_bystander(fx);
	}
	/* and it boots again */
	assert_int_equal(vm_start(vm, &e), 0);
	struct vm_stats st;
	uint64_t until = tu_now_ns() + wait;
	do {
		usleep(1000);
		vm_get_stats(vm, &st);
	} while (st.reboots < 2 && tu_now_ns() < until);
	assert_true(st.reboots >= 2);
	delete_id(fx->reg, id);
	leak_check(fx, &base, "the reboot faults");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_faults),
		cmocka_unit_test(test_start_faults),
		cmocka_unit_test(test_reboot_faults),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
