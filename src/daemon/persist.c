/*
 * persist: the daemon's side of the definition store (store.h) — store a
 * definition for every VM `vm create` made (the content the client sent,
 * with the absolute path it came from), drop it when `vm delete` removed
 * the VM, re-create every stored VM (Loaded, autostart ones started) when
 * the daemon starts, and stop every VM when it shuts down.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_int.h"
#include "vmconfig.h"

size_t persist_created(struct daemon *d, const struct proto_request *req,
		       json_t *result, char *why, size_t whylen)
{
	json_t *created = json_object_get(result, "created"), *it;
	size_t i, failed = 0, at = 0;
	if (whylen)
		why[0] = '\0';
	if (!d->store)
		return 0;
	for (i = 0; i < json_array_size(created); i++) {
		it = json_array_get(created, i);
		uint32_t id = (uint32_t)json_integer_value(json_object_get(it, "id"));
		const char *path = json_string_value(json_object_get(it, "path"));
		const struct proto_file *f = path ? proto_request_file(req, path)
						  : NULL;
		struct reg_vm *v = registry_get(d->reg, id);
		if (!f || !f->data || !v) {
			if (v)
				reg_vm_put(v);
			continue;
		}
		const char *base = strrchr(path, '/');
		char abs[STORE_PATH_MAX];
		snprintf(abs, sizeof(abs), "%s/%s", f->dir, base ? base + 1 : path);
		struct store_def def = {
			.id = id, .name = (char *)reg_vm_name(v),
			.config = f->data, .config_len = f->len,
			.config_path = abs, .created = (int64_t)time(NULL),
		};
		struct cv_err e = {0};
		char ids[16];
		snprintf(ids, sizeof(ids), "%u", id);
		if (!store_put(d->store, &def, &e)) {
			cv_log_kv(&d->log, CV_LOG_INFO, "vm defined", "vm", ids,
				  "name", reg_vm_name(v), "config", abs, NULL);
			reg_vm_put(v);
			continue;
		}
		/*
		 * A VM without a definition would be listed now and gone
		 * after a restart: remove it again (and whatever part of the
		 * definition reached the disk), and fail the create.
		 */
		struct cv_err de = {0};
		int drc = registry_delete(d->reg, v, true, false, NULL, &de);
		reg_vm_put(v);
		struct cv_err re = {0};
		int rrc = store_remove(d->store, id, &re);
		cv_log_kv(&d->log, CV_LOG_ERROR, "cannot store the VM definition; "
			  "the VM is removed again", "vm", ids, "error", e.msg,
			  "delete", drc < 0 ? de.msg : "ok", "definition",
			  !rrc ? "removed" : rrc == -ENOENT ? "none" : re.msg,
			  NULL);
		if (at < whylen) {
			int n = snprintf(why + at, whylen - at, "✗ VM[%u] removed "
					 "again: cannot store its definition: "
					 "%s\n", id, e.msg);
			at = n < 0 ? whylen : at + (size_t)n;
		}
		failed++;
		json_array_remove(created, i--);
	}
	return failed;
}

void persist_deleted(struct daemon *d, json_t *result)
{
	json_t *vms = json_object_get(result, "vms"), *it;
	size_t i;
	if (!d->store)
		return;
	json_array_foreach(vms, i, it) {
		json_t *jid = json_object_get(it, "id");
		if (!json_is_integer(jid))
			continue;
		uint32_t id = (uint32_t)json_integer_value(jid);
		struct reg_vm *v = registry_get(d->reg, id);
		if (v) {		/* refused: still listed */
			reg_vm_put(v);
			continue;
		}
		struct cv_err e = {0};
		char ids[16];
		snprintf(ids, sizeof(ids), "%u", id);
		int rc = store_remove(d->store, id, &e);
		if (rc && rc != -ENOENT)
			cv_log_kv(&d->log, CV_LOG_ERROR, "cannot remove the VM "
				  "definition", "vm", ids, "error", e.msg, NULL);
		else if (!rc)
			cv_log_kv(&d->log, CV_LOG_INFO, "vm undefined", "vm",
				  ids, NULL);
	}
}

