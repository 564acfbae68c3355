/* capture: a guest console's output collected for a test (capture.h). */
#include "capture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "console.h"
#include "testutil.h"

static void on_output(void *ctx, const void *buf, size_t len)
{
	struct capture *c = ctx;
	pthread_mutex_lock(&c->lock);
	if (c->len + len + 1 > c->cap) {
		size_t ncap = (c->cap ? c->cap * 2 : 4096);
		while (ncap < c->len + len + 1)
			ncap *= 2;
		char *nb = realloc(c->buf, ncap);
		if (!nb) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	c->buf[c->len] = '\0';
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void capture_attach(struct capture *c, struct console *con)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->con = con;
	c->listener = console_add_listener(con, on_output, c);
	assert_true(c->listener >= 0);
}

void capture_detach(struct capture *c)
{
	if (c->con)
		console_remove_listener(c->con, c->listener);
	c->con = NULL;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static bool contains(struct capture *c, size_t from, const char *s)
{
	return c->len > from && strstr(c->buf + from, s);
}

bool capture_wait(struct capture *c, size_t from, const char *s,
		  uint64_t timeout_ms)
{
	uint64_t deadline = tu_now_ns() + timeout_ms * 1000000ull;
	bool found;
	for (;;) {
		/* a partial line may sit in the console's line buffer */
		if (c->con)
			console_flush(c->con);
		uint64_t now = tu_now_ns();
		uint64_t until = now + 50000000ull < deadline
				 ? now + 50000000ull : deadline;
		struct timespec ts = {
			.tv_sec = (time_t)(until / 1000000000ull),
			.tv_nsec = (long)(until % 1000000000ull),
		};
		pthread_mutex_lock(&c->lock);
		while (!(found = contains(c, from, s)) &&
		       !pthread_cond_timedwait(&c->cond, &c->lock, &ts))
			;
		pthread_mutex_unlock(&c->lock);
		if (found || tu_now_ns() >= deadline)
			return found;
	}
}

size_t capture_len(struct capture *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->len;
	pthread_mutex_unlock(&c->lock);
	return n;
}

char *capture_copy(struct capture *c)
{
	pthread_mutex_lock(&c->lock);
	char *s = strndup(c->buf ? c->buf : "", c->len);
	pthread_mutex_unlock(&c->lock);
	return s;
}

static long scan_number(struct capture *c, size_t from, const char *prefix,
			bool first)
{
	pthread_mutex_lock(&c->lock);
	long n = tu_scan_number(c->buf, c->len, from, prefix, first);
	pthread_mutex_unlock(&c->lock);
	return n;
}

long capture_last_number(struct capture *c, size_t from, const char *prefix)
{
	return scan_number(c, from, prefix, false);
}

long capture_first_number(struct capture *c, size_t from, const char *prefix)
{
	return scan_number(c, from, prefix, true);
}
