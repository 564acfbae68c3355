/*
 * show: `vm show <ID> [--full|-f] [--config|-c] [--stats|-s]
 * [--format json]` — one VM's details in the layout of SPEC §2.
 */
#include <string.h>

#include "devices.h"
#include "shell_int.h"
#include "vminfo.h"

enum { O_FULL, O_CONFIG, O_STATS, O_FORMAT, O_NOCOLOR };
static const struct sh_opt opts[] = {
	[O_FULL] = { "full", 'f', SH_FLAG, NULL, "everything, plus per-vCPU, memory and device details" },
	[O_CONFIG] = { "config", 'c', SH_FLAG, NULL, "entries, interrupt mode, images, cmdline" },
	[O_STATS] = { "stats", 's', SH_FLAG, NULL, "device counts and live counters" },
	[O_FORMAT] = { "format", 0, SH_VALUE, "table|json", "json: all of it as one JSON object" },
	[O_NOCOLOR] = { "no-color", 0, SH_FLAG, NULL, "no ANSI colour (icons stay)" },
};

static const char *hint_for(enum vm_state s)
{
	switch (s) {
	case VM_SUSPENDED:
		return "VM is paused. Use 'vm resume %u' to continue.";
	case VM_STOPPED:
		return "VM is stopped. Use 'vm delete %u' to clean up.";
	case VM_LOADED:
		return "VM is ready. Use 'vm start %u' to boot.";
	default:
		return NULL;
	}
}

static void print_basic(struct sh_ctx *c, const struct sh_vm_view *v)
{
	char mem[32];
	sh_fmt_mem(v->mem_bytes, mem, sizeof(mem));
	FILE *f = c->out;
	fprintf(f, "VM Details: %u\n\n", v->id);
	fprintf(f, "  VM ID:     %u\n  Name:      ", v->id);
	sh_put_text(f, v->name);
	fprintf(f, "\n  Status:    %s%s %s%s\n", sh_state_color(c, v->state),
		sh_state_icon(v->state), vm_state_name(v->state),
		sh_color_reset(c));
	fprintf(f, "  VCPUs:     %u\n  Memory:    %s\n", v->ncpu, mem);
	if (v->exit_code >= 0)
		fprintf(f, "  Exit code: %d\n", v->exit_code);
	const char *hint = hint_for(v->state);
	if (hint) {
		fputs("\n  ℹ ", f);
		fprintf(f, hint, v->id);
		fputc('\n', f);
	}
	unsigned counts[VCPU_BLOCKED + 1];
	sh_view_counts(v, counts);
	fputs("\nVCPU Summary:\n", f);
	for (int s = VCPU_INVALID; s <= VCPU_BLOCKED; s++)
		if (counts[s])
			fprintf(f, "  %s: %u\n",
				vcpu_state_name((enum vcpu_state)s), counts[s]);
	fprintf(f, "\nMemory Summary:\n  Total Regions: %u\n"
		   "  Total Size:    %s\n", v->mem_regions, mem);
}

static void print_image(FILE *f, const char *label, const struct vm_config *cfg,
			bool has, const char *path, uint64_t addr)
{
	fprintf(f, "  %-16s", label);
	if (!has) {
		fputs("none\n", f);
		return;
	}
	sh_put_text(f, path);
	if (cfg->image_location == VM_IMAGE_MEMORY)
		fputs(" (built-in image)", f);
	fprintf(f, " at 0x%llx\n", (unsigned long long)addr);
}

