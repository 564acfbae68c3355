/*
 * sandbox: the seccomp profiles, their compilation (libseccomp, once per
 * process) and their installation on the calling thread (see sandbox.h).
 *
 * Why trap-and-exit rather than EPERM: a thread that makes a call outside
 * its allow-list is either compromised (a guest exploited a device model)
 * or running a code path nobody vetted; either way the process must not
 * carry on as if nothing happened, and a silent EPERM would surface later
 * as an odd failure far from its cause.  SCMP_ACT_KILL_PROCESS would stop
 * it too, but leaves only "Bad system call" and a core: the trap handler
 * first names the thread and the call on stderr (async-signal-safe: a
 * write(2) of a line built from tables made at start-up), then _exit()s
 * with 128 + SIGSYS, which is how `cvisor run` reports a death by signal.
 * Calls from another architecture (int 0x80, x32) kill the process.
 *
 * Filters stack: a thread inherits its creator's filter and adds its own,
 * and the kernel applies the strictest answer.  So the creator's profile
 * must allow what the threads it creates do, also before they confine
 * themselves (thread start-up: set_robust_list, rseq, sigaltstack, ...):
 * SHELL and SERVER include every other profile.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Argument conditions a rule may carry (each documented in security.md). */
enum cond {
	C_ANY,
	C_NO_EXEC,	/* mmap/mprotect: prot without PROT_EXEC */
	C_KICK_SIG,	/* tgkill: the vCPU kick signal or SIGABRT */
	C_RUN_SIG,	/* tgkill: the above or SIGUSR2 (run's waiter) */
	C_VCPU_IOCTL,	/* ioctl: KVM_RUN, KVM_GET_(S)REGS, KVM_IRQ_LINE(_STATUS) */
	C_KVM_IOCTL,	/* ioctl: any KVM request (type 0xAE) */
	C_TTY_IOCTL,	/* ioctl: KVM or terminal requests (not TIOCSTI) */
	C_ISATTY,	/* ioctl: TCGETS only (isatty) */
	C_SETFD,	/* fcntl: F_SETFD only (close-on-exec) */
	C_OPEN_RO,	/* openat, open: no O_WRONLY/O_RDWR/O_CREAT/O_TRUNC */
	C_OPEN_NOCREAT,	/* openat: no O_WRONLY/O_CREAT/O_TRUNC (RDWR ok) */
	C_THREAD,	/* clone: CLONE_THREAD set (threads, not processes) */
	C_UNIX,		/* socket/socketpair: AF_UNIX only */
	C_ENOSYS,	/* fails with ENOSYS (clone3: glibc falls back to clone) */
	C_NNP,		/* prctl: PR_SET_NO_NEW_PRIVS only */
	C_FILTER,	/* seccomp: SET_MODE_FILTER, no flags (adds a filter) */
};

struct rule {
	const char *name;
	enum cond cond;
};

#define RULES(x) { x, sizeof(x) / sizeof(x[0]) }
struct group {
	const struct rule *r;
	size_t n;
};

/* Every thread: locks, time, memory for malloc, console writes, exit. */
static const struct rule r_thread[] = {
	{ "futex", C_ANY }, { "exit", C_ANY }, { "exit_group", C_ANY },
	{ "rt_sigreturn", C_ANY }, { "rt_sigprocmask", C_ANY },
	{ "restart_syscall", C_ANY }, { "sched_yield", C_ANY },
	{ "nanosleep", C_ANY }, { "clock_nanosleep", C_ANY },
	{ "clock_gettime", C_ANY }, { "gettimeofday", C_ANY },
	{ "getpid", C_ANY }, { "gettid", C_ANY }, { "write", C_ANY },
	{ "brk", C_ANY }, { "mmap", C_NO_EXEC }, { "mprotect", C_NO_EXEC },
	{ "munmap", C_ANY }, { "madvise", C_ANY }, { "tgkill", C_KICK_SIG },
	{ "sigaltstack", C_ANY },	/* ASan unsets its own at thread exit */
};

/* kvm vCPU: the KVM_RUN loop on its own vCPU fd. */
static const struct rule r_vcpu_kvm[] = {
	{ "ioctl", C_VCPU_IOCTL },
};

/* emu runner: Unicorn translates guest code into executable buffers. */
static const struct rule r_vcpu_emu[] = {
	{ "mmap", C_ANY }, { "mprotect", C_ANY },
};

/* A VM's reset thread: reloads the images and rebuilds the backend. */
static const struct rule r_reset[] = {
	{ "openat", C_OPEN_NOCREAT }, { "read", C_ANY }, { "pread64", C_ANY },
	{ "lseek", C_ANY }, { "fstat", C_ANY }, { "newfstatat", C_ANY },
	{ "statx", C_ANY }, { "close", C_ANY }, { "ioctl", C_KVM_IOCTL },
	{ "mmap", C_ANY }, { "mprotect", C_ANY },
};

