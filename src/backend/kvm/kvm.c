/*
 * kvm: the hardware-virtualization backend (SPEC §5a) on /dev/kvm.  Owns,
 * per VM, the /dev/kvm and VM fds, the memory slots and the in-kernel
 * irqchip/PIT; per vCPU, its fd, the kvm_run mapping and the kick state.
 *
 * Kick (Firecracker style): the kicker marks the vCPU's kick pending, sets
 * kvm_run->immediate_exit and sends SIGRTMIN+1 to the thread inside
 * vcpu_run.  The signal's handler does nothing (SA_RESTART, so the vCPU
 * thread's other syscalls are restarted): its only job is to make a
 * running KVM_RUN return -EINTR.  vcpu_run unblocks that one signal in its
 * thread.  kick_pending is the source of truth and is re-checked after
 * every clear of immediate_exit and before every KVM_RUN, so a kick is
 * never lost.
 *
 * Process-wide state: the kick signal handler (installed once with
 * pthread_once), documented caches of facts about the host kernel and
 * CPU (KVM_GET_SUPPORTED_CPUID's table, the vCPU limit, whether
 * KVM_SET_IDENTITY_MAP_ADDR exists), and the prestarted VM: the prestart
 * op (`cvisor run` calls it before reading its config, vm_create first
 * thing) starts a helper thread that opens /dev/kvm, makes a VM fd and
 * reads those facts while the caller does its own start-up work; the first
 * kvm_vm_create of the process takes the fds (see pre_take).  Each vCPU
 * gets its own copy of the table shaped by src/common/cpuid.h
 * (APIC IDs, topology from cpu_num, the "cvisor" hypervisor leaf) through
 * KVM_SET_CPUID2.
 */
#include "backend.h"
#include "cpuid.h"
#include "kvm_exit.h"
#include "fault.h"
#include "tmark.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_API_VERSION_WANTED 12

/*
 * KVM's private pages (3 for the real-mode TSS, 1 for the EPT identity
 * map) must sit below 4 GiB and outside guest RAM.  The classic spot is
 * just under the BIOS area; we move down when RAM is there.
 */
#define PRIVATE_WINDOW_SIZE 0x4000ull
#define PRIVATE_WINDOW_TOP 0xfffbc000ull

#define CPUID_HV_BASE CV_CPUID_HV_BASE
/* KVM's own leaves move here so Linux still finds them (it scans by 0x100). */
#define CPUID_KVM_RELOC 0x40000100u
#define CPUID_EXTRA 8		/* entries a vCPU table adds to the host's */

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR4_PAE 0x20ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull

struct backend_vm {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	bool irqchip;
	struct bus *bus;
	unsigned ncpus;
	const struct kvm_cpuid2 *cpuid;	/* the process-wide cache, see top */
};

struct backend_vcpu {
	struct backend_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	struct vcpu_stats *stats;

	atomic_bool kick_pending;
	/* which thread to signal; guarded so we never signal a dead thread */
	pthread_mutex_t thread_lock;
	pthread_t thread;
	bool in_run;
};

/* ---- the kick signal: the only process-wide state ---------------------- */

static pthread_once_t kick_once = PTHREAD_ONCE_INIT;
static int kick_install_errno;	/* written once inside kick_once */

static int kick_signal(void)
{
	return SIGRTMIN + 1;
}

static void kick_handler(int sig)
{
	/* Only there so the signal interrupts KVM_RUN instead of killing us. */
	(void)sig;
}

static void kick_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	/* restart the vCPU thread's other syscalls; KVM_RUN never restarts */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signal(), &sa, NULL))
		kick_install_errno = errno;
}

static int kick_ensure_installed(struct cv_err *err)
{
	int rc = pthread_once(&kick_once, kick_install);
	if (rc)
		return cv_err_set(err, rc, "cannot install the vCPU kick signal: %s",
				  strerror(rc));
	if (kick_install_errno)
		return cv_err_set(err, kick_install_errno,
				  "cannot install the vCPU kick signal handler: %s",
				  strerror(kick_install_errno));
	return 0;
}

/* ---- small helpers ----------------------------------------------------- */

static int xioctl(int fd, unsigned long req, void *arg)
{
	int rc;
	do
		rc = ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : rc;
}

/* /dev/kvm has the API version and the capabilities cvisor needs. */
static int check_kvm(int fd, size_t *run_size, struct cv_err *err)
{
	int ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION_WANTED)
		return cv_err_set(err, ENOTSUP,
				  "/dev/kvm reports API version %d, cvisor needs %d",
				  ver, KVM_API_VERSION_WANTED);
	static const struct { int cap; const char *name; } caps[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return cv_err_set(err, ENOTSUP,
					  "/dev/kvm lacks %s, which cvisor needs",
					  caps[i].name);
	}
	int sz = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return cv_err_set(err, ENOTSUP,
				  "/dev/kvm reports a vCPU mmap size of %d bytes, too small",
				  sz);
	*run_size = (size_t)sz;
	return 0;
}

static int open_kvm_fd(struct cv_err *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return cv_err_set(err, e, "cannot open /dev/kvm: %s", strerror(e));
	}
	return fd;
}

