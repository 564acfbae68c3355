/*
 * vmconfig: turns a TOML document (AxVisor schema, SPEC §3 and §5b) into a
 * struct vm_config and validates it.  Every problem becomes one sentence in
 * the caller's diags, naming file:line, [table] and key; the loader never
 * stops at the first error and never trusts a value it has not checked.
 *
 * Choices the spec leaves open (documented here because users see them):
 *  - Required: [base] name, cpu_num; [kernel] entry_point, kernel_path,
 *    kernel_load_addr, memory_regions; ramdisk_load_addr and dtb_load_addr
 *    when the matching *_path is set.  [devices] may be absent.
 *  - Defaults: id none (the VM layer picks the lowest free one), vm_type 1
 *    (AxVisor's RTOS default), accel "auto", on_reboot "reset",
 *    image_location "fs", bios_load_addr 0x8000 (AxVisor's BIOS stub),
 *    cmdline "", boot_protocol "auto", cpu_mode "real", interrupt_mode
 *    "no_irq" (AxVisor's default), no devices.  AxVisor's aliases for
 *    interrupt_mode ("no", "none", "emulated", "pt") are accepted.
 *  - Ranges: id 0..65535, vm_type 0..2, cpu_num 1..max_vcpus, flags within
 *    0x3f, map_type 0..2, IRQs 0..255, at most 32 regions / 32 devices of
 *    each kind / 8 device cfg values, regions end at or below 2^52 (x86's
 *    physical address limit).  RAM is every region whose map_type is not
 *    2 (reserved), the same rule as vmcfg_total_memory().
 *  - Names: 1..63 bytes (device names 1..31), no control characters and no
 *    '/', because the VM name becomes part of the data directory name.
 *  - Images (kernel, bios, ramdisk, dtb) must be readable regular non-empty
 *    files (or, with image_location = "memory", built-in images found by
 *    builtin_find) and fit inside one RAM region at their load address;
 *    images must not overlap each other.  Relative paths resolve against
 *    the TOML file's directory and are stored absolute, so a printed config
 *    means the same thing wherever it is loaded again.
 *  - The vCPU starts in real mode when bios_path is set, or when
 *    boot_protocol is "raw" with cpu_mode "real"; entry_point must then be
 *    below 1 MiB (CS:IP can reach no further).
 *  - ap_start (vmconfig.h): "sipi" needs interrupt_mode other than
 *    "no_irq"; "entry" is refused with an explicit kernel-format
 *    boot_protocol.
 *  - Emulated devices: virtio types are MMIO; i8042, debug-exit and
 *    boot-timer are port devices; console and interrupt controller are port
 *    devices when base < 0x10000, else MMIO.  Port ranges end at or below
 *    0x10000; MMIO ranges must not overlap RAM; devices of one address space
 *    must not overlap each other; names are unique.
 *  - passthrough_devices are validated (shape, len > 0, no overlap with RAM)
 *    and kept with applicable = false and a warning: cvisor has no device
 *    passthrough, and AxVisor's x86 IOAPIC/LAPIC/HPET entries are served by
 *    cvisor's own (or KVM's in-kernel) models.
 *  - Unknown tables and keys are warnings; AxVisor keys cvisor does not use
 *    (disk_path, excluded_devices, passthrough_addresses) get a warning that
 *    says so.
 */
#include "vmconfig.h"
#include "builtin.h"
#include "toml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SIZE_4K 0x1000u
#define VMCFG_ID_MAX 65535u
#define VMCFG_IRQ_MAX 255u
#define VMCFG_VM_TYPE_MAX 2u
#define PHYS_ADDR_LIMIT (1ull << 52)
#define PORT_SPACE_END 0x10000ull
#define DEFAULT_BIOS_LOAD_ADDR 0x8000u
#define REAL_MODE_LIMIT 0x100000ull
#define CONFIG_FILE_MAX (1u << 20)
#define DIAGS_STORED_MAX 1000u
#define QUOTE_MAX 80
#define PATH_QUOTE_MAX 400

enum image_kind { IMG_KERNEL, IMG_BIOS, IMG_RAMDISK, IMG_DTB, IMG_COUNT };

struct image_state {
	int path_line, addr_line;
	bool path_ok;		/* path key present and well-formed */
	bool addr_set, addr_ok;
	uint64_t size;		/* after the file/built-in check */
	bool size_ok;
};

struct ctx {
	const char *file;	/* display name used in every message */
	char base_dir[VMCFG_PATH_MAX];	/* absolute when it could be made so */
	struct vm_config *cfg;
	struct vmcfg_diags *diags;
	uint64_t max_memory;
	uint32_t max_vcpus;
	size_t dropped;		/* diags counted but not stored */
	bool oom;
	bool final_note;	/* the "N more" note may pass the cap */
	const char *table;	/* table of the key being parsed, NULL = root */

	/* what the cross-field checks may rely on */
	bool cpu_num_ok, entry_ok, regions_ok, cpu_mode_set;
	int cpu_num_line, entry_line, regions_line, cpu_mode_line;
	int ap_start_line;
	int phys_ids_line, phys_sets_line;
	bool phys_ids_ok, phys_sets_ok;
	struct image_state img[IMG_COUNT];
	bool region_ok[VMCFG_MAX_REGIONS];
	bool emu_ok[VMCFG_MAX_DEVICES];
	bool pt_ok[VMCFG_MAX_DEVICES];
};

/* ---------------------------------------------------------------- names */

struct enum_name {
	const char *name;
	int value;
	bool alias;		/* accepted, never printed or suggested */
};

static const struct enum_name accel_names[] = {
	{ "auto", VM_ACCEL_AUTO, false }, { "kvm", VM_ACCEL_KVM, false },
	{ "emu", VM_ACCEL_EMU, false }, { NULL, 0, false },
};
static const struct enum_name on_reboot_names[] = {
	{ "reset", VM_ON_REBOOT_RESET, false },
	{ "stop", VM_ON_REBOOT_STOP, false }, { NULL, 0, false },
};
static const struct enum_name image_location_names[] = {
	{ "fs", VM_IMAGE_FS, false }, { "memory", VM_IMAGE_MEMORY, false },
	{ NULL, 0, false },
};
static const struct enum_name boot_protocol_names[] = {
	{ "auto", VM_BOOT_AUTO, false }, { "raw", VM_BOOT_RAW, false },
	{ "multiboot", VM_BOOT_MULTIBOOT, false }, { "elf", VM_BOOT_ELF, false },
	{ "pvh", VM_BOOT_PVH, false }, { "linux", VM_BOOT_LINUX, false },
	{ NULL, 0, false },
};
static const struct enum_name cpu_mode_names[] = {
	{ "real", VM_CPU_REAL, false }, { "protected", VM_CPU_PROTECTED, false },
	{ "long", VM_CPU_LONG, false }, { NULL, 0, false },
};
static const struct enum_name ap_start_names[] = {
	{ "auto", VM_AP_START_AUTO, false }, { "entry", VM_AP_START_ENTRY, false },
	{ "sipi", VM_AP_START_SIPI, false }, { NULL, 0, false },
};
static const struct enum_name irq_mode_names[] = {
	{ "no_irq", VM_IRQ_NONE, false }, { "emu", VM_IRQ_EMU, false },
	{ "passthrough", VM_IRQ_PASSTHROUGH, false },
	{ "no", VM_IRQ_NONE, true }, { "none", VM_IRQ_NONE, true },
	{ "emulated", VM_IRQ_EMU, true }, { "pt", VM_IRQ_PASSTHROUGH, true },
	{ NULL, 0, false },
};

static const char *enum_to_name(const struct enum_name *names, int value)
{
	for (; names->name; names++)
		if (!names->alias && names->value == value)
			return names->name;
	return "?";
}

const char *vmcfg_accel_name(enum vm_accel a)
{
	return enum_to_name(accel_names, (int)a);
}

const char *vmcfg_boot_protocol_name(enum vm_boot_protocol p)
{
	return enum_to_name(boot_protocol_names, (int)p);
}

const char *vmcfg_cpu_mode_name(enum vm_cpu_mode m)
{
	return enum_to_name(cpu_mode_names, (int)m);
}

const char *vmcfg_ap_start_name(enum vm_ap_start a)
{
	return enum_to_name(ap_start_names, (int)a);
}

const char *vmcfg_irq_mode_name(enum vm_irq_mode m)
{
	return enum_to_name(irq_mode_names, (int)m);
}

/* ---------------------------------------------------------- diagnostics */

