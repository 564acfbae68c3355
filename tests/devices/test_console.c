/*
 * test_console: ring wraparound and snapshot order, listeners (also added
 * and removed from another thread while output flows), replay on attach,
 * the log cap, and proof of buffering: this program is linked with
 * -Wl,--wrap=write, so every write(2) the console makes is counted here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

#include "console.h"

/* ---- write(2) interposition (only console.o's calls are wrapped) ---- */

ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);

static atomic_int write_calls;

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	atomic_fetch_add(&write_calls, 1);
	return __real_write(fd, buf, n);
}

/* ---- helpers ---- */

struct tmpfile {
	char path[64];
};

static void tmp_make(struct tmpfile *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/cv-console-XXXXXX");
	int fd = mkstemp(t->path);
	assert_true(fd >= 0);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

struct sink {
	char *buf;
	size_t len, cap;
	int calls;
};

static void sink_fn(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	s->calls++;
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, buf, len);
	s->len += len;
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)('a' + (i * 7 + i / 251) % 26);
}

/* ---- tests ---- */

static void test_ring_wraparound(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	assert_non_null(c);
	const size_t total = CONSOLE_RING_SIZE + 40000;
	uint8_t *data = malloc(total), *snap = malloc(CONSOLE_RING_SIZE + 16);

	for (size_t i = 0; i < total; i++)
		data[i] = pattern(i);
	/* odd chunk sizes so writes straddle the ring's end */
	for (size_t off = 0; off < total;) {
		size_t n = 1 + (off * 31) % 1777;
		if (n > total - off)
			n = total - off;
		console_write(c, data + off, n);
		off += n;
	}
	size_t got = console_snapshot(c, snap, CONSOLE_RING_SIZE + 16);
	assert_int_equal(got, CONSOLE_RING_SIZE);
	assert_memory_equal(snap, data + total - CONSOLE_RING_SIZE, got);
	assert_int_equal(console_bytes(c), total);

	/* a small cap gets the newest bytes, oldest first */
	got = console_snapshot(c, snap, 100);
	assert_int_equal(got, 100);
	assert_memory_equal(snap, data + total - 100, 100);
	console_destroy(c);
	free(data);
	free(snap);
}

