/*
 * ucvm: a minimal Unicorn-based VM for the boot tests (see ucvm.h).
 *
 * Unicorn quirks this relies on (libunicorn 2.0.1): an engine must be
 * opened in the mode of the boot state (a UC_MODE_32 engine whose CR0 is
 * written to real mode keeps decoding "mov ss" as in protected mode and
 * faults), a 32-bit engine ignores writes to the R* register names, and
 * uc_emu_start() on a UC_MODE_16 engine starts at a 16-bit IP.  So a
 * single vCPU runs in one uc_emu_start() per ucvm_run() (a guest that
 * switched to protected mode above 64 KiB is never resumed mid-way), and
 * only multi-vCPU VMs are sliced, by instruction count.  Slicing by
 * uc_emu_start()'s timeout and resuming was seen to corrupt guests now
 * and then (garbled ticker output, a lost smp4 token: 1 run in ~8),
 * probably the same "PC left at the start of the translation block" as
 * a stop from an OUT hook; 20 runs with count slices showed none.  A UC_MODE_16 engine follows a
 * guest into 32-bit protected mode but not into 64-bit mode (a call there
 * decodes with a 16-bit operand size), so the self-switching longmode
 * guest is checked under QEMU instead (qemu_guests.sh).
 */
#include "testutil.h"
#include "ucvm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SLICE_INSNS 200000	/* per vCPU turn when there are several */
#define MSR_EFER 0xC0000080u

/* Linear address of the current instruction (flat or real-mode CS). */
static uint64_t linear_pc(const struct ucvm_cpu *cpu)
{
	uint64_t pc = 0, cr0 = 0, cs = 0;
	uc_reg_read(cpu->uc, cpu->mode == VM_CPU_LONG ? UC_X86_REG_RIP :
			     UC_X86_REG_EIP, &pc);
	uc_reg_read(cpu->uc, UC_X86_REG_CR0, &cr0);
	uc_reg_read(cpu->uc, UC_X86_REG_CS, &cs);
	return (cr0 & 1) ? pc : ((cs & 0xffff) << 4) + (pc & 0xffff);
}

/*
 * No uc_emu_stop() here: called from an OUT hook it leaves the PC at the
 * start of the translation block and the OUT runs again on the next
 * uc_emu_start().  The guests halt after every exit OUT (guests/), so the
 * run returns by itself right after.
 */
static void stop_vm(struct ucvm *vm, enum ucvm_stop why)
{
	if (vm->stop == UCVM_RUNNING)
		vm->stop = why;
}

static void com1_byte(struct ucvm *vm, uint8_t b)
{
	if (vm->outlen < UCVM_OUT_MAX) {
		vm->out[vm->outlen++] = (char)b;
		vm->out[vm->outlen] = '\0';
	}
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
		   void *opaque)
{
	struct ucvm_cpu *cpu = opaque;
	struct ucvm *vm = cpu->vm;
	static const uint8_t lcr_dlab = 0x80;
	(void)uc;
	(void)size;
	switch (port) {
	case 0x3f8:
		if (!(vm->com1_lcr & lcr_dlab))
			com1_byte(vm, (uint8_t)value);
		break;
	case 0x3fb:
		vm->com1_lcr = (uint8_t)value;
		break;
	case 0xf4:
		vm->exit_code = (int)(value & 0xff);
		stop_vm(vm, UCVM_EXIT);
		break;
	case 0x64:
		if ((value & 0xff) == 0xfe) {
				stop_vm(vm, UCVM_RESET);
		}
		break;
	case 0x80:
		if (!vm->boot_marks++)
			vm->first_mark_ns = tu_now_ns() - vm->boot_ns;
		break;
	default:
		break;
	}
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *opaque)
{
	struct ucvm_cpu *cpu = opaque;
	(void)uc;
	switch (port) {
	case 0x3fd:
		return 0x60;			/* THR empty, transmitter idle */
	case 0x5f0: {
		struct ucvm *vm = cpu->vm;
		vm->shutdown_reads++;
		return vm->shutdown_request || (vm->shutdown_after &&
			vm->shutdown_reads >= vm->shutdown_after);
	}
	default:
		return size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
	}
}

