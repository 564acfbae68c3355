/*
 * test_sandbox: the per-thread seccomp filters on the backend named by
 * $CVISOR_TEST_ACCEL.  A forbidden system call made on a VM's vCPU thread
 * (or reset thread) after it confined itself must end the process with
 * status 159 and one line on stderr naming the thread and the call; the
 * same call succeeds with no_seccomp (so the filter, nothing else, denies
 * it).  Each attempt runs in a child process; the parent asserts.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"
#include "vm.h"
#include "testutil.h"
#include "vmtest.h"

enum attempt { A_NONE, A_SOCKET, A_EXECVE, A_OPEN, A_IOCTL, A_MMAP_EXEC,
	       A_HEAP_CHURN };

struct hook {
	enum attempt what;
	const char *thread;	/* "vCPU thread" or "reset thread" */
	int result;		/* 0 = the call worked, else errno */
};

static void hook_fn(void *ctx, const char *what)
{
	struct hook *h = ctx;
	if (strcmp(what, h->thread))
		return;
	int rc = -1;
	switch (h->what) {
	case A_NONE:
		rc = 0;
		break;
	case A_SOCKET:
		rc = socket(AF_INET, SOCK_STREAM, 0);
		if (rc >= 0)
			close(rc);
		break;
	case A_EXECVE: {
		char *const argv[] = { (char *)"/nonexistent-cvisor-test", NULL };
		rc = execve(argv[0], argv, NULL);	/* ENOENT when allowed */
		rc = errno == ENOENT ? 0 : -1;
		break;
	}
	case A_OPEN:
#if CV_TEST_SANITIZED
		/* these builds allow reading files for the runtime's reports */
		rc = open("/dev/null", O_WRONLY | O_CLOEXEC);
#else
		rc = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
#endif
		if (rc >= 0)
			close(rc);
		break;
	case A_IOCTL: {
		int n;
		rc = ioctl(STDIN_FILENO, FIONREAD, &n);	/* ENOTTY is fine */
		rc = rc < 0 && errno != ENOTTY && errno != EINVAL ? -1 : 0;
		break;
	}
	case A_HEAP_CHURN: {
		/*
		 * Fill this thread's own malloc arena past the trim threshold
		 * in chunks below the mmap threshold, then free it all: glibc
		 * may give the top of the heap back, and the first time it
		 * does in a process it reads /proc/sys/vm/overcommit_memory.
		 */
		void *p[32];
		rc = 0;
		for (int i = 0; i < 32; i++)
			if (!(p[i] = malloc(64 << 10)))
				rc = -1;
		for (int i = 31; i >= 0; i--)
			free(p[i]);
		break;
	}
	case A_MMAP_EXEC: {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		rc = p == MAP_FAILED ? -1 : 0;
		if (p != MAP_FAILED)
			munmap(p, 4096);
		break;
	}
	}
	h->result = rc < 0 ? errno : 0;
}

struct child_run {
	enum attempt what;
	const char *thread;
	bool no_seccomp;
};

/*
 * In a child: create a ticker VM whose `thread` makes attempt `what` (the
 * hook runs as the thread confines itself, before vm_create returns),
 * start it and force-stop it at once (nothing waits for guest output),
 * print "RESULT <errno>" and exit 0.
 */
static int child_main(void *arg)
{
	const struct child_run *c = arg;
	struct vm_config cfg;
	vmtest_config(&cfg, "ticker", 1, NULL);
	struct hook h = { .what = c->what, .thread = c->thread, .result = -1 };
	struct vm_host_opts o = {
		.accel_default = vmtest_accel(),
		.no_seccomp = c->no_seccomp,
		.thread_hook = hook_fn,
		.thread_hook_ctx = &h,
	};
	struct vm *vm;
	struct cv_err err = {0};
	if (vm_create(&cfg, 0, &o, &vm, &err)) {
		fprintf(stderr, "vm_create: %s\n", err.msg);
		return 2;
	}
	if (vm_start(vm, &err)) {
		fprintf(stderr, "vm_start: %s\n", err.msg);
		return 2;
	}
	vm_stop(vm, true, 0, NULL);
	vm_destroy(vm);
	fprintf(stderr, "RESULT %d\n", h.result);
	return 0;
}