void vmcfg_diags_free(struct vmcfg_diags *d)
{
	if (!d)
		return;
	free(d->items);
	d->items = NULL;
	d->n = d->cap = d->n_errors = 0;
}

/*
 * Store one finished sentence.  Errors are counted even when they cannot
 * be stored, so a config is never taken for valid because memory ran out.
 * Storage is capped so hostile input cannot make the loader hoard memory.
 */
static void diag_push(struct ctx *c, bool is_error, int line, const char *msg)
{
	struct vmcfg_diags *d = c->diags;

	if (is_error)
		d->n_errors++;
	if (d->n >= DIAGS_STORED_MAX && !c->final_note) {
		c->dropped++;
		return;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct vmcfg_diag *items = realloc(d->items, cap * sizeof(*items));
		if (!items) {
			c->oom = true;
			return;
		}
		d->items = items;
		d->cap = cap;
	}
	struct vmcfg_diag *item = &d->items[d->n++];
	item->is_error = is_error;
	item->line = line;
	snprintf(item->msg, sizeof(item->msg), "%s", msg);
}

static void vreport(struct ctx *c, bool is_error, int line, const char *key,
		    const char *fmt, va_list ap)
{
	char where[160], text[512], msg[1024];

	if (line > 0)
		snprintf(where, sizeof(where), "%s:%d: ", c->file, line);
	else
		snprintf(where, sizeof(where), "%s: ", c->file);
	vsnprintf(text, sizeof(text), fmt, ap);
	if (c->table && key)
		snprintf(msg, sizeof(msg), "%s[%s] %s: %s", where, c->table,
			 key, text);
	else if (c->table)
		snprintf(msg, sizeof(msg), "%s[%s]: %s", where, c->table, text);
	else if (key)
		snprintf(msg, sizeof(msg), "%s%s: %s", where, key, text);
	else
		snprintf(msg, sizeof(msg), "%s%s", where, text);
	diag_push(c, is_error, line, msg);
}

/* "file:line: [table] key: text" as an error. */
__attribute__((format(printf, 4, 5)))
static void error_at(struct ctx *c, int line, const char *key,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, true, line, key, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void warn_at(struct ctx *c, int line, const char *key,
		    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, false, line, key, fmt, ap);
	va_end(ap);
}

/*
 * Render a string for a message: quoted, control bytes escaped, long
 * strings cut, so a hostile value cannot forge extra lines of output.
 */
static const char *quote_n(char *buf, size_t size, const char *s, size_t len,
			   size_t max)
{
	size_t o = 0;

	if (size < 8)
		return "";
	buf[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (i >= max) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		} else {
			buf[o++] = (char)ch;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	return quote_n(buf, size, s, len, QUOTE_MAX);
}

/* Keys are shown bare unless they hold bytes that need escaping. */
static const char *key_display(char *buf, size_t size, const char *k,
			       size_t klen)
{
	for (size_t i = 0; i < klen; i++) {
		unsigned char ch = (unsigned char)k[i];
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			return quote(buf, size, k, klen);
	}
	if (klen > QUOTE_MAX)
		return quote(buf, size, k, klen);
	return k;
}

static int line_or_1(int line)
{
	return line > 0 ? line : 1;
}

/* ------------------------------------------------------- typed readers */

static bool want_type(struct ctx *c, const toml_value *v, const char *key,
		      enum toml_type type)
{
	if (toml_type(v) == type)
		return true;
	error_at(c, toml_line(v), key, "expected %s, got %s",
		 toml_type_name(type), toml_type_name(toml_type(v)));
	return false;
}

/* A non-negative integer no larger than max (shown in hex when hex). */
static bool want_uint(struct ctx *c, const toml_value *v, const char *key,
		      uint64_t max, bool hex, uint64_t *out)
{
	if (!want_type(c, v, key, TOML_INTEGER))
		return false;
	int64_t x = toml_as_int(v);
	if (x < 0) {
		error_at(c, toml_line(v), key,
			 "expected a non-negative integer, got %" PRId64, x);
		return false;
	}
	if ((uint64_t)x > max) {
		if (hex)
			error_at(c, toml_line(v), key,
				 "expected at most 0x%" PRIx64 ", got 0x%" PRIx64,
				 max, (uint64_t)x);
		else
			error_at(c, toml_line(v), key,
				 "expected at most %" PRIu64 ", got %" PRId64,
				 max, x);
		return false;
	}
	*out = (uint64_t)x;
	return true;
}

static bool want_u32(struct ctx *c, const toml_value *v, const char *key,
		     uint32_t max, bool hex, uint32_t *out)
{
	uint64_t x;
	if (!want_uint(c, v, key, max, hex, &x))
		return false;
	*out = (uint32_t)x;
	return true;
}

static bool want_addr(struct ctx *c, const toml_value *v, const char *key,
		      uint64_t *out)
{
	return want_uint(c, v, key, INT64_MAX, true, out);
}

/* A string without NUL bytes that fits in size bytes with its NUL. */
static bool want_string(struct ctx *c, const toml_value *v, const char *key,
			size_t size, const char **out, size_t *out_len)
{
	char q[QUOTE_MAX * 4 + 16];

	if (!want_type(c, v, key, TOML_STRING))
		return false;
	size_t len;
	const char *s = toml_as_string(v, &len);
	if (memchr(s, '\0', len)) {
		error_at(c, toml_line(v), key,
			 "expected a string without NUL characters, got %s",
			 quote(q, sizeof(q), s, len));
		return false;
	}
	if (len >= size) {
		error_at(c, toml_line(v), key,
			 "expected at most %zu bytes, got %zu bytes", size - 1,
			 len);
		return false;
	}
	*out = s;
	if (out_len)
		*out_len = len;
	return true;
}

static bool want_enum(struct ctx *c, const toml_value *v, const char *key,
		      const struct enum_name *names, int *out)
{
	char q[QUOTE_MAX * 4 + 16], list[256];
	size_t len, o = 0;

	if (!want_type(c, v, key, TOML_STRING))
		return false;
	const char *s = toml_as_string(v, &len);
	for (const struct enum_name *n = names; n->name; n++) {
		if (strlen(n->name) == len && !memcmp(n->name, s, len)) {
			*out = n->value;
			return true;
		}
	}
	list[0] = '\0';
	for (const struct enum_name *n = names; n->name; n++) {
		if (n->alias)
			continue;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
				      o ? ", " : "", n->name);
		if (o >= sizeof(list))
			break;
	}
	error_at(c, toml_line(v), key, "expected one of %s, got %s", list,
		 quote(q, sizeof(q), s, len));
	return false;
}

/* An array of exactly n elements; shape describes it for the message. */
static bool want_tuple(struct ctx *c, const toml_value *v, const char *key,
		       size_t n, const char *shape)
{
	if (toml_type(v) != TOML_ARRAY) {
		error_at(c, toml_line(v), key, "expected %s, got %s", shape,
			 toml_type_name(toml_type(v)));
		return false;
	}
	size_t len = toml_array_len(v);
	if (len != n) {
		error_at(c, toml_line(v), key,
			 "expected %s, got an array of %zu element%s", shape,
			 len, len == 1 ? "" : "s");
		return false;
	}
	return true;
}

/* VM and device names: non-empty, bounded, printable, no '/'. */
static bool want_name(struct ctx *c, const toml_value *v, const char *key,
		      char *dst, size_t size)
{
	char q[QUOTE_MAX * 4 + 16];
	const char *s;
	size_t len;

	if (!want_string(c, v, key, size, &s, &len))
		return false;
	if (len == 0) {
		error_at(c, toml_line(v), key,
			 "expected a non-empty name, got \"\"");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f || ch == '/') {
			error_at(c, toml_line(v), key,
				 "expected printable characters without '/', got %s",
				 quote(q, sizeof(q), s, len));
			return false;
		}
	}
	memcpy(dst, s, len + 1);
	return true;
}

/* ------------------------------------------------------- table walking */

typedef void key_parser(struct ctx *c, const toml_value *v, const char *key,
			int arg);

struct key_spec {
	const char *key;
	key_parser *parse;
	int arg;
	bool required;
	const char *expect;	/* for "missing required key" */
};

static const struct key_spec *find_spec(const struct key_spec *specs,
					size_t n, const char *k, size_t klen)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(specs[i].key) == klen &&
		    !memcmp(specs[i].key, k, klen))
			return &specs[i];
	return NULL;
}

