/*
 * test_vmconfig: the VM config loader (src/config/vmconfig.c) and the
 * `cvisor config check` command.  Bad configs each assert the exact
 * sentence the user sees; good configs assert every parsed field; printed
 * configs must load back into an equal struct.
 *
 * CFG_DIR (absolute, set by meson) holds the config files and the small
 * images they reference.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "builtin.h"
#include "config_check.h"
#include "vmconfig.h"

#ifndef CFG_DIR
#error "CFG_DIR must name tests/config/cfg"
#endif

/* ------------------------------------------------------------ helpers */

static struct vm_config *new_cfg(void)
{
	struct vm_config *cfg = calloc(1, sizeof(*cfg));
	assert_non_null(cfg);
	return cfg;
}

static int load_lim(const char *text, struct vm_config *cfg,
		    struct vmcfg_diags *d, const struct vmcfg_limits *lim)
{
	memset(d, 0, sizeof(*d));
	return vmcfg_load_string(text, strlen(text), "vm.toml", CFG_DIR, cfg,
				 d, lim);
}

static int load(const char *text, struct vm_config *cfg,
		struct vmcfg_diags *d)
{
	return load_lim(text, cfg, d, NULL);
}

static void dump(const struct vmcfg_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "    %s: %s\n",
			d->items[i].is_error ? "error" : "warning",
			d->items[i].msg);
}

static const struct vmcfg_diag *find_msg(const struct vmcfg_diags *d,
					 bool is_error, const char *msg)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->items[i].is_error == is_error &&
		    !strcmp(d->items[i].msg, msg))
			return &d->items[i];
	return NULL;
}

static void expect_msg(const struct vmcfg_diags *d, bool is_error,
		       const char *msg)
{
	if (!find_msg(d, is_error, msg)) {
		fprintf(stderr, "  missing %s: %s\n  got:\n",
			is_error ? "error" : "warning", msg);
		dump(d);
		fail();
	}
}

static void expect_clean(int ret, const struct vmcfg_diags *d)
{
	if (ret != 0 || d->n != 0) {
		fprintf(stderr, "  expected a clean load, ret %d:\n", ret);
		dump(d);
		fail();
	}
}

/* Every field except where it came from (path, line numbers). */
static void assert_cfg_equal(const struct vm_config *a,
			     const struct vm_config *b)
{
	assert_int_equal(a->has_id, b->has_id);
	assert_int_equal(a->id, b->id);
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->vm_type, b->vm_type);
	assert_int_equal(a->cpu_num, b->cpu_num);
	assert_int_equal(a->n_phys_cpu_ids, b->n_phys_cpu_ids);
	for (size_t i = 0; i < a->n_phys_cpu_ids; i++)
		assert_int_equal(a->phys_cpu_ids[i], b->phys_cpu_ids[i]);
	assert_int_equal(a->n_phys_cpu_sets, b->n_phys_cpu_sets);
	for (size_t i = 0; i < a->n_phys_cpu_sets; i++)
		assert_int_equal(a->phys_cpu_sets[i], b->phys_cpu_sets[i]);
	assert_int_equal(a->accel, b->accel);
	assert_int_equal(a->on_reboot, b->on_reboot);
	assert_int_equal(a->entry_point, b->entry_point);
	assert_int_equal(a->image_location, b->image_location);
	assert_string_equal(a->kernel_path, b->kernel_path);
	assert_int_equal(a->kernel_load_addr, b->kernel_load_addr);
	assert_int_equal(a->has_bios, b->has_bios);
	assert_string_equal(a->bios_path, b->bios_path);
	assert_int_equal(a->bios_load_addr, b->bios_load_addr);
	assert_int_equal(a->has_ramdisk, b->has_ramdisk);
	assert_string_equal(a->ramdisk_path, b->ramdisk_path);
	assert_int_equal(a->ramdisk_load_addr, b->ramdisk_load_addr);
	assert_int_equal(a->has_dtb, b->has_dtb);
	assert_string_equal(a->dtb_path, b->dtb_path);
	assert_int_equal(a->dtb_load_addr, b->dtb_load_addr);
	assert_string_equal(a->cmdline, b->cmdline);
	assert_int_equal(a->boot_protocol, b->boot_protocol);
	assert_int_equal(a->cpu_mode, b->cpu_mode);
	assert_int_equal(a->n_regions, b->n_regions);
	for (size_t i = 0; i < a->n_regions; i++) {
		assert_int_equal(a->regions[i].gpa, b->regions[i].gpa);
		assert_int_equal(a->regions[i].size, b->regions[i].size);
		assert_int_equal(a->regions[i].flags, b->regions[i].flags);
		assert_int_equal(a->regions[i].map_type, b->regions[i].map_type);
	}
	assert_int_equal(a->interrupt_mode, b->interrupt_mode);
	assert_int_equal(a->n_emu_devices, b->n_emu_devices);
	for (size_t i = 0; i < a->n_emu_devices; i++) {
		const struct vm_emu_device *x = &a->emu_devices[i];
		const struct vm_emu_device *y = &b->emu_devices[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->base, y->base);
		assert_int_equal(x->len, y->len);
		assert_int_equal(x->irq, y->irq);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->ncfg, y->ncfg);
		for (size_t j = 0; j < x->ncfg; j++)
			assert_int_equal(x->cfg[j], y->cfg[j]);
	}
	assert_int_equal(a->n_passthrough_devices, b->n_passthrough_devices);
	for (size_t i = 0; i < a->n_passthrough_devices; i++) {
		const struct vm_passthrough_device *x = &a->passthrough_devices[i];
		const struct vm_passthrough_device *y = &b->passthrough_devices[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->base_gpa, y->base_gpa);
		assert_int_equal(x->base_hpa, y->base_hpa);
		assert_int_equal(x->len, y->len);
		assert_int_equal(x->irq, y->irq);
		assert_int_equal(x->applicable, y->applicable);
	}
}

/* Print cfg, load the text again (from another directory), compare. */
static void assert_round_trip(const struct vm_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	vmcfg_print(f, cfg);
	assert_int_equal(fclose(f), 0);

	struct vm_config *again = new_cfg();
	struct vmcfg_diags d = { 0 };
	int ret = vmcfg_load_string(text, len, "printed.toml", "/", again, &d,
				    NULL);
	if (ret != 0 || d.n_errors) {
		fprintf(stderr, "  printed config does not load:\n%s\n", text);
		dump(&d);
		fail();
	}
	assert_cfg_equal(cfg, again);
	vmcfg_diags_free(&d);
	free(again);
	free(text);
}

/* ------------------------------------------------ bad configs (table) */

#define BASE "[base]\nname = \"t\"\ncpu_num = 1\n"		/* lines 1-3 */
#define KHEAD "[kernel]\n"					/* line 4 */
#define K_ENTRY "entry_point = 0x200000\n"			/* line 5 */
#define K_PATH "kernel_path = \"images/kernel.bin\"\n"		/* line 6 */
#define K_ADDR "kernel_load_addr = 0x200000\n"			/* line 7 */
#define K_REGIONS "memory_regions = [[0x0, 0x1000000, 0x7, 0]]\n" /* line 8 */
#define KERNEL KHEAD K_ENTRY K_PATH K_ADDR K_REGIONS
#define DEVS BASE KERNEL "[devices]\n"				/* line 9 */
#define KREG(r) BASE KHEAD K_ENTRY K_PATH K_ADDR "memory_regions = " r "\n"
#define A64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DEV_TYPES "(0x1 interrupt controller, 0x2 console, 0xe1 virtio-blk, " \
	"0xe2 virtio-net, 0xe3 virtio-console, 0xf0 i8042, 0xf1 debug-exit, " \
	"0xf2 boot-timer)"

enum match { EXACT, PREFIX_SUFFIX, SYNTAX };

struct bad_case {
	const char *name;
	const char *toml;
	const char *expect;	/* EXACT: the message; else its prefix */
	size_t n_errors;	/* exactly this many errors */
	enum match match;
	const char *suffix;	/* PREFIX_SUFFIX */
	struct vmcfg_limits limits;
};

