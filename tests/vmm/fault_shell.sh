#!/bin/bash
# Fault injection through the shell ($CVISOR_FAULT, src/common/fault.h):
# `vm create` of a 2-vCPU VM with each fault point failing at its first and
# second hit must print a clear "Failed to create" line, exit 1, leave no
# data directory and list no VM; `vm start` of a Stopped VM with the
# rebuild failing must leave it listed and Stopped, and the next start must
# work.  Usage: fault_shell.sh CVISOR CONFIG_DIR (env CVISOR_TEST_ACCEL).
set -u
cv=$1 cfgdir=$2
accel=${CVISOR_TEST_ACCEL:-emu}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; sed 's/^/  | /' "$tmp/out" | head -20; fail=$((fail+1)); }
sh() { timeout 60 "$cv" --no-color --accel "$accel" --state-dir "$tmp/state" -c "$1" >"$tmp/out" 2>&1; }

sed 's/^cpu_num = 1/cpu_num = 2/' "$cfgdir/exitcode.toml" >"$tmp/vm.toml"
CVISOR_FAULT=none:1 sh "vm create $tmp/vm.toml; vm list"
if grep -q "not usable" "$tmp/out"; then
  echo "SKIP: $accel not usable here"; sed 's/^/  | /' "$tmp/out"; exit 77
fi
if [ -z "$(CVISOR_FAULT=mem.mmap:1 "$cv" --accel "$accel" --state-dir "$tmp/state" -c "vm create $tmp/vm.toml" 2>&1 | grep 'Failed to create')" ]; then
  echo "SKIP: this cvisor was built without -Dfault_injection=true"; exit 77
fi
rm -rf "$tmp/state"

points="mem.mmap vm.thread data.mkdir reg.config_write console.open devices.create boot.load"
if [ "$accel" = kvm ]; then
  points="$points kvm.create_vm kvm.set_memory kvm.create_vcpu kvm.vcpu_mmap"
else
  points="$points emu.uc_open emu.mem_map"
fi
for p in $points; do
  for n in 1 2; do
    CVISOR_FAULT=$p:$n sh "vm create $tmp/vm.toml; vm list"
    rc=$?
    # points hit only once per create (e.g. mem.mmap) succeed at #2
    if [ $n = 2 ] && ! grep -q "Failed to create" "$tmp/out"; then
      grep -q "Successfully created VM" "$tmp/out" && [ $rc = 0 ] \
        && ok "$p #2: not a second hit, created" || bad "$p #2: unexpected"
      rm -rf "$tmp/state"; continue
    fi
    if [ $rc = 1 ] && grep -q "Failed to create VM from .*: ." "$tmp/out" &&
       grep -q "No virtual machines found" "$tmp/out" &&
       [ -z "$(ls -A "$tmp/state/vms" 2>/dev/null)" ]; then
      ok "$p #$n: refused clearly, nothing listed, no data dir"
    else
      bad "$p #$n (status $rc, data dirs: $(ls -A "$tmp/state/vms" 2>/dev/null))"
    fi
  done
done

# vm start from Stopped rebuilds the machine: make the image load fail
CVISOR_FAULT=boot.load:2 sh "vm create $tmp/vm.toml; vm start 0; vm wait 0 --timeout 20;
  vm start 0; vm list; vm start 0; vm wait 0 --timeout 20; vm show 0"
rc=$?
if [ $rc = 1 ] && grep -q "Failed to start VM\[0\]: cannot load the kernel image" "$tmp/out" &&
   grep -Eq "^0 +exitcode +Stopped" "$tmp/out" &&
   [ "$(grep -c 'VM\[0\] started successfully' "$tmp/out")" = 2 ] &&
   grep -q "Exit code: 42" "$tmp/out"; then
  ok "start fault: refused clearly, VM listed Stopped, the next start works"
else
  bad "start fault (status $rc)"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
