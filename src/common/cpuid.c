/*
 * cpuid: the guest-visible CPU identity and topology (see cpuid.h).
 */
#include "cpuid.h"

#include <string.h>

#define TOPO_TYPE_SMT 1u
#define TOPO_TYPE_CORE 2u

unsigned cv_cpuid_core_shift(unsigned ncpus)
{
	unsigned s = 0;
	while (s < 31 && (1u << s) < ncpus)
		s++;
	return s;
}

void cv_cpuid_leaf1(struct cv_cpuid_regs *r, unsigned index, unsigned ncpus)
{
	uint32_t logical = 1u << cv_cpuid_core_shift(ncpus);
	if (logical > 0xff)
		logical = 0xff;
	r->ebx = (r->ebx & 0xffffu) | (logical << 16) | ((index & 0xffu) << 24);
	r->ecx |= CV_CPUID_HYPERVISOR;
	if (logical > 1)
		r->edx |= CV_CPUID_HTT;
	else
		r->edx &= ~CV_CPUID_HTT;
}

void cv_cpuid_hv_leaf(struct cv_cpuid_regs *r)
{
	static const char sig[12] = "cvisor";	/* rest NUL */
	r->eax = CV_CPUID_HV_MAX;
	memcpy(&r->ebx, sig, 4);
	memcpy(&r->ecx, sig + 4, 4);
	memcpy(&r->edx, sig + 8, 4);
}

void cv_cpuid_topology(struct cv_cpuid_regs *r, uint32_t sub, unsigned index,
		       unsigned ncpus)
{
	r->edx = index;
	r->ecx = sub & 0xffu;
	switch (sub) {
	case 0:
		r->eax = 0;
		r->ebx = 1;
		r->ecx |= TOPO_TYPE_SMT << 8;
		break;
	case 1:
		r->eax = cv_cpuid_core_shift(ncpus);
		r->ebx = ncpus;
		r->ecx |= TOPO_TYPE_CORE << 8;
		break;
	default:
		r->eax = 0;
		r->ebx = 0;
		break;
	}
}

void cv_cpuid_leaf4(struct cv_cpuid_regs *r, unsigned ncpus)
{
	uint32_t cores = 1u << cv_cpuid_core_shift(ncpus);
	if (cores > 64)
		cores = 64;
	unsigned level = (r->eax >> 5) & 7u;
	uint32_t sharing = level >= 3 ? cores - 1 : 0;
	r->eax = (r->eax & 0x3fffu) | (sharing << 14) | ((cores - 1) << 26);
	if (!(r->eax & 0x1fu))		/* type 0: no cache, no fields */
		r->eax = 0;
}

void cv_cpuid_ext8(struct cv_cpuid_regs *r, unsigned ncpus)
{
	r->ecx = (cv_cpuid_core_shift(ncpus) << 12) | ((ncpus - 1) & 0xffu);
}