static int open_kvm(int *out, size_t *run_size, struct cv_err *err)
{
	int fd = open_kvm_fd(err);
	if (fd < 0)
		return fd;
	int rc = check_kvm(fd, run_size, err);
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/*
 * Host facts every VM asks about, read once per process (the prestart
 * reads them off the path to the first VM; 0 = not read yet).
 */
static atomic_int host_max_vcpus;	/* KVM_CAP_MAX_VCPUS, else NR_VCPUS; -1: neither */
static atomic_int host_idmap_cap;	/* KVM_CAP_SET_IDENTITY_MAP_ADDR: 1 yes, -1 no */

static void host_facts_read(int kvm_fd)
{
	if (!atomic_load(&host_max_vcpus)) {
		int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
		if (max <= 0)
			max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
		atomic_store(&host_max_vcpus, max > 0 ? max : -1);
	}
	if (!atomic_load(&host_idmap_cap))
		atomic_store(&host_idmap_cap,
			     ioctl(kvm_fd, KVM_CHECK_EXTENSION,
				   KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 ? 1 : -1);
}

/* fault: the "kvm.create_vm" fault point's hit (-errno) or 0 */
static int create_vm_fd(int kvm_fd, int fault, struct cv_err *err)
{
	int fd = fault ? fault : xioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (fd < 0)
		return cv_err_set(err, -fd, "KVM_CREATE_VM failed: %s",
				  strerror(-fd));
	return fd;
}

/* ---- VM ---------------------------------------------------------------- */

static bool overlaps_ram(const struct guest_mem *mem, uint64_t base,
			 uint64_t len, uint64_t *lowest_hit)
{
	bool hit = false;
	for (size_t i = 0; i < mem->n; i++) {
		const struct guest_region *r = &mem->r[i];
		if (base < r->gpa + r->size && r->gpa < base + len) {
			if (!hit || r->gpa < *lowest_hit)
				*lowest_hit = r->gpa;
			hit = true;
		}
	}
	return hit;
}

/* Highest 16 KiB window below 4 GiB, at or under the classic spot, free of RAM. */
static int pick_private_window(const struct guest_mem *mem, uint64_t *out,
			       struct cv_err *err)
{
	uint64_t base = PRIVATE_WINDOW_TOP, hit = 0;
	while (overlaps_ram(mem, base, PRIVATE_WINDOW_SIZE, &hit)) {
		if (hit < PRIVATE_WINDOW_SIZE)
			return cv_err_set(err, ENOSPC,
					  "guest RAM leaves no 16 KiB hole below 4 GiB for KVM's TSS pages");
		base = (hit - PRIVATE_WINDOW_SIZE) & ~0xfffull;
	}
	*out = base;
	return 0;
}

static int set_private_pages(struct backend_vm *vm, const struct guest_mem *mem,
			     struct cv_err *err)
{
	uint64_t base = 0;
	int rc = pick_private_window(mem, &base, err);
	if (rc)
		return rc;
	host_facts_read(vm->kvm_fd);
	if (atomic_load(&host_idmap_cap) > 0) {
		/* must precede KVM_CREATE_VCPU */
		uint64_t idmap = base;
		rc = xioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
		if (rc < 0)
			return cv_err_set(err, -rc, "KVM_SET_IDENTITY_MAP_ADDR failed: %s",
					  strerror(-rc));
	}
	rc = xioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)(base + 0x1000));
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_SET_TSS_ADDR failed: %s",
				  strerror(-rc));
	return 0;
}

static int set_memory(struct backend_vm *vm, const struct guest_mem *mem,
		      struct cv_err *err)
{
	for (size_t i = 0; i < mem->n; i++) {
		const struct guest_region *r = &mem->r[i];
		struct kvm_userspace_memory_region slot = {
			.slot = (uint32_t)i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};
		int fe = CV_FAULT("kvm.set_memory");
		int rc = fe ? -fe
			    : xioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
		if (rc < 0)
			return cv_err_set(err, -rc,
					  "KVM_SET_USER_MEMORY_REGION for %llu bytes at 0x%llx failed: %s",
					  (unsigned long long)r->size,
					  (unsigned long long)r->gpa, strerror(-rc));
	}
	return 0;
}

/*
 * GSI routing that matches cvisor's MADT (src/boot/acpi.c), like a PC and
 * like QEMU's kvm_pc_setup_irq_routing.  KVM's default table sends GSI i
 * to I/O APIC pin i (and to the PIC for i < 16), so the in-kernel PIT,
 * which raises GSI 0, would reach I/O APIC pin 0, while the MADT's
 * interrupt source override tells the guest that ISA IRQ 0 is on GSI 2:
 * a guest using its I/O APIC then never sees a timer tick.  Here:
 *   GSI 0        -> PIC master pin 0 and I/O APIC pin 2 (the override);
 *   GSI 2        -> nothing (the PIC cascade; pin 2 belongs to IRQ 0);
 *   GSI 1, 3-7   -> PIC master pin i and I/O APIC pin i;
 *   GSI 8-15     -> PIC slave pin i-8 and I/O APIC pin i (SCI: GSI 9);
 *   GSI 16-23    -> I/O APIC pin i.
 */
#define IOAPIC_PINS 24
#define ROUTES_MAX (2 * IOAPIC_PINS)

static int set_gsi_routing(struct backend_vm *vm, struct cv_err *err)
{
	struct kvm_irq_routing *t =
		calloc(1, sizeof(*t) + ROUTES_MAX * sizeof(t->entries[0]));
	if (!t)
		return cv_err_set(err, ENOMEM, "out of memory for the GSI routing table");
	uint32_t n = 0;
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		if (gsi < 16) {
			t->entries[n].gsi = gsi;
			t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			t->entries[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							   : KVM_IRQCHIP_PIC_SLAVE;
			t->entries[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		t->entries[n].gsi = gsi;
		t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t->entries[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t->entries[n].u.irqchip.pin = gsi == 0 ? 2 : gsi;
		n++;
	}
	t->nr = n;
	int rc = xioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t);
	free(t);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_SET_GSI_ROUTING (%u routes) failed: %s",
				  n, strerror(-rc));
	return 0;
}

static int create_irqchip(struct backend_vm *vm, struct cv_err *err)
{
	int rc = xioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_CREATE_IRQCHIP failed: %s",
				  strerror(-rc));
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	rc = xioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_CREATE_PIT2 failed: %s",
				  strerror(-rc));
	return set_gsi_routing(vm, err);
}

