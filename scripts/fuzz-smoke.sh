#!/bin/bash
# Build every libFuzzer target (clang) and run each for a few seconds on its
# seed corpus: a smoke run that catches a crash on the seeds or soon after.
# Long runs are documented in docs/fuzzing.md.
# Usage: scripts/fuzz-smoke.sh [BUILD_DIR] [SECONDS]   (default build-fuzz, 10)
# Prints one line per target and "N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${2:-10}
if [ -f "$dir/build.ninja" ]; then
  CC=clang meson setup --reconfigure "$dir" -Dfuzz=true -Dtests=false >/dev/null
else
  CC=clang meson setup "$dir" -Dfuzz=true -Dtests=false >/dev/null
fi || { echo "fuzz: configure failed"; echo "0 passed, 1 failed"; exit 1; }
ninja -C "$dir" >/dev/null || { echo "fuzz: build failed"; echo "0 passed, 1 failed"; exit 1; }

declare -A seeds=(
  [fuzz_toml]="tests/fuzz/toml-seeds"
  [fuzz_vmconfig]="tests/config/cfg guests/configs"
  [fuzz_devices]=""
  [fuzz_loaders]="tests/fuzz/loader-seeds"
  [fuzz_shell]="tests/fuzz/shell-seeds"
  [fuzz_proto]="tests/fuzz/proto-seeds"
  [fuzz_store]="tests/fuzz/store-seeds"
)
pass=0 fail=0
for t in "${!seeds[@]}"; do
  exe=$dir/fuzz/$t
  if [ ! -x "$exe" ]; then
    echo "FAIL $t: not built"; fail=$((fail + 1)); continue
  fi
  work=$(mktemp -d)          # new corpus entries go here, never into the repo
  extra=(); [ "$t" = fuzz_toml ] && extra=(-dict=fuzz/toml.dict)
  # shellcheck disable=SC2086
  if "$exe" -max_total_time="$secs" -artifact_prefix="$work/" "${extra[@]}" \
       "$work" ${seeds[$t]} >"$work/log" 2>&1; then
    echo "ok   $t: $(grep -E '^Done' "$work/log" | tail -1)"
    pass=$((pass + 1))
  else
    echo "FAIL $t:"; tail -30 "$work/log"
    fail=$((fail + 1))
  fi
  rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
