/* lineread: newline-terminated lines from a blocking fd (lineread.h). */
#include "lineread.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

int line_read(struct line_reader *r, char **line, size_t *len)
{
	for (;;) {
		char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - r->buf);
			*line = malloc(n + 1);
			if (!*line)
				return -ENOMEM;
			memcpy(*line, r->buf, n);
			(*line)[n] = '\0';
			*len = n;
			memmove(r->buf, nl + 1, r->len - n - 1);
			r->len -= n + 1;
			return 0;
		}
		if (r->cap - r->len < READ_CHUNK) {
			char *nb = realloc(r->buf, r->cap + 2 * READ_CHUNK);
			if (!nb)
				return -ENOMEM;
			r->buf = nb;
			r->cap += 2 * READ_CHUNK;
		}
		ssize_t n = read(r->fd, r->buf + r->len, r->cap - r->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		r->len += (size_t)n;
	}
}

void line_reader_free(struct line_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->len = r->cap = 0;
}
