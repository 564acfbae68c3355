/*
 * `cvisor run` waits without a timer (issue 4: no sleep-polling).
 *
 * Usage: cli_wakeup_test CVISOR   (env CVISOR_TEST_ACCEL=emu|kvm, default
 * emu; kvm skips with 77 where it is not usable).  In C, not Python, so
 * that it runs in the kvm tier too (no Python there).
 *
 * The `prompt` guest prints "prompt: start\n", then "prompt> " without a
 * newline, then spins inside the guest: only `cvisor run`'s own delayed
 * flush of a partial line can show the prompt.
 *   1. the prompt shows within PROMPT_MAX_MS of the line before it;
 *   2. the main thread (tid = pid), waiting for the VM, makes at most
 *      IDLE_MAX voluntary context switches in IDLE_S seconds.  A thread
 *      blocked on a condition variable switches only when something wakes
 *      it; the old wait woke every 50 ms (~20 in 1 s, measured 20-21), the
 *      event-driven one is expected at 0.  The bound leaves room for a
 *      stray wake-up or two (e.g. a futex hand-over), not for any period
 *      shorter than 200 ms;
 *   3. the first SIGTERM is acted on at once: the time from the signal to
 *      the "stopping VM" line on stderr, over RUNS runs (--stop-timeout 0).
 *      The old loop noticed the signal at its next 50 ms tick, uniformly
 *      0-50 ms later, i.e. >= SLOW_MS in ~80% of runs; here a run is slow
 *      only when the host did not schedule us.  At most SLOW_MAX of RUNS
 *      may be >= SLOW_MS (the old code passes that with p < 0.1%);
 *   4. a partial line still waiting for its flush when the stop begins is
 *      flushed on time, not when the stop ends: SIGTERM as soon as
 *      "prompt: start" shows (--stop-timeout STOP_TIMEOUT_S; the prompt
 *      guest never powers off), then "prompt> " within STOP_PROMPT_MAX_MS
 *      of the signal.  The old main thread slept in the graceful stop and
 *      printed it when the stop was forced (here: by the SIGINT the test
 *      sends after STOP_PROMPT_MAX_MS).  (When the flush beat the signal
 *      this passes either way; the test sees the line < 1 ms after it was
 *      written, the flush comes 30 ms later.)
 *   5. a flooding guest (hostile_flood): the main thread wakes for partial
 *      lines at most FLOOD_MAX times in FLOOD_S seconds, i.e. once per
 *      flush period (the notice and its deadline: ~67 a second), not once
 *      per line; the old console told it of every line, 20 000-36 000
 *      wake-ups a second (measured).
 *
 * The kvm tier (env CVISOR_TEST_TIER set: KVM nested in QEMU's TCG, 10-50x
 * slower, host load showing through) multiplies the latency bounds only -
 * PROMPT_MAX_MS, SLOW_MS, STOP_PROMPT_MAX_MS (and STOP_TIMEOUT_S, which
 * must stay above the last) - by WU_TIER_SCALE, and its hang guards wait
 * longer.  The counting bounds (IDLE_MAX, SLOW_MAX, FLOOD_MAX) and the
 * measuring windows (IDLE_S, FLOOD_S) are the same everywhere: an idle
 * thread makes no more switches on a slow machine, and a flush period is
 * a period of the host's clock.  What the tier can then still catch:
 * checks 2 and 4 in full (a waking idle thread; a flush held until the
 * stop is forced), a prompt later than 4 s and signals noticed 200 ms
 * late, not the old 50 ms tick, which only the host's bounds catch
 * (measured in the tier, 2026-12-06: the prompt 38 ms, SIGTERM 2.4-18 ms,
 * the stop flush 26 ms).
 * Check 5 needs a guest that prints more than FLOOD_MAX lines in FLOOD_S
 * (the host: ~22 000; the tier: ~130), else once per line is within the
 * bound: the test says so on a "# note" line instead of failing.
 *
 * Prints an "ok"/"FAIL" line per check; exit 0 when all passed, 1 when
 * any failed, 77 when kvm was asked for and is not usable.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "wakeutil.h"

#define PROMPT_MAX_MS 200.0
#define IDLE_S 1.0
#define IDLE_MAX 4
#define RUNS 10
#define SLOW_MS 10.0
#define SLOW_MAX 3
#define STOP_PROMPT_MAX_MS 1000.0
#define STOP_TIMEOUT_S 20
#define FLOOD_S 1.0
#define FLOOD_MAX 200

static const char *cvisor, *accel;
static char tmp[256], state_dir[300];
static unsigned scale = 1;	/* WU_TIER_SCALE in the kvm tier */

