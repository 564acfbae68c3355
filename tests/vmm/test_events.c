/*
 * Registry events with real VMs (on the backend of $CVISOR_TEST_ACCEL):
 * the exact sequence of a guest that exits by itself (delivered from its
 * vCPU thread, with reason and exit code), the commands' transitions, in-
 * place reboots and on_reboot = stop, a failed load, DELETED before the
 * CREATED of a VM that reuses the id, the JSON form of each, that
 * registry_remove_listener waits for a running callback, and a stress run
 * whose per-VM event chains must be unbroken (each STATE starts where the
 * previous event of that VM ended) with seq numbers 1, 2, 3, ...
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "event_json.h"
#include "registry.h"
#include "testutil.h"
#include "vmtest.h"

#define SEC 1000000000ull
#define MAX_EVENTS 20000
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct rec {
	struct reg_event e;
	char name[64];
	pid_t tid;
	char json[512];
	int json_rc;
};

/* A listener that records everything (quick: a copy under its lock). */
struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rec *ev;
	size_t n;
	atomic_int in_call;
	bool overflow;
};

static void on_event(void *ctx, const struct reg_event *e)
{
	struct recorder *r = ctx;
	atomic_fetch_add(&r->in_call, 1);
	pthread_mutex_lock(&r->lock);
	if (r->n < MAX_EVENTS) {
		struct rec *x = &r->ev[r->n++];
		x->e = *e;
		snprintf(x->name, sizeof(x->name), "%s", e->name);
		x->e.name = x->name;
		x->tid = (pid_t)syscall(SYS_gettid);
		x->json_rc = reg_event_json_line(e, x->json, sizeof(x->json));
	} else {
		r->overflow = true;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	atomic_fetch_sub(&r->in_call, 1);
}

static void rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->ev = calloc(MAX_EVENTS, sizeof(*r->ev));
	assert_non_null(r->ev);
}

