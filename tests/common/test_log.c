/*
 * The structured log: the exact line format (golden lines with a fixed
 * clock), quoting and escaping, per-object fields, the level threshold,
 * long lines cut, and many threads logging at once without a torn or
 * interleaved line.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* 2026-11-25T16:00:00.123Z */
#define FIXED_NS (1795622400ull * 1000000000ull + 123456789ull)

static uint64_t fixed_clock(void)
{
	return FIXED_NS;
}

/* A sink on an anonymous temp file with the fixed clock. */
static FILE *open_sink(struct cv_log_sink *s, enum cv_log_level lvl)
{
	FILE *f = tmpfile();
	assert_non_null(f);
	cv_log_sink_init(s, fileno(f), lvl);
	s->clock_ns = fixed_clock;
	return f;
}

/* Everything written so far (malloc'ed). */
static char *slurp(FILE *f)
{
	long end = lseek(fileno(f), 0, SEEK_END);
	assert_true(end >= 0);
	char *buf = malloc((size_t)end + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(f), buf, (size_t)end, 0), end);
	buf[end] = '\0';
	return buf;
}

static void test_format_golden(void **state)
{
	(void)state;
	char line[512];
	const char *kv[] = { "reason", "poweroff", "exit", "0", "path",
			     "/a b/\"c\"\\", "empty", "", "bad key!", "x=y",
			     "ctl", "a\nb\r\t\x01" };
	cv_log_format(line, sizeof(line), FIXED_NS, CV_LOG_INFO,
		      " vm=3 name=x", "vm stopped", kv, 12);
	assert_string_equal(line,
		"2026-11-25T16:00:00.123Z level=info msg=\"vm stopped\" vm=3 "
		"name=x reason=poweroff exit=0 path=\"/a b/\\\"c\\\"\\\\\" "
		"empty=\"\" bad_key_=\"x=y\" ctl=\"a\\nb\\r\\t\\x01\"");
	cv_log_format(line, sizeof(line), 0, CV_LOG_ERROR, "", "boom", NULL,
		      0);
	assert_string_equal(line,
		"1970-01-01T00:00:00.000Z level=error msg=boom");
	/* cut lines end with "..." and never overflow */
	size_t n = cv_log_format(line, 40, FIXED_NS, CV_LOG_WARN, "",
				 "a message far too long for this buffer",
				 NULL, 0);
	assert_int_equal(n, 39);
	assert_int_equal(strlen(line), 39);
	assert_string_equal(line + 36, "...");
	assert_int_equal(strncmp(line, "2026-11-25T16:00:00.123Z level=warn",
				 35), 0);
}

static void test_levels(void **state)
{
	(void)state;
	enum cv_log_level l;
	assert_int_equal(cv_log_parse_level("DEBUG", &l, NULL), 0);
	assert_int_equal(l, CV_LOG_DEBUG);
	assert_int_equal(cv_log_parse_level("warning", &l, NULL), 0);
	assert_int_equal(l, CV_LOG_WARN);
	assert_int_equal(cv_log_parse_level("error", &l, NULL), 0);
	assert_int_equal(l, CV_LOG_ERROR);
	struct cv_err e = {0};
	assert_int_equal(cv_log_parse_level("loud", &l, &e), -EINVAL);
	assert_string_equal(e.msg, "unknown log level 'loud' (expected error, "
			    "warn, info or debug)");
	assert_string_equal(cv_log_level_name(CV_LOG_INFO), "info");

	struct cv_log_sink s;
	FILE *f = open_sink(&s, CV_LOG_INFO);
	struct cv_logger lg;
	cv_logger_init(&lg, &s);
	assert_false(cv_log_enabled(&lg, CV_LOG_DEBUG));
	assert_true(cv_log_enabled(&lg, CV_LOG_INFO));
	cv_log(&lg, CV_LOG_DEBUG, "hidden %d", 1);
	cv_log(&lg, CV_LOG_INFO, "shown %d", 2);
	cv_log(&lg, CV_LOG_ERROR, "shown %d", 3);
	cv_log_sink_set_level(&s, CV_LOG_DEBUG);
	assert_int_equal(cv_log_sink_level(&s), CV_LOG_DEBUG);
	cv_log(&lg, CV_LOG_DEBUG, "now %s", "visible");
	cv_log_sink_set_level(&s, CV_LOG_ERROR);
	cv_log_kv(&lg, CV_LOG_WARN, "dropped", "k", "v", NULL);
	char *out = slurp(f);
	assert_string_equal(out,
		"2026-11-25T16:00:00.123Z level=info msg=\"shown 2\"\n"
		"2026-11-25T16:00:00.123Z level=error msg=\"shown 3\"\n"
		"2026-11-25T16:00:00.123Z level=debug msg=\"now visible\"\n");
	free(out);
	fclose(f);
	cv_log_sink_fini(&s);

	struct cv_log_sink *d = cv_log_default_sink();
	assert_int_equal(d->fd, 2);
	assert_int_equal(cv_log_sink_level(d), CV_LOG_INFO);
}

