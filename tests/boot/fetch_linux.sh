#!/bin/sh
# fetch_linux.sh DIR: put a stock Debian kernel at DIR/vmlinuz for the
# Linux boot tests (apt-get download linux-image-cloud-amd64, then the
# versioned package it depends on, then extract /boot/vmlinuz-*).  The
# kernel is never committed.  Exits 0 when DIR/vmlinuz exists afterwards,
# 77 with the reason when it cannot be fetched (no apt, no network).
set -u
dir=${1:?usage: fetch_linux.sh DIR}
[ -s "$dir/vmlinuz" ] && exit 0
mkdir -p "$dir/deb" || exit 77
command -v apt-get >/dev/null 2>&1 || { echo "SKIP: no apt-get"; exit 77; }
meta=linux-image-cloud-amd64
pkg=$(apt-cache depends "$meta" 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || { echo "SKIP: apt-cache does not know $meta"; exit 77; }
( cd "$dir/deb" && apt-get download "$pkg" >/dev/null 2>&1 ) ||
	{ echo "SKIP: apt-get download $pkg failed (no network?)"; exit 77; }
deb=$(ls "$dir"/deb/"$pkg"_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "SKIP: $pkg was not downloaded"; exit 77; }
rm -rf "$dir/x" && mkdir -p "$dir/x" &&
	dpkg-deb -x "$deb" "$dir/x" || { echo "SKIP: cannot unpack $deb"; exit 77; }
k=$(ls "$dir"/x/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$k" ] || { echo "SKIP: $deb holds no /boot/vmlinuz-*"; exit 77; }
cp "$k" "$dir/vmlinuz.tmp" && mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
basename "$k" > "$dir/vmlinuz.version"
rm -rf "$dir/x" "$dir/deb"
echo "fetched $(cat "$dir/vmlinuz.version") into $dir/vmlinuz"
