/*
 * acpi: the ACPI test guests, one source, three builds (32-bit protected
 * mode, raw).  Each finds cvisor's ACPI fixed hardware the way an OS does:
 * scan 0xE0000-0xFFFFF for the RSDP ("RSD PTR ", both checksums), follow
 * its XSDT to the FADT ("FACP", checksummed), take PM1a_EVT_BLK,
 * PM1a_CNT_BLK and RESET_REG/RESET_VALUE from it, and read SLP_TYPa of S5
 * from the \_S5 package in the DSDT's AML.  It prints what it found:
 *   acpi: rsdp 0x000e0000 fadt 0x000e0100 pm1a_evt 0x00000600 pm1a_cnt 0x00000604 s5 5
 * and then, by build:
 *   ACPI_OFF     enables PWRBTN_EN, polls PWRBTN_STS (no interrupts),
 *                clears it, prints "acpi_off: power button, powering off"
 *                and writes SLP_TYP(S5) | SLP_EN to PM1a_CNT.
 *   ACPI_IGNORE  enables PWRBTN_EN, prints "acpi_ignore: power button,
 *                ignored" once the button is pressed, and never powers off
 *                (it ignores the 0x5f0 shutdown request too).
 *   ACPI_RESET   prints "acpi_reset: booting" and writes RESET_VALUE to
 *                RESET_REG: the VM resets and the next boot says it again.
 *   ACPI_SCI     interrupt-driven: builds a 32-bit IDT, programs the
 *                8259s (vectors 0x20-0x2f, only IRQ 9 and the cascade
 *                unmasked), makes IRQ 9 level-triggered in the ELCR (as
 *                the MADT says), checks SCI_EN, enables PWRBTN_EN and
 *                sleeps in `sti; hlt`.  The SCI handler leaves
 *                PWRBTN_STS set on its first run and only sends EOI: a
 *                level-triggered line must interrupt again at once
 *                ("acpi_sci: SCI again, level-triggered"); the second run
 *                clears it, prints "acpi_sci: power button, powering off"
 *                and enters S5 from the handler.
 * Any inconsistency in the tables: a line "acpi: <what>" and exit code 2.
 */
#include "guest.h"
#if defined(ACPI_SCI)
#include "irqguest.h"
#endif

#define PM1_STS_PWRBTN 0x0100
#define PM1_EN_PWRBTN 0x0100
#define PM1_CNT_SLP_EN 0x2000
#define POLL_CYCLES 1000000ull

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static uint32_t rd32(uint32_t a)
{
	return *(volatile const uint32_t *)a;
}

static uint8_t rd8(uint32_t a)
{
	return *(volatile const uint8_t *)a;
}

static int same(uint32_t a, const char *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (rd8(a + i) != (uint8_t)s[i])
			return 0;
	return 1;
}

static int sums_to_zero(uint32_t a, uint32_t n)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s = (uint8_t)(s + rd8(a + i));
	return s == 0;
}

__attribute__((noreturn)) static void bad(const char *what)
{
	print("acpi: ");
	print(what);
	print("\n");
	guest_exit(2);
}

static uint32_t find_rsdp(void)
{
	for (uint32_t a = 0xe0000; a < 0x100000; a += 16)
		if (same(a, "RSD PTR ", 8) && sums_to_zero(a, 20))
			return a;
	bad("no RSDP in 0xE0000-0xFFFFF");
}

/* A system description table at a, checked; returns its length. */
static uint32_t check_table(uint32_t a, const char *sig)
{
	uint32_t len = rd32(a + 4);
	if (!same(a, sig, 4) || len < 36 || !sums_to_zero(a, len))
		bad("a table is malformed");
	return len;
}

static uint32_t find_fadt(uint32_t rsdp)
{
	if (rd8(rsdp + 15) < 2 || !sums_to_zero(rsdp, rd32(rsdp + 20)))
		bad("RSDP revision or extended checksum");
	if (rd32(rsdp + 28))
		bad("XSDT above 4 GiB");
	uint32_t xsdt = rd32(rsdp + 24);
	uint32_t len = check_table(xsdt, "XSDT");
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint32_t t = rd32(xsdt + off);
		if (!rd32(xsdt + off + 4) && same(t, "FACP", 4)) {
			check_table(t, "FACP");
			return t;
		}
	}
	bad("no FADT in the XSDT");
}

/* SLP_TYPa of \_S5: NameOp "_S5_" PackageOp PkgLength NumElements elem0 */
static unsigned s5_slp_typ(uint32_t dsdt)
{
	uint32_t len = check_table(dsdt, "DSDT");
	for (uint32_t a = dsdt + 36; a + 8 < dsdt + len; a++) {
		if (!same(a, "_S5_", 4) || rd8(a + 4) != 0x12)
			continue;
		uint32_t p = a + 5;
		p += 1 + (rd8(p) >> 6);		/* PkgLength bytes */
		p++;				/* NumElements */
		uint8_t op = rd8(p);
		if (op == 0x0a)			/* BytePrefix */
			return rd8(p + 1);
		if (op == 0x00 || op == 0x01)	/* Zero, One */
			return op;
		bad("\\_S5 SLP_TYPa is not a byte");
	}
	bad("no \\_S5 in the DSDT");
}

