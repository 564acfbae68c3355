/*
 * test_kvm: behaviour of kvm_backend_ops against tiny guests
 * (tests/backend/kvm-guests/) on the real bus.  Exits 77 when the KVM
 * probe fails.  On a nested PVM host some subtests cannot work (e.g. the
 * instruction emulator cannot deliver an exception); those detect it and
 * skip with the reason, they are not weakened for real KVM.
 *
 * Figures printed: exit round trip (µs per port-I/O exit) and kick
 * latency (median from vcpu_kick() to vcpu_run() returning KICK).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "boot.h"
#include "bus.h"
#include "memory.h"
#include "testutil.h"

#define LOAD 0x8000
#define RAM_SIZE (2u << 20)
/* ports and addresses: keep in sync with kvm-guests/guest.h */
#define P_LOG 0x500
#define P_SCRATCH 0x501
#define P_EXIT 0x510
#define P_STR 0x520
#define P_NOP 0x530
#define MMIO_DEV 0xe0000000ull
#define STOP_FLAG 0x7f00
#define STR_BUF 0x7d00
#define REAL_SP 0x7c00

#define DECLARE_GUEST(n) extern const uint8_t guest_##n##_start[], guest_##n##_end[]
DECLARE_GUEST(real_io);
DECLARE_GUEST(real_event);
DECLARE_GUEST(real_hlt);
DECLARE_GUEST(real_spin);
DECLARE_GUEST(real_count);
DECLARE_GUEST(real_pio_loop);
DECLARE_GUEST(real_irq);
DECLARE_GUEST(pm32);
DECLARE_GUEST(pm32_triple);
DECLARE_GUEST(pm32_exec_mmio);
DECLARE_GUEST(pm32_wide);
DECLARE_GUEST(lm64);
extern const uint8_t guest_real_event_after_out[], guest_real_irq_loop[];
#define GUEST_CODE(n) guest_##n##_start, (size_t)(guest_##n##_end - guest_##n##_start)

static const struct backend_ops *ops = &kvm_backend_ops;
static bool on_pvm;		/* read-only after main() starts the tests */

/* ---- test devices ------------------------------------------------------- */

#define LOG_MAX 64

struct access {
	uint64_t off, value;
	unsigned size;
};

/* Written on the vCPU thread, read by the test after vcpu_run returns. */
struct devs {
	struct access log[LOG_MAX];
	atomic_size_t nlog;
	uint64_t scratch;
	uint8_t exit_vals[16];
	size_t nexit;
	char str[64];
	size_t nstr;
	uint16_t str_next;
	struct access mmio_w[8];
	size_t nmmio_w;
};

static uint64_t width_mask(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

static uint64_t mmio_pattern(uint64_t off, unsigned size)
{
	return (0x0123456789abcdefull ^ (off * 0x0101010101010101ull)) &
	       width_mask(size);
}

static uint64_t log_read(void *o, uint64_t off, unsigned size)
{
	struct devs *d = o;
	if (off == 1)		/* P_SCRATCH */
		return d->scratch + 1;
	if (off == 0x20)	/* P_STR */
		return d->str_next++;
	(void)size;
	return 0;
}

static enum bus_action log_write(void *o, uint64_t off, unsigned size,
				 uint64_t v)
{
	struct devs *d = o;
	switch (off) {
	case 0: {
		size_t n = atomic_load(&d->nlog);
		if (n < LOG_MAX) {
			d->log[n] = (struct access){ 0, v, size };
			atomic_store(&d->nlog, n + 1);
		}
		return BUS_CONTINUE;
	}
	case 1:
		d->scratch = v;
		return BUS_CONTINUE;
	case 0x10:
		if (d->nexit < sizeof(d->exit_vals))
			d->exit_vals[d->nexit++] = (uint8_t)v;
		return BUS_EXIT;
	case 0x20:
		if (d->nstr < sizeof(d->str) - 1)
			d->str[d->nstr++] = (char)v;
		return BUS_CONTINUE;
	default:
		return BUS_CONTINUE;
	}
}

static const struct bus_device_ops test_pio_ops = { log_read, log_write };

static uint64_t mmio_read(void *o, uint64_t off, unsigned size)
{
	(void)o;
	return mmio_pattern(off, size);
}

static enum bus_action mmio_write(void *o, uint64_t off, unsigned size,
				  uint64_t v)
{
	struct devs *d = o;
	if (d->nmmio_w < 8)
		d->mmio_w[d->nmmio_w++] = (struct access){ off, v, size };
	return off >= 0x800 ? BUS_EXIT : BUS_CONTINUE;	/* exit window */
}

static const struct bus_device_ops test_mmio_ops = { mmio_read, mmio_write };

/* ---- a test VM ------------------------------------------------------------ */

#define MAX_VCPUS 2

struct tvm {
	struct guest_mem mem;
	struct bus bus;
	struct devs d;
	struct backend_vm *vm;
	struct backend_vcpu *vcpu[MAX_VCPUS];
	struct vcpu_stats stats[MAX_VCPUS];
	unsigned nvcpu;
};

static void tvm_destroy(struct tvm *t)
{
	for (unsigned i = 0; i < t->nvcpu; i++)
		ops->vcpu_destroy(t->vcpu[i]);
	if (t->vm)
		ops->vm_destroy(t->vm);
	guest_mem_unmap(&t->mem);
	free(t);
}

static void build_gdt_and_pages(struct tvm *t)
{
	uint64_t gdt[4] = {
		0,
		0x00af9b000000ffffull,	/* 0x08: 64-bit code */
		0x00cf9b000000ffffull,	/* 0x10: 32-bit code */
		0x00cf93000000ffffull,	/* 0x18: data */
	};
	assert_int_equal(guest_mem_write(&t->mem, BOOT_GDT_ADDR, gdt, sizeof(gdt)), 0);
	uint64_t *pml4 = guest_mem_ptr(&t->mem, BOOT_PT_ADDR, 0x6000);
	assert_non_null(pml4);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	pml4[0] = (BOOT_PT_ADDR + 0x1000) | 3;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PT_ADDR + 0x2000 + i * 0x1000) | 3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83;
}

