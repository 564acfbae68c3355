/*
 * lineread: lines split across reads, several in one read, the bytes
 * left after the last line, a line longer than one read chunk, EOF.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lineread.h"

static void put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void expect_line(struct line_reader *r, const char *want)
{
	char *line = NULL;
	size_t len = 0;
	assert_int_equal(line_read(r, &line, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_string_equal(line, want);
	free(line);
}

static void test_lines(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct line_reader r = { .fd = sv[0] };
	put(sv[1], "one\ntwo\n\nthr");
	expect_line(&r, "one");
	expect_line(&r, "two");
	expect_line(&r, "");
	put(sv[1], "ee\nrest");
	expect_line(&r, "three");
	/* what came after the last line stays buffered for the caller */
	assert_int_equal(r.len, 4);
	assert_memory_equal(r.buf, "rest", 4);
	close(sv[1]);
	char *line = NULL;
	size_t len = 0;
	assert_int_equal(line_read(&r, &line, &len), -EPIPE);
	assert_null(line);
	line_reader_free(&r);
	assert_null(r.buf);
	close(sv[0]);
}

static void test_long_line(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	size_t n = 300000;	/* several read chunks */
	char *big = malloc(n + 2);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\n';
	big[n + 1] = '\0';
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		put(sv[1], big);
		put(sv[1], "tail\n");
		_exit(0);
	}
	close(sv[1]);
	struct line_reader r = { .fd = sv[0] };
	big[n] = '\0';
	expect_line(&r, big);
	expect_line(&r, "tail");
	line_reader_free(&r);
	close(sv[0]);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