static void walk_table(struct ctx *c, const toml_value *t, const char *table,
		       const struct key_spec *specs, size_t n)
{
	char q[QUOTE_MAX * 4 + 16];

	c->table = table;
	for (size_t i = 0; i < toml_table_len(t); i++) {
		size_t klen;
		const char *k = toml_table_key(t, i, &klen);
		const struct key_spec *s = find_spec(specs, n, k, klen);
		if (s) {
			s->parse(c, toml_table_value(t, i), s->key, s->arg);
			continue;
		}
		warn_at(c, toml_table_key_line(t, i),
			key_display(q, sizeof(q), k, klen),
			"unknown key, ignored");
	}
	for (size_t i = 0; i < n; i++)
		if (specs[i].required && !toml_table_get(t, specs[i].key))
			error_at(c, line_or_1(toml_line(t)), specs[i].key,
				 "missing required key, expected %s",
				 specs[i].expect);
}

static void parse_unsupported(struct ctx *c, const toml_value *v,
			      const char *key, int arg)
{
	(void)arg;
	warn_at(c, toml_line(v), key,
		"AxVisor key not used by cvisor, ignored");
}

/* --------------------------------------------------------------- [base] */

static void parse_id(struct ctx *c, const toml_value *v, const char *key,
		     int arg)
{
	(void)arg;
	if (want_u32(c, v, key, VMCFG_ID_MAX, false, &c->cfg->id))
		c->cfg->has_id = true;
}

static void parse_name(struct ctx *c, const toml_value *v, const char *key,
		       int arg)
{
	(void)arg;
	want_name(c, v, key, c->cfg->name, sizeof(c->cfg->name));
}

static void parse_vm_type(struct ctx *c, const toml_value *v, const char *key,
			  int arg)
{
	(void)arg;
	want_u32(c, v, key, VMCFG_VM_TYPE_MAX, false, &c->cfg->vm_type);
}

static void parse_cpu_num(struct ctx *c, const toml_value *v, const char *key,
			  int arg)
{
	(void)arg;
	c->cpu_num_line = toml_line(v);
	if (!want_type(c, v, key, TOML_INTEGER))
		return;
	int64_t x = toml_as_int(v);
	if (x < 1 || x > (int64_t)c->max_vcpus) {
		error_at(c, toml_line(v), key,
			 "expected an integer in 1..%u, got %" PRId64,
			 c->max_vcpus, x);
		return;
	}
	c->cfg->cpu_num = (uint32_t)x;
	c->cpu_num_ok = true;
}

/* phys_cpu_ids (arg 0) and phys_cpu_sets (arg 1): one integer per vCPU. */
static void parse_cpu_list(struct ctx *c, const toml_value *v,
			   const char *key, int arg)
{
	bool sets = arg == 1;
	uint64_t *dst = sets ? c->cfg->phys_cpu_sets : c->cfg->phys_cpu_ids;
	size_t *n = sets ? &c->cfg->n_phys_cpu_sets : &c->cfg->n_phys_cpu_ids;
	bool ok = true;
	char k[64];

	*(sets ? &c->phys_sets_line : &c->phys_ids_line) = toml_line(v);
	if (!want_type(c, v, key, TOML_ARRAY))
		return;
	size_t len = toml_array_len(v);
	if (len > VMCFG_MAX_VCPUS) {
		error_at(c, toml_line(v), key,
			 "expected at most %d entries, got %zu",
			 VMCFG_MAX_VCPUS, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		const toml_value *e = toml_array_at(v, i);
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		if (!want_uint(c, e, k, INT64_MAX, sets, &dst[i])) {
			ok = false;
			continue;
		}
		if (sets && dst[i] == 0) {
			error_at(c, toml_line(e), k,
				 "expected a non-zero CPU bitmask, got 0x0");
			ok = false;
		}
	}
	*n = len;
	*(sets ? &c->phys_sets_ok : &c->phys_ids_ok) = ok;
}

static void parse_base_enum(struct ctx *c, const toml_value *v,
			    const char *key, int arg)
{
	int x;
	if (arg == 0 && want_enum(c, v, key, accel_names, &x))
		c->cfg->accel = (enum vm_accel)x;
	if (arg == 1 && want_enum(c, v, key, on_reboot_names, &x))
		c->cfg->on_reboot = (enum vm_on_reboot)x;
}

static const struct key_spec base_keys[] = {
	{ "id", parse_id, 0, false, "integer" },
	{ "name", parse_name, 0, true, "string" },
	{ "vm_type", parse_vm_type, 0, false, "integer" },
	{ "cpu_num", parse_cpu_num, 0, true, "integer" },
	{ "phys_cpu_ids", parse_cpu_list, 0, false, "array" },
	{ "phys_cpu_sets", parse_cpu_list, 1, false, "array" },
	{ "accel", parse_base_enum, 0, false, "string" },
	{ "on_reboot", parse_base_enum, 1, false, "string" },
};

/* ------------------------------------------------------------- [kernel] */

static char *image_path(struct vm_config *cfg, enum image_kind k)
{
	switch (k) {
	case IMG_KERNEL: return cfg->kernel_path;
	case IMG_BIOS: return cfg->bios_path;
	case IMG_RAMDISK: return cfg->ramdisk_path;
	default: return cfg->dtb_path;
	}
}

static uint64_t *image_addr(struct vm_config *cfg, enum image_kind k)
{
	switch (k) {
	case IMG_KERNEL: return &cfg->kernel_load_addr;
	case IMG_BIOS: return &cfg->bios_load_addr;
	case IMG_RAMDISK: return &cfg->ramdisk_load_addr;
	default: return &cfg->dtb_load_addr;
	}
}

static bool *image_has(struct vm_config *cfg, enum image_kind k)
{
	switch (k) {
	case IMG_BIOS: return &cfg->has_bios;
	case IMG_RAMDISK: return &cfg->has_ramdisk;
	case IMG_DTB: return &cfg->has_dtb;
	default: return NULL;
	}
}

static const char *const image_what[IMG_COUNT] = {
	"kernel", "bios", "ramdisk", "dtb",
};
static const char *const image_path_key[IMG_COUNT] = {
	"kernel_path", "bios_path", "ramdisk_path", "dtb_path",
};
static const char *const image_addr_key[IMG_COUNT] = {
	"kernel_load_addr", "bios_load_addr", "ramdisk_load_addr",
	"dtb_load_addr",
};

static void parse_image_path(struct ctx *c, const toml_value *v,
			     const char *key, int arg)
{
	enum image_kind k = (enum image_kind)arg;
	const char *s;
	size_t len;

	c->img[k].path_line = toml_line(v);
	if (image_has(c->cfg, k))
		*image_has(c->cfg, k) = true;
	if (!want_string(c, v, key, VMCFG_PATH_MAX, &s, &len))
		return;
	if (len == 0) {
		error_at(c, toml_line(v), key,
			 "expected a non-empty path, got \"\"");
		return;
	}
	memcpy(image_path(c->cfg, k), s, len + 1);
	c->img[k].path_ok = true;
}

static void parse_image_addr(struct ctx *c, const toml_value *v,
			     const char *key, int arg)
{
	enum image_kind k = (enum image_kind)arg;

	c->img[k].addr_line = toml_line(v);
	c->img[k].addr_set = true;
	c->img[k].addr_ok = want_addr(c, v, key, image_addr(c->cfg, k));
}

static void parse_entry_point(struct ctx *c, const toml_value *v,
			      const char *key, int arg)
{
	(void)arg;
	c->entry_line = toml_line(v);
	c->entry_ok = want_addr(c, v, key, &c->cfg->entry_point);
}

static void parse_cmdline(struct ctx *c, const toml_value *v,
			  const char *key, int arg)
{
	const char *s;
	size_t len;

	(void)arg;
	if (want_string(c, v, key, sizeof(c->cfg->cmdline), &s, &len))
		memcpy(c->cfg->cmdline, s, len + 1);
}

static void parse_kernel_enum(struct ctx *c, const toml_value *v,
			      const char *key, int arg)
{
	int x;
	if (arg == 0 && want_enum(c, v, key, image_location_names, &x))
		c->cfg->image_location = (enum vm_image_location)x;
	if (arg == 1 && want_enum(c, v, key, boot_protocol_names, &x))
		c->cfg->boot_protocol = (enum vm_boot_protocol)x;
	if (arg == 2) {
		c->cpu_mode_set = true;
		c->cpu_mode_line = toml_line(v);
		if (want_enum(c, v, key, cpu_mode_names, &x))
			c->cfg->cpu_mode = (enum vm_cpu_mode)x;
	}
	if (arg == 3) {
		c->ap_start_line = toml_line(v);
		if (want_enum(c, v, key, ap_start_names, &x))
			c->cfg->ap_start = (enum vm_ap_start)x;
	}
}

static bool parse_region(struct ctx *c, const toml_value *e, const char *key,
			 struct vm_mem_region *r)
{
	static const char *const field[4] = { "gpa", "size", "flags",
					      "map_type" };
	char k[96], q[2][32];
	uint64_t val[4];
	bool ok = true;

	r->line = toml_line(e);
	if (!want_tuple(c, e, key, 4,
			"an array of 4 integers [gpa, size, flags, map_type]"))
		return false;
	for (size_t i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "%s.%s", key, field[i]);
		if (!want_uint(c, toml_array_at(e, i), k, INT64_MAX, i != 3,
			       &val[i]))
			ok = false;
	}
	if (!ok)
		return false;
	if (val[2] & ~(uint64_t)VM_MEM_FLAGS_ALL) {
		snprintf(k, sizeof(k), "%s.flags", key);
		error_at(c, r->line, k,
			 "expected a subset of 0x3f (READ 0x1, WRITE 0x2, EXECUTE 0x4, USER 0x8, DEVICE 0x10, UNCACHED 0x20), got 0x%" PRIx64,
			 val[2]);
		ok = false;
	}
	if (val[3] > VM_MAP_RESERVED) {
		snprintf(k, sizeof(k), "%s.map_type", key);
		error_at(c, r->line, k,
			 "expected 0 (allocate), 1 (identical) or 2 (reserved), got %" PRIu64,
			 val[3]);
		ok = false;
	}
	if (!ok)
		return false;
	r->gpa = val[0];
	r->size = val[1];
	r->flags = (uint32_t)val[2];
	r->map_type = (uint32_t)val[3];
	if (r->gpa % PAGE_SIZE_4K) {
		snprintf(k, sizeof(k), "%s.gpa", key);
		error_at(c, r->line, k,
			 "expected a multiple of 0x1000 (4 KiB), got 0x%" PRIx64,
			 r->gpa);
		ok = false;
	}
	snprintf(k, sizeof(k), "%s.size", key);
	if (r->size == 0) {
		error_at(c, r->line, k, "expected a size above 0, got 0x0");
		ok = false;
	} else if (r->size % PAGE_SIZE_4K) {
		error_at(c, r->line, k,
			 "expected a multiple of 0x1000 (4 KiB), got 0x%" PRIx64,
			 r->size);
		ok = false;
	}
	/* gpa and size are below 2^63 each, so the sum cannot wrap */
	if (ok && r->gpa + r->size > PHYS_ADDR_LIMIT) {
		snprintf(q[0], sizeof(q[0]), "0x%" PRIx64, r->gpa);
		snprintf(q[1], sizeof(q[1]), "0x%" PRIx64, r->size);
		error_at(c, r->line, key,
			 "expected a region ending at or below 0x%llx (the x86 physical address limit), got %s+%s",
			 PHYS_ADDR_LIMIT, q[0], q[1]);
		ok = false;
	}
	return ok;
}

