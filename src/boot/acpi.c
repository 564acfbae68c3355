/*
 * acpi: builds the RSDP, RSDT, XSDT, FACS, FADT, DSDT and MADT described
 * in acpi.h into one blob.  Layout inside the blob (offsets from base):
 *   0x000 RSDP   0x040 RSDT   0x080 XSDT   0x0c0 FACS   0x100 FADT
 *   0x220 DSDT   0x260 MADT (44 + 8 per vCPU + 32 bytes; 588 for 64 vCPUs)
 * Field offsets follow the ACPI 6.0 specification (section 5.2); the
 * constants below name them.
 */
#include "acpi.h"
#include "acpi_pm.h"

#include <errno.h>
#include <string.h>

#define OFF_RSDP 0x000u
#define OFF_RSDT 0x040u
#define OFF_XSDT 0x080u
#define OFF_FACS 0x0c0u
#define OFF_FADT 0x100u
#define OFF_DSDT 0x220u
#define OFF_MADT 0x260u

#define OEM_ID "CVISOR"
#define OEM_TABLE_ID "CVISOR  "
#define CREATOR_ID "CVSR"

/* Generic Address Structure: address space IDs */
#define GAS_SYSTEM_IO 1u
#define GAS_ACCESS_BYTE 1u

/* FADT flags (ACPI 6.0 table 5-35) */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_SLP_BUTTON (1u << 5)	/* 1 = no sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
/* IA-PC boot architecture flags */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)

/* MADT */
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0u
#define MADT_IOAPIC 1u
#define MADT_ISO 2u
#define MADT_LAPIC_ENABLED 1u
#define MPS_INTI_ACTIVE_HIGH 0x1u
#define MPS_INTI_LEVEL 0xcu
#define IOAPIC_ID 0u

/*
 * The DSDT's AML: Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })
 *   08             NameOp
 *   5f 53 35 5f    NameSeg "_S5_" (in the root scope: \_S5)
 *   12             PackageOp
 *   08             PkgLength: 8 bytes, counting itself
 *   04             NumElements
 *   0a 05          BytePrefix 5: SLP_TYPa (ACPI_SLP_TYP_S5)
 *   0a 05          BytePrefix 5: SLP_TYPb (no PM1b block; ignored)
 *   00 00          Zero Zero: reserved
 */
_Static_assert(OFF_FADT + ACPI_FADT_SIZE <= OFF_DSDT, "FADT overlaps DSDT");
_Static_assert(OFF_DSDT + ACPI_HDR_SIZE + 14 <= OFF_MADT, "DSDT overlaps MADT");
_Static_assert(OFF_MADT + ACPI_HDR_SIZE + 8 + 8 * ACPI_MAX_CPUS + 32 <=
	       ACPI_TABLES_SIZE, "MADT does not fit");
_Static_assert(OFF_FACS % 64 == 0, "FACS must be 64-byte aligned");

static const uint8_t dsdt_aml[] = {
	0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
	0x0a, ACPI_SLP_TYP_S5, 0x0a, ACPI_SLP_TYP_S5, 0x00, 0x00,
};

static void put8(uint8_t *b, size_t off, uint8_t v)
{
	b[off] = v;
}

static void put16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *b, size_t off, uint64_t v)
{
	put32(b, off, (uint32_t)v);
	put32(b, off + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_checksum(const uint8_t *b, size_t n)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + b[i]);
	return sum;
}

/* Make the n bytes at t sum to zero by fixing the byte at csum_off. */
static void fix_checksum(uint8_t *t, size_t n, size_t csum_off)
{
	t[csum_off] = 0;
	t[csum_off] = (uint8_t)(0x100u - acpi_checksum(t, n));
}

/* The 36-byte system description table header. */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t, 4, len);
	put8(t, 8, rev);
	/* 9: checksum, filled last */
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put32(t, 24, 1);			/* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	put32(t, 32, 1);			/* creator revision */
}

