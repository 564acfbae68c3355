/*
 * Unit tests of the control protocol codec (src/daemon/proto.c): request
 * decoding with every validation rule and its error code, limits, byte
 * strings (UTF-8 or base64), response round trips, and the output order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"

static int decode(const char *line, struct proto_request *r, int64_t *id,
		  struct proto_error *e)
{
	memset(e, 0, sizeof(*e));
	return proto_decode_request(line, strlen(line), r, id, e);
}

/* The line must be refused with code; the message must contain what. */
static void expect_error(const char *line, const char *code, const char *what)
{
	struct proto_request r;
	struct proto_error e;
	int64_t id;
	int rc = decode(line, &r, &id, &e);
	if (!rc)
		fail_msg("accepted: %s", line);
	if (strcmp(e.code, code))
		fail_msg("%s: code %s, want %s (%s)", line, e.code, code,
			 e.message);
	if (what && !strstr(e.message, what))
		fail_msg("%s: message \"%s\" lacks \"%s\"", line, e.message, what);
	proto_request_free(&r);
}

static void test_minimal(void **state)
{
	(void)state;
	struct proto_request r;
	struct proto_error e;
	int64_t id;
	assert_int_equal(decode("{\"v\":1,\"id\":7,\"argv\":[\"vm\",\"stop\","
				"\"3\",\"--force\"]}\n", &r, &id, &e), 0);
	assert_int_equal(r.id, 7);
	assert_int_equal(id, 7);
	assert_int_equal(r.argc, 4);
	assert_string_equal(r.argv[0], "vm");
	assert_string_equal(r.argv[3], "--force");
	assert_null(r.argv[4]);
	assert_false(r.color);
	assert_int_equal(r.nfiles, 0);
	proto_request_free(&r);

	/* no id: 0; key order and whitespace are free */
	assert_int_equal(decode(" { \"argv\" : [\"help\"] , \"v\" : 1 , "
				"\"color\": true } ", &r, &id, &e), 0);
	assert_int_equal(r.id, 0);
	assert_true(r.color);
	proto_request_free(&r);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("", PROTO_E_JSON, "not valid JSON");
	expect_error("{\"v\":1,", PROTO_E_JSON, NULL);
	expect_error("[1,2]", PROTO_E_JSON, "one JSON object");
	expect_error("{\"v\":1,\"argv\":[\"a\"]} x", PROTO_E_JSON, NULL);
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"argv\":[\"b\"]}",
		     PROTO_E_JSON, NULL);	/* duplicate key */
	expect_error("{\"argv\":[\"a\"]}", PROTO_E_VERSION, "missing");
	expect_error("{\"v\":2,\"argv\":[\"a\"]}", PROTO_E_VERSION,
		     "not supported");
	expect_error("{\"v\":\"1\",\"argv\":[\"a\"]}", PROTO_E_VERSION, NULL);
	expect_error("{\"v\":1.0,\"argv\":[\"a\"]}", PROTO_E_VERSION, NULL);
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"x\":1}", PROTO_E_REQUEST,
		     "unknown key \"x\"");
	expect_error("{\"v\":1}", PROTO_E_REQUEST, "\"argv\": missing");
	expect_error("{\"v\":1,\"argv\":[]}", PROTO_E_REQUEST, "at least one");
	expect_error("{\"v\":1,\"argv\":\"vm list\"}", PROTO_E_REQUEST,
		     "array of strings");
	expect_error("{\"v\":1,\"argv\":[\"vm\",3]}", PROTO_E_REQUEST,
		     "\"argv\"[1]: expected a string");
	expect_error("{\"v\":1,\"argv\":[\"a\\u0000b\"]}", PROTO_E_JSON, NULL);
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"id\":-1}", PROTO_E_REQUEST,
		     "\"id\"");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"id\":\"7\"}", PROTO_E_REQUEST,
		     "\"id\"");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"id\":9007199254740992}",
		     PROTO_E_REQUEST, "\"id\"");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"color\":1}", PROTO_E_REQUEST,
		     "\"color\"");
	/* a raw newline inside: two lines, never one request */
	expect_error("{\"v\":1,\n\"argv\":[\"a\"]}", PROTO_E_JSON, "newline");
}

static void test_id_kept_on_error(void **state)
{
	(void)state;
	struct proto_request r;
	struct proto_error e;
	int64_t id = -1;
	assert_int_not_equal(decode("{\"id\":42,\"v\":1,\"argv\":[1]}", &r, &id,
				    &e), 0);
	assert_int_equal(id, 42);
	proto_request_free(&r);
	assert_int_not_equal(decode("{\"id\":43,\"v\":9,\"argv\":[\"a\"]}", &r,
				    &id, &e), 0);
	assert_int_equal(id, 43);
	proto_request_free(&r);
}

