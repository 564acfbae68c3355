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
 * leak suppressions at exit), and a bug on a thread confined with ANY
 * profile (a device model's, on a vCPU thread) gets the sanitizer's
 * report with symbolized frames, not a SIGSYS.  On every profile, a
 * forbidden call still ends the process with the trap handler's line.
 * Each case runs in a child process: the sandbox is prepared once per
 * process.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"
#include "testutil.h"

#if CV_TEST_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif
/* meson defines it when b_sanitize has "undefined" (no macro says) */
#ifndef CV_TEST_UBSAN
#define CV_TEST_UBSAN 0
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

/*
 * ioctl(KVM_RUN) is allowed after a short walk of profile p's program.
 * Also of the profiles of the threads that create VMs (shell, daemon):
 * a thread inherits its creator's filter and the kernel runs every filter
 * of the chain on each call whose answer depends on its arguments, so a
 * vCPU made by the shell or a daemon worker runs theirs on every exit too.
 */
static int ioctl_first(enum sandbox_profile p, const char *name)
{
	const struct sock_filter *f;
	unsigned len, steps;
	if (sandbox_program(p, &f, &len))
		return fprintf(stderr, "no %s program\n", name), 1;
	uint32_t r = bpf_run(f, len, SYS_ioctl, 5, KVM_RUN, &steps);
	fprintf(stderr, "%s: %u instructions; ioctl(KVM_RUN) allowed "
		"after %u\n", name, len, steps);
	if ((r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW)
		return fprintf(stderr, "%s: ioctl(KVM_RUN): action 0x%x\n",
			       name, r), 1;
	if (steps > 16)
		return fprintf(stderr, "%s: ioctl(KVM_RUN) walks %u > 16 "
			       "instructions: not checked first\n", name,
			       steps), 1;
	return 0;
}

static int hot_path_child(void)
{
	unsigned steps;
	unsetenv("CVISOR_SECCOMP");
	int bad = ioctl_first(SANDBOX_VCPU_KVM, "vcpu-kvm") +
		  ioctl_first(SANDBOX_SHELL, "shell") +
		  ioctl_first(SANDBOX_SERVER, "server") +
		  ioctl_first(SANDBOX_WORKER, "server-worker");
	if (bad)
		return 1;
	const struct sock_filter *f;
	unsigned len;
	if (sandbox_program(SANDBOX_VCPU_KVM, &f, &len))
		return 1;
	/* the interpreter is not allow-all: a VM ioctl traps here */
	uint32_t r = bpf_run(f, len, SYS_ioctl, 5, KVM_CREATE_VCPU, &steps);
	if ((r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_TRAP)
		return fprintf(stderr, "ioctl(KVM_CREATE_VCPU): action 0x%x\n",
			       r), 1;
	r = bpf_run(f, len, SYS_futex, 0, 0, &steps);
	if ((r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW)
		return fprintf(stderr, "futex: action 0x%x\n", r), 1;
	/* nor is it for the shell's: TIOCSTI stays forbidden */
	if (sandbox_program(SANDBOX_SHELL, &f, &len))
		return 1;
	r = bpf_run(f, len, SYS_ioctl, 0, TIOCSTI, &steps);
	if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW)
		return fprintf(stderr, "shell: ioctl(TIOCSTI) allowed\n"), 1;
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

/*
 * Run fn(arg) in a child process with stderr into out (NUL-terminated);
 * the child's wait status.  A child still writing or alive after 60 s is
 * killed and fails the test (a trap inside a sanitizer runtime once hung
 * the process).
 */
static int run_captured(int (*fn)(void *), void *arg, char *out, size_t len)
{
	int st = tu_fork_capture(fn, arg, out, len, 60);
	if (st == -ETIMEDOUT)
		fail_msg("the child hung (stderr so far:\n%s)", out);
	assert_true(st >= 0);
	return st;
}

/* A trapped call on the test thread, as on_sigsys reports it. */
#define TRAP_LINE "cvisor: seccomp: test thread made a forbidden system call: "

#if CV_TEST_ASAN || CV_TEST_UBSAN || CV_TEST_TSAN
/*
 * The bugs, one per report a sanitizer build makes; each in a function of
 * its own whose name the report's symbolized frames must show.
 */
enum bug { BUG_HEAP_OVERFLOW, BUG_SIGNED_OVERFLOW, BUG_RACE };

static const struct {
	const char *headline, *frame;
} bugs[] = {
	[BUG_HEAP_OVERFLOW] = { "ERROR: AddressSanitizer: heap-buffer-overflow",
				"san_bug_heap_overflow" },
	[BUG_SIGNED_OVERFLOW] = { "runtime error: signed integer overflow",
				  "san_bug_signed_overflow" },
	[BUG_RACE] = { "WARNING: ThreadSanitizer: data race", "san_bug_race" },
};

#if CV_TEST_UBSAN
/* the frames of a UBSan report (meson test sets no UBSAN_OPTIONS) */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "print_stacktrace=1";
}
#endif

static __attribute__((noinline)) int san_bug_heap_overflow(void)
{
	volatile size_t end = 8;	/* opaque: no warning at build time */
	char *p = malloc(end);
	if (p)
		p[end] = 1;	/* one past the end */
	free(p);
	return p != NULL;
}

static __attribute__((noinline)) int san_bug_signed_overflow(int a)
{
	return a + 1;
}

/*
 * The race: the main thread writes race_x, then tells the confined
 * thread through a relaxed atomic (no happens-before for TSan), which
 * writes race_x too: TSan reports on the confined thread, the second
 * access.
 */
static int race_x;
static atomic_int race_go;

static __attribute__((noinline)) void san_bug_race(void)
{
	race_x = 2;
}

struct bug_run {
	enum sandbox_profile p;
	enum bug bug;
	int rc;		/* 0: entered, and the bug ran (or timed out: 5) */
};

static void *bug_main(void *arg)
{
	struct bug_run *b = arg;
	struct cv_err err = {0};
	if ((b->rc = sandbox_enter(b->p, "test thread", &err)) != 0)
		return NULL;
	volatile int big = 0x7fffffff, sink;
	switch (b->bug) {
	case BUG_HEAP_OVERFLOW:
		sink = san_bug_heap_overflow();
		break;
	case BUG_SIGNED_OVERFLOW:
		sink = san_bug_signed_overflow(big);
		break;
	case BUG_RACE: {
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (!atomic_load_explicit(&race_go, memory_order_relaxed)) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if (t.tv_sec - t0.tv_sec > 10) {
				b->rc = 5;
				return NULL;
			}
			sched_yield();
		}
		san_bug_race();
		break;
	}
	}
	(void)sink;
	return NULL;
}

static int bug_child(void *arg)
{
	struct bug_run *b = arg;
	struct cv_err err = {0};
	if (sandbox_prepare(&err))
		return fprintf(stderr, "prepare: %s\n", err.msg), 3;
	pthread_t th;
	if (pthread_create(&th, NULL, bug_main, b))
		return 4;
	if (b->bug == BUG_RACE) {
		race_x = 1;
		atomic_store_explicit(&race_go, 1, memory_order_relaxed);
	}
	pthread_join(th, NULL);
	return b->rc ? (b->rc == 5 ? 5 : 2) : 0;
}

/*
 * Devices run on the vCPU thread, so that is where a memory bug in one
 * would be reported: the report (and, in clang builds, its symbolization
 * through the llvm-symbolizer process) must work on a thread confined
 * with any profile.  Before every profile had the report rules, the
 * report trapped (isatty's ioctl on all but shell and server, then
 * readlink, open of /proc/self/maps, libbacktrace's fcntl and fstat).
 */
static void expect_report(enum bug bug)
{
	static char out[64 << 10];
	char failed[256] = "";
	for (int p = 0; p < SANDBOX_NPROFILES; p++) {
		struct bug_run b = { .p = (enum sandbox_profile)p, .bug = bug };
		int st = run_captured(bug_child, &b, out, sizeof(out));
		const char *name = sandbox_profile_name(b.p);
		bool sigsys = (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) ||
			      (WIFEXITED(st) &&
			       WEXITSTATUS(st) == SANDBOX_EXIT_STATUS) ||
			      strstr(out, TRAP_LINE);
		bool headline = strstr(out, bugs[bug].headline) != NULL;
		bool frame = strstr(out, bugs[bug].frame) != NULL;
		print_message("%s: %s: status 0x%x, report %s, frame %s%s\n",
			      name, bugs[bug].frame, st,
			      headline ? "yes" : "no", frame ? "yes" : "no",
			      sigsys ? ", trapped" : "");
		if (sigsys || !headline || !frame || (WIFEXITED(st) &&
		    WEXITSTATUS(st) >= 2 && WEXITSTATUS(st) <= 5)) {
			print_message("the child's stderr:\n%s\n", out);
			snprintf(failed + strlen(failed),
				 sizeof(failed) - strlen(failed), " %s", name);
		}
	}
	if (failed[0])
		fail_msg("no symbolized %s report on:%s", bugs[bug].frame,
			 failed);
}
#endif

static void test_asan_report_confined(void **state)
{
	(void)state;
#if !CV_TEST_ASAN
	print_message("not an AddressSanitizer build\n");
	skip();
#else
	expect_report(BUG_HEAP_OVERFLOW);
#endif
}

static void test_ubsan_report_confined(void **state)
{
	(void)state;
#if !CV_TEST_UBSAN
	print_message("not an UndefinedBehaviorSanitizer build\n");
	skip();
#else
	expect_report(BUG_SIGNED_OVERFLOW);
#endif
}

static void test_tsan_report_confined(void **state)
{
	(void)state;
#if !CV_TEST_TSAN
	print_message("not a ThreadSanitizer build\n");
	skip();
#else
	expect_report(BUG_RACE);
#endif
}

struct trap_run {
	enum sandbox_profile p;
	int rc;
};

static void *trap_main(void *arg)
{
	struct trap_run *t = arg;
	struct cv_err err = {0};
	if ((t->rc = sandbox_enter(t->p, "test thread", &err)) != 0)
		return NULL;
	/* no profile allows creating a socket */
	long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	if (fd >= 0)
		close((int)fd);
	return NULL;
}

static int trap_child(void *arg)
{
	struct trap_run *t = arg;
	pthread_t th;
	if (pthread_create(&th, NULL, trap_main, t))
		return 4;
	pthread_join(th, NULL);
	return t->rc ? 2 : 0;	/* not reached if the call trapped */
}

/* on_sigsys reports on a thread of every profile (sanitizer builds too). */
static void test_trap_reported(void **state)
{
	(void)state;
	char out[4096], want[128];
	snprintf(want, sizeof(want), TRAP_LINE "socket (%d)", SYS_socket);
	for (int p = 0; p < SANDBOX_NPROFILES; p++) {
		struct trap_run t = { .p = (enum sandbox_profile)p };
		int st = run_captured(trap_child, &t, out, sizeof(out));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != SANDBOX_EXIT_STATUS ||
		    !strstr(out, want))
			fail_msg("profile %s: status 0x%x, stderr:\n%s",
				 sandbox_profile_name((enum sandbox_profile)p),
				 st, out);
	}
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
		cmocka_unit_test(test_asan_report_confined),
		cmocka_unit_test(test_ubsan_report_confined),
		cmocka_unit_test(test_tsan_report_confined),
		cmocka_unit_test(test_trap_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
