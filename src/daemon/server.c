/*
 * server: the daemon's process — the socket (and its directory, lock file
 * and stale-socket handling), the epoll event loop over every client
 * connection, the worker threads that run requests, and the shutdown on
 * SIGTERM/SIGINT.
 *
 * The loop only accepts, reads and frames lines.  A complete line is a
 * job: the connection leaves the epoll set, a worker runs the request and
 * writes the response itself (so a slow `vm stop` occupies one worker,
 * never the loop), then posts the connection back through an eventfd.
 * One request per connection is in flight at a time (responses come in
 * request order).  Workers are started on demand — a job never waits for
 * another client's job — and at most WORKERS_IDLE_MAX idle ones are kept.
 *
 * Out of fds or memory, accept4 fails and leaves the connection queued;
 * the level-triggered loop would see the socket readable at once and spin.
 * So the loop stops watching the socket for a back-off (ACCEPT_BACKOFF_*:
 * doubling while accepts keep failing) that its epoll_wait timeout ends,
 * or a client's hang-up (an fd came free) ends early.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon_int.h"
#include "fault.h"
#include "fsutil.h"
#include "sandbox.h"

#define WORKERS_IDLE_MAX 4	/* tests/daemon/test_daemon_faults.c: POOL_SLACK */
#define READ_CHUNK 65536
#define SHUTDOWN_GRACE_MS 10000	/* after the VMs stopped */
#define ACCEPT_BACKOFF_MIN_MS 50	/* the first pause of accepts */
#define ACCEPT_BACKOFF_MAX_MS 1000

struct server;

struct conn {
	struct server *srv;
	int fd;
	struct peer peer;
	char *buf;
	size_t len, cap;
	bool busy;		/* a worker owns it */
	bool discarding;	/* skipping an over-long line up to its '\n' */
	bool too_large;		/* the job: answer "too_large" */
	bool close_after;	/* the job asked to close */
	char *line;		/* the job's request line */
	size_t line_len;
	struct conn *qnext;	/* job queue / done list */
	struct conn *prev, *next;	/* all connections */
};

struct server {
	struct daemon d;
	int lfd, epfd, sigfd, evfd, lockfd;
	char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
	pthread_mutex_t lock;
	pthread_cond_t cv;		/* jobs queued / a worker left */
	struct conn *qhead, *qtail;
	size_t qlen;
	struct conn *done;
	unsigned idle, workers;
	bool pool_stop;
	struct conn *conns;
	unsigned nconns;
	/* accept back-off: the episode runs from the first failed accept to
	   the queue drained (logged once at each end); paused: lfd is in the
	   epoll set without events until resume_ms */
	bool accept_episode, accept_paused;
	unsigned backoff_ms;		/* the last pause; 0 after a success */
	unsigned accept_fails;		/* in this episode */
	uint64_t episode_ms, resume_ms;	/* CLOCK_MONOTONIC */
};

static uint64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- workers ----------------------------------------------------------- */

/*
 * Test builds only: $CVISOR_FAULT=daemon.seccomp_probe_worker:N makes the
 * worker that runs the Nth request call socket(AF_INET) — forbidden to
 * every daemon thread — to prove the filter denies it (tests/daemon).
 * daemon.seccomp_probe_loop does the same on the main thread at the Nth
 * accepted connection.  Without filters the call succeeds and is logged.
 */
static void seccomp_probe(struct server *s, const char *point)
{
	if (!CV_FAULT(point))
		return;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cv_log_kv(&s->d.log, CV_LOG_WARN, "seccomp probe: socket(AF_INET) "
		  "was allowed", "point", point, "result", fd >= 0 ? "ok"
		  : strerror(errno), NULL);
	if (fd >= 0)
		close(fd);
}

