#!/bin/bash
# tier_repeat.sh: start `cvisor run` many times inside the kvm tier and
# report any run that does not reach its marker in time, with every
# thread's kernel stack and wait channel (a diagnostic for rare hangs, not
# a test), and, sampled 1 s apart, each thread's user, guest and system
# clock ticks and KVM's per-VM counters (debugfs).  Two guests:
#   micro  the peers' micro-guest (../shared/peers/microguest), to GUEST-DONE
#   linux  the tier's own kernel + the project's initramfs, to "Probing EDD"
# --minivmm runs the micro-guest on the bare KVM loop instead (minivmm,
# compiled here from ../shared/peers/minivmm/minivmm.c): the same count
# for the peer.
#
# Usage: bench/tier_repeat.sh [--build DIR] [-n RUNS] [--timeout SECS]
#                             [--peers DIR] [--minivmm] micro|linux
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tier_configs.sh"
SRC=$(dirname "$HERE")
BUILD=$SRC/build
RUNS=50
TMO=30
PEERS=$SRC/../shared/peers
usage() { sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2;;
	-n) RUNS=$2; shift 2;;
	--timeout) TMO=$2; shift 2;;
	--peers) PEERS=$2; shift 2;;
	-h|--help) usage;;
	--minivmm) MINI=1; shift;;
	micro|linux) KIND=$1; shift;;
	*) echo "tier_repeat.sh: unknown argument $1" >&2; usage;;
	esac
done
[ -n "${KIND:-}" ] || usage
for f in src/cli/cvisor tests/kvm-tier/kvm-tier-keeper; do
	[ -x "$BUILD/$f" ] || { echo "tier_repeat.sh: $BUILD/$f missing (ninja -C $BUILD)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/cvisor-tierrepeat.XXXXXX)
trap 'rm -rf "$W"' EXIT
cp "$BUILD/src/cli/cvisor" "$W/"
RUN="$W/cvisor run -q --state-dir /tmp/tierrepeat-state $W/vm.toml"
if [ "${MINI:-0}" = 1 ]; then	# the same guest on the bare KVM loop
	[ "$KIND" = micro ] || { echo "tier_repeat.sh: --minivmm goes with micro" >&2; exit 2; }
	gcc -O2 -o "$W/minivmm" "$PEERS/minivmm/minivmm.c" || exit 1
	RUN="$W/minivmm -b $W/pioguest.bin"
fi
if [ "$KIND" = micro ]; then
	bash "$PEERS/microguest/build.sh" "$W" -DNLOOP=5000 -DSLINES=20 >/dev/null
	MARK=GUEST-DONE
	tier_micro_toml "$W/vm.toml" "$W/pioguest.bin"
else
	cp "$BUILD/guests/linux-init/initramfs.cpio" "$W/"
	MARK=EDD
	tier_linux_toml "$W/vm.toml" "$W/initramfs.cpio"
fi
cat >"$W/loop.sh" <<EOT
#!/bin/bash
hangs=0
[ -d /sys/kernel/debug/kvm ] ||
  mount -t debugfs none /sys/kernel/debug || echo "tier_repeat: no debugfs"

for i in \$(seq $RUNS); do
  $RUN >$W/out 2>&1 &
  p=\$!; ok=0
  for t in \$(seq $((TMO * 10))); do
    grep -q "$MARK" $W/out && { ok=1; break; }
    sleep 0.1
  done
  if [ \$ok = 0 ]; then
    hangs=\$((hangs + 1))
    echo "=== run \$i: no $MARK after $TMO s; output ends: \$(tail -c 200 $W/out | tr '\n' '|')"
    # where the time goes: each thread's user/system clock ticks and KVM's
    # per-VM counters (debugfs), sampled 1 s apart: a vCPU spinning in
    # userspace, exiting in a loop, or stuck in guest mode look different
    [ -d /proc/\$p/task ] || echo "--- (the process has just ended)"
    for t in /proc/\$p/task/[0-9]*; do
      [ -d \$t ] && echo "\$(basename \$t) \$(awk '{print \$14, \$15, \$43}' \$t/stat)"
    done >$W/ticks0
    kv() { for f in /sys/kernel/debug/kvm/\$p-*/*; do [ -f "\$f" ] && printf '%s=%s ' "\$(basename \$f)" "\$(cat \$f 2>/dev/null)"; done; }
    k0=\$(kv); sleep 1; k1=\$(kv)
    for t in /proc/\$p/task/[0-9]*; do
      [ -d \$t ] || continue
      tid=\$(basename \$t)
      set -- \$(grep "^\$tid " $W/ticks0) 0 0 0 0
      echo "--- thread \$tid: state \$(awk '{print \$3}' \$t/stat), wchan \$(cat \$t/wchan 2>/dev/null), in 1 s: user +\$(( \$(awk '{print \$14}' \$t/stat) - \$2 )) (of which in the guest +\$(( \$(awk '{print \$43}' \$t/stat) - \$4 ))) system +\$(( \$(awk '{print \$15}' \$t/stat) - \$3 )) ticks"
      head -12 \$t/stack 2>/dev/null
    done
    echo "--- KVM counters (debugfs \$(ls /sys/kernel/debug/kvm 2>&1 | tr '\n' ' ' | cut -c1-200)), then 1 s later:"
    echo "    \$k0"
    echo "    \$k1"
  fi
  kill -9 \$p 2>/dev/null; wait \$p 2>/dev/null || true
done
echo "tier_repeat: $KIND: $RUNS runs, \$hangs without $MARK in $TMO s"
[ \$hangs = 0 ]
EOT
chmod +x "$W/loop.sh"
export KVM_TIER_TEST_TIMEOUT=$((RUNS * (TMO + 5) + 60))
bash "$SRC/tests/kvm-tier/kvm-tier.sh" --timeout $((KVM_TIER_TEST_TIMEOUT + 120)) \
	--cache "$BUILD/tests/kvm-tier/cache" \
	--keeper "$BUILD/tests/kvm-tier/kvm-tier-keeper" \
	--data "$W" "repeat=$(command -v bash):$W/loop.sh"
