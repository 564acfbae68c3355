/*
 * stress: 8 clients issue random create/start/suspend/resume/stop/
 * restart/delete/list/show over 20 VM ids through one `cvisor serve` for
 * CVISOR_STRESS_SECONDS (default 60), then the daemon must be alive and
 * answer promptly, every VM must settle in a state of the SPEC §1 machine,
 * the state directory must match the list (a definition and a data
 * directory per listed VM, nothing else), and after deleting everything
 * the daemon's fds and threads must be back at their baseline.
 *
 * Usage: stress CVISOR GUEST_CONFIG_DIR [SECONDS]   (env CVISOR_TEST_ACCEL)
 * The duration: SECONDS, else $CVISOR_STRESS_SECONDS (yours), else
 * $CVISOR_STRESS_DEFAULT_SECONDS (what meson sets per build), else 60.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dclient.h"
#include "testutil.h"

#define CLIENTS 8
#define VMS 20
#define WORKERS_IDLE_MAX 4	/* server.c */

static struct dc_daemon daemon_;
static char cfg_dir[4096];
static char *ticker;		/* ticker.toml */
static double deadline;
static atomic_int failures;
static atomic_long ops[9];
static const char *const op_names[9] = { "create", "start", "suspend",
	"resume", "stop", "restart", "delete", "list", "show" };

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
	if (atomic_fetch_add(&failures, 1) >= 10)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

static bool legal_state(const char *s)
{
	static const char *const states[] = { "Loading", "Loaded", "Running",
		"Suspended", "Stopping", "Stopped", NULL };
	for (size_t i = 0; s && states[i]; i++)
		if (!strcmp(s, states[i]))
			return true;
	return false;
}

/* The ticker's config with [base] id = n, name = "s<n>". */
static char *config_for(int n, size_t *len)
{
	const char *at = strstr(ticker, "name = \"ticker\"");
	char *out;
	if (!at)
		return NULL;
	int k = asprintf(&out, "%.*sid = %d\nname = \"s%d\"%s",
			 (int)(at - ticker), ticker, n, n,
			 at + strlen("name = \"ticker\""));
	if (k < 0)
		return NULL;
	*len = (size_t)k;
	return out;
}

static void *client(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + (unsigned)time(NULL);
	struct dc_conn c;
	if (dc_connect(&c, daemon_.sock)) {
		failure("client cannot connect");
		return NULL;
	}
	static const int weights[9] = { 15, 15, 10, 10, 12, 8, 10, 10, 10 };
	while (tu_now() < deadline) {
		int r = (int)(rand_r(&seed) % 100), op = 0;
		while (r >= weights[op])
			r -= weights[op++];
		int id = (int)(rand_r(&seed) % VMS);
		bool coin = rand_r(&seed) & 1;
		char ids[16], path[32];
		snprintf(ids, sizeof(ids), "%d", id);
		struct proto_decoded d;
		int rc;
		if (op == 0) {
			size_t len = 0;
			char *text = config_for(id, &len);
			snprintf(path, sizeof(path), "s%d.toml", id);
			struct proto_file f = { .path = path, .dir = cfg_dir,
						.data = text, .len = len };
			char *argv[] = { (char *)"vm", (char *)"create", path, NULL };
			rc = dc_call(&c, 3, argv, &f, 1, &d);
			free(text);
		} else if (op == 4) {
			rc = dc_callf(&c, &d, "vm stop %d %s", id,
				      coin ? "--force" : "--timeout 2");
		} else if (op == 5) {
			rc = dc_callf(&c, &d, "vm restart %d%s", id,
				      coin ? " --force" : "");
		} else if (op == 6) {
			rc = dc_callf(&c, &d, "vm delete %d%s", id,
				      rand_r(&seed) % 10 < 7 ? " --force" : "");
		} else if (op == 7) {
			rc = dc_callf(&c, &d, "vm list --format json");
		} else if (op == 8) {
			rc = dc_callf(&c, &d, "vm show %d%s", id,
				      coin ? " --format json" : "");
		} else {
			rc = dc_callf(&c, &d, "vm %s %d", op_names[op], id);
		}
		if (rc) {
			failure("%s %d: no answer: %s", op_names[op], id,
				strerror(-rc));
			break;
		}
		atomic_fetch_add(&ops[op], 1);
		if (d.status != 0 && d.status != 1)
			failure("%s %d: status %d: %s", op_names[op], id,
				d.status, d.errtext ? d.errtext : "");
		if (op == 7 && d.status == 0) {
			json_t *vms = json_object_get(d.result, "vms"), *v;
			size_t i;
			json_array_foreach(vms, i, v) {
				const char *s = json_string_value(
					json_object_get(v, "state"));
				if (!legal_state(s))
					failure("list: illegal state %s",
						s ? s : "(none)");
			}
		}
		proto_decoded_free(&d);
		/* now and then a client hangs up and comes back */
		if (rand_r(&seed) % 50 == 0) {
			dc_close(&c);
			if (dc_connect(&c, daemon_.sock)) {
				failure("reconnect failed");
				return NULL;
			}
		}
	}
	dc_close(&c);
	return NULL;
}

