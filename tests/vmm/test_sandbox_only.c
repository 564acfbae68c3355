/*
 * test_sandbox_only: sandbox_only(mask) (used by `cvisor run` to compile
 * only the filters it needs): a profile in the mask confines a thread, one
 * outside fails with ENOENT and a message naming it (never an empty,
 * allow-nothing or uninitialised filter); without sandbox_only every
 * profile is built.  And the filters precompiled at build time
 * (sandbox-gen) equal what libseccomp compiles at run time, byte for
 * byte.  In sanitizer builds, a thread confined with a profile that ends
 * the process can still have a stack symbolized (what the runtime does for
 * a report and for LSan's leak suppressions at exit).  Each case runs in a
 * child process: the sandbox is prepared once per process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifdef SANITIZED
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

#ifdef SANITIZED
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
#ifndef SANITIZED
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
		cmocka_unit_test(test_symbolize_confined),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
