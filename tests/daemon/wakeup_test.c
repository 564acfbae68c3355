/*
 * The daemon's streams wait without a timer (issue 4: no sleep-polling).
 *
 * Usage: daemon_wakeup_test CVISOR GUEST_CONFIG_DIR  (env
 * CVISOR_TEST_ACCEL=emu|kvm, default emu; kvm skips with 77 where it is
 * not usable).  In C, not Python, so that it runs in the kvm tier too (no
 * Python there).
 *
 * With the `prompt` guest running (it prints "prompt> " without a newline
 * and spins inside the guest), a `vm console` client attached and an
 * `events` client connected:
 *   1. the attached client sees this boot's prompt.  The attach replays
 *      the console's earlier output, every earlier boot's prompt with it:
 *      the test waits for one more than those (it once passed on the
 *      replay with every flush of a partial line removed).  A prompt
 *      printed before the attach shows through the replay's flush, one
 *      printed after it through the attach loop's delayed flush (on emu
 *      also through the flush after each engine run).  The guest usually
 *      prints before the attach connects: without the attach loop's
 *      flush alone this still passed on emu (checked);
 *   2. the daemon, all its threads together, makes at most IDLE_MAX
 *      voluntary context switches in IDLE_S s.  Blocked threads switch only
 *      when woken: the old attach loop woke every 50 ms and the old events
 *      stream every 500 ms (~22 in 1 s, measured); now nothing wakes them;
 *   3. (first, before the streams connect) `vm wait 0 --timeout 1` on the
 *      running VM: the daemon's threads make at most WAIT_MAX voluntary
 *      context switches over the whole request (accepting, reading,
 *      handing it to a worker and answering take a few; measured 4-6).
 *      The old `vm wait` looked every 50 ms (+20);
 *   4. `vm stop --force` from another client ends the attach ("VM stopped;
 *      left ...") at once: the registry's event wakes the loop, which used
 *      to see the state at its next 50 ms tick (>= SLOW_MS in ~80% of
 *      runs).  At most SLOW_MAX of RUNS may take >= SLOW_MS after the stop
 *      command returned (the old code passes that with p < 1%);
 *   5. `vm delete --force` ends an attach with "VM deleted; left ...";
 *   6. SIGTERM to the daemon ends the events stream within END_MAX_MS;
 *   7. while a request still runs in the shutdown's grace time (a `vm
 *      wait` for GRACE_WAIT_S s) and an idle connection is open, the daemon
 *      sleeps: at most GRACE_TICKS_MAX CPU ticks (1/100 s) in 1 s.  The old
 *      grace loop left the idle connection, readable at EOF once its
 *      reading side was shut, in its epoll set: a busy loop (~100 ticks in
 *      1 s).  Then the request ends in the grace time, the idle connection
 *      is closed and the daemon exits 0.
 *
 * The kvm tier (env CVISOR_TEST_TIER set: KVM nested in QEMU's TCG, 10-50x
 * slower, host load showing through) multiplies the latency bounds only -
 * SLOW_MS and END_MAX_MS - by WU_TIER_SCALE, and its hang guards wait longer.
 * The counting bounds (IDLE_MAX, WAIT_MAX, SLOW_MAX, GRACE_TICKS_MAX) and
 * the windows (IDLE_S, the 1 s of check 7, GRACE_WAIT_S) are the same
 * everywhere: a sleeping thread makes no more switches and burns no more
 * ticks on a slow machine.  What the tier can then still catch: checks 2,
 * 3 and 7 in full (a waking stream, a polling `vm wait`, a spinning grace
 * loop), 1 and 5, a stop noticed 200 ms late and a SIGTERM 40 s late - not
 * the old 50 ms tick, which only the host's bound catches (measured in
 * the tier, 2026-12-06: `vm wait` 7 switches, idle 0, stops 0.1-0.2 ms,
 * SIGTERM 8 ms, grace 0 ticks).  Check 7 says so on a "# note" line when
 * the `vm wait` ended before its window did (it then measured a daemon
 * with no request running).
 *
 * Prints an "ok"/"FAIL" line per check; exit 0 when all passed, 1 when
 * any failed, 77 when kvm was asked for and is not usable.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "wakeutil.h"

#define IDLE_S 1.0
#define IDLE_MAX 4
#define WAIT_MAX 12
#define RUNS 5
#define SLOW_MS 10.0
#define SLOW_MAX 1
#define END_MAX_MS 2000.0
#define GRACE_WAIT_S 3
#define GRACE_TICKS_MAX 10

static char cvisor[PATH_MAX];
static const char *cfg, *accel;
static char tmp[256], sock[300], prompt_toml[PATH_MAX];
static unsigned scale = 1;	/* WU_TIER_SCALE in the kvm tier */
static pid_t daemon_pid;