/* Rows name only the fields they need; the rest are zero on purpose. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct bad_case bad_cases[] = {
	/* [base] */
	{ "name-type", "[base]\nname = 5\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] name: expected string, got integer", 1 },
	{ "name-empty", "[base]\nname = \"\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] name: expected a non-empty name, got \"\"", 1 },
	{ "name-too-long", "[base]\nname = \"" A64 "\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] name: expected at most 63 bytes, got 64 bytes", 1 },
	{ "name-control-char", "[base]\nname = \"a\\nb\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] name: expected printable characters without '/', got \"a\\x0ab\"",
	  1 },
	{ "name-slash", "[base]\nname = \"../etc\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] name: expected printable characters without '/', got \"../etc\"",
	  1 },
	{ "cpu-num-zero", "[base]\nname = \"t\"\ncpu_num = 0\n" KERNEL,
	  "vm.toml:3: [base] cpu_num: expected an integer in 1..64, got 0", 1 },
	{ "cpu-num-65", "[base]\nname = \"t\"\ncpu_num = 65\n" KERNEL,
	  "vm.toml:3: [base] cpu_num: expected an integer in 1..64, got 65", 1 },
	{ "cpu-num-string", "[base]\nname = \"t\"\ncpu_num = \"1\"\n" KERNEL,
	  "vm.toml:3: [base] cpu_num: expected integer, got string", 1 },
	{ "cpu-num-host-limit", "[base]\nname = \"t\"\ncpu_num = 4\n" KERNEL,
	  "vm.toml:3: [base] cpu_num: expected an integer in 1..2, got 4", 1,
	  EXACT, NULL, { .max_vcpus = 2 } },
	{ "id-negative", "[base]\nid = -1\nname = \"t\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] id: expected a non-negative integer, got -1", 1 },
	{ "id-range", "[base]\nid = 70000\nname = \"t\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] id: expected at most 65535, got 70000", 1 },
	{ "vm-type", "[base]\nvm_type = 3\nname = \"t\"\ncpu_num = 1\n" KERNEL,
	  "vm.toml:2: [base] vm_type: expected at most 2, got 3", 1 },
	{ "phys-cpu-sets-length",
	  "[base]\nname = \"t\"\ncpu_num = 2\nphys_cpu_sets = [1]\n" KERNEL,
	  "vm.toml:4: [base] phys_cpu_sets: expected 2 entries (one per vCPU, cpu_num = 2), got 1",
	  1 },
	{ "phys-cpu-sets-zero", BASE "phys_cpu_sets = [0]\n" KERNEL,
	  "vm.toml:4: [base] phys_cpu_sets[0]: expected a non-zero CPU bitmask, got 0x0",
	  1 },
	{ "phys-cpu-ids-length", BASE "phys_cpu_ids = [0, 1]\n" KERNEL,
	  "vm.toml:4: [base] phys_cpu_ids: expected 1 entry (one per vCPU, cpu_num = 1), got 2",
	  1 },
	{ "accel", BASE "accel = \"fast\"\n" KERNEL,
	  "vm.toml:4: [base] accel: expected one of \"auto\", \"kvm\", \"emu\", got \"fast\"",
	  1 },
	{ "on-reboot", BASE "on_reboot = \"halt\"\n" KERNEL,
	  "vm.toml:4: [base] on_reboot: expected one of \"reset\", \"stop\", got \"halt\"",
	  1 },
	{ "name-missing", "[base]\ncpu_num = 1\n" KERNEL,
	  "vm.toml:1: [base] name: missing required key, expected string", 1 },
	{ "base-missing", KERNEL,
	  "vm.toml:1: [base]: missing required table, expected a table with name and cpu_num",
	  1 },
	{ "base-not-table", "base = 5\n" KERNEL,
	  "vm.toml:1: [base]: expected table, got integer", 1 },

	/* [kernel] */
	{ "entry-string",
	  BASE KHEAD "entry_point = \"0x8000\"\n" K_PATH K_ADDR K_REGIONS,
	  "vm.toml:5: [kernel] entry_point: expected integer, got string", 1 },
	{ "entry-float", BASE KHEAD "entry_point = 1.5\n" K_PATH K_ADDR K_REGIONS,
	  "vm.toml:5: [kernel] entry_point: expected integer, got float", 1 },
	{ "entry-missing", BASE KHEAD K_PATH K_ADDR K_REGIONS,
	  "vm.toml:4: [kernel] entry_point: missing required key, expected integer",
	  1 },
	{ "kernel-path-missing", BASE KHEAD K_ENTRY K_ADDR K_REGIONS,
	  "vm.toml:4: [kernel] kernel_path: missing required key, expected string",
	  1 },
	{ "regions-missing", BASE KHEAD K_ENTRY K_PATH K_ADDR,
	  "vm.toml:4: [kernel] memory_regions: missing required key, expected array",
	  1 },
	{ "image-location",
	  BASE KHEAD "image_location = \"disk\"\n" K_ENTRY K_PATH K_ADDR K_REGIONS,
	  "vm.toml:5: [kernel] image_location: expected one of \"fs\", \"memory\", got \"disk\"",
	  1 },
	{ "boot-protocol",
	  BASE KHEAD "boot_protocol = \"bzimage\"\n" K_ENTRY K_PATH K_ADDR K_REGIONS,
	  "vm.toml:5: [kernel] boot_protocol: expected one of \"auto\", \"raw\", \"multiboot\", \"elf\", \"pvh\", \"linux\", got \"bzimage\"",
	  1 },
	{ "cpu-mode",
	  BASE KHEAD "cpu_mode = \"virtual\"\n" K_ENTRY K_PATH K_ADDR K_REGIONS,
	  "vm.toml:5: [kernel] cpu_mode: expected one of \"real\", \"protected\", \"long\", got \"virtual\"",
	  1 },
	{ "kernel-path-empty",
	  BASE KHEAD K_ENTRY "kernel_path = \"\"\n" K_ADDR K_REGIONS,
	  "vm.toml:6: [kernel] kernel_path: expected a non-empty path, got \"\"", 1 },
	{ "kernel-path-type", BASE KHEAD K_ENTRY "kernel_path = 7\n" K_ADDR K_REGIONS,
	  "vm.toml:6: [kernel] kernel_path: expected string, got integer", 1 },
	{ "kernel-file-missing",
	  BASE KHEAD K_ENTRY "kernel_path = \"images/nope.bin\"\n" K_ADDR K_REGIONS,
	  "vm.toml:6: [kernel] kernel_path: cannot read \"" CFG_DIR
	  "/images/nope.bin\": No such file or directory", 1 },
	{ "kernel-is-directory",
	  BASE KHEAD K_ENTRY "kernel_path = \"images\"\n" K_ADDR K_REGIONS,
	  "vm.toml:6: [kernel] kernel_path: expected a regular file, got a directory \""
	  CFG_DIR "/images\"", 1 },
	{ "kernel-file-empty",
	  BASE KHEAD K_ENTRY "kernel_path = \"images/empty.bin\"\n" K_ADDR K_REGIONS,
	  "vm.toml:6: [kernel] kernel_path: expected a non-empty file, got an empty file \""
	  CFG_DIR "/images/empty.bin\"", 1 },
	{ "kernel-path-through-file",
	  BASE KHEAD K_ENTRY "kernel_path = \"images/kernel.bin/x\"\n" K_ADDR K_REGIONS,
	  "vm.toml:6: [kernel] kernel_path: cannot read \"" CFG_DIR
	  "/images/kernel.bin/x\": Not a directory", 1 },
	{ "builtin-unknown",
	  BASE KHEAD "image_location = \"memory\"\n" K_ENTRY
	  "kernel_path = \"no-such-image\"\n" K_ADDR K_REGIONS,
	  "vm.toml:7: [kernel] kernel_path: expected the name of a built-in image (image_location is \"memory\"; ",
	  1, PREFIX_SUFFIX, "), got \"no-such-image\"" },
	{ "ramdisk-without-addr", BASE KERNEL "ramdisk_path = \"images/initrd.img\"\n",
	  "vm.toml:9: [kernel] ramdisk_load_addr: missing required key when ramdisk_path is set, expected integer",
	  1 },
	{ "dtb-file-missing",
	  BASE KERNEL "dtb_path = \"images/none.dtb\"\ndtb_load_addr = 0x800000\n",
	  "vm.toml:9: [kernel] dtb_path: cannot read \"" CFG_DIR
	  "/images/none.dtb\": No such file or directory", 1 },
	{ "kernel-does-not-fit",
	  BASE KHEAD K_ENTRY K_PATH "kernel_load_addr = 0xfff800\n" K_REGIONS,
	  "vm.toml:7: [kernel] kernel_load_addr: kernel image 0xfff800+0x1000 does not fit in RAM region 0 (0x0+0x1000000)",
	  1 },
	{ "kernel-outside-ram",
	  BASE KHEAD K_ENTRY K_PATH "kernel_load_addr = 0x2000000\n" K_REGIONS,
	  "vm.toml:7: [kernel] kernel_load_addr: kernel image 0x2000000+0x1000 is not inside a RAM region",
	  1 },
	{ "kernel-addr-negative",
	  BASE KHEAD K_ENTRY K_PATH "kernel_load_addr = -1\n" K_REGIONS,
	  "vm.toml:7: [kernel] kernel_load_addr: expected a non-negative integer, got -1",
	  1 },
	{ "entry-outside-ram",
	  BASE KHEAD "entry_point = 0x2000000\n" K_PATH K_ADDR K_REGIONS,
	  "vm.toml:5: [kernel] entry_point: expected an address inside a RAM region, got 0x2000000",
	  1 },
	{ "entry-above-real-mode-with-bios",
	  BASE KERNEL "bios_path = \"images/bios.bin\"\n",
	  "vm.toml:5: [kernel] entry_point: expected an address below 0x100000 (the vCPU starts in real mode because bios_path is set), got 0x200000",
	  1 },
	{ "entry-above-real-mode-raw", BASE KERNEL "boot_protocol = \"raw\"\n",
	  "vm.toml:5: [kernel] entry_point: expected an address below 0x100000 (the vCPU starts in real mode with boot_protocol \"raw\" and cpu_mode \"real\"), got 0x200000",
	  1 },
	{ "bios-overlaps-kernel",
	  BASE KHEAD "entry_point = 0x8000\n" K_PATH K_ADDR K_REGIONS
	  "bios_path = \"images/bios.bin\"\nbios_load_addr = 0x200800\n",
	  "vm.toml:10: [kernel] bios_load_addr: bios image 0x200800+0x200 overlaps the kernel image (0x200000+0x1000)",
	  1 },
	{ "region-gpa-unaligned", KREG("[[0x800, 0x1000000, 0x7, 0]]"),
	  "vm.toml:8: [kernel] memory_regions[0].gpa: expected a multiple of 0x1000 (4 KiB), got 0x800",
	  1 },
	{ "region-size-unaligned", KREG("[[0x0, 0x1000001, 0x7, 0]]"),
	  "vm.toml:8: [kernel] memory_regions[0].size: expected a multiple of 0x1000 (4 KiB), got 0x1000001",
	  1 },
	{ "region-size-zero", KREG("[[0x0, 0, 0x7, 0]]"),
	  "vm.toml:8: [kernel] memory_regions[0].size: expected a size above 0, got 0x0",
	  1 },
	{ "region-size-negative", KREG("[[0x0, -4096, 0x7, 0]]"),
	  "vm.toml:8: [kernel] memory_regions[0].size: expected a non-negative integer, got -4096",
	  1 },
	{ "region-flags", KREG("[[0x0, 0x1000000, 0x40, 0]]"),
	  "vm.toml:8: [kernel] memory_regions[0].flags: expected a subset of 0x3f (READ 0x1, WRITE 0x2, EXECUTE 0x4, USER 0x8, DEVICE 0x10, UNCACHED 0x20), got 0x40",
	  1 },
	{ "region-map-type", KREG("[[0x0, 0x1000000, 0x7, 3]]"),
	  "vm.toml:8: [kernel] memory_regions[0].map_type: expected 0 (allocate), 1 (identical) or 2 (reserved), got 3",
	  1 },
	{ "region-overlap",
	  KREG("[\n  [0x0, 0x1000000, 0x7, 0],\n  [0x100000, 0x100000, 0x7, 0],\n]"),
	  "vm.toml:10: [kernel] memory_regions[1]: region 0x100000+0x100000 overlaps region 0 (0x0+0x1000000)",
	  1 },
	{ "regions-only-reserved", KREG("[[0x0, 0x1000000, 0x7, 2]]"),
	  "vm.toml:8: [kernel] memory_regions: expected at least one RAM region (map_type 0 or 1), got only reserved regions",
	  3 },
	{ "regions-empty", KREG("[]"),
	  "vm.toml:8: [kernel] memory_regions: expected at least one RAM region (map_type 0 or 1), got none",
	  3 },
	{ "region-shape", KREG("[[0x0, 0x1000]]"),
	  "vm.toml:8: [kernel] memory_regions[0]: expected an array of 4 integers [gpa, size, flags, map_type], got an array of 2 elements",
	  1 },
	{ "region-not-array", KREG("[5]"),
	  "vm.toml:8: [kernel] memory_regions[0]: expected an array of 4 integers [gpa, size, flags, map_type], got integer",
	  1 },
	{ "regions-not-array", KREG("\"big\""),
	  "vm.toml:8: [kernel] memory_regions: expected array, got string", 1 },
	{ "region-beyond-phys-limit",
	  KREG("[[0x10000000000000, 0x1000, 0x7, 0], [0x0, 0x1000000, 0x7, 0]]"),
	  "vm.toml:8: [kernel] memory_regions[0]: expected a region ending at or below 0x10000000000000 (the x86 physical address limit), got 0x10000000000000+0x1000",
	  1 },
	{ "total-memory-host-limit", BASE KERNEL,
	  "vm.toml:8: [kernel] memory_regions: expected at most 0x800000 bytes of RAM in total (the host limit, 8 MiB), got 0x1000000 (16 MiB)",
	  1, EXACT, NULL, { .max_total_memory = 8u << 20 } },
	{ "cmdline-nul", BASE KERNEL "cmdline = \"a\\u0000b\"\n",
	  "vm.toml:9: [kernel] cmdline: expected a string without NUL characters, got \"a\\x00b\"",
	  1 },
	{ "kernel-not-table", "kernel = [1]\n" BASE,
	  "vm.toml:1: [kernel]: expected table, got array", 1 },
	{ "kernel-missing", BASE,
	  "vm.toml:1: [kernel]: missing required table, expected a table with entry_point, kernel_path, kernel_load_addr and memory_regions",
	  1 },

	/* [devices] */
	{ "interrupt-mode", DEVS "interrupt_mode = \"msi\"\n",
	  "vm.toml:10: [devices] interrupt_mode: expected one of \"no_irq\", \"emu\", \"passthrough\", got \"msi\"",
	  1 },
	{ "emu-type", DEVS "emu_devices = [[\"x\", 0x3f8, 8, 4, 0x99, []]]\n",
	  "vm.toml:10: [devices] emu_devices[0].type: expected a known device type "
	  DEV_TYPES ", got 0x99", 1 },
	{ "emu-len-zero", DEVS "emu_devices = [[\"com1\", 0x3f8, 0, 4, 0x2, []]]\n",
	  "vm.toml:10: [devices] emu_devices[0].len: expected a length above 0, got 0x0",
	  1 },
	{ "emu-port-range",
	  DEVS "emu_devices = [[\"com1\", 0xfff8, 0x10, 4, 0x2, []]]\n",
	  "vm.toml:10: [devices] emu_devices[0]: expected a port range ending at or below 0x10000 (a port I/O device), got 0xfff8+0x10",
	  1 },
	{ "emu-shape", DEVS "emu_devices = [[\"com1\", 0x3f8, 8, 4, 0x2]]\n",
	  "vm.toml:10: [devices] emu_devices[0]: expected an array [name, base, len, irq, type, [cfg...]], got an array of 5 elements",
	  1 },
	{ "emu-name-too-long",
	  DEVS "emu_devices = [[\"" A32 "\", 0x3f8, 8, 4, 0x2, []]]\n",
	  "vm.toml:10: [devices] emu_devices[0].name: expected at most 31 bytes, got 32 bytes",
	  1 },
	{ "emu-name-duplicate",
	  DEVS "emu_devices = [\n  [\"com1\", 0x3f8, 8, 4, 0x2, []],\n"
	  "  [\"com1\", 0x2f8, 8, 3, 0x2, []],\n]\n",
	  "vm.toml:12: [devices] emu_devices[1]: expected a unique name, got \"com1\" (also used by emu_devices[0])",
	  1 },
	{ "emu-port-overlap",
	  DEVS "emu_devices = [\n  [\"com1\", 0x3f8, 8, 4, 0x2, []],\n"
	  "  [\"com1b\", 0x3fc, 8, 3, 0x2, []],\n]\n",
	  "vm.toml:12: [devices] emu_devices[1]: port range 0x3fc+0x8 overlaps emu_devices[0] \"com1\" (0x3f8+0x8)",
	  1 },
	{ "emu-mmio-overlaps-ram",
	  DEVS "emu_devices = [[\"blk\", 0x100000, 0x200, 5, 0xe1, []]]\n",
	  "vm.toml:10: [devices] emu_devices[0]: MMIO range 0x100000+0x200 overlaps RAM region 0 (0x0+0x1000000)",
	  1 },
	{ "emu-irq", DEVS "emu_devices = [[\"com1\", 0x3f8, 8, 256, 0x2, []]]\n",
	  "vm.toml:10: [devices] emu_devices[0].irq: expected at most 255, got 256",
	  1 },
	{ "emu-cfg-too-long",
	  DEVS "emu_devices = [[\"c\", 0x3f8, 8, 4, 0x2, [1,2,3,4,5,6,7,8,9]]]\n",
	  "vm.toml:10: [devices] emu_devices[0].cfg: expected at most 8 values, got 9",
	  1 },
	{ "emu-cfg-negative",
	  DEVS "emu_devices = [[\"c\", 0x3f8, 8, 4, 0x2, [1, -1]]]\n",
	  "vm.toml:10: [devices] emu_devices[0].cfg[1]: expected a non-negative integer, got -1",
	  1 },
	{ "emu-not-array", DEVS "emu_devices = 5\n",
	  "vm.toml:10: [devices] emu_devices: expected array, got integer", 1 },
	{ "passthrough-shape",
	  DEVS "passthrough_devices = [[\"IO APIC\", 0xfec00000, 0x1000]]\n",
	  "vm.toml:10: [devices] passthrough_devices[0]: expected an array [name, base_gpa, base_hpa, len, irq], got an array of 3 elements",
	  1 },
	{ "passthrough-len-zero",
	  DEVS "passthrough_devices = [[\"IO APIC\", 0xfec00000, 0xfec00000, 0, 1]]\n",
	  "vm.toml:10: [devices] passthrough_devices[0].len: expected a length above 0, got 0x0",
	  1 },
	{ "passthrough-overlaps-ram",
	  DEVS "passthrough_devices = [[\"low\", 0x1000, 0x1000, 0x1000, 1]]\n",
	  "vm.toml:10: [devices] passthrough_devices[0]: range 0x1000+0x1000 overlaps RAM region 0 (0x0+0x1000000)",
	  1 },
	{ "devices-not-table", "devices = \"x\"\n" BASE KERNEL,
	  "vm.toml:1: [devices]: expected table, got string", 1 },

	/* TOML syntax: file:line:col: parser message */
	{ "syntax-unterminated-string", "[base]\nname = \"t\ncpu_num = 1\n",
	  "vm.toml:2:", 1, SYNTAX },
	{ "integer-beyond-64-bit",
	  "[base]\nname = \"t\"\ncpu_num = 18446744073709551616\n" KERNEL,
	  "vm.toml:3:", 1, SYNTAX },
	{ "duplicate-key", "[base]\nname = \"t\"\nname = \"u\"\n" KERNEL,
	  "vm.toml:3:", 1, SYNTAX },
};
#pragma GCC diagnostic pop

