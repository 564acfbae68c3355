/*
 * log: logfmt lines on a sink (see log.h).  The default sink is the one
 * process-wide object here: stderr has no owner but the process.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {
	[CV_LOG_ERROR] = "error",
	[CV_LOG_WARN] = "warn",
	[CV_LOG_INFO] = "info",
	[CV_LOG_DEBUG] = "debug",
};

const char *cv_log_level_name(enum cv_log_level lvl)
{
	if ((unsigned)lvl > CV_LOG_DEBUG)
		return "?";
	return level_names[lvl];
}

int cv_log_parse_level(const char *s, enum cv_log_level *out,
		       struct cv_err *err)
{
	for (unsigned i = 0; i <= CV_LOG_DEBUG; i++) {
		if (!strcasecmp(s, level_names[i])) {
			*out = (enum cv_log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(s, "warning")) {
		*out = CV_LOG_WARN;
		return 0;
	}
	return cv_err_set(err, EINVAL,
			  "unknown log level '%s' (expected error, warn, "
			  "info or debug)", s);
}

void cv_log_sink_init(struct cv_log_sink *s, int fd,
		      enum cv_log_level threshold)
{
	s->fd = fd;
	atomic_init(&s->threshold, (int)threshold);
	pthread_mutex_init(&s->lock, NULL);
	s->clock_ns = NULL;
}

void cv_log_sink_fini(struct cv_log_sink *s)
{
	pthread_mutex_destroy(&s->lock);
}

void cv_log_sink_set_level(struct cv_log_sink *s, enum cv_log_level lvl)
{
	atomic_store(&s->threshold, (int)lvl);
}

enum cv_log_level cv_log_sink_level(struct cv_log_sink *s)
{
	return (enum cv_log_level)atomic_load(&s->threshold);
}

/* Process-wide: stderr belongs to the process, so does its sink. */
static struct cv_log_sink default_sink = {
	.fd = 2,
	.threshold = CV_LOG_INFO,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

struct cv_log_sink *cv_log_default_sink(void)
{
	return &default_sink;
}

/* ---- formatting -------------------------------------------------------- */

/* Bounded appender: never overflows, remembers that it was cut. */
struct buf {
	char *p;
	size_t len, cap;	/* cap includes room for the NUL */
	bool cut;
};

static void put_ch(struct buf *b, char ch)
{
	if (b->len + 1 < b->cap)
		b->p[b->len++] = ch;
	else
		b->cut = true;
}

static void put_str(struct buf *b, const char *s)
{
	while (*s)
		put_ch(b, *s++);
}

static bool needs_quotes(const char *v)
{
	if (!*v)
		return true;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' ||
		    *p == 0x7f)
			return true;
	return false;
}

static void put_value(struct buf *b, const char *v)
{
	if (!needs_quotes(v)) {
		put_str(b, v);
		return;
	}
	put_ch(b, '"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"': put_str(b, "\\\""); break;
		case '\\': put_str(b, "\\\\"); break;
		case '\n': put_str(b, "\\n"); break;
		case '\r': put_str(b, "\\r"); break;
		case '\t': put_str(b, "\\t"); break;
		default:
			if (*p < ' ' || *p == 0x7f) {
				char hex[5];
				snprintf(hex, sizeof(hex), "\\x%02x", *p);
				put_str(b, hex);
			} else {
				put_ch(b, (char)*p);
			}
		}
	}
	put_ch(b, '"');
}

static void put_key(struct buf *b, const char *k)
{
	if (!*k)
		put_ch(b, '_');
	for (; *k; k++) {
		char ch = *k;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
			  ch == '-';
		put_ch(b, ok ? ch : '_');
	}
}

static void put_time(struct buf *b, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000u);
	unsigned ms = (unsigned)(ns % 1000000000u / 1000000u);
	struct tm tm;
	char t[48];
	if (!gmtime_r(&secs, &tm)) {
		put_str(b, "0000-00-00T00:00:00.000Z");
		return;
	}
	snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ms);
	put_str(b, t);
}

