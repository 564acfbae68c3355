/*
 * lapic: local APIC model (see lapic.h).  The timer remembers when its
 * count was loaded; the current count and the expiries follow from the
 * clock, as in pit8254.c.
 */
#include "lapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000ull
#define TICK_NS (NS / LAPIC_BUS_HZ)	/* ns per timer input clock */
_Static_assert(NS % LAPIC_BUS_HZ == 0, "the bus clock must divide 1 GHz");
#define LVT_TIMER_MASK 0x000300ffu
#define LVT_LINT_MASK 0x0001a7ffu
#define LVT_ERROR_MASK 0x000100ffu
#define LVT_OTHER_MASK 0x000107ffu
#define ICR_LO_MASK 0x000ccfffu
#define ESR_SEND_ILLEGAL 0x20u
#define ESR_RECV_ILLEGAL 0x40u

enum { LVT_CMCI, LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1,
       LVT_ERROR, LVT_N };

struct lapic {
	pthread_mutex_t lock;
	struct lapic_hooks h;
	bool bsp;
	uint32_t id;		/* APIC ID register (ID in bits 31:24) */
	uint32_t tpr, ldr, dfr, svr;
	uint32_t esr, esr_pending;
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LVT_N];
	uint32_t isr[8], tmr[8], irr[8];
	/* timer */
	uint32_t timer_init, timer_div;
	uint64_t timer_start;	/* ns when the count was loaded */
	uint64_t timer_done;	/* periods already signalled */
	/* INIT/SIPI */
	bool wait_sipi;
	int sipi_vector;	/* latched start-up vector, -1 = none */
};