/* A hang guard of secs seconds; longer in the kvm tier. */
static double guard(double secs)
{
	return scale > 1 && secs < 60 ? 60 : secs;
}

/* cvisor run --image prompt with --stop-timeout stop_timeout. */
static void start_prompt(struct wu_child *r, const char *stop_timeout)
{
	const char *args[] = { "run", "--accel", accel, "--state-dir",
			       state_dir, "--image", "prompt",
			       "--stop-timeout", stop_timeout, NULL };
	wu_spawn(r, cvisor, args, WU_ERR_PIPE, false);
}

/* Checks 1-3: the prompt, the idle main thread, the SIGTERM latency. */
static void check_prompt_idle_sigterm(void)
{
	double slow_ms[RUNS];
	int done = 0;
	for (int i = 0; i < RUNS; i++) {
		struct wu_child r;
		start_prompt(&r, "0");
		double t_line = wu_wait_for(&r, WU_OUT, "prompt: start\n",
					    60);
		double t_prompt = t_line < 0 ? -1
			: wu_wait_for(&r, WU_OUT, "prompt> ", guard(10));
		if (t_line < 0 || t_prompt < 0) {
			wu_report(false, "run %d: the prompt never showed; "
				  "stdout '%s' stderr '%s'", i, r.buf[WU_OUT],
				  r.buf[WU_ERR]);
			kill(r.pid, SIGKILL);
			wu_finish(&r, guard(30));
			wu_free(&r);
			return;
		}
		if (i == 0) {
			double ms = (t_prompt - t_line) * 1000;
			wu_report(ms < PROMPT_MAX_MS * scale, "the partial "
				  "line 'prompt> ' shows %.1f ms after the "
				  "line before it (< %.0f)", ms,
				  PROMPT_MAX_MS * scale);
			struct timespec settle = { 0, 200000000 };
			nanosleep(&settle, NULL);
			long v0 = wu_vol_switches(r.pid, r.pid);
			struct timespec idle = { (time_t)IDLE_S,
				(long)((IDLE_S - (time_t)IDLE_S) * 1e9) };
			nanosleep(&idle, NULL);
			long v1 = wu_vol_switches(r.pid, r.pid);
			wu_report(v0 >= 0 && v1 >= 0 && v1 - v0 <= IDLE_MAX,
				  "idle main thread: %ld voluntary context "
				  "switches in %.1f s (<= %d)%s", v1 - v0,
				  IDLE_S, IDLE_MAX, v0 < 0 || v1 < 0 ?
				  "; the thread was gone" : "");
		}
		double t0 = tu_now();
		kill(r.pid, SIGTERM);
		double t_stop = wu_wait_for(&r, WU_ERR,
					    "stopping VM 'prompt'", guard(30));
		int st = wu_finish(&r, guard(30));
		if (t_stop < 0 || st != 128 + SIGTERM) {
			wu_report(false, "run %d: SIGTERM: status %d, "
				  "stderr '%s'", i, st, r.buf[WU_ERR]);
			wu_free(&r);
			return;
		}
		wu_free(&r);
		slow_ms[done++] = (t_stop - t0) * 1000;
	}
	char list[RUNS * 16];
	int n = wu_count_slow(slow_ms, done, SLOW_MS * scale, list,
			      sizeof(list));
	wu_report(n <= SLOW_MAX, "SIGTERM acted on: %d of %d runs took >= "
		  "%.0f ms (<= %d); ms:%s", n, RUNS, SLOW_MS * scale, SLOW_MAX,
		  list);
}

