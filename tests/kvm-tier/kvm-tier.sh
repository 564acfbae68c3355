#!/bin/bash
# kvm-tier.sh: run test executables against a REAL KVM on hosts that have
# none (or only a nested PVM one).  QEMU's software CPU (TCG) emulates AMD
# SVM, so a Debian kernel booted under `qemu-system-x86_64 -accel tcg -cpu
# EPYC` loads kvm_amd and has a working /dev/kvm.  This script builds an
# initramfs with busybox, the kvm modules and the given tests, boots it, and
# reports each test's result.
#
# Usage:
#   kvm-tier.sh [--cache DIR] [--timeout SECS] [--data FILE]... NAME=EXE[:ARGS] ...
#
#   NAME=EXE[:ARGS]  one test.  EXE (an absolute or relative path; dynamically
#                    linked is fine: its ldd closure, dynamic loader included,
#                    is copied) runs inside the guest at the same absolute path
#                    with ARGS (split on spaces), stdin /dev/null, the working
#                    directory this script was started in, and the environment
#                    CVISOR_TEST_ACCEL=kvm CVISOR_TEST_TIER=kvm-in-tcg
#                    HOME=/tmp TMPDIR=/tmp XDG_STATE_HOME=/tmp/state
#                    LINUX_BZIMAGE=/linux/vmlinuz (the tier's own kernel,
#                    for tests that boot Linux under KVM).  Under
#                    TCG every exit costs ~50 us and host load shows through,
#                    so timing bars can use CVISOR_TEST_TIER to scale.
#   --data FILE      a file or directory the tests need, copied to the same
#                    absolute path (executables among them get their ldd
#                    closure too).  Repeatable.
#   --keeper EXE     a program /init starts before the tests and leaves
#                    running (kvm-tier-keeper: holds KVM vCPUs so KVM's
#                    static keys do not flip on every VM create/destroy).
#   --cache DIR      where the cached base image lives (default
#                    ./kvm-tier-cache).  $KVM_TIER_CACHE, when set, wins.
#                    The .debs (kernel, busybox) go to the per-user cache
#                    $CVISOR_CACHE/debs (default ~/.cache/cvisor/debs), which
#                    tests/boot/fetch_linux.sh shares: one kernel download
#                    per machine.  .debs already in DIR/debs are used too.
#   --timeout SECS   wall-clock limit for the whole QEMU run (default 540).
#   Per-test limit inside the guest: $KVM_TIER_TEST_TIMEOUT (default 300 s).
#   Boot limit: $KVM_TIER_BOOT_LIMIT (default 120 s) from QEMU's start to
#                    "KVMTIER-KVM-READY" (kvm loaded, the keeper started;
#                    ~3 s normally).  The tier's kernel has been seen to
#                    stall there for over 12 minutes (2026-12-06, in CI,
#                    after "KVMTIER-BOOTED"; once caught: a soft lockup in
#                    the keeper, whose vCPUs flip KVM's static keys; /init
#                    now starts it with one CPU online, see there).  Past
#                    the limit QEMU is stopped and the tests get another
#                    boot, as after a crash.  $KVM_TIER_SELFTEST_STALL=N
#                    makes the first N boots stall there on purpose (to
#                    check this).
#   After a crash, hang or boot stall of the tier itself the tests without
#                    a result get another boot, at most $KVM_TIER_RETRIES
#                    more (default 2), none begun after
#                    $KVM_TIER_RETRY_BEFORE seconds (default 600).
#   Extra guest kernel arguments (debugging): $KVM_TIER_KERNEL_ARGS.
#   $ASAN_OPTIONS, $UBSAN_OPTIONS, $LSAN_OPTIONS and $TSAN_OPTIONS, when
#   set, are passed to the tests inside, and the files their
#   suppressions= name are copied in (sanitizer builds run the tier too).
#
# Exit status: 0 when every test passed (tests that exit 77 count as
# skipped), 1 when any failed or the tier itself broke, 77 only when it
# cannot run at all (no cached kernel and no way to download one).
#
# Guest console protocol (parsed here): "KVMTIER-BEGIN NAME", the test's
# output, then "KVMTIER-RESULT NAME RC SECONDS"; "KVMTIER-NOKVM why" when
# /dev/kvm did not appear; "KVMTIER-END" after the last test.
#
# Needs qemu-system-x86, busybox-static, cpio, dpkg-deb, apt-get; missing
# packages are installed with apt-get when running as root.
set -uo pipefail

