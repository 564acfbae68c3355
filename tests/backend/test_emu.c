/*
 * test_emu: the emu backend (unicorn software vCPU) against tiny guests
 * assembled at build time (emu-guests/NAME.S -> NAME.bin in EMU_GUEST_DIR).
 * The guests talk to test devices on a real struct bus (emu-guests/ports.h);
 * every test boots a guest through emu_backend_ops exactly as the VM layer
 * would and checks what the guest did.  Figures (kick latency, port I/O
 * round trip, engine cost) are printed with a "# " prefix.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "bus.h"
#include "memory.h"
#include "testutil.h"
#include "vmconfig.h"

#include "emu-guests/ports.h"

#define RAM_SIZE (4u << 20)
#define LOG_MAX 64
#define CNT_ADDR 0x9000

static const struct backend_ops *ops = &emu_backend_ops;

struct logent {
	uint32_t value;
	unsigned size;
	uint64_t t_ns;
};

struct fx {
	struct vm_config *cfg;
	struct guest_mem mem;
	struct bus bus;
	struct backend_vm *vm;
	struct backend_vcpu *vcpu[16];
	struct vcpu_stats stats[16];
	unsigned ncpus;

	pthread_mutex_t lock;	/* devices may run on a vCPU thread */
	struct logent log[LOG_MAX];
	size_t nlog;
	uint64_t echo;
	uint64_t exit_code;
	unsigned nexits;
	uint8_t mmio[4096];
};

/* ---- test devices ---- */

static uint64_t zero_read(void *o, uint64_t off, unsigned size)
{
	(void)o, (void)off, (void)size;
	return 0;
}

static enum bus_action nop_write(void *o, uint64_t off, unsigned size,
				 uint64_t v)
{
	(void)o, (void)off, (void)size, (void)v;
	return BUS_CONTINUE;
}

static enum bus_action log_write(void *o, uint64_t off, unsigned size,
				 uint64_t v)
{
	struct fx *f = o;
	(void)off;
	pthread_mutex_lock(&f->lock);
	if (f->nlog < LOG_MAX)
		f->log[f->nlog++] =
			(struct logent){ (uint32_t)v, size, tu_now_ns() };
	pthread_mutex_unlock(&f->lock);
	return BUS_CONTINUE;
}

static uint64_t echo_read(void *o, uint64_t off, unsigned size)
{
	struct fx *f = o;
	(void)off, (void)size;
	return f->echo + 1;
}

static enum bus_action echo_write(void *o, uint64_t off, unsigned size,
				  uint64_t v)
{
	struct fx *f = o;
	(void)off, (void)size;
	f->echo = v;
	return BUS_CONTINUE;
}

static enum bus_action exit_write(void *o, uint64_t off, unsigned size,
				  uint64_t v)
{
	struct fx *f = o;
	(void)off, (void)size;
	f->exit_code = v;
	f->nexits++;
	return BUS_EXIT;
}

static uint64_t mmio_read(void *o, uint64_t off, unsigned size)
{
	struct fx *f = o;
	uint64_t v = 0;
	if (off + size > sizeof(f->mmio))
		return UINT64_MAX;
	memcpy(&v, f->mmio + off, size);
	return ~v;
}

static enum bus_action mmio_write(void *o, uint64_t off, unsigned size,
				  uint64_t v)
{
	struct fx *f = o;
	if (off + size <= sizeof(f->mmio))
		memcpy(f->mmio + off, &v, size);
	return BUS_CONTINUE;
}

static const struct bus_device_ops log_ops = { zero_read, log_write };
static const struct bus_device_ops echo_ops = { echo_read, echo_write };
static const struct bus_device_ops exit_ops = { zero_read, exit_write };
static const struct bus_device_ops nop_ops = { zero_read, nop_write };
static const struct bus_device_ops mmio_ops = { mmio_read, mmio_write };

static void reg(struct fx *f, enum bus_space sp, uint64_t base, uint64_t len,
		const char *name, const struct bus_device_ops *o)
{
	struct cv_err err = { 0 };
	if (bus_register(&f->bus, sp, base, len, name, o, f, &err))
		fail_msg("bus_register %s: %s", name, err.msg);
}

/* ---- fixture ---- */

static void add_vcpus(struct fx *f)
{
	for (unsigned i = 0; i < f->ncpus; i++) {
		struct cv_err err = { 0 };
		if (ops->vcpu_create(f->vm, i, &f->stats[i], &f->vcpu[i], &err))
			fail_msg("vcpu_create: %s", err.msg);
	}
}

