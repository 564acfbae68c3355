/*
 * console: the per-VM console sink behind the guest's UART(s).
 *
 * Owns a line buffer, a 64 KiB replay ring (the last 64 KiB of output, for
 * `vm console` attach), the append-only console.log (capped, default
 * 16 MiB) and the listeners that see output live.  Output is buffered:
 * bytes reach the ring, the log and the listeners together, one write(2)
 * and one listener call per flush.  A flush happens when a '\n' was
 * written, when the line buffer is full, and on console_flush() (the VM
 * layer calls it whenever a vCPU leaves guest execution and on stop).
 * A guest that prints a prompt without '\n' and then idles inside KVM (or
 * spins) is only seen after the next flush.  So whoever shows output live
 * (`cvisor run`, `vm console`) watches for partial lines
 * (console_watch_partial): it is told when a write leaves one behind,
 * and flushes CONSOLE_PARTIAL_FLUSH_MS later (the rest of the line
 * usually comes meanwhile); until that console_flush() it is not told
 * again, so a busy console wakes it once per period, not once per line.
 * No timer: an idle console wakes no one.
 *
 * Every function is thread-safe.  Listeners run on the flushing thread
 * with the console locked: they must be quick, they may add or remove
 * listeners (including themselves) and take snapshots, but bytes they
 * console_write() are dropped (counted) rather than deadlocking.
 */
#ifndef CV_CONSOLE_H
#define CV_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define CONSOLE_RING_SIZE (64u * 1024u)
#define CONSOLE_LINE_SIZE 4096u
#define CONSOLE_LOG_CAP_DEFAULT (16ull * 1024 * 1024)
#define CONSOLE_MAX_LISTENERS 32

struct console;

/*
 * log_path NULL = no log file.  The file is opened for append and created
 * 0600 when missing; bytes already in it count against log_cap (0 = the
 * 16 MiB default).  Past the cap the console stops writing to the file
 * and appends one line saying so.
 */
struct console *console_create(const char *log_path, uint64_t log_cap,
			       struct cv_err *err);
void console_destroy(struct console *c);	/* flushes first; NULL ok */

void console_write(struct console *c, const void *buf, size_t len);
void console_flush(struct console *c);

typedef void (*console_listener_fn)(void *ctx, const void *buf, size_t len);

/* Returns an id >= 0, or -ENOSPC / -EINVAL. */
int console_add_listener(struct console *c, console_listener_fn fn,
			 void *ctx);
/*
 * Same, but first hands fn the ring's content (oldest first, one or two
 * calls) - atomically with the add, so an attaching viewer sees every
 * byte exactly once.
 */
int console_add_listener_replay(struct console *c, console_listener_fn fn,
				void *ctx);
/* After this returns, fn is never called again for that id. */
void console_remove_listener(struct console *c, int id);

/*
 * Partial lines, for live viewers: fn(ctx of listener id) runs when a
 * write leaves bytes without a '\n' in the line buffer, once per such
 * episode (not again until a viewer's console_flush()), at once when one
 * is waiting as it is registered, and for the next one when none waits
 * then (an episode told to nobody, or to a viewer that left before its
 * flush, does not silence it).  It runs like a listener (on the writing
 * thread, console locked) and must only note it and wake the viewer,
 * which then calls console_flush() after CONSOLE_PARTIAL_FLUSH_MS.
 * Removing the listener removes fn.  0, -EINVAL, or -ENOENT (no such id).
 */
#define CONSOLE_PARTIAL_FLUSH_MS 30
typedef void (*console_partial_fn)(void *ctx);
int console_watch_partial(struct console *c, int id, console_partial_fn fn);

/*
 * Flush, then copy the ring's content, oldest first, into buf.  When cap
 * is smaller than the content, the newest cap bytes are copied.  Returns
 * the number of bytes copied.
 */
size_t console_snapshot(struct console *c, void *buf, size_t cap);

/* Bytes ever written to this console (flushed or not). */
uint64_t console_bytes(const struct console *c);

struct console_stats {
	uint64_t bytes;		/* console_write total */
	uint64_t flushes;	/* flushes that had data */
	uint64_t log_bytes;	/* size of console.log (ours + pre-existing) */
	uint64_t log_writes;	/* write(2) calls on the log */
	uint64_t dropped;	/* written from inside a listener */
	int log_capped;		/* 1 once the cap was reached */
	int log_error;		/* errno of a failed log write, else 0 */
};
void console_get_stats(struct console *c, struct console_stats *out);

/*
 * Input (host -> guest, e.g. keys typed in `vm console`): the device that
 * receives it registers one handler (fn NULL = none).  console_input()
 * returns how many bytes the handler took (0 without a handler).
 */
typedef size_t (*console_input_fn)(void *ctx, const void *buf, size_t len);
void console_set_input(struct console *c, console_input_fn fn, void *ctx);
size_t console_input(struct console *c, const void *buf, size_t len);

#endif
