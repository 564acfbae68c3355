/*
 * The VM registry: id allocation (lowest free, [base] id, clashes, the
 * host limit), lookup by id and name, delete against concurrent holders
 * (no new lookup finds a VM being deleted; its memory stays valid for
 * those who hold it; delete waits for them), and a many-session stress
 * run of random commands that must end without a crash, a deadlock or a
 * VM outside the state machine.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "shtest.h"

static void load(struct vm_config *cfg, const char *name)
{
	struct vmcfg_diags d = {0};
	assert_int_equal(vmcfg_load_file(sht_cfg(name), cfg, &d, NULL), 0);
	vmcfg_diags_free(&d);
}

static void test_ids(void **state)
{
	(void)state;
	struct registry *r;
	struct registry_opts ro = { .accel_default = sht_accel(), .max_vms = 4 };
	assert_int_equal(registry_create(&ro, &r, NULL), 0);
	struct vm_config cfg;
	load(&cfg, "ticker");
	uint32_t id;
	struct cv_err e = {0};
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(registry_add(r, &cfg, &id, &e), 0);
		assert_int_equal(id, i);
	}
	/* delete the middle one: its id is the lowest free again */
	struct reg_vm *v = registry_get(r, 1);
	assert_int_equal(registry_delete(r, v, false, false, NULL, &e), 0);
	reg_vm_put(v);
	assert_null(registry_get(r, 1));
	assert_int_equal(registry_add(r, &cfg, &id, &e), 0);
	assert_int_equal(id, 1);
	/* [base] id honoured, clash refused */
	cfg.has_id = true;
	cfg.id = 2;
	assert_int_equal(registry_add(r, &cfg, &id, &e), -EEXIST);
	assert_string_equal(e.msg, "[base] id 2 is already used by VM 'ticker'");
	cfg.id = 100;
	assert_int_equal(registry_add(r, &cfg, &id, &e), 0);
	assert_int_equal(id, 100);
	/* the host limit */
	cfg.has_id = false;
	id = 999;
	assert_int_equal(registry_add(r, &cfg, &id, &e), -ENOSPC);
	assert_string_equal(e.msg,
			    "the number of VMs would be 5, limit 4 (--max-vms)");
	assert_int_equal(id, 3);	/* the id it would have had */
	assert_int_equal(registry_count(r), 4);
	/* the next free id after 0,1,2 is 3 even with 100 taken */
	v = registry_get(r, 100);
	assert_int_equal(registry_delete(r, v, false, false, NULL, &e), 0);
	reg_vm_put(v);
	assert_int_equal(registry_add(r, &cfg, &id, &e), 0);
	assert_int_equal(id, 3);
	registry_destroy(r, false);
}

static void test_lookup(void **state)
{
	(void)state;
	struct registry *r;
	struct registry_opts ro = { .accel_default = sht_accel() };
	assert_int_equal(registry_create(&ro, &r, NULL), 0);
	struct vm_config cfg;
	load(&cfg, "ticker");
	assert_int_equal(registry_add(r, &cfg, NULL, NULL), 0);
	snprintf(cfg.name, sizeof(cfg.name), "12abc");
	assert_int_equal(registry_add(r, &cfg, NULL, NULL), 0);
	struct reg_vm *v;
	struct cv_err e = {0};
	assert_int_equal(registry_lookup(r, "0", &v, &e), 0);
	assert_string_equal(reg_vm_name(v), "ticker");
	reg_vm_put(v);
	assert_int_equal(registry_lookup(r, "ticker", &v, &e), 0);
	assert_int_equal(reg_vm_id(v), 0);
	reg_vm_put(v);
	assert_int_equal(registry_lookup(r, "12abc", &v, &e), 0);	/* a name */
	assert_int_equal(reg_vm_id(v), 1);
	reg_vm_put(v);
	assert_int_equal(registry_lookup(r, "7", &v, &e), -ENOENT);
	assert_string_equal(e.msg, "no VM has id 7");
	assert_int_equal(registry_lookup(r, "99999999999", &v, &e), -ENOENT);
	assert_int_equal(registry_lookup(r, "", &v, &e), -ENOENT);
	assert_int_equal(registry_lookup(r, "nope", &v, &e), -ENOENT);
	assert_string_equal(e.msg, "no VM is named 'nope'");
	snprintf(cfg.name, sizeof(cfg.name), "ticker");
	assert_int_equal(registry_add(r, &cfg, NULL, NULL), 0);
	assert_int_equal(registry_lookup(r, "ticker", &v, &e), -EEXIST);
	assert_null(v);
	registry_destroy(r, false);
}