static bool matches(const struct bad_case *bc, const char *msg)
{
	size_t plen = strlen(bc->expect);

	switch (bc->match) {
	case EXACT:
		return !strcmp(msg, bc->expect);
	case PREFIX_SUFFIX: {
		size_t mlen = strlen(msg), slen = strlen(bc->suffix);
		return !strncmp(msg, bc->expect, plen) && mlen >= plen + slen &&
		       !strcmp(msg + mlen - slen, bc->suffix);
	}
	case SYNTAX: {
		/* "vm.toml:L:" then a column, ": " and a non-empty message */
		const char *p = msg + plen;
		if (strncmp(msg, bc->expect, plen) || *p < '1' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
		return p[0] == ':' && p[1] == ' ' && p[2];
	}
	}
	return false;
}

static void test_bad_case(void **state)
{
	const struct bad_case *bc = *state;
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;

	int ret = load_lim(bc->toml, cfg, &d, &bc->limits);
	bool found = false;
	for (size_t i = 0; i < d.n; i++)
		found |= d.items[i].is_error && matches(bc, d.items[i].msg);
	if (ret != -EINVAL || !found || d.n_errors != bc->n_errors) {
		fprintf(stderr, "  case %s: ret %d, %zu error(s), want -EINVAL, %zu, and:\n  %s%s\n  got:\n",
			bc->name, ret, d.n_errors, bc->n_errors, bc->expect,
			bc->suffix ? bc->suffix : "");
		dump(&d);
		fail();
	}
	vmcfg_diags_free(&d);
	free(cfg);
}

/* Built by hand: 33 regions is one more than the struct holds. */
static void test_too_many_regions(void **state)
{
	char text[4096];
	size_t o = (size_t)snprintf(text, sizeof(text), "%s",
				    BASE KHEAD K_ENTRY K_PATH K_ADDR
				    "memory_regions = [");
	(void)state;
	for (int i = 0; i < VMCFG_MAX_REGIONS + 1; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "[0x%x, 0x1000000, 0x7, 0],", i * 0x1000000);
	snprintf(text + o, sizeof(text) - o, "]\n");

	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;
	assert_int_equal(load(text, cfg, &d), -EINVAL);
	expect_msg(&d, true,
		   "vm.toml:8: [kernel] memory_regions: expected at most 32 regions, got 33");
	assert_int_equal(d.n_errors, 1);
	vmcfg_diags_free(&d);
	free(cfg);
}

/* Errors are collected, not stopped at the first one. */
static void test_collects_all_errors(void **state)
{
	static const char text[] =
		"[base]\n"
		"name = 5\n"			/* 2 */
		"cpu_num = 0\n"			/* 3 */
		"accel = \"turbo\"\n"		/* 4 */
		"[kernel]\n"			/* 5 */
		"entry_point = \"x\"\n"		/* 6 */
		"kernel_path = \"images/kernel.bin\"\n"
		"kernel_load_addr = 0x200000\n"
		"memory_regions = [[0x0, 0x1001, 0x7, 0]]\n"	/* 9 */
		"[devices]\n"
		"interrupt_mode = \"y\"\n";	/* 11 */
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;

	(void)state;
	assert_int_equal(load(text, cfg, &d), -EINVAL);
	expect_msg(&d, true, "vm.toml:2: [base] name: expected string, got integer");
	expect_msg(&d, true, "vm.toml:3: [base] cpu_num: expected an integer in 1..64, got 0");
	expect_msg(&d, true, "vm.toml:4: [base] accel: expected one of \"auto\", \"kvm\", \"emu\", got \"turbo\"");
	expect_msg(&d, true, "vm.toml:6: [kernel] entry_point: expected integer, got string");
	expect_msg(&d, true, "vm.toml:9: [kernel] memory_regions[0].size: expected a multiple of 0x1000 (4 KiB), got 0x1001");
	expect_msg(&d, true, "vm.toml:11: [devices] interrupt_mode: expected one of \"no_irq\", \"emu\", \"passthrough\", got \"y\"");
	assert_int_equal(d.n_errors, 6);
	assert_int_equal(d.n, 6);
	/* reported top to bottom, whatever order the checks ran in */
	for (size_t i = 1; i < d.n; i++)
		assert_true(d.items[i - 1].line <= d.items[i].line);
	vmcfg_diags_free(&d);
	free(cfg);
}

/* ------------------------------------------------------- good configs */

static void test_minimal_defaults(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;

	(void)state;
	int ret = load(BASE KERNEL, cfg, &d);
	expect_clean(ret, &d);
	assert_string_equal(cfg->name, "t");
	assert_int_equal(cfg->cpu_num, 1);
	assert_false(cfg->has_id);
	assert_int_equal(cfg->vm_type, 1);
	assert_int_equal(cfg->accel, VM_ACCEL_AUTO);
	assert_int_equal(cfg->on_reboot, VM_ON_REBOOT_RESET);
	assert_int_equal(cfg->image_location, VM_IMAGE_FS);
	assert_int_equal(cfg->boot_protocol, VM_BOOT_AUTO);
	assert_int_equal(cfg->cpu_mode, VM_CPU_REAL);
	assert_int_equal(cfg->interrupt_mode, VM_IRQ_NONE);
	assert_int_equal(cfg->entry_point, 0x200000);
	assert_int_equal(cfg->kernel_load_addr, 0x200000);
	assert_string_equal(cfg->kernel_path, CFG_DIR "/images/kernel.bin");
	assert_false(cfg->has_bios);
	assert_false(cfg->has_ramdisk);
	assert_false(cfg->has_dtb);
	assert_string_equal(cfg->cmdline, "");
	assert_int_equal(cfg->n_regions, 1);
	assert_int_equal(cfg->regions[0].gpa, 0);
	assert_int_equal(cfg->regions[0].size, 0x1000000);
	assert_int_equal(cfg->regions[0].flags, 0x7);
	assert_int_equal(cfg->regions[0].map_type, VM_MAP_ALLOC);
	assert_int_equal(cfg->regions[0].line, 8);
	assert_int_equal(cfg->n_emu_devices, 0);
	assert_int_equal(cfg->n_passthrough_devices, 0);
	assert_string_equal(cfg->path, "");
	assert_int_equal(vmcfg_total_memory(cfg), 0x1000000);
	assert_round_trip(cfg);
	vmcfg_diags_free(&d);
	free(cfg);
}

static void test_full_file(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };

	(void)state;
	int ret = vmcfg_load_file(CFG_DIR "/full.toml", cfg, &d, NULL);
	expect_clean(ret, &d);
	assert_string_equal(cfg->path, CFG_DIR "/full.toml");
	assert_true(cfg->has_id);
	assert_int_equal(cfg->id, 7);
	assert_string_equal(cfg->name, "full-guest");
	assert_int_equal(cfg->vm_type, 2);
	assert_int_equal(cfg->cpu_num, 2);
	assert_int_equal(cfg->n_phys_cpu_ids, 2);
	assert_int_equal(cfg->phys_cpu_ids[1], 1);
	assert_int_equal(cfg->n_phys_cpu_sets, 2);
	assert_int_equal(cfg->phys_cpu_sets[0], 0x1);
	assert_int_equal(cfg->phys_cpu_sets[1], 0x2);
	assert_int_equal(cfg->accel, VM_ACCEL_EMU);
	assert_int_equal(cfg->on_reboot, VM_ON_REBOOT_STOP);
	assert_int_equal(cfg->entry_point, 0x8000);
	assert_int_equal(cfg->image_location, VM_IMAGE_FS);
	assert_string_equal(cfg->kernel_path, CFG_DIR "/images/kernel.bin");
	assert_int_equal(cfg->kernel_load_addr, 0x200000);
	assert_true(cfg->has_bios);
	assert_string_equal(cfg->bios_path, CFG_DIR "/images/bios.bin");
	assert_int_equal(cfg->bios_load_addr, 0x8000);
	assert_true(cfg->has_ramdisk);
	assert_string_equal(cfg->ramdisk_path, CFG_DIR "/images/initrd.img");
	assert_int_equal(cfg->ramdisk_load_addr, 0x1000000);
	assert_true(cfg->has_dtb);
	assert_string_equal(cfg->dtb_path, CFG_DIR "/images/guest.dtb");
	assert_int_equal(cfg->dtb_load_addr, 0x800000);
	assert_string_equal(cfg->cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg->boot_protocol, VM_BOOT_MULTIBOOT);
	assert_int_equal(cfg->cpu_mode, VM_CPU_REAL);
	assert_int_equal(cfg->n_regions, 3);
	assert_int_equal(cfg->regions[1].gpa, 0x1000000);
	assert_int_equal(cfg->regions[1].flags, 0x3);
	assert_int_equal(cfg->regions[1].map_type, VM_MAP_IDENTICAL);
	assert_int_equal(cfg->regions[2].gpa, 0xe0000000);
	assert_int_equal(cfg->regions[2].flags, VM_MEM_READ | VM_MEM_WRITE | VM_MEM_DEVICE);
	assert_int_equal(cfg->regions[2].map_type, VM_MAP_RESERVED);
	assert_int_equal(vmcfg_total_memory(cfg), 0x2000000);
	assert_int_equal(cfg->interrupt_mode, VM_IRQ_EMU);
	assert_int_equal(cfg->n_emu_devices, 5);
	assert_string_equal(cfg->emu_devices[0].name, "com1");
	assert_int_equal(cfg->emu_devices[0].base, 0x3f8);
	assert_int_equal(cfg->emu_devices[0].len, 8);
	assert_int_equal(cfg->emu_devices[0].irq, 4);
	assert_int_equal(cfg->emu_devices[0].type, VM_DEV_CONSOLE);
	assert_int_equal(cfg->emu_devices[0].ncfg, 0);
	assert_int_equal(cfg->emu_devices[1].type, VM_DEV_I8042);
	assert_int_equal(cfg->emu_devices[2].type, VM_DEV_DEBUG_EXIT);
	assert_int_equal(cfg->emu_devices[3].type, VM_DEV_BOOT_TIMER);
	assert_int_equal(cfg->emu_devices[4].type, VM_DEV_VIRTIO_BLK);
	assert_int_equal(cfg->emu_devices[4].base, 0xd0000000);
	assert_int_equal(cfg->emu_devices[4].ncfg, 2);
	assert_int_equal(cfg->emu_devices[4].cfg[1], 2);
	assert_int_equal(cfg->emu_devices[4].line, 39);
	assert_int_equal(cfg->n_passthrough_devices, 0);
	assert_round_trip(cfg);
	vmcfg_diags_free(&d);
	free(cfg);
}

