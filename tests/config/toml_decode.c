/*
 * toml_decode: toml-test's decoder interface for cvisor's TOML parser.
 * Reads TOML on stdin, prints the tagged JSON on stdout; on invalid input
 * prints "line L, column C: message" on stderr and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>

#include "toml.h"
#include "toml_json.h"

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
		cap *= 2;
	}
	if (buf && ferror(f)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

int main(void)
{
	size_t len;
	char *src = read_all(stdin, &len);
	if (!src) {
		fprintf(stderr, "toml_decode: cannot read stdin\n");
		return 2;
	}
	struct toml_error err;
	toml_value *root = toml_parse(src, len, &err);
	free(src);
	if (!root) {
		fprintf(stderr, "line %d, column %d: %s\n", err.line, err.col,
			err.msg);
		return 1;
	}
	json_t *j = toml_tagged_json(root);
	toml_free(root);
	if (!j) {
		fprintf(stderr, "toml_decode: out of memory\n");
		return 2;
	}
	int rc = json_dumpf(j, stdout, JSON_INDENT(2)) || fputc('\n', stdout) == EOF;
	json_decref(j);
	return rc ? 2 : 0;
}
