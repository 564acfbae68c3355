/*
 * test_toml: unit tests of the TOML parser's document API: typed look-ups,
 * key order, positions of values and keys, error positions and messages,
 * 64-bit limits, strings with NUL bytes, and regressions found by fuzzing.
 * The grammar as a whole is covered by the toml-test corpus test.
 */
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "toml.h"

/*
 * Allocation failure injection: the parser is linked with --wrap for the
 * allocator, and alloc_budget (when >= 0) is the number of allocations
 * that still succeed.  Only test_out_of_memory sets it.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long alloc_budget = -1;

static bool alloc_allowed(void)
{
	if (alloc_budget < 0)
		return true;
	if (alloc_budget == 0)
		return false;
	alloc_budget--;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return alloc_allowed() ? __real_malloc(n) : NULL;
}

void *__wrap_calloc(size_t n, size_t size)
{
	return alloc_allowed() ? __real_calloc(n, size) : NULL;
}

void *__wrap_realloc(void *p, size_t n)
{
	return alloc_allowed() ? __real_realloc(p, n) : NULL;
}

/*
 * Parse from an exactly-sized heap copy without a terminating NUL, so a
 * read past the end is caught by ASan.
 */
static toml_value *parse_n(const char *src, size_t len, struct toml_error *err)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, src, len);
	toml_value *root = toml_parse(copy, len, err);
	free(copy);	/* the tree must not point into the input */
	return root;
}

static toml_value *parse(const char *src)
{
	struct toml_error err;
	toml_value *root = parse_n(src, strlen(src), &err);
	if (!root)
		fail_msg("unexpected error at %d:%d: %s", err.line, err.col,
			 err.msg);
	return root;
}

static void test_typed_lookups(void **state)
{
	(void)state;
	toml_value *root = parse("s = 'str'\ni = 42\nf = 1.5\nb = true\n"
				 "a = [1, 2]\n[t]\nk = 'v'\n");
	const char *s = NULL;
	int64_t i = 0;
	double f = 0;
	bool b = false;
	const toml_value *t = NULL, *a = NULL, *found = NULL;

	assert_int_equal(toml_get_string(root, "s", &s, NULL), TOML_OK);
	assert_string_equal(s, "str");
	assert_int_equal(toml_get_int(root, "i", &i, NULL), TOML_OK);
	assert_int_equal(i, 42);
	assert_int_equal(toml_get_float(root, "f", &f, NULL), TOML_OK);
	assert_true(f == 1.5);
	assert_int_equal(toml_get_bool(root, "b", &b, NULL), TOML_OK);
	assert_true(b);
	assert_int_equal(toml_get_array(root, "a", &a, NULL), TOML_OK);
	assert_int_equal(toml_array_len(a), 2);
	assert_int_equal(toml_as_int(toml_array_at(a, 1)), 2);
	assert_null(toml_array_at(a, 2));
	assert_int_equal(toml_get_table(root, "t", &t, NULL), TOML_OK);
	assert_int_equal(toml_get_string(t, "k", &s, NULL), TOML_OK);
	assert_string_equal(s, "v");

	/* Missing: found is cleared; out is untouched. */
	found = root;
	i = 7;
	assert_int_equal(toml_get_int(root, "nope", &i, &found), TOML_MISSING);
	assert_null(found);
	assert_int_equal(i, 7);
	assert_int_equal(toml_get_int(NULL, "i", &i, NULL), TOML_MISSING);
	assert_int_equal(toml_get_int(t, "i", &i, NULL), TOML_MISSING);

	/* Wrong type: found is what was there. */
	assert_int_equal(toml_get_int(root, "s", &i, &found), TOML_WRONG_TYPE);
	assert_non_null(found);
	assert_int_equal(toml_type(found), TOML_STRING);
	assert_int_equal(i, 7);
	assert_int_equal(toml_get_float(root, "i", &f, &found),
			 TOML_WRONG_TYPE);
	assert_int_equal(toml_type(found), TOML_INTEGER);
	assert_int_equal(toml_get_table(root, "a", &t, &found),
			 TOML_WRONG_TYPE);
	assert_int_equal(toml_get_array(root, "t", &a, &found),
			 TOML_WRONG_TYPE);
	assert_int_equal(toml_get_string(root, "b", &s, &found),
			 TOML_WRONG_TYPE);
	assert_int_equal(toml_get_bool(root, "i", &b, &found),
			 TOML_WRONG_TYPE);

	/* Accessors of the wrong type are harmless. */
	assert_null(toml_as_string(found, NULL));
	assert_null(toml_as_datetime(found));
	assert_int_equal(toml_table_len(found), 0);
	assert_int_equal(toml_array_len(found), 0);
	assert_null(toml_table_get(NULL, "x"));
	assert_string_equal(toml_type_name(TOML_INTEGER), "integer");
	assert_string_equal(toml_type_name(TOML_TABLE), "table");
	toml_free(root);
	toml_free(NULL);
}

