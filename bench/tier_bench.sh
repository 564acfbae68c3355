#!/bin/bash
# tier_bench.sh: cvisor's kvm benchmarks against its peers on a REAL KVM:
# the kvm tier (tests/kvm-tier/kvm-tier.sh: a Debian kernel under QEMU TCG
# -cpu EPYC with kvm_amd), for hosts without a usable /dev/kvm.  A program
# printing figures and ratios, not a test.
#
# It packs into the tier: cvisor, minivmm (the bare KVM_RUN loop, compiled
# here from ../shared/peers/minivmm/minivmm.c), the peers' micro-guest
# (../shared/peers/microguest), Debian's QEMU with its ldd closure and its
# microvm firmware, and bench/tierdrv (the in-guest driver).  Inside, the
# driver runs the VMMs ALTERNATING, N runs each, and prints medians,
# min-max and ratios:
#
#   micro  cvisor run (kvm) vs. minivmm -b on the micro-guest: process start
#          to the first byte ("INIT-REACHED"); us per iteration of the
#          guest's OUT loops (unassigned port, port 0x80: one exit each, so
#          the ratio is the exit overhead); serial us/byte; peak RSS.
#   linux  process start to a stock Debian kernel's setup-code line
#          "Probing EDD": cvisor (16-bit entry through the setup code, as
#          bench/bench_linux.py) vs. qemu-system-x86_64 -M microvm -accel
#          kvm (qboot), same kernel (the tier's own), same initramfs, same
#          command line.  No minivmm row: it has no Linux loader.  No
#          kvmtool row: it is not packaged in Debian 12 and cannot be built
#          here.
#
# Under TCG everything is 10-50x slower than on hardware; compare the
# ratios of one run, not the absolute figures.
#
# Usage: bench/tier_bench.sh [--build DIR] [-n RUNS] [--nloop N] [--slines N]
#                            [--no-linux] [--strace] [--trace] [--norandmaps]
#                            [--no-seccomp-row] [--auto-row] [--baseline EXE]
#                            [--baseline-args 'ARGS'] [--baseline-env 'K=V ..']
#                            [--peers DIR]
#   --build DIR   meson build directory (default ./build); needs
#                 src/cli/cvisor, bench/tierdrv, tests/kvm-tier/kvm-tier-keeper
#                 and guests/linux-init/initramfs.cpio
#   -n RUNS       measured runs per VMM (default 10, max 64), after 1 warm-up
#   --nloop N     iterations of each guest loop (default 5000; ~55 us per
#                 exit under TCG)
#   --slines N    64-byte lines through the polled UART (default 20)
#   --no-linux    only the micro-guest group
#   --strace      also run `strace -f -r -T` on cvisor run and minivmm once,
#                 on a short micro-guest, and print the logs (where the
#                 time goes)
#   --trace       for a cvisor built with the timing marks (meson setup
#                 BUILD -Dtmark=true; src/common/tmark.h): a third VMM in
#                 the micro group, the same cvisor with CVISOR_TMARK=1; its
#                 stderr shows each mark's time since spawn and the CPU the
#                 process had used by then
#   --norandmaps  boot the tier's kernel with norandmaps (no ASLR in L1): a
#                 diagnostic.  QEMU's TCG keys translated code by virtual
#                 address, so with ASLR every process start re-translates
#                 all the code it runs (libc, ld.so, the VMM); without, the
#                 translations are reused and what remains is the VMMs'
#                 own work
#   --no-seccomp-row  a third VMM in the micro group: cvisor run
#                 --no-seccomp (what the per-thread filters cost)
#   --auto-row    a third VMM in the micro group: the same config with
#                 accel = "auto" (the probe's cost on top of accel = "kvm")
#   --baseline EXE  another cvisor binary (e.g. an older commit's build) as
#                 a VMM of the micro group, "cvisor-baseline": before/after in
#                 one run
#   --baseline-args 'ARGS'  extra arguments of the baseline's `cvisor run`
#                 (e.g. --no-seccomp), before the config
#   --baseline-env 'K=V ..'  environment of the baseline row (e.g. a
#                 variable an experimental build reads)
#   --peers DIR   the peers' kit (default ../shared/peers of the repository)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tier_configs.sh"
SRC=$(dirname "$HERE")
BUILD=$SRC/build
RUNS=10
TRACE=0
NOSEC=0
AUTO=0
BASELINE=
BASE_ARGS=
BASE_ENV=
NLOOP=5000
SLINES=20
LINUX=1
STRACE=0
PEERS=$SRC/../shared/peers