/* AxVisor's own x86_64 layout loads; its x86 passthrough entries warn. */
static void test_axvisor_layout(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };

	(void)state;
	const char *path = CFG_DIR "/axvisor-x86_64.toml";
	int ret = vmcfg_load_file(path, cfg, &d, NULL);
	if (ret != 0 || d.n_errors) {
		dump(&d);
		fail();
	}
	assert_int_equal(cfg->id, 1);
	assert_string_equal(cfg->name, "arceos");
	assert_int_equal(cfg->n_phys_cpu_sets, 1);
	assert_int_equal(cfg->entry_point, 0x8000);
	assert_true(cfg->has_bios);
	assert_int_equal(cfg->bios_load_addr, 0x8000);
	assert_string_equal(cfg->bios_path, CFG_DIR "/images/bios.bin");
	assert_int_equal(cfg->kernel_load_addr, 0x200000);
	assert_int_equal(cfg->n_regions, 1);
	assert_int_equal(cfg->regions[0].size, 0x1000000);
	assert_int_equal(cfg->n_passthrough_devices, 3);
	static const char *const names[3] = { "IO APIC", "Local APIC", "HPET" };
	static const uint64_t bases[3] = { 0xfec00000, 0xfee00000, 0xfed00000 };
	char msg[600];
	for (int i = 0; i < 3; i++) {
		const struct vm_passthrough_device *p = &cfg->passthrough_devices[i];
		assert_string_equal(p->name, names[i]);
		assert_int_equal(p->base_gpa, bases[i]);
		assert_int_equal(p->base_hpa, bases[i]);
		assert_int_equal(p->len, 0x1000);
		assert_int_equal(p->irq, 1);
		assert_false(p->applicable);
		assert_int_equal(p->line, 24 + i);
		snprintf(msg, sizeof(msg),
			 "%s:%d: [devices] passthrough_devices[%d]: device \"%s\" at 0x%llx is not applicable on this host (cvisor has no device passthrough), ignored",
			 path, 24 + i, i, names[i], (unsigned long long)bases[i]);
		expect_msg(&d, false, msg);
	}
	assert_int_equal(d.n, 3);
	assert_round_trip(cfg);
	vmcfg_diags_free(&d);
	free(cfg);
}

