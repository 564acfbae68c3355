/* list: `vm list [--format table|json]` — every VM in one snapshot. */
#include <stdlib.h>
#include <string.h>

#include "shell_int.h"
#include "vminfo.h"

static const struct sh_opt opts[] = {
	{ "format", 'f', SH_VALUE, "table|json", "output format (default table)" },
	{ "no-color", 0, SH_FLAG, NULL, "accepted for symmetry; the table has no colour" },
};

/* Widths of SPEC §2; the last column is not padded. */
static const int widths[] = { 6, 15, 12, 15, 10 };
static const char *const heads[] = { "VM ID", "NAME", "STATUS", "VCPU",
				     "MEMORY", "VCPU STATE" };

static void print_header(FILE *f)
{
	for (int i = 0; i < 5; i++) {
		sh_put_cell(f, heads[i], widths[i]);
		fputc(' ', f);
	}
	fprintf(f, "%s\n", heads[5]);
	for (int i = 0; i < 5; i++)
		fprintf(f, "%.*s ", widths[i],
			"----------------------------------------");
	fprintf(f, "%s\n", "--------------------");
}

static void vcpu_ids(unsigned n, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%u",
					 i ? "," : "", i);
}

static void print_row(FILE *f, const struct sh_vm_view *v)
{
	char id[16], ids[512], mem[32], states[256];
	snprintf(id, sizeof(id), "%u", v->id);
	vcpu_ids(v->ncpu, ids, sizeof(ids));
	sh_fmt_mem(v->mem_bytes, mem, sizeof(mem));
	sh_view_state_summary(v, states, sizeof(states));
	const char *cells[] = { id, v->name, vm_state_name(v->state), ids,
				mem };
	for (int i = 0; i < 5; i++) {
		sh_put_cell(f, cells[i], widths[i]);
		fputc(' ', f);
	}
	fprintf(f, "%s\n", states);
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	bool json;
	if (a->npos)
		return sh_usage_error(c, "unexpected argument '%s'", a->pos[0]);
	if (sh_parse_format(c, a->value[0], &json))
		return SH_USAGE;
	struct reg_vm **vms;
	size_t n;
	if (registry_snapshot(c->reg, &vms, &n)) {
		sh_err(c, "✗ Failed to list VMs: out of memory\n");
		return SH_FAILED;
	}
	json_t *arr = json_array();
	if (!n && !json)
		sh_out(c, "No virtual machines found.\n");
	else if (!json)
		print_header(c->out);
	for (size_t i = 0; i < n; i++) {
		struct sh_vm_view view;
		if (sh_view_get(vms[i], &view, false))
			continue;
		if (!json)
			print_row(c->out, &view);
		json_array_append_new(arr, sh_view_json_row(&view));
		sh_view_free(&view);
	}
	registry_snapshot_free(vms, n);
	json_t *res = json_object();
	json_object_set_new(res, "vms", arr);
	if (json)
		sh_emit_json(c, res);
	else
		sh_set_result(c, res);
	return SH_OK;
}

const struct sh_verb sh_verb_list = {
	.name = "list",
	.summary = "Show a table of all VMs",
	.usage = "vm list [--format table|json] [-f FORMAT]",
	.about = "Columns: id, name, state, vCPU ids, RAM, vCPU states\n"
		 "(Run, Blk = parked or halted, Free = not started).",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_NONE,
	.run = run,
};