/* extra: an optional second RAM region (gpa, size) */
static struct fx *fx_new_ram(unsigned ncpus, uint64_t extra_gpa,
			     uint64_t extra_size)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->cfg = calloc(1, sizeof(*f->cfg));
	assert_non_null(f->cfg);
	f->cfg->n_regions = 1;
	f->cfg->regions[0] = (struct vm_mem_region){ 0, RAM_SIZE, 0x7,
						     VM_MAP_ALLOC, 0 };
	if (extra_size)
		f->cfg->regions[f->cfg->n_regions++] = (struct vm_mem_region){
			extra_gpa, extra_size, 0x7, VM_MAP_ALLOC, 0 };
	assert_int_equal(guest_mem_map(&f->mem, f->cfg, NULL), 0);
	pthread_mutex_init(&f->lock, NULL);
	bus_init(&f->bus);
	reg(f, BUS_PIO, P_ECHO, 1, "echo", &echo_ops);
	reg(f, BUS_PIO, P_NOP, 1, "nop", &nop_ops);
	reg(f, BUS_PIO, P_LOG, 1, "log", &log_ops);
	reg(f, BUS_PIO, P_EXIT, 1, "exit", &exit_ops);

	struct backend_vm_params p = { .mem = &f->mem, .bus = &f->bus, .ncpus = ncpus };
	struct cv_err err = { 0 };
	if (ops->vm_create(&p, &f->vm, &err))
		fail_msg("vm_create: %s", err.msg);
	f->ncpus = ncpus;
	add_vcpus(f);
	return f;
}

static struct fx *fx_new(unsigned ncpus)
{
	return fx_new_ram(ncpus, 0, 0);
}

static void fx_free(struct fx *f)
{
	for (unsigned i = 0; i < f->ncpus; i++)
		ops->vcpu_destroy(f->vcpu[i]);
	ops->vm_destroy(f->vm);
	guest_mem_unmap(&f->mem);
	pthread_mutex_destroy(&f->lock);
	free(f->cfg);
	free(f);
}

static size_t load_guest(struct fx *f, const char *name, uint64_t gpa)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s.bin", EMU_GUEST_DIR, name);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open guest %s: %s", path, strerror(errno));
	uint8_t *dst = guest_mem_ptr(&f->mem, gpa, 1);
	assert_non_null(dst);
	size_t n = fread(dst, 1, RAM_SIZE - gpa, fp);
	fclose(fp);
	assert_true(n > 0);
	ops->code_written(f->vm, gpa, n);
	return n;
}

static uint32_t ram32(struct fx *f, uint64_t gpa)
{
	uint32_t v = 0;
	assert_int_equal(guest_mem_read(&f->mem, gpa, &v, sizeof(v)), 0);
	return v;
}

/* flat GDT at 0x500 like the boot layer's: 0x08 code64, 0x10 code32,
 * 0x18 data */
static void write_gdt(struct fx *f)
{
	const uint64_t gdt[4] = { 0, 0x00af9a000000ffffull,
				  0x00cf9a000000ffffull, 0x00cf92000000ffffull };
	assert_int_equal(guest_mem_write(&f->mem, 0x500, gdt, sizeof(gdt)), 0);
}

/* identity map of 4 GiB with 2 MiB pages at 0x1000 (PML4, PDPT, 4 PDs) */
static void write_identity_tables(struct fx *f)
{
	uint64_t e = 0x2000 | 3;
	assert_int_equal(guest_mem_write(&f->mem, 0x1000, &e, 8), 0);
	for (uint64_t i = 0; i < 4; i++) {
		e = (0x3000 + i * 0x1000) | 3;
		assert_int_equal(guest_mem_write(&f->mem, 0x2000 + i * 8, &e, 8), 0);
		for (uint64_t j = 0; j < 512; j++) {
			e = ((i * 512 + j) << 21) | 0x83;
			assert_int_equal(guest_mem_write(&f->mem,
				0x3000 + i * 0x1000 + j * 8, &e, 8), 0);
		}
	}
}

static struct boot_cpu_state rm_state(uint64_t entry)
{
	struct boot_cpu_state s = { 0 };
	s.mode = VM_CPU_REAL;
	s.real_cs = (uint16_t)((entry & 0xf0000) >> 4);
	s.rip = entry & 0xffff;
	s.rsp = GUEST_SP;
	s.rflags = 2;
	return s;
}

static struct boot_cpu_state pm_state(struct fx *f, uint64_t entry)
{
	struct boot_cpu_state s = { 0 };
	write_gdt(f);
	s.mode = VM_CPU_PROTECTED;
	s.rip = entry;
	s.rsp = GUEST_SP;
	s.rflags = 2;
	s.gdt_base = 0x500;
	s.gdt_limit = 0x1f;
	s.code_sel = 0x10;
	s.data_sel = 0x18;
	s.cr0 = 0x11;
	return s;
}

static struct boot_cpu_state lm_state(struct fx *f, uint64_t entry)
{
	struct boot_cpu_state s = pm_state(f, entry);
	write_identity_tables(f);
	s.mode = VM_CPU_LONG;
	s.code_sel = 0x08;
	s.cr0 = 0x80000011;
	s.cr3 = 0x1000;
	s.cr4 = 0x20;
	s.efer = 0x500;
	return s;
}

static void boot(struct fx *f, unsigned i, const struct boot_cpu_state *s)
{
	struct cv_err err = { 0 };
	if (ops->vcpu_load_boot_state(f->vcpu[i], s, &err))
		fail_msg("vcpu_load_boot_state: %s", err.msg);
}

static const char *reason_name(enum vcpu_exit_reason r)
{
	switch (r) {
	case VCPU_EXIT_KICK: return "KICK";
	case VCPU_EXIT_EVENT: return "EVENT";
	case VCPU_EXIT_HLT: return "HLT";
	case VCPU_EXIT_SHUTDOWN: return "SHUTDOWN";
	case VCPU_EXIT_SLICE: return "SLICE";
	case VCPU_EXIT_ERROR: return "ERROR";
	}
	return "?";
}

