/*
 * testutil: helpers every guest-level test program shares — counting the
 * process's threads, fds and RSS (leak checks), and reading "<prefix>N"
 * lines out of captured console output — and which sanitizer a test is
 * built with (header only: any test may include it).
 */
#ifndef CV_TESTUTIL_H
#define CV_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * CV_TEST_ASAN, CV_TEST_TSAN: 1 in an AddressSanitizer (ThreadSanitizer)
 * build, else 0; CV_TEST_SANITIZED: either (UBSan alone does not count:
 * it neither slows a test much nor keeps freed memory).  Always defined:
 * test them with #if, not #ifdef.  gcc says so with __SANITIZE_*__,
 * clang with __has_feature (nested: gcc 12 has no __has_feature).
 */
#if defined(__SANITIZE_ADDRESS__)
#define CV_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CV_TEST_ASAN 1
#endif
#endif
#ifndef CV_TEST_ASAN
#define CV_TEST_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define CV_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CV_TEST_TSAN 1
#endif
#endif
#ifndef CV_TEST_TSAN
#define CV_TEST_TSAN 0
#endif
#define CV_TEST_SANITIZED (CV_TEST_ASAN || CV_TEST_TSAN)

/* CLOCK_MONOTONIC in seconds, and in nanoseconds. */
double tu_now(void);
uint64_t tu_now_ns(void);

/*
 * Run fn(arg) in a forked child (stdio flushed first) whose stderr goes
 * to out: NUL-terminated, and past len - 1 bytes the head is kept and the
 * tail overwritten (the pipe is drained to the end).  A child still
 * writing after timeout_s seconds, or alive timeout_s seconds after its
 * stderr closed, is killed with SIGKILL and reaped.  Returns the child's
 * wait status (fn's return value as its exit status), -ETIMEDOUT when it
 * was killed, -errno when no child could be started.
 */
int tu_fork_capture(int (*fn)(void *), void *arg, char *out, size_t len,
		    unsigned timeout_s);

int tu_thread_count(void);
int tu_fd_count(void);
long tu_rss_kb(void);
/* The same for another process (a daemon under test); -1 when gone. */
int tu_pid_thread_count(int pid);
int tu_pid_fd_count(int pid);
/* Entries of a directory, without the dot files; -1 when unreadable. */
int tu_dir_entries(const char *path);

/*
 * In buf[from, len): the first (first = true) or the largest N of a line
 * "<prefix>N" that starts at a line start (or at from); -1 if none.
 */
long tu_scan_number(const char *buf, size_t len, size_t from,
		    const char *prefix, bool first);

#endif
