/*
 * pic8259: 8259A pair model (see pic8259.h).  The priority logic follows
 * the data sheet: the highest-priority unmasked IRR bit is requested when
 * it beats the highest in-service one; priority_add is the rotation.
 */
#include "pic8259.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct chip {
	uint8_t irr, imr, isr, last_irr, elcr, elcr_mask;
	uint8_t priority_add, irq_base;
	uint8_t init_state;	/* 0 = ready, 1-3: expecting ICW2-ICW4 */
	bool init4, single, auto_eoi, rotate_on_aeoi, sfnm;
	bool read_isr, poll, special_mask;
	bool master;
};

struct pic {
	pthread_mutex_t lock;
	struct chip c[2];	/* 0 master, 1 slave */
	struct pic_output out;
	bool int_out;
};

static int priority_of(const struct chip *s, uint8_t mask)
{
	if (!mask)
		return 8;
	int p = 0;
	while (!(mask & (1u << ((p + s->priority_add) & 7))))
		p++;
	return p;
}

/* The chip's wanted IRQ (0-7) or -1. */
static int chip_irq(const struct chip *s)
{
	int p = priority_of(s, s->irr & ~s->imr);
	if (p == 8)
		return -1;
	uint8_t mask = s->isr;
	if (s->special_mask)
		mask &= ~s->imr;
	if (s->sfnm && s->master)
		mask &= ~(1u << PIC_CASCADE_IRQ);
	return p < priority_of(s, mask) ? (p + s->priority_add) & 7 : -1;
}

static void chip_line(struct chip *s, unsigned irq, bool level)
{
	uint8_t m = (uint8_t)(1u << irq);
	if (s->elcr & m) {
		if (level)
			s->irr |= m, s->last_irr |= m;
		else
			s->irr &= ~m, s->last_irr &= ~m;
	} else if (level) {
		if (!(s->last_irr & m))
			s->irr |= m;
		s->last_irr |= m;
	} else {
		s->last_irr &= ~m;
	}
}

/* Recompute the cascade and the master's output; tell the CPU side. */
static void update(struct pic *p)
{
	chip_line(&p->c[0], PIC_CASCADE_IRQ, chip_irq(&p->c[1]) >= 0);
	bool out = chip_irq(&p->c[0]) >= 0;
	bool rose = out && !p->int_out;
	p->int_out = out;
	if (rose && p->out.raised)
		p->out.raised(p->out.ctx);
}

/* ISA line of the chip's irq (0-7). */
static unsigned line_of(const struct pic *p, const struct chip *s, int irq)
{
	return (unsigned)irq + (s == &p->c[0] ? 0 : 8);
}

/* The interrupt of irq on chip s ended (edge lines only: a level line's
 * device acknowledges its own source). */
static void ended(struct pic *p, struct chip *s, int irq)
{
	if (p->out.acked && !(s->elcr & (1u << irq)))
		p->out.acked(p->out.ctx, line_of(p, s, irq));
}

static void chip_ack(struct pic *p, struct chip *s, int irq)
{
	if (s->auto_eoi) {
		if (s->rotate_on_aeoi)
			s->priority_add = (uint8_t)((irq + 1) & 7);
		ended(p, s, irq);
	} else {
		s->isr |= (uint8_t)(1u << irq);
	}
	if (!(s->elcr & (1u << irq)))
		s->irr &= (uint8_t)~(1u << irq);
}

static void chip_init_reset(struct pic *p, struct chip *s)
{
	uint8_t elcr = s->elcr, elcr_mask = s->elcr_mask;
	bool master = s->master;
	uint8_t dropped = (uint8_t)((s->irr & ~elcr) | s->isr);
	for (int irq = 0; irq < 8; irq++)
		if (dropped & (1u << irq))
			ended(p, s, irq);
	s->irr &= elcr;
	uint8_t irr = s->irr;
	memset(s, 0, sizeof(*s));
	s->irr = irr;
	s->elcr = elcr;
	s->elcr_mask = elcr_mask;
	s->master = master;
}