usage() { sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=$2; shift 2;;
	-n) RUNS=$2; shift 2;;
	--nloop) NLOOP=$2; shift 2;;
	--slines) SLINES=$2; shift 2;;
	--no-linux) LINUX=0; shift;;
	--strace) STRACE=1; shift;;
	--trace) TRACE=1; shift;;
	--norandmaps) export KVM_TIER_KERNEL_ARGS="${KVM_TIER_KERNEL_ARGS:+$KVM_TIER_KERNEL_ARGS }norandmaps"; shift;;
	--no-seccomp-row) NOSEC=1; shift;;
	--auto-row) AUTO=1; shift;;
	--baseline) BASELINE=$2; shift 2;;
	--baseline-args) BASE_ARGS=$2; shift 2;;
	--baseline-env) BASE_ENV=$2; shift 2;;
	--peers) PEERS=$2; shift 2;;
	-h|--help) usage;;
	*) echo "tier_bench.sh: unknown argument $1" >&2; usage;;
	esac
done
BUILD=$(cd "$BUILD" && pwd)
PEERS=$(cd "$PEERS" && pwd) || { echo "no peers kit at $PEERS (--peers DIR)" >&2; exit 1; }
for f in src/cli/cvisor bench/tierdrv tests/kvm-tier/kvm-tier-keeper; do
	[ -x "$BUILD/$f" ] || { echo "tier_bench.sh: $BUILD/$f missing: ninja -C $BUILD" >&2; exit 1; }
done

W=$(mktemp -d /tmp/cvisor-tierbench.XXXXXX)
trap 'rm -rf "$W"' EXIT
bash "$PEERS/microguest/build.sh" "$W" -DNLOOP="$NLOOP" -DSLINES="$SLINES" >/dev/null
gcc -O2 -o "$W/minivmm" "$PEERS/minivmm/minivmm.c"
cp "$BUILD/src/cli/cvisor" "$BUILD/bench/tierdrv" "$W/"

tier_micro_toml "$W/micro.toml" "$W/pioguest.bin"

CV="$W/cvisor run -q --state-dir /tmp/tierbench-state"
cat >"$W/spec" <<EOF
runs $RUNS
warmup 1
timeout 120
group micro
marker INIT-REACHED
window pio PIO-START PIO-END $NLOOP
window p80 P80-START P80-END $NLOOP
window serial/B SERIAL-START SERIAL-END $((SLINES * 64))
vmm cvisor-kvm $CV $W/micro.toml
vmm minivmm $W/minivmm -b $W/pioguest.bin
ratio cvisor-kvm minivmm
EOF

if [ -n "$BASELINE" ]; then
	mkdir -p "$W/baseline"
	cp "$BASELINE" "$W/baseline/cvisor"
	BASE_CMD="$W/baseline/cvisor run -q --state-dir /tmp/tierbench-state $BASE_ARGS $W/micro.toml"
	[ -z "$BASE_ENV" ] || BASE_CMD="/bin/env $BASE_ENV $BASE_CMD"
	sed -i "/^vmm minivmm /a vmm cvisor-baseline $BASE_CMD" "$W/spec"
	echo "ratio cvisor-baseline minivmm" >>"$W/spec"
fi
if [ $NOSEC = 1 ]; then
	sed -i "/^vmm minivmm /a vmm cvisor-noseccomp $CV --no-seccomp $W/micro.toml" "$W/spec"
	echo "ratio cvisor-noseccomp minivmm" >>"$W/spec"
fi
if [ $AUTO = 1 ]; then
	sed 's/^accel = "kvm"/accel = "auto"/' "$W/micro.toml" >"$W/micro-auto.toml"
	sed -i "/^vmm minivmm /a vmm cvisor-auto $CV $W/micro-auto.toml" "$W/spec"
	echo "ratio cvisor-auto minivmm" >>"$W/spec"