static void rec_fini(struct recorder *r)
{
	free(r->ev);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

/* Wait until at least n events were recorded. */
static bool rec_wait(struct recorder *r, size_t n, uint64_t timeout_ns)
{
	uint64_t end = tu_now_ns() + timeout_ns * vmtest_slowdown();
	pthread_mutex_lock(&r->lock);
	while (r->n < n && tu_now_ns() < end) {
		pthread_mutex_unlock(&r->lock);
		usleep(2000);
		pthread_mutex_lock(&r->lock);
	}
	bool ok = r->n >= n;
	pthread_mutex_unlock(&r->lock);
	return ok;
}

static struct registry *new_registry(void)
{
	struct registry *reg;
	struct registry_opts o = { .accel_default = vmtest_accel() };
	assert_int_equal(registry_create(&o, &reg, NULL), 0);
	return reg;
}

static uint32_t add(struct registry *reg, const char *image,
		    const char *extra)
{
	struct vm_config cfg;
	vmtest_config(&cfg, image, 1, extra);
	uint32_t id;
	struct cv_err e = {0};
	if (registry_add(reg, &cfg, &id, &e))
		fail_msg("registry_add(%s): %s", image, e.msg);
	return id;
}

static void del(struct registry *reg, uint32_t id)
{
	struct reg_vm *v = registry_get(reg, id);
	assert_non_null(v);
	struct cv_err e = {0};
	assert_int_equal(registry_delete(reg, v, true, false, NULL, &e), 0);
	reg_vm_put(v);
}

static struct vm *vm_of(struct registry *reg, uint32_t id)
{
	struct reg_vm *v = registry_get(reg, id);
	assert_non_null(v);
	struct vm *vm = reg_vm_vm(v);
	reg_vm_put(v);		/* the VM stays while it is listed */
	return vm;
}

static void expect(const struct rec *x, enum reg_event_kind k, uint32_t id,
		   enum vm_state from, enum vm_state to,
		   enum vm_stop_reason why, int code)
{
	if (x->e.kind != k || x->e.id != id || x->e.old_state != from ||
	    x->e.new_state != to || x->e.reason != why ||
	    x->e.exit_code != code)
		fail_msg("event seq %llu: got %s VM %u %s -> %s (%s, %d), "
			 "expected %s VM %u %s -> %s (%s, %d)",
			 (unsigned long long)x->e.seq,
			 reg_event_kind_name(x->e.kind), x->e.id,
			 vm_state_name(x->e.old_state),
			 vm_state_name(x->e.new_state),
			 vm_stop_reason_name(x->e.reason), x->e.exit_code,
			 reg_event_kind_name(k), id, vm_state_name(from),
			 vm_state_name(to), vm_stop_reason_name(why), code);
}

/* One expected event of a VM: its kind, transition, reason and code. */
struct want {
	enum reg_event_kind kind;
	enum vm_state from, to;
	enum vm_stop_reason why;
	int code;
};
#define CREATED { REG_EVENT_CREATED, VM_LOADING, VM_LOADING, VM_STOP_NONE, -1 }
#define DELETED(s) { REG_EVENT_DELETED, s, s, VM_STOP_NONE, -1 }
#define STATE(a, b, why, code) { REG_EVENT_STATE, a, b, why, code }
#define MOVE(a, b) STATE(a, b, VM_STOP_NONE, -1)

/* r->ev[first..first+n) are the events w[0..n) of VM id, in order. */
static void expect_seq(const struct recorder *r, size_t first, uint32_t id,
		       const struct want *w, size_t n)
{
	assert_true(r->n >= first + n);
	for (size_t i = 0; i < n; i++)
		expect(&r->ev[first + i], w[i].kind, id, w[i].from, w[i].to,
		       w[i].why, w[i].code);
}

/* ---- a guest that exits by itself --------------------------------------- */

static void test_guest_exit_sequence(void **state)
{
	(void)state;
	struct registry *reg = new_registry();
	struct recorder r;
	rec_init(&r);
	assert_int_equal(registry_add_listener(reg, on_event, &r), 0);
	assert_int_equal(registry_add_listener(reg, on_event, &r), -EEXIST);
	pid_t me = (pid_t)syscall(SYS_gettid);

	uint32_t id = add(reg, "exitcode", NULL);
	struct cv_err e = {0};
	assert_int_equal(vm_start(vm_of(reg, id), &e), 0);
	assert_int_equal(vm_wait_stopped(vm_of(reg, id),
					 30 * SEC * vmtest_slowdown()), 0);
	del(reg, id);
	assert_true(rec_wait(&r, 6, 5 * SEC));

	assert_int_equal(r.n, 6);
	const struct want exits[] = {
		CREATED,
		MOVE(VM_LOADING, VM_LOADED),
		MOVE(VM_LOADED, VM_RUNNING),
		STATE(VM_RUNNING, VM_STOPPING, VM_STOP_DEBUG_EXIT, 42),
		STATE(VM_STOPPING, VM_STOPPED, VM_STOP_DEBUG_EXIT, 42),
		DELETED(VM_STOPPED),
	};
	expect_seq(&r, 0, id, exits, COUNT(exits));
	for (size_t i = 0; i < r.n; i++) {
		assert_int_equal(r.ev[i].e.seq, i + 1);
		assert_string_equal(r.ev[i].name, "exitcode");
		assert_true(r.ev[i].e.time_ns > 1700000000ull * SEC);
		assert_true(r.ev[i].json_rc > 0);
	}
	/* commands report from the caller's thread, the guest from its own */
	assert_int_equal(r.ev[2].tid, me);
	assert_int_equal(r.ev[5].tid, me);
	assert_int_not_equal(r.ev[3].tid, me);

	/* the JSON lines of the stop */
	json_t *j = json_loads(r.ev[4].json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "event")),
			    "state");
	assert_string_equal(json_string_value(json_object_get(j, "from")),
			    "Stopping");
	assert_string_equal(json_string_value(json_object_get(j, "to")),
			    "Stopped");
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
			    "debug-exit");
	assert_int_equal(json_integer_value(json_object_get(j, "exit_code")),
			 42);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(j, "vm"), "id")), id);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 5);
	json_decref(j);
	assert_non_null(strstr(r.ev[0].json, "\"event\":\"created\""));
	assert_non_null(strstr(r.ev[5].json, "\"event\":\"deleted\""));
	assert_int_equal(r.ev[5].json[strlen(r.ev[5].json) - 1], '\n');

	registry_remove_listener(reg, on_event, &r);
	registry_destroy(reg, false);
	rec_fini(&r);
}