static void test_unknown_keys_warn(void **state)
{
	static const char text[] =
		"top = 1\n"				/* 1 */
		"[base]\n"
		"name = \"t\"\n"
		"cpu_num = 1\n"
		"colour = \"blue\"\n"			/* 5 */
		"[kernel]\n"
		K_ENTRY K_PATH K_ADDR K_REGIONS		/* 7-10 */
		"disk_path = \"disk.img\"\n"		/* 11 */
		"[devices]\n"
		"excluded_devices = []\n"		/* 13 */
		"\"we\\u0001ird\" = 2\n"		/* 14 */
		"[network]\n"				/* 15 */
		"bridge = \"br0\"\n";
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;

	(void)state;
	int ret = load(text, cfg, &d);
	if (ret != 0 || d.n_errors) {
		dump(&d);
		fail();
	}
	expect_msg(&d, false, "vm.toml:1: top: unknown key, ignored");
	expect_msg(&d, false, "vm.toml:5: [base] colour: unknown key, ignored");
	expect_msg(&d, false, "vm.toml:11: [kernel] disk_path: AxVisor key not used by cvisor, ignored");
	expect_msg(&d, false, "vm.toml:13: [devices] excluded_devices: AxVisor key not used by cvisor, ignored");
	expect_msg(&d, false, "vm.toml:14: [devices] \"we\\x01ird\": unknown key, ignored");
	expect_msg(&d, false, "vm.toml:15: [network]: unknown table, ignored");
	assert_int_equal(d.n, 6);
	vmcfg_diags_free(&d);
	free(cfg);
}