/* `cvisor run`: the thread waiting for SIGINT/SIGTERM/SIGHUP. */
static const struct rule r_signals[] = {
	{ "rt_sigtimedwait", C_ANY }, { "tgkill", C_RUN_SIG },
};

/* `cvisor run` after the start: wait, flush, then tear down. */
static const struct rule r_run_main[] = {
	{ "tgkill", C_RUN_SIG }, { "close", C_ANY }, { "ioctl", C_KVM_IOCTL },
	{ "openat", C_OPEN_RO }, { "getdents64", C_ANY }, { "fstat", C_ANY },
	{ "newfstatat", C_ANY }, { "statx", C_ANY }, { "stat", C_ANY },
	{ "lstat", C_ANY }, { "lseek", C_ANY }, { "unlinkat", C_ANY }, { "unlink", C_ANY }, { "rmdir", C_ANY },
	{ "fcntl", C_ANY }, { "read", C_ANY }, { "rt_sigtimedwait", C_ANY },
	{ "rt_sigaction", C_ANY },
};

/*
 * Threads that run shell commands: create VMs (configs, images, /dev/kvm,
 * Unicorn, threads), keep data directories, drive a terminal.
 */
static const struct rule r_shell[] = {
	{ "openat", C_ANY }, { "read", C_ANY }, { "pread64", C_ANY },
	{ "pwrite64", C_ANY }, { "readv", C_ANY }, { "writev", C_ANY },
	{ "lseek", C_ANY }, { "close", C_ANY }, { "fstat", C_ANY },
	{ "newfstatat", C_ANY }, { "statx", C_ANY }, { "stat", C_ANY },
	{ "lstat", C_ANY }, { "getdents64", C_ANY },
	{ "fcntl", C_ANY }, { "flock", C_ANY }, { "ftruncate", C_ANY },
	{ "fsync", C_ANY }, { "fdatasync", C_ANY }, { "mkdir", C_ANY },
	{ "mkdirat", C_ANY }, { "unlink", C_ANY }, { "unlinkat", C_ANY },
	{ "rmdir", C_ANY }, { "rename", C_ANY }, { "renameat", C_ANY },
	{ "renameat2", C_ANY }, { "readlink", C_ANY }, { "readlinkat", C_ANY },
	{ "access", C_ANY }, { "faccessat", C_ANY }, { "faccessat2", C_ANY },
	{ "getcwd", C_ANY }, { "fchmod", C_ANY }, { "umask", C_ANY },
	{ "dup", C_ANY }, { "dup2", C_ANY }, { "dup3", C_ANY },
	{ "pipe2", C_ANY }, { "poll", C_ANY }, { "ppoll", C_ANY },
	{ "select", C_ANY }, { "pselect6", C_ANY }, { "ioctl", C_TTY_IOCTL },
	{ "mmap", C_ANY }, { "mprotect", C_ANY }, { "mremap", C_ANY },
	{ "clone", C_THREAD }, { "clone3", C_ENOSYS },
	{ "set_robust_list", C_ANY }, { "rseq", C_ANY },
	{ "sigaltstack", C_ANY }, { "sched_setaffinity", C_ANY },
	{ "sched_getaffinity", C_ANY }, { "rt_sigaction", C_ANY },
	{ "rt_sigtimedwait", C_ANY }, { "rt_sigsuspend", C_ANY },
	{ "tgkill", C_RUN_SIG }, { "sysinfo", C_ANY }, { "uname", C_ANY },
	{ "getuid", C_ANY }, { "geteuid", C_ANY }, { "getgid", C_ANY },
	{ "getegid", C_ANY }, { "getpgrp", C_ANY }, { "getppid", C_ANY },
	{ "prlimit64", C_ANY }, { "getrusage", C_ANY }, { "times", C_ANY },
	{ "clock_getres", C_ANY }, { "getrandom", C_ANY },
	{ "signalfd4", C_ANY },
	/* kvm.c's CPUID warm-up thread makes itself SCHED_IDLE */
	{ "sched_setscheduler", C_ANY },
	/* a new vCPU thread lowers its own priority (--vcpu-nice) before
	   it confines itself further */
	{ "getpriority", C_ANY }, { "setpriority", C_ANY },
	/* the threads it creates confine themselves further */
	{ "prctl", C_NNP }, { "seccomp", C_FILTER },
};

/*
 * A daemon worker (runs one request on its client's connection, like the
 * shell runs a command): the shell's needs, the connection's socket
 * calls, and the per-thread file-system identity switch of peer.c (root
 * only: it opens an image as the client to check the client may read it).
 */
