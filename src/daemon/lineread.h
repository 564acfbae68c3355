/*
 * lineread: newline-terminated lines from a blocking stream fd (the
 * protocol's client side: the cvisor client and the test/bench client).
 * Bytes read past the last line stay in buf[0..len) for the caller (a
 * console stream that follows a response line starts with them).
 */
#ifndef CV_LINEREAD_H
#define CV_LINEREAD_H

#include <stddef.h>

struct line_reader {
	int fd;
	char *buf;		/* bytes read past the last line */
	size_t len, cap;
};

/*
 * The next line (malloc'ed, NUL-terminated, without its '\n'; *len its
 * length).  0, -EPIPE at EOF, -ENOMEM, or -errno of read().
 */
int line_read(struct line_reader *r, char **line, size_t *len);
/* Drop the buffered bytes (the fd stays the caller's). */
void line_reader_free(struct line_reader *r);

#endif
