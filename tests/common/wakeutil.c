#include "wakeutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

int wu_failed;

void wu_report(bool ok, const char *fmt, ...)
{
	va_list ap;
	fputs(ok ? "ok   " : "FAIL ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	wu_failed += !ok;
}

long wu_vol_switches(pid_t pid, pid_t tid)
{
	char path[64], line[128];
	long n = -1;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
		 (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

void wu_spawn(struct wu_child *c, const char *exe, const char *const *args,
	      enum wu_stderr err, bool stdin_pipe)
{
	int p[2][2] = { { -1, -1 }, { -1, -1 } }, in[2] = { -1, -1 };
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 2; i++) {
		if ((i == WU_OUT || err == WU_ERR_PIPE) &&
		    pipe2(p[i], O_CLOEXEC))
			die("pipe2");
		c->cap[i] = 65536;
		c->buf[i] = calloc(1, c->cap[i]);
		if (!c->buf[i])
			die("calloc");
		c->eof[i] = -1;
	}
	if (stdin_pipe && pipe2(in, O_CLOEXEC))
		die("pipe2");
	const char *argv[32];
	int n = 0;
	argv[n++] = exe;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0)
		die("fork");
	if (c->pid == 0) {
		if (in[0] >= 0)
			dup2(in[0], STDIN_FILENO);
		dup2(p[WU_OUT][1], STDOUT_FILENO);
		if (err == WU_ERR_PIPE) {
			dup2(p[WU_ERR][1], STDERR_FILENO);
		} else if (err == WU_ERR_MERGE) {
			dup2(p[WU_OUT][1], STDERR_FILENO);
		} else {
			int dn = open("/dev/null", O_WRONLY);
			dup2(dn, STDERR_FILENO);
		}
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 2; i++) {
		if (p[i][1] >= 0)
			close(p[i][1]);
		c->fd[i] = p[i][0];
	}
	if (in[0] >= 0)
		close(in[0]);
	c->in = in[1];
}

/* Read what one ready stream has; false at EOF (the fd is closed then). */
static bool read_some(struct wu_child *c, int i, double now)
{
	if (c->len[i] + 65537 > c->cap[i]) {
		c->cap[i] *= 2;
		char *b = realloc(c->buf[i], c->cap[i]);
		if (!b)
			die("realloc");
		c->buf[i] = b;
	}
	ssize_t n;
	do
		n = read(c->fd[i], c->buf[i] + c->len[i], 65536);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		close(c->fd[i]);
		c->fd[i] = -1;
		c->eof[i] = now;
		return false;
	}
	c->len[i] += (size_t)n;
	c->buf[i][c->len[i]] = '\0';
	return true;
}

double wu_pump(struct wu_child *c, int timeout_ms)
{
	struct pollfd pf[2];
	int map[2], n = 0;
	for (int i = 0; i < 2; i++)
		if (c->fd[i] >= 0) {
			pf[n] = (struct pollfd){ .fd = c->fd[i],
						 .events = POLLIN };
			map[n++] = i;
		}
	if (!n)
		return -1;
	int k = poll(pf, (nfds_t)n, timeout_ms);
	double now = tu_now();
	for (int j = 0; k > 0 && j < n; j++)
		if (pf[j].revents)
			read_some(c, map[j], now);
	return now;
}

double wu_wait_for(struct wu_child *c, int i, const char *text,
		   double timeout_s)
{
	double end = tu_now() + timeout_s;
	if (!text) {
		while (c->fd[i] >= 0) {
			double left = end - tu_now();
			if (left <= 0)
				return -1;
			wu_pump(c, (int)(left * 1000) + 1);
		}
		return c->eof[i];
	}
	while (!strstr(c->buf[i], text)) {
		double left = end - tu_now();
		if (left <= 0 || c->fd[i] < 0)
			return -1;
		double now = wu_pump(c, (int)(left * 1000) + 1);
		if (strstr(c->buf[i], text))
			return now;
	}
	return tu_now();
}

int wu_reap(pid_t pid, double timeout_s)
{
	double end = tu_now() + timeout_s;
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st)
					     : -WTERMSIG(st);
		if (w < 0 || tu_now() >= end)
			return -1000;
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
}

int wu_finish(struct wu_child *c, double timeout_s)
{
	if (c->in >= 0) {
		close(c->in);
		c->in = -1;
	}
	double end = tu_now() + timeout_s;
	while ((c->fd[WU_OUT] >= 0 || c->fd[WU_ERR] >= 0) && tu_now() < end)
		wu_pump(c, 100);
	int st = wu_reap(c->pid, end - tu_now() > 0 ? end - tu_now() : 0);
	if (st == -1000) {
		kill(c->pid, SIGKILL);
		st = wu_reap(c->pid, 30);
	}
	for (int i = 0; i < 2; i++)
		if (c->fd[i] >= 0) {
			close(c->fd[i]);
			c->fd[i] = -1;
		}
	return st;
}

void wu_free(struct wu_child *c)
{
	free(c->buf[WU_OUT]);
	free(c->buf[WU_ERR]);
	c->buf[WU_OUT] = c->buf[WU_ERR] = NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void wu_rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void wu_setup(const char *name, const char **accel, unsigned *scale,
	      char *tmp, size_t len)
{
	const char *a = getenv("CVISOR_TEST_ACCEL");
	*accel = a && *a ? a : "emu";
	const char *tier = getenv("CVISOR_TEST_TIER");
	*scale = tier && *tier ? WU_TIER_SCALE : 1;
	if (*scale > 1)
		printf("# kvm tier: latency bounds x%u\n", *scale);
	const char *td = getenv("TMPDIR");
	snprintf(tmp, len, "%s/%s.XXXXXX", td && *td ? td : "/tmp", name);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(1);
	}
}

int wu_count_slow(const double *ms, int n, double bound, char *list,
		  size_t len)
{
	int slow = 0;
	size_t l = 0;
	if (len)
		list[0] = 0;
	for (int i = 0; i < n; i++) {
		slow += ms[i] >= bound;
		if (l < len)
			l += (size_t)snprintf(list + l, len - l, " %.1f", ms[i]);
	}
	return slow;
}