/* child_main in a child process: its wait status and stderr. */
static int run_child(enum attempt what, const char *thread, bool no_seccomp,
		     char *errbuf, size_t errlen)
{
	struct child_run c = { what, thread, no_seccomp };
	int st = tu_fork_capture(child_main, &c, errbuf, errlen,
				 60 * vmtest_slowdown());
	if (st == -ETIMEDOUT)
		fail_msg("the child hung (stderr so far:\n%s)", errbuf);
	assert_true(st >= 0);
	return st;
}

static void expect_denied(enum attempt what, const char *thread,
			  const char *call)
{
	char out[2048], want[256];
	int st = run_child(what, thread, false, out, sizeof(out));
	print_message("%s on %s (%s): %s", call, thread, vmtest_accel_name(),
		      out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), SANDBOX_EXIT_STATUS);
	snprintf(want, sizeof(want), "cvisor: seccomp: %s of VM 0 (%s) made a "
		 "forbidden system call: %s (", thread, vmtest_accel_name(),
		 call);
	assert_non_null(strstr(out, want));
	assert_null(strstr(out, "RESULT"));

	/* the control: without filters the same call goes through */
	st = run_child(what, thread, true, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(out, "RESULT 0\n"));
}

static void expect_allowed(enum attempt what, const char *thread)
{
	char out[2048];
	int st = run_child(what, thread, false, out, sizeof(out));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(out, "RESULT 0\n"));
}

static void test_vcpu_socket(void **state)
{
	(void)state;
	expect_denied(A_SOCKET, "vCPU thread", "socket");
}

static void test_vcpu_execve(void **state)
{
	(void)state;
	expect_denied(A_EXECVE, "vCPU thread", "execve");
}

static void test_vcpu_open(void **state)
{
	(void)state;
	expect_denied(A_OPEN, "vCPU thread", "openat");
}

/* kvm: ioctl only with the vCPU requests; emu: no ioctl at all */
static void test_vcpu_ioctl(void **state)
{
	(void)state;
	expect_denied(A_IOCTL, "vCPU thread", "ioctl");
}

/* kvm: no executable mappings; emu: Unicorn needs them (documented) */
static void test_vcpu_mmap_exec(void **state)
{
	(void)state;
	if (vmtest_accel() == VM_ACCEL_KVM)
		expect_denied(A_MMAP_EXEC, "vCPU thread", "mmap");
	else
		expect_allowed(A_MMAP_EXEC, "vCPU thread");
}

/*
 * A confined thread's free() must not reach a forbidden call inside glibc
 * (seen: the daemon ended with 159 when a vCPU thread freed Unicorn's
 * memory).  Runs first: the parent must not have started a VM yet, so
 * each child is the first process state that trims a heap.
 */
static void test_vcpu_heap_churn(void **state)
{
	(void)state;
	expect_allowed(A_HEAP_CHURN, "vCPU thread");
}

static void test_reset_socket(void **state)
{
	(void)state;
	expect_denied(A_SOCKET, "reset thread", "socket");
}

/* Every thread of a VM runs confined: /proc says "Seccomp: 2". */
static int seccomp_mode(int tid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int mode = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

static void test_threads_confined(void **state)
{
	(void)state;
	for (int off = 0; off < 2; off++) {
		struct vm_config cfg;
		vmtest_config(&cfg, "ticker", 2, NULL);
		struct vm_host_opts o = { .accel_default = vmtest_accel(),
					  .no_seccomp = off };
		struct vm *vm;
		struct cv_err err = {0};
		assert_int_equal(vm_create(&cfg, 0, &o, &vm, &err), 0);
		struct vm_vcpu_info info[2];
		vm_vcpu_info(vm, info, 2);
		for (int i = 0; i < 2; i++) {
			assert_true(info[i].host_tid > 0);
			assert_int_equal(seccomp_mode(info[i].host_tid),
					 off ? 0 : 2);
		}
		/* the caller (controller) thread stays unconfined */
		assert_int_equal(seccomp_mode((int)gettid()), 0);
		vm_destroy(vm);
	}
}

int main(void)
{
	vmtest_accel();		/* skips (77) when the backend is unusable */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vcpu_heap_churn),	/* first: see there */
		cmocka_unit_test(test_threads_confined),
		cmocka_unit_test(test_vcpu_socket),
		cmocka_unit_test(test_vcpu_execve),
		cmocka_unit_test(test_vcpu_open),
		cmocka_unit_test(test_vcpu_ioctl),
		cmocka_unit_test(test_vcpu_mmap_exec),
		cmocka_unit_test(test_reset_socket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
