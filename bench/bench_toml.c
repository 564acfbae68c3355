/*
 * bench_toml: parse speed of the TOML parser on a generated ~1 MB,
 * config-like document (tables, arrays of tables, strings, integers,
 * floats, inline tables, arrays, dates, comments).
 *
 *   bench_toml [runs] [target-bytes]      defaults: 50 runs, 1 MiB
 *
 * Prints the document size and the median, best and worst parse times.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "toml.h"

struct doc {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3)))
static void add(struct doc *d, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(d->s + d->len, d->cap - d->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < d->cap - d->len) {
			d->len += (size_t)n;
			return;
		}
		d->cap *= 2;
		d->s = realloc(d->s, d->cap);
		if (!d->s) {
			fprintf(stderr, "bench_toml: out of memory\n");
			exit(1);
		}
	}
}

/* One VM-like section per i; roughly 1.3 KB each. */
static void add_section(struct doc *d, unsigned i)
{
	add(d, "# virtual machine %u\n[vm%u.base]\nid = %u\n"
	    "name = \"guest-%u with a \\\"quoted\\\" name \\u00e9\"\n"
	    "vm_type = 1\ncpu_num = %u\nphys_cpu_ids = [0x%x, 0x%x, %u, %u]\n"
	    "created = 2024-0%u-1%uT1%u:3%u:00.%03uZ\n\n",
	    i, i, i, i, i % 8 + 1, i, i + 1, i + 2, i + 3, i % 9 + 1, i % 9,
	    i % 10, i % 10, i % 1000);
	add(d, "[vm%u.kernel]\nentry_point = 0x8_0000\n"
	    "kernel_path = 'images/kernel-%u.bin'\nkernel_load_addr = 0x20_0000\n"
	    "cmdline = \"\"\"console=ttyS0 root=/dev/vda rw \\\n"
	    "    init=/sbin/init quiet\"\"\"\n"
	    "memory_regions = [\n"
	    "  [0x0000_0000, 0x100_0000, 0x7, 0],  # low RAM\n"
	    "  [0x1000_0000, 0x800_0000, 0x7, %u],\n]\n"
	    "scale = %u.%03u\nratio = -%ue-3\nenabled = %s\n\n",
	    i, i, i % 3, i, i % 1000, i % 97, i % 2 ? "true" : "false");
	for (unsigned k = 0; k < 3; k++)
		add(d, "[[vm%u.devices.emu]]\nname = \"uart%u\"\n"
		    "base_gpa = 0x%x\nlength = 0x1000\nirq_id = %u\n"
		    "emu_type = %u\ncfg = { baud = 115200, parity = 'none', "
		    "fifo = [16, 64], float_ok = 1.5 }\n\n",
		    i, k, 0x3f8 + k * 0x100, 4 + k, k);
	add(d, "[vm%u.devices]\npassthrough = [\n"
	    "  { name = \"nic\", base = 0xfe00_0000, len = 0x1_0000 },\n"
	    "  { name = \"disk\", base = 0xfe01_0000, len = 0x1_0000 },\n]\n"
	    "labels.env = \"bench\"\nlabels.\"owner name\" = 'ops'\n"
	    "start_time = 07:32:00\nday = 1979-05-27\n\n", i);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 50;
	size_t target = argc > 2 ? strtoull(argv[2], NULL, 0) : 1u << 20;
	if (runs < 1 || target < 1) {
		fprintf(stderr, "usage: %s [runs] [target-bytes]\n", argv[0]);
		return 2;
	}
	struct doc d = { .s = malloc(1 << 16), .cap = 1 << 16 };
	if (!d.s)
		return 1;
	unsigned sections = 0;
	while (d.len < target)
		add_section(&d, sections++);

	double *ms = calloc((size_t)runs, sizeof(*ms));
	if (!ms)
		return 1;
	for (int r = 0; r < runs; r++) {
		struct toml_error err;
		double t0 = now_ms();
		toml_value *root = toml_parse(d.s, d.len, &err);
		ms[r] = now_ms() - t0;
		if (!root) {
			fprintf(stderr, "bench_toml: generated document is "
				"invalid: line %d, column %d: %s\n", err.line,
				err.col, err.msg);
			return 1;
		}
		/* Check the parse is real, not an early exit. */
		if (toml_table_len(root) != sections) {
			fprintf(stderr, "bench_toml: %zu tables, want %u\n",
				toml_table_len(root), sections);
			return 1;
		}
		toml_free(root);
	}
	double med = bench_median_double(ms, (size_t)runs);	/* ms sorted */
	printf("bench_toml: %zu bytes (%u sections), %d runs: median %.2f ms "
	       "(%.1f MB/s), best %.2f ms, worst %.2f ms\n", d.len, sections,
	       runs, med, d.len / 1e6 / (med / 1e3), ms[0], ms[runs - 1]);
	free(ms);
	free(d.s);
	return 0;
}