static struct vcpu_exit run(struct fx *f, unsigned i, uint32_t slice_us)
{
	struct vcpu_exit e;
	memset(&e, 0, sizeof(e));
	e.reason = (enum vcpu_exit_reason)-1;
	assert_int_equal(ops->vcpu_run(f->vcpu[i], slice_us, &e), 0);
	return e;
}

#define assert_exit(e, r)                                                  \
	do {                                                               \
		if ((e).reason != (r))                                     \
			fail_msg("exit %s (%s), expected %s",              \
				 reason_name((e).reason), (e).msg,         \
				 reason_name(r));                          \
	} while (0)

static struct cpu_regs regs(struct fx *f, unsigned i)
{
	struct cpu_regs r;
	assert_int_equal(ops->vcpu_get_regs(f->vcpu[i], &r), 0);
	return r;
}

static void expect_log(struct fx *f, const uint32_t *vals,
		       const unsigned *sizes, size_t n)
{
	if (f->nlog != n)
		fail_msg("guest logged %zu values, expected %zu", f->nlog, n);
	for (size_t i = 0; i < n; i++)
		if (f->log[i].value != vals[i] || f->log[i].size != sizes[i])
			fail_msg("log[%zu] = 0x%x/%u, expected 0x%x/%u", i,
				 f->log[i].value, f->log[i].size, vals[i],
				 sizes[i]);
}

static uint64_t stat(atomic_uint_least64_t *c)
{
	return atomic_load(c);
}

/* ---- basic behaviour ---- */

static void test_probe(void **state)
{
	(void)state;
	struct cv_err err = { 0 };
	assert_int_equal(ops->probe(&err), 0);
	assert_string_equal(ops->name, "emu");
	assert_true(ops->single_thread);
}

