/*
 * console: line-buffered console sink with a replay ring, a capped log
 * file and live listeners (see console.h).
 *
 * One recursive mutex guards everything but the byte counter.  It is
 * recursive so that a listener, which runs with the lock held, may remove
 * itself or take a snapshot; `flushing` then keeps a listener's own
 * console_write from re-entering the flush while the line buffer is being
 * handed out.
 */
#include "console.h"
#include "tmark.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct listener {
	console_listener_fn fn;	/* NULL = free slot */
	void *ctx;
	int id;
	console_partial_fn partial;	/* NULL = not told of partial lines */
};

struct console {
	pthread_mutex_t lock;
	bool flushing;

	uint8_t line[CONSOLE_LINE_SIZE];
	size_t line_len;
	bool line_has_nl;
	bool partial_told;	/* the partial line in `line` was announced */

	uint8_t ring[CONSOLE_RING_SIZE];
	size_t ring_head;	/* where the next byte goes */
	size_t ring_used;

	int log_fd;		/* -1: no log */
	uint64_t log_cap, log_size;
	bool log_capped;
	int log_error;
	uint64_t log_writes;

	struct listener listeners[CONSOLE_MAX_LISTENERS];
	int next_id;

	console_input_fn in_fn;
	void *in_ctx;
	pthread_mutex_t in_lock;	/* separate: input never waits on output */

	uint64_t flushes, dropped;
	atomic_uint_least64_t bytes;
};

static int init_locks(struct console *c)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);
	if (rc)
		return rc;
	rc = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	if (!rc)
		rc = pthread_mutex_init(&c->lock, &a);
	pthread_mutexattr_destroy(&a);
	if (rc)
		return rc;
	rc = pthread_mutex_init(&c->in_lock, NULL);
	if (rc)
		pthread_mutex_destroy(&c->lock);
	return rc;
}

static int open_log(struct console *c, const char *path, struct cv_err *err)
{
	int fe = CV_FAULT("console.open");
	int fd = fe ? -1 : open(path, O_WRONLY | O_CREAT | O_APPEND |
				      O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		int e = fe ? fe : errno;
		return cv_err_set(err, e, "Cannot open the console log %s: %s.",
				  path, strerror(e));
	}

	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		c->log_size = (uint64_t)st.st_size;
	c->log_fd = fd;
	return 0;
}

struct console *console_create(const char *log_path, uint64_t log_cap,
			       struct cv_err *err)
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c) {
		cv_err_set(err, ENOMEM, "Out of memory for the console.");
		return NULL;
	}
	int rc = init_locks(c);
	if (rc) {
		cv_err_set(err, rc, "Cannot create the console locks: %s.",
			   strerror(rc));
		free(c);
		return NULL;
	}
	c->log_fd = -1;
	c->log_cap = log_cap ? log_cap : CONSOLE_LOG_CAP_DEFAULT;
	atomic_init(&c->bytes, 0);
	if (log_path && open_log(c, log_path, err) < 0) {
		pthread_mutex_destroy(&c->in_lock);
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	return c;
}

static void ring_push(struct console *c, const uint8_t *p, size_t n)
{
	if (n >= CONSOLE_RING_SIZE) {
		p += n - CONSOLE_RING_SIZE;
		n = CONSOLE_RING_SIZE;
	}
	size_t first = CONSOLE_RING_SIZE - c->ring_head;
	if (first > n)
		first = n;
	memcpy(c->ring + c->ring_head, p, first);
	memcpy(c->ring, p + first, n - first);
	c->ring_head = (c->ring_head + n) % CONSOLE_RING_SIZE;
	c->ring_used += n;
	if (c->ring_used > CONSOLE_RING_SIZE)
		c->ring_used = CONSOLE_RING_SIZE;
}

/* write(2) all of it; on failure the log is abandoned (a full disk must
 * not stall the guest on every line). */
static bool log_write_all(struct console *c, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = write(c->log_fd, p, n);
		c->log_writes++;
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			c->log_error = w < 0 ? errno : EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
		c->log_size += (uint64_t)w;
	}
	return true;
}