/* A specific EOI ends irq if it was in service. */
static void eoi_specific(struct pic *p, struct chip *s, unsigned irq)
{
	if (!(s->isr & (1u << irq)))
		return;
	s->isr &= (uint8_t)~(1u << irq);
	ended(p, s, (int)irq);
}

static void chip_write(struct pic *p, struct chip *s, uint64_t port,
		       uint8_t v)
{
	if ((port & 1) == 0) {
		if (v & 0x10) {			/* ICW1 */
			chip_init_reset(p, s);
			s->init_state = 1;
			s->init4 = v & 1;
			s->single = v & 2;
		} else if (v & 0x08) {		/* OCW3 */
			if (v & 0x04)
				s->poll = true;
			if (v & 0x02)
				s->read_isr = v & 1;
			if (v & 0x40)
				s->special_mask = (v >> 5) & 1;
		} else {			/* OCW2 */
			unsigned cmd = v >> 5, irq = v & 7;
			int pr;
			switch (cmd) {
			case 0: case 4:		/* rotate in auto-EOI off/on */
				s->rotate_on_aeoi = cmd == 4;
				break;
			case 1: case 5:		/* non-specific EOI (+rotate) */
				pr = priority_of(s, s->isr);
				if (pr != 8) {
					irq = (unsigned)(pr + s->priority_add) & 7;
					s->isr &= (uint8_t)~(1u << irq);
					if (cmd == 5)
						s->priority_add = (uint8_t)((irq + 1) & 7);
					ended(p, s, (int)irq);
				}
				break;
			case 3:			/* specific EOI */
				eoi_specific(p, s, irq);
				break;
			case 6:			/* set priority */
				s->priority_add = (uint8_t)((irq + 1) & 7);
				break;
			case 7:			/* specific EOI + rotate */
				eoi_specific(p, s, irq);
				s->priority_add = (uint8_t)((irq + 1) & 7);
				break;
			default:
				break;
			}
		}
		return;
	}
	switch (s->init_state) {
	case 0: {				/* OCW1 */
		uint8_t cleared = s->imr & (uint8_t)~v;
		s->imr = v;
		for (int irq = 0; irq < 8 && p->out.unmasked; irq++)
			if (cleared & (1u << irq))
				p->out.unmasked(p->out.ctx, line_of(p, s, irq));
		break;
	}
	case 1:
		s->irq_base = v & 0xf8;		/* ICW2 */
		s->init_state = s->single ? (s->init4 ? 3 : 0) : 2;
		break;
	case 2:					/* ICW3: wiring is fixed */
		s->init_state = s->init4 ? 3 : 0;
		break;
	default:				/* ICW4 */
		s->sfnm = (v >> 4) & 1;
		s->auto_eoi = (v >> 1) & 1;
		s->init_state = 0;
		break;
	}
}

/* Poll command result: 0x80 | irq when one was pending (acknowledged). */
static uint8_t chip_poll(struct pic *p, int idx)
{
	struct chip *s = &p->c[idx];
	int irq = chip_irq(s);
	if (irq < 0)
		return 0;
	chip_ack(p, s, irq);	/* a cascade request: poll the slave next */
	return (uint8_t)(0x80 | irq);
}

static uint8_t chip_read(struct pic *p, int idx, uint64_t port)
{
	struct chip *s = &p->c[idx];
	if (s->poll) {
		s->poll = false;
		return chip_poll(p, idx);
	}
	if (port & 1)
		return s->imr;
	return s->read_isr ? s->isr : s->irr;
}

static uint64_t pic_read(struct pic *p, int idx, uint64_t off, unsigned size)
{
	uint64_t v = 0;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)chip_read(p, idx, off + i) << (8 * i);
	update(p);
	pthread_mutex_unlock(&p->lock);
	return v;
}

static enum bus_action pic_write(struct pic *p, int idx, uint64_t off,
				 unsigned size, uint64_t v)
{
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < size && i < 8; i++)
		chip_write(p, &p->c[idx], off + i, (uint8_t)(v >> (8 * i)));
	update(p);
	pthread_mutex_unlock(&p->lock);
	return BUS_CONTINUE;
}

