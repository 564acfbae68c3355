/*
 * test_daemon_faults: the daemon's own failure paths (issue 8), in one
 * process: daemon_serve() runs on a thread of this test (emu, no seccomp:
 * the filters have their own test), a protocol client talks to it, and
 * fault points (src/common/fault.h) make each daemon step fail in turn —
 * the definition store's temp-file open, write, fsync (file and
 * directory) and rename; accept, a read from and a write to a client;
 * a worker thread's creation; the lock file.  After each: the client got
 * a clear error or a cleanly closed connection, the VM list and the
 * state directory agree (a definition and a data directory per listed VM,
 * no temp file), the process has the fds and threads it had before, and
 * the daemon keeps serving (a create/delete round trip works).
 *
 * Usage: test_daemon_faults GUEST_CONFIG_DIR   (needs -Dfault_injection)
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <limits.h>

#include "daemon.h"
#include "dclient.h"
#include "fault.h"
#include "testutil.h"

static const char *cfg_dir;

struct fx {
	char dir[256], sock[300], state[300], cfgpath[600];
	char *ticker;
	size_t ticker_len;
	struct daemon_opts o;
	pthread_t t;
	int status;
	struct cv_err err;
	struct dc_conn c;
	int fd0, th0;			/* the baseline */
};

static void *serve_main(void *arg)
{
	struct fx *fx = arg;
	fx->status = daemon_serve(&fx->o, &fx->err);
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Files in dir (all of them, any name); -1 when it cannot be read. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static int call(struct fx *fx, struct proto_decoded *out, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));
static int call(struct fx *fx, struct proto_decoded *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return dc_callf(&fx->c, out, "%s", line);
}

/* `vm create ticker.toml` over the socket; 0 or -errno (no response). */
static int create(struct fx *fx, struct proto_decoded *out)
{
	char *argv[] = { (char *)"vm", (char *)"create", fx->cfgpath };
	struct proto_file f = { .path = fx->cfgpath, .dir = (char *)cfg_dir,
				.data = fx->ticker, .len = fx->ticker_len };
	return dc_call(&fx->c, 3, argv, &f, 1, out);
}

/* How many VMs `vm list -f json` shows; -1 on a failed call. */
static int listed(struct fx *fx)
{
	struct proto_decoded d = {0};
	int n = -1;
	if (!call(fx, &d, "vm list -f json") && d.ok)
		n = (int)json_array_size(json_object_get(d.result, "vms"));
	proto_decoded_free(&d);
	return n;
}

static void reconnect(struct fx *fx)
{
	dc_close(&fx->c);
	assert_int_equal(dc_connect(&fx->c, fx->sock), 0);
}

/*
 * The invariants after a fault: the list and the state dir agree (n VMs:
 * n definitions, n data directories, nothing else in defs/), the fds and
 * threads are back at the baseline (the loop may need a moment to close a
 * connection; checked with no VM left, as VMs have threads and fds), and
 * the daemon serves a create/delete round trip.  Threads may exceed the
 * baseline by POOL_SLACK: server.c keeps up to WORKERS_IDLE_MAX (4) idle
 * workers and the baseline has one; a request that arrives while the
 * worker that answered the previous one has not yet gone back to idle
 * starts a second worker, which then stays idle (seen 1 run in 6 under
 * ASan): the pool, not a leak.
 */
#define POOL_SLACK 3
static void check_consistent(struct fx *fx, const char *what, int n)
{
	char defs[400], vms[400];
	snprintf(defs, sizeof(defs), "%s/defs", fx->state);
	snprintf(vms, sizeof(vms), "%s/vms", fx->state);
	int l = listed(fx);
	int nd = count_entries(defs), nv = count_entries(vms);
	if (l != n || nd != n || nv != n)
		fail_msg("%s: %d VMs listed, %d files in defs/, %d data "
			 "directories; expected %d of each", what, l, nd, nv, n);
	int fds = -1, th = -1;
	for (int i = 0; n == 0 && i < 100; i++) {
		fds = tu_fd_count();
		th = tu_thread_count();
		if (fds == fx->fd0 && th <= fx->th0 + POOL_SLACK)
			break;
		sleep_ms(20);
	}
	if (n == 0 && (fds != fx->fd0 || th > fx->th0 + POOL_SLACK))
		fail_msg("%s: %d fds and %d threads, %d and %d (+%d idle "
			 "workers) before", what, fds, th, fx->fd0, fx->th0,
			 POOL_SLACK);
	/* still serving */
	struct proto_decoded d = {0};
	assert_int_equal(create(fx, &d), 0);
	if (!d.ok)
		fail_msg("%s: the next create failed: %s", what,
			 d.errtext ? d.errtext : "?");
	json_t *cr = json_array_get(json_object_get(d.result, "created"), 0);
	int id = (int)json_integer_value(json_object_get(cr, "id"));
	proto_decoded_free(&d);
	assert_int_equal(count_entries(defs), n + 1);
	assert_int_equal(call(fx, &d, "vm delete %d --force", id), 0);
	assert_true(d.ok);
	proto_decoded_free(&d);
	assert_int_equal(count_entries(defs), n);
	assert_int_equal(listed(fx), n);
}