static void test_key_order(void **state)
{
	(void)state;
	toml_value *root = parse("zeta = 1\nalpha = 2\n\"quoted key\" = 3\n"
				 "dot.ted = 4\nmiddle = 5\n[tab]\n"
				 "[[arr]]\n[arr.sub]\n");
	static const char *want[] = { "zeta", "alpha", "quoted key", "dot",
				      "middle", "tab", "arr" };
	assert_int_equal(toml_table_len(root), 7);
	for (size_t i = 0; i < 7; i++) {
		size_t len;
		const char *k = toml_table_key(root, i, &len);
		assert_string_equal(k, want[i]);
		assert_int_equal(len, strlen(want[i]));
		assert_ptr_equal(toml_table_value(root, i),
				 toml_table_get(root, want[i]));
	}
	assert_null(toml_table_key(root, 7, NULL));
	assert_null(toml_table_value(root, 7));
	toml_free(root);
}

/* A table past the hash-index threshold finds every key and no others. */
static void test_many_keys(void **state)
{
	(void)state;
	size_t n = 5000, cap = n * 32, o = 0;
	char *doc = malloc(cap);
	assert_non_null(doc);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(doc + o, cap - o, "key%zu = %zu\n", i,
				      i * 3);
	struct toml_error err;
	toml_value *root = parse_n(doc, o, &err);
	assert_non_null(root);
	assert_int_equal(toml_table_len(root), n);
	for (size_t i = 0; i < n; i++) {
		char k[32];
		int64_t v;
		snprintf(k, sizeof(k), "key%zu", i);
		assert_int_equal(toml_get_int(root, k, &v, NULL), TOML_OK);
		assert_int_equal(v, (int64_t)(i * 3));
		assert_string_equal(toml_table_key(root, i, NULL), k);
	}
	assert_null(toml_table_get(root, "key5000"));
	assert_null(toml_table_get(root, "key"));
	toml_free(root);
	/* And a duplicate among them is still caught. */
	o += (size_t)snprintf(doc + o, cap - o, "key4321 = 0\n");
	assert_null(parse_n(doc, o, &err));
	assert_int_equal(err.line, (int)n + 1);
	assert_non_null(strstr(err.msg, "duplicate key 'key4321'"));
	free(doc);
}