static const struct rule r_worker[] = {
	{ "getsockopt", C_ANY }, { "sendto", C_ANY }, { "recvfrom", C_ANY },
	{ "sendmsg", C_ANY }, { "recvmsg", C_ANY }, { "shutdown", C_ANY },
	{ "getgroups", C_ANY }, { "setgroups", C_ANY }, { "setfsuid", C_ANY },
	{ "setfsgid", C_ANY },
};

/*
 * The daemon's main thread: a worker's needs (it creates the workers,
 * and re-creates and stops VMs itself at start-up and shutdown) plus
 * accepting connections and its epoll loop.  It confines itself after
 * it made its listening socket, epoll set, eventfd and signalfd and
 * opened the store: no filter allows creating a socket, binding,
 * listening or connecting.
 */
static const struct rule r_server[] = {
	{ "accept", C_ANY }, { "accept4", C_ANY },
	{ "epoll_ctl", C_ANY }, { "epoll_wait", C_ANY },
	{ "epoll_pwait", C_ANY },
};

/*
 * Sanitizer builds only (ASan/UBSan/TSan, for the test suite).  Every
 * thread: the runtime writes a report on the thread that made the bug
 * (devices run on the vCPU threads) and symbolizes its stacks there:
 * isatty(stderr) for colours, the executable's name (readlink
 * /proc/self/exe), /proc/self/maps and, in gcc's runtime, the binaries'
 * debug information (libbacktrace), all read-only.  clang's runtime reads
 * its llvm-symbolizer's pipe instead (see warm_symbolizer).  And the
 * threads that end the process (run-main, shell, server) also: at exit
 * LSan stops the world from the main thread — a tracer process (clone
 * without CLONE_THREAD) that ptrace()s every thread and reads
 * /proc/self/task — and the runtimes read /proc on other occasions.
 * Release builds never allow these.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CV_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CV_SANITIZED 1
#endif
#endif
#ifdef CV_SANITIZED
#include <sanitizer/common_interface_defs.h>
static const struct rule r_san_report[] = {
	{ "ioctl", C_ISATTY }, { "readlink", C_ANY }, { "open", C_OPEN_RO },
	{ "openat", C_OPEN_RO }, { "read", C_ANY }, { "close", C_ANY },
	{ "fcntl", C_SETFD }, { "fstat", C_ANY }, { "newfstatat", C_ANY },
};
static const struct rule r_sanitizer[] = {
	{ "ptrace", C_ANY }, { "clone", C_ANY }, { "wait4", C_ANY },
	{ "open", C_ANY }, { "openat", C_ANY }, { "getdents", C_ANY },
	{ "getdents64", C_ANY }, { "getppid", C_ANY }, { "prctl", C_ANY },
	{ "read", C_ANY }, { "close", C_ANY }, { "readlink", C_ANY },
	{ "sched_getaffinity", C_ANY }, { "fstat", C_ANY },
	{ "newfstatat", C_ANY }, { "kill", C_ANY }, { "tgkill", C_ANY },
	{ "rt_sigaction", C_ANY }, { "rt_sigtimedwait", C_ANY },
	{ "mmap", C_ANY }, { "mprotect", C_ANY }, { "pipe2", C_ANY },
	{ "dup2", C_ANY }, { "getrlimit", C_ANY }, { "prlimit64", C_ANY },
};
static const struct group g_san_report = RULES(r_san_report);
static const struct group g_sanitizer = RULES(r_sanitizer);
#define SAN_REPORT , &g_san_report
#define SAN_GROUP , &g_san_report, &g_sanitizer
#else
#define SAN_REPORT
#define SAN_GROUP
#endif

static const struct group g_thread = RULES(r_thread);
static const struct group g_vcpu_kvm = RULES(r_vcpu_kvm);
static const struct group g_vcpu_emu = RULES(r_vcpu_emu);
static const struct group g_reset = RULES(r_reset);
static const struct group g_signals = RULES(r_signals);
static const struct group g_run_main = RULES(r_run_main);
static const struct group g_shell = RULES(r_shell);
static const struct group g_worker = RULES(r_worker);
static const struct group g_server = RULES(r_server);

#define MAX_GROUPS 12
static const struct profile_def {
	const char *name;
	const struct group *g[MAX_GROUPS];
	/*
	 * The call the thread makes most, checked first: a kvm vCPU thread
	 * makes one ioctl(KVM_RUN) per exit, which otherwise walked 36 of the
	 * filter's instructions (in the kvm tier ~1.6 us of a ~47 us exit).
	 * Also in the profiles of the threads that create VMs (shell, daemon
	 * main and workers): their vCPU threads inherit that filter, and the
	 * kernel runs every filter of the chain for a call whose answer
	 * depends on its arguments, so each exit walked 105-120 instructions
	 * of the creator's filter too (bench/exitcost, a worker's filter under
	 * the vCPU's: ~80 -> ~45 ns more than the vCPU's alone).
	 */
	const char *hot;
} profiles[SANDBOX_NPROFILES] = {
	[SANDBOX_VCPU_KVM] = { "vcpu-kvm", { &g_thread, &g_vcpu_kvm SAN_REPORT },
			       "ioctl" },
	[SANDBOX_VCPU_EMU] = { "vcpu-emu", { &g_thread, &g_vcpu_emu SAN_REPORT },
			       NULL },
	[SANDBOX_RESET] = { "reset", { &g_thread, &g_reset SAN_REPORT }, NULL },
	[SANDBOX_SIGNALS] = { "signals", { &g_thread, &g_signals SAN_REPORT },
			      NULL },
	[SANDBOX_RUN_MAIN] = { "run-main", { &g_thread, &g_run_main SAN_GROUP }, NULL },
	[SANDBOX_SHELL] = { "shell", { &g_thread, &g_vcpu_kvm, &g_vcpu_emu,
			    &g_reset, &g_signals, &g_run_main, &g_shell
			    SAN_GROUP }, "ioctl" },
	[SANDBOX_SERVER] = { "server", { &g_thread, &g_vcpu_kvm, &g_vcpu_emu,
			     &g_reset, &g_signals, &g_run_main, &g_shell,
			     &g_worker, &g_server SAN_GROUP }, "ioctl" },
	[SANDBOX_WORKER] = { "server-worker", { &g_thread, &g_vcpu_kvm,
			     &g_vcpu_emu, &g_reset, &g_signals, &g_run_main,
			     &g_shell, &g_worker SAN_GROUP }, "ioctl" },
};

