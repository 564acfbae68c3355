/*
 * pit8254: 8254 model (see pit8254.h).  A channel remembers when its
 * count was loaded; its counter and OUT pin at any time follow from the
 * clocks elapsed since (d), as in the data sheet's mode diagrams.
 */
#include "pit8254.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000ull
#define REFRESH_NS 15085ull	/* port 0x61 bit 4 toggle period */

enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

struct chan {
	uint32_t count;		/* 1..65536 */
	uint8_t rw_mode, mode;
	bool bcd, gate, loaded;
	uint8_t read_state, write_state, write_latch;
	uint16_t latched;
	uint8_t count_latched;	/* RW_* while a latched count is unread */
	uint8_t status;
	bool status_latched;
	uint64_t load_ns;
	uint64_t ticks_done;	/* channel 0: periods already signalled */
	bool fired;		/* channel 0, modes 0/4: terminal count seen */
};

/*
 * Reinjection (channel 0, modes 2/3, when enabled): periods that passed
 * while the last edge was unacknowledged are owed, and paid one edge per
 * acknowledgement.  The interrupt controllers report acks and unmasks
 * with their own locks held, so those two only set flags (pit_ack,
 * pit_irq_unmasked); pit_poll, under the lock, takes them.
 */
struct reinj {
	bool on;
	bool waiting;		/* an edge went out, its ack has not come */
	atomic_uint owed;	/* written under the lock; pit_ack reads it */
	atomic_bool acked;	/* set by pit_ack, taken by pit_poll */
	atomic_bool unmasked;	/* set by pit_irq_unmasked, taken likewise */
};

struct pit {
	pthread_mutex_t lock;
	struct pit_hooks h;
	struct chan c[3];
	uint8_t port61;		/* bits 0-3 as written */
	bool line;		/* IRQ0 level */
	struct reinj ri;
};