SELF=$(basename "$0")
CACHE=./kvm-tier-cache
QEMU_TIMEOUT=540
TEST_TIMEOUT=${KVM_TIER_TEST_TIMEOUT:-300}
BOOT_LIMIT=${KVM_TIER_BOOT_LIMIT:-120}
STALLS=${KVM_TIER_SELFTEST_STALL:-0}
RETRIES=${KVM_TIER_RETRIES:-2}
RETRY_BEFORE=${KVM_TIER_RETRY_BEFORE:-600}
FLAVOR_META=linux-image-cloud-amd64
KEEPER=
DATA=()
TESTS=()

say() { printf '%s: %s\n' "$SELF" "$*"; }
die() { printf '%s: error: %s\n' "$SELF" "$*" >&2; exit 1; }
skip() { printf '%s: SKIP: %s\n' "$SELF" "$*"; exit 77; }

usage() { sed -n '/^# Usage:/,/^set -uo/p' "$0" | sed -n 's/^# \{0,1\}//p'; exit 2; }

while [ $# -gt 0 ]; do
	case $1 in
	--cache) CACHE=$2; shift 2;;
	--cache=*) CACHE=${1#*=}; shift;;
	--timeout) QEMU_TIMEOUT=$2; shift 2;;
	--timeout=*) QEMU_TIMEOUT=${1#*=}; shift;;
	--keeper) KEEPER=$2; shift 2;;
	--keeper=*) KEEPER=${1#*=}; shift;;
	--data) DATA+=("$2"); shift 2;;
	--data=*) DATA+=("${1#*=}"); shift;;
	-h|--help) usage;;
	*=*) TESTS+=("$1"); shift;;
	*) printf '%s: unknown argument "%s"\n' "$SELF" "$1" >&2; usage;;
	esac