/* ---- process-wide state (see sandbox.h) -------------------------------- */

#define NAME_SLOTS 512		/* x86-64 system call numbers in use: < 512 */

static struct {
	pthread_once_t once;
	int rc;
	char msg[CV_ERR_MAX];
	struct sock_fprog prog[SANDBOX_NPROFILES];
	const char *names[NAME_SLOTS];
	bool log;
	unsigned only;			/* sandbox_only(): the profiles to build */
	bool no_pre;			/* ignore the precompiled filters (test) */
} sb = { .once = PTHREAD_ONCE_INIT, .only = ~0u };

/* The calling thread's label, for the trap message. */
static __thread char tl_label[96];

/* ---- building ----------------------------------------------------------- */

static int kick_signal(void)
{
	return SIGRTMIN + 1;	/* the kvm backend's kick */
}

static int add(scmp_filter_ctx ctx, uint32_t act, int nr, unsigned argc,
	       const struct scmp_arg_cmp *a)
{
	return seccomp_rule_add_array(ctx, act, nr, argc, a);
}

static int add_signals(scmp_filter_ctx ctx, int nr, bool usr2)
{
	const int sigs[] = { kick_signal(), SIGABRT, SIGUSR2 };
	for (size_t i = 0; i < (usr2 ? 3u : 2u); i++) {
		struct scmp_arg_cmp a = SCMP_A2(SCMP_CMP_EQ,
						(scmp_datum_t)sigs[i], 0);
		int rc = add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_ioctls(scmp_filter_ctx ctx, int nr, const unsigned long *req,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						req[i]);
		int rc = add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
		if (rc)
			return rc;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct rule *r)
{
	int nr = seccomp_syscall_resolve_name(r->name);
	if (nr == __NR_SCMP_ERROR)
		return -ENOENT;
	struct scmp_arg_cmp a;
	static const unsigned long vcpu_ioctls[] = {
		KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS, KVM_IRQ_LINE,
		KVM_IRQ_LINE_STATUS,
	};
	static const unsigned long tty_ioctls[] = {
		TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ,
		FIONREAD, TIOCGPGRP, TIOCSPGRP, TCFLSH, TCXONC, FIONBIO,
		FIOCLEX, FIONCLEX,
	};
	switch (r->cond) {
	case C_ANY:
		return add(ctx, SCMP_ACT_ALLOW, nr, 0, NULL);
	case C_NO_EXEC:
		a = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_KICK_SIG:
		return add_signals(ctx, nr, false);
	case C_RUN_SIG:
		return add_signals(ctx, nr, true);
	case C_VCPU_IOCTL:
		return add_ioctls(ctx, nr, vcpu_ioctls,
				  sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]));
	case C_TTY_IOCTL: {
		int rc = add_ioctls(ctx, nr, tty_ioctls, sizeof(tty_ioctls) /
				    sizeof(tty_ioctls[0]));
		a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, (scmp_datum_t)KVMIO << 8);
		return rc ? rc : add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	}
	case C_KVM_IOCTL:
		a = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00, (scmp_datum_t)KVMIO << 8);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_ISATTY:
		a = SCMP_A1(SCMP_CMP_EQ, TCGETS, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_SETFD:
		a = SCMP_A1(SCMP_CMP_EQ, F_SETFD, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_OPEN_RO:		/* the flags: open's second argument */
		a = nr == SCMP_SYS(open)
		    ? SCMP_A1(SCMP_CMP_MASKED_EQ,
			      O_WRONLY | O_RDWR | O_CREAT | O_TRUNC, 0)
		    : SCMP_A2(SCMP_CMP_MASKED_EQ,
			      O_WRONLY | O_RDWR | O_CREAT | O_TRUNC, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_OPEN_NOCREAT:
		a = SCMP_A2(SCMP_CMP_MASKED_EQ, O_WRONLY | O_CREAT | O_TRUNC, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_THREAD:
		a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_UNIX:
		a = SCMP_A0(SCMP_CMP_EQ, AF_UNIX, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_ENOSYS:
		return add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0, NULL);
	case C_NNP:
		a = SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS, 0);
		return add(ctx, SCMP_ACT_ALLOW, nr, 1, &a);
	case C_FILTER: {
		struct scmp_arg_cmp b[2] = {
			SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER, 0),
			SCMP_A1(SCMP_CMP_EQ, 0, 0),
		};
		return add(ctx, SCMP_ACT_ALLOW, nr, 2, b);
	}
	}
	return -EINVAL;
}