static void test_other_warnings(void **state)
{
	static const char text[] = BASE KHEAD
		"entry_point = 0x8000\n"		/* 5 */
		K_PATH K_ADDR K_REGIONS			/* 6-8 */
		"bios_path = \"images/bios.bin\"\n"	/* 9 */
		"cpu_mode = \"long\"\n"			/* 10 */
		"ramdisk_load_addr = 0x400000\n"	/* 11 */
		"[devices]\n"
		"interrupt_mode = \"pt\"\n";		/* 13 */
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;

	(void)state;
	int ret = load(text, cfg, &d);
	if (ret != 0 || d.n_errors) {
		dump(&d);
		fail();
	}
	expect_msg(&d, false, "vm.toml:10: [kernel] cpu_mode: ignored because bios_path is set (the BIOS starts in real mode)");
	expect_msg(&d, false, "vm.toml:11: [kernel] ramdisk_load_addr: ignored because ramdisk_path is not set");
	expect_msg(&d, false, "vm.toml:13: [devices] interrupt_mode: \"passthrough\" is not applicable on this host");
	assert_int_equal(d.n, 3);
	assert_int_equal(cfg->interrupt_mode, VM_IRQ_PASSTHROUGH);
	vmcfg_diags_free(&d);
	free(cfg);
}

/* Hostile input cannot make the loader hoard diagnostics. */
static void test_diag_cap(void **state)
{
	size_t cap = 2000 * 16 + 256, o = 0;
	char *text = malloc(cap);

	(void)state;
	assert_non_null(text);
	o += (size_t)snprintf(text + o, cap - o, "%s", BASE);
	for (int i = 0; i < 2000; i++)
		o += (size_t)snprintf(text + o, cap - o, "k%d = 1\n", i);
	o += (size_t)snprintf(text + o, cap - o, "%s", KERNEL);
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;
	assert_int_equal(load(text, cfg, &d), 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n, 1001);
	assert_string_equal(d.items[1000].msg, "vm.toml: 1000 more problems not shown");
	vmcfg_diags_free(&d);
	free(cfg);
	free(text);
}

/* --------------------------------------------------- files and paths */

static void test_relative_paths(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };
	char cwd[4096];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));

	/* from elsewhere: relative to the file, not to the cwd */
	assert_int_equal(chdir("/"), 0);
	int ret = vmcfg_load_file(CFG_DIR "/nested/vm.toml", cfg, &d, NULL);
	expect_clean(ret, &d);
	assert_string_equal(cfg->kernel_path,
			    CFG_DIR "/nested/../images/kernel.bin");
	vmcfg_diags_free(&d);

	/* a bare file name: its directory is the cwd */
	assert_int_equal(chdir(CFG_DIR), 0);
	ret = vmcfg_load_file("axvisor-x86_64.toml", cfg, &d, NULL);
	assert_int_equal(ret, 0);
	assert_string_equal(cfg->path, "axvisor-x86_64.toml");
	assert_string_equal(cfg->kernel_path, CFG_DIR "/images/kernel.bin");
	vmcfg_diags_free(&d);

	/* a relative file path */
	assert_int_equal(chdir(CFG_DIR "/images"), 0);
	ret = vmcfg_load_file("../nested/vm.toml", cfg, &d, NULL);
	expect_clean(ret, &d);
	assert_string_equal(cfg->kernel_path,
			    CFG_DIR "/images/../nested/../images/kernel.bin");
	vmcfg_diags_free(&d);

	/* load_string with a relative base_dir, and with none (the cwd) */
	assert_int_equal(chdir(CFG_DIR), 0);
	static const char text[] = BASE KHEAD K_ENTRY
		"kernel_path = \"kernel.bin\"\n" K_ADDR K_REGIONS;
	ret = vmcfg_load_string(text, strlen(text), "x.toml", "images", cfg,
				&d, NULL);
	expect_clean(ret, &d);
	assert_string_equal(cfg->kernel_path, CFG_DIR "/images/kernel.bin");
	assert_int_equal(chdir(CFG_DIR "/images"), 0);
	ret = vmcfg_load_string(text, strlen(text), "x.toml", NULL, cfg, &d,
				NULL);
	expect_clean(ret, &d);
	assert_string_equal(cfg->kernel_path, CFG_DIR "/images/kernel.bin");

	/* absolute paths stay as written */
	static const char abs_text[] = BASE KHEAD K_ENTRY
		"kernel_path = \"" CFG_DIR "/images/kernel.bin\"\n" K_ADDR K_REGIONS;
	ret = vmcfg_load_string(abs_text, strlen(abs_text), "x.toml", "/tmp",
				cfg, &d, NULL);
	expect_clean(ret, &d);
	assert_string_equal(cfg->kernel_path, CFG_DIR "/images/kernel.bin");

	assert_int_equal(chdir(cwd), 0);
	vmcfg_diags_free(&d);
	free(cfg);
}

static void test_missing_image_file(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };

	(void)state;
	int ret = vmcfg_load_file(CFG_DIR "/missing-image.toml", cfg, &d, NULL);
	assert_int_equal(ret, -EINVAL);
	expect_msg(&d, true, CFG_DIR "/missing-image.toml:8: [kernel] kernel_path: cannot read \""
		   CFG_DIR "/images/does-not-exist.bin\": No such file or directory");
	assert_int_equal(d.n_errors, 1);
	vmcfg_diags_free(&d);
	free(cfg);
}

static void test_syntax_error_file(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };
	const char *prefix = CFG_DIR "/syntax-error.toml:2:";

	(void)state;
	int ret = vmcfg_load_file(CFG_DIR "/syntax-error.toml", cfg, &d, NULL);
	assert_int_equal(ret, -EINVAL);
	assert_int_equal(d.n_errors, 1);
	assert_int_equal(d.n, 1);
	assert_int_equal(strncmp(d.items[0].msg, prefix, strlen(prefix)), 0);
	assert_int_equal(d.items[0].line, 2);
	vmcfg_diags_free(&d);
	free(cfg);
}

static void test_missing_config_file(void **state)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };

	(void)state;
	int ret = vmcfg_load_file(CFG_DIR "/no-such.toml", cfg, &d, NULL);
	assert_int_equal(ret, -ENOENT);
	expect_msg(&d, true, CFG_DIR "/no-such.toml: cannot read: No such file or directory");
	assert_int_equal(d.n_errors, 1);
	vmcfg_diags_free(&d);

	ret = vmcfg_load_file(CFG_DIR, cfg, &d, NULL);
	assert_int_equal(ret, -EISDIR);
	expect_msg(&d, true, CFG_DIR ": cannot read: Is a directory");
	vmcfg_diags_free(&d);
	free(cfg);
}

