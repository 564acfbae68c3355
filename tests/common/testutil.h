/*
 * testutil: helpers every guest-level test program shares — counting the
 * process's threads, fds and RSS (leak checks), and reading "<prefix>N"
 * lines out of captured console output.
 */
#ifndef CV_TESTUTIL_H
#define CV_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

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
