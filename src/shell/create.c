/*
 * create: `vm create <config.toml>...` — each file read, validated and
 * instantiated on its own; a bad file is reported with its file:line
 * diagnostics and never disturbs the others or any running VM.
 */
#include <stdlib.h>

#include "shell_int.h"

static void print_diag_lines(struct sh_ctx *c, const struct vmcfg_diags *d,
			     bool errors, size_t skip_first_error)
{
	size_t seen = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct vmcfg_diag *x = &d->items[i];
		if (x->is_error != errors)
			continue;
		if (errors && seen++ < skip_first_error)
			continue;
		fflush(c->out);
		fputs(errors ? "  " : "⚠ ", c->err);
		sh_put_text(c->err, x->msg);
		fputc('\n', c->err);
	}
	fflush(c->err);
}

static const char *first_error(const struct vmcfg_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->items[i].is_error)
			return d->items[i].msg;
	return NULL;
}

static void report_failure(struct sh_ctx *c, const char *path,
			   const char *reason, json_t *failed)
{
	fflush(c->out);
	fputs("✗ Failed to create VM from ", c->err);
	sh_put_text(c->err, path);
	fputs(": ", c->err);
	sh_put_text(c->err, reason);
	fputc('\n', c->err);
	fflush(c->err);
	json_array_append_new(failed, json_pack("{s:o,s:o}",
				"path", sh_json_text(path),
				"reason", sh_json_text(reason)));
}

/* Returns true when the VM was created. */
static bool create_one(struct sh_ctx *c, const char *path,
		       struct vm_config *cfg, json_t *created, json_t *failed)
{
	struct vmcfg_diags d = {0};
	const struct shell_hooks *h = c->sh->o.hooks;
	int rc;
	if (h && h->read_config) {
		char *text = NULL, dir[VMCFG_PATH_MAX] = ".";
		size_t len = 0;
		rc = h->read_config(h->ctx, path, &text, &len, dir, sizeof(dir));
		rc = vmcfg_load_content(path, dir, rc, text, len, cfg, &d, NULL);
		free(text);
	} else {
		rc = vmcfg_load_file(path, cfg, &d, NULL);
	}
	print_diag_lines(c, &d, false, 0);
	if (rc) {
		const char *why = first_error(&d);
		report_failure(c, path, why ? why : "cannot load the config",
			       failed);
		print_diag_lines(c, &d, true, 1);
		vmcfg_diags_free(&d);
		return false;
	}
	vmcfg_diags_free(&d);
	struct cv_err e = {0};
	uint32_t id;
	if (h && h->check_config && h->check_config(h->ctx, cfg, &e)) {
		report_failure(c, path, e.msg, failed);
		return false;
	}
	if (registry_add(c->reg, cfg, &id, &e)) {
		report_failure(c, path, e.msg, failed);
		return false;
	}
	sh_out(c, "✓ Successfully created VM[%u] from config: ", id);
	sh_put_text(c->out, path);
	sh_out(c, "\n");
	json_array_append_new(created, json_pack("{s:I,s:o}", "id",
				(json_int_t)id, "path", sh_json_text(path)));
	return true;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	if (!a->npos)
		return sh_usage_error(c, "no config file given");
	struct vm_config *cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		sh_err(c, "✗ Failed to create VMs: out of memory\n");
		return SH_FAILED;
	}
	json_t *created = json_array(), *failed = json_array();
	size_t ok = 0;
	for (size_t i = 0; i < a->npos; i++)
		ok += create_one(c, a->pos[i], cfg, created, failed);
	free(cfg);
	if (ok)
		sh_out(c, "Successfully created %zu VM(s)\n"
			  "Use 'vm start <VM_ID>' to start the created VMs.\n",
		       ok);
	else
		sh_out(c, "No VMs were created.\n");
	sh_set_result(c, json_pack("{s:o,s:o}", "created", created,
				   "failed", failed));
	return ok == a->npos ? SH_OK : SH_FAILED;
}

const struct sh_verb sh_verb_create = {
	.name = "create",
	.summary = "Create VMs from config files",
	.usage = "vm create <CONFIG.toml> [CONFIG.toml...]",
	.about = "Each file is loaded on its own; a failure names the file, the\n"
		 "line and the key, and never stops the others.",
	.pos = SH_POS_FILES,
	.run = run,
};