/* Real mode: push FLAGS, CS, IP and jump through IVT entry `vec`. */
static int deliver_real(uc_engine *uc, unsigned vec)
{
	uint64_t ip = 0, cs = 0, fl = 0, ss = 0, sp = 0;
	uint16_t frame[3], vecent[2];
	uc_reg_read(uc, UC_X86_REG_EIP, &ip);
	uc_reg_read(uc, UC_X86_REG_CS, &cs);
	uc_reg_read(uc, UC_X86_REG_EFLAGS, &fl);
	uc_reg_read(uc, UC_X86_REG_SS, &ss);
	uc_reg_read(uc, UC_X86_REG_ESP, &sp);
	uint16_t nsp = (uint16_t)(sp - 6);
	frame[0] = (uint16_t)ip;
	frame[1] = (uint16_t)cs;
	frame[2] = (uint16_t)fl;
	if (uc_mem_write(uc, ((ss & 0xffff) << 4) + nsp, frame, 6) ||
	    uc_mem_read(uc, 4ull * vec, vecent, 4))
		return -1;
	uint64_t nfl = fl & ~0x40300ull;	/* IF, TF, AC clear */
	uint64_t nsp64 = (sp & ~0xffffull) | nsp, ncs = vecent[1];
	uint64_t nip = vecent[0];
	uc_reg_write(uc, UC_X86_REG_ESP, &nsp64);
	uc_reg_write(uc, UC_X86_REG_EFLAGS, &nfl);
	uc_reg_write(uc, UC_X86_REG_CS, &ncs);
	uc_reg_write(uc, UC_X86_REG_EIP, &nip);
	return 0;
}

static void on_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct ucvm_cpu *cpu = opaque;
	struct ucvm *vm = cpu->vm;
	uint64_t cr0 = 0;
	uc_reg_read(uc, UC_X86_REG_CR0, &cr0);
	if (!(cr0 & 1) && intno < 256 && !deliver_real(uc, intno)) {
		vm->interrupts++;
		return;
	}
	snprintf(vm->err, sizeof(vm->err),
		 "vCPU %u: interrupt %u in %s mode at 0x%llx", cpu->index,
		 intno, (cr0 & 1) ? "protected" : "real",
		 (unsigned long long)linear_pc(cpu));
	stop_vm(vm, UCVM_ERROR);
	uc_emu_stop(uc);
}

/*
 * CPUID as a 64-bit-capable CPU answers it: a UC_MODE_16/32 engine hides
 * long mode, and the Linux setup code refuses to go on without it.
 */
static int on_cpuid(uc_engine *uc, void *opaque)
{
	uint64_t leaf = 0, a = 0, b = 0, c = 0, d = 0;
	(void)opaque;
	uc_reg_read(uc, UC_X86_REG_EAX, &leaf);
	switch ((uint32_t)leaf) {
	case 0:
		a = 1;
		b = 0x756e6547, d = 0x49656e69, c = 0x6c65746e; /* GenuineIntel */
		break;
	case 1:
		a = 0x663;
		d = 0x078bfbff;		/* qemu64: FPU..SSE2, PAE, CX8, CMOV */
		c = 0x00002001;		/* SSE3, CX16 */
		break;
	case 0x80000000:
		a = 0x80000001;
		break;
	case 0x80000001:
		d = 0x20100800;		/* SYSCALL, NX, LM */
		c = 0x1;		/* LAHF in long mode */
		break;
	default:
		break;
	}
	uc_reg_write(uc, UC_X86_REG_EAX, &a);
	uc_reg_write(uc, UC_X86_REG_EBX, &b);
	uc_reg_write(uc, UC_X86_REG_ECX, &c);
	uc_reg_write(uc, UC_X86_REG_EDX, &d);
	return 1;			/* handled: skip the instruction */
}