static int setup(void **state)
{
	if (!cv_fault_enabled()) {
		print_message("SKIP: built without -Dfault_injection=true\n");
		exit(77);
	}
	struct fx *fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cvdfault.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->sock, sizeof(fx->sock), "%s/run/cv.sock", fx->dir);
	snprintf(fx->state, sizeof(fx->state), "%s/state", fx->dir);
	snprintf(fx->cfgpath, sizeof(fx->cfgpath), "%s/ticker.toml", cfg_dir);
	fx->ticker = slurp(fx->cfgpath, &fx->ticker_len);
	assert_non_null(fx->ticker);
	fx->o = (struct daemon_opts){ .socket_path = fx->sock,
		.state_dir = fx->state, .accel = VM_ACCEL_EMU,
		.stop_timeout_ms = 5000, .persist = true };
	fx->o.host.no_seccomp = true;	/* the filters: daemon-seccomp */
	fx->c.in.fd = -1;
	*state = fx;
	return 0;
}

static void start(struct fx *fx)
{
	fx->status = -1;
	assert_int_equal(pthread_create(&fx->t, NULL, serve_main, fx), 0);
	for (int i = 0; i < 500; i++) {
		if (!dc_connect(&fx->c, fx->sock))
			return;
		sleep_ms(10);
	}
	fail_msg("the daemon did not come up: %s", fx->err.msg);
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	dc_close(&fx->c);
	pthread_kill(fx->t, SIGTERM);
	pthread_join(fx->t, NULL);
	assert_int_equal(fx->status, 0);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd)) {
		/* a temp dir left behind is no test failure */
	}
	free(fx->ticker);
	free(fx);
	return 0;
}

