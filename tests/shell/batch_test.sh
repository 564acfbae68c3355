#!/bin/bash
# The batch front ends of the cvisor binary (SPEC §4): -c, script FILE,
# commands on stdin; exit statuses; syntax errors with file:line; data
# directories during and after a run; global options.
# Usage: batch_test.sh CVISOR GUEST_CONFIG_DIR  (env CVISOR_TEST_ACCEL)
set -u
cv=$1
cfg=$2
accel=${CVISOR_TEST_ACCEL:-emu}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
st=$tmp/state
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; shift; for f in "$@"; do sed 's/^/  | /' "$f" | head -30; done; fail=$((fail+1)); }
# check NAME WANT_STATUS GOT_STATUS FILE PATTERN... (each a grep -E pattern)
check() {
  local name=$1 want=$2 got=$3 file=$4; shift 4
  if [ "$got" != "$want" ]; then bad "$name: exit status $got, expected $want" "$file"; return; fi
  for p in "$@"; do
    if ! grep -qE -- "$p" "$file"; then bad "$name: output lacks /$p/" "$file"; return; fi
  done
  ok "$name"
}
cvb() { timeout 120 "$cv" --state-dir "$st" --accel "$accel" "$@"; }

# kvm may be unusable here: skip like the other per-backend tests
if ! cvb -c "vm create $cfg/exitcode.toml" >"$tmp/probe" 2>&1; then
  if grep -q "kvm" "$tmp/probe" && [ "$accel" = kvm ]; then
    echo "SKIP: kvm not usable here: $(cat "$tmp/probe")"; exit 77
  fi
fi

cvb -c "vm create $cfg/exitcode.toml; vm start 0; vm wait 0 --timeout 30; vm show 0" >"$tmp/a" 2>&1
check "-c: exit-code guest stops by itself, show has its code" 0 $? "$tmp/a" \
  '^✓ Successfully created VM\[0\]' '^✓ VM\[0\] started successfully$' \
  '^✓ VM\[0\] is Stopped$' '^  Exit code: 42$' '^  Status:    ■ Stopped$'
if grep -q $'\033' "$tmp/a"; then bad "no ANSI colour when stdout is not a terminal" "$tmp/a"; else ok "no colour off a terminal"; fi

cvb -c 'vm show 5; version' >"$tmp/b" 2>&1
check "-c: a failed command -> status 1, the rest still runs" 1 $? "$tmp/b" \
  '^✗ VM\[5\] not found$' '^cvisor [0-9]'

cvb -c 'vm list --bogus' >"$tmp/c" 2>&1
check "-c: usage error -> status 2" 2 $? "$tmp/c" "unknown option '--bogus'"

cvb -c 'vm show "unterminated' >"$tmp/c2" 2>&1
check "-c: syntax error -> status 2" 2 $? "$tmp/c2" 'unterminated double quote'

# a script: comments, blank lines, quotes, ';', a syntax error on line 5
cat >"$tmp/s.cv" <<EOF
# a cvisor script
vm create '$cfg/ticker.toml' "$cfg/smp4.toml"   # two VMs

vm start 0 ; vm wait ticker --state Running
vm show 'oops
vm list
vm stop 0 --timeout=10
vm log 0 --lines 1
EOF
cvb script "$tmp/s.cv" >"$tmp/d" 2>&1
check "script: runs every line, syntax error with file:line, status 2" 2 $? "$tmp/d" \
  "s.cv:5: unterminated single quote" '^0      ticker          Running ' \
  '^1      smp4            Loaded ' '^Gracefully stopping VM\[0\]\.\.\.$' \
  '^✓ VM\[0\] stopped$' '^ticker: shutdown requested$'

printf 'vm create %s\nvm list\nexit 5\nvm show 0\n' "$cfg/ticker.toml" >"$tmp/e.cv"
cvb script "$tmp/e.cv" >"$tmp/e" 2>&1
check "script: exit 5 ends it with status 5" 5 $? "$tmp/e" '^0      ticker '
if grep -q "VM Details" "$tmp/e"; then bad "commands after exit ran" "$tmp/e"; else ok "nothing runs after exit"; fi

printf 'vm create %s\nvm list -f json\n' "$cfg/ticker.toml" | cvb >"$tmp/f" 2>&1
check "stdin (no command, not a terminal): batch mode" 0 $? "$tmp/f" '"name": "ticker"'
if grep -q 'cvisor:\$' "$tmp/f"; then bad "a prompt in batch mode" "$tmp/f"; else ok "no prompt in batch mode"; fi

printf 'vm list\nvm show 3\n' | timeout 60 "$cv" shell --state-dir "$st" --accel "$accel" >"$tmp/g" 2>&1
check "shell with stdin not a terminal: batch, status 1" 1 $? "$tmp/g" '^No virtual machines found\.$'

cvb script - <"$tmp/e.cv" >"$tmp/g2" 2>&1
check "script - reads stdin" 5 $? "$tmp/g2" '^0      ticker '

