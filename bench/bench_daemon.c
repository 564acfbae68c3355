/*
 * bench_daemon: the `vm` commands through `cvisor serve`'s socket.
 *   - `vm list` round trip (10 Loaded VMs): one client, then 8 concurrent
 *     clients (p50, p99, throughput), against the same command run
 *     in-process through the shell (what the socket adds);
 *   - create -> start -> stop --force -> delete cycles per second through
 *     the socket (one client; bench_shell's cycle, in-process, beside it).
 * Run: ./build/bench/bench_daemon [emu|kvm ...] (default: emu and kvm)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "dclient.h"
#include "registry.h"
#include "shell.h"

#define VMS 10
#define ROUNDS 2000
#define CLIENTS 8
#define PER_CLIENT 1000
#define CYCLES 200

/* Sorts v; prints and returns the median (ns). */
static double stats(const char *what, uint64_t *v, size_t n)
{
	return bench_stats(what, 40, "p50", v, n);
}

static char *ticker_text(size_t *len)
{
	FILE *f = fopen(GUEST_CONFIG_DIR "/ticker.toml", "r");
	char *buf = calloc(1, 65536);
	*len = f && buf ? fread(buf, 1, 65535, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

static int create_ticker(struct dc_conn *c, const char *text, size_t len)
{
	struct proto_file f = { .path = (char *)"ticker.toml",
				.dir = (char *)GUEST_CONFIG_DIR,
				.data = (char *)text, .len = len };
	char *argv[] = { (char *)"vm", (char *)"create", (char *)"ticker.toml",
			 NULL };
	struct proto_decoded d;
	int rc = dc_call(c, 3, argv, &f, 1, &d);
	if (!rc) {
		rc = d.status ? -1 : 0;
		proto_decoded_free(&d);
	}
	return rc;
}

static int list_once(struct dc_conn *c)
{
	struct proto_decoded d;
	int rc = dc_callf(c, &d, "vm list");
	if (!rc) {
		rc = d.status ? -1 : 0;
		proto_decoded_free(&d);
	}
	return rc;
}

struct lister {
	const char *sock;
	uint64_t *lat;
	int failed;
};

static void *lister(void *arg)
{
	struct lister *l = arg;
	struct dc_conn c;
	if (dc_connect(&c, l->sock)) {
		l->failed = 1;
		return NULL;
	}
	for (int i = 0; i < PER_CLIENT; i++) {
		uint64_t t = now_ns();
		if (list_once(&c))
			l->failed = 1;
		l->lat[i] = now_ns() - t;
	}
	dc_close(&c);
	return NULL;
}

/* The same `vm list` in-process (what the shell costs without a socket). */
static double inproc_list(const char *accel)
{
	struct registry *reg;
	struct shell *sh;
	struct registry_opts ro = {
		.accel_default = !strcmp(accel, "kvm") ? VM_ACCEL_KVM : VM_ACCEL_EMU };
	if (registry_create(&ro, &reg, NULL))
		return 0;
	shell_create(reg, NULL, &sh, NULL);
	FILE *null = fopen("/dev/null", "w");
	char line[512];
	snprintf(line, sizeof(line), "vm create %s/ticker.toml", GUEST_CONFIG_DIR);
	for (int i = 0; i < VMS; i++)
		shell_run_line(sh, line, null, null);
	static uint64_t v[ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t t = now_ns();
		shell_run_line(sh, "vm list", null, null);
		v[i] = now_ns() - t;
	}
	double med = stats("`vm list` in-process (shell_run_line)", v, ROUNDS);
	uint64_t t0 = now_ns();
	for (int i = 0; i < CYCLES; i++) {
		shell_run_line(sh, "vm delete --force 10", null, null);
		snprintf(line, sizeof(line), "vm create %s/ticker.toml; "
			 "vm start 10; vm stop --force 10; vm delete 10",
			 GUEST_CONFIG_DIR);
		shell_run_line(sh, line, null, null);
	}
	double s = (double)(now_ns() - t0) / 1e9;
	printf("  %-40s %.0f cycles/s\n", "lifecycle in-process", CYCLES / s);
	fclose(null);
	shell_destroy(sh);
	registry_destroy(reg, false);
	return med;
}

static void bench_backend(const char *accel)
{
	struct dc_daemon dm;
	if (dc_daemon_start(&dm, CVISOR_PATH, accel)) {
		printf("backend %s: the daemon did not start\n", accel);
		dc_daemon_cleanup(&dm);
		return;
	}
	struct dc_conn c;
	size_t len;
	char *text = ticker_text(&len);
	if (dc_connect(&c, dm.sock) || create_ticker(&c, text, len)) {
		printf("backend %s: not usable here\n", accel);
		dc_close(&c);
		dc_daemon_cleanup(&dm);
		free(text);
		return;
	}
	printf("backend %s (daemon %d, %d Loaded VMs):\n", accel, (int)dm.pid, VMS);
	for (int i = 1; i < VMS; i++)
		create_ticker(&c, text, len);

	static uint64_t one[ROUNDS];
	for (int i = 0; i < 100; i++)	/* warm up */
		list_once(&c);
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t t = now_ns();
		list_once(&c);
		one[i] = now_ns() - t;
	}
	double sock1 = stats("`vm list` over the socket, 1 client", one, ROUNDS);

	static uint64_t all[CLIENTS * PER_CLIENT];
	struct lister ls[CLIENTS];
	pthread_t t[CLIENTS];
	uint64_t t0 = now_ns();
	for (int i = 0; i < CLIENTS; i++) {
		ls[i] = (struct lister){ .sock = dm.sock,
					 .lat = all + i * PER_CLIENT };
		pthread_create(&t[i], NULL, lister, &ls[i]);
	}
	int failed = 0;
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		failed |= ls[i].failed;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	double sock8 = stats("`vm list` over the socket, 8 clients", all,
			     CLIENTS * PER_CLIENT);
	printf("  %-40s %.0f lists/s%s\n", "8 clients together",
	       CLIENTS * PER_CLIENT / secs, failed ? " (SOME FAILED)" : "");

	t0 = now_ns();
	int bad = 0;
	static uint64_t step[4][CYCLES];
	for (int i = 0; i < CYCLES; i++) {
		struct proto_decoded d;
		uint64_t ts = now_ns();
		bad |= create_ticker(&c, text, len) != 0;
		step[0][i] = now_ns() - ts;
		const char *cmds[] = { "vm start %d", "vm stop --force %d",
				       "vm delete %d" };
		for (int k = 0; k < 3; k++) {
			ts = now_ns();
			if (dc_callf(&c, &d, cmds[k], VMS)) {
				bad = 1;
				continue;
			}
			step[k + 1][i] = now_ns() - ts;
			bad |= d.status != 0;
			proto_decoded_free(&d);
		}
	}
	secs = (double)(now_ns() - t0) / 1e9;
	static const char *const names[] = { "  cycle step: create (+ store, fsync)",
		"  cycle step: start", "  cycle step: stop --force",
		"  cycle step: delete (+ store, fsync)" };
	for (int k = 0; k < 4; k++)
		stats(names[k], step[k], CYCLES);
	double sock_cycles = CYCLES / secs;
	printf("  %-40s %.0f cycles/s%s\n", "lifecycle through the socket",
	       sock_cycles, bad ? " (SOME FAILED)" : "");
	dc_close(&c);
	int st = dc_daemon_stop(&dm);
	dc_daemon_cleanup(&dm);
	free(text);
	if (st)
		printf("  (daemon exit status %d)\n", st);
	double inproc = inproc_list(accel);
	if (inproc > 0)
		printf("  socket/in-process `vm list` p50: %.1fx (1 client), "
		       "%.1fx (8 clients)\n", sock1 / inproc, sock8 / inproc);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	return bench_backends(argc, argv, bench_backend);
}
