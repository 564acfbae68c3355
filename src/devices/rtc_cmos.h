/*
 * rtc_cmos: the MC146818-style real-time clock and CMOS RAM at ports
 * 0x70 (index; bit 7, the NMI mask, is accepted and ignored) and 0x71
 * (data).  The time is the host's (UTC) plus an offset the guest sets by
 * writing the time registers; register B chooses BCD or binary and 12- or
 * 24-hour format (default: BCD, 24 h); register A shows update-in-progress
 * during the last 244 us of every second; register D reports a valid
 * battery.  The memory-size bytes (0x15-0x18, 0x30-0x31, 0x34-0x35,
 * 0x5b-0x5d) are filled from the VM's RAM.
 *
 * Interrupts (IRQ 8): the periodic interrupt (register A's rate select,
 * 2 Hz-8192 Hz, edges aligned to the seconds; B.PIE), update-ended (at
 * every second boundary; B.UIE) and alarm (hh:mm:ss, a byte 0xC0-0xFF is
 * "don't care"; B.AIE).  Register C's PF/UF/AF are set by their events
 * whatever the enables, IRQF = any flag whose enable is set; reading C
 * returns and clears them all.  The line is IRQF, so a guest that never
 * reads C gets one interrupt (as on the MC146818).  Periodic edges that
 * came while PF was still set (a late guest or timer) are re-raised, one
 * per read of C, up to 16: the guest sees the programmed rate.  Updates and alarms
 * stop while B.SET is set (which also clears UIE) or the divider is held
 * in reset (A.DV = 11x); the periodic interrupt needs a running divider.
 * Nothing ticks: the owner calls rtc_poll() at or after the deadline it
 * returned (and again after the rearmed hook) to fire due events.
 *
 * The clock is CLOCK_MONOTONIC (or hooks.now); wall time is that plus
 * the REALTIME - MONOTONIC difference taken at create and reset, so
 * time registers, UIP and interrupts all follow one clock.
 *
 * Each instance locks itself.  The irq and rearmed hooks run with the
 * RTC locked (they must not call back into it).
 */
#ifndef CV_RTC_CMOS_H
#define CV_RTC_CMOS_H

#include <stdbool.h>
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
#define RTC_B_PIE 0x40
#define RTC_B_AIE 0x20
#define RTC_B_UIE 0x10
#define RTC_C_IRQF 0x80
#define RTC_C_PF 0x40
#define RTC_C_AF 0x20
#define RTC_C_UF 0x10
#define RTC_IRQ 8
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_D_VRT 0x80

struct rtc_hooks {
	/* the clock in ns (CLOCK_MONOTONIC when NULL); a test clock is
	 * also the wall clock (ns since the epoch) */
	uint64_t (*now)(void *ctx);
	/* the IRQ8 line (level = register C's IRQF); may be NULL */
	void (*irq)(void *ctx, bool level);
	/* a guest write or a read of C: the next deadline may be earlier
	 * than the last rtc_poll() said; may be NULL */
	void (*rearmed)(void *ctx);
	void *ctx;
};

struct rtc;

/* ram_below_4g/ram_above_4g: bytes of guest RAM, for the size bytes. */
struct rtc *rtc_create(struct rtc_hooks hooks, uint64_t ram_below_4g,
		       uint64_t ram_above_4g, struct cv_err *err);
void rtc_destroy(struct rtc *r);	/* NULL ok */
/* Power-on registers; the guest's time offset survives (as a battery). */
void rtc_reset(struct rtc *r);

/*
 * Account what is due at clock time now (flags, IRQ8) and return when an
 * enabled interrupt next raises the line (clock time), or 0 when none is
 * coming (none enabled, or the line is up until the guest reads C).
 */
uint64_t rtc_poll(struct rtc *r, uint64_t now);

extern const struct bus_device_ops rtc_ops;	/* opaque = struct rtc * */

#endif
