/*
 * uartecho: an interrupt-driven 16550 driver.  COM1 IRQ4 through the
 * 8259 (vector 0x24) and a 32-bit IDT; RX-data interrupts fill a receive
 * ring, THRE interrupts drain a transmit ring (IER.THRI is enabled only
 * while there is something to send; IIR tells which one fired).  The main
 * loop sleeps in `sti; hlt`, never polls the UART, and for each input
 * line answers "echo: <line>"; the line "quit" exits 0.  Prints
 * "uartecho: ready" first (with the polled routine, before interrupts).
 */
#include "irqguest.h"

const char irq_guest_name[] = "uartecho";

#define RING 256
static volatile char rx[RING], tx[RING];
static volatile unsigned rx_head, rx_tail, tx_head, tx_tail;
static volatile unsigned rx_irqs, tx_irqs;

static void tx_kick(void)
{
	/* enable THRE interrupts: the UART raises one at once (THR empty) */
	outb(COM1 + 1, 0x03);
}

void on_uart(void);
void on_uart(void)
{
	for (;;) {
		uint8_t iir = inb(COM1 + 2);
		if (iir & 1)
			break;			/* nothing pending */
		switch (iir & 0x0e) {
		case 0x04:			/* RX data */
			rx_irqs++;
			while (inb(COM1 + 5) & 1) {
				char c = (char)inb(COM1);
				if (rx_head - rx_tail < RING)
					rx[rx_head++ % RING] = c;
			}
			break;
		case 0x02:			/* THR empty (IIR read acked it) */
			tx_irqs++;
			if (tx_tail != tx_head)
				outb(COM1, (uint8_t)tx[tx_tail++ % RING]);
			else
				outb(COM1 + 1, 0x01);	/* RX only */
			break;
		default:
			(void)inb(COM1 + 5);
			(void)inb(COM1 + 6);
			break;
		}
	}
	pic_eoi(4);
}

ISR(isr_uart);
ISR_CALLING(isr_uart, on_uart);

static void send(const char *s)
{
	cli();
	while (*s) {
		while (tx_head - tx_tail >= RING) {	/* full: let it drain */
			sti_hlt();
			cli();
		}
		tx[tx_head++ % RING] = *s++;
	}
	tx_kick();
	sti();
}

static void send_dec(unsigned v)
{
	char b[12];
	int n = 11;
	b[n] = 0;
	do
		b[--n] = (char)('0' + v % 10);
	while (v /= 10);
	send(b + n);
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	serial_init();
	irq_guest_fault_gates();
	irq_guest_idt(0x24, isr_uart, SPURIOUS_8259);
	pic_init(0x20, 1u << 4);
	outb(COM1 + 4, 0x0b);		/* DTR, RTS, OUT2 (IRQ enable) */
	outb(COM1 + 1, 0x01);		/* RX data interrupts */
	print("uartecho: ready\n");
	char line[80];
	unsigned n = 0;
	for (;;) {
		cli();
		if (rx_tail == rx_head) {
			sti_hlt();
			continue;
		}
		char c = rx[rx_tail++ % RING];
		sti();
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = c;
			continue;
		}
		line[n] = 0;
		n = 0;
		if (line[0] == 'q' && line[1] == 'u' && line[2] == 'i' &&
		    line[3] == 't' && !line[4])
			break;
		send("echo: ");
		send(line);
		send("\n");
	}
	send("uartecho: bye after ");
	send_dec(rx_irqs);
	send(" rx and ");
	send_dec(tx_irqs);
	send(" tx interrupts\n");
	cli();
	while (tx_tail != tx_head) {
		sti_hlt();
		cli();
	}
	guest_exit(0);
}