/* ---- the supported-CPUID cache (process-wide, see the top) ------------ */

/*
 * The cache: published once with a compare-and-swap, never freed (it
 * stays reachable).  Whoever needs it and finds it empty queries KVM
 * itself instead of waiting for the helper thread, which a loaded host
 * may have descheduled; the first answer published wins and a later one
 * is dropped.  Failures are not cached (the next VM asks again).
 */
static _Atomic(struct kvm_cpuid2 *) sup_cache;
/*
 * The helper's buffer: room for the usual answer (this host: 59 entries)
 * without malloc, so the helper never creates a malloc arena of its own.
 * The 8-byte header fits in the spare entry; both are 4-byte aligned.
 */
#define SUP_STATIC_ENTRIES 256
static struct kvm_cpuid_entry2 sup_static[SUP_STATIC_ENTRIES + 1];
static atomic_flag sup_static_taken = ATOMIC_FLAG_INIT;

static struct kvm_cpuid2 *sup_alloc(uint32_t n, bool *is_static)
{
	*is_static = n <= SUP_STATIC_ENTRIES &&
		     !atomic_flag_test_and_set(&sup_static_taken);
	if (*is_static)
		return (struct kvm_cpuid2 *)sup_static;
	return calloc(1, sizeof(struct kvm_cpuid2) +
			 n * sizeof(struct kvm_cpuid_entry2));
}

static void sup_free(struct kvm_cpuid2 *c, bool is_static)
{
	if (is_static)
		atomic_flag_clear(&sup_static_taken);
	else
		free(c);
}

/* Ask KVM; 0 and *out (caller owns, see is_static) or -errno. */
static int sup_query(struct kvm_cpuid2 **out, bool *is_static,
		     struct cv_err *err)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return cv_err_set(err, e, "cannot open /dev/kvm: %s",
				  strerror(e));
	}
	int rc = -E2BIG;
	for (uint32_t n = SUP_STATIC_ENTRIES; n <= 4096 && rc == -E2BIG;
	     n *= 2) {
		struct kvm_cpuid2 *c = sup_alloc(n, is_static);
		if (!c) {
			close(fd);
			return cv_err_set(err, ENOMEM,
					  "out of memory for the CPUID table");
		}
		c->nent = n;
		rc = xioctl(fd, KVM_GET_SUPPORTED_CPUID, c);
		if (rc == 0)
			*out = c;
		else
			sup_free(c, *is_static);
	}
	close(fd);
	if (rc == -E2BIG)
		return cv_err_set(err, E2BIG,
				  "KVM_GET_SUPPORTED_CPUID wants more than 4096 entries");
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_GET_SUPPORTED_CPUID failed: %s",
				  strerror(-rc));
	return 0;
}

static int supported_cpuid(const struct kvm_cpuid2 **out, struct cv_err *err)
{
	struct kvm_cpuid2 *c = atomic_load(&sup_cache), *mine = NULL;
	struct kvm_cpuid2 *none = NULL;
	bool is_static = false;
	if (!c) {
		int rc = sup_query(&mine, &is_static, err);
		if (rc)
			return rc;
		if (atomic_compare_exchange_strong(&sup_cache, &none, mine)) {
			c = mine;
		} else {
			sup_free(mine, is_static);	/* the helper won */
			c = none;
		}
	}
	*out = c;
	return 0;
}

/*
 * The prestarted VM: KVM_CREATE_VM mostly waits in the kernel (in the kvm
 * tier 16-25 ms of wall time for under 2 ms of CPU), so the first VM of a
 * process is made ahead on a helper thread while the VM layer (and `cvisor
 * run`, which prestarts before it reads its config) does its own work.
 * The helper opens /dev/kvm, creates the VM fd, checks /dev/kvm and reads
 * the host facts (after KVM_CREATE_VM: the long wait starts first); the
 * first kvm_vm_create takes the fds.  One per process;
 * later VMs create their own.  Best effort: if the helper cannot start or
 * fails, kvm_vm_create does it all itself (and reports any error).
 */
enum pre_state { PRE_IDLE, PRE_BUSY, PRE_READY, PRE_DONE };
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum pre_state state;
	bool unwanted;		/* released while busy: the helper closes */
	int kvm_fd, vm_fd;
	size_t run_size;
} pre = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PRE_IDLE,
	  false, -1, -1, 0 };

static void close_fds(int kvm_fd, int vm_fd)
{
	if (vm_fd >= 0)
		close(vm_fd);
	if (kvm_fd >= 0)
		close(kvm_fd);
}

static void *pre_main(void *arg)
{
	(void)arg;
	int kvm_fd = -1, vm_fd = -1;
	size_t run_size = 0;
	const struct kvm_cpuid2 *c;
	cv_tmark("kvm prestart: running");
	/*
	 * KVM_CREATE_VM first: it is the long wait, and the checks cost a
	 * system call each.  A /dev/kvm that fails them leaves no VM here;
	 * kvm_vm_create then repeats them and says what is wrong.
	 * No fault point here: kvm_vm_create counts one per VM, as before.
	 */
	kvm_fd = open_kvm_fd(NULL);
	if (kvm_fd >= 0) {
		vm_fd = xioctl(kvm_fd, KVM_CREATE_VM, 0);
		cv_tmark("kvm prestart: VM fd made");
		if (vm_fd >= 0 && check_kvm(kvm_fd, &run_size, NULL)) {
			close(vm_fd);
			vm_fd = -1;
		}
		if (vm_fd >= 0) {
			supported_cpuid(&c, NULL);
			host_facts_read(kvm_fd);
		}
	}
	cv_tmark("kvm prestart: done");
	pthread_mutex_lock(&pre.lock);
	if (pre.unwanted) {
		close_fds(kvm_fd, vm_fd);
		pre.state = PRE_DONE;
	} else {
		pre.kvm_fd = kvm_fd;
		pre.vm_fd = vm_fd;
		pre.run_size = run_size;
		pre.state = PRE_READY;
	}
	pthread_cond_broadcast(&pre.cond);
	pthread_mutex_unlock(&pre.lock);
	return NULL;
}

