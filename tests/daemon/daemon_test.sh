#!/bin/bash
# The daemon and its client end to end (SPEC §4, issue 7): real guests over
# the socket; the client prints what the local shell prints with the same
# status; socket/dir modes and peer checks; already-running and stale
# sockets; events; console; the protocol on a raw connection; persistence
# across kill -9 and SIGTERM, a corrupt definition, delete [--keep-data].
# Usage: daemon_test.sh CVISOR GUEST_CONFIG_DIR  (env CVISOR_TEST_ACCEL)
set -u
cv=$(realpath "$1")
cfg=$2
accel=${CVISOR_TEST_ACCEL:-emu}
tmp=$(mktemp -d)
dpid= pub=
cleanup() {
  [ -n "$dpid" ] && kill -9 "$dpid" 2>/dev/null
  rm -rf "$tmp" ${pub:+"$pub"}
}
trap cleanup EXIT
st=$tmp/state
sock=$tmp/run/cv.sock
export CVISOR_SOCKET=$sock
pass=0 fail=0
# a few checks use python3 (JSON, a pseudo-terminal, raw sockets); where
# there is none (the kvm tier) they are skipped and say so
have_python() {  # NAME
  command -v python3 >/dev/null && return 0
  echo "skip $1: no python3 here"; return 1
}
ok() { echo "ok   $1"; pass=$((pass+1)); }
bad() { echo "FAIL $1"; shift; for f in "$@"; do sed 's/^/  | /' "$f" | head -40; done; fail=$((fail+1)); }
check() {  # NAME WANT_STATUS GOT_STATUS FILE PATTERN...
  local name=$1 want=$2 got=$3 file=$4; shift 4
  if [ "$got" != "$want" ]; then bad "$name: exit status $got, expected $want" "$file"; return; fi
  for p in "$@"; do
    if ! grep -qE -- "$p" "$file"; then bad "$name: output lacks /$p/" "$file"; return; fi
  done
  ok "$name"
}
c() { timeout 120 "$cv" "$@"; }

start_daemon() {  # extra serve args...
  "$cv" serve --socket "$sock" --state-dir "$st" --accel "$accel" \
    --stop-timeout 10 "$@" 2>>"$tmp/daemon.log" &
  dpid=$!
  for _ in $(seq 200); do
    [ -S "$sock" ] && c vm list >/dev/null 2>&1 && return 0
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.05
  done
  echo "daemon did not come up:"; cat "$tmp/daemon.log"; exit 1
}
stop_daemon() {  # SIGTERM, wait; the exit status in $dstatus
  kill -TERM "$dpid"; wait "$dpid"; dstatus=$?; dpid=
}

start_daemon

# kvm may be unusable here: skip like the other per-backend tests
if ! c vm create "$cfg/exitcode.toml" >"$tmp/probe" 2>&1; then
  if [ "$accel" = kvm ] && grep -qi "kvm" "$tmp/probe"; then
    echo "SKIP: kvm not usable here: $(cat "$tmp/probe")"; exit 77
  fi
fi
c vm delete 0 >/dev/null 2>&1

# ---- permissions -----------------------------------------------------------
m=$(stat -c '%a %U' "$sock") d=$(stat -c '%a' "$tmp/run") s=$(stat -c '%a' "$st/defs")
if [ "$m" = "600 $(id -un)" ] && [ "$d" = 700 ] && [ "$s" = 700 ]; then
  ok "socket 0600 (owner $(id -un)) in a 0700 directory; defs 0700"
else
  echo "socket $m dir $d defs $s" >"$tmp/p"; bad "socket/dir modes" "$tmp/p"
fi

# ---- no daemon --------------------------------------------------------------
CVISOR_SOCKET=$tmp/nothing.sock c vm list >"$tmp/a" 2>&1
check "no reachable daemon: says so, status 1" 1 $? "$tmp/a" \
  "cannot reach the cvisor daemon at $tmp/nothing.sock"