static void finish(uint8_t *t)
{
	uint32_t len = (uint32_t)t[4] | (uint32_t)t[5] << 8 |
		       (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
	fix_checksum(t, len, 9);
}

/* Generic Address Structure (12 bytes) for a system I/O register. */
static void gas_io(uint8_t *b, size_t off, uint8_t bits, uint8_t access,
		   uint64_t port)
{
	put8(b, off, GAS_SYSTEM_IO);
	put8(b, off + 1, bits);
	put8(b, off + 2, 0);			/* bit offset */
	put8(b, off + 3, access);
	put64(b, off + 4, port);
}

static void build_rsdp(uint8_t *t, uint64_t rsdt, uint64_t xsdt)
{
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	put8(t, 15, 2);				/* revision: ACPI 2.0+ */
	put32(t, 16, (uint32_t)rsdt);
	put32(t, 20, ACPI_RSDP_SIZE);
	put64(t, 24, xsdt);
	fix_checksum(t, 20, 8);			/* ACPI 1.0 part */
	fix_checksum(t, ACPI_RSDP_SIZE, 32);	/* extended checksum */
}

/* RSDT and XSDT list the FADT, then the MADT when there is one. */
static void build_rsdt(uint8_t *t, uint64_t fadt, uint64_t madt)
{
	uint32_t n = madt ? 2 : 1;
	header(t, "RSDT", ACPI_HDR_SIZE + 4 * n, 1);
	put32(t, 36, (uint32_t)fadt);
	if (madt)
		put32(t, 40, (uint32_t)madt);
	finish(t);
}

static void build_xsdt(uint8_t *t, uint64_t fadt, uint64_t madt)
{
	uint32_t n = madt ? 2 : 1;
	header(t, "XSDT", ACPI_HDR_SIZE + 8 * n, 1);
	put64(t, 36, fadt);
	if (madt)
		put64(t, 44, madt);
	finish(t);
}

static void build_facs(uint8_t *t)
{
	memcpy(t, "FACS", 4);
	put32(t, 4, ACPI_FACS_SIZE);
	/* hardware signature, waking vectors, global lock, flags: 0 */
	put8(t, 32, 2);				/* version */
}

static void build_fadt(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
	header(t, "FACP", ACPI_FADT_SIZE, 6);
	put32(t, 36, (uint32_t)facs);		/* FIRMWARE_CTRL */
	put32(t, 40, (uint32_t)dsdt);		/* DSDT */
	put8(t, 45, 0);				/* preferred PM profile: unspecified */
	put16(t, 46, ACPI_SCI_IRQ);		/* SCI_INT */
	/* 48 SMI_CMD = 0: no SMM, always in ACPI mode; 52-55 unused */
	put32(t, 56, ACPI_PM1_EVT_PORT);	/* PM1a_EVT_BLK */
	put32(t, 64, ACPI_PM1_CNT_PORT);	/* PM1a_CNT_BLK */
	/* 60 PM1b_EVT, 68 PM1b_CNT, 72 PM2_CNT, 76 PM_TMR, 80/84 GPE: none */
	put8(t, 88, ACPI_PM1_EVT_LEN);		/* PM1_EVT_LEN */
	put8(t, 89, ACPI_PM1_CNT_LEN);		/* PM1_CNT_LEN */
	put16(t, 96, 101);			/* P_LVL2_LAT > 100: no C2 */
	put16(t, 98, 1001);			/* P_LVL3_LAT > 1000: no C3 */
	put16(t, 109, IAPC_LEGACY_DEVICES | IAPC_8042);
	put32(t, 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
		      FADT_RESET_REG_SUP);	/* PWR_BUTTON clear: fixed */
	gas_io(t, 116, 8, GAS_ACCESS_BYTE, ACPI_RESET_PORT);	/* RESET_REG */
	put8(t, 128, ACPI_RESET_VALUE);
	put8(t, 131, 0);			/* FADT minor version */
	put64(t, 132, facs);			/* X_FIRMWARE_CTRL */
	put64(t, 140, dsdt);			/* X_DSDT */
	gas_io(t, 148, 8 * ACPI_PM1_EVT_LEN, 0, ACPI_PM1_EVT_PORT);
	gas_io(t, 172, 8 * ACPI_PM1_CNT_LEN, 0, ACPI_PM1_CNT_PORT);
	memcpy(t + 268, "cvisor\0\0", 8);	/* hypervisor vendor identity */
	finish(t);
}

static size_t build_dsdt(uint8_t *t)
{
	size_t len = ACPI_HDR_SIZE + sizeof(dsdt_aml);
	header(t, "DSDT", (uint32_t)len, 2);
	memcpy(t + ACPI_HDR_SIZE, dsdt_aml, sizeof(dsdt_aml));
	finish(t);
	return len;
}

static void madt_iso(uint8_t *t, size_t off, uint8_t irq, uint32_t gsi,
		     uint16_t flags)
{
	put8(t, off, MADT_ISO);
	put8(t, off + 1, 10);
	put8(t, off + 2, 0);			/* bus: ISA */
	put8(t, off + 3, irq);
	put32(t, off + 4, gsi);
	put16(t, off + 8, flags);
}

static size_t build_madt(uint8_t *t, unsigned ncpus)
{
	size_t off = ACPI_HDR_SIZE;
	put32(t, off, ACPI_LAPIC_ADDR);
	put32(t, off + 4, MADT_PCAT_COMPAT);
	off += 8;
	for (unsigned i = 0; i < ncpus; i++, off += 8) {
		put8(t, off, MADT_LAPIC);
		put8(t, off + 1, 8);
		put8(t, off + 2, (uint8_t)i);	/* ACPI processor UID */
		put8(t, off + 3, (uint8_t)i);	/* APIC ID = vCPU index */
		put32(t, off + 4, MADT_LAPIC_ENABLED);
	}
	put8(t, off, MADT_IOAPIC);
	put8(t, off + 1, 12);
	put8(t, off + 2, IOAPIC_ID);
	put32(t, off + 4, ACPI_IOAPIC_ADDR);
	put32(t, off + 8, 0);			/* GSI base */
	off += 12;
	madt_iso(t, off, 0, 2, 0);		/* PIT: IRQ 0 -> GSI 2 */
	off += 10;
	madt_iso(t, off, ACPI_SCI_IRQ, ACPI_SCI_IRQ,
		 MPS_INTI_ACTIVE_HIGH | MPS_INTI_LEVEL);
	off += 10;
	header(t, "APIC", (uint32_t)off, 4);
	finish(t);
	return off;
}

int acpi_build(const struct acpi_params *p, struct acpi_tables *out,
	       struct cv_err *err)
{
	if (p->ncpus == 0 || p->ncpus > ACPI_MAX_CPUS)
		return cv_err_set(err, EINVAL,
				  "ACPI tables describe 1..%d vCPUs, not %u",
				  ACPI_MAX_CPUS, p->ncpus);
	if (p->base & 0xf || p->base > 0xffffffffull - ACPI_TABLES_SIZE)
		return cv_err_set(err, EINVAL,
				  "ACPI tables cannot live at 0x%llx (16-byte aligned, below 4 GiB)",
				  (unsigned long long)p->base);
	memset(out, 0, sizeof(*out));
	uint8_t *b = out->bytes;
	out->base = p->base;
	out->rsdp = p->base + OFF_RSDP;
	out->rsdt = p->base + OFF_RSDT;
	out->xsdt = p->base + OFF_XSDT;
	out->facs = p->base + OFF_FACS;
	out->fadt = p->base + OFF_FADT;
	out->dsdt = p->base + OFF_DSDT;
	out->madt = p->madt ? p->base + OFF_MADT : 0;

	build_facs(b + OFF_FACS);
	size_t end = OFF_DSDT + build_dsdt(b + OFF_DSDT);
	if (p->madt)
		end = OFF_MADT + build_madt(b + OFF_MADT, p->ncpus);
	build_fadt(b + OFF_FADT, out->facs, out->dsdt);
	build_rsdt(b + OFF_RSDT, out->fadt, out->madt);
	build_xsdt(b + OFF_XSDT, out->fadt, out->madt);
	build_rsdp(b + OFF_RSDP, out->rsdt, out->xsdt);
	out->len = end;
	return 0;
}