static uint64_t master_read(void *o, uint64_t off, unsigned size)
{
	return pic_read(o, 0, off, size);
}

static enum bus_action master_write(void *o, uint64_t off, unsigned size,
				    uint64_t v)
{
	return pic_write(o, 0, off, size, v);
}

static uint64_t slave_read(void *o, uint64_t off, unsigned size)
{
	return pic_read(o, 1, off, size);
}

static enum bus_action slave_write(void *o, uint64_t off, unsigned size,
				   uint64_t v)
{
	return pic_write(o, 1, off, size, v);
}

static uint64_t elcr_read(void *o, uint64_t off, unsigned size)
{
	struct pic *p = o;
	uint64_t v = 0;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < size && i < 8; i++)
		if (off + i < 2)
			v |= (uint64_t)p->c[off + i].elcr << (8 * i);
	pthread_mutex_unlock(&p->lock);
	return v;
}

static enum bus_action elcr_write(void *o, uint64_t off, unsigned size,
				  uint64_t v)
{
	struct pic *p = o;
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < size && i < 8; i++)
		if (off + i < 2) {
			struct chip *s = &p->c[off + i];
			s->elcr = (uint8_t)(v >> (8 * i)) & s->elcr_mask;
		}
	update(p);
	pthread_mutex_unlock(&p->lock);
	return BUS_CONTINUE;
}

const struct bus_device_ops pic_master_ops = { master_read, master_write };
const struct bus_device_ops pic_slave_ops = { slave_read, slave_write };
const struct bus_device_ops pic_elcr_ops = { elcr_read, elcr_write };

static void reset_locked(struct pic *p)
{
	for (int i = 0; i < 2; i++) {
		struct chip *s = &p->c[i];
		memset(s, 0, sizeof(*s));
		s->master = i == 0;
		/* IRQ0-2 and 8/13 are always edge (PIIX) */
		s->elcr_mask = i == 0 ? 0xf8 : 0xde;
	}
	p->int_out = false;
}

struct pic *pic_create(struct pic_output out, struct cv_err *err)
{
	struct pic *p = calloc(1, sizeof(*p));
	if (!p) {
		cv_err_set(err, ENOMEM, "Out of memory for the 8259 PIC pair.");
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->out = out;
	reset_locked(p);
	return p;
}

void pic_destroy(struct pic *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pic_reset(struct pic *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	reset_locked(p);
	pthread_mutex_unlock(&p->lock);
}

void pic_set_irq(struct pic *p, unsigned irq, bool level)
{
	if (!p || irq > 15)
		return;
	pthread_mutex_lock(&p->lock);
	chip_line(&p->c[irq >> 3], irq & 7, level);
	update(p);
	pthread_mutex_unlock(&p->lock);
}

bool pic_pending(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	bool out = p->int_out;
	pthread_mutex_unlock(&p->lock);
	return out;
}

int pic_intack(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	struct chip *m = &p->c[0], *s = &p->c[1];
	int vec = PIC_NO_VECTOR;
	if (p->int_out) {
		int irq = chip_irq(m);
		if (irq < 0) {
			vec = m->irq_base + 7;		/* spurious */
		} else if (irq == PIC_CASCADE_IRQ) {
			int irq2 = chip_irq(s);
			if (irq2 >= 0)
				chip_ack(p, s, irq2);
			vec = s->irq_base + (irq2 >= 0 ? irq2 : 7);
			chip_ack(p, m, irq);
		} else {
			vec = m->irq_base + irq;
			chip_ack(p, m, irq);
		}
		update(p);
	}
	pthread_mutex_unlock(&p->lock);
	return vec;
}

void pic_set_output(struct pic *p, struct pic_output out)
{
	pthread_mutex_lock(&p->lock);
	p->out = out;
	pthread_mutex_unlock(&p->lock);
}

void pic_poke(struct pic *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->out.raised)
		p->out.raised(p->out.ctx);
	pthread_mutex_unlock(&p->lock);
}
