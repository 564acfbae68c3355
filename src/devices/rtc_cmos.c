/*
 * rtc_cmos: RTC + CMOS model (see rtc_cmos.h).  Time registers are not
 * stored: every read converts host time + offset; a write rebuilds the
 * offset from the date with that one field replaced.
 *
 * Interrupts are computed, not ticked: `seen` is the clock reading up to
 * which periodic edges, second boundaries and alarm matches are already
 * in register C.  Every access (and rtc_poll) first advances it to "now"
 * with the settings in force over that interval, so a settings change
 * never applies retroactively.
 *
 * Lost periodic interrupts: an edge that finds PF still set (the guest,
 * or on kvm the device timer thread, was late by more than a period)
 * would merge into it.  Such edges are owed (up to MAX_OWED) and paid
 * back when register C is read: PF and the line come straight back, so
 * the guest counts the programmed rate (like KVM's PIT reinjection and
 * QEMU's RTC lost_tick_policy=slew).
 */
#include "rtc_cmos.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000ull
#define UIP_NS 244000ull

#define DAY 86400
#define MAX_OWED 16		/* periodic interrupts re-raised on ack, at most */

struct rtc {
	pthread_mutex_t lock;
	struct rtc_hooks h;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset_s;	/* guest time - host time, whole seconds */
	int64_t wall_off;	/* host wall clock - the clock (ns) */
	uint64_t seen;		/* events up to here are in flags */
	uint8_t flags;		/* register C's PF/AF/UF */
	unsigned owed;		/* periodic edges merged into a pending PF */
	bool line;		/* IRQ8 = IRQF */
	uint64_t below, above;
};

static uint64_t ts_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static uint64_t clock_now(const struct rtc *r)
{
	return r->h.now ? r->h.now(r->h.ctx) : ts_ns(CLOCK_MONOTONIC);
}

/* Host wall time (ns since the epoch) at clock reading t. */
static uint64_t wall_at(const struct rtc *r, uint64_t t)
{
	return t + (uint64_t)r->wall_off;
}

static uint64_t wall_ns(const struct rtc *r)
{
	return wall_at(r, clock_now(r));
}

static void sync_wall(struct rtc *r)
{
	if (r->h.now) {
		r->wall_off = 0;	/* a test clock is the wall clock */
		return;
	}
	uint64_t mono = ts_ns(CLOCK_MONOTONIC);
	r->wall_off = (int64_t)(ts_ns(CLOCK_REALTIME) - mono);
}

static bool is_time_reg(uint8_t i)
{
	return i == RTC_SEC || i == RTC_MIN || i == RTC_HOUR ||
	       i == RTC_WDAY || i == RTC_MDAY || i == RTC_MONTH ||
	       i == RTC_YEAR || i == RTC_CENTURY;
}