/* NULL (and the reason in err) when the VM cannot be made. */
static struct tvm *tvm_new(bool irqchip, unsigned nvcpu, struct cv_err *err)
{
	struct tvm *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(ram != MAP_FAILED);
	t->mem.r[0] = (struct guest_region){ 0, RAM_SIZE, ram, 0x7 };
	t->mem.n = 1;
	bus_init(&t->bus);
	assert_int_equal(bus_register(&t->bus, BUS_PIO, P_LOG, 0x40, "test",
				      &test_pio_ops, &t->d, NULL), 0);
	assert_int_equal(bus_register(&t->bus, BUS_MMIO, MMIO_DEV, 0x1000,
				      "test-mmio", &test_mmio_ops, &t->d, NULL), 0);
	struct backend_vm_params p = {
		.mem = &t->mem, .bus = &t->bus, .ncpus = nvcpu,
		.irqchip = irqchip,
	};
	if (ops->vm_create(&p, &t->vm, err))
		goto fail;
	for (unsigned i = 0; i < nvcpu; i++) {
		if (ops->vcpu_create(t->vm, i, &t->stats[i], &t->vcpu[i], err))
			goto fail;
		t->nvcpu++;
	}
	return t;
fail:
	tvm_destroy(t);
	return NULL;
}

static struct tvm *tvm_new_ok(bool irqchip, unsigned nvcpu)
{
	struct cv_err err = { 0 };
	struct tvm *t = tvm_new(irqchip, nvcpu, &err);
	if (!t)
		fail_msg("cannot create a KVM test VM: %s", err.msg);
	return t;
}

static void tvm_load(struct tvm *t, unsigned idx, enum vm_cpu_mode mode,
		     const uint8_t *code, size_t len, uint64_t rcx)
{
	assert_int_equal(guest_mem_write(&t->mem, LOAD, code, len), 0);
	struct boot_cpu_state s = { .mode = mode, .rip = LOAD, .rcx = rcx };
	if (mode == VM_CPU_REAL) {
		s.real_cs = 0;
		s.rsp = REAL_SP;
	} else {
		build_gdt_and_pages(t);
		s.rsp = 0x90000;
		s.gdt_base = BOOT_GDT_ADDR;
		s.gdt_limit = 4 * 8 - 1;
		s.code_sel = mode == VM_CPU_LONG ? BOOT_SEL_CODE64 : BOOT_SEL_CODE32;
		s.data_sel = BOOT_SEL_DATA;
		if (mode == VM_CPU_LONG) {
			s.cr3 = BOOT_PT_ADDR;
			s.cr0 = 0x80050033;	/* PG WP NE ET MP PE */
			s.cr4 = 0x20;
			s.efer = 0x500;
		}
	}
	struct cv_err err = { 0 };
	if (ops->vcpu_load_boot_state(t->vcpu[idx], &s, &err))
		fail_msg("vcpu_load_boot_state: %s", err.msg);
}