static void *worker(void *arg)
{
	struct server *s = arg;
	if (!s->d.o.host.no_seccomp) {
		/* created by the confined main thread, it runs under the
		   server filter already; this narrows it (docs/security.md) */
		struct cv_err e = {0};
		if (sandbox_enter(SANDBOX_WORKER, "a daemon worker thread", &e))
			cv_log_kv(&s->d.log, CV_LOG_ERROR, "worker thread: "
				  "runs under the main thread's filter only",
				  "error", e.msg, NULL);
	}
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->qhead && !s->pool_stop && s->idle < WORKERS_IDLE_MAX) {
			s->idle++;
			pthread_cond_wait(&s->cv, &s->lock);
			s->idle--;
		}
		struct conn *c = s->qhead;
		if (!c)
			break;
		s->qhead = c->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		s->qlen--;
		pthread_mutex_unlock(&s->lock);

		seccomp_probe(s, "daemon.seccomp_probe_worker");
		if (c->too_large) {
			char *l = proto_encode_error(0, 2, PROTO_E_TOO_LARGE,
					"request line longer than %u bytes",
					PROTO_LINE_MAX);
			c->close_after = !l || session_write_all(c->fd, l,
								 strlen(l));
			free(l);
		} else {
			c->close_after = session_handle(&s->d, &c->peer, c->fd,
							c->line, c->line_len);
		}
		free(c->line);
		c->line = NULL;

		pthread_mutex_lock(&s->lock);
		c->qnext = s->done;
		s->done = c;
		uint64_t one = 1;
		if (write(s->evfd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow in practice */
		}
	}
	s->workers--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int submit(struct server *s, struct conn *c)
{
	pthread_mutex_lock(&s->lock);
	c->qnext = NULL;
	if (s->qtail)
		s->qtail->qnext = c;
	else
		s->qhead = c;
	s->qtail = c;
	s->qlen++;
	int rc = 0;
	if (s->qlen > s->idle) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int fe = CV_FAULT("daemon.worker");
		rc = fe ? -fe : -pthread_create(&t, &a, worker, s);
		pthread_attr_destroy(&a);
		if (!rc)
			s->workers++;
	} else {
		pthread_cond_signal(&s->cv);
	}
	if (rc && !s->workers) {
		/* no thread at all to run it: take the job back */
		s->qhead = s->qtail = NULL;
		s->qlen = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc && !s->workers ? rc : 0;
}

static void pool_stop(struct server *s)
{
	pthread_mutex_lock(&s->lock);
	s->pool_stop = true;
	pthread_cond_broadcast(&s->cv);
	while (s->workers)
		pthread_cond_wait(&s->cv, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* ---- connections ------------------------------------------------------- */

static void conn_close(struct server *s, struct conn *c)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (s->accept_paused)
		s->resume_ms = 0;	/* an fd came free: retry now */
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	free(c->buf);
	free(c->line);
	free(c);
}

static int watch(struct server *s, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, c->fd, &ev) ? -errno : 0;
}

/*
 * Hand the next complete line (if any) to a worker.  False when the
 * connection had to be closed (c is freed then).
 */
static bool try_dispatch(struct server *s, struct conn *c)
{
	if (c->busy)
		return true;
	char *nl = memchr(c->buf, '\n', c->len);
	if (c->discarding) {
		if (!nl) {
			c->len = 0;
			return true;
		}
		c->discarding = false;
		c->too_large = true;
	} else if (!nl) {
		if (c->len > PROTO_LINE_MAX) {
			c->discarding = true;	/* answered at its '\n' */
			c->len = 0;
		}
		return true;
	} else {
		c->too_large = false;
		c->line_len = (size_t)(nl - c->buf) + 1;
		c->line = malloc(c->line_len);
		if (!c->line) {
			conn_close(s, c);
			return false;
		}
		memcpy(c->line, c->buf, c->line_len);
	}
	size_t used = (size_t)(nl - c->buf) + 1;
	memmove(c->buf, nl + 1, c->len - used);
	c->len -= used;
	c->busy = true;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	int rc = submit(s, c);
	if (rc) {
		/* no thread to run it: say so (best effort), then close */
		cv_log_kv(&s->d.log, CV_LOG_ERROR, "cannot start a worker "
			  "thread; closing the connection", "error",
			  strerror(-rc), NULL);
		char *l = proto_encode_error(0, 1, PROTO_E_BUSY, "the daemon "
					     "cannot start a thread for this "
					     "request: %s", strerror(-rc));
		if (l && write(c->fd, l, strlen(l)) < 0) {
			/* the client may be gone */
		}
		free(l);
		conn_close(s, c);
		return false;
	}
	return true;
}