static void test_positions(void **state)
{
	(void)state;
	toml_value *root = parse("# comment\n"
				 "name = \"x\"\n"
				 "  port\t=  8080  # trailing\n"
				 "list = [\n  1,\n  'two',\n]\n"
				 "\n"
				 "[server]\n"
				 "inl = { a = 1, b.c = 2 }\n"
				 "[[disk]]\n"
				 "id = 1\n"
				 "[[disk]]\n"
				 "id = 2\n");
	const toml_value *v = toml_table_get(root, "name");
	assert_int_equal(toml_line(v), 2);
	assert_int_equal(toml_col(v), 8);
	assert_int_equal(toml_table_key_line(root, 0), 2);
	assert_int_equal(toml_table_key_col(root, 0), 1);

	v = toml_table_get(root, "port");
	assert_int_equal(toml_line(v), 3);
	assert_int_equal(toml_col(v), 11);
	assert_int_equal(toml_table_key_line(root, 1), 3);
	assert_int_equal(toml_table_key_col(root, 1), 3);

	v = toml_table_get(root, "list");
	assert_int_equal(toml_line(v), 4);
	assert_int_equal(toml_col(v), 8);
	assert_int_equal(toml_line(toml_array_at(v, 0)), 5);
	assert_int_equal(toml_col(toml_array_at(v, 0)), 3);
	assert_int_equal(toml_line(toml_array_at(v, 1)), 6);
	assert_int_equal(toml_col(toml_array_at(v, 1)), 3);

	const toml_value *srv = toml_table_get(root, "server");
	assert_int_equal(toml_line(srv), 9);
	assert_int_equal(toml_col(srv), 1);
	assert_int_equal(toml_table_key_line(root, 3), 9);
	assert_int_equal(toml_table_key_col(root, 3), 2);
	v = toml_table_get(srv, "inl");
	assert_int_equal(toml_line(v), 10);
	assert_int_equal(toml_col(v), 7);
	assert_int_equal(toml_col(toml_table_get(v, "a")), 13);
	assert_int_equal(toml_table_key_col(v, 0), 9);
	/* b.c: the key of entry "b" is where "b" was written. */
	assert_int_equal(toml_table_key_col(v, 1), 16);
	assert_int_equal(toml_col(toml_table_get(toml_table_get(v, "b"), "c")),
			 22);

	const toml_value *disk = toml_table_get(root, "disk");
	assert_int_equal(toml_array_len(disk), 2);
	assert_int_equal(toml_line(toml_array_at(disk, 0)), 11);
	assert_int_equal(toml_line(toml_array_at(disk, 1)), 13);
	assert_int_equal(toml_line(toml_table_get(toml_array_at(disk, 1),
						  "id")), 14);
	assert_int_equal(toml_line(root), 1);
	toml_free(root);

	/* CRLF lines and a BOM do not shift columns. */
	root = parse("\xEF\xBB\xBF" "a = 1\r\n  b = 2\r\n");
	assert_int_equal(toml_col(toml_table_get(root, "a")), 5);
	assert_int_equal(toml_line(toml_table_get(root, "b")), 2);
	assert_int_equal(toml_col(toml_table_get(root, "b")), 7);
	toml_free(root);

	/* A table defined after being implied points at its header. */
	root = parse("[a.b]\nx = 1\n\n[a]\ny = 2\n");
	assert_int_equal(toml_line(toml_table_get(root, "a")), 4);
	assert_int_equal(toml_table_key_line(root, 0), 4);
	toml_free(root);
}

struct bad_doc {
	const char *src;
	int line, col;
	const char *msg;	/* a substring of the message */
};

static const struct bad_doc bad_docs[] = {
	{ "a = 1\na = 2\n", 2, 1, "duplicate key 'a'" },
	{ "[t]\nx = 1\n[t]\n", 3, 2, "table 't' is already defined" },
	{ "a = \"abc\nb = 1\n", 1, 5, "not closed before the end of the line" },
	{ "s = \"a\\qb\"", 1, 7, "invalid escape sequence" },
	{ "s = \"\\uD800\"", 1, 6, "not a Unicode scalar value" },
	{ "s = \"\\U00110000\"", 1, 6, "not a Unicode scalar value" },
	{ "n = 0x\n", 1, 7, "base-16 digit" },
	{ "n = 01", 1, 5, "leading zeros" },
	{ "n = 1__0", 1, 6, "underscore" },
	{ "n = 9223372036854775808", 1, 5, "does not fit in 64 bits" },
	{ "f = 1e999", 1, 5, "too large" },
	{ "d = 2021-02-29", 1, 5, "has no day 29" },
	{ "t = 24:00:00", 1, 5, "out of range" },
	{ "x = {a = 1,}", 1, 12, "trailing comma" },
	{ "x = {a = 1\n}", 1, 11, "same line" },
	{ "x = [1 2]", 1, 8, "expected ',' or ']'" },
	{ "x = [1, 2", 1, 5, "unterminated array" },
	{ "\n\nkey", 3, 4, "expected '=' after the key" },
	{ "# comment \x01\n", 1, 11, "control character U+0001" },
	{ "a = 1 b = 2", 1, 7, "expected the end of the line" },
	{ "a = \"\xff\"", 1, 6, "not valid UTF-8" },
	{ "a.b = 1\na.b.c = 2", 2, 3, "already an integer" },
	{ "a = {b = 1}\na.c = 2", 2, 1, "inline table 'a' cannot be extended" },
	{ "x = [1]\n[[x]]", 2, 3, "cannot append to array 'x'" },
	{ "[a]\nb.c = 1\n[a.b]\n", 3, 4, "table 'a.b' is already defined" },
	{ "[a.b]\n[a]\nb.c = 1\n", 3, 1, "cannot be extended with dotted keys" },
	{ "k = tru", 1, 5, "invalid value" },
	{ "k = bare", 1, 5, "strings need quotes" },
	{ "k =", 1, 4, "expected a value, found end of file" },
	{ "[a\nb]", 1, 3, "expected ']' to close" },
	{ "\"k\"\"\" = 1", 1, 4, "expected '='" },
	{ "'''k''' = 1", 1, 1, "multi-line" },
	{ "a = 1\r\r\n", 1, 6, "carriage return" },
	{ "s = '''a''''''", 1, 9, "three quotes" },
	{ "s = 'a\x7f'", 1, 7, "U+007F is not allowed in a literal string" },
	{ "s = \"a\x1b\"", 1, 7, "U+001B must be escaped" },
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		const struct bad_doc *b = &bad_docs[i];
		struct toml_error err;
		memset(&err, 0x55, sizeof(err));
		toml_value *root = parse_n(b->src, strlen(b->src), &err);
		if (root)
			fail_msg("document %zu was accepted: %s", i, b->src);
		if (err.line != b->line || err.col != b->col ||
		    !strstr(err.msg, b->msg))
			fail_msg("document %zu: got %d:%d '%s', want %d:%d "
				 "'...%s...'", i, err.line, err.col, err.msg,
				 b->line, b->col, b->msg);
		assert_true(strlen(err.msg) < sizeof(err.msg));
		assert_null(strchr(err.msg, '\n'));
	}
}

