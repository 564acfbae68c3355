#!/bin/bash
# Install cvisor's build and test dependencies (Debian 12) when missing.
# Usage: scripts/deps.sh [build|test]   (test adds the KVM-in-TCG tier's tools)
set -euo pipefail
want=(gcc clang lld meson ninja-build pkg-config python3
      libunicorn-dev libcmocka-dev libjansson-dev libedit-dev libseccomp-dev)
if [ "${1:-build}" = test ]; then
  want+=(libclang-rt-14-dev qemu-system-x86 busybox-static cpio gzip xz-utils zstd
        acpica-tools)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >&2
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