static void test_logger_fields(void **state)
{
	(void)state;
	struct cv_log_sink s;
	FILE *f = open_sink(&s, CV_LOG_DEBUG);
	struct cv_logger vm;
	cv_logger_init(&vm, &s);
	assert_int_equal(cv_logger_field(&vm, "vm", "%u", 3u), 0);
	assert_int_equal(cv_logger_field(&vm, "name", "%s", "my vm"), 0);
	struct cv_logger child = vm;	/* a child adds its own fields */
	assert_int_equal(cv_logger_field(&child, "vcpu", "%d", 1), 0);
	cv_log_kv(&vm, CV_LOG_INFO, "vm started", "accel", "emu", NULL);
	cv_log(&child, CV_LOG_DEBUG, "vcpu parked");
	char *out = slurp(f);
	assert_string_equal(out,
		"2026-11-25T16:00:00.123Z level=info msg=\"vm started\" vm=3 "
		"name=\"my vm\" accel=emu\n"
		"2026-11-25T16:00:00.123Z level=debug msg=\"vcpu parked\" vm=3 "
		"name=\"my vm\" vcpu=1\n");
	free(out);

	/* fields that do not fit are dropped, the logger stays usable */
	char big[400];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(cv_logger_field(&vm, "a", "%s", big), 0);
	assert_int_equal(cv_logger_field(&vm, "b", "%s", big), -ENOSPC);
	assert_true(vm.fields_cut);
	assert_null(strstr(vm.fields, " b="));
	assert_non_null(strstr(vm.fields, " a=xxx"));
	fclose(f);
	cv_log_sink_fini(&s);
}

#define THREADS 8
#define LINES 400

struct worker {
	struct cv_log_sink *s;
	int index;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct cv_logger lg;
	cv_logger_init(&lg, w->s);
	cv_logger_field(&lg, "thread", "%d", w->index);
	char pad[200];
	memset(pad, 'a' + w->index, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < LINES; i++) {
		char n[16];
		snprintf(n, sizeof(n), "%d", i);
		cv_log_kv(&lg, CV_LOG_INFO, "tick", "n", n, "pad", pad, NULL);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct cv_log_sink s;
	FILE *f = open_sink(&s, CV_LOG_INFO);
	pthread_t t[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ &s, i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]),
				 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	char *out = slurp(f);
	int next[THREADS] = {0};
	int lines = 0;
	for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		int th, n, used = 0;
		if (sscanf(l, "2026-11-25T16:00:00.123Z level=info msg=tick "
			   "thread=%d n=%d pad=%n", &th, &n, &used) != 2 ||
		    !used)
			fail_msg("torn line: %s", l);
		assert_true(th >= 0 && th < THREADS);
		assert_int_equal(n, next[th]);	/* each thread's order kept */
		next[th]++;
		const char *pad = l + used;
		assert_int_equal(strlen(pad), 199);
		for (int i = 0; i < 199; i++)
			assert_int_equal(pad[i], 'a' + th);
		lines++;
	}
	assert_int_equal(lines, THREADS * LINES);
	free(out);
	fclose(f);
	cv_log_sink_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_golden),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_logger_fields),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