static uint64_t clock_now(const struct lapic *a)
{
	if (a->h.now)
		return a->h.now(a->h.ctx);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int lvt_index(uint64_t reg)
{
	switch (reg) {
	case LAPIC_REG_LVT_CMCI: return LVT_CMCI;
	case LAPIC_REG_LVT_TIMER: return LVT_TIMER;
	case LAPIC_REG_LVT_THERMAL: return LVT_THERMAL;
	case LAPIC_REG_LVT_PERF: return LVT_PERF;
	case LAPIC_REG_LVT_LINT0: return LVT_LINT0;
	case LAPIC_REG_LVT_LINT1: return LVT_LINT1;
	case LAPIC_REG_LVT_ERROR: return LVT_ERROR;
	default: return -1;
	}
}

static uint32_t lvt_mask(int i)
{
	switch (i) {
	case LVT_TIMER: return LVT_TIMER_MASK;
	case LVT_LINT0:
	case LVT_LINT1: return LVT_LINT_MASK;
	case LVT_ERROR: return LVT_ERROR_MASK;
	default: return LVT_OTHER_MASK;
	}
}

static void reset_locked(struct lapic *a)
{
	uint32_t id = a->id;
	a->tpr = a->ldr = 0;
	a->dfr = 0xffffffffu;
	a->svr = 0xff;
	a->esr = a->esr_pending = 0;
	a->icr_lo = a->icr_hi = 0;
	for (int i = 0; i < LVT_N; i++)
		a->lvt[i] = LAPIC_LVT_MASKED;
	/* virtual wire on the BSP, as a BIOS leaves it (and KVM resets it) */
	if (a->bsp)
		a->lvt[LVT_LINT0] = LAPIC_DM_EXTINT << 8;
	memset(a->isr, 0, sizeof(a->isr));
	memset(a->tmr, 0, sizeof(a->tmr));
	memset(a->irr, 0, sizeof(a->irr));
	a->timer_init = a->timer_div = 0;
	a->timer_start = a->timer_done = 0;
	a->id = id;
	a->wait_sipi = false;
	a->sipi_vector = -1;
}

struct lapic *lapic_create(uint32_t id, bool bsp, struct lapic_hooks hooks,
			   struct cv_err *err)
{
	if (id > 0xfe) {
		cv_err_set(err, EINVAL, "APIC ID %u is beyond the xAPIC's 0..254",
			   id);
		return NULL;
	}
	struct lapic *a = calloc(1, sizeof(*a));
	if (!a) {
		cv_err_set(err, ENOMEM, "out of memory for a local APIC");
		return NULL;
	}
	pthread_mutex_init(&a->lock, NULL);
	a->h = hooks;
	a->bsp = bsp;
	a->id = id << 24;
	reset_locked(a);
	return a;
}

void lapic_destroy(struct lapic *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void lapic_reset(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	reset_locked(a);
	pthread_mutex_unlock(&a->lock);
}

uint32_t lapic_id(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	uint32_t id = a->id >> 24;
	pthread_mutex_unlock(&a->lock);
	return id;
}

/* ---- vectors ---- */

static void set_bit(uint32_t *v, unsigned n) { v[n >> 5] |= 1u << (n & 31); }
static void clr_bit(uint32_t *v, unsigned n) { v[n >> 5] &= ~(1u << (n & 31)); }
static bool get_bit(const uint32_t *v, unsigned n)
{
	return v[n >> 5] >> (n & 31) & 1;
}

static int highest(const uint32_t *v)
{
	for (int w = 7; w >= 0; w--)
		if (v[w])
			return w * 32 + 31 - __builtin_clz(v[w]);
	return -1;
}

static uint32_t ppr_locked(const struct lapic *a)
{
	int isrv = highest(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

static int pending_locked(const struct lapic *a)
{
	int irrv = highest(a->irr);
	if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (ppr_locked(a) & 0xf0))
		return -1;
	return irrv;
}

static bool sw_enabled(const struct lapic *a)
{
	return a->svr & LAPIC_SVR_ENABLE;
}

/* The error LVT: record err and raise its vector when unmasked. */
static void error_locked(struct lapic *a, uint32_t bits)
{
	a->esr_pending |= bits;
	uint32_t lvt = a->lvt[LVT_ERROR];
	if (!(lvt & LAPIC_LVT_MASKED) && (lvt & 0xff) >= 16)
		set_bit(a->irr, lvt & 0xff);
}

/* A fixed interrupt arrives; true when it became pending. */
static bool accept_fixed_locked(struct lapic *a, uint8_t vector,
				bool level_trig)
{
	if (!sw_enabled(a))
		return false;
	if (vector < 16) {
		error_locked(a, ESR_RECV_ILLEGAL);
		return true;
	}
	set_bit(a->irr, vector);
	if (level_trig)
		set_bit(a->tmr, vector);
	else
		clr_bit(a->tmr, vector);
	return true;
}

/* ---- timer ---- */

static uint64_t timer_divisor(const struct lapic *a)
{
	uint32_t d = (a->timer_div & 3) | ((a->timer_div >> 1) & 4);
	return d == 7 ? 1 : 2ull << d;
}

static uint64_t timer_period_ns(const struct lapic *a)
{
	return (uint64_t)a->timer_init * timer_divisor(a) * TICK_NS;
}

static bool periodic(const struct lapic *a)
{
	return a->lvt[LVT_TIMER] & LAPIC_TIMER_PERIODIC;
}

static uint32_t timer_current_locked(const struct lapic *a, uint64_t now)
{
	if (!a->timer_init || now < a->timer_start)
		return a->timer_init;
	uint64_t ticks = (now - a->timer_start) / TICK_NS / timer_divisor(a);
	if (periodic(a))
		return a->timer_init - (uint32_t)(ticks % a->timer_init);
	return ticks >= a->timer_init ? 0 : a->timer_init - (uint32_t)ticks;
}

/* Fire due expiries; the next one (0 = none). */
static uint64_t poll_locked(struct lapic *a, uint64_t now, bool *fired)
{
	*fired = false;
	uint64_t period = timer_period_ns(a);
	if (!a->timer_init || !period)
		return 0;
	uint64_t due = now < a->timer_start ? 0 : (now - a->timer_start) / period;
	if (!periodic(a) && due > 1)
		due = 1;
	if (due > a->timer_done) {
		a->timer_done = due;
		uint32_t lvt = a->lvt[LVT_TIMER];
		if (!(lvt & LAPIC_LVT_MASKED) &&
		    accept_fixed_locked(a, (uint8_t)lvt, false))
			*fired = true;
	}
	if (!periodic(a) && a->timer_done)
		return 0;
	return a->timer_start + (a->timer_done + 1) * period;
}

static void timer_load_locked(struct lapic *a, uint32_t count, uint64_t now)
{
	a->timer_init = count;
	a->timer_start = now;
	a->timer_done = 0;
}

uint64_t lapic_poll(struct lapic *a, uint64_t now)
{
	bool fired;
	pthread_mutex_lock(&a->lock);
	uint64_t next = poll_locked(a, now, &fired);
	pthread_mutex_unlock(&a->lock);
	return next;
}

/* ---- registers ---- */

static uint32_t read_reg_locked(struct lapic *a, uint64_t reg)
{
	int lvt = lvt_index(reg);
	if (lvt >= 0)
		return a->lvt[lvt];
	if (reg >= LAPIC_REG_ISR && reg < LAPIC_REG_ISR + 0x80)
		return a->isr[(reg - LAPIC_REG_ISR) >> 4];
	if (reg >= LAPIC_REG_TMR && reg < LAPIC_REG_TMR + 0x80)
		return a->tmr[(reg - LAPIC_REG_TMR) >> 4];
	if (reg >= LAPIC_REG_IRR && reg < LAPIC_REG_IRR + 0x80)
		return a->irr[(reg - LAPIC_REG_IRR) >> 4];
	switch (reg) {
	case LAPIC_REG_ID: return a->id;
	case LAPIC_REG_VER: return LAPIC_VERSION;
	case LAPIC_REG_TPR: return a->tpr;
	case LAPIC_REG_PPR: return ppr_locked(a);
	case LAPIC_REG_LDR: return a->ldr;
	case LAPIC_REG_DFR: return a->dfr;
	case LAPIC_REG_SVR: return a->svr;
	case LAPIC_REG_ESR: return a->esr;
	case LAPIC_REG_ICR_LO: return a->icr_lo;	/* never busy */
	case LAPIC_REG_ICR_HI: return a->icr_hi;
	case LAPIC_REG_TIMER_INIT: return a->timer_init;
	case LAPIC_REG_TIMER_CUR:
		return timer_current_locked(a, clock_now(a));
	case LAPIC_REG_TIMER_DIV: return a->timer_div;
	default: return 0;	/* APR, RRD, EOI, reserved */
	}
}

uint64_t lapic_read(struct lapic *a, uint64_t off, unsigned size)
{
	off &= LAPIC_SIZE - 1;
	unsigned in = off & 0xf;
	if (in >= 4 || (size != 1 && size != 2 && size != 4 && size != 8))
		return 0;
	pthread_mutex_lock(&a->lock);
	uint64_t v = read_reg_locked(a, off & ~0xfull) >> (8 * in);
	pthread_mutex_unlock(&a->lock);
	return size >= 4 ? v : v & ((1ull << (8 * size)) - 1);
}

/* EOI: the highest in-service vector ends (-1: none); *level: its TMR. */
static int eoi_locked(struct lapic *a, bool *level)
{
	int v = highest(a->isr);
	if (v < 0)
		return -1;
	clr_bit(a->isr, (unsigned)v);
	*level = get_bit(a->tmr, (unsigned)v);
	return v;
}

static void icr_message(const struct lapic *a, struct lapic_ipi *m)
{
	uint32_t lo = a->icr_lo;
	*m = (struct lapic_ipi){
		.vector = (uint8_t)lo,
		.mode = (lo >> 8) & 7,
		.logical = lo & (1u << 11),
		.assert = lo & (1u << 14),
		.level_trig = lo & (1u << 15),
		.shorthand = (lo >> 18) & 3,
		.dest = (uint8_t)(a->icr_hi >> 24),
		.src_id = a->id >> 24,
	};
}

bool lapic_write(struct lapic *a, uint64_t off, unsigned size, uint64_t val,
		 struct lapic_ipi *ipi)
{
	off &= LAPIC_SIZE - 1;
	if ((off & 0xf) || (size != 4 && size != 8))
		return false;	/* only aligned 32-bit writes mean anything */
	uint32_t v = (uint32_t)val;
	uint64_t reg = off;
	bool sent = false;
	int eoi = -1;
	bool eoi_level = false;
	pthread_mutex_lock(&a->lock);
	int lvt = lvt_index(reg);
	if (lvt >= 0) {
		v &= lvt_mask(lvt);
		if (!sw_enabled(a))
			v |= LAPIC_LVT_MASKED;
		a->lvt[lvt] = v;
	}
	switch (lvt >= 0 ? 0 : reg) {
	case 0:
		break;
	case LAPIC_REG_ID: a->id = v & 0xff000000u; break;
	case LAPIC_REG_TPR: a->tpr = v & 0xff; break;
	case LAPIC_REG_EOI: eoi = eoi_locked(a, &eoi_level); break;
	case LAPIC_REG_LDR: a->ldr = v & 0xff000000u; break;
	case LAPIC_REG_DFR: a->dfr = v | 0x0fffffffu; break;
	case LAPIC_REG_SVR:
		a->svr = v & 0x3ff;
		if (!sw_enabled(a))
			for (int i = 0; i < LVT_N; i++)
				a->lvt[i] |= LAPIC_LVT_MASKED;
		break;
	case LAPIC_REG_ESR:
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		break;
	case LAPIC_REG_ICR_HI: a->icr_hi = v & 0xff000000u; break;
	case LAPIC_REG_ICR_LO:
		a->icr_lo = v & ICR_LO_MASK;
		icr_message(a, ipi);
		if (ipi->mode == LAPIC_DM_FIXED && ipi->vector < 16) {
			error_locked(a, ESR_SEND_ILLEGAL);
			break;
		}
		sent = true;
		break;
	case LAPIC_REG_TIMER_INIT:
		timer_load_locked(a, v, clock_now(a));
		break;
	case LAPIC_REG_TIMER_DIV: {
		/* keep the current count: re-base it on the new divisor */
		uint64_t now = clock_now(a);
		uint32_t cur = timer_current_locked(a, now);
		bool running = a->timer_init && cur;
		a->timer_div = v & 0xb;
		if (running && !periodic(a)) {
			/* one-shot: the remaining count runs on at the new rate */
			uint32_t init = a->timer_init;
			timer_load_locked(a, cur, now);
			a->timer_init = init;
			uint64_t back = (uint64_t)(init - cur) *
					timer_divisor(a) * TICK_NS;
			a->timer_start = back < now ? now - back : 0;
		}
		break;
	}
	default:
		break;	/* read-only or reserved */
	}
	pthread_mutex_unlock(&a->lock);
	if (eoi >= 0 && a->h.eoi)
		a->h.eoi(a->h.ctx, (uint8_t)eoi, eoi_level);
	return sent;
}

/* ---- messages ---- */

bool lapic_accepts(struct lapic *a, const struct lapic_ipi *m)
{
	pthread_mutex_lock(&a->lock);
	uint32_t id = a->id >> 24;
	bool yes;
	switch (m->shorthand) {
	case LAPIC_SH_SELF: yes = id == m->src_id; break;
	case LAPIC_SH_ALL: yes = true; break;
	case LAPIC_SH_OTHERS: yes = id != m->src_id; break;
	default:
		if (!m->logical) {
			yes = m->dest == 0xff || m->dest == id;
		} else {
			uint8_t ldr = (uint8_t)(a->ldr >> 24);
			if ((a->dfr >> 28) == 0xf)	/* flat model */
				yes = (ldr & m->dest) != 0;
			else				/* cluster model */
				yes = (ldr >> 4) == (m->dest >> 4) &&
				      (ldr & m->dest & 0xf) != 0;
			if (m->dest == 0xff)
				yes = true;
		}
		break;
	}
	pthread_mutex_unlock(&a->lock);
	return yes;
}

bool lapic_deliver(struct lapic *a, const struct lapic_ipi *m)
{
	bool changed = false;
	pthread_mutex_lock(&a->lock);
	switch (m->mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		changed = accept_fixed_locked(a, m->vector, m->level_trig);
		break;
	case LAPIC_DM_INIT:
		/* a level de-assert INIT (old-style sequence) does nothing */
		if (!m->assert && m->level_trig)
			break;
		if (a->bsp)
			break;	/* no reset of the BSP: see lapic.h */
		reset_locked(a);
		a->wait_sipi = true;
		changed = true;
		break;
	case LAPIC_DM_STARTUP:
		if (a->wait_sipi && a->sipi_vector < 0) {
			a->sipi_vector = m->vector;
			changed = true;
		}
		break;
	default:
		break;	/* SMI, NMI, ExtINT messages: not modelled */
	}
	pthread_mutex_unlock(&a->lock);
	if (changed && a->h.raised)
		a->h.raised(a->h.ctx);
	return changed;
}

int lapic_pending(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	int v = pending_locked(a);
	pthread_mutex_unlock(&a->lock);
	return v;
}

int lapic_intack(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	int v = pending_locked(a);
	if (v >= 0) {
		clr_bit(a->irr, (unsigned)v);
		set_bit(a->isr, (unsigned)v);
	}
	pthread_mutex_unlock(&a->lock);
	return v;
}

bool lapic_accepts_pic(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	uint32_t lvt = a->lvt[LVT_LINT0];
	bool yes = !(lvt & LAPIC_LVT_MASKED) &&
		   ((lvt >> 8) & 7) == LAPIC_DM_EXTINT;
	pthread_mutex_unlock(&a->lock);
	return yes;
}

bool lapic_wait_sipi(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	bool w = a->wait_sipi;
	pthread_mutex_unlock(&a->lock);
	return w;
}

void lapic_set_wait_sipi(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	reset_locked(a);
	a->wait_sipi = true;
	pthread_mutex_unlock(&a->lock);
}

int lapic_take_sipi(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	int v = -1;
	if (a->wait_sipi && a->sipi_vector >= 0) {
		v = a->sipi_vector;
		a->wait_sipi = false;
		a->sipi_vector = -1;
	}
	pthread_mutex_unlock(&a->lock);
	return v;
}

bool lapic_sipi_latched(struct lapic *a)
{
	pthread_mutex_lock(&a->lock);
	bool l = a->wait_sipi && a->sipi_vector >= 0;
	pthread_mutex_unlock(&a->lock);
	return l;
}