static void parse_regions(struct ctx *c, const toml_value *v,
			  const char *key, int arg)
{
	char k[64];
	bool ok = true;

	(void)arg;
	c->regions_line = toml_line(v);
	if (!want_type(c, v, key, TOML_ARRAY))
		return;
	size_t len = toml_array_len(v);
	if (len > VMCFG_MAX_REGIONS) {
		error_at(c, toml_line(v), key,
			 "expected at most %d regions, got %zu",
			 VMCFG_MAX_REGIONS, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		c->region_ok[i] = parse_region(c, toml_array_at(v, i), k,
					       &c->cfg->regions[i]);
		ok = ok && c->region_ok[i];
	}
	c->cfg->n_regions = len;
	c->regions_ok = ok;
}

static const struct key_spec kernel_keys[] = {
	{ "entry_point", parse_entry_point, 0, true, "integer" },
	{ "image_location", parse_kernel_enum, 0, false, "string" },
	{ "kernel_path", parse_image_path, IMG_KERNEL, true, "string" },
	{ "kernel_load_addr", parse_image_addr, IMG_KERNEL, true, "integer" },
	{ "bios_path", parse_image_path, IMG_BIOS, false, "string" },
	{ "bios_load_addr", parse_image_addr, IMG_BIOS, false, "integer" },
	{ "ramdisk_path", parse_image_path, IMG_RAMDISK, false, "string" },
	{ "ramdisk_load_addr", parse_image_addr, IMG_RAMDISK, false,
	  "integer" },
	{ "dtb_path", parse_image_path, IMG_DTB, false, "string" },
	{ "dtb_load_addr", parse_image_addr, IMG_DTB, false, "integer" },
	{ "cmdline", parse_cmdline, 0, false, "string" },
	{ "memory_regions", parse_regions, 0, true, "array" },
	{ "boot_protocol", parse_kernel_enum, 1, false, "string" },
	{ "cpu_mode", parse_kernel_enum, 2, false, "string" },
	{ "ap_start", parse_kernel_enum, 3, false, "string" },
	{ "disk_path", parse_unsupported, 0, false, "string" },
};

/* ------------------------------------------------------------ [devices] */

static void parse_irq_mode(struct ctx *c, const toml_value *v,
			   const char *key, int arg)
{
	int x;

	(void)arg;
	if (!want_enum(c, v, key, irq_mode_names, &x))
		return;
	c->cfg->interrupt_mode = (enum vm_irq_mode)x;
	if (x == VM_IRQ_PASSTHROUGH)
		warn_at(c, toml_line(v), key,
			"\"passthrough\" is not applicable on this host");
}

static bool known_dev_type(uint64_t t)
{
	switch (t) {
	case VM_DEV_INTC: case VM_DEV_CONSOLE: case VM_DEV_VIRTIO_BLK:
	case VM_DEV_VIRTIO_NET: case VM_DEV_VIRTIO_CONSOLE: case VM_DEV_I8042:
	case VM_DEV_DEBUG_EXIT: case VM_DEV_BOOT_TIMER:
		return true;
	default:
		return false;
	}
}

/* Port I/O or MMIO, by type (see the file header). */
static bool dev_is_port(const struct vm_emu_device *d)
{
	switch (d->type) {
	case VM_DEV_I8042: case VM_DEV_DEBUG_EXIT: case VM_DEV_BOOT_TIMER:
		return true;
	case VM_DEV_CONSOLE: case VM_DEV_INTC:
		return d->base < PORT_SPACE_END;
	default:
		return false;
	}
}

static bool parse_dev_cfg(struct ctx *c, const toml_value *v, const char *key,
			  struct vm_emu_device *d)
{
	char k[128];
	bool ok = true;

	if (!want_type(c, v, key, TOML_ARRAY))
		return false;
	size_t len = toml_array_len(v);
	if (len > VMCFG_DEV_CFG_MAX) {
		error_at(c, toml_line(v), key,
			 "expected at most %d values, got %zu",
			 VMCFG_DEV_CFG_MAX, len);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		if (!want_uint(c, toml_array_at(v, i), k, INT64_MAX, true,
			       &d->cfg[i]))
			ok = false;
	}
	d->ncfg = len;
	return ok;
}

static bool parse_emu_device(struct ctx *c, const toml_value *e,
			     const char *key, struct vm_emu_device *d)
{
	char k[96];
	uint64_t type = 0;
	bool ok = true;

	d->line = toml_line(e);
	if (!want_tuple(c, e, key, 6,
			"an array [name, base, len, irq, type, [cfg...]]"))
		return false;
	snprintf(k, sizeof(k), "%s.name", key);
	ok &= want_name(c, toml_array_at(e, 0), k, d->name, sizeof(d->name));
	snprintf(k, sizeof(k), "%s.base", key);
	ok &= want_addr(c, toml_array_at(e, 1), k, &d->base);
	snprintf(k, sizeof(k), "%s.len", key);
	ok &= want_addr(c, toml_array_at(e, 2), k, &d->len);
	snprintf(k, sizeof(k), "%s.irq", key);
	ok &= want_u32(c, toml_array_at(e, 3), k, VMCFG_IRQ_MAX, false,
		       &d->irq);
	snprintf(k, sizeof(k), "%s.type", key);
	if (want_uint(c, toml_array_at(e, 4), k, INT64_MAX, true, &type)) {
		if (known_dev_type(type)) {
			d->type = (uint32_t)type;
		} else {
			error_at(c, toml_line(toml_array_at(e, 4)), k,
				 "expected a known device type (0x1 interrupt controller, 0x2 console, 0xe1 virtio-blk, 0xe2 virtio-net, 0xe3 virtio-console, 0xf0 i8042, 0xf1 debug-exit, 0xf2 boot-timer), got 0x%" PRIx64,
				 type);
			ok = false;
		}
	} else {
		ok = false;
	}
	snprintf(k, sizeof(k), "%s.cfg", key);
	ok &= parse_dev_cfg(c, toml_array_at(e, 5), k, d);
	if (!ok)
		return false;
	snprintf(k, sizeof(k), "%s.len", key);
	if (d->len == 0) {
		error_at(c, d->line, k, "expected a length above 0, got 0x0");
		return false;
	}
	if (dev_is_port(d) && d->base + d->len > PORT_SPACE_END) {
		error_at(c, d->line, key,
			 "expected a port range ending at or below 0x10000 (a port I/O device), got 0x%" PRIx64 "+0x%" PRIx64,
			 d->base, d->len);
		return false;
	}
	if (!dev_is_port(d) && d->base + d->len > PHYS_ADDR_LIMIT) {
		error_at(c, d->line, key,
			 "expected an MMIO range ending at or below 0x%llx, got 0x%" PRIx64 "+0x%" PRIx64,
			 PHYS_ADDR_LIMIT, d->base, d->len);
		return false;
	}
	return true;
}

static bool parse_pt_device(struct ctx *c, const toml_value *e,
			    const char *key, struct vm_passthrough_device *d)
{
	char k[96];
	bool ok = true;

	d->line = toml_line(e);
	d->applicable = false;
	if (!want_tuple(c, e, key, 5,
			"an array [name, base_gpa, base_hpa, len, irq]"))
		return false;
	snprintf(k, sizeof(k), "%s.name", key);
	ok &= want_name(c, toml_array_at(e, 0), k, d->name, sizeof(d->name));
	snprintf(k, sizeof(k), "%s.base_gpa", key);
	ok &= want_addr(c, toml_array_at(e, 1), k, &d->base_gpa);
	snprintf(k, sizeof(k), "%s.base_hpa", key);
	ok &= want_addr(c, toml_array_at(e, 2), k, &d->base_hpa);
	snprintf(k, sizeof(k), "%s.len", key);
	ok &= want_addr(c, toml_array_at(e, 3), k, &d->len);
	snprintf(k, sizeof(k), "%s.irq", key);
	ok &= want_u32(c, toml_array_at(e, 4), k, VMCFG_IRQ_MAX, false,
		       &d->irq);
	if (!ok)
		return false;
	if (d->len == 0) {
		snprintf(k, sizeof(k), "%s.len", key);
		error_at(c, d->line, k, "expected a length above 0, got 0x0");
		return false;
	}
	return true;
}

/* emu_devices (arg 0) and passthrough_devices (arg 1). */
static void parse_devices(struct ctx *c, const toml_value *v,
			  const char *key, int arg)
{
	char k[64];

	if (!want_type(c, v, key, TOML_ARRAY))
		return;
	size_t len = toml_array_len(v);
	if (len > VMCFG_MAX_DEVICES) {
		error_at(c, toml_line(v), key,
			 "expected at most %d devices, got %zu",
			 VMCFG_MAX_DEVICES, len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		const toml_value *e = toml_array_at(v, i);
		snprintf(k, sizeof(k), "%s[%zu]", key, i);
		if (arg == 0)
			c->emu_ok[i] = parse_emu_device(
				c, e, k, &c->cfg->emu_devices[i]);
		else
			c->pt_ok[i] = parse_pt_device(
				c, e, k, &c->cfg->passthrough_devices[i]);
	}
	if (arg == 0)
		c->cfg->n_emu_devices = len;
	else
		c->cfg->n_passthrough_devices = len;
}

static const struct key_spec devices_keys[] = {
	{ "interrupt_mode", parse_irq_mode, 0, false, "string" },
	{ "emu_devices", parse_devices, 0, false, "array" },
	{ "passthrough_devices", parse_devices, 1, false, "array" },
	{ "excluded_devices", parse_unsupported, 0, false, "array" },
	{ "passthrough_addresses", parse_unsupported, 0, false, "array" },
};

/* ---------------------------------------------------------- root table */

struct table_spec {
	const char *name;
	const struct key_spec *keys;
	size_t n_keys;
	bool required;
	const char *required_keys;	/* for the "missing table" message */
};

static const struct table_spec tables[] = {
	{ "base", base_keys, sizeof(base_keys) / sizeof(base_keys[0]), true,
	  "name and cpu_num" },
	{ "kernel", kernel_keys, sizeof(kernel_keys) / sizeof(kernel_keys[0]),
	  true, "entry_point, kernel_path, kernel_load_addr and memory_regions" },
	{ "devices", devices_keys,
	  sizeof(devices_keys) / sizeof(devices_keys[0]), false, NULL },
};

static void walk_root(struct ctx *c, const toml_value *root)
{
	char q[QUOTE_MAX * 4 + 16];
	const size_t n_tables = sizeof(tables) / sizeof(tables[0]);

	c->table = NULL;
	for (size_t i = 0; i < toml_table_len(root); i++) {
		size_t klen;
		const char *k = toml_table_key(root, i, &klen);
		bool known = false;
		for (size_t j = 0; j < n_tables; j++)
			known |= strlen(tables[j].name) == klen &&
				 !memcmp(tables[j].name, k, klen);
		if (known)
			continue;
		const char *shown = key_display(q, sizeof(q), k, klen);
		if (toml_type(toml_table_value(root, i)) == TOML_TABLE) {
			c->table = shown;
			warn_at(c, toml_table_key_line(root, i), NULL,
				"unknown table, ignored");
			c->table = NULL;
		} else {
			warn_at(c, toml_table_key_line(root, i), shown,
				"unknown key, ignored");
		}
	}
	for (size_t j = 0; j < n_tables; j++) {
		const struct table_spec *ts = &tables[j];
		const toml_value *t = toml_table_get(root, ts->name);
		c->table = ts->name;
		if (!t) {
			if (ts->required)
				error_at(c, 1, NULL,
					 "missing required table, expected a table with %s",
					 ts->required_keys);
			continue;
		}
		if (toml_type(t) != TOML_TABLE) {
			error_at(c, toml_line(t), NULL, "expected table, got %s",
				 toml_type_name(toml_type(t)));
			continue;
		}
		walk_table(c, t, ts->name, ts->keys, ts->n_keys);
	}
}

/* ---------------------------------------------------- cross-field checks */

static bool is_ram(const struct vm_mem_region *r)
{
	return r->map_type != VM_MAP_RESERVED;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
			   uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Index of the RAM region holding [addr, addr+len), or -1. */
static int find_ram(const struct ctx *c, uint64_t addr, uint64_t len)
{
	const struct vm_config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_regions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		if (c->region_ok[i] && is_ram(r) && addr >= r->gpa &&
		    addr < r->gpa + r->size && len <= r->gpa + r->size - addr)
			return (int)i;
	}
	return -1;
}

static int find_ram_overlap(const struct ctx *c, uint64_t addr, uint64_t len)
{
	const struct vm_config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_regions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		if (c->region_ok[i] && is_ram(r) &&
		    ranges_overlap(addr, len, r->gpa, r->size))
			return (int)i;
	}
	return -1;
}

static void check_regions(struct ctx *c)
{
	const struct vm_config *cfg = c->cfg;
	bool any_ram = false;
	uint64_t total = 0;

	c->table = "kernel";
	if (!c->regions_line)
		return;		/* missing: already reported */
	for (size_t i = 0; i < cfg->n_regions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		if (!c->region_ok[i])
			continue;
		if (is_ram(r)) {
			any_ram = true;
			total += r->size;	/* <= 32 sizes below 2^52 */
		}
		for (size_t j = 0; j < i; j++) {
			const struct vm_mem_region *o = &cfg->regions[j];
			if (!c->region_ok[j] ||
			    !ranges_overlap(r->gpa, r->size, o->gpa, o->size))
				continue;
			char k[32];
			snprintf(k, sizeof(k), "memory_regions[%zu]", i);
			error_at(c, r->line, k,
				 "region 0x%" PRIx64 "+0x%" PRIx64
				 " overlaps region %zu (0x%" PRIx64 "+0x%" PRIx64 ")",
				 r->gpa, r->size, j, o->gpa, o->size);
			c->regions_ok = false;	/* images cannot be placed */
			break;
		}
	}
	if (!any_ram && c->regions_ok)
		error_at(c, c->regions_line, "memory_regions",
			 "expected at least one RAM region (map_type 0 or 1), got %s",
			 cfg->n_regions ? "only reserved regions" : "none");
	if (total > c->max_memory)
		error_at(c, c->regions_line, "memory_regions",
			 "expected at most 0x%" PRIx64 " bytes of RAM in total (the host limit, %" PRIu64 " MiB), got 0x%" PRIx64 " (%" PRIu64 " MiB)",
			 c->max_memory, c->max_memory >> 20, total, total >> 20);
}

/* Join base_dir and a relative path; errors when the result is too long. */
static bool resolve_path(struct ctx *c, enum image_kind k)
{
	char *p = image_path(c->cfg, k);
	char out[VMCFG_PATH_MAX];
	const char *rel = p;

	if (p[0] == '/' || !c->base_dir[0])
		return true;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	int n = snprintf(out, sizeof(out), "%s%s%s", c->base_dir,
			 c->base_dir[strlen(c->base_dir) - 1] == '/' ? "" : "/",
			 rel);
	if (n < 0 || (size_t)n >= sizeof(out)) {
		error_at(c, c->img[k].path_line, image_path_key[k],
			 "expected a path of at most %d bytes once resolved against %s, got %d bytes",
			 VMCFG_PATH_MAX - 1, c->base_dir, n);
		return false;
	}
	memcpy(p, out, (size_t)n + 1);
	return true;
}

/* Size of a host image file; O_NONBLOCK so a FIFO cannot hang the check. */
static bool stat_image(struct ctx *c, enum image_kind k)
{
	const char *p = image_path(c->cfg, k);
	const char *key = image_path_key[k];
	int line = c->img[k].path_line;
	char q[PATH_QUOTE_MAX * 4 + 16];
	struct stat st;

	quote_n(q, sizeof(q), p, strlen(p), PATH_QUOTE_MAX);
	if (stat(p, &st) < 0) {
		error_at(c, line, key, "cannot read %s: %s", q, strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		error_at(c, line, key, "expected a regular file, got %s %s",
			 S_ISDIR(st.st_mode) ? "a directory" : "a special file",
			 q);
		return false;
	}
	int fd = open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		error_at(c, line, key, "cannot read %s: %s", q, strerror(errno));
		return false;
	}
	close(fd);
	if (st.st_size == 0) {
		error_at(c, line, key, "expected a non-empty file, got an empty file %s",
			 q);
		return false;
	}
	c->img[k].size = (uint64_t)st.st_size;
	return true;
}

static bool builtin_image(struct ctx *c, enum image_kind k)
{
	const char *name = image_path(c->cfg, k);
	char q[QUOTE_MAX * 4 + 16], list[256];
	size_t o = 0;

	const struct builtin_image *b = builtin_find(name);
	if (b) {
		c->img[k].size = b->size;
		return true;
	}
	list[0] = '\0';
	for (const struct builtin_image *i = builtin_list(); i && i->name; i++) {
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
				      o ? ", " : "", i->name);
		if (o >= sizeof(list))
			break;
	}
	error_at(c, c->img[k].path_line, image_path_key[k],
		 "expected the name of a built-in image (image_location is \"memory\"; %s%s), got %s",
		 o ? "one of " : "this build has none", list,
		 quote(q, sizeof(q), name, strlen(name)));
	return false;
}

