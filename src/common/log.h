/*
 * log: structured log lines (logfmt) for the daemon and anything else that
 * logs, one line per event:
 *
 *   2026-11-25T16:00:00.123Z level=info msg="vm started" vm=3 name=x
 *
 * Two objects:
 * - a sink (struct cv_log_sink): where lines go (a file descriptor), the
 *   level threshold and a lock.  A program usually has one; the only
 *   process-wide state of this module is the default sink on stderr
 *   (cv_log_default_sink(), level info), which exists because stderr
 *   itself is process-wide.  Tests and embedders make their own sinks.
 * - a logger (struct cv_logger): a plain value holding a sink pointer and
 *   the fields every line of one object carries ("vm=3 name=x").  Each
 *   object (a VM, a client connection) keeps its own; copy one and add
 *   fields to make a child.  No allocation, nothing to free.
 *
 * Values are quoted when they are empty or contain a space, '=', '"', a
 * backslash or a control character; inside quotes \" \\ \n \r \t and
 * \xNN (other control bytes) are escaped.  Keys must be [A-Za-z0-9_.-]+
 * (others are replaced by '_').  A line is at most CV_LOG_LINE_MAX bytes
 * (longer lines are cut and end with "..." before the newline).
 *
 * Thread-safety: every function may be called from any thread.  A line is
 * built in the caller's stack and written with one write(2) under the
 * sink's lock, so lines never interleave.  Logging never fails visibly
 * (a write error is dropped: there is nowhere else to report it).
 */
#ifndef CV_LOG_H
#define CV_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "err.h"

#define CV_LOG_LINE_MAX 4096
#define CV_LOG_FIELDS_MAX 512

enum cv_log_level {
	CV_LOG_ERROR,
	CV_LOG_WARN,
	CV_LOG_INFO,
	CV_LOG_DEBUG,
};

struct cv_log_sink {
	int fd;
	atomic_int threshold;		/* lines above it are dropped */
	pthread_mutex_t lock;
	/* Tests: the wall clock in ns since the epoch; NULL = CLOCK_REALTIME. */
	uint64_t (*clock_ns)(void);
};

struct cv_logger {
	struct cv_log_sink *sink;	/* NULL = the default sink */
	char fields[CV_LOG_FIELDS_MAX];	/* " key=value ..." pre-rendered */
	bool fields_cut;		/* a field did not fit and was dropped */
};

/* A sink on fd (not owned: never closed here) with a threshold. */
void cv_log_sink_init(struct cv_log_sink *s, int fd,
		      enum cv_log_level threshold);
void cv_log_sink_fini(struct cv_log_sink *s);
void cv_log_sink_set_level(struct cv_log_sink *s, enum cv_log_level lvl);
enum cv_log_level cv_log_sink_level(struct cv_log_sink *s);

/* The process-wide sink on stderr (threshold info until changed). */
struct cv_log_sink *cv_log_default_sink(void);

/* "error"/"warn"/"info"/"debug" (case-insensitive; "warning" too). */
int cv_log_parse_level(const char *s, enum cv_log_level *out,
		       struct cv_err *err);
const char *cv_log_level_name(enum cv_log_level lvl);

/* A logger without fields on sink (NULL = the default sink). */
void cv_logger_init(struct cv_logger *l, struct cv_log_sink *sink);
/*
 * Append key=value (value printf-formatted, quoted as needed) to the
 * fields every line of l carries.  -ENOSPC when it does not fit (the
 * field is dropped, the logger stays usable).
 */
int cv_logger_field(struct cv_logger *l, const char *key, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* Would a line at lvl be written? (to skip costly formatting) */
bool cv_log_enabled(const struct cv_logger *l, enum cv_log_level lvl);

/* A line with msg = the printf-formatted text and the logger's fields. */
void cv_log(const struct cv_logger *l, enum cv_log_level lvl,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cv_logv(const struct cv_logger *l, enum cv_log_level lvl,
	     const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/*
 * A line with msg, the logger's fields, then extra key, value pairs
 * (strings) up to a NULL key:
 *   cv_log_kv(&lg, CV_LOG_INFO, "vm stopped", "reason", "poweroff",
 *             "exit", "0", NULL);
 */
void cv_log_kv(const struct cv_logger *l, enum cv_log_level lvl,
	       const char *msg, ...) __attribute__((sentinel));

/*
 * The line cv_log_kv would write (without the newline), for tests and
 * for callers with their own output: at most len-1 bytes, NUL-ended.
 * Returns its length.
 */
size_t cv_log_format(char *buf, size_t len, uint64_t time_ns,
		     enum cv_log_level lvl, const char *fields,
		     const char *msg, const char *const *kv, size_t nkv);

#endif