static void test_snapshot_before_wrap(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	char buf[64];

	assert_int_equal(console_snapshot(c, buf, sizeof(buf)), 0);
	console_write(c, "hello ", 6);
	console_write(c, "world", 5);	/* no newline: snapshot flushes */
	assert_int_equal(console_snapshot(c, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "hello world", 11);
	console_destroy(c);
}

static void test_buffering_counts_writes(void **state)
{
	(void)state;
	struct tmpfile t;
	tmp_make(&t);
	struct console *c = console_create(t.path, 0, NULL);
	assert_non_null(c);
	struct sink s = { 0 };
	console_add_listener(c, sink_fn, &s);

	atomic_store(&write_calls, 0);
	for (int i = 0; i < 1000; i++)
		console_write(c, "x", 1);
	assert_int_equal(atomic_load(&write_calls), 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(file_size(t.path), 0);
	console_flush(c);
	assert_int_equal(atomic_load(&write_calls), 1);
	assert_int_equal(s.calls, 1);
	assert_int_equal(file_size(t.path), 1000);

	/* a line written byte by byte (as a UART does) = one write */
	atomic_store(&write_calls, 0);
	const char *line = "tick 1\n";
	for (size_t i = 0; i < strlen(line); i++)
		console_write(c, line + i, 1);
	assert_int_equal(atomic_load(&write_calls), 1);
	assert_int_equal(s.calls, 2);
	console_flush(c);	/* nothing pending: no write */
	assert_int_equal(atomic_load(&write_calls), 1);

	/* several lines in one call: still one write */
	console_write(c, "a\nb\nc\n", 6);
	assert_int_equal(atomic_load(&write_calls), 2);

	/* a full line buffer flushes by itself */
	atomic_store(&write_calls, 0);
	for (unsigned i = 0; i < CONSOLE_LINE_SIZE + 10; i++)
		console_write(c, "y", 1);
	assert_int_equal(atomic_load(&write_calls), 1);
	assert_int_equal(file_size(t.path),
			 1000 + 7 + 6 + CONSOLE_LINE_SIZE);

	struct console_stats st;
	console_get_stats(c, &st);
	assert_int_equal(st.log_writes, 4);
	console_destroy(c);	/* flushes the last 10 */
	assert_int_equal(file_size(t.path),
			 1000 + 7 + 6 + CONSOLE_LINE_SIZE + 10);
	assert_int_equal(s.len, 1000 + 7 + 6 + CONSOLE_LINE_SIZE + 10);
	free(s.buf);
	unlink(t.path);
}

static void test_log_cap(void **state)
{
	(void)state;
	struct tmpfile t;
	tmp_make(&t);
	struct console *c = console_create(t.path, 100, NULL);
	char line[41], buf[1024];

	memset(line, 'L', 39);
	line[39] = '\n';
	for (int i = 0; i < 3; i++)	/* 120 bytes: 20 past the cap */
		console_write(c, line, 40);
	size_t n = read_file(t.path, buf, sizeof(buf));
	assert_true(n > 100);
	assert_memory_equal(buf, line, 40);
	assert_memory_equal(buf + 80, line, 20);
	buf[n] = '\0';
	assert_non_null(strstr(buf + 100, "cap"));
	off_t capped = file_size(t.path);

	/* past the cap: no more writes, the note only once */
	atomic_store(&write_calls, 0);
	for (int i = 0; i < 10; i++)
		console_write(c, line, 40);
	assert_int_equal(atomic_load(&write_calls), 0);
	assert_int_equal(file_size(t.path), capped);
	struct console_stats st;
	console_get_stats(c, &st);
	assert_int_equal(st.log_capped, 1);
	assert_int_equal(st.bytes, 13 * 40);

	/* the ring and listeners still get everything */
	char *snap = malloc(CONSOLE_RING_SIZE);
	assert_int_equal(console_snapshot(c, snap, CONSOLE_RING_SIZE), 13 * 40);
	free(snap);
	console_destroy(c);

	/* bytes already in the file count against the cap */
	c = console_create(t.path, capped + 5, NULL);
	console_write(c, line, 40);
	console_destroy(c);
	n = read_file(t.path, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	assert_memory_equal(buf + capped, line, 5);
	assert_non_null(strstr(buf + capped + 5, "cap"));
	unlink(t.path);
}

static void test_default_cap_and_errors(void **state)
{
	(void)state;
	struct cv_err err = { 0 };
	struct console *c = console_create("/nonexistent-dir/x/console.log", 0,
					   &err);
	assert_null(c);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent-dir/x/console.log"));
}

static void test_listeners(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	struct sink a = { 0 }, b = { 0 };

	int ia = console_add_listener(c, sink_fn, &a);
	int ib = console_add_listener(c, sink_fn, &b);
	assert_true(ia >= 0 && ib >= 0 && ia != ib);
	console_write(c, "one\n", 4);
	console_remove_listener(c, ia);
	console_write(c, "two\n", 4);
	assert_int_equal(a.len, 4);
	assert_memory_equal(a.buf, "one\n", 4);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.buf, "one\ntwo\n", 8);
	console_remove_listener(c, ia);		/* twice: harmless */
	console_remove_listener(c, 12345);	/* unknown: harmless */
	assert_int_equal(console_add_listener(c, NULL, NULL), -EINVAL);

	/* slots run out, then come back */
	int ids[CONSOLE_MAX_LISTENERS];
	int n = 0, id;
	while ((id = console_add_listener(c, sink_fn, &b)) >= 0)
		ids[n++] = id;
	assert_int_equal(id, -ENOSPC);
	assert_int_equal(n, CONSOLE_MAX_LISTENERS - 1);
	for (int i = 0; i < n; i++)
		console_remove_listener(c, ids[i]);
	console_remove_listener(c, ib);
	console_destroy(c);
	free(a.buf);
	free(b.buf);
}

static void test_replay_attach(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	struct sink s = { 0 };
	const size_t total = CONSOLE_RING_SIZE + 1000;
	char *data = malloc(total);

	for (size_t i = 0; i < total; i++)
		data[i] = (char)pattern(i);
	console_write(c, data, total - 10);
	console_write(c, "partial", 7);	/* unflushed: replay must include it */
	int id = console_add_listener_replay(c, sink_fn, &s);
	assert_true(id >= 0);
	assert_int_equal(s.len, CONSOLE_RING_SIZE);
	assert_memory_equal(s.buf + CONSOLE_RING_SIZE - 7, "partial", 7);
	assert_memory_equal(s.buf, data + total - 10 + 7 - CONSOLE_RING_SIZE,
			    CONSOLE_RING_SIZE - 7);
	console_write(c, " live\n", 6);
	assert_int_equal(s.len, CONSOLE_RING_SIZE + 6);
	assert_memory_equal(s.buf + CONSOLE_RING_SIZE, " live\n", 6);
	console_destroy(c);
	free(s.buf);
	free(data);
}

/* A listener that removes itself and tries to write: no deadlock. */
struct selfish {
	struct console *c;
	int id, calls;
};

static void selfish_fn(void *ctx, const void *buf, size_t len)
{
	struct selfish *s = ctx;
	(void)buf, (void)len;
	s->calls++;
	console_write(s->c, "echo\n", 5);	/* dropped, not a deadlock */
	char snap[16];
	console_snapshot(s->c, snap, sizeof(snap));
	console_remove_listener(s->c, s->id);
}

static void test_listener_reentry(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	struct selfish s = { .c = c };
	s.id = console_add_listener(c, selfish_fn, &s);
	console_write(c, "a\n", 2);
	console_write(c, "b\n", 2);
	assert_int_equal(s.calls, 1);
	struct console_stats st;
	console_get_stats(c, &st);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.bytes, 9);
	console_destroy(c);
}

/* ---- listeners churned from another thread while output flows ---- */

struct churn_ctx {
	atomic_bool removed;
	atomic_int late_calls;	/* calls after remove returned: must be 0 */
	atomic_int calls;
};

static void churn_fn(void *ctx, const void *buf, size_t len)
{
	struct churn_ctx *x = ctx;
	(void)buf, (void)len;
	if (atomic_load(&x->removed))
		atomic_fetch_add(&x->late_calls, 1);
	atomic_fetch_add(&x->calls, 1);
}

struct writer_arg {
	struct console *c;
	atomic_bool stop;
};

static void *writer(void *arg)
{
	struct writer_arg *w = arg;
	while (!atomic_load(&w->stop)) {
		console_write(w->c, "line of output\n", 15);
		console_write(w->c, "x", 1);
		console_flush(w->c);
	}
	return NULL;
}

static void test_listener_threads(void **state)
{
	(void)state;
	struct tmpfile t;
	tmp_make(&t);
	struct writer_arg w = { .c = console_create(t.path, 1 << 20, NULL) };
	pthread_t th[2];
	int total_calls = 0, late = 0;

	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, writer, &w), 0);
	for (int round = 0; round < 2000; round++) {
		struct churn_ctx x = { 0 };
		int id = console_add_listener(w.c, churn_fn, &x);
		assert_true(id >= 0);
		for (int spin = 0; spin < 50 && !atomic_load(&x.calls); spin++)
			sched_yield();
		console_remove_listener(w.c, id);
		atomic_store(&x.removed, true);
		for (int spin = 0; spin < 5; spin++)
			sched_yield();
		late += atomic_load(&x.late_calls);
		total_calls += atomic_load(&x.calls);
		/* x goes out of scope: a late call would touch a dead frame */
	}
	atomic_store(&w.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(late, 0);
	assert_true(total_calls > 0);
	console_destroy(w.c);
	unlink(t.path);
}