static void test_int_limits(void **state)
{
	(void)state;
	toml_value *root = parse("max = 9223372036854775807\n"
				 "min = -9223372036854775808\n"
				 "hex = 0x7fff_ffff_ffff_FFFF\n"
				 "oct = 0o777_777_777_777_777_777_777\n"
				 "bin = 0b111111111111111111111111111111"
				 "111111111111111111111111111111111\n"
				 "neg0 = -0\nplus = +99\n");
	assert_int_equal(toml_as_int(toml_table_get(root, "max")), INT64_MAX);
	assert_int_equal(toml_as_int(toml_table_get(root, "min")), INT64_MIN);
	assert_int_equal(toml_as_int(toml_table_get(root, "hex")), INT64_MAX);
	assert_int_equal(toml_as_int(toml_table_get(root, "oct")), INT64_MAX);
	assert_int_equal(toml_as_int(toml_table_get(root, "bin")), INT64_MAX);
	assert_int_equal(toml_as_int(toml_table_get(root, "neg0")), 0);
	assert_int_equal(toml_as_int(toml_table_get(root, "plus")), 99);
	toml_free(root);

	static const char *overflow[] = {
		"x = 9223372036854775808", "x = -9223372036854775809",
		"x = 0x8000000000000000", "x = 0o1000000000000000000000",
		"x = 0b1000000000000000000000000000000000000000000000000000000000000000",
		"x = 99999999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(overflow) / sizeof(overflow[0]); i++) {
		struct toml_error err;
		assert_null(parse_n(overflow[i], strlen(overflow[i]), &err));
		assert_non_null(strstr(err.msg, "64 bits"));
	}
}

