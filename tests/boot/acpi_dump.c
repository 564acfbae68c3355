/*
 * acpi_dump: writes cvisor's ACPI tables for N vCPUs (argv[2], with a
 * MADT) into directory argv[1] as one file per table (rsdp.dat,
 * xsdt.dat, ...), for acpi_iasl.sh to check with ACPICA's disassembler.
 */
#include <stdio.h>
#include <stdlib.h>

#include "acpi.h"

static int out(const char *dir, const char *name,
	       const struct acpi_tables *t, uint64_t gpa, size_t len)
{
	const uint8_t *p = t->bytes + (gpa - t->base);
	if (!len)
		len = (size_t)p[4] | (size_t)p[5] << 8 | (size_t)p[6] << 16 |
		      (size_t)p[7] << 24;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct acpi_tables t;
	struct cv_err err = { 0 };
	if (argc != 3) {
		fprintf(stderr, "usage: acpi_dump DIR NCPUS\n");
		return 2;
	}
	struct acpi_params p = { .ncpus = (unsigned)atoi(argv[2]),
				 .madt = true, .base = ACPI_TABLES_ADDR };
	if (acpi_build(&p, &t, &err)) {
		fprintf(stderr, "acpi_dump: %s\n", err.msg);
		return 1;
	}
	return out(argv[1], "rsdp.dat", &t, t.rsdp, ACPI_RSDP_SIZE) |
	       out(argv[1], "rsdt.dat", &t, t.rsdt, 0) |
	       out(argv[1], "xsdt.dat", &t, t.xsdt, 0) |
	       out(argv[1], "facp.dat", &t, t.fadt, 0) |
	       out(argv[1], "facs.dat", &t, t.facs, ACPI_FACS_SIZE) |
	       out(argv[1], "dsdt.dat", &t, t.dsdt, 0) |
	       out(argv[1], "apic.dat", &t, t.madt, 0);
}