/* ---- input hook ---- */

static size_t take_three(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;
	size_t n = len < 3 ? len : 3;
	sink_fn(s, buf, n);
	return n;
}

static void test_input_hook(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	struct sink s = { 0 };

	assert_int_equal(console_input(c, "abc", 3), 0);
	console_set_input(c, take_three, &s);
	assert_int_equal(console_input(c, "hello", 5), 3);
	assert_memory_equal(s.buf, "hel", 3);
	console_set_input(c, NULL, NULL);
	assert_int_equal(console_input(c, "lo", 2), 0);
	console_destroy(c);
	free(s.buf);
}

/* Partial lines: told once per episode, to watchers only, and at once
 * to a watcher that comes while one waits. */
struct partial_sink {
	struct sink s;
	int told;
};

static void partial_fn(void *ctx)
{
	struct partial_sink *p = ctx;
	p->told++;
}

static void test_partial_notice(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	struct partial_sink a = { 0 }, b = { 0 }, late = { 0 };
	int ia = console_add_listener(c, sink_fn, &a);
	console_add_listener(c, sink_fn, &b);	/* does not watch */
	assert_int_equal(console_watch_partial(c, ia, partial_fn), 0);
	assert_int_equal(console_watch_partial(c, 12345, partial_fn), -ENOENT);
	assert_int_equal(console_watch_partial(c, ia, NULL), -EINVAL);

	console_write(c, "line\n", 5);		/* whole lines: no notice */
	assert_int_equal(a.told, 0);
	console_write(c, "pro", 3);		/* a partial line: told */
	assert_int_equal(a.told, 1);
	console_write(c, "mpt> ", 5);		/* the same episode */
	assert_int_equal(a.told, 1);
	assert_int_equal(a.s.calls, 1);		/* still unflushed */

	/* a watcher registered while it waits hears of it at once */
	int il = console_add_listener(c, sink_fn, &late);
	assert_int_equal(console_watch_partial(c, il, partial_fn), 0);
	assert_int_equal(late.told, 1);

	console_flush(c);			/* the episode ends */
	assert_int_equal(a.s.calls, 2);
	assert_memory_equal(a.s.buf + 5, "prompt> ", 8);
	console_write(c, "x", 1);		/* a new one */
	assert_int_equal(a.told, 2);
	assert_int_equal(late.told, 2);
	/*
	 * Lines that are partial for a moment each (a guest writing byte by
	 * byte) are not news until the viewer's flush: one notice per
	 * flush period, not per line.
	 */
	for (int i = 0; i < 1000; i++) {
		console_write(c, "\n", 1);	/* flushed by its '\n' */
		console_write(c, "y", 1);
	}
	assert_int_equal(a.told, 2);
	assert_int_equal(late.told, 2);
	assert_int_equal(b.told, 0);
	console_flush(c);			/* the viewer's flush */
	console_write(c, "y", 1);
	assert_int_equal(a.told, 3);
	assert_int_equal(late.told, 3);

	/* a newcomer is told of a partial line only if one waits */
	console_write(c, "\n", 1);
	struct partial_sink n2 = { 0 };
	int in2 = console_add_listener(c, sink_fn, &n2);
	assert_int_equal(console_watch_partial(c, in2, partial_fn), 0);
	assert_int_equal(n2.told, 0);
	console_remove_listener(c, in2);
	free(n2.s.buf);

	console_remove_listener(c, ia);		/* removes its watch too */
	console_flush(c);
	console_write(c, "z", 1);
	assert_int_equal(a.told, 3);
	assert_int_equal(late.told, 4);
	console_destroy(c);
	free(a.s.buf);
	free(b.s.buf);
	free(late.s.buf);
}

