/*
 * exitcost: what cvisor's kvm vCPU loop adds to every exit, measured
 * natively on this host.  Needs no /dev/kvm: it times the two pieces of
 * work cvisor does per exit that the bare KVM loop (minivmm) does not,
 * each against minivmm's equivalent, and prints the sum and the exit
 * round trip above which that sum stays under the 3% target.
 *
 *   seccomp   the vCPU thread is confined (src/vmm/sandbox.c), so its
 *             KVM_RUN ioctl runs cvisor's vcpu_kvm filter on the way in.
 *             Timed: ioctl(fd, KVM_RUN, 0) on /dev/null (the same syscall
 *             entry and filter path; the call itself fails with ENOTTY)
 *             on a thread without a filter, with an allow-everything
 *             filter (the fixed cost of having a filter: the kernel
 *             caches arg-independent ALLOWs and skips the program) and
 *             with cvisor's vcpu_kvm filter, installed by sandbox_enter()
 *             as a vCPU thread does, and with the chain a daemon's vCPU
 *             thread has (the daemon main thread's filter, a worker's,
 *             then its own: the kernel runs all three for a call whose
 *             answer depends on its arguments).
 *   serial    one byte of the micro-guest's polled serial output: an IN
 *             from COM1's LSR and an OUT to its THR (two exits), every 64th
 *             byte a newline; minivmm answers LSR with a constant and
 *             buffers the line, one write(2) to /dev/null per line, while
 *             cvisor's 16550 feeds the VM console (ring buffer, console.log
 *             in a temporary directory, a listener writing each line to
 *             /dev/null as `cvisor run`'s stdout listener does).
 *   dispatch  what follows KVM_RUN for an OUT to an unassigned port (the
 *             benchmarks' exit-overhead loop): minivmm's switch on the
 *             exit reason and port, against cvisor's kvm_decode_exit() +
 *             the bus lookup + its two counters (kvm.c run_loop's and
 *             handle_exit, replicated here: they are static there), on a
 *             fabricated struct kvm_run and the bus of a VM's default
 *             devices.
 *
 * Thread CPU time, ROUNDS rounds of N calls alternating between the
 * variants, medians.  A figure for the shape of the cost, not a test.
 *
 * Usage: exitcost [-n CALLS] [-r ROUNDS] [-s]   (-s: the serial figure
 * only, e.g. under perf)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "backend.h"
#include "kvm_exit.h"
#include "bus.h"
#include "console.h"
#include "devices.h"
#include "err.h"
#include "sandbox.h"

#define MAX_ROUNDS 64

enum variant { V_NONE, V_ALLOW_ALL, V_CVISOR, V_STACKED, NV };
static const char *const vname[NV] = {
	"no filter (minivmm)", "allow-all filter", "cvisor vcpu_kvm filter",
	"vcpu_kvm, daemon's chain",
};

struct worker {
	enum variant v;
	pthread_t t;
	int fd;
	long calls;
	int rc;
	char msg[200];
	double ns[MAX_ROUNDS];
};

/* One round at a time: the main thread hands a round to one worker. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn = -1, round_no, done_round = -1;
static bool quit;

static double thread_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int confine(struct worker *w)
{
	struct cv_err err = {0};
	/* a daemon's vCPU thread: made by a worker, made by the main thread */
	if (w->v == V_STACKED &&
	    (sandbox_enter(SANDBOX_SERVER, "exitcost", &err) ||
	     sandbox_enter(SANDBOX_WORKER, "exitcost", &err))) {
		snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
		return -1;
	}
	if (w->v == V_CVISOR || w->v == V_STACKED) {
		int rc = sandbox_enter(SANDBOX_VCPU_KVM, "exitcost", &err);
		if (rc)
			snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
		return rc;
	}
	if (w->v == V_ALLOW_ALL) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K,
						    SECCOMP_RET_ALLOW);
		struct sock_fprog prog = { .len = 1, .filter = &allow };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog)) {
			snprintf(w->msg, sizeof(w->msg), "seccomp: %s",
				 strerror(errno));
			return -errno;
		}
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->rc = confine(w);
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!quit && turn != (int)w->v)
			pthread_cond_wait(&cv, &mu);
		if (quit)
			break;
		pthread_mutex_unlock(&mu);
		double t0 = thread_ns();
		for (long i = 0; i < w->calls && !w->rc; i++)
			(void)ioctl(w->fd, KVM_RUN, 0);
		double t = (thread_ns() - t0) / (double)w->calls;
		pthread_mutex_lock(&mu);
		w->ns[round_no] = t;
		turn = -1;
		done_round = round_no;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* --- dispatch --------------------------------------------------------- */