struct holder {
	struct registry *r;
	struct reg_vm *v;
	pthread_t thread;
	bool done;
	int rc;
};

static void *deleter(void *arg)
{
	struct holder *h = arg;
	struct cv_err e = {0};
	h->rc = registry_delete(h->r, h->v, true, false, NULL, &e);
	__atomic_store_n(&h->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

/* delete waits for other holders; meanwhile nobody new can find the VM */
static void test_delete_with_holders(void **state)
{
	(void)state;
	struct registry *r;
	struct registry_opts ro = { .accel_default = sht_accel() };
	assert_int_equal(registry_create(&ro, &r, NULL), 0);
	struct vm_config cfg;
	load(&cfg, "ticker");
	assert_int_equal(registry_add(r, &cfg, NULL, NULL), 0);
	struct reg_vm *mine = registry_get(r, 0);
	assert_int_equal(vm_start(reg_vm_vm(mine), NULL), 0);
	struct holder h = { .r = r, .v = registry_get(r, 0) };
	assert_int_equal(pthread_create(&h.thread, NULL, deleter, &h), 0);
	/* it leaves the table at once ... */
	for (int i = 0; i < 2000 && registry_count(r); i++)
		usleep(1000);
	assert_int_equal(registry_count(r), 0);
	assert_null(registry_get(r, 0));
	struct reg_vm *none;
	assert_int_equal(registry_lookup(r, "ticker", &none, NULL), -ENOENT);
	assert_true(reg_vm_deleted(mine));
	/* ... but waits for us, and what we hold still works */
	usleep(200000);
	assert_false(__atomic_load_n(&h.done, __ATOMIC_SEQ_CST));
	assert_int_equal(vm_state(reg_vm_vm(mine)), VM_STOPPED);
	assert_int_equal(reg_vm_lock_op(mine), -ENOENT);
	reg_vm_put(mine);
	pthread_join(h.thread, NULL);
	assert_int_equal(h.rc, 0);
	assert_null(reg_vm_vm(h.v));
	reg_vm_put(h.v);
	registry_destroy(r, false);
}

/*
 * `vm list`/`vm show --full` read parked vCPUs' registers; a start from
 * Stopped rebuilds those vCPUs meanwhile.  (Found by the stress test: the
 * reader used a vCPU being destroyed.)
 */
struct looper {
	struct registry *r;
	const char *line;
	atomic_bool *stop;
	pthread_t thread;
	unsigned n;
};

static void *loop_main(void *arg)
{
	struct looper *l = arg;
	struct shell *sh;
	if (shell_create(l->r, NULL, &sh, NULL))
		return NULL;
	while (!*l->stop) {
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		shell_run_line(sh, l->line, f, f);
		fclose(f);
		free(out);
		l->n++;
	}
	shell_destroy(sh);
	return NULL;
}

static void test_show_during_restarts(void **state)
{
	(void)state;
	struct shtest t;
	sht_setup(&t, NULL);
	assert_int_equal(sht_run(&t, "vm create %s %s", sht_cfg("ticker"),
				 sht_cfg("smp4")), 0);
	atomic_bool stop = false;
	struct looper l[3] = {
		{ .r = t.reg, .stop = &stop,
		  .line = "vm start 0 1; vm stop -f 0 1; vm restart -f 0 1" },
		{ .r = t.reg, .stop = &stop, .line = "vm list" },
		{ .r = t.reg, .stop = &stop, .line = "vm show 1 --full" },
	};
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&l[i].thread, NULL, loop_main,
						&l[i]), 0);
	sleep(2);
	stop = true;
	for (int i = 0; i < 3; i++)
		pthread_join(l[i].thread, NULL);
	print_message("%u start/stop/restart rounds against %u lists and %u "
		      "shows\n", l[0].n, l[1].n, l[2].n);
	assert_true(l[0].n > 0 && l[1].n > 0 && l[2].n > 0);
	sht_teardown(&t);
}