/* Check 4: a partial line waiting when the graceful stop begins. */
static void check_stop_flush(void)
{
	char stop_timeout[16];
	snprintf(stop_timeout, sizeof(stop_timeout), "%u",
		 STOP_TIMEOUT_S * scale);
	struct wu_child r;
	start_prompt(&r, stop_timeout);
	double t_line = wu_wait_for(&r, WU_OUT, "prompt: start\n", 60);
	double t0 = tu_now();
	kill(r.pid, SIGTERM);
	double t_prompt = wu_wait_for(&r, WU_OUT, "prompt> ",
				      STOP_PROMPT_MAX_MS * scale / 1000);
	kill(r.pid, SIGINT);		/* forces at once */
	int st = wu_finish(&r, guard(30));
	char when[32] = "not";
	if (t_prompt >= 0)
		snprintf(when, sizeof(when), "%.1f ms", (t_prompt - t0) * 1000);
	wu_report(t_line >= 0 && t_prompt >= 0 && st == 128 + SIGTERM,
		  "a partial line waiting when SIGTERM comes shows %s after it "
		  "(< %.0f ms; stop timeout %s s); status %d", when,
		  STOP_PROMPT_MAX_MS * scale, stop_timeout, st);
	wu_free(&r);
}

/* Read the flood's stdout for secs seconds; the lines seen (-1: EOF
 * before any). */
static long drain(struct wu_child *r, double secs)
{
	long n = 0;
	double end = tu_now() + secs;
	for (double left; (left = end - tu_now()) > 0 && r->fd[WU_OUT] >= 0;) {
		size_t from = r->len[WU_OUT];
		wu_pump(r, (int)(left * 1000) + 1);
		for (size_t k = from; k < r->len[WU_OUT]; k++)
			n += r->buf[WU_OUT][k] == '\n';
		r->len[WU_OUT] = 0;	/* the lines are not kept */
		r->buf[WU_OUT][0] = '\0';
	}
	return n;
}

/* Check 5: the flooding guest. */
static void check_flood(void)
{
	const char *args[] = { "run", "--accel", accel, "--state-dir",
			       state_dir, "--image", "hostile_flood", "-q",
			       "--stop-timeout", "0", NULL };
	struct wu_child r;
	wu_spawn(&r, cvisor, args, WU_ERR_NULL, false);
	/* the first line (the VM runs), then 0.3 s to settle */
	double end = tu_now() + 60;
	long first = 0;
	while (!first && r.fd[WU_OUT] >= 0 && tu_now() < end)
		first = drain(&r, 0.1);
	drain(&r, 0.3);
	long v0 = wu_vol_switches(r.pid, r.pid);
	long lines = drain(&r, FLOOD_S);
	long v1 = wu_vol_switches(r.pid, r.pid);
	bool gone = v0 < 0 || v1 < 0;
	if (gone)
		wu_report(false, "flooding guest: the main thread was gone "
			  "(first line %s)", first ? "seen" : "not seen");
	kill(r.pid, SIGTERM);
	end = tu_now() + guard(30);
	while (drain(&r, 1.0) && tu_now() < end)
		;
	int st = wu_finish(&r, guard(30));
	wu_free(&r);
	if (gone)
		return;
	if (lines <= FLOOD_MAX)
		printf("# note: only %ld lines in %.1f s: the flood check "
		       "cannot tell one wake-up per line from one per flush "
		       "period here\n", lines, FLOOD_S);
	wu_report(lines > 0 && v1 - v0 <= FLOOD_MAX, "flooding guest: the main "
		  "thread made %ld voluntary context switches in %.1f s while "
		  "%ld lines came (<= %d); status %d", v1 - v0, FLOOD_S, lines,
		  FLOOD_MAX, st);
}

/* kvm where it is not usable: skip like run_test.sh. */
static void skip_if_no_kvm(void)
{
	if (strcmp(accel, "kvm"))
		return;
	const char *args[] = { "run", "--accel", "kvm", "--image", "exitcode",
			       "--state-dir", state_dir, "-q", NULL };
	struct wu_child r;
	wu_spawn(&r, cvisor, args, WU_ERR_PIPE, false);
	wu_finish(&r, guard(30));
	if (strstr(r.buf[WU_ERR], "not usable")) {
		printf("SKIP: kvm not usable here: %s", r.buf[WU_ERR]);
		wu_rm_tree(tmp);
		exit(77);
	}
	wu_free(&r);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CVISOR\n", argv[0]);
		return 2;
	}
	cvisor = argv[1];
	wu_setup("cli-wakeup", &accel, &scale, tmp, sizeof(tmp));
	snprintf(state_dir, sizeof(state_dir), "%s/state", tmp);
	skip_if_no_kvm();
	check_prompt_idle_sigterm();
	check_stop_flush();
	check_flood();
	wu_rm_tree(tmp);
	return wu_failed ? 1 : 0;
}