static uint64_t clock_now(const struct pit *p)
{
	if (p->h.now)
		return p->h.now(p->h.ctx);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void set_line(struct pit *p, bool level)
{
	if (p->line == level)
		return;
	p->line = level;
	if (p->h.irq)
		p->h.irq(p->h.ctx, level);
}

/* PIT clocks since the count was loaded */
static uint64_t elapsed(const struct chan *s, uint64_t now)
{
	if (!s->loaded || now <= s->load_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(now - s->load_ns) * PIT_FREQ_HZ /
			  NS);
}

static uint64_t clocks_to_ns(uint64_t clocks)
{
	return (uint64_t)(((unsigned __int128)clocks * NS + PIT_FREQ_HZ - 1) /
			  PIT_FREQ_HZ);
}

static uint16_t get_count(const struct chan *s, uint64_t now)
{
	if (!s->loaded)
		return (uint16_t)s->count;
	uint64_t d = elapsed(s, now);
	switch (s->mode) {
	case 0: case 1: case 4: case 5:
		return (uint16_t)((s->count - d) & 0xffff);
	case 3:
		return (uint16_t)(s->count - ((2 * d) % s->count));
	default:
		return (uint16_t)(s->count - (d % s->count));
	}
}

static bool get_out(const struct chan *s, uint64_t now)
{
	if (!s->loaded)
		return s->mode != 0;
	uint64_t d = elapsed(s, now);
	switch (s->mode) {
	case 0: return d >= s->count;
	case 1: return d >= s->count;
	case 2: return d == 0 || d % s->count != 0;
	case 3: return d % s->count < (s->count + 1) / 2;
	default: return d != s->count;		/* 4, 5: a one-clock low strobe */
	}
}

/* Nothing owed or in flight (a reprogram, a reset, an unmask of IRQ0). */
static void reinj_clear(struct reinj *ri)
{
	ri->waiting = false;
	atomic_store(&ri->owed, 0);
	atomic_store(&ri->acked, false);
	atomic_store(&ri->unmasked, false);
}

/* One IRQ0 edge (the line stays high until the next). */
static void edge(struct pit *p)
{
	set_line(p, false);
	set_line(p, true);
}

static void load_count(struct pit *p, int ch, uint32_t v, uint64_t now)
{
	struct chan *s = &p->c[ch];
	s->count = v ? v : 0x10000;
	s->load_ns = now;
	s->loaded = true;
	s->ticks_done = 0;
	s->fired = false;
	if (ch == 0) {
		reinj_clear(&p->ri);
		/* modes 2/3: the line only moves at each period's edge */
		if (s->mode == 0 || s->mode == 4)
			set_line(p, false);
		if (p->h.rearmed)
			p->h.rearmed(p->h.ctx);
	}
}

static void latch_count(struct chan *s, uint64_t now)
{
	if (s->count_latched)
		return;
	s->latched = get_count(s, now);
	s->count_latched = s->rw_mode;
}

static void write_control(struct pit *p, uint8_t v, uint64_t now)
{
	unsigned ch = v >> 6;
	if (ch == 3) {				/* read-back */
		for (int i = 0; i < 3; i++) {
			struct chan *s = &p->c[i];
			if (!(v & (2u << i)))
				continue;
			if (!(v & 0x20))
				latch_count(s, now);
			if (!(v & 0x10) && !s->status_latched) {
				s->status = (uint8_t)(get_out(s, now) << 7 |
						      !s->loaded << 6 |
						      s->rw_mode << 4 |
						      s->mode << 1 | s->bcd);
				s->status_latched = true;
			}
		}
		return;
	}
	struct chan *s = &p->c[ch];
	unsigned access = (v >> 4) & 3;
	if (access == 0) {
		latch_count(s, now);
		return;
	}
	s->rw_mode = (uint8_t)access;
	s->read_state = s->write_state = (uint8_t)access;
	s->mode = (v >> 1) & 7;
	if (s->mode > 5)
		s->mode -= 4;			/* 6, 7 are 2, 3 */
	s->bcd = v & 1;
	s->count_latched = 0;
	s->loaded = false;			/* counting waits for a count */
	if (ch == 0 && s->mode == 0)
		set_line(p, false);
}

static void write_data(struct pit *p, int ch, uint8_t v, uint64_t now)
{
	struct chan *s = &p->c[ch];
	switch (s->write_state) {
	case RW_LSB:
		load_count(p, ch, v, now);
		break;
	case RW_MSB:
		load_count(p, ch, (uint32_t)v << 8, now);
		break;
	case RW_WORD0:
		s->write_latch = v;
		s->write_state = RW_WORD1;
		break;
	case RW_WORD1:
		s->write_state = RW_WORD0;
		load_count(p, ch, s->write_latch | (uint32_t)v << 8, now);
		break;
	default:				/* never programmed */
		break;
	}
}

static uint8_t read_data(struct chan *s, uint64_t now)
{
	if (s->status_latched) {
		s->status_latched = false;
		return s->status;
	}
	if (s->count_latched) {
		uint8_t r;
		switch (s->count_latched) {
		case RW_MSB:
			r = (uint8_t)(s->latched >> 8);
			s->count_latched = 0;
			break;
		case RW_WORD0:
			r = (uint8_t)s->latched;
			s->count_latched = RW_MSB;
			break;
		default:
			r = (uint8_t)s->latched;
			s->count_latched = 0;
			break;
		}
		return r;
	}
	uint16_t c = get_count(s, now);
	switch (s->read_state) {
	case RW_MSB:
		return (uint8_t)(c >> 8);
	case RW_WORD0:
		s->read_state = RW_WORD1;
		return (uint8_t)c;
	case RW_WORD1:
		s->read_state = RW_WORD0;
		return (uint8_t)(c >> 8);
	default:
		return (uint8_t)c;
	}
}

static uint64_t pit_read(void *o, uint64_t off, unsigned size)
{
	struct pit *p = o;
	uint64_t v = 0;
	pthread_mutex_lock(&p->lock);
	uint64_t now = clock_now(p);
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint64_t reg = off + i;
		uint8_t b = reg < 3 ? read_data(&p->c[reg], now) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&p->lock);
	return v;
}

static enum bus_action pit_write(void *o, uint64_t off, unsigned size,
				 uint64_t v)
{
	struct pit *p = o;
	pthread_mutex_lock(&p->lock);
	uint64_t now = clock_now(p);
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint8_t b = (uint8_t)(v >> (8 * i));
		uint64_t reg = off + i;
		if (reg < 3)
			write_data(p, (int)reg, b, now);
		else if (reg == 3)
			write_control(p, b, now);
	}
	pthread_mutex_unlock(&p->lock);
	return BUS_CONTINUE;
}