/* ---- running with a deadline ------------------------------------------- */

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct timed_run {
	struct backend_vcpu *vcpu;
	struct vcpu_exit ex;
	int rc;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void *timed_run_thread(void *arg)
{
	struct timed_run *r = arg;
	int rc = ops->vcpu_run(r->vcpu, 0, &r->ex);
	pthread_mutex_lock(&r->mu);
	r->rc = rc;
	r->done = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/*
 * The hang guard of the waits below: 5 s on a real host, 60 s in the kvm
 * tier, where a loaded host's QEMU TCG can stall the nested guest for
 * seconds (seen: 20,000 port exits taking over 5 s at load average 40+).
 * It only turns a hang into a failure; latency bars are separate.
 */
static unsigned hang_ms(void)
{
	const char *tier = getenv("CVISOR_TEST_TIER");
	return tier && *tier ? 60000 : 5000;
}

/*
 * One vcpu_run on another thread; a guest that does not come back within
 * timeout_ms is kicked and the test fails instead of hanging.
 */
static int run_once(struct backend_vcpu *v, unsigned timeout_ms,
		    struct vcpu_exit *ex, bool *timed_out)
{
	struct timed_run r = { .vcpu = v };
	pthread_t th;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	assert_int_equal(pthread_create(&th, NULL, timed_run_thread, &r), 0);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	*timed_out = false;
	pthread_mutex_lock(&r.mu);
	while (!r.done) {
		if (pthread_cond_timedwait(&r.cv, &r.mu, &dl) == ETIMEDOUT &&
		    !r.done) {
			*timed_out = true;
			pthread_mutex_unlock(&r.mu);
			ops->vcpu_kick(v);
			pthread_mutex_lock(&r.mu);
			while (!r.done)
				pthread_cond_wait(&r.cv, &r.mu);
		}
	}
	pthread_mutex_unlock(&r.mu);
	pthread_join(th, NULL);
	pthread_mutex_destroy(&r.mu);
	pthread_cond_destroy(&r.cv);
	*ex = r.ex;
	return r.rc;
}

static const char *reason_name(enum vcpu_exit_reason r)
{
	static const char *const n[] = { "KICK", "EVENT", "HLT", "SHUTDOWN",
					 "SLICE", "ERROR" };
	return (unsigned)r < 6 ? n[r] : "?";
}

/* Run and insist on one exit reason. */
static void expect_exit(struct tvm *t, unsigned idx, enum vcpu_exit_reason want)
{
	struct vcpu_exit ex;
	bool to;
	int rc = run_once(t->vcpu[idx], hang_ms(), &ex, &to);
	if (to)
		fail_msg("guest did not exit within %u s (wanted %s)",
			 hang_ms() / 1000, reason_name(want));
	if (ex.reason != want)
		fail_msg("vcpu_run returned %s (rc %d, \"%s\"), wanted %s",
			 reason_name(ex.reason), rc, ex.msg, reason_name(want));
	assert_int_equal(rc, 0);
}

static void expect_log(struct tvm *t, size_t i, uint64_t value, unsigned size)
{
	assert_true(i < atomic_load(&t->d.nlog));
	if (t->d.log[i].value != value || t->d.log[i].size != size)
		fail_msg("log[%zu] = 0x%llx/%u, wanted 0x%llx/%u", i,
			 (unsigned long long)t->d.log[i].value,
			 t->d.log[i].size, (unsigned long long)value, size);
}

/* ---- tests ------------------------------------------------------------ */

static void test_real_io(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_io), 0);
	t->d.str_next = 0x100;
	expect_exit(t, 0, VCPU_EXIT_HLT);

	assert_int_equal(atomic_load(&t->d.nlog), 8);
	expect_log(t, 0, 0x11, 1);
	expect_log(t, 1, 0x2233, 2);
	expect_log(t, 2, 0x44556677, 4);
	expect_log(t, 3, 0x5b, 1);		/* scratch 0x5a + 1 */
	expect_log(t, 4, 0x12345679, 4);
	expect_log(t, 5, 0xff, 1);		/* unassigned: all ones */
	expect_log(t, 6, 0xffff, 2);
	expect_log(t, 7, 0xffffffff, 4);
	assert_int_equal(atomic_load(&t->bus.pio.unassigned_reads), 3);

	/* string I/O both ways */
	t->d.str[t->d.nstr] = '\0';
	assert_string_equal(t->d.str, "hello, kvm");
	uint16_t words[8];
	assert_int_equal(guest_mem_read(&t->mem, STR_BUF, words, sizeof(words)), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(words[i], 0x100 + i);

	assert_true(atomic_load(&t->stats[0].exits_io) >= 10);
	assert_int_equal(atomic_load(&t->stats[0].exits_hlt), 1);
	assert_int_equal(atomic_load(&t->stats[0].runs), 1);
	tvm_destroy(t);
}

static void test_pm32_mmio(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_PROTECTED, GUEST_CODE(pm32), 0);
	expect_exit(t, 0, VCPU_EXIT_HLT);

	assert_int_equal(atomic_load(&t->d.nlog), 7);
	assert_true(t->d.log[0].value & 1);		/* CR0.PE */
	assert_false(t->d.log[0].value & 0x80000000u);	/* no paging */
	expect_log(t, 1, BOOT_SEL_CODE32, 4);
	expect_log(t, 2, 0x12345678, 4);
	expect_log(t, 3, mmio_pattern(1, 1), 4);
	expect_log(t, 4, mmio_pattern(2, 2), 4);
	expect_log(t, 5, mmio_pattern(4, 4), 4);
	expect_log(t, 6, 0xffffffff, 4);		/* unassigned MMIO */

	assert_int_equal(t->d.nmmio_w, 3);
	const struct access w[3] = { { 0x10, 0xab, 1 }, { 0x20, 0xbeef, 2 },
				     { 0x30, 0xdeadbeef, 4 } };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t->d.mmio_w[i].off, w[i].off);
		assert_int_equal(t->d.mmio_w[i].size, w[i].size);
		assert_int_equal(t->d.mmio_w[i].value, w[i].value);
	}
	assert_int_equal(atomic_load(&t->stats[0].exits_mmio), 7);
	tvm_destroy(t);
}

static void run_lm64_on(struct tvm *t, unsigned idx)
{
	atomic_store(&t->d.nlog, 0);
	t->d.nmmio_w = 0;
	tvm_load(t, idx, VM_CPU_LONG, GUEST_CODE(lm64), 0);
	expect_exit(t, idx, VCPU_EXIT_HLT);

	assert_int_equal(atomic_load(&t->d.nlog), 13);
	assert_int_equal(t->d.log[0].value & 0x80000001u, 0x80000001u);
	assert_int_equal(t->d.log[1].value & 0x500, 0x500);	/* LME|LMA */
	expect_log(t, 2, BOOT_SEL_CODE64, 4);
	expect_log(t, 3, 0xabcdef00, 4);	/* 0x123456789abcdef0 * 16 */
	expect_log(t, 4, 0x23456789, 4);
	expect_log(t, 5, 0x1, 4);
	expect_log(t, 6, (uint32_t)mmio_pattern(0x48, 8), 4);
	expect_log(t, 7, mmio_pattern(0x48, 8) >> 32, 4);
	assert_int_equal(t->d.nmmio_w, 1);
	assert_int_equal(t->d.mmio_w[0].off, 0x40);
	assert_int_equal(t->d.mmio_w[0].size, 8);
	assert_int_equal(t->d.mmio_w[0].value, 0x1122334455667788ull);
	/* CPUID 0x40000000: "cvisor" */
	expect_log(t, 8, 0x40000000, 4);
	char sig[13] = { 0 };
	uint32_t regs[3] = { (uint32_t)t->d.log[9].value,
			     (uint32_t)t->d.log[10].value,
			     (uint32_t)t->d.log[11].value };
	memcpy(sig, regs, 12);
	assert_string_equal(sig, "cvisor");
	expect_log(t, 12, idx, 4);		/* CPUID 1 EBX[31:24] */
}

