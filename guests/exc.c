/*
 * exc: exception delivery through the IDT.  Divides by zero twice (the
 * #DE handler skips the 2-byte div; the second #DE after a delivered one
 * must stay #DE, not become #DF: src/backend/emu/emu_latch.c), executes
 * int3 (a trap: returns after it), `int $0x80` and ud2 (the #UD handler
 * skips it); each handler counts, and the guest prints "exc: #DE ok",
 * "exc: #BP ok", "exc: int80 ok", "exc: #UD ok" and exits 0 (3 on an
 * unexpected vector).  Protected mode (32-bit gates) and long mode
 * (64-bit gates).
 */
#include "guest.h"
#include "idt.h"

static volatile unsigned hits_de, hits_bp, hits_80, hits_ud;

#ifdef __x86_64__
#define SKIP2 "addq $2, (%rsp)\n"
#else
#define SKIP2 "addl $2, (%esp)\n"
#endif

void on_de(void);
void on_de(void) { hits_de++; }
void on_bp(void);
void on_bp(void) { hits_bp++; }
void on_80(void);
void on_80(void) { hits_80++; }
void on_ud(void);
void on_ud(void) { hits_ud++; }
void on_other(void);
void on_other(void)
{
	print("exc: unexpected exception\n");
	guest_exit(3);
}

ISR(isr_de);
ISR(isr_bp);
ISR(isr_80);
ISR(isr_ud);
ISR(isr_other);
/* #DE and #UD are faults: the saved IP is the instruction; skip it */
__asm__(".text\nisr_de: " PUSHA "call on_de\n" POPA SKIP2 IRET "\n");
__asm__(".text\nisr_ud: " PUSHA "call on_ud\n" POPA SKIP2 IRET "\n");
ISR_CALLING(isr_bp, on_bp);
ISR_CALLING(isr_80, on_80);
ISR_CALLING(isr_other, on_other);

static void check(const char *what, volatile unsigned *hits, unsigned want)
{
	print("exc: ");
	print(what);
	print(*hits == want ? " ok\n" : " MISSED\n");
}

void guest_main(const struct entry_regs *r)
{
	if (r->index)
		halt_forever();
	serial_init();
	for (unsigned v = 0; v < 256; v++)
		set_gate(v, isr_other, GATE_INT);
	set_gate(0, isr_de, GATE_INT);
	set_gate(3, isr_bp, GATE_TRAP);
	set_gate(6, isr_ud, GATE_INT);
	set_gate(0x80, isr_80, GATE_TRAP);
	load_idt();

	for (int i = 0; i < 2; i++) {
		unsigned q;
		__asm__ volatile("xor %%ecx, %%ecx\n\tmov $7, %%eax\n\txor %%edx, %%edx\n\t"
				 ".byte 0xf7, 0xf1\n\t"	/* div %ecx: exactly 2 bytes */
				 : "=a"(q) : : "ecx", "edx", "memory");
		(void)q;
	}
	check("#DE", &hits_de, 2);
	__asm__ volatile("int3" ::: "memory");
	check("#BP", &hits_bp, 1);
	__asm__ volatile("int $0x80" ::: "memory");
	check("int80", &hits_80, 1);
	__asm__ volatile("ud2" ::: "memory");
	check("#UD", &hits_ud, 1);
	int ok = hits_de == 2 && hits_bp == 1 && hits_80 == 1 && hits_ud == 1;
	print(ok ? "exc: all delivered\n" : "exc: FAILED\n");
	guest_exit(ok ? 0 : 1);
}