/* ---- stress: many sessions, random commands --------------------------- */

struct worker {
	struct registry *r;
	unsigned seed;
	pthread_t thread;
	unsigned commands;
	atomic_bool *stop;
	bool bad;
	char why[1024];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	static const char *const cmds[] = {
		"vm list", "vm list -f json", "vm show %u", "vm show %u --full",
		"vm start %u", "vm stop %u --force", "vm stop %u --timeout 0.05",
		"vm suspend %u", "vm resume %u", "vm restart %u -f",
		"vm delete %u", "vm delete %u --force", "vm stats %u",
		"vm wait %u --timeout 0.01", "vm log %u --lines 2", "vm create %s",
	};
	const size_t n = sizeof(cmds) / sizeof(cmds[0]);
	struct shell *sh;
	if (shell_create(w->r, NULL, &sh, NULL))
		return NULL;
	while (!*w->stop) {
		char line[600];
		const char *c = cmds[rand_r(&w->seed) % n];
		unsigned id = (unsigned)rand_r(&w->seed) % 6;
		if (strstr(c, "%s"))
			snprintf(line, sizeof(line), c, sht_cfg("ticker"));
		else
			snprintf(line, sizeof(line), c, id);
		char *out = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		int st = shell_run_line(sh, line, f, f);
		fclose(f);
		if (st != 0 && st != 1 && !w->bad) {
			/* cmocka cannot fail from this thread: report later */
			w->bad = true;
			snprintf(w->why, sizeof(w->why), "'%s': status %d: %s",
				 line, st, out);
		}
		free(out);
		w->commands++;
	}
	shell_destroy(sh);
	return NULL;
}

static void test_stress(void **state)
{
	(void)state;
	struct shtest t;
	sht_setup(&t, NULL);
	atomic_bool stop = false;
	struct worker w[6];
	for (unsigned i = 0; i < 6; i++) {
		w[i] = (struct worker){ .r = t.reg, .seed = 1234 + i,
					.stop = &stop };
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main,
						&w[i]), 0);
	}
	sleep(3);
	stop = true;
	unsigned total = 0;
	for (unsigned i = 0; i < 6; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].commands;
		if (w[i].bad)
			fail_msg("session %u: %s", i, w[i].why);
	}
	print_message("stress: %u commands from 6 sessions in 3 s, %zu VMs "
		      "left\n", total, registry_count(t.reg));
	/* every VM is in a state of the machine and answers */
	struct reg_vm **vms;
	size_t n;
	assert_int_equal(registry_snapshot(t.reg, &vms, &n), 0);
	for (size_t i = 0; i < n; i++) {
		enum vm_state s = reg_vm_state(vms[i]);
		assert_true(s >= VM_LOADED && s <= VM_STOPPED);
		assert_true(s != VM_STOPPING);	/* nobody is stopping now */
	}
	registry_snapshot_free(vms, n);
	sht_run(&t, "vm stop --force 0 1 2 3 4 5");
	assert_int_equal(sht_run(&t, "vm list"), 0);
	sht_teardown(&t);
}

int main(void)
{
	sht_require_backend();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_delete_with_holders),
		cmocka_unit_test(test_show_during_restarts),
		cmocka_unit_test(test_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
