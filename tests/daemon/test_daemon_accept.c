/*
 * test_daemon_accept: `cvisor serve` out of file descriptors.  The daemon
 * gets a low RLIMIT_NOFILE (prlimit, after it started), clients connect
 * one at a time (each gets an answer) until every fd number below the
 * limit is in use, then one more: that one stays queued (the daemon's
 * log says "cannot accept").  While it waits, the daemon must not spin
 * (its CPU time over ~1 s below a bar) nor flood its log (a bounded
 * number of "cannot accept" lines).  Then its limit goes
 * up (no client leaves: only the daemon's own retry can notice) and the
 * queued client must be served within a deadline.  Out of fds again, two
 * clients hang up: the queued one must be served.  Last, the same
 * exhaustion again and a SIGTERM: the daemon must stop cleanly (status 0)
 * while it is not accepting.
 *
 * Usage: test_daemon_accept CVISOR
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dclient.h"
#include "testutil.h"

#if CV_TEST_SANITIZED
#define CPU_BAR 50.0		/* % of a core: sanitizer builds are slower */
#else
#define CPU_BAR 20.0
#endif
#define SPARE_FDS 6		/* the daemon's fd limit: what it has + this */
#define MAX_CLIENTS 64
#define LOG_LINES_MAX 3		/* "cannot accept" lines, the first wait */
#define SERVE_DEADLINE 5.0	/* s: the queued client, once fds are free */

static struct dc_daemon daemon_;
static FILE *logf_;		/* the daemon's log, read as it grows */
static int accept_lines;	/* "cannot accept" lines seen so far */
static int failures;
static struct rlimit fd_limit;	/* the daemon's */

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
	failures++;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Read the log's new complete lines; returns accept_lines. */
static int scan_log(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	clearerr(logf_);
	while ((n = getline(&line, &cap, logf_)) > 0) {
		if (line[n - 1] != '\n') {	/* half written: later */
			fseek(logf_, -n, SEEK_CUR);
			break;
		}
		accept_lines += strstr(line, "cannot accept") != NULL;
	}
	free(line);
	return accept_lines;
}

/* utime + stime of the daemon, in seconds; -1 when unreadable. */
static double cpu_seconds(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');	/* the name may hold spaces */
	unsigned long ut, st;
	/* after ")": state (3) ... utime (14), stime (15) */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int send_list(struct dc_conn *c)
{
	char *argv[] = { (char *)"vm", (char *)"list", NULL };
	struct proto_request r = { .id = ++c->next_id, .argc = 2, .argv = argv };
	char *line = proto_encode_request(&r);
	if (!line)
		return -ENOMEM;
	size_t len = strlen(line);
	ssize_t w = write(c->in.fd, line, len);
	free(line);
	return w == (ssize_t)len ? 0 : -EIO;
}

/* The answer to send_list(); 0 when it is a success. */
static int read_answer(struct dc_conn *c)
{
	char *resp = NULL;
	size_t len = 0;
	int rc = line_read(&c->in, &resp, &len);
	if (rc)
		return rc;
	struct proto_decoded d = {0};
	struct proto_error e;
	rc = proto_decode_response(resp, len, &d, &e);
	free(resp);
	if (!rc && !d.ok)
		rc = -EPROTO;
	proto_decoded_free(&d);
	return rc;
}

/* Wait up to secs for c to be readable. */
static bool readable(struct dc_conn *c, double secs)
{
	struct pollfd p = { .fd = c->in.fd, .events = POLLIN };
	return poll(&p, 1, (int)(secs * 1000)) == 1;
}

/* A new client that sent `vm list`; NULL (a failure said) when it could not. */
static struct dc_conn *client(struct dc_conn *cl, int *ncl)
{
	if (*ncl == MAX_CLIENTS) {
		failure("%d clients connected and the daemon still accepts",
			MAX_CLIENTS);
		return NULL;
	}
	struct dc_conn *c = &cl[(*ncl)++];
	if (dc_connect(c, daemon_.sock) || send_list(c)) {
		failure("client %d: cannot connect or send: %s", *ncl,
			strerror(errno));
		return NULL;
	}
	return c;
}

/* The daemon has every fd number below its limit in use. */
static bool daemon_full(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)daemon_.pid);
	DIR *d = opendir(path);
	if (!d)
		return false;
	rlim_t used = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' &&
		    strtoul(e->d_name, NULL, 10) < fd_limit.rlim_cur)
			used++;
	closedir(d);
	return used >= fd_limit.rlim_cur;
}

/*
 * Connect clients (each asks `vm list` and gets its answer) until the
 * daemon has no fd left, then one more: that one stays queued and is
 * returned (its request sent, unanswered).  NULL (a failure said) when
 * the daemon never ran out or a client got no answer.
 */
static struct dc_conn *exhaust(struct dc_conn *cl, int *ncl)
{
	for (;;) {
		if (daemon_full())
			return client(cl, ncl);
		struct dc_conn *c = client(cl, ncl);
		if (!c)
			return NULL;
		if (!readable(c, 10)) {
			failure("client %d: no answer in 10 s", *ncl);
			return NULL;
		}
		int rc = read_answer(c);
		if (rc) {
			failure("client %d: bad answer: %s", *ncl, strerror(-rc));
			return NULL;
		}
	}
}

