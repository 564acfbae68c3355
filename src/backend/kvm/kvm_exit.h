/*
 * kvm_exit: turns the contents of a vCPU's struct kvm_run after KVM_RUN into
 * one action for the run loop (port I/O, MMIO, HLT, shutdown, re-enter, or
 * an error sentence).  A pure function of the kvm_run bytes: it touches no
 * fd and no device, so it is unit-tested with fabricated kvm_run contents.
 *
 * Every value the kernel (or a guest through it) controls that the caller
 * will use as a length or an offset is bounds-checked here: an I/O data
 * block must lie inside the kvm_run mapping and outside its header.
 */
#ifndef CV_KVM_EXIT_H
#define CV_KVM_EXIT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kvm_action {
	KVM_ACT_IO,		/* port I/O: see .io */
	KVM_ACT_MMIO,		/* MMIO: see .mmio */
	KVM_ACT_HLT,		/* guest halted and nobody in the kernel waits */
	KVM_ACT_SHUTDOWN,	/* triple fault, or a reset/shutdown event */
	KVM_ACT_REENTER,	/* nothing to do (signal, interrupt window) */
	KVM_ACT_ERROR,		/* unrecoverable: .msg says why */
};

struct kvm_exit_action {
	enum kvm_action kind;
	struct {
		uint16_t port;
		uint8_t size;		/* 1, 2 or 4 */
		bool is_write;		/* OUT */
		uint32_t count;		/* > 1 for string I/O (INS/OUTS) */
		size_t data_offset;	/* data block: count * size bytes here */
	} io;
	struct {
		uint64_t addr;
		uint8_t len;		/* 1..8 */
		bool is_write;
	} mmio;
	uint32_t exit_reason;		/* the raw KVM_EXIT_* value */
	char msg[200];			/* ERROR: a sentence without RIP */
};

/*
 * Decode run (whose mapping is run_size bytes long).  Returns 0 for a
 * well-formed exit; -EINVAL for malformed values (kind = ERROR, msg says
 * what) and -ENOTSUP for exits cvisor does not handle (kind = ERROR).
 */
int kvm_decode_exit(const struct kvm_run *run, size_t run_size,
		    struct kvm_exit_action *out);

/* "KVM_EXIT_IO", ... or "unknown" for the logs. */
const char *kvm_exit_reason_name(uint32_t reason);

#endif
