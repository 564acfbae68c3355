/*
 * metrics: the top-level `metrics` command — every VM's state and
 * counters, plus process-level figures, in the Prometheus text exposition
 * format (version 0.0.4) on out, and the same samples as the structured
 * result:
 *
 *   {"families": [{"name": "cvisor_vm_exits_total", "type": "counter",
 *                  "help": "...", "samples": [{"labels": {"id": "3",
 *                  "name": "x", "vcpu": "0", "reason": "io"},
 *                  "value": 12}, ...]}, ...]}
 *
 * The text is rendered from that model, so the two never disagree.  One
 * snapshot of the registry; each VM read once (state and vCPU counters
 * under one lock, vm_snapshot).
 */
#include <string.h>

#include "shell_int.h"
#include "vminfo.h"

#ifndef CVISOR_VERSION
#define CVISOR_VERSION "0.0.0"
#endif

static const char *const exit_reasons[] = {
	"io", "mmio", "hlt", "shutdown", "kick", "other",
};

static uint64_t exit_count(const struct vm_vcpu_info *v, size_t reason)
{
	const uint64_t n[] = { v->exits_io, v->exits_mmio, v->exits_hlt,
			       v->exits_shutdown, v->exits_kick,
			       v->exits_other };
	return n[reason];
}

/* What one VM contributes, read once. */
struct vm_sample {
	struct sh_vm_view view;
	bool has_view;
	struct vm_stats stats;
	bool has_stats;			/* a machine exists (not Loading) */
	char id[16];
};

/* ---- the model ---------------------------------------------------------- */

static json_t *family(json_t *fams, const char *name, const char *type,
		      const char *help)
{
	json_t *samples = json_array();
	json_t *f = json_pack("{s:s, s:s, s:s, s:o}", "name", name,
			      "type", type, "help", help, "samples", samples);
	json_array_append_new(fams, f);
	return samples;
}

/* Labels of a VM: id and name first. */
static json_t *vm_labels(const struct vm_sample *s)
{
	return json_pack("{s:s, s:o}", "id", s->id,
			 "name", sh_json_text(s->view.name));
}

static void sample(json_t *samples, json_t *labels, json_t *value)
{
	json_array_append_new(samples, json_pack("{s:o, s:o}", "labels",
						 labels ? labels : json_object(),
						 "value", value));
}

static json_t *uint_value(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *seconds(uint64_t ns)
{
	return json_real((double)ns / 1e9);
}

static json_t *build_model(struct vm_sample *vms, size_t n)
{
	json_t *fams = json_array();
	json_t *s;

	s = family(fams, "cvisor_build_info", "gauge",
		   "cvisor version (always 1).");
	sample(s, json_pack("{s:s}", "version", CVISOR_VERSION),
	       json_integer(1));

	s = family(fams, "cvisor_vms", "gauge",
		   "Number of VMs this hypervisor manages.");
	sample(s, NULL, json_integer((json_int_t)n));

	s = family(fams, "cvisor_vms_by_state", "gauge",
		   "Number of VMs in each state.");
	for (int st = VM_LOADING; st <= VM_STOPPED; st++) {
		size_t count = 0;
		for (size_t i = 0; i < n; i++)
			count += vms[i].has_view && vms[i].view.state ==
				 (enum vm_state)st;
		sample(s, json_pack("{s:s}", "state",
				    vm_state_name((enum vm_state)st)),
		       json_integer((json_int_t)count));
	}

	s = family(fams, "cvisor_vm_state", "gauge",
		   "1 for the state the VM is in, 0 for the others.");
	for (size_t i = 0; i < n; i++) {
		if (!vms[i].has_view)
			continue;
		for (int st = VM_LOADING; st <= VM_STOPPED; st++) {
			json_t *l = vm_labels(&vms[i]);
			json_object_set_new(l, "state", json_string(
				vm_state_name((enum vm_state)st)));
			sample(s, l, json_integer(vms[i].view.state ==
						  (enum vm_state)st));
		}
	}

	s = family(fams, "cvisor_vm_vcpus", "gauge", "Number of vCPUs.");
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_view)
			sample(s, vm_labels(&vms[i]),
			       json_integer(vms[i].view.ncpu));

	s = family(fams, "cvisor_vm_memory_bytes", "gauge",
		   "Guest RAM in bytes.");
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_view)
			sample(s, vm_labels(&vms[i]),
			       uint_value(vms[i].view.mem_bytes));

	s = family(fams, "cvisor_vm_exits_total", "counter",
		   "vCPU exits to the VMM by reason.");
	for (size_t i = 0; i < n; i++) {
		if (!vms[i].has_stats)
			continue;
		for (unsigned c = 0; c < vms[i].view.ncpu; c++) {
			for (size_t r = 0; r < sizeof(exit_reasons) /
					       sizeof(exit_reasons[0]); r++) {
				json_t *l = vm_labels(&vms[i]);
				json_object_set_new(l, "vcpu",
						    json_sprintf("%u", c));
				json_object_set_new(l, "reason",
						    json_string(exit_reasons[r]));
				sample(s, l, uint_value(exit_count(
					&vms[i].view.vcpus[c], r)));
			}
		}
	}

	s = family(fams, "cvisor_vm_vcpu_runs_total", "counter",
		   "Guest entries of each vCPU.");
	for (size_t i = 0; i < n; i++) {
		if (!vms[i].has_stats)
			continue;
		for (unsigned c = 0; c < vms[i].view.ncpu; c++) {
			json_t *l = vm_labels(&vms[i]);
			json_object_set_new(l, "vcpu", json_sprintf("%u", c));
			sample(s, l, uint_value(vms[i].view.vcpus[c].runs));
		}
	}

	s = family(fams, "cvisor_vm_console_bytes_total", "counter",
		   "Bytes the guest wrote to its console.");
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_stats)
			sample(s, vm_labels(&vms[i]),
			       uint_value(vms[i].stats.console_bytes));

	s = family(fams, "cvisor_vm_cpu_seconds_total", "counter",
		   "Host CPU time of the VM's vCPU threads in seconds.");
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_stats)
			sample(s, vm_labels(&vms[i]),
			       seconds(vms[i].stats.cpu_time_ns));

	s = family(fams, "cvisor_vm_uptime_seconds", "gauge",
		   "Seconds since the VM last started (0 if it never did).");
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_stats)
			sample(s, vm_labels(&vms[i]),
			       seconds(vms[i].stats.uptime_ns));

	s = family(fams, "cvisor_vm_reboots_total", "counter",
		   "Guest reboots handled in place (on_reboot = restart).");
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_stats)
			sample(s, vm_labels(&vms[i]),
			       uint_value(vms[i].stats.reboots));

	return json_pack("{s:o}", "families", fams);
}

