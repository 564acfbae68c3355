/*
 * uart16550: a 16550A serial port, as seen by a guest on the bus.
 *
 * Owns the register file (THR/RBR, IER, IIR/FCR, LCR + divisor latch, MCR
 * with loopback, LSR, MSR, SCR), an RX FIFO fed by the host through
 * uart_receive(), and the interrupt line state.  Transmitted bytes go to a
 * struct console at once (the line never blocks, so LSR always shows THRE
 * and TEMT).  Each instance locks itself; any vCPU thread may access it.
 */
#ifndef CV_UART16550_H
#define CV_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "console.h"
#include "err.h"

#define UART_REG_COUNT 8	/* registers at offsets 0..7 */
/*
 * The RX FIFO is deeper than a real 16550's 16 bytes so pasted input is
 * not dropped while the guest catches up; guests only ever look at LSR.DR.
 */
#define UART_RX_FIFO_SIZE 256

/*
 * Interrupt line hook: set(ctx, level) is called on every level change
 * (and with a low->high edge again for each THR write while THRE
 * interrupts are enabled, as an edge-triggered PIC needs).  It runs with
 * the UART locked: it must not call back into the UART.  set NULL = no
 * line wired.
 */
struct uart_irq {
	void (*set)(void *ctx, bool level);
	void *ctx;
};

struct uart_stats {
	uint64_t tx_bytes;	/* THR writes sent to the console */
	uint64_t loop_bytes;	/* THR writes looped back (MCR.LOOP) */
	uint64_t rx_bytes;	/* bytes the guest read from RBR */
	uint64_t rx_queued;	/* bytes the host queued with uart_receive */
	uint64_t rx_dropped;	/* host bytes dropped: loopback mode */
	uint64_t overruns;	/* loopback bytes lost to a full FIFO */
	uint64_t irq_raises;	/* low -> high transitions of the line */
};

struct uart;

/* con may be NULL (output discarded, still counted). */
struct uart *uart_create(struct console *con, struct uart_irq irq,
			 struct cv_err *err);
void uart_destroy(struct uart *u);	/* NULL ok */

/* Power-on state: registers, FIFO, line low.  Counters are kept. */
void uart_reset(struct uart *u);

/*
 * Queue host input for the guest.  Returns the bytes taken (fewer than len
 * when the FIFO is full; the caller keeps the rest).  In loopback mode the
 * receiver is cut off from the outside: the bytes are dropped, counted and
 * reported as taken.
 */
size_t uart_receive(struct uart *u, const void *buf, size_t len);

void uart_get_stats(struct uart *u, struct uart_stats *out);

/*
 * Bus handlers; opaque = struct uart *.  Byte registers: a wider access is
 * handled as byte accesses at offset, offset+1, ...; bytes past offset 7
 * read 0 and ignore writes (MMIO UARTs may register a larger window).
 */
extern const struct bus_device_ops uart_bus_ops;

/* Register offsets and bits, for tests and firmware-style users. */
enum {
	UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08
#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_FIFO 0xc0
#define UART_FCR_ENABLE 0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_LCR_DLAB 0x80
#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

#endif
