#!/bin/bash
# acpi_iasl: cvisor's ACPI tables through ACPICA's own disassembler (iasl,
# Debian acpica-tools): every table must decode with no warning or error
# (ACPICA checks lengths, checksums and field values; the RSDP is
# checked by test_acpi), and the DSDT must
# disassemble to the \_S5 package.  Exits 77 when iasl is missing.
# Usage: acpi_iasl.sh ACPI_DUMP_EXE
set -uo pipefail
dump=$1
command -v iasl >/dev/null || { echo "iasl not installed (apt-get install acpica-tools)"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
for n in 1 4 64; do
  rm -f "$dir"/*
  "$dump" "$dir" "$n" || { echo "acpi_dump $n failed"; exit 1; }
  # rsdp.dat is left out: iasl 20200925 refuses a lone RSDP file ("does
  # not contain a valid ACPI table"); test_acpi checks the RSDP itself.
  for f in "$dir"/*.dat; do
    [ "$(basename "$f")" = rsdp.dat ] && continue
    out=$(cd "$dir" && iasl -d "$(basename "$f")" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || grep -qiE 'warning|error' <<<"$out"; then
      echo "FAIL ($n vCPUs) $(basename "$f"): iasl rc=$rc"; echo "$out"; fail=1
    fi
  done
  if ! grep -q 'Name (_S5, Package (0x04)' "$dir/dsdt.dsl"; then
    echo "FAIL: the DSDT has no \\_S5 package:"; cat "$dir/dsdt.dsl"; fail=1
  fi
  lapics=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$dir/apic.dsl")
  if [ "$lapics" != "$n" ]; then
    echo "FAIL: the MADT has $lapics local APICs, expected $n"; fail=1
  fi
done
[ $fail = 0 ] && echo "iasl decodes every table (1, 4, 64 vCPUs)"
exit $fail
