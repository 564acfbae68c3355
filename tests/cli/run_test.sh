#!/bin/bash
# `cvisor run` end to end: output, exit statuses (SPEC §5b), data dir cleanup.
# Usage: run_test.sh CVISOR   (env CVISOR_TEST_ACCEL=emu|kvm, default emu)
set -u
cv=$1
accel=${CVISOR_TEST_ACCEL:-emu}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() {  # name, expected status, actual status, [grep pattern, file]
  local name=$1 want=$2 got=$3
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit status $got, expected $want"; fail=$((fail+1)); return
  fi
  if [ $# -ge 5 ] && ! grep -q -- "$4" "$5"; then
    echo "FAIL $name: output lacks '$4':"; sed 's/^/  | /' "$5" | head -20
    fail=$((fail+1)); return
  fi
  echo "ok   $name"; pass=$((pass+1))
}
run() { timeout 60 "$cv" run --accel "$accel" --state-dir "$tmp/state" "$@"; }

if [ "$accel" = kvm ] && ! "$cv" run --accel kvm --image exitcode --state-dir "$tmp/state" -q >/dev/null 2>"$tmp/probe"; then
  if grep -q "not usable" "$tmp/probe"; then
    echo "SKIP: kvm not usable here: $(cat "$tmp/probe")"; exit 77
  fi
fi

run >"$tmp/demo.out" 2>"$tmp/demo.err"
check "demo boots and powers off" 0 $? "Hello from the cvisor demo guest" "$tmp/demo.out"
grep -q "on $accel" "$tmp/demo.err" && echo "ok   backend reported" && pass=$((pass+1)) \
  || { echo "FAIL backend not reported on stderr"; cat "$tmp/demo.err"; fail=$((fail+1)); }

run --image exitcode >"$tmp/exit.out" 2>&1
check "debug-exit code is the exit status" 42 $?

run --image reboot --no-reboot >"$tmp/reboot.out" 2>&1
check "--no-reboot: status 3 on a reboot request" 3 $? "reboot: booting" "$tmp/reboot.out"

printf '[base]\nname = "x"\ncpu_num = "one"\n' >"$tmp/bad.toml"
timeout 60 "$cv" run "$tmp/bad.toml" --accel "$accel" --state-dir "$tmp/state" >"$tmp/bad.out" 2>&1
check "bad config (options after the file): status 1 with file:line" 1 $? "bad.toml:3" "$tmp/bad.out"

run --bogus >"$tmp/usage.out" 2>&1
check "unknown option: status 2" 2 $?

run a.toml b.toml >"$tmp/usage2.out" 2>&1
check "two configs: status 2" 2 $?

if [ "$accel" = emu ]; then
  CVISOR_LIBUNICORN=/nonexistent/libunicorn.so run --image exitcode >"$tmp/nolib.out" 2>&1
  check "emu without libunicorn: status 1, says why" 1 $? "cannot load /nonexistent/libunicorn.so" "$tmp/nolib.out"
fi

"$cv" run --help >"$tmp/help.out" 2>&1
check "run --help" 0 $? "Usage: cvisor run" "$tmp/help.out"

# the spinner never exits by itself: SIGTERM stops it, status 128+15
# exec: $! must be cvisor itself, not a subshell
( exec "$cv" run --accel "$accel" --state-dir "$tmp/state" --image spinner >"$tmp/spin.out" 2>&1 ) &
pid=$!
for _ in $(seq 100); do grep -q "spinner: start" "$tmp/spin.out" && break; sleep 0.1; done
kill -TERM $pid; wait $pid
check "SIGTERM stops the VM: status 143" 143 $? "spinner: start" "$tmp/spin.out"

[ -z "$(ls -A "$tmp/state/run" 2>/dev/null)" ] && { echo "ok   data dirs removed"; pass=$((pass+1)); } \
  || { echo "FAIL data dirs left: $(ls "$tmp/state/run")"; fail=$((fail+1)); }

run --image exitcode --keep-data >/dev/null 2>&1
ls "$tmp"/state/run/*-exitcode/console.log >/dev/null 2>&1 && { echo "ok   --keep-data keeps console.log"; pass=$((pass+1)); } \
  || { echo "FAIL --keep-data"; fail=$((fail+1)); }

echo "$pass passed, $fail failed"
[ $fail = 0 ]