static void test_lm64(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 2);
	run_lm64_on(t, 1);
	run_lm64_on(t, 0);
	struct cpu_regs r;
	assert_int_equal(ops->vcpu_get_regs(t->vcpu[0], &r), 0);
	assert_int_equal(r.cs, BOOT_SEL_CODE64);
	assert_int_equal(r.efer & 0x500, 0x500);
	assert_int_equal(r.cr3, BOOT_PT_ADDR);
	tvm_destroy(t);
}

static void test_hlt(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_hlt), 0);
	expect_exit(t, 0, VCPU_EXIT_HLT);
	struct cpu_regs r;
	assert_int_equal(ops->vcpu_get_regs(t->vcpu[0], &r), 0);
	assert_int_equal(r.rip, 1 + LOAD);	/* past the HLT */
	tvm_destroy(t);
}

static void test_triple_fault(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_PROTECTED, GUEST_CODE(pm32_triple), 0);
	struct vcpu_exit ex;
	bool to;
	int rc = run_once(t->vcpu[0], hang_ms(), &ex, &to);
	assert_false(to);
	if (ex.reason == VCPU_EXIT_ERROR && on_pvm) {
		tvm_destroy(t);
		printf("SKIP triple fault: this PVM host cannot deliver guest exceptions (%s)\n",
		       ex.msg);
		skip();
	}
	if (ex.reason != VCPU_EXIT_SHUTDOWN)
		fail_msg("wanted SHUTDOWN, got %s (rc %d, \"%s\")",
			 reason_name(ex.reason), rc, ex.msg);
	assert_int_equal(atomic_load(&t->stats[0].exits_shutdown), 1);
	tvm_destroy(t);
}

/* An exit KVM cannot handle comes back as ERROR with a sentence and RIP. */
static void test_error_exit(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_PROTECTED, GUEST_CODE(pm32_exec_mmio), 0);
	struct vcpu_exit ex;
	bool to;
	int rc = run_once(t->vcpu[0], hang_ms(), &ex, &to);
	assert_false(to);
	if (ex.reason != VCPU_EXIT_ERROR)
		fail_msg("wanted ERROR, got %s (rc %d)", reason_name(ex.reason), rc);
	assert_true(rc < 0);
	printf("error exit: %s\n", ex.msg);
	assert_non_null(strstr(ex.msg, "vCPU 0"));
	assert_non_null(strstr(ex.msg, "suberror"));
	assert_non_null(strstr(ex.msg, "RIP 0xf0000000"));
	assert_int_equal(atomic_load(&t->stats[0].exits_other), 1);
	tvm_destroy(t);
}

static void test_bus_exit_event(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_event), 0);
	expect_exit(t, 0, VCPU_EXIT_EVENT);
	assert_int_equal(t->d.nexit, 1);
	assert_int_equal(t->d.exit_vals[0], 7);
	/* the OUT is complete when we see the event */
	struct cpu_regs r;
	assert_int_equal(ops->vcpu_get_regs(t->vcpu[0], &r), 0);
	assert_int_equal(r.rip, (uint64_t)(guest_real_event_after_out -
					  guest_real_event_start) + LOAD);
	expect_exit(t, 0, VCPU_EXIT_EVENT);
	assert_int_equal(t->d.nexit, 2);
	assert_int_equal(t->d.exit_vals[1], 8);

	/* rep outsb "abc": every byte reaches the device, then HLT */
	unsigned events = 0;
	for (;;) {
		struct vcpu_exit ex;
		bool to;
		int rc = run_once(t->vcpu[0], hang_ms(), &ex, &to);
		assert_false(to);
		assert_int_equal(rc, 0);
		if (ex.reason == VCPU_EXIT_HLT)
			break;
		assert_int_equal(ex.reason, VCPU_EXIT_EVENT);
		assert_true(++events <= 3);
	}
	assert_true(events >= 1);
	assert_int_equal(t->d.nexit, 5);
	assert_memory_equal(t->d.exit_vals + 2, "abc", 3);
	tvm_destroy(t);
}

/*
 * BUS_EXIT on the first half of a split 16-byte MMIO store: vcpu_run
 * returns EVENT only once the whole store has reached the device.
 */
static void test_bus_exit_split_mmio(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_PROTECTED, GUEST_CODE(pm32_wide), 0);
	expect_exit(t, 0, VCPU_EXIT_EVENT);
	assert_int_equal(t->d.nmmio_w, 2);
	assert_int_equal(t->d.mmio_w[0].off, 0x800);
	assert_int_equal(t->d.mmio_w[0].size, 8);
	assert_int_equal(t->d.mmio_w[0].value, 0x1111111111111111ull);
	assert_int_equal(t->d.mmio_w[1].off, 0x808);
	assert_int_equal(t->d.mmio_w[1].value, 0x2222222222222222ull);
	assert_int_equal(atomic_load(&t->d.nlog), 0);	/* no guest code ran */
	/* the second half's exit also asks for an EVENT: at most one more */
	struct vcpu_exit ex;
	bool to;
	int rc = run_once(t->vcpu[0], hang_ms(), &ex, &to);
	assert_false(to);
	assert_int_equal(rc, 0);
	if (ex.reason == VCPU_EXIT_EVENT)
		expect_exit(t, 0, VCPU_EXIT_HLT);
	else
		assert_int_equal(ex.reason, VCPU_EXIT_HLT);
	assert_int_equal(t->d.nmmio_w, 2);
	assert_int_equal(atomic_load(&t->d.nlog), 1);
	tvm_destroy(t);
}