/* ---- the commands' transitions ----------------------------------------- */

static void test_command_transitions(void **state)
{
	(void)state;
	struct registry *reg = new_registry();
	struct recorder r;
	rec_init(&r);
	uint32_t id = add(reg, "ticker", NULL);
	/* listening from here on: no CREATED / Loaded for this VM */
	assert_int_equal(registry_add_listener(reg, on_event, &r), 0);
	struct vm *vm = vm_of(reg, id);
	struct cv_err e = {0};
	assert_int_equal(vm_start(vm, &e), 0);
	assert_int_equal(vm_suspend(vm, 5 * SEC, NULL, &e), 0);
	assert_int_equal(vm_resume(vm, &e), 0);
	assert_int_equal(vm_stop(vm, false, 10 * SEC * vmtest_slowdown(), &e),
			 0);
	enum vm_stop_reason graceful = vm_stop_reason(vm);
	int graceful_code = vm_exit_code(vm);
	assert_int_equal(vm_restart(vm, true, &e), 0);
	assert_int_equal(vm_stop(vm, true, 0, &e), 0);
	assert_int_equal(vm_start(vm, &e), 0);

	assert_int_equal(r.n, 9);
	const struct want commands[] = {
		MOVE(VM_LOADED, VM_RUNNING),
		MOVE(VM_RUNNING, VM_SUSPENDED),
		MOVE(VM_SUSPENDED, VM_RUNNING),
		STATE(VM_RUNNING, VM_STOPPING, VM_STOP_REQUESTED, -1),
		/* the ticker answers the request by exiting: the final reason */
		STATE(VM_STOPPING, VM_STOPPED, graceful, graceful_code),
		MOVE(VM_STOPPED, VM_RUNNING),
		STATE(VM_RUNNING, VM_STOPPING, VM_STOP_REQUESTED, -1),
		STATE(VM_STOPPING, VM_STOPPED, VM_STOP_REQUESTED, -1),
		MOVE(VM_STOPPED, VM_RUNNING),
	};
	expect_seq(&r, 0, id, commands, COUNT(commands));

	/* a Loaded VM stopped: straight to Stopped, reason requested */
	uint32_t id2 = add(reg, "ticker", NULL);
	assert_int_equal(vm_stop(vm_of(reg, id2), false, SEC, &e), 0);
	assert_int_equal(r.n, 12);
	const struct want loaded_stop[] = {
		CREATED,
		MOVE(VM_LOADING, VM_LOADED),
		STATE(VM_LOADED, VM_STOPPED, VM_STOP_REQUESTED, -1),
	};
	expect_seq(&r, 9, id2, loaded_stop, COUNT(loaded_stop));

	/* delete of a running VM: forced stop first, then DELETED */
	del(reg, id);
	assert_int_equal(r.n, 15);
	const struct want deleted[] = {
		STATE(VM_RUNNING, VM_STOPPING, VM_STOP_REQUESTED, -1),
		STATE(VM_STOPPING, VM_STOPPED, VM_STOP_REQUESTED, -1),
		DELETED(VM_STOPPED),
		/* the id is free again: its new VM's CREATED follows */
		CREATED,
	};
	assert_int_equal(add(reg, "ticker", NULL), id);
	expect_seq(&r, 12, id, deleted, COUNT(deleted));
	for (size_t i = 1; i < r.n; i++)
		assert_int_equal(r.ev[i].e.seq, r.ev[i - 1].e.seq + 1);

	registry_remove_listener(reg, on_event, &r);
	size_t n = r.n;
	del(reg, id);
	assert_int_equal(r.n, n);	/* removed: nothing more */
	registry_destroy(reg, false);
	rec_fini(&r);
}

/* ---- reboots -------------------------------------------------------------- */

