/*
 * test_linux: the Linux 16-bit entry, run on the stand-alone Unicorn VM
 * (ucvm.c, which delivers real-mode software interrupts through the IVT).
 *
 *   test_linux stub   cvisor's real-mode BIOS stub and boot stub under a
 *                     fake setup code (fake_setup.S): segment registers,
 *                     stack, the whole E820 map through INT 15h, CF on an
 *                     unsupported call.  Needs nothing.
 *   test_linux real   a stock Debian bzImage ($LINUX_BZIMAGE, fetched into
 *                     the build dir by `ninja fetch-linux`, never
 *                     committed): its setup header through the parser and
 *                     every entry's plan, then its real setup code on
 *                     Unicorn until it jumps to the 32-bit kernel entry,
 *                     checking what it printed.  Exits 77 with the reason
 *                     when the kernel is not there.
 */
#include <errno.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "bootfix.h"
#include "imgbuild.h"
#include "loader.h"
#include "testutil.h"
#include "ucvm.h"

#define MIB (1ull << 20)
#define RUN_MS 60000

extern const uint8_t fake_setup_start[], fake_setup_end[];

static struct ucvm *run_vm(const struct vm_config *cfg, uint64_t stop_at)
{
	struct ucvm *vm = calloc(1, sizeof(*vm));
	assert_non_null(vm);
	vm->stop_at = stop_at;
	if (ucvm_boot(vm, cfg))
		fail_msg("ucvm_boot: %s", vm->err);
	ucvm_run(vm, RUN_MS);
	return vm;
}

static void linux_config(struct vm_config *c, uint64_t ram)
{
	c->boot_protocol = VM_BOOT_LINUX;
	c->cpu_mode = VM_CPU_REAL;
	c->kernel_load_addr = MIB;
	c->entry_point = MIB;
	c->regions[0].size = ram;
}

/* The stub hands the setup code what boot.rst promises, and INT 15h. */
static void test_stub_with_fake_setup(void **state)
{
	struct bootfix *f = *state;
	struct ib_bz b = ib_bz_default();
	b.setup_sects = 1;
	b.pm_len = 0x1000;
	size_t len, n = (size_t)(fake_setup_end - fake_setup_start);
	uint8_t *img = ib_bzimage(&b, &len);
	assert_true(0x26c + n <= 1024);
	memcpy(img + 0x26c, fake_setup_start, n);
	bootfix_file(f, "fake.bz", img, len, f->cfg->kernel_path,
		     sizeof(f->cfg->kernel_path));
	free(img);
	linux_config(f->cfg, 32 * MIB);
	struct ucvm *vm = run_vm(f->cfg, 0);
	if (vm->stop != UCVM_EXIT)
		fail_msg("stopped with %d: %s", vm->stop, vm->err);
	assert_int_equal(vm->exit_code, 3);
	assert_true(vm->interrupts >= 4);		/* 3 x E820, 1 x E801 */
	static const uint64_t want[][3] = {
		{ 0, 0xa0000, 1 }, { 0xa0000, 0x60000, 2 },
		{ MIB, 31 * MIB, 1 },
	};
	const uint8_t *e = guest_mem_ptr(&vm->mem, 0x10800, 60);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(ib_get64(e + 20 * i), want[i][0]);
		assert_int_equal(ib_get64(e + 20 * i + 8), want[i][1]);
		assert_int_equal(ib_get32(e + 20 * i + 16), want[i][2]);
	}
	ucvm_destroy(vm);
	free(vm);
}

/* ----------------------------------------------------- the real kernel */

