#!/bin/sh
# fetch_linux.sh [DIR]: put a stock Debian kernel at DIR/vmlinuz for the
# Linux boot tests, downloading it at most once per machine.
#
# The .deb lives in the per-user cache $CVISOR_CACHE/debs (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/cvisor/debs), which the KVM-in-TCG tier
# (tests/kvm-tier/kvm-tier.sh) shares: whichever runs first downloads
# linux-image-cloud-amd64's versioned image package with `apt-get
# download`, the other reuses it.  The extracted kernel is kept beside it
# ($CVISOR_CACHE/linux/vmlinuz-VERSION) and copied to DIR/vmlinuz (DIR/
# vmlinuz.version names it).  Without DIR only the cache is filled; the
# cached kernel's path is printed last in both cases.
#
# Offline, any cloud kernel .deb already in the cache (or in an older kvm
# tier cache given by $KVM_TIER_CACHE) is used.  The kernel is never
# committed.  Exits 0 when the kernel is there afterwards, 77 with the
# reason when it cannot be had (no apt, no network and no cache).
set -u
dir=${1:-}
cache=${CVISOR_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/cvisor}
debs=$cache/debs
meta=linux-image-cloud-amd64

skip() { echo "SKIP: $*"; exit 77; }

mkdir -p "$debs" "$cache/linux" || skip "cannot create the cache $cache"

newest() { ls -1 $1 2>/dev/null | sort -V | tail -n 1; }

# The versioned package behind the metapackage, or "" (no apt lists).
pkg=
if command -v apt-cache >/dev/null 2>&1; then
	pkg=$(apt-cache depends "$meta" 2>/dev/null |
	      sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
fi
deb=
if [ -n "$pkg" ]; then
	deb=$(newest "$debs/${pkg}_*.deb")
	if [ -z "$deb" ] && [ -n "${KVM_TIER_CACHE:-}" ]; then
		deb=$(newest "$KVM_TIER_CACHE/debs/${pkg}_*.deb")
	fi
	if [ -z "$deb" ] && command -v apt-get >/dev/null 2>&1; then
		echo "fetch_linux: downloading $pkg into $debs (apt-get download)" >&2
		( cd "$debs" && apt-get download -qq "$pkg" >/dev/null 2>&1 )
		deb=$(newest "$debs/${pkg}_*.deb")
	fi
fi
# offline, or apt no longer knows the package: any cached cloud kernel
[ -n "$deb" ] || deb=$(newest "$debs/linux-image-*-cloud-amd64_*.deb")
[ -n "$deb" ] || skip "no Debian cloud kernel: apt-get download ${pkg:-$meta} failed or apt does not know it (no network?) and none is cached in $debs"

base=$(basename "$deb")
kver=${base%%_*}
kver=${kver#linux-image-}
kernel=$cache/linux/vmlinuz-$kver
if [ ! -s "$kernel" ]; then
	command -v dpkg-deb >/dev/null 2>&1 || skip "no dpkg-deb to unpack $deb"
	x=$cache/linux/x.$$
	rm -rf "$x" && mkdir -p "$x" || skip "cannot create $x"
	if ! dpkg-deb --fsys-tarfile "$deb" 2>/dev/null |
	     tar -x -C "$x" "./boot/vmlinuz-$kver" 2>/dev/null; then
		rm -rf "$x"
		skip "cannot unpack /boot/vmlinuz-$kver from $deb"
	fi
	mv "$x/boot/vmlinuz-$kver" "$kernel.$$" && mv "$kernel.$$" "$kernel"
	rm -rf "$x"
	[ -s "$kernel" ] || skip "$deb holds no /boot/vmlinuz-$kver"
	echo "fetch_linux: cached $kernel" >&2
fi
if [ -n "$dir" ]; then
	mkdir -p "$dir" || skip "cannot create $dir"
	if ! cmp -s "$kernel" "$dir/vmlinuz" 2>/dev/null; then
		cp "$kernel" "$dir/vmlinuz.$$" && mv "$dir/vmlinuz.$$" "$dir/vmlinuz" ||
			skip "cannot copy $kernel to $dir"
	fi
	echo "vmlinuz-$kver" >"$dir/vmlinuz.version"
fi
echo "$kernel"