static void print_config(struct sh_ctx *c, struct reg_vm *rv,
			 const struct sh_vm_view *v)
{
	const struct vm_config *cfg = reg_vm_config(rv);
	FILE *f = c->out;
	struct vm_boot_info bi = { 0 };
	uint64_t bsp = cfg->entry_point, ap = cfg->entry_point;
	if (v->vm) {	/* kernel formats take the entry from the image */
		vm_boot_info(v->vm, &bi);
		bsp = bi.bsp_entry;
		ap = bi.ap_entry;
	}
	fputs("\nConfiguration:\n", f);
	fprintf(f, "  %-16s0x%llx\n", "BSP Entry:", (unsigned long long)bsp);
	if (bi.ap_sipi)
		fprintf(f, "  %-16sINIT/SIPI (APs wait for a start-up IPI)\n",
			"AP Entry:");
	else if (!v->vm && cfg->ap_start == VM_AP_START_SIPI)
		fprintf(f, "  %-16sINIT/SIPI (ap_start = \"sipi\")\n", "AP Entry:");
	else
		fprintf(f, "  %-16s0x%llx\n", "AP Entry:", (unsigned long long)ap);
	fprintf(f, "  %-16s%s\n", "Interrupt Mode:",
		vmcfg_irq_mode_name(cfg->interrupt_mode));
	if (cfg->has_dtb)
		fprintf(f, "  %-16s0x%llx\n", "DTB Address:",
			(unsigned long long)cfg->dtb_load_addr);
	else
		fprintf(f, "  %-16snone\n", "DTB Address:");
	print_image(f, "Kernel:", cfg, true, cfg->kernel_path,
		    cfg->kernel_load_addr);
	print_image(f, "BIOS:", cfg, cfg->has_bios, cfg->bios_path,
		    cfg->bios_load_addr);
	print_image(f, "Ramdisk:", cfg, cfg->has_ramdisk, cfg->ramdisk_path,
		    cfg->ramdisk_load_addr);
	fprintf(f, "  %-16s", "Cmdline:");
	sh_put_text(f, cfg->cmdline[0] ? cfg->cmdline : "(none)");
	fprintf(f, "\n  %-16s%s (cpu mode %s)\n", "Boot Protocol:",
		vmcfg_boot_protocol_name(cfg->boot_protocol),
		vmcfg_cpu_mode_name(cfg->cpu_mode));
	fprintf(f, "  %-16s%s\n", "On Reboot:",
		cfg->on_reboot == VM_ON_REBOOT_STOP ? "stop" : "reset");
	if (v->vm && bi.acpi_rsdp)
		fprintf(f, "  %-16sRSDP at 0x%llx\n", "ACPI Tables:",
			(unsigned long long)bi.acpi_rsdp);
	else if (v->vm)
		fprintf(f, "  %-16snone (%s)\n", "ACPI Tables:", bi.acpi_why);
	fprintf(f, "  %-16s", "Backend:");
	if (v->vm)
		fprintf(f, "%s (%s)\n", vm_backend_name(v->vm),
			vm_backend_why(v->vm));
	else
		fputs("not chosen yet (loading)\n", f);
	fprintf(f, "  %-16s", "Config File:");
	sh_put_text(f, cfg->path[0] ? cfg->path : "(none)");
	fprintf(f, "\n  %-16s", "Data Directory:");
	sh_put_text(f, reg_vm_data_dir(rv)[0] ? reg_vm_data_dir(rv) : "(none)");
	fputc('\n', f);
}

static void print_exits(FILE *f, const struct vm_vcpu_info *x)
{
	fprintf(f, "io %llu, mmio %llu, hlt %llu, shutdown %llu, kick %llu, "
		   "other %llu (runs %llu)\n",
		(unsigned long long)x->exits_io,
		(unsigned long long)x->exits_mmio,
		(unsigned long long)x->exits_hlt,
		(unsigned long long)x->exits_shutdown,
		(unsigned long long)x->exits_kick,
		(unsigned long long)x->exits_other,
		(unsigned long long)x->runs);
}

static void print_affinity(FILE *f, const struct vm_config *cfg, unsigned i)
{
	if (i >= cfg->n_phys_cpu_sets || !cfg->phys_cpu_sets[i]) {
		fputs("any host CPU\n", f);
		return;
	}
	fprintf(f, "mask 0x%llx\n", (unsigned long long)cfg->phys_cpu_sets[i]);
}

