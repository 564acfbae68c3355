/*
 * bench_shell: the `vm` command layer over real guests.
 *   - suspend and resume latency, 1 and 4 vCPUs: the time vm_suspend
 *     reports for parking every vCPU, and the wall time of the `vm
 *     suspend` / `vm resume` commands (median, p99);
 *   - create -> start -> stop -> delete cycles per second;
 *   - `vm list` time with 200 VMs (Loaded, then Running), back to back
 *     and one every 10 ms (a waking client), with the context switches
 *     of the listing thread: voluntary ones are waits (a lock), involuntary
 *     ones preemption by the busy vCPU threads.
 * Run: ./build/bench/bench_shell [emu|kvm ...] (default: emu and kvm);
 * BENCH_LIST_ONLY=1 runs only the `vm list` part; BENCH_VCPU_NICE=N runs
 * the vCPU threads N nice levels down (default 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "benchutil.h"
#include "registry.h"
#include "shell.h"

#define ROUNDS 200
#define CYCLES 300
#define MANY 200

static void stats(const char *what, uint64_t *v, size_t n)
{
	bench_stats(what, 34, "median", v, n);
}

struct bench {
	struct registry *reg;
	struct shell *sh;
	FILE *null;
	char state[128];
};

static int run(struct bench *b, const char *fmt, const char *arg)
{
	char line[8192];
	snprintf(line, sizeof(line), fmt, arg);
	return shell_run_line(b->sh, line, b->null, b->null);
}

static const char *cfg(const char *name)
{
	static char buf[4][512];
	static unsigned k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof(buf[0]), "%s/%s.toml", GUEST_CONFIG_DIR, name);
	return p;
}

static void suspend_resume(struct bench *b, const char *guest, unsigned ncpu)
{
	uint64_t parked[ROUNDS], sus[ROUNDS], res[ROUNDS];
	if (run(b, "vm create %s; vm start 0 --detach", cfg(guest))) {
		printf("  (cannot start %s)\n", guest);
		return;
	}
	usleep(200000);
	struct reg_vm *v = registry_get(b->reg, 0);
	struct vm *vm = reg_vm_vm(v);
	for (int i = 0; i < ROUNDS; i++) {
		vm_suspend(vm, 1000000000ull, &parked[i], NULL);
		vm_resume(vm, NULL);
		usleep(1000);
		uint64_t t2 = now_ns();
		run(b, "vm suspend 0", NULL);
		uint64_t t3 = now_ns();
		run(b, "vm resume 0", NULL);
		res[i] = now_ns() - t3;
		sus[i] = t3 - t2;
		usleep(1000);
	}
	reg_vm_put(v);
	char label[64];
	printf(" %s, %u vCPU%s:\n", guest, ncpu, ncpu == 1 ? "" : "s");
	snprintf(label, sizeof(label), "all vCPUs parked (vm_suspend)");
	stats(label, parked, ROUNDS);
	stats("`vm suspend` command", sus, ROUNDS);
	stats("`vm resume` command", res, ROUNDS);
	run(b, "vm delete --force 0", NULL);
}

static void cycles(struct bench *b)
{
	uint64_t t0 = now_ns();
	for (int i = 0; i < CYCLES; i++)
		run(b, "vm create %s; vm start 0 --detach; vm stop --force 0; "
		       "vm delete 0", cfg("ticker"));
	double s = (double)(now_ns() - t0) / 1e9;
	printf("  create->start->stop->delete: %d cycles in %.2f s = %.0f "
	       "cycles/s\n", CYCLES, s, CYCLES / s);
}

static void list_many(struct bench *b)
{
	char *line = malloc(MANY * 600);
	size_t n = (size_t)sprintf(line, "vm create");
	for (int i = 0; i < MANY; i++)
		n += (size_t)sprintf(line + n, " %s", cfg("ticker"));
	uint64_t t0 = now_ns();
	run(b, "%s", line);
	printf("  create %d VMs in one command: %.1f ms\n", MANY,
	       (double)(now_ns() - t0) / 1e6);
	uint64_t v[50];
	for (int i = 0; i < 50; i++) {
		uint64_t t = now_ns();
		run(b, "vm list", NULL);
		v[i] = now_ns() - t;
	}
	stats("`vm list`, 200 Loaded VMs", v, 50);
	t0 = now_ns();
	run(b, "vm start", NULL);
	printf("  `vm start` of all %d: %.1f ms\n", MANY,
	       (double)(now_ns() - t0) / 1e6);
	for (int i = 0; i < 50; i++) {
		uint64_t t = now_ns();
		run(b, "vm list", NULL);
		v[i] = now_ns() - t;
	}
	stats("`vm list`, 200 Running VMs", v, 50);
	struct rusage r0, r1;
	getrusage(RUSAGE_THREAD, &r0);
	for (int i = 0; i < 50; i++) {
		usleep(10000);
		uint64_t t = now_ns();
		run(b, "vm list", NULL);
		v[i] = now_ns() - t;
	}
	getrusage(RUSAGE_THREAD, &r1);
	stats("`vm list` every 10 ms, 200 Running", v, 50);
	printf("  context switches in those 50 lists + sleeps: %ld voluntary "
	       "(50 are the sleeps), %ld involuntary\n",
	       r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw);
	for (int i = 0; i < 50; i++) {
		uint64_t t = now_ns();
		run(b, "vm list --format json", NULL);
		v[i] = now_ns() - t;
	}
	stats("`vm list -f json`, 200 Running VMs", v, 50);
	n = (size_t)sprintf(line, "vm stop --force");
	for (int i = 0; i < MANY; i++)
		n += (size_t)sprintf(line + n, " %d", i);
	t0 = now_ns();
	run(b, "%s", line);
	printf("  `vm stop --force` of all %d in one command: %.1f ms\n", MANY,
	       (double)(now_ns() - t0) / 1e6);
	free(line);
}

static void bench_backend(const char *name)
{
	enum vm_accel acc = !strcmp(name, "kvm") ? VM_ACCEL_KVM : VM_ACCEL_EMU;
	char why[256];
	struct cv_err e = {0};
	if (!backend_select(acc, why, sizeof(why), &e)) {
		printf("backend %s: not usable here (%s)\n", name, e.msg);
		return;
	}
	struct bench b = { .null = fopen("/dev/null", "w") };
	snprintf(b.state, sizeof(b.state), "/tmp/cvisor-bench-XXXXXX");
	if (!mkdtemp(b.state))
		return;
	/* $BENCH_VCPU_NICE: the vCPU threads' nice (the front ends' default:
	   HOST_VCPU_NICE_DEFAULT; here 0 unless set) */
	const char *nice_env = getenv("BENCH_VCPU_NICE");
	struct registry_opts ro = { .state_dir = b.state, .accel_default = acc,
				    .vcpu_nice = nice_env ? atoi(nice_env) : 0 };
	printf("vCPU threads at nice +%d\n", ro.vcpu_nice);
	registry_create(&ro, &b.reg, NULL);
	shell_create(b.reg, NULL, &b.sh, NULL);
	printf("backend %s:\n", name);
	const char *only = getenv("BENCH_LIST_ONLY");
	if (!only || !*only) {
		suspend_resume(&b, "ticker", 1);
		suspend_resume(&b, "smp4", 4);
		cycles(&b);
	}
	list_many(&b);
	shell_destroy(b.sh);
	registry_destroy(b.reg, false);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.state);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", b.state);
	fclose(b.null);
}

int main(int argc, char **argv)
{
	return bench_backends(argc, argv, bench_backend);
}
