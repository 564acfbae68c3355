/*
 * Hostile guests (guests/hostile_*.c, guests/spinner.c) next to a ticker
 * VM, through the shell's `vm` commands, on the backend named by
 * $CVISOR_TEST_ACCEL.  Each hostile guest must affect only itself:
 *   - during its flood `vm list` answers within 100 ms (p99 of a list
 *     every 10 ms);
 *   - the ticker keeps its tick rate within 20% of its undisturbed rate,
 *     both directions (50% in sanitizer builds and the nested tier).
 *     Like with like: the ticker's delay loop is CPU-bound, so beside a
 *     busy hostile guest the baseline has the same number of CPU-bound
 *     vCPU threads (ticker + spinner = 2, one per host core on this
 *     2-core machine), beside an idle one the ticker with nothing busy;
 *     the rate measured with nothing beside it is printed too;
 *   - and its own damage stays bounded: the I/O flood is counted as
 *     unassigned accesses, garbage UART programming leaves the UART
 *     working, a console flood leaves console.log at the registry's cap
 *     (and the ring at its size), a triple-fault loop keeps resetting
 *     with reboots counted and no growth of threads, fds or RSS, and a
 *     guest halted with interrupts off reports Running with its vCPU
 *     Blocked and is stopped by a graceful stop that times out and by a
 *     forced stop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "console.h"
#include "fsutil.h"
#include "registry.h"
#include "shell.h"
#include "testutil.h"
#include "vmtest.h"

#define LOG_CAP (16u * 1024u)		/* registry_opts.console_log_cap */
#define WINDOW_MS 1000u			/* one measurement window */
#define ROUNDS 3			/* baseline/flood window pairs */
#define LIST_EVERY_US 10000u
#define LIST_P99_MS 100u
#define RATE_TOLERANCE 0.20		/* both directions */
#define RATE_TOLERANCE_SLOW 0.50	/* sanitizer builds, the nested tier */
#define ATTEMPTS 2			/* a missed rate bar is measured again */

struct fx {
	char state[128];
	struct registry *reg;
	struct shell *sh;
	FILE *null;
	double rate_alone;
};

static const char *cfg_path(const char *name)
{
	static char buf[4][512];
	static unsigned k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s.toml", GUEST_CONFIG_DIR, name);
	return p;
}