c --connect "$tmp/nothing.sock" -c 'vm list' >"$tmp/a" 2>&1
check "--connect shell mode without a daemon: status 1" 1 $? "$tmp/a" "cannot reach"
c vm list --help >"$tmp/a" 2>&1
check "vm <verb> --help answers without a daemon round trip" 0 $? "$tmp/a" '^Usage: vm list'

# ---- the client prints what the local shell prints ---------------------------
script="vm create $cfg/ticker.toml $cfg/exitcode.toml $tmp/missing.toml; vm list;
vm show 0; vm start 1; vm wait 1 --timeout 30; vm show 1; vm show 7;
vm list --bogus; vm list -f json; vm delete 1; vm stop 0; vm delete 0; vm list"
c --state-dir "$tmp/local" --accel "$accel" -c "$script" >"$tmp/local.out" 2>&1
ls=$?
c --connect "$sock" -c "$script" >"$tmp/remote.out" 2>&1
rs=$?
if [ "$ls" = "$rs" ] && cmp -s "$tmp/local.out" "$tmp/remote.out"; then
  ok "remote -c output and status (=$rs) identical to the local shell"
else
  diff "$tmp/local.out" "$tmp/remote.out" >"$tmp/diff"; echo "local $ls remote $rs" >>"$tmp/diff"
  bad "remote output differs from local" "$tmp/diff"
fi
for cmd in "vm show 7" "vm list --bogus" "vm list" "vm bogus" "version"; do
  # shellcheck disable=SC2086
  c --state-dir "$tmp/local" --accel "$accel" -c "$cmd" >"$tmp/l1" 2>"$tmp/l2"; a=$?
  # shellcheck disable=SC2086
  c $cmd >"$tmp/r1" 2>"$tmp/r2"; b=$?
  [ "$cmd" = version ] && { c --connect "$sock" -c version >"$tmp/r1" 2>"$tmp/r2"; b=$?; }
  if [ "$a" = "$b" ] && cmp -s "$tmp/l1" "$tmp/r1" && cmp -s "$tmp/l2" "$tmp/r2"; then
    ok "cvisor $cmd: same stdout, stderr and status ($b) as the local shell"
  else
    cat "$tmp/l1" "$tmp/l2" "$tmp/r1" "$tmp/r2" >"$tmp/diff"; echo "status $a vs $b" >>"$tmp/diff"
    bad "cvisor $cmd differs from the local shell" "$tmp/diff"
  fi
done
c vm delete 0 >/dev/null 2>&1

# ---- a second daemon on the same socket; stale sockets ------------------------
"$cv" serve --socket "$sock" --state-dir "$tmp/other" >"$tmp/b" 2>&1
check "second daemon on a live socket refuses: already running" 1 $? "$tmp/b" "already running"

# ---- real guests over the socket ----------------------------------------------
c vm create "$cfg/ticker.toml" "$cfg/smp4.toml" >"$tmp/c" 2>&1
check "create two VMs over the socket" 0 $? "$tmp/c" '^✓ Successfully created VM\[0\]' \
  '^✓ Successfully created VM\[1\]' '^Successfully created 2 VM\(s\)$'
c events >"$tmp/events" 2>&1 &
evpid=$!
sleep 0.3
c vm start 0 >"$tmp/d" 2>&1 && c vm wait 0 --state Running --timeout 10 >>"$tmp/d" 2>&1
check "start the ticker" 0 $? "$tmp/d" '^✓ VM\[0\] started successfully$'
c vm suspend 0 >"$tmp/e" 2>&1
check "suspend" 0 $? "$tmp/e" '^✓ VM\[0\] suspended \(1 vCPU parked in [0-9]+ µs\)$'
c vm resume 0 >"$tmp/e" 2>&1
check "resume" 0 $? "$tmp/e" '^✓ VM\[0\] resumed successfully$'
for _ in $(seq 100); do c vm log 0 | grep -q '^tick 3' && break; sleep 0.1; done
c vm log 0 --lines 2 >"$tmp/f" 2>&1
check "the guest runs: vm log over the socket" 0 $? "$tmp/f" '^tick [0-9]+$'
c vm list -f json >"$tmp/g" 2>&1
check "list --format json over the socket" 0 $? "$tmp/g" '"name": "ticker"' '"state": "Running"'

