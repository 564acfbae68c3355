/*
 * stats: `vm stats <ID> [--format json]` and the Statistics block that
 * `vm show --stats/--full` prints: device counts and the VM's live
 * counters (exits by reason, accesses per device, console bytes, uptime,
 * host CPU time, reboots, boot time).
 */
#include "devices.h"
#include "shell_int.h"
#include "vminfo.h"

#define MAX_DEVS 64

static const struct sh_opt opts[] = {
	{ "format", 'f', SH_VALUE, "table|json", "output format (default table)" },
};

static void count_devices(struct vm *vm, unsigned *pio, unsigned *mmio)
{
	struct vm_device_info d[MAX_DEVS];
	size_t n = vm_devices_describe(vm_device_set(vm), d, MAX_DEVS);
	*pio = *mmio = 0;
	for (size_t i = 0; i < n && i < MAX_DEVS; i++) {
		if (d[i].space == BUS_PIO)
			(*pio)++;
		else
			(*mmio)++;
	}
}

static void print_counters(FILE *f, struct vm *vm, const struct vm_stats *s,
			   const struct sh_vm_view *view)
{
	struct vm_vcpu_info sum;
	sh_view_exit_totals(view, &sum);
	fprintf(f, "  Uptime: %.3f s\n", (double)s->uptime_ns / 1e9);
	fprintf(f, "  Host CPU time: %.3f s\n", (double)s->cpu_time_ns / 1e9);
	fprintf(f, "  Console bytes: %llu\n",
		(unsigned long long)s->console_bytes);
	fprintf(f, "  Reboots: %llu\n", (unsigned long long)s->reboots);
	if (view->state == VM_STOPPED && vm_stop_reason(vm) != VM_STOP_NONE)
		fprintf(f, "  Last stop: %s\n",
			vm_stop_reason_text(vm_stop_reason(vm)));
	if (s->has_boot_time)
		fprintf(f, "  Boot time: %.3f ms\n",
			(double)s->boot_time_ns / 1e6);
	fprintf(f, "  Exits: io %llu, mmio %llu, hlt %llu, shutdown %llu, "
		   "kick %llu, other %llu (runs %llu)\n",
		(unsigned long long)sum.exits_io,
		(unsigned long long)sum.exits_mmio,
		(unsigned long long)sum.exits_hlt,
		(unsigned long long)sum.exits_shutdown,
		(unsigned long long)sum.exits_kick,
		(unsigned long long)sum.exits_other,
		(unsigned long long)sum.runs);
	struct vm_device_info d[MAX_DEVS];
	size_t n = vm_devices_describe(vm_device_set(vm), d, MAX_DEVS);
	fputs("  I/O exits per device:\n", f);
	for (size_t i = 0; i < n && i < MAX_DEVS; i++) {
		fputs("    ", f);
		sh_put_cell(f, d[i].name, 17);
		fprintf(f, " %llu reads, %llu writes\n",
			(unsigned long long)d[i].reads,
			(unsigned long long)d[i].writes);
	}
	fprintf(f, "  Unassigned accesses: port I/O %llu, MMIO %llu\n",
		(unsigned long long)s->unassigned_pio,
		(unsigned long long)s->unassigned_mmio);
}

void sh_print_stats(struct sh_ctx *c, struct reg_vm *v)
{
	FILE *f = c->out;
	struct sh_vm_view view;
	fputs("\nStatistics:\n", f);
	if (sh_view_get(v, &view, false))
		return;
	if (!view.vm) {
		fputs("  (not available while the VM is loading)\n", f);
		sh_view_free(&view);
		return;
	}
	unsigned pio, mmio;
	count_devices(view.vm, &pio, &mmio);
	fprintf(f, "  MMIO devices: %u\n  Port I/O devices: %u\n", mmio, pio);
	struct vm_stats s;
	vm_get_stats(view.vm, &s);
	print_counters(f, view.vm, &s, &view);
	sh_view_free(&view);
}

json_t *sh_vm_stats_json(struct reg_vm *v)
{
	struct sh_vm_view view;
	if (sh_view_get(v, &view, false))
		return json_null();
	if (!view.vm) {
		sh_view_free(&view);
		return json_null();
	}
	unsigned pio, mmio;
	count_devices(view.vm, &pio, &mmio);
	struct vm_stats s;
	vm_get_stats(view.vm, &s);
	struct vm_vcpu_info sum;
	sh_view_exit_totals(&view, &sum);
	json_t *o = json_pack(
		"{sIsIsIsIsIsIsIsI}",
		"mmio_devices", (json_int_t)mmio,
		"pio_devices", (json_int_t)pio,
		"uptime_ns", (json_int_t)s.uptime_ns,
		"cpu_time_ns", (json_int_t)s.cpu_time_ns,
		"console_bytes", (json_int_t)s.console_bytes,
		"reboots", (json_int_t)s.reboots,
		"unassigned_pio", (json_int_t)s.unassigned_pio,
		"unassigned_mmio", (json_int_t)s.unassigned_mmio);
	json_object_set_new(o, "stop_reason",
			    view.state == VM_STOPPED &&
			    vm_stop_reason(view.vm) != VM_STOP_NONE
			    ? json_string(vm_stop_reason_name(
				      vm_stop_reason(view.vm)))
			    : json_null());
	json_object_set_new(o, "boot_time_ns", s.has_boot_time
			    ? json_integer((json_int_t)s.boot_time_ns) : json_null());
	json_object_set_new(o, "exits", json_pack(
		"{sIsIsIsIsIsIsI}", "io", (json_int_t)sum.exits_io,
		"mmio", (json_int_t)sum.exits_mmio, "hlt", (json_int_t)sum.exits_hlt,
		"shutdown", (json_int_t)sum.exits_shutdown,
		"kick", (json_int_t)sum.exits_kick,
		"other", (json_int_t)sum.exits_other, "runs", (json_int_t)sum.runs));
	struct vm_device_info d[MAX_DEVS];
	size_t n = vm_devices_describe(vm_device_set(view.vm), d, MAX_DEVS);
	json_t *devs = json_object();
	for (size_t i = 0; i < n && i < MAX_DEVS; i++)
		json_object_set_new(devs, d[i].name, json_pack(
			"{sIsI}", "reads", (json_int_t)d[i].reads,
			"writes", (json_int_t)d[i].writes));
	json_object_set_new(o, "device_accesses", devs);
	sh_view_free(&view);
	return o;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	bool json;
	if (sh_one_vm(c, a))
		return SH_USAGE;
	if (sh_parse_format(c, a->value[0], &json))
		return SH_USAGE;
	struct reg_vm *v;
	if (sh_lookup(c, a->pos[0], &v))
		return SH_FAILED;
	json_t *o = sh_vm_stats_json(v);
	if (json) {
		sh_emit_json(c, o);
	} else {
		sh_out(c, "VM[%u] ", reg_vm_id(v));
		sh_put_text(c->out, reg_vm_name(v));
		sh_out(c, " (%s)\n", vm_state_name(reg_vm_state(v)));
		sh_print_stats(c, v);
		sh_set_result(c, o);
	}
	reg_vm_put(v);
	return SH_OK;
}

const struct sh_verb sh_verb_stats = {
	.name = "stats",
	.summary = "Show a VM's live counters",
	.usage = "vm stats <ID|NAME> [--format table|json]",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
