/*
 * daemon_int: what the daemon's files share — the daemon object (one per
 * `cvisor serve`), the peer of a connection, and the functions each file
 * offers the others.  Not for users of the daemon (see daemon.h).
 */
#ifndef CV_DAEMON_INT_H
#define CV_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "store.h"

#define PEER_GROUPS_MAX 256

/* Who is on the other end of a connection (SO_PEERCRED + /proc). */
struct peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[PEER_GROUPS_MAX];	/* supplementary groups */
	size_t ngroups;
};

struct daemon {
	struct daemon_opts o;
	struct registry *reg;
	struct cv_store *store;		/* NULL: no persistence */
	struct cv_logger log;
	/* `vm create` and `vm delete` run one at a time, so the definitions
	   on disk follow the registry (no delete between an add and its
	   store_put). */
	pthread_mutex_t defs_lock;
	atomic_bool stopping;
};

/* ---- peer.c ------------------------------------------------------------ */

/* Fill p from the connected socket fd; -errno on failure. */
int peer_identify(int fd, struct peer *p);
/* May this peer use the daemon?  (same uid, root, or the allowed group) */
bool peer_allowed(const struct daemon *d, const struct peer *p);
/*
 * May the peer read path?  Opens it with the peer's file-system identity
 * when the daemon runs as root; see the comment in peer.c.  0 or -errno
 * with err set to "<path>: ...".
 */
int peer_may_read(const struct peer *p, const char *path, struct cv_err *err);

/* ---- session.c ----------------------------------------------------------- */

/*
 * Handle one request line from a connection: decode, run, write the
 * response (blocking writes on fd).  Returns true when the connection
 * must be closed afterwards (a stream ended, a write failed).
 */
bool session_handle(struct daemon *d, const struct peer *p, int fd,
		    const char *line, size_t len);
/* Write all of buf (blocking fd); -errno on failure. */
int session_write_all(int fd, const void *buf, size_t len);

/* ---- persist.c ----------------------------------------------------------- */

/* Re-create every stored definition (Loaded; autostart ones started). */
void persist_restore(struct daemon *d);
/*
 * After `vm create` ran (defs_lock held): store a definition for every VM
 * the result lists as created, with the content the request carried.  A
 * VM whose definition cannot be stored is deleted again and dropped from
 * the result's "created"; returns how many, with one "✗ VM[N] removed
 * again: ..." line each in why.
 */
size_t persist_created(struct daemon *d, const struct proto_request *req,
		       json_t *result, char *why, size_t whylen);
/* After `vm delete` ran (defs_lock held): drop definitions of VMs gone. */
void persist_deleted(struct daemon *d, json_t *result);
/* SIGTERM: stop every VM gracefully (bounded by the stop timeout). */
void persist_stop_all(struct daemon *d);

/* Run a command as the daemon itself (start-up, shutdown); logs output. */
int daemon_run_internal(struct daemon *d, size_t argc, char *const *argv);

#endif
