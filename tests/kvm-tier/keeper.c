/*
 * kvm-tier-keeper: holds two KVM vCPUs (one without and one with an
 * in-kernel irqchip) open for the whole kvm-tier run, then sleeps.
 *
 * Why: KVM flips static keys (kvm_has_noapic_vcpu, the LAPIC keys) when
 * the first such vCPU of the system is created and when the last one is
 * destroyed.  Each flip patches kernel text on every CPU; under QEMU TCG
 * that costs ~100 ms and sometimes stalls the whole guest for minutes.
 * Tests create and destroy hundreds of VMs, so the tier's /init starts
 * this first to keep those counts above zero.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int hold_vcpu(int kvm, int irqchip)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("kvm-tier-keeper: KVM_CREATE_VM");
		return -1;
	}
	if (irqchip && ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		perror("kvm-tier-keeper: KVM_CREATE_IRQCHIP");
		return -1;
	}
	if (ioctl(vm, KVM_CREATE_VCPU, 0) < 0) {
		perror("kvm-tier-keeper: KVM_CREATE_VCPU");
		return -1;
	}
	return 0;	/* the fds stay open until we are killed */
}

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("kvm-tier-keeper: /dev/kvm");
		return 1;
	}
	if (hold_vcpu(kvm, 0) || hold_vcpu(kvm, 1))
		return 1;
	printf("kvm-tier-keeper: holding 2 vCPUs\n");
	fflush(stdout);
	for (;;)
		pause();
}
