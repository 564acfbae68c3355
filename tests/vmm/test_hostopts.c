/*
 * test_hostopts: the shared host options (src/vmm/hostopts.c) — sizes
 * with suffixes, option forms, validation messages, and the limit check's
 * refusal sentences.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hostopts.h"

static void test_parse_size(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "16M", 16ull << 20 },
		{ "16m", 16ull << 20 }, { "4G", 4ull << 30 },
		{ "4GiB", 4ull << 30 }, { "4gb", 4ull << 30 },
		{ "512K", 512ull << 10 }, { "1T", 1ull << 40 }, { "7b", 7 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		assert_int_equal(parse_size(ok[i].s, &v), 0);
		assert_true(v == ok[i].v);
	}
	static const char *const bad[] = {
		"", "G", "-1", "4 G", "4X", "4GG", "1.5G", "0x10",
		"99999999999999999999", "8388608T",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v;
		assert_int_equal(parse_size(bad[i], &v), -EINVAL);
	}
}

static void test_format_size(void **state)
{
	(void)state;
	char b[32];
	format_size(5ull << 30, b, sizeof(b));
	assert_string_equal(b, "5 GiB");
	format_size(3ull << 29, b, sizeof(b));
	assert_string_equal(b, "1.5 GiB");
	format_size(16ull << 20, b, sizeof(b));
	assert_string_equal(b, "16 MiB");
	format_size(4096, b, sizeof(b));
	assert_string_equal(b, "4 KiB");
	format_size(1, b, sizeof(b));
	assert_string_equal(b, "1 byte");
}

static void test_options(void **state)
{
	(void)state;
	struct host_opts o = {0};
	struct cv_err e = {0};
	static const char *const words[] = { "cvisor", "--max-vms", "16",
		"--max-memory=4G", "--no-seccomp", "--max-vcpus=8",
		"--console-log-cap", "1M", "--other" };
	char buf[9][32], *argv[9];
	for (int k = 0; k < 9; k++) {
		snprintf(buf[k], sizeof(buf[k]), "%s", words[k]);
		argv[k] = buf[k];
	}
	int argc = 9;
	int i = 1;
	assert_int_equal(host_opt_argv(&o, argc, argv, &i, &e), 1);
	assert_int_equal(i, 2);
	for (i = 3; i < 8; i++)
		assert_int_equal(host_opt_argv(&o, argc, argv, &i, &e), 1);
	assert_int_equal(host_opt_argv(&o, argc, argv, &i, &e), 0);
	assert_int_equal(o.max_vms, 16);
	assert_true(o.max_memory == 4ull << 30);
	assert_true(o.no_seccomp);
	assert_int_equal(o.max_vcpus, 8);
	assert_true(o.console_log_cap == 1ull << 20);

	assert_int_equal(host_opt_set(&o, "max-vcpus", "65", &e), -EINVAL);
	assert_string_equal(e.msg, "--max-vcpus: expected a number from 1 to "
				   "64, got '65'");
	assert_int_equal(host_opt_set(&o, "max-memory", "512K", &e), -EINVAL);
	assert_string_equal(e.msg, "--max-memory: expected a size of at least "
				   "1 MiB (e.g. 4G, 512M), got '512K'");
	assert_int_equal(host_opt_set(&o, "no-seccomp", "x", &e), -EINVAL);
	char tailw[] = "--max-vms", *tail[] = { tailw };
	i = 0;
	assert_int_equal(host_opt_argv(&o, 1, tail, &i, &e), -EINVAL);
	assert_string_equal(e.msg, "--max-vms needs a value");
	/* a refused value leaves the option as it was */
	assert_int_equal(o.max_vcpus, 8);
}

static void test_limits(void **state)
{
	(void)state;
	struct vm_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cpu_num = 4;
	cfg.n_regions = 1;
	cfg.regions[0].size = 2ull << 30;
	cfg.regions[0].map_type = 0;
	struct host_opts o = { .max_vms = 2, .max_memory = 4ull << 30,
			       .max_vcpus = 4 };
	struct cv_err e = {0};
	assert_int_equal(host_limits_check(&o, &cfg, 1, 2ull << 30, &e), 0);
	assert_int_equal(host_limits_check(&o, &cfg, 1, 3ull << 30, &e),
			 -ENOSPC);
	assert_string_equal(e.msg, "total guest memory would be 5 GiB, limit "
				   "4 GiB (--max-memory)");
	assert_int_equal(host_limits_check(&o, &cfg, 2, 0, &e), -ENOSPC);
	assert_string_equal(e.msg, "the number of VMs would be 3, limit 2 "
				   "(--max-vms)");
	o.max_vcpus = 1;
	assert_int_equal(host_limits_check(&o, &cfg, 0, 0, &e), -ENOSPC);
	assert_string_equal(e.msg, "4 vCPUs, limit 1 per VM (--max-vcpus)");
	/* the defaults: 1024 VMs, 64 vCPUs, host RAM, 16 MiB logs */
	struct host_opts d = {0};
	assert_int_equal(host_max_vms(&d), 1024);
	assert_int_equal(host_max_vcpus(&d), 64);
	assert_true(host_log_cap(&d) == 16ull << 20);
	assert_true(host_max_memory(&d) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
