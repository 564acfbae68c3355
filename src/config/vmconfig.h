/*
 * vmconfig: the AxVisor VM schema (SPEC §3) plus cvisor's x86 additions,
 * loaded from TOML into one struct vm_config that every front end uses
 * (run, shell, daemon).  The struct is plain data (fixed-size arrays, no
 * pointers), so it can be copied by assignment and needs no free.
 *
 * The loader validates every rule of SPEC §3 and reports each problem as a
 * sentence "file:line: [table] key: expected X, got Y".  Unknown keys are
 * warnings.  It never aborts on bad input.
 */
#ifndef CV_VMCONFIG_H
#define CV_VMCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VMCFG_MAX_VCPUS 64
#define VMCFG_MAX_REGIONS 32
#define VMCFG_MAX_DEVICES 32
#define VMCFG_NAME_MAX 64
#define VMCFG_PATH_MAX 4096
#define VMCFG_CMDLINE_MAX 4096
#define VMCFG_DEV_CFG_MAX 8

/* memory region flags (AxVisor numbering) */
#define VM_MEM_READ 0x1u
#define VM_MEM_WRITE 0x2u
#define VM_MEM_EXECUTE 0x4u
#define VM_MEM_USER 0x8u
#define VM_MEM_DEVICE 0x10u
#define VM_MEM_UNCACHED 0x20u
#define VM_MEM_FLAGS_ALL 0x3fu

enum vm_map_type {
	VM_MAP_ALLOC = 0,	/* cvisor allocates host memory */
	VM_MAP_IDENTICAL = 1,	/* AxVisor identity map; allocate on a host */
	VM_MAP_RESERVED = 2,	/* no backing: a hole in guest RAM */
};

/* emulated device types (AxVisor numbering + cvisor's own) */
enum vm_emu_dev_type {
	VM_DEV_INTC = 0x1,
	VM_DEV_CONSOLE = 0x2,	/* 16550 UART */
	VM_DEV_VIRTIO_BLK = 0xE1,
	VM_DEV_VIRTIO_NET = 0xE2,
	VM_DEV_VIRTIO_CONSOLE = 0xE3,
	VM_DEV_I8042 = 0xF0,	/* cvisor */
	VM_DEV_DEBUG_EXIT = 0xF1, /* cvisor */
	VM_DEV_BOOT_TIMER = 0xF2, /* cvisor */
};

enum vm_accel { VM_ACCEL_AUTO, VM_ACCEL_KVM, VM_ACCEL_EMU };
enum vm_on_reboot { VM_ON_REBOOT_RESET, VM_ON_REBOOT_STOP };
enum vm_image_location { VM_IMAGE_FS, VM_IMAGE_MEMORY };
enum vm_boot_protocol {
	VM_BOOT_AUTO, VM_BOOT_RAW, VM_BOOT_MULTIBOOT, VM_BOOT_ELF,
	VM_BOOT_PVH, VM_BOOT_LINUX,
};
enum vm_cpu_mode { VM_CPU_REAL, VM_CPU_PROTECTED, VM_CPU_LONG };
enum vm_irq_mode { VM_IRQ_NONE, VM_IRQ_EMU, VM_IRQ_PASSTHROUGH };
/*
 * [kernel] ap_start: how application processors (vCPUs 1..) start.
 * "entry": at the entry point with the BSP (raw images only, %esi/%edi
 * convention of boot.h); "sipi": they wait for INIT/SIPI from the BSP's
 * LAPIC (needs an interrupt controller: interrupt_mode != "no_irq");
 * "auto" (default): "entry" for raw images, "sipi" for kernel formats
 * with an interrupt controller, else a cli/hlt parking loop.
 */
enum vm_ap_start { VM_AP_START_AUTO, VM_AP_START_ENTRY, VM_AP_START_SIPI };

struct vm_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint32_t flags;		/* VM_MEM_* */
	uint32_t map_type;	/* enum vm_map_type */
	int line;		/* where it was written (0 = not from a file) */
};

struct vm_emu_device {
	char name[32];
	uint64_t base;		/* port (< 0x10000) or MMIO address */
	uint64_t len;
	uint32_t irq;
	uint32_t type;		/* enum vm_emu_dev_type */
	uint64_t cfg[VMCFG_DEV_CFG_MAX];
	size_t ncfg;
	int line;
};

struct vm_passthrough_device {
	char name[32];
	uint64_t base_gpa;
	uint64_t base_hpa;
	uint64_t len;
	uint32_t irq;
	bool applicable;	/* false: accepted but not applicable here */
	int line;
};

struct vm_config {
	/* where it came from */
	char path[VMCFG_PATH_MAX];	/* as given ("" when from a string) */