/*
 * A rule that a broader rule of the same profile already covers is
 * skipped (libseccomp refuses an unconditional rule next to conditional
 * ones for the same call, and the broader one wins anyway).
 */
static bool covered(const struct profile_def *p, size_t k0, size_t i0)
{
	const struct rule *r = &p->g[k0]->r[i0];
	for (size_t k = 0; k < MAX_GROUPS && p->g[k]; k++)
		for (size_t i = 0; i < p->g[k]->n; i++) {
			const struct rule *o = &p->g[k]->r[i];
			if ((k == k0 && i == i0) || strcmp(o->name, r->name))
				continue;
			if (o->cond == C_ANY && r->cond != C_ANY)
				return true;
			if (o->cond == C_RUN_SIG && r->cond == C_KICK_SIG)
				return true;
			if (o->cond == C_TTY_IOCTL &&
			    (r->cond == C_KVM_IOCTL || r->cond == C_VCPU_IOCTL ||
			     r->cond == C_ISATTY))
				return true;
			if (o->cond == C_KVM_IOCTL && r->cond == C_VCPU_IOCTL)
				return true;
			if (o->cond == C_OPEN_NOCREAT && r->cond == C_OPEN_RO)
				return true;
			/* identical rules: keep the first */
			if (o->cond == r->cond && (k < k0 || (k == k0 && i < i0)))
				return true;
		}
	return false;
}

/* Compile profile p into sb.prog[p] (raw BPF, via a memfd). */
static int build_profile(enum sandbox_profile p, struct cv_err *err)
{
	const struct profile_def *def = &profiles[p];
	uint32_t deflt = sb.log ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx = seccomp_init(deflt);
	if (!ctx)
		return cv_err_set(err, ENOMEM, "seccomp: cannot start the %s "
				  "filter", def->name);
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
				  SCMP_ACT_KILL_PROCESS);
	if (!rc && def->hot)
		rc = seccomp_syscall_priority(ctx, seccomp_syscall_resolve_name(
						   def->hot), 255);
	for (size_t k = 0; !rc && k < MAX_GROUPS && def->g[k]; k++)
		for (size_t i = 0; !rc && i < def->g[k]->n; i++) {
			const struct rule *r = &def->g[k]->r[i];
			if (covered(def, k, i))
				continue;
			rc = add_rule(ctx, r);
			if (rc)
				cv_err_set(err, -rc, "seccomp: cannot add %s to "
					   "the %s filter: %s", r->name,
					   def->name, strerror(-rc));
		}
	int fd = -1;
	if (!rc) {
		fd = memfd_create("cvisor-seccomp", MFD_CLOEXEC);
		if (fd < 0)
			rc = cv_err_set(err, errno, "seccomp: memfd_create: %s",
					strerror(errno));
	}
	if (!rc && (rc = seccomp_export_bpf(ctx, fd)) != 0)
		cv_err_set(err, -rc, "seccomp: cannot compile the %s filter",
			   def->name);
	seccomp_release(ctx);
	off_t len = rc ? 0 : lseek(fd, 0, SEEK_END);
	if (!rc && (len <= 0 || len % sizeof(struct sock_filter) ||
		    len / sizeof(struct sock_filter) > BPF_MAXINSNS))
		rc = cv_err_set(err, EINVAL, "seccomp: the %s filter has a "
				"bad size (%lld bytes)", def->name,
				(long long)len);
	struct sock_filter *insns = rc ? NULL : malloc((size_t)len);
	if (!rc && !insns)
		rc = cv_err_set(err, ENOMEM, "out of memory");
	if (!rc && pread(fd, insns, (size_t)len, 0) != len)
		rc = cv_err_set(err, EIO, "seccomp: cannot read back the %s "
				"filter", def->name);
	if (fd >= 0)
		close(fd);
	if (rc) {
		free(insns);
		return rc < 0 ? rc : -rc;
	}
	sb.prog[p].filter = insns;
	sb.prog[p].len = (unsigned short)(len / sizeof(struct sock_filter));
	return 0;
}