static void test_kick_before_run(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_hlt), 0);
	ops->vcpu_kick(t->vcpu[0]);
	ops->vcpu_kick(t->vcpu[0]);	/* kicks merge; one KICK is enough */
	expect_exit(t, 0, VCPU_EXIT_KICK);
	struct cpu_regs r;
	assert_int_equal(ops->vcpu_get_regs(t->vcpu[0], &r), 0);
	assert_int_equal(r.rip, LOAD);	/* no guest code ran */
	expect_exit(t, 0, VCPU_EXIT_HLT);
	assert_int_equal(atomic_load(&t->stats[0].exits_kick), 1);
	tvm_destroy(t);
}

/* ---- a vCPU thread that parks on every KICK, like the VM layer ---------- */

struct parker {
	struct tvm *t;
	unsigned idx;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned parks;		/* KICK returns seen */
	bool go, stop, done;
	double parked_at;	/* now_us() when vcpu_run returned KICK */
	struct cpu_regs regs;	/* at the last park */
	struct vcpu_exit last;	/* the exit that ended the thread */
	int last_rc;
};

static void *parker_thread(void *arg)
{
	struct parker *p = arg;
	for (;;) {
		struct vcpu_exit ex;
		int rc = ops->vcpu_run(p->t->vcpu[p->idx], 0, &ex);
		double t1 = now_us();
		pthread_mutex_lock(&p->mu);
		if (rc == 0 && ex.reason == VCPU_EXIT_KICK) {
			ops->vcpu_get_regs(p->t->vcpu[p->idx], &p->regs);
			p->parked_at = t1;
			p->parks++;
			pthread_cond_broadcast(&p->cv);
			while (!p->go && !p->stop)
				pthread_cond_wait(&p->cv, &p->mu);
			p->go = false;
			if (!p->stop) {
				pthread_mutex_unlock(&p->mu);
				continue;
			}
		}
		p->last = ex;
		p->last_rc = rc;
		p->done = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
}

static void parker_start(struct parker *p, struct tvm *t, unsigned idx)
{
	memset(p, 0, sizeof(*p));
	p->t = t;
	p->idx = idx;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	assert_int_equal(pthread_create(&p->th, NULL, parker_thread, p), 0);
}

static void deadline_in(struct timespec *dl, long ms)
{
	clock_gettime(CLOCK_REALTIME, dl);
	dl->tv_sec += ms / 1000;
	dl->tv_nsec += (ms % 1000) * 1000000L;
	if (dl->tv_nsec >= 1000000000L) {
		dl->tv_sec++;
		dl->tv_nsec -= 1000000000L;
	}
}

/* Wait (mu held) until cond() or hang_ms(); false on timeout. */
static bool parker_wait(struct parker *p, bool (*cond)(struct parker *, unsigned),
			unsigned arg)
{
	struct timespec dl;
	deadline_in(&dl, hang_ms());
	while (!cond(p, arg))
		if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT)
			return cond(p, arg);
	return true;
}

static bool parked_or_done(struct parker *p, unsigned want)
{
	return p->parks >= want || p->done;
}

static bool is_done(struct parker *p, unsigned unused)
{
	(void)unused;
	return p->done;
}

/* Kick, wait until the vCPU parked; returns the kick time (now_us). */
static double parker_kick_wait(struct parker *p)
{
	pthread_mutex_lock(&p->mu);
	unsigned want = p->parks + 1;
	pthread_mutex_unlock(&p->mu);
	double t0 = now_us();
	ops->vcpu_kick(p->t->vcpu[p->idx]);
	pthread_mutex_lock(&p->mu);
	bool ok = parker_wait(p, parked_or_done, want);
	bool done = p->done;
	pthread_mutex_unlock(&p->mu);
	if (!ok)
		fail_msg("the vCPU did not park within %u s of a kick",
			 hang_ms() / 1000);
	if (done)
		fail_msg("the guest exited (%s: %s) instead of parking",
			 reason_name(p->last.reason), p->last.msg);
	return t0;
}