	/* [base] */
	bool has_id;
	uint32_t id;
	char name[VMCFG_NAME_MAX];
	uint32_t vm_type;
	uint32_t cpu_num;
	uint64_t phys_cpu_ids[VMCFG_MAX_VCPUS];
	size_t n_phys_cpu_ids;
	uint64_t phys_cpu_sets[VMCFG_MAX_VCPUS];
	size_t n_phys_cpu_sets;
	enum vm_accel accel;
	enum vm_on_reboot on_reboot;

	/* [kernel] */
	uint64_t entry_point;
	enum vm_image_location image_location;
	char kernel_path[VMCFG_PATH_MAX];	/* resolved against the TOML dir;
						   IMAGE_MEMORY: a built-in name */
	uint64_t kernel_load_addr;
	bool has_bios;
	char bios_path[VMCFG_PATH_MAX];
	uint64_t bios_load_addr;
	bool has_ramdisk;
	char ramdisk_path[VMCFG_PATH_MAX];
	uint64_t ramdisk_load_addr;
	bool has_dtb;
	char dtb_path[VMCFG_PATH_MAX];
	uint64_t dtb_load_addr;
	char cmdline[VMCFG_CMDLINE_MAX];
	enum vm_boot_protocol boot_protocol;
	enum vm_cpu_mode cpu_mode;
	enum vm_ap_start ap_start;
	struct vm_mem_region regions[VMCFG_MAX_REGIONS];
	size_t n_regions;

	/* [devices] */
	enum vm_irq_mode interrupt_mode;
	struct vm_emu_device emu_devices[VMCFG_MAX_DEVICES];
	size_t n_emu_devices;
	struct vm_passthrough_device passthrough_devices[VMCFG_MAX_DEVICES];
	size_t n_passthrough_devices;
};

/* Host limits the loader enforces (SPEC §5b defaults). */
struct vmcfg_limits {
	uint64_t max_total_memory;	/* bytes; 0 = host RAM */
	uint32_t max_vcpus;		/* 0 = 64 */
};

/* Diagnostics: every error and warning, each a full sentence. */
struct vmcfg_diag {
	bool is_error;
	int line;			/* 0 when not tied to a line */
	char msg[512];			/* "vm.toml:12: [kernel] entry_point: ..." */
};
struct vmcfg_diags {
	struct vmcfg_diag *items;
	size_t n, cap;
	size_t n_errors;
};
void vmcfg_diags_free(struct vmcfg_diags *d);

/*
 * Fill *cfg with defaults (what an empty file would give, before the
 * required keys are checked).
 */
void vmcfg_defaults(struct vm_config *cfg);

/*
 * Load and validate a file.  Returns 0 when there are no errors (warnings
 * may be present), -EINVAL when the config has errors, -errno when the file
 * cannot be read.  All problems are appended to *diags (which the caller
 * zero-initialises and frees).  limits may be NULL.
 */
int vmcfg_load_file(const char *path, struct vm_config *cfg,
		    struct vmcfg_diags *diags, const struct vmcfg_limits *limits);

/*
 * Same from text already in memory (the daemon gets config content from
 * its client).  display_name is used in messages; base_dir resolves
 * relative image paths (NULL = current directory).
 */
int vmcfg_load_string(const char *text, size_t len, const char *display_name,
		      const char *base_dir, struct vm_config *cfg,
		      struct vmcfg_diags *diags,
		      const struct vmcfg_limits *limits);

/*
 * The two halves of vmcfg_load_file, for a front end that reads the file
 * in one process and loads it in another (the daemon and its client):
 * read a config file the way the loader does (size-capped; 0 or -errno,
 * -EFBIG past 1 MiB; free() *text), then load what
 * was read — read_err is that result, reported exactly as
 * vmcfg_load_file reports it; base_dir resolves relative image paths.
 */
int vmcfg_read_file(const char *path, char **text, size_t *len);
int vmcfg_load_content(const char *path, const char *base_dir, int read_err,
		       const char *text, size_t len, struct vm_config *cfg,
		       struct vmcfg_diags *diags,
		       const struct vmcfg_limits *limits);

/* Total bytes of RAM regions (map_type != reserved). */
uint64_t vmcfg_total_memory(const struct vm_config *cfg);

/* Print the normalized configuration as TOML (what `config check` shows). */
void vmcfg_print(FILE *out, const struct vm_config *cfg);

const char *vmcfg_accel_name(enum vm_accel a);
const char *vmcfg_boot_protocol_name(enum vm_boot_protocol p);
const char *vmcfg_cpu_mode_name(enum vm_cpu_mode m);
const char *vmcfg_irq_mode_name(enum vm_irq_mode m);
const char *vmcfg_ap_start_name(enum vm_ap_start a);

#endif
