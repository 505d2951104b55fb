#!/usr/bin/env bash
# Builds and runs the whole test suite: scripts/test.sh [preset]   (preset: dev, asan, tsan, release)
# Installs what is missing first (Debian packages, the peers). Warnings are errors when
# APPOSE_WERROR=ON or CI is set.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
preset=${1:-dev}
cd "$here"

scripts/deps.sh
scripts/peers.sh

werror=${APPOSE_WERROR:-$([ -n "${CI:-}" ] && echo ON || echo OFF)}
peers_dir=${APPOSE_PEERS_DIR:-$here/.peers}
cmake --preset "$preset" -DAPPOSE_WERROR="$werror" -DAPPOSE_PEERS_DIR="$peers_dir" \
  -DAPPOSE_PEER_PYTHON="$peers_dir/venv/bin/python" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)" "${@:2}"