#define PORT_UNASSIGNED 0x2f0	/* the micro-guest's exit-overhead port */

static void fabricate_out(struct kvm_run *run, size_t run_size)
{
	memset(run, 0, run_size);
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.size = 1;
	run->io.port = PORT_UNASSIGNED;
	run->io.count = 1;
	run->io.data_offset = 4096;
}

/* minivmm's loop body for the same exit (../shared/peers/minivmm). */
static __attribute__((noinline)) int bare_dispatch(struct kvm_run *run,
						   unsigned long *out_bytes)
{
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint8_t *d = (uint8_t *)run + run->io.data_offset;
		uint16_t port = run->io.port;
		if (run->io.direction == KVM_EXIT_IO_IN)
			memset(d, port == 0x3fd ? 0x60 : 0xff,
			       (size_t)run->io.size * run->io.count);
		else if (port == 0x3f8)
			*out_bytes += run->io.count;
		else if (port == 0xf4)
			return 1;
		return 0;
	}
	default:
		return -1;
	}
}

/* kvm.c's run_loop after KVM_RUN returns, for an I/O exit. */
static __attribute__((noinline)) int cvisor_dispatch(struct kvm_run *run,
						     size_t run_size,
						     struct bus *bus,
						     atomic_uint_least64_t *st)
{
	struct kvm_exit_action a;
	int rc = kvm_decode_exit(run, run_size, &a);
	if (rc < 0 || a.kind != KVM_ACT_IO)
		return -1;
	vcpu_stat_inc(st);
	uint8_t *data = (uint8_t *)run + a.io.data_offset;
	enum bus_action act = BUS_CONTINUE;
	for (uint32_t i = 0; i < a.io.count; i++) {
		uint64_t val = 0;
		memcpy(&val, data + (size_t)i * a.io.size, a.io.size);
		if (bus_write(bus, BUS_PIO, a.io.port, a.io.size, val) ==
		    BUS_EXIT)
			act = BUS_EXIT;
	}
	return act == BUS_EXIT;
}

static void no_event(void *ctx, enum vm_event_kind kind, int arg)
{
	(void)ctx, (void)kind, (void)arg;
}

/* --- serial ------------------------------------------------------------ */

#define COM1 0x3f8

static void fabricate_io(struct kvm_run *run, bool in, uint16_t port,
			 uint8_t val)
{
	run->io.direction = in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.port = port;
	((uint8_t *)run + run->io.data_offset)[0] = val;
}

/* minivmm -b: LSR a constant, THR into a line buffer, a write per line */
static __attribute__((noinline)) void bare_serial_byte(struct kvm_run *run,
						       char *line, size_t *len,
						       int out_fd, uint8_t c)
{
	unsigned long dummy = 0;
	fabricate_io(run, true, COM1 + 5, 0);
	bare_dispatch(run, &dummy);
	fabricate_io(run, false, COM1, c);
	uint8_t *d = (uint8_t *)run + run->io.data_offset;
	line[(*len)++] = (char)d[0];
	if (d[0] == '\n' || *len == 4096) {
		if (write(out_fd, line, *len) < 0) {
			/* /dev/null: nothing to handle, as in to_fd() */
		}
		*len = 0;
	}
}

/* kvm.c's do_io for the same two exits, through cvisor's devices */
static __attribute__((noinline)) int cvisor_serial_byte(struct kvm_run *run,
							size_t run_size,
							struct bus *bus,
							atomic_uint_least64_t *st,
							uint8_t c)
{
	struct kvm_exit_action a;
	fabricate_io(run, true, COM1 + 5, 0);
	if (kvm_decode_exit(run, run_size, &a) < 0 || a.kind != KVM_ACT_IO)
		return -1;
	vcpu_stat_inc(st);
	uint64_t v = bus_read(bus, BUS_PIO, a.io.port, a.io.size);
	memcpy((uint8_t *)run + a.io.data_offset, &v, a.io.size);
	fabricate_io(run, false, COM1, c);
	return cvisor_dispatch(run, run_size, bus, st);
}

