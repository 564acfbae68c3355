#include "shtest.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend.h"
#include "console.h"

uint64_t sht_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *sht_accel_name(void)
{
	const char *a = getenv("CVISOR_TEST_ACCEL");
	return a && *a ? a : "emu";
}

enum vm_accel sht_accel(void)
{
	return !strcmp(sht_accel_name(), "kvm") ? VM_ACCEL_KVM : VM_ACCEL_EMU;
}

void sht_require_backend(void)
{
	char why[256];
	struct cv_err err = {0};
	if (!backend_select(sht_accel(), why, sizeof(why), &err)) {
		printf("SKIP: backend %s not usable here: %s\n",
		       sht_accel_name(), err.msg);
		exit(77);
	}
}

void sht_setup(struct shtest *t, const struct sht_opts *o)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/cvisor-shtest-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->state, sizeof(t->state), "%s/state", t->dir);
	struct registry_opts ro = {
		.state_dir = o && o->no_state_dir ? NULL : t->state,
		.accel_default = sht_accel(),
		.loading_hook = o ? o->loading_hook : NULL,
		.hook_ctx = o ? o->hook_ctx : NULL,
	};
	struct cv_err e = {0};
	assert_int_equal(registry_create(&ro, &t->reg, &e), 0);
	struct shell_opts so = { .color = o && o->color, .tty_out = 1 };
	assert_int_equal(shell_create(t->reg, &so, &t->sh, &e), 0);
}

static int rm_entry(const char *p, const struct stat *sb, int f,
		    struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

void sht_teardown(struct shtest *t)
{
	shell_destroy(t->sh);
	registry_destroy(t->reg, false);
	free(t->out);
	free(t->err);
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int sht_run(struct shtest *t, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	assert_true(vasprintf(&line, fmt, ap) >= 0);
	va_end(ap);
	free(t->out);
	free(t->err);
	size_t ol, el;
	FILE *out = open_memstream(&t->out, &ol);
	FILE *err = open_memstream(&t->err, &el);
	t->status = shell_run_line(t->sh, line, out, err);
	fclose(out);
	fclose(err);
	free(line);
	return t->status;
}

const char *sht_cfg(const char *name)
{
	/* several calls may be arguments of one printf */
	static __thread char buf[8][512];
	static __thread unsigned next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/%s.toml", GUEST_CONFIG_DIR, name);
	return b;
}

const char *sht_write(struct shtest *t, const char *file, const char *text)
{
	static __thread char path[600];
	snprintf(path, sizeof(path), "%s/%s", t->dir, file);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

bool sht_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- console capture -------------------------------------------------- */

static void on_output(void *ctx, const void *buf, size_t len)
{
	struct capture *c = ctx;
	pthread_mutex_lock(&c->lock);
	if (c->len + len + 1 > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4096;
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

void cap_attach(struct capture *c, struct registry *reg, uint32_t id)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->v = registry_get(reg, id);
	assert_non_null(c->v);
	assert_non_null(reg_vm_vm(c->v));
	c->listener = console_add_listener(vm_console(reg_vm_vm(c->v)),
					   on_output, c);
	assert_true(c->listener >= 0);
}

void cap_detach(struct capture *c)
{
	if (c->v) {
		console_remove_listener(vm_console(reg_vm_vm(c->v)),
					c->listener);
		reg_vm_put(c->v);
		c->v = NULL;
	}
	free(c->buf);
	c->buf = NULL;
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

static bool contains(struct capture *c, size_t from, const char *s)
{
	return c->len > from && strstr(c->buf + from, s);
}

bool cap_wait(struct capture *c, size_t from, const char *s,
	      uint64_t timeout_ms)
{
	uint64_t deadline = sht_now_ns() + timeout_ms * 1000000ull;
	bool found;
	for (;;) {
		/* a partial line may sit in the console's line buffer */
		console_flush(vm_console(reg_vm_vm(c->v)));
		uint64_t now = sht_now_ns();
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
		if (found || sht_now_ns() >= deadline)
			return found;
	}
}

size_t cap_len(struct capture *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->len;
	pthread_mutex_unlock(&c->lock);
	return n;
}

char *cap_copy(struct capture *c)
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

long cap_last_number(struct capture *c, size_t from, const char *prefix)
{
	return scan_number(c, from, prefix, false);
}

long cap_first_number(struct capture *c, size_t from, const char *prefix)
{
	return scan_number(c, from, prefix, true);
}

