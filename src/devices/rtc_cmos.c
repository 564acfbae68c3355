/*
 * rtc_cmos: RTC + CMOS model (see rtc_cmos.h).  Time registers are not
 * stored: every read converts host time + offset; a write rebuilds the
 * offset from the date with that one field replaced.
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

struct rtc {
	pthread_mutex_t lock;
	struct rtc_hooks h;
	uint8_t index;
	uint8_t ram[128];
	int64_t offset_s;	/* guest time - host time */
	uint64_t below, above;
};

static uint64_t wall_ns(const struct rtc *r)
{
	if (r->h.now)
		return r->h.now(r->h.ctx);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
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

static uint8_t read_data(struct rtc *r)
{
	uint8_t i = r->index;
	if (is_time_reg(i))
		return read_time(r, i);
	switch (i) {
	case RTC_REG_A: {
		uint64_t in_sec = wall_ns(r) % NS;
		return (uint8_t)((r->ram[i] & 0x7f) |
				 (in_sec >= NS - UIP_NS ? RTC_A_UIP : 0));
	}
	case RTC_REG_C:
		return 0;
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
		return;
	}
	switch (i) {
	case RTC_REG_A:
		r->ram[i] = v & 0x7f;
		break;
	case RTC_REG_C: case RTC_REG_D:
		break;			/* read-only */
	default:
		r->ram[i] = v;
		break;
	}
}

static uint64_t rtc_read(void *o, uint64_t off, unsigned size)
{
	struct rtc *r = o;
	uint64_t v = 0;
	pthread_mutex_lock(&r->lock);
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