static void kvm_prestart(void)
{
	pthread_mutex_lock(&pre.lock);
	if (pre.state != PRE_IDLE) {
		pthread_mutex_unlock(&pre.lock);
		return;
	}
	pre.state = PRE_BUSY;
	pthread_mutex_unlock(&pre.lock);

	pthread_t t;
	pthread_attr_t a;
	int e = pthread_attr_init(&a);
	if (!e) {
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 64 * 1024);
		/* the helper must not take the host signals the VMM waits for */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		e = pthread_create(&t, &a, pre_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&a);
	}
	if (e) {
		pthread_mutex_lock(&pre.lock);
		pre.state = PRE_DONE;	/* kvm_vm_create does it itself */
		pthread_cond_broadcast(&pre.cond);
		pthread_mutex_unlock(&pre.lock);
	}
}

/* Wait for the helper (if any); true when it left a VM for the caller. */
static bool pre_wait_locked(void)
{
	while (pre.state == PRE_BUSY)
		pthread_cond_wait(&pre.cond, &pre.lock);
	return pre.state == PRE_READY && pre.vm_fd >= 0;
}

/* The prestarted VM's fds, once: true when taken. */
static bool pre_take(int *kvm_fd, size_t *run_size, int *vm_fd)
{
	pthread_mutex_lock(&pre.lock);
	bool got = pre_wait_locked();
	if (got) {
		*kvm_fd = pre.kvm_fd;
		*vm_fd = pre.vm_fd;
		*run_size = pre.run_size;
	} else if (pre.state == PRE_READY) {
		close_fds(pre.kvm_fd, pre.vm_fd);
	}
	if (pre.state == PRE_READY)
		pre.state = PRE_DONE;
	pre.kvm_fd = pre.vm_fd = -1;
	pthread_mutex_unlock(&pre.lock);
	return got;
}

/* No kvm VM will want it (the config chose emu): close it, don't wait. */
static void kvm_prestart_release(void)
{
	pthread_mutex_lock(&pre.lock);
	if (pre.state == PRE_BUSY) {
		pre.unwanted = true;
	} else if (pre.state == PRE_READY) {
		close_fds(pre.kvm_fd, pre.vm_fd);
		pre.kvm_fd = pre.vm_fd = -1;
		pre.state = PRE_DONE;
	}
	pthread_mutex_unlock(&pre.lock);
}

/*
 * With a prestart under way, its outcome answers the probe (/dev/kvm
 * opens, has what cvisor needs, and makes a VM) and the VM stays for
 * kvm_vm_create.  -1: no prestart to ask.
 */
static int pre_probe(void)
{
	pthread_mutex_lock(&pre.lock);
	int rc = pre.state == PRE_IDLE || pre.state == PRE_DONE ? -1
	       : pre_wait_locked() ? 0 : -1;
	pthread_mutex_unlock(&pre.lock);
	return rc;
}

/* ---- probe ------------------------------------------------------------- */

static int kvm_probe(struct cv_err *err)
{
	int kvm_fd, vm_fd, vcpu_fd, rc;
	size_t run_size;

	if (pre_probe() == 0)
		return 0;
	rc = open_kvm(&kvm_fd, &run_size, err);
	if (rc)
		return rc;
	vm_fd = create_vm_fd(kvm_fd, -CV_FAULT("kvm.create_vm"), err);
	if (vm_fd < 0) {
		close(kvm_fd);
		return vm_fd;
	}
	vcpu_fd = xioctl(vm_fd, KVM_CREATE_VCPU, 0);
	if (vcpu_fd < 0) {
		rc = cv_err_set(err, -vcpu_fd, "KVM_CREATE_VCPU failed: %s",
				strerror(-vcpu_fd));
	} else {
		void *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE,
				 MAP_SHARED, vcpu_fd, 0);
		if (run == MAP_FAILED) {
			int e = errno;
			rc = cv_err_set(err, e, "cannot map the kvm_run area: %s",
					strerror(e));
		} else {
			munmap(run, run_size);
		}
		close(vcpu_fd);
	}
	close(vm_fd);
	close(kvm_fd);
	return rc;
}

static int check_vcpu_count(struct backend_vm *vm, unsigned ncpus,
			    struct cv_err *err)
{
	host_facts_read(vm->kvm_fd);
	int max = atomic_load(&host_max_vcpus);
	if (max > 0 && ncpus > (unsigned)max)
		return cv_err_set(err, EINVAL,
				  "this host's KVM allows at most %d vCPUs per VM, the VM wants %u",
				  max, ncpus);
	return 0;
}

static void kvm_vm_destroy(struct backend_vm *vm)
{
	if (!vm)
		return;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm);
}

static int kvm_vm_create(const struct backend_vm_params *p,
			 struct backend_vm **out, struct cv_err *err)
{
	*out = NULL;
	int rc = kick_ensure_installed(err);
	if (rc)
		return rc;
	struct backend_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return cv_err_set(err, ENOMEM, "out of memory for the KVM VM");
	vm->vm_fd = -1;
	vm->bus = p->bus;
	vm->irqchip = p->irqchip;
	vm->ncpus = p->ncpus;

