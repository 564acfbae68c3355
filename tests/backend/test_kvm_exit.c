/*
 * test_kvm_exit: kvm_decode_exit() on fabricated kvm_run contents.  Runs on
 * any host: no /dev/kvm, no fds.  Every exit reason the backend handles,
 * string I/O, MMIO sizes, and hostile data offsets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvm_exit.h"

#define RUN_SIZE 12288		/* what x86 KVM reports: 3 pages */
#define PIO_OFF 4096		/* KVM_PIO_PAGE_OFFSET * 4096 */

struct fixture {
	union {
		struct kvm_run run;
		uint8_t bytes[RUN_SIZE];
	} u;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static struct kvm_run *fresh(void **state)
{
	struct fixture *f = *state;
	memset(f, 0, sizeof(*f));
	return &f->u.run;
}

static void set_io(struct kvm_run *r, uint8_t dir, uint8_t size, uint16_t port,
		   uint32_t count, uint64_t off)
{
	r->exit_reason = KVM_EXIT_IO;
	r->io.direction = dir;
	r->io.size = size;
	r->io.port = port;
	r->io.count = count;
	r->io.data_offset = off;
}

static void test_io_out_single(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	for (uint8_t size = 1; size <= 4; size *= 2) {
		set_io(r, KVM_EXIT_IO_OUT, size, 0x3f8, 1, PIO_OFF);
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
		assert_int_equal(a.kind, KVM_ACT_IO);
		assert_int_equal(a.io.port, 0x3f8);
		assert_int_equal(a.io.size, size);
		assert_true(a.io.is_write);
		assert_int_equal(a.io.count, 1);
		assert_int_equal(a.io.data_offset, PIO_OFF);
		assert_int_equal(a.exit_reason, KVM_EXIT_IO);
	}
}

static void test_io_in(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	set_io(r, KVM_EXIT_IO_IN, 2, 0x60, 1, PIO_OFF + 6);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	assert_int_equal(a.kind, KVM_ACT_IO);
	assert_false(a.io.is_write);
	assert_int_equal(a.io.port, 0x60);
	assert_int_equal(a.io.data_offset, PIO_OFF + 6);
}

static void test_io_string(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	/* rep outsw of 100 words: 200 bytes in the PIO page */
	set_io(r, KVM_EXIT_IO_OUT, 2, 0x1f0, 100, PIO_OFF);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	assert_int_equal(a.io.count, 100);
	assert_int_equal(a.io.size, 2);
	/* rep insd filling the whole rest of the mapping exactly */
	set_io(r, KVM_EXIT_IO_IN, 4, 0x1f0, (RUN_SIZE - PIO_OFF) / 4, PIO_OFF);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	assert_int_equal(a.io.count, (RUN_SIZE - PIO_OFF) / 4);
	/* one item more does not fit */
	set_io(r, KVM_EXIT_IO_IN, 4, 0x1f0, (RUN_SIZE - PIO_OFF) / 4 + 1,
	       PIO_OFF);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
	assert_int_equal(a.kind, KVM_ACT_ERROR);
}

static void test_io_bad_offsets(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	const uint64_t bad[] = {
		RUN_SIZE,			/* one past the end, 1 byte */
		RUN_SIZE + 4096,		/* beyond */
		UINT64_MAX,			/* wraps */
		UINT64_MAX - 1,
		(uint64_t)1 << 63,
		0,				/* aliases the kvm_run header */
		offsetof(struct kvm_run, immediate_exit),
		sizeof(struct kvm_run) - 1,	/* straddles the header end */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_io(r, KVM_EXIT_IO_IN, 1, 0x80, 1, bad[i]);
		memset(&a, 0x5a, sizeof(a));
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
		assert_int_equal(a.kind, KVM_ACT_ERROR);
		assert_non_null(strstr(a.msg, "outside"));
	}
	/* last valid byte is fine; a 2-byte access there is not */
	set_io(r, KVM_EXIT_IO_IN, 1, 0x80, 1, RUN_SIZE - 1);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	set_io(r, KVM_EXIT_IO_IN, 2, 0x80, 1, RUN_SIZE - 1);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
	/* huge count whose product would overflow 32 bits */
	set_io(r, KVM_EXIT_IO_OUT, 4, 0x80, UINT32_MAX, PIO_OFF);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
	/* a mapping smaller than the header: nothing fits */
	set_io(r, KVM_EXIT_IO_OUT, 1, 0x80, 1, 64);
	assert_int_equal(kvm_decode_exit(r, 32, &a), -EINVAL);
}

static void test_io_bad_fields(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	const uint8_t sizes[] = { 0, 3, 5, 8, 255 };
	for (size_t i = 0; i < sizeof(sizes); i++) {
		set_io(r, KVM_EXIT_IO_OUT, sizes[i], 0x80, 1, PIO_OFF);
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
		assert_non_null(strstr(a.msg, "size"));
	}
	set_io(r, KVM_EXIT_IO_OUT, 1, 0x80, 0, PIO_OFF);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
	set_io(r, 7, 1, 0x80, 1, PIO_OFF);
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
	assert_non_null(strstr(a.msg, "direction"));
}

static void test_mmio_sizes(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	for (uint32_t len = 1; len <= 8; len++) {
		r->exit_reason = KVM_EXIT_MMIO;
		r->mmio.phys_addr = 0xfee00000ull + len;
		r->mmio.len = len;
		r->mmio.is_write = (uint8_t)(len & 1);
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
		assert_int_equal(a.kind, KVM_ACT_MMIO);
		assert_int_equal(a.mmio.len, len);
		assert_int_equal(a.mmio.addr, 0xfee00000ull + len);
		assert_int_equal(a.mmio.is_write, len & 1);
	}
	const uint32_t bad[] = { 0, 9, 16, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r->mmio.len = bad[i];
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EINVAL);
		assert_int_equal(a.kind, KVM_ACT_ERROR);
		assert_non_null(strstr(a.msg, "length"));
	}
}