done
[ ${#TESTS[@]} -gt 0 ] || { printf '%s: no tests given\n' "$SELF" >&2; usage; }
CACHE=${KVM_TIER_CACHE:-$CACHE}
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"
CACHE=$(cd "$CACHE" && pwd)
DEBS=${CVISOR_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/cvisor}/debs
cleanup() {
	rm -rf "$CACHE"/run-root.$$ "$CACHE"/run.$$.cpio "$CACHE"/initrd.$$.img \
		"$CACHE"/base-root.$$ "$CACHE"/kernel-*.$$ "$CACHE"/busybox-deb.$$ \
		"$CACHE"/*.cpio.gz.$$
}
trap cleanup EXIT
START_DIR=$(pwd)
T0=$(date +%s.%N)

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# ---- host tools -----------------------------------------------------------

APT_UPDATED=0
apt_update_once() {
	[ $APT_UPDATED = 1 ] && return 0
	APT_UPDATED=1
	[ "$(id -u)" = 0 ] || return 1
	apt-get update -qq >/dev/null 2>&1
}

ensure_tools() {
	local missing=() t pkg
	for t in qemu-system-x86_64:qemu-system-x86 cpio:cpio dpkg-deb:dpkg \
		 apt-get:apt gzip:gzip; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
	done
	[ ${#missing[@]} = 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root"
	say "installing ${missing[*]}"
	apt_update_once
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
		die "apt-get install ${missing[*]} failed"
	for pkg in qemu-system-x86_64 cpio dpkg-deb gzip; do
		command -v $pkg >/dev/null 2>&1 || die "$pkg still missing after apt-get install"
	done
}

# ---- kernel + busybox (downloaded once into the cache) --------------------

# The versioned image package behind the cloud metapackage, or "".
resolve_kernel_pkg() {
	local p
	p=$(apt-cache depends "$FLAVOR_META" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	if [ -z "$p" ] && apt_update_once; then
		p=$(apt-cache depends "$FLAVOR_META" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	fi
	printf '%s' "$p"
}

# Newest cached .deb matching a glob, or "".
cached_deb() { ls -1 "$DEBS"/$1 "$CACHE"/debs/$1 2>/dev/null | sort -V | tail -1; }

fetch_kernel() {
	mkdir -p "$DEBS" || die "cannot create the download cache $DEBS"
	local kpkg deb
	kpkg=$(resolve_kernel_pkg)
	if [ -n "$kpkg" ]; then
		deb=$(cached_deb "${kpkg}_*.deb")
		if [ -z "$deb" ]; then
			say "downloading $kpkg (apt-get download)"
			(cd "$DEBS" && apt-get download -qq "$kpkg" >/dev/null 2>&1)
			deb=$(cached_deb "${kpkg}_*.deb")
		fi
	fi
	# offline: any cloud kernel downloaded before will do
	[ -n "${deb:-}" ] || deb=$(cached_deb 'linux-image-*-cloud-amd64_*.deb')
	[ -n "${deb:-}" ] || skip "cannot download a Debian cloud kernel (apt-get download $FLAVOR_META's image failed: no network or no apt lists) and none is cached in $DEBS"
	KERNEL_DEB=$deb
	KPKG=$(basename "$deb"); KPKG=${KPKG%%_*}
	KVER=${KPKG#linux-image-}
}

fetch_busybox() {
	local deb
	deb=$(cached_deb 'busybox-static_*.deb')
	if [ -z "$deb" ]; then
		(cd "$DEBS" && apt-get download -qq busybox-static >/dev/null 2>&1)
		deb=$(cached_deb 'busybox-static_*.deb')
	fi
	if [ -n "$deb" ]; then
		BUSYBOX_SRC=deb:$deb
		return
	fi
	# fall back to the host's busybox-static
	if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
		BUSYBOX_SRC=host:/bin/busybox
		return
	fi
	if [ "$(id -u)" = 0 ]; then
		apt_update_once
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null 2>&1
		[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 && { BUSYBOX_SRC=host:/bin/busybox; return; }
	fi
	die "no static busybox: apt-get download busybox-static failed and busybox-static is not installed"
}

# ---- the cached base image: busybox, kvm modules, /init --------------------

decompress_module() {	# src dst
	case $1 in
	*.xz) xz -dc "$1" >"$2";;
	*.zst) zstd -qdc "$1" >"$2";;
	*.gz) gzip -dc "$1" >"$2";;
	*) cp "$1" "$2";;
	esac
}

MOD_ORDER=()
add_module() {	# name (kvm_amd or kvm-amd); dependencies first
	local name=$1 f base dep deps o
	f=$(find "$KDIR/lib/modules/$KVER/kernel" \( -name "${name//_/-}.ko*" -o -name "${name//-/_}.ko*" \) | head -1)
	[ -n "$f" ] || die "module $name not found in $KPKG"
	base=$(basename "$f"); base=${base%.xz}; base=${base%.zst}; base=${base%.gz}
	for o in "${MOD_ORDER[@]:-}"; do [ "$o" = "$base" ] && return 0; done
	decompress_module "$f" "$BASE_ROOT/modules/$base" || die "cannot decompress $f"
	deps=$(tr '\0' '\n' <"$BASE_ROOT/modules/$base" | sed -n 's/^depends=//p' | head -1)
	for dep in ${deps//,/ }; do add_module "$dep"; done
	MOD_ORDER+=("$base")
}

write_init() {
	cat >"$1" <<'INIT'
#!/bin/busybox sh
# /init of the kvm tier: load kvm, run the tests listed in /kvmtier/tests.
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# user and group names for tests that print or switch them
mkdir -p /etc
[ -e /etc/passwd ] || printf '%s\n' 'root:x:0:0:root:/tmp:/bin/sh' \
	'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >/etc/passwd
[ -e /etc/group ] || printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >/etc/group
up() { cut -d' ' -f1 /proc/uptime; }
echo "KVMTIER-BOOTED uptime=$(up)s cpus=$(grep -c ^processor /proc/cpuinfo)"
for m in $(cat /modules/order); do
	insmod /modules/$m 2>&1 || echo "KVMTIER-INSMOD-FAIL $m"
done
if [ ! -c /dev/kvm ]; then
	echo "KVMTIER-NOKVM /dev/kvm missing after loading $(cat /modules/order); svm flag: $(grep -c -w svm /proc/cpuinfo) cpus; dmesg: $(dmesg | grep -i -E 'kvm|svm' | tail -n 3 | tr '\n' ' ')"
	poweroff -f
fi
# The kernel boots with one CPU (maxcpus=1): the keeper's first vCPUs flip
# KVM's static keys, text patching that has hung the whole guest for
# minutes under TCG with two CPUs online (a soft lockup in the keeper,
# CI 2026-12-06).  With one CPU the patching waits for no other; the
# rest come online after it.
if [ -x /kvmtier/keeper ]; then
	/kvmtier/keeper </dev/null >/tmp/keeper.out 2>&1 &
	for _ in $(seq 300); do
		grep -q holding /tmp/keeper.out && break
		kill -0 $! 2>/dev/null || break
		sleep 0.1
	done
	cat /tmp/keeper.out
fi
for c in /sys/devices/system/cpu/cpu[0-9]*/online; do
	[ -e "$c" ] && [ "$(cat "$c")" != 1 ] && { echo 1 >"$c" || echo "KVMTIER-CPU-ONLINE-FAIL $c"; }
done
if [ -e /kvmtier/selftest-stall ]; then
	echo "KVMTIER-SELFTEST stalling before KVM-READY on purpose"
	sleep 100000
fi
echo "KVMTIER-KVM-READY uptime=$(up)s cpus=$(grep -c ^processor /proc/cpuinfo)"
limit=$(cat /kvmtier/timeout)
. /kvmtier/sanenv	# the host's sanitizer options (build_tests)
tab=$(printf '\t')
# A test over its limit: show where its threads are, then kill it.
overtime() {
	echo "KVMTIER-TIMEOUT $1 after ${limit}s; its threads:"
	for t in /proc/$1/task/*; do
		echo "  thread ${t##*/}: state $(cut -d' ' -f3 $t/stat) wchan $(cat $t/wchan)"
		sed 's/^/    /' $t/stack 2>/dev/null
	done
	echo l >/proc/sysrq-trigger	# backtraces of all CPUs, into dmesg
	sleep 1
	dmesg | tail -n 60 | sed 's/^/  dmesg: /'
	kill -9 $1
}
while IFS="$tab" read -r name exe cwd args; do
	[ -n "$name" ] || continue
	echo "KVMTIER-BEGIN $name"
	mkdir -p "$cwd" && cd "$cwd" || cd /tmp
	t0=$(up)
	env CVISOR_TEST_ACCEL=kvm CVISOR_TEST_TIER=kvm-in-tcg HOME=/tmp \
		TMPDIR=/tmp XDG_STATE_HOME=/tmp/state LINUX_BZIMAGE=/linux/vmlinuz \
		"$exe" $args </dev/null 2>&1 &
	pid=$!
	( sleep "$limit"; [ -d /proc/$pid ] && overtime $pid ) &
	dog=$!
	wait $pid
	rc=$?
	kill $dog 2>/dev/null
	t1=$(up)
	echo "KVMTIER-RESULT $name $rc $(awk "BEGIN{printf \"%.2f\", $t1-$t0}")"
	cd /
done </kvmtier/tests
echo "KVMTIER-END uptime=$(up)s"
poweroff -f
INIT
	chmod 755 "$1"
}

build_base() {
	BASE=$CACHE/base-$KVER.cpio.gz
	local stamp=$CACHE/base-$KVER.stamp want
	want="$(basename "$KERNEL_DEB") $BUSYBOX_SRC $(md5sum "$0" | cut -c1-32)"
	if [ -s "$BASE" ] && [ -s "$CACHE/vmlinuz-$KVER" ] &&
	   [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return
	fi
	say "building the base image for $KPKG"
	# per-process names: runs sharing one cache must not trip over each other
	KDIR=$CACHE/kernel-$KVER.$$
	rm -rf "$KDIR"; mkdir -p "$KDIR"
	dpkg-deb -x "$KERNEL_DEB" "$KDIR" || die "cannot unpack $KERNEL_DEB"
	cp "$KDIR/boot/vmlinuz-$KVER" "$CACHE/vmlinuz-$KVER.$$" || die "no vmlinuz in $KERNEL_DEB"
	mv "$CACHE/vmlinuz-$KVER.$$" "$CACHE/vmlinuz-$KVER"
	BASE_ROOT=$CACHE/base-root.$$
	rm -rf "$BASE_ROOT"
	mkdir -p "$BASE_ROOT"/{bin,sbin,modules,proc,sys,dev,tmp,kvmtier,linux}
	case $BUSYBOX_SRC in
	deb:*)	local bb=$CACHE/busybox-deb.$$
		rm -rf "$bb"; mkdir -p "$bb"
		dpkg-deb -x "${BUSYBOX_SRC#deb:}" "$bb" || die "cannot unpack busybox-static"
		cp "$bb/bin/busybox" "$BASE_ROOT/bin/busybox"; rm -rf "$bb";;
	host:*) cp "${BUSYBOX_SRC#host:}" "$BASE_ROOT/bin/busybox";;
	esac
	cp "$CACHE/vmlinuz-$KVER" "$BASE_ROOT/linux/vmlinuz" || die "cannot copy vmlinuz"
	MOD_ORDER=()
	add_module kvm_amd
	printf '%s\n' "${MOD_ORDER[*]}" >"$BASE_ROOT/modules/order"
	write_init "$BASE_ROOT/init"
	(cd "$BASE_ROOT" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$BASE.$$" ||
		die "cannot pack the base image"
	# the uncompressed archive appended later must start 4-byte aligned;
	# the kernel skips zero padding between archives
	local size pad
	size=$(stat -c %s "$BASE.$$")
	pad=$(( (512 - size % 512) % 512 ))
	head -c "$pad" /dev/zero >>"$BASE.$$"
	mv "$BASE.$$" "$BASE"
	printf '%s' "$want" >"$stamp.$$" && mv "$stamp.$$" "$stamp"
	# only the .debs, vmlinuz and the base image are worth keeping
	rm -rf "$BASE_ROOT" "$KDIR"
}

# ---- the per-run image: tests, their libraries, data ----------------------

copy_path() {	# absolute host path -> same path under $ROOT
	local src=$1
	mkdir -p "$ROOT$(dirname "$src")"
	if [ -d "$src" ] && [ -d "$ROOT$src" ]; then
		# already there (a test executable inside it): merge, not nest
		cp -aL "$src/." "$ROOT$src/" || die "cannot copy $src"
		return
	fi
	cp -aL "$src" "$ROOT$src" 2>/dev/null || cp -a "$src" "$ROOT$src" ||
		die "cannot copy $src"
}

copy_closure() {	# ELF file: its shared libraries and loader
	local f=$1 lib
	ldd "$f" >/dev/null 2>&1 || return 0	# static, or not an executable
	for lib in $(ldd "$f" | awk '/=> \//{print $3} /^[[:space:]]*\//{print $1}'); do
		[ -e "$ROOT$lib" ] || copy_path "$lib"
	done
}

abspath() { (cd "$(dirname "$1")" 2>/dev/null && printf '%s/%s' "$(pwd)" "$(basename "$1")"); }

build_tests() {
	ROOT=$CACHE/run-root.$$
	rm -rf "$ROOT"
	mkdir -p "$ROOT/kvmtier"
	: >"$ROOT/kvmtier/tests"
	printf '%s\n' "$TEST_TIMEOUT" >"$ROOT/kvmtier/timeout"
	rm -f "$ROOT/kvmtier/selftest-stall"
	if [ "$STALLS" -gt 0 ] 2>/dev/null; then
		: >"$ROOT/kvmtier/selftest-stall"
		STALLS=$((STALLS - 1))
	fi
	local t name rest exe args abs d f
	NAMES=()
	for t in "${TESTS[@]}"; do
		name=${t%%=*}; rest=${t#*=}
		exe=${rest%%:*}; args=
		[ "$exe" = "$rest" ] || args=${rest#*:}
		[[ $name =~ ^[A-Za-z0-9_.+-]+$ ]] || die "bad test name \"$name\" (letters, digits, . _ + - only)"
		[ -x "$exe" ] || die "test $name: $exe is not an executable file"
		abs=$(abspath "$exe")
		copy_path "$abs"
		copy_closure "$abs"
		printf '%s\t%s\t%s\t%s\n' "$name" "$abs" "$START_DIR" "$args" >>"$ROOT/kvmtier/tests"
		NAMES+=("$name")
	done
	if [ -n "$KEEPER" ]; then
		[ -x "$KEEPER" ] || die "--keeper $KEEPER is not an executable file"
		cp "$KEEPER" "$ROOT/kvmtier/keeper" || die "cannot copy $KEEPER"
		copy_closure "$KEEPER"
	fi
	for d in "${DATA[@]:-}"; do
		[ -n "$d" ] || continue
		[ -e "$d" ] || die "--data $d does not exist"
		abs=$(abspath "$d")
		copy_path "$abs"
		if [ -f "$abs" ] && [ -x "$abs" ]; then
			copy_closure "$abs"
		elif [ -d "$abs" ]; then
			while IFS= read -r f; do copy_closure "$f"; done \
				< <(find "$abs" -type f -perm -u+x)
		fi
	done
	# The sanitizers' options reach the tests inside as they are here
	# (scripts/test.sh sets them for its ASan and TSan builds, meson adds
	# LSan's suppressions), with every file a suppressions= names.
	: >"$ROOT/kvmtier/sanenv"
	local v val
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do
		val=${!v:-}
		[ -n "$val" ] || continue
		[[ $val != *"'"* ]] || die "$v contains a quote: $val"
		printf "export %s='%s'\n" "$v" "$val" >>"$ROOT/kvmtier/sanenv"
		while IFS= read -r f; do
			[ -f "$f" ] && [ ! -e "$ROOT$f" ] && copy_path "$(abspath "$f")"
		done < <(printf '%s\n' "$val" | tr ':' '\n' | sed -n 's/^suppressions=//p')
	done
	mkdir -p "$ROOT$START_DIR"
	RUN_CPIO=$CACHE/run.$$.cpio
	(cd "$ROOT" && find . | cpio -o -H newc -R 0:0 --quiet) >"$RUN_CPIO" ||
		die "cannot pack the test image"
	rm -rf "$ROOT"
}

# ---- boot and parse -------------------------------------------------------

boot_and_parse() {
	local initrd=$CACHE/initrd.$$.img log=$LOG
	# the kernel unpacks concatenated cpio archives in order
	cat "$BASE" "$RUN_CPIO" >"$initrd" || die "cannot write $initrd"
	rm -f "$RUN_CPIO"
	say "booting $KPKG under qemu-system-x86_64 -accel tcg -cpu EPYC -smp 2 -m 1024 (image $(du -m "$initrd" | cut -f1) MB, at $(elapsed) s since the start)"
	local nokvm= ended=0 line cur= part= ready=0 t0=$SECONDS rc
	while :; do
		# a timed read, so a boot that stalls is noticed (see BOOT_LIMIT)
		IFS= read -r -t 5 line
		rc=$?
		if [ $rc -gt 128 ]; then
			part+=$line	# a timed-out read keeps its partial line
			if [ $ready = 0 ] && [ $((SECONDS - t0)) -ge "$BOOT_LIMIT" ]; then
				ready=stalled
				printf 'KVMTIER-BOOT-STALL no KVMTIER-KVM-READY %s s after QEMU started: stopping it\n' \
					"$BOOT_LIMIT" | tee -a "$log"
				pkill -f -- "-initrd $initrd" 2>/dev/null
			fi
			continue
		fi
		[ $rc = 0 ] || [ -n "$line$part" ] || break	# end of output
		line=$part$line part=
		line=${line%$'\r'}
		# firmware escape sequences may precede the first marker
		[[ $line == ?*KVMTIER-* ]] && line=KVMTIER-${line#*KVMTIER-}
		printf '%s\n' "$line" >>"$log"
		case $line in
		KVMTIER-BEGIN\ *)
			cur=${line#KVMTIER-BEGIN }; BEGUN[$cur]=1
			printf '=== %s (under KVM in QEMU TCG, at %s s)\n' "$cur" "$(elapsed)";;
		KVMTIER-RESULT\ *)
			set -- $line
			RC[$2]=$3; SECS[$2]=${4:-?}; cur=
			printf '=== %s: exit status %s after %s s\n' "$2" "$3" "${4:-?}";;
		KVMTIER-NOKVM*) nokvm=${line#KVMTIER-NOKVM }; printf '%s\n' "$line";;
		KVMTIER-KVM-READY*) [ $ready = stalled ] || ready=1; printf '%s\n' "$line";;
		KVMTIER-END*) ended=1; printf '%s\n' "$line";;
		KVMTIER-*) printf '%s\n' "$line";;
		*"TCG doesn't support requested feature"*) ;;	# -cpu EPYC noise
		*) if [ -n "$cur" ]; then printf '    %s\n' "$line"; else printf '  | %s\n' "$line"; fi;;
		esac
		[ $rc = 0 ] || break	# the last line had no newline
	done < <(timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu EPYC -smp 2 -m 1024 \
			-nographic -no-reboot -nodefaults -serial stdio -monitor none \
			-kernel "$CACHE/vmlinuz-$KVER" -initrd "$initrd" \
			-append "console=ttyS0 panic=-1 quiet loglevel=1 maxcpus=1 ${KVM_TIER_KERNEL_ARGS:-}" </dev/null 2>&1
		 echo "KVMTIER-QEMU-EXIT $?")
	rm -f "$initrd"
	NOKVM=$nokvm
	ENDED=$ended
}