static void conn_readable(struct server *s, struct conn *c)
{
	for (;;) {
		if (c->cap - c->len < READ_CHUNK) {
			size_t ncap = c->cap ? c->cap * 2 : READ_CHUNK * 2;
			char *nb = realloc(c->buf, ncap);
			if (!nb) {
				conn_close(s, c);
				return;
			}
			c->buf = nb;
			c->cap = ncap;
		}
		int fe = CV_FAULT("daemon.recv");
		ssize_t n = fe ? (errno = fe, -1)
			       : read(c->fd, c->buf + c->len, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (n < 0)
				cv_log_kv(&s->d.log, CV_LOG_WARN, "cannot read "
					  "from a client; closing its "
					  "connection", "error",
					  strerror(errno), NULL);
			conn_close(s, c);	/* hung up (or error) */
			return;
		}
		c->len += (size_t)n;
		if (memchr(c->buf + c->len - (size_t)n, '\n', (size_t)n) ||
		    c->len > PROTO_LINE_MAX)
			break;
	}
	if (!try_dispatch(s, c))
		return;		/* closed: c is gone */
	/* a discarded over-long line: keep the buffer small */
	if (c->discarding && c->cap > 4 * READ_CHUNK) {
		free(c->buf);
		c->buf = NULL;
		c->cap = c->len = 0;
	}
}

/* ---- accepting ------------------------------------------------------- */

static void set_lfd_events(struct server *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &s->lfd };
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->lfd, &ev))
		cv_log_kv(&s->d.log, CV_LOG_ERROR, "cannot change the "
			  "listening socket's epoll events", "error",
			  strerror(errno), NULL);
}

/*
 * accept4 failed for want of fds or memory (the connection stays queued):
 * stop watching the socket for a while instead of retrying on every turn.
 */
static void accept_pause(struct server *s, int err)
{
	uint64_t t = now_ms();
	s->backoff_ms = !s->backoff_ms ? ACCEPT_BACKOFF_MIN_MS
		      : s->backoff_ms >= ACCEPT_BACKOFF_MAX_MS / 2
		      ? ACCEPT_BACKOFF_MAX_MS : s->backoff_ms * 2;
	s->accept_fails++;
	s->resume_ms = t + s->backoff_ms;
	s->accept_paused = true;
	set_lfd_events(s, 0);
	if (s->accept_episode)
		return;
	s->accept_episode = true;
	s->episode_ms = t;
	char ms[16];
	snprintf(ms, sizeof(ms), "%u", s->backoff_ms);
	cv_log_kv(&s->d.log, CV_LOG_ERROR, "cannot accept connections; "
		  "retrying with a back-off", "error", strerror(err),
		  "retry_ms", ms, NULL);
}

/* The back-off is over (its time or a freed fd): watch the socket again. */
static void accept_resume(struct server *s)
{
	s->accept_paused = false;
	set_lfd_events(s, EPOLLIN);
}

/* The queue is drained: the episode (if any) is over. */
static void accept_caught_up(struct server *s)
{
	if (!s->accept_episode)
		return;
	char fails[16], ms[24];
	snprintf(fails, sizeof(fails), "%u", s->accept_fails);
	snprintf(ms, sizeof(ms), "%llu",
		 (unsigned long long)(now_ms() - s->episode_ms));
	cv_log_kv(&s->d.log, CV_LOG_INFO, "accepting connections again",
		  "failed_accepts", fails, "paused_ms", ms, NULL);
	s->accept_episode = false;
	s->accept_fails = 0;
	s->backoff_ms = 0;
}

/* epoll_wait's timeout: the end of a back-off, or none. */
static int loop_timeout(struct server *s)
{
	if (!s->accept_paused)
		return -1;
	uint64_t t = now_ms();
	return t >= s->resume_ms ? 0 : (int)(s->resume_ms - t);
}