/*
 * A partial line announced while nobody watched (a guest printing before
 * the first viewer attaches) and then ended by its '\n', or announced to
 * a viewer that left before its flush: the next viewer must still hear of
 * the next partial line.  (CI 2026-12-07, TSan: the shell's attach after
 * `vm start` came between "prompt: start\n" and "prompt> ", and the
 * prompt never showed.)
 */
static void test_partial_unwatched(void **state)
{
	(void)state;
	struct console *c = console_create(NULL, 0, NULL);
	console_write(c, "prompt: st", 10);	/* told to nobody */
	console_write(c, "art\n", 4);		/* ended by its '\n' */
	struct partial_sink v = { 0 };
	int iv = console_add_listener_replay(c, sink_fn, &v);
	assert_true(iv >= 0);
	assert_int_equal(console_watch_partial(c, iv, partial_fn), 0);
	assert_int_equal(v.told, 0);		/* nothing waits yet */
	console_write(c, "prompt> ", 8);
	assert_int_equal(v.told, 1);
	console_flush(c);			/* the viewer's flush */
	assert_true(v.s.len >= 22);
	assert_memory_equal(v.s.buf + v.s.len - 8, "prompt> ", 8);

	/* told, then gone before its flush: the next viewer still hears */
	console_write(c, "a", 1);
	assert_int_equal(v.told, 2);
	console_write(c, "\n", 1);
	console_remove_listener(c, iv);
	struct partial_sink w = { 0 };
	int iw = console_add_listener(c, sink_fn, &w);
	assert_int_equal(console_watch_partial(c, iw, partial_fn), 0);
	assert_int_equal(w.told, 0);
	console_write(c, "b", 1);
	assert_int_equal(w.told, 1);
	console_destroy(c);
	free(v.s.buf);
	free(w.s.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_wraparound),
		cmocka_unit_test(test_snapshot_before_wrap),
		cmocka_unit_test(test_buffering_counts_writes),
		cmocka_unit_test(test_log_cap),
		cmocka_unit_test(test_default_cap_and_errors),
		cmocka_unit_test(test_listeners),
		cmocka_unit_test(test_replay_attach),
		cmocka_unit_test(test_listener_reentry),
		cmocka_unit_test(test_listener_threads),
		cmocka_unit_test(test_input_hook),
		cmocka_unit_test(test_partial_notice),
		cmocka_unit_test(test_partial_unwatched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
