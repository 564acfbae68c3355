/*
 * rtcdate: reads the CMOS real-time clock (ports 0x70/0x71) the way
 * firmware does - wait while update-in-progress, read twice until two
 * reads agree - in the default BCD/24 h format, then again after
 * switching register B to binary, and prints
 *   "rtc: YYYY-MM-DD hh:mm:ss bcd"  and  "rtc: YYYY-MM-DD hh:mm:ss bin"
 * plus the base memory size from CMOS ("rtc: base memory N KiB"); exits
 * 0.  Polled, no interrupts.
 */
#include "guest.h"

struct date {
	unsigned y, mo, d, h, mi, s;
};

static unsigned conv(uint8_t v, int bcd)
{
	return bcd ? (unsigned)(v >> 4) * 10 + (v & 15) : v;
}

static void read_once(struct date *t, int bcd)
{
	for (unsigned i = 0; i < 1000000 && (cmos_read(0x0a) & 0x80); i++)
		cpu_relax();
	t->s = conv(cmos_read(0x00), bcd);
	t->mi = conv(cmos_read(0x02), bcd);
	t->h = conv(cmos_read(0x04), bcd);
	t->d = conv(cmos_read(0x07), bcd);
	t->mo = conv(cmos_read(0x08), bcd);
	t->y = conv(cmos_read(0x32), bcd) * 100 + conv(cmos_read(0x09), bcd);
}

static void read_date(struct date *t, int bcd)
{
	struct date u;
	do {
		read_once(t, bcd);
		read_once(&u, bcd);
	} while (t->s != u.s || t->mi != u.mi || t->h != u.h || t->d != u.d);
}

static void two(unsigned v)
{
	if (v < 10)
		print("0");
	print_dec(v);
}

static void show(const struct date *t, const char *fmt)
{
	print("rtc: ");
	print_dec(t->y);
	print("-");
	two(t->mo);
	print("-");
	two(t->d);
	print(" ");
	two(t->h);
	print(":");
	two(t->mi);
	print(":");
	two(t->s);
	print(" ");
	print(fmt);
	print("\n");
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	serial_init();
	struct date t;
	uint8_t b = cmos_read(0x0b);
	read_date(&t, !(b & 0x04));
	show(&t, "bcd");
	cmos_write(0x0b, (uint8_t)(b | 0x04 | 0x02));	/* binary, 24 h */
	read_date(&t, 0);
	show(&t, "bin");
	cmos_write(0x0b, b);
	print("rtc: base memory ");
	print_dec((unsigned)cmos_read(0x15) | (unsigned)cmos_read(0x16) << 8);
	print(" KiB\n");
	guest_exit(0);
}