# start never attaches in batch mode; the shell's VMs and data go at exit
start=$(date +%s)
cvb -c "vm create $cfg/ticker.toml $cfg/ticker.toml; vm start 0; vm wait 0 --state Running; vm delete 1 --keep-data" >"$tmp/h" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
check "start returns at once in batch mode" 0 $rc "$tmp/h" '^✓ VM\[0\] started successfully$' \
  'deleted \(configuration and data preserved\)'
[ "$took" -lt 20 ] && ok "batch start did not attach (${took}s)" || bad "batch start took ${took}s" "$tmp/h"
if [ -d "$st/vms/0-ticker" ]; then bad "the data dir of a VM left at exit was not removed" "$tmp/h"; else ok "exit deletes the shell's VMs and their data"; fi
if [ -f "$st/vms/1-ticker/config.toml" ] && [ -f "$st/vms/1-ticker/console.log" ]; then ok "--keep-data survives the process"; else bad "--keep-data dir missing" "$tmp/h"; fi
rm -rf "$st/vms/1-ticker"

# VMs are named by id or name everywhere; -c and --opt=value for global options
timeout 120 "$cv" --state-dir="$st" --accel="$accel" -c "vm create $cfg/ticker.toml; vm start ticker; vm suspend ticker; vm list; vm resume ticker; vm restart ticker --force; vm stop -f ticker; vm delete ticker" >"$tmp/i" 2>&1
check "names everywhere" 0 $? "$tmp/i" '^✓ VM\[0\] suspended \(1 vCPU parked in [0-9]+ µs\)$' \
  '^0      ticker          Suspended    0               16MB       Blk:1$' \
  '^✓ VM\[0\] resumed successfully$' '^✓ VM\[0\] restarted successfully$' '^✓ VM\[0\] deleted completely$'

"$cv" --accel bogus -c version >"$tmp/j" 2>&1
check "bad --accel: status 2" 2 $? "$tmp/j" "expected auto, kvm or emu"
"$cv" --state-dir "$st" run --image exitcode >"$tmp/k" 2>&1
check "global options before run: status 2" 2 $? "$tmp/k" "give them after 'run'"
"$cv" --help >"$tmp/l" 2>&1
check "--help shows the shell modes" 0 $? "$tmp/l" '^  shell ' '^  script FILE' "-c TEXT"
"$cv" -c 'vm create' >"$tmp/m" 2>&1
check "vm create without files: usage" 2 $? "$tmp/m" 'Usage: vm create'
"$cv" script >"$tmp/n" 2>&1
check "script without FILE: status 2" 2 $? "$tmp/n" "which FILE"
"$cv" script "$tmp/nonexistent.cv" >"$tmp/o" 2>&1
check "script FILE missing: status 1" 1 $? "$tmp/o" "cannot read"

# ---- host limits (hostopts.h): refused in the shell's style, naming the
# limit and its option; the VMs within the limits are created
cvb --max-vms 1 -c "vm create $cfg/ticker.toml $cfg/ticker.toml; vm list" >"$tmp/l1" 2>&1
check "--max-vms 1: the second VM is refused" 1 $? "$tmp/l1" \
  '^✓ Successfully created VM\[0\]' \
  '^✗ VM\[1\] refused: the number of VMs would be 2, limit 1 \(--max-vms\)$'
cvb --max-memory 24M -c "vm create $cfg/ticker.toml $cfg/ticker.toml" >"$tmp/l2" 2>&1
check "--max-memory 24M: the second 16 MiB VM is refused" 1 $? "$tmp/l2" \
  '^✗ VM\[1\] refused: total guest memory would be 32 MiB, limit 24 MiB \(--max-memory\)$'
cvb --max-memory 24M -c "vm create $cfg/ticker.toml; vm delete 0; vm create $cfg/ticker.toml" >"$tmp/l3" 2>&1
check "--max-memory: a deleted VM's memory is free again" 0 $? "$tmp/l3" \
  '^✓ Successfully created VM\[0\]'
cvb --max-vcpus 2 -c "vm create $cfg/smp4.toml" >"$tmp/l4" 2>&1
check "--max-vcpus 2: a 4-vCPU VM is refused" 1 $? "$tmp/l4" \
  '^✗ VM\[0\] refused: 4 vCPUs, limit 2 per VM \(--max-vcpus\)$'
cvb --max-vms 0 -c "vm list" >"$tmp/l5" 2>&1
check "--max-vms 0: usage error" 2 $? "$tmp/l5" "--max-vms: expected a number from 1 to 65536, got '0'"
cvb --console-log-cap 16q -c "vm list" >"$tmp/l6" 2>&1
check "--console-log-cap 16q: usage error" 2 $? "$tmp/l6" "--console-log-cap: expected a size"
cvb --no-seccomp --max-vms=3 --console-log-cap=16M -c "vm create $cfg/exitcode.toml; vm start 0; vm wait 0 --timeout 30" >"$tmp/l7" 2>&1
check "--no-seccomp and --opt=value forms" 0 $? "$tmp/l7" '^✓ VM\[0\] is Stopped$'

echo "$pass passed, $fail failed"
[ $fail = 0 ]