size_t cv_log_format(char *out, size_t len, uint64_t time_ns,
		     enum cv_log_level lvl, const char *fields,
		     const char *msg, const char *const *kv, size_t nkv)
{
	if (!len)
		return 0;
	struct buf b = { .p = out, .cap = len };
	put_time(&b, time_ns);
	put_str(&b, " level=");
	put_str(&b, cv_log_level_name(lvl));
	put_str(&b, " msg=");
	put_value(&b, msg ? msg : "");
	if (fields)
		put_str(&b, fields);
	for (size_t i = 0; i < nkv; i += 2) {
		put_ch(&b, ' ');
		put_key(&b, kv[i]);
		put_ch(&b, '=');
		put_value(&b, i + 1 < nkv && kv[i + 1] ? kv[i + 1] : "");
	}
	if (b.cut && len >= 4) {
		/* mark the cut: the line ends with "..." */
		b.len = len - 1 >= 3 ? len - 4 : 0;
		memcpy(b.p + b.len, "...", 3);
		b.len += 3;
	}
	b.p[b.len] = '\0';
	return b.len;
}

/* ---- loggers ------------------------------------------------------------ */

void cv_logger_init(struct cv_logger *l, struct cv_log_sink *sink)
{
	l->sink = sink;
	l->fields[0] = '\0';
	l->fields_cut = false;
}

int cv_logger_field(struct cv_logger *l, const char *key, const char *fmt,
		    ...)
{
	char val[CV_LOG_FIELDS_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);

	char tmp[CV_LOG_FIELDS_MAX];
	struct buf b = { .p = tmp, .cap = sizeof(tmp) };
	put_str(&b, l->fields);
	put_ch(&b, ' ');
	put_key(&b, key);
	put_ch(&b, '=');
	put_value(&b, val);
	if (b.cut) {
		l->fields_cut = true;
		return -ENOSPC;
	}
	memcpy(l->fields, tmp, b.len);
	l->fields[b.len] = '\0';
	return 0;
}

static struct cv_log_sink *sink_of(const struct cv_logger *l)
{
	return l && l->sink ? l->sink : &default_sink;
}

bool cv_log_enabled(const struct cv_logger *l, enum cv_log_level lvl)
{
	return (int)lvl <= atomic_load(&sink_of(l)->threshold);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void emit(const struct cv_logger *l, enum cv_log_level lvl,
		 const char *msg, const char *const *kv, size_t nkv)
{
	struct cv_log_sink *s = sink_of(l);
	char line[CV_LOG_LINE_MAX];
	uint64_t now = s->clock_ns ? s->clock_ns() : realtime_ns();
	size_t n = cv_log_format(line, sizeof(line) - 1, now, lvl,
				 l ? l->fields : "", msg, kv, nkv);
	line[n++] = '\n';
	pthread_mutex_lock(&s->lock);
	size_t off = 0;
	while (off < n) {
		ssize_t w = write(s->fd, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;		/* nowhere to report it */
		off += (size_t)w;
	}
	pthread_mutex_unlock(&s->lock);
}

void cv_logv(const struct cv_logger *l, enum cv_log_level lvl,
	     const char *fmt, va_list ap)
{
	if (!cv_log_enabled(l, lvl))
		return;
	char msg[CV_LOG_LINE_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	emit(l, lvl, msg, NULL, 0);
}

void cv_log(const struct cv_logger *l, enum cv_log_level lvl,
	    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cv_logv(l, lvl, fmt, ap);
	va_end(ap);
}

#define LOG_KV_MAX 32		/* pairs per line; more are dropped */

void cv_log_kv(const struct cv_logger *l, enum cv_log_level lvl,
	       const char *msg, ...)
{
	if (!cv_log_enabled(l, lvl))
		return;
	const char *kv[2 * LOG_KV_MAX];
	size_t n = 0;
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (n + 2 <= 2 * LOG_KV_MAX) {
			kv[n++] = k;
			kv[n++] = v;
		}
	}
	va_end(ap);
	emit(l, lvl, msg, kv, n);
}