/* ---- the trap ---------------------------------------------------------- */

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	size_t n = 0;
	unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) && n < sizeof(tmp));
	if (v < 0 && at + 1 < cap)
		buf[at++] = '-';
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	char line[320];
	size_t n = 0;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < NAME_SLOTS && sb.names[nr]
			   ? sb.names[nr] : "?";
	n = put(line, n, sizeof(line), "cvisor: seccomp: ");
	n = put(line, n, sizeof(line), tl_label[0] ? tl_label : "a thread");
	n = put(line, n, sizeof(line), " made a forbidden system call: ");
	n = put(line, n, sizeof(line), name);
	n = put(line, n, sizeof(line), " (");
	n = put_num(line, n, sizeof(line), nr);
	n = put(line, n, sizeof(line), "); exiting (--no-seccomp turns the "
		"filters off)\n");
	/*
	 * Raw system calls, not write() and _exit(): in sanitizer builds
	 * those are the runtime's interceptors, and a trap can happen inside
	 * the runtime (a report on a confined thread) while it holds its
	 * locks: TSan's _exit() takes its thread registry lock to finalize,
	 * and the process hung there instead of exiting.
	 */
	long w = syscall(SYS_write, STDERR_FILENO, line, n);
	(void)w;
	syscall(SYS_exit_group, SANDBOX_EXIT_STATUS);
}

/*
 * (Re)install the SIGSYS handler: others may have replaced it since (a
 * test framework catching signals), and a trap without it kills the
 * process with no word.
 */
static int install_handler(struct cv_err *err)
{
	struct sigaction sa, old;
	if (!sigaction(SIGSYS, NULL, &old) && (old.sa_flags & SA_SIGINFO) &&
	    old.sa_sigaction == on_sigsys)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		return cv_err_set(err, errno, "seccomp: cannot install the "
				  "SIGSYS handler: %s", strerror(errno));
	return 0;
}

/*
 * Precompiled filters (meson: sandbox-gen runs this file's rules through
 * libseccomp at build time and writes sandbox_pre.h): the trapping
 * programs and the name table, so that a process does not spend its
 * start-up in libseccomp (~1.5 ms here, ~40 ms in the nested kvm tier:
 * README "Performance").  $CVISOR_SECCOMP=log compiles at run time as
 * before; tests/vmm/test_sandbox_only.c checks both ways agree.
 */
#ifdef CV_SANDBOX_PRECOMPILED
#include "sandbox_pre.h"
#endif

/*
 * Sanitizer builds: the runtime symbolizes stacks for a report, and for
 * every leak LSan finds at exit, to match it against the suppressions
 * (tests/lsan.supp).  gcc's runtime does that in the process (libbacktrace);
 * clang's (compiler-rt) starts an llvm-symbolizer child process on first
 * use, fork + execve, and on a confined thread that fork is trapped: the
 * process ended with 159 instead of its report or its status (seen:
 * `exit` in the shell with an emu VM running, Unicorn's suppressed leaks,
 * "the shell's main thread made a forbidden system call: fork").  No
 * filter allows creating processes, and none should in these builds
 * either: the child would run llvm-symbolizer under the inherited filter.
 * So start the symbolizer now, while no filter is installed; later
 * symbolization writes to and reads from its pipes (allowed).  Without an
 * llvm-symbolizer, or with symbolize=0, the runtime starts none.
 */
static void warm_symbolizer(void)
{
#if defined(CV_SANITIZED) && defined(__clang__)
	char buf[64];	/* "%F", a function name: "%p" alone symbolizes nothing */
	__sanitizer_symbolize_pc((void *)(uintptr_t)warm_symbolizer, "%F",
				 buf, sizeof(buf));
#endif
}