summary() {
	local n pass=0 fail=0 skipped=0 rc s
	printf '\nkvm-tier summary (%s, wall %s s):\n' "$KPKG" "$(elapsed)"
	for n in "${NAMES[@]}"; do
		rc=${RC[$n]:-}
		if [ -z "$rc" ]; then
			s="FAIL (no result: crashed, timed out or never ran)"; fail=$((fail + 1))
		elif [ "$rc" = 0 ]; then
			s="PASS"; pass=$((pass + 1))
		elif [ "$rc" = 77 ]; then
			s="SKIP"; skipped=$((skipped + 1))
		else
			s="FAIL (exit status $rc)"; fail=$((fail + 1))
		fi
		printf '  %-24s %-8s %s\n' "$n" "${SECS[$n]:--}s" "$s"
	done
	[ -z "$NOKVM" ] || { printf '  /dev/kvm did not appear in the guest: %s\n' "$NOKVM"; fail=$((fail + 1)); }
	[ "$ENDED" = 1 ] || printf '  the guest did not finish its test list (see %s)\n' "$CACHE/last-run.log"
	printf 'kvm-tier: %d passed, %d failed, %d skipped\n' "$pass" "$fail" "$skipped"
	[ $fail = 0 ] && [ "$ENDED" = 1 ]
}

