/*
 * cvports: cvisor's own always-present ports (SPEC §5b) and the i8042
 * stub, one object per VM:
 *   0xf4        debug-exit: a byte written is the guest's exit code
 *               (posts VM_EVENT_DEBUG_EXIT, returns BUS_EXIT)
 *   0x80        boot/debug port: the first write is timestamped
 *               (CLOCK_MONOTONIC: the boot time); the later ones are
 *               counted and their value kept, without a clock read
 *   0x5f0-0x5f3 shutdown request: a 32-bit register reading 1 after
 *               cvports_request_shutdown(), else 0; writes ignored
 *   0x60, 0x64  i8042 keyboard controller stub: enough of the command set
 *               for firmware and Linux probing (status: OBF only while a
 *               reply waits, IBF never; CTR read/write 0x20/0x60, self
 *               test 0xAA -> 0x55, interface tests 0xAB -> 0x00 and 0xA9
 *               -> 0xFF, port disable/enable 0xAD/0xAE/0xA7/0xA8 in the
 *               CTR, output port 0xD0/0xD1, loopback 0xD2 and 0xD3 (with
 *               AUXDATA), no keyboard or mouse behind it and no IRQ 1/12);
 *               0xFE to 0x64 (or any output-port write that drops the
 *               reset line) posts VM_EVENT_RESET and returns BUS_EXIT
 * Safe to access from several vCPU threads at once.
 */
#ifndef CV_CVPORTS_H
#define CV_CVPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "err.h"
#include "vmevent.h"

#define CVPORT_DEBUG_EXIT 0xf4
#define CVPORT_BOOT 0x80
#define CVPORT_SHUTDOWN 0x5f0
#define CVPORT_SHUTDOWN_LEN 4
#define CVPORT_I8042_DATA 0x60
#define CVPORT_I8042_CMD 0x64

/* i8042 status bits */
#define I8042_STR_OBF 0x01	/* output buffer full: data port has a byte */
#define I8042_STR_SYS 0x04	/* self-test passed */
#define I8042_STR_CMD 0x08	/* last write went to the command port */
#define I8042_STR_UNLOCKED 0x10	/* keyboard not inhibited */
#define I8042_STR_AUXDATA 0x20	/* the byte in the buffer is from the AUX side */
#define I8042_STR_IBF 0x02	/* input buffer full: never (writes are
				   consumed at once) */

struct cvports;

struct cvports *cvports_create(struct vm_event_sink sink, struct cv_err *err);
void cvports_destroy(struct cvports *p);	/* NULL ok */

/*
 * Power-on state: shutdown request cleared, boot-port stamps and debug
 * exit code forgotten, i8042 back to its defaults.  The start time is
 * kept (the VM layer sets it again on each start).
 */
void cvports_reset(struct cvports *p);

/* Bus handlers; opaque = struct cvports *.  One per port range above. */
extern const struct bus_device_ops cvports_debug_exit_ops;
extern const struct bus_device_ops cvports_boot_ops;
extern const struct bus_device_ops cvports_shutdown_ops;
extern const struct bus_device_ops cvports_i8042_data_ops;
extern const struct bus_device_ops cvports_i8042_cmd_ops;

/* Graceful stop: the guest now reads 1 from 0x5f0. */
void cvports_request_shutdown(struct cvports *p);
bool cvports_shutdown_requested(const struct cvports *p);

/* The last exit code written to 0xf4 since reset; false when none. */
bool cvports_exit_code(const struct cvports *p, int *code);

/* CLOCK_MONOTONIC in nanoseconds, the clock of every stamp here. */
uint64_t cvports_now_ns(void);

/* When the VM was started (cvports_now_ns() at start); boot time is the
 * first 0x80 write minus this. */
void cvports_set_start_time(struct cvports *p, uint64_t start_ns);

struct cvports_boot_info {
	uint64_t writes;	/* 0x80 writes since reset */
	uint64_t first_ns;	/* time of the first one (0 = none yet) */
	uint8_t last_value;
	uint64_t start_ns;	/* as set, 0 = never */
	bool has_boot_time;	/* a write happened after a set start time */
	uint64_t boot_time_ns;	/* first_ns - start_ns when has_boot_time */
};
void cvports_boot_info(const struct cvports *p, struct cvports_boot_info *out);

#endif