static uint8_t to_bcd(const struct rtc *r, unsigned v)
{
	if (r->ram[RTC_REG_B] & RTC_B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static unsigned from_bcd(const struct rtc *r, uint8_t v)
{
	if (r->ram[RTC_REG_B] & RTC_B_DM_BINARY)
		return v;
	return (unsigned)(v >> 4) * 10 + (v & 0x0f);
}

static void guest_tm(const struct rtc *r, struct tm *tm)
{
	time_t t = (time_t)(wall_ns(r) / NS) + (time_t)r->offset_s;
	gmtime_r(&t, tm);
}

static uint8_t read_hour(const struct rtc *r, int hour)
{
	if (r->ram[RTC_REG_B] & RTC_B_24H)
		return to_bcd(r, (unsigned)hour);
	unsigned h12 = hour % 12 ? (unsigned)hour % 12 : 12;
	return (uint8_t)(to_bcd(r, h12) | (hour >= 12 ? 0x80 : 0));
}

static uint8_t read_time(const struct rtc *r, uint8_t i)
{
	struct tm tm;
	guest_tm(r, &tm);
	switch (i) {
	case RTC_SEC: return to_bcd(r, (unsigned)tm.tm_sec);
	case RTC_MIN: return to_bcd(r, (unsigned)tm.tm_min);
	case RTC_HOUR: return read_hour(r, tm.tm_hour);
	case RTC_WDAY: return to_bcd(r, (unsigned)tm.tm_wday + 1);
	case RTC_MDAY: return to_bcd(r, (unsigned)tm.tm_mday);
	case RTC_MONTH: return to_bcd(r, (unsigned)tm.tm_mon + 1);
	case RTC_YEAR: return to_bcd(r, (unsigned)(tm.tm_year + 1900) % 100);
	default: return to_bcd(r, (unsigned)(tm.tm_year + 1900) / 100);
	}
}

static void write_time(struct rtc *r, uint8_t i, uint8_t v)
{
	struct tm tm;
	guest_tm(r, &tm);
	unsigned val = from_bcd(r, v & (i == RTC_HOUR ? 0x7f : 0xff));
	switch (i) {
	case RTC_SEC: tm.tm_sec = (int)val % 60; break;
	case RTC_MIN: tm.tm_min = (int)val % 60; break;
	case RTC_HOUR:
		if (!(r->ram[RTC_REG_B] & RTC_B_24H))
			val = val % 12 + ((v & 0x80) ? 12 : 0);
		tm.tm_hour = (int)val % 24;
		break;
	case RTC_WDAY: return;		/* derived from the date */
	case RTC_MDAY: tm.tm_mday = val >= 1 && val <= 31 ? (int)val : 1; break;
	case RTC_MONTH: tm.tm_mon = val >= 1 && val <= 12 ? (int)val - 1 : 0; break;
	case RTC_YEAR:
		tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + (int)(val % 100) - 1900;
		break;
	default:
		tm.tm_year = (int)(val % 100) * 100 + (tm.tm_year + 1900) % 100 - 1900;
		break;
	}
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return;
	r->offset_s = (int64_t)t - (int64_t)(wall_ns(r) / NS);
}


/* ---- interrupts ---- */

/* The divider chain runs (DV = 000, 001, 010; 11x holds it in reset). */
static bool divider_on(const struct rtc *r)
{
	return (r->ram[RTC_REG_A] & 0x70) <= 0x20;
}

static bool updating(const struct rtc *r)
{
	return divider_on(r) && !(r->ram[RTC_REG_B] & RTC_B_SET);
}

/* Periodic interrupt rate from register A's RS bits; 0 = off. */
static unsigned periodic_hz(const struct rtc *r)
{
	unsigned rs = r->ram[RTC_REG_A] & 0x0f;
	if (!rs || !divider_on(r))
		return 0;
	if (rs <= 2)
		return rs == 1 ? 256 : 128;
	return 65536u >> rs;
}

/* Periodic edges from the epoch to wall time w (aligned to seconds). */
static uint64_t edges(uint64_t w, unsigned hz)
{
	return (uint64_t)((unsigned __int128)w * hz / NS);
}

static uint64_t edge_time(uint64_t k, unsigned hz)
{
	return (uint64_t)(((unsigned __int128)k * NS + hz - 1) / hz);
}

/* One alarm byte: -1 = don't care, -2 = never matches, else the value. */
static int alarm_field(const struct rtc *r, uint8_t reg, int limit)
{
	uint8_t v = r->ram[reg];
	if ((v & 0xc0) == 0xc0)
		return -1;
	unsigned val;
	if (reg == RTC_HOUR_ALARM && !(r->ram[RTC_REG_B] & RTC_B_24H)) {
		unsigned h = from_bcd(r, v & 0x7f);
		if (h < 1 || h > 12)
			return -2;
		val = h % 12 + ((v & 0x80) ? 12 : 0);
	} else {
		val = from_bcd(r, v);
	}
	return (int)val < limit ? (int)val : -2;
}

static bool field_ok(int want, int v)
{
	return want == -1 || want == v;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/*
 * The first guest second after `after` (guest seconds since the epoch)
 * whose hh:mm:ss matches the alarm; INT64_MIN when it never does.
 */
static int64_t alarm_next(const struct rtc *r, int64_t after)
{
	int hs = alarm_field(r, RTC_HOUR_ALARM, 24);
	int ms = alarm_field(r, RTC_MIN_ALARM, 60);
	int ss = alarm_field(r, RTC_SEC_ALARM, 60);
	if (hs == -2 || ms == -2 || ss == -2)
		return INT64_MIN;
	int64_t day = floor_div(after, DAY) * DAY;
	for (int d = 0; d < 2; d++, day += DAY)
		for (int h = 0; h < 24; h++) {
			if (!field_ok(hs, h) || day + h * 3600 + 3599 <= after)
				continue;
			for (int m = 0; m < 60; m++) {
				int64_t hm = day + h * 3600 + m * 60;
				if (!field_ok(ms, m) || hm + 59 <= after)
					continue;
				for (int s = 0; s < 60; s++)
					if (field_ok(ss, s) && hm + s > after)
						return hm + s;
			}
		}
	return INT64_MIN;
}

static bool irqf(const struct rtc *r)
{
	return r->flags & r->ram[RTC_REG_B] &
	       (RTC_C_PF | RTC_C_AF | RTC_C_UF);
}

static void update_line(struct rtc *r)
{
	bool level = irqf(r);
	if (level == r->line)
		return;
	r->line = level;
	if (r->h.irq)
		r->h.irq(r->h.ctx, level);
}

/* Account every event in (seen, now] with the current settings. */
static void advance(struct rtc *r, uint64_t now)
{
	if (now <= r->seen)
		return;
	uint64_t a = wall_at(r, r->seen), b = wall_at(r, now);
	unsigned hz = periodic_hz(r);
	uint64_t n = hz ? edges(b, hz) - edges(a, hz) : 0;
	if (n) {
		/* edges that find PF still set would be lost: owe them */
		uint64_t extra = (r->flags & RTC_C_PF) ? n : n - 1;
		if (r->ram[RTC_REG_B] & RTC_B_PIE)
			r->owed = (unsigned)(extra >= MAX_OWED - r->owed
					     ? MAX_OWED : r->owed + extra);
		r->flags |= RTC_C_PF;
	}
	if (updating(r) && b / NS > a / NS) {
		r->flags |= RTC_C_UF;
		int64_t off = r->offset_s;
		int64_t next = alarm_next(r, (int64_t)(a / NS) + off);
		if (next != INT64_MIN && next <= (int64_t)(b / NS) + off)
			r->flags |= RTC_C_AF;
	}
	r->seen = now;
	update_line(r);
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* When an enabled event next raises the line (clock time), 0 = never. */
static uint64_t next_deadline(const struct rtc *r)
{
	if (r->line)
		return 0;	/* nothing changes until register C is read */
	uint8_t b = r->ram[RTC_REG_B];
	uint64_t w = wall_at(r, r->seen), next = 0;
	unsigned hz = periodic_hz(r);
	if ((b & RTC_B_PIE) && hz)
		next = edge_time(edges(w, hz) + 1, hz);
	if ((b & RTC_B_UIE) && updating(r))
		next = earlier(next, (w / NS + 1) * NS);
	if ((b & RTC_B_AIE) && updating(r)) {
		int64_t s = alarm_next(r, (int64_t)(w / NS) + r->offset_s);
		if (s != INT64_MIN && s - r->offset_s > 0)
			next = earlier(next, (uint64_t)(s - r->offset_s) * NS);
	}
	return next ? next - (uint64_t)r->wall_off : 0;
}

static void rearm(struct rtc *r)
{
	if (r->h.rearmed)
		r->h.rearmed(r->h.ctx);
}

uint64_t rtc_poll(struct rtc *r, uint64_t now)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	advance(r, now);
	uint64_t next = next_deadline(r);
	pthread_mutex_unlock(&r->lock);
	return next;
}

static uint8_t read_data(struct rtc *r)
{
	uint8_t i = r->index;
	if (is_time_reg(i))
		return read_time(r, i);
	switch (i) {
	case RTC_REG_A: {
		uint64_t in_sec = wall_ns(r) % NS;
		bool uip = updating(r) && in_sec >= NS - UIP_NS;
		return (uint8_t)((r->ram[i] & 0x7f) | (uip ? RTC_A_UIP : 0));
	}
	case RTC_REG_C: {
		uint8_t v = (uint8_t)(r->flags | (r->line ? RTC_C_IRQF : 0));
		r->flags = 0;		/* read clears, the line drops */
		update_line(r);
		if (r->owed && (r->ram[RTC_REG_B] & RTC_B_PIE) &&
		    periodic_hz(r)) {
			r->owed--;	/* a late periodic interrupt: again */
			r->flags |= RTC_C_PF;
			update_line(r);
		}
		if (v)
			rearm(r);
		return v;
	}
	case RTC_REG_D:
		return RTC_D_VRT;
	default:
		return r->ram[i];
	}
}

static void write_data(struct rtc *r, uint8_t v)
{
	uint8_t i = r->index;
	if (is_time_reg(i)) {
		write_time(r, i, v);
		rearm(r);		/* the alarm may come sooner */
		return;
	}
	switch (i) {
	case RTC_REG_A:
		if ((v & 0x7f) != r->ram[i])
			r->owed = 0;		/* a new rate: old debts go */
		r->ram[i] = v & 0x7f;
		break;
	case RTC_REG_B:
		if (v & RTC_B_SET)
			v &= (uint8_t)~RTC_B_UIE;	/* SET clears UIE */
		if (!(v & RTC_B_PIE))
			r->owed = 0;
		r->ram[i] = v;
		update_line(r);		/* enables gate pending flags */
		break;
	case RTC_REG_C: case RTC_REG_D:
		return;			/* read-only */
	default:
		r->ram[i] = v;
		break;
	}
	if (i <= RTC_REG_B)		/* rate, enables, alarm bytes */
		rearm(r);
}

static uint64_t rtc_read(void *o, uint64_t off, unsigned size)
{
	struct rtc *r = o;
	uint64_t v = 0;
	pthread_mutex_lock(&r->lock);
	advance(r, clock_now(r));
	for (unsigned k = 0; k < size && k < 8; k++) {
		uint64_t reg = off + k;
		uint8_t b = reg == 1 ? read_data(r) : 0xff;
		v |= (uint64_t)b << (8 * k);
	}
	pthread_mutex_unlock(&r->lock);
	return v;
}

static enum bus_action rtc_write(void *o, uint64_t off, unsigned size,
				 uint64_t v)
{
	struct rtc *r = o;
	pthread_mutex_lock(&r->lock);
	advance(r, clock_now(r));
	for (unsigned k = 0; k < size && k < 8; k++) {
		uint8_t b = (uint8_t)(v >> (8 * k));
		if (off + k == 0)
			r->index = b & 0x7f;	/* bit 7: NMI mask, ignored */
		else if (off + k == 1)
			write_data(r, b);
	}
	pthread_mutex_unlock(&r->lock);
	return BUS_CONTINUE;
}

const struct bus_device_ops rtc_ops = { rtc_read, rtc_write };

static void put16(uint8_t *ram, unsigned at, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	ram[at] = (uint8_t)v;
	ram[at + 1] = (uint8_t)(v >> 8);
}

static void reset_locked(struct rtc *r)
{
	memset(r->ram, 0, sizeof(r->ram));
	r->index = 0;
	r->ram[RTC_REG_A] = 0x26;	/* 32.768 kHz base, 1024 Hz rate */
	r->ram[RTC_REG_B] = RTC_B_24H;
	sync_wall(r);
	r->seen = clock_now(r);
	r->flags = 0;
	r->owed = 0;
	update_line(r);
	/* base memory in KiB, extended memory 1M-64M in KiB */
	uint64_t kib = r->below / 1024;
	put16(r->ram, 0x15, kib < 640 ? kib : 640);
	uint64_t ext = kib > 1024 ? kib - 1024 : 0;
	put16(r->ram, 0x17, ext);
	put16(r->ram, 0x30, ext);
	/* 16M-4G in 64 KiB units, above 4G in 64 KiB units (3 bytes) */
	uint64_t above16 = r->below > (16u << 20) ? (r->below - (16u << 20)) >> 16 : 0;
	put16(r->ram, 0x34, above16);
	uint64_t hi = r->above >> 16;
	if (hi > 0xffffff)
		hi = 0xffffff;
	r->ram[0x5b] = (uint8_t)hi;
	r->ram[0x5c] = (uint8_t)(hi >> 8);
	r->ram[0x5d] = (uint8_t)(hi >> 16);
}

struct rtc *rtc_create(struct rtc_hooks hooks, uint64_t ram_below_4g,
		       uint64_t ram_above_4g, struct cv_err *err)
{
	struct rtc *r = calloc(1, sizeof(*r));
	if (!r) {
		cv_err_set(err, ENOMEM, "Out of memory for the RTC.");
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	r->h = hooks;
	r->below = ram_below_4g;
	r->above = ram_above_4g;
	reset_locked(r);
	return r;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void rtc_reset(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	reset_locked(r);
	pthread_mutex_unlock(&r->lock);
}