static void test_nul_in_strings(void **state)
{
	(void)state;
	toml_value *root = parse("s = \"a\\u0000b\"\n\"k\\u0000ey\" = 1\n"
				 "m = \"\"\"x\\U00000000\"\"\"\n");
	size_t len;
	const char *s = toml_as_string(toml_table_get(root, "s"), &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);	/* still NUL-terminated */
	s = toml_as_string(toml_table_get(root, "m"), &len);
	assert_int_equal(len, 2);
	assert_memory_equal(s, "x\0", 3);

	const char *k = toml_table_key(root, 1, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(k, "k\0ey", 5);
	assert_null(toml_table_get(root, "k"));
	const toml_value *v = toml_table_getn(root, "k\0ey", 4);
	assert_non_null(v);
	assert_int_equal(toml_as_int(v), 1);
	toml_free(root);

	/* A raw NUL byte is never allowed. */
	struct toml_error err;
	assert_null(parse_n("s = \"a\0b\"", 9, &err));
	assert_int_equal(err.col, 7);
	assert_null(parse_n("# a\0b", 5, &err));
}

/* Only len bytes are read: what follows them does not matter. */
static void test_not_terminated(void **state)
{
	(void)state;
	const char src[] = "a = 12345";
	struct toml_error err;
	toml_value *root = toml_parse(src, 5, &err);
	assert_non_null(root);
	assert_int_equal(toml_as_int(toml_table_get(root, "a")), 1);
	toml_free(root);

	root = toml_parse(NULL, 0, &err);
	assert_non_null(root);
	assert_int_equal(toml_table_len(root), 0);
	toml_free(root);

	/* Every prefix of a rich document: accepted or rejected, no crash. */
	static const char doc[] =
		"t = 1979-05-27T07:32:00.999999-07:00 # c\n"
		"s = \"\"\"\\\n  x\\u00e9\\U0001F600\"\"\"\n"
		"l = '''a'b''c'''\nf = -1_0.5e+1_0\nh = 0xdead_BEEF\n"
		"[a.'b'.\"c\"]\ni = { x = [1, [2, {y = 3}]], z.w = nan }\n"
		"[[q]]\nd = 07:00:00\n";
	for (size_t n = 0; n <= sizeof(doc) - 1; n++) {
		root = parse_n(doc, n, &err);
		toml_free(root);
	}
	root = parse(doc);
	toml_free(root);
}

static void test_scalars(void **state)
{
	(void)state;
	toml_value *root = parse(
		"odt = 1979-05-27T07:32:00.123456789123-07:30\n"
		"z = 1979-05-27 07:32:00z\n"
		"ldt = 2000-02-29T23:59:60.5\n"
		"ld = 1979-05-27\n"
		"lt = 00:32:00.01\n"
		"pinf = +inf\nninf = -inf\nnan = nan\n"
		"f1 = 6.626e-34\nf2 = -0.0\nf3 = 1_000.000_1\nf4 = 1E2\n"
		"ml = \"\"\"\r\nline1 \\\r\n   \t\r\n  line2\r\n\"\"\"\n"
		"lit = 'C:\\path'\n"
		"q = \"\"\"two \"\"quotes\"\"\"\"\"\n");
	const struct toml_datetime *dt =
		toml_as_datetime(toml_table_get(root, "odt"));
	assert_int_equal(toml_type(toml_table_get(root, "odt")), TOML_DATETIME);
	assert_int_equal(dt->year, 1979);
	assert_int_equal(dt->month, 5);
	assert_int_equal(dt->day, 27);
	assert_int_equal(dt->hour, 7);
	assert_int_equal(dt->nanosecond, 123456789);
	assert_int_equal(dt->frac_digits, 12);
	assert_int_equal(dt->offset_minutes, -450);
	assert_false(dt->offset_z);
	dt = toml_as_datetime(toml_table_get(root, "z"));
	assert_true(dt->offset_z);
	assert_int_equal(dt->offset_minutes, 0);
	assert_int_equal(dt->frac_digits, 0);
	dt = toml_as_datetime(toml_table_get(root, "ldt"));
	assert_int_equal(toml_type(toml_table_get(root, "ldt")),
			 TOML_DATETIME_LOCAL);
	assert_int_equal(dt->second, 60);
	assert_int_equal(dt->nanosecond, 500000000);
	assert_int_equal(toml_type(toml_table_get(root, "ld")),
			 TOML_DATE_LOCAL);
	dt = toml_as_datetime(toml_table_get(root, "lt"));
	assert_int_equal(toml_type(toml_table_get(root, "lt")),
			 TOML_TIME_LOCAL);
	assert_int_equal(dt->minute, 32);
	assert_int_equal(dt->nanosecond, 10000000);
	assert_int_equal(dt->frac_digits, 2);

	assert_true(isinf(toml_as_float(toml_table_get(root, "pinf"))));
	assert_true(toml_as_float(toml_table_get(root, "pinf")) > 0);
	assert_true(toml_as_float(toml_table_get(root, "ninf")) < 0);
	assert_true(isnan(toml_as_float(toml_table_get(root, "nan"))));
	assert_true(toml_as_float(toml_table_get(root, "f1")) == 6.626e-34);
	assert_true(signbit(toml_as_float(toml_table_get(root, "f2"))));
	assert_true(toml_as_float(toml_table_get(root, "f3")) == 1000.0001);
	assert_true(toml_as_float(toml_table_get(root, "f4")) == 100.0);

	size_t len;
	const char *s = toml_as_string(toml_table_get(root, "ml"), &len);
	assert_string_equal(s, "line1 line2\n");
	s = toml_as_string(toml_table_get(root, "lit"), &len);
	assert_string_equal(s, "C:\\path");
	s = toml_as_string(toml_table_get(root, "q"), &len);
	assert_string_equal(s, "two \"\"quotes\"\"");
	toml_free(root);
}

/*
 * Build a German locale in a private directory when none is installed
 * (Debian ships the sources); returns the directory to remove, or NULL.
 */
static char *make_decimal_comma_locale(void)
{
	static char dir[] = "/tmp/toml-locale-XXXXXX";
	char cmd[256];
	if (access("/usr/share/i18n/locales/de_DE", R_OK) != 0 || !mkdtemp(dir))
		return NULL;
	snprintf(cmd, sizeof(cmd), "localedef -i de_DE -f UTF-8 "
		 "%s/de_DE.UTF-8 >/dev/null 2>&1", dir);
	if (system(cmd) != 0 || setenv("LOCPATH", dir, 1) != 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			print_message("cannot remove %s\n", dir);
		return NULL;
	}
	return dir;
}

/* strtod() is locale dependent; the parser must not be. */
static void test_locale(void **state)
{
	(void)state;
	const char *got = setlocale(LC_NUMERIC, "de_DE.UTF-8");
	char *made = NULL;
	if (!got && (made = make_decimal_comma_locale()))
		got = setlocale(LC_NUMERIC, "de_DE.UTF-8");
	bool comma = got && strcmp(localeconv()->decimal_point, ",") == 0;
	toml_value *root = comma ? parse("f = 3.25\ng = 1e-2\n") : NULL;
	setlocale(LC_NUMERIC, "C");
	if (made) {
		char cmd[256];
		unsetenv("LOCPATH");
		snprintf(cmd, sizeof(cmd), "rm -rf %s", made);
		if (system(cmd) != 0)
			print_message("cannot remove %s\n", made);
	}
	if (!comma) {
		print_message("no locale with a decimal comma is available\n");
		skip();
	}
	assert_true(toml_as_float(toml_table_get(root, "f")) == 3.25);
	assert_true(toml_as_float(toml_table_get(root, "g")) == 0.01);
	toml_free(root);
}

static void test_depth_limit(void **state)
{
	(void)state;
	size_t n = 100000;
	char *doc = malloc(n + 8);	/* n + 3 bytes are used */
	assert_non_null(doc);
	memcpy(doc, "a = ", 4);
	memset(doc + 4, '[', n);
	struct toml_error err;
	assert_null(parse_n(doc, n + 4, &err));
	assert_non_null(strstr(err.msg, "nested"));

	for (size_t i = 0; i < n / 4; i++)
		memcpy(doc + 4 + 4 * i, "{a= ", 4);
	assert_null(parse_n(doc, n + 4, &err));
	assert_non_null(strstr(err.msg, "nested"));

	/* Dotted keys and headers nest tables without recursion. */
	for (size_t i = 0; i < n / 2; i++)
		memcpy(doc + 2 * i, "a.", 2);
	memcpy(doc + n, "a=1", 3);
	assert_null(parse_n(doc, n + 3, &err));
	assert_non_null(strstr(err.msg, "nested"));
	doc[0] = '[';
	for (size_t i = 0; i < n / 2; i++)
		memcpy(doc + 1 + 2 * i, "a.", 2);
	memcpy(doc + n + 1, "a]", 2);
	assert_null(parse_n(doc, n + 3, &err));
	assert_non_null(strstr(err.msg, "nested"));
	free(doc);

	/* Shallow enough is fine. */
	toml_value *root = parse("a = [[[[[[[[[[1]]]]]]]]]]\n"
				 "b = {c = {d = {e = {f = 1}}}}\n");
	toml_free(root);
}

/* Every redefinition rule of TOML 1.0, checked both ways. */
static void test_redefinitions(void **state)
{
	(void)state;
	static const char *valid[] = {
		"[a.b.c]\n[a]\n[a.b]\n",
		"[a]\nb.c = 1\nb.d = 2\n[a.b.e]\n",
		"a.b.c = 1\n[a.b.d]\nx = 1\n",
		"[[a]]\n[a.b]\n[[a]]\n[a.b]\n",
		"[[a.b]]\n[a]\nc = 1\n",
		"[fruit]\napple.color = 'red'\n[[fruit.apple.seeds]]\n",
		"x = {a.b = 1, a.c = 2}\n",
		"[a.b.c]\n[a]\nb.d = 1\n",
		"'' = 1\n[x.\"\"]\ny = 1\n",
	};
	static const char *invalid[] = {
		"[a]\n[a]\n",
		"a = 1\n[a]\n",
		"[a]\nb = 1\n[a.b]\n",
		"a.b = 1\n[a]\n",
		"[a.b]\n[a]\nb.c = 1\n",
		"[[a]]\n[a]\n",
		"[a]\n[[a]]\n",
		"a = []\n[[a]]\n",
		"a = [{}]\n[a.b]\n",
		"a = {}\n[a.b]\n",
		"a = {b = {}}\n[a.b]\n",
		"a = {b = {}}\na.b.c = 1\n",
		"x = {a = {b = 1}, a.c = 2}\n",
		"x = {a.b = 1, a = 2}\n",
		"[[a.b]]\n[a]\nb.c = 1\n",
		"[a.b.c.d]\n[a]\nb.c.d.e = 1\n",
		"[[a]]\nb = 1\nb = 2\n",
		"[a]\nb.c = 1\n[a.b]\n",
		"a.b = 1\na.b.c = 1\n",
		"a = 1\na = 1\n",
	};
	struct toml_error err;
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		toml_value *root = parse_n(valid[i], strlen(valid[i]), &err);
		if (!root)
			fail_msg("valid %zu rejected: %s", i, err.msg);
		toml_free(root);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		toml_value *root = parse_n(invalid[i], strlen(invalid[i]), &err);
		if (root)
			fail_msg("invalid %zu accepted: %s", i, invalid[i]);
		assert_true(err.line >= 1);
	}
}

