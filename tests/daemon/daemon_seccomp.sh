#!/bin/bash
# The daemon's own seccomp filters (issue 8): `cvisor serve` confines its
# main thread (`server`) and each worker (`server-worker`); a forbidden
# call on either ends the daemon with status 159 and the one-line message;
# --no-seccomp turns them off.  The forbidden call comes from a test hook
# of the fault-injection builds ($CVISOR_FAULT=daemon.seccomp_probe_*:N:
# socket(AF_INET) on the worker running the Nth request, or on the main
# thread at the Nth accepted connection).
# Usage: daemon_seccomp.sh CVISOR GUEST_CONFIG_DIR
set -u
cv=$(realpath "$1")
cfg=$2
tmp=$(mktemp -d)
dpid=
cleanup() { [ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
sock=$tmp/run/cv.sock
export CVISOR_SOCKET=$sock
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; shift; for f in "$@"; do sed 's/^/  | /' "$f" | head -40; done; fail=$((fail+1)); }
c() { timeout 60 "$cv" "$@"; }

serve() {  # LOG extra args...: start in the background, dpid set
  local log=$1; shift
  "$cv" serve --socket "$sock" --state-dir "$tmp/state" --accel emu "$@" 2>"$log" &
  dpid=$!
  for _ in $(seq 200); do [ -S "$sock" ] && return 0; kill -0 "$dpid" 2>/dev/null || return 1; sleep 0.05; done
  return 1
}
finish() {  # wait for the daemon (already ending), status in $dstatus
  for _ in $(seq 200); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$dpid" 2>/dev/null; wait "$dpid"; dstatus=$?; dpid=
}
modes() {  # the Seccomp: field of every thread of $dpid, one per line
  for t in /proc/"$dpid"/task/*; do
    echo "$(basename "$t") $(awk '/^Seccomp:/ {print $2}' "$t/status")"
  done
}

if "$cv" serve --help 2>&1 | grep -q -- --no-seccomp; then :; else
  echo "serve has no --no-seccomp"; exit 1
fi
# TSan runs a background thread of its own from before main(): unconfined.
sanitizer_thread=0
ldd "$cv" 2>/dev/null | grep -q libtsan && sanitizer_thread=1

# ---- every daemon thread is confined ------------------------------------------
serve "$tmp/d1.log" || { cat "$tmp/d1.log"; exit 1; }
c vm create "$cfg/ticker.toml" >/dev/null 2>&1 && c vm start 0 >/dev/null 2>&1
c vm wait 0 --state Running --timeout 10 >/dev/null 2>&1
# a request in flight keeps a worker busy while we look
c vm wait 0 --state Stopped --timeout 2 >/dev/null 2>&1 &
sleep 0.5
modes >"$tmp/modes"
main=$(awk -v p="$dpid" '$1 == p {print $2}' "$tmp/modes")
n2=$(awk '$2 == 2' "$tmp/modes" | wc -l)
n0=$(awk '$2 != 2' "$tmp/modes" | wc -l)
if [ "$main" = 2 ] && [ "$n2" -ge 4 ] && [ "$n0" -le "$sanitizer_thread" ]; then
  ok "serve: the main thread, the workers and the VM threads are confined ($n2 threads in mode 2, $n0 not)"
else
  bad "serve: threads not confined (main: $main)" "$tmp/modes"
fi
wait $!
c vm list >"$tmp/l" 2>&1
grep -q '^0 .*ticker' "$tmp/l" && ok "the confined daemon serves (vm list)" || bad "vm list" "$tmp/l"
kill -TERM "$dpid"; wait "$dpid"; dstatus=$?; dpid=
[ "$dstatus" = 0 ] && ok "the confined daemon stops cleanly on SIGTERM (status 0)" \
  || bad "SIGTERM: status $dstatus" "$tmp/d1.log"
rm -rf "$tmp/state"

# ---- a forbidden call on a worker / on the main thread -------------------------
probe() {  # POINT LABEL
  CVISOR_FAULT=$1:1 serve "$tmp/$1.log" || true
  c vm list >"$tmp/$1.client" 2>&1
  cs=$?
  finish
  want="cvisor: seccomp: $2 made a forbidden system call: socket (41); exiting (--no-seccomp turns the filters off)"
  if [ "$dstatus" = 159 ] && grep -qxF "$want" "$tmp/$1.log" && [ "$cs" != 0 ]; then
    ok "$1: the daemon exits 159 with the message naming $2 (the client fails, status $cs)"
  else
    echo "daemon status $dstatus, client status $cs" >"$tmp/why"
    bad "$1: not denied as designed" "$tmp/why" "$tmp/$1.log" "$tmp/$1.client"
  fi
  # the same without filters: allowed, the daemon keeps serving
  CVISOR_FAULT=$1:1 serve "$tmp/$1.nf.log" --no-seccomp || true
  c vm list >"$tmp/$1.nf.client" 2>&1
  c vm list >>"$tmp/$1.nf.client" 2>&1
  cs=$?
  modes >"$tmp/modes.nf"
  n2=$(awk '$2 == 2' "$tmp/modes.nf" | wc -l)
  if kill -0 "$dpid" 2>/dev/null && [ "$cs" = 0 ] && [ "$n2" = 0 ] &&
     grep -q 'seccomp probe: socket(AF_INET) was allowed.*result=ok' "$tmp/$1.nf.log"; then
    ok "$1 with --no-seccomp: the call succeeds, no thread confined, the daemon serves on"
  else
    echo "client status $cs, confined threads $n2" >"$tmp/why"
    bad "$1 with --no-seccomp" "$tmp/why" "$tmp/$1.nf.log" "$tmp/$1.nf.client" "$tmp/modes.nf"
  fi
  kill -TERM "$dpid"; wait "$dpid"; dpid=
}
if [ "${CVISOR_SECCOMP:-}" = log ]; then
  echo "note: CVISOR_SECCOMP=log: the filters log instead of denying; the probes are skipped"
else
  probe daemon.seccomp_probe_worker "a daemon worker thread"
  probe daemon.seccomp_probe_loop "the daemon's main thread"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