/* A hang guard of secs seconds; longer in the kvm tier. */
static double guard(double secs)
{
	return scale > 1 && secs < 60 ? 60 : secs;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

/* Kill the daemon, remove the temp dir, exit with status. */
static void bail(int status)
{
	kill(daemon_pid, SIGKILL);
	wu_reap(daemon_pid, 30);
	wu_rm_tree(tmp);
	exit(status);
}

/*
 * A client command (NULL-terminated args after "cvisor"), run to its end:
 * its status; its output stays in *keep (wu_free it) when keep is given.
 */
static int cv(struct wu_child *keep, ...)
{
	const char *args[32];
	int n = 0;
	va_list ap;
	va_start(ap, keep);
	while (n < 31 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	struct wu_child c;
	wu_spawn(&c, cvisor, args, WU_ERR_PIPE, false);
	int st = wu_finish(&c, guard(120));
	if (keep)
		*keep = c;
	else
		wu_free(&c);
	return st;
}

/* A client whose output (stdout and stderr) is read as it comes; its
 * stdin stays open. */
static void stream(struct wu_child *c, const char *const *args)
{
	wu_spawn(c, cvisor, args, WU_ERR_MERGE, true);
}

/* Fields after the ")" of /proc/pid[/task/tid]/stat, or false. */
static bool stat_fields(const char *path, char *buf, size_t len,
			char **fields)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	*fields = p + 1;
	return true;
}

/* Field k (0: the state) after the ")"; 0 when absent. */
static unsigned long long stat_field(const char *fields, int k)
{
	const char *p = fields;
	for (int i = 0; i <= k; i++) {
		while (*p == ' ')
			p++;
		if (i == k)
			break;
		while (*p && *p != ' ')
			p++;
	}
	return strtoull(p, NULL, 10);
}

/*
 * A TSan build's runtime thread (it wakes on its own timer), or 0.  The
 * runtime starts it before the program's first thread: the earliest
 * started thread but the main one.
 */
static pid_t tsan_thread(pid_t pid)
{
	char path[64], line[512];
	bool tsan = false;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (!tsan && fgets(line, sizeof(line), f))
		tsan = strstr(line, "libtsan") != NULL;
	fclose(f);
	if (!tsan)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	pid_t first = 0;
	unsigned long long first_start = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 || tid == pid)
			continue;
		char sp[96], buf[1024], *fields;
		snprintf(sp, sizeof(sp), "/proc/%d/task/%d/stat", (int)pid,
			 (int)tid);
		if (!stat_fields(sp, buf, sizeof(buf), &fields))
			continue;	/* a thread that just ended */
		unsigned long long start = stat_field(fields, 19);
		if (!first || start < first_start ||
		    (start == first_start && tid < first)) {
			first = tid;
			first_start = start;
		}
	}
	closedir(d);
	return first;
}

