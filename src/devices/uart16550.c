/*
 * uart16550: 16550A register model (see uart16550.h).
 *
 * Transmission is instantaneous: a THR write hands the byte to the
 * console (after the lock is dropped, so the UART never holds its lock
 * while the console flushes to listeners) and THR is empty again at once.
 * Any byte value, in any register, in any order is accepted; the model
 * only ever stores masked values and indexes its FIFO modulo its size.
 */
#include "uart16550.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MSR_DELTA_MASK 0x0f
#define MSR_TERI 0x04		/* RI went 1 -> 0 */

struct uart {
	pthread_mutex_t lock;
	struct console *con;
	struct uart_irq irq;

	uint8_t ier, lcr, mcr, scr, fcr, msr;
	uint8_t dll, dlm;
	bool fifo_enabled;
	bool thr_ipending;	/* THRE interrupt pending (cleared by IIR read) */
	bool overrun;		/* LSR.OE, cleared by LSR read */
	bool line;		/* current level of the interrupt line */
	uint8_t last_rbr;

	uint8_t rx[UART_RX_FIFO_SIZE];
	size_t rx_head, rx_count;

	struct uart_stats stats;
};

/* Bytes a single access transmits: at most 8, one per byte. */
struct tx_batch {
	uint8_t b[8];
	size_t n;
};

static void set_line(struct uart *u, bool level)
{
	if (level == u->line)
		return;
	u->line = level;
	if (level)
		u->stats.irq_raises++;
	if (u->irq.set)
		u->irq.set(u->irq.ctx, level);
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t pending_id(const struct uart *u)
{
	if ((u->ier & UART_IER_RLSI) && u->overrun)
		return UART_IIR_RLSI;
	if ((u->ier & UART_IER_RDI) && u->rx_count)
		return UART_IIR_RDI;
	if ((u->ier & UART_IER_THRI) && u->thr_ipending)
		return UART_IIR_THRI;
	if ((u->ier & UART_IER_MSI) && (u->msr & MSR_DELTA_MASK))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	set_line(u, pending_id(u) != UART_IIR_NO_INT);
}

static void rx_clear(struct uart *u)
{
	u->rx_head = u->rx_count = 0;
}

static bool rx_push(struct uart *u, uint8_t b)
{
	if (u->rx_count == UART_RX_FIFO_SIZE)
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO_SIZE] = b;
	u->rx_count++;
	return true;
}

static uint8_t rx_pop(struct uart *u)
{
	if (!u->rx_count)
		return u->last_rbr;	/* real parts repeat the last byte */
	u->last_rbr = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO_SIZE;
	u->rx_count--;
	u->stats.rx_bytes++;
	return u->last_rbr;
}

