/*
 * capture: a guest console's output collected in memory for a test (a
 * console listener), with waits for text and "<prefix>N" lookups.  Shared
 * by the VM-layer tests (vmtest.h) and the shell's tests (shtest.h).
 */
#ifndef CV_CAPTURE_H
#define CV_CAPTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct console;

struct capture {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *buf;		/* NUL-terminated */
	size_t len, cap;
	int listener;
	struct console *con;	/* listened to; NULL once detached */
	void *owner;		/* the attacher's (what keeps con alive) */
};

/* Start collecting con's output (fails the test if it cannot). */
void capture_attach(struct capture *c, struct console *con);
/* Stop listening (when still) and free what was collected. */
void capture_detach(struct capture *c);

/*
 * Wait until the output from offset `from` contains s; false on timeout.
 * A partial line still in the console's line buffer counts (flushed
 * every 50 ms while waiting).
 */
bool capture_wait(struct capture *c, size_t from, const char *s,
		  uint64_t timeout_ms);
size_t capture_len(struct capture *c);
/* Copy of the output (NUL-terminated, caller frees). */
char *capture_copy(struct capture *c);
/* The largest N in lines "<prefix>N" at or after offset from; -1 if none. */
long capture_last_number(struct capture *c, size_t from, const char *prefix);
/* The first N in lines "<prefix>N" at or after offset from; -1 if none. */
long capture_first_number(struct capture *c, size_t from, const char *prefix);

#endif
