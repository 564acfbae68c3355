/*
 * test_daemon_fds: a `cvisor serve` started the way the daemon tests start
 * it (dclient) holds no fd but stdin, stdout, stderr and its own: sockets,
 * epoll/eventfd/signalfd, and files under its socket directory and state
 * directory.  Anything else (the log file the test opened for its stderr,
 * a file of the test process) leaked into it through exec.
 *
 * Usage: test_daemon_fds CVISOR
 */
#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dclient.h"

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Whether fd n of the daemon, pointing at target, is one it opened. */
static bool own_fd(const struct dc_daemon *d, int n, const char *target)
{
	char run[sizeof(d->dir) + 8], state[sizeof(d->state) + 2];
	if (n <= 2)
		return true;
	if (has_prefix(target, "socket:") || has_prefix(target, "anon_inode:"))
		return true;
	snprintf(run, sizeof(run), "%s/run/", d->dir);
	snprintf(state, sizeof(state), "%s/", d->state);
	return has_prefix(target, run) || has_prefix(target, state) ||
	       !strcmp(target, d->state);
}

int main(int argc, char **argv)
{
	struct dc_daemon d = { 0 };
	int failures = 0, fds = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: %s CVISOR\n", argv[0]);
		return 2;
	}
	int rc = dc_daemon_start(&d, argv[1], "emu");
	if (rc) {
		printf("FAIL cannot start the daemon: %s\n", strerror(-rc));
		dc_daemon_cleanup(&d);
		return 1;
	}
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)d.pid);
	DIR *dp = opendir(dir);
	if (!dp) {
		printf("FAIL cannot read %s\n", dir);
		failures++;
	}
	for (struct dirent *e; dp && (e = readdir(dp));) {
		if (e->d_name[0] == '.')
			continue;
		char path[128], target[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;	/* closed meanwhile */
		target[n] = '\0';
		bool own = own_fd(&d, atoi(e->d_name), target);
		printf("%s fd %s -> %s\n", own ? "  " : "FAIL", e->d_name,
		       target);
		failures += !own;
		fds++;
	}
	if (dp)
		closedir(dp);
	if (dp && fds < 4) {
		printf("FAIL only %d fds: not the daemon's list\n", fds);
		failures++;
	}
	rc = dc_daemon_stop(&d);
	if (rc) {
		printf("FAIL the daemon stopped with %d\n", rc);
		failures++;
	}
	dc_daemon_cleanup(&d);
	printf("%s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