static void on_stop_at(uc_engine *uc, uint64_t addr, uint32_t size,
		       void *opaque)
{
	struct ucvm_cpu *cpu = opaque;
	(void)addr;
	(void)size;
	stop_vm(cpu->vm, UCVM_STOP_AT);
	uc_emu_stop(uc);
}

static int reg_w(struct ucvm *vm, uc_engine *uc, int id, uint64_t v,
		 const char *what)
{
	uc_err e = uc_reg_write(uc, id, &v);
	if (e) {
		snprintf(vm->err, sizeof(vm->err), "unicorn refused %s: %s",
			 what, uc_strerror(e));
		return -EINVAL;
	}
	return 0;
}

static int write_msr(struct ucvm *vm, uc_engine *uc, uint32_t id, uint64_t v)
{
	uc_x86_msr msr = { .rid = id, .value = v };
	if (uc_reg_write(uc, UC_X86_REG_MSR, &msr)) {
		snprintf(vm->err, sizeof(vm->err), "unicorn refused MSR 0x%x",
			 id);
		return -EINVAL;
	}
	return 0;
}

static int load_segments(struct ucvm *vm, uc_engine *uc,
			 const struct boot_cpu_state *s)
{
	uint16_t cs = s->mode == VM_CPU_REAL ? s->real_cs : s->code_sel;
	uint16_t ds = s->mode == VM_CPU_REAL ? 0 : s->data_sel;
	static const int data_regs[] = {
		UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_SS,
		UC_X86_REG_FS, UC_X86_REG_GS,
	};
	int rc = reg_w(vm, uc, UC_X86_REG_CS, cs, "CS");
	for (size_t i = 0; !rc && i < sizeof(data_regs) / sizeof(data_regs[0]); i++)
		rc = reg_w(vm, uc, data_regs[i], ds, "a data segment");
	return rc;
}

/* Control registers first: they decide how the segment loads decode. */
static int load_state(struct ucvm *vm, uc_engine *uc,
		      const struct boot_cpu_state *s)
{
	uc_x86_mmr gdtr = { .base = s->gdt_base, .limit = s->gdt_limit };
	int rc = reg_w(vm, uc, UC_X86_REG_CR0, s->cr0, "CR0");
	if (!rc)
		rc = write_msr(vm, uc, MSR_EFER, s->efer);
	if (!rc)
		rc = reg_w(vm, uc, UC_X86_REG_CR4, s->cr4, "CR4");
	if (!rc)
		rc = reg_w(vm, uc, UC_X86_REG_CR3, s->cr3, "CR3");
	if (!rc && uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr)) {
		snprintf(vm->err, sizeof(vm->err), "unicorn refused GDTR");
		rc = -EINVAL;
	}
	if (!rc)
		rc = load_segments(vm, uc, s);
	/* a 32-bit engine ignores the R* names: use the E* ones there */
	bool w = s->mode == VM_CPU_LONG;
	const struct { int id; uint64_t v; const char *n; } g[] = {
		{ w ? UC_X86_REG_RSP : UC_X86_REG_ESP, s->rsp, "RSP" },
		{ w ? UC_X86_REG_RSI : UC_X86_REG_ESI, s->rsi, "RSI" },
		{ w ? UC_X86_REG_RDI : UC_X86_REG_EDI, s->rdi, "RDI" },
		{ w ? UC_X86_REG_RAX : UC_X86_REG_EAX, s->rax, "RAX" },
		{ w ? UC_X86_REG_RBX : UC_X86_REG_EBX, s->rbx, "RBX" },
		{ UC_X86_REG_EFLAGS, s->rflags, "EFLAGS" },
		{ w ? UC_X86_REG_RIP : UC_X86_REG_EIP, s->rip, "RIP" },
	};
	for (size_t i = 0; !rc && i < sizeof(g) / sizeof(g[0]); i++)
		rc = reg_w(vm, uc, g[i].id, g[i].v, g[i].n);
	return rc;
}