static void prepare_once(void)
{
	struct cv_err err = {0};
	const char *env = getenv("CVISOR_SECCOMP");
	sb.log = env && !strcmp(env, "log");
#ifdef CV_SANDBOX_PRECOMPILED
	bool pre = !sb.log && !sb.no_pre;
#else
	bool pre = false;
#endif
	(void)pre;
	for (int nr = 0; nr < NAME_SLOTS; nr++)
#ifdef CV_SANDBOX_PRECOMPILED
		sb.names[nr] = pre ? sandbox_pre_names[nr] :
#else
		sb.names[nr] =
#endif
			seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	/*
	 * glibc's one-time file reads, done now or never, so that none
	 * happens on a confined thread (openat is forbidden there):
	 *  - the malloc arena limit comes from /sys/devices/system/cpu/online
	 *    the first time a thread needs a new arena: set it (8 per CPU,
	 *    glibc's own default) from the affinity mask, a system call;
	 *  - giving the top of a thread arena's heap back reads
	 *    /proc/sys/vm/overcommit_memory once per process (seen: a daemon
	 *    vCPU thread freeing Unicorn's memory ended with 159).  Such a
	 *    heap is at most 64 MiB (HEAP_MAX_SIZE), and glibc trims it only
	 *    when its free top reaches M_TRIM_THRESHOLD: at 128 MiB that never
	 *    happens.  Freed memory stays in the arena for reuse (large blocks
	 *    are mmap'ed and unmapped as before);
	 *  - the first gmtime_r/timegm loads the time zone (/etc/localtime):
	 *    the RTC model and the log call them on VM threads.
	 * tests/vmm/test_sandbox.c (heap churn on a vCPU thread) guards this.
	 */
	cpu_set_t cpus;
	int ncpu = sched_getaffinity(0, sizeof(cpus), &cpus) ? 1
								 : CPU_COUNT(&cpus);
	mallopt(M_ARENA_MAX, 8 * (ncpu > 0 ? ncpu : 1));
	mallopt(M_TRIM_THRESHOLD, 128 << 20);
	tzset();
	warm_symbolizer();
	sb.rc = install_handler(&err);
	for (int p = 0; !sb.rc && p < SANDBOX_NPROFILES; p++) {
		if (!(sb.only & (1u << p)))
			continue;
#ifdef CV_SANDBOX_PRECOMPILED
		if (pre) {	/* the kernel only reads the program */
			sb.prog[p].filter =
				(struct sock_filter *)sandbox_pre_prog[p].insns;
			sb.prog[p].len = sandbox_pre_prog[p].len;
			continue;
		}
#endif
		sb.rc = build_profile((enum sandbox_profile)p, &err);
	}
	snprintf(sb.msg, sizeof(sb.msg), "%s", err.msg);
}

#ifdef CV_SANDBOX_GEN
/* sandbox-gen: every profile compiled by libseccomp, as C tables. */
int sandbox_gen_write(FILE *out);
int sandbox_gen_write(FILE *out)
{
	struct cv_err err = {0};
	unsetenv("CVISOR_SECCOMP");
	if (sandbox_prepare(&err)) {
		fprintf(stderr, "sandbox-gen: %s\n", err.msg);
		return 1;
	}
	fprintf(out, "/* generated by sandbox-gen from sandbox.c: do not edit */\n"
		     "static const char *const sandbox_pre_names[%d] = {\n",
		NAME_SLOTS);
	for (int nr = 0; nr < NAME_SLOTS; nr++)
		if (sb.names[nr])
			fprintf(out, "\t[%d] = \"%s\",\n", nr, sb.names[nr]);
	fprintf(out, "};\n");
	for (int p = 0; p < SANDBOX_NPROFILES; p++) {
		fprintf(out, "static const struct sock_filter sandbox_pre_%d[] = {\n", p);
		for (unsigned i = 0; i < sb.prog[p].len; i++) {
			const struct sock_filter *f = &sb.prog[p].filter[i];
			fprintf(out, "\t{ 0x%04x, %u, %u, 0x%08x },\n", f->code,
				f->jt, f->jf, f->k);
		}
		fprintf(out, "};\n");
	}
	fprintf(out, "static const struct {\n\tconst struct sock_filter *insns;\n"
		     "\tunsigned short len;\n} sandbox_pre_prog[%d] = {\n",
		SANDBOX_NPROFILES);
	for (int p = 0; p < SANDBOX_NPROFILES; p++)
		fprintf(out, "\t{ sandbox_pre_%d, %u },\n", p, sb.prog[p].len);
	fprintf(out, "};\n");
	return ferror(out) ? 1 : 0;
}
#endif

