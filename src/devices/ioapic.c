/*
 * ioapic: I/O APIC model (see ioapic.h).  Messages (and the acked and
 * unmasked notes) are collected under the lock and sent after it is
 * dropped, so the hooks may take the owner's locks and a LAPIC's EOI may
 * come back here.
 */
#include "ioapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* writable bits of a redirection entry: vector, delivery and destination
 * mode, polarity, trigger, mask, destination (status, remote IRR: RO) */
#define RTE_WRITABLE 0xff0000000001afffull

struct ioapic {
	pthread_mutex_t lock;
	struct ioapic_hooks h;
	uint32_t id;		/* bits 27:24 */
	uint8_t sel;		/* IOREGSEL */
	uint64_t rte[IOAPIC_PINS];
	bool line[IOAPIC_PINS];	/* asserted */
};

struct ioapic *ioapic_create(struct ioapic_hooks hooks, struct cv_err *err)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	if (!io) {
		cv_err_set(err, ENOMEM, "out of memory for the I/O APIC");
		return NULL;
	}
	pthread_mutex_init(&io->lock, NULL);
	io->h = hooks;
	ioapic_reset(io);
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

void ioapic_reset(struct ioapic *io)
{
	pthread_mutex_lock(&io->lock);
	io->id = 0;
	io->sel = 0;
	for (int i = 0; i < IOAPIC_PINS; i++) {
		io->rte[i] = IOAPIC_RTE_MASKED;
		io->line[i] = false;
	}
	pthread_mutex_unlock(&io->lock);
}

static void message(uint64_t rte, struct lapic_ipi *m)
{
	*m = (struct lapic_ipi){
		.vector = (uint8_t)rte,
		.mode = (rte >> 8) & 7,
		.logical = rte & (1u << 11),
		.assert = true,
		.level_trig = rte & IOAPIC_RTE_LEVEL,
		.shorthand = LAPIC_SH_NONE,
		.dest = (uint8_t)(rte >> 56),
	};
}

/* Should pin send now?  Sets remote IRR for level pins. */
static bool fire_locked(struct ioapic *io, unsigned pin, struct lapic_ipi *m)
{
	uint64_t *e = &io->rte[pin];
	if (*e & IOAPIC_RTE_MASKED)
		return false;
	if (*e & IOAPIC_RTE_LEVEL) {
		if (!io->line[pin] || (*e & IOAPIC_RTE_REMOTE_IRR))
			return false;
		*e |= IOAPIC_RTE_REMOTE_IRR;
	}
	message(*e, m);
	return true;
}

static void send(struct ioapic *io, const struct lapic_ipi *m)
{
	if (io->h.deliver)
		io->h.deliver(io->h.ctx, m);
}

static uint32_t read_reg_locked(const struct ioapic *io)
{
	unsigned r = io->sel;
	switch (r) {
	case IOAPIC_REG_ID: return io->id;
	case IOAPIC_REG_VER: return IOAPIC_VERSION;
	case IOAPIC_REG_ARB: return io->id;
	default:
		if (r >= IOAPIC_REG_REDIR &&
		    r < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
			uint64_t e = io->rte[(r - IOAPIC_REG_REDIR) / 2];
			return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
		return 0xffffffffu;
	}
}

uint64_t ioapic_read(struct ioapic *io, uint64_t off, unsigned size)
{
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return 0;
	uint64_t v = 0;
	pthread_mutex_lock(&io->lock);
	if (off == 0)
		v = io->sel;
	else if (off >= 0x10 && off < 0x14)
		v = read_reg_locked(io) >> (8 * (off - 0x10));
	pthread_mutex_unlock(&io->lock);
	return size >= 4 ? v : v & ((1ull << (8 * size)) - 1);
}

void ioapic_write(struct ioapic *io, uint64_t off, unsigned size,
		  uint64_t val)
{
	struct lapic_ipi m;
	bool fire = false;
	int unmasked = -1;
	pthread_mutex_lock(&io->lock);
	if (off == 0 && size >= 1) {
		io->sel = (uint8_t)val;
	} else if (off == 0x10 && size >= 4) {
		unsigned r = io->sel;
		uint32_t v = (uint32_t)val;
		if (r == IOAPIC_REG_ID) {
			io->id = v & 0x0f000000u;
		} else if (r >= IOAPIC_REG_REDIR &&
			   r < IOAPIC_REG_REDIR + 2 * IOAPIC_PINS) {
			unsigned pin = (r - IOAPIC_REG_REDIR) / 2;
			uint64_t *e = &io->rte[pin];
			uint64_t keep = *e & (IOAPIC_RTE_DELIVS |
					      IOAPIC_RTE_REMOTE_IRR);
			uint64_t nv = (r & 1)
				? (*e & 0xffffffffull) | (uint64_t)v << 32
				: (*e & ~0xffffffffull) | v;
			if ((*e & IOAPIC_RTE_MASKED) && !(nv & IOAPIC_RTE_MASKED))
				unmasked = (int)pin;
			*e = (nv & RTE_WRITABLE) | keep;
			if (!(*e & IOAPIC_RTE_LEVEL))
				*e &= ~IOAPIC_RTE_REMOTE_IRR;
			/* an asserted level pin sends when unmasked */
			if ((*e & IOAPIC_RTE_LEVEL) && io->line[pin])
				fire = fire_locked(io, pin, &m);
		}
	}
	pthread_mutex_unlock(&io->lock);
	if (unmasked >= 0 && io->h.unmasked)
		io->h.unmasked(io->h.ctx, (unsigned)unmasked);
	if (fire)
		send(io, &m);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	if (pin >= IOAPIC_PINS)
		return;
	struct lapic_ipi m;
	bool fire = false;
	pthread_mutex_lock(&io->lock);
	bool rise = level && !io->line[pin];
	io->line[pin] = level;
	if (io->rte[pin] & IOAPIC_RTE_LEVEL)
		fire = level && fire_locked(io, pin, &m);
	else
		fire = rise && fire_locked(io, pin, &m);
	pthread_mutex_unlock(&io->lock);
	if (fire)
		send(io, &m);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector, bool level)
{
	struct lapic_ipi msgs[IOAPIC_PINS];
	unsigned n = 0;
	uint32_t acked = 0;	/* edge pins whose interrupt ended */
	pthread_mutex_lock(&io->lock);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *e = &io->rte[pin];
		if ((uint8_t)*e != vector)
			continue;
		if (!(*e & IOAPIC_RTE_LEVEL)) {
			if (!level && !(*e & IOAPIC_RTE_MASKED))
				acked |= 1u << pin;
			continue;
		}
		if (!level || !(*e & IOAPIC_RTE_REMOTE_IRR))
			continue;
		*e &= ~IOAPIC_RTE_REMOTE_IRR;
		if (fire_locked(io, pin, &msgs[n]))
			n++;
	}
	pthread_mutex_unlock(&io->lock);
	for (unsigned pin = 0; acked && io->h.acked; pin++, acked >>= 1)
		if (acked & 1)
			io->h.acked(io->h.ctx, pin);
	for (unsigned i = 0; i < n; i++)
		send(io, &msgs[i]);
}