/* The queued client gets its answer within SERVE_DEADLINE of now. */
static void check_served(struct dc_conn *queued, const char *after)
{
	double t0 = tu_now();
	int rc;
	if (!readable(queued, SERVE_DEADLINE))
		failure("the queued client got no answer %.0f s after %s",
			SERVE_DEADLINE, after);
	else if ((rc = read_answer(queued)))
		failure("the queued client: bad answer: %s", strerror(-rc));
	else
		printf("the queued client was served %.0f ms after %s\n",
		       (tu_now() - t0) * 1000, after);
}

/* How the daemon behaves while the queued client waits (~1 s). */
static void check_idle(void)
{
	double end = tu_now() + SERVE_DEADLINE;
	while (!scan_log() && tu_now() < end)
		sleep_ms(20);
	double c0 = cpu_seconds(daemon_.pid), t0 = tu_now();
	int l0 = scan_log();
	struct timespec ts = { 1, 0 };	/* a measuring window, not a wait */
	nanosleep(&ts, NULL);
	double c1 = cpu_seconds(daemon_.pid), t1 = tu_now();
	int l1 = scan_log();
	double pct = (c1 - c0) / (t1 - t0) * 100;
	printf("out of fds: the daemon used %.0f%% of a core over %.2f s, "
	       "logged %d \"cannot accept\" lines (%d in that window)\n",
	       pct, t1 - t0, l1, l1 - l0);
	if (c0 < 0 || c1 < 0)
		failure("cannot read /proc/%d/stat", (int)daemon_.pid);
	else if (pct >= CPU_BAR)
		failure("the daemon spins while it cannot accept: %.0f%% of a "
			"core (bar: %.0f%%)", pct, CPU_BAR);
	if (!l1)
		failure("the daemon never logged \"cannot accept\"");
	if (l1 > LOG_LINES_MAX)
		failure("the log floods: %d \"cannot accept\" lines (at most "
			"%d)", l1, LOG_LINES_MAX);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CVISOR\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	int rc = dc_daemon_start(&daemon_, argv[1], "emu");
	if (rc) {
		fprintf(stderr, "cannot start the daemon: %s\n", strerror(-rc));
		dc_daemon_cleanup(&daemon_);
		return 1;
	}
	logf_ = fopen(daemon_.log, "r");
	if (!logf_) {
		perror(daemon_.log);
		dc_daemon_cleanup(&daemon_);
		return 1;
	}
	static struct dc_conn cl[MAX_CLIENTS];
	int ncl = 0;

	/* a few fds more than it has now */
	struct rlimit old;
	int fds = tu_pid_fd_count(daemon_.pid);
	if (fds < 0 || prlimit(daemon_.pid, RLIMIT_NOFILE, NULL, &old)) {
		perror("the daemon's fds or limit");
		dc_daemon_cleanup(&daemon_);
		return 1;
	}
	fd_limit = (struct rlimit){ .rlim_cur = (rlim_t)(fds + SPARE_FDS),
			       .rlim_max = old.rlim_max };
	if (prlimit(daemon_.pid, RLIMIT_NOFILE, &fd_limit, NULL)) {
		perror("prlimit");
		dc_daemon_cleanup(&daemon_);
		return 1;
	}
	printf("the daemon has %d fds; its limit: %d\n", fds, fds + SPARE_FDS);

	struct dc_conn *queued = exhaust(cl, &ncl);
	if (queued) {
		printf("out of fds (%d clients, the last one queued)\n", ncl);
		check_idle();
		/* fds free up without a client leaving */
		fd_limit.rlim_cur += 2;
		if (prlimit(daemon_.pid, RLIMIT_NOFILE, &fd_limit, NULL))
			failure("prlimit: %s", strerror(errno));
		check_served(queued, "its fd limit went up");
	}

	/* out of fds again; two clients leave */
	if (queued && (queued = exhaust(cl, &ncl))) {
		printf("out of fds again (%d clients)\n", ncl);
		dc_close(&cl[0]);
		dc_close(&cl[1]);
		check_served(queued, "two clients left");
	}

	/* out of fds again, then SIGTERM: a clean stop */
	if (queued && (queued = exhaust(cl, &ncl))) {
		printf("out of fds again (%d clients); SIGTERM\n", ncl);
		kill(daemon_.pid, SIGTERM);
		double end = tu_now() + 20;
		int st = 0;
		pid_t w;
		while ((w = waitpid(daemon_.pid, &st, WNOHANG)) == 0 &&
		       tu_now() < end) {
			sleep_ms(20);
		}
		if (w != daemon_.pid) {
			failure("the daemon did not stop within 20 s of SIGTERM");
		} else {
			daemon_.pid = 0;
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				failure("the daemon stopped with status 0x%x", st);
			else
				printf("the daemon stopped cleanly (status 0)\n");
		}
	}

	for (int i = 0; i < ncl; i++)
		dc_close(&cl[i]);
	if (failures) {
		/* the log's end tells why */
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "tail -n 5 '%s' | cut -c1-300",
			 daemon_.log);
		if (system(cmd)) {
			/* best effort */
		}
	}
	fclose(logf_);
	dc_daemon_cleanup(&daemon_);
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