static void test_reboots(void **state)
{
	(void)state;
	struct registry *reg = new_registry();
	struct recorder r;
	rec_init(&r);
	assert_int_equal(registry_add_listener(reg, on_event, &r), 0);
	uint32_t id = add(reg, "reboot", NULL);
	struct cv_err e = {0};
	assert_int_equal(vm_start(vm_of(reg, id), &e), 0);
	assert_true(rec_wait(&r, 5, 30 * SEC));	/* created..running + 2 */
	assert_int_equal(vm_stop(vm_of(reg, id), true, 0, &e), 0);
	pthread_mutex_lock(&r.lock);
	size_t reboots = 0;
	for (size_t i = 3; i < r.n; i++) {
		if (r.ev[i].e.kind != REG_EVENT_REBOOTED)
			break;
		expect(&r.ev[i], REG_EVENT_REBOOTED, id, VM_RUNNING,
		       VM_RUNNING, VM_STOP_REBOOT, -1);
		assert_non_null(strstr(r.ev[i].json,
				       "\"event\":\"rebooted\""));
		reboots++;
	}
	pthread_mutex_unlock(&r.lock);
	assert_true(reboots >= 2);
	struct vm_stats st;
	vm_get_stats(vm_of(reg, id), &st);
	assert_int_equal(st.reboots, reboots);	/* one event per reboot */
	del(reg, id);

	/* on_reboot = "stop": the reboot stops it, with that reason */
	size_t mark = r.n;
	id = add(reg, "reboot", "on_reboot = \"stop\"");
	assert_int_equal(vm_start(vm_of(reg, id), &e), 0);
	assert_int_equal(vm_wait_stopped(vm_of(reg, id),
					 30 * SEC * vmtest_slowdown()), 0);
	assert_true(rec_wait(&r, mark + 5, 5 * SEC));
	const struct want reboot_stop[] = {
		STATE(VM_RUNNING, VM_STOPPING, VM_STOP_REBOOT, -1),
		STATE(VM_STOPPING, VM_STOPPED, VM_STOP_REBOOT, -1),
	};
	expect_seq(&r, mark + 3, id, reboot_stop, COUNT(reboot_stop));
	assert_non_null(strstr(r.ev[mark + 4].json, "\"reason\":\"reboot\""));
	registry_remove_listener(reg, on_event, &r);
	registry_destroy(reg, false);
	rec_fini(&r);
}

/* ---- a load that fails ------------------------------------------------- */

static void test_failed_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/cvevents-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char img[64], text[1024];
	snprintf(img, sizeof(img), "%s/img.bin", dir);
	FILE *f = fopen(img, "w");
	assert_non_null(f);
	fputs("\xf4", f);	/* hlt */
	fclose(f);
	snprintf(text, sizeof(text),
		 "[base]\nname = \"gone\"\ncpu_num = 1\naccel = \"%s\"\n"
		 "[kernel]\nimage_location = \"fs\"\nkernel_path = \"%s\"\n"
		 "entry_point = 0x8000\nkernel_load_addr = 0x8000\n"
		 "boot_protocol = \"raw\"\ncpu_mode = \"real\"\n"
		 "memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n",
		 vmtest_accel_name(), img);
	struct vm_config cfg;
	struct vmcfg_diags d = {0};
	assert_int_equal(vmcfg_load_string(text, strlen(text), "<t>", NULL,
					   &cfg, &d, NULL), 0);
	vmcfg_diags_free(&d);
	assert_int_equal(unlink(img), 0);	/* the loader will not find it */
	rmdir(dir);

	struct registry *reg = new_registry();
	struct recorder r;
	rec_init(&r);
	assert_int_equal(registry_add_listener(reg, on_event, &r), 0);
	uint32_t id;
	struct cv_err e = {0};
	assert_true(registry_add(reg, &cfg, &id, &e) < 0);
	assert_int_equal(r.n, 2);
	const struct want failed[] = { CREATED, DELETED(VM_LOADING) };
	expect_seq(&r, 0, 0, failed, COUNT(failed));
	assert_non_null(strstr(r.ev[1].json, "\"from\":\"Loading\""));
	registry_remove_listener(reg, on_event, &r);
	registry_destroy(reg, false);
	rec_fini(&r);
}

