/*
 * test_daemon_term: a `cvisor serve` that is sent SIGTERM as soon as its
 * socket accepts a connection still shuts down gracefully (exit status
 * 0).  The socket listens before the definition store and the registry
 * are set up; SIGTERM used to be blocked (for the event loop's signalfd)
 * only after those, so a SIGTERM in between killed the daemon outright
 * (seen under ASan: the daemon-fds test's stop got "killed by a signal").
 *
 * Usage: test_daemon_term CVISOR [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "dclient.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CVISOR [ROUNDS]\n", argv[0]);
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 20, failures = 0;
	for (int r = 0; r < rounds; r++) {
		struct dc_daemon d = { 0 };
		int rc = dc_daemon_start(&d, argv[1], "emu");
		if (rc) {
			printf("FAIL round %d: cannot start the daemon: %s\n",
			       r, strerror(-rc));
			dc_daemon_cleanup(&d);
			return 1;
		}
		rc = dc_daemon_stop(&d);	/* SIGTERM at once */
		if (rc) {
			printf("FAIL round %d: the daemon stopped with %d "
			       "(-1: killed by a signal)\n", r, rc);
			failures++;
		}
		dc_daemon_cleanup(&d);
	}
	printf("%d rounds, %d failed\n", rounds, failures);
	return failures ? 1 : 0;
}