/* Voluntary context switches of the daemon's threads (not TSan's). */
static long vol_switches_all(pid_t pid)
{
	pid_t skip = tsan_thread(pid);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid <= 0 || tid == skip)
			continue;
		long v = wu_vol_switches(pid, tid);
		if (v > 0)
			n += v;		/* -1: a thread that just ended */
	}
	closedir(d);
	return n;
}

/* utime + stime of process pid in clock ticks; -1 when gone. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *fields;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!stat_fields(path, buf, sizeof(buf), &fields))
		return -1;
	return (long long)(stat_field(fields, 11) + stat_field(fields, 12));
}

/* Whether process pid still runs (not yet a zombie). */
static bool running(pid_t pid)
{
	char path[64], buf[1024], *fields;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!stat_fields(path, buf, sizeof(buf), &fields))
		return false;
	while (*fields == ' ')
		fields++;
	return *fields && *fields != 'Z';
}

static void start_daemon(void)
{
	char log[300], state[300];
	snprintf(log, sizeof(log), "%s/daemon.log", tmp);
	snprintf(state, sizeof(state), "%s/state", tmp);
	fflush(NULL);
	daemon_pid = fork();
	if (daemon_pid < 0) {
		perror("fork");
		exit(1);
	}
	if (daemon_pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0600);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execl(cvisor, cvisor, "serve", "--socket", sock, "--state-dir",
		      state, "--accel", accel, "--stop-timeout", "10",
		      (char *)NULL);
		_exit(127);
	}
	double end = tu_now() + guard(20);
	struct stat sb;
	while (tu_now() < end && running(daemon_pid)) {
		if (!stat(sock, &sb) && cv(NULL, "vm", "list", NULL) == 0)
			return;
		sleep_s(0.05);
	}
	printf("daemon did not come up:\n");
	fflush(stdout);
	FILE *f = fopen(log, "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f))
		fputs(line, stdout);
	if (f)
		fclose(f);
	bail(1);
}

/* The prompt VM, id 0; skips when kvm is not usable. */
static void create_prompt_vm(void)
{
	struct wu_child r;
	if (cv(&r, "vm", "create", prompt_toml, NULL) == 0) {
		wu_free(&r);
		return;
	}
	if (!strcmp(accel, "kvm") && (strcasestr(r.buf[WU_OUT], "kvm") ||
				      strcasestr(r.buf[WU_ERR], "kvm"))) {
		printf("SKIP: kvm not usable here: %s%s", r.buf[WU_OUT],
		       r.buf[WU_ERR]);
		bail(77);
	}
	printf("cannot create the prompt VM: %s%s", r.buf[WU_OUT],
	       r.buf[WU_ERR]);
	bail(1);
}

static const char *const console_args[] = { "vm", "console", "0", NULL };

/* Boots of VM 0 so far: its console replays every earlier boot's
 * output, "prompt> " included, to a new attach. */
static int boots;

/* Start VM 0 (a boot); its status. */
static int start_vm(struct wu_child *keep)
{
	boots++;
	return cv(keep, "vm", "start", "0", NULL);
}

static int count(const char *s, const char *text)
{
	int n = 0;
	for (; (s = strstr(s, text)); s += strlen(text))
		n++;
	return n;
}

/*
 * Wait up to timeout_s for this boot's prompt on the attach: the
 * boots-th "prompt> " (the earlier ones are the replay).  false when it
 * did not show.
 */
static bool wait_prompt(struct wu_child *att, double timeout_s)
{
	double end = tu_now() + timeout_s;
	while (count(att->buf[WU_OUT], "prompt> ") < boots) {
		double left = end - tu_now();
		if (left <= 0 || att->fd[WU_OUT] < 0)
			return false;
		wu_pump(att, (int)(left * 1000) + 1);
	}
	return true;
}