static void test_daemon_faults(void **state)
{
	struct fx *fx = *state;
	struct proto_decoded d = {0};

	/* the lock file: a second daemon on another socket cannot start */
	{
		struct daemon_opts o2 = fx->o;
		char sock2[320];
		struct cv_err e = {0};
		snprintf(sock2, sizeof(sock2), "%s/run2/cv.sock", fx->dir);
		o2.socket_path = sock2;
		int fds = tu_fd_count();
		assert_int_equal(cv_fault_arm("daemon.lock", 1, EIO), 0);
		int st = daemon_serve(&o2, &e);
		assert_true(cv_fault_fired());
		print_message("%-28s -> status %d: %s\n", "daemon.lock", st, e.msg);
		assert_int_equal(st, 1);
		assert_non_null(strstr(e.msg, "cv.sock.lock: Input/output error"));
		assert_int_equal(access(sock2, F_OK), -1);
		assert_int_equal(tu_fd_count(), fds);
	}

	/* a worker thread: the first request of a fresh daemon needs one */
	start(fx);
	assert_int_equal(cv_fault_arm("daemon.worker", 1, EAGAIN), 0);
	int rc = call(fx, &d, "vm list");
	assert_true(cv_fault_fired());
	print_message("%-28s -> rc %d, %s: %s\n", "daemon.worker", rc,
		      d.error.code, d.error.message);
	/* an answer (id 0: the loop never decoded the request), a close */
	assert_int_equal(rc, -EPROTO);
	assert_int_equal(d.id, 0);
	assert_false(d.ok);
	assert_string_equal(d.error.code, "busy");
	assert_non_null(strstr(d.error.message, "cannot start a thread"));
	proto_decoded_free(&d);
	reconnect(fx);

	/* warm up (a worker, the registry, the store), then the baseline */
	assert_int_equal(create(fx, &d), 0);
	assert_true(d.ok);
	proto_decoded_free(&d);
	assert_int_equal(call(fx, &d, "vm delete ticker --force"), 0);
	proto_decoded_free(&d);
	sleep_ms(100);
	fx->fd0 = tu_fd_count();
	fx->th0 = tu_thread_count();
	print_message("baseline: %d fds, %d threads\n", fx->fd0, fx->th0);
	check_consistent(fx, "warm-up", 0);

	/* the definition store: the create fails and leaves nothing */
	static const struct {
		const char *point;
		unsigned nth;
		const char *says;
	} store[] = {
		{ "store.open", 1, "cannot create a file in" },
		{ "store.write", 1, "cannot write" },
		{ "store.fsync", 1, "cannot sync" },	/* the file */
		{ "store.fsync", 2, "cannot sync" },	/* defs/ */
		{ "store.rename", 1, "cannot rename" },
	};
	for (size_t i = 0; i < sizeof(store) / sizeof(store[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "%s #%u", store[i].point,
			 store[i].nth);
		assert_int_equal(cv_fault_arm(store[i].point, store[i].nth,
					      EIO), 0);
		assert_int_equal(create(fx, &d), 0);
		bool fired = cv_fault_fired();
		cv_fault_disarm();
		if (!fired)
			fail_msg("%s: not reached", what);
		print_message("%-28s -> status %d: %s", what, d.status,
			      d.errtext ? d.errtext : "(no stderr)\n");
		if (d.ok || d.status != 1)
			fail_msg("%s: the create did not fail", what);
		if (!d.errtext || !strstr(d.errtext, "removed again: cannot "
					  "store its definition: ") ||
		    !strstr(d.errtext, store[i].says) ||
		    !strstr(d.errtext, "Input/output error"))
			fail_msg("%s: unclear error: %s", what,
				 d.errtext ? d.errtext : "(none)");
		if (json_array_size(json_object_get(d.result, "created")))
			fail_msg("%s: the result still lists the VM", what);
		proto_decoded_free(&d);
		check_consistent(fx, what, 0);
	}

	/* a write to the client: the connection closes, the create stays */
	assert_int_equal(cv_fault_arm("daemon.send", 1, EPIPE), 0);
	rc = create(fx, &d);
	assert_true(cv_fault_fired());
	print_message("%-28s -> rc %d (%s)\n", "daemon.send", rc, strerror(-rc));
	assert_true(rc < 0);		/* closed without an answer */
	proto_decoded_free(&d);
	reconnect(fx);
	check_consistent(fx, "daemon.send", 1);	/* defined and listed */
	assert_int_equal(call(fx, &d, "vm delete ticker --force"), 0);
	assert_true(d.ok);
	proto_decoded_free(&d);
	check_consistent(fx, "daemon.send (deleted)", 0);

	/* a read from the client: closed; a new connection works */
	assert_int_equal(cv_fault_arm("daemon.recv", 1, ECONNRESET), 0);
	rc = call(fx, &d, "vm list");
	assert_true(cv_fault_fired());
	print_message("%-28s -> rc %d (%s)\n", "daemon.recv", rc, strerror(-rc));
	assert_true(rc < 0);
	proto_decoded_free(&d);
	reconnect(fx);
	check_consistent(fx, "daemon.recv", 0);

	/* accept: the connection waits for the next round, then is served */
	dc_close(&fx->c);
	assert_int_equal(cv_fault_arm("daemon.accept", 1, EMFILE), 0);
	assert_int_equal(dc_connect(&fx->c, fx->sock), 0);
	rc = call(fx, &d, "vm list");
	assert_true(cv_fault_fired());
	print_message("%-28s -> rc %d, ok %d\n", "daemon.accept", rc, d.ok);
	assert_int_equal(rc, 0);
	assert_true(d.ok);
	proto_decoded_free(&d);
	check_consistent(fx, "daemon.accept", 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s GUEST_CONFIG_DIR\n", argv[0]);
		return 2;
	}
	static char abs[4096];
	if (!realpath(argv[1], abs)) {
		perror(argv[1]);
		return 2;
	}
	cfg_dir = abs;
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_daemon_faults, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