static void print_vcpus(struct sh_ctx *c, struct reg_vm *rv,
			const struct sh_vm_view *v)
{
	FILE *f = c->out;
	fputs("\nVCPUs:\n", f);
	for (unsigned i = 0; i < v->ncpu; i++) {
		const struct vm_vcpu_info *x = &v->vcpus[i];
		fprintf(f, "  VCPU %u: %s\n", i, vcpu_state_name(x->state));
		if (x->host_tid)
			fprintf(f, "    Host thread: %d\n", x->host_tid);
		else
			fputs("    Host thread: none yet\n", f);
		fputs("    Affinity:    ", f);
		print_affinity(f, reg_vm_config(rv), i);
		fputs("    Exits:       ", f);
		print_exits(f, x);
		if (x->has_regs)
			fprintf(f, "    RIP:         0x%llx (CS 0x%04x, RSP 0x%llx, "
				   "RFLAGS 0x%llx)\n",
				(unsigned long long)x->regs.rip, x->regs.cs,
				(unsigned long long)x->regs.rsp,
				(unsigned long long)x->regs.rflags);
	}
}

static void flags_text(uint32_t fl, char *buf, size_t len)
{
	static const char *const names[] = { "READ", "WRITE", "EXECUTE",
					     "USER", "DEVICE", "UNCACHED" };
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned b = 0; b < 6 && used < len; b++)
		if (fl & (1u << b))
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? "|" : "", names[b]);
	if (!used)
		snprintf(buf, len, "none");
}

static const void *host_backing(const struct sh_vm_view *v, uint64_t gpa)
{
	if (!v->vm)
		return NULL;
	const struct guest_mem *m = vm_guest_memory(v->vm);
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].gpa == gpa)
			return m->r[i].host;
	return NULL;
}

static const char *map_type_name(uint32_t t)
{
	return t == VM_MAP_ALLOC ? "alloc" : t == VM_MAP_IDENTICAL ? "identical"
			       : t == VM_MAP_RESERVED ? "reserved" : "?";
}

static void print_regions(struct sh_ctx *c, struct reg_vm *rv,
			  const struct sh_vm_view *v)
{
	const struct vm_config *cfg = reg_vm_config(rv);
	FILE *f = c->out;
	fputs("\nMemory Regions:\n", f);
	for (size_t i = 0; i < cfg->n_regions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		char size[32], fl[64];
		sh_fmt_mem(r->size, size, sizeof(size));
		flags_text(r->flags, fl, sizeof(fl));
		const void *host = host_backing(v, r->gpa);
		fprintf(f, "  [%zu] GPA 0x%llx-0x%llx  %s  flags %s  map %s  ", i,
			(unsigned long long)r->gpa,
			(unsigned long long)(r->gpa + r->size - 1), size, fl,
			map_type_name(r->map_type));
		if (host)
			fprintf(f, "host %p (anonymous mmap)\n", host);
		else
			fputs("host none\n", f);
	}
}

