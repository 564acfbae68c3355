/*
 * sandbox: per-thread seccomp filters (libseccomp).  Each thread installs
 * its own filter on itself (no TSYNC) once it knows what it is: a vCPU
 * thread on kvm or emu, a VM's reset thread, the signal-waiting control
 * thread and the main thread of `cvisor run`, a thread that runs shell
 * commands, or a daemon thread (sockets).  The exact allow-lists are the
 * tables in sandbox.c; docs/security.md lists them and says why.
 *
 * A forbidden system call traps (SIGSYS): the handler writes one line to
 * stderr naming the thread and the call, e.g.
 *   cvisor: seccomp: vCPU thread of VM 3 (kvm) made a forbidden system
 *   call: socket (41); exiting (--no-seccomp turns the filters off)
 * and ends the whole process with _exit(SANDBOX_EXIT_STATUS).  A thread
 * stacks its filter on top of the one it inherited from its creator: the
 * creator's allow-list must contain the child's (see docs/security.md).
 *
 * Process-wide state, all of it in this module: the compiled filter
 * programs (built once, they depend on nothing per VM), the table of
 * system call names for the handler, and the SIGSYS handler itself.
 * $CVISOR_SECCOMP=log makes every filter log (kernel audit log / dmesg)
 * instead of trapping: the way to find what a new code path needs.
 */
#ifndef CV_SANDBOX_H
#define CV_SANDBOX_H

#include <stddef.h>

#include "err.h"

/* The exit status after a forbidden system call: 128 + SIGSYS. */
#define SANDBOX_EXIT_STATUS 159

enum sandbox_profile {
	SANDBOX_VCPU_KVM,	/* a kvm vCPU thread: KVM_RUN loop */
	SANDBOX_VCPU_EMU,	/* an emu VM's runner: the Unicorn loop */
	SANDBOX_RESET,		/* a VM's reset thread: rebuilds the machine */
	SANDBOX_SIGNALS,	/* `cvisor run`'s signal waiter */
	SANDBOX_RUN_MAIN,	/* `cvisor run`'s main thread once started */
	SANDBOX_SHELL,		/* runs shell commands: creates VMs, files */
	SANDBOX_SERVER,		/* the daemon's main thread: WORKER + its
				   listening socket, epoll, signalfd */
	SANDBOX_WORKER,		/* a daemon worker: SHELL + its client's
				   socket, the peer identity switch */
	SANDBOX_NPROFILES
};

/*
 * Ready every profile (precompiled, or compiled now through a memfd),
 * do glibc's one-time file reads and install the SIGSYS handler;
 * idempotent and thread-safe.  sandbox_enter() calls it first, so it
 * always runs before any thread of the process is confined (the first
 * caller does the work, the others wait for it).  Calling it early only
 * moves that work: the shell does, `cvisor run` leaves it to its first VM
 * thread (in parallel with its own start-up).
 */
int sandbox_prepare(struct cv_err *err);

/*
 * Before the first sandbox_prepare (else no effect): compile only the
 * profiles in mask (bit 1u << p); sandbox_enter() with any other then
 * fails with ENOENT.  `cvisor run` never uses SHELL/SERVER, the largest
 * filters: skipping them halves its start-up compile.
 */
void sandbox_only(unsigned mask);

/*
 * Builds with precompiled filters (CV_SANDBOX_PRECOMPILED, the default):
 * in a fresh process, compile every profile with libseccomp now and
 * compare with the precompiled programs; 0 when equal, 1 when not, -1
 * when it cannot tell; msg says which.  For tests.
 */
int sandbox_check_precompiled(char *msg, size_t len);

/*
 * Confine the calling thread with profile p.  label names the thread in
 * the trap message ("vCPU thread of VM 3 (kvm)"); it is copied.
 */
int sandbox_enter(enum sandbox_profile p, const char *label,
		  struct cv_err *err);

const char *sandbox_profile_name(enum sandbox_profile p);

/* True when $CVISOR_SECCOMP=log (filters log instead of trapping). */
int sandbox_log_mode(void);

/*
 * The BPF program of profile p as prepared (sandbox_prepare): 0 and
 * the program in insns and len, or -ENOENT when p was not prepared.
 * For tests.
 */
struct sock_filter;
int sandbox_program(enum sandbox_profile p, const struct sock_filter **insns,
		    unsigned *len);

/*
 * The allow-list of profile p: names[0..*n) of the system calls allowed
 * (some only with the argument conditions docs/security.md gives).
 */
void sandbox_allowed(enum sandbox_profile p, const char *const **names,
		     size_t *n);

#endif