	/* one fault-point hit per VM, prestarted or not */
	int fault = -CV_FAULT("kvm.create_vm");
	if (fault || !pre_take(&vm->kvm_fd, &vm->run_size, &vm->vm_fd)) {
		rc = open_kvm(&vm->kvm_fd, &vm->run_size, err);
		if (rc) {
			vm->kvm_fd = -1;
			goto fail;
		}
		rc = vm->vm_fd = create_vm_fd(vm->kvm_fd, fault, err);
		if (rc < 0)
			goto fail;
	}
	cv_tmark("kvm: VM created");
	rc = check_vcpu_count(vm, p->ncpus, err);
	if (rc)
		goto fail;
	rc = set_private_pages(vm, p->mem, err);
	if (!rc)
		rc = set_memory(vm, p->mem, err);
	if (!rc && p->irqchip)
		rc = create_irqchip(vm, err);
	if (!rc)
		rc = supported_cpuid(&vm->cpuid, err);
	if (rc)
		goto fail;
	*out = vm;
	return 0;
fail:
	kvm_vm_destroy(vm);
	return rc;
}

static int kvm_set_irq(struct backend_vm *vm, unsigned gsi, bool level)
{
	if (!vm->irqchip)
		return -ENOTSUP;
	struct kvm_irq_level l = { .irq = gsi, .level = level ? 1 : 0 };
	int rc = xioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
	return rc < 0 ? rc : 0;
}

static void kvm_code_written(struct backend_vm *vm, uint64_t gpa, uint64_t len)
{
	/* KVM executes guest RAM directly; there is no translation cache. */
	(void)vm;
	(void)gpa;
	(void)len;
}

/* ---- vCPU -------------------------------------------------------------- */

static struct cv_cpuid_regs regs_of(const struct kvm_cpuid_entry2 *e)
{
	return (struct cv_cpuid_regs){ e->eax, e->ebx, e->ecx, e->edx };
}

static void put_regs(struct kvm_cpuid_entry2 *e, const struct cv_cpuid_regs *r)
{
	e->eax = r->eax;
	e->ebx = r->ebx;
	e->ecx = r->ecx;
	e->edx = r->edx;
}

static void add_entry(struct kvm_cpuid2 *c, uint32_t fn, uint32_t index,
		      bool indexed, const struct cv_cpuid_regs *r)
{
	struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = index;
	e->flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
	put_regs(e, r);
}

/* KVM's own hypervisor leaves move up by 0x100 (see CPUID_KVM_RELOC). */
static void relocate_kvm_leaf(struct kvm_cpuid_entry2 *e)
{
	if (e->function == CPUID_HV_BASE && e->eax >= CPUID_HV_BASE &&
	    e->eax < CPUID_HV_BASE + 0x100)
		e->eax += CPUID_KVM_RELOC - CPUID_HV_BASE;	/* its max leaf */
	e->function += CPUID_KVM_RELOC - CPUID_HV_BASE;
}

/* The topology leaf `fn` (0xB or 0x1F): SMT, core, then the end marker. */
static void add_topology(struct kvm_cpuid2 *c, uint32_t fn, unsigned index,
			 unsigned ncpus)
{
	for (uint32_t sub = 0; sub < 3; sub++) {
		struct cv_cpuid_regs r;
		cv_cpuid_topology(&r, sub, index, ncpus);
		add_entry(c, fn, sub, true, &r);
	}
}

/*
 * Per-vCPU copy of the supported table, shaped by cpuid.h: leaf 1 (APIC
 * ID, logical count, hypervisor bit), leaf 4 (cores), 0xB/0x1F topology
 * (replaced), 0x80000008 ECX, the "cvisor" leaf at 0x40000000 and KVM's
 * leaves at 0x40000100.  The basic max leaf is raised to 0xB if lower.
 */
_Static_assert(sizeof(struct kvm_cpuid2) <= sizeof(struct kvm_cpuid_entry2),
	       "the CPUID header must fit in one entry");

static struct kvm_cpuid2 *vcpu_cpuid(const struct kvm_cpuid2 *sup,
				     unsigned index, unsigned ncpus)
{
	size_t bytes = sizeof(*sup) +
		       (sup->nent + CPUID_EXTRA) * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = calloc(1, bytes);
	if (!c)
		return NULL;
	bool has_1f = false;
	for (uint32_t i = 0; i < sup->nent; i++) {
		struct kvm_cpuid_entry2 e = sup->entries[i];
		struct cv_cpuid_regs r = regs_of(&e);
		switch (e.function) {
		case 0:
			if (r.eax < CV_CPUID_TOPO_LEAF)
				r.eax = CV_CPUID_TOPO_LEAF;
			break;
		case 1:
			cv_cpuid_leaf1(&r, index, ncpus);
			break;
		case 4:
			cv_cpuid_leaf4(&r, ncpus);
			break;
		case CV_CPUID_TOPO_LEAF:
			continue;			/* ours below */
		case CV_CPUID_TOPO2_LEAF:
			has_1f = true;
			continue;
		case 0x80000008u:
			cv_cpuid_ext8(&r, ncpus);
			break;
		default:
			if (e.function >= CPUID_HV_BASE &&
			    e.function < CPUID_HV_BASE + 0x100)
				relocate_kvm_leaf(&e);
			c->entries[c->nent++] = e;
			continue;
		}
		put_regs(&e, &r);
		c->entries[c->nent++] = e;
	}
	struct cv_cpuid_regs hv;
	cv_cpuid_hv_leaf(&hv);
	add_entry(c, CPUID_HV_BASE, 0, false, &hv);
	add_topology(c, CV_CPUID_TOPO_LEAF, index, ncpus);
	if (has_1f)
		add_topology(c, CV_CPUID_TOPO2_LEAF, index, ncpus);
	return c;
}

