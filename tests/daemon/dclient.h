/*
 * dclient: what the daemon's stress test and benchmark share — start a
 * `cvisor serve` child on a private socket and state dir, and a minimal
 * protocol client (one connection, one request at a time).
 */
#ifndef CV_DCLIENT_H
#define CV_DCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lineread.h"
#include "proto.h"

struct dc_daemon {
	pid_t pid;
	char dir[256];		/* the temp dir holding everything */
	char sock[300];
	char state[300];
	char log[300];
};

/* Start `cvisor serve --accel accel` and wait until it answers. */
int dc_daemon_start(struct dc_daemon *d, const char *cvisor,
		    const char *accel);
/* SIGTERM and wait; returns the exit status (-1 when killed/unknown). */
int dc_daemon_stop(struct dc_daemon *d);
/* Remove the temp dir. */
void dc_daemon_cleanup(struct dc_daemon *d);

struct dc_conn {
	struct line_reader in;	/* the connection */
	long long next_id;
};

int dc_connect(struct dc_conn *c, const char *sock);
void dc_close(struct dc_conn *c);
/*
 * Send argv (files: config contents for `vm create`, may be NULL) and
 * decode the response into *out (proto_decoded_free it).  0 or -errno.
 */
int dc_call(struct dc_conn *c, size_t argc, char *const *argv,
	    const struct proto_file *files, size_t nfiles,
	    struct proto_decoded *out);
/* The same from a "word word word" string (no quoting). */
int dc_callf(struct dc_conn *c, struct proto_decoded *out, const char *fmt,
	     ...) __attribute__((format(printf, 3, 4)));

#endif