static void accept_all(struct server *s)
{
	for (;;) {
		int fe = CV_FAULT("daemon.accept");
		int fd = fe ? (errno = fe, -1)
			    : accept4(s->lfd, NULL, NULL,
				      SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			/* the connection (if any) stays queued: the next
			   round takes it */
			if (e == EMFILE || e == ENFILE || e == ENOBUFS ||
			    e == ENOMEM)
				accept_pause(s, e);
			else if (e == EAGAIN)
				accept_caught_up(s);
			else if (e != EINTR)
				cv_log_kv(&s->d.log, CV_LOG_ERROR, "cannot "
					  "accept a connection", "error",
					  strerror(e), NULL);
			return;
		}
		s->backoff_ms = 0;	/* the next failure pauses briefly */
		struct conn *c = calloc(1, sizeof(*c));
		char why[64] = "";
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		seccomp_probe(s, "daemon.seccomp_probe_loop");
		int rc = peer_identify(fd, &c->peer);
		if (rc)
			snprintf(why, sizeof(why), "no peer credentials");
		else if (!peer_allowed(&s->d, &c->peer))
			snprintf(why, sizeof(why), "permission denied");
		else if (atomic_load(&s->d.stopping))
			snprintf(why, sizeof(why), "the daemon is shutting down");
		else if (s->nconns >= s->d.o.max_clients)
			snprintf(why, sizeof(why), "too many clients");
		char uid[16], pid[16];
		snprintf(uid, sizeof(uid), "%u", (unsigned)c->peer.uid);
		snprintf(pid, sizeof(pid), "%d", (int)c->peer.pid);
		if (why[0]) {
			cv_log_kv(&s->d.log, CV_LOG_WARN, "connection refused",
				  "uid", uid, "pid", pid, "reason", why, NULL);
			char *l = proto_encode_error(0, 1, why[0] == 'p'
						     ? PROTO_E_DENIED : PROTO_E_BUSY,
						     "%s", why);
			if (l && write(fd, l, strlen(l)) < 0) {
				/* best effort: the client may be gone */
			}
			free(l);
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		cv_log_kv(&s->d.log, CV_LOG_DEBUG, "client connected", "uid",
			  uid, "pid", pid, NULL);
		if (watch(s, c))
			conn_close(s, c);
	}
}

/* Jobs that finished: their connections come back to the loop. */
static void reap_done(struct server *s)
{
	uint64_t cnt;
	if (read(s->evfd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing new */
	}
	pthread_mutex_lock(&s->lock);
	struct conn *c = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	while (c) {
		struct conn *next = c->qnext;
		c->busy = false;
		c->too_large = false;
		if (c->close_after || atomic_load(&s->d.stopping)) {
			conn_close(s, c);
		} else {
			fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
			if (watch(s, c))
				conn_close(s, c);
			else
				try_dispatch(s, c);
		}
		c = next;
	}
}

/* ---- the socket ----------------------------------------------------------- */

static int check_dir(const struct daemon_opts *o, const char *dir,
		     struct cv_err *err)
{
	struct stat st;
	int rc = cv_mkdir_p(dir, err);
	if (rc)
		return rc;
	if (stat(dir, &st))
		return cv_err_set(err, errno, "%s: %s", dir, strerror(errno));
	if (st.st_uid != geteuid())
		return cv_err_set(err, EPERM, "socket directory %s belongs to "
				  "uid %u, not to this daemon (uid %u)", dir,
				  (unsigned)st.st_uid, (unsigned)geteuid());
	mode_t bad = o->has_group ? 0027 : 0077;
	if (st.st_mode & bad)
		return cv_err_set(err, EPERM, "socket directory %s has mode "
				  "%04o: it must be %s (chmod it or choose "
				  "another --socket)", dir,
				  (unsigned)(st.st_mode & 07777),
				  o->has_group ? "0750 or stricter" : "0700");
	if (o->has_group && st.st_gid != o->group &&
	    chown(dir, (uid_t)-1, o->group))
		return cv_err_set(err, errno, "cannot give %s to the group: %s",
				  dir, strerror(errno));
	if (o->has_group && chmod(dir, 0750))
		return cv_err_set(err, errno, "chmod %s: %s", dir, strerror(errno));
	return 0;
}

static int open_socket(struct server *s, struct cv_err *err)
{
	const struct daemon_opts *o = &s->d.o;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(o->socket_path) >= sizeof(sa.sun_path))
		return cv_err_set(err, ENAMETOOLONG, "socket path %s is too "
				  "long (at most %zu bytes)", o->socket_path,
				  sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, o->socket_path);
	char dir[sizeof(sa.sun_path)];
	snprintf(dir, sizeof(dir), "%s", o->socket_path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	int rc = check_dir(o, dir, err);
	if (rc)
		return rc;

	/* one daemon per socket: the lock decides, the socket file may lie */
	snprintf(s->lock_path, sizeof(s->lock_path), "%s.lock", o->socket_path);
	int fe = CV_FAULT("daemon.lock");
	s->lockfd = fe ? (errno = fe, -1)
		       : open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0)
		return cv_err_set(err, errno, "cannot open %s: %s", s->lock_path,
				  strerror(errno));
	if (flock(s->lockfd, LOCK_EX | LOCK_NB))
		return cv_err_set(err, EADDRINUSE, "already running: another "
				  "cvisor daemon serves %s", o->socket_path);
	struct stat st;
	if (!lstat(o->socket_path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return cv_err_set(err, EEXIST, "%s exists and is not a "
					  "socket", o->socket_path);
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		bool live = probe >= 0 &&
			    !connect(probe, (struct sockaddr *)&sa, sizeof(sa));
		if (probe >= 0)
			close(probe);
		if (live)
			return cv_err_set(err, EADDRINUSE, "already running: "
					  "something answers on %s",
					  o->socket_path);
		unlink(o->socket_path);	/* stale: its daemon died */
		cv_log_kv(&s->d.log, CV_LOG_INFO, "replaced a stale socket",
			  "socket", o->socket_path, NULL);
	}
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return cv_err_set(err, errno, "socket: %s", strerror(errno));
	mode_t old = umask(0177);	/* born 0600: no window with more */
	rc = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc)
		return cv_err_set(err, errno, "cannot bind %s: %s",
				  o->socket_path, strerror(errno));
	if (o->has_group && (chown(o->socket_path, (uid_t)-1, o->group) ||
			     chmod(o->socket_path, 0660)))
		return cv_err_set(err, errno, "cannot give %s to the group: %s",
				  o->socket_path, strerror(errno));
	if (listen(s->lfd, 128))
		return cv_err_set(err, errno, "listen: %s", strerror(errno));
	return 0;
}

/* ---- the daemon ---------------------------------------------------------- */

static int setup(struct server *s, struct cv_err *err)
{
	struct daemon *d = &s->d;
	struct registry_opts ro = { .state_dir = d->o.state_dir,
				    .accel_default = d->o.accel };
	registry_opts_set_host(&ro, &d->o.host);
	/*
	 * SIGTERM/SIGINT go to the event loop's signalfd.  Blocked before
	 * the socket listens: a client may connect (and its user send
	 * SIGTERM) from then on, while the store and the registry are still
	 * being set up, and the default action would kill the daemon.
	 * Threads made from here on inherit the mask.
	 */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int rc = cv_mkdir_p(d->o.state_dir, err);
	if (rc)
		return rc;
	if ((rc = open_socket(s, err)))
		return rc;
	if (d->o.persist && (rc = store_open(d->o.state_dir, &d->store, err)))
		return rc;
	if ((rc = registry_create(&ro, &d->reg, err)))
		return rc;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->epfd < 0 || s->evfd < 0 || s->sigfd < 0)
		return cv_err_set(err, errno, "cannot set up the event loop: %s",
				  strerror(errno));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->lfd };
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev);
	ev.data.ptr = &s->sigfd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev);
	ev.data.ptr = &s->evfd;
	epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev);
	return 0;
}

