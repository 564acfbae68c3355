#!/bin/sh
# qemu_guests: runs the test guests that start in real mode under QEMU's
# software CPU (TCG), a second engine beside test_guests_uc: a one-jump
# "BIOS" sends the reset vector to 0000:8000, the images are placed with
# -device loader, isa-debug-exit sits on cvisor's port 0xf4 (QEMU exits
# with (code << 1) | 1) and COM1 goes to a file.  Port 0x5f0 reads 0xff in
# QEMU, so the ticker never sees a shutdown request there.
# Usage: qemu_guests.sh GUEST_BIN_DIR
set -u
dir=${1:?usage: qemu_guests.sh GUEST_BIN_DIR}
qemu=$(command -v qemu-system-x86_64) || { echo "SKIP: qemu-system-x86_64 not installed"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0

python3 - "$tmp/jmp.rom" <<'PY' || exit 1
import sys
rom = bytearray(b"\xff" * 65536)
rom[0xfff0:0xfff5] = bytes([0xea, 0x00, 0x80, 0x00, 0x00])  # ljmp 0000:8000
open(sys.argv[1], "wb").write(rom)
PY

# run NAME SECONDS LOADER-ARGS...: output in $tmp/NAME.out, status in $st
run() {
	name=$1 secs=$2
	shift 2
	timeout "$secs" "$qemu" -accel tcg -nographic -no-reboot -m 64 \
		-bios "$tmp/jmp.rom" -monitor none -display none \
		-device isa-debug-exit,iobase=0xf4,iosize=1 \
		-serial "file:$tmp/$name.out" "$@" </dev/null >/dev/null 2>"$tmp/$name.err"
	st=$?
}

load() { echo "-device loader,file=$1,addr=$2,force-raw=on"; }

check() {
	desc=$1 want_st=$2 want_out=$3 got_out=$4
	if [ "$st" -eq "$want_st" ] && [ "$got_out" = "$want_out" ]; then
		echo "ok   $desc"
		pass=$((pass + 1))
	else
		echo "FAIL $desc: status $st (want $want_st), output:"
		printf '%s\n' "$got_out" | sed 's/^/    /'
		cat "$tmp"/*.err 2>/dev/null | head -5
		fail=$((fail + 1))
	fi
}

# shellcheck disable=SC2046
run exitcode 20 $(load "$dir/exitcode.bin" 0x8000)
check "exitcode: exits with 42" $(((42 << 1) | 1)) "exitcode: exiting with 42" "$(cat "$tmp/exitcode.out")"

python3 - "$dir/exitcode_patch.bin" "$tmp/patched.bin" <<'PY'
import sys
img = bytearray(open(sys.argv[1], "rb").read())
img[4] = 99  # GUEST_PARAM_OFFSET
open(sys.argv[2], "wb").write(img)
PY
run patched 20 $(load "$tmp/patched.bin" 0x8000)
check "exitcode_patch: patched byte 99 is the exit code" $(((99 << 1) | 1)) "exitcode: exiting with 99" "$(cat "$tmp/patched.out")"

run longmode 20 $(load "$dir/longmode.bin" 0x8000)
check "longmode: real -> protected -> long, exit 0" 1 "longmode: real mode
longmode: protected mode
longmode: ok" "$(cat "$tmp/longmode.out")"

run axvisor 20 $(load "$dir/axbios.bin" 0x8000) $(load "$dir/axkernel.bin" 0x200000)
check "axvisor: BIOS stub -> kernel with the multiboot magic" 1 "axbios: entering protected mode, kernel at 0x200000
axkernel: magic ok" "$(cat "$tmp/axvisor.out")"

# -no-reboot: QEMU exits (status 0) when the guest asks for a reset
run reboot 20 $(load "$dir/reboot.bin" 0x8000)
check "reboot: resets through the i8042" 0 "reboot: booting" "$(cat "$tmp/reboot.out")"

run spinner 2 $(load "$dir/spinner.bin" 0x8000)
check "spinner: one line, then no exit (killed by timeout)" 124 "spinner: start" "$(cat "$tmp/spinner.out")"

run ticker 3 $(load "$dir/ticker.bin" 0x8000)
ticks=$(grep -c '^tick [0-9]*$' "$tmp/ticker.out")
expect=$(seq 0 $((ticks - 1)) | sed 's/^/tick /')
if [ "$ticks" -ge 10 ]; then got=$(cat "$tmp/ticker.out"); else got="only $ticks ticks"; fi
check "ticker: consecutive ticks ($ticks in ~3 s)" 124 "$expect" "$got"

echo "qemu guests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