static void parker_unpark(struct parker *p)
{
	pthread_mutex_lock(&p->mu);
	p->go = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* Wait for the guest to end by itself (up to hang_ms()) and join. */
static void parker_join_done(struct parker *p)
{
	pthread_mutex_lock(&p->mu);
	bool ok = parker_wait(p, is_done, 0);
	pthread_mutex_unlock(&p->mu);
	if (!ok) {
		/* do not leave a thread inside the VM we are about to free */
		for (;;) {
			ops->vcpu_kick(p->t->vcpu[p->idx]);
			pthread_mutex_lock(&p->mu);
			p->stop = true;
			pthread_cond_broadcast(&p->cv);
			bool d = p->done;
			pthread_mutex_unlock(&p->mu);
			if (d)
				break;
			usleep(1000);
		}
	}
	pthread_join(p->th, NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	if (!ok)
		fail_msg("the guest did not finish within %u s",
			 hang_ms() / 1000);
}

/* Park it with a kick and end the thread there. */
static void parker_stop(struct parker *p)
{
	parker_kick_wait(p);
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	parker_join_done(p);
}

static void wait_log(struct tvm *t, size_t n)
{
	double t0 = now_us();
	while (atomic_load(&t->d.nlog) < n) {
		if (now_us() - t0 > hang_ms() * 1e3)
			fail_msg("the guest did not report within %u s",
				 hang_ms() / 1000);
		usleep(100);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Latency bounds hold on a real host; scale them where that is not so. */
static double latency_slowdown(void)
{
	const char *tier = getenv("CVISOR_TEST_TIER");
#if CV_TEST_SANITIZED
	(void)tier;
	return 20.0;
#else
	return tier && *tier ? 20.0 : 1.0;
#endif
}

static void test_kick_spinning(void **state)
{
	(void)state;
	enum { N = 41 };
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_spin), 0);
	struct parker p;
	parker_start(&p, t, 0);
	wait_log(t, 1);

	double lat[N];
	uint32_t last_ecx = 0;
	for (int i = 0; i < N; i++) {
		usleep(2000);	/* let it get back into the guest and spin */
		double t0 = parker_kick_wait(&p);
		lat[i] = p.parked_at - t0;
		/* still in the spin loop, the counter only moves forward */
		uint64_t off = p.regs.rip - LOAD;
		assert_true(off < (uint64_t)(guest_real_spin_end - guest_real_spin_start));
		assert_true((uint32_t)p.regs.rcx >= last_ecx);
		last_ecx = (uint32_t)p.regs.rcx;
		parker_unpark(&p);
	}
	assert_true(last_ecx > 0);	/* the guest ran between kicks */
	qsort(lat, N, sizeof(lat[0]), cmp_double);
	printf("kick latency (spinning guest, %d kicks): median %.1f us, min %.1f us, max %.1f us\n",
	       N, lat[N / 2], lat[0], lat[N - 1]);
	parker_stop(&p);
	assert_int_equal(atomic_load(&t->stats[0].exits_kick), N + 1);
	tvm_destroy(t);
	/* 1 ms on a real host; sanitizer builds and the nested tier are slower */
	assert_true(lat[N / 2] < 1000.0 * latency_slowdown());
}

/* The guest's mixing function, recomputed on the host. */
static void count_expect(uint32_t n, uint32_t *eax, uint32_t *ebx)
{
	uint32_t a = 0, b = 0;
	for (uint32_t c = 1; c <= n; c++) {
		a += c;
		b ^= a;
		b = (b << 3) | (b >> 29);
		b += 0x9e3779b9u;
	}
	*eax = a;
	*ebx = b;
}

static void test_park_unpark_state(void **state)
{
	(void)state;
	enum { KICKS = 500 };
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_count), 0);
	struct parker p;
	parker_start(&p, t, 0);

	uint32_t last_ecx = 0;
	unsigned moved = 0;
	for (int i = 0; i < KICKS; i++) {
		parker_kick_wait(&p);
		uint64_t off = p.regs.rip - LOAD;
		assert_true(off < (uint64_t)(guest_real_count_end - guest_real_count_start));
		assert_true((uint32_t)p.regs.rcx >= last_ecx);
		moved += (uint32_t)p.regs.rcx > last_ecx;
		last_ecx = (uint32_t)p.regs.rcx;
		parker_unpark(&p);
		if (i % 50 == 0)
			usleep(500);	/* sometimes let it run a while */
	}
	uint8_t one = 1;
	assert_int_equal(guest_mem_write(&t->mem, STOP_FLAG, &one, 1), 0);
	parker_join_done(&p);
	assert_int_equal(p.last_rc, 0);
	assert_int_equal(p.last.reason, VCPU_EXIT_HLT);

	assert_int_equal(atomic_load(&t->d.nlog), 3);
	uint32_t n = (uint32_t)t->d.log[0].value, eax, ebx;
	assert_true(n >= last_ecx);
	count_expect(n, &eax, &ebx);
	expect_log(t, 1, eax, 4);
	expect_log(t, 2, ebx, 4);
	assert_true(moved > 0);
	printf("park/unpark: %d kicks, guest counted to %u, state intact\n",
	       KICKS, n);
	tvm_destroy(t);
}

/* Many kicks from another thread, unsynchronised with the vCPU's runs. */
struct kicker {
	struct backend_vcpu *v;
	atomic_bool stop;
	unsigned sent;
};

static void *kicker_thread(void *arg)
{
	struct kicker *k = arg;
	while (!atomic_load(&k->stop)) {
		ops->vcpu_kick(k->v);
		k->sent++;
		usleep(50);
	}
	return NULL;
}

static void test_kick_storm(void **state)
{
	(void)state;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_count), 0);
	struct kicker k = { .v = t->vcpu[0] };
	atomic_init(&k.stop, false);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, kicker_thread, &k), 0);
	unsigned kicks = 0;
	double t0 = now_us();
	struct vcpu_exit ex;
	for (;;) {
		if (now_us() - t0 > 200000) {
			uint8_t one = 1;
			guest_mem_write(&t->mem, STOP_FLAG, &one, 1);
		}
		int rc = ops->vcpu_run(t->vcpu[0], 0, &ex);
		assert_int_equal(rc, 0);
		if (ex.reason != VCPU_EXIT_KICK)
			break;
		kicks++;
		assert_true(now_us() - t0 < 10e6);
	}
	atomic_store(&k.stop, true);
	pthread_join(th, NULL);
	assert_int_equal(ex.reason, VCPU_EXIT_HLT);
	uint32_t eax, ebx;
	count_expect((uint32_t)t->d.log[0].value, &eax, &ebx);
	expect_log(t, 1, eax, 4);
	expect_log(t, 2, ebx, 4);
	assert_true(kicks > 0);
	printf("kick storm: %u kicks sent, %u KICK exits, state intact\n",
	       k.sent, kicks);
	tvm_destroy(t);
}