# console: the replay, then detach (stdin at EOF detaches like Ctrl-])
c vm console 0 </dev/null >"$tmp/h" 2>&1
check "vm console over the socket: replay, detach" 0 $? "$tmp/h" \
  '^Connected to VM\[0\] console' 'tick [0-9]+' 'Detached from VM\[0\] console'
(sleep 0.5; printf 'x\035') | c vm console 0 >"$tmp/h2" 2>&1
check "vm console: Ctrl-] detaches" 0 $? "$tmp/h2" 'Detached from VM\[0\] console'
c vm console 9 </dev/null >"$tmp/h3" 2>&1
check "vm console of an unknown VM: the shell's error, status 1" 1 $? "$tmp/h3" '^✗ VM\[9\] not found$'

c vm stop 0 >"$tmp/i" 2>&1
check "graceful stop over the socket" 0 $? "$tmp/i" '^Gracefully stopping VM\[0\]\.\.\.$' '^✓ VM\[0\] stopped$'
sleep 0.3
kill "$evpid" 2>/dev/null; wait "$evpid" 2>/dev/null
check "events: JSON lines of the state changes" 0 0 "$tmp/events" \
  '"event":"state".*"from":"Loaded","to":"Running"' '"to":"Suspended"' \
  '"from":"Running","to":"Stopping"' '"to":"Stopped"'
if ! have_python "events: every line is valid JSON"; then :
elif python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/events" 2>"$tmp/ej"; then
  ok "events: every line is valid JSON"
else
  bad "events: invalid JSON line" "$tmp/ej" "$tmp/events"
fi

c metrics >"$tmp/m" 2>&1
ms=$?
if grep -q "not implemented" "$tmp/m"; then
  echo "note: the metrics command is not implemented yet (daemon-state)"
else
  check "metrics over the socket (Prometheus text)" 0 $ms "$tmp/m" '^# TYPE ' 'cvisor_'
fi

# remote shell on stdin (not a terminal): batch, exit status from `exit`
printf 'vm list\nvm show 0 --config\nexit 3\nvm list\n' | c --connect "$sock" shell >"$tmp/j" 2>&1
check "--connect shell from stdin: exit 3 ends it" 3 $? "$tmp/j" '^0      ticker ' 'Entry|entry'

# remote interactive shell on a pseudo-terminal (libedit, prompt, exit)
if have_python "--connect shell on a terminal"; then
python3 - "$cv" "$sock" >"$tmp/pty" 2>&1 <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "dumb"
    os.execv(sys.argv[1], [sys.argv[1], "--connect", sys.argv[2], "shell"])
out = b""
def until(pat, t=20):
    global out
    end = time.time() + t
    while pat not in out and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: out += os.read(fd, 65536)
            except OSError: break
    return pat in out
ok = until(b"cvisor:$ ")
os.write(fd, b"vm li\t\n"); ok = ok and until(b"VCPU STATE")
os.write(fd, b"vm show 99\n"); ok = ok and until(b"not found")
# VM names and ids complete from the daemon's list ("tic" -> "ticker")
mark = len(out)
os.write(fd, b"vm show tic\t\n")
named = until(b"Name:      ticker") and b"Name:      ticker" in out[mark:]
os.write(fd, b"exit 4\n")
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
print("\nprompt-and-output:", ok, "exit:", os.WEXITSTATUS(st))
print("vm-name-completion:", named)
PY
check "--connect shell on a terminal: prompt, tab completion, output, exit 4" 0 $? "$tmp/pty" \
  'cvisor:\$ ' '^0      ticker ' 'VM\[99\] not found' 'prompt-and-output: True exit: 4' \
  'vm-name-completion: True'