/* ---- the text format ---------------------------------------------------- */

/* HELP text: \ and newline escaped.  Label values: \, " and newline. */
static void put_escaped(FILE *f, const char *s, bool quotes)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '"' && quotes)
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void put_value(FILE *f, json_t *v)
{
	if (json_is_integer(v))
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		fprintf(f, "%.9f", json_real_value(v));
}

static void render_text(FILE *f, json_t *model)
{
	json_t *fams = json_object_get(model, "families");
	size_t i, j;
	json_t *fam, *smp;
	json_array_foreach(fams, i, fam) {
		const char *name = json_string_value(json_object_get(fam,
								     "name"));
		fprintf(f, "# HELP %s ", name);
		put_escaped(f, json_string_value(json_object_get(fam, "help")),
			    false);
		fprintf(f, "\n# TYPE %s %s\n", name,
			json_string_value(json_object_get(fam, "type")));
		json_array_foreach(json_object_get(fam, "samples"), j, smp) {
			fputs(name, f);
			json_t *labels = json_object_get(smp, "labels");
			const char *key;
			json_t *val;
			bool first = true;
			json_object_foreach(labels, key, val) {
				fprintf(f, "%s%s=\"", first ? "{" : ",", key);
				put_escaped(f, json_string_value(val), true);
				fputc('"', f);
				first = false;
			}
			fputs(first ? " " : "} ", f);
			put_value(f, json_object_get(smp, "value"));
			fputc('\n', f);
		}
	}
}

int sh_cmd_metrics(struct sh_ctx *c, size_t argc, char *const *argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "-h"))) {
		sh_out(c, "Usage: metrics\n\n"
		       "Every VM's state and counters (exits by reason, console "
		       "bytes, vCPU time,\nuptime, reboots) and the VM count, "
		       "in the Prometheus text exposition\nformat (0.0.4).\n");
		return SH_OK;
	}
	if (argc > 1) {
		sh_err(c, "metrics: unexpected argument '");
		sh_put_text(c->err, argv[1]);
		fputs("'\nUsage: metrics\n", c->err);
		return SH_USAGE;
	}
	struct reg_vm **regs;
	size_t n;
	if (registry_snapshot(c->reg, &regs, &n)) {
		sh_err(c, "✗ metrics: out of memory\n");
		return SH_FAILED;
	}
	struct vm_sample *vms = calloc(n ? n : 1, sizeof(*vms));
	if (!vms) {
		registry_snapshot_free(regs, n);
		sh_err(c, "✗ metrics: out of memory\n");
		return SH_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		struct vm_sample *s = &vms[i];
		snprintf(s->id, sizeof(s->id), "%u", reg_vm_id(regs[i]));
		s->has_view = !sh_view_get(regs[i], &s->view, false);
		if (s->has_view && s->view.vm) {
			vm_get_stats(s->view.vm, &s->stats);
			s->has_stats = true;
		}
	}
	json_t *model = build_model(vms, n);
	for (size_t i = 0; i < n; i++)
		if (vms[i].has_view)
			sh_view_free(&vms[i].view);
	free(vms);
	registry_snapshot_free(regs, n);
	if (!model) {
		sh_err(c, "✗ metrics: out of memory\n");
		return SH_FAILED;
	}
	render_text(c->out, model);
	sh_set_result(c, model);
	return SH_OK;
}