static void log_cap_note(struct console *c)
{
	char note[160];
	int n = snprintf(note, sizeof(note),
			 "\n[cvisor: console.log reached its %llu-byte cap; further output is not logged]\n",
			 (unsigned long long)c->log_cap);
	if (n > 0)
		log_write_all(c, note, (size_t)n < sizeof(note) ? (size_t)n
							    : sizeof(note) - 1);
}

static void log_append(struct console *c, const uint8_t *p, size_t n)
{
	if (c->log_fd < 0 || c->log_capped || c->log_error)
		return;

	uint64_t room = c->log_size < c->log_cap ? c->log_cap - c->log_size : 0;
	size_t take = room < n ? (size_t)room : n;
	if (take && !log_write_all(c, p, take))
		return;
	if (take < n) {
		c->log_capped = true;
		log_cap_note(c);
	}
}

static void call_listeners(struct console *c, const void *buf, size_t n)
{
	/* Re-read each slot: a listener may remove another one meanwhile. */
	for (size_t i = 0; i < CONSOLE_MAX_LISTENERS; i++) {
		struct listener *l = &c->listeners[i];
		if (l->fn)
			l->fn(l->ctx, buf, n);
	}
}

/*
 * A partial line waits.  Told once, then not again until console_flush()
 * (the viewer's, CONSOLE_PARTIAL_FLUSH_MS later): a guest printing line
 * after line, each a partial line for a moment, wakes its viewer once
 * per period, not once per line.
 */
static void tell_partial_locked(struct console *c)
{
	c->partial_told = true;
	for (size_t i = 0; i < CONSOLE_MAX_LISTENERS; i++) {
		struct listener *l = &c->listeners[i];
		if (l->fn && l->partial)
			l->partial(l->ctx);
	}
}

static void flush_locked(struct console *c)
{
	if (c->flushing || c->line_len == 0)
		return;
	c->flushing = true;
	ring_push(c, c->line, c->line_len);
	log_append(c, c->line, c->line_len);
	call_listeners(c, c->line, c->line_len);
	c->line_len = 0;
	c->line_has_nl = false;
	c->flushes++;
	c->flushing = false;
}