fi

# ---- the protocol on a raw connection -------------------------------------------
if have_python "raw protocol"; then
python3 - "$sock" >"$tmp/k" 2>&1 <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile('rb')
def ask(raw):
    s.sendall(raw); return json.loads(f.readline())
r = ask(b'this is not json\n'); print("1", r["ok"], r["status"], r["error"]["code"])
r = ask(b'{"v":1,"id":5,"argv":["vm","list"],"bogus":1}\n'); print("2", r["id"], r["error"]["code"], r["error"]["message"])
r = ask(b'{"v":7,"id":6,"argv":["vm","list"]}\n'); print("3", r["id"], r["error"]["code"])
r = ask(b'{"v":1,"id":8,"argv":["\xff"]}\n'); print("4", r["error"]["code"])
r = ask(b'{"v":1,"id":9,"argv":["vm","list"]}' + b' ' * (9 << 20) + b'\n'); print("5", r["error"]["code"])
r = ask(b'{"v":1,"id":10,"argv":["vm","list","-f","json"]}\n')
print("6", r["id"], r["ok"], r["status"], [v["name"] for v in r["result"]["vms"]])
r = ask(b'{"v":1,"id":11,"argv":["vm","show","42"]}\n'); print("7", r["ok"], r["status"], r["error"]["code"], r["stderr"].strip())
PY
check "raw protocol: every malformed line gets a structured error, the connection stays usable" 0 $? "$tmp/k" \
  '^1 False 2 bad_json$' '^2 5 bad_request request: unknown key "bogus"$' '^3 6 bad_version$' \
  '^4 bad_json$' '^5 too_large$' "^6 10 True 0 \['ticker', 'smp4'\]$" '^7 False 1 failed ✗ VM\[42\] not found$'
fi

# ---- image reads on behalf of another user (root only) --------------------------
# (util-linux's setpriv; busybox's, as in the kvm tier, cannot change ids)
if [ "$(id -u)" = 0 ] && setpriv --help 2>&1 | grep -q -- --reuid; then
  stop_daemon
  chmod 755 "$tmp"             # others may reach $tmp/run (0750, group nogroup)
  start_daemon --group nogroup
  pub=$(mktemp -d /tmp/cvpub.XXXXXX); chmod 755 "$pub"
  head -c 512 /dev/zero >"$pub/secret.bin"; chmod 600 "$pub/secret.bin"
  head -c 512 /dev/zero >"$pub/open.bin"; chmod 644 "$pub/open.bin"
  for n in secret open; do
    sed -e "s|^image_location = .*|image_location = \"fs\"|" \
        -e "s|^kernel_path = .*|kernel_path = \"$n.bin\"|" \
        -e "s|^name = .*|name = \"$n\"|" "$cfg/ticker.toml" >"$pub/$n.toml"
    chmod 644 "$pub/$n.toml"
  done
  asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
  (cd "$pub" && asnobody env CVISOR_SOCKET="$sock" timeout 60 "$cv" vm create secret.toml open.toml) >"$tmp/n" 2>&1
  check "group member: an image the client cannot read is refused, a readable one is used" 1 $? "$tmp/n" \
    "✗ Failed to create VM from secret.toml: $pub/secret.bin: the client may not read it: Permission denied" \
    '^✓ Successfully created VM\[[0-9]+\] from config: open.toml$'
  (cd "$pub" && asnobody env CVISOR_SOCKET="$sock" timeout 60 "$cv" vm list) >"$tmp/n2" 2>&1
  check "group member may use the daemon" 0 $? "$tmp/n2" ' open '
  c vm delete open >/dev/null 2>&1
  stop_daemon
  chmod 700 "$tmp/run"        # --group made it 0750
  start_daemon
  chmod 755 "$tmp" "$tmp/run"; chmod 666 "$sock"   # a misconfigured socket
  asnobody env CVISOR_SOCKET="$sock" timeout 60 "$cv" vm list >"$tmp/o" 2>&1
  check "SO_PEERCRED: another uid is refused even when the socket is reachable" 1 $? "$tmp/o" \
    "refused the request \(denied\): permission denied"
  chmod 700 "$tmp" "$tmp/run"; chmod 600 "$sock"
  rm -rf "$pub"