/*
 * Confine the main thread (after the socket exists, before the first VM
 * or worker): every worker and VM thread it creates inherits the filter
 * and narrows it.  --no-seccomp: nothing.
 */
static int confine(struct server *s, struct cv_err *err)
{
	if (s->d.o.host.no_seccomp)
		return 0;
	int rc = sandbox_enter(SANDBOX_SERVER, "the daemon's main thread", err);
	if (!rc && sandbox_log_mode())
		cv_log(&s->d.log, CV_LOG_WARN, "CVISOR_SECCOMP=log: forbidden "
		       "system calls are logged (dmesg), not denied");
	return rc;
}

/* Returns false when requests were still running after the grace time. */
static bool shutdown_all(struct server *s)
{
	atomic_store(&s->d.stopping, true);
	cv_log(&s->d.log, CV_LOG_INFO, "shutting down: stopping every VM");
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
	close(s->lfd);
	s->lfd = -1;
	unlink(s->d.o.socket_path);
	/*
	 * Streams (console, events) end when their side reads EOF.  An idle
	 * connection is closed now: it would be at the end anyway, and left
	 * in the epoll set at EOF it kept the wait below from sleeping (a
	 * busy loop for the whole grace time).
	 */
	for (struct conn *c = s->conns, *next; c; c = next) {
		next = c->next;
		shutdown(c->fd, SHUT_RD);
		if (!c->busy)
			conn_close(s, c);
	}
	persist_stop_all(&s->d);
	/*
	 * Commands on stopped VMs return promptly; one that waits for
	 * something else (`vm wait --timeout 3600`) gets a grace time, then
	 * the process leaves without it (its VMs are stopped already).
	 */
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned busy;
	for (;;) {
		reap_done(s);
		busy = 0;
		for (struct conn *c = s->conns; c; c = c->next)
			busy += c->busy;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint64_t ms = (uint64_t)(t.tv_sec - t0.tv_sec) * 1000 +
			      (uint64_t)((t.tv_nsec - t0.tv_nsec) / 1000000);
		if (!busy || ms > SHUTDOWN_GRACE_MS)
			break;
		/* a worker's end posts evfd; the rest is the grace deadline */
		struct epoll_event evs[4];
		int n = epoll_wait(s->epfd, evs, 4,
				   (int)(SHUTDOWN_GRACE_MS - ms) + 1);
		for (int i = 0; i < n; i++) {
			struct signalfd_siginfo si;
			if (evs[i].data.ptr == &s->sigfd)
				while (read(s->sigfd, &si, sizeof(si)) > 0)
					;	/* another SIGTERM: no news */
		}
	}
	if (busy) {
		char n[16];
		snprintf(n, sizeof(n), "%u", busy);
		cv_log_kv(&s->d.log, CV_LOG_WARN, "requests still running at "
			  "shutdown; leaving without them", "requests", n, NULL);
		return false;
	}
	while (s->conns)
		conn_close(s, s->conns);
	pool_stop(s);
	return true;
}