struct tmp {
	char dir[64];
	char file[96];
	char cfg_path[96];
};

static void make_tmp(struct tmp *t, const char *image_mode_note)
{
	(void)image_mode_note;
	snprintf(t->dir, sizeof(t->dir), "/tmp/cv-vmcfg-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->file, sizeof(t->file), "%s/kernel.bin", t->dir);
	snprintf(t->cfg_path, sizeof(t->cfg_path), "%s/vm.toml", t->dir);
	FILE *f = fopen(t->file, "w");
	assert_non_null(f);
	fputs("not really a kernel", f);
	fclose(f);
}

static void remove_tmp(struct tmp *t)
{
	unlink(t->cfg_path);
	unlink(t->file);
	rmdir(t->dir);
}

/* Load cfg_path and look for msg; as root, do it as nobody in a child. */
static bool load_finds(const char *cfg_path, const char *msg)
{
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };
	int ret = vmcfg_load_file(cfg_path, cfg, &d, NULL);
	bool found = ret == -EINVAL && find_msg(&d, true, msg);
	if (!found)
		dump(&d);
	vmcfg_diags_free(&d);
	free(cfg);
	return found;
}

static void test_unreadable_image(void **state)
{
	struct tmp t;
	char msg[512];

	(void)state;
	make_tmp(&t, NULL);
	assert_int_equal(chmod(t.dir, 0755), 0);
	FILE *f = fopen(t.cfg_path, "w");
	assert_non_null(f);
	fputs(BASE KHEAD K_ENTRY "kernel_path = \"kernel.bin\"\n" K_ADDR K_REGIONS, f);
	fclose(f);
	assert_int_equal(chmod(t.cfg_path, 0644), 0);
	assert_int_equal(chmod(t.file, 0), 0);
	snprintf(msg, sizeof(msg),
		 "%s:6: [kernel] kernel_path: cannot read \"%s\": Permission denied",
		 t.cfg_path, t.file);
	if (geteuid() != 0) {
		assert_true(load_finds(t.cfg_path, msg));
	} else {
		/* root reads mode-000 files: check as nobody */
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(2);
			_exit(load_finds(t.cfg_path, msg) ? 0 : 1);
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	remove_tmp(&t);
}

/* A FIFO as an image must not hang the check (open is non-blocking). */
static void test_fifo_image(void **state)
{
	struct tmp t;

	(void)state;
	make_tmp(&t, NULL);
	unlink(t.file);
	assert_int_equal(mkfifo(t.file, 0600), 0);
	static const char text[] = BASE KHEAD K_ENTRY
		"kernel_path = \"kernel.bin\"\n" K_ADDR K_REGIONS;
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d = { 0 };
	int ret = vmcfg_load_string(text, strlen(text), "vm.toml", t.dir, cfg,
				    &d, NULL);
	char msg[512];
	snprintf(msg, sizeof(msg),
		 "vm.toml:6: [kernel] kernel_path: expected a regular file, got a special file \"%s\"",
		 t.file);
	assert_int_equal(ret, -EINVAL);
	expect_msg(&d, true, msg);
	vmcfg_diags_free(&d);
	free(cfg);
	remove_tmp(&t);
}

/* image_location = "memory" names a built-in image, not a file. */
static void test_builtin_image(void **state)
{
	const struct builtin_image *b = builtin_list();
	char text[1024];

	(void)state;
	if (!b || !b->name) {
		fprintf(stderr, "  skipped: this build has no built-in images\n");
		skip();
	}
	/* a RAM region large enough for it, page-rounded */
	uint64_t size = (b->load_addr + b->size + 0xfffff) & ~0xfffffull;
	snprintf(text, sizeof(text),
		 BASE KHEAD "entry_point = 0x%llx\nimage_location = \"memory\"\n"
		 "kernel_path = \"%s\"\nkernel_load_addr = 0x%llx\n"
		 "memory_regions = [[0x0, 0x%llx, 0x7, 0]]\n",
		 (unsigned long long)b->load_addr, b->name,
		 (unsigned long long)b->load_addr, (unsigned long long)size);
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;
	int ret = load(text, cfg, &d);
	expect_clean(ret, &d);
	assert_int_equal(cfg->image_location, VM_IMAGE_MEMORY);
	assert_string_equal(cfg->kernel_path, b->name);
	assert_round_trip(cfg);
	vmcfg_diags_free(&d);

	/* the image must still fit: load it 16 bytes before the end of RAM */
	if (b->size <= 16) {
		fprintf(stderr, "  (\"%s\" is tiny: fit part skipped)\n", b->name);
	} else {
		snprintf(text, sizeof(text),
			 BASE KHEAD "entry_point = 0xffff0\nimage_location = \"memory\"\n"
			 "kernel_path = \"%s\"\nkernel_load_addr = 0xffff0\n"
			 "memory_regions = [[0x0, 0x100000, 0x7, 0]]\n",
			 b->name);
		assert_int_equal(load(text, cfg, &d), -EINVAL);
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "vm.toml:8: [kernel] kernel_load_addr: kernel image 0xffff0+0x%zx does not fit in RAM region 0 (0x0+0x100000)",
			 b->size);
		expect_msg(&d, true, msg);
		assert_int_equal(d.n_errors, 1);
		vmcfg_diags_free(&d);
	}
	free(cfg);
}

/* ---------------------------------------------------------- round trip */

static void test_round_trip_strings(void **state)
{
	static const char text[] =
		"[base]\n"
		"name = \"a \\\"quoted\\\" \\\\ n\\u00e4me\"\n"
		"cpu_num = 3\n"
		"id = 0\n"
		"phys_cpu_ids = [5, 6, 7]\n"
		"accel = \"kvm\"\n"
		"[kernel]\n"
		"entry_point = 0x100000\n"
		"kernel_path = 'images/kernel.bin'\n"
		"kernel_load_addr = 0x100000\n"
		"cmdline = \"tab\\there\\nnewline \\\"q\\\" \\u007f end\"\n"
		"boot_protocol = \"elf\"\n"
		"cpu_mode = \"protected\"\n"
		"memory_regions = [[0x0, 0x200000, 0x3f, 0], [0x400000, 0x1000, 0x1, 2]]\n"
		"[devices]\n"
		"interrupt_mode = \"emulated\"\n"
		"emu_devices = [[\"uart \\\"x\\\"\", 0xfe000000, 0x1000, 33, 0x2, [0, 0x7fffffffffffffff]]]\n";
	struct vm_config *cfg = new_cfg();
	struct vmcfg_diags d;

	(void)state;
	int ret = load(text, cfg, &d);
	expect_clean(ret, &d);
	assert_string_equal(cfg->name, "a \"quoted\" \\ n\xc3\xa4me");
	assert_true(cfg->has_id);
	assert_int_equal(cfg->id, 0);
	assert_string_equal(cfg->cmdline, "tab\there\nnewline \"q\" \x7f end");
	assert_int_equal(cfg->interrupt_mode, VM_IRQ_EMU);
	assert_int_equal(cfg->emu_devices[0].cfg[1], INT64_MAX);
	assert_round_trip(cfg);
	vmcfg_diags_free(&d);
	free(cfg);
}

/* ----------------------------------------------------------- robustness */

static uint64_t next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/*
 * Never crash, and keep the contract on every input: ret 0 exactly when
 * there are no errors, and a valid config prints and loads back equal.
 */
