/*
 * The exception latch's offset (src/backend/emu/uc_latch.h): the value
 * cvisor's Unicorn module carries (found at build time) must be what the
 * experiment finds at run time, and the experiment must find a unique slot
 * in both builds (the module and libunicorn.so.2, whichever
 * $CVISOR_LIBUNICORN names: argv[1] "module" or "system").
 */
#include "uc_lazy.h"
#include "uc_latch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const char *which;

static long find_on_fresh_engine(void)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	uc_engine *uc;
	assert_int_equal(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), UC_ERR_OK);
	assert_int_equal(uc_mem_map_ptr(uc, 0x1000, sizeof(page), UC_PROT_ALL,
					page), UC_ERR_OK);
	long off = uc_latch_find(uc, 0x1000, page);
	uc_close(uc);
	return off;
}

static void test_latch_offset(void **state)
{
	(void)state;
	char err[256];
	if (uc_lazy_load(err, sizeof(err)))
		fail_msg("%s", err);
	long found = find_on_fresh_engine();
	long carried = uc_lazy_latch_offset();
	printf("# %s (%s): found %ld, carried %ld\n", which, uc_lazy_path(),
	       found, carried);
	assert_true(found >= 0);
	if (strcmp(which, "module") == 0) {
		assert_non_null(strstr(uc_lazy_path(), "cvisor-unicorn.so"));
		assert_int_equal(carried, found);
	} else {
		assert_null(strstr(uc_lazy_path(), "cvisor-unicorn.so"));
		assert_int_equal(carried, UC_LATCH_UNKNOWN);
	}
}

int main(int argc, char **argv)
{
	which = argc > 1 ? argv[1] : "system";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latch_offset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