/* irqchip: a halted guest (HLT inside the kernel) is kicked; IRQ 5 wakes it. */
static void test_irqchip_kick_and_irq(void **state)
{
	(void)state;
	struct cv_err err = { 0 };
	struct tvm *t = tvm_new(true, 1, &err);
	if (!t && on_pvm) {
		printf("SKIP irqchip: not available on this PVM host: %s\n", err.msg);
		skip();
	}
	if (!t)
		fail_msg("cannot create a VM with an in-kernel irqchip: %s", err.msg);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_irq), 0);
	struct parker p;
	parker_start(&p, t, 0);
	wait_log(t, 1);
	usleep(20000);		/* now halted inside KVM_RUN */
	parker_kick_wait(&p);
	uint64_t loop = (uint64_t)(guest_real_irq_loop - guest_real_irq_start) + LOAD;
	/* at the STI before the loop if this thread was slow, else in it */
	assert_true(p.regs.rip >= loop - 1 && p.regs.rip <= loop + 3);
	parker_unpark(&p);
	usleep(5000);
	assert_int_equal(ops->set_irq(t->vm, 5, true), 0);
	assert_int_equal(ops->set_irq(t->vm, 5, false), 0);
	parker_join_done(&p);
	assert_int_equal(p.last.reason, VCPU_EXIT_EVENT);
	assert_int_equal(t->d.nexit, 1);
	assert_int_equal(t->d.exit_vals[0], 0x55);
	tvm_destroy(t);

	/* without an irqchip there is no line to drive */
	t = tvm_new_ok(false, 1);
	assert_int_equal(ops->set_irq(t->vm, 5, true), -ENOTSUP);
	tvm_destroy(t);
}

/* irqchip: an AP starts at the entry point too (no INIT/SIPI wait). */
static void test_irqchip_ap_runs(void **state)
{
	(void)state;
	struct cv_err err = { 0 };
	struct tvm *t = tvm_new(true, 2, &err);
	if (!t && on_pvm) {
		printf("SKIP irqchip: not available on this PVM host: %s\n", err.msg);
		skip();
	}
	if (!t)
		fail_msg("cannot create a VM with an in-kernel irqchip: %s", err.msg);
	tvm_load(t, 1, VM_CPU_REAL, GUEST_CODE(real_event), 0);
	expect_exit(t, 1, VCPU_EXIT_EVENT);
	assert_int_equal(t->d.exit_vals[0], 7);
	tvm_destroy(t);
}

static void test_exit_round_trip(void **state)
{
	(void)state;
	const uint32_t n = 20000;
	struct tvm *t = tvm_new_ok(false, 1);
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_pio_loop), n);
	double t0 = now_us();
	expect_exit(t, 0, VCPU_EXIT_HLT);
	double us = now_us() - t0;
	assert_int_equal(atomic_load(&t->stats[0].exits_io), n);
	assert_int_equal(atomic_load(&t->bus.pio.ranges[0].writes), n);
	printf("exit round trip: %.2f us per port-I/O exit (%u exits in %.1f ms)\n",
	       us / n, n, us / 1000);
	tvm_destroy(t);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_create_destroy_cycles(void **state)
{
	(void)state;
	int before = count_fds();
	double t0 = now_us();
	for (int i = 0; i < 200; i++) {
		struct cv_err err = { 0 };
		bool irqchip = (i & 1) && !on_pvm;
		struct tvm *t = tvm_new(irqchip, 1 + (i % 2), &err);
		if (!t)
			fail_msg("cycle %d: %s", i, err.msg);
		if (i % 10 == 0) {
			tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_event), 0);
			expect_exit(t, 0, VCPU_EXIT_EVENT);
		}
		tvm_destroy(t);
	}
	double ms = (now_us() - t0) / 1000;
	assert_int_equal(count_fds(), before);
	printf("200 create/destroy cycles: %.1f ms (%.2f ms each), no fd leaked\n",
	       ms, ms / 200);
}