/* Is image k present, with a usable path and load address? */
static bool image_wanted(struct ctx *c, enum image_kind k)
{
	bool *has = image_has(c->cfg, k);

	if (has && !*has) {
		if (c->img[k].addr_set && k != IMG_BIOS)
			warn_at(c, c->img[k].addr_line, image_addr_key[k],
				"ignored because %s is not set",
				image_path_key[k]);
		return false;
	}
	if (!c->img[k].addr_set && k != IMG_KERNEL && k != IMG_BIOS) {
		error_at(c, c->img[k].path_line, image_addr_key[k],
			 "missing required key when %s is set, expected integer",
			 image_path_key[k]);
		return false;
	}
	if (k == IMG_BIOS && !c->img[k].addr_set)
		c->img[k].addr_ok = true;	/* the default, 0x8000 */
	return c->img[k].path_ok;
}

static void check_image_fit(struct ctx *c, enum image_kind k)
{
	struct image_state *im = &c->img[k];
	uint64_t addr = *image_addr(c->cfg, k);
	int line = im->addr_set ? im->addr_line : im->path_line;

	if (find_ram(c, addr, im->size) >= 0) {
		im->size_ok = true;
		return;
	}
	int r = find_ram_overlap(c, addr, im->size);
	if (r < 0) {
		error_at(c, line, image_addr_key[k],
			 "%s image 0x%" PRIx64 "+0x%" PRIx64
			 " is not inside a RAM region",
			 image_what[k], addr, im->size);
		return;
	}
	const struct vm_mem_region *reg = &c->cfg->regions[r];
	error_at(c, line, image_addr_key[k],
		 "%s image 0x%" PRIx64 "+0x%" PRIx64
		 " does not fit in RAM region %d (0x%" PRIx64 "+0x%" PRIx64 ")",
		 image_what[k], addr, im->size, r, reg->gpa, reg->size);
}

