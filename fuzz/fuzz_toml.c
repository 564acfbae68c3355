/*
 * fuzz_toml: libFuzzer target for the TOML parser.  Beyond "no crash, no
 * leak, no out-of-bounds read", it checks what the API promises: a failed
 * parse always explains itself, and every key of a parsed document is
 * found again by look-up, with sane positions and NUL-terminated strings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
	if (!ok)
		abort();	/* a broken promise is a finding */
}

static void walk(const toml_value *v, int depth)
{
	check(depth < 1000);
	check(toml_line(v) >= 1 && toml_col(v) >= 1);
	enum toml_type t = toml_type(v);
	check(strcmp(toml_type_name(t), "unknown") != 0);
	if (t == TOML_TABLE) {
		for (size_t i = 0; i < toml_table_len(v); i++) {
			size_t klen;
			const char *k = toml_table_key(v, i, &klen);
			const toml_value *c = toml_table_value(v, i);
			check(k && k[klen] == '\0' && c);
			check(toml_table_getn(v, k, klen) == c);
			check(toml_table_key_line(v, i) >= 1 &&
			      toml_table_key_col(v, i) >= 1);
			walk(c, depth + 1);
		}
	} else if (t == TOML_ARRAY) {
		for (size_t i = 0; i < toml_array_len(v); i++)
			walk(toml_array_at(v, i), depth + 1);
	} else if (t == TOML_STRING) {
		size_t len;
		const char *s = toml_as_string(v, &len);
		check(s && s[len] == '\0');
	} else if (t >= TOML_DATETIME && t <= TOML_TIME_LOCAL) {
		const struct toml_datetime *dt = toml_as_datetime(v);
		check(dt && dt->nanosecond >= 0 && dt->nanosecond < 1000000000);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_error err;
	toml_value *root = toml_parse((const char *)data, size, &err);
	if (!root) {
		check(err.msg[0] != '\0');
		check(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		check(err.line >= 0 && err.col >= 0);
		return 0;
	}
	walk(root, 0);
	toml_free(root);
	return 0;
}