/* MSR status bits: loopback wires MCR outputs back to the inputs. */
static uint8_t msr_lines(const struct uart *u)
{
	if (!(u->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	uint8_t m = u->mcr;
	return (uint8_t)(((m & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
			 ((m & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
			 ((m & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
			 ((m & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
}

static void msr_update(struct uart *u)
{
	uint8_t old = u->msr & 0xf0, now = msr_lines(u);
	uint8_t changed = old ^ now;
	uint8_t delta = (uint8_t)(changed >> 4) & 0x0b;	/* DCTS DDSR DDCD */

	if ((changed & UART_MSR_RI) && !(now & UART_MSR_RI))
		delta |= MSR_TERI;
	u->msr = (uint8_t)(now | ((u->msr | delta) & MSR_DELTA_MASK));
}

static void reset_locked(struct uart *u)
{
	u->ier = u->lcr = u->mcr = u->scr = u->fcr = 0;
	u->dll = 0x0c;		/* 9600 baud, the usual firmware default */
	u->dlm = 0;
	u->fifo_enabled = false;
	u->thr_ipending = false;
	u->overrun = false;
	u->last_rbr = 0;
	rx_clear(u);
	u->msr = msr_lines(u);
	update_irq(u);
}

static void write_thr(struct uart *u, uint8_t v, struct tx_batch *tx)
{
	if (u->mcr & UART_MCR_LOOP) {
		if (rx_push(u, v))
			u->stats.loop_bytes++;
		else {
			u->overrun = true;
			u->stats.overruns++;
		}
	} else {
		tx->b[tx->n++] = v;
		u->stats.tx_bytes++;
	}
	/* THR empties at once: drop and re-raise so an edge PIC sees it. */
	u->thr_ipending = false;
	update_irq(u);
	u->thr_ipending = true;
	update_irq(u);
}

static void write_ier(struct uart *u, uint8_t v)
{
	uint8_t old = u->ier;

	u->ier = v & 0x0f;
	/* Enabling THRE interrupts while THR is empty raises one (8250/16550
	 * behaviour Linux probes for). */
	if ((u->ier & UART_IER_THRI) && !(old & UART_IER_THRI))
		u->thr_ipending = true;
	else if (!(u->ier & UART_IER_THRI))
		u->thr_ipending = false;
}

static void write_fcr(struct uart *u, uint8_t v)
{
	bool enable = v & UART_FCR_ENABLE;

	if (enable != u->fifo_enabled || (v & UART_FCR_CLEAR_RX))
		rx_clear(u);
	u->fifo_enabled = enable;
	u->fcr = enable ? (v & 0xc9) : 0;	/* keep trigger level + DMA */
}

static void write_mcr(struct uart *u, uint8_t v)
{
	u->mcr = v & 0x1f;
	msr_update(u);
}

static void write_reg(struct uart *u, uint64_t off, uint8_t v,
		      struct tx_batch *tx)
{
	bool dlab = u->lcr & UART_LCR_DLAB;

	switch (off) {
	case UART_RBR_THR:
		if (dlab)
			u->dll = v;
		else
			write_thr(u, v, tx);
		return;
	case UART_IER:
		if (dlab)
			u->dlm = v;
		else
			write_ier(u, v);
		break;
	case UART_IIR_FCR: write_fcr(u, v); break;
	case UART_LCR: u->lcr = v; break;
	case UART_MCR: write_mcr(u, v); break;
	case UART_SCR: u->scr = v; break;
	default: break;		/* LSR, MSR: read-only; > 7: nothing */
	}
	update_irq(u);
}

static uint8_t read_iir(struct uart *u)
{
	uint8_t id = pending_id(u);

	/* Reading IIR acknowledges a THRE interrupt. */
	if (id == UART_IIR_THRI) {
		u->thr_ipending = false;
		update_irq(u);
	}
	return (uint8_t)(id | (u->fifo_enabled ? UART_IIR_FIFO : 0));
}

static uint8_t read_lsr(struct uart *u)
{
	uint8_t v = UART_LSR_THRE | UART_LSR_TEMT;

	if (u->rx_count)
		v |= UART_LSR_DR;
	if (u->overrun)
		v |= UART_LSR_OE;
	u->overrun = false;
	update_irq(u);
	return v;
}

static uint8_t read_msr(struct uart *u)
{
	uint8_t v = u->msr;

	u->msr &= (uint8_t)~MSR_DELTA_MASK;
	update_irq(u);
	return v;
}

static uint8_t read_reg(struct uart *u, uint64_t off)
{
	bool dlab = u->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (off) {
	case UART_RBR_THR:
		if (dlab)
			return u->dll;
		v = rx_pop(u);
		update_irq(u);
		return v;
	case UART_IER: return dlab ? u->dlm : u->ier;
	case UART_IIR_FCR: return read_iir(u);
	case UART_LCR: return u->lcr;
	case UART_MCR: return u->mcr;
	case UART_LSR: return read_lsr(u);
	case UART_MSR: return read_msr(u);
	case UART_SCR: return u->scr;
	default: return 0;
	}
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart *u = opaque;
	uint64_t v = 0;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size; i++)
		if (offset + i >= offset)	/* no wrap at 2^64 */
			v |= (uint64_t)read_reg(u, offset + i) << (8 * i);
	pthread_mutex_unlock(&u->lock);
	return v;
}

static enum bus_action uart_write(void *opaque, uint64_t offset,
				  unsigned size, uint64_t value)
{
	struct uart *u = opaque;
	struct tx_batch tx = { .n = 0 };

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&u->lock);
	for (unsigned i = 0; i < size; i++)
		if (offset + i >= offset)
			write_reg(u, offset + i, (uint8_t)(value >> (8 * i)),
				  &tx);
	struct console *con = u->con;
	pthread_mutex_unlock(&u->lock);
	if (tx.n && con)
		console_write(con, tx.b, tx.n);
	return BUS_CONTINUE;
}

const struct bus_device_ops uart_bus_ops = {
	.read = uart_read,
	.write = uart_write,
};

struct uart *uart_create(struct console *con, struct uart_irq irq,
			 struct cv_err *err)
{
	struct uart *u = calloc(1, sizeof(*u));
	if (!u) {
		cv_err_set(err, ENOMEM, "Out of memory for a 16550 UART.");
		return NULL;
	}
	int rc = pthread_mutex_init(&u->lock, NULL);
	if (rc) {
		cv_err_set(err, rc, "Cannot create the UART lock: %s.",
			   strerror(rc));
		free(u);
		return NULL;
	}
	u->con = con;
	u->irq = irq;
	/* Power-on: the line starts low without telling anyone. */
	reset_locked(u);
	return u;
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void uart_reset(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	reset_locked(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct uart *u, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t took = 0;

	if (!u || !buf)
		return 0;
	pthread_mutex_lock(&u->lock);
	if (u->mcr & UART_MCR_LOOP) {
		u->stats.rx_dropped += len;
		took = len;
	} else {
		while (took < len && rx_push(u, p[took]))
			took++;
		u->stats.rx_queued += took;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return took;
}

void uart_get_stats(struct uart *u, struct uart_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	*out = u->stats;
	pthread_mutex_unlock(&u->lock);
}