static int map_ram(struct ucvm *vm, uc_engine *uc)
{
	for (size_t i = 0; i < vm->mem.n; i++) {
		const struct guest_region *r = &vm->mem.r[i];
		uc_err e = uc_mem_map_ptr(uc, r->gpa, r->size, UC_PROT_ALL,
					  r->host);
		if (e) {
			snprintf(vm->err, sizeof(vm->err),
				 "uc_mem_map_ptr(0x%llx): %s",
				 (unsigned long long)r->gpa, uc_strerror(e));
			return -EINVAL;
		}
	}
	return 0;
}

static int cpu_create(struct ucvm *vm, unsigned i)
{
	struct ucvm_cpu *cpu = &vm->cpu[i];
	struct boot_cpu_state s;
	memset(cpu, 0, sizeof(*cpu));
	cpu->vm = vm;
	cpu->index = i;
	boot_vcpu_state(&vm->plan, i, vm->ncpus, &s);
	cpu->mode = s.mode;
	static const uc_mode modes[] = { UC_MODE_16, UC_MODE_32, UC_MODE_64 };
	if (uc_open(UC_ARCH_X86, modes[s.mode], &cpu->uc)) {
		snprintf(vm->err, sizeof(vm->err), "uc_open failed");
		cpu->uc = NULL;
		return -EINVAL;
	}
	int rc = map_ram(vm, cpu->uc);
	if (!rc && (uc_hook_add(cpu->uc, &cpu->hooks[0], UC_HOOK_INSN,
				(void *)on_out, cpu, 1, 0, UC_X86_INS_OUT) ||
		    uc_hook_add(cpu->uc, &cpu->hooks[1], UC_HOOK_INSN,
				(void *)on_in, cpu, 1, 0, UC_X86_INS_IN) ||
		    uc_hook_add(cpu->uc, &cpu->hooks[2], UC_HOOK_INTR,
				(void *)on_intr, cpu, 1, 0) ||
		    uc_hook_add(cpu->uc, &cpu->hooks[4], UC_HOOK_INSN,
				(void *)on_cpuid, cpu, 1, 0, UC_X86_INS_CPUID)))
		rc = -EINVAL;
	if (!rc && i == 0 && vm->stop_at &&
	    uc_hook_add(cpu->uc, &cpu->hooks[3], UC_HOOK_CODE,
			(void *)on_stop_at, cpu, vm->stop_at, vm->stop_at))
		rc = -EINVAL;
	if (!rc)
		rc = load_state(vm, cpu->uc, &s);
	return rc;
}

static void cpus_destroy(struct ucvm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->cpu[i].uc)
			uc_close(vm->cpu[i].uc);
		vm->cpu[i].uc = NULL;
	}
}

static int start(struct ucvm *vm)
{
	struct cv_err err = { 0 };
	int rc = boot_load(vm->cfg, &vm->mem, &vm->plan, &err);
	if (rc) {
		snprintf(vm->err, sizeof(vm->err), "boot_load: %s", err.msg);
		return rc;
	}
	vm->boot_ns = tu_now_ns();
	for (unsigned i = 0; i < vm->ncpus && !rc; i++)
		rc = cpu_create(vm, i);
	if (rc)
		cpus_destroy(vm);
	return rc;
}