int sandbox_check_precompiled(char *msg, size_t len)
{
#ifndef CV_SANDBOX_PRECOMPILED
	snprintf(msg, len, "not a build with precompiled filters");
	return -1;
#else
	sb.no_pre = true;	/* compile here, at run time */
	struct cv_err err = {0};
	if (sandbox_prepare(&err)) {
		snprintf(msg, len, "%s", err.msg);
		return -1;
	}
	if (sb.log) {
		snprintf(msg, len, "CVISOR_SECCOMP=log: filters differ by design");
		return -1;
	}
	for (int nr = 0; nr < NAME_SLOTS; nr++) {
		const char *a = sb.names[nr], *b = sandbox_pre_names[nr];
		if ((a == NULL) != (b == NULL) || (a && strcmp(a, b))) {
			snprintf(msg, len, "system call %d: '%s' here, '%s' "
				 "precompiled", nr, a ? a : "", b ? b : "");
			return 1;
		}
	}
	for (int p = 0; p < SANDBOX_NPROFILES; p++) {
		if (!(sb.only & (1u << p)))
			continue;
		if (sb.prog[p].len != sandbox_pre_prog[p].len ||
		    memcmp(sb.prog[p].filter, sandbox_pre_prog[p].insns,
			   sb.prog[p].len * sizeof(struct sock_filter))) {
			snprintf(msg, len, "the %s filter differs from the "
				 "precompiled one", profiles[p].name);
			return 1;
		}
	}
	snprintf(msg, len, "ok");
	return 0;
#endif
}

int sandbox_prepare(struct cv_err *err)
{
	pthread_once(&sb.once, prepare_once);
	if (sb.rc)
		return cv_err_set(err, -sb.rc, "%s", sb.msg);
	return 0;
}

void sandbox_only(unsigned mask)
{
	sb.only = mask;
}

int sandbox_log_mode(void)
{
	pthread_once(&sb.once, prepare_once);
	return sb.log;
}

int sandbox_enter(enum sandbox_profile p, const char *label,
		  struct cv_err *err)
{
	if ((unsigned)p >= SANDBOX_NPROFILES)
		return cv_err_set(err, EINVAL, "seccomp: no profile %d", p);
	int rc = sandbox_prepare(err);
	if (rc)
		return rc;
	if (!sb.prog[p].filter)
		return cv_err_set(err, ENOENT, "seccomp: the %s filter was not "
				  "built in this process (sandbox_only)",
				  profiles[p].name);
	rc = install_handler(err);
	if (rc)
		return rc;
	snprintf(tl_label, sizeof(tl_label), "%s",
		 label ? label : profiles[p].name);
	/* a SIGSYS blocked at the trap would kill us without the message */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return cv_err_set(err, errno, "seccomp: cannot set "
				  "no_new_privs: %s", strerror(errno));
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb.prog[p]))
		return cv_err_set(err, errno, "seccomp: cannot install the %s "
				  "filter on %s: %s (--no-seccomp runs without "
				  "filters)", profiles[p].name, tl_label,
				  strerror(errno));
	return 0;
}

const char *sandbox_profile_name(enum sandbox_profile p)
{
	return (unsigned)p < SANDBOX_NPROFILES ? profiles[p].name : "?";
}

int sandbox_program(enum sandbox_profile p, const struct sock_filter **insns,
		    unsigned *len)
{
	struct cv_err err = {0};
	if ((unsigned)p >= SANDBOX_NPROFILES || sandbox_prepare(&err) ||
	    !sb.prog[p].filter)
		return -ENOENT;
	*insns = sb.prog[p].filter;
	*len = sb.prog[p].len;
	return 0;
}

void sandbox_allowed(enum sandbox_profile p, const char *const **names,
		     size_t *n)
{
	/* filled lazily, once per profile: names of the unique calls */
	static const char *list[SANDBOX_NPROFILES][256];
	static size_t count[SANDBOX_NPROFILES];
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	*names = NULL;
	*n = 0;
	if ((unsigned)p >= SANDBOX_NPROFILES)
		return;
	pthread_mutex_lock(&lock);
	if (!count[p]) {
		const struct profile_def *def = &profiles[p];
		for (size_t k = 0; k < MAX_GROUPS && def->g[k]; k++)
			for (size_t i = 0; i < def->g[k]->n; i++) {
				const struct rule *r = &def->g[k]->r[i];
				if (r->cond == C_ENOSYS)
					continue;
				bool dup = false;
				for (size_t j = 0; j < count[p] && !dup; j++)
					dup = !strcmp(list[p][j], r->name);
				if (!dup && count[p] < 256)
					list[p][count[p]++] = r->name;
			}
	}
	*names = list[p];
	*n = count[p];
	pthread_mutex_unlock(&lock);
}