static void on_skip(void *ctx, const char *file, const char *why)
{
	struct daemon *d = ctx;
	cv_log_kv(&d->log, CV_LOG_ERROR, "skipping a stored VM definition",
		  "file", file, "error", why, NULL);
}

static void restore_one(struct daemon *d, const struct store_def *def)
{
	struct vm_config *cfg = malloc(sizeof(*cfg));
	struct vmcfg_diags diags = {0};
	char dir[STORE_PATH_MAX], ids[16];
	snprintf(ids, sizeof(ids), "%u", def->id);
	if (!cfg)
		return;
	store_def_base_dir(def, dir, sizeof(dir));
	int rc = vmcfg_load_content(def->config_path[0] ? def->config_path
				    : "(stored)", dir, 0, def->config,
				    def->config_len, cfg, &diags, NULL);
	struct cv_err e = {0};
	if (rc) {
		const char *why = "invalid configuration";
		for (size_t i = 0; i < diags.n; i++)
			if (diags.items[i].is_error) {
				why = diags.items[i].msg;
				break;
			}
		cv_log_kv(&d->log, CV_LOG_ERROR, "stored VM definition no "
			  "longer loads; skipped", "vm", ids, "error", why, NULL);
	} else {
		cfg->has_id = true;	/* the same id as before */
		cfg->id = def->id;
		uint32_t id;
		if (registry_add(d->reg, cfg, &id, &e)) {
			cv_log_kv(&d->log, CV_LOG_ERROR, "cannot re-create a "
				  "stored VM; skipped", "vm", ids, "error",
				  e.msg, NULL);
		} else {
			cv_log_kv(&d->log, CV_LOG_INFO, "vm restored", "vm",
				  ids, "name", def->name, "autostart",
				  def->autostart ? "true" : "false", NULL);
		}
		if (!e.code && def->autostart) {
			char *argv[] = { (char *)"vm", (char *)"start", ids,
					 (char *)"--detach", NULL };
			daemon_run_internal(d, 4, argv);
		}
	}
	vmcfg_diags_free(&diags);
	free(cfg);
}

void persist_restore(struct daemon *d)
{
	struct store_def *defs = NULL;
	size_t n = 0;
	struct cv_err e = {0};
	if (!d->store)
		return;
	if (store_load_all(d->store, &defs, &n, on_skip, d, &e)) {
		cv_log_kv(&d->log, CV_LOG_ERROR, "cannot read the stored VM "
			  "definitions", "error", e.msg, NULL);
		return;
	}
	for (size_t i = 0; i < n; i++)
		restore_one(d, &defs[i]);
	store_defs_free(defs, n);
}

void persist_stop_all(struct daemon *d)
{
	struct reg_vm **vms;
	size_t n;
	if (registry_snapshot(d->reg, &vms, &n))
		return;
	if (!n) {
		registry_snapshot_free(vms, n);
		return;
	}
	char **argv = calloc(n + 5, sizeof(char *));
	char tmo[32];
	size_t argc = 0;
	if (!argv) {
		registry_snapshot_free(vms, n);
		return;
	}
	argv[argc++] = (char *)"vm";
	argv[argc++] = (char *)"stop";
	for (size_t i = 0; i < n; i++) {
		enum vm_state s = reg_vm_state(vms[i]);
		if (s != VM_RUNNING && s != VM_SUSPENDED && s != VM_STOPPING)
			continue;
		if (asprintf(&argv[argc], "%u", reg_vm_id(vms[i])) > 0)
			argc++;
	}
	registry_snapshot_free(vms, n);
	if (argc > 2) {
		snprintf(tmo, sizeof(tmo), "%.3f",
			 (double)d->o.stop_timeout_ms / 1000.0);
		argv[argc++] = (char *)"--timeout";
		argv[argc++] = tmo;
		daemon_run_internal(d, argc, argv);
		argc -= 2;
	}
	for (size_t i = 2; i < argc; i++)
		free(argv[i]);
	free(argv);
}