/* ---- remove waits for a running callback -------------------------------- */

struct slow {
	atomic_int in_call;
	atomic_int calls;
	atomic_bool removed;
	atomic_int late;	/* calls that started after remove returned */
};

static void on_event_slow(void *ctx, const struct reg_event *e)
{
	(void)e;
	struct slow *s = ctx;
	if (atomic_load(&s->removed))
		atomic_fetch_add(&s->late, 1);
	atomic_fetch_add(&s->in_call, 1);
	atomic_fetch_add(&s->calls, 1);
	usleep(20000);		/* slow on purpose: remove must wait */
	atomic_fetch_sub(&s->in_call, 1);
}

struct cycler {
	struct vm *vm;
	atomic_bool stop;
};

static void *cycle_main(void *arg)
{
	struct cycler *c = arg;
	struct cv_err e = {0};
	while (!atomic_load(&c->stop)) {
		vm_start(c->vm, &e);
		vm_stop(c->vm, true, 0, &e);
	}
	return NULL;
}

static void test_remove_waits(void **state)
{
	(void)state;
	struct registry *reg = new_registry();
	uint32_t id = add(reg, "ticker", NULL);
	struct slow s = {0};
	assert_int_equal(registry_add_listener(reg, on_event_slow, &s), 0);
	struct cycler c = { .vm = vm_of(reg, id) };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, cycle_main, &c), 0);
	for (int i = 0; i < 200 && !atomic_load(&s.in_call); i++)
		usleep(1000);
	registry_remove_listener(reg, on_event_slow, &s);
	assert_int_equal(atomic_load(&s.in_call), 0);
	atomic_store(&s.removed, true);
	usleep(100000);		/* the cycler keeps making events */
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);
	assert_true(atomic_load(&s.calls) > 0);
	assert_int_equal(atomic_load(&s.late), 0);
	registry_destroy(reg, false);
}

/* ---- stress: unbroken chains under concurrent commands ------------------ */

#define STRESS_VMS 3
#define STRESS_THREADS 3

struct stress {
	struct registry *reg;
	uint32_t ids[STRESS_VMS];
	atomic_bool stop;
};

struct stress_thread {
	struct stress *s;
	unsigned seed;
};

static void *stress_main(void *arg)
{
	struct stress_thread *st = arg;
	struct stress *s = st->s;
	unsigned seed = st->seed;
	struct cv_err e = {0};
	while (!atomic_load(&s->stop)) {
		struct vm *vm = vm_of(s->reg, s->ids[rand_r(&seed) %
						     STRESS_VMS]);
		switch (rand_r(&seed) % 6) {
		case 0: vm_start(vm, &e); break;
		case 1: vm_suspend(vm, SEC, NULL, &e); break;
		case 2: vm_resume(vm, &e); break;
		case 3: vm_stop(vm, true, 0, &e); break;
		case 4: vm_stop(vm, false, SEC / 10, &e); break;
		case 5: vm_restart(vm, true, &e); break;
		}
	}
	return NULL;
}