static void test_bad_utf8(void **state)
{
	(void)state;
	expect_error("{\"v\":1,\"argv\":[\"\xff\"]}", PROTO_E_JSON, NULL);
	expect_error("{\"v\":1,\"argv\":[\"\xc0\xaf\"]}", PROTO_E_JSON, NULL);
	expect_error("{\"v\":1,\"argv\":[\"\xed\xa0\x80\"]}", PROTO_E_JSON,
		     NULL);		/* a surrogate */
	assert_true(proto_utf8_ok("h\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", 12));
	assert_false(proto_utf8_ok("a\0b", 3));
	assert_false(proto_utf8_ok("\xe2\x9c", 2));	/* cut short */
	assert_false(proto_utf8_ok("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	char s[] = "ok \xff\xe2\x9c\x93 \xc3";
	proto_utf8_fix(s);
	assert_string_equal(s, "ok ?\xe2\x9c\x93 ?");
}

static void test_limits(void **state)
{
	(void)state;
	/* argv count */
	size_t cap = 16 + (PROTO_ARGC_MAX + 1) * 4;
	char *line = malloc(cap + 64);
	size_t n = (size_t)sprintf(line, "{\"v\":1,\"argv\":[");
	for (int i = 0; i <= (int)PROTO_ARGC_MAX; i++)
		n += (size_t)sprintf(line + n, "%s\"a\"", i ? "," : "");
	strcpy(line + n, "]}");
	expect_error(line, PROTO_E_REQUEST, "at most 256");
	free(line);

	/* argv word length: the limit itself passes, one more fails */
	line = malloc(PROTO_ARG_MAX + 64);
	for (int extra = 0; extra < 2; extra++) {
		n = (size_t)sprintf(line, "{\"v\":1,\"argv\":[\"");
		memset(line + n, 'x', PROTO_ARG_MAX + (size_t)extra);
		n += PROTO_ARG_MAX + (size_t)extra;
		strcpy(line + n, "\"]}");
		struct proto_request r;
		struct proto_error e;
		int64_t id;
		int rc = decode(line, &r, &id, &e);
		if (extra)
			assert_int_equal(rc, -EINVAL);
		else
			assert_int_equal(rc, 0);
		proto_request_free(&r);
	}
	free(line);

	/* the whole line */
	struct proto_request r;
	struct proto_error e;
	int64_t id;
	assert_int_equal(proto_decode_request("{", PROTO_LINE_MAX + 1, &r, &id,
					      &e), -E2BIG);
	assert_string_equal(e.code, PROTO_E_TOO_LARGE);
	proto_request_free(&r);
}

static void test_files(void **state)
{
	(void)state;
	struct proto_request r;
	struct proto_error e;
	int64_t id;
	assert_int_equal(decode("{\"v\":1,\"argv\":[\"vm\",\"create\",\"a.toml\","
				"\"b.toml\",\"c.toml\"],\"files\":["
				"{\"path\":\"a.toml\",\"dir\":\"/x\",\"data\":\"[base]\\n\"},"
				"{\"path\":\"b.toml\",\"error\":2},"
				"{\"path\":\"c.toml\",\"dir\":\"/\",\"data_b64\":\"/w==\"}]}",
				&r, &id, &e), 0);
	assert_int_equal(r.nfiles, 3);
	const struct proto_file *f = proto_request_file(&r, "a.toml");
	assert_non_null(f);
	assert_string_equal(f->dir, "/x");
	assert_string_equal(f->data, "[base]\n");
	assert_int_equal(f->len, 7);
	f = proto_request_file(&r, "b.toml");
	assert_int_equal(f->error, 2);
	assert_null(f->data);
	f = proto_request_file(&r, "c.toml");
	assert_int_equal(f->len, 1);
	assert_int_equal((unsigned char)f->data[0], 0xff);
	assert_null(proto_request_file(&r, "d.toml"));
	proto_request_free(&r);

	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":{}}", PROTO_E_REQUEST,
		     "\"files\"");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\","
		     "\"data\":\"x\"}]}", PROTO_E_REQUEST, "absolute directory");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\","
		     "\"dir\":\"rel\",\"data\":\"x\"}]}", PROTO_E_REQUEST,
		     "absolute directory");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\","
		     "\"dir\":\"/\",\"data\":\"x\",\"data_b64\":\"eA==\"}]}",
		     PROTO_E_REQUEST, "not both");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\","
		     "\"dir\":\"/\",\"data_b64\":\"eA=\"}]}", PROTO_E_REQUEST,
		     "base64");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\","
		     "\"error\":0}]}", PROTO_E_REQUEST, "errno");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\"}]}",
		     PROTO_E_REQUEST, "expected \"data\"");
	expect_error("{\"v\":1,\"argv\":[\"a\"],\"files\":[{\"path\":\"a\","
		     "\"error\":2,\"mode\":1}]}", PROTO_E_REQUEST,
		     "unknown key \"mode\"");
}