static int set_cpuid(struct backend_vcpu *v, struct cv_err *err)
{
	struct kvm_cpuid2 *c = vcpu_cpuid(v->vm->cpuid, v->index, v->vm->ncpus);
	if (!c)
		return cv_err_set(err, ENOMEM, "out of memory for the CPUID table");
	int rc = xioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_SET_CPUID2 failed for vCPU %u: %s",
				  v->index, strerror(-rc));
	return 0;
}

static void kvm_vcpu_destroy(struct backend_vcpu *v)
{
	if (!v)
		return;
	if (v->run)
		munmap(v->run, v->vm->run_size);
	if (v->fd >= 0)
		close(v->fd);
	pthread_mutex_destroy(&v->thread_lock);
	free(v);
}

static int kvm_vcpu_create(struct backend_vm *vm, unsigned index,
			   struct vcpu_stats *stats, struct backend_vcpu **out,
			   struct cv_err *err)
{
	*out = NULL;
	struct backend_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return cv_err_set(err, ENOMEM, "out of memory for a KVM vCPU");
	v->vm = vm;
	v->index = index;
	v->stats = stats;
	atomic_init(&v->kick_pending, false);
	int rc = pthread_mutex_init(&v->thread_lock, NULL);
	if (rc) {
		free(v);
		return cv_err_set(err, rc, "cannot create a vCPU lock: %s",
				  strerror(rc));
	}
	int fe = CV_FAULT("kvm.create_vcpu");
	rc = v->fd = fe ? -fe : xioctl(vm->vm_fd, KVM_CREATE_VCPU,
				       (void *)(uintptr_t)index);
	if (rc < 0) {
		cv_err_set(err, -rc, "KVM_CREATE_VCPU %u failed: %s", index,
			   strerror(-rc));
		goto fail;
	}
	fe = CV_FAULT("kvm.vcpu_mmap");
	void *run = fe ? MAP_FAILED
		       : mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		rc = fe ? -fe : -errno;
		cv_err_set(err, -rc, "cannot map kvm_run of vCPU %u: %s", index,
			   strerror(-rc));
		goto fail;
	}
	v->run = run;
	rc = set_cpuid(v, err);
	if (rc)
		goto fail;
	*out = v;
	return 0;
fail:
	kvm_vcpu_destroy(v);
	return rc;
}

static void real_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = (uint64_t)sel << 4;
	s->limit = 0xffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, bool code,
			 bool long_mode)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = code ? 0xb : 0x3;	/* execute/read or read/write, accessed */
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code && long_mode;
	s->db = !s->l;
}

static void boot_sregs_real(struct kvm_sregs *sr, const struct boot_cpu_state *s)
{
	real_segment(&sr->cs, s->real_cs, 0xb);
	real_segment(&sr->ds, 0, 0x3);
	sr->es = sr->fs = sr->gs = sr->ss = sr->ds;
	/* the reset IVT; a vCPU that ran before may have loaded another */
	sr->idt.base = 0;
	sr->idt.limit = 0x3ff;
	sr->cr0 &= ~(CR0_PE | CR0_PG);
	sr->cr4 = 0;
	sr->efer = 0;
}

static void boot_sregs_flat(struct kvm_sregs *sr, const struct boot_cpu_state *s)
{
	bool lm = s->mode == VM_CPU_LONG;
	flat_segment(&sr->cs, s->code_sel, true, lm);
	flat_segment(&sr->ds, s->data_sel, false, lm);
	sr->es = sr->fs = sr->gs = sr->ss = sr->ds;
	sr->gdt.base = s->gdt_base;
	sr->gdt.limit = s->gdt_limit;
	sr->idt.base = 0;
	sr->idt.limit = 0;
	/* VMX insists on a usable busy TSS in protected mode */
	memset(&sr->tr, 0, sizeof(sr->tr));
	sr->tr.limit = 0x67;
	sr->tr.type = 0xb;
	sr->tr.present = 1;
	sr->cr0 = (s->cr0 ? s->cr0 : CR0_ET) | CR0_PE;
	sr->cr3 = s->cr3;
	sr->cr4 = s->cr4;
	sr->efer = s->efer;
	if (lm) {
		sr->cr0 |= CR0_PG;
		sr->cr4 |= CR4_PAE;
		sr->efer |= EFER_LME | EFER_LMA;
	}
}

/*
 * With an in-kernel LAPIC, KVM parks every vCPU but 0 until INIT/SIPI
 * (KVM_MP_STATE_UNINITIALIZED): the AP's thread then blocks inside
 * KVM_RUN until the SIPI (a kick still interrupts it: the kernel checks
 * immediate_exit and signals before and while it blocks).  cvisor's raw
 * boots with ap_start "entry" start every vCPU at the entry point
 * (boot.h), so those are made runnable; wait_sipi asks for the parked
 * state explicitly (a reset re-creates the vCPUs, but say it anyway).
 */
static int set_mp_state(struct backend_vcpu *v, bool wait_sipi,
			struct cv_err *err)
{
	if (!v->vm->irqchip) {
		if (wait_sipi)
			return cv_err_set(err, EINVAL,
					  "vCPU %u cannot wait for INIT/SIPI without the in-kernel LAPIC (interrupt_mode = \"no_irq\")",
					  v->index);
		return 0;
	}
	struct kvm_mp_state mp = {
		.mp_state = wait_sipi ? KVM_MP_STATE_UNINITIALIZED
				      : KVM_MP_STATE_RUNNABLE,
	};
	int rc = xioctl(v->fd, KVM_SET_MP_STATE, &mp);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_SET_MP_STATE failed for vCPU %u: %s",
				  v->index, strerror(-rc));
	return 0;
}

