/*
 * irqguest: the shared part of the interrupt-driven timer guests (see
 * irqguest.h).  Built into each of them in its own code mode.
 */
#include "irqguest.h"

/*
 * One stub per exception vector (irq_fault_stubs[]): it notes its vector
 * and the stack pointer at entry (the CPU's frame) and jumps to
 * isr_fault, so the line says which exception hit where.
 */
volatile uintptr_t irq_fault_vector, irq_fault_sp;

#if defined(__x86_64__)
#define FAULT_STUB "movq $\\v, irq_fault_vector(%rip)\n" \
		   "mov %rsp, irq_fault_sp(%rip)\n"
#define STUB_PTR ".quad"
#else	/* protected mode, and real mode (-m16: 32-bit operands) */
#define FAULT_STUB "movl $\\v, irq_fault_vector\n" \
		   "movl %esp, irq_fault_sp\n"
#define STUB_PTR ".long"
#endif
#define VECTORS "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20," \
		"21,22,23,24,25,26,27,28,29,30,31"
__asm__(".text\n"
	".irp v," VECTORS "\n"
	"isr_fault_\\v:\n" FAULT_STUB "jmp isr_fault\n"
	".endr\n"
	".section .rodata\n"
	".balign 8\n"
	".globl irq_fault_stubs\n"
	"irq_fault_stubs:\n"
	".irp v," VECTORS "\n" STUB_PTR " isr_fault_\\v\n.endr\n"
	".text\n");

#ifndef REAL_MODE
/* the vectors whose frame starts with an error code */
static int has_error_code(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 ||
	       v == 29 || v == 30;
}
#endif

void on_fault(void);
void on_fault(void)
{
	unsigned v = (unsigned)irq_fault_vector;
	print(irq_guest_name);
	print(": unexpected exception ");
	print_dec(v);
#ifdef REAL_MODE
	/* the frame is IP, CS, FLAGS (16 bits each) at SS:SP */
	uint16_t ss;
	__asm__ volatile("mov %%ss, %0" : "=r"(ss));
	const volatile uint16_t *f = (const volatile uint16_t *)
		((uintptr_t)ss * 16 + (uint16_t)irq_fault_sp);
	print(" at ");
	print_hex(f[1]);
	print(":");
	print_hex(f[0]);
#else
	const volatile uintptr_t *f = (const volatile uintptr_t *)irq_fault_sp;
	if (has_error_code(v)) {
		print(" error code ");
		print_hex((uint32_t)*f++);
	}
	print(" at ");
	print_hex((uint32_t)f[1]);		/* CS */
	print(":");
	print_hex((uint32_t)f[0]);		/* the guests run below 4 GiB */
#endif
	print("\n");
	guest_exit(3);
}

ISR_CALLING(isr_fault, on_fault);
__asm__(".text\n.globl isr_spurious\nisr_spurious: " IRET "\n");