static void check_images(struct ctx *c)
{
	bool memory = c->cfg->image_location == VM_IMAGE_MEMORY;

	c->table = "kernel";
	for (int k = 0; k < IMG_COUNT; k++) {
		struct image_state *im = &c->img[k];
		if (!image_wanted(c, (enum image_kind)k))
			continue;
		bool found = memory ? builtin_image(c, (enum image_kind)k) :
			     resolve_path(c, (enum image_kind)k) &&
			     stat_image(c, (enum image_kind)k);
		if (found && im->addr_ok && c->regions_ok)
			check_image_fit(c, (enum image_kind)k);
	}
	for (int k = 1; k < IMG_COUNT; k++) {
		for (int j = 0; j < k && c->img[k].size_ok; j++) {
			uint64_t a = *image_addr(c->cfg, (enum image_kind)k);
			uint64_t b = *image_addr(c->cfg, (enum image_kind)j);
			if (!c->img[j].size_ok ||
			    !ranges_overlap(a, c->img[k].size, b, c->img[j].size))
				continue;
			error_at(c, c->img[k].addr_set ? c->img[k].addr_line :
				 c->img[k].path_line, image_addr_key[k],
				 "%s image 0x%" PRIx64 "+0x%" PRIx64
				 " overlaps the %s image (0x%" PRIx64 "+0x%" PRIx64 ")",
				 image_what[k], a, c->img[k].size, image_what[j],
				 b, c->img[j].size);
			break;
		}
	}
}

static void check_entry(struct ctx *c)
{
	struct vm_config *cfg = c->cfg;

	c->table = "kernel";
	if (!c->entry_ok)
		return;
	bool real = cfg->has_bios || (cfg->boot_protocol == VM_BOOT_RAW &&
				      cfg->cpu_mode == VM_CPU_REAL);
	if (real && cfg->entry_point >= REAL_MODE_LIMIT)
		error_at(c, c->entry_line, "entry_point",
			 "expected an address below 0x100000 (the vCPU starts in real mode %s), got 0x%" PRIx64,
			 cfg->has_bios ? "because bios_path is set" :
			 "with boot_protocol \"raw\" and cpu_mode \"real\"",
			 cfg->entry_point);
	else if (c->regions_ok && find_ram(c, cfg->entry_point, 1) < 0)
		error_at(c, c->entry_line, "entry_point",
			 "expected an address inside a RAM region, got 0x%" PRIx64,
			 cfg->entry_point);
	if (cfg->has_bios && c->cpu_mode_set && cfg->cpu_mode != VM_CPU_REAL)
		warn_at(c, c->cpu_mode_line, "cpu_mode",
			"ignored because bios_path is set (the BIOS starts in real mode)");
}

/*
 * ap_start: "sipi" needs a LAPIC (an interrupt controller); "entry" is the
 * raw-image convention, meaningless for a kernel format that names its
 * own entry (auto-detected formats are refused at load time).
 */
static void check_ap_start(struct ctx *c)
{
	const struct vm_config *cfg = c->cfg;

	c->table = "kernel";
	if (cfg->ap_start == VM_AP_START_SIPI &&
	    cfg->interrupt_mode == VM_IRQ_NONE)
		error_at(c, c->ap_start_line, "ap_start",
			 "\"sipi\" needs a LAPIC to receive INIT/SIPI: set [devices] interrupt_mode = \"emu\" (it is \"no_irq\")");
	if (cfg->ap_start == VM_AP_START_ENTRY && !cfg->has_bios &&
	    cfg->boot_protocol != VM_BOOT_AUTO &&
	    cfg->boot_protocol != VM_BOOT_RAW)
		error_at(c, c->ap_start_line, "ap_start",
			 "\"entry\" starts every vCPU at the entry point of a raw image; boot_protocol \"%s\" enters only the BSP (use \"sipi\" or \"auto\")",
			 vmcfg_boot_protocol_name(cfg->boot_protocol));
}