static const char *kernel_path(void)
{
	const char *p = getenv("LINUX_BZIMAGE");
	return p && *p ? p : "linux/vmlinuz";
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	long n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	uint8_t *buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void test_real_header(void **state)
{
	(void)state;
	size_t len;
	uint8_t *img = read_file(kernel_path(), &len);
	struct linux_hdr h;
	struct cv_err err = { 0 };
	assert_true(linux_is_bzimage(img, len));
	if (linux_parse(img, len, len, &h, &err))
		fail_msg("%s", err.msg);
	print_message("  protocol %u.%02u, setup %llu bytes, init_size 0x%x, "
		      "alignment 0x%x, pref_address 0x%llx, xloadflags 0x%x\n",
		      h.version >> 8, h.version & 0xff,
		      (unsigned long long)h.rm_size, h.init_size,
		      h.kernel_alignment, (unsigned long long)h.pref_address,
		      h.xloadflags);
	assert_true(h.version >= 0x20c);
	assert_true(h.loadflags & 0x1);
	assert_true(h.xloadflags & 0x1);
	assert_true(h.relocatable);
	assert_true(h.init_size > len - h.rm_size);
	assert_true(h.cmdline_size >= 255);
	assert_true(h.rm_size <= LOAD_RM_MAX);

	struct vm_mem_region r = { 0, 256 * MIB, 7, 0, 0 };
	struct load_in in = {
		.image = img, .image_len = len, .regions = &r, .nregions = 1,
		.cmdline = "console=ttyS0", .kernel_load_addr = MIB,
		.has_ramdisk = true, .ramdisk_size = 5 * MIB,
	};
	struct load_plan *p = malloc(sizeof(*p));
	static const enum vm_cpu_mode modes[] = {
		VM_CPU_LONG, VM_CPU_PROTECTED, VM_CPU_REAL,
	};
	for (size_t i = 0; i < 3; i++) {
		in.cpu_mode = modes[i];
		if (load_linux(&in, p, &err))
			fail_msg("%s", err.msg);
		const struct load_copy *k = &p->copy[0];
		assert_string_equal(k->what, "Linux kernel");
		assert_int_equal(k->len, len - h.rm_size);
		assert_int_equal(k->off, h.rm_size);
	}
	free(p);
	free(img);
}

/* The real setup code runs to its jump into the 32-bit kernel. */
static void test_real_setup_code(void **state)
{
	struct bootfix *f = *state;
	snprintf(f->cfg->kernel_path, sizeof(f->cfg->kernel_path), "%s",
		 kernel_path());
	linux_config(f->cfg, 256 * MIB);
	snprintf(f->cfg->cmdline, sizeof(f->cfg->cmdline),
		 "earlyprintk=serial,ttyS0,115200 console=ttyS0");
	uint64_t t0 = tu_now_ns();
	struct ucvm *vm = run_vm(f->cfg, MIB);
	uint64_t ms = (tu_now_ns() - t0) / 1000000;
	print_message("  setup code: %llu ms, %u BIOS calls, output:\n%s\n",
		      (unsigned long long)ms, vm->interrupts, vm->out);
	if (vm->stop != UCVM_STOP_AT)
		fail_msg("stopped with %d (%s) before the 32-bit entry",
			 vm->stop, vm->err);
	assert_non_null(strstr(vm->out, "Probing EDD"));
	assert_true(vm->interrupts > 10);
	/* it got there in protected mode, with boot_params in %esi */
	uint64_t cr0 = ucvm_reg(vm, 0, UC_X86_REG_CR0);
	uint64_t esi = ucvm_reg(vm, 0, UC_X86_REG_ESI);
	assert_true(cr0 & 1);
	assert_true(esi > LOAD_RM_ADDR && esi < LOAD_RM_ADDR + 0x10000);
	/* the setup code's boot_params: its e820 table came from the stub */
	const uint8_t *bp = guest_mem_ptr(&vm->mem, esi, 4096);
	assert_int_equal(bp[0x1e8], 3);
	assert_int_equal(ib_get64(bp + 0x2d0 + 40 + 8), 255 * MIB);
	assert_int_equal(ib_get32(bp + 0x228), LOAD_CMDLINE_ADDR);
	ucvm_destroy(vm);
	free(vm);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest stub[] = {
		cmocka_unit_test_setup_teardown(test_stub_with_fake_setup,
						bootfix_setup, bootfix_teardown),
	};
	const struct CMUnitTest real[] = {
		cmocka_unit_test(test_real_header),
		cmocka_unit_test_setup_teardown(test_real_setup_code,
						bootfix_setup, bootfix_teardown),
	};
	if (argc > 1 && !strcmp(argv[1], "real")) {
		struct stat st;
		if (stat(kernel_path(), &st) || !S_ISREG(st.st_mode)) {
			printf("SKIP: no Linux kernel at %s (run `ninja fetch-linux` in the build dir: apt-get download linux-image-cloud-amd64)\n",
			       kernel_path());
			return 77;
		}
		return cmocka_run_group_tests_name("linux-real", real, NULL,
						   NULL);
	}
	return cmocka_run_group_tests_name("linux-stub", stub, NULL, NULL);
}
