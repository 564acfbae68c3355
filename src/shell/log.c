/*
 * log: `vm log <ID> [--lines N]` — the VM's console log (console.log in
 * its data directory; the in-memory ring when it has none), whole or its
 * last N lines.  The bytes are the guest's, printed as they are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "shell_int.h"

#define LOG_READ_MAX (64ull << 20)

static const struct sh_opt opts[] = {
	{ "lines", 'n', SH_VALUE, "N", "only the last N lines" },
};

static int read_log(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 0, n = 0;
	char *b = NULL;
	for (;;) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = ncap <= LOG_READ_MAX ? realloc(b, ncap) : NULL;
			if (!nb) {
				free(b);
				fclose(f);
				return -ENOMEM;
			}
			b = nb;
			cap = ncap;
		}
		size_t got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	int rc = ferror(f) ? -EIO : 0;
	fclose(f);
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int ring_copy(struct vm *vm, char **buf, size_t *len)
{
	*buf = malloc(CONSOLE_RING_SIZE);
	if (!*buf)
		return -ENOMEM;
	*len = console_snapshot(vm_console(vm), *buf, CONSOLE_RING_SIZE);
	return 0;
}

/* Offset where the last `lines` lines of b[0..len) begin. */
static size_t tail_start(const char *b, size_t len, uint64_t lines)
{
	if (!lines)
		return len;
	size_t i = len;
	if (i && b[i - 1] == '\n')
		i--;		/* the final newline ends the last line */
	while (i > 0) {
		if (b[i - 1] == '\n' && --lines == 0)
			return i;
		i--;
	}
	return 0;
}

static int run(struct sh_ctx *c, const struct sh_args *a)
{
	uint64_t lines = 0;
	if (sh_one_vm(c, a))
		return SH_USAGE;
	if (a->value[0] && sh_parse_uint(a->value[0], 100000000, &lines))
		return sh_usage_error(c, "--lines: expected a number, got '%s'",
				      a->value[0]);
	struct reg_vm *v;
	if (sh_lookup(c, a->pos[0], &v))
		return SH_FAILED;
	struct vm *vm = reg_vm_vm(v);
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;
	if (vm)
		console_flush(vm_console(vm));
	if (reg_vm_data_dir(v)[0]) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/console.log",
			 reg_vm_data_dir(v));
		rc = read_log(path, &buf, &len);
		if (rc == -ENOENT)
			rc = 0;		/* nothing written yet */
	} else if (vm) {
		rc = ring_copy(vm, &buf, &len);
	}
	if (rc) {
		sh_err(c, "✗ Failed to read the log of VM[%u]: %s\n",
		       reg_vm_id(v), strerror(-rc));
		reg_vm_put(v);
		return SH_FAILED;
	}
	size_t from = a->value[0] ? tail_start(buf, len, lines) : 0;
	if (len > from) {
		fwrite(buf + from, 1, len - from, c->out);
		if (buf[len - 1] != '\n')
			fputc('\n', c->out);	/* the prompt on its own line */
	}
	free(buf);
	reg_vm_put(v);
	return SH_OK;
}

const struct sh_verb sh_verb_log = {
	.name = "log",
	.summary = "Print a VM's console log",
	.usage = "vm log <ID|NAME> [--lines N]",
	.opts = opts,
	.nopts = SH_NOPTS(opts),
	.pos = SH_POS_VMS,
	.run = run,
};