void console_write(struct console *c, const void *buf, size_t len)
{
	CV_TMARK_ONCE("console: first bytes in");
	const uint8_t *p = buf;

	if (!c || !buf || !len)
		return;
	atomic_fetch_add_explicit(&c->bytes, len, memory_order_relaxed);
	pthread_mutex_lock(&c->lock);
	if (c->flushing) {
		c->dropped += len;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	while (len) {
		size_t n = CONSOLE_LINE_SIZE - c->line_len;
		if (n > len)
			n = len;
		if (memchr(p, '\n', n))
			c->line_has_nl = true;
		memcpy(c->line + c->line_len, p, n);
		c->line_len += n;
		p += n;
		len -= n;
		if (c->line_len == CONSOLE_LINE_SIZE)
			flush_locked(c);
	}
	/* One flush per call however many lines it held. */
	if (c->line_has_nl)
		flush_locked(c);
	if (c->line_len && !c->partial_told)
		tell_partial_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void console_flush(struct console *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	flush_locked(c);
	c->partial_told = false;	/* the next partial line is news */
	pthread_mutex_unlock(&c->lock);
}

static int add_listener_locked(struct console *c, console_listener_fn fn,
			       void *ctx)
{
	for (size_t i = 0; i < CONSOLE_MAX_LISTENERS; i++) {
		struct listener *l = &c->listeners[i];
		if (l->fn)
			continue;
		l->fn = fn;
		l->ctx = ctx;
		l->partial = NULL;
		l->id = c->next_id;
		c->next_id = c->next_id == INT32_MAX ? 0 : c->next_id + 1;
		return l->id;
	}
	return -ENOSPC;
}

int console_add_listener(struct console *c, console_listener_fn fn,
			 void *ctx)
{
	if (!c || !fn)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int id = add_listener_locked(c, fn, ctx);
	pthread_mutex_unlock(&c->lock);
	return id;
}

static void replay_locked(struct console *c, console_listener_fn fn,
			  void *ctx)
{
	size_t start = (c->ring_head + CONSOLE_RING_SIZE - c->ring_used) %
		       CONSOLE_RING_SIZE;
	size_t first = CONSOLE_RING_SIZE - start;

	if (first > c->ring_used)
		first = c->ring_used;
	if (first)
		fn(ctx, c->ring + start, first);
	if (c->ring_used > first)
		fn(ctx, c->ring, c->ring_used - first);
}

int console_add_listener_replay(struct console *c, console_listener_fn fn,
				void *ctx)
{
	if (!c || !fn)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	flush_locked(c);
	int id = add_listener_locked(c, fn, ctx);
	if (id >= 0) {
		/* No flush can run while we hold the lock, so the replay is
		 * followed by exactly the bytes after it.  The replay counts as
		 * a flush: fn writing to the console is dropped as usual. */
		c->flushing = true;
		replay_locked(c, fn, ctx);
		c->flushing = false;
	}
	pthread_mutex_unlock(&c->lock);
	return id;
}

void console_remove_listener(struct console *c, int id)
{
	if (!c || id < 0)
		return;
	/* Holding the lock means no flush is running on another thread. */
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CONSOLE_MAX_LISTENERS; i++) {
		struct listener *l = &c->listeners[i];
		if (l->fn && l->id == id) {
			l->fn = NULL;
			l->ctx = NULL;
			l->partial = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

int console_watch_partial(struct console *c, int id, console_partial_fn fn)
{
	if (!c || id < 0 || !fn)
		return -EINVAL;
	int rc = -ENOENT;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CONSOLE_MAX_LISTENERS; i++) {
		struct listener *l = &c->listeners[i];
		if (l->fn && l->id == id) {
			l->partial = fn;
			rc = 0;
			/*
			 * A partial line waits: tell this watcher now.  None
			 * waits: the next one is news, also when the last was
			 * told to nobody or to a viewer that left before its
			 * flush (partial_told would otherwise stay set for
			 * good).
			 */
			if (c->line_len)
				fn(l->ctx);
			else
				c->partial_told = false;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

size_t console_snapshot(struct console *c, void *buf, size_t cap)
{
	if (!c || !buf)
		return 0;
	pthread_mutex_lock(&c->lock);
	flush_locked(c);
	size_t n = c->ring_used < cap ? c->ring_used : cap;
	size_t start = (c->ring_head + CONSOLE_RING_SIZE - n) %
		       CONSOLE_RING_SIZE;
	size_t first = CONSOLE_RING_SIZE - start;
	if (first > n)
		first = n;
	memcpy(buf, c->ring + start, first);
	memcpy((uint8_t *)buf + first, c->ring, n - first);
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t console_bytes(const struct console *c)
{
	if (!c)
		return 0;
	return atomic_load_explicit(&((struct console *)c)->bytes,
				    memory_order_relaxed);
}

void console_get_stats(struct console *c, struct console_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	out->bytes = console_bytes(c);
	out->flushes = c->flushes;
	out->log_bytes = c->log_size;
	out->log_writes = c->log_writes;
	out->dropped = c->dropped;
	out->log_capped = c->log_capped;
	out->log_error = c->log_error;
	pthread_mutex_unlock(&c->lock);
}

void console_set_input(struct console *c, console_input_fn fn, void *ctx)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->in_lock);
	c->in_fn = fn;
	c->in_ctx = fn ? ctx : NULL;
	pthread_mutex_unlock(&c->in_lock);
}

size_t console_input(struct console *c, const void *buf, size_t len)
{
	size_t took = 0;

	if (!c || !buf || !len)
		return 0;
	/* Held across the call so console_set_input(NULL) waits it out. */
	pthread_mutex_lock(&c->in_lock);
	if (c->in_fn)
		took = c->in_fn(c->in_ctx, buf, len);
	pthread_mutex_unlock(&c->in_lock);
	return took;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	console_flush(c);
	if (c->log_fd >= 0)
		close(c->log_fd);
	pthread_mutex_destroy(&c->in_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