static void test_real_mode_pio(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	size_t n = load_guest(f, "rm_io", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	struct cpu_regs r = regs(f, 0);
	assert_int_equal(r.cs, 0);
	assert_int_equal(r.rip, 0x8000);

	struct vcpu_exit e = run(f, 0, 0);
	assert_exit(e, VCPU_EXIT_EVENT);
	assert_int_equal(f->exit_code, 0x2a);
	const uint32_t v[] = { 0x5b, 0x1235, 0x89abcdf0, 0xff, 0xffff,
			       0xffffffff, 'a', 'b', 'c' };
	const unsigned sz[] = { 1, 2, 4, 1, 2, 4, 1, 1, 1 };
	expect_log(f, v, sz, 9);
	/* 6 echo + 3 log + 3 unassigned + 3 log + 3 string + 1 exit */
	assert_int_equal(stat(&f->stats[0].exits_io), 19);
	assert_int_equal(stat(&f->bus.pio.unassigned_reads), 3);
	/* the exit write is followed by hlt in the same block: it ran, and
	 * the next run reports it without running past it */
	e = run(f, 0, 0);
	assert_exit(e, VCPU_EXIT_HLT);
	assert_int_equal(regs(f, 0).rip, 0x8000 + n - 3);	/* after hlt */
	assert_int_equal(stat(&f->stats[0].exits_hlt), 1);
	assert_int_equal(stat(&f->stats[0].runs), 2);
	fx_free(f);
}

static void test_protected_mode_mmio(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	/* registered after the vCPU exists: the MMIO gaps still reach it */
	reg(f, BUS_MMIO, MMIO_DEV, 0x1000, "mmio", &mmio_ops);
	load_guest(f, "pm_mmio", 0x8000);
	struct boot_cpu_state s = pm_state(f, 0x8000);
	boot(f, 0, &s);
	struct cpu_regs r = regs(f, 0);
	assert_int_equal(r.cs, 0x10);
	assert_int_equal(r.ss, 0x18);
	assert_true(r.cr0 & 1);
	assert_false(r.efer & 0x400);

	struct vcpu_exit e = run(f, 0, 0);
	assert_exit(e, VCPU_EXIT_EVENT);
	assert_int_equal(f->exit_code, 7);
	const uint32_t v[] = { 0xee, 0xddcc, 0xbbaa9988, 0xff, 0xffff,
			       0xffffffff, 0xffffffff, 0x10, 0x18 };
	const unsigned sz[] = { 1, 2, 4, 1, 2, 4, 4, 2, 2 };
	expect_log(f, v, sz, 9);
	assert_int_equal(f->mmio[0x10], 0x11);
	assert_int_equal(f->mmio[0x40], 0x77);
	assert_int_equal(stat(&f->stats[0].exits_mmio), 11);
	assert_int_equal(stat(&f->bus.mmio.unassigned_reads), 4);
	assert_int_equal(stat(&f->bus.mmio.unassigned_writes), 1);
	fx_free(f);
}

static void test_long_mode_cpuid_mmio64(void **state)
{
	(void)state;
	struct fx *f = fx_new(2);
	reg(f, BUS_MMIO, MMIO_DEV, 0x1000, "mmio", &mmio_ops);
	load_guest(f, "lm_basic", 0x8000);
	struct boot_cpu_state s = lm_state(f, 0x8000);
	boot(f, 1, &s);	/* the second vCPU: initial APIC id 1 */
	struct vcpu_exit e = run(f, 1, 0);
	assert_exit(e, VCPU_EXIT_EVENT);
	assert_int_equal(f->exit_code, 9);
	assert_int_equal(f->nlog, 14);
	assert_int_equal(f->log[0].value, 1);
	assert_int_equal(f->log[1].value, 0xb);	/* max leaf: topology */
	char vendor[13];
	memcpy(vendor, &f->log[2].value, 4);
	memcpy(vendor + 4, &f->log[3].value, 4);
	memcpy(vendor + 8, &f->log[4].value, 4);
	vendor[12] = '\0';
	assert_string_equal(vendor, "cvisorcvisor");
	assert_int_equal(f->log[5].value, 1);
	assert_true(f->log[6].value & (1u << 31));
	char hv[9];
	memcpy(hv, &f->log[7].value, 4);
	memcpy(hv + 4, &f->log[8].value, 4);
	hv[8] = '\0';
	assert_string_equal(hv, "cvisor");
	assert_true(f->log[9].value & (1u << 29));
	assert_int_equal(f->log[10].value, 0xffffffff);
	assert_int_equal(f->log[11].value, 0xffffffff);
	assert_int_equal(f->log[12].value, 0x76543210);
	assert_int_equal(f->log[13].value, 0xfedcba98);
	struct cpu_regs r = regs(f, 1);
	assert_int_equal(r.cs, 0x08);
	assert_true(r.efer & 0x400);	/* LMA */
	assert_int_equal(r.cr3, 0x1000);
	fx_free(f);
}

static void test_hlt(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	load_guest(f, "hlt", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	for (unsigned i = 1; i <= 3; i++) {
		struct vcpu_exit e = run(f, 0, 0);
		assert_exit(e, VCPU_EXIT_HLT);
		assert_int_equal(f->nlog, i);
		assert_int_equal(f->log[i - 1].value, i);
		/* mov $1,%al (2) + out (2) + hlt (1): RIP is after the hlt */
		assert_int_equal(regs(f, 0).rip, 0x8005);
	}
	assert_int_equal(stat(&f->stats[0].exits_hlt), 3);
	fx_free(f);
}

/* SPEC 5b: entry 0x10000 is 1000:0000 */
static void test_real_mode_segment_entry(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	load_guest(f, "hlt", 0x10000);
	struct boot_cpu_state s = rm_state(0x10000);
	assert_int_equal(s.real_cs, 0x1000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	struct cpu_regs r = regs(f, 0);
	assert_int_equal(r.cs, 0x1000);
	assert_int_equal(r.cs_base, 0x10000);
	assert_int_equal(r.rip, 5);
	assert_int_equal(f->log[0].value, 1);
	fx_free(f);
}

static void test_code_written(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	load_guest(f, "smc", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	uint16_t imm = 0x2222;
	assert_int_equal(guest_mem_write(&f->mem, 0x8001, &imm, 2), 0);
	ops->code_written(f->vm, 0x8000, 16);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	assert_int_equal(f->nlog, 2);
	assert_int_equal(f->log[0].value, 0x1111);
	assert_int_equal(f->log[1].value, 0x2222);
	/* and without code_written the old translation stays (gotcha) */
	imm = 0x3333;
	assert_int_equal(guest_mem_write(&f->mem, 0x8001, &imm, 2), 0);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	printf("# host code patch without code_written: guest saw 0x%x (stale translation %s)\n",
	       f->log[2].value, f->log[2].value == 0x2222 ? "kept" : "dropped");
	fx_free(f);
}

/* RAM where the trampoline likes to live (the BIOS area below 4 GiB):
 * it moves, every mode still boots, and the guest's RAM there is RAM. */
static void test_trampoline_moves_out_of_ram(void **state)
{
	(void)state;
	struct fx *f = fx_new_ram(1, 0xfff00000, 0x100000);
	uint32_t magic = 0x600d600d;
	assert_int_equal(guest_mem_write(&f->mem, 0xffff0000, &magic, 4), 0);
	reg(f, BUS_MMIO, MMIO_DEV, 0x1000, "mmio", &mmio_ops);
	load_guest(f, "pm_mmio", 0x8000);
	struct boot_cpu_state s = pm_state(f, 0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_EVENT);
	assert_int_equal(f->exit_code, 7);
	load_guest(f, "hlt", 0x8000);
	s = rm_state(0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	assert_int_equal(ram32(f, 0xffff0000), magic);
	fx_free(f);
}

/* ---- exceptions ---- */

static struct vcpu_exit run_fault(struct fx *f, int which)
{
	load_guest(f, "faults", 0x8000);
	struct boot_cpu_state s;
	if (which <= 1)
		s = rm_state(0x8000);
	else if (which == 2 || which == 5)
		s = pm_state(f, 0x8040);
	else
		s = lm_state(f, 0x8040);
	s.rax = (uint64_t)which;
	boot(f, 0, &s);
	return run(f, 0, 0);
}

static void test_triple_fault_real(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	assert_exit(run_fault(f, 0), VCPU_EXIT_SHUTDOWN);
	/* a CPU in shutdown stays there until it is reset */
	assert_exit(run(f, 0, 0), VCPU_EXIT_SHUTDOWN);
	assert_int_equal(stat(&f->stats[0].exits_shutdown), 2);
	/* reset: fresh code, fresh state, runs again */
	memset(guest_mem_ptr(&f->mem, 0x8000, 0x100), 0, 0x100);
	load_guest(f, "hlt", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	assert_int_equal(f->log[0].value, 1);
	fx_free(f);
}

static void test_triple_fault_protected_long(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	assert_exit(run_fault(f, 2), VCPU_EXIT_SHUTDOWN);
	assert_exit(run_fault(f, 3), VCPU_EXIT_SHUTDOWN);
	fx_free(f);
}

static void expect_logged(struct fx *f, const uint32_t *want, size_t n)
{
	if (f->nlog != n)
		fail_msg("guest logged %zu values, expected %zu (first 0x%x)",
			 f->nlog, n, f->nlog ? f->log[0].value : 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(f->log[i].value & 0xff, want[i]);
}

/* exceptions and `int n` through the guest's IVT/IDT, in every mode */
static void test_exception_delivery(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	assert_exit(run_fault(f, 1), VCPU_EXIT_HLT);
	const uint32_t rm[] = { 0x21, 0x22, 0xde, 0x01 };
	expect_logged(f, rm, 4);

	f->nlog = 0;
	assert_exit(run_fault(f, 5), VCPU_EXIT_HLT);
	const uint32_t pm[] = { 0xde, 0x03, 0x80, 0x05 };
	expect_logged(f, pm, 4);

	f->nlog = 0;
	assert_exit(run_fault(f, 4), VCPU_EXIT_HLT);
	const uint32_t lm[] = { 0x06, 0x03, 0x04 };
	expect_logged(f, lm, 3);

	/* a gate that is not present (and no #GP/#DF gate either) */
	struct vcpu_exit e = run_fault(f, 6);
	printf("# ud2 with a non-present IDT gate in long mode: %s\n", e.msg);
	assert_exit(e, VCPU_EXIT_SHUTDOWN);
	fx_free(f);
}

/* ---- paging ---- */

static void test_paging_not_identity(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	load_guest(f, "paging", 0x8000);
	/* CR3 0x100000: 0-2 MiB identity, 2-4 MiB and the top 2 GiB -> 0 */
	const uint64_t pml4[512] = { [0] = 0x101000 | 3, [511] = 0x103000 | 3 };
	const uint64_t pdpt[512] = { [0] = 0x102000 | 3 };
	const uint64_t pd[2] = { 0x83, 0x83 };
	const uint64_t pdpt_hi[512] = { [510] = 0x104000 | 3 };
	const uint64_t pd_hi = 0x83;
	assert_int_equal(guest_mem_write(&f->mem, 0x100000, pml4, sizeof(pml4)), 0);
	assert_int_equal(guest_mem_write(&f->mem, 0x101000, pdpt, sizeof(pdpt)), 0);
	assert_int_equal(guest_mem_write(&f->mem, 0x102000, pd, sizeof(pd)), 0);
	assert_int_equal(guest_mem_write(&f->mem, 0x103000, pdpt_hi,
					 sizeof(pdpt_hi)), 0);
	assert_int_equal(guest_mem_write(&f->mem, 0x104000, &pd_hi, 8), 0);
	struct boot_cpu_state s = lm_state(f, 0x8000);
	s.rax = 0;
	boot(f, 0, &s);
	struct vcpu_exit e = run(f, 0, 0);
	assert_exit(e, VCPU_EXIT_ERROR);
	printf("# non-identity page tables: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "virtual 0x200000 to physical 0x0"));

	s.rax = 1;
	boot(f, 0, &s);
	e = run(f, 0, 0);
	assert_exit(e, VCPU_EXIT_ERROR);
	printf("# higher-half jump: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "0xffffffff80008000"));
	assert_non_null(strstr(e.msg, "identity"));

	/* not mapped by the guest either: #PF, no IDT -> triple fault */
	s.rax = 2;
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_SHUTDOWN);
	fx_free(f);
}

static void test_boot_state_rejected(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	struct cv_err err = { 0 };
	struct boot_cpu_state s = lm_state(f, 0x8000);
	s.cr4 = 0;
	assert_int_equal(ops->vcpu_load_boot_state(f->vcpu[0], &s, &err),
			 -EINVAL);
	s = pm_state(f, 0x8000);
	s.code_sel = 0x08;	/* 64-bit code in protected mode */
	assert_int_equal(ops->vcpu_load_boot_state(f->vcpu[0], &s, &err),
			 -EINVAL);
	s.code_sel = 0x40;	/* beyond the GDT limit */
	assert_int_equal(ops->vcpu_load_boot_state(f->vcpu[0], &s, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "GDT limit"));
	/* a vCPU without a valid boot state does not run */
	struct vcpu_exit e = run(f, 0, 0);
	assert_exit(e, VCPU_EXIT_ERROR);
	/* a good state repairs it */
	load_guest(f, "hlt", 0x8000);
	s = rm_state(0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	fx_free(f);
}

/* ---- kicks ---- */

struct counter {
	uint64_t code_lo, code_hi;	/* RIP range of the loop */
	uint16_t cs;
	bool long_mode;
	uint64_t r12;			/* expected, 0 = unchecked */
};

struct kicker {
	struct fx *f;
	const struct counter *c;
	atomic_bool stop;
	sem_t returned;
	uint64_t t_return;
	unsigned nret;
	uint32_t last;
	char bad[256];
};

/* runs on the vCPU thread: no cmocka asserts here */
static void check_counter(struct kicker *k)
{
	struct cpu_regs r;
	uint32_t mem = 0;
	if (ops->vcpu_get_regs(k->f->vcpu[0], &r) ||
	    guest_mem_read(&k->f->mem, CNT_ADDR, &mem, sizeof(mem))) {
		snprintf(k->bad, sizeof(k->bad), "cannot read the vCPU state");
		return;
	}
	uint32_t ecx = (uint32_t)r.rcx, edx = (uint32_t)r.rdx;
	bool ok = (ecx == edx && mem == ecx) ||
		  (ecx == edx + 1 && (mem == edx || mem == ecx));
	if (mem == 0 && edx == 0 && (ecx == 0 || ecx == 0xc0000080)) {
		/* kicked before the loop started: still in the prologue
		   (rm2lm's holds EFER's MSR number in ecx; seen under ASan,
		   where the first kick can land before the loop).  ecx is
		   no count there: the last count stays 0 */
		return;
	} else if (!ok)
		snprintf(k->bad, sizeof(k->bad),
			 "after kick %u: ecx=%u edx=%u mem=%u rip=0x%llx", k->nret,
			 ecx, edx, mem, (unsigned long long)r.rip);
	else if (ecx < k->last)
		snprintf(k->bad, sizeof(k->bad), "counter went back: %u < %u",
			 ecx, k->last);
	else if (r.rip < k->c->code_lo || r.rip >= k->c->code_hi ||
		 r.cs != k->c->cs)
		snprintf(k->bad, sizeof(k->bad),
			 "after kick %u: %04x:0x%llx is outside the loop", k->nret,
			 r.cs, (unsigned long long)r.rip);
	else if (k->c->long_mode != !!(r.efer & 0x400))
		snprintf(k->bad, sizeof(k->bad), "wrong mode: EFER 0x%llx",
			 (unsigned long long)r.efer);
	else if (k->c->r12 && r.r12 != k->c->r12)
		snprintf(k->bad, sizeof(k->bad), "r12 lost: 0x%llx",
			 (unsigned long long)r.r12);
	k->last = ecx;
}

static void *vcpu_thread(void *arg)
{
	struct kicker *k = arg;
	for (;;) {
		struct vcpu_exit e;
		memset(&e, 0, sizeof(e));
		int rc = ops->vcpu_run(k->f->vcpu[0], 0, &e);
		uint64_t t = tu_now_ns();
		bool stop = atomic_load(&k->stop);
		if (rc || e.reason != VCPU_EXIT_KICK)
			snprintf(k->bad, sizeof(k->bad), "vcpu_run -> %d %s (%s)",
				 rc, reason_name(e.reason), e.msg);
		else if (!k->bad[0])
			check_counter(k);
		k->t_return = t;
		k->nret++;
		sem_post(&k->returned);
		if (stop || k->bad[0])
			return NULL;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static bool wait_return(struct kicker *k)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	while (sem_timedwait(&k->returned, &dl))
		if (errno != EINTR)
			return false;
	return true;
}

/* Kick a counting guest n times at random moments; returns the median
 * latency in ns (kick call -> vcpu_run returned). */
static uint64_t kick_counter(struct fx *f, const struct counter *c,
			     unsigned n, const char *what)
{
	struct kicker k = { .f = f, .c = c };
	uint64_t *lat = calloc(n, sizeof(*lat));
	pthread_t th;
	assert_non_null(lat);
	atomic_init(&k.stop, false);
	sem_init(&k.returned, 0, 0);
	assert_int_equal(pthread_create(&th, NULL, vcpu_thread, &k), 0);
	unsigned seed = 12345;
	for (unsigned i = 0; i < n && !k.bad[0]; i++) {
		struct timespec ts = { 0, 20000 + (long)(rand_r(&seed) % 200000) };
		nanosleep(&ts, NULL);
		if (i + 1 == n)
			atomic_store(&k.stop, true);
		uint64_t t0 = tu_now_ns();
		ops->vcpu_kick(f->vcpu[0]);
		if (!wait_return(&k))
			fail_msg("%s: kick %u was lost (no return within 5 s)", what, i);
		lat[i] = k.t_return - t0;
	}
	pthread_join(th, NULL);
	sem_destroy(&k.returned);
	if (k.bad[0])
		fail_msg("%s: %s", what, k.bad);
	assert_int_equal(k.nret, n);
	if (k.last < n)
		fail_msg("%s: the guest made too little progress (%u steps)",
			 what, k.last);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	uint64_t med = lat[n / 2];
	printf("# %s: %u kicks, guest at step %u; kick->return min %.1f / median %.1f / p99 %.1f / max %.1f us\n",
	       what, n, k.last, lat[0] / 1e3, med / 1e3,
	       lat[(n * 99) / 100] / 1e3, lat[n - 1] / 1e3);
	assert_int_equal(stat(&f->stats[0].exits_kick), n);
	free(lat);
	return med;
}

static void test_kick_latency_long_mode(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	size_t n = load_guest(f, "lm_count", 0x8000);
	struct boot_cpu_state s = lm_state(f, 0x8000);
	s.rbx = CNT_ADDR;
	boot(f, 0, &s);
	const struct counter c = { 0x8000, 0x8000 + n, 0x08, true,
				   0x0123456789abcdefull };
	uint64_t med = kick_counter(f, &c, 100, "long mode spin");
	assert_true(med < 1000000);
	fx_free(f);
}

static void test_kicks_real_mode(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	size_t n = load_guest(f, "rm_count", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	s.rbx = CNT_ADDR;
	boot(f, 0, &s);
	const struct counter c = { 0x8000, 0x8000 + n, 0, false, 0 };
	kick_counter(f, &c, 300, "real mode spin");
	fx_free(f);
}

/* AxVisor's path: real-mode stub -> protected mode -> code at 2 MiB. */
static void test_real_to_protected_kicks(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	load_guest(f, "realpm", 0x8000);
	size_t n = load_guest(f, "pm_count", 0x200000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	const struct counter c = { 0x200000, 0x200000 + n, 0x08, false, 0 };
	kick_counter(f, &c, 1000, "real->protected, loop at 0x200000");
	assert_int_equal(f->log[0].value, 0x5e);
	struct cpu_regs r = regs(f, 0);
	assert_true(r.cr0 & 1);
	assert_int_equal(r.ds, 0x10);
	fx_free(f);
}

static void test_real_to_long_kicks(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	write_identity_tables(f);
	size_t n = load_guest(f, "rm2lm", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	const struct counter c = { 0x8000, 0x8000 + n, 0x18, true, 0 };
	kick_counter(f, &c, 300, "real->protected->long");
	assert_int_equal(f->nlog, 1);
	assert_true(f->log[0].value & 0x400);	/* EFER.LMA seen by the guest */
	fx_free(f);
}

static void test_kick_before_run(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	load_guest(f, "rm_count", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	s.rbx = CNT_ADDR;
	boot(f, 0, &s);
	ops->vcpu_kick(f->vcpu[0]);
	ops->vcpu_kick(f->vcpu[0]);	/* kicks do not queue up */
	assert_exit(run(f, 0, 0), VCPU_EXIT_KICK);
	assert_int_equal(regs(f, 0).rip, 0x8000);	/* nothing ran */
	/* consumed: the next run goes on until its slice ends */
	assert_exit(run(f, 0, 2000), VCPU_EXIT_SLICE);
	assert_true(ram32(f, CNT_ADDR) > 0);
	assert_int_equal(stat(&f->stats[0].exits_kick), 1);
	fx_free(f);
}

/* ---- round robin ---- */

static void test_round_robin_slices(void **state)
{
	(void)state;
	const unsigned rounds = 40, slice_us = 2000;
	struct fx *f = fx_new(2);
	load_guest(f, "lm_count", 0x8000);
	struct boot_cpu_state s = lm_state(f, 0x8000);
	s.rbx = CNT_ADDR;
	boot(f, 0, &s);
	s.rbx = CNT_ADDR + 0x100;
	boot(f, 1, &s);
	uint64_t d[80], last[2] = { 0, 0 };
	unsigned progressed[2] = { 0, 0 };
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < 2; i++) {
			uint64_t t0 = tu_now_ns();
			struct vcpu_exit e = run(f, i, slice_us);
			d[r * 2 + i] = tu_now_ns() - t0;
			assert_exit(e, VCPU_EXIT_SLICE);
			uint32_t c = ram32(f, CNT_ADDR + 0x100 * i);
			/* a slice can pass with the host thread preempted */
			progressed[i] += c > last[i];
			last[i] = c;
			assert_true(d[r * 2 + i] >= slice_us * 1000ull);
		}
	}
	assert_true(progressed[0] > rounds / 2 && progressed[1] > rounds / 2);
	qsort(d, rounds * 2, sizeof(d[0]), cmp_u64);
	printf("# round robin, 2 vCPUs on one thread, %u us slices: slice took min %.0f / median %.0f / max %.0f us; steps %llu + %llu\n",
	       slice_us, d[0] / 1e3, d[rounds] / 1e3, d[rounds * 2 - 1] / 1e3,
	       (unsigned long long)last[0], (unsigned long long)last[1]);
	assert_true(d[rounds] < (slice_us + 3000) * 1000ull);
	assert_int_equal(stat(&f->stats[0].exits_other), rounds);
	fx_free(f);
}

/* ---- cost and leaks ---- */

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *fp = fopen("/proc/self/statm", "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%ld %ld", &pages, &rss), 2);
	fclose(fp);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint64_t one_cycle(void)
{
	uint64_t t0 = tu_now_ns();
	struct fx *f = fx_new(1);
	uint64_t t = tu_now_ns() - t0;
	load_guest(f, "hlt", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	fx_free(f);
	return t;
}

static void test_create_destroy_cycles(void **state)
{
	(void)state;
	for (int i = 0; i < 10; i++)
		one_cycle();
	unsigned fd0 = count_fds();
	long rss0 = rss_kb();
	uint64_t t_create = 0, t0 = tu_now_ns();
	for (int i = 0; i < 200; i++)
		t_create += one_cycle();
	uint64_t t_all = tu_now_ns() - t0;
	unsigned fd1 = count_fds();
	long rss1 = rss_kb();
	printf("# 200 create/boot/run/destroy cycles: %.0f us each (create VM+vCPU %.0f us); fds %u -> %u; RSS %ld -> %ld kB\n",
	       t_all / 200e3, t_create / 200e3, fd0, fd1, rss0, rss1);
	assert_int_equal(fd1, fd0);
	/* ASan keeps freed memory in quarantine: RSS is no leak measure there
	 * (LeakSanitizer checks for leaks at exit instead). */
	if (!CV_TEST_ASAN)
		assert_true(rss1 - rss0 < 4096);
}

/*
 * Runs first: the first engine of a process pays the one-time set-up
 * (emu_latch.c's calibration).  That once ran its probe with an
 * instruction count, and the next uc_emu_start without one flushed every
 * translation, memsetting unicorn's whole 1 GiB code buffer: +1 GiB RSS
 * and 1-2 s for every `cvisor run` on emu.
 */
static void test_first_engine_footprint(void **state)
{
	(void)state;
	long rss0 = rss_kb();
	uint64_t t0 = tu_now_ns();
	struct fx *f = fx_new(1);
	load_guest(f, "hlt", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	boot(f, 0, &s);
	assert_exit(run(f, 0, 0), VCPU_EXIT_HLT);
	long rss1 = rss_kb();
	double ms = (tu_now_ns() - t0) / 1e6;
	printf("# first engine: %.1f ms to create, boot and run, +%ld kB RSS\n",
	       ms, rss1 - rss0);
	fx_free(f);
	if (rss1 - rss0 > 256 * 1024)
		fail_msg("the first engine grew RSS by %ld kB (over 256 MiB)",
			 rss1 - rss0);
}

static void test_engine_footprint(void **state)
{
	(void)state;
	const unsigned n = 16;
	long rss0 = rss_kb();
	uint64_t t0 = tu_now_ns();
	struct fx *f = fx_new(n);
	uint64_t t = tu_now_ns() - t0;
	load_guest(f, "hlt", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	for (unsigned i = 0; i < n; i++) {
		boot(f, i, &s);
		assert_exit(run(f, i, 0), VCPU_EXIT_HLT);
	}
	long rss1 = rss_kb();
	printf("# %u engines: %.0f us per vCPU create, %.0f kB RSS per booted engine\n",
	       n, t / 1e3 / n, (double)(rss1 - rss0) / n);
	fx_free(f);
}

static void test_pio_round_trip(void **state)
{
	(void)state;
	const uint32_t n = 1000000;
	struct fx *f = fx_new(1);
	load_guest(f, "iobench", 0x8000);
	struct boot_cpu_state s = rm_state(0x8000);
	s.rcx = n;
	boot(f, 0, &s);
	uint64_t t0 = tu_now_ns();
	assert_exit(run(f, 0, 0), VCPU_EXIT_EVENT);
	assert_int_equal(f->nlog, 2);
	assert_int_equal(stat(&f->stats[0].exits_io), 2ull * n + 3);
	double out_ns = (double)(f->log[0].t_ns - t0) / n;
	double in_ns = (double)(f->log[1].t_ns - f->log[0].t_ns) / n;
	printf("# port I/O round trip through the bus: OUT %.1f ns, IN %.1f ns (incl. a dec/jnz)\n",
	       out_ns, in_ns);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_engine_footprint),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_real_mode_pio),
		cmocka_unit_test(test_protected_mode_mmio),
		cmocka_unit_test(test_long_mode_cpuid_mmio64),
		cmocka_unit_test(test_hlt),
		cmocka_unit_test(test_real_mode_segment_entry),
		cmocka_unit_test(test_code_written),
		cmocka_unit_test(test_trampoline_moves_out_of_ram),
		cmocka_unit_test(test_triple_fault_real),
		cmocka_unit_test(test_triple_fault_protected_long),
		cmocka_unit_test(test_exception_delivery),
		cmocka_unit_test(test_paging_not_identity),
		cmocka_unit_test(test_boot_state_rejected),
		cmocka_unit_test(test_kick_before_run),
		cmocka_unit_test(test_kick_latency_long_mode),
		cmocka_unit_test(test_kicks_real_mode),
		cmocka_unit_test(test_real_to_protected_kicks),
		cmocka_unit_test(test_real_to_long_kicks),
		cmocka_unit_test(test_round_robin_slices),
		cmocka_unit_test(test_pio_round_trip),
		cmocka_unit_test(test_engine_footprint),
		cmocka_unit_test(test_create_destroy_cycles),
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	return cmocka_run_group_tests_name("emu-backend", tests, NULL, NULL);
}
