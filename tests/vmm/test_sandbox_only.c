/*
 * test_sandbox_only: sandbox_only(mask) (used by `cvisor run` to compile
 * only the filters it needs): a profile in the mask confines a thread, one
 * outside fails with ENOENT and a message naming it (never an empty,
 * allow-nothing or uninitialised filter); without sandbox_only every
 * profile is built.  And the filters precompiled at build time
 * (sandbox-gen) equal what libseccomp compiles at run time, byte for
 * byte.  And the kvm vCPU filter checks ioctl first: its one system call
 * per guest exit, ioctl(KVM_RUN), is allowed after a short walk of the
 * program (run here by a small BPF interpreter).  In sanitizer builds, a
 * thread confined with a profile that ends the process can still have a
 * stack symbolized (what the runtime does for a report and for LSan's
 * leak suppressions at exit).  Each case runs in a child process: the
 * sandbox is prepared once per process.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"
#include "testutil.h"

#if CV_TEST_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

struct try {
	enum sandbox_profile p;
	int rc;
	char msg[CV_ERR_MAX];
};

static void *enter_main(void *arg)
{
	struct try *t = arg;
	struct cv_err err = {0};
	t->rc = sandbox_enter(t->p, "test thread", &err);
	snprintf(t->msg, sizeof(t->msg), "%s", err.msg);
	return NULL;	/* the confined thread ends: the process is free */
}

/* In a child: mask (0 = no sandbox_only call), then profile p on a new
 * thread; exit 0 when it entered, 1 for ENOENT naming the profile, 2 else. */
static int child(unsigned mask, enum sandbox_profile p)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (mask)
			sandbox_only(mask);
		struct cv_err err = {0};
		if (sandbox_prepare(&err)) {
			fprintf(stderr, "prepare: %s\n", err.msg);
			_exit(3);
		}
		struct try t = { .p = p };
		pthread_t th;
		if (pthread_create(&th, NULL, enter_main, &t))
			_exit(4);
		pthread_join(th, NULL);
		if (t.rc == 0)
			_exit(0);
		fprintf(stderr, "enter %s: %d %s\n", sandbox_profile_name(p),
			t.rc, t.msg);
		_exit(t.rc == -ENOENT && strstr(t.msg, sandbox_profile_name(p))
		      ? 1 : 2);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_in_mask_enters(void **state)
{
	(void)state;
	unsigned run = 1u << SANDBOX_VCPU_KVM | 1u << SANDBOX_VCPU_EMU |
		       1u << SANDBOX_RESET | 1u << SANDBOX_SIGNALS |
		       1u << SANDBOX_RUN_MAIN;
	for (int p = SANDBOX_VCPU_KVM; p <= SANDBOX_RUN_MAIN; p++)
		assert_int_equal(child(run, (enum sandbox_profile)p), 0);
}

static void test_outside_mask_refused(void **state)
{
	(void)state;
	unsigned run = 1u << SANDBOX_VCPU_KVM | 1u << SANDBOX_RESET;
	assert_int_equal(child(run, SANDBOX_SHELL), 1);
	assert_int_equal(child(run, SANDBOX_SERVER), 1);
	assert_int_equal(child(run, SANDBOX_SIGNALS), 1);
	assert_int_equal(child(run, SANDBOX_RESET), 0);
}

static void test_default_builds_all(void **state)
{
	(void)state;
	for (int p = 0; p < SANDBOX_NPROFILES; p++)
		assert_int_equal(child(0, (enum sandbox_profile)p), 0);
}

static void test_precompiled_equal(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char msg[256];
		unsetenv("CVISOR_SECCOMP");
		int rc = sandbox_check_precompiled(msg, sizeof(msg));
		fprintf(stderr, "precompiled filters: %s\n", msg);
		_exit(rc == 0 ? 0 : rc < 0 ? 77 : 1);
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Run a seccomp program on one call; the action, *steps = insns run. */
static uint32_t bpf_run(const struct sock_filter *f, unsigned len, int nr,
			uint64_t a0, uint64_t a1, unsigned *steps)
{
	struct seccomp_data d = { .nr = nr, .arch = AUDIT_ARCH_X86_64,
				  .args = { a0, a1 } };
	uint32_t A = 0;
	*steps = 0;
	for (unsigned pc = 0; pc < len; ) {
		const struct sock_filter *i = &f[pc];
		++*steps;
		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (i->k + 4 > sizeof(d))
				return 0xdead;
			memcpy(&A, (const char *)&d + i->k, 4);
			pc++;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			A &= i->k;
			pc++;
			break;
		case BPF_JMP | BPF_JA:
			pc += 1 + i->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += 1 + (A == i->k ? i->jt : i->jf);
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += 1 + (A > i->k ? i->jt : i->jf);
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += 1 + (A >= i->k ? i->jt : i->jf);
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += 1 + ((A & i->k) ? i->jt : i->jf);
			break;
		case BPF_RET | BPF_K:
			return i->k;
		default:
			return 0xdead;	/* an instruction this test lacks */
		}
	}
	return 0xdead;
}