static int kvm_vcpu_load_boot_state(struct backend_vcpu *v,
				    const struct boot_cpu_state *s,
				    struct cv_err *err)
{
	struct kvm_sregs sr;
	int rc = xioctl(v->fd, KVM_GET_SREGS, &sr);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_GET_SREGS failed: %s", strerror(-rc));
	switch (s->mode) {
	case VM_CPU_REAL:
		boot_sregs_real(&sr, s);
		break;
	case VM_CPU_PROTECTED:
	case VM_CPU_LONG:
		boot_sregs_flat(&sr, s);
		break;
	default:
		return cv_err_set(err, EINVAL, "unknown boot CPU mode %d", (int)s->mode);
	}
	rc = xioctl(v->fd, KVM_SET_SREGS, &sr);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_SET_SREGS failed for vCPU %u: %s",
				  v->index, strerror(-rc));
	rc = set_mp_state(v, s->wait_sipi, err);
	if (rc)
		return rc;
	struct kvm_regs r = {
		.rip = s->rip, .rsp = s->rsp, .rflags = s->rflags | 0x2,
		.rax = s->rax, .rbx = s->rbx, .rcx = s->rcx, .rdx = s->rdx,
		.rsi = s->rsi, .rdi = s->rdi, .rbp = s->rbp,
	};
	rc = xioctl(v->fd, KVM_SET_REGS, &r);
	if (rc < 0)
		return cv_err_set(err, -rc, "KVM_SET_REGS failed for vCPU %u: %s",
				  v->index, strerror(-rc));
	return 0;
}

static int kvm_vcpu_get_regs(struct backend_vcpu *v, struct cpu_regs *out)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	int rc = xioctl(v->fd, KVM_GET_REGS, &r);
	if (rc < 0)
		return rc;
	rc = xioctl(v->fd, KVM_GET_SREGS, &sr);
	if (rc < 0)
		return rc;
	*out = (struct cpu_regs){
		.rip = r.rip, .rsp = r.rsp, .rflags = r.rflags,
		.rax = r.rax, .rbx = r.rbx, .rcx = r.rcx, .rdx = r.rdx,
		.rsi = r.rsi, .rdi = r.rdi, .rbp = r.rbp,
		.r8 = r.r8, .r9 = r.r9, .r10 = r.r10, .r11 = r.r11,
		.r12 = r.r12, .r13 = r.r13, .r14 = r.r14, .r15 = r.r15,
		.cr0 = sr.cr0, .cr2 = sr.cr2, .cr3 = sr.cr3, .cr4 = sr.cr4,
		.efer = sr.efer,
		.cs = sr.cs.selector, .ds = sr.ds.selector,
		.es = sr.es.selector, .ss = sr.ss.selector,
		.cs_base = sr.cs.base,
	};
	return 0;
}

/* ---- kick -------------------------------------------------------------- */

static void set_immediate_exit(struct backend_vcpu *v, uint8_t val)
{
	__atomic_store_n(&v->run->immediate_exit, val, __ATOMIC_SEQ_CST);
}

static void kvm_vcpu_kick(struct backend_vcpu *v)
{
	atomic_store(&v->kick_pending, true);
	set_immediate_exit(v, 1);
	pthread_mutex_lock(&v->thread_lock);
	if (v->in_run)
		pthread_kill(v->thread, kick_signal());
	pthread_mutex_unlock(&v->thread_lock);
}

/*
 * Consume a pending kick.  immediate_exit is cleared first: a kick racing
 * with us either is merged into this one or leaves kick_pending set for
 * the next check.
 */
static bool kick_take(struct backend_vcpu *v)
{
	if (!atomic_load(&v->kick_pending))
		return false;
	set_immediate_exit(v, 0);
	atomic_store(&v->kick_pending, false);
	return true;
}

static void enter_run(struct backend_vcpu *v)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, kick_signal());
	/* a thread that blocked everything must still be kickable */
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	pthread_mutex_lock(&v->thread_lock);
	v->thread = pthread_self();
	v->in_run = true;
	pthread_mutex_unlock(&v->thread_lock);
}

static void leave_run(struct backend_vcpu *v)
{
	pthread_mutex_lock(&v->thread_lock);
	v->in_run = false;
	pthread_mutex_unlock(&v->thread_lock);
}

/* ---- exits ------------------------------------------------------------- */

static enum bus_action do_io(struct backend_vcpu *v,
			     const struct kvm_exit_action *a)
{
	uint8_t *data = (uint8_t *)v->run + a->io.data_offset;
	enum bus_action act = BUS_CONTINUE;

	/* the kernel counts every item of a string I/O as done: do them all */
	for (uint32_t i = 0; i < a->io.count; i++, data += a->io.size) {
		uint64_t val = 0;
		if (a->io.is_write) {
			memcpy(&val, data, a->io.size);
			if (bus_write(v->vm->bus, BUS_PIO, a->io.port,
				      a->io.size, val) == BUS_EXIT)
				act = BUS_EXIT;
		} else {
			val = bus_read(v->vm->bus, BUS_PIO, a->io.port,
				       a->io.size);
			memcpy(data, &val, a->io.size);
		}
	}
	return act;
}

static bool is_pow2_size(unsigned len)
{
	return len == 1 || len == 2 || len == 4 || len == 8;
}