/* Check 3: `vm wait` on the running VM, alone (no stream connected). */
static void check_wait(void)
{
	start_vm(NULL);
	sleep_s(0.3);
	long v0 = vol_switches_all(daemon_pid);
	struct wu_child w;
	int st = cv(&w, "vm", "wait", "0", "--timeout", "1", NULL);
	long v1 = vol_switches_all(daemon_pid);
	wu_report(st == 1 && strstr(w.buf[WU_ERR],
				    "did not reach Stopped within 1 s") &&
		  v1 - v0 <= WAIT_MAX, "'vm wait 0 --timeout 1' on the "
		  "running VM: status %d, %ld voluntary context switches of "
		  "the daemon (<= %d)", st, v1 - v0, WAIT_MAX);
	wu_free(&w);
	cv(NULL, "vm", "stop", "--force", "0", NULL);
}

/* Checks 1, 2 and 4: the prompt, the idle daemon, a stop ends the
 * attach; the events stream ev is connected. */
static void check_attach_stop(void)
{
	double slow_ms[RUNS];
	for (int i = 0; i < RUNS; i++) {
		struct wu_child r, att;
		int st = start_vm(&r);
		if (st != 0) {
			wu_report(false, "run %d: vm start: %s%s", i,
				  r.buf[WU_OUT], r.buf[WU_ERR]);
			wu_free(&r);
			return;
		}
		wu_free(&r);
		stream(&att, console_args);
		if (!wait_prompt(&att, guard(20))) {
			wu_report(false, "run %d: the attached client never "
				  "saw the prompt: '%s'", i, att.buf[WU_OUT]);
			kill(att.pid, SIGKILL);
			wu_finish(&att, guard(30));
			wu_free(&att);
			return;
		}
		if (i == 0) {
			wu_report(true, "vm console over the socket shows the "
				  "partial line");
			sleep_s(0.3);
			long v0 = vol_switches_all(daemon_pid);
			sleep_s(IDLE_S);
			long v1 = vol_switches_all(daemon_pid);
			wu_report(v0 >= 0 && v1 >= 0 && v1 - v0 <= IDLE_MAX,
				  "idle daemon (an attach, an events "
				  "stream): %ld voluntary context switches "
				  "in %.1f s (<= %d)", v1 - v0, IDLE_S,
				  IDLE_MAX);
		}
		st = cv(&r, "vm", "stop", "--force", "0", NULL);
		double t0 = tu_now();
		double t = wu_wait_for(&att, WU_OUT,
				       "VM stopped; left VM[0] console",
				       guard(20));
		int ast = wu_finish(&att, guard(30));
		if (st != 0 || t < 0 || ast != 0) {
			wu_report(false, "run %d: vm stop --force: %s%s; "
				  "attach status %d: '%s'", i, r.buf[WU_OUT],
				  r.buf[WU_ERR], ast, att.buf[WU_OUT]);
			wu_free(&r);
			wu_free(&att);
			return;
		}
		wu_free(&r);
		wu_free(&att);
		slow_ms[i] = t > t0 ? (t - t0) * 1000 : 0;
	}
	char list[RUNS * 16];
	int n = wu_count_slow(slow_ms, RUNS, SLOW_MS * scale, list,
			      sizeof(list));
	wu_report(n <= SLOW_MAX, "a stop ends the attach: %d of %d took >= "
		  "%.0f ms after the stop returned (<= %d); ms:%s", n, RUNS,
		  SLOW_MS * scale, SLOW_MAX, list);
}

/* Check 5: a delete ends the attach too. */
static void check_delete(void)
{
	struct wu_child att;
	start_vm(NULL);
	stream(&att, console_args);
	wait_prompt(&att, guard(20));
	int st = cv(NULL, "vm", "delete", "--force", "0", NULL);
	double t = wu_wait_for(&att, WU_OUT, "VM deleted; left VM[0] console",
			       guard(20));
	int ast = wu_finish(&att, guard(30));
	wu_report(st == 0 && t >= 0 && ast == 0, "vm delete --force ends the "
		  "attach: 'VM deleted; left' (status %d)", ast);
	wu_free(&att);
}