ensure_tools
fetch_kernel
fetch_busybox
build_base
build_tests
ALL_NAMES=("${NAMES[@]}")
declare -A RC=() SECS=() BEGUN=()
LOG=$CACHE/run.$$.log
: >"$LOG"
boot_and_parse
# The tier's own kernel (Linux under QEMU TCG, nested SVM) has been seen to
# panic ("corrupted stack end detected inside scheduler", 2026-11-25 and
# 2026-12-06) or reset silently in the middle of a test, about once in six
# tier runs.  Then the tests without a result get another boot, said loudly
# here, up to $RETRIES more boots; a test that fails in any boot fails.
boots=0
while [ "$ENDED" != 1 ] && [ -z "$NOKVM" ] && [ $boots -lt "$RETRIES" ]; do
	RETRY=() LAST=()	# the test that was running goes last
	for t in "${TESTS[@]}"; do
		[ -z "${RC[${t%%=*}]:-}" ] || continue
		if [ -n "${BEGUN[${t%%=*}]:-}" ]; then LAST+=("$t"); else RETRY+=("$t"); fi
	done
	RETRY+=("${LAST[@]}")
	[ ${#RETRY[@]} -gt 0 ] || break
	if awk -v e="$(elapsed)" -v l="$RETRY_BEFORE" 'BEGIN{exit !(e > l)}'; then
		say "the guest kernel did not finish its test list, and $(elapsed) s have passed (more than $RETRY_BEFORE): no further boot"
		break
	fi
	boots=$((boots + 1))
	say "the guest kernel did not finish its test list (crash or hang of the tier itself, see above); booting it again ($boots of at most $RETRIES) for the ${#RETRY[@]} tests without a result"
	TESTS=("${RETRY[@]}")
	BEGUN=()
	build_tests
	boot_and_parse
done
NAMES=("${ALL_NAMES[@]}")
mv "$LOG" "$CACHE/last-run.log"
summary && exit 0
exit 1
