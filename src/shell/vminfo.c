/* vminfo: consistent per-VM views for list/show/stats (see vminfo.h). */
#include "vminfo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"

int sh_view_get(struct reg_vm *v, struct sh_vm_view *out, bool regs)
{
	const struct vm_config *cfg = reg_vm_config(v);
	memset(out, 0, sizeof(*out));
	out->id = reg_vm_id(v);
	out->name = reg_vm_name(v);
	out->ncpu = cfg->cpu_num;
	out->vcpus = calloc(out->ncpu ? out->ncpu : 1, sizeof(*out->vcpus));
	if (!out->vcpus)
		return -ENOMEM;
	out->vm = reg_vm_vm(v);
	out->state = reg_vm_snapshot(v, out->vcpus, out->ncpu, regs);
	out->mem_bytes = vmcfg_total_memory(cfg);
	for (size_t i = 0; i < cfg->n_regions; i++)
		if (cfg->regions[i].map_type != VM_MAP_RESERVED)
			out->mem_regions++;
	out->exit_code = out->vm && out->state == VM_STOPPED
				 ? vm_exit_code(out->vm) : -1;
	return 0;
}

void sh_view_free(struct sh_vm_view *view)
{
	free(view->vcpus);
	view->vcpus = NULL;
}

void sh_view_counts(const struct sh_vm_view *view,
		    unsigned counts[VCPU_BLOCKED + 1])
{
	memset(counts, 0, sizeof(unsigned) * (VCPU_BLOCKED + 1));
	for (unsigned i = 0; i < view->ncpu; i++)
		if ((unsigned)view->vcpus[i].state <= VCPU_BLOCKED)
			counts[view->vcpus[i].state]++;
}

void sh_view_state_summary(const struct sh_vm_view *view, char *buf,
			   size_t len)
{
	unsigned counts[VCPU_BLOCKED + 1];
	sh_view_counts(view, counts);
	size_t used = 0;
	buf[0] = '\0';
	for (int s = VCPU_INVALID; s <= VCPU_BLOCKED && used < len; s++) {
		if (!counts[s])
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s:%u",
					 used ? "," : "",
					 vcpu_state_abbrev((enum vcpu_state)s),
					 counts[s]);
	}
}

void sh_view_exit_totals(const struct sh_vm_view *view,
			 struct vm_vcpu_info *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < view->ncpu; i++) {
		const struct vm_vcpu_info *x = &view->vcpus[i];
		sum->exits_io += x->exits_io;
		sum->exits_mmio += x->exits_mmio;
		sum->exits_hlt += x->exits_hlt;
		sum->exits_shutdown += x->exits_shutdown;
		sum->exits_kick += x->exits_kick;
		sum->exits_other += x->exits_other;
		sum->runs += x->runs;
	}
}

json_t *sh_view_json_row(const struct sh_vm_view *view)
{
	char mem[32], states[256];
	sh_fmt_mem(view->mem_bytes, mem, sizeof(mem));
	json_t *ids = json_array();
	for (unsigned i = 0; i < view->ncpu; i++)
		json_array_append_new(ids, json_integer(i));
	unsigned counts[VCPU_BLOCKED + 1];
	sh_view_counts(view, counts);
	json_t *cs = json_object();
	for (int s = VCPU_INVALID; s <= VCPU_BLOCKED; s++)
		if (counts[s])
			json_object_set_new(
				cs, vcpu_state_abbrev((enum vcpu_state)s),
				json_integer(counts[s]));
	sh_view_state_summary(view, states, sizeof(states));
	json_t *row = json_object();
	json_object_set_new(row, "id", json_integer(view->id));
	json_object_set_new(row, "name", sh_json_text(view->name));
	json_object_set_new(row, "state",
			    json_string(vm_state_name(view->state)));
	json_object_set_new(row, "vcpu", json_integer(view->ncpu));
	json_object_set_new(row, "memory", json_string(mem));
	json_object_set_new(row, "memory_bytes",
			    json_integer((json_int_t)view->mem_bytes));
	json_object_set_new(row, "vcpu_ids", ids);
	json_object_set_new(row, "vcpu_states", cs);
	json_object_set_new(row, "vcpu_state", json_string(states));
	json_object_set_new(row, "backend",
			    view->vm ? json_string(vm_backend_name(view->vm))
				     : json_null());
	json_object_set_new(row, "exit_code",
			    view->exit_code >= 0
				    ? json_integer(view->exit_code)
				    : json_null());
	return row;
}