struct fixed_hw {
	uint16_t evt, cnt, reset_port;
	uint8_t reset_value;
	unsigned s5;
};

static void discover(struct fixed_hw *hw)
{
	uint32_t rsdp = find_rsdp();
	uint32_t fadt = find_fadt(rsdp);
	hw->evt = (uint16_t)rd32(fadt + 56);
	hw->cnt = (uint16_t)rd32(fadt + 64);
	if (!hw->evt || !hw->cnt || rd8(fadt + 88) != 4)
		bad("no PM1a blocks in the FADT");
	if (rd8(fadt + 116) != 1)		/* RESET_REG in system I/O */
		bad("RESET_REG is not a port");
	hw->reset_port = (uint16_t)rd32(fadt + 120);
	hw->reset_value = rd8(fadt + 128);
	hw->s5 = s5_slp_typ(rd32(fadt + 40));
	print("acpi: rsdp ");
	print_hex(rsdp);
	print(" fadt ");
	print_hex(fadt);
	print(" pm1a_evt ");
	print_hex(hw->evt);
	print(" pm1a_cnt ");
	print_hex(hw->cnt);
	print(" s5 ");
	print_dec(hw->s5);
	print("\n");
}

#if !defined(ACPI_RESET) && !defined(ACPI_SCI)
static int button_pressed(const struct fixed_hw *hw)
{
	if (!(inw(hw->evt) & PM1_STS_PWRBTN))
		return 0;
	outw(hw->evt, PM1_STS_PWRBTN);		/* write 1 to clear */
	return 1;
}
#endif

#if defined(ACPI_SCI)
#define PM1_CNT_SCI_EN 0x0001

static struct fixed_hw sci_hw;
static volatile unsigned sci_runs;

void on_sci(void);
void on_sci(void)
{
	uint16_t sts = inw(sci_hw.evt);
	if (!(sts & PM1_STS_PWRBTN)) {
		print("acpi_sci: SCI without PWRBTN_STS\n");
		guest_exit(4);
	}
	if (++sci_runs == 1) {
		pic_eoi(9);	/* status still set: the line stays up */
		return;
	}
	print("acpi_sci: SCI again, level-triggered\n");
	outw(sci_hw.evt, PM1_STS_PWRBTN);	/* write 1 to clear */
	print("acpi_sci: power button, powering off\n");
	outw(sci_hw.cnt, (uint16_t)(inw(sci_hw.cnt) | sci_hw.s5 << 10 |
				    PM1_CNT_SLP_EN));
	__asm__ volatile("hlt");
	delay_cycles(RESET_WAIT_CYCLES);
	print("acpi_sci: power-off request ignored\n");
	guest_exit(1);
}

const char irq_guest_name[] = GUEST_NAME;

ISR(isr_sci);
ISR_CALLING(isr_sci, on_sci);

static void sci_main(void)
{
	if (!(inw(sci_hw.cnt) & PM1_CNT_SCI_EN))
		bad("SCI_EN is clear (no SMI_CMD to enable it)");
	irq_guest_fault_gates();
	irq_guest_idt(0x29, isr_sci, SPURIOUS_8259);
	pic_init(0x20, 1u << 9);
	outb(0x4d1, (uint8_t)(inb(0x4d1) | 1u << (9 - 8)));	/* ELCR: level */
	outw((uint16_t)(sci_hw.evt + 2), PM1_EN_PWRBTN);
	print("acpi_sci: waiting for the power button (SCI on IRQ 9)\n");
	for (;;)
		sti_hlt();	/* the SCI handler does the rest */
}
#endif

void guest_main(const struct entry_regs *r)
{
	struct fixed_hw hw;
	if (r->index)
		halt_forever();
	boot_mark();
	serial_init();
	discover(&hw);
#if defined(ACPI_SCI)
	sci_hw = hw;
	sci_main();
#elif defined(ACPI_RESET)
	print("acpi_reset: booting\n");
	outb(hw.reset_port, hw.reset_value);
	__asm__ volatile("hlt");		/* an exit OUT is followed by hlt */
	delay_cycles(RESET_WAIT_CYCLES);
	print("acpi_reset: reset request ignored\n");
	guest_exit(1);
#else
	outw((uint16_t)(hw.evt + 2), PM1_EN_PWRBTN);
	print(GUEST_NAME ": waiting for the power button\n");
	while (!button_pressed(&hw))
		delay_cycles(POLL_CYCLES);
#if defined(ACPI_OFF)
	print("acpi_off: power button, powering off\n");
	outw(hw.cnt, (uint16_t)(inw(hw.cnt) | hw.s5 << 10 | PM1_CNT_SLP_EN));
	__asm__ volatile("hlt");
	delay_cycles(RESET_WAIT_CYCLES);
	print("acpi_off: power-off request ignored\n");
	guest_exit(1);
#else
	print("acpi_ignore: power button, ignored\n");
	for (;;)
		delay_cycles(POLL_CYCLES);
#endif
#endif
}