static int hot_path_child(void)
{
	const struct sock_filter *f;
	unsigned len, steps;
	unsetenv("CVISOR_SECCOMP");
	if (sandbox_program(SANDBOX_VCPU_KVM, &f, &len))
		return fprintf(stderr, "no vcpu-kvm program\n"), 1;
	uint32_t r = bpf_run(f, len, SYS_ioctl, 5, KVM_RUN, &steps);
	fprintf(stderr, "vcpu-kvm: %u instructions; ioctl(KVM_RUN) allowed "
		"after %u\n", len, steps);
	if ((r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW)
		return fprintf(stderr, "ioctl(KVM_RUN): action 0x%x\n", r), 1;
	if (steps > 16)
		return fprintf(stderr, "ioctl(KVM_RUN) walks %u > 16 "
			       "instructions: not checked first\n", steps), 1;
	/* the interpreter is not allow-all: a VM ioctl traps here */
	r = bpf_run(f, len, SYS_ioctl, 5, KVM_CREATE_VCPU, &steps);
	if ((r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_TRAP)
		return fprintf(stderr, "ioctl(KVM_CREATE_VCPU): action 0x%x\n",
			       r), 1;
	r = bpf_run(f, len, SYS_futex, 0, 0, &steps);
	if ((r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW)
		return fprintf(stderr, "futex: action 0x%x\n", r), 1;
	return 0;
}

static void test_vcpu_kvm_ioctl_first(void **state)
{
	(void)state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(hot_path_child());
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#if CV_TEST_SANITIZED
struct sym {
	enum sandbox_profile p;
	int rc;
	char out[256];
};

static void *symbolize_main(void *arg)
{
	struct sym *s = arg;
	struct cv_err err = {0};
	s->rc = sandbox_enter(s->p, "test thread", &err);
	if (!s->rc)
		__sanitizer_symbolize_pc((void *)(uintptr_t)symbolize_main,
					 "%F %L", s->out, sizeof(s->out));
	return NULL;
}
#endif

/*
 * clang's runtime symbolizes through an llvm-symbolizer child process it
 * starts on first use: on a confined thread that fork was trapped (exit
 * 159), so a report or LSan's suppression matching at exit ended the
 * process instead.  sandbox.c starts it before any filter.
 */
static void test_symbolize_confined(void **state)
{
	(void)state;
#if !CV_TEST_SANITIZED
	print_message("not a sanitizer build: no runtime symbolizer to start\n");
	skip();
#else
	const enum sandbox_profile ps[] = {
		SANDBOX_RUN_MAIN, SANDBOX_SHELL, SANDBOX_SERVER, SANDBOX_WORKER,
	};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct cv_err err = {0};
			if (sandbox_prepare(&err))
				_exit(3);
			struct sym s = { .p = ps[i] };
			pthread_t th;
			if (pthread_create(&th, NULL, symbolize_main, &s))
				_exit(4);
			pthread_join(th, NULL);
			fprintf(stderr, "%s: symbolized '%s'\n",
				sandbox_profile_name(ps[i]), s.out);
			_exit(s.rc ? 2 : 0);
		}
		int st = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st))
			fail_msg("%s: exit %d (%d: a trapped system call)",
				 sandbox_profile_name(ps[i]), WEXITSTATUS(st),
				 SANDBOX_EXIT_STATUS);
	}
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_precompiled_equal),
		cmocka_unit_test(test_in_mask_enters),
		cmocka_unit_test(test_outside_mask_refused),
		cmocka_unit_test(test_default_builds_all),
		cmocka_unit_test(test_vcpu_kvm_ioctl_first),
		cmocka_unit_test(test_symbolize_confined),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