static void print_devices(struct sh_ctx *c, const struct sh_vm_view *v)
{
	FILE *f = c->out;
	fputs("\nDevices:\n", f);
	if (!v->vm) {
		fputs("  (not built yet)\n", f);
		return;
	}
	struct vm_device_info d[64];
	size_t n = vm_devices_describe(vm_device_set(v->vm), d, 64);
	for (size_t i = 0; i < n && i < 64; i++) {
		char range[64], irq[16];
		snprintf(range, sizeof(range), "%s 0x%llx-0x%llx",
			 d[i].space == BUS_PIO ? "port" : "mmio",
			 (unsigned long long)d[i].base,
			 (unsigned long long)(d[i].base + d[i].len - 1));
		if (d[i].irq >= 0)
			snprintf(irq, sizeof(irq), "IRQ %d", d[i].irq);
		else
			snprintf(irq, sizeof(irq), "no IRQ");
		fputs("  ", f);
		sh_put_cell(f, d[i].name, 17);
		fprintf(f, " %-17s %-24s %s\n", d[i].kind, range, irq);
	}
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *config_json(struct reg_vm *rv)
{
	const struct vm_config *cfg = reg_vm_config(rv);
	json_t *o = json_object();
	struct vm *vm = reg_vm_vm(rv);
	struct vm_boot_info bi = { .bsp_entry = cfg->entry_point,
				   .ap_entry = cfg->entry_point };
	if (vm)
		vm_boot_info(vm, &bi);
	json_object_set_new(o, "bsp_entry", json_integer((json_int_t)bi.bsp_entry));
	bool sipi = vm ? bi.ap_sipi : cfg->ap_start == VM_AP_START_SIPI;
	json_object_set_new(o, "ap_entry", sipi ? json_null()
			    : json_integer((json_int_t)bi.ap_entry));
	json_object_set_new(o, "ap_start", json_string(sipi ? "sipi" : "entry"));
	json_object_set_new(o, "acpi_rsdp", bi.acpi_rsdp
			    ? json_integer((json_int_t)bi.acpi_rsdp) : json_null());
	json_object_set_new(o, "interrupt_mode",
			    json_string(vmcfg_irq_mode_name(cfg->interrupt_mode)));
	json_object_set_new(o, "dtb_addr", cfg->has_dtb
			    ? json_integer((json_int_t)cfg->dtb_load_addr) : json_null());
	json_object_set_new(o, "kernel_path", sh_json_text(cfg->kernel_path));
	json_object_set_new(o, "kernel_load_addr",
			    json_integer((json_int_t)cfg->kernel_load_addr));
	json_object_set_new(o, "bios_path", cfg->has_bios
			    ? sh_json_text(cfg->bios_path) : json_null());
	json_object_set_new(o, "ramdisk_path", cfg->has_ramdisk
			    ? sh_json_text(cfg->ramdisk_path) : json_null());
	json_object_set_new(o, "cmdline", sh_json_text(cfg->cmdline));
	json_object_set_new(o, "image_location",
			    json_string(cfg->image_location == VM_IMAGE_MEMORY
					? "memory" : "fs"));
	json_object_set_new(o, "boot_protocol",
			    json_string(vmcfg_boot_protocol_name(cfg->boot_protocol)));
	json_object_set_new(o, "cpu_mode",
			    json_string(vmcfg_cpu_mode_name(cfg->cpu_mode)));
	json_object_set_new(o, "on_reboot", json_string(
		cfg->on_reboot == VM_ON_REBOOT_STOP ? "stop" : "reset"));
	json_object_set_new(o, "config_file", sh_json_text(cfg->path));
	json_object_set_new(o, "data_dir", sh_json_text(reg_vm_data_dir(rv)));
	return o;
}

static json_t *exits_json(const struct vm_vcpu_info *x)
{
	return json_pack("{sIsIsIsIsIsIsI}",
			 "io", (json_int_t)x->exits_io,
			 "mmio", (json_int_t)x->exits_mmio,
			 "hlt", (json_int_t)x->exits_hlt,
			 "shutdown", (json_int_t)x->exits_shutdown,
			 "kick", (json_int_t)x->exits_kick,
			 "other", (json_int_t)x->exits_other,
			 "runs", (json_int_t)x->runs);
}

static json_t *vcpus_json(struct reg_vm *rv, const struct sh_vm_view *v)
{
	const struct vm_config *cfg = reg_vm_config(rv);
	json_t *a = json_array();
	for (unsigned i = 0; i < v->ncpu; i++) {
		const struct vm_vcpu_info *x = &v->vcpus[i];
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer(i));
		json_object_set_new(o, "state", json_string(vcpu_state_name(x->state)));
		json_object_set_new(o, "host_tid", json_integer(x->host_tid));
		json_object_set_new(o, "affinity",
				    i < cfg->n_phys_cpu_sets && cfg->phys_cpu_sets[i]
				    ? json_integer((json_int_t)cfg->phys_cpu_sets[i])
				    : json_null());
		json_object_set_new(o, "exits", exits_json(x));
		json_object_set_new(o, "rip", x->has_regs
				    ? json_integer((json_int_t)x->regs.rip) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *regions_json(struct reg_vm *rv, const struct sh_vm_view *v)
{
	const struct vm_config *cfg = reg_vm_config(rv);
	json_t *a = json_array();
	for (size_t i = 0; i < cfg->n_regions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		char host[32] = "";
		const void *h = host_backing(v, r->gpa);
		if (h)
			snprintf(host, sizeof(host), "%p", h);
		json_array_append_new(a, json_pack(
			"{sIsIsIsss?}", "gpa", (json_int_t)r->gpa,
			"size", (json_int_t)r->size, "flags", (json_int_t)r->flags,
			"map_type", map_type_name(r->map_type),
			"host", h ? host : NULL));
	}
	return a;
}

static json_t *devices_json(const struct sh_vm_view *v)
{
	json_t *a = json_array();
	if (!v->vm)
		return a;
	struct vm_device_info d[64];
	size_t n = vm_devices_describe(vm_device_set(v->vm), d, 64);
	for (size_t i = 0; i < n && i < 64; i++) {
		json_t *o = json_pack("{sssssssIsI}", "name", d[i].name,
				      "kind", d[i].kind, "space",
				      d[i].space == BUS_PIO ? "pio" : "mmio",
				      "base", (json_int_t)d[i].base,
				      "len", (json_int_t)d[i].len);
		if (!o)
			continue;
		json_object_set_new(o, "irq", d[i].irq >= 0
				    ? json_integer(d[i].irq) : json_null());
		json_object_set_new(o, "reads", json_integer((json_int_t)d[i].reads));
		json_object_set_new(o, "writes", json_integer((json_int_t)d[i].writes));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *show_json(struct reg_vm *rv, const struct sh_vm_view *v)
{
	json_t *o = sh_view_json_row(v);
	json_object_set_new(o, "backend_why", v->vm
			    ? json_string(vm_backend_why(v->vm)) : json_null());
	json_object_set_new(o, "memory_regions", json_integer(v->mem_regions));
	json_object_set_new(o, "config", config_json(rv));
	json_object_set_new(o, "stats", sh_vm_stats_json(rv));
	json_object_set_new(o, "vcpus", vcpus_json(rv, v));
	json_object_set_new(o, "regions", regions_json(rv, v));
	json_object_set_new(o, "devices", devices_json(v));
	return o;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	bool json;
	if (sh_one_vm(c, a))
		return SH_USAGE;
	if (sh_parse_format(c, a->value[O_FORMAT], &json))
		return SH_USAGE;
	if (a->given[O_NOCOLOR])
		c->color = false;
	struct reg_vm *rv;
	if (sh_lookup(c, a->pos[0], &rv))
		return SH_FAILED;
	struct sh_vm_view v;
	if (sh_view_get(rv, &v, true)) {
		reg_vm_put(rv);
		sh_err(c, "✗ Failed to show VM: out of memory\n");
		return SH_FAILED;
	}
	bool full = a->given[O_FULL];
	if (json) {
		sh_emit_json(c, show_json(rv, &v));
	} else {
		print_basic(c, &v);
		if (full || a->given[O_CONFIG])
			print_config(c, rv, &v);
		if (full || a->given[O_STATS])
			sh_print_stats(c, rv);
		if (full) {
			print_vcpus(c, rv, &v);
			print_regions(c, rv, &v);
			print_devices(c, &v);
		} else {
			sh_out(c, "\nUse 'vm show %u --full' for detailed "
				  "information\n", v.id);
		}
		sh_set_result(c, show_json(rv, &v));
	}
	sh_view_free(&v);
	reg_vm_put(rv);
	return SH_OK;
}

const struct sh_verb sh_verb_show = {
	.name = "show",
	.summary = "Show VM details (basic, --config, --stats, --full)",
	.usage = "vm show <ID|NAME> [--full|-f] [--config|-c] [--stats|-s] "
		 "[--format json]",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