int ucvm_boot(struct ucvm *vm, const struct vm_config *cfg)
{
	uint64_t stop_at = vm->stop_at;
	memset(vm, 0, sizeof(*vm));
	vm->stop_at = stop_at;
	vm->cfg = cfg;
	vm->exit_code = -1;
	vm->ncpus = cfg->cpu_num ? cfg->cpu_num : 1;
	if (vm->ncpus > UCVM_MAX_CPUS) {
		snprintf(vm->err, sizeof(vm->err), "too many vCPUs");
		return -EINVAL;
	}
	struct cv_err err = { 0 };
	int rc = guest_mem_map(&vm->mem, cfg, &err);
	if (rc) {
		snprintf(vm->err, sizeof(vm->err), "%s", err.msg);
		return rc;
	}
	rc = start(vm);
	if (rc)
		guest_mem_unmap(&vm->mem);
	return rc;
}

int ucvm_reset(struct ucvm *vm)
{
	cpus_destroy(vm);
	struct cv_err err = { 0 };
	int rc = guest_mem_clear(&vm->mem, &err);
	if (rc) {
		snprintf(vm->err, sizeof(vm->err), "%s", err.msg);
		return rc;
	}
	vm->stop = UCVM_RUNNING;
	vm->exit_code = -1;
	vm->com1_lcr = 0;
	return start(vm);
}

void ucvm_destroy(struct ucvm *vm)
{
	cpus_destroy(vm);
	guest_mem_unmap(&vm->mem);
}

uint64_t ucvm_reg(const struct ucvm *vm, unsigned i, int regid)
{
	uint64_t v = 0;
	uc_reg_read(vm->cpu[i].uc, regid, &v);
	return v;
}

/* One slice of vCPU i; marks it halted when it stopped on its own. */
static int run_slice(struct ucvm *vm, struct ucvm_cpu *cpu, uint64_t us,
		     size_t count)
{
	uint64_t rip = ucvm_reg(vm, cpu->index, cpu->mode == VM_CPU_LONG ?
				UC_X86_REG_RIP : UC_X86_REG_EIP);
	if (cpu->mode == VM_CPU_REAL && rip > 0xFFFF) {
		snprintf(vm->err, sizeof(vm->err),
			 "vCPU %u cannot resume at 0x%llx: a UC_MODE_16 engine starts at 16-bit IPs",
			 cpu->index, (unsigned long long)rip);
		return -EINVAL;
	}
	uc_err e = uc_emu_start(cpu->uc, rip, ~0ull, us, count);
	if (e) {
		snprintf(vm->err, sizeof(vm->err),
			 "vCPU %u stopped at 0x%llx: %s", cpu->index,
			 (unsigned long long)ucvm_reg(vm, cpu->index,
						      UC_X86_REG_RIP),
			 uc_strerror(e));
		return -EINVAL;
	}
	/* unicorn also returns on some mode switches: only hlt halts */
	uint8_t prev = 0;
	uc_mem_read(cpu->uc, linear_pc(cpu) - 1, &prev, 1);
	if (vm->stop == UCVM_RUNNING && prev == 0xF4)
		cpu->halted = true;	/* interrupts are off: for good */
	return 0;
}

enum ucvm_stop ucvm_run(struct ucvm *vm, unsigned max_ms)
{
	uint64_t deadline = tu_now_ns() + (uint64_t)max_ms * 1000000ull;
	vm->stop = UCVM_RUNNING;
	while (vm->stop == UCVM_RUNNING) {
		bool ran = false;
		for (unsigned i = 0; i < vm->ncpus && vm->stop == UCVM_RUNNING; i++) {
			if (vm->cpu[i].halted)
				continue;
			ran = true;
			uint64_t now = tu_now_ns(), left_us =
				now < deadline ? (deadline - now) / 1000 + 1 : 1;
			if (run_slice(vm, &vm->cpu[i], left_us,
				      vm->ncpus > 1 ? SLICE_INSNS : 0))
				vm->stop = UCVM_ERROR;
		}
		if (vm->stop != UCVM_RUNNING)
			break;
		if (!ran)
			vm->stop = UCVM_ALL_HALTED;
		else if (tu_now_ns() > deadline)
			vm->stop = UCVM_TIMEOUT;
	}
	return vm->stop;
}
