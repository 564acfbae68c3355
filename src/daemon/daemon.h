/*
 * daemon: `cvisor serve` — one registry of VMs behind a Unix stream socket
 * speaking the control protocol (proto.h, docs/protocol.md).  Owns the
 * socket and its directory (0600 in 0700), the peer checks, the event
 * loop and its worker threads, persistence of VM definitions (store.h)
 * and the graceful shutdown on SIGTERM/SIGINT.
 */
#ifndef CV_DAEMON_H
#define CV_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "vmconfig.h"

struct daemon_opts {
	const char *socket_path;	/* required */
	const char *state_dir;		/* required */
	enum vm_accel accel;		/* for configs that say auto */
	bool has_group;			/* members of group may connect too */
	gid_t group;
	uint64_t stop_timeout_ms;	/* SIGTERM: graceful stop; 0 = 10 s */
	unsigned max_clients;		/* 0 = 1024 */
	bool persist;			/* store definitions (default on) */
};

/*
 * Run until SIGTERM/SIGINT (which stop every VM gracefully).  Returns the
 * process exit status: 0 after a clean shutdown, 1 when it could not
 * start (err says why, e.g. "already running").
 */
int daemon_serve(const struct daemon_opts *o, struct cv_err *err);

#endif