/* An idle connection to the daemon's socket; -1 on failure. */
static int connect_idle(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("connect");
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * Checks 6 and 7: the daemon's shutdown ends the events stream ev; with a
 * request still running (a wait for a state that never comes) and an idle
 * connection, it sleeps through its grace time rather than spinning.
 */
static void check_shutdown(struct wu_child *ev)
{
	cv(NULL, "vm", "create", prompt_toml, NULL);
	int idle = connect_idle();
	char wait_s[16];
	snprintf(wait_s, sizeof(wait_s), "%d", GRACE_WAIT_S);
	const char *wargs[] = { "vm", "wait", "0", "--state", "Running",
				"--timeout", wait_s, NULL };
	struct wu_child waiter;
	wu_spawn(&waiter, cvisor, wargs, WU_ERR_PIPE, false);
	sleep_s(0.5);
	double t0 = tu_now();
	kill(daemon_pid, SIGTERM);
	double t = wu_wait_for(ev, WU_OUT, NULL, guard(30));
	wu_finish(ev, guard(30));
	double ms = t >= 0 ? (t - t0) * 1000 : -1;
	wu_report(t >= 0 && ms < END_MAX_MS * scale, "SIGTERM to the daemon "
		  "ends the events stream in %.1f ms (< %.0f)", ms,
		  END_MAX_MS * scale);

	sleep_s(0.2);
	long long c0 = cpu_ticks(daemon_pid);
	sleep_s(1.0);
	long long c1 = cpu_ticks(daemon_pid);
	if (!running(waiter.pid))
		printf("# note: the 'vm wait' ended before the 1 s window "
		       "did: the grace check saw no running request\n");
	wu_report(c0 >= 0 && c1 >= 0 && c1 - c0 <= GRACE_TICKS_MAX,
		  "shutdown grace with a running request and an idle "
		  "connection: %lld CPU ticks of %ld/s in 1 s (<= %d)",
		  c1 - c0, sysconf(_SC_CLK_TCK), GRACE_TICKS_MAX);

	int wst = wu_finish(&waiter, guard(60));
	char *nl = strchr(waiter.buf[WU_ERR], '\n');
	if (nl && !nl[1])
		*nl = '\0';
	wu_report(wst == 1 && strstr(waiter.buf[WU_ERR],
				     "did not reach Running"),
		  "the running request finished in the grace time: status "
		  "%d '%s'", wst, waiter.buf[WU_ERR]);
	wu_free(&waiter);

	struct pollfd pf = { .fd = idle, .events = POLLIN };
	char b;
	bool closed = idle >= 0 &&
		      poll(&pf, 1, (int)(guard(30) * 1000)) == 1 &&
		      recv(idle, &b, 1, 0) == 0;
	wu_report(closed, "the idle connection was closed");
	if (idle >= 0)
		close(idle);
	int dst = wu_reap(daemon_pid, guard(60));
	wu_report(dst == 0, "daemon status %d", dst);
	if (dst == -1000)
		bail(1);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CVISOR GUEST_CONFIG_DIR\n",
			argv[0]);
		return 2;
	}
	if (!realpath(argv[1], cvisor)) {
		perror(argv[1]);
		return 1;
	}
	cfg = argv[2];
	snprintf(prompt_toml, sizeof(prompt_toml), "%s/prompt.toml", cfg);
	wu_setup("daemon-wakeup", &accel, &scale, tmp, sizeof(tmp));
	snprintf(sock, sizeof(sock), "%s/run/cv.sock", tmp);
	setenv("CVISOR_SOCKET", sock, 1);

	start_daemon();
	create_prompt_vm();
	check_wait();
	struct wu_child ev;
	const char *eargs[] = { "events", NULL };
	stream(&ev, eargs);
	sleep_s(0.2);
	check_attach_stop();
	check_delete();
	check_shutdown(&ev);
	wu_free(&ev);
	wu_rm_tree(tmp);
	return wu_failed ? 1 : 0;
}