static void check_cpus(struct ctx *c)
{
	const struct vm_config *cfg = c->cfg;

	c->table = "base";
	if (!c->cpu_num_ok)
		return;
	if (c->phys_ids_ok && cfg->n_phys_cpu_ids != cfg->cpu_num)
		error_at(c, c->phys_ids_line, "phys_cpu_ids",
			 "expected %u entr%s (one per vCPU, cpu_num = %u), got %zu",
			 cfg->cpu_num, cfg->cpu_num == 1 ? "y" : "ies",
			 cfg->cpu_num, cfg->n_phys_cpu_ids);
	if (c->phys_sets_ok && cfg->n_phys_cpu_sets != cfg->cpu_num)
		error_at(c, c->phys_sets_line, "phys_cpu_sets",
			 "expected %u entr%s (one per vCPU, cpu_num = %u), got %zu",
			 cfg->cpu_num, cfg->cpu_num == 1 ? "y" : "ies",
			 cfg->cpu_num, cfg->n_phys_cpu_sets);
}

static void check_emu_devices(struct ctx *c)
{
	const struct vm_config *cfg = c->cfg;
	char k[64];

	c->table = "devices";
	for (size_t i = 0; i < cfg->n_emu_devices; i++) {
		const struct vm_emu_device *d = &cfg->emu_devices[i];
		if (!c->emu_ok[i])
			continue;
		snprintf(k, sizeof(k), "emu_devices[%zu]", i);
		int r = dev_is_port(d) ? -1 : find_ram_overlap(c, d->base, d->len);
		if (r >= 0)
			error_at(c, d->line, k,
				 "MMIO range 0x%" PRIx64 "+0x%" PRIx64
				 " overlaps RAM region %d (0x%" PRIx64 "+0x%" PRIx64 ")",
				 d->base, d->len, r, cfg->regions[r].gpa,
				 cfg->regions[r].size);
		for (size_t j = 0; j < i; j++) {
			const struct vm_emu_device *o = &cfg->emu_devices[j];
			if (!c->emu_ok[j])
				continue;
			if (!strcmp(d->name, o->name)) {
				error_at(c, d->line, k,
					 "expected a unique name, got \"%s\" (also used by emu_devices[%zu])",
					 d->name, j);
				break;
			}
			if (dev_is_port(d) == dev_is_port(o) &&
			    ranges_overlap(d->base, d->len, o->base, o->len)) {
				error_at(c, d->line, k,
					 "%s range 0x%" PRIx64 "+0x%" PRIx64
					 " overlaps emu_devices[%zu] \"%s\" (0x%" PRIx64 "+0x%" PRIx64 ")",
					 dev_is_port(d) ? "port" : "MMIO", d->base,
					 d->len, j, o->name, o->base, o->len);
				break;
			}
		}
	}
}

static void check_pt_devices(struct ctx *c)
{
	struct vm_config *cfg = c->cfg;
	char k[64];

	c->table = "devices";
	for (size_t i = 0; i < cfg->n_passthrough_devices; i++) {
		const struct vm_passthrough_device *d =
			&cfg->passthrough_devices[i];
		if (!c->pt_ok[i])
			continue;
		snprintf(k, sizeof(k), "passthrough_devices[%zu]", i);
		int r = find_ram_overlap(c, d->base_gpa, d->len);
		if (r >= 0) {
			error_at(c, d->line, k,
				 "range 0x%" PRIx64 "+0x%" PRIx64
				 " overlaps RAM region %d (0x%" PRIx64 "+0x%" PRIx64 ")",
				 d->base_gpa, d->len, r, cfg->regions[r].gpa,
				 cfg->regions[r].size);
			continue;
		}
		warn_at(c, d->line, k,
			"device \"%s\" at 0x%" PRIx64 " is not applicable on this host (cvisor has no device passthrough), ignored",
			d->name, d->base_gpa);
	}
}

/* ------------------------------------------------------------- loading */

void vmcfg_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vm_type = 1;
	cfg->accel = VM_ACCEL_AUTO;
	cfg->on_reboot = VM_ON_REBOOT_RESET;
	cfg->image_location = VM_IMAGE_FS;
	cfg->bios_load_addr = DEFAULT_BIOS_LOAD_ADDR;
	cfg->boot_protocol = VM_BOOT_AUTO;
	cfg->cpu_mode = VM_CPU_REAL;
	cfg->interrupt_mode = VM_IRQ_NONE;
}

uint64_t vmcfg_total_memory(const struct vm_config *cfg)
{
	uint64_t total = 0;
	for (size_t i = 0; i < cfg->n_regions && i < VMCFG_MAX_REGIONS; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		if (!is_ram(r))
			continue;
		total = r->size > UINT64_MAX - total ? UINT64_MAX :
			total + r->size;
	}
	return total;
}

static uint64_t host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return UINT64_MAX;
	return (uint64_t)pages * (uint64_t)page;
}

/* The directory relative image paths resolve against, made absolute. */
static void set_base_dir(struct ctx *c, const char *base_dir)
{
	char cwd[VMCFG_PATH_MAX];

	c->base_dir[0] = '\0';
	if (base_dir && base_dir[0] == '/') {
		snprintf(c->base_dir, sizeof(c->base_dir), "%s", base_dir);
		return;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		/* keep paths relative rather than guess */
		if (base_dir)
			snprintf(c->base_dir, sizeof(c->base_dir), "%s", base_dir);
		return;
	}
	if (!base_dir || !base_dir[0] || !strcmp(base_dir, "."))
		snprintf(c->base_dir, sizeof(c->base_dir), "%s", cwd);
	else
		snprintf(c->base_dir, sizeof(c->base_dir), "%s/%s",
			 strcmp(cwd, "/") ? cwd : "", base_dir);
}

static void init_ctx(struct ctx *c, const char *display_name,
		     const char *base_dir, struct vm_config *cfg,
		     struct vmcfg_diags *diags,
		     const struct vmcfg_limits *limits)
{
	memset(c, 0, sizeof(*c));
	c->file = display_name && display_name[0] ? display_name : "<string>";
	c->cfg = cfg;
	c->diags = diags;
	c->max_vcpus = VMCFG_MAX_VCPUS;
	if (limits && limits->max_vcpus && limits->max_vcpus < VMCFG_MAX_VCPUS)
		c->max_vcpus = limits->max_vcpus;
	c->max_memory = limits && limits->max_total_memory ?
			limits->max_total_memory : host_memory();
	set_base_dir(c, base_dir);
}

/*
 * Checks run phase by phase; users read top to bottom, so order this
 * load's diags by line (stable: same-line problems keep their order).
 */
struct diag_order {
	int line;
	size_t idx;
};

