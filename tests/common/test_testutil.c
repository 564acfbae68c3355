/*
 * test_testutil: the shared test helpers that do more than read a file:
 * tu_fork_capture (a child's stderr and wait status; a hung child killed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

static int say_and_exit(void *arg)
{
	fprintf(stderr, "child says %s\n", (const char *)arg);
	return 3;
}

static void test_capture_status(void **state)
{
	(void)state;
	char out[64], word[] = "hello";
	int st = tu_fork_capture(say_and_exit, word, out, sizeof(out), 60);
	assert_true(st >= 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);
	assert_string_equal(out, "child says hello\n");
}

/* 64 KiB, more than a pipe holds: the child must not block on it. */
static int flood(void *arg)
{
	(void)arg;
	char line[64];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	fputs("HEAD\n", stderr);
	for (int i = 0; i < 1024; i++)
		fwrite(line, 1, sizeof(line), stderr);
	return 0;
}

static void test_capture_keeps_head(void **state)
{
	(void)state;
	char out[256];
	int st = tu_fork_capture(flood, NULL, out, sizeof(out), 60);
	assert_true(st >= 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(strlen(out) < sizeof(out));
	assert_memory_equal(out, "HEAD\n", 5);
}

static int hang(void *arg)
{
	if (*(const int *)arg)
		close(STDERR_FILENO);	/* stderr closed, still alive */
	for (;;)
		pause();
	return 0;
}

/* Hung while writing, or alive after stderr closed: killed and reaped. */
static void test_capture_kills_hung(void **state)
{
	(void)state;
	char out[64];
	for (int closed = 0; closed < 2; closed++) {
		double t0 = tu_now();
		int st = tu_fork_capture(hang, &closed, out, sizeof(out), 1);
		assert_int_equal(st, -ETIMEDOUT);
		assert_true(tu_now() - t0 < 30);
		assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
		assert_int_equal(errno, ECHILD);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_status),
		cmocka_unit_test(test_capture_keeps_head),
		cmocka_unit_test(test_capture_kills_hung),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
