#!/bin/bash
# Build cvisor and boot the built-in demo guest (installs dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -f build/build.ninja ] || meson setup build --buildtype=release -Dtests=false >/dev/null
ninja -C build src/cli/cvisor
exec ./build/src/cli/cvisor run "$@"