static void test_mutations_never_crash(void **state)
{
	static const char *const tokens[] = {
		"\"", "[", "]", "=", ",", "\n", "0x", "-", "#", "'", "{", "}",
		"9999999999999999999", "0", "1", ".", "\\", "\"\"\"", "true",
		"[[", "]]", "\"memory\"", "emu_devices", "1979-05-27",
	};
	static const char seed_text[] =
		DEVS "emu_devices = [[\"c\", 0x3f8, 8, 4, 2, []]]\n";
	size_t seed_len = strlen(seed_text), cap = seed_len * 2 + 64;
	char *buf = malloc(cap);
	struct vm_config *cfg = new_cfg();
	uint64_t seed = 0x5eed;
	unsigned valid = 0;

	(void)state;
	assert_non_null(buf);
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(buf, seed_text, seed_len);
		size_t len = seed_len;
		int edits = 1 + (int)(next_rand(&seed) % 4);
		for (int e = 0; e < edits; e++) {
			size_t at = next_rand(&seed) % (len + 1);
			switch (next_rand(&seed) % 3) {
			case 0:
				if (len)
					buf[at % len] = (char)next_rand(&seed);
				break;
			case 1: {
				const char *t = tokens[next_rand(&seed) %
						       (sizeof(tokens) / sizeof(tokens[0]))];
				size_t tl = strlen(t);
				if (len + tl >= cap)
					break;
				memmove(buf + at + tl, buf + at, len - at);
				memcpy(buf + at, t, tl);
				len += tl;
				break;
			}
			default:
				len = at;
				break;
			}
		}
		struct vmcfg_diags d = { 0 };
		int ret = vmcfg_load_string(buf, len, "m.toml", CFG_DIR, cfg, &d,
					    NULL);
		assert_int_equal(ret == 0, d.n_errors == 0);
		if (ret == 0) {
			valid++;
			assert_round_trip(cfg);
		}
		vmcfg_diags_free(&d);
	}
	fprintf(stderr, "  %u of 3000 mutated configs were valid\n", valid);
	assert_true(valid > 0);
	free(cfg);
	free(buf);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vmcfg_accel_name(VM_ACCEL_KVM), "kvm");
	assert_string_equal(vmcfg_boot_protocol_name(VM_BOOT_LINUX), "linux");
	assert_string_equal(vmcfg_boot_protocol_name(VM_BOOT_PVH), "pvh");
	assert_string_equal(vmcfg_cpu_mode_name(VM_CPU_LONG), "long");
	assert_string_equal(vmcfg_irq_mode_name(VM_IRQ_NONE), "no_irq");
	assert_string_equal(vmcfg_irq_mode_name(VM_IRQ_PASSTHROUGH), "passthrough");

	struct vm_config *cfg = new_cfg();
	memset(cfg, 0xa5, sizeof(*cfg));
	vmcfg_defaults(cfg);
	assert_int_equal(cfg->n_regions, 0);
	assert_int_equal(cfg->vm_type, 1);
	assert_int_equal(cfg->bios_load_addr, 0x8000);
	assert_string_equal(cfg->name, "");
	free(cfg);
}

/* ------------------------------------------------------ config check */

static char *slurp(FILE *f)
{
	long n;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	return s;
}

struct run {
	int ret;
	char *out, *err;
};

static struct run run_check(int argc, const char *const *args)
{
	char *argv[8];
	struct run r;
	FILE *out = tmpfile(), *err = tmpfile();

	assert_non_null(out);
	assert_non_null(err);
	assert_true(argc <= 8);
	for (int i = 0; i < argc; i++)
		argv[i] = (char *)args[i];
	r.ret = cmd_config_check(argc, argv, out, err);
	r.out = slurp(out);
	r.err = slurp(err);
	fclose(out);
	fclose(err);
	return r;
}

static void free_run(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void test_cmd_usage(void **state)
{
	(void)state;
	static const char *const help[] = { "check", "--help" };
	struct run r = run_check(2, help);
	assert_int_equal(r.ret, 0);
	assert_non_null(strstr(r.out, "Usage: cvisor config check FILE..."));
	assert_string_equal(r.err, "");
	free_run(&r);

	static const char *const none[] = { "check" };
	r = run_check(1, none);
	assert_int_equal(r.ret, 2);
	assert_non_null(strstr(r.err, "expected at least one FILE"));
	assert_string_equal(r.out, "");
	free_run(&r);

	static const char *const bad[] = { "check", "--frobnicate", "x.toml" };
	r = run_check(3, bad);
	assert_int_equal(r.ret, 2);
	assert_non_null(strstr(r.err, "unknown option '--frobnicate'"));
	free_run(&r);
}

static void test_cmd_valid(void **state)
{
	(void)state;
	static const char *const args[] = { "check", CFG_DIR "/axvisor-x86_64.toml" };
	struct run r = run_check(2, args);
	assert_int_equal(r.ret, 0);
	/* the output is the normalized config: it loads again, equal */
	struct vm_config *a = new_cfg(), *b = new_cfg();
	struct vmcfg_diags d = { 0 };
	assert_int_equal(vmcfg_load_string(r.out, strlen(r.out), "out.toml",
					   "/", a, &d, NULL), 0);
	vmcfg_diags_free(&d);
	assert_int_equal(vmcfg_load_file(args[1], b, &d, NULL), 0);
	assert_cfg_equal(a, b);
	assert_non_null(strstr(r.out, "kernel_load_addr = 0x200000\n"));
	assert_non_null(strstr(r.out, "[\"IO APIC\", 0xfec00000, 0xfec00000, 0x1000, 1],\n"));
	/* warnings go to errout, with a count */
	assert_non_null(strstr(r.err, "warning: " CFG_DIR "/axvisor-x86_64.toml:24: [devices] passthrough_devices[0]: device \"IO APIC\""));
	assert_non_null(strstr(r.err, CFG_DIR "/axvisor-x86_64.toml: 0 errors, 3 warnings\n"));
	vmcfg_diags_free(&d);
	free(a);
	free(b);
	free_run(&r);
}

static void test_cmd_errors(void **state)
{
	(void)state;
	static const char *const args[] = {
		"check", "--", CFG_DIR "/full.toml", CFG_DIR "/missing-image.toml",
		CFG_DIR "/syntax-error.toml", CFG_DIR "/nope.toml",
	};
	struct run r = run_check(6, args);
	assert_int_equal(r.ret, 1);
	/* the valid file is still printed, with a header since there are several */
	assert_non_null(strstr(r.out, "# " CFG_DIR "/full.toml\n[base]\n"));
	assert_non_null(strstr(r.out, "name = \"full-guest\"\n"));
	assert_null(strstr(r.out, "missing"));
	assert_non_null(strstr(r.err, "error: " CFG_DIR "/missing-image.toml:8: [kernel] kernel_path: cannot read"));
	assert_non_null(strstr(r.err, CFG_DIR "/missing-image.toml: 1 error, 0 warnings\n"));
	assert_non_null(strstr(r.err, "error: " CFG_DIR "/syntax-error.toml:2:"));
	/* "--" ends options; the file after it is a (missing) file */
	assert_non_null(strstr(r.err, "error: " CFG_DIR "/nope.toml: cannot read: No such file or directory\n"));
	free_run(&r);

	static const char *const one_ok[] = { "check", CFG_DIR "/full.toml" };
	r = run_check(2, one_ok);
	assert_int_equal(r.ret, 0);
	assert_int_equal(strncmp(r.out, "[base]\n", 7), 0);
	assert_string_equal(r.err, "");
	free_run(&r);
}

/* -------------------------------------------------------------- main */

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_too_many_regions),
		cmocka_unit_test(test_collects_all_errors),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_axvisor_layout),
		cmocka_unit_test(test_unknown_keys_warn),
		cmocka_unit_test(test_other_warnings),
		cmocka_unit_test(test_diag_cap),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_missing_image_file),
		cmocka_unit_test(test_syntax_error_file),
		cmocka_unit_test(test_missing_config_file),
		cmocka_unit_test(test_unreadable_image),
		cmocka_unit_test(test_fifo_image),
		cmocka_unit_test(test_builtin_image),
		cmocka_unit_test(test_round_trip_strings),
		cmocka_unit_test(test_mutations_never_crash),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cmd_usage),
		cmocka_unit_test(test_cmd_valid),
		cmocka_unit_test(test_cmd_errors),
	};
	const size_t n_bad = sizeof(bad_cases) / sizeof(bad_cases[0]);
	const size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests = calloc(n_bad + n_fixed, sizeof(*tests));
	if (!tests)
		return 1;
	for (size_t i = 0; i < n_bad; i++) {
		tests[i].name = bad_cases[i].name;
		tests[i].test_func = test_bad_case;
		tests[i].initial_state = (void *)&bad_cases[i];
	}
	memcpy(tests + n_bad, fixed, sizeof(fixed));
	int failed = _cmocka_run_group_tests("vmconfig", tests, n_bad + n_fixed,
					     NULL, NULL);
	free(tests);
	return failed;
}
