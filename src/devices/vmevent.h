/*
 * vmevent: how a device tells its VM that something VM-wide happened.  The
 * device calls sink->post() (thread-safe, from a vCPU thread) and returns
 * BUS_EXIT from its access so the vCPU leaves guest execution; the VM layer
 * then decides what the event means (stop, reset, ...).
 */
#ifndef CV_VMEVENT_H
#define CV_VMEVENT_H

enum vm_event_kind {
	VM_EVENT_DEBUG_EXIT,	/* arg = the exit code the guest wrote */
	VM_EVENT_POWEROFF,	/* guest powered off (ACPI S5 etc.), arg 0 */
	VM_EVENT_RESET,		/* guest asked for a reboot (i8042 0xFE ...) */
};

struct vm_event_sink {
	void (*post)(void *ctx, enum vm_event_kind kind, int arg);
	void *ctx;
};

#endif