static void test_stress_chains(void **state)
{
	(void)state;
	struct stress s = { .reg = new_registry() };
	struct recorder r;
	rec_init(&r);
	assert_int_equal(registry_add_listener(s.reg, on_event, &r), 0);
	for (int i = 0; i < STRESS_VMS; i++)
		s.ids[i] = add(s.reg, i == 1 ? "reboot" : "ticker", NULL);
	pthread_t t[STRESS_THREADS];
	struct stress_thread per[STRESS_THREADS];
	for (int i = 0; i < STRESS_THREADS; i++) {
		per[i] = (struct stress_thread){ &s, (unsigned)(i * 7919 + 1) };
		assert_int_equal(pthread_create(&t[i], NULL, stress_main,
						&per[i]), 0);
	}
	usleep(3000000);
	atomic_store(&s.stop, true);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < STRESS_VMS; i++)
		del(s.reg, s.ids[i]);
	registry_remove_listener(s.reg, on_event, &r);

	assert_false(r.overflow);
	enum vm_state last[STRESS_VMS];
	bool deleted[STRESS_VMS] = {0};
	size_t state_events = 0;
	for (int i = 0; i < STRESS_VMS; i++)
		last[i] = VM_LOADING;
	for (size_t i = 0; i < r.n; i++) {
		const struct reg_event *e = &r.ev[i].e;
		assert_int_equal(e->seq, i + 1);
		assert_true(e->id < STRESS_VMS);
		assert_false(deleted[e->id]);	/* nothing after DELETED */
		switch (e->kind) {
		case REG_EVENT_CREATED:
			assert_int_equal(e->new_state, VM_LOADING);
			break;
		case REG_EVENT_STATE:
			if (e->old_state != last[e->id])
				fail_msg("VM %u: event %zu goes %s -> %s but "
					 "the VM was %s", e->id, i,
					 vm_state_name(e->old_state),
					 vm_state_name(e->new_state),
					 vm_state_name(last[e->id]));
			if ((e->new_state == VM_STOPPING ||
			     e->new_state == VM_STOPPED) ==
			    (e->reason == VM_STOP_NONE))
				fail_msg("VM %u: event %zu: reason %s with %s",
					 e->id, i, vm_stop_reason_name(e->reason),
					 vm_state_name(e->new_state));
			last[e->id] = e->new_state;
			state_events++;
			break;
		case REG_EVENT_REBOOTED:
			assert_int_equal(last[e->id], VM_RUNNING);
			break;
		case REG_EVENT_DELETED:
			assert_int_equal(e->old_state, last[e->id]);
			deleted[e->id] = true;
			break;
		}
		assert_true(r.ev[i].json_rc > 0);
	}
	for (int i = 0; i < STRESS_VMS; i++)
		assert_true(deleted[i]);
	print_message("stress: %zu events (%zu transitions) in 3 s\n", r.n,
		      state_events);
	assert_true(state_events > 20);
	registry_destroy(s.reg, false);
	rec_fini(&r);
}

/* ---- the JSON form, golden ---------------------------------------------- */

static void test_json_golden(void **state)
{
	(void)state;
	struct reg_event e = {
		.kind = REG_EVENT_STATE, .seq = 12,
		.time_ns = 1795622400ull * SEC + 123456789ull, .id = 3,
		.name = "x \"q\"", .old_state = VM_RUNNING,
		.new_state = VM_STOPPED, .reason = VM_STOP_POWEROFF,
		.exit_code = -1,
	};
	char line[512];
	int n = reg_event_json_line(&e, line, sizeof(line));
	assert_string_equal(line,
		"{\"v\":1,\"seq\":12,\"time\":\"2026-11-25T16:00:00.123Z\","
		"\"event\":\"state\",\"vm\":{\"id\":3,\"name\":\"x \\\"q\\\"\"},"
		"\"from\":\"Running\",\"to\":\"Stopped\","
		"\"reason\":\"poweroff\"}\n");
	assert_int_equal(n, strlen(line));
	e.exit_code = 7;
	e.reason = VM_STOP_DEBUG_EXIT;
	e.name = "bad\xff";
	reg_event_json_line(&e, line, sizeof(line));
	assert_non_null(strstr(line, "\"name\":\"bad?\""));
	assert_non_null(strstr(line, "\"reason\":\"debug-exit\","
				     "\"exit_code\":7}"));
	e.kind = REG_EVENT_STATE;
	e.old_state = VM_LOADED;
	e.new_state = VM_RUNNING;
	e.reason = VM_STOP_NONE;
	e.exit_code = -1;
	reg_event_json_line(&e, line, sizeof(line));
	assert_null(strstr(line, "reason"));
	assert_int_equal(reg_event_json_line(&e, line, 20), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_golden),
		cmocka_unit_test(test_guest_exit_sequence),
		cmocka_unit_test(test_command_transitions),
		cmocka_unit_test(test_reboots),
		cmocka_unit_test(test_failed_load),
		cmocka_unit_test(test_remove_waits),
		cmocka_unit_test(test_stress_chains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