/* Every allocation failure is reported as such and leaks nothing. */
static void test_out_of_memory(void **state)
{
	(void)state;
	size_t cap = 64 * 1024, o = 0;
	char *doc = malloc(cap);
	assert_non_null(doc);
	/* Long strings grow the scratch buffers, 40 keys build a hash
	 * index, 20 KB of string needs a chunk of its own. */
	o += (size_t)snprintf(doc + o, cap - o, "s = \"%0300d\"\n"
			      "l = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
			      "i = { a.b = 1, c = [{}] }\n", 7);
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(doc + o, cap - o, "k%d = 'v'\n", i);
	o += (size_t)snprintf(doc + o, cap - o, "big = '");
	memset(doc + o, 'y', 20000);
	o += 20000;
	o += (size_t)snprintf(doc + o, cap - o, "'\n[[t.u]]\n[t.v]\nx = 1\n");

	struct toml_error err;
	long budget;
	for (budget = 0; budget < 100000; budget++) {
		alloc_budget = budget;
		toml_value *root = toml_parse(doc, o, &err);
		alloc_budget = -1;
		if (root) {
			assert_int_equal(toml_table_len(root), 45);
			toml_free(root);
			break;
		}
		if (strcmp(err.msg, "out of memory") != 0 || err.line != 0)
			fail_msg("budget %ld: %d:%d %s", budget, err.line,
				 err.col, err.msg);
	}
	print_message("parse succeeded with %ld allocations\n", budget);
	assert_true(budget >= 5 && budget < 100000);
	free(doc);
}

/* Inputs that once broke the parser (found by fuzzing or sanitizers). */
static void test_fuzz_regressions(void **state)
{
	(void)state;
#define CASE(src, valid) { src, sizeof(src) - 1, valid }
	static const struct {
		const char *src;
		size_t len;
		bool valid;
	} cases[] = {
		/* empty keys: memcpy() from a NULL buffer (UBSan) */
		CASE("\"\" = 1", true),
		CASE("[\"\"]\n''.'' = 1", true),
		CASE("a.\"\".b = ''", true),
	};
#undef CASE
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct toml_error err;
		toml_value *root = parse_n(cases[i].src, cases[i].len, &err);
		if ((root != NULL) != cases[i].valid)
			fail_msg("case %zu: %s", i, root ? "accepted" : err.msg);
		toml_free(root);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_typed_lookups),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_positions),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_int_limits),
		cmocka_unit_test(test_nul_in_strings),
		cmocka_unit_test(test_not_terminated),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_locale),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_redefinitions),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_fuzz_regressions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
