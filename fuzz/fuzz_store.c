/*
 * fuzz_store: libFuzzer target for the definition-file decoder
 * (store_def_decode, src/daemon/store.c).  Besides "no crash, no leak, no
 * UB" it checks the contract: a rejection comes with a sentence and leaves
 * nothing allocated; an accepted definition satisfies the documented
 * limits, encodes, and that encoding decodes to the same definition and
 * encodes to the same bytes (a fixed point).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const struct store_def *a, const struct store_def *b)
{
	if (a->id != b->id || a->autostart != b->autostart ||
	    a->created != b->created || strcmp(a->name, b->name) ||
	    strcmp(a->config_path, b->config_path) ||
	    a->config_len != b->config_len ||
	    memcmp(a->config, b->config, a->config_len))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_def d;
	struct cv_err e = {0};
	int rc = store_def_decode((const char *)data, size, &d, &e);
	if (rc) {
		if (!e.msg[0] || d.name || d.config || d.config_path)
			__builtin_trap();
		return 0;
	}
	if (!d.name[0] || strlen(d.name) >= STORE_NAME_MAX ||
	    d.config_len > STORE_CONFIG_MAX ||
	    strlen(d.config) != d.config_len ||
	    (d.config_path[0] && d.config_path[0] != '/'))
		__builtin_trap();
	size_t len;
	char *text = store_def_encode(&d, &len, &e);
	if (!text)
		__builtin_trap();
	struct store_def back;
	if (store_def_decode(text, len, &back, &e))
		__builtin_trap();
	same(&d, &back);
	size_t len2;
	char *text2 = store_def_encode(&back, &len2, &e);
	if (!text2 || len2 != len || memcmp(text, text2, len))
		__builtin_trap();
	free(text2);
	free(text);
	store_def_fini(&back);
	store_def_fini(&d);
	return 0;
}