fi
if [ $TRACE = 1 ]; then
	# in the micro group, so it alternates with the others
	sed -i "/^vmm minivmm /a vmm cvisor-traced /bin/env CVISOR_TMARK=1 $CV $W/micro.toml\nshow-stderr cvisor-traced" "$W/spec"
fi

DATA=(--data "$W")
if [ $LINUX = 1 ]; then
	INITRD=$BUILD/guests/linux-init/initramfs.cpio
	[ -f "$INITRD" ] || { echo "tier_bench.sh: $INITRD missing (ninja -C $BUILD)" >&2; exit 1; }
	cp "$INITRD" "$W/initramfs.cpio"
	CMDLINE=$TIER_LINUX_CMDLINE
	# the tier's own kernel (a stock Debian cloud kernel) is /linux/vmlinuz
	tier_linux_toml "$W/linux.toml" "$W/initramfs.cpio"
	cat >>"$W/spec" <<EOF
group linux
marker EDD
kill-at EDD
vmm cvisor-kvm $CV $W/linux.toml
EOF
	QEMU=$(command -v qemu-system-x86_64 || true)
	if [ -n "$QEMU" ]; then
		# QEMU 7.2's -M microvm firmware (qboot) and its -kernel ROM
		for f in bios-microvm.bin qboot.rom linuxboot_dma.bin; do
			DATA+=(--data "/usr/share/qemu/$f")
		done
		DATA+=(--data "$QEMU")
		echo "vmm qemu-kvm-microvm $QEMU -M microvm -accel kvm -cpu host -m 256 -smp 1 -kernel /linux/vmlinuz -initrd $W/initramfs.cpio -append \"$CMDLINE\" -nographic -nodefaults -serial stdio -no-reboot" >>"$W/spec"
		echo "ratio cvisor-kvm qemu-kvm-microvm" >>"$W/spec"
	else
		echo "note: no qemu-system-x86_64 (Debian package qemu-system-x86): cvisor row only"
	fi
fi

TESTS=("tierbench=$W/tierdrv:$W/spec")
if [ $STRACE = 1 ]; then
	ST=$(command -v strace) || { echo "tier_bench.sh: --strace: no strace (apt-get install strace)" >&2; exit 1; }
	DATA+=(--data "$ST")
	# a short micro-guest: strace stops the VMM at every exit
	mkdir -p "$W/short"
	bash "$PEERS/microguest/build.sh" "$W/short" -DNLOOP=10 -DSLINES=1 >/dev/null
	sed "s|$W/pioguest.bin|$W/short/pioguest.bin|" "$W/micro.toml" >"$W/short/micro.toml"
	TESTS+=("strace-cvisor=$ST:-f -r -T $CV $W/short/micro.toml"
		"strace-minivmm=$ST:-f -r -T $W/minivmm -b $W/short/pioguest.bin")
fi

echo "tier_bench: $(date -u +%FT%TZ), host load: $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs, NLOOP=$NLOOP, SLINES=$SLINES"
[ -z "${KVM_TIER_KERNEL_ARGS:-}" ] || echo "tier_bench: tier kernel arguments: $KVM_TIER_KERNEL_ARGS"
echo "tier_bench: cvisor $(git -C "$SRC" describe --always --dirty 2>/dev/null || echo '?'), $BUILD"
# the tier's per-test limit: micro ~2 s and linux ~1 s per run under TCG
# when quiet; allow for a loaded host
export KVM_TIER_TEST_TIMEOUT=${KVM_TIER_TEST_TIMEOUT:-1500}
# a bad run exits 1; the figures are printed either way
bash "$SRC/tests/kvm-tier/kvm-tier.sh" --timeout "${TIER_TIMEOUT:-1800}" \
	--cache "$BUILD/tests/kvm-tier/cache" \
	--keeper "$BUILD/tests/kvm-tier/kvm-tier-keeper" \
	"${DATA[@]}" "${TESTS[@]}"
