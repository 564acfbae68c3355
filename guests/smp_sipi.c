/*
 * smp_sipi: the BSP starts the AP by INIT/SIPI through its LAPIC, as a
 * PC kernel does.  Raw 32-bit image with [kernel] ap_start = "sipi": the
 * AP waits for a start-up IPI instead of entering at the entry point.
 *
 * The BSP software-enables its LAPIC (SVR), checks its APIC ID is 0,
 * copies a real-mode trampoline to TRAMP_ADDR (below 1 MiB, 4 KiB
 * aligned: start-up vector TRAMP_ADDR >> 12), then sends INIT (assert,
 * then the de-assert an old-style kernel sends), waits, and sends two
 * SIPIs to APIC ID 1 through the ICR (0xFEE00310 high, 0xFEE00300 low),
 * checking the delivery-status bit clears.  The AP enters the trampoline
 * in real mode at CS = vector << 8, IP = 0, loads the BSP's GDT, switches
 * to protected mode, far-jumps to ap_entry32, which reads its APIC ID
 * from its own LAPIC and runs guest_main with it as the index.  The AP
 * prints "ap 1 up" and AP_TICKS ticks; the BSP waits (never printing
 * meanwhile) and exits 0, or 1 when the AP never comes up, 2 on a bad
 * BSP APIC ID, 4 when an ICR stays busy.
 */
#include "apic.h"

#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_INIT 0x500u
#define ICR_STARTUP 0x600u
#define ICR_ASSERT 0x4000u
#define ICR_LEVEL 0x8000u
#define ICR_BUSY 0x1000u
#define TRAMP_ADDR 0x10000u
#define AP_MAGIC 0x51b1u
#define AP_TICKS 3

/* Shared with the trampoline and the AP (plain stores, one writer each). */
static volatile uint32_t ap_state;	/* 1 = up, 2 = done */
volatile uint16_t ap_ds;		/* the BSP's data selector */

void ap_entry32(void);
extern const uint8_t tramp_start[], tramp_end[], tramp_gdt[], tramp_jmp[];

/*
 * The trampoline: position-independent 16-bit code (DS = CS = its
 * segment); the BSP fills in the GDT descriptor and the far pointer.
 */
__asm__(
	".section .rodata\n"
	".code16\n"
	".globl tramp_start, tramp_end, tramp_gdt, tramp_jmp\n"
	"tramp_start:\n"
	"  cli\n"
	"  movw %cs, %ax\n"
	"  movw %ax, %ds\n"
	"  lgdtl tramp_gdt - tramp_start\n"
	"  movl %cr0, %eax\n"
	"  orl $1, %eax\n"
	"  movl %eax, %cr0\n"
	"  ljmpl *(tramp_jmp - tramp_start)\n"
	"  .balign 4\n"
	"tramp_jmp: .long 0\n .word 0\n"	/* offset, selector */
	"  .balign 4\n"
	"tramp_gdt: .word 0\n .long 0\n"	/* limit, base */
	"tramp_end:\n"
	".code32\n"
	".text\n"
	".globl ap_entry32\n"
	"ap_entry32:\n"
	"  movzwl %cs:ap_ds, %eax\n"	/* DS still has the real-mode base */
	"  movw %ax, %ds\n"
	"  movw %ax, %es\n"
	"  movw %ax, %ss\n"
	"  movw %ax, %fs\n"
	"  movw %ax, %gs\n"
	"  movl 0xfee00020, %esi\n"
	"  shrl $24, %esi\n"
	"  movl $0x51b1, %edi\n"
	"  jmp _start\n");

static int icr_send(uint32_t dest, uint32_t lo)
{
	lapic_wr(LAPIC_ICR_HI, dest << 24);
	lapic_wr(LAPIC_ICR_LO, lo);
	for (unsigned i = 0; i < 100000; i++)
		if (!(lapic_rd(LAPIC_ICR_LO) & ICR_BUSY))
			return 0;
	return -1;
}

static void ap_main(uint32_t id)
{
	print("ap ");
	print_dec(id);
	print(" up\n");
	ap_state = 1;
	for (unsigned k = 0; k < AP_TICKS; k++) {
		print("ap ");
		print_dec(id);
		print(" tick ");
		print_dec(k);
		print("\n");
		delay_cycles(TICK_CYCLES);
	}
	ap_state = 2;
	halt_forever();
}

static void copy_trampoline(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint32_t base; } gdtr;
	uint16_t cs, ds;
	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	__asm__ volatile("mov %%cs, %0; mov %%ds, %1" : "=r"(cs), "=r"(ds));
	ap_ds = ds;
	uint8_t *dst = (uint8_t *)(uintptr_t)TRAMP_ADDR;
	__asm__("" : "+r"(dst));
	for (const uint8_t *s = tramp_start; s < tramp_end; s++)
		dst[s - tramp_start] = *s;
	volatile uint32_t *jmp = (volatile uint32_t *)(dst + (tramp_jmp - tramp_start));
	jmp[0] = (uint32_t)(uintptr_t)ap_entry32;
	*(volatile uint16_t *)(jmp + 1) = cs;
	volatile uint16_t *g = (volatile uint16_t *)(dst + (tramp_gdt - tramp_start));
	g[0] = gdtr.limit;
	*(volatile uint32_t *)(g + 1) = gdtr.base;
}

void guest_main(const struct entry_regs *r)
{
	if (r->ncpus == AP_MAGIC)
		ap_main(r->index);
	if (r->index)
		halt_forever();		/* not how this guest starts APs */
	boot_mark();
	serial_init();
	print("smp_sipi: bsp up\n");
	lapic_wr(LAPIC_SVR, 0x1ff);	/* software-enable, spurious 0xff */
	uint32_t id = lapic_rd(LAPIC_ID) >> 24;
	if (id != 0) {
		print("smp_sipi: BSP APIC ID ");
		print_dec(id);
		print("\n");
		guest_exit(2);
	}
	copy_trampoline();
	print("smp_sipi: sending INIT/SIPI/SIPI to APIC ID 1\n");
	if (icr_send(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL) ||
	    icr_send(1, ICR_INIT | ICR_LEVEL)) {
		print("smp_sipi: INIT stays busy\n");
		guest_exit(4);
	}
	delay_cycles(TICK_CYCLES / 5);	/* the "10 ms" after INIT */
	for (int i = 0; i < 2; i++) {
		if (icr_send(1, ICR_STARTUP | ICR_ASSERT | (TRAMP_ADDR >> 12))) {
			print("smp_sipi: SIPI stays busy\n");
			guest_exit(4);
		}
		delay_cycles(TICK_CYCLES / 100);
	}
	for (unsigned t = 0; t < 2000 && ap_state != 2; t++)
		delay_cycles(TICK_CYCLES / 4);
	if (ap_state != 2) {
		print(ap_state ? "smp_sipi: AP stalled\n"
			       : "smp_sipi: AP never came up\n");
		guest_exit(1);
	}
	print("smp_sipi: ap done\n");
	guest_exit(0);
}