else
  echo "note: not root (or no util-linux setpriv): the other-user checks are skipped"
fi

# ---- persistence -----------------------------------------------------------------
c vm create "$cfg/exitcode.toml" >/dev/null 2>&1      # VM 2
c vm start 0 >/dev/null 2>&1
c vm autostart smp4 on >"$tmp/p1" 2>&1
check "vm autostart (daemon-only verb)" 0 $? "$tmp/p1" '^✓ VM\[1\] starts when the daemon starts$'
c vm autostart 9 on >"$tmp/p2" 2>&1
check "vm autostart of an unknown VM" 1 $? "$tmp/p2" 'not found|no VM'
kill -9 "$dpid"; wait "$dpid" 2>/dev/null; dpid=
[ -S "$sock" ] && ok "kill -9 leaves a stale socket behind" || ok "(socket gone after kill -9)"
start_daemon
c vm list >"$tmp/q" 2>&1
check "after kill -9 and restart: every definition back, Loaded (autostart: Running), same ids" 0 $? "$tmp/q" \
  '^0      ticker          Loaded ' '^1      smp4            Running ' '^2      exitcode        Loaded '
grep -q "replaced a stale socket" "$tmp/daemon.log" && ok "the stale socket was replaced" \
  || bad "no stale-socket line in the log" "$tmp/daemon.log"

c vm delete 1 --force >"$tmp/r" 2>&1
check "delete removes the definition and the data" 0 $? "$tmp/r" '^✓ VM\[1\] deleted completely$'
c vm delete 2 --keep-data >"$tmp/r2" 2>&1
check "delete --keep-data" 0 $? "$tmp/r2" '^✓ VM\[2\] deleted \(configuration and data preserved\)$'
[ ! -e "$st/defs/1.json" ] && [ ! -e "$st/defs/2.json" ] && [ ! -d "$st/vms/1-smp4" ] && [ -d "$st/vms/2-exitcode" ] \
  && ok "state dir: definitions 1, 2 gone; data of 1 gone, of 2 kept" \
  || { ls -R "$st" >"$tmp/ls"; bad "state dir after delete" "$tmp/ls"; }

echo '{"v":1, this is not a definition' >"$st/defs/7.json"
c vm start 0 >/dev/null 2>&1
c vm wait 0 --state Running --timeout 10 >/dev/null 2>&1
stop_daemon
check "SIGTERM: every VM stopped gracefully, exit 0" 0 "$dstatus" "$tmp/daemon.log" \
  'msg="shutting down: stopping every VM"' 'Gracefully stopping VM\[0\]' 'msg="cvisor daemon stopped"'
grep -q '^ticker: shutdown requested' "$st/vms/0-ticker/console.log" \
  && ok "the guest saw the graceful shutdown request" || bad "no shutdown in the guest's log" "$st/vms/0-ticker/console.log"
[ ! -e "$sock" ] && ok "socket removed at shutdown" || bad "socket left after SIGTERM" /dev/null
start_daemon
c vm list >"$tmp/t" 2>&1
check "restart: deleted VMs stay gone, the rest is back" 0 $? "$tmp/t" '^0      ticker          Loaded '
if grep -qE '^(1|2) ' "$tmp/t"; then bad "deleted VMs came back" "$tmp/t"; else ok "deleted VMs (also --keep-data) did not come back"; fi
grep -q 'file=7.json' "$tmp/daemon.log" && ok "a corrupt definition is logged and skipped" \
  || bad "corrupt definition not reported" "$tmp/daemon.log"
stop_daemon
[ "$dstatus" = 0 ] && ok "second SIGTERM exit 0" || bad "exit status $dstatus" "$tmp/daemon.log"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
