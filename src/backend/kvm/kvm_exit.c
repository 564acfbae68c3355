/*
 * kvm_exit: pure decoding of struct kvm_run into a run-loop action (see
 * kvm_exit.h).  No fds, no devices, no allocation.
 */
#include "kvm_exit.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const char *const reason_names[] = {
	[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
	[KVM_EXIT_IO] = "KVM_EXIT_IO",
	[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
	[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
	[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
	[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
	[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
	[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
	[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "KVM_EXIT_IOAPIC_EOI",
	[KVM_EXIT_X86_RDMSR] = "KVM_EXIT_X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "KVM_EXIT_X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "KVM_EXIT_DIRTY_RING_FULL",
	[KVM_EXIT_X86_BUS_LOCK] = "KVM_EXIT_X86_BUS_LOCK",
	[KVM_EXIT_NOTIFY] = "KVM_EXIT_NOTIFY",
};

const char *kvm_exit_reason_name(uint32_t reason)
{
	if (reason < sizeof(reason_names) / sizeof(reason_names[0]) &&
	    reason_names[reason])
		return reason_names[reason];
	return "unknown";
}

static int fail(struct kvm_exit_action *out, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct kvm_exit_action *out, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
	va_end(ap);
	out->kind = KVM_ACT_ERROR;
	return -errnum;
}

static int decode_io(const struct kvm_run *run, size_t run_size,
		     struct kvm_exit_action *out)
{
	uint8_t size = run->io.size;
	uint32_t count = run->io.count;
	uint64_t off = run->io.data_offset;

	if (size != 1 && size != 2 && size != 4)
		return fail(out, EINVAL, "port I/O exit on port 0x%x has invalid size %u",
			    run->io.port, size);
	if (count == 0)
		return fail(out, EINVAL, "port I/O exit on port 0x%x has a zero count",
			    run->io.port);
	if (run->io.direction != KVM_EXIT_IO_IN &&
	    run->io.direction != KVM_EXIT_IO_OUT)
		return fail(out, EINVAL, "port I/O exit on port 0x%x has invalid direction %u",
			    run->io.port, run->io.direction);
	/*
	 * The data block is written for IN: it must not alias the kvm_run
	 * header (immediate_exit lives there) nor leave the mapping.  size *
	 * count < 2^35, so the product cannot overflow 64 bits.
	 */
	uint64_t bytes = (uint64_t)size * count;
	if (off < sizeof(struct kvm_run) || off > run_size ||
	    bytes > run_size - off)
		return fail(out, EINVAL,
			    "port I/O exit on port 0x%x has data offset %llu + %llu bytes outside the %zu-byte kvm_run area",
			    run->io.port, (unsigned long long)off,
			    (unsigned long long)bytes, run_size);

	out->kind = KVM_ACT_IO;
	out->io.port = run->io.port;
	out->io.size = size;
	out->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
	out->io.count = count;
	out->io.data_offset = (size_t)off;
	return 0;
}

static int decode_mmio(const struct kvm_run *run, struct kvm_exit_action *out)
{
	uint32_t len = run->mmio.len;

	/* The kernel splits wider or page-crossing accesses into <= 8 bytes. */
	if (len == 0 || len > sizeof(run->mmio.data))
		return fail(out, EINVAL, "MMIO exit at 0x%llx has invalid length %u",
			    (unsigned long long)run->mmio.phys_addr, len);
	out->kind = KVM_ACT_MMIO;
	out->mmio.addr = run->mmio.phys_addr;
	out->mmio.len = (uint8_t)len;
	out->mmio.is_write = run->mmio.is_write != 0;
	return 0;
}

static const char *suberror_name(uint32_t sub)
{
	switch (sub) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "simultaneous exceptions";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "unexpected exit while delivering an event";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected hardware exit reason";
	default:
		return "unknown suberror";
	}
}

/* Append " (insn xx xx ...)" when the kernel reported the bytes. */
static void append_insn(const struct kvm_run *run, char *buf, size_t len)
{
	if (run->emulation_failure.ndata < 3 ||
	    !(run->emulation_failure.flags &
	      KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return;
	size_t n = run->emulation_failure.insn_size;
	if (n > sizeof(run->emulation_failure.insn_bytes))
		n = sizeof(run->emulation_failure.insn_bytes);
	if (n == 0)
		return;
	size_t used = strlen(buf);
	int w = snprintf(buf + used, len - used, ", instruction bytes");
	for (size_t i = 0; i < n && w > 0 && (size_t)w < len - used; i++) {
		used += (size_t)w;
		w = snprintf(buf + used, len - used, " %02x",
			     run->emulation_failure.insn_bytes[i]);
	}
}

static int decode_internal(const struct kvm_run *run,
			   struct kvm_exit_action *out)
{
	uint32_t sub = run->internal.suberror;
	fail(out, EIO, "KVM internal error, suberror %u (%s)", sub,
	     suberror_name(sub));
	if (sub == KVM_INTERNAL_ERROR_EMULATION) {
		append_insn(run, out->msg, sizeof(out->msg));
	} else if (run->internal.ndata > 0) {
		size_t used = strlen(out->msg);
		snprintf(out->msg + used, sizeof(out->msg) - used,
			 ", data 0x%llx",
			 (unsigned long long)run->internal.data[0]);
	}
	return -EIO;
}

static int decode_system_event(const struct kvm_run *run,
			       struct kvm_exit_action *out)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
	case KVM_SYSTEM_EVENT_RESET:
		out->kind = KVM_ACT_SHUTDOWN;
		return 0;
	case KVM_SYSTEM_EVENT_WAKEUP:
		out->kind = KVM_ACT_REENTER;
		return 0;
	case KVM_SYSTEM_EVENT_CRASH:
		return fail(out, EIO, "the guest reported a crash (KVM system event)");
	default:
		return fail(out, ENOTSUP, "unhandled KVM system event type %u",
			    run->system_event.type);
	}
}

int kvm_decode_exit(const struct kvm_run *run, size_t run_size,
		    struct kvm_exit_action *out)
{
	/* every exit passes here: the 200-byte msg only gets its NUL */
	memset(out, 0, offsetof(struct kvm_exit_action, msg));
	out->msg[0] = '\0';
	out->exit_reason = run->exit_reason;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return decode_io(run, run_size, out);
	case KVM_EXIT_MMIO:
		return decode_mmio(run, out);
	case KVM_EXIT_HLT:
		out->kind = KVM_ACT_HLT;
		return 0;
	case KVM_EXIT_SHUTDOWN:
		out->kind = KVM_ACT_SHUTDOWN;
		return 0;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
	case KVM_EXIT_NMI:
		out->kind = KVM_ACT_REENTER;
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		return decode_system_event(run, out);
	case KVM_EXIT_INTERNAL_ERROR:
		return decode_internal(run, out);
	case KVM_EXIT_FAIL_ENTRY:
		return fail(out, EIO,
			    "KVM could not enter the guest, hardware entry failure reason 0x%llx on host CPU %u",
			    (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			    run->fail_entry.cpu);
	case KVM_EXIT_UNKNOWN:
		return fail(out, EIO, "KVM exit with unknown hardware exit reason 0x%llx",
			    (unsigned long long)run->hw.hardware_exit_reason);
	case KVM_EXIT_EXCEPTION:
		return fail(out, EIO, "unhandled guest exception %u (error code 0x%x)",
			    run->ex.exception, run->ex.error_code);
	default:
		return fail(out, ENOTSUP, "unhandled KVM exit reason %u (%s)",
			    run->exit_reason,
			    kvm_exit_reason_name(run->exit_reason));
	}
}
