/*
 * err: the error convention used by every cvisor module.
 *
 * Functions return 0 (or a non-negative value) on success and -errno on
 * failure.  A caller that wants the human sentence passes a struct cv_err;
 * the failing function fills it with cv_err_set().  Passing NULL is allowed
 * everywhere and simply drops the sentence.  Library code never exits or
 * aborts.
 */
#ifndef CV_ERR_H
#define CV_ERR_H

#include <stddef.h>

#define CV_ERR_MAX 512

struct cv_err {
	int code;		/* positive errno of the failure, 0 when none */
	char msg[CV_ERR_MAX];	/* one plain sentence, no trailing newline */
};

/* Record errnum (positive) and a printf-style sentence; returns -errnum. */
int cv_err_set(struct cv_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing message with "prefix: " (e.g. a file name). */
void cv_err_prefix(struct cv_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void cv_err_clear(struct cv_err *err);

#endif
