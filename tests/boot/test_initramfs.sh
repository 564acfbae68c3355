#!/bin/bash
# test_initramfs.sh MKCPIO INITRAMFS INIT: the project's initramfs packer
# (guests/linux-init/mkcpio.py) and its output.
#   1. the built initramfs lists, with GNU cpio, exactly /dev, /dev/console
#      (c 5,1), /dev/kmsg (c 1,11), /proc and /init (0755, the built init's
#      size), owned by root; /init extracts byte for byte;
#   2. an independent parser (below, not the packer's code) walks every
#      newc record: magic, 8-digit hex fields, NUL-terminated names, 4-byte
#      alignment of names and data, the TRAILER!!! record last, the archive
#      a multiple of 512 bytes with only zeros after the trailer;
#   3. files of 0-5 bytes and deep paths round-trip through cpio -i;
#   4. the output is reproducible, and malformed entries are refused with
#      a message and exit status 1 (no archive written).
# Without cpio(1) the parser checks run alone (the reason is printed).
set -u
MKCPIO=$(realpath "$1") IMG=$(realpath "$2") INIT=$(realpath "$3")
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

parse() {	# archive -> "mode rdevmaj rdevmin size name" per record, or rc 1
	python3 - "$1" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
o = 0
trailer = False
def die(m):
    print(f"parse error at {o}: {m}", file=sys.stderr); sys.exit(1)
if len(d) % 512:
    die(f"length {len(d)} is not a multiple of 512")
while not trailer:
    h = d[o:o + 110]
    if len(h) < 110 or h[:6] != b"070701":
        die("bad magic or short header")
    try:
        f = [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    except ValueError:
        die("field is not hex")
    if any(c not in b"0123456789ABCDEF" for c in h[6:]):
        die("field not upper-case hex")
    mode, size, rmaj, rmin, nsize, check = f[1], f[6], f[9], f[10], f[11], f[12]
    name = d[o + 110:o + 110 + nsize]
    if nsize < 2 or len(name) != nsize or name[-1] != 0 or 0 in name[:-1]:
        die("bad name")
    if check != 0:
        die("check field must be 0 in newc")
    o += 110 + nsize
    if o % 4:
        if d[o:o + (4 - o % 4)].strip(b"\0"):
            die("name padding not zero")
        o += 4 - o % 4
    data = d[o:o + size]
    if len(data) != size:
        die("short data")
    o += size
    if o % 4:
        o += 4 - o % 4
    name = name[:-1].decode()
    if name == "TRAILER!!!":
        trailer = True
        if d[o:].strip(b"\0"):
            die("bytes after the trailer")
    else:
        print(f"{mode:o} {rmaj} {rmin} {size} {name}")
PY
}

# ---- 1 + 2: the built initramfs
if ! parse "$IMG" >"$tmp/parsed"; then
	bad "the built initramfs does not parse"
else
	isize=$(stat -c %s "$INIT")
	want="40755 0 0 0 dev
20600 5 1 0 dev/console
20644 1 11 0 dev/kmsg
40555 0 0 0 proc
100755 0 0 $isize init"
	if [ "$(cat "$tmp/parsed")" = "$want" ]; then
		ok "initramfs records (parser): $(wc -l <"$tmp/parsed") entries + trailer"
	else
		bad "initramfs records differ:"; diff <(echo "$want") "$tmp/parsed"
	fi
fi
HAVE_CPIO=0
if command -v cpio >/dev/null 2>&1; then
	HAVE_CPIO=1
	list=$(cpio -itv --quiet <"$IMG" 2>&1 | awk '{print $1, $3, $4, $5, $6, $NF}')
	want="drwxr-xr-x root root 0 Jan dev
crw------- root root 5, 1 dev/console
crw-r--r-- root root 1, 11 dev/kmsg
dr-xr-xr-x root root 0 Jan proc
-rwxr-xr-x root root $(stat -c %s "$INIT") Jan init"
	if [ "$list" = "$want" ]; then ok "cpio -itv lists the expected entries"
	else bad "cpio -itv listing:"; diff <(echo "$want") <(echo "$list"); fi
	if (cd "$tmp" && cpio -i --quiet --to-stdout init <"$IMG" >"$tmp/init.out") &&
	   cmp -s "$tmp/init.out" "$INIT"; then
		ok "/init extracts byte for byte"
	else
		bad "/init does not extract identically"
	fi
else
	echo "note: no cpio(1) (Debian package cpio): parser checks only"
fi

# ---- 3: odd sizes and deep paths round-trip
mkdir -p "$tmp/src"
specs=(dir:/a:0755 dir:/a/b:0700)
for n in 0 1 2 3 4 5; do
	head -c "$n" /dev/urandom >"$tmp/src/f$n"
	specs+=("file:/a/b/f$n:064$n:$tmp/src/f$n")
done
long=a/b/$(printf 'n%.0s' $(seq 1 120))
printf 'deep\n' >"$tmp/src/deep"
specs+=("file:/$long:0600:$tmp/src/deep")
if ! python3 "$MKCPIO" "$tmp/t.cpio" "${specs[@]}"; then
	bad "mkcpio refused valid entries"
elif ! parse "$tmp/t.cpio" >"$tmp/t.parsed"; then
	bad "odd-size archive does not parse"
else
	n=$(wc -l <"$tmp/t.parsed")
	[ "$n" = 9 ] && ok "odd-size archive parses (9 records)" || bad "odd-size archive has $n records"
	if [ $HAVE_CPIO = 1 ]; then
		mkdir -p "$tmp/out"
		(cd "$tmp/out" && cpio -idm --quiet --no-absolute-filenames <"$tmp/t.cpio") || bad "cpio -i failed"
		same=1
		for n in 0 1 2 3 4 5; do
			cmp -s "$tmp/src/f$n" "$tmp/out/a/b/f$n" || { bad "f$n differs after cpio -i"; same=0; }
			[ "$(stat -c %a "$tmp/out/a/b/f$n")" = "64$n" ] || { bad "f$n mode $(stat -c %a "$tmp/out/a/b/f$n")"; same=0; }
		done
		cmp -s "$tmp/src/deep" "$tmp/out/$long" || { bad "deep path differs"; same=0; }
		[ $same = 1 ] && ok "files of 0-5 bytes and a 124-character path round-trip through cpio -i"
	fi
fi

# ---- 4: reproducible; refusals
python3 "$MKCPIO" "$tmp/t2.cpio" "${specs[@]}" && cmp -s "$tmp/t.cpio" "$tmp/t2.cpio" &&
	ok "same entries, same bytes" || bad "the archive is not reproducible"
for spec in "dir:relative:0755" "dir:/:0755" "dir:/a/../b:0755" "dir:/x:0999" \
	    "dir:/x:17777" "file:/x:0644" "file:/x:0644:$tmp/missing" \
	    "nod:/x:0600:q:1:1" "nod:/x:0600:c:1" "pipe:/x:0600" "dir:/x"; do
	rm -f "$tmp/r.cpio"
	if err=$(python3 "$MKCPIO" "$tmp/r.cpio" "$spec" 2>&1); then
		bad "accepted '$spec'"
	elif [ -e "$tmp/r.cpio" ] || [ -z "$err" ]; then
		bad "'$spec': wrote an archive or said nothing"
	fi
done
if err=$(python3 "$MKCPIO" "$tmp/r.cpio" dir:/x:0755 dir:/x:0755 2>&1); then
	bad "accepted a duplicate path"
else
	case $err in *duplicate*) ;; *) bad "duplicate: '$err'";; esac
fi
[ $fails = 0 ] && ok "malformed entries refused with a message"
echo "$fails failure(s)"
[ $fails = 0 ]
