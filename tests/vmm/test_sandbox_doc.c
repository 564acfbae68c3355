/*
 * test_sandbox_doc: docs/security.md documents the exact allow-lists —
 * every system call a profile allows (sandbox_allowed(), the tables the
 * filters are compiled from) appears in that file as a word, and every
 * profile is named there.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox.h"

static char *doc;

static bool has_word(const char *w)
{
	size_t n = strlen(w);
	for (const char *p = doc; (p = strstr(p, w)); p += n) {
		bool start = p == doc || !(isalnum((unsigned char)p[-1]) ||
					   p[-1] == '_');
		bool end = !(isalnum((unsigned char)p[n]) || p[n] == '_');
		if (start && end)
			return true;
	}
	return false;
}

static void test_every_call_documented(void **state)
{
	(void)state;
	for (int p = 0; p < SANDBOX_NPROFILES; p++) {
		const char *const *names;
		size_t n;
		sandbox_allowed((enum sandbox_profile)p, &names, &n);
		assert_true(n > 10);
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "**%s**",
			 sandbox_profile_name((enum sandbox_profile)p));
		if (!strstr(doc, quoted))
			fail_msg("docs/security.md does not describe profile %s",
				 quoted);
		for (size_t i = 0; i < n; i++)
			if (!has_word(names[i]))
				fail_msg("profile %s allows %s, which "
					 "docs/security.md does not list",
					 sandbox_profile_name(
						 (enum sandbox_profile)p),
					 names[i]);
	}
}

int main(void)
{
	FILE *f = fopen(SECURITY_DOC, "r");
	if (!f) {
		printf("cannot read %s\n", SECURITY_DOC);
		return 1;
	}
	doc = calloc(1, 1 << 20);
	size_t len = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	doc[len] = '\0';
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_call_documented),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(doc);
	return rc;
}