static void to_fd(void *ctx, const void *buf, size_t len)
{
	if (write(*(int *)ctx, buf, len) < 0)
		return;
}

static int serial_figures(long bytes, int rounds, double *bare_ns,
			  double *cv_ns)
{
	static _Alignas(4096) uint8_t page[8192];
	struct kvm_run *run = (struct kvm_run *)page;
	char dir[] = "/tmp/exitcost-XXXXXX", log[64];
	if (!mkdtemp(dir)) {
		perror("exitcost: mkdtemp");
		return -1;
	}
	snprintf(log, sizeof(log), "%s/console.log", dir);
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	struct cv_err err = {0};
	/* a log cap above what the rounds write: every line goes to the log */
	struct console *con = console_create(log, (uint64_t)bytes * rounds * 2,
					     &err);
	struct bus bus;
	struct vm_devices *devs = NULL;
	bus_init(&bus);
	int rc = -1;
	if (!con || null_fd < 0 ||
	    console_add_listener(con, to_fd, &null_fd) < 0 ||
	    vm_devices_create(&devs, &bus, NULL, con,
			      (struct vm_event_sink){ no_event, NULL }, &err)) {
		fprintf(stderr, "exitcost: serial set-up: %s\n",
			err.msg[0] ? err.msg : strerror(errno));
		goto out;
	}
	fabricate_out(run, sizeof(page));
	atomic_uint_least64_t stat = 0;
	static char line[4096];
	size_t len = 0;
	double b[MAX_ROUNDS], c[MAX_ROUNDS];
	for (int r = 0; r < rounds; r++) {
		double t0 = thread_ns();
		for (long i = 0; i < bytes; i++)
			bare_serial_byte(run, line, &len, null_fd,
					 i % 64 == 63 ? '\n' : 'x');
		b[r] = (thread_ns() - t0) / (double)bytes;
		t0 = thread_ns();
		for (long i = 0; i < bytes; i++)
			if (cvisor_serial_byte(run, sizeof(page), &bus, &stat,
					       i % 64 == 63 ? '\n' : 'x') < 0)
				goto out;
		c[r] = (thread_ns() - t0) / (double)bytes;
	}
	*bare_ns = bench_median_double(b, (size_t)rounds);
	*cv_ns = bench_median_double(c, (size_t)rounds);
	rc = 0;
out:
	vm_devices_destroy(devs);
	console_destroy(con);
	if (null_fd >= 0)
		close(null_fd);
	unlink(log);
	rmdir(dir);
	return rc;
}

static int dispatch_figures(long calls, int rounds, double *bare_ns,
			    double *cv_ns)
{
	static _Alignas(4096) uint8_t page[8192];
	struct kvm_run *run = (struct kvm_run *)page;
	struct bus bus;
	struct vm_devices *devs = NULL;
	struct cv_err err = {0};
	bus_init(&bus);
	if (vm_devices_create(&devs, &bus, NULL, NULL,
			      (struct vm_event_sink){ no_event, NULL }, &err)) {
		fprintf(stderr, "exitcost: devices: %s\n", err.msg);
		return -1;
	}
	fabricate_out(run, sizeof(page));
	atomic_uint_least64_t stat = 0;
	unsigned long out_bytes = 0;
	double b[MAX_ROUNDS], c[MAX_ROUNDS];
	for (int r = 0; r < rounds; r++) {
		double t0 = thread_ns();
		for (long i = 0; i < calls; i++)
			if (bare_dispatch(run, &out_bytes))
				return -1;
		b[r] = (thread_ns() - t0) / (double)calls;
		t0 = thread_ns();
		for (long i = 0; i < calls; i++)
			if (cvisor_dispatch(run, sizeof(page), &bus, &stat))
				return -1;
		c[r] = (thread_ns() - t0) / (double)calls;
	}
	vm_devices_destroy(devs);
	*bare_ns = bench_median_double(b, (size_t)rounds);
	*cv_ns = bench_median_double(c, (size_t)rounds);
	return 0;
}

