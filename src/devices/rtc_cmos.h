/*
 * rtc_cmos: the MC146818-style real-time clock and CMOS RAM at ports
 * 0x70 (index; bit 7, the NMI mask, is accepted and ignored) and 0x71
 * (data).  The time is the host's (UTC) plus an offset the guest sets by
 * writing the time registers; register B chooses BCD or binary and 12- or
 * 24-hour format (default: BCD, 24 h); register A shows update-in-progress
 * during the last 244 us of every second; register D reports a valid
 * battery.  The memory-size bytes (0x15-0x18, 0x30-0x31, 0x34-0x35,
 * 0x5b-0x5d) are filled from the VM's RAM.  Not modelled: the periodic,
 * alarm and update-ended interrupts (IRQ8; register C reads 0).
 *
 * Each instance locks itself.
 */
#ifndef CV_RTC_CMOS_H
#define CV_RTC_CMOS_H

#include <stdint.h>

#include "bus.h"
#include "err.h"

#define RTC_BASE 0x70
#define RTC_LEN 2

enum {
	RTC_SEC = 0x00, RTC_SEC_ALARM = 0x01, RTC_MIN = 0x02,
	RTC_MIN_ALARM = 0x03, RTC_HOUR = 0x04, RTC_HOUR_ALARM = 0x05,
	RTC_WDAY = 0x06, RTC_MDAY = 0x07, RTC_MONTH = 0x08, RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};
#define RTC_A_UIP 0x80
#define RTC_B_SET 0x80
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80

struct rtc_hooks {
	/* wall clock, ns since the epoch (CLOCK_REALTIME when NULL) */
	uint64_t (*now)(void *ctx);
	void *ctx;
};

struct rtc;

/* ram_below_4g/ram_above_4g: bytes of guest RAM, for the size bytes. */
struct rtc *rtc_create(struct rtc_hooks hooks, uint64_t ram_below_4g,
		       uint64_t ram_above_4g, struct cv_err *err);
void rtc_destroy(struct rtc *r);	/* NULL ok */
/* Power-on registers; the guest's time offset survives (as a battery). */
void rtc_reset(struct rtc *r);

extern const struct bus_device_ops rtc_ops;	/* opaque = struct rtc * */

#endif