static bool loop(struct server *s)
{
	struct epoll_event evs[64];
	for (;;) {
		int n = epoll_wait(s->epfd, evs, 64, loop_timeout(s));
		if (n < 0 && errno != EINTR)
			break;
		bool stop = false;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == &s->lfd) {
				accept_all(s);
			} else if (p == &s->evfd) {
				reap_done(s);
			} else if (p == &s->sigfd) {
				struct signalfd_siginfo si;
				while (read(s->sigfd, &si, sizeof(si)) > 0)
					stop = true;
			} else {
				struct conn *c = p;
				/* a connection closed earlier in this batch
				   cannot appear: conn_close removed it from
				   epoll before its memory went */
				conn_readable(s, c);
			}
		}
		if (stop)
			break;
		if (s->accept_paused && now_ms() >= s->resume_ms) {
			accept_resume(s);
			accept_all(s);
		}
	}
	return shutdown_all(s);
}

int daemon_serve(const struct daemon_opts *o, struct cv_err *err)
{
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return cv_err_set(err, ENOMEM, "out of memory"), 1;
	s->d.o = *o;
	if (!s->d.o.stop_timeout_ms)
		s->d.o.stop_timeout_ms = 10000;
	if (!s->d.o.max_clients)
		s->d.o.max_clients = 1024;
	s->lfd = s->epfd = s->sigfd = s->evfd = s->lockfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_mutex_init(&s->d.defs_lock, NULL);
	cv_logger_init(&s->d.log, NULL);
	signal(SIGPIPE, SIG_IGN);

	int status = 1;
	if (!setup(s, err) && !confine(s, err)) {
		cv_log_kv(&s->d.log, CV_LOG_INFO, "cvisor daemon starting",
			  "socket", o->socket_path, "state_dir", o->state_dir,
			  NULL);
		persist_restore(&s->d);
		char nvm[16];
		snprintf(nvm, sizeof(nvm), "%zu", registry_count(s->d.reg));
		cv_log_kv(&s->d.log, CV_LOG_INFO, "listening", "socket",
			  o->socket_path, "vms", nvm, NULL);
		status = 0;
		if (!loop(s)) {
			/* workers still use the registry: no teardown, just go */
			cv_log(&s->d.log, CV_LOG_INFO, "cvisor daemon stopped");
			return 0;
		}
	}
	if (s->d.reg)
		registry_destroy(s->d.reg, true);	/* definitions stay */
	store_close(s->d.store);
	if (s->lfd >= 0) {
		close(s->lfd);
		if (status == 0)
			unlink(o->socket_path);
	}
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (status == 0)
		cv_log(&s->d.log, CV_LOG_INFO, "cvisor daemon stopped");
	pthread_mutex_destroy(&s->d.defs_lock);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return status;
}