int main(int argc, char **argv)
{
	long calls = 200000;
	int rounds = 15, opt;
	bool serial_only = false;
	while ((opt = getopt(argc, argv, "n:r:sh")) != -1) {
		switch (opt) {
		case 's':
			serial_only = true;
			break;
		case 'n':
			calls = strtol(optarg, NULL, 10);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-n CALLS] [-r ROUNDS "
					"(max %d)] [-s]\n", argv[0], MAX_ROUNDS);
			return opt == 'h' ? 0 : 2;
		}
	}
	if (calls < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "exitcost: bad -n or -r\n");
		return 2;
	}
	if (serial_only) {
		double sb, sc;
		if (serial_figures(calls, rounds, &sb, &sc))
			return 1;
		printf("serial byte: minivmm -b %.1f ns, cvisor %.1f ns\n",
		       sb, sc);
		return 0;
	}
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("exitcost: /dev/null");
		return 1;
	}
	printf("exitcost: %d rounds of %ld calls per variant, thread CPU "
	       "time, medians\n", rounds, calls);
	fflush(stdout);	/* stdout's set-up is not a vCPU thread's call */

	struct worker w[NV];
	for (int v = 0; v < NV; v++) {
		w[v] = (struct worker){ .v = (enum variant)v, .fd = fd,
					.calls = calls };
		if (pthread_create(&w[v].t, NULL, worker_main, &w[v])) {
			fprintf(stderr, "exitcost: cannot start a thread\n");
			return 1;
		}
	}
	for (int r = 0; r < rounds; r++)
		for (int v = 0; v < NV; v++) {
			pthread_mutex_lock(&mu);
			round_no = r;
			done_round = -1;
			turn = v;
			pthread_cond_broadcast(&cv);
			while (done_round != r)
				pthread_cond_wait(&cv, &mu);
			pthread_mutex_unlock(&mu);
		}
	pthread_mutex_lock(&mu);
	quit = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	int failed = 0;
	for (int v = 0; v < NV; v++) {
		pthread_join(w[v].t, NULL);
		if (w[v].rc) {
			fprintf(stderr, "exitcost: %s: %s\n", vname[v],
				w[v].msg);
			failed = 1;
		}
	}
	if (failed)
		return 1;

	double sc[NV];
	printf("\nKVM_RUN-shaped ioctl (syscall entry + filter):\n");
	for (int v = 0; v < NV; v++) {
		sc[v] = bench_median_double(w[v].ns, (size_t)rounds);
		printf("  %-24s %8.1f ns\n", vname[v], sc[v]);
	}
	double bare, cvd;
	if (dispatch_figures(calls * 10, rounds, &bare, &cvd))
		return 1;
	printf("\nexit dispatch, OUT to an unassigned port:\n");
	printf("  %-24s %8.1f ns\n", "minivmm's switch", bare);
	printf("  %-24s %8.1f ns\n", "cvisor decode+bus", cvd);
	double sbare, scv;
	if (serial_figures(calls, rounds, &sbare, &scv))
		return 1;
	printf("\nserial byte (LSR in + THR out, a line per 64 bytes):\n");
	printf("  %-24s %8.1f ns\n", "minivmm -b", sbare);
	printf("  %-24s %8.1f ns\n", "cvisor 16550+console", scv);

	double added = (sc[V_CVISOR] - sc[V_NONE]) + (cvd - bare);
	printf("\ncvisor adds %.0f ns per exit (filter %+.0f ns, of which "
	       "%+.0f ns is having a filter at all; dispatch %+.0f ns).\n",
	       added, sc[V_CVISOR] - sc[V_NONE], sc[V_ALLOW_ALL] - sc[V_NONE],
	       cvd - bare);
	if (added > 0)
		printf("That stays within 3%% of the bare loop wherever an exit "
		       "round trip to userspace costs %.1f us or more.\n",
		       added / 0.03 / 1000.0);
	return 0;
}
