#include "shtest.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend.h"
#include "console.h"

const char *sht_accel_name(void)
{
	const char *a = getenv("CVISOR_TEST_ACCEL");
	return a && *a ? a : "emu";
}

enum vm_accel sht_accel(void)
{
	return !strcmp(sht_accel_name(), "kvm") ? VM_ACCEL_KVM : VM_ACCEL_EMU;
}

void sht_require_backend(void)
{
	char why[256];
	struct cv_err err = {0};
	if (!backend_select(sht_accel(), why, sizeof(why), &err)) {
		printf("SKIP: backend %s not usable here: %s\n",
		       sht_accel_name(), err.msg);
		exit(77);
	}
}

void sht_setup(struct shtest *t, const struct sht_opts *o)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/cvisor-shtest-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->state, sizeof(t->state), "%s/state", t->dir);
	struct registry_opts ro = {
		.state_dir = o && o->no_state_dir ? NULL : t->state,
		.accel_default = sht_accel(),
		.loading_hook = o ? o->loading_hook : NULL,
		.hook_ctx = o ? o->hook_ctx : NULL,
	};
	struct cv_err e = {0};
	assert_int_equal(registry_create(&ro, &t->reg, &e), 0);
	struct shell_opts so = { .color = o && o->color, .tty_out = 1 };
	assert_int_equal(shell_create(t->reg, &so, &t->sh, &e), 0);
}

static int rm_entry(const char *p, const struct stat *sb, int f,
		    struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

void sht_teardown(struct shtest *t)
{
	shell_destroy(t->sh);
	registry_destroy(t->reg, false);
	free(t->out);
	free(t->err);
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int sht_run(struct shtest *t, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	assert_true(vasprintf(&line, fmt, ap) >= 0);
	va_end(ap);
	free(t->out);
	free(t->err);
	size_t ol, el;
	FILE *out = open_memstream(&t->out, &ol);
	FILE *err = open_memstream(&t->err, &el);
	t->status = shell_run_line(t->sh, line, out, err);
	fclose(out);
	fclose(err);
	free(line);
	return t->status;
}

const char *sht_cfg(const char *name)
{
	/* several calls may be arguments of one printf */
	static __thread char buf[8][512];
	static __thread unsigned next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof(buf[0]), "%s/%s.toml", GUEST_CONFIG_DIR, name);
	return b;
}

const char *sht_write(struct shtest *t, const char *file, const char *text)
{
	static __thread char path[600];
	snprintf(path, sizeof(path), "%s/%s", t->dir, file);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

bool sht_path_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- console capture -------------------------------------------------- */

void cap_attach(struct capture *c, struct registry *reg, uint32_t id)
{
	struct reg_vm *v = registry_get(reg, id);
	assert_non_null(v);
	assert_non_null(reg_vm_vm(v));
	capture_attach(c, vm_console(reg_vm_vm(v)));
	c->owner = v;
}

void cap_detach(struct capture *c)
{
	struct reg_vm *v = c->owner;
	capture_detach(c);
	if (v)
		reg_vm_put(v);
}