static uint64_t p61_read(void *o, uint64_t off, unsigned size)
{
	struct pit *p = o;
	(void)size;
	if (off)
		return 0xff;
	pthread_mutex_lock(&p->lock);
	uint64_t now = clock_now(p);
	uint8_t v = (uint8_t)((p->port61 & 0x0f) |
			      ((now / REFRESH_NS) & 1) << 4 |
			      get_out(&p->c[2], now) << 5);
	pthread_mutex_unlock(&p->lock);
	return v;
}

static enum bus_action p61_write(void *o, uint64_t off, unsigned size,
				 uint64_t v)
{
	struct pit *p = o;
	(void)size;
	if (off)
		return BUS_CONTINUE;
	pthread_mutex_lock(&p->lock);
	struct chan *s = &p->c[2];
	bool gate = v & 1;
	/* a rising gate (re)starts modes 1, 2, 3, 5 */
	if (gate && !s->gate && s->loaded && s->mode != 0 && s->mode != 4)
		s->load_ns = clock_now(p);
	s->gate = gate;
	p->port61 = (uint8_t)(v & 0x0f);
	pthread_mutex_unlock(&p->lock);
	return BUS_CONTINUE;
}

const struct bus_device_ops pit_ops = { pit_read, pit_write };
const struct bus_device_ops pit_port61_ops = { p61_read, p61_write };

/*
 * due periods just passed (modes 2/3, reinjection on): owe them, and
 * send one edge when the last one was acknowledged (or none is out).
 */
static void reinject(struct pit *p, uint64_t due)
{
	struct reinj *ri = &p->ri;
	if (atomic_exchange(&ri->unmasked, false)) {
		ri->waiting = false;	/* what was owed went nowhere */
		atomic_store(&ri->owed, 0);
	}
	if (atomic_exchange(&ri->acked, false))
		ri->waiting = false;
	uint64_t owed = atomic_load(&ri->owed) + due;
	if (owed > PIT_REINJECT_MAX)
		owed = PIT_REINJECT_MAX;
	if (owed && !ri->waiting) {
		owed--;
		ri->waiting = true;
		atomic_store(&ri->acked, false);  /* only an ack of this edge */
		edge(p);
	}
	atomic_store(&ri->owed, (unsigned)owed);
}

uint64_t pit_poll(struct pit *p, uint64_t now)
{
	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	struct chan *s = &p->c[0];
	uint64_t next = 0;
	if (s->loaded) {
		uint64_t d = elapsed(s, now);
		switch (s->mode) {
		case 2: case 3: {
			uint64_t ticks = d / s->count;
			uint64_t due = ticks - s->ticks_done;
			s->ticks_done = ticks;
			if (p->ri.on)
				reinject(p, due);
			else if (due)
				edge(p);	/* one edge per poll: merged */
			next = s->load_ns +
			       clocks_to_ns((s->ticks_done + 1) * s->count);
			break;
		}
		case 0: case 4:
			if (!s->fired && d >= s->count) {
				s->fired = true;
				if (s->mode == 4)
					set_line(p, false);
				set_line(p, true);
			}
			if (!s->fired)
				next = s->load_ns + clocks_to_ns(s->count);
			break;
		default:	/* 1, 5: need a gate trigger channel 0 never sees */
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return next;
}

static void reset_locked(struct pit *p)
{
	memset(p->c, 0, sizeof(p->c));
	for (int i = 0; i < 3; i++) {
		p->c[i].count = 0x10000;
		p->c[i].gate = i != 2;
	}
	p->port61 = 0;
	p->line = false;
	reinj_clear(&p->ri);
}

struct pit *pit_create(struct pit_hooks hooks, struct cv_err *err)
{
	struct pit *p = calloc(1, sizeof(*p));
	if (!p) {
		cv_err_set(err, ENOMEM, "Out of memory for the 8254 PIT.");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->h = hooks;
	reset_locked(p);
	return p;
}

void pit_destroy(struct pit *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pit_reset(struct pit *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	reset_locked(p);
	pthread_mutex_unlock(&p->lock);
}

void pit_set_reinject(struct pit *p, bool on)
{
	pthread_mutex_lock(&p->lock);
	p->ri.on = on;
	reinj_clear(&p->ri);
	pthread_mutex_unlock(&p->lock);
}

bool pit_ack(struct pit *p)
{
	if (!p)
		return false;
	atomic_store(&p->ri.acked, true);
	return atomic_load(&p->ri.owed) > 0;
}

void pit_irq_unmasked(struct pit *p)
{
	if (p)
		atomic_store(&p->ri.unmasked, true);
}