static int sh(struct fx *fx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int sh(struct fx *fx, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return shell_run_line(fx->sh, line, fx->null, fx->null);
}

static struct vm *vm_of(struct fx *fx, uint32_t id)
{
	struct reg_vm *v = registry_get(fx->reg, id);
	assert_non_null(v);
	struct vm *vm = reg_vm_vm(v);
	reg_vm_put(v);		/* listed: the table keeps it alive */
	return vm;
}

/* Create + start a VM from guests/configs/<name>.toml; its id. */
static uint32_t start_vm(struct fx *fx, const char *name)
{
	struct vm_config cfg;
	struct vmcfg_diags d = {0};
	assert_int_equal(vmcfg_load_file(cfg_path(name), &cfg, &d, NULL), 0);
	vmcfg_diags_free(&d);
	uint32_t id;
	struct cv_err e = {0};
	if (registry_add(fx->reg, &cfg, &id, &e))
		fail_msg("cannot create %s: %s", name, e.msg);
	assert_int_equal(sh(fx, "vm start %u --detach", id), 0);
	return id;
}

static void delete_vm(struct fx *fx, uint32_t id)
{
	assert_int_equal(sh(fx, "vm delete --force %u", id), 0);
}

/* The ticker's last "tick N" in its console ring. */
static long last_tick(struct fx *fx, uint32_t id)
{
	static char ring[CONSOLE_RING_SIZE];
	size_t n = console_snapshot(vm_console(vm_of(fx, id)), ring,
				    sizeof(ring));
	return tu_scan_number(ring, n, 0, "tick ", false);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Measure the ticker's rate (ticks/s) over one window; with lat, `vm
 * list` runs every 10 ms and its latencies are appended to lat[*n].
 */
static double measure(struct fx *fx, uint32_t ticker, uint64_t *lat,
		      size_t *n, size_t cap)
{
	uint64_t window = (uint64_t)WINDOW_MS * 1000000ull;
	long t0 = last_tick(fx, ticker);
	uint64_t start = tu_now_ns();
	while (tu_now_ns() - start < window) {
		if (lat && *n < cap) {
			uint64_t a = tu_now_ns();
			assert_int_equal(sh(fx, "vm list"), 0);
			lat[(*n)++] = tu_now_ns() - a;
		}
		usleep(LIST_EVERY_US);
	}
	double secs = (double)(tu_now_ns() - start) / 1e9;
	long t1 = last_tick(fx, ticker);
	if (t0 < 0 || t1 <= t0)
		fail_msg("the ticker did not tick in %.2f s (%ld -> %ld)%s", secs,
			 t0, t1, lat ? " beside the hostile guest" : "");
	return (double)(t1 - t0) / secs;
}

/* vm suspend, retried while a guest reset is in flight (EAGAIN). */
static void suspend(struct fx *fx, uint32_t id)
{
	struct cv_err e = {0};
	for (int i = 0; i < 1000; i++) {
		int rc = vm_suspend(vm_of(fx, id), 0, NULL, &e);
		if (!rc)
			return;
		if (rc != -EAGAIN)
			fail_msg("cannot suspend VM %u: %s", id, e.msg);
		usleep(1000);
	}
	fail_msg("VM %u never let itself be suspended", id);
}

static void resume(struct fx *fx, uint32_t id)
{
	assert_int_equal(sh(fx, "vm resume %u", id), 0);
}

static double median3(double *v)
{
	double a = v[0], b = v[1], c = v[2];
	if (a > b) { double t = a; a = b; b = t; }
	if (b > c) { double t = b; b = c; c = t; }
	if (a > b) { double t = a; a = b; b = t; }
	return b;
}

static int setup(void **state)
{
	enum vm_accel acc = vmtest_accel();
	struct fx *fx = calloc(1, sizeof(*fx));
	fx->null = fopen("/dev/null", "w");
	snprintf(fx->state, sizeof(fx->state), "/tmp/cvisor-hostile-XXXXXX");
	assert_non_null(mkdtemp(fx->state));
	struct registry_opts ro = { .state_dir = fx->state,
				    .accel_default = acc,
				    .console_log_cap = LOG_CAP };
	assert_int_equal(registry_create(&ro, &fx->reg, NULL), 0);
	assert_int_equal(shell_create(fx->reg, NULL, &fx->sh, NULL), 0);

	/* the ticker alone, for the record */
	uint32_t t = start_vm(fx, "ticker");
	assert_int_equal(t, 0);
	usleep(300000);
	fx->rate_alone = measure(fx, t, NULL, NULL, 0);
	print_message("%s: ticker alone %.1f ticks/s\n", vmtest_accel_name(),
		      fx->rate_alone);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	shell_destroy(fx->sh);
	registry_destroy(fx->reg, false);
	cv_remove_tree(fx->state);
	fclose(fx->null);
	free(fx);
	return 0;
}

/*
 * Run hostile guest `name` beside the ticker; check isolation.  The
 * baseline windows and the flood windows (ticker + the hostile guest)
 * alternate, switching by suspend/resume, so that a change of the host's
 * load affects both alike; medians of 3 each.  Like with like: beside a
 * CPU-bound hostile guest the baseline is the ticker beside a spinner
 * (the same number of busy vCPU threads); beside an idle one (idle: the
 * guest halts) it is the ticker with the spinner suspended.  The ticker's
 * rate must stay within RATE_TOLERANCE of the baseline in both
 * directions: slower is harm, and faster means the baseline was not
 * like with like (the bar is RATE_TOLERANCE_SLOW where everything runs
 * ~20x slower, as vmtest_slowdown() scales the other bars).
 */
static uint32_t flood_beside_ticker(struct fx *fx, const char *name,
				    bool idle)
{
	static uint64_t lat[ATTEMPTS * ROUNDS *
			    (WINDOW_MS * 1000u / LIST_EVERY_US + 1)];
	size_t n = 0;
	double base[ROUNDS], flood[ROUNDS], rb = 0, rf = 0, ratio = 0;
	double tol = vmtest_slowdown() > 1 ? RATE_TOLERANCE_SLOW
					   : RATE_TOLERANCE;
	uint32_t s = start_vm(fx, "spinner");
	uint32_t h = start_vm(fx, name);
	suspend(fx, h);
	if (idle)
		suspend(fx, s);
	usleep(200000);
	/*
	 * The other helpers' load comes in bursts that can hit the three
	 * windows of one side (seen once: a baseline of 29 ticks/s against
	 * 39-41 in every other measurement of that run): a rate outside the
	 * bar is measured again, and only a second miss in a row fails.
	 */
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		for (int r = 0; r < ROUNDS; r++) {
			base[r] = measure(fx, 0, NULL, NULL, 0);
			if (!idle)
				suspend(fx, s);
			resume(fx, h);
			usleep(100000);
			flood[r] = measure(fx, 0, lat, &n,
					   sizeof(lat) / sizeof(lat[0]));
			suspend(fx, h);
			if (!idle)
				resume(fx, s);
			usleep(100000);
		}
		rb = median3(base);
		rf = median3(flood);
		ratio = rf / rb;
		print_message("%-16s ticker %.1f ticks/s vs. %.1f %s (%.2fx, bar "
			      "%.2f-%.2f)%s\n", name, rf, rb, idle
			      ? "beside nothing busy" : "beside a spinner",
			      ratio, 1.0 - tol, 1.0 + tol, attempt
			      ? " (measured again)" : "");
		if (ratio >= 1.0 - tol && ratio <= 1.0 + tol)
			break;
	}
	delete_vm(fx, s);
	resume(fx, h);
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	uint64_t p99 = lat[n * 99 / 100], max = lat[n - 1];
	print_message("%-16s `vm list` p99 %.2f ms, max %.2f ms (%zu lists)\n",
		      name, (double)p99 / 1e6, (double)max / 1e6, n);
	if (p99 > (uint64_t)LIST_P99_MS * 1000000ull * vmtest_slowdown())
		fail_msg("%s: `vm list` p99 %.1f ms > %u ms", name,
			 (double)p99 / 1e6, LIST_P99_MS * vmtest_slowdown());
	if (ratio < 1.0 - tol || ratio > 1.0 + tol)
		fail_msg("%s: ticker rate %.1f vs. %.1f ticks/s baseline "
			 "(%.2fx, outside %.2f-%.2f, twice in a row)", name, rf,
			 rb, ratio, 1.0 - tol, 1.0 + tol);
	/* the ticker's VM is untouched */
	assert_int_equal(vm_state(vm_of(fx, 0)), VM_RUNNING);
	return h;
}

static void test_io_flood(void **state)
{
	struct fx *fx = *state;
	uint32_t h = flood_beside_ticker(fx, "hostile_io", false);
	struct vm_stats st;
	vm_get_stats(vm_of(fx, h), &st);
	print_message("hostile_io: %llu unassigned port and %llu MMIO "
		      "accesses\n", (unsigned long long)st.unassigned_pio,
		      (unsigned long long)st.unassigned_mmio);
	assert_true(st.unassigned_pio > 1000);
	assert_true(st.unassigned_mmio > 1000);
	assert_int_equal(vm_state(vm_of(fx, h)), VM_RUNNING);
	delete_vm(fx, h);
}

static void test_uart_garbage(void **state)
{
	struct fx *fx = *state;
	uint32_t h = flood_beside_ticker(fx, "hostile_uart", false);
	/* a round is ~5000 exits: seconds on nested kvm under load */
	static char ring[CONSOLE_RING_SIZE];
	long rounds;
	uint64_t until = tu_now_ns() + 60000000000ull * vmtest_slowdown();
	do {
		size_t n = console_snapshot(vm_console(vm_of(fx, h)), ring,
					    sizeof(ring));
		rounds = tu_scan_number(ring, n, 0, "hostile_uart: round ",
					false);
	} while (rounds < 2 && tu_now_ns() < until && !usleep(100000));
	print_message("hostile_uart: %ld rounds of 1024 garbage accesses, the "
		      "UART still prints after each\n", rounds);
	assert_true(rounds >= 2);
	assert_int_equal(vm_state(vm_of(fx, h)), VM_RUNNING);
	delete_vm(fx, h);
}

static void test_console_flood(void **state)
{
	struct fx *fx = *state;
	uint32_t h = flood_beside_ticker(fx, "hostile_flood", false);
	struct vm *vm = vm_of(fx, h);
	/* flood on until past the log cap and the ring (slow on nested kvm) */
	struct console_stats cs;
	uint64_t until = tu_now_ns() + 60000000000ull * vmtest_slowdown();
	do {
		usleep(100000);
		console_get_stats(vm_console(vm), &cs);
	} while (cs.bytes < 2ull * (CONSOLE_RING_SIZE + LOG_CAP) &&
		 tu_now_ns() < until);
	char path[600];
	snprintf(path, sizeof(path), "%s/vms/%u-hostile_flood/console.log",
		 fx->state, h);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	static char ring[CONSOLE_RING_SIZE + 1];
	size_t n = console_snapshot(vm_console(vm), ring, sizeof(ring));
	print_message("hostile_flood: %llu bytes written, console.log %lld "
		      "bytes (cap %u), ring %zu bytes\n",
		      (unsigned long long)cs.bytes, (long long)sb.st_size,
		      LOG_CAP, n);
	assert_true(cs.bytes >= 2ull * (CONSOLE_RING_SIZE + LOG_CAP));
	assert_true(cs.log_capped);
	assert_true((uint64_t)sb.st_size <= LOG_CAP + 256);  /* + the note */
	assert_true(n <= CONSOLE_RING_SIZE);
	delete_vm(fx, h);
}

static void test_triple_fault_loop(void **state)
{
	struct fx *fx = *state;
	uint32_t h = flood_beside_ticker(fx, "hostile_triple", false);
	struct vm *vm = vm_of(fx, h);
	struct vm_stats s1, s2;
	vm_get_stats(vm, &s1);
	int th1 = tu_thread_count(), fd1 = tu_fd_count();
	long rss1 = tu_rss_kb();
	usleep(1000000);
	vm_get_stats(vm, &s2);
	int th2 = tu_thread_count(), fd2 = tu_fd_count();
	long rss2 = tu_rss_kb();
	print_message("hostile_triple: %llu resets, %llu in the last second; "
		      "threads %d->%d fds %d->%d RSS %ld->%ld KiB\n",
		      (unsigned long long)s2.reboots,
		      (unsigned long long)(s2.reboots - s1.reboots), th1, th2,
		      fd1, fd2, rss1, rss2);
	assert_true(s2.reboots > s1.reboots);
	assert_true(s1.reboots >= 3);
	/* a reset rebuilds the backend: allow the one being rebuilt */
	assert_true(th2 <= th1 + 1 && fd2 <= fd1 + 4);
	if (!vmtest_sanitized())
		assert_true(rss2 <= rss1 + 4096);
	assert_true(vm_state(vm) == VM_RUNNING);
	delete_vm(fx, h);
}

static void test_hlt_cli(void **state)
{
	struct fx *fx = *state;
	uint32_t h = flood_beside_ticker(fx, "hostile_hlt", true);
	struct vm *vm = vm_of(fx, h);
	struct vm_vcpu_info info;
	enum vm_state s;
	/* just resumed: Running until it executes its hlt again */
	uint64_t until = tu_now_ns() + 2000000000ull * vmtest_slowdown();
	do {
		s = vm_snapshot(vm, &info, 1, false);
	} while (info.state != VCPU_BLOCKED && tu_now_ns() < until &&
		 !usleep(1000));
	print_message("hostile_hlt: VM %s, vCPU %s\n", vm_state_name(s),
		      vcpu_state_name(info.state));
	assert_int_equal(s, VM_RUNNING);
	assert_int_equal(info.state, VCPU_BLOCKED);
	/* graceful: the guest never answers, so the timeout forces it */
	uint64_t t = tu_now_ns();
	assert_int_equal(sh(fx, "vm stop %u --timeout 0.3", h), 0);
	uint64_t graceful = tu_now_ns() - t;
	assert_int_equal(vm_state(vm), VM_STOPPED);
	assert_true(graceful >= 250000000ull);
	/* forced: at once */
	assert_int_equal(sh(fx, "vm start %u --detach", h), 0);
	usleep(200000);
	t = tu_now_ns();
	assert_int_equal(sh(fx, "vm stop --force %u", h), 0);
	uint64_t forced = tu_now_ns() - t;
	assert_int_equal(vm_state(vm), VM_STOPPED);
	print_message("hostile_hlt: graceful stop forced after %.0f ms, "
		      "forced stop %.2f ms\n", (double)graceful / 1e6,
		      (double)forced / 1e6);
	assert_true(forced < 100000000ull * vmtest_slowdown());
	delete_vm(fx, h);
}

static void test_spinner(void **state)
{
	struct fx *fx = *state;
	uint32_t h = flood_beside_ticker(fx, "spinner", false);
	uint64_t t = tu_now_ns();
	assert_int_equal(sh(fx, "vm stop --force %u", h), 0);
	print_message("spinner: forced stop %.2f ms\n",
		      (double)(tu_now_ns() - t) / 1e6);
	delete_vm(fx, h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_flood),
		cmocka_unit_test(test_uart_garbage),
		cmocka_unit_test(test_console_flood),
		cmocka_unit_test(test_triple_fault_loop),
		cmocka_unit_test(test_hlt_cli),
		cmocka_unit_test(test_spinner),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
