/*
 * wakeutil: what the wakeup tests (tests/cli, tests/daemon: no
 * sleep-polling) share - the "ok"/"FAIL" lines and their count, a
 * thread's voluntary context switches (a thread blocked on a condition
 * variable or in poll() switches only when something wakes it), and a
 * child process whose output is read as it comes, with the time each
 * piece arrived.  In C so that the kvm tier (no Python) runs the tests.
 */
#ifndef CV_WAKEUTIL_H
#define CV_WAKEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The FAIL lines reported so far. */
extern int wu_failed;

/* "ok   what" or "FAIL what" on stdout, flushed. */
void wu_report(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Voluntary context switches of thread tid of process pid; -1 when the
 * thread is gone. */
long wu_vol_switches(pid_t pid, pid_t tid);

enum { WU_OUT, WU_ERR };

/* Where a child's stderr goes. */
enum wu_stderr {
	WU_ERR_NULL,		/* /dev/null */
	WU_ERR_PIPE,		/* its own stream, buf[WU_ERR] */
	WU_ERR_MERGE,		/* into stdout, buf[WU_OUT] */
};

/* A child whose stdout (and stderr) is read as it comes. */
struct wu_child {
	pid_t pid;
	int in;			/* its stdin's writing end, or -1 */
	int fd[2];		/* -1 once at EOF (or not captured) */
	char *buf[2];		/* everything read, NUL-terminated */
	size_t len[2], cap[2];
	double eof[2];		/* monotonic time (s) of EOF, or -1 */
};

/*
 * Start exe with args (NULL-terminated, after argv[0]; at most 30).
 * stdin is a pipe kept open until wu_finish (stdin_pipe) or the test's
 * own.  Exits the test on a failed pipe, fork or allocation.
 */
void wu_spawn(struct wu_child *c, const char *exe, const char *const *args,
	      enum wu_stderr err, bool stdin_pipe);

/* Poll the open streams for up to timeout_ms and read what is there; the
 * monotonic time (s) poll returned at, or -1 when nothing was open. */
double wu_pump(struct wu_child *c, int timeout_ms);

/*
 * The monotonic time (s) at which text showed on stream i (already there:
 * now), or -1 when it did not within timeout_s or the stream ended.
 * text NULL: the time of the stream's EOF (-1: not within timeout_s).
 */
double wu_wait_for(struct wu_child *c, int i, const char *text,
		   double timeout_s);

/*
 * Wait up to timeout_s for process pid to end: its exit status, -signal
 * when a signal ended it, or -1000 when it did not end (left running).
 */
int wu_reap(pid_t pid, double timeout_s);

/* Close stdin, read the streams to their end and reap the child (killed
 * after timeout_s); its status as wu_reap's. */
int wu_finish(struct wu_child *c, double timeout_s);

void wu_free(struct wu_child *c);

/* rm -rf path (errors ignored). */
void wu_rm_tree(const char *path);

/* How many of the n latencies ms[] are >= bound; list gets them all as
 * " 1.2 0.3 ..." (ms, one decimal). */
int wu_count_slow(const double *ms, int n, double bound, char *list,
		  size_t len);

/* The latency bounds' factor in the kvm tier ($CVISOR_TEST_TIER set:
 * everything there is 10-50x slower); counting bounds are not scaled. */
#define WU_TIER_SCALE 20

/*
 * The test's set-up: *accel = $CVISOR_TEST_ACCEL (default "emu"),
 * *scale = WU_TIER_SCALE in the kvm tier (said on stdout) else 1, and a
 * fresh directory $TMPDIR/NAME.XXXXXX in tmp (exits the test when it
 * cannot make it).
 */
void wu_setup(const char *name, const char **accel, unsigned *scale,
	      char *tmp, size_t len);

#endif
