/*
 * fuzz_proto: the control protocol's decoders on arbitrary bytes — the
 * request decoder the daemon runs on every line a client sends, and the
 * response decoder the client runs.  Besides crashes and leaks, checks
 * the decoder's promises: a refusal comes with a known error code and a
 * message; an accepted request has a well-formed argv within the limits
 * and files with content or an errno, and encodes to one line that
 * decodes to the same request.
 *
 *   ./build-fuzz/fuzz/fuzz_proto -max_total_time=300 fuzz-out/proto \
 *       tests/fuzz/proto-seeds
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzcheck.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool known_code(const char *c)
{
	static const char *const codes[] = { PROTO_E_JSON, PROTO_E_VERSION,
		PROTO_E_REQUEST, PROTO_E_TOO_LARGE, NULL };
	for (size_t i = 0; codes[i]; i++)
		if (!strcmp(c, codes[i]))
			return true;
	return false;
}

static void same_request(const struct proto_request *a,
			 const struct proto_request *b)
{
	CHECK(a->id == b->id && a->argc == b->argc && a->color == b->color);
	for (size_t i = 0; i < a->argc; i++)
		CHECK(!strcmp(a->argv[i], b->argv[i]));
	CHECK(a->nfiles == b->nfiles);
	for (size_t i = 0; i < a->nfiles; i++) {
		const struct proto_file *x = &a->files[i], *y = &b->files[i];
		CHECK(!strcmp(x->path, y->path) && x->error == y->error &&
		      x->len == y->len);
		CHECK(!x->data == !y->data);
		if (x->data)
			CHECK(!memcmp(x->data, y->data, x->len) &&
			      !strcmp(x->dir, y->dir));
	}
}

static void check_request(const char *line, size_t size)
{
	struct proto_request r;
	struct proto_error e;
	int64_t id;
	int rc = proto_decode_request(line, size, &r, &id, &e);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -E2BIG);
		CHECK(known_code(e.code) && e.message[0]);
		CHECK(id >= 0 && id <= PROTO_ID_MAX);
		proto_request_free(&r);
		return;
	}
	CHECK(r.argc >= 1 && r.argc <= PROTO_ARGC_MAX && !r.argv[r.argc]);
	for (size_t i = 0; i < r.argc; i++)
		CHECK(strlen(r.argv[i]) <= PROTO_ARG_MAX);
	CHECK(r.nfiles <= PROTO_FILES_MAX);
	for (size_t i = 0; i < r.nfiles; i++) {
		const struct proto_file *f = &r.files[i];
		CHECK(f->path && (f->error ? !f->data : f->data && f->dir &&
				  f->dir[0] == '/' && f->len <= PROTO_FILE_MAX &&
				  !f->data[f->len]));
	}
	char *again = proto_encode_request(&r);
	CHECK(again);
	size_t n = strlen(again);
	CHECK(n && again[n - 1] == '\n' && !memchr(again, '\n', n - 1));
	struct proto_request r2;
	CHECK(!proto_decode_request(again, n, &r2, &id, &e));
	same_request(&r, &r2);
	proto_request_free(&r2);
	free(again);
	proto_request_free(&r);
}

static void check_response(const char *line, size_t size)
{
	struct proto_decoded d;
	struct proto_error e;
	if (proto_decode_response(line, size, &d, &e)) {
		CHECK(e.message[0]);
		return;
	}
	CHECK(d.status >= 0 && d.status <= 255 && d.exit >= -1 && d.exit <= 255);
	size_t sum[2] = { 0, 0 };
	for (size_t i = 0; i < d.norder; i++)
		sum[d.order[i].stream - 1] += d.order[i].len;
	CHECK(!d.norder || (sum[0] == d.text_len && sum[1] == d.errtext_len));
	proto_decoded_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* byte 0 picks the decoder; the rest is the line */
	if (!size)
		return 0;
	const char *line = (const char *)data + 1;
	if (data[0] & 1)
		check_response(line, size - 1);
	else
		check_request(line, size - 1);
	return 0;
}
