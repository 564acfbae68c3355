#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double tu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t tu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tu_fork_capture(int (*fn)(void *), void *arg, char *out, size_t len,
		    unsigned timeout_s)
{
	int pfd[2];
	out[0] = '\0';
	if (pipe(pfd))
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		_exit(fn(arg));
	}
	close(pfd[1]);
	long limit_ms = (long)timeout_s * 1000;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t n = 0;
	bool hung = false;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = limit_ms - ((t.tv_sec - t0.tv_sec) * 1000 +
					(t.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = { .fd = pfd[0], .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			hung = true;
			break;
		}
		ssize_t r = read(pfd[0], out + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if ((n += (size_t)r) + 1 == len)
			n = len / 2;	/* keep the head, overwrite the tail */
	}
	out[n] = '\0';
	close(pfd[0]);
	/* stderr closed (or hung): the child ends now or is made to */
	int st = 0;
	for (long i = 0; !hung && i < limit_ms / 10; i++) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0)
			return -errno;
		struct timespec ms = { 0, 10 * 1000 * 1000 };
		nanosleep(&ms, NULL);
	}
	printf("child %d hung: killed\n", (int)pid);
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return -ETIMEDOUT;
}

/* "key: N" of a /proc/.../status file; -1 when absent or unreadable. */
static long file_status_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static long status_field(const char *key)
{
	return file_status_field("/proc/self/status", key);
}

int tu_dir_entries(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int tu_thread_count(void)
{
	return (int)status_field("Threads");
}

long tu_rss_kb(void)
{
	return status_field("VmRSS");
}

int tu_fd_count(void)
{
	return tu_dir_entries("/proc/self/fd") - 1;	/* the DIR's own fd */
}

static long pid_status_field(int pid, const char *key)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	return file_status_field(path, key);
}

int tu_pid_thread_count(int pid)
{
	return (int)pid_status_field(pid, "Threads");
}

int tu_pid_fd_count(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	return tu_dir_entries(path);
}

long tu_scan_number(const char *buf, size_t len, size_t from,
		    const char *prefix, bool first)
{
	long best = -1;
	size_t pl = strlen(prefix);
	const char *p = buf && len > from ? buf + from : NULL;
	while (p && (p = strstr(p, prefix))) {
		bool bol = (size_t)(p - buf) == from || p[-1] == '\n';
		const char *q = p + pl;
		if (bol && *q >= '0' && *q <= '9') {
			char *end;
			long n = strtol(q, &end, 10);
			if (*end == '\r' || *end == '\n') {
				if (first)
					return n;
				if (n > best)
					best = n;
			}
		}
		p = q;
	}
	return best;
}
