#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cv_err_set(struct cv_err *err, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = errnum;
	}
	return -errnum;
}

void cv_err_prefix(struct cv_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	char prefix[CV_ERR_MAX], old[CV_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
}

void cv_err_clear(struct cv_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
