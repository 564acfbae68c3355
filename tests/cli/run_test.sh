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
  # which Unicorn a running emu VM loaded: cvisor's module beside the
  # executable (src/backend/emu/ucmod.c) when built, else libunicorn.so.2
  unicorn_maps() {  # [EXE] -> the unicorn files mapped by a ticking `cvisor run`
    ( exec "${1:-$cv}" run --accel emu --state-dir "$tmp/state" --image ticker >"$tmp/uc.out" 2>&1 ) &
    local p=$!
    for _ in $(seq 100); do grep -q "tick 1" "$tmp/uc.out" && break; sleep 0.1; done
    grep -q "tick 1" "$tmp/uc.out" && grep -oE '[^/ ]*unicorn[^/ ]*$' /proc/$p/maps | sort -u | tr '\n' ' '
    kill -TERM $p; wait $p
  }
  if [ -e "$(dirname "$cv")/cvisor-unicorn.so" ]; then
    got=$(unicorn_maps)
    [ "$got" = "cvisor-unicorn.so " ] && { echo "ok   emu loads cvisor-unicorn.so"; pass=$((pass+1)); } \
      || { echo "FAIL emu should load only cvisor-unicorn.so, mapped: '$got'"; fail=$((fail+1)); }
    # an installed tree moved elsewhere: bin/cvisor finds the module in
    # its libdir relative to itself (meson passes that relative path)
    rel=${CVISOR_TEST_UCMOD_FROM_BIN:-}
    if [ -n "$rel" ]; then
      mkdir -p "$tmp/inst/bin" "$tmp/inst/bin/$rel"
      cp "$cv" "$tmp/inst/bin/cvisor"
      cp "$(dirname "$cv")/cvisor-unicorn.so" "$tmp/inst/bin/$rel/"
      got=$(unicorn_maps "$tmp/inst/bin/cvisor")
      [ "$got" = "cvisor-unicorn.so " ] && { echo "ok   a moved install loads cvisor-unicorn.so from bin/$rel"; pass=$((pass+1)); } \
        || { echo "FAIL a moved install should load bin/$rel/cvisor-unicorn.so, mapped: '$got'"; fail=$((fail+1)); }
    else
      echo "skip moved install: bindir or libdir is absolute"
    fi
  else
    echo "skip emu module: not built (-Demu_module, libunicorn.a missing)"
  fi
  # exceptions after a delivered one stay themselves (src/backend/emu/
  # emu_latch.c): with the offset the module carries, and as found
  run --image exc64 >"$tmp/exc.out" 2>&1
  check "emu: exceptions delivered (default Unicorn)" 0 $? "exc: all delivered" "$tmp/exc.out"
  CVISOR_LIBUNICORN=libunicorn.so.2 run --image exc64 >"$tmp/exc2.out" 2>&1
  check "emu: exceptions delivered (libunicorn.so.2)" 0 $? "exc: all delivered" "$tmp/exc2.out"
  got=$(CVISOR_LIBUNICORN=libunicorn.so.2 unicorn_maps)
  [ "$got" = "libunicorn.so.2 " ] && { echo "ok   emu on \$CVISOR_LIBUNICORN=libunicorn.so.2"; pass=$((pass+1)); } \
    || { echo "FAIL emu on libunicorn.so.2, mapped: '$got'"; fail=$((fail+1)); }
fi

"$cv" run --help >"$tmp/help.out" 2>&1
check "run --help" 0 $? "Usage: cvisor run" "$tmp/help.out"

