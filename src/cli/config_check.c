/*
 * config_check: `cvisor config check FILE...`, the command-line front end
 * of the VM config loader.  Each file is checked on its own so one bad file
 * never hides the verdict on the others.
 */
#include "config_check.h"
#include "vmconfig.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fputs("Usage: cvisor config check FILE...\n"
	      "\n"
	      "Load and validate VM configuration files (TOML, AxVisor schema).\n"
	      "For a valid file, print the normalized configuration; otherwise\n"
	      "print every error and warning with its file, line and key.\n"
	      "\n"
	      "Options:\n"
	      "  -h, --help   show this help\n"
	      "\n"
	      "Exit status: 0 all files valid, 1 a file has errors, 2 usage error.\n",
	      f);
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* Returns true when the file is valid. */
static bool check_one(const char *path, bool header, FILE *out, FILE *errout)
{
	struct vm_config *cfg = malloc(sizeof(*cfg));
	struct vmcfg_diags diags = { 0 };
	size_t warnings = 0;

	if (!cfg) {
		fprintf(errout, "%s: out of memory\n", path);
		return false;
	}
	int ret = vmcfg_load_file(path, cfg, &diags, NULL);
	for (size_t i = 0; i < diags.n; i++) {
		const struct vmcfg_diag *d = &diags.items[i];
		fprintf(errout, "%s: %s\n", d->is_error ? "error" : "warning",
			d->msg);
		warnings += !d->is_error;
	}
	if (ret == 0) {
		if (header)
			fprintf(out, "# %s\n", path);
		vmcfg_print(out, cfg);
		if (header)
			fputc('\n', out);
	}
	if (ret != 0 && diags.n_errors == 0)
		fprintf(errout, "%s: %s\n", path, strerror(-ret));
	if (diags.n_errors || warnings)
		fprintf(errout, "%s: %zu error%s, %zu warning%s\n", path,
			diags.n_errors, plural(diags.n_errors), warnings,
			plural(warnings));
	vmcfg_diags_free(&diags);
	free(cfg);
	return ret == 0;
}

int cmd_config_check(int argc, char **argv, FILE *out, FILE *errout)
{
	int first = 1;

	for (; first < argc; first++) {
		const char *a = argv[first];
		if (!strcmp(a, "--")) {
			first++;
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(out);
			return 0;
		}
		if (a[0] != '-' || !a[1])
			break;
		fprintf(errout, "config check: unknown option '%s'\n", a);
		usage(errout);
		return 2;
	}
	if (first >= argc) {
		fputs("config check: expected at least one FILE\n", errout);
		usage(errout);
		return 2;
	}
	bool all_ok = true;
	bool header = argc - first > 1;
	for (int i = first; i < argc; i++)
		all_ok &= check_one(argv[i], header, out, errout);
	fflush(out);
	fflush(errout);
	return all_ok ? 0 : 1;
}
