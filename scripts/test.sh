#!/bin/bash
# Build cvisor and run the whole test suite (installs dependencies).
#   1. release-ish build (-O2): every test, incl. the KVM-inside-TCG tier
#   2. ASan+UBSan build: every test, incl. the tier
#   3. TSan build: the threaded parts (suites vmm, backend, devices, guests,
#      daemon, common) and the tier
#   (each build first gets the stock Linux kernel: tests/boot/fetch_linux.sh)
#   (all three with -Dfault_injection=true: the fault points of src/common/fault.h)
#   4. fuzz smoke: every libFuzzer target (clang) for 10 s on its seeds
# Ends with one line "N passed, N failed, N skipped".
# Env: CVISOR_TEST_BUILDS="release asan tsan fuzz" to choose builds.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || { echo "dependency installation failed"; exit 1; }
builds=${CVISOR_TEST_BUILDS:-release asan tsan fuzz}
jobs=$(nproc)
fail_setup=0
logs=()
extra_pass=0 extra_fail=0

setup() {  # dir, meson args...
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

run_build() {  # name, dir, test-args, setup args...
  local name=$1 dir=$2 targs=$3; shift 3
  echo "=== build: $name ($dir)"
  if ! setup "$dir" "$@" || ! ninja -C "$dir" -j"$jobs"; then
    echo "=== $name: BUILD FAILED"
    fail_setup=$((fail_setup + 1))
    return
  fi
  # the stock Debian kernel for the boot-linux-* tests: downloaded once per
  # machine into ~/.cache/cvisor (shared with the kvm tier), copied here;
  # without network and cache the tests skip and say why
  tests/boot/fetch_linux.sh "$dir/linux" | sed "s/^/=== linux kernel: /"
  # shellcheck disable=SC2086
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" $targs
  logs+=("$dir/meson-logs/testlog.json")
}

for b in $builds; do
  case $b in
  release) run_build release build-test "" --buildtype=debugoptimized -Dfault_injection=true ;;
  # (LSan's suppressions, tests/lsan.supp, come from meson: tests/meson.build)
  asan) ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_build asan build-test-asan "" \
          -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug \
          -Dfault_injection=true ;;
  tsan) run_build tsan build-test-tsan "--suite vmm --suite backend --suite devices --suite guests --suite daemon --suite common --suite kvm-tier" \
          -Db_sanitize=thread -Db_lundef=false --buildtype=debug \
          -Dfault_injection=true ;;
  fuzz)
    echo "=== fuzz smoke (build-test-fuzz)"
    out=$(scripts/fuzz-smoke.sh build-test-fuzz 10 2>&1); echo "$out"
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    if [ -n "$line" ]; then
      extra_pass=$((extra_pass + $(echo "$line" | cut -d' ' -f1)))
      extra_fail=$((extra_fail + $(echo "$line" | cut -d' ' -f3)))
    else
      extra_fail=$((extra_fail + 1))
    fi ;;
  *) echo "unknown build '$b'"; fail_setup=$((fail_setup + 1)) ;;
  esac
done

python3 - "$fail_setup" "$extra_pass" "$extra_fail" "${logs[@]}" <<'PY'
import json, sys
setup_fail = int(sys.argv[1])
p, f, s = int(sys.argv[2]), int(sys.argv[3]), 0
for path in sys.argv[4:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        f += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r == "OK" or r == "EXPECTEDFAIL":
            p += 1
        elif r == "SKIP":
            s += 1
        else:
            f += 1
f += setup_fail
print(f"{p} passed, {f} failed, {s} skipped")
sys.exit(1 if f else 0)
PY