# ---- stop signals: graceful (power button + shutdown request, up to
# --stop-timeout), a second signal forces; status 128+N of the first signal
wait_for() {  # FILE TEXT SECONDS: true once FILE contains TEXT
  local _
  for _ in $(seq $(($3 * 10))); do grep -q -- "$2" "$1" && return 0; sleep 0.1; done
  return 1
}
# bash's own clock: busybox date (the kvm tier) has no %N
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $(( 10#$t / 1000 )); }
# NAME READY [run options...]: run in the background; once READY is on the
# console send SIG${sig:-TERM} (and, with again=TEXT, SIGINT once TEXT is
# there too).  $st: exit status, $ms: time from the first signal; stdout
# then stderr in $tmp/NAME.out.
sig_stop() {
  local name=$1 ready=$2 t0 p; shift 2
  # exec: $p must be cvisor itself, not a subshell
  ( exec "$cv" run --accel "$accel" --state-dir "$tmp/state" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" ) &
  p=$!
  wait_for "$tmp/$name.out" "$ready" 60
  t0=$(now_ms); kill -"${sig:-TERM}" $p
  if [ -n "${again:-}" ]; then wait_for "$tmp/$name.out" "$again" 30; kill -INT $p; fi
  wait $p; st=$?; ms=$(( $(now_ms) - t0 ))
  cat "$tmp/$name.err" >>"$tmp/$name.out"
}
within() {  # NAME MIN_MS MAX_MS: $ms in [MIN, MAX)
  if [ "$ms" -ge "$2" ] && [ "$ms" -lt "$3" ]; then echo "ok   $1 ($ms ms)"; pass=$((pass+1))
  else echo "FAIL $1: $ms ms, expected $2..$3"; fail=$((fail+1)); fi
}

# an ACPI guest shuts down when its power button is pressed: status 143
sig_stop acpi_off "waiting for the power button" --image acpi_off
check "SIGTERM: ACPI guest powers off on the power button, status 143" 143 $st \
  "acpi_off: power button, powering off" "$tmp/acpi_off.out"
check "SIGTERM: says the guest shut down" 143 $st "VM 'acpi_off' shut down" "$tmp/acpi_off.out"
within "SIGTERM: acpi_off did not wait for the timeout" 0 8000

# a guest that ignores the button: forced after --stop-timeout
sig_stop acpi_ignore "waiting for the power button" --image acpi_ignore --stop-timeout 2
check "SIGTERM: ignoring guest saw the button, forced, status 143" 143 $st \
  "acpi_ignore: power button, ignored" "$tmp/acpi_ignore.out"
check "SIGTERM: says it forced the stop" 143 $st "VM 'acpi_ignore' forced to stop" "$tmp/acpi_ignore.out"
within "--stop-timeout 2: forced after the timeout" 1900 20000

# a second signal forces at once (SIGINT after SIGTERM, timeout 60 s)
again="acpi_ignore: power button, ignored" \
  sig_stop acpi_twice "waiting for the power button" --image acpi_ignore --stop-timeout 60
check "second signal forces at once: status 143 (the first signal's)" 143 $st \
  "forced to stop" "$tmp/acpi_twice.out"
within "second signal: stopped long before the 60 s timeout" 0 30000

# the spinner never exits by itself: --stop-timeout 0 forces at once
sig_stop spin "spinner: start" --image spinner --stop-timeout 0
check "SIGTERM with --stop-timeout 0: forced, status 143" 143 $st "spinner: start" "$tmp/spin.out"
sig=INT sig_stop spin2 "spinner: start" --image spinner --stop-timeout 0
check "SIGINT (Ctrl-C): status 130" 130 $st "spinner: start" "$tmp/spin2.out"
sig=HUP sig_stop spin3 "spinner: start" --image spinner --stop-timeout 0
check "SIGHUP: status 129" 129 $st "spinner: start" "$tmp/spin3.out"

# partial lines (no '\n') during and at a stop: cvisor run flushes them
# CONSOLE_PARTIAL_FLUSH_MS after they come, while it waits for the guest
# too.  lastwords says "lastwords: bye" without '\n' on the stop request
# and never powers off: the line must show long before the 20 s timeout
# (a second signal then ends the run), not when the stop is forced.
again="lastwords: bye" sig_stop lastwords "lastwords: start" --image lastwords --stop-timeout 20
check "SIGTERM: last words without a newline shown, status 143" 143 $st "lastwords: bye" "$tmp/lastwords.out"
within "a partial line during the graceful stop shows before the stop ends" 0 10000
# a guest that ends by itself with a partial line: shown, status its own
run --image lastwords_exit >"$tmp/lastexit.out" 2>"$tmp/lastexit.err"
st=$?
printf '%s' "lastwords_exit: bye" >"$tmp/lastexit.want"
tail -c "$(stat -c %s "$tmp/lastexit.want")" "$tmp/lastexit.out" | cmp -s - "$tmp/lastexit.want"
check "guest exits after a partial line: it ends stdout, status 42" "42 0" "$st $?"

run --stop-timeout soon >"$tmp/usage3.out" 2>&1
check "--stop-timeout soon: usage error" 2 $? "expected seconds" "$tmp/usage3.out"

[ -z "$(ls -A "$tmp/state/run" 2>/dev/null)" ] && { echo "ok   data dirs removed"; pass=$((pass+1)); } \
  || { echo "FAIL data dirs left: $(ls "$tmp/state/run")"; fail=$((fail+1)); }

run --image exitcode --keep-data >/dev/null 2>&1
ls "$tmp"/state/run/*-exitcode/console.log >/dev/null 2>&1 && { echo "ok   --keep-data keeps console.log"; pass=$((pass+1)); } \
  || { echo "FAIL --keep-data"; fail=$((fail+1)); }

# ---- seccomp (docs/security.md): every thread of a running `cvisor run`
# is confined (/proc: "Seccomp: 2"), none with --no-seccomp
seccomp_modes() {  # extra run options -> prints the threads' modes, sorted
  ( exec "$cv" run --accel "$accel" --state-dir "$tmp/state" --image ticker "$@" >"$tmp/sc.out" 2>&1 ) &
  local p=$!
  for _ in $(seq 100); do grep -q "tick 2" "$tmp/sc.out" && break; sleep 0.1; done
  cat /proc/$p/task/*/status 2>/dev/null | awk '/^Seccomp:/ {print $2}' | sort | uniq -c | tr -s ' ' | tr '\n' ';'
  kill -TERM $p; wait $p
}
modes=$(seccomp_modes)
threads=$(echo "$modes" | grep -o '[0-9]* 2;' | cut -d' ' -f1)
# a TSan build has the runtime's own background thread, not ours
# (by its symbol: the kvm tier has no ldd)
free_ok=' 0;'; grep -q __tsan_init "$cv" && free_ok=' [02-9] 0;'
if [ -n "$threads" ] && [ "$threads" -ge 4 ] && ! echo "$modes" | grep -qE "$free_ok"; then
  echo "ok   seccomp: all $threads threads confined"; pass=$((pass+1))
else
  echo "FAIL seccomp: thread modes '$modes' (count mode;)"; fail=$((fail+1))
fi
modes=$(seccomp_modes --no-seccomp)
if echo "$modes" | grep -q ' 0;' && ! echo "$modes" | grep -q ' 2;'; then
  echo "ok   --no-seccomp: no thread confined"; pass=$((pass+1))
else
  echo "FAIL --no-seccomp: thread modes '$modes'"; fail=$((fail+1))
fi

# ---- limits: refused with the limit and its option named
run "$(dirname "$0")/../../guests/configs/smp4.toml" --max-vcpus 2 >"$tmp/lim1.out" 2>&1
check "--max-vcpus refuses a 4-vCPU VM" 1 $? "VM 'smp4' refused: 4 vCPUs, limit 2 per VM (--max-vcpus)" "$tmp/lim1.out"
run --max-memory 8M >"$tmp/lim2.out" 2>&1
check "--max-memory refuses a 16 MiB VM" 1 $? "VM 'demo' refused: total guest memory would be 16 MiB, limit 8 MiB (--max-memory)" "$tmp/lim2.out"
run --max-memory 16M >"$tmp/lim3.out" 2>&1
check "--max-memory 16M admits it" 0 $? "Hello from the cvisor demo guest" "$tmp/lim3.out"
run --max-memory 4x >"$tmp/lim4.out" 2>&1
check "--max-memory 4x: usage error" 2 $? "expected a size of at least 1 MiB (e.g. 4G, 512M), got '4x'" "$tmp/lim4.out"
run --max-vcpus 65 >"$tmp/lim5.out" 2>&1
check "--max-vcpus 65: usage error" 2 $? "expected a number from 1 to 64, got '65'" "$tmp/lim5.out"
run --console-log-cap 1K >"$tmp/lim6.out" 2>&1
check "--console-log-cap 1K: usage error" 2 $? "expected a size of at least 4 KiB" "$tmp/lim6.out"
# the console log stays within its cap (4 KiB + the one line saying so)
# while the guest goes on printing: wait for the cap's note, then for 100
# more ticks on stdout.  The deadlines are generous (each wait ends as
# soon as its line is there): the kvm tier under TSan prints ~10x slower.
( exec "$cv" run --accel "$accel" --state-dir "$tmp/cap" --image ticker --keep-data --console-log-cap 4K >"$tmp/cap.out" 2>&1 ) &
pid=$!
for _ in $(seq 1200); do
  grep -qs "reached its 4096-byte cap" "$tmp"/cap/run/*-ticker/console.log && break
  sleep 0.1
done
capped_at=$(grep -o "tick [0-9]*" "$tmp/cap.out" | tail -n 1 | cut -d' ' -f2)
more="tick $((${capped_at:-0} + 100))"
wait_for "$tmp/cap.out" "$more" 120
kill -TERM $pid; wait $pid
size=$(stat -c %s "$tmp"/cap/run/*-ticker/console.log 2>/dev/null || echo missing)
if [ -n "$capped_at" ] && grep -q "$more" "$tmp/cap.out" && grep -q "reached its 4096-byte cap" "$tmp"/cap/run/*-ticker/console.log && [ "$size" != missing ] && [ "$size" -le $((4096 + 200)) ] && [ "$size" -ge 4000 ]; then
  echo "ok   --console-log-cap 4K: console.log is $size bytes (capped by tick $capped_at, still $size at $more)"; pass=$((pass+1))
else
  echo "FAIL --console-log-cap 4K: console.log size $size, capped by tick ${capped_at:-(no cap note)}, '$more' $(grep -q "$more" "$tmp/cap.out" && echo seen || echo not seen); last line: $(tail -n 1 "$tmp/cap.out")"; fail=$((fail+1))
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