/* ids listed, each with its name; false when the daemon did not answer */
static bool list_vms(struct dc_conn *c, int *ids, char names[][64], int *n,
		     bool *settled)
{
	struct proto_decoded d;
	*n = 0;
	*settled = true;
	if (dc_callf(c, &d, "vm list --format json") || d.status)
		return false;
	json_t *vms = json_object_get(d.result, "vms"), *v;
	size_t i;
	json_array_foreach(vms, i, v) {
		const char *s = json_string_value(json_object_get(v, "state"));
		if (!legal_state(s))
			failure("final list: illegal state %s", s ? s : "(none)");
		if (s && (!strcmp(s, "Loading") || !strcmp(s, "Stopping")))
			*settled = false;
		ids[*n] = (int)json_integer_value(json_object_get(v, "id"));
		snprintf(names[*n], 64, "%s",
			 json_string_value(json_object_get(v, "name")));
		(*n)++;
	}
	proto_decoded_free(&d);
	return true;
}

static int count_entries(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (e->d_name[0] != '.' && l >= sl &&
		    !strcmp(e->d_name + l - sl, suffix))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
	char p[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	return access(p, F_OK) == 0;
}

static void check_state_dir(int *ids, char names[][64], int n)
{
	char defs[512], vms[512];
	snprintf(defs, sizeof(defs), "%s/defs", daemon_.state);
	snprintf(vms, sizeof(vms), "%s/vms", daemon_.state);
	int nd = count_entries(defs, ".json"), nv = count_entries(vms, "");
	if (nd != n || nv != n)
		failure("state dir: %d definitions and %d data dirs for %d VMs",
			nd, nv, n);
	for (int i = 0; i < n; i++) {
		if (!exists("%s/%d.json", defs, ids[i]))
			failure("VM %d listed without a definition", ids[i]);
		if (!exists("%s/%d-%s", vms, ids[i], names[i]))
			failure("VM %d listed without its data dir", ids[i]);
	}
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	(void)n;
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: stress CVISOR GUEST_CONFIG_DIR [SECONDS]\n");
		return 2;
	}
	const char *accel = getenv("CVISOR_TEST_ACCEL");
	const char *secs_env = getenv("CVISOR_STRESS_SECONDS");
	if (!secs_env || !secs_env[0])
		secs_env = getenv("CVISOR_STRESS_DEFAULT_SECONDS");
	double secs = argc == 4 ? atof(argv[3])
		      : secs_env ? atof(secs_env) : 60.0;
	accel = accel ? accel : "emu";
	if (!realpath(argv[2], cfg_dir)) {
		perror(argv[2]);
		return 1;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/ticker.toml", cfg_dir);
	ticker = read_all(path);
	if (!ticker) {
		perror(path);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = dc_daemon_start(&daemon_, argv[1], accel);
	if (rc) {
		fprintf(stderr, "cannot start the daemon: %s\n", strerror(-rc));
		dc_daemon_cleanup(&daemon_);
		return 1;
	}
	struct dc_conn c;
	struct proto_decoded d;
	if (dc_connect(&c, daemon_.sock)) {
		dc_daemon_cleanup(&daemon_);
		return 1;
	}
	/* kvm may be unusable here: skip like the other per-backend tests */
	size_t len;
	char *text = config_for(0, &len);
	struct proto_file f = { .path = (char *)"probe.toml", .dir = cfg_dir,
				.data = text, .len = len };
	char *pargv[] = { (char *)"vm", (char *)"create", (char *)"probe.toml", NULL };
	rc = dc_call(&c, 3, pargv, &f, 1, &d);
	free(text);
	if (rc || d.status) {
		bool skip = !rc && !strcmp(accel, "kvm") && d.errtext &&
			    strstr(d.errtext, "kvm");
		printf("%s: probe create failed: %s\n", skip ? "SKIP" : "FAIL",
		       d.errtext ? d.errtext : strerror(-rc));
		if (!rc)
			proto_decoded_free(&d);
		dc_close(&c);
		dc_daemon_cleanup(&daemon_);
		return skip ? 77 : 1;
	}
	proto_decoded_free(&d);
	dc_callf(&c, &d, "vm delete 0");
	proto_decoded_free(&d);
	int fd0 = tu_pid_fd_count(daemon_.pid);
	int th0 = tu_pid_thread_count(daemon_.pid);
	printf("daemon %d (accel %s): %d fds, %d threads at the start; "
	       "%d clients, %d VM ids, %.0f s\n", (int)daemon_.pid, accel, fd0,
	       tu_pid_thread_count(daemon_.pid), CLIENTS, VMS, secs);
	fflush(stdout);

	deadline = tu_now() + secs;
	pthread_t t[CLIENTS];
	for (uintptr_t i = 0; i < CLIENTS; i++)
		pthread_create(&t[i], NULL, client, (void *)i);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	long total = 0;
	for (int i = 0; i < 9; i++) {
		printf("%s %ld%s", op_names[i], atomic_load(&ops[i]),
		       i < 8 ? ", " : "\n");
		total += atomic_load(&ops[i]);
	}
	printf("%ld commands in %.0f s (%.0f/s)\n", total, secs,
	       (double)total / secs);

	/* alive and responsive */
	if (kill(daemon_.pid, 0)) {
		failure("the daemon died");
		goto out;
	}
	double t0 = tu_now();
	int ids[VMS + 1], n = 0;
	char names[VMS + 1][64];
	bool settled = false;
	if (!list_vms(&c, ids, names, &n, &settled))
		failure("the daemon does not answer vm list after the run");
	double rtt = tu_now() - t0;
	printf("vm list after the run answered in %.1f ms (%d VMs)\n",
	       rtt * 1e3, n);
	if (rtt > 5.0)
		failure("vm list took %.1f s", rtt);
	for (int i = 0; i < 100 && !settled; i++) {
		usleep(100 * 1000);
		list_vms(&c, ids, names, &n, &settled);
	}
	if (!settled)
		failure("VMs still Loading/Stopping 10 s after the run");
	check_state_dir(ids, names, n);

	/* everything deleted: fds and threads back at the baseline */
	for (int i = 0; i < n; i++) {
		dc_callf(&c, &d, "vm delete %d --force", ids[i]);
		if (d.status)
			failure("final delete %d: %s", ids[i],
				d.errtext ? d.errtext : "");
		proto_decoded_free(&d);
	}
	list_vms(&c, ids, names, &n, &settled);
	if (n)
		failure("%d VMs left after deleting all", n);
	check_state_dir(ids, names, 0);
	int fds = -1, threads = -1;
	for (int i = 0; i < 50; i++) {	/* workers leave within moments */
		fds = tu_pid_fd_count(daemon_.pid);
		threads = tu_pid_thread_count(daemon_.pid);
		if (fds == fd0 && threads <= th0 + WORKERS_IDLE_MAX)
			break;
		usleep(100 * 1000);
	}
	printf("after deleting every VM: %d fds (start: %d), %d threads "
	       "(start: %d; at most %d idle workers may stay)\n", fds, fd0,
	       threads, th0, WORKERS_IDLE_MAX);
	if (fds != fd0)
		failure("fd leak: %d fds, %d at the start", fds, fd0);
	if (threads > th0 + WORKERS_IDLE_MAX)
		failure("thread leak: %d threads", threads);
	dc_close(&c);		/* (counted in both fd figures) */
	int st = dc_daemon_stop(&daemon_);
	if (st)
		failure("daemon exit status %d after SIGTERM", st);
out:
	if (atomic_load(&failures)) {
		char *log = read_all(daemon_.log);
		printf("daemon log (last lines):\n%s\n",
		       log ? log + (strlen(log) > 4000 ? strlen(log) - 4000 : 0)
			   : "");
		free(log);
	}
	dc_daemon_cleanup(&daemon_);
	free(ticker);
	printf("%s (%d failures)\n", atomic_load(&failures) ? "FAIL" : "PASS",
	       atomic_load(&failures));
	return atomic_load(&failures) ? 1 : 0;
}