static void test_base64(void **state)
{
	(void)state;
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
					      "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v",
					   "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	for (size_t i = 0; i < 7; i++) {
		char out[16];
		unsigned char dec[16];
		size_t n;
		proto_b64_encode(plain[i], strlen(plain[i]), out);
		assert_string_equal(out, enc[i]);
		assert_int_equal(proto_b64_decode(enc[i], strlen(enc[i]), dec,
						  &n), 0);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(dec, plain[i], n);
	}
	unsigned char dec[16];
	size_t n;
	assert_int_equal(proto_b64_decode("Zg=", 3, dec, &n), -EINVAL);
	assert_int_equal(proto_b64_decode("Z===", 4, dec, &n), -EINVAL);
	assert_int_equal(proto_b64_decode("Zh==", 4, dec, &n), -EINVAL);
	assert_int_equal(proto_b64_decode("Zg==Zg==", 8, dec, &n), -EINVAL);
	assert_int_equal(proto_b64_decode("Z!==", 4, dec, &n), -EINVAL);
}

static void test_request_round_trip(void **state)
{
	(void)state;
	char *argv[] = { (char *)"vm", (char *)"create", (char *)"x.toml",
			 (char *)"q\"\\\n\t\xe2\x9c\x93", NULL };
	struct proto_file files[] = {
		{ .path = (char *)"x.toml", .dir = (char *)"/d",
		  .data = (char *)"bin\xff\x00z", .len = 6 },
		{ .path = (char *)"y", .error = 13 },
	};
	struct proto_request in = { .id = 99, .argc = 4, .argv = argv,
				    .color = true, .files = files, .nfiles = 2 };
	char *line = proto_encode_request(&in);
	assert_non_null(line);
	size_t len = strlen(line);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
	struct proto_request out;
	struct proto_error e;
	int64_t id;
	assert_int_equal(proto_decode_request(line, len, &out, &id, &e), 0);
	assert_int_equal(out.id, 99);
	assert_int_equal(out.argc, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(out.argv[i], argv[i]);
	assert_true(out.color);
	assert_int_equal(out.nfiles, 2);
	assert_int_equal(out.files[0].len, 6);
	assert_memory_equal(out.files[0].data, "bin\xff\x00z", 6);
	assert_string_equal(out.files[0].dir, "/d");
	assert_int_equal(out.files[1].error, 13);
	proto_request_free(&out);
	free(line);
}

static void test_response_round_trip(void **state)
{
	(void)state;
	json_t *res = json_pack("{s:[{s:i}]}", "vms", "id", 3);
	json_t *order = json_pack("[[i,i],[i,i],[i,i]]", 1, 3, 2, 2, 1, 2);
	struct proto_error err = { PROTO_E_FAILED, "\xe2\x9c\x97 bad \xff" };
	struct proto_response r = {
		.id = 5, .ok = false, .status = 1, .result = res,
		.text = "ab\ncd", .text_len = 5,
		.errtext = "E\xff", .errtext_len = 2,	/* not UTF-8: base64 */
		.error = &err, .exit = 3, .order = order,
	};
	char *line = proto_encode_response(&r);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"stderr_b64\""));
	assert_non_null(strstr(line, "\"text\":\"ab\\ncd\""));
	struct proto_decoded d;
	struct proto_error e;
	assert_int_equal(proto_decode_response(line, strlen(line), &d, &e), 0);
	assert_int_equal(d.id, 5);
	assert_false(d.ok);
	assert_int_equal(d.status, 1);
	assert_int_equal(d.text_len, 5);
	assert_memory_equal(d.text, "ab\ncd", 5);
	assert_int_equal(d.errtext_len, 2);
	assert_memory_equal(d.errtext, "E\xff", 2);
	assert_true(d.has_error);
	assert_string_equal(d.error.code, "failed");
	assert_string_equal(d.error.message, "\xe2\x9c\x97 bad ?");
	assert_int_equal(d.exit, 3);
	assert_int_equal(d.norder, 3);
	assert_int_equal(d.order[1].stream, 2);
	assert_int_equal(d.order[1].len, 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
		json_object_get(d.result, "vms"), 0), "id")), 3);
	proto_decoded_free(&d);
	free(line);

	/* an order that does not add up is refused */
	const char *bad = "{\"v\":1,\"id\":1,\"ok\":true,\"status\":0,\"text\":"
			  "\"abc\",\"order\":[[1,2]]}";
	assert_int_not_equal(proto_decode_response(bad, strlen(bad), &d, &e), 0);
	bad = "{\"v\":1,\"id\":1,\"ok\":true,\"status\":0,\"surprise\":1}";
	assert_int_not_equal(proto_decode_response(bad, strlen(bad), &d, &e), 0);
	json_decref(res);
	json_decref(order);
}

static void test_error_line(void **state)
{
	(void)state;
	char *line = proto_encode_error(12, 2, PROTO_E_REQUEST, "bad %s", "x");
	struct proto_decoded d;
	struct proto_error e;
	assert_int_equal(proto_decode_response(line, strlen(line), &d, &e), 0);
	assert_int_equal(d.id, 12);
	assert_false(d.ok);
	assert_int_equal(d.status, 2);
	assert_string_equal(d.error.code, "bad_request");
	assert_string_equal(d.error.message, "bad x");
	assert_int_equal(d.exit, -1);
	proto_decoded_free(&d);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_id_kept_on_error),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_response_round_trip),
		cmocka_unit_test(test_error_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