static void test_vm_create_errors(void **state)
{
	(void)state;
	struct guest_mem mem = { 0 };
	void *ram = mmap(NULL, 0x100000, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(ram != MAP_FAILED);
	mem.r[0] = (struct guest_region){ 0xfff00000ull, 0x100000, ram, 7 };
	mem.n = 1;
	struct bus bus;
	bus_init(&bus);
	struct backend_vm_params p = { .mem = &mem, .bus = &bus, .ncpus = 1 };
	struct backend_vm *vm = NULL;
	struct cv_err err = { 0 };
	/* RAM at the classic spot moves the window below it: still works */
	assert_int_equal(ops->vm_create(&p, &vm, &err), 0);
	ops->vm_destroy(vm);
	/* RAM that is not page-aligned is refused with a sentence */
	mem.r[0].gpa = 0x100800;
	int rc = ops->vm_create(&p, &vm, &err);
	assert_true(rc < 0);
	assert_null(vm);
	assert_non_null(strstr(err.msg, "KVM_SET_USER_MEMORY_REGION"));
	munmap(ram, 0x100000);

	/* more vCPUs than any KVM allows */
	mem.r[0].gpa = 0;
	p.ncpus = 100000;
	rc = ops->vm_create(&p, &vm, &err);
	assert_int_equal(rc, -EINVAL);
	assert_null(vm);
	assert_non_null(strstr(err.msg, "vCPUs"));
	p.ncpus = 1;

	/* RAM over all of the low 4 GiB: no room for KVM's private pages */
	ram = mmap(NULL, 1ull << 32, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(ram != MAP_FAILED);
	mem.r[0] = (struct guest_region){ 0, 1ull << 32, ram, 7 };
	rc = ops->vm_create(&p, &vm, &err);
	assert_int_equal(rc, -ENOSPC);
	assert_null(vm);
	assert_non_null(strstr(err.msg, "4 GiB"));
	munmap(ram, 1ull << 32);
}

static void test_probe(void **state)
{
	(void)state;
	struct cv_err err = { 0 };
	int before = count_fds();
	assert_int_equal(ops->probe(&err), 0);
	assert_int_equal(count_fds(), before);
	assert_string_equal(ops->name, "kvm");
	assert_false(ops->single_thread);
}

/*
 * The prestarted VM (backend.h: prestart / prestart_release).  It exists
 * once per process, so each case runs in a child (this process never
 * prestarts); the child reports failures on stderr and exits non-zero.
 */
enum pre_case { PRE_TAKEN, PRE_RELEASED, PRE_RELEASED_BUSY };

static int wait_fds(int want)
{
	int n = count_fds();
	for (unsigned ms = 0; n != want && ms < hang_ms(); ms += 10) {
		usleep(10000);
		n = count_fds();
	}
	return n;
}

static int prestart_child(enum pre_case c)
{
	struct cv_err err = { 0 };
	int before = count_fds(), n;
	ops->prestart();
	ops->prestart();	/* once per process: this starts nothing */
	if (c == PRE_RELEASED_BUSY) {
		ops->prestart_release();	/* the helper closes when done */
		n = wait_fds(before);
		if (n != before)
			return fprintf(stderr, "released while busy: %d fds "
				       "left open\n", n - before), 1;
		return 0;
	}
	if (ops->probe(&err))	/* answered by (and waits for) the helper */
		return fprintf(stderr, "probe: %s\n", err.msg), 1;
	if ((n = count_fds()) != before + 2)
		return fprintf(stderr, "the prestart holds %d fds, wanted 2 "
			       "(/dev/kvm and the VM)\n", n - before), 1;
	if (c == PRE_RELEASED) {
		ops->prestart_release();
		if ((n = count_fds()) != before)
			return fprintf(stderr, "release left %d fds open\n",
				       n - before), 1;
		return 0;
	}
	struct tvm *t = tvm_new(false, 1, &err);
	if (!t)
		return fprintf(stderr, "vm_create: %s\n", err.msg), 1;
	/* taken: /dev/kvm, the VM and one vCPU; not 2 more of its own */
	if ((n = count_fds()) != before + 3)
		return fprintf(stderr, "a 1-vCPU VM after the prestart holds "
			       "%d fds, wanted 3\n", n - before), 1;
	tvm_load(t, 0, VM_CPU_REAL, GUEST_CODE(real_hlt), 0);
	struct vcpu_exit ex;
	bool to;
	int rc = run_once(t->vcpu[0], hang_ms(), &ex, &to);
	if (rc || to || ex.reason != VCPU_EXIT_HLT)
		return fprintf(stderr, "the guest on the prestarted VM: rc %d, "
			       "%s%s\n", rc, reason_name(ex.reason),
			       to ? " (timed out)" : ""), 1;
	tvm_destroy(t);
	if ((n = count_fds()) != before)
		return fprintf(stderr, "%d fds left after destroy\n",
			       n - before), 1;
	return 0;
}

static void expect_prestart_case(enum pre_case c)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(prestart_child(c));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_prestart_taken(void **state)
{
	(void)state;
	expect_prestart_case(PRE_TAKEN);
}

static void test_prestart_released(void **state)
{
	(void)state;
	expect_prestart_case(PRE_RELEASED);
	expect_prestart_case(PRE_RELEASED_BUSY);
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int main(void)
{
	struct cv_err err = { 0 };
	if (kvm_backend_ops.probe(&err)) {
		printf("SKIP: /dev/kvm not available: %s\n", err.msg);
		return 77;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	on_pvm = file_exists("/sys/module/kvm_pvm");
	if (on_pvm)
		printf("note: this host's KVM is PVM (kvm_pvm): guest code runs in KVM's instruction emulator\n");

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_real_io),
		cmocka_unit_test(test_pm32_mmio),
		cmocka_unit_test(test_lm64),
		cmocka_unit_test(test_hlt),
		cmocka_unit_test(test_triple_fault),
		cmocka_unit_test(test_error_exit),
		cmocka_unit_test(test_bus_exit_event),
		cmocka_unit_test(test_bus_exit_split_mmio),
		cmocka_unit_test(test_kick_before_run),
		cmocka_unit_test(test_kick_spinning),
		cmocka_unit_test(test_park_unpark_state),
		cmocka_unit_test(test_kick_storm),
		cmocka_unit_test(test_irqchip_kick_and_irq),
		cmocka_unit_test(test_irqchip_ap_runs),
		cmocka_unit_test(test_exit_round_trip),
		cmocka_unit_test(test_create_destroy_cycles),
		cmocka_unit_test(test_vm_create_errors),
		cmocka_unit_test(test_prestart_taken),
		cmocka_unit_test(test_prestart_released),
	};
	return cmocka_run_group_tests_name("kvm-backend", tests, NULL, NULL);
}
