/*
 * cpuid: the CPU identity cvisor shows every guest, on both backends (the
 * kvm backend edits KVM's supported table with it, the emu backend answers
 * its CPUID hook with it).  Pure functions of (vCPU index, vCPU count).
 *
 *  - leaf 1: ECX bit 31 (hypervisor present) set; EBX[31:24] = initial
 *    APIC ID = the vCPU index, EBX[23:16] = addressable logical
 *    processors per package (cpu_num rounded up to a power of two), EDX
 *    bit 28 (HTT) set when that is more than 1.
 *  - leaf 0x40000000: EAX = the highest hypervisor leaf (0x40000000: cvisor
 *    has no further leaves), EBX:ECX:EDX = "cvisor" padded with NULs to 12
 *    bytes (as KVM pads "KVMKVMKVM").  The kvm backend moves KVM's own
 *    leaves to 0x40000100 so Linux still finds kvm-clock (it scans the
 *    hypervisor range in 0x100 steps).
 *  - topology: one package of cpu_num cores, one thread per core.  Leaves
 *    0xB and 0x1F: subleaf 0 = SMT level (shift 0, 1 thread), subleaf 1 =
 *    core level (shift = ceil(log2(cpu_num)), cpu_num processors), higher
 *    subleaves invalid (type 0); EDX = x2APIC ID = vCPU index.  Leaf 4
 *    EAX[31:26] = cores per package - 1 (power of two), EAX[25:14] = 0
 *    for per-core caches (levels 1, 2) and cores - 1 for level 3.  Leaf
 *    0x80000008 ECX = ApicIdSize (the shift) << 12 | (cpu_num - 1).
 */
#ifndef CV_CPUID_H
#define CV_CPUID_H

#include <stdint.h>

#define CV_CPUID_HV_BASE 0x40000000u
#define CV_CPUID_HV_MAX 0x40000000u
#define CV_CPUID_TOPO_LEAF 0xbu
#define CV_CPUID_TOPO2_LEAF 0x1fu
#define CV_CPUID_HYPERVISOR (1u << 31)	/* leaf 1 ECX */
#define CV_CPUID_HTT (1u << 28)		/* leaf 1 EDX */

struct cv_cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

/* ceil(log2(ncpus)): APIC ID bits of the core level (0 for 1 vCPU). */
unsigned cv_cpuid_core_shift(unsigned ncpus);

/* Leaf 1 from the CPU model's values (other bits kept). */
void cv_cpuid_leaf1(struct cv_cpuid_regs *r, unsigned index, unsigned ncpus);

/* Leaf 0x40000000. */
void cv_cpuid_hv_leaf(struct cv_cpuid_regs *r);

/* Leaves 0xB / 0x1F, subleaf `sub`. */
void cv_cpuid_topology(struct cv_cpuid_regs *r, uint32_t sub, unsigned index,
		       unsigned ncpus);

/* Leaf 4 (any subleaf) from the CPU model's values. */
void cv_cpuid_leaf4(struct cv_cpuid_regs *r, unsigned ncpus);

/* Leaf 0x80000008 ECX. */
void cv_cpuid_ext8(struct cv_cpuid_regs *r, unsigned ncpus);

#endif
