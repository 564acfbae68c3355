/*
 * test_cpuid: the guest-visible CPU identity both backends share
 * (src/common/cpuid.c): leaf 1 APIC ID / logical count / HTT / hypervisor
 * bit with the model's other bits kept, the "cvisor" leaf, leaf 0xB/0x1F
 * topology for 1..64 vCPUs, leaf 4 core counts, 0x80000008 ECX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cpuid.h"

static void test_core_shift(void **state)
{
	(void)state;
	static const unsigned want[][2] = {
		{ 1, 0 }, { 2, 1 }, { 3, 2 }, { 4, 2 }, { 5, 3 }, { 8, 3 },
		{ 9, 4 }, { 33, 6 }, { 64, 6 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(cv_cpuid_core_shift(want[i][0]), want[i][1]);
}

static void test_leaf1(void **state)
{
	(void)state;
	struct cv_cpuid_regs r = { 0x663, 0xabcd0800u, 0x02182200u,
				   0x07088100u | (1u << 28) };
	cv_cpuid_leaf1(&r, 5, 6);
	assert_int_equal(r.eax, 0x663);
	assert_int_equal(r.ebx & 0xffff, 0x0800);	/* clflush kept */
	assert_int_equal((r.ebx >> 16) & 0xff, 8);	/* 6 -> 8 IDs */
	assert_int_equal(r.ebx >> 24, 5);		/* APIC ID */
	assert_int_equal(r.ecx, 0x02182200u | CV_CPUID_HYPERVISOR);
	assert_int_equal(r.edx & CV_CPUID_HTT, CV_CPUID_HTT);
	/* one vCPU: HTT cleared even when the model had it */
	cv_cpuid_leaf1(&r, 0, 1);
	assert_int_equal((r.ebx >> 16) & 0xff, 1);
	assert_int_equal(r.ebx >> 24, 0);
	assert_int_equal(r.edx & CV_CPUID_HTT, 0);
	assert_int_equal(r.edx, 0x07088100u);
	cv_cpuid_leaf1(&r, 63, 64);
	assert_int_equal((r.ebx >> 16) & 0xff, 64);
	assert_int_equal(r.ebx >> 24, 63);
}

static void test_hv_leaf(void **state)
{
	(void)state;
	struct cv_cpuid_regs r;
	memset(&r, 0xee, sizeof(r));
	cv_cpuid_hv_leaf(&r);
	assert_int_equal(r.eax, 0x40000000u);
	char sig[12];
	memcpy(sig, &r.ebx, 4);
	memcpy(sig + 4, &r.ecx, 4);
	memcpy(sig + 8, &r.edx, 4);
	assert_memory_equal(sig, "cvisor\0\0\0\0\0\0", 12);
}

static void test_topology(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 64; n++) {
		for (unsigned i = 0; i < n; i += n > 8 ? 7 : 1) {
			struct cv_cpuid_regs r;
			cv_cpuid_topology(&r, 0, i, n);	/* SMT level */
			assert_int_equal(r.eax, 0);
			assert_int_equal(r.ebx, 1);
			assert_int_equal(r.ecx, 1u << 8 | 0);
			assert_int_equal(r.edx, i);
			cv_cpuid_topology(&r, 1, i, n);	/* core level */
			assert_int_equal(r.eax, cv_cpuid_core_shift(n));
			assert_true((1u << r.eax) >= n);
			assert_int_equal(r.ebx, n);
			assert_int_equal(r.ecx, 2u << 8 | 1);
			assert_int_equal(r.edx, i);
			cv_cpuid_topology(&r, 2, i, n);	/* end */
			assert_int_equal(r.eax, 0);
			assert_int_equal(r.ebx, 0);
			assert_int_equal(r.ecx, 2);
			assert_int_equal(r.edx, i);
		}
	}
}

static void test_leaf4_and_ext8(void **state)
{
	(void)state;
	/* L1 data cache (type 1, level 1) of a model with 2 threads/core */
	struct cv_cpuid_regs r = { 0x1c004121u, 1, 2, 3 };
	cv_cpuid_leaf4(&r, 3);
	assert_int_equal(r.eax >> 26, 3);		/* 4 core IDs - 1 */
	assert_int_equal((r.eax >> 14) & 0xfff, 0);	/* per core */
	assert_int_equal(r.eax & 0x3fff, 0x0121);
	assert_int_equal(r.ebx, 1);
	/* L3 (level 3) is shared by all cores */
	r = (struct cv_cpuid_regs){ 0x3c07c163u, 0, 0, 0 };
	cv_cpuid_leaf4(&r, 8);
	assert_int_equal(r.eax >> 26, 7);
	assert_int_equal((r.eax >> 14) & 0xfff, 7);
	/* type 0: no more caches */
	r = (struct cv_cpuid_regs){ 0, 0, 0, 0 };
	cv_cpuid_leaf4(&r, 8);
	assert_int_equal(r.eax, 0);

	r = (struct cv_cpuid_regs){ 0x3030, 0, 0xffff, 0 };
	cv_cpuid_ext8(&r, 6);
	assert_int_equal(r.eax, 0x3030);
	assert_int_equal(r.ecx, 3u << 12 | 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_shift),
		cmocka_unit_test(test_leaf1),
		cmocka_unit_test(test_hv_leaf),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_leaf4_and_ext8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
