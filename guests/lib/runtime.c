/*
 * runtime: COM1 output, delays and cvisor's ports for the test guests.
 * Everything polls: the guests run with interrupts off on every backend.
 */
#include "guest.h"

#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20

/* A UART that never reports "ready" must not hang the guest for good. */
#define THRE_POLL_LIMIT 100000

void serial_init(void)
{
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80);	/* DLAB: divisor 1 = 115200 baud */
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + UART_LCR, 0x03);	/* 8N1 */
	outb(COM1 + UART_FCR, 0x07);
	outb(COM1 + UART_MCR, 0x03);
}

void serial_putc(char c)
{
	for (int i = 0; i < THRE_POLL_LIMIT; i++)
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	outb(COM1 + UART_THR, (uint8_t)c);
}

void print(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void print_dec(unsigned long v)
{
	char buf[24];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		serial_putc(buf[--n]);
}

void print_hex(uint32_t v)
{
	print("0x");
	for (int shift = 28; shift >= 0; shift -= 4)
		serial_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

void boot_mark(void)
{
	outb(PORT_BOOT, 0x01);
}

int shutdown_requested(void)
{
	/* exactly 1: an absent port reads 0xff and must not stop the guest */
	return inb(PORT_SHUTDOWN_REQ) == 1;
}

void delay_cycles(uint64_t cycles)
{
	/* the iteration cap only matters if a TSC never advances */
	uint64_t start = rdtsc(), cap = cycles / 8;
	for (uint64_t i = 0; i < cap; i++) {
		if (rdtsc() - start >= cycles)
			break;
		cpu_relax();
	}
}

void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_exit(uint8_t code)
{
	outb(PORT_DEBUG_EXIT, code);
	halt_forever();
}