static enum bus_action do_mmio(struct backend_vcpu *v,
			       const struct kvm_exit_action *a)
{
	uint8_t *data = v->run->mmio.data;
	uint64_t addr = a->mmio.addr;
	unsigned len = a->mmio.len;
	/* odd lengths come from page-crossing splits: go byte by byte */
	unsigned step = is_pow2_size(len) ? len : 1;
	enum bus_action act = BUS_CONTINUE;

	for (unsigned off = 0; off < len; off += step) {
		uint64_t val = 0;
		if (a->mmio.is_write) {
			memcpy(&val, data + off, step);
			if (bus_write(v->vm->bus, BUS_MMIO, addr + off, step,
				      val) == BUS_EXIT)
				act = BUS_EXIT;
		} else {
			val = bus_read(v->vm->bus, BUS_MMIO, addr + off, step);
			memcpy(data + off, &val, step);
		}
	}
	return act;
}

static int exit_error(struct backend_vcpu *v, struct vcpu_exit *ex, int rc,
		      const char *what)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	ex->reason = VCPU_EXIT_ERROR;
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0 &&
	    ioctl(v->fd, KVM_GET_SREGS, &sr) == 0)
		snprintf(ex->msg, sizeof(ex->msg),
			 "vCPU %u: %s at RIP 0x%llx (CS base 0x%llx)", v->index,
			 what, (unsigned long long)r.rip,
			 (unsigned long long)sr.cs.base);
	else
		snprintf(ex->msg, sizeof(ex->msg), "vCPU %u: %s", v->index,
			 what);
	if (v->stats)
		vcpu_stat_inc(&v->stats->exits_other);
	return rc < 0 ? rc : -EIO;
}

/* Dispatch one decoded exit; true when vcpu_run must return ex. */
static bool handle_exit(struct backend_vcpu *v, const struct kvm_exit_action *a,
			bool *event, struct vcpu_exit *ex)
{
	struct vcpu_stats *st = v->stats;
	switch (a->kind) {
	case KVM_ACT_IO:
		if (st)
			vcpu_stat_inc(&st->exits_io);
		if (do_io(v, a) == BUS_EXIT)
			*event = true;
		return false;
	case KVM_ACT_MMIO:
		if (st)
			vcpu_stat_inc(&st->exits_mmio);
		if (do_mmio(v, a) == BUS_EXIT)
			*event = true;
		return false;
	case KVM_ACT_HLT:
		if (st)
			vcpu_stat_inc(&st->exits_hlt);
		ex->reason = VCPU_EXIT_HLT;
		return true;
	case KVM_ACT_SHUTDOWN:
		if (st)
			vcpu_stat_inc(&st->exits_shutdown);
		ex->reason = VCPU_EXIT_SHUTDOWN;
		return true;
	case KVM_ACT_REENTER:
		if (st)
			vcpu_stat_inc(&st->exits_other);
		return false;
	case KVM_ACT_ERROR:
	default:
		return true;	/* the caller reports it */
	}
}

/*
 * The KVM_RUN loop.  After a device asked for BUS_EXIT we run once more
 * with immediate_exit set: that completes the pending I/O inside the
 * kernel (RIP moves past the instruction, IN data lands in the register)
 * without running guest code, so the VM layer sees consistent registers.
 */
static int run_loop(struct backend_vcpu *v, struct vcpu_exit *ex)
{
	bool event = false;
	for (;;) {
		if (event)
			set_immediate_exit(v, 1);
		else if (kick_take(v))
			goto kicked;
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			int e = errno;
			if (e == EINTR) {
				if (event) {
					set_immediate_exit(v, 0);
					ex->reason = VCPU_EXIT_EVENT;
					return 0;
				}
				if (kick_take(v))
					goto kicked;
				/* stray signal or a merged kick's leftover */
				set_immediate_exit(v, 0);
				continue;
			}
			if (e == EAGAIN)
				continue;
			char what[96];
			snprintf(what, sizeof(what), "KVM_RUN failed: %s",
				 strerror(e));
			return exit_error(v, ex, -e, what);
		}
		CV_TMARK_ONCE("kvm: first exit");
		struct kvm_exit_action a;
		int rc = kvm_decode_exit(v->run, v->vm->run_size, &a);
		if (rc < 0 || a.kind == KVM_ACT_ERROR)
			return exit_error(v, ex, rc, a.msg);
		if (handle_exit(v, &a, &event, ex))
			return 0;
	}
kicked:
	if (v->stats)
		vcpu_stat_inc(&v->stats->exits_kick);
	ex->reason = VCPU_EXIT_KICK;
	return 0;
}

/*
 * Returns 0 with ex filled, or -errno with ex->reason = VCPU_EXIT_ERROR
 * and a sentence in ex->msg.  slice_us is unused: every vCPU has its own
 * thread on this backend.
 */
static int kvm_vcpu_run(struct backend_vcpu *v, uint32_t slice_us,
			struct vcpu_exit *ex)
{
	(void)slice_us;
	ex->reason = VCPU_EXIT_ERROR;
	ex->msg[0] = '\0';
	if (v->stats)
		vcpu_stat_inc(&v->stats->runs);
	enter_run(v);
	int rc = run_loop(v, ex);
	leave_run(v);
	return rc;
}

const struct backend_ops kvm_backend_ops = {
	.name = "kvm",
	.single_thread = false,
	.probe = kvm_probe,
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_load_boot_state = kvm_vcpu_load_boot_state,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.vcpu_get_regs = kvm_vcpu_get_regs,
	.set_irq = kvm_set_irq,
	.code_written = kvm_code_written,
	.prestart = kvm_prestart,
	.prestart_release = kvm_prestart_release,
};