static int cmp_diag_order(const void *a, const void *b)
{
	const struct diag_order *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void sort_diags(struct vmcfg_diags *d, size_t first)
{
	size_t n = d->n - first;
	if (n < 2)
		return;
	struct diag_order *order = malloc(n * sizeof(*order));
	struct vmcfg_diag *sorted = malloc(n * sizeof(*sorted));
	if (order && sorted) {	/* unsorted is still correct, just less tidy */
		for (size_t i = 0; i < n; i++)
			order[i] = (struct diag_order){ d->items[first + i].line, i };
		qsort(order, n, sizeof(*order), cmp_diag_order);
		for (size_t i = 0; i < n; i++)
			sorted[i] = d->items[first + order[i].idx];
		memcpy(d->items + first, sorted, n * sizeof(*sorted));
	}
	free(order);
	free(sorted);
}

static void finish_diags(struct ctx *c, size_t first)
{
	char msg[128];

	sort_diags(c->diags, first);
	if (!c->dropped)
		return;
	snprintf(msg, sizeof(msg), "%s: %zu more problem%s not shown", c->file,
		 c->dropped, c->dropped == 1 ? "" : "s");
	/* a warning: the errors it stands for are already counted */
	c->final_note = true;
	diag_push(c, false, 0, msg);
}

static int load(struct ctx *c, const char *text, size_t len)
{
	struct toml_error terr = { 0 };
	size_t errors_before = c->diags->n_errors, first = c->diags->n;

	toml_value *root = toml_parse(text, len, &terr);
	if (!root) {
		char msg[512];
		if (terr.line > 0)
			snprintf(msg, sizeof(msg), "%s:%d:%d: %s", c->file,
				 terr.line, terr.col > 0 ? terr.col : 1, terr.msg);
		else
			snprintf(msg, sizeof(msg), "%s: %s", c->file,
				 terr.msg[0] ? terr.msg : "cannot parse TOML");
		diag_push(c, true, terr.line, msg);
		return c->oom ? -ENOMEM : -EINVAL;
	}
	walk_root(c, root);
	check_regions(c);
	check_cpus(c);
	check_images(c);
	check_entry(c);
	check_ap_start(c);
	check_emu_devices(c);
	check_pt_devices(c);
	toml_free(root);
	finish_diags(c, first);
	if (c->oom)
		return -ENOMEM;
	return c->diags->n_errors > errors_before ? -EINVAL : 0;
}

int vmcfg_load_string(const char *text, size_t len, const char *display_name,
		      const char *base_dir, struct vm_config *cfg,
		      struct vmcfg_diags *diags,
		      const struct vmcfg_limits *limits)
{
	struct ctx *c = malloc(sizeof(*c));	/* ~5 KiB: keep it off the stack */

	vmcfg_defaults(cfg);
	if (!c)
		return -ENOMEM;
	init_ctx(c, display_name, base_dir, cfg, diags, limits);
	int ret = load(c, text ? text : "", text ? len : 0);
	free(c);
	return ret;
}

/* Read a whole config; size-capped so /dev/zero or a huge file fails. */
static int read_file(const char *path, char **out, size_t *out_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int ret = buf ? 0 : -ENOMEM;
	while (!ret) {
		if (len == cap) {
			if (cap >= CONFIG_FILE_MAX) {
				ret = -EFBIG;
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		else if (n == 0)
			break;
		else
			len += (size_t)n;
	}
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int vmcfg_read_file(const char *path, char **text, size_t *len)
{
	return read_file(path, text, len);
}

int vmcfg_load_content(const char *path, const char *base_dir, int read_err,
		       const char *text, size_t len, struct vm_config *cfg,
		       struct vmcfg_diags *diags,
		       const struct vmcfg_limits *limits)
{
	char msg[512];

	vmcfg_defaults(cfg);
	if (read_err) {
		if (read_err == -EFBIG)
			snprintf(msg, sizeof(msg),
				 "%s: cannot read: expected a file of at most 1 MiB",
				 path);
		else
			snprintf(msg, sizeof(msg), "%s: cannot read: %s", path,
				 strerror(-read_err));
		struct ctx c = { .file = path, .diags = diags };
		diag_push(&c, true, 0, msg);
		return read_err;
	}
	int ret = vmcfg_load_string(text, len, path, base_dir, cfg, diags,
				    limits);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	return ret;
}

int vmcfg_load_file(const char *path, struct vm_config *cfg,
		    struct vmcfg_diags *diags, const struct vmcfg_limits *limits)
{
	char dir[VMCFG_PATH_MAX];
	char *text = NULL;
	size_t len = 0;

	int ret = read_file(path, &text, &len);
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	ret = vmcfg_load_content(path, dir, ret, text, len, cfg, diags, limits);
	free(text);
	return ret;
}

/* ------------------------------------------------------------- printing */

/* A TOML basic string; UTF-8 passes through (the input was valid TOML). */
static void print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void print_key_string(FILE *out, const char *key, const char *s)
{
	fprintf(out, "%s = ", key);
	print_string(out, s);
	fputc('\n', out);
}

static void print_u64_list(FILE *out, const char *key, const uint64_t *v,
			   size_t n, bool hex)
{
	fprintf(out, "%s = [", key);
	for (size_t i = 0; i < n; i++)
		fprintf(out, hex ? "%s0x%" PRIx64 : "%s%" PRIu64, i ? ", " : "",
			v[i]);
	fputs("]\n", out);
}

static void print_base(FILE *out, const struct vm_config *cfg)
{
	fputs("[base]\n", out);
	if (cfg->has_id)
		fprintf(out, "id = %u\n", cfg->id);
	print_key_string(out, "name", cfg->name);
	fprintf(out, "vm_type = %u\n", cfg->vm_type);
	fprintf(out, "cpu_num = %u\n", cfg->cpu_num);
	if (cfg->n_phys_cpu_ids)
		print_u64_list(out, "phys_cpu_ids", cfg->phys_cpu_ids,
			       cfg->n_phys_cpu_ids, false);
	if (cfg->n_phys_cpu_sets)
		print_u64_list(out, "phys_cpu_sets", cfg->phys_cpu_sets,
			       cfg->n_phys_cpu_sets, true);
	print_key_string(out, "accel", vmcfg_accel_name(cfg->accel));
	print_key_string(out, "on_reboot",
			 enum_to_name(on_reboot_names, (int)cfg->on_reboot));
}

static void print_image(FILE *out, const struct vm_config *cfg,
			enum image_kind k)
{
	bool *has = image_has((struct vm_config *)cfg, k);
	if (has && !*has)
		return;
	print_key_string(out, image_path_key[k],
			 image_path((struct vm_config *)cfg, k));
	fprintf(out, "%s = 0x%" PRIx64 "\n", image_addr_key[k],
		*image_addr((struct vm_config *)cfg, k));
}

static void print_kernel(FILE *out, const struct vm_config *cfg)
{
	fputs("\n[kernel]\n", out);
	fprintf(out, "entry_point = 0x%" PRIx64 "\n", cfg->entry_point);
	print_key_string(out, "image_location",
			 enum_to_name(image_location_names,
				      (int)cfg->image_location));
	for (int k = 0; k < IMG_COUNT; k++)
		print_image(out, cfg, (enum image_kind)k);
	if (cfg->cmdline[0])
		print_key_string(out, "cmdline", cfg->cmdline);
	print_key_string(out, "boot_protocol",
			 vmcfg_boot_protocol_name(cfg->boot_protocol));
	print_key_string(out, "cpu_mode", vmcfg_cpu_mode_name(cfg->cpu_mode));
	if (cfg->ap_start != VM_AP_START_AUTO)
		print_key_string(out, "ap_start",
				 vmcfg_ap_start_name(cfg->ap_start));
	fputs("memory_regions = [\n", out);
	for (size_t i = 0; i < cfg->n_regions && i < VMCFG_MAX_REGIONS; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		fprintf(out, "  [0x%" PRIx64 ", 0x%" PRIx64 ", 0x%x, %u],\n",
			r->gpa, r->size, r->flags, r->map_type);
	}
	fputs("]\n", out);
}

static void print_devices(FILE *out, const struct vm_config *cfg)
{
	fputs("\n[devices]\n", out);
	print_key_string(out, "interrupt_mode",
			 vmcfg_irq_mode_name(cfg->interrupt_mode));
	fputs(cfg->n_emu_devices ? "emu_devices = [\n" : "emu_devices = [", out);
	for (size_t i = 0; i < cfg->n_emu_devices && i < VMCFG_MAX_DEVICES; i++) {
		const struct vm_emu_device *d = &cfg->emu_devices[i];
		fputs("  [", out);
		print_string(out, d->name);
		fprintf(out, ", 0x%" PRIx64 ", 0x%" PRIx64 ", %u, 0x%x, [",
			d->base, d->len, d->irq, d->type);
		for (size_t j = 0; j < d->ncfg && j < VMCFG_DEV_CFG_MAX; j++)
			fprintf(out, "%s0x%" PRIx64, j ? ", " : "", d->cfg[j]);
		fputs("]],\n", out);
	}
	fputs("]\n", out);
	fputs(cfg->n_passthrough_devices ? "passthrough_devices = [\n" :
	      "passthrough_devices = [", out);
	for (size_t i = 0;
	     i < cfg->n_passthrough_devices && i < VMCFG_MAX_DEVICES; i++) {
		const struct vm_passthrough_device *d =
			&cfg->passthrough_devices[i];
		fputs("  [", out);
		print_string(out, d->name);
		fprintf(out, ", 0x%" PRIx64 ", 0x%" PRIx64 ", 0x%" PRIx64 ", %u],\n",
			d->base_gpa, d->base_hpa, d->len, d->irq);
	}
	fputs("]\n", out);
}

void vmcfg_print(FILE *out, const struct vm_config *cfg)
{
	print_base(out, cfg);
	print_kernel(out, cfg);
	print_devices(out, cfg);
}