static void test_hlt_shutdown_reenter(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	const struct { uint32_t reason; enum kvm_action kind; } cases[] = {
		{ KVM_EXIT_HLT, KVM_ACT_HLT },
		{ KVM_EXIT_SHUTDOWN, KVM_ACT_SHUTDOWN },
		{ KVM_EXIT_INTR, KVM_ACT_REENTER },
		{ KVM_EXIT_IRQ_WINDOW_OPEN, KVM_ACT_REENTER },
		{ KVM_EXIT_NMI, KVM_ACT_REENTER },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r->exit_reason = cases[i].reason;
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
		assert_int_equal(a.kind, cases[i].kind);
	}
}

static void test_system_event(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	r->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	r->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	assert_int_equal(a.kind, KVM_ACT_SHUTDOWN);
	r->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	assert_int_equal(a.kind, KVM_ACT_SHUTDOWN);
	r->system_event.type = KVM_SYSTEM_EVENT_WAKEUP;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), 0);
	assert_int_equal(a.kind, KVM_ACT_REENTER);
	r->system_event.type = KVM_SYSTEM_EVENT_CRASH;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_int_equal(a.kind, KVM_ACT_ERROR);
	r->system_event.type = 99;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -ENOTSUP);
	assert_non_null(strstr(a.msg, "99"));
}

static void test_internal_error(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	r->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	r->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	r->emulation_failure.ndata = 3;
	r->emulation_failure.flags =
		KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	r->emulation_failure.insn_size = 2;
	r->emulation_failure.insn_bytes[0] = 0x0f;
	r->emulation_failure.insn_bytes[1] = 0x0b;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_int_equal(a.kind, KVM_ACT_ERROR);
	assert_non_null(strstr(a.msg, "suberror 1"));
	assert_non_null(strstr(a.msg, "emulation"));
	assert_non_null(strstr(a.msg, "0f 0b"));

	/* a lying insn_size is clamped, not trusted */
	r->emulation_failure.insn_size = 200;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_true(strlen(a.msg) < sizeof(a.msg));

	r = fresh(state);
	r->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	r->internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
	r->internal.ndata = 1;
	r->internal.data[0] = 0x80000b0e;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_non_null(strstr(a.msg, "suberror 3"));
	assert_non_null(strstr(a.msg, "0x80000b0e"));
}

static void test_fail_entry_unknown(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	r->exit_reason = KVM_EXIT_FAIL_ENTRY;
	r->fail_entry.hardware_entry_failure_reason = 0x21;
	r->fail_entry.cpu = 1;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_int_equal(a.kind, KVM_ACT_ERROR);
	assert_non_null(strstr(a.msg, "0x21"));

	r->exit_reason = KVM_EXIT_UNKNOWN;
	r->hw.hardware_exit_reason = 0x7b;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_non_null(strstr(a.msg, "0x7b"));

	r->exit_reason = KVM_EXIT_EXCEPTION;
	r->ex.exception = 6;
	assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -EIO);
	assert_non_null(strstr(a.msg, "exception 6"));
}

static void test_unhandled_reasons(void **state)
{
	struct kvm_run *r = fresh(state);
	struct kvm_exit_action a;
	const uint32_t reasons[] = { KVM_EXIT_HYPERCALL, KVM_EXIT_DEBUG,
				     KVM_EXIT_X86_RDMSR, 1000, UINT32_MAX };
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		r->exit_reason = reasons[i];
		assert_int_equal(kvm_decode_exit(r, RUN_SIZE, &a), -ENOTSUP);
		assert_int_equal(a.kind, KVM_ACT_ERROR);
		assert_non_null(strstr(a.msg, "unhandled"));
	}
	assert_string_equal(kvm_exit_reason_name(KVM_EXIT_IO), "KVM_EXIT_IO");
	assert_string_equal(kvm_exit_reason_name(UINT32_MAX), "unknown");
	assert_string_equal(kvm_exit_reason_name(13), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_out_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_bad_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_bad_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hlt_shutdown_reenter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_internal_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_entry_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unhandled_reasons, setup, teardown),
	};
	return cmocka_run_group_tests_name("kvm-exit-decode", tests, NULL, NULL);
}
